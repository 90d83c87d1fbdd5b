package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"mistore/internal/cart"
	"mistore/internal/catalog"
	"mistore/internal/checkout"
	"mistore/internal/customer"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/demo"
	"mistore/internal/inventory"
	"mistore/internal/jobs"
	"mistore/internal/notify"
	"mistore/internal/order"
	"mistore/internal/payment"
	"mistore/internal/ratelimit"
	"mistore/internal/staff"
	"mistore/internal/web"
)

// shop is a whole store behind a real HTTP server, as serve wires it, with
// a job runner the test drives by hand.
type shop struct {
	t *testing.T
	// logs is everything the store logged, at debug level.
	logs    *syncBuffer
	d       *db.DB
	url     string
	runner  *jobs.Runner
	secret  []byte
	client  *http.Client
	orders  *order.Service
	testPay *payment.TestProvider
	srv     *web.Server
	// staff is the back office's members and keys (admin_test.go).
	staff *staff.Service
}

// routes is every API operation the store serves.
func (s *shop) routes() []string { return s.srv.APIRoutes() }

func newShop(t *testing.T, d *db.DB) *shop {
	t.Helper()
	ctx := context.Background()
	var handler http.Handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	inv := inventory.NewService(d)
	c := catalog.NewService(d, inv, catalog.Options{})
	if _, err := demo.Seed(ctx, c); err != nil {
		t.Fatal(err)
	}
	tokenKey, _ := d.Secret(ctx, "order-token")
	hookKey, _ := d.Secret(ctx, "test-provider-webhook")
	tp := payment.NewTestProvider(d, hookKey, ts.URL, nil)
	mailer := notify.NewMailer(d, nil, "Mistore <orders@mistore.invalid>", nil)
	tokens := order.NewTokens(tokenKey)
	orders := order.NewService(d, tokens, []payment.Provider{tp}, order.MailConfirmer{Mailer: mailer, Tokens: tokens, PublicURL: ts.URL, Markets: c.Markets}, nil, nil)
	carts := cart.NewService(d, c, inv, nil)
	co := checkout.NewService(d, c, carts, orders, "test", nil)
	customers := customer.NewService(d, mailer, ts.URL, nil)
	customers.Params = customer.Params{Memory: 64, Time: 1, Threads: 1} // cheap hashes for tests
	members := staff.NewService(d, nil)
	members.Params = customers.Params
	members.Mailer = mailer
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	runner := jobs.NewRunner(d, log)
	orders.Register(runner)
	tp.Register(runner)
	mailer.Register(runner)
	s, err := web.New(web.Deps{DB: d, Catalog: c, Version: "test", Demo: true, Log: log, Mailer: mailer, Cart: carts,
		Orders: orders, Checkout: co, TestPay: tp, Jobs: runner, PublicURL: ts.URL, Limits: ratelimit.New(d, nil),
		Customers: customers, Staff: members, Theme: theme(t)})
	if err != nil {
		t.Fatal(err)
	}
	handler = s
	return &shop{srv: s, staff: members, t: t, logs: logs, d: d, url: ts.URL, runner: runner, secret: hookKey, orders: orders, testPay: tp,
		client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request and returns the status and body.
func (s *shop) do(method, path, body string, hdr ...string) (int, string, http.Header) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func (s *shop) runJobs() {
	s.t.Helper()
	// Jobs queue jobs (a payment queues its webhook, the webhook its
	// processing, that the email): run until none is due.
	for range 10 {
		n, err := s.runner.RunDue(context.Background())
		if err != nil {
			s.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

const checkoutJSON = `{"email":"ada@example.com","shipping_address":{"name":"Ada Lovelace","line1":"1 Main St","city":"Newark","region":"NJ","postal_code":"07102","country":"US"},"shipping_method":"standard"}`

type orderResp struct {
	Number  string                 `json:"number"`
	Status  string                 `json:"status"`
	Token   string                 `json:"token"`
	Total   struct{ Amount int64 } `json:"total"`
	Payment struct {
		Provider    string `json:"provider"`
		Status      string `json:"status"`
		RedirectURL string `json:"redirect_url"`
	} `json:"payment"`
	Timeline []struct {
		Kind   string    `json:"kind"`
		Detail string    `json:"detail"`
		At     time.Time `json:"at"`
	} `json:"timeline"`
}

// cartWith makes a cart holding qty of sku and returns its id and token.
func (s *shop) cartWith(sku string, qty int) (string, string) {
	s.t.Helper()
	status, body, _ := s.do("POST", "/api/v1/markets/us/carts", "")
	if status != 201 {
		s.t.Fatalf("create cart: %d %s", status, body)
	}
	var c struct{ ID, Token string }
	json.Unmarshal([]byte(body), &c)
	if status, body, _ := s.do("POST", "/api/v1/carts/"+c.ID+"/items", fmt.Sprintf(`{"sku":%q,"quantity":%d}`, sku, qty), "X-Cart-Token", c.Token); status != 200 {
		s.t.Fatalf("add item: %d %s", status, body)
	}
	return c.ID, c.Token
}

func (s *shop) checkout(id, token string) orderResp {
	s.t.Helper()
	status, body, _ := s.do("POST", "/api/v1/carts/"+id+"/checkout", checkoutJSON, "X-Cart-Token", token)
	if status != 201 {
		s.t.Fatalf("checkout: %d %s", status, body)
	}
	var o orderResp
	json.Unmarshal([]byte(body), &o)
	moneyHasCurrency(s.t, "checkout", body)
	return o
}

// moneyHasCurrency checks that every Money in the JSON body (an object
// with an amount) names its currency, as API.md says Money always does.
func moneyHasCurrency(t *testing.T, what, body string) {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if _, ok := x["amount"]; ok {
				if c, _ := x["currency"].(string); len(c) != 3 {
					t.Errorf("%s: %s is Money without a currency: %v", what, path, x)
				}
			}
			for k, e := range x {
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		}
	}
	walk("$", v)
}

// pay posts the hosted payment page's form, as a shopper's browser does.
func (s *shop) pay(redirect, card string) (int, string) {
	s.t.Helper()
	form := url.Values{"card_number": {card}, "expiry": {"12/30"}, "cvc": {"123"}}
	req, _ := http.NewRequest("POST", redirect, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b) + resp.Header.Get("Location")
}

func (s *shop) order(number, token string) orderResp {
	s.t.Helper()
	status, body, _ := s.do("GET", "/api/v1/orders/"+number, "", "X-Order-Token", token)
	if status != 200 {
		s.t.Fatalf("get order: %d %s", status, body)
	}
	var o orderResp
	json.Unmarshal([]byte(body), &o)
	return o
}

func TestBuyOverHTTP(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		id, tok := s.cartWith("MB8-BLK", 2)
		status, body, _ := s.do("GET", "/api/v1/carts/"+id+"/shipping-methods", "", "X-Cart-Token", tok)
		if status != 200 || !strings.Contains(body, `"code":"standard"`) {
			t.Fatalf("shipping methods: %d %s", status, body)
		}
		o := s.checkout(id, tok)
		if !strings.HasPrefix(o.Number, "US-") || o.Status != "pending_payment" || o.Token == "" || o.Total.Amount != 8528 || o.Payment.RedirectURL == "" {
			t.Fatalf("order %+v", o)
		}
		// Checking out again answers with the same order, and the timeline
		// the first answer made up is the one stored.
		status, body, _ = s.do("POST", "/api/v1/carts/"+id+"/checkout", checkoutJSON, "X-Cart-Token", tok)
		if status != 200 || !strings.Contains(body, o.Number) {
			t.Errorf("second checkout: %d %s", status, body)
		}
		var again orderResp
		json.Unmarshal([]byte(body), &again)
		if len(o.Timeline) != 1 || o.Timeline[0].Kind != "placed" || !reflect.DeepEqual(o.Timeline, again.Timeline) {
			t.Errorf("timeline of the new order %+v, as stored %+v", o.Timeline, again.Timeline)
		}
		if status, page := s.pay(o.Payment.RedirectURL, "4000 0000 0000 0002"); status != 402 || !strings.Contains(page, "declined") {
			t.Errorf("declined card: %d", status)
		}
		s.runJobs()
		if got := s.order(o.Number, o.Token); got.Status != "pending_payment" || got.Payment.Status != "declined" {
			t.Errorf("after a decline: %+v", got)
		}
		status, loc := s.pay(o.Payment.RedirectURL, "4242 4242 4242 4242")
		if status != 303 || !strings.Contains(loc, "/us/orders/"+o.Number+"?token=") {
			t.Fatalf("good card: %d %s", status, loc)
		}
		s.runJobs()
		got := s.order(o.Number, o.Token)
		if got.Status != "paid" || got.Payment.RedirectURL != "" {
			t.Errorf("after paying: %+v", got)
		}
		// The confirmation is in the demo outbox.
		status, outbox, _ := s.do("GET", "/admin/outbox", "")
		if status != 200 || !strings.Contains(outbox, "Your Mistore order "+o.Number) {
			t.Errorf("outbox: %d, lacks the confirmation", status)
		}
		// The order page, with its token, says paid; without, not found.
		status, page, hdr := s.do("GET", "/us/orders/"+o.Number+"?token="+url.QueryEscape(o.Token), "")
		if status != 200 || !strings.Contains(page, "your order is paid") || hdr.Get("Cache-Control") != "private, no-store" {
			t.Errorf("order page: %d %q", status, hdr.Get("Cache-Control"))
		}
		assertNoCardNumbers(t, d)
		if s.logs.Len() == 0 {
			t.Fatal("the store logged nothing: the log check would prove nothing")
		}
		for _, c := range testCards {
			if strings.Contains(s.logs.String(), c) {
				t.Errorf("a card number is in the logs: %s", c)
			}
		}
	})
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Len()
}

func TestOrderAccessNeedsItsToken(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		id, tok := s.cartWith("MB8-BLK", 1)
		mine := s.checkout(id, tok)
		id2, tok2 := s.cartWith("MB8-BLU", 1)
		theirs := s.checkout(id2, tok2)
		for _, c := range []struct{ number, token string }{
			{theirs.Number, mine.Token}, {theirs.Number, ""}, {theirs.Number, "x"}, {"US-999999", mine.Token},
		} {
			status, body, _ := s.do("GET", "/api/v1/orders/"+c.number, "", "X-Order-Token", c.token)
			if status != 404 || !strings.Contains(body, `"not_found"`) {
				t.Errorf("order %s with another token: %d %s", c.number, status, body)
			}
			if status, _, _ := s.do("POST", "/api/v1/orders/"+c.number+"/cancel", "", "X-Order-Token", c.token); status != 404 {
				t.Errorf("cancel %s with another token: %d", c.number, status)
			}
			if status, _, _ := s.do("GET", "/us/orders/"+c.number+"?token="+url.QueryEscape(c.token), ""); status != 404 {
				t.Errorf("order page %s with another token: %d", c.number, status)
			}
		}
		// Another cart's token opens neither cart nor checkout.
		if status, _, _ := s.do("GET", "/api/v1/carts/"+id2, "", "X-Cart-Token", tok); status != 404 {
			t.Errorf("cart with another's token: %d", status)
		}
		if status, _, _ := s.do("POST", "/api/v1/carts/"+id2+"/checkout", checkoutJSON, "X-Cart-Token", tok); status != 404 {
			t.Errorf("checkout with another's token: %d", status)
		}
		// The owner may cancel; the order is then cancelled and its stock back.
		status, body, _ := s.do("POST", "/api/v1/orders/"+mine.Number+"/cancel", "", "X-Order-Token", mine.Token)
		if status != 200 || !strings.Contains(body, `"status":"cancelled"`) {
			t.Errorf("cancel: %d %s", status, body)
		}
		if status, body, _ := s.do("POST", "/api/v1/orders/"+mine.Number+"/cancel", "", "X-Order-Token", mine.Token); status != 409 {
			t.Errorf("cancel twice: %d %s", status, body)
		}
	})
}

