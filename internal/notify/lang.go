package notify

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	texttemplate "text/template"
	"time"

	"golang.org/x/text/width"

	"mistore/internal/locale"
	"mistore/internal/money"
)

// Bodies are an email's two bodies, text and HTML, parsed once in English
// and cloned per translated language with the functions t, date, clock
// and money speaking it, as the storefront's pages are. English, the
// source language, is rendered by the parsed templates themselves, so
// that every English market's email reads as it always has.
type Bodies struct {
	name string
	text *texttemplate.Template
	// html is never executed, so that it can be cloned (html/template
	// refuses to clone a set that has run); English runs enHTML, a clone.
	html   *htmltemplate.Template
	enHTML *htmltemplate.Template
	// byLang holds the clones, keyed by language tag.
	byLang sync.Map
	// textSize and htmlSize are the lengths of the last bodies rendered,
	// so that the next ones are written into buffers of about their size
	// instead of one doubling many times (under the checkout load test
	// the growing of the confirmation's buffers was 8% of the bytes the
	// store allocated).
	textSize, htmlSize atomic.Int64
}

type bodies struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// ParseBodies parses an email's text and HTML bodies; name names it in
// errors. extra adds functions that do not depend on the language.
func ParseBodies(name, text, html string, extra map[string]any) (*Bodies, error) {
	t, err := texttemplate.New(name + ".txt").Funcs(textFuncs(nil)).Funcs(extra).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%s text template: %w", name, err)
	}
	h, err := htmltemplate.New(name + ".html").Funcs(htmlFuncs(nil)).Funcs(extra).Parse(html)
	if err != nil {
		return nil, fmt.Errorf("%s HTML template: %w", name, err)
	}
	en, err := h.Clone()
	if err != nil {
		return nil, fmt.Errorf("%s HTML template: %w", name, err)
	}
	return &Bodies{name: name, text: t, html: h, enHTML: en}, nil
}

// parseBodiesFS parses the embedded templates/<name>.txt and .html.
func parseBodiesFS(name string, extra map[string]any) (*Bodies, error) {
	text, err := templateFiles.ReadFile("templates/" + name + ".txt")
	if err != nil {
		return nil, err
	}
	html, err := templateFiles.ReadFile("templates/" + name + ".html")
	if err != nil {
		return nil, err
	}
	return ParseBodies(name, string(text), string(html), extra)
}

// Render executes both bodies with data in language l; nil, or an
// English l, is English. what names the email in errors ("order
// confirmation US-100001").
func (b *Bodies) Render(l *locale.Lang, what string, data any) (text, html string, err error) {
	return b.RenderNamed(l, "", what, data)
}

// RenderNamed is Render for bodies that define one template per kind of
// email: it executes the template called name in each, or the bodies
// themselves when name is empty.
func (b *Bodies) RenderNamed(l *locale.Lang, name, what string, data any) (text, html string, err error) {
	t, err := b.forLang(l)
	if err != nil {
		return "", "", err
	}
	var tb, hb bytes.Buffer
	tb.Grow(sizeHint(&b.textSize))
	hb.Grow(sizeHint(&b.htmlSize))
	if name == "" {
		err = t.text.Execute(&tb, data)
	} else {
		err = t.text.ExecuteTemplate(&tb, name, data)
	}
	if err != nil {
		return "", "", fmt.Errorf("%s: text: %w", what, err)
	}
	if name == "" {
		err = t.html.Execute(&hb, data)
	} else {
		err = t.html.ExecuteTemplate(&hb, name, data)
	}
	if err != nil {
		return "", "", fmt.Errorf("%s: HTML: %w", what, err)
	}
	b.textSize.Store(int64(tb.Len()))
	b.htmlSize.Store(int64(hb.Len()))
	return tb.String(), hb.String(), nil
}

// sizeHint is a buffer size for a body whose last rendering was *last
// bytes long: an eighth more, for an order with more lines, and at most
// 256 KB whatever was rendered before.
func sizeHint(last *atomic.Int64) int {
	n := last.Load()
	return int(min(n+n/8, 256<<10))
}

func (b *Bodies) forLang(l *locale.Lang) (bodies, error) {
	if english(l) {
		return bodies{text: b.text, html: b.enHTML}, nil
	}
	if t, ok := b.byLang.Load(l.Tag); ok {
		return t.(bodies), nil
	}
	text, err := b.text.Clone()
	if err != nil {
		return bodies{}, fmt.Errorf("%s in %s: %w", b.name, l.Tag, err)
	}
	html, err := b.html.Clone()
	if err != nil {
		return bodies{}, fmt.Errorf("%s in %s: %w", b.name, l.Tag, err)
	}
	t := bodies{text: text.Funcs(textFuncs(l)), html: html.Funcs(htmlFuncs(l))}
	actual, _ := b.byLang.LoadOrStore(l.Tag, t)
	return actual.(bodies), nil
}

// english reports whether l is the source language (or none at all).
func english(l *locale.Lang) bool { return l == nil || l.Texts == "" }

// Say translates key into l and formats args into it; nil or English l
// formats the key itself, as the emails always read. Subjects use it.
func Say(l *locale.Lang, key string, args ...any) string {
	if !english(l) {
		return l.T(key, args...)
	}
	key = locale.Source(key)
	if len(args) == 0 {
		return key
	}
	return fmt.Sprintf(key, args...)
}

// LangTag is the language an email declares in its HTML: "en" for
// English, as before, or the translated language's tag.
func LangTag(l *locale.Lang) string {
	if english(l) {
		return "en"
	}
	return l.Tag
}

