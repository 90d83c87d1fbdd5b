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

// searchDB runs a full-text query on the database's own index.
func searchDB(ctx context.Context, d *db.DB, words []string) ([]int64, error) {
	var query, arg string
	switch d.Dialect {
	case db.Postgres:
		query = `SELECT id FROM products WHERE search @@ to_tsquery('english', $1)
			ORDER BY ts_rank(search, to_tsquery('english', $1)) DESC, name LIMIT 500`
		arg = tsQuery(words)
	default:
		// bm25 weights: a hit in the name counts five times one elsewhere.
		query = `SELECT rowid FROM products_fts WHERE products_fts MATCH $1
			ORDER BY bm25(products_fts, 5.0, 1.0) LIMIT 500`
		arg = ftsQuery(words)
	}
	rows, err := d.Reader().QueryContext(ctx, query, arg)
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
