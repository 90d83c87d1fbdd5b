package web_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

var ldScript = regexp.MustCompile(`(?s)<script type="application/ld\+json">(.*?)</script>`)

type productLD struct {
	Context string   `json:"@context"`
	Type    string   `json:"@type"`
	Name    string   `json:"name"`
	URL     string   `json:"url"`
	Image   []string `json:"image"`
	Offers  []struct {
		Type          string `json:"@type"`
		SKU           string `json:"sku"`
		Price         string `json:"price"`
		PriceCurrency string `json:"priceCurrency"`
		Availability  string `json:"availability"`
	} `json:"offers"`
	AggregateRating *struct {
		RatingValue float64 `json:"ratingValue"`
		ReviewCount int     `json:"reviewCount"`
	} `json:"aggregateRating"`
}

func pageLD(t *testing.T, body string) productLD {
	t.Helper()
	m := ldScript.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no JSON-LD on the page")
	}
	var ld productLD
	if err := json.Unmarshal([]byte(m[1]), &ld); err != nil {
		t.Fatalf("JSON-LD does not parse: %v\n%s", err, m[1])
	}
	return ld
}

// TestSearchEngineMarkup: product pages carry schema.org Product data with
// the market's own offers, Open Graph tags, an absolute canonical URL and
// hreflang alternates for every market; private pages carry none of it.
func TestSearchEngineMarkup(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		page := func(path string) string {
			t.Helper()
			st, body, _ := s.do("GET", path, "")
			if st != 200 {
				t.Fatalf("GET %s: %d", path, st)
			}
			return body
		}
		us := page("/us/products/mistore-band-8")
		ld := pageLD(t, us)
		if ld.Context != "https://schema.org" || ld.Type != "Product" || ld.Name != "Mistore Band 8" ||
			ld.URL != s.url+"/us/products/mistore-band-8" || len(ld.Image) != 1 || !strings.HasPrefix(ld.Image[0], s.url+"/static/") {
			t.Errorf("us product LD: %+v", ld)
		}
		if len(ld.Offers) == 0 {
			t.Fatal("us band has no offers")
		}
		for _, o := range ld.Offers {
			if o.Type != "Offer" || o.PriceCurrency != "USD" || o.Price != "39.99" || o.Availability != "https://schema.org/InStock" {
				t.Errorf("us offer %+v", o)
			}
		}
		cn := pageLD(t, page("/cn/products/mistore-band-8"))
		if len(cn.Offers) == 0 || cn.Offers[0].PriceCurrency != "CNY" || cn.Offers[0].Price != "249.00" {
			t.Errorf("cn offers %+v", cn.Offers)
		}
		// Not sold in the US: a product, no offer to buy it.
		if phone := pageLD(t, page("/us/products/mistore-phone-14")); len(phone.Offers) != 0 {
			t.Errorf("the phone offers itself in the US: %+v", phone.Offers)
		}
		for _, want := range []string{
			`<link rel="canonical" href="` + s.url + `/us/products/mistore-band-8">`,
			`<link rel="alternate" hreflang="zh-CN" href="` + s.url + `/cn/products/mistore-band-8">`,
			`<link rel="alternate" hreflang="en-IN" href="` + s.url + `/in/products/mistore-band-8">`,
			`<link rel="alternate" hreflang="x-default" href="` + s.url + `/us/products/mistore-band-8">`,
			`<meta property="og:type" content="product">`,
			`<meta property="og:title" content="Mistore Band 8">`,
			`<meta property="og:url" content="` + s.url + `/us/products/mistore-band-8">`,
			`<meta property="og:locale" content="en_US">`,
		} {
			if !strings.Contains(us, want) {
				t.Errorf("the us product page lacks %s", want)
			}
		}
		home := page("/us/")
		if !strings.Contains(home, `<meta property="og:type" content="website">`) || strings.Contains(home, "application/ld+json") {
			t.Error("home page: want website Open Graph and no product data")
		}
		// A private page is kept out of search engines and out of previews.
		_, cart, _ := s.do("GET", "/us/cart", "")
		if !strings.Contains(cart, `<meta name="robots" content="noindex, nofollow">`) || strings.Contains(cart, "og:title") || strings.Contains(cart, `rel="alternate"`) {
			t.Error("the cart page should be noindex without Open Graph or alternates")
		}
	})
}
