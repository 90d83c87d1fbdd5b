package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mistore/internal/db"
)

const failSlug = "broken-widget"

type fakeProduct struct {
	Slug     string `json:"slug"`
	Name     string `json:"name"`
	Category string `json:"category"`
}

// fakeStore imitates the store's pages and product API and counts the
// requests it serves by kind, discovery counted apart.
type fakeStore struct {
	products []fakeProduct
	terms    map[string]bool // search terms the load generator may send

	mu        sync.Mutex
	hits      map[string]int // by kind name
	paths     map[string]int // by path, load requests only
	discovery int
	// metrics counts reads of /metrics, which this store answers 404, as
	// a store without SQLite writer counters may.
	metrics   int
	unknown   []string
	gzipAsked int
}

func newFakeStore(n int) *fakeStore {
	names := []string{"Power Bank 10000mAh", "Fitness Band Pro", "Fast Charger USB", "Smart Watch Lite"}
	cats := []string{"power", "wearables", "chargers", "wearables"}
	f := &fakeStore{hits: map[string]int{}, paths: map[string]int{}}
	for i := range n {
		f.products = append(f.products, fakeProduct{
			Slug:     fmt.Sprintf("product-%03d", i),
			Name:     names[i%len(names)],
			Category: cats[i%len(cats)],
		})
	}
	if n > 0 {
		f.products[n-1].Slug = failSlug
	}
	return f
}

func (f *fakeStore) slugExists(slug string) bool {
	return slices.ContainsFunc(f.products, func(p fakeProduct) bool { return p.Slug == slug })
}

func (f *fakeStore) hit(kind string, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hits[kind]++
	f.paths[r.URL.Path]++
	if r.Header.Get("Accept-Encoding") == "gzip" {
		f.gzipAsked++
	}
}

func (f *fakeStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const api = "/api/v1/markets/us/products"
	q := r.URL.Query()
	path := r.URL.Path
	switch {
	case path == "/metrics":
		f.mu.Lock()
		f.metrics++
		f.mu.Unlock()
		http.NotFound(w, r)
	case path == api && q.Has("per_page"):
		f.servePage(w, r)
	case path == api && q.Get("q") != "":
		f.hit("search-api", r)
		f.checkTerm(q.Get("q"))
		fmt.Fprint(w, `{"products":[]}`)
	case strings.HasPrefix(path, api+"/") && f.slugExists(strings.TrimPrefix(path, api+"/")):
		f.hit("product-api", r)
		fmt.Fprint(w, `{"slug":"x"}`)
	case path == "/us/":
		f.hit("home", r)
		fmt.Fprint(w, "<html>home</html>")
	case path == "/us/products" && q.Get("q") != "":
		f.hit("search", r)
		f.checkTerm(q.Get("q"))
		fmt.Fprint(w, "<html>results</html>")
	case path == "/us/products":
		f.hit("list", r)
		fmt.Fprint(w, "<html>list</html>")
	case path == "/us/products/"+failSlug:
		f.hit("product", r)
		http.Error(w, "boom", http.StatusInternalServerError)
	case strings.HasPrefix(path, "/us/products/") && f.slugExists(strings.TrimPrefix(path, "/us/products/")):
		f.hit("product", r)
		fmt.Fprint(w, "<html>product</html>")
	default:
		f.mu.Lock()
		f.unknown = append(f.unknown, r.URL.String())
		f.mu.Unlock()
		http.NotFound(w, r)
	}
}

func (f *fakeStore) checkTerm(term string) {
	if f.terms != nil && !f.terms[term] {
		f.mu.Lock()
		f.unknown = append(f.unknown, "q="+term)
		f.mu.Unlock()
	}
}

func (f *fakeStore) servePage(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.discovery++
	f.mu.Unlock()
	perPage, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	perPage = min(max(perPage, 1), 100)
	page = max(page, 1)
	lo := min((page-1)*perPage, len(f.products))
	hi := min(lo+perPage, len(f.products))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"products": f.products[lo:hi],
		"page":     page,
		"per_page": perPage,
		"total":    len(f.products),
	})
}

