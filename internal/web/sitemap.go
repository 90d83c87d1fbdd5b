package web

// Search engines: a sitemap per market and robots.txt pointing at them.

import (
	"encoding/xml"
	"net/http"
	"strings"

	"mistore/internal/catalog"
)

// sitemapURLSet is a sitemaps.org urlset.
type sitemapURLSet struct {
	XMLName xml.Name `xml:"urlset"`
	XMLNS   string   `xml:"xmlns,attr"`
	// XMLNSImage declares Google's image extension, which lists a
	// page's photos so that image search finds them.
	XMLNSImage string       `xml:"xmlns:image,attr"`
	URLs       []sitemapURL `xml:"url"`
}

// sitemapURL is one page of a sitemap, with its photos.
type sitemapURL struct {
	Loc    string         `xml:"loc"`
	Images []sitemapImage `xml:"image:image"`
}

// sitemapImage is one photo of a page (the image extension).
type sitemapImage struct {
	Loc string `xml:"image:loc"`
}

// sitemap lists a market's pages for search engines: its home, the
// product list, the flash sales and every product page, also of products
// not sold there (their pages say why, and offer resellers and the
// waitlist).
func (s *Server) sitemap(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("market")
	set, err := s.catalog.Markets(r.Context())
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	if _, err := set.Get(code); err != nil {
		s.pageNotFound(w, r)
		return
	}
	site := s.siteURL(r)
	base := site + "/" + code
	out := sitemapURLSet{XMLNS: "http://www.sitemaps.org/schemas/sitemap/0.9", XMLNSImage: "http://www.google.com/schemas/sitemap-image/1.1",
		URLs: []sitemapURL{{Loc: base + "/"}, {Loc: base + "/products"}, {Loc: base + "/flash-sales"}}}
	for page := 1; ; page++ {
		list, err := s.catalog.List(r.Context(), code, catalog.ListQuery{Page: page, PerPage: catalog.MaxPerPage})
		if err != nil {
			s.pageFail(w, r, err)
			return
		}
		for _, p := range list.Products {
			u := sitemapURL{Loc: base + "/products/" + p.Slug}
			for _, ph := range p.Photos {
				u.Images = append(u.Images, sitemapImage{Loc: site + mediaPath(ph.File, mediaLarge)})
			}
			out.URLs = append(out.URLs, u)
		}
		if len(list.Products) == 0 || page*list.PerPage >= list.Total || page >= catalog.MaxPage {
			break
		}
	}
	body, err := xml.MarshalIndent(out, "", "  ")
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write([]byte(xml.Header))
	w.Write(body)
}

// siteURL is the store's address as shoppers reach it, without a
// trailing slash: the configured public URL, else this request's host.
func (s *Server) siteURL(r *http.Request) string {
	if s.publicURL != "" {
		return s.publicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// robots keeps crawlers out of the API and the back office and points
// them at each market's sitemap.
func (s *Server) robots(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	b.WriteString("User-agent: *\nDisallow: /api/\nDisallow: /admin/\n")
	if set, err := s.catalog.Markets(r.Context()); err == nil {
		for _, m := range set.Markets {
			b.WriteString("Sitemap: " + s.siteURL(r) + "/" + m.Code + "/sitemap.xml\n")
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte(b.String()))
}
