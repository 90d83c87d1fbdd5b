package loadtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeShop imitates the store's money path closely enough for the checkout
// scenario: a catalog, carts, checkout with a stock count, the test
// provider's hosted page and orders that become paid a little after they
// are paid for, as when the webhook arrives.
type fakeShop struct {
	t        *testing.T
	url      string
	payDelay time.Duration

	mu       sync.Mutex
	stock    int
	keys     map[string]bool
	carts    map[string]string // id -> sku
	orders   map[string]time.Time
	paidAt   map[string]time.Time
	problems []string
	polls    int
	// metricsRead counts reads of /metrics; each shows the writer having
	// done more.
	metricsRead int
}

func (f *fakeShop) problem(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.problems = append(f.problems, fmt.Sprintf(format, args...))
}

func (f *fakeShop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if r.Method == http.MethodPost && strings.HasPrefix(path, "/api/") {
		key := r.Header.Get("Idempotency-Key")
		f.mu.Lock()
		reused := key == "" || f.keys[key]
		f.keys[key] = true
		f.mu.Unlock()
		if reused {
			f.problem("POST %s: Idempotency-Key %q missing or reused", path, key)
		}
	}
	switch {
	case path == "/api/v1/markets/us/products":
		fmt.Fprint(w, `{"products":[
			{"slug":"phone","category":"phones","availability":"available","price":{"amount":99900}},
			{"slug":"cable","category":"accessories","availability":"available","price":{"amount":799}},
			{"slug":"tablet","category":"tablets","availability":"not_sold"}],"total":3}`)
	case path == "/api/v1/markets/us/products/cable":
		fmt.Fprint(w, `{"variants":[{"sku":"CAB-1","price":{"amount":799},"available":true},{"sku":"CAB-2","price":{"amount":899},"available":false}]}`)
	case path == "/api/v1/markets/us/products/phone":
		fmt.Fprint(w, `{"variants":[{"sku":"PH-1","price":{"amount":99900},"available":true}]}`)
	case path == "/api/v1/markets/us/carts" && r.Method == http.MethodPost:
		f.mu.Lock()
		id := fmt.Sprintf("cart%d", len(f.carts))
		f.carts[id] = ""
		f.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":%q,"token":"tok-%s"}`, id, id)
	case strings.HasPrefix(path, "/api/v1/carts/") && r.Method == http.MethodPost:
		id, step, _ := strings.Cut(strings.TrimPrefix(path, "/api/v1/carts/"), "/")
		if r.Header.Get("X-Cart-Token") != "tok-"+id {
			f.problem("%s: wrong cart token %q", path, r.Header.Get("X-Cart-Token"))
		}
		f.cartStep(w, r, id, step)
	case strings.HasPrefix(path, "/pay/test/") && r.Method == http.MethodPost:
		number := strings.TrimPrefix(path, "/pay/test/")
		if o := r.Header.Get("Origin"); o != f.url {
			f.problem("pay: Origin %q, want %q", o, f.url)
		}
		if r.PostFormValue("card_number") != testCardSucceeds || r.PostFormValue("cvc") == "" {
			f.problem("pay: form %v", r.PostForm)
		}
		f.mu.Lock()
		f.paidAt[number] = time.Now().Add(f.payDelay)
		f.mu.Unlock()
		http.Redirect(w, r, "/us/orders/"+number, http.StatusSeeOther)
	case strings.HasPrefix(path, "/api/v1/orders/") && r.Method == http.MethodGet:
		number := strings.TrimPrefix(path, "/api/v1/orders/")
		if r.Header.Get("X-Order-Token") != "otok-"+number {
			f.problem("%s: wrong order token", path)
		}
		f.mu.Lock()
		f.polls++
		at, paying := f.paidAt[number]
		f.mu.Unlock()
		status := "pending_payment"
		if paying && !time.Now().Before(at) {
			status = "paid"
		}
		fmt.Fprintf(w, `{"number":%q,"status":%q}`, number, status)
	case r.Method == http.MethodGet && path == "/metrics":
		f.mu.Lock()
		n := f.metricsRead
		f.metricsRead++
		f.mu.Unlock()
		fmt.Fprintf(w, "# HELP mistore_db_group_commits_total Commits.\nmistore_db_group_commits_total %d\n", 10*n)
		fmt.Fprintf(w, "mistore_db_group_committed_transactions_total %d\nmistore_db_writer_busy_seconds_total %g\n", 63*n, 0.25*float64(n))
		fmt.Fprintf(w, "process_cpu_seconds_total %g\n", 0.5*float64(n))
	default:
		f.problem("unexpected %s %s", r.Method, path)
		http.NotFound(w, r)
	}
}