func TestCheckoutRejectsClientPrices(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		id, tok := s.cartWith("MB8-BLK", 1)
		for _, tc := range []struct {
			body   string
			status int
			code   string
			field  string
		}{
			{`{"email":"a@example.com","total":{"amount":1,"currency":"USD"}}`, 400, "invalid_parameter", "total"},
			{strings.Replace(checkoutJSON, `"shipping_method"`, `"discount":500,"shipping_method"`, 1), 400, "invalid_parameter", "discount"},
			{strings.Replace(checkoutJSON, `"shipping_method"`, `"price":1,"shipping_method"`, 1), 400, "invalid_parameter", "price"},
			{strings.Replace(checkoutJSON, `"shipping_method"`, `"tax":0,"shipping_method"`, 1), 400, "invalid_parameter", "tax"},
			{`{"email":`, 400, "malformed_request", ""},
			{`[]`, 400, "malformed_request", ""},
			{strings.Replace(checkoutJSON, `"07102"`, `7102`, 1), 400, "invalid_parameter", "shipping_address.postal_code"},
			{strings.Replace(checkoutJSON, `"07102"`, `"7102"`, 1), 422, "invalid_field", "shipping_address.postal_code"},
			{strings.Replace(checkoutJSON, `"NJ"`, `"ZZ"`, 1), 422, "invalid_field", "shipping_address.region"},
			{strings.Replace(checkoutJSON, `ada@example.com`, `ada`, 1), 422, "invalid_field", "email"},
			{strings.Replace(checkoutJSON, `"standard"`, `"drone"`, 1), 422, "invalid_field", "shipping_method"},
			{strings.Replace(checkoutJSON, `"standard"`, `"standard","coupon_code":"FREE"`, 1), 422, "invalid_coupon", "coupon_code"},
		} {
			status, body, _ := s.do("POST", "/api/v1/carts/"+id+"/checkout", tc.body, "X-Cart-Token", tok)
			var e struct {
				Error struct{ Code, Field, Message string } `json:"error"`
			}
			json.Unmarshal([]byte(body), &e)
			if status != tc.status || e.Error.Code != tc.code || e.Error.Field != tc.field || e.Error.Message == "" {
				t.Errorf("%s\n  -> %d %s", tc.body, status, body)
			}
		}
		var orders, reserved int
		d.Read.QueryRow("SELECT count(*) FROM orders").Scan(&orders)
		d.Read.QueryRow("SELECT coalesce(sum(reserved), 0) FROM stock").Scan(&reserved)
		if orders != 0 || reserved != 0 {
			t.Errorf("rejected checkouts left %d orders and %d reserved units", orders, reserved)
		}
	})
}

