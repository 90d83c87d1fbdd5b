package catalog

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"mistore/internal/db"
)

// maxSearchTerms bounds the words of a query, so that a pasted essay costs
// no more than a short query.
const maxSearchTerms = 8

// searchTerms splits shopper text into words of letters and digits. Every
// other character, including the search engines' own syntax (quotes,
// stars, parentheses, minus, colons), separates words, so no input can
// change the meaning of the query built from them.
func searchTerms(q string) []string {
	if len(q) > MaxQueryLength {
		q = q[:MaxQueryLength]
	}
	words := strings.FieldsFunc(strings.ToLower(q), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	if len(words) > maxSearchTerms {
		words = words[:maxSearchTerms]
	}
	return words
}

// isCJK reports whether r belongs to a script written without spaces
// between words: Chinese, Japanese and Korean.
func isCJK(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
}

// splitCJK separates the runs of CJK characters in words from the rest.
// The full-text indexes split text into words at spaces and punctuation,
// so a Chinese name is one word to them: 头戴式耳机 is a single token, and
// 耳机 would never find it. The runs are matched as substrings instead;
// the other words (Latin, digits) still go through the index.
func splitCJK(words []string) (indexed, runs []string) {
	for _, w := range words {
		start, cjk := 0, false
		for i, r := range w {
			if c := isCJK(r); c != cjk {
				if i > start {
					indexed, runs = appendPart(indexed, runs, w[start:i], cjk)
				}
				start, cjk = i, c
			}
		}
		indexed, runs = appendPart(indexed, runs, w[start:], cjk)
	}
	return indexed, runs
}

func appendPart(indexed, runs []string, part string, cjk bool) ([]string, []string) {
	switch {
	case part == "":
	case cjk:
		runs = append(runs, part)
	default:
		indexed = append(indexed, part)
	}
	return indexed, runs
}

// ftsQuery builds an SQLite FTS5 query: every word must match, the last
// one as a prefix (the shopper may still be typing it), each quoted so that
// words like OR and NEAR are only words.
func ftsQuery(words []string) string {
	parts := make([]string, len(words))
	for i, w := range words {
		parts[i] = `"` + w + `"`
		if i == len(words)-1 {
			parts[i] += "*"
		}
	}
	return strings.Join(parts, " AND ")
}

// tsQuery builds a PostgreSQL to_tsquery argument: every word, the last
// as a prefix. Words hold only letters and digits, so no tsquery operator
// gets through.
func tsQuery(words []string) string {
	parts := make([]string, len(words))
	for i, w := range words {
		parts[i] = w
		if i == len(words)-1 {
			parts[i] += ":*"
		}
	}
	return strings.Join(parts, " & ")
}

// search returns the IDs of products matching q in the catalog of
// revision rev, best match first.
func (s *Service) search(ctx context.Context, rev int64, q string) ([]int64, error) {
	words := searchTerms(q)
	if len(words) == 0 {
		return nil, nil
	}
	key := strconv.FormatInt(rev, 10) + "|" + strings.Join(words, " ")
	if ids, ok := s.searches.Get(key); ok {
		return ids, nil
	}
	ids, err := searchDB(ctx, s.db, words)
	if err != nil {
		return nil, fmt.Errorf("search %q: %w", q, err)
	}
	s.searches.Put(key, ids)
	return ids, nil
}

// searchDB runs a full-text query on the database's own index, with
// the CJK runs of the words (splitCJK) as substrings of the product's
// name and search text. A query of CJK alone scans the products, which a
// brand's catalog (thousands at most) and the search cache afford.
func searchDB(ctx context.Context, d *db.DB, words []string) ([]int64, error) {
	indexed, runs := splitCJK(words)
	var query string
	var args []any
	contains := func(text string) string {
		var parts []string
		for _, r := range runs {
			args = append(args, r)
			n := strconv.Itoa(len(args))
			if d.Dialect == db.Postgres {
				parts = append(parts, "strpos("+text+", $"+n+") > 0")
			} else {
				parts = append(parts, "instr("+text+", $"+n+") > 0")
			}
		}
		return strings.Join(parts, " AND ")
	}
	switch {
	case len(indexed) == 0:
		query = `SELECT id FROM products WHERE ` + contains("name || ' ' || search_text") + ` ORDER BY name, id LIMIT 500`
	case d.Dialect == db.Postgres:
		args = append(args, tsQuery(indexed))
		query = `SELECT id FROM products WHERE search @@ to_tsquery('english', $1)`
		if len(runs) > 0 {
			query += ` AND ` + contains("name || ' ' || search_text")
		}
		query += ` ORDER BY ts_rank(search, to_tsquery('english', $1)) DESC, name LIMIT 500`
	default:
		// bm25 weights: a hit in the name counts five times one elsewhere.
		args = append(args, ftsQuery(indexed))
		query = `SELECT products_fts.rowid FROM products_fts JOIN products p ON p.id = products_fts.rowid WHERE products_fts MATCH $1`
		if len(runs) > 0 {
			query += ` AND ` + contains("p.name || ' ' || p.search_text")
		}
		query += ` ORDER BY bm25(products_fts, 5.0, 1.0) LIMIT 500`
	}
	rows, err := d.Reader().QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids := []int64{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
