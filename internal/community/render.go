package community

import (
	"html/template"
	"net/url"
	"strings"
)

// linkRel is the rel of every link in members' text: search engines
// should not credit it (nofollow, ugc) and the page opened must not get
// a handle on the store's window (noopener).
const linkRel = "nofollow ugc noopener"

// RenderBody renders a member's plain text as HTML that cannot carry
// markup: everything is escaped, line breaks become <br>, blank lines
// separate paragraphs (<p>), and http(s) URLs become links with
// rel="nofollow ugc noopener". Bidirectional-override characters, control
// characters and invalid UTF-8 are dropped (see clean), so a post cannot
// reorder the text around it. The only elements in the result are p, br
// and a, and every href starts with http:// or https://.
func RenderBody(text string) template.HTML {
	text = clean(text)
	if text == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(text) + len(text)/4 + 16)
	for i, para := range strings.Split(text, "\n\n") {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString("<p>")
		for j, line := range strings.Split(para, "\n") {
			if j > 0 {
				b.WriteString("<br>\n")
			}
			linkify(&b, line)
		}
		b.WriteString("</p>")
	}
	// Everything written above is escaped text or one of the three fixed
	// tags, built here and nowhere else.
	return template.HTML(b.String()) // #nosec G203 -- escaped above
}

// linkify writes line escaped, with its http(s) URLs as links.
func linkify(b *strings.Builder, line string) {
	for line != "" {
		start, end := nextURL(line)
		if start < 0 {
			b.WriteString(template.HTMLEscapeString(line))
			return
		}
		b.WriteString(template.HTMLEscapeString(line[:start]))
		raw := line[start:end]
		b.WriteString(`<a href="`)
		b.WriteString(template.HTMLEscapeString(href(raw)))
		b.WriteString(`" rel="` + linkRel + `">`)
		b.WriteString(template.HTMLEscapeString(raw))
		b.WriteString("</a>")
		line = line[end:]
	}
}

// href is the link target of raw, a URL nextURL accepted: its scheme in
// lower case, so the attribute starts with "http://" or "https://"
// whatever the member typed.
func href(raw string) string {
	i := strings.Index(raw, "://")
	return strings.ToLower(raw[:i]) + raw[i:]
}

// nextURL finds the first http(s) URL in line and returns its bounds, or
// -1, -1. A URL starts at "http://" or "https://" (any case) not preceded
// by a letter or digit, runs to the next white space or character that
// cannot be in a URL (< > " ' ` and the like), and loses trailing
// punctuation that usually ends a sentence: "see https://x.example/a."
// links "https://x.example/a". A closing parenthesis stays when the URL
// has an opening one (Wikipedia links).
func nextURL(line string) (int, int) {
	from := 0
	for {
		i := indexScheme(line[from:])
		if i < 0 {
			return -1, -1
		}
		start := from + i
		end := start
		for end < len(line) && urlByte(line[end]) {
			end++
		}
		// The next search starts after this candidate whatever it turns
		// out to be, so a line is scanned once, never once per "http".
		from = end
		if start > 0 && isWordByte(line[start-1]) {
			continue
		}
		opens, closes := strings.Count(line[start:end], "("), strings.Count(line[start:end], ")")
		for end > start {
			c := line[end-1]
			if strings.IndexByte(".,;:!?*", c) >= 0 {
				end--
				continue
			}
			if c == ')' && opens < closes {
				closes--
				end--
				continue
			}
			break
		}
		if validURL(line[start:end]) {
			return start, end
		}
	}
}

// indexScheme is the index of the first "http://" or "https://" in s, in
// any letter case, or -1. It folds ASCII letters only, so the index is
// one in s itself (strings.ToLower may change the length of non-ASCII
// text).
func indexScheme(s string) int {
	for i := 0; i+7 <= len(s); i++ {
		if s[i]|0x20 != 'h' {
			continue
		}
		if hasPrefixFold(s[i:], "http://") || hasPrefixFold(s[i:], "https://") {
			return i
		}
	}
	return -1
}

// hasPrefixFold reports whether s starts with prefix (lower-case ASCII)
// in any letter case.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// isWordByte reports whether c is an ASCII letter or digit: "xhttp://"
// is not the start of a link.
func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// urlByte reports whether c may be part of a linked URL: printable ASCII
// other than the characters that end one in text (space, quotes, angle
// brackets, backquote, braces, pipe, backslash, caret), or any byte of a
// non-ASCII character (an internationalised path).
func urlByte(c byte) bool {
	if c >= 0x80 {
		return true
	}
	if c <= ' ' || c == 0x7f {
		return false
	}
	return strings.IndexByte("<>\"'`{}|\\^", c) < 0
}

// validURL reports whether raw parses as an absolute http(s) URL with a
// host, so that "http://" alone or "https://:80" stay text.
func validURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return false
	}
	return u.Hostname() != "" && u.User == nil
}
