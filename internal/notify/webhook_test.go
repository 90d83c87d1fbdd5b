package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mistore/internal/audit"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/jobs"
	"mistore/internal/notify"
	"mistore/internal/payment"
)

// receiver is an httptest endpoint that records what it is sent and
// answers from a script of statuses (200 once the script runs out).
type receiver struct {
	mu     sync.Mutex
	srv    *httptest.Server
	script []int
	got    []hookRequest
}

type hookRequest struct {
	body []byte
	sig  string
}

func newReceiver(t *testing.T, script ...int) *receiver {
	r := &receiver{script: script}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, hookRequest{b, req.Header.Get(notify.WebhookSignatureHeader)})
		status := 200
		if len(r.script) > 0 {
			status, r.script = r.script[0], r.script[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []hookRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hookRequest(nil), r.got...)
}

func staffCtx() context.Context {
	return audit.WithActor(context.Background(), audit.Actor{Kind: audit.KindCLI, Name: "tester"})
}

type hookEnv struct {
	d      *db.DB
	wh     *notify.Webhooks
	runner *jobs.Runner
}

func newHookEnv(d *db.DB) *hookEnv {
	wh := notify.NewWebhooks(d, nil)
	r := jobs.NewRunner(d, nil)
	wh.Register(r)
	return &hookEnv{d: d, wh: wh, runner: r}
}

func (e *hookEnv) emit(t *testing.T, event string, data any) {
	t.Helper()
	if err := e.d.Tx(context.Background(), func(tx db.Querier) error {
		return notify.EmitEvent(context.Background(), tx, event, data)
	}); err != nil {
		t.Fatal(err)
	}
}

func (e *hookEnv) run(t *testing.T) {
	t.Helper()
	if _, err := e.runner.RunDue(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (e *hookEnv) onlyDelivery(t *testing.T, endpoint int64) notify.Delivery {
	t.Helper()
	dls, err := notify.Deliveries(context.Background(), e.d.Reader(), endpoint, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 1 {
		t.Fatalf("%d deliveries, want 1: %+v", len(dls), dls)
	}
	return dls[0]
}

func createEndpoint(t *testing.T, d *db.DB, url string, events ...string) (notify.Endpoint, string) {
	t.Helper()
	ep, secret, err := notify.CreateEndpoint(staffCtx(), d, url, events)
	if err != nil {
		t.Fatal(err)
	}
	return ep, secret
}

func TestWebhookSignedDelivery(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newHookEnv(d)
		rcv := newReceiver(t)
		ep, secret := createEndpoint(t, d, rcv.srv.URL+"/hooks", notify.EventOrderPaid, notify.EventOrderPlaced)
		other := newReceiver(t)
		createEndpoint(t, d, other.srv.URL, notify.EventOrderRefunded)

		e.emit(t, notify.EventOrderPaid, map[string]string{"number": "US-100001"})
		e.run(t)

		got := rcv.requests()
		if len(got) != 1 {
			t.Fatalf("%d requests, want 1", len(got))
		}
		if !notify.VerifyWebhook(secret, got[0].body, got[0].sig, time.Now(), 5*time.Minute) {
			t.Errorf("signature %q does not verify", got[0].sig)
		}
		if notify.VerifyWebhook(secret+"x", got[0].body, got[0].sig, time.Now(), 5*time.Minute) {
			t.Error("signature verifies under another secret")
		}
		// Exactly the payment webhooks' scheme: HMAC of "t.body".
		ts := strings.TrimPrefix(strings.Split(got[0].sig, ",")[0], "t=")
		unix, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			t.Fatalf("signature %q: %v", got[0].sig, err)
		}
		if want := payment.Sign([]byte(secret), got[0].body, time.Unix(unix, 0)); want != got[0].sig {
			t.Errorf("signature %q, payment.Sign gives %q", got[0].sig, want)
		}
		var body notify.WebhookBody
		if err := json.Unmarshal(got[0].body, &body); err != nil {
			t.Fatal(err)
		}
		if body.Event != notify.EventOrderPaid || !strings.HasPrefix(body.ID, "evt_") || body.CreatedAt.IsZero() || string(body.Data) != `{"number":"US-100001"}` {
			t.Errorf("body %s", got[0].body)
		}
		if n := len(other.requests()); n != 0 {
			t.Errorf("an endpoint not subscribed to order.paid got %d requests", n)
		}
		dl := e.onlyDelivery(t, ep.ID)
		if dl.State != "delivered" || dl.Attempts != 1 || dl.LastStatus != 200 || dl.DeliveredAt == nil || dl.EventID != body.ID {
			t.Errorf("delivery %+v", dl)
		}
	})
}

