package community

import (
	"context"
	"errors"
	"html"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// xssCorpus is hostile comment text: each must render inert.
var xssCorpus = []string{
	`<script>alert(1)</script>`,
	`<img src=x onerror=alert(1)>`,
	`"><svg onload=alert(1)>`,
	`'><svg/onload=alert(1)>`,
	`javascript:alert(1)`,
	`<a href="javascript:alert(1)">click</a>`,
	`JaVaScRiPt:alert(document.cookie)`,
	`data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==`,
	`vbscript:msgbox(1)`,
	`https://example.com/"onmouseover="alert(1)`,
	`https://example.com/<script>alert(1)</script>`,
	`http://x.example/a'onclick='alert(1)`,
	`https://javascript:alert(1)@example.com/`,
	`xhttps://example.com javascript://example.com/%0aalert(1)`,
	`<iframe src="https://evil.example"></iframe>`,
	`<style>body{display:none}</style>`,
	`&lt;script&gt; &amp; &#x3C;script&#x3E;`,
	"\u202Egnp.exe\u202C and \u2066isolate\u2069 \u202Aembed\u202B",
	"broken \xff\xfe utf-8 \xc3\x28 here",
	"nul\x00byte and \x1b[31mansi",
	"<\x00script>alert(1)</script>",
	"https://example.com/\u202Ereversed",
	`<<script>script>alert(1)<</script>/script>`,
	`<!-- comment --> <![CDATA[x]]>`,
	`{{.}} {{template "x"}}`,
}

// allowedTag matches every tag RenderBody may write.
var allowedTag = regexp.MustCompile(`^(<p>|</p>|<br>|</a>|<a href="(https?://[^"<>]*)" rel="nofollow ugc noopener">)`)

// checkRendered asserts the renderer's invariants on the output for in.
func checkRendered(t *testing.T, in, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("output is not UTF-8: %q", out)
	}
	var textOnly strings.Builder
	open := 0
	for i := 0; i < len(out); {
		if out[i] == '>' {
			t.Fatalf("bare '>' in %q", out)
		}
		if out[i] != '<' {
			textOnly.WriteByte(out[i])
			i++
			continue
		}
		m := allowedTag.FindStringSubmatch(out[i:])
		if m == nil {
			t.Fatalf("unexpected markup at %d in %q (input %q)", i, out, in)
		}
		if href := m[2]; href != "" {
			open++
			h := html.UnescapeString(href)
			if !strings.HasPrefix(h, "http://") && !strings.HasPrefix(h, "https://") {
				t.Fatalf("href %q", h)
			}
		}
		if m[1] == "</a>" {
			open--
		}
		if open < 0 || open > 1 {
			t.Fatalf("unbalanced links in %q", out)
		}
		i += len(m[1])
	}
	for _, r := range out {
		if isBidiControl(r) {
			t.Fatalf("bidi control %U in %q", r, out)
		}
	}
	// Nothing of the text is lost or added: the output's text, unescaped,
	// is the cleaned input, white space aside.
	strip := func(s string) string {
		return strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return -1
			}
			return r
		}, s)
	}
	if got, want := strip(html.UnescapeString(textOnly.String())), strip(clean(in)); got != want {
		t.Fatalf("text changed:\n got %q\nwant %q", got, want)
	}
}

