// Package locale holds the storefront's languages: the message catalogs
// (English is the source language, Simplified Chinese is translated) and
// how dates and numbers read in each market's locale.
//
// Messages are keyed by their English text, as gotext does: a template
// writes {{t "Add to cart"}} and an English page shows the key itself. The
// translations live in messages/<language>/*.json, one object of English
// key to translated text per file, embedded and loaded into an x/text
// catalog once at start.
package locale

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/message/catalog"
)

//go:embed messages
var messageFiles embed.FS

// Catalog is every translated message, and the languages made from it. It
// is safe for concurrent use.
type Catalog struct {
	builder *catalog.Builder
	// translated holds the keys each translated language has, to tell a
	// missing translation from one that equals its key.
	translated map[language.Tag]map[string]bool

	// langs caches Lang by tag: every page asks, so reads take no lock.
	langs sync.Map

	mu      sync.Mutex
	missing map[string]struct{}
}

// Load reads the embedded message files. A key translated twice in one
// language with different texts is an error, so that files kept by
// different people cannot silently disagree.
func Load() (*Catalog, error) {
	c := &Catalog{
		builder:    catalog.NewBuilder(catalog.Fallback(language.English)),
		translated: map[language.Tag]map[string]bool{},
		missing:    map[string]struct{}{},
	}
	dirs, err := fs.ReadDir(messageFiles, "messages")
	if err != nil {
		return nil, fmt.Errorf("locale: %w", err)
	}
	for _, d := range dirs {
		tag, err := language.Parse(d.Name())
		if err != nil || !d.IsDir() {
			return nil, fmt.Errorf("locale: messages/%s is not a language directory", d.Name())
		}
		texts := map[string]string{}
		files, err := fs.Glob(messageFiles, path.Join("messages", d.Name(), "*.json"))
		if err != nil {
			return nil, fmt.Errorf("locale: %w", err)
		}
		for _, f := range files {
			data, err := fs.ReadFile(messageFiles, f)
			if err != nil {
				return nil, fmt.Errorf("locale: %w", err)
			}
			var m map[string]string
			if err := json.Unmarshal(data, &m); err != nil {
				return nil, fmt.Errorf("locale: %s: %w", f, err)
			}
			for k, v := range m {
				if old, ok := texts[k]; ok && old != v {
					return nil, fmt.Errorf("locale: %s: %q translated twice (%q and %q)", f, k, old, v)
				}
				if strings.TrimSpace(v) == "" {
					return nil, fmt.Errorf("locale: %s: %q has an empty translation", f, k)
				}
				texts[k] = v
			}
		}
		keys := map[string]bool{}
		for k, v := range texts {
			if err := c.builder.SetString(tag, k, v); err != nil {
				return nil, fmt.Errorf("locale: %s %q: %w", tag, k, err)
			}
			keys[k] = true
		}
		c.translated[tag] = keys
	}
	return c, nil
}

// Lang returns the language for a BCP 47 tag such as "en-US", "en-IN" or
// "zh-CN": messages from the closest translated language (English when
// none is), numbers and dates as that locale writes them.
func (c *Catalog) Lang(tag string) *Lang {
	if l, ok := c.langs.Load(tag); ok {
		return l.(*Lang)
	}
	t, err := language.Parse(tag)
	if err != nil {
		t = language.AmericanEnglish
	}
	base, _ := t.Base()
	l := &Lang{Tag: t.String(), catalog: c}
	msgTag := t
	if base.String() != "en" {
		// x/text matches zh-CN to zh-Hans but then looks messages up
		// under zh-Hans-u-rg-cnzzzz and finds none: print with the
		// catalog's own tag. Only English needs the region, for digit
		// grouping (en-IN writes 12,34,567).
		_, i, conf := c.builder.Matcher().Match(t)
		langs := c.builder.Languages()
		if conf != language.No && i < len(langs) {
			msgTag = langs[i]
		}
	}
	l.keys = c.translated[msgTag]
	l.source = l.keys == nil
	if !l.source {
		l.Texts = msgTag.String()
	}
	l.printer = message.NewPrinter(msgTag, message.Catalog(c.builder))
	l.dateStyle = dateStyleOf(t)
	l.Name = nativeName(t)
	actual, _ := c.langs.LoadOrStore(tag, l)
	return actual.(*Lang)
}

// Languages lists the translated languages, English (the source) left
// out, as the catalog names them: "zh-Hans".
func (c *Catalog) Languages() []string {
	var out []string
	for tag := range c.translated {
		out = append(out, tag.String())
	}
	sort.Strings(out)
	return out
}