func TestWebhookRetriedThenDelivered(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newHookEnv(d)
		var waits []int
		e.wh.Backoff = func(attempt int) time.Duration { waits = append(waits, attempt); return 0 }
		rcv := newReceiver(t, 500)
		ep, secret := createEndpoint(t, d, rcv.srv.URL, notify.EventOrderPlaced)
		e.emit(t, notify.EventOrderPlaced, map[string]int{"n": 1})
		e.run(t)
		got := rcv.requests()
		if len(got) != 2 {
			t.Fatalf("%d requests, want 2 (a 500, then a 200)", len(got))
		}
		if string(got[0].body) != string(got[1].body) {
			t.Error("the retry's body differs from the first attempt's")
		}
		for _, g := range got {
			if !notify.VerifyWebhook(secret, g.body, g.sig, time.Now(), time.Minute) {
				t.Error("an attempt is not signed")
			}
		}
		dl := e.onlyDelivery(t, ep.ID)
		if dl.State != "delivered" || dl.Attempts != 2 || dl.LastStatus != 200 || dl.LastError != "" {
			t.Errorf("delivery %+v", dl)
		}
		if len(waits) != 1 || waits[0] != 1 {
			t.Errorf("backoff asked for %v, want [1]", waits)
		}
	})
}

func TestWebhookFailsAfterRetryWindow(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newHookEnv(d)
		rcv := newReceiver(t, 503, 503)
		ep, _ := createEndpoint(t, d, rcv.srv.URL, notify.EventOrderPlaced)
		// The first retry would come after the window closes.
		e.wh.Backoff = func(int) time.Duration { return notify.RetryWindow + time.Hour }
		e.emit(t, notify.EventOrderPlaced, 1)
		e.run(t)
		dl := e.onlyDelivery(t, ep.ID)
		if dl.State != "failed" || dl.Attempts != 1 || dl.LastStatus != 503 || !strings.Contains(dl.LastError, "503") || dl.NextAttemptAt != nil {
			t.Errorf("delivery %+v", dl)
		}
		// Within the window, a failure waits for its next attempt.
		e.wh.Backoff = func(int) time.Duration { return time.Hour }
		e.emit(t, notify.EventOrderPlaced, 2)
		e.run(t)
		dls, _ := notify.Deliveries(context.Background(), d.Reader(), ep.ID, 0)
		if dls[0].State != "pending" || dls[0].NextAttemptAt == nil || dls[0].NextAttemptAt.Before(time.Now().Add(50*time.Minute)) {
			t.Errorf("a retried delivery: %+v", dls[0])
		}
	})
}

