package notify

import (
	htmltemplate "html/template"
	"strings"
	"sync/atomic"
	"testing"
)

func TestSayHTML(t *testing.T) {
	for _, c := range []struct {
		key  string
		args []any
		want string
	}{
		{"Hello %s,", []any{"<b>Ann & Bob</b>"}, "Hello &lt;b&gt;Ann &amp; Bob&lt;/b&gt;,"},
		{"Order %s of <shop>", []any{htmltemplate.HTML("<strong>US-1</strong>")}, "Order <strong>US-1</strong> of &lt;shop&gt;"},
		{"%d items for %s", []any{3, "A+B"}, "3 items for A&#43;B"},
		// A value that looks like another argument's placeholder stays as
		// it is: values are not searched again.
		{"%s and %s", []any{placeholder(1), "X"}, placeholder(1) + " and X"},
		{"no arguments", nil, "no arguments"},
	} {
		if got := string(sayHTML(nil, c.key, c.args...)); got != c.want {
			t.Errorf("sayHTML(%q, %v) = %q, want %q", c.key, c.args, got, c.want)
		}
	}
}

// FuzzFillPlaceholders: filling in one pass does what a strings.Replacer
// of every placeholder did, whatever the text around them.
func FuzzFillPlaceholders(f *testing.F) {
	f.Add("Hello \uE0000\uE001, order \uE0001\uE001")
	f.Add("\uE000\uE0002\uE001\uE001\uE00010\uE001\uE000x\uE001")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		values := []string{"<a&b>", "", "\uE0000\uE001"}
		pairs := make([]string, 0, 2*len(values))
		for i, v := range values {
			pairs = append(pairs, placeholder(i), v)
		}
		want := strings.NewReplacer(pairs...).Replace(s)
		if got := fillPlaceholders(s, values); got != want {
			t.Fatalf("fillPlaceholders(%q) = %q, want %q", s, got, want)
		}
	})
}

// Render remembers how long the bodies were, to size the next ones' buffers.
func TestRenderRemembersSizes(t *testing.T) {
	b, err := ParseBodies("sizes", "Hello {{.}}", "<p>Hello {{.}}</p>", nil)
	if err != nil {
		t.Fatal(err)
	}
	text, html, err := b.Render(nil, "sizes", "Ada")
	if err != nil {
		t.Fatal(err)
	}
	if b.textSize.Load() != int64(len(text)) || b.htmlSize.Load() != int64(len(html)) {
		t.Errorf("sizes %d and %d after bodies of %d and %d bytes", b.textSize.Load(), b.htmlSize.Load(), len(text), len(html))
	}
	var last atomic.Int64
	for _, c := range []struct{ last, want int64 }{{0, 0}, {800, 900}, {1 << 30, 256 << 10}} {
		last.Store(c.last)
		if got := sizeHint(&last); got != int(c.want) {
			t.Errorf("sizeHint(%d) = %d, want %d", c.last, got, c.want)
		}
	}
}