func (f *fakeStore) snapshot() (hits map[string]int, paths map[string]int, unknown []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	hits = make(map[string]int)
	for k, v := range f.hits {
		hits[k] = v
	}
	paths = make(map[string]int)
	for k, v := range f.paths {
		paths[k] = v
	}
	return hits, paths, slices.Clone(f.unknown)
}

func startStore(t *testing.T, n int) (*fakeStore, *httptest.Server) {
	t.Helper()
	f := newFakeStore(n)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func TestDiscoverCollectsAllPages(t *testing.T) {
	f, srv := startStore(t, 250)
	cat, err := discover(t.Context(), srv.Client(), srv.URL+"/", "us")
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.slugs) != 250 || cat.slugs[0] != "product-000" || cat.slugs[249] != failSlug {
		t.Errorf("slugs: got %d (%q ... %q), want 250", len(cat.slugs), cat.slugs[0], cat.slugs[len(cat.slugs)-1])
	}
	if f.discovery != 3 {
		t.Errorf("discovery fetched %d pages, want 3", f.discovery)
	}
	if want := []string{"chargers", "power", "wearables"}; !slices.Equal(cat.categories, want) {
		t.Errorf("categories = %q, want %q", cat.categories, want)
	}
	for _, want := range []string{"power bank", "band", "power", "charger", "fitness", "watch", "smart"} {
		if !slices.Contains(cat.terms, want) {
			t.Errorf("terms %q lack %q", cat.terms, want)
		}
	}
	for _, bad := range []string{"10000mah", "usb", "pro"} {
		if slices.Contains(cat.terms, bad) {
			t.Errorf("terms %q contain %q", cat.terms, bad)
		}
	}
}

func TestRunBrowse(t *testing.T) {
	f, srv := startStore(t, 40)
	f.terms = map[string]bool{}
	for _, term := range []string{"power bank", "band", "power", "bank", "fitness", "charger", "smart", "watch", "lite", "fast"} {
		f.terms[term] = true
	}
	const duration = 300 * time.Millisecond
	r, err := Run(t.Context(), Options{Targets: []string{srv.URL}, Duration: duration, Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	hits, paths, unknown := f.snapshot()
	if len(unknown) > 0 {
		t.Errorf("unexpected requests: %q", unknown[:min(len(unknown), 10)])
	}
	if r.Products != 40 || r.Categories != 3 {
		t.Errorf("report discovered %d products, %d categories; want 40, 3", r.Products, r.Categories)
	}
	browse, err := lookupScenario("browse")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Kinds) != len(browse.kinds) {
		t.Fatalf("report has %d kinds, want %d", len(r.Kinds), len(browse.kinds))
	}
	if r.Checkout != nil {
		t.Errorf("browse report has checkout statistics %+v", r.Checkout)
	}
	var sum uint64
	for _, k := range browse.kinds {
		s, ok := r.Kind(k)
		if !ok {
			t.Fatalf("report lacks kind %s", k)
		}
		if hits[k.String()] == 0 {
			t.Errorf("kind %s was never requested", k)
		}
		if s.Requests != uint64(hits[k.String()]) {
			t.Errorf("kind %s: report counts %d requests, server saw %d", k, s.Requests, hits[k.String()])
		}
		if s.Errors != 0 {
			t.Errorf("kind %s: %d transport errors", k, s.Errors)
		}
		checkLatencies(t, s)
		sum += s.Requests
	}
	if r.Total.Requests != sum {
		t.Errorf("total requests %d, sum of kinds %d", r.Total.Requests, sum)
	}
	checkLatencies(t, r.Total)

	product, _ := r.Kind(KindProduct)
	failed := paths["/us/products/"+failSlug]
	if product.Non2xx[http.StatusInternalServerError] != uint64(failed) || len(product.Non2xx) > 1 {
		t.Errorf("product non-2xx = %v, server failed %d", product.Non2xx, failed)
	}
	if r.Total.Non2xxTotal() != uint64(failed) {
		t.Errorf("total non-2xx = %d, server failed %d", r.Total.Non2xxTotal(), failed)
	}
	if r.Duration < duration || r.Duration > duration+time.Second {
		t.Errorf("duration = %s, want about %s", r.Duration, duration)
	}
	if r.Total.RPS <= 0 || r.Total.BytesRead <= 0 {
		t.Errorf("RPS %v, bytes %d: want both > 0", r.Total.RPS, r.Total.BytesRead)
	}
	if r.Interrupted {
		t.Error("report says interrupted")
	}
	if f.gzipAsked != 0 {
		t.Errorf("%d requests asked for gzip without Options.Gzip", f.gzipAsked)
	}

	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	wants := []string{"home", "list", "search", "product", "product-api", "search-api", "total", "p99"}
	if failed > 0 {
		// The workers pick products at random: in a short run the broken
		// one may, rarely, never come up.
		wants = append(wants, "500:")
	}
	for _, want := range wants {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("WriteText output lacks %q:\n%s", want, buf.String())
		}
	}
	t.Logf("\n%s", buf.String())
}