func TestWebhookResendAndRerun(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		e := newHookEnv(d)
		rcv := newReceiver(t)
		ep, _ := createEndpoint(t, d, rcv.srv.URL, notify.EventOrderPlaced)
		e.emit(t, notify.EventOrderPlaced, 1)
		e.run(t)
		dl := e.onlyDelivery(t, ep.ID)

		// A crash after the attempt was recorded: the same job runs again.
		// It must not deliver a delivered delivery a second time.
		payload, _ := json.Marshal(map[string]any{"delivery_id": dl.ID, "generation": 1, "attempt": 1})
		for range 3 {
			if err := e.wh.HandleDeliver(ctx, jobs.Job{ID: 1, Kind: notify.JobWebhook, Payload: payload, Attempts: 2}); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(rcv.requests()); n != 1 {
			t.Fatalf("a re-run job delivered again: %d requests", n)
		}

		resent, err := notify.Resend(staffCtx(), d, dl.ID)
		if err != nil {
			t.Fatal(err)
		}
		if resent.State != "pending" {
			t.Errorf("resent delivery %+v", resent)
		}
		e.run(t)
		got := rcv.requests()
		if len(got) != 2 || string(got[0].body) != string(got[1].body) {
			t.Fatalf("after a resend: %d requests", len(got))
		}
		dl = e.onlyDelivery(t, ep.ID)
		if dl.State != "delivered" || dl.Attempts != 2 {
			t.Errorf("after a resend: %+v", dl)
		}
		// The job of the first generation, run late, is superseded.
		if err := e.wh.HandleDeliver(ctx, jobs.Job{Kind: notify.JobWebhook, Payload: payload}); err != nil {
			t.Fatal(err)
		}
		if n := len(rcv.requests()); n != 2 {
			t.Errorf("a superseded job delivered: %d requests", n)
		}
		if _, err := notify.Resend(staffCtx(), d, 999999); !errors.Is(err, notify.ErrDeliveryNotFound) {
			t.Errorf("resend of nothing: %v", err)
		}
		var n int
		d.Reader().QueryRowContext(ctx, "SELECT count(*) FROM audit_log WHERE action = 'webhook.resend'").Scan(&n)
		if n != 1 {
			t.Errorf("%d webhook.resend audit entries, want 1", n)
		}
	})
}

func TestWebhookConcurrentResends(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newHookEnv(d)
		rcv := newReceiver(t)
		ep, _ := createEndpoint(t, d, rcv.srv.URL, notify.EventOrderPlaced)
		e.emit(t, notify.EventOrderPlaced, 1)
		e.run(t)
		dl := e.onlyDelivery(t, ep.ID)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if _, err := notify.Resend(staffCtx(), d, dl.ID); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		e.run(t)
		// Every resend but the last is superseded before it runs: one
		// delivery of the latest generation.
		if n := len(rcv.requests()); n != 2 {
			t.Errorf("%d requests after 8 resends queued together, want 2", n)
		}
	})
}

func TestWebhookRedirectToOtherHostNotFollowed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newHookEnv(d)
		e.wh.Backoff = func(int) time.Duration { return time.Hour }
		elsewhere := newReceiver(t)
		bounce := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, elsewhere.srv.URL+"/steal", http.StatusTemporaryRedirect)
		}))
		t.Cleanup(bounce.Close)
		ep, _ := createEndpoint(t, d, bounce.URL, notify.EventOrderPaid)
		e.emit(t, notify.EventOrderPaid, 1)
		e.run(t)
		if n := len(elsewhere.requests()); n != 0 {
			t.Errorf("the redirect to another host was followed: %d requests", n)
		}
		if dl := e.onlyDelivery(t, ep.ID); dl.State != "pending" || dl.LastStatus != 307 {
			t.Errorf("delivery %+v", dl)
		}
	})
}

