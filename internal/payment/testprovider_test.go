package payment_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/jobs"
	"mistore/internal/money"
	"mistore/internal/payment"
)

func newTestProvider(t *testing.T, d *db.DB) *payment.TestProvider {
	t.Helper()
	return payment.NewTestProvider(d, []byte("0123456789abcdef0123456789abcdef"), "http://127.0.0.1:1", nil)
}

func session(t *testing.T, p *payment.TestProvider, key string, expires time.Time) payment.Session {
	t.Helper()
	s, err := p.CreateSession(context.Background(), payment.SessionRequest{
		Reference: "US-100001", Amount: money.New(8528, "USD"), ReturnURL: "http://store/us/orders/US-100001",
		ExpiresAt: expires, IdempotencyKey: key,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var good = payment.Card{Number: "4242 4242 4242 4242", Expiry: "12/30", CVC: "123"}

// TestRetriesChargeOnce: a caller that timed out and retries with the same
// idempotency key gets the same session and the same refund, never a
// second one.
func TestRetriesChargeOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		p := newTestProvider(t, d)
		a := session(t, p, "order:US-100001:session", time.Now().Add(time.Hour))
		b := session(t, p, "order:US-100001:session", time.Now().Add(time.Hour))
		if a.ID != b.ID || a.URL == "" {
			t.Fatalf("retried create: %s then %s", a.ID, b.ID)
		}
		paid, err := p.Pay(ctx, a.ID, good)
		if err != nil || paid.Status != payment.SessionSucceeded || paid.ChargeID == "" {
			t.Fatalf("pay: %+v %v", paid, err)
		}
		if _, err := p.Pay(ctx, a.ID, good); !errors.Is(err, payment.ErrSessionClosed) {
			t.Errorf("paying a paid session again: %v", err)
		}
		req := payment.RefundRequest{SessionID: a.ID, ChargeID: paid.ChargeID, Amount: money.New(8528, "USD"), IdempotencyKey: "refund:1"}
		r1, err := p.Refund(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := p.Refund(ctx, req)
		if err != nil || r1.ID != r2.ID {
			t.Fatalf("retried refund: %v %v %v", r1, r2, err)
		}
		req.IdempotencyKey = "refund:2"
		if _, err := p.Refund(ctx, req); err == nil {
			t.Error("a second refund beyond the charge succeeded")
		}
		var refunded int64
		d.Read.QueryRow("SELECT refunded FROM test_provider_sessions WHERE id = $1", a.ID).Scan(&refunded)
		if refunded != 8528 {
			t.Errorf("refunded %d, want 8528", refunded)
		}
	})
}

func TestPayChecksCardsAndSessions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		p := newTestProvider(t, d)
		s := session(t, p, "k1", time.Now().Add(time.Hour))
		for _, c := range []payment.Card{
			{Number: "4242 4242 4242 4241", Expiry: "12/30", CVC: "123"}, // Luhn fails
			{Number: "4242", Expiry: "12/30", CVC: "123"},
			{Number: "4242424242424242", Expiry: "13/30", CVC: "123"},
			{Number: "4242424242424242", Expiry: "01/20", CVC: "123"}, // expired
			{Number: "4242424242424242", Expiry: "12/30", CVC: "12"},
			{Number: "4242424242424242", Expiry: "12-30", CVC: "123"},
		} {
			if _, err := p.Pay(ctx, s.ID, c); !errors.Is(err, payment.ErrInvalidCard) {
				t.Errorf("card %+v: %v", c, err)
			}
		}
		if _, err := p.Pay(ctx, s.ID, payment.Card{Number: "4000000000000002", Expiry: "12/30", CVC: "123"}); !errors.Is(err, payment.ErrDeclined) {
			t.Errorf("declined card: %v", err)
		}
		// Another Luhn-valid number is declined too: only 4242... pays.
		if _, err := p.Pay(ctx, s.ID, payment.Card{Number: "5555555555554444", Expiry: "12/30", CVC: "123"}); !errors.Is(err, payment.ErrDeclined) {
			t.Errorf("other card: %v", err)
		}
		var webhooks int
		d.Read.QueryRow("SELECT count(*) FROM jobs WHERE kind = 'testprovider.webhook'").Scan(&webhooks)
		if webhooks != 2 {
			t.Errorf("%d webhooks queued for the two declines, want 2", webhooks)
		}
		expired := session(t, p, "k2", time.Now().Add(-time.Second))
		if _, err := p.Pay(ctx, expired.ID, good); !errors.Is(err, payment.ErrSessionClosed) {
			t.Errorf("expired session: %v", err)
		}
		if got, _ := p.GetSession(ctx, expired.ID); got.Status != payment.SessionExpired {
			t.Errorf("expired session status %s", got.Status)
		}
		if _, err := p.Pay(ctx, "ts_nope", good); !errors.Is(err, payment.ErrUnknownSession) {
			t.Errorf("unknown session: %v", err)
		}
	})
}

