package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mistore/internal/catalog"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/demo"
	"mistore/internal/inventory"
	"mistore/internal/locale"
	"mistore/internal/web"
)

// sharedTheme is the one theme every store of these tests shows: loading
// it for each would spend a third of the package's time parsing templates.
// Missing translations are therefore counted across the tests that ran.
var sharedTheme = sync.OnceValues(func() (*web.Theme, error) { return web.LoadTheme(nil) })

// theme returns sharedTheme.
func theme(t testing.TB) *web.Theme {
	t.Helper()
	th, err := sharedTheme()
	if err != nil {
		t.Fatal(err)
	}
	return th
}

// testNow is a fixed clock: the demo's coming-soon watch launches in 2027.
var testNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// newStore returns a demo store's HTTP surface on d, reading stock fresh.
func newStore(t testing.TB, d *db.DB) *web.Server {
	t.Helper()
	return newStoreWith(t, d, 0)
}

// newStoreWith returns a demo store whose pages read stock through a
// display cache of stockTTL, as serve does.
func newStoreWith(t testing.TB, d *db.DB, stockTTL time.Duration) *web.Server {
	t.Helper()
	return newStoreCache(t, d, stockTTL, 0)
}

// newStoreCache is newStoreWith with a page cache of cacheEntries (-1: off).
func newStoreCache(t testing.TB, d *db.DB, stockTTL time.Duration, cacheEntries int) *web.Server {
	t.Helper()
	stock := inventory.NewDisplayCache(inventory.NewService(d), stockTTL)
	c := catalog.NewService(d, stock, catalog.Options{Now: func() time.Time { return testNow }})
	if _, err := demo.Seed(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	s, err := web.New(web.Deps{DB: d, Catalog: c, Version: "test", CacheEntries: cacheEntries, Theme: theme(t)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type response struct {
	status int
	header http.Header
	body   string
}

func get(t testing.TB, h http.Handler, path string, hdr ...string) response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Result().Header, body: rec.Body.String()}
}

func decode(t testing.TB, r response, v any) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, body %s", ct, r.body)
	}
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// keys returns the field names of a JSON object, to check the contract
// field for field.
func keys(t testing.TB, raw json.RawMessage) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestThemeSpeaksItsLocales: a server given a theme speaks the theme's
// message catalogs; asked to speak others as well, it refuses to start
// rather than render pages in one and emails in another.
func TestThemeSpeaksItsLocales(t *testing.T) {
	t.Parallel()
	d := dbtest.Open(t, db.SQLite)
	c := catalog.NewService(d, inventory.NewService(d), catalog.Options{})
	th := theme(t)
	other, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := web.New(web.Deps{DB: d, Catalog: c, Theme: th, Locales: other}); err == nil {
		t.Error("a theme with other locales than Deps.Locales was accepted")
	}
	s, err := web.New(web.Deps{DB: d, Catalog: c, Theme: th})
	if err != nil {
		t.Fatal(err)
	}
	if r := get(t, s, "/api/v1/markets"); r.status != 200 {
		t.Errorf("GET /api/v1/markets: %d", r.status)
	}
}

func TestAPIMarkets(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newStore(t, d)
		r := get(t, s, "/api/v1/markets")
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		var body struct {
			Markets []json.RawMessage `json:"markets"`
		}
		decode(t, r, &body)
		if len(body.Markets) != 3 {
			t.Fatalf("%d markets", len(body.Markets))
		}
		want := []string{"code", "country_codes", "currency", "locale", "name", "tax_included"}
		if got := keys(t, body.Markets[0]); !slices.Equal(got, want) {
			t.Errorf("market fields %v, want %v", got, want)
		}
		var us struct {
			Code         string   `json:"code"`
			Currency     string   `json:"currency"`
			CountryCodes []string `json:"country_codes"`
			TaxIncluded  bool     `json:"tax_included"`
		}
		json.Unmarshal(body.Markets[0], &us)
		if us.Code != "us" || us.Currency != "USD" || us.TaxIncluded || !slices.Equal(us.CountryCodes, []string{"US"}) {
			t.Errorf("us = %+v", us)
		}
	})
}