func TestWebhookEndpoints(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := staffCtx()
		for _, bad := range []string{"javascript:alert(1)", "ftp://example.com/x", "http://example.com/hook", "https://", "//example.com", "https://u:p@example.com/", "example.com",
			"https://169.254.169.254/latest/meta-data/", "https://[fe80::1]/h", "https://0.0.0.0/h", "https://[::ffff:169.254.169.254]/h",
			"https://[fd00:ec2::254]/h", "https://224.0.0.1/h"} {
			if _, _, err := notify.CreateEndpoint(ctx, d, bad, []string{notify.EventOrderPaid}); !errors.Is(err, notify.ErrWebhookURL) {
				t.Errorf("%q: %v", bad, err)
			}
		}
		for _, events := range [][]string{nil, {}, {"order.nope"}, {notify.EventOrderPaid, "x"}} {
			if _, _, err := notify.CreateEndpoint(ctx, d, "https://example.com/h", events); !errors.Is(err, notify.ErrWebhookEvents) {
				t.Errorf("%q: %v", events, err)
			}
		}
		if _, _, err := notify.CreateEndpoint(context.Background(), d, "https://example.com/h", []string{notify.EventOrderPaid}); !errors.Is(err, audit.ErrNoActor) {
			t.Errorf("an unattributed change: %v", err)
		}
		ep, secret, err := notify.CreateEndpoint(ctx, d, "http://127.0.0.1:9/h", []string{notify.EventOrderPaid, notify.EventOrderPlaced, notify.EventOrderPaid})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, "whsec_") || len(ep.Events) != 2 || ep.Events[0] != notify.EventOrderPlaced {
			t.Errorf("endpoint %+v secret %q", ep, secret)
		}
		list, err := notify.Endpoints(ctx, d.Reader())
		if err != nil || len(list) != 1 || list[0].URL != "http://127.0.0.1:9/h" {
			t.Fatalf("endpoints %+v %v", list, err)
		}
		// A pending delivery of a deleted endpoint fails at its attempt.
		e := newHookEnv(d)
		e.emit(t, notify.EventOrderPaid, 1)
		if err := notify.DeleteEndpoint(ctx, d, ep.ID); err != nil {
			t.Fatal(err)
		}
		if err := notify.DeleteEndpoint(ctx, d, ep.ID); !errors.Is(err, notify.ErrEndpointNotFound) {
			t.Errorf("second delete: %v", err)
		}
		e.run(t)
		if dl := e.onlyDelivery(t, ep.ID); dl.State != "failed" || dl.Attempts != 0 {
			t.Errorf("delivery to a deleted endpoint %+v", dl)
		}
		// And it gets no new events.
		e.emit(t, notify.EventOrderPaid, 2)
		if list, _ := notify.Endpoints(ctx, d.Reader()); len(list) != 0 {
			t.Errorf("deleted endpoint listed: %+v", list)
		}
		e.onlyDelivery(t, ep.ID)
		var n int
		d.Reader().QueryRowContext(ctx, "SELECT count(*) FROM audit_log WHERE action IN ('webhook.create', 'webhook.delete') AND after NOT LIKE '%whsec%'").Scan(&n)
		if n != 2 {
			t.Errorf("%d audit entries, want 2 (without the secret)", n)
		}
	})
}

func TestEmitEventWithoutEndpointsOrRolledBack(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		e := newHookEnv(d)
		e.emit(t, notify.EventOrderPlaced, 1) // no endpoint: nothing
		ep, _ := createEndpoint(t, d, "https://example.com/h", notify.EventOrderPlaced)
		boom := errors.New("boom")
		err := d.Tx(ctx, func(tx db.Querier) error {
			if err := notify.EmitEvent(ctx, tx, notify.EventOrderPlaced, 1); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if err := d.Tx(ctx, func(tx db.Querier) error { return notify.EmitEvent(ctx, tx, "order.exploded", 1) }); err == nil {
			t.Error("an unknown event was emitted")
		}
		var deliveries, queued int
		d.Reader().QueryRowContext(ctx, "SELECT count(*) FROM webhook_deliveries").Scan(&deliveries)
		d.Reader().QueryRowContext(ctx, "SELECT count(*) FROM jobs WHERE kind = $1", notify.JobWebhook).Scan(&queued)
		if deliveries != 0 || queued != 0 {
			t.Errorf("%d deliveries and %d jobs after emits that wrote nothing", deliveries, queued)
		}
		_ = ep
	})
}