// TestWebhooksAreVerified: forged, altered, stale and replayed webhooks
// change nothing; a genuine one delivered five times pays once.
func TestWebhooksAreVerified(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		id, tok := s.cartWith("MB8-BLK", 1)
		o := s.checkout(id, tok)
		var sessionID string
		d.Read.QueryRow("SELECT payment_session FROM orders WHERE number = $1", o.Number).Scan(&sessionID)
		event := func(evID string) []byte {
			return []byte(fmt.Sprintf(`{"id":%q,"type":"payment.succeeded","created":%d,"data":{"session_id":%q,"charge_id":"ch_forged","reference":%q,"amount":{"amount":%d,"currency":"USD"}}}`,
				evID, time.Now().Unix(), sessionID, o.Number, o.Total.Amount))
		}
		post := func(body []byte, sig string) (int, string) {
			status, resp, _ := s.do("POST", "/api/v1/payments/test/webhook", string(body), "Mistore-Signature", sig)
			return status, resp
		}
		now := time.Now()
		body := event("evt_1")
		// A provider the store does not use (Stripe, unconfigured here).
		if status, resp, _ := s.do("POST", "/api/v1/payments/stripe/webhook", string(body), "Mistore-Signature", payment.Sign(s.secret, body, now)); status != 404 ||
			!strings.Contains(resp, `"not_found"`) || !strings.Contains(resp, "provider") {
			t.Errorf("a webhook for an unknown provider: %d %s", status, resp)
		}
		for _, c := range []struct {
			name string
			body []byte
			sig  string
			code string
		}{
			{"no signature", body, "", "invalid_signature"},
			{"wrong key", body, payment.Sign([]byte("not the key"), body, now), "invalid_signature"},
			{"altered body", bytes.Replace(body, []byte(`"amount":`), []byte(`"amount":1`), 1), payment.Sign(s.secret, body, now), "invalid_signature"},
			{"stale", body, payment.Sign(s.secret, body, now.Add(-6*time.Minute)), "stale_webhook"},
			{"garbage header", body, "t=abc,v1=zz", "invalid_signature"},
			{"signed garbage", []byte(`{"hello":1}`), payment.Sign(s.secret, []byte(`{"hello":1}`), now), "malformed_webhook"},
		} {
			status, resp := post(c.body, c.sig)
			if status != 400 || !strings.Contains(resp, c.code) {
				t.Errorf("%s: %d %s", c.name, status, resp)
			}
		}
		s.runJobs()
		if got := s.order(o.Number, o.Token); got.Status != "pending_payment" {
			t.Fatalf("a rejected webhook changed the order: %s", got.Status)
		}
		// The provider really charged: its genuine event, delivered five
		// times (retries, replays within the window), pays once.
		if _, err := s.testPay.Pay(context.Background(), sessionID, payment.Card{Number: "4242424242424242", Expiry: "12/30", CVC: "123"}); err != nil {
			t.Fatal(err)
		}
		var charge string
		d.Read.QueryRow("SELECT charge_id FROM test_provider_sessions WHERE id = $1", sessionID).Scan(&charge)
		genuine := bytes.Replace(event("evt_genuine"), []byte("ch_forged"), []byte(charge), 1)
		for range 5 {
			if status, resp := post(genuine, payment.Sign(s.secret, genuine, time.Now())); status != 200 {
				t.Fatalf("genuine webhook: %d %s", status, resp)
			}
		}
		s.runJobs()
		if got := s.order(o.Number, o.Token); got.Status != "paid" {
			t.Errorf("after the genuine webhook: %s", got.Status)
		}
		// An older failure event arriving after the success (out of order)
		// does not undo it.
		failed := bytes.Replace(event("evt_old_failure"), []byte(`"payment.succeeded"`), []byte(`"payment.failed"`), 1)
		if status, resp := post(failed, payment.Sign(s.secret, failed, time.Now())); status != 200 {
			t.Fatalf("late failure webhook: %d %s", status, resp)
		}
		s.runJobs()
		if got := s.order(o.Number, o.Token); got.Status != "paid" || got.Payment.Status != "succeeded" {
			t.Errorf("after a late failure event: %s / %s", got.Status, got.Payment.Status)
		}
		var charges, events int
		d.Read.QueryRow("SELECT count(*) FROM payments WHERE kind = 'charge'").Scan(&charges)
		d.Read.QueryRow("SELECT count(*) FROM order_events WHERE kind = 'paid'").Scan(&events)
		if charges != 1 || events != 1 {
			t.Errorf("%d charges and %d paid events, want 1 and 1", charges, events)
		}
	})
}