func checkLatencies(t *testing.T, s Stats) {
	t.Helper()
	if !(0 < s.P50 && s.P50 <= s.P95 && s.P95 <= s.P99 && s.P99 <= s.Max) {
		t.Errorf("%s latencies not ordered: p50 %s p95 %s p99 %s max %s", s.Name, s.P50, s.P95, s.P99, s.Max)
	}
}

func TestRunSingleKindScenario(t *testing.T) {
	f, srv := startStore(t, 5)
	r, err := Run(t.Context(), Options{Targets: []string{srv.URL}, Scenario: "search-api", Duration: 100 * time.Millisecond, Workers: 2, Gzip: true})
	if err != nil {
		t.Fatal(err)
	}
	hits, _, unknown := f.snapshot()
	if len(unknown) > 0 {
		t.Errorf("unexpected requests: %q", unknown[:min(len(unknown), 10)])
	}
	if len(hits) != 1 || hits["search-api"] == 0 {
		t.Errorf("server hits = %v, want search-api only", hits)
	}
	if len(r.Kinds) != 1 || r.Kinds[0].Name != "search-api" || r.Kinds[0].Requests != uint64(hits["search-api"]) {
		t.Errorf("report kinds = %+v, server saw %d", r.Kinds, hits["search-api"])
	}
	if f.gzipAsked != hits["search-api"] {
		t.Errorf("%d of %d requests asked for gzip with Options.Gzip", f.gzipAsked, hits["search-api"])
	}
}