func TestRenderBodyXSSCorpus(t *testing.T) {
	for _, in := range xssCorpus {
		out := string(RenderBody(in))
		checkRendered(t, in, out)
		for _, bad := range []string{"<script", "<img", "<svg", "<iframe", "<style", "<!--", "href=\"javascript", "href=\"data"} {
			if strings.Contains(strings.ToLower(out), bad) {
				t.Errorf("%q renders %q", in, out)
			}
		}
	}
	// Only http(s) links, the attribute quoted, the text escaped.
	for in, want := range map[string]string{
		"see https://example.com/a?b=1&c=2.":    `<p>see <a href="https://example.com/a?b=1&amp;c=2" rel="nofollow ugc noopener">https://example.com/a?b=1&amp;c=2</a>.</p>`,
		"HTTP://EXAMPLE.COM/X":                  `<p><a href="http://EXAMPLE.COM/X" rel="nofollow ugc noopener">HTTP://EXAMPLE.COM/X</a></p>`,
		"(https://en.wikipedia.org/wiki/A_(b))": `<p>(<a href="https://en.wikipedia.org/wiki/A_(b)" rel="nofollow ugc noopener">https://en.wikipedia.org/wiki/A_(b)</a>)</p>`,
		`https://example.com/"onmouseover="x`:   `<p><a href="https://example.com/" rel="nofollow ugc noopener">https://example.com/</a>&#34;onmouseover=&#34;x</p>`,
		"a\nb\n\nc":                             "<p>a<br>\nb</p>\n<p>c</p>",
		"javascript:alert(1)":                   "<p>javascript:alert(1)</p>",
		"http:// nothing https://":              "<p>http:// nothing https://</p>",
		"\u202Eabc":                             "<p>abc</p>",
		"":                                      "",
	} {
		if got := string(RenderBody(in)); got != want {
			t.Errorf("RenderBody(%q)\n got %s\nwant %s", in, got, want)
		}
	}
	// 100 KB: refused when posted, still safe to render.
	big := strings.Repeat(`<script>alert(1)</script> https://x.example/ `, 100_000/44+1)
	checkRendered(t, big, string(RenderBody(big)))
}

// Hostile text through the service: refused where it must be, stored
// cleaned otherwise, and always inert when rendered.
func TestHostileCommentsThroughService(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, false)
		ctx := context.Background()
		p := e.product(t, "band")
		ada := e.customer(t, "<script>alert('name')</script> \u202Eevil")
		for _, in := range xssCorpus {
			c, err := e.s.PostComment(ctx, NewComment{ProductID: p, CustomerID: ada, Body: in})
			if !utf8.ValidString(in) {
				if fe := fieldErr(t, err, "body"); !errors.Is(fe, ErrInvalidText) || !strings.Contains(fe.Msg, "UTF-8") {
					t.Fatalf("%q: %v", in, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%q: %v", in, err)
			}
			if strings.ContainsFunc(c.Body, isBidiControl) || strings.ContainsRune(c.Body, 0) {
				t.Fatalf("stored %q", c.Body)
			}
			if c.Author.Name != "<script>alert('name')</script> evil" {
				t.Fatalf("name = %q", c.Author.Name)
			}
			checkRendered(t, in, string(c.HTML()))
		}
		big := strings.Repeat("a", 100*1024)
		_, err := e.s.PostComment(ctx, NewComment{ProductID: p, CustomerID: ada, Body: big})
		if fe := fieldErr(t, err, "body"); !strings.Contains(fe.Msg, "too long") {
			t.Fatalf("100 KB: %v", err)
		}
		if _, err := e.s.PostComment(ctx, NewComment{ProductID: p, CustomerID: ada, Body: strings.Repeat("é", MaxBodyLen)}); err != nil {
			t.Fatalf("%d characters refused: %v", MaxBodyLen, err)
		}
		_, err = e.s.PostReview(ctx, NewReview{ProductID: p, CustomerID: ada, Rating: 5, Title: "t", Body: big})
		fieldErr(t, err, "body")
	})
}

func FuzzRenderBody(f *testing.F) {
	for _, s := range xssCorpus {
		f.Add(s)
	}
	f.Add("see https://example.com/a_(b)?c=d&e=<f>.\n\nhttp://x.example")
	f.Add("hTTpS://a.b/\u202e\r\n\r\n\r\nx")
	f.Fuzz(func(t *testing.T, in string) {
		checkRendered(t, in, string(RenderBody(in)))
	})
}