// testCards are the card numbers the tests type, as digits and as typed.
var testCards = []string{"4242424242424242", "4000000000000002", "4242 4242 4242 4242", "4000 0000 0000 0002"}

// assertNoCardNumbers looks through every stored byte for a card number:
// the SQLite file and its WAL, or every row of every table on PostgreSQL.
func assertNoCardNumbers(t *testing.T, d *db.DB) {
	t.Helper()
	var text []byte
	if d.Dialect == db.SQLite {
		d.Write.Exec("PRAGMA wal_checkpoint(PASSIVE)")
		for _, suffix := range []string{"", "-wal"} {
			b, _ := os.ReadFile(filepath.Clean(d.Target) + suffix)
			text = append(text, b...)
		}
		if len(text) == 0 {
			t.Fatal("read nothing of the database file")
		}
	} else {
		rows, err := d.Read.Query("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
		if err != nil {
			t.Fatal(err)
		}
		var tables []string
		for rows.Next() {
			var n string
			rows.Scan(&n)
			tables = append(tables, n)
		}
		rows.Close()
		for _, tbl := range tables {
			r, err := d.Read.Query(`SELECT t::text FROM "` + tbl + `" t`)
			if err != nil {
				t.Fatal(err)
			}
			for r.Next() {
				var s string
				r.Scan(&s)
				text = append(text, s...)
			}
			r.Close()
		}
	}
	for _, c := range testCards {
		if bytes.Contains(text, []byte(c)) {
			t.Errorf("a card number is stored: %s", c)
		}
	}
}

// TestCouponGuessingIsLimited: a cart that keeps trying coupon codes that
// do not exist is stopped with 429 and Retry-After, and the code it finds
// after that does not help it.
func TestCouponGuessingIsLimited(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		id, token := s.cartWith("MCAB-C1M", 1)
		guess := func(code string) (int, string, http.Header) {
			body := strings.Replace(checkoutJSON, `"shipping_method":"standard"`, `"shipping_method":"standard","coupon_code":"`+code+`"`, 1)
			return s.do("POST", "/api/v1/carts/"+id+"/checkout", body, "X-Cart-Token", token)
		}
		for i := range ratelimit.CouponGuessPerCart.Limit {
			if st, b, _ := guess(fmt.Sprintf("GUESS%02d", i)); st != 422 {
				t.Fatalf("guess %d: %d %s", i, st, b)
			}
		}
		d.Write.Exec(`INSERT INTO coupons (code, kind, percent, starts_at, created_at) VALUES ('REAL10', 'percent', 10, $1, $1)`, db.Now().Add(-time.Hour))
		st, b, h := guess("REAL10")
		if st != 429 || !strings.Contains(b, "rate_limited") || h.Get("Retry-After") == "" {
			t.Errorf("after %d wrong codes: %d %s Retry-After %q", ratelimit.CouponGuessPerCart.Limit, st, b, h.Get("Retry-After"))
		}
		var orders int
		d.Read.QueryRow("SELECT count(*) FROM orders").Scan(&orders)
		if orders != 0 {
			t.Errorf("%d orders placed by a limited cart", orders)
		}
		// Without a coupon the cart can still check out.
		if st, b, _ := s.do("POST", "/api/v1/carts/"+id+"/checkout", checkoutJSON, "X-Cart-Token", token); st != 201 {
			t.Errorf("checkout without a coupon: %d %s", st, b)
		}
	})
}