func TestAPIProducts(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newStore(t, d)
		r := get(t, s, "/api/v1/markets/us/products?per_page=5&page=2")
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		var list struct {
			Products []json.RawMessage `json:"products"`
			Page     int               `json:"page"`
			PerPage  int               `json:"per_page"`
			Total    int               `json:"total"`
		}
		decode(t, r, &list)
		if list.Page != 2 || list.PerPage != 5 || list.Total != 25 || len(list.Products) != 5 {
			t.Errorf("page %d per_page %d total %d len %d", list.Page, list.PerPage, list.Total, len(list.Products))
		}
		for _, raw := range list.Products {
			ks := keys(t, raw)
			for _, k := range []string{"slug", "name", "category", "availability"} {
				if !slices.Contains(ks, k) {
					t.Errorf("summary lacks %s: %s", k, raw)
				}
			}
		}

		r = get(t, s, "/api/v1/markets/us/products?q=power+bank&per_page=100")
		decode(t, r, &list)
		if list.Total < 3 {
			t.Errorf("search power bank: %d results", list.Total)
		}
		r = get(t, s, "/api/v1/markets/us/products?category=phones")
		decode(t, r, &list)
		if list.Total != 4 {
			t.Errorf("phones: %d", list.Total)
		}
	})
}

type apiProduct struct {
	Slug         string `json:"slug"`
	Availability string `json:"availability"`
	Reason       string `json:"reason"`
	Resellers    []struct {
		Name string `json:"name"`
		URL  string `json:"url"`
	} `json:"resellers"`
	Variants []struct {
		SKU   string `json:"sku"`
		Name  string `json:"name"`
		Price *struct {
			Amount   int64  `json:"amount"`
			Currency string `json:"currency"`
		} `json:"price"`
		Available bool `json:"available"`
	} `json:"variants"`
}

func TestAPIProductAvailabilityPerMarket(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newStore(t, d)
		r := get(t, s, "/api/v1/markets/us/products/mistore-phone-14")
		var raw json.RawMessage
		decode(t, r, &raw)
		want := []string{"availability", "category", "description", "images", "name", "reason", "resellers", "slug", "specs", "url", "variants"}
		if got := keys(t, raw); !slices.Equal(got, want) {
			t.Errorf("product fields %v, want %v", got, want)
		}
		var p apiProduct
		json.Unmarshal(raw, &p)
		if p.Availability != "not_sold" || !strings.Contains(p.Reason, "FCC") || len(p.Resellers) < 2 {
			t.Errorf("phone in us: %+v", p)
		}
		for _, v := range p.Variants {
			if v.Available || v.Price != nil {
				t.Errorf("phone variant in us: %+v", v)
			}
		}
		for _, mk := range []string{"cn", "in"} {
			var p apiProduct
			decode(t, get(t, s, "/api/v1/markets/"+mk+"/products/mistore-phone-14"), &p)
			if p.Availability != "available" || p.Reason != "" || len(p.Resellers) != 0 || p.Variants[0].Price == nil {
				t.Errorf("phone in %s: %+v", mk, p)
			}
		}
		// Every phone and tablet is not sold in the US only.
		var list struct {
			Products []struct {
				Slug         string `json:"slug"`
				Category     string `json:"category"`
				Availability string `json:"availability"`
			} `json:"products"`
		}
		for _, mk := range []string{"us", "cn", "in"} {
			decode(t, get(t, s, "/api/v1/markets/"+mk+"/products?per_page=100"), &list)
			states := map[string]int{}
			for _, p := range list.Products {
				states[p.Availability]++
				radio := p.Category == "phones" || p.Category == "tablets"
				if radio && (p.Availability == "not_sold") != (mk == "us") {
					t.Errorf("%s in %s is %s", p.Slug, mk, p.Availability)
				}
			}
			if mk == "us" && (states["coming_soon"] < 1 || states["out_of_stock"] < 1 || states["not_sold"] != 6) {
				t.Errorf("us states %v: want a coming_soon, an out_of_stock and 6 not_sold", states)
			}
		}
		decode(t, get(t, s, "/api/v1/markets/us/products/mistore-band-8"), &p)
		if p.Availability != "available" || p.Variants[0].Price.Currency != "USD" || !p.Variants[0].Available {
			t.Errorf("band in us: %+v", p)
		}
	})
}