func (f *fakeShop) cartStep(w http.ResponseWriter, r *http.Request, id, step string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch step {
	case "items":
		var body struct {
			SKU      string `json:"sku"`
			Quantity int    `json:"quantity"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Quantity != 1 || (body.SKU != "CAB-1" && body.SKU != "PH-1") {
			f.problems = append(f.problems, fmt.Sprintf("add: body %+v, %v", body, err))
		}
		if f.stock <= 0 {
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, `{"error":{"code":"out_of_stock","message":"sold out"}}`)
			return
		}
		f.carts[id] = body.SKU
		fmt.Fprintf(w, `{"id":%q}`, id)
	case "checkout":
		if f.stock <= 0 {
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, `{"error":{"code":"out_of_stock","message":"sold out"}}`)
			return
		}
		f.stock--
		number := fmt.Sprintf("US-%d", 100000+len(f.orders))
		f.orders[number] = time.Now()
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"number":%q,"token":"otok-%s","status":"pending_payment","payment":{"redirect_url":"%s/pay/test/%s"}}`, number, number, f.url, number)
	default:
		f.problems = append(f.problems, "unexpected cart step "+step)
		http.NotFound(w, r)
	}
}

func startShop(t *testing.T, stock int, payDelay time.Duration) (*fakeShop, *httptest.Server) {
	t.Helper()
	f := &fakeShop{t: t, stock: stock, payDelay: payDelay, keys: map[string]bool{}, carts: map[string]string{},
		orders: map[string]time.Time{}, paidAt: map[string]time.Time{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f, srv
}

func TestChooseSKUs(t *testing.T) {
	_, srv := startShop(t, 0, 0)
	cat, err := discover(t.Context(), srv.Client(), srv.URL, "us")
	if err != nil {
		t.Fatal(err)
	}
	skus, err := chooseSKUs(t.Context(), srv.Client(), srv.URL, "us", cat)
	if err != nil {
		t.Fatal(err)
	}
	// The accessory first, though listed second; the unavailable variant
	// and the product that is not sold are left out.
	if want := []string{"CAB-1", "PH-1"}; !slices.Equal(skus, want) {
		t.Errorf("chose %q, want %q", skus, want)
	}
	if _, err := chooseSKUs(t.Context(), srv.Client(), srv.URL, "us", &catalog{products: cat.products[2:]}); err == nil || !strings.Contains(err.Error(), "no product") {
		t.Errorf("nothing purchasable: error %v", err)
	}
}

func TestRunCheckoutSellsOut(t *testing.T) {
	const stock = 7
	f, srv := startShop(t, stock, 30*time.Millisecond)
	var progress bytes.Buffer
	r, err := Run(t.Context(), Options{Targets: []string{srv.URL}, Scenario: "checkout", Duration: 1100 * time.Millisecond, Workers: 3, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	problems, polls := slices.Clone(f.problems), f.polls
	f.mu.Unlock()
	for _, p := range problems[:min(len(problems), 10)] {
		t.Error(p)
	}
	c := r.Checkout
	if c == nil {
		t.Fatal("no checkout statistics")
	}
	if c.Placed != stock || c.Paid != stock || c.Unpaid != 0 {
		t.Errorf("placed %d, paid %d, unpaid %d; want %d, %d, 0", c.Placed, c.Paid, c.Unpaid, stock, stock)
	}
	add, _ := r.Kind(KindAdd)
	co, _ := r.Kind(KindCheckout)
	if c.OutOfStock == 0 || c.OutOfStock != add.Non2xx[http.StatusConflict]+co.Non2xx[http.StatusConflict] {
		t.Errorf("out of stock %d, 409s to add %v and checkout %v", c.OutOfStock, add.Non2xx, co.Non2xx)
	}
	pay, _ := r.Kind(KindPay)
	if pay.Requests != stock || pay.Non2xxTotal() != 0 {
		t.Errorf("pay: %d requests, non-2xx %v; want %d and the 303s counted as success", pay.Requests, pay.Non2xx, stock)
	}
	order, _ := r.Kind(KindOrder)
	if order.Requests != uint64(polls) || polls <= stock {
		t.Errorf("order polls: report %d, server %d; want more than one per order with a payment delay", order.Requests, polls)
	}
	wait, _ := r.Kind(KindPaidWait)
	if wait.Requests != stock || wait.P50 < 30*time.Millisecond || wait.Max > PaidWaitLimit || c.PaidWait != PaidWaitLimit {
		t.Errorf("paid-wait: %d waits, p50 %s, max %s", wait.Requests, wait.P50, wait.Max)
	}
	// The total is per request: the waits are not in it.
	var requests uint64
	for _, k := range r.Kinds {
		if k.Name != "paid-wait" {
			requests += k.Requests
		}
	}
	if r.Total.Requests != requests {
		t.Errorf("total %d requests, kinds other than paid-wait %d", r.Total.Requests, requests)
	}
	if !slices.Equal(c.SKUs, []string{"CAB-1", "PH-1"}) || c.PerSecond <= 0 {
		t.Errorf("SKUs %q, %v checkouts/s", c.SKUs, c.PerSecond)
	}
	if !strings.Contains(progress.String(), "paid ") {
		t.Errorf("progress lacks the paid count: %q", progress.String())
	}
	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	if w := r.Writer; w == nil || w.Commits != 10 || w.Transactions != 63 || w.Busy != 250*time.Millisecond || w.Elapsed < time.Second {
		t.Errorf("writer stats %+v, want 10 commits and 63 transactions in 250 ms over the run", w)
	}
	if c := r.CPU; c == nil || !c.StoreKnown || c.Store != 500*time.Millisecond || !c.GeneratorKnown || c.Generator <= 0 {
		t.Errorf("CPU stats %+v, want the store's 0.5 s and the generator's own", c)
	}
	for _, want := range []string{"cart ", "add ", "checkout ", "pay ", "paid-wait ", "7 orders placed, 7 paid", "complete checkouts/s", "409:",
		"(6.3 a commit)", "; 9.0 write transactions a complete checkout", "store 0.50 s (", "71.43 ms of the store's, ", " ms of this machine's; at that cost its ", " complete checkouts/s\n"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, buf.String())
		}
	}
	t.Logf("\n%s", buf.String())
}

func TestRunCheckoutCountsUnpaid(t *testing.T) {
	// Orders that never become paid are given up on after the paid wait
	// and counted, and the run still ends near its duration.
	f, srv := startShop(t, 100, time.Hour)
	began := time.Now()
	const wait = 150 * time.Millisecond
	r, err := Run(t.Context(), Options{Targets: []string{srv.URL}, Scenario: "checkout", Duration: 100 * time.Millisecond, Workers: 2, PaidWait: wait})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took < wait || took > wait+time.Second {
		t.Errorf("run took %s", took)
	}
	c := r.Checkout
	if c.Placed == 0 || c.Paid != 0 || c.Unpaid != c.Placed {
		t.Errorf("placed %d, paid %d, unpaid %d; want all placed unpaid", c.Placed, c.Paid, c.Unpaid)
	}
	if w, _ := r.Kind(KindPaidWait); w.Errors != c.Placed {
		t.Errorf("paid-wait errors %d, want %d", w.Errors, c.Placed)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.problems) > 0 {
		t.Errorf("problems: %q", f.problems)
	}
}

func TestCheckStock(t *testing.T) {
	skus := []string{"A", "B"}
	before := stockSnapshot{levels: map[string]stockLevel{"A": {100, 2}, "B": {50, 0}}}
	good := stockSnapshot{
		levels:   map[string]stockLevel{"A": {90, 3}, "B": {45, 0}},
		statuses: map[string]int64{"paid": 15, "pending_payment": 1},
		sold:     map[string]int64{"A": 10, "B": 5},
		pending:  map[string]int64{"A": 1},
	}
	c := &CheckoutStats{Placed: 16}
	for _, ch := range checkStock(skus, before, good, c, false) {
		if !ch.OK {
			t.Errorf("%s failed: %s", ch.Name, ch.Detail)
		}
	}

	// A unit that left on_hand without a paid order, a reservation without
	// a pending order, and an order the run never heard of.
	bad := good
	bad.levels = map[string]stockLevel{"A": {89, 3}, "B": {45, 1}}
	bad.statuses = map[string]int64{"paid": 15, "pending_payment": 2}
	checks := checkStock(skus, before, bad, c, false)
	if len(checks) != 3 {
		t.Fatalf("%d checks, want 3", len(checks))
	}
	for i, want := range []string{"A sold 10 + left 89 != 100 before", "B reserved 1 after, 0 before, 0 pending", "17 orders in the database (15 paid, 2 pending_payment), 16 checkouts answered 201"} {
		if checks[i].OK || !strings.Contains(checks[i].Detail, want) {
			t.Errorf("check %q: ok %v, detail %q lacks %q", checks[i].Name, checks[i].OK, checks[i].Detail, want)
		}
	}
	r := &Report{Checkout: &CheckoutStats{Stock: checks}}
	if !r.Failed() {
		t.Error("report with failed checks does not say so")
	}
	// An interrupted run may have placed orders it never got the answer
	// to, so the order count is not checked.
	if got := checkStock(skus, before, good, c, true); len(got) != 2 {
		t.Errorf("interrupted run: %d checks, want 2", len(got))
	}
}