// TestCardTestingIsLimited: an order's payment page refuses more cards
// once too many were declined, even the good one, with 429.
func TestCardTestingIsLimited(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		id, token := s.cartWith("MCAB-C1M", 1)
		o := s.checkout(id, token)
		for i := range ratelimit.PaymentFailuresPerOrder.Limit {
			if st, _ := s.pay(o.Payment.RedirectURL, "4000 0000 0000 0002"); st != 402 {
				t.Fatalf("declined card %d: %d", i, st)
			}
		}
		st, page := s.pay(o.Payment.RedirectURL, "4242 4242 4242 4242")
		if st != 429 || !strings.Contains(page, "Too many declined cards") {
			t.Errorf("card after %d declines: %d", ratelimit.PaymentFailuresPerOrder.Limit, st)
		}
		if got := s.order(o.Number, o.Token); got.Status != "pending_payment" {
			t.Errorf("order %s after a refused card", got.Status)
		}
	})
}

// TestSignedInOwnerSeesOrders: a customer whose verified email placed an
// order sees it without the order's token, in the API and in the
// history; another customer, or an unverified one, gets 404.
func TestSignedInOwnerSeesOrders(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		id, token := s.cartWith("MCAB-C1M", 1)
		o := s.checkout(id, token) // as ada@example.com
		signIn := func(email string, verified bool) string {
			t.Helper()
			if st, b, _ := s.do("POST", "/api/v1/customers", `{"email":"`+email+`","password":"correct horse battery","name":"N"}`); st != 201 {
				t.Fatalf("register %s: %d %s", email, st, b)
			}
			if verified {
				d.Write.Exec("UPDATE customers SET email_verified_at = $2 WHERE email = $1", email, db.Now())
			}
			_, b, _ := s.do("POST", "/api/v1/sessions", `{"email":"`+email+`","password":"correct horse battery"}`)
			var out struct{ Token string }
			json.Unmarshal([]byte(b), &out)
			return out.Token
		}
		ada := signIn("ada@example.com", true)
		if st, b, _ := s.do("GET", "/api/v1/orders/"+o.Number, "", "Authorization", "Bearer "+ada); st != 200 || !strings.Contains(b, o.Number) {
			t.Errorf("owner without the order token: %d %s", st, b)
		}
		if _, b, _ := s.do("GET", "/api/v1/me/orders", "", "Authorization", "Bearer "+ada); !strings.Contains(b, o.Number) {
			t.Errorf("order history %s lacks %s", b, o.Number)
		}
		bob := signIn("bob@example.com", true)
		if st, _, _ := s.do("GET", "/api/v1/orders/"+o.Number, "", "Authorization", "Bearer "+bob); st != 404 {
			t.Errorf("another customer's order: %d, want 404", st)
		}
		if st, _, _ := s.do("POST", "/api/v1/orders/"+o.Number+"/cancel", "", "Authorization", "Bearer "+bob); st != 404 {
			t.Errorf("another customer cancels the order: %d, want 404", st)
		}
		d.Write.Exec("UPDATE customers SET email_verified_at = NULL WHERE email = 'ada@example.com'")
		if st, _, _ := s.do("GET", "/api/v1/orders/"+o.Number, "", "Authorization", "Bearer "+ada); st != 404 {
			t.Errorf("unverified email sees the order: %d, want 404", st)
		}
		if got := s.order(o.Number, o.Token); got.Status != "pending_payment" {
			t.Errorf("order %s", got.Status)
		}
		// The owner may cancel, as the token's holder may.
		d.Write.Exec("UPDATE customers SET email_verified_at = $1 WHERE email = 'ada@example.com'", db.Now())
		if st, b, _ := s.do("POST", "/api/v1/orders/"+o.Number+"/cancel", "", "Authorization", "Bearer "+ada); st != 200 || !strings.Contains(b, "cancelled") {
			t.Errorf("owner cancels: %d %s", st, b)
		}
	})
}