func TestAPIErrors(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newStore(t, d)
		tests := []struct {
			path   string
			status int
			code   string
			field  string
		}{
			{"/api/v1/markets/xx/products", 404, "not_found", ""},
			{"/api/v1/markets/us/products/nope", 404, "not_found", ""},
			{"/api/v1/markets/xx/products/mistore-band-8", 404, "not_found", ""},
			{"/api/v1/markets/us/products?page=-1", 400, "invalid_parameter", "page"},
			{"/api/v1/markets/us/products?page=0", 400, "invalid_parameter", "page"},
			{"/api/v1/markets/us/products?page=abc", 400, "invalid_parameter", "page"},
			{"/api/v1/markets/us/products?page=99999999999999999999", 400, "invalid_parameter", "page"},
			{"/api/v1/markets/us/products?per_page=1000", 400, "invalid_parameter", "per_page"},
			{"/api/v1/markets/us/products?per_page=0", 400, "invalid_parameter", "per_page"},
			{"/api/v1/markets/us/products?per_page=1.5", 400, "invalid_parameter", "per_page"},
			{"/api/v1/markets/us/products?page=1&page=2", 400, "invalid_parameter", "page"},
			{"/api/v1/markets/us/products?category=toasters", 400, "invalid_parameter", "category"},
			{"/api/v1/markets/us/products?q=" + strings.Repeat("a", 201), 400, "invalid_parameter", "q"},
			{"/api/v1/nothing-here", 404, "not_found", ""},
		}
		for _, tt := range tests {
			r := get(t, s, tt.path)
			var body struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
					Field   string `json:"field"`
				} `json:"error"`
			}
			decode(t, r, &body)
			if r.status != tt.status || body.Error.Code != tt.code || body.Error.Field != tt.field || body.Error.Message == "" {
				t.Errorf("GET %s = %d %+v, want %d %s field %q", tt.path, r.status, body.Error, tt.status, tt.code, tt.field)
			}
		}
		// Search syntax is text, never an error.
		for _, q := range []string{"%22", "*", "OR", "%27%3B+DROP+TABLE+products%3B--", "a+NEAR+b", "%21%3A*"} {
			if r := get(t, s, "/api/v1/markets/us/products?q="+q); r.status != 200 {
				t.Errorf("search %s: %d %s", q, r.status, r.body)
			}
		}
		req := httptest.NewRequest(http.MethodDelete, "/api/v1/markets", nil)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != 405 || !strings.Contains(rec.Body.String(), "method_not_allowed") || rec.Header().Get("Allow") != "GET" {
			t.Errorf("DELETE markets: %d %s allow %q", rec.Code, rec.Body, rec.Header().Get("Allow"))
		}
	})
}

// TestOpenAPIDescribesEveryRoute walks the API surface the router serves
// and checks each operation against the document, both ways.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	d := dbtest.Open(t, db.SQLite)
	s := newStore(t, d)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	decode(t, get(t, s, "/api/v1/openapi.json"), &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	var documented []string
	for p, ops := range doc.Paths {
		for m := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+p)
		}
	}
	slices.Sort(documented)
	registered := s.APIRoutes()
	if !slices.Equal(documented, registered) {
		t.Errorf("documented %v\nregistered %v", documented, registered)
	}
	// Every documented GET without path parameters answers 200, and with
	// them is reachable: the document is not a wish list.
	// A cart's routes need a real cart and its token.
	c := newAPICart(t, s)
	fill := strings.NewReplacer("{market}", "us", "{slug}", "mistore-band-8", "{id}", c.ID)
	for _, op := range documented {
		method, path, _ := strings.Cut(op, " ")
		if method != "GET" {
			continue
		}
		if r := get(t, s, fill.Replace(path), "X-Cart-Token", c.Token); r.status != 200 {
			t.Errorf("%s: %d", op, r.status)
		}
	}
}

