package community

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"mistore/internal/db"
	"mistore/internal/input"
)

// isBidiControl reports whether r is one of the bidirectional embedding,
// override or isolate characters (U+202A–U+202E, U+2066–U+2069), which
// can make text after a post read in another order ("Trojan Source").
func isBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069
}

// dropped reports whether r is removed from members' text: control
// characters other than line feed and tab, and bidi controls.
func dropped(r rune) bool {
	if r == '\n' || r == '\t' {
		return false
	}
	return unicode.IsControl(r) || isBidiControl(r) || r == utf8.RuneError
}

// clean normalises plain text as it is stored and rendered: line breaks
// become "\n", dropped characters and invalid UTF-8 go, more than one
// blank line in a row becomes one, and surrounding white space is
// trimmed.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	var b strings.Builder
	b.Grow(len(s))
	newlines := 0
	for _, r := range s {
		if dropped(r) {
			continue
		}
		if r == '\n' {
			newlines++
			if newlines > 2 {
				continue
			}
		} else {
			newlines = 0
		}
		b.WriteRune(r)
	}
	// Trailing spaces on a line are noise; trimming the whole text keeps
	// "   " from counting as a post.
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRightFunc(l, unicode.IsSpace)
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// cleanName is a customer's name as the community shows it: on one line,
// without control or bidi characters.
func cleanName(s string) string {
	s = strings.Join(strings.Fields(clean(s)), " ")
	if s == "" {
		return "Member"
	}
	return s
}

// text checks and cleans one field of a post: it must be valid UTF-8 and,
// once cleaned, hold something (when required) and at most max runes.
func text(field, label, s string, max int, required bool) (string, error) {
	// A quick bound before any work: more bytes than four per allowed
	// rune cannot fit.
	if len(s) > 4*max+1024 {
		return "", &input.FieldError{Field: field, Err: ErrInvalidText,
			Msg: fmt.Sprintf("The %s is too long: at most %d characters.", label, max)}
	}
	if !utf8.ValidString(s) {
		return "", &input.FieldError{Field: field, Err: ErrInvalidText,
			Msg: fmt.Sprintf("The %s contains bytes that are not text (invalid UTF-8); please paste it again as plain text.", label)}
	}
	s = clean(s)
	if required && s == "" {
		return "", &input.FieldError{Field: field, Err: ErrInvalidText, Msg: fmt.Sprintf("Please write a %s.", label)}
	}
	if n := utf8.RuneCountInString(s); n > max {
		return "", &input.FieldError{Field: field, Err: ErrInvalidText,
			Msg: fmt.Sprintf("The %s is too long: at most %d characters (it has %d).", label, max, n)}
	}
	return s, nil
}

// words splits s into lower-case words (runs of letters, digits and
// marks), ignoring invisible format characters such as zero-width
// spaces, so that "B\u200bad" is the word "bad". The word filter
// compares these.
func words(s string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Cf, r):
			// Invisible: neither part of a word nor a break.
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			cur.WriteRune(unicode.ToLower(r))
		default:
			flush()
		}
	}
	flush()
	return out
}

// normWord is a filter entry as stored: its words, lower case, joined by
// one space; "" when it has none.
func normWord(s string) string { return strings.Join(words(s), " ") }

// filterHit reports whether the text's words contain one of the entries
// (each one or more words) as a run of whole words.
func filterHit(entries []string, texts ...string) bool {
	if len(entries) == 0 {
		return false
	}
	for _, t := range texts {
		ws := words(t)
		for _, e := range entries {
			ew := strings.Split(e, " ")
			for i := 0; i+len(ew) <= len(ws); i++ {
				match := true
				for j := range ew {
					if ws[i+j] != ew[j] {
						match = false
						break
					}
				}
				if match {
					return true
				}
			}
		}
	}
	return false
}

// filtered is the refusal of a post that hit the word filter, on field.
// It names no word: repeating one back is what the filter is there to
// avoid, and naming it would help work around it.
func filtered(field, label string) error {
	return &input.FieldError{Field: field, Err: ErrFiltered,
		Msg: fmt.Sprintf("Your %s contains a word this shop does not allow. Please rephrase it.", label)}
}

// loadWords reads the word filter.
func loadWords(ctx context.Context, q db.Querier) ([]string, error) {
	rows, err := q.QueryContext(ctx, "SELECT word FROM community_words ORDER BY word")
	if err != nil {
		return nil, fmt.Errorf("load word filter: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var w string
		if err := rows.Scan(&w); err != nil {
			return nil, fmt.Errorf("load word filter: %w", err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load word filter: %w", err)
	}
	return out, nil
}

// checkFilter refuses the fields whose text hits the word filter; fields
// alternate field name, label and text.
func (s *Service) checkFilter(ctx context.Context, fields ...string) error {
	entries, err := loadWords(ctx, s.db.Reader())
	if err != nil {
		return err
	}
	for i := 0; i+2 < len(fields); i += 3 {
		if filterHit(entries, fields[i+2]) {
			return filtered(fields[i], fields[i+1])
		}
	}
	return nil
}

// cut shortens s to at most n runes, with an ellipsis when it was longer.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimRightFunc(string(r[:n]), unicode.IsSpace) + "…"
}