// TestAddressBookAtCheckout: a signed-in shopper saves the address at
// checkout, finds it offered next time and in the account, and removes
// it; another customer cannot remove it.
func TestAddressBookAtCheckout(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		session := func(email string) string {
			t.Helper()
			s.do("POST", "/api/v1/customers", `{"email":"`+email+`","password":"correct horse battery","name":"N"}`)
			_, b, _ := s.do("POST", "/api/v1/sessions", `{"email":"`+email+`","password":"correct horse battery"}`)
			var out struct{ Token string }
			json.Unmarshal([]byte(b), &out)
			return "mistore_session=" + out.Token
		}
		ada := session("ada@example.com")
		id, token := s.cartWith("MCAB-C1M", 1)
		cart := "mistore_cart_us=" + id + "." + token
		form := url.Values{"email": {"ada@example.com"}, "name": {"Ada <b>Lovelace</b>"}, "line1": {"1 Main St"}, "city": {"Newark"},
			"region": {"NJ"}, "postal_code": {"07102"}, "shipping_method": {"standard"}, "action": {"place"}, "save_address": {"1"}}
		st, _, _ := s.do("POST", "/us/checkout", form.Encode(), "Content-Type", "application/x-www-form-urlencoded", "Origin", s.url, "Cookie", ada+"; "+cart)
		if st != http.StatusSeeOther {
			t.Fatalf("place with save: %d", st)
		}
		var addrID int64
		d.Read.QueryRow("SELECT id FROM customer_addresses").Scan(&addrID)
		if addrID == 0 {
			t.Fatal("the address was not saved")
		}
		// Next checkout: offered, and filled in when picked.
		id2, token2 := s.cartWith("MCAB-C1M", 1)
		cart2 := "mistore_cart_us=" + id2 + "." + token2
		_, page, _ := s.do("GET", "/us/checkout", "", "Cookie", ada+"; "+cart2)
		pick := fmt.Sprintf("/us/checkout?address=%d", addrID)
		if !strings.Contains(page, pick) || strings.Contains(page, "<b>Lovelace") {
			t.Errorf("checkout does not offer the saved address (escaped):\n%s", page)
		}
		_, page, _ = s.do("GET", pick, "", "Cookie", ada+"; "+cart2)
		if !strings.Contains(page, `value="1 Main St"`) || !strings.Contains(page, `value="ada@example.com"`) {
			t.Errorf("picking the address did not fill the form")
		}
		// Bob cannot remove Ada's address, or fill his form with it.
		bob := session("bob@example.com")
		if st, _, _ := s.do("POST", fmt.Sprintf("/us/account/addresses/%d/delete", addrID), "", "Origin", s.url, "Cookie", bob); st != 404 {
			t.Errorf("another customer removes the address: %d", st)
		}
		if _, page, _ := s.do("GET", pick, "", "Cookie", bob+"; "+cart2); strings.Contains(page, "1 Main St") {
			t.Error("another customer's checkout is filled with the address")
		}
		if st, _, _ := s.do("POST", fmt.Sprintf("/us/account/addresses/%d/delete", addrID), "", "Origin", s.url, "Cookie", ada); st != http.StatusSeeOther {
			t.Errorf("remove own address: %d", st)
		}
		var left int
		d.Read.QueryRow("SELECT count(*) FROM customer_addresses").Scan(&left)
		if left != 0 {
			t.Errorf("%d addresses left", left)
		}
	})
}

