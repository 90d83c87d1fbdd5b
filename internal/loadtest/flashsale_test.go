package loadtest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mistore/internal/customer"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

func TestClassifyClaim(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
		kind   Kind
		name   string
	}{
		{201, "", KindClaim, "claimed"},
		{409, "sold_out", KindClaim, "sold_out"},
		{409, "ended", KindClaim, "ended"},
		{409, "paused", KindClaim, "paused"},
		{429, "limit_reached", KindClaim, "limit_reached"},
		{403, "not_registered", KindClaim, "not_registered"},
		{409, "not_started", KindClaimRetry, "not_started"},
		{503, "overloaded", KindClaimRetry, "overloaded"},
		{503, "service_unavailable", KindClaimFailed, "503 service_unavailable"},
		{429, "rate_limited", KindClaimFailed, "429 rate_limited"},
		{401, "unauthorized", KindClaimFailed, "401 unauthorized"},
		{500, "", KindClaimFailed, "500"},
		{200, "", KindClaimFailed, "200"},
	} {
		kind, name := classifyClaim(tc.status, tc.code)
		if kind != tc.kind || name != tc.name {
			t.Errorf("classifyClaim(%d, %q) = %s, %q; want %s, %q", tc.status, tc.code, kind, name, tc.kind, tc.name)
		}
	}
}