// Missing lists the keys asked of a translated language that had no
// translation since the catalog was loaded, so tests can fail on an
// untranslated string that only appears at run time.
func (c *Catalog) Missing() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.missing))
	for k := range c.missing {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Has reports whether tag's translated language has a text for key.
func (c *Catalog) Has(tag, key string) bool {
	l := c.Lang(tag)
	return l.source || l.keys[key]
}

func (c *Catalog) miss(key string) {
	c.mu.Lock()
	c.missing[key] = struct{}{}
	c.mu.Unlock()
}

// Lang is one locale of the storefront.
type Lang struct {
	// Tag is the BCP 47 tag pages declare in lang and hreflang.
	Tag string
	// Name is the language's name in itself, for the language switch.
	Name string
	// Texts is the translated language the page's words come from
	// ("zh-Hans"), which also picks a product's texts; empty for English.
	Texts string

	catalog   *Catalog
	printer   *message.Printer
	keys      map[string]bool
	source    bool
	dateStyle dateStyle
}

// T translates key and formats args into it as fmt.Sprintf would, with
// numbers grouped the locale's way. English, or a key with no translation,
// shows the key without its context (Source).
func (l *Lang) T(key string, args ...any) string {
	if l.source || !l.keys[key] {
		if !l.source {
			l.catalog.miss(key)
		}
		key = Source(key)
	}
	return l.printer.Sprintf(key, args...)
}

// Source is key as English reads it. A key may begin with a context in
// square brackets, "[charge] Shipping", where one English word needs two
// translations: the shipping method is 配送方式 in Chinese, what it costs
// 运费. The translations are looked up by the whole key; English shows
// what follows the context.
func Source(key string) string {
	if strings.HasPrefix(key, "[") {
		if i := strings.Index(key, "] "); i > 1 {
			return key[i+2:]
		}
	}
	return key
}

// Chinese reports whether the language is Chinese, for the few places
// (spacing, punctuation) where the page itself must differ.
func (l *Lang) Chinese() bool { return strings.HasPrefix(l.Tag, "zh") }

// Number writes n with the locale's digit grouping: 1,234,567 or, in
// India, 12,34,567.
func (l *Lang) Number(n int64) string { return l.printer.Sprintf("%d", n) }

type dateStyle int

const (
	monthFirst dateStyle = iota // January 2, 2006 (US)
	dayFirst                    // 2 January 2006 (India, English elsewhere)
	chinese                     // 2006年1月2日
)

func dateStyleOf(t language.Tag) dateStyle {
	base, _ := t.Base()
	if base.String() == "zh" {
		return chinese
	}
	if r, _ := t.Region(); r.String() == "US" {
		return monthFirst
	}
	return dayFirst
}

// dateLayouts are each style's long and short day layouts.
var dateLayouts = map[dateStyle][2]string{
	monthFirst: {"January 2, 2006", "Jan 2, 2006"},
	dayFirst:   {"2 January 2006", "2 Jan 2006"},
	chinese:    {"2006年1月2日", "2006年1月2日"},
}

// Date writes the day of t (in UTC, as every time on the storefront is).
func (l *Lang) Date(t time.Time) string { return t.UTC().Format(dateLayouts[l.dateStyle][0]) }

// ShortDate writes the day of t with a short month: "Jan 15, 2015",
// "15 Jan 2015", "2015年1月15日".
func (l *Lang) ShortDate(t time.Time) string { return t.UTC().Format(dateLayouts[l.dateStyle][1]) }

// Clock writes the day and minute of t in UTC: "Jan 2, 2006 15:04".
func (l *Lang) Clock(t time.Time) string {
	return l.ShortDate(t) + " " + t.UTC().Format("15:04")
}

func nativeName(t language.Tag) string {
	base, _ := t.Base()
	switch base.String() {
	case "zh":
		return "简体中文"
	case "en":
		return "English"
	}
	return t.String()
}

// Msg is a sentence to translate later, where the reader's language is
// known: domain packages return one (an availability reason, a cart
// notice) without knowing who reads it. An argument that is itself a Msg
// is translated too, so "not sold in %s" can name a place in Chinese.
type Msg struct {
	Key  string
	Args []any
}

// M makes a Msg.
func M(key string, args ...any) Msg { return Msg{Key: key, Args: args} }

// IsZero reports whether m says nothing.
func (m Msg) IsZero() bool { return m.Key == "" }

// Day is a date argument of a Msg: "January 2, 2006" in English, and as
// the reader's locale writes days when the message is translated, so a
// domain package never formats a date for one language only.
type Day time.Time

// String is the day in English, as the API and logs show it.
func (d Day) String() string { return time.Time(d).UTC().Format(dateLayouts[monthFirst][0]) }

// String is m in English, for logs, the API and English pages.
func (m Msg) String() string {
	if len(m.Args) == 0 {
		return Source(m.Key)
	}
	return m.render(func(key string, args ...any) string { return fmt.Sprintf(Source(key), args...) }, Day.String, "")
}

// Say translates m into l, its days as l writes them.
func (l *Lang) Say(m Msg) string {
	if m.Key == "" {
		return ""
	}
	return m.render(l.T, func(d Day) string { return l.Date(time.Time(d)) }, l.Texts)
}

// render formats m with sprintf, nested messages, days and names first;
// texts is the language of the reader's texts ("zh-Hans"), "" for the
// names as written.
func (m Msg) render(sprintf func(string, ...any) string, day func(Day) string, texts string) string {
	args := make([]any, len(m.Args))
	for i, a := range m.Args {
		switch v := a.(type) {
		case Msg:
			a = v.render(sprintf, day, texts)
		case Day:
			a = day(v)
		case Name:
			a = v.in(texts)
		}
		args[i] = a
	}
	return sprintf(m.Key, args...)
}

// Name is a name argument of a Msg as the shop wrote it in each language:
// a product's name, said in the reader's language where the shop gave
// one, so that a domain package never names a product in English only.
type Name struct {
	// Default is the name as written first (English).
	Default string
	// In holds the other languages' names by language of texts
	// ("zh-Hans").
	In map[string]string
}

// String is the name as written first, as the API and logs show it.
func (n Name) String() string { return n.Default }

// NameOf is n as l's reader has it.
func (l *Lang) NameOf(n Name) string { return n.in(l.Texts) }

func (n Name) in(texts string) string {
	if s := n.In[texts]; s != "" {
		return s
	}
	return n.Default
}