func TestPages(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newStore(t, d)
		tests := []struct {
			path   string
			status int
			want   []string
		}{
			{"/us/", 200, []string{"Featured", "Mistore Band 8", `hreflang="zh-CN"`}},
			{"/us/products", 200, []string{"25 products", `class="card"`}},
			{"/us/products?q=power+bank", 200, []string{"Power Bank 20000", "Results for"}},
			{"/us/products?q=%22%27%3B+DROP+TABLE+products", 200, []string{"No products found"}},
			{"/us/products?category=phones", 200, []string{"Mistore Phone 14", "Not sold here"}},
			{"/us/products/mistore-phone-14", 200, []string{"Not sold in the United States", "FCC", "https://northwind-electronics.example/mistore-phone-14"}},
			{"/cn/products/mistore-phone-14", 200, []string{"¥"}},
			{"/in/products/mistore-phone-14", 200, []string{"₹"}},
			{"/us/products/mistore-band-8", 200, []string{"$39.99", "In stock"}},
			{"/us/products/mistore-watch-s4", 200, []string{"Coming soon", "March 1, 2027"}},
			{"/us/products/mistore-power-bank-20000", 200, []string{"Out of stock"}},
			{"/us/products/nope", 404, []string{"Product not found"}},
			{"/xx/", 404, []string{"Page not found"}},
			{"/us/nope", 404, []string{"Page not found"}},
			{"/us/products?page=-1", 400, []string{"page must be"}},
			{"/us/products/mistore-band-8?variant=NOPE", 200, []string{"Mistore Band 8"}},
			{"/cn/", 200, []string{`lang="zh-CN"`, `hreflang="en-IN"`}},
		}
		for _, tt := range tests {
			r := get(t, s, tt.path)
			if r.status != tt.status {
				t.Errorf("GET %s: status %d, want %d", tt.path, r.status, tt.status)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.body, w) {
					t.Errorf("GET %s: page lacks %q", tt.path, w)
				}
			}
			if !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
				t.Errorf("GET %s: Content-Type %q", tt.path, r.header.Get("Content-Type"))
			}
			if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "object-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("GET %s: CSP %q", tt.path, csp)
			}
			// JSON-LD is data, never run: the only inline script allowed.
			if body := ldScript.ReplaceAllString(r.body, ""); strings.Contains(body, "<script") || strings.Contains(body, "style=") {
				t.Errorf("GET %s: inline script or style", tt.path)
			}
		}
		if r := get(t, s, "/"); r.status != 302 || r.header.Get("Location") != "/us/" {
			t.Errorf("/: %d to %q", r.status, r.header.Get("Location"))
		}
		if r := get(t, s, "/", "Accept-Language", "zh-CN,zh;q=0.9"); r.header.Get("Location") != "/cn/" {
			t.Errorf("/ in Chinese: to %q", r.header.Get("Location"))
		}
		if r := get(t, s, "/us"); r.status != 301 || r.header.Get("Location") != "/us/" {
			t.Errorf("/us: %d to %q", r.status, r.header.Get("Location"))
		}
		// HTML escapes whatever the shopper typed.
		if r := get(t, s, "/us/products?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E"); strings.Contains(r.body, "<script>alert") {
			t.Error("search text is echoed unescaped")
		}
	})
}

func TestConditionalRequests(t *testing.T) {
	t.Parallel()
	d := dbtest.Open(t, db.SQLite)
	s := newStore(t, d)
	r := get(t, s, "/us/products/mistore-band-8")
	etag := r.header.Get("ETag")
	if etag == "" {
		t.Fatal("product page has no ETag")
	}
	if r2 := get(t, s, "/us/products/mistore-band-8", "If-None-Match", etag); r2.status != 304 || r2.body != "" {
		t.Errorf("If-None-Match: %d, %d bytes", r2.status, len(r2.body))
	}
	css := regexp.MustCompile(`/static/[0-9a-f]+/css/store\.css`).FindString(r.body)
	if css == "" {
		t.Fatal("no hashed stylesheet link")
	}
	c := get(t, s, css, "Accept-Encoding", "gzip")
	if c.status != 200 || !strings.Contains(c.header.Get("Cache-Control"), "immutable") || c.header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Errorf("css: %d %v", c.status, c.header)
	}
	if old := get(t, s, strings.Replace(css, "/static/", "/static/0000", 1)); old.status != 200 || strings.Contains(old.header.Get("Cache-Control"), "immutable") {
		t.Errorf("css under an old hash: %d %q", old.status, old.header.Get("Cache-Control"))
	}
	if r := get(t, s, "/static/abc/none.css"); r.status != 404 {
		t.Errorf("missing static file: %d", r.status)
	}
}