// textFuncs are the text body's functions in language l.
func textFuncs(l *locale.Lang) texttemplate.FuncMap {
	return texttemplate.FuncMap{
		"t":        func(key string, args ...any) string { return Say(l, key, args...) },
		"date":     func(t time.Time) string { return formatDate(l, t) },
		"clock":    func(t time.Time) string { return formatClock(l, t) },
		"duration": func(d time.Duration) string { return formatDuration(l, d) },
		"money":    formatMoney,
		"lang":     func() string { return LangTag(l) },
	}
}

// htmlFuncs are the HTML body's; its t escapes what it formats in, so
// that a sentence can hold a name and still be translated whole.
func htmlFuncs(l *locale.Lang) htmltemplate.FuncMap {
	return htmltemplate.FuncMap{
		"t":        func(key string, args ...any) htmltemplate.HTML { return sayHTML(l, key, args...) },
		"date":     func(t time.Time) string { return formatDate(l, t) },
		"clock":    func(t time.Time) string { return formatClock(l, t) },
		"duration": func(d time.Duration) string { return formatDuration(l, d) },
		"money":    formatMoney,
		"lang":     func() string { return LangTag(l) },
		"strong":   func(s string) htmltemplate.HTML { return "<strong>" + htmltemplate.HTML(escapeHTML(s)) + "</strong>" },
	}
}

// sayHTML translates key with args, all of it escaped but arguments that
// are HTML already (strong). Strings go in as private-use placeholders,
// so that the translation is escaped without them and they without it.
func sayHTML(l *locale.Lang, key string, args ...any) htmltemplate.HTML {
	marks := make([]any, len(args))
	var subst []string
	for i, a := range args {
		switch v := a.(type) {
		case htmltemplate.HTML:
			marks[i] = placeholder(i)
			subst = append(subst, string(v))
		case string:
			marks[i] = placeholder(i)
			subst = append(subst, escapeHTML(v))
		default:
			marks[i] = a // a number: nothing to escape
			subst = append(subst, "")
		}
	}
	s := escapeHTML(Say(l, key, marks...))
	if len(args) > 0 {
		s = fillPlaceholders(s, subst)
	}
	return htmltemplate.HTML(s)
}

// Placeholders are private-use characters around an argument's index.
const (
	placeholderOpen  = "\uE000"
	placeholderClose = "\uE001"
)

func placeholder(i int) string { return placeholderOpen + strconv.Itoa(i) + placeholderClose }

// fillPlaceholders replaces each placeholder(i) in s by values[i], in one
// pass, so that a value is never searched for placeholders itself. A
// strings.Replacer did the same, but building one for every translated
// string of every email was a tenth of the bytes the store allocated
// under the checkout load test.
func fillPlaceholders(s string, values []string) string {
	var b strings.Builder
	for {
		open := strings.Index(s, placeholderOpen)
		if open < 0 {
			break
		}
		rest := s[open+len(placeholderOpen):]
		if i, size, ok := placeholderAt(rest, len(values)); ok {
			b.WriteString(s[:open])
			b.WriteString(values[i])
			s = rest[size:]
		} else {
			b.WriteString(s[:open+len(placeholderOpen)])
			s = rest
		}
	}
	if b.Len() == 0 {
		return s
	}
	b.WriteString(s)
	return b.String()
}

// placeholderAt reads what follows a placeholder's opening mark at the
// start of rest: an index below n, written as placeholder writes it, and
// the closing mark. It returns the index and how many bytes the two take.
func placeholderAt(rest string, n int) (i, size int, ok bool) {
	digits, _, found := strings.Cut(rest, placeholderClose)
	if !found {
		return 0, 0, false
	}
	i, err := strconv.Atoi(digits)
	if err != nil || i < 0 || i >= n || digits != strconv.Itoa(i) {
		return 0, 0, false
	}
	return i, len(digits) + len(placeholderClose), true
}

// escapeHTML escapes s as html/template escapes text, '+' included.
func escapeHTML(s string) string {
	return strings.ReplaceAll(htmltemplate.HTMLEscapeString(s), "+", "&#43;")
}

// formatDate writes the day of t: "November 27, 2026", "2026年11月27日".
func formatDate(l *locale.Lang, t time.Time) string {
	if english(l) {
		return t.UTC().Format("January 2, 2006")
	}
	return l.Date(t)
}

// formatClock writes the day and minute of t, in UTC and saying so.
func formatClock(l *locale.Lang, t time.Time) string {
	if english(l) {
		return formatTime(t)
	}
	return l.Date(t) + " " + t.UTC().Format("15:04") + " UTC"
}

// textWidth is the width of the plain-text email's price column's right
// edge, in characters: narrow enough for any mail reader.
const textWidth = 56

// textRow writes label and amount on one line, the amount right-aligned
// at textWidth, so the prices of the text email line up.
func textRow(label, amount string) string {
	gap := textWidth - 2 - displayWidth(label) - displayWidth(amount)
	return "  " + label + strings.Repeat(" ", max(gap, 2)) + amount
}

// pad writes label followed by spaces up to column col, so that the
// values after several labels line up.
func pad(col int, label string) string {
	return label + strings.Repeat(" ", max(col-displayWidth(label), 1))
}

// widest is the display width of the widest label, plus the one space
// that follows it.
func widest(labels ...string) int {
	w := 0
	for _, l := range labels {
		w = max(w, displayWidth(l))
	}
	return w + 1
}

// displayWidth is how many columns s takes in a fixed-width font: a
// Chinese character takes two.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}

func formatMoney(m money.Money) string { return m.Format() }

// minusMoney writes an amount taken off, e.g. "-$10.00", whichever sign
// it was stored with.
func minusMoney(m money.Money) string {
	if m.Amount < 0 {
		m.Amount = -m.Amount
	}
	return "-" + m.Format()
}

func formatTime(t time.Time) string { return t.UTC().Format("January 2, 2006 at 15:04 UTC") }
