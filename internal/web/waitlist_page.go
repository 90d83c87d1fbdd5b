package web

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"mistore/internal/catalog"
)

// waitlistBox is what the product page's waitlist form shows.
type waitlistBox struct {
	// Action is where the form posts.
	Action string
	// Place is the market's name in a sentence: "the United States".
	Place string
	// Heading is the box's title in the page's language.
	Heading template.HTML
	// Email prefills the field for a signed-in shopper; empty for every
	// anonymous visitor, so that their page is one page for all and stays
	// cacheable (the product page renders a signed-in shopper's uncached).
	Email string
}

// productWaitlist returns the waitlist box of product v in page p's
// market, or nil when the product can be bought there.
func (s *Server) productWaitlist(r *http.Request, p *page, v *catalog.View) (*waitlistBox, error) {
	switch v.Availability.State {
	case catalog.NotSold, catalog.ComingSoon, catalog.OutOfStock:
	default:
		return nil, nil
	}
	box := &waitlistBox{Action: "/" + p.Market.Code + "/products/" + url.PathEscape(v.Slug) + "/waitlist", Place: p.Market.Place()}
	box.Heading = textHTML(p.Lang.T("Tell me when it's available in %s", p.Lang.T(box.Place)))
	if credentials(r) != "" {
		if who, err := s.signedIn(r); err == nil {
			box.Email = who.customer.Email
			// The address makes the page this shopper's: never cached.
			p.Private = true
		}
	}
	return box, nil
}

// textEscaper escapes text for an element's content. Unlike html/template
// it leaves apostrophes alone, which need no escaping there.
var textEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;")

// textHTML is s as the content of an element: a translated sentence keeps
// the exact markup its English had as template text ("it's", not
// "it&#39;s").
func textHTML(s string) template.HTML { return template.HTML(textEscaper.Replace(s)) }
