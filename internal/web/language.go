package web

import (
	"context"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"mistore/internal/cart"
	"mistore/internal/catalog"

	"mistore/internal/locale"
	"mistore/internal/market"
)

// langCookie remembers the language a visitor chose in a market that
// offers more than one (China: Chinese by default, or English): one
// cookie per market, mistore_lang_cn, for the whole site, so that pages
// outside /cn/ made for a cn order (the hosted payment page) speak it too.
const langCookie = "mistore_lang_"

// langChoice is one entry of the language switch.
type langChoice struct {
	Tag, Name string
	Current   bool
}

// marketLanguages lists the languages market m's pages are written in,
// its own first: a market whose language is not English also offers
// English, written for that country (en-CN: dates day first).
func marketLanguages(m market.Market) []string {
	own := m.ContentLanguage()
	if strings.HasPrefix(own, "en") || len(m.CountryCodes) == 0 {
		return []string{own}
	}
	return []string{own, "en-" + m.CountryCodes[0]}
}

// pageLanguage picks the language of a storefront page in market m: the
// visitor's choice when the market offers it, else the market's own.
func (s *Server) pageLanguage(r *http.Request, m market.Market) (*locale.Lang, []langChoice) {
	tags := marketLanguages(m)
	chosen := tags[0]
	if len(tags) > 1 {
		if c, err := r.Cookie(langCookie + m.Code); err == nil {
			for _, t := range tags {
				if c.Value == t {
					chosen = t
				}
			}
		}
	}
	choices := make([]langChoice, len(tags))
	for i, t := range tags {
		choices[i] = langChoice{Tag: t, Name: s.locales.Lang(t).Name, Current: t == chosen}
	}
	return s.locales.Lang(chosen), choices
}

// setLanguage is the language switch: a form (so it works without
// JavaScript) that keeps the choice in a cookie for a year and goes back
// to the page it was on.
func (s *Server) setLanguage(w http.ResponseWriter, r *http.Request) {
	set, err := s.catalog.Markets(r.Context())
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	m, err := set.Get(r.PathValue("market"))
	if err != nil {
		s.pageNotFound(w, r)
		return
	}
	back := marketReturn(r.PostFormValue("return"), m.Code)
	tag := r.PostFormValue("lang")
	for _, t := range marketLanguages(m) {
		if t == tag {
			http.SetCookie(w, &http.Cookie{
				Name: langCookie + m.Code, Value: t, Path: "/",
				MaxAge: int((365 * 24 * time.Hour).Seconds()), HttpOnly: true,
				Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
			})
			localRedirect(w, r, back, http.StatusSeeOther)
			return
		}
	}
	s.renderError(w, r, http.StatusBadRequest, "That request did not make sense", "This store has no such language.")
}

// marketReturn is where the language switch goes back to: back, a page of
// market code with its query, or else the market's home. A path that
// leaves the market once cleaned ("/cn/../us/"), or that a browser could
// read as another host, is never followed.
func marketReturn(back, code string) string {
	home := "/" + code + "/"
	u, err := url.Parse(back)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Fragment != "" || strings.ContainsAny(back, "\\\r\n\t") ||
		strings.HasPrefix(back, "//") || !strings.HasPrefix(u.Path, home) {
		return home
	}
	if clean := path.Clean(u.Path); clean != strings.TrimSuffix(u.Path, "/") || !strings.HasPrefix(clean+"/", home) {
		return home
	}
	if u.RawQuery != "" {
		return u.EscapedPath() + "?" + u.RawQuery
	}
	return u.EscapedPath()
}

// MissingTranslations lists the messages a page asked of a translated
// language (Chinese) that had no translation since the server started, so
// tests can walk the pages and fail on English left in a Chinese page.
func (s *Server) MissingTranslations() []string { return s.locales.Missing() }

// localize returns views as a page in l shows them: names, descriptions
// and variant names in l's language where the product has them. The
// views may be the catalog's shared ones: a changed one is a copy.
func localize(l *locale.Lang, views []catalog.View) []catalog.View {
	if l.Texts == "" {
		return views
	}
	out := views
	for i := range views {
		if lv := views[i].In(l.Texts); lv != &views[i] {
			if &out[0] == &views[0] {
				out = slices.Clone(views)
			}
			out[i] = *lv
		}
	}
	return out
}

// localizeCart names the lines of v, a view made for this request, in
// l's language where their products have texts in it.
func (s *Server) localizeCart(ctx context.Context, l *locale.Lang, v *cart.View) error {
	if l.Texts == "" {
		return nil
	}
	for i := range v.Lines {
		line := &v.Lines[i]
		t, err := s.catalog.TextOf(ctx, line.Slug, l.Texts)
		if err != nil {
			return err
		}
		if t.Name == "" && t.Variants[line.SKU] == "" {
			continue
		}
		named := line.Name != line.FullName
		if t.Name != "" {
			line.Name = t.Name
		}
		if name := t.Variants[line.SKU]; name != "" {
			line.VariantName = name
		}
		line.FullName = line.Name
		if named && line.VariantName != "" {
			line.FullName = l.T("%s (%s)", line.Name, line.VariantName)
		}
	}
	return nil
}