// TestMetricsToken: with a metrics token, /metrics answers only a request
// that carries it as a bearer token; without one it stays open.
func TestMetricsToken(t *testing.T) {
	t.Parallel()
	d := dbtest.Open(t, db.SQLite)
	c := catalog.NewService(d, inventory.NewService(d), catalog.Options{Now: func() time.Time { return testNow }})
	if _, err := demo.Seed(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	s, err := web.New(web.Deps{DB: d, Catalog: c, Version: "test", Theme: theme(t), MetricsToken: "s3cret-metrics"})
	if err != nil {
		t.Fatal(err)
	}
	for _, hdr := range [][]string{nil, {"Authorization", "Bearer wrong"}, {"Authorization", "s3cret-metrics"},
		{"Authorization", "Bearer s3cret-metrics "}, {"Authorization", "Basic czNjcmV0LW1ldHJpY3M="}} {
		r := get(t, s, "/metrics", hdr...)
		if r.status != 401 || r.header.Get("WWW-Authenticate") == "" || strings.Contains(r.body, "mistore_") {
			t.Errorf("/metrics with %q: %d %q", hdr, r.status, r.body)
		}
	}
	r := get(t, s, "/metrics", "Authorization", "Bearer s3cret-metrics")
	if r.status != 200 || !strings.Contains(r.body, "go_sql_open_connections") {
		t.Errorf("/metrics with the token: %d", r.status)
	}
	// The rest of the store does not ask for it.
	if r := get(t, s, "/healthz"); r.status != 200 {
		t.Errorf("healthz %d", r.status)
	}
}

func TestOperations(t *testing.T) {
	t.Parallel()
	d := dbtest.Open(t, db.SQLite)
	s := newStore(t, d)
	if r := get(t, s, "/healthz"); r.status != 200 {
		t.Errorf("healthz %d", r.status)
	}
	if r := get(t, s, "/readyz"); r.status != 200 {
		t.Errorf("readyz %d %s", r.status, r.body)
	}
	get(t, s, "/us/products/mistore-band-8")
	get(t, s, "/us/products/nope")
	m := get(t, s, "/metrics")
	for _, want := range []string{
		`mistore_http_requests_total{method="GET",route="GET /{market}/products/{slug}",status="200"} 1`,
		`mistore_http_requests_total{method="GET",route="GET /{market}/products/{slug}",status="404"} 1`,
		`mistore_http_request_duration_seconds_bucket`,
		`go_sql_open_connections{db_name="read"}`,
	} {
		if !strings.Contains(m.body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	d.Close()
	if r := get(t, s, "/readyz"); r.status != 503 {
		t.Errorf("readyz with the database closed: %d", r.status)
	}
}

func BenchmarkProductPage(b *testing.B) {
	benchmarkGet(b, "/us/products/mistore-band-8")
}

// BenchmarkProductPageUncached renders the page every time, with stock
// read from the database: the cost of a first visit after a change.
func BenchmarkProductPageUncached(b *testing.B) {
	benchmarkUncached(b, "/us/products/mistore-band-8")
}

func benchmarkUncached(b *testing.B, path string) {
	d := dbtest.Open(b, db.SQLite)
	runGet(b, newStoreCache(b, d, 0, -1), path)
}

// BenchmarkProductPageChinese is the cn store's page: its own language's
// template set, product texts and a separate cache entry.
func BenchmarkProductPageChinese(b *testing.B) {
	benchmarkGet(b, "/cn/products/mistore-band-8")
}

// BenchmarkProductPageUncachedChinese renders the cn page every time:
// translation lookups included.
func BenchmarkProductPageUncachedChinese(b *testing.B) {
	benchmarkUncached(b, "/cn/products/mistore-band-8")
}

func BenchmarkProductAPI(b *testing.B) {
	benchmarkGet(b, "/api/v1/markets/us/products/mistore-band-8")
}

func BenchmarkSearchPage(b *testing.B) {
	benchmarkGet(b, "/us/products?q=power+bank")
}

func benchmarkGet(b *testing.B, path string) {
	d := dbtest.Open(b, db.SQLite)
	runGet(b, newStoreWith(b, d, time.Second), path)
}

func runGet(b *testing.B, s http.Handler, path string) {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("status %d", rec.Code)
			}
			io.Copy(io.Discard, rec.Body)
		}
	})
}