// TestWebhookDeliveryRetries: the provider redelivers until the store
// answers 2xx, as real providers do.
func TestWebhookDeliveryRetries(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	ctx := context.Background()
	p := newTestProvider(t, d)
	s := session(t, p, "k", time.Now().Add(time.Hour))
	if _, err := p.Pay(ctx, s.ID, good); err != nil {
		t.Fatal(err)
	}
	r := jobs.NewRunner(d, nil)
	p.Register(r)
	r.RunDue(ctx) // the store at 127.0.0.1:1 is not there
	var state string
	var attempts int
	d.Read.QueryRow("SELECT state, attempts FROM jobs WHERE kind = 'testprovider.webhook'").Scan(&state, &attempts)
	if state != "pending" || attempts != 1 {
		t.Errorf("after a failed delivery: %s after %d attempts, want pending for a retry", state, attempts)
	}
}

// TestWebhooksReuseConnections: webhooks to the store go over one kept-alive
// connection, not a new one each (under load, a dial per payment).
func TestWebhooksReuseConnections(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	ctx := context.Background()
	var mu sync.Mutex
	conns, hooks := 0, 0
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hooks++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"received":true}`) // the store answers with a body
	}))
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	p := payment.NewTestProvider(d, []byte("0123456789abcdef0123456789abcdef"), ts.URL, nil)
	r := jobs.NewRunner(d, nil)
	p.Register(r)
	const payments = 5
	for i := range payments {
		s := session(t, p, "k"+strconv.Itoa(i), time.Now().Add(time.Hour))
		if _, err := p.Pay(ctx, s.ID, good); err != nil {
			t.Fatal(err)
		}
		r.RunDue(ctx)
	}
	mu.Lock()
	defer mu.Unlock()
	if hooks < payments || conns != 1 {
		t.Errorf("%d webhooks over %d connections; want at least %d over one", hooks, conns, payments)
	}
}

func TestSignAndParse(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	p := payment.NewTestProvider(nil, key, "http://x", nil)
	body := []byte(`{"id":"evt_1","type":"payment.succeeded","created":1,"data":{"session_id":"ts_1","charge_id":"ch_1","reference":"US-1","amount":{"amount":100,"currency":"USD"}}}`)
	now := time.Now()
	h := http.Header{}
	h.Set(payment.SignatureHeader, payment.Sign(key, body, now))
	ev, err := p.ParseWebhook(body, h, now)
	if err != nil || ev.ID != "evt_1" || ev.Amount.Amount != 100 || ev.Type != payment.EventPaymentSucceeded {
		t.Fatalf("parse: %+v %v", ev, err)
	}
	if _, err := p.ParseWebhook(body, h, now.Add(6*time.Minute)); !errors.Is(err, payment.ErrStaleWebhook) {
		t.Errorf("replayed late: %v", err)
	}
	// A replayer who moves the timestamp breaks the signature: the time
	// is signed.
	h.Set(payment.SignatureHeader, "t="+itoa(now.Unix()+300)+","+payment.Sign(key, body, now)[len("t=")+len(itoa(now.Unix()))+1:])
	if _, err := p.ParseWebhook(body, h, now.Add(5*time.Minute)); !errors.Is(err, payment.ErrInvalidSignature) {
		t.Errorf("freshened timestamp: %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// FuzzParseWebhook feeds arbitrary bodies and headers to the verifier: it
// never panics and never accepts what it did not sign.
func FuzzParseWebhook(f *testing.F) {
	key := []byte("0123456789abcdef0123456789abcdef")
	f.Add([]byte(`{"id":"e"}`), "t=1,v1=00")
	f.Add([]byte{}, "")
	f.Fuzz(func(t *testing.T, body []byte, sig string) {
		p := payment.NewTestProvider(nil, key, "http://x", nil)
		h := http.Header{}
		h.Set(payment.SignatureHeader, sig)
		if _, err := p.ParseWebhook(body, h, time.Unix(1, 0)); err == nil {
			t.Fatalf("accepted an unsigned webhook: %q %q", body, sig)
		}
	})
}
