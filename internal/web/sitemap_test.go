package web_test

import (
	"encoding/xml"
	"net/http"
	"strings"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// TestSitemap: each market has a sitemap of its pages, every product's
// page included (the phone the US does not sell too), and robots.txt
// names them; an unknown market has none.
func TestSitemap(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		st, body, hdr := s.do("GET", "/us/sitemap.xml", "")
		if st != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "application/xml") {
			t.Fatalf("sitemap: %d %s", st, hdr.Get("Content-Type"))
		}
		var set struct {
			URLs []struct {
				Loc string `xml:"loc"`
			} `xml:"url"`
		}
		if err := xml.Unmarshal([]byte(body), &set); err != nil {
			t.Fatalf("sitemap is not XML: %v\n%s", err, body)
		}
		locs := map[string]bool{}
		for _, u := range set.URLs {
			if !strings.HasPrefix(u.Loc, "http") {
				t.Errorf("relative location %q", u.Loc)
			}
			locs[u.Loc[strings.Index(u.Loc, "/us/"):]] = true
		}
		for _, want := range []string{"/us/", "/us/products", "/us/flash-sales", "/us/products/mistore-phone-14", "/us/products/mistore-power-bank-10000"} {
			if !locs[want] {
				t.Errorf("the US sitemap lacks %s", want)
			}
		}
		if len(set.URLs) != 3+25 {
			t.Errorf("%d URLs, want the 3 market pages and the demo's 25 products", len(set.URLs))
		}
		if st, _, _ := s.do("GET", "/xx/sitemap.xml", ""); st != http.StatusNotFound {
			t.Errorf("sitemap of an unknown market: %d", st)
		}
		st, robots, _ := s.do("GET", "/robots.txt", "")
		for _, m := range []string{"us", "cn", "in"} {
			if !strings.Contains(robots, "/"+m+"/sitemap.xml\n") {
				t.Errorf("robots.txt does not name the %s sitemap:\n%s", m, robots)
			}
		}
		if st != http.StatusOK || !strings.Contains(robots, "Disallow: /admin/") {
			t.Errorf("robots.txt: %d\n%s", st, robots)
		}
	})
}