func TestErrorCode(t *testing.T) {
	for body, want := range map[string]string{
		`{"error":{"code":"sold_out","message":"Sold out."}}`:     "sold_out",
		`{"error": {"code": "limit_reached"}}`:                    "limit_reached",
		`{"error":{"message":"x \"code\":\"y\"","code":"ended"}}`: "ended",
		`not json`: "",
		``:         "",
	} {
		if got := errorCode([]byte(body)); got != want {
			t.Errorf("errorCode(%s) = %q, want %q", body, got, want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		header http.Header
		body   string
		want   time.Duration
	}{
		{"header ms", h("Retry-After-Ms", "37", "Retry-After", "1"), `{"retry_after_ms":99}`, 37 * time.Millisecond},
		{"body ms", h("Retry-After", "1"), `{"error":{"code":"overloaded"},"retry_after_ms":12}`, 12 * time.Millisecond},
		{"body ms in error", h(), `{"error":{"code":"overloaded","retry_after_ms":13}}`, 13 * time.Millisecond},
		{"seconds", h("Retry-After", "2"), `{}`, 2 * time.Second},
		{"nothing", h(), ``, defaultRetryAfter},
		{"capped", h("Retry-After-Ms", "600000"), ``, maxRetryAfter},
		{"garbage", h("Retry-After-Ms", "soon"), ``, defaultRetryAfter},
	} {
		if got := retryAfter(tc.header, []byte(tc.body)); got != tc.want {
			t.Errorf("%s: retryAfter = %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestPrepareCustomers writes customers across statement and transaction
// boundaries and opens their sessions the way the store does, without the
// store writing anything back.
func TestPrepareCustomers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		n := customerRowsPerStatement*customerStatementsPerTx + customerRowsPerStatement + 7
		start := time.Now()
		cs, err := prepareCustomers(t.Context(), d, n, "test")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d customers with sessions in %s", n, time.Since(start))
		if len(cs) != n {
			t.Fatalf("%d customers returned, want %d", len(cs), n)
		}
		var customers, sessions int
		if err := d.Read.QueryRow("SELECT count(*) FROM customers").Scan(&customers); err != nil {
			t.Fatal(err)
		}
		if err := d.Read.QueryRow("SELECT count(*) FROM customer_sessions").Scan(&sessions); err != nil {
			t.Fatal(err)
		}
		if customers != n || sessions != n {
			t.Errorf("%d customers, %d sessions in the database, want %d each", customers, sessions, n)
		}
		ids := map[int64]bool{}
		svc := customer.NewService(d, nil, "http://shop.example", nil)
		for i, c := range cs {
			if ids[c.id] || c.id == 0 {
				t.Fatalf("customer %d has id %d, duplicate or zero", i, c.id)
			}
			ids[c.id] = true
			if i%997 != 0 && i != n-1 {
				continue
			}
			token, ok := strings.CutPrefix(c.auth, "Bearer ")
			if !ok {
				t.Fatalf("auth %q", c.auth)
			}
			sess, got, err := svc.Session(t.Context(), token)
			if err != nil {
				t.Fatalf("customer %d: session: %v", i, err)
			}
			if got.ID != c.id || sess.Kind != customer.SessionAPI || got.Email != customerEmail("test", i) {
				t.Errorf("customer %d: session opens customer %d (%s, %s), want %d", i, got.ID, got.Email, sess.Kind, c.id)
			}
		}
		// Sessions seen at preparation are not touched by a request: the
		// run must not turn every claim into a session write.
		var touched int
		if err := d.Read.QueryRow("SELECT count(*) FROM customer_sessions WHERE last_seen_at <> created_at").Scan(&touched); err != nil {
			t.Fatal(err)
		}
		if touched != 0 {
			t.Errorf("%d sessions touched by a lookup", touched)
		}
	})
}

// fakeFlashStore serves the flash-sale list and claims: the first claims
// are refused as overloaded or not started, then units are claimed until
// none are left.
type fakeFlashStore struct {
	units      int
	overloaded int
	notStarted int
	tokens     map[string]bool

	mu       sync.Mutex
	claimed  int
	ids      []string
	seen     map[string]int
	problems []string
	warm     int
}

func (f *fakeFlashStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/markets/us/flash-sales":
		f.mu.Lock()
		f.warm++
		f.mu.Unlock()
		fmt.Fprint(w, `{"flash_sales":[]}`)
		return
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/flash-sales/7/claims":
	default:
		http.NotFound(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	defer f.mu.Unlock()
	if string(body) != `{"quantity":1}` || r.Header.Get("Content-Type") != "application/json" || !f.tokens[token] {
		f.problems = append(f.problems, fmt.Sprintf("claim with body %q, type %q, token %q", body, r.Header.Get("Content-Type"), token))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case f.notStarted > 0:
		f.notStarted--
		w.WriteHeader(http.StatusConflict)
		fmt.Fprint(w, `{"error":{"code":"not_started","message":"Not yet."}}`)
	case f.overloaded > 0:
		f.overloaded--
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Retry-After-Ms", "2")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"error":{"code":"overloaded","message":"Busy."},"retry_after_ms":2}`)
	case f.seen[token] > 0:
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"error":{"code":"limit_reached"}}`)
	case f.claimed < f.units:
		f.claimed++
		f.seen[token]++
		id := fmt.Sprint(100 + f.claimed)
		f.ids = append(f.ids, id)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"claim_id":%s,"expires_at":"2026-11-27T12:00:00Z","cart_id":"c%s","cart_token":"t"}`, id, id)
	default:
		w.WriteHeader(http.StatusConflict)
		fmt.Fprint(w, `{"error":{"code":"sold_out","message":"Sold out."}}`)
	}
}

// TestRunClaims fires a crowd at a fake store: every customer decided,
// the retries counted apart, the claim ids collected.
func TestRunClaims(t *testing.T) {
	const customers, units, workers = 300, 40, 6
	f := &fakeFlashStore{units: units, overloaded: 25, notStarted: 5, tokens: map[string]bool{}, seen: map[string]int{}}
	run := &flashRun{body: []byte(`{"quantity":1}`)}
	for i := range customers {
		tok := fmt.Sprintf("token-%03d", i)
		f.tokens[tok] = true
		run.customers = append(run.customers, claimant{id: int64(i + 1), auth: "Bearer " + tok})
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	claims, _ := url.Parse(srv.URL + "/api/v1/flash-sales/7/claims")
	warm, _ := url.Parse(srv.URL + "/api/v1/markets/us/flash-sales")
	run.targets = []*url.URL{claims}

	tr := newTransport(workers)
	t.Cleanup(tr.CloseIdleConnections)
	o := Options{Targets: []string{srv.URL}, Scenario: "flashsale", Workers: workers, Market: "us"}
	sc, err := lookupScenario("flashsale")
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	o.Progress = &progress
	start := time.Now().Add(100 * time.Millisecond)
	r, err := runClaims(t.Context(), o, sc, tr.RoundTrip, run, []*url.URL{warm}, start, start.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.problems) > 0 {
		t.Errorf("the store saw bad claims: %q", f.problems[:min(5, len(f.problems))])
	}
	if f.warm != workers {
		t.Errorf("%d warm-up requests, want %d", f.warm, workers)
	}
	fs := r.FlashSale
	if fs.Fired != customers || fs.Decided != customers || fs.Failed != 0 || fs.CutOff != 0 {
		t.Errorf("fired %d, decided %d, failed %d, cut off %d; want %d decided", fs.Fired, fs.Decided, fs.Failed, fs.CutOff, customers)
	}
	if fs.Claimed() != units || fs.Outcomes["sold_out"] != customers-units || len(fs.Outcomes) != 2 {
		t.Errorf("outcomes %v, want %d claimed and the rest sold out", fs.Outcomes, units)
	}
	if fs.Overloaded != 25 || fs.NotStarted != 5 {
		t.Errorf("retries: %d overloaded, %d not started; want 25, 5", fs.Overloaded, fs.NotStarted)
	}
	if fs.PerSecond <= 0 || fs.Window <= 0 || fs.SoldOutIn <= 0 || fs.SoldOutIn > fs.Window {
		t.Errorf("window %s, %f/s, sold out in %s", fs.Window, fs.PerSecond, fs.SoldOutIn)
	}
	got := map[string]bool{}
	for _, id := range r.flashClaimIDs {
		got[id] = true
	}
	for _, id := range f.ids {
		if !got[id] {
			t.Errorf("claim %s answered 201 but not collected", id)
		}
	}
	if len(r.flashClaimIDs) != units {
		t.Errorf("%d claim ids collected, want %d", len(r.flashClaimIDs), units)
	}
	claim, _ := r.Kind(KindClaim)
	retry, _ := r.Kind(KindClaimRetry)
	wait, _ := r.Kind(KindClaimWait)
	if claim.Requests != customers || claim.Non2xx[409] != customers-units || retry.Requests != 30 || wait.Requests != customers {
		t.Errorf("claim %d requests (%v), retry %d, wait %d", claim.Requests, claim.Non2xx, retry.Requests, wait.Requests)
	}
	if r.Total.Requests != customers+30 {
		t.Errorf("total %d requests, want %d", r.Total.Requests, customers+30)
	}
	if claim.P99 <= 0 || wait.P50 < claim.P50 {
		t.Errorf("claim p99 %s, wait p50 %s below claim p50 %s", claim.P99, wait.P50, claim.P50)
	}
}

// TestRunClaimsStopsAtClose gives up on customers once the sale has closed.
func TestRunClaimsStopsAtClose(t *testing.T) {
	f := &fakeFlashStore{units: 1, overloaded: 1 << 30, tokens: map[string]bool{"a": true, "b": true}, seen: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	claims, _ := url.Parse(srv.URL + "/api/v1/flash-sales/7/claims")
	warm, _ := url.Parse(srv.URL + "/api/v1/markets/us/flash-sales")
	run := &flashRun{body: []byte(`{"quantity":1}`), targets: []*url.URL{claims},
		customers: []claimant{{1, "Bearer a"}, {2, "Bearer b"}}}
	sc, _ := lookupScenario("flashsale")
	tr := newTransport(1)
	t.Cleanup(tr.CloseIdleConnections)
	start := time.Now()
	r, err := runClaims(t.Context(), Options{Targets: []string{srv.URL}, Workers: 1}, sc, tr.RoundTrip, run, []*url.URL{warm}, start, start.Add(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	fs := r.FlashSale
	if fs.Decided != 0 || fs.CutOff != 1 || fs.Fired != 1 || fs.Overloaded == 0 {
		t.Errorf("decided %d, cut off %d, fired %d, overloaded %d; want 0, 1, 1, some", fs.Decided, fs.CutOff, fs.Fired, fs.Overloaded)
	}
}

// TestWarmUpNeedsTheRoute stops before the start when the store does not
// serve flash sales.
func TestWarmUpNeedsTheRoute(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL + "/api/v1/markets/us/flash-sales")
	tr := newTransport(2)
	t.Cleanup(tr.CloseIdleConnections)
	ws := []*worker{{send: tr.RoundTrip, header: http.Header{}}, {send: tr.RoundTrip, header: http.Header{}}}
	err := warmUp(t.Context(), ws, []*url.URL{u})
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("warm up against a store without flash sales: %v", err)
	}
}

func goodSnapshot() (*saleSnapshot, *FlashSaleStats, []string) {
	s := &saleSnapshot{
		quantity: 50, limit: 1, claimed: 50, sku: "SKU-1",
		claimUnits: map[string]int64{"live": 50},
		claimIDs:   map[string]bool{},
		holders:    50, holderSum: 50, holderMax: 1, holderMin: 1,
		claimsMax: 1,
		stock:     map[string][2]int64{"us-east": {100, 50}, "us-west": {10, 0}},
		live:      map[string]int64{"us-east": 50},
		poolState: "live", poolQuantity: 50, poolRows: 1, reservationsMin: 50,
	}
	var ids []string
	for i := range 50 {
		id := fmt.Sprint(i + 1)
		s.claimIDs[id] = true
		ids = append(ids, id)
	}
	f := &FlashSaleStats{Customers: 500, Fired: 500, Decided: 500, Outcomes: map[string]uint64{"claimed": 50, "sold_out": 450}}
	return s, f, ids
}

func TestSaleChecks(t *testing.T) {
	s, f, ids := goodSnapshot()
	for _, c := range saleChecks(s, f, ids) {
		if !c.OK {
			t.Errorf("FAIL %s: %s", c.Name, c.Detail)
		}
	}
	for _, tc := range []struct {
		name   string
		change func(s *saleSnapshot, f *FlashSaleStats, ids *[]string)
		fails  []string
	}{
		{"oversold", func(s *saleSnapshot, f *FlashSaleStats, ids *[]string) {
			s.claimed, s.claimUnits["live"], s.holderSum = 51, 51, 51
		}, []string{"claimed = min(units, demand)", "nothing below zero"}},
		{"a claim lost", func(s *saleSnapshot, f *FlashSaleStats, ids *[]string) {
			*ids = append(*ids, "999")
		}, []string{"claims answered 201 = claim rows"}},
		{"an answer without an id", func(s *saleSnapshot, f *FlashSaleStats, ids *[]string) { (*ids)[0] = "" }, []string{"claims answered 201 = claim rows"}},
		{"above the limit", func(s *saleSnapshot, f *FlashSaleStats, ids *[]string) {
			s.holderMax, s.holdersOver = 2, 1
		}, []string{"no customer above the limit"}},
		{"claims above the limit", func(s *saleSnapshot, f *FlashSaleStats, ids *[]string) {
			s.claimsMax, s.claimsOver = 2, 1
		}, []string{"no customer above the limit"}},
		{"counter off", func(s *saleSnapshot, f *FlashSaleStats, ids *[]string) { s.released = 1 }, []string{"sale counters = sums over claims"}},
		{"holder off", func(s *saleSnapshot, f *FlashSaleStats, ids *[]string) { s.holdersOff = 1 }, []string{"sale counters = sums over claims"}},
		{"negative stock", func(s *saleSnapshot, f *FlashSaleStats, ids *[]string) {
			s.stock["us-west"] = [2]int64{-1, 0}
		}, []string{"nothing below zero"}},
		{"reserved off", func(s *saleSnapshot, f *FlashSaleStats, ids *[]string) {
			s.stock["us-east"] = [2]int64{100, 49}
		}, []string{"stock reserved = live reservations"}},
		{"pool short", func(s *saleSnapshot, f *FlashSaleStats, ids *[]string) { s.poolQuantity = 49 }, []string{"pool reservation = units not checked out"}},
		{"a claim undecided", func(s *saleSnapshot, f *FlashSaleStats, ids *[]string) {
			f.Decided, f.Failed = 499, 1
		}, []string{"every customer's claim decided"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, f, ids := goodSnapshot()
			tc.change(s, f, &ids)
			for _, c := range saleChecks(s, f, ids) {
				if c.OK == slices.Contains(tc.fails, c.Name) {
					t.Errorf("%s: OK %v: %s", c.Name, c.OK, c.Detail)
				}
			}
		})
	}
	// Units checked out have left the pool for the orders' reservations.
	s, f, ids = goodSnapshot()
	s.claimUnits = map[string]int64{"live": 30, "ordered": 15, "paid": 5}
	s.paid, s.poolQuantity = 5, 30
	for _, c := range saleChecks(s, f, ids) {
		if !c.OK {
			t.Errorf("after checkouts: FAIL %s: %s", c.Name, c.Detail)
		}
	}
}

func TestWriteFlashSale(t *testing.T) {
	s, f, ids := goodSnapshot()
	f.SaleID, f.SKU, f.Warehouse, f.Price, f.Units, f.Limit = 3, "SKU-1", "us-east", 999, 50, 1
	f.Window, f.PerSecond, f.SoldOutIn, f.Overloaded = 2*time.Second, 250, 300*time.Millisecond, 12
	f.Checks = saleChecks(s, f, ids)
	r := &Report{Scenario: "flashsale", FlashSale: f}
	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"flash sale 3: 50 units of SKU-1 in us-east at 999, limit 1 per customer, 500 customers",
		"claims: 500 of 500 customers decided in 2s: 250.0 decided/s; last unit claimed after 300ms",
		"outcomes: sold_out 450, claimed 50",
		"retried: 12 overloaded (503), 0 not_started; failed: 0",
		"PASS  claimed = min(units, demand): sale's claimed 50, units answered 201 50, min(50 units, 500 demanded) = 50",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, buf.String())
		}
	}
	if r.Failed() {
		t.Error("report with passing checks says failed")
	}
	f.Checks[2].OK = false
	if !r.Failed() {
		t.Error("report with a failed check says passed")
	}
}