func TestRunRoundRobinTargets(t *testing.T) {
	f1, srv1 := startStore(t, 10)
	f2, srv2 := startStore(t, 10)
	r, err := Run(t.Context(), Options{Targets: []string{srv1.URL, srv2.URL}, Duration: 200 * time.Millisecond, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	var n1, n2 int
	h1, _, _ := f1.snapshot()
	h2, _, _ := f2.snapshot()
	for _, n := range h1 {
		n1 += n
	}
	for _, n := range h2 {
		n2 += n
	}
	if n1 == 0 || n2 == 0 {
		t.Fatalf("targets got %d and %d requests, want both > 0", n1, n2)
	}
	if uint64(n1+n2) != r.Total.Requests {
		t.Errorf("servers saw %d requests, report counts %d", n1+n2, r.Total.Requests)
	}
	// Each worker alternates, so the split differs by at most one per worker.
	if d := n1 - n2; d < -3 || d > 3 {
		t.Errorf("round-robin split %d/%d is uneven", n1, n2)
	}
	if f2.discovery != 0 {
		t.Errorf("second target got %d discovery requests, want 0", f2.discovery)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	_, srv := startStore(t, 10)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(200*time.Millisecond, cancel)
	began := time.Now()
	r, err := Run(ctx, Options{Targets: []string{srv.URL}, Duration: time.Minute, Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("Run took %s after cancellation at 200ms", took)
	}
	if !r.Interrupted {
		t.Error("report not marked interrupted")
	}
	if r.Total.Requests == 0 || r.Total.Errors != 0 {
		t.Errorf("requests %d, errors %d: want some requests and no errors from the cancellation", r.Total.Requests, r.Total.Errors)
	}
}

func TestRunProgress(t *testing.T) {
	_, srv := startStore(t, 10)
	var buf bytes.Buffer
	_, err := Run(t.Context(), Options{Targets: []string{srv.URL}, Duration: 1500 * time.Millisecond, Workers: 2, Progress: &buf})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) < 1 || len(lines) > 2 {
		t.Errorf("progress output = %q, want a line per second", buf.String())
	}
	for _, l := range lines {
		if !strings.Contains(l, "req/s") || !strings.Contains(l, "p99") || !strings.Contains(l, "errors 0") {
			t.Errorf("progress line %q lacks req/s, errors or p99", l)
		}
	}
}

func TestRunDiscoveryFailures(t *testing.T) {
	_, empty := startStore(t, 0)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "database down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(broken.Close)
	for _, tc := range []struct {
		target string
		want   string
	}{
		{empty.URL, "no products found"},
		{broken.URL, "503"},
		{"http://127.0.0.1:1", "discover products"},
	} {
		_, err := Run(t.Context(), Options{Targets: []string{tc.target}, Duration: time.Second})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Run against %s: error %v, want one containing %q", tc.target, err, tc.want)
		}
	}
}

func TestOptionsValidation(t *testing.T) {
	ok := []string{"http://127.0.0.1:8080"}
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no targets", Options{}, "no targets"},
		{"bad scheme", Options{Targets: []string{"ftp://example.com"}}, "scheme must be http or https"},
		{"no scheme", Options{Targets: []string{"127.0.0.1:8080"}}, "127.0.0.1:8080"},
		{"no host", Options{Targets: []string{"http://"}}, "missing host"},
		{"query", Options{Targets: []string{"http://x/?a=b"}}, "without query"},
		{"negative workers", Options{Targets: ok, Workers: -1}, "workers out of range"},
		{"too many workers", Options{Targets: ok, Workers: MaxWorkers + 1}, "workers out of range"},
		{"negative duration", Options{Targets: ok, Duration: -time.Second}, "duration -1s out of range"},
		{"long duration", Options{Targets: ok, Duration: 25 * time.Hour}, "out of range"},
		{"unknown scenario", Options{Targets: ok, Scenario: "stampede"}, `unknown scenario "stampede" (known: browse, checkout, flashsale, home`},
		{"stock check outside checkout", Options{Targets: ok, Scenario: "product", StockDB: &db.DB{}}, `stock check applies to the checkout scenario`},
		{"flashsale without a database", Options{Targets: ok, Scenario: "flashsale"}, `flashsale scenario needs the store's database`},
		{"flash-sale database outside flashsale", Options{Targets: ok, Scenario: "product", FlashSale: FlashSaleOptions{DB: &db.DB{}}}, `applies to the flashsale scenario`},
		{"flashsale limit above units", Options{Targets: ok, Scenario: "flashsale", FlashSale: FlashSaleOptions{DB: &db.DB{}, Units: 5, Limit: 6}}, `per-customer limit 6 out of range`},
		{"bad market", Options{Targets: ok, Market: "us/admin"}, `market "us/admin"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(t.Context(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}

	o, _, err := Options{Targets: ok}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	if o.Scenario != DefaultScenario || o.Duration != DefaultDuration || o.Workers != DefaultWorkers || o.Market != DefaultMarket {
		t.Errorf("defaults not applied: %+v", o)
	}
}

func TestScenarios(t *testing.T) {
	want := []string{"browse", "checkout", "flashsale", "home", "list", "product", "product-api", "search", "search-api"}
	if got := Scenarios(); !slices.Equal(got, want) {
		t.Errorf("Scenarios() = %q, want %q", got, want)
	}
}

func TestBrowseMixProportions(t *testing.T) {
	sc, err := lookupScenario("browse")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var counts [numKinds]int
	const n = 100000
	for range n {
		counts[sc.pick(rng)]++
	}
	want := [numKinds]float64{0.10, 0.15, 0.15, 0.35, 0.15, 0.10}
	for k, c := range counts {
		if got := float64(c) / n; got < want[k]-0.01 || got > want[k]+0.01 {
			t.Errorf("kind %s: share %.3f, want %.2f", Kind(k), got, want[k])
		}
	}
}

// TestHotPathDoesNotAllocate guards the per-request work the generator adds
// on top of net/http: picking, URL choice and recording.
func TestHotPathDoesNotAllocate(t *testing.T) {
	sc, err := lookupScenario("browse")
	if err != nil {
		t.Fatal(err)
	}
	cat := &catalog{slugs: []string{"a", "b"}, categories: []string{"c"}, terms: []string{"power bank"}}
	eps, err := buildEndpoints("http://127.0.0.1:1", "us", cat)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var stats [numKinds]kindStats
	step := func() {
		k := sc.pick(rng)
		u := eps.url(k, rng)
		s := &stats[k]
		s.requests++
		s.bytes += int64(len(u.Path))
		s.hist.record(time.Duration(rng.IntN(2000)) * time.Microsecond)
	}
	for range 10000 {
		step() // allocate the histogram chunks in use
	}
	if allocs := testing.AllocsPerRun(1000, step); allocs != 0 {
		t.Errorf("hot path allocates %v times per request", allocs)
	}
}

func TestEndpointsEscape(t *testing.T) {
	cat := &catalog{slugs: []string{"a b"}, categories: []string{"home & garden"}, terms: []string{"power bank"}}
	e, err := buildEndpoints("http://h:1/shop/", "us", cat)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ got, want string }{
		{e.home.String(), "http://h:1/shop/us/"},
		{e.listPage2.String(), "http://h:1/shop/us/products?page=2"},
		{e.listCategory[0].String(), "http://h:1/shop/us/products?category=home+%26+garden"},
		{e.search[0].String(), "http://h:1/shop/us/products?q=power+bank"},
		{e.product[0].String(), "http://h:1/shop/us/products/a%20b"},
		{e.productAPI[0].String(), "http://h:1/shop/api/v1/markets/us/products/a%20b"},
		{e.searchAPI[0].String(), "http://h:1/shop/api/v1/markets/us/products?q=power+bank"},
	} {
		if tc.got != tc.want {
			t.Errorf("URL %s, want %s", tc.got, tc.want)
		}
	}
}

func TestWriteTextFormat(t *testing.T) {
	r := &Report{
		Scenario: "product", Market: "us", Targets: []string{"http://127.0.0.1:8080"}, Workers: 8,
		Duration: 2 * time.Second, Products: 3, Categories: 1, SearchTerms: 4,
		Kinds: []Stats{{Name: "product", Requests: 20000, RPS: 10000, P50: 95 * time.Microsecond,
			P95: 310 * time.Microsecond, P99: 1250 * time.Microsecond, Max: 42 * time.Millisecond,
			Errors: 1, Non2xx: map[int]uint64{500: 3, 404: 2}}},
	}
	r.Total = r.Kinds[0]
	r.Total.Name = "total"
	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	want := "product           20000    10000.0    95.0µs     310µs    1.25ms    42.0ms        1  404:2 500:3\n"
	if !strings.Contains(buf.String(), want) {
		t.Errorf("WriteText output:\n%s\nlacks line:\n%s", buf.String(), want)
	}
}

// countingTransport counts the requests that pass through it.
type countingTransport struct {
	mu sync.Mutex
	n  int
	rt http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.rt.RoundTrip(r)
}

func TestRunUsesGivenClient(t *testing.T) {
	f, srv := startStore(t, 5)
	ct := &countingTransport{rt: srv.Client().Transport}
	r, err := Run(t.Context(), Options{Targets: []string{srv.URL}, Scenario: "product", Duration: 100 * time.Millisecond, Workers: 2, Client: &http.Client{Transport: ct}})
	if err != nil {
		t.Fatal(err)
	}
	hits, _, _ := f.snapshot()
	if uint64(ct.n) != r.Total.Requests+uint64(f.discovery+f.metrics) || hits["product"] != int(r.Total.Requests) || f.metrics != 2 {
		t.Errorf("client sent %d requests; report counts %d plus %d discovery and %d metrics, server saw %d", ct.n, r.Total.Requests, f.discovery, f.metrics, hits["product"])
	}
	if r.Writer != nil {
		t.Errorf("writer stats from a store without its counters: %+v", r.Writer)
	}
}
