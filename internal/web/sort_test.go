package web_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// TestListSortedByPrice: the list page and the product API sort by the
// lowest price in the market, either way, keep the order across pages and
// categories, and refuse an order they do not know.
func TestListSortedByPrice(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newStore(t, d)
		apiPrices := func(query string) []int64 {
			t.Helper()
			r := get(t, s, "/api/v1/markets/us/products?"+query)
			if r.status != http.StatusOK {
				t.Fatalf("%s: %d %s", query, r.status, r.body)
			}
			var out struct {
				Products []struct {
					Slug  string `json:"slug"`
					Price *struct {
						Amount int64 `json:"amount"`
					} `json:"price"`
				} `json:"products"`
			}
			if err := json.Unmarshal([]byte(r.body), &out); err != nil {
				t.Fatal(err)
			}
			var prices []int64
			for _, p := range out.Products {
				if p.Price == nil {
					prices = append(prices, -1) // no US price: sorted last
					continue
				}
				prices = append(prices, p.Price.Amount)
			}
			return prices
		}
		asc := apiPrices("sort=price_asc&per_page=100")
		desc := apiPrices("sort=price_desc&per_page=100")
		priced := func(ps []int64) []int64 {
			return slices.DeleteFunc(slices.Clone(ps), func(p int64) bool { return p < 0 })
		}
		if len(priced(asc)) < 10 || !slices.IsSorted(priced(asc)) || slices.IsSorted(priced(apiPrices("per_page=100"))) {
			t.Fatalf("price_asc: %v", asc)
		}
		if got := priced(desc); !slices.IsSortedFunc(got, func(a, b int64) int { return int(b - a) }) || len(got) != len(priced(asc)) {
			t.Fatalf("price_desc: %v", desc)
		}
		if i := slices.Index(asc, -1); i >= 0 && slices.ContainsFunc(asc[i:], func(p int64) bool { return p >= 0 }) {
			t.Errorf("a product without a US price is not last: %v", asc)
		}
		// Pages follow the order.
		page1, page2 := apiPrices("sort=price_asc&per_page=5"), apiPrices("sort=price_asc&per_page=5&page=2")
		if !slices.Equal(append(page1, page2...), asc[:10]) {
			t.Errorf("pages %v %v, want %v", page1, page2, asc[:10])
		}

		// The page: power banks, cheapest first; the form keeps the choice.
		r := get(t, s, "/us/products?category=power-banks&sort=price_asc")
		var shown []float64
		for _, m := range regexp.MustCompile(`From \$([0-9.]+)|class="price">\$([0-9.]+)`).FindAllStringSubmatch(r.body, -1) {
			v, _ := strconv.ParseFloat(m[1]+m[2], 64)
			shown = append(shown, v)
		}
		if len(shown) < 3 || !slices.IsSorted(shown) {
			t.Errorf("power banks by price: %v", shown)
		}
		for _, want := range []string{`<option value="price_asc" selected>`, `<input type="hidden" name="category" value="power-banks">`, `?category=audio&amp;sort=price_asc"`} {
			if !strings.Contains(r.body, want) {
				t.Errorf("the sorted page lacks %s", want)
			}
		}
		if cn := get(t, s, "/cn/products"); !strings.Contains(cn.body, "排序方式") || !strings.Contains(cn.body, "价格从低到高") {
			t.Error("the cn list's sort form is not in Chinese")
		}
		// Only what can be bought now: every product available, fewer than all.
		var all, avail struct {
			Total    int `json:"total"`
			Products []struct {
				Availability string `json:"availability"`
			} `json:"products"`
		}
		json.Unmarshal([]byte(get(t, s, "/api/v1/markets/us/products?per_page=100").body), &all)
		json.Unmarshal([]byte(get(t, s, "/api/v1/markets/us/products?available=true&sort=price_asc&per_page=100").body), &avail)
		if avail.Total == 0 || avail.Total >= all.Total || len(avail.Products) != avail.Total {
			t.Errorf("available: %d of %d", avail.Total, all.Total)
		}
		for _, p := range avail.Products {
			if p.Availability != "available" {
				t.Errorf("available=true lists a product that is %s", p.Availability)
			}
		}
		r = get(t, s, "/us/products?available=true&sort=price_desc")
		for _, want := range []string{`name="available" value="true" checked`, `href="/us/products?available=true&amp;category=audio&amp;sort=price_desc"`, "Not sold in"} {
			if strings.Contains(r.body, want) != (want != "Not sold in") {
				t.Errorf("the in-stock page: %s", want)
			}
		}
		for _, p := range []string{"/us/products?sort=cheapest", "/api/v1/markets/us/products?sort=price", "/us/products?available=maybe"} {
			if r := get(t, s, p); r.status != http.StatusBadRequest || !(strings.Contains(r.body, "sort") || strings.Contains(r.body, "available")) {
				t.Errorf("%s: %d", p, r.status)
			}
		}
	})
}