// TestOrderGETChangesNothing: looking at an order never changes it, even
// when its provider already took the money; the POST that settles the
// payment applies it (once, however often it is sent).
func TestOrderGETChangesNothing(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		id, token := s.cartWith("MCAB-C1M", 1)
		o := s.checkout(id, token)
		// The shopper pays, but the provider cannot reach the store.
		cut := payment.NewTestProvider(d, s.secret, "http://127.0.0.1:1", nil)
		sessionID := o.Payment.RedirectURL[strings.LastIndex(o.Payment.RedirectURL, "/")+1:]
		if _, err := cut.Pay(context.Background(), sessionID, payment.Card{Number: "4242424242424242", Expiry: "12/30", CVC: "123"}); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if got := s.order(o.Number, o.Token); got.Status != "pending_payment" {
				t.Fatalf("a GET changed the order to %s", got.Status)
			}
			if st, _, _ := s.do("GET", "/us/orders/"+o.Number+"?token="+url.QueryEscape(o.Token), ""); st != 200 {
				t.Fatalf("order page: %d", st)
			}
		}
		for range 2 {
			st, b, _ := s.do("POST", "/api/v1/orders/"+o.Number+"/payment", "", "X-Order-Token", o.Token)
			if st != 200 || !strings.Contains(b, `"status":"paid"`) {
				t.Errorf("settle the payment: %d %s", st, b)
			}
		}
		var charges int
		d.Read.QueryRow("SELECT count(*) FROM payments WHERE kind = 'charge'").Scan(&charges)
		if charges != 1 {
			t.Errorf("%d charges recorded, want 1", charges)
		}
		if st, _, _ := s.do("POST", "/api/v1/orders/"+o.Number+"/payment", "", "X-Order-Token", "forged"); st != 404 {
			t.Errorf("settle with a forged token: %d", st)
		}
	})
}

// TestStoredHTMLIsText: HTML typed into a name or an address comes back
// on the order page and in the confirmation email as text.
func TestStoredHTMLIsText(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		id, token := s.cartWith("MCAB-C1M", 1)
		body := strings.NewReplacer(`"name":"Ada Lovelace"`, `"name":"<script>alert(1)</script>Ada"`,
			`"line1":"1 Main St"`, `"line1":"<img src=x onerror=alert(2)>1 Main St"`).Replace(checkoutJSON)
		st, b, _ := s.do("POST", "/api/v1/carts/"+id+"/checkout", body, "X-Cart-Token", token)
		if st != 201 {
			t.Fatalf("checkout: %d %s", st, b)
		}
		var o orderResp
		json.Unmarshal([]byte(b), &o)
		_, page, _ := s.do("GET", "/us/orders/"+o.Number+"?token="+url.QueryEscape(o.Token), "")
		if strings.Contains(page, "<script>alert(1)") || strings.Contains(page, "<img src=x") ||
			!strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;Ada") {
			t.Errorf("the order page renders stored HTML:\n%s", page)
		}
	})
}

// TestAPISignInMergesGuestCart: an API client that signs in with its
// guest cart gets the customer's cart with both carts' lines.
func TestAPISignInMergesGuestCart(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		s.do("POST", "/api/v1/customers", `{"email":"api@example.com","password":"correct horse battery","name":"API"}`)
		first, firstToken := s.cartWith("MCAB-C1M", 1)
		_, b, _ := s.do("POST", "/api/v1/sessions", `{"email":"api@example.com","password":"correct horse battery","cart_id":"`+first+`"}`, "X-Cart-Token", firstToken)
		var out struct {
			Cart struct{ ID, Token string }
		}
		json.Unmarshal([]byte(b), &out)
		if out.Cart.ID != first {
			t.Fatalf("first sign-in: cart %q, want the guest cart %q (%s)", out.Cart.ID, first, b)
		}
		second, secondToken := s.cartWith("MCAB-C2M", 2)
		_, b, _ = s.do("POST", "/api/v1/sessions", `{"email":"api@example.com","password":"correct horse battery","cart_id":"`+second+`"}`, "X-Cart-Token", secondToken)
		json.Unmarshal([]byte(b), &out)
		if out.Cart.ID != first {
			t.Fatalf("second sign-in: cart %q, want the customer's cart %q", out.Cart.ID, first)
		}
		_, cartBody, _ := s.do("GET", "/api/v1/carts/"+out.Cart.ID, "", "X-Cart-Token", out.Cart.Token)
		if !strings.Contains(cartBody, "MCAB-C1M") || !strings.Contains(cartBody, "MCAB-C2M") {
			t.Errorf("merged cart: %s", cartBody)
		}
		// Someone else's cart id with a wrong token is left alone.
		third, _ := s.cartWith("MCAB-C1M", 3)
		_, b, _ = s.do("POST", "/api/v1/sessions", `{"email":"api@example.com","password":"correct horse battery","cart_id":"`+third+`"}`, "X-Cart-Token", "wrong")
		if strings.Contains(b, third) {
			t.Errorf("a cart adopted with a wrong token: %s", b)
		}
	})
}

// TestOrderPageNamesLinesInItsLanguage: the order page of the cn store
// names the lines in Chinese, from the catalog's texts, while the order
// and its API keep the English names it was placed with; the us page
// stays English.
func TestOrderPageNamesLinesInItsLanguage(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		id, tok := s.cartWith("MB8-BLK", 1)
		o := s.checkout(id, tok)
		page := func(market string) string {
			t.Helper()
			status, body, _ := s.do("GET", "/"+market+"/orders/"+o.Number+"?token="+url.QueryEscape(o.Token), "")
			if status != 200 {
				t.Fatalf("%s order page: %d", market, status)
			}
			return body
		}
		if us := page("us"); !strings.Contains(us, "Mistore Band 8") || strings.Contains(us, "手环") {
			t.Errorf("us order page does not name the band in English")
		}
		// The test's carts are American: the order moves to cn, as in
		// the order package's email test, with a cn shipping method
		// (the us one's name has no Chinese, which the other tests of
		// this package, sharing the catalog, would count as missing).
		if _, err := d.Write.Exec("UPDATE orders SET market = 'cn', shipping_method = 'standard', shipping_name = '标准配送 Standard' WHERE number = $1", o.Number); err != nil {
			t.Fatal(err)
		}
		cn := page("cn")
		if !strings.Contains(cn, "Mistore 手环 8") || !strings.Contains(cn, "黑色") || strings.Contains(cn, "Mistore Band 8") {
			t.Errorf("cn order page does not name the band in Chinese")
		}
		if status, body, _ := s.do("GET", "/api/v1/orders/"+o.Number, "", "X-Order-Token", o.Token); status != 200 || !strings.Contains(body, `"name":"Mistore Band 8"`) {
			t.Errorf("API order: %d %s, want the English name", status, body)
		}
	})
}

// TestCheckoutPageMarksEveryField: a checkout form with several fields
// wrong marks each of them at once, the first in the form's order named
// at the top, what was typed kept, and nothing placed.
func TestCheckoutPageMarksEveryField(t *testing.T) {
	t.Parallel()
	s := newShop(t, dbtest.Open(t, db.SQLite))
	id, token := s.cartWith("MCAB-C1M", 1)
	form := url.Values{"email": {"bad"}, "name": {""}, "line1": {""}, "city": {"Newark"}, "region": {""}, "postal_code": {"1"},
		"shipping_method": {"standard"}, "action": {"place"}}
	st, body, _ := s.do("POST", "/us/checkout", form.Encode(), "Content-Type", "application/x-www-form-urlencoded", "Origin", s.url,
		"Cookie", "mistore_cart_us="+id+"."+token)
	if st != http.StatusUnprocessableEntity {
		t.Fatalf("checkout with five fields wrong: %d", st)
	}
	for _, f := range []string{"email", "name", "line1", "region", "postal_code"} {
		if !strings.Contains(body, `id="`+f+`-error"`) {
			t.Errorf("the %s field is not marked", f)
		}
	}
	if strings.Contains(body, `id="city-error"`) || !strings.Contains(body, `value="Newark"`) {
		t.Error("the city, right, is marked, or what was typed is lost")
	}
	if !strings.Contains(body, "5 fields need changing") || !strings.Contains(body, `href="#email"`) {
		t.Errorf("the message at the top: %s", between(body, `id="co-message"`, "</div>"))
	}
	if n := s.count("SELECT count(*) FROM orders"); n != 0 {
		t.Errorf("%d orders placed", n)
	}
}

// TestCheckoutPageNamesWhatRanShort: a checkout refused for stock names
// the product as the shop does, not its SKU, in the page's language.
func TestCheckoutPageNamesWhatRanShort(t *testing.T) {
	t.Parallel()
	d := dbtest.Open(t, db.SQLite)
	s := newShop(t, d)
	id, token := s.cartWith("MB8-BLK", 3)
	if _, err := d.Write.Exec("UPDATE stock SET on_hand = 1, reserved = 0 WHERE sku = 'MB8-BLK'"); err != nil {
		t.Fatal(err)
	}
	form := url.Values{"email": {"ada@example.com"}, "name": {"Ada"}, "line1": {"1 Main St"}, "city": {"Newark"}, "region": {"NJ"},
		"postal_code": {"07102"}, "shipping_method": {"standard"}, "action": {"place"}}
	st, body, _ := s.do("POST", "/us/checkout", form.Encode(), "Content-Type", "application/x-www-form-urlencoded", "Origin", s.url,
		"Cookie", "mistore_cart_us="+id+"."+token)
	msg := between(body, `id="co-message"`, "</div>")
	if st != http.StatusConflict || !strings.Contains(msg, "Mistore Band 8 (Black)") || strings.Contains(msg, "MB8-BLK") {
		t.Errorf("checkout short of stock: %d %q", st, msg)
	}
}
