package order_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/inventory"
	"mistore/internal/money"
	"mistore/internal/order"
	"mistore/internal/payment"
)

// providerHooks takes the test provider's queued webhooks off its queue
// and returns their bodies, oldest first.
func (s *store) providerHooks(t *testing.T) [][]byte {
	t.Helper()
	var bodies [][]byte
	err := db.EachRow(context.Background(), s.d.Reader(), `SELECT payload FROM jobs WHERE kind = 'testprovider.webhook' ORDER BY id`, nil,
		func(rows *sql.Rows) error {
			var b string
			if err := rows.Scan(&b); err != nil {
				return err
			}
			bodies = append(bodies, []byte(b))
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.d.Write.Exec(`DELETE FROM jobs WHERE kind = 'testprovider.webhook'`); err != nil {
		t.Fatal(err)
	}
	return bodies
}

// deliver hands body to the store as the provider's signed webhook.
func (s *store) deliver(t *testing.T, body []byte) {
	t.Helper()
	h := http.Header{}
	h.Set(payment.SignatureHeader, payment.Sign(s.secret, body, time.Now()))
	if err := s.orders.AcceptWebhook(context.Background(), "test", body, h); err != nil {
		t.Fatalf("webhook %s: %v", body, err)
	}
}

// noEventRetries checks that every provider event was applied when it
// was delivered: none failed and waits to be tried again.
func (s *store) noEventRetries(t *testing.T) {
	t.Helper()
	var retries int
	if err := s.d.Read.QueryRow(`SELECT count(*) FROM jobs WHERE kind = 'payment.event'`).Scan(&retries); err != nil {
		t.Fatal(err)
	}
	if retries != 0 {
		t.Errorf("%d provider events failed to apply and wait to be tried again", retries)
	}
}

// paidAtProvider places and pays an order, as paid does, and takes the
// payment's webhook (delivered already) off the provider's queue.
func (s *store) paidAtProvider(t *testing.T, email string, lines ...inventory.Line) *order.Order {
	t.Helper()
	o := s.paid(t, email, lines...)
	s.providerHooks(t)
	return o
}

// withNewID is body as a different event: a provider's later event with
// the same content.
func withNewID(t *testing.T, body []byte, id string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	m["id"] = id
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRefundAtTheProvider checks that money given back in the provider's
// own dashboard shows on the order: counted once, whatever the order and
// number of the provider's events, beside the store's own refunds, and
// never for a cancelled order.
func TestRefundAtTheProvider(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newStore(t, d)
		ctx := context.Background()
		s.setStock(t, "MB8-BLK", 50)
		o := s.paidAtProvider(t, "ada@example.com", band(2))
		cur := o.Currency
		outside := func(cents int64) []byte {
			t.Helper()
			if err := s.provider.RefundOutside(ctx, o.PaymentSession, money.New(cents, cur)); err != nil {
				t.Fatal(err)
			}
			hooks := s.providerHooks(t)
			if len(hooks) != 1 {
				t.Fatalf("%d webhooks after a refund outside the store, want 1", len(hooks))
			}
			return hooks[0]
		}
		check := func(status order.Status, refunded int64) {
			t.Helper()
			got := s.get(t, o.Number)
			if got.Status != status || got.RefundedAmount != money.New(refunded, cur) {
				t.Errorf("order %s, %s refunded; want %s, %s", got.Status, got.RefundedAmount.Format(), status, money.New(refunded, cur).Format())
			}
		}

		// $5 back in the dashboard.
		first := outside(500)
		check(order.Paid, 0) // not heard of yet
		s.deliver(t, first)
		check(order.PartiallyRefunded, 500)
		// The same total again, as a new event, or the same event: nothing.
		s.deliver(t, withNewID(t, first, "evt_again"))
		s.deliver(t, first)
		check(order.PartiallyRefunded, 500)

		// Staff refund $3 through the store; then $2 more in the
		// dashboard: the provider's total is $10, of which the store
		// counted $8.
		if _, err := s.orders.Refund(staffCtx(), o.Number, money.New(300, cur), "goodwill"); err != nil {
			t.Fatal(err)
		}
		s.runJobs(t)
		check(order.PartiallyRefunded, 800)
		second := outside(200)
		s.deliver(t, second)
		check(order.PartiallyRefunded, 1000)
		// The first event, late and under another id: a smaller total.
		s.deliver(t, withNewID(t, first, "evt_late"))
		check(order.PartiallyRefunded, 1000)

		// What the store recorded: two refunds from the provider, one of
		// staff's, each with its amount, and the audit log's three.
		var fromProvider, sum int64
		if err := d.Read.QueryRow(`SELECT count(*), coalesce(sum(r.amount), 0) FROM order_refunds r JOIN orders o ON o.id = r.order_id
			WHERE o.number = $1 AND r.actor = 'system:test' AND r.status = 'succeeded'`, o.Number).Scan(&fromProvider, &sum); err != nil {
			t.Fatal(err)
		}
		if fromProvider != 2 || sum != 700 {
			t.Errorf("refunds from the provider: %d of %d cents in all, want 2 of 700", fromProvider, sum)
		}
		if n := s.auditCount(t, "order.refund", "order:"+o.Number); n != 3 {
			t.Errorf("%d refunds in the audit log, want 3", n)
		}
		got := s.get(t, o.Number)
		events, err := order.Events(ctx, d.Read, got.ID)
		if err != nil {
			t.Fatal(err)
		}
		refunded := 0
		for _, e := range events {
			if e.Kind == "refunded" {
				refunded++
			}
		}
		if refunded != 3 {
			t.Errorf("%d refunded events on the order's timeline, want 3: %+v", refunded, events)
		}

		// Every event was applied when it came, none queued to try again.
		s.noEventRetries(t)

		// The rest back in the dashboard: refunded in full.
		rest := got.PaidAmount.Amount - 1000
		s.deliver(t, outside(rest))
		check(order.Refunded, got.PaidAmount.Amount)

		// A cancelled order's money goes back with its cancellation (counted
		// at once, sent by a job not yet run here): a refund at the
		// provider that comes meanwhile changes nothing more.
		c := s.paidAtProvider(t, "grace@example.com", band(1))
		if _, err := s.orders.Cancel(staffCtx(), c.Number); err != nil {
			t.Fatal(err)
		}
		before := s.get(t, c.Number)
		if before.Status != order.Cancelled {
			t.Fatalf("cancelled order is %s", before.Status)
		}
		if err := s.provider.RefundOutside(ctx, c.PaymentSession, money.New(100, cur)); err != nil {
			t.Fatal(err)
		}
		for _, h := range s.providerHooks(t) {
			s.deliver(t, h)
		}
		if after := s.get(t, c.Number); after.Status != before.Status || after.RefundedAmount != before.RefundedAmount {
			t.Errorf("a cancelled order moved to %s, %s refunded (was %s, %s)", after.Status, after.RefundedAmount.Format(),
				before.Status, before.RefundedAmount.Format())
		}
	})
}

// TestRefundRefused checks that a refund the provider refuses for good
// (here: someone gave the whole payment back in its dashboard first) is
// marked failed and no longer counted, the order going back to how it
// stood, and that the money given back at the provider is then counted
// from its webhook: nothing counted twice, nothing lost.
func TestRefundRefused(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newStore(t, d)
		ctx := context.Background()
		s.setStock(t, "MB8-BLK", 50)
		o := s.paidAtProvider(t, "ada@example.com", band(2))
		if _, err := s.orders.Fulfil(staffCtx(), o.Number, "UPS", "1Z999"); err != nil {
			t.Fatal(err)
		}
		s.runJobs(t)
		if _, err := s.orders.Refund(staffCtx(), o.Number, money.New(300, o.Currency), "scratch"); err != nil {
			t.Fatal(err)
		}
		if got := s.get(t, o.Number); got.Status != order.PartiallyRefunded || got.RefundedAmount.Amount != 300 {
			t.Fatalf("after asking for the refund: %s, %s", got.Status, got.RefundedAmount.Format())
		}
		// Before the store's refund reaches the provider, all of the
		// payment is given back in the provider's dashboard.
		if err := s.provider.RefundOutside(ctx, o.PaymentSession, o.PaidAmount); err != nil {
			t.Fatal(err)
		}
		outside := s.providerHooks(t)
		s.runJobs(t) // the store's refund: refused, more than is left
		got := s.get(t, o.Number)
		if got.Status != order.Fulfilled || got.RefundedAmount.Amount != 0 {
			t.Errorf("after the refusal the order is %s, %s refunded; want fulfilled, nothing", got.Status, got.RefundedAmount.Format())
		}
		dt, err := s.orders.Detail(ctx, o.Number)
		if err != nil {
			t.Fatal(err)
		}
		if len(dt.Refunds) != 1 || dt.Refunds[0].Status != order.RefundFailed {
			t.Errorf("refunds after the refusal: %+v", dt.Refunds)
		}
		if !hasEvent(dt.Events, "refund_failed") || s.auditCount(t, "order.refund_failed", "order:"+o.Number) != 1 {
			t.Errorf("the refusal is not on the timeline or in the audit log: %+v", dt.Events)
		}
		var waiting int
		if err := d.Read.QueryRow(`SELECT count(*) FROM jobs WHERE kind = 'order.refund' AND state <> 'done'`).Scan(&waiting); err != nil || waiting != 0 {
			t.Errorf("%d refund jobs left to retry (%v)", waiting, err)
		}
		// The dashboard's refund arrives: all of it counted, once.
		for _, h := range outside {
			s.deliver(t, h)
		}
		if got := s.get(t, o.Number); got.Status != order.Refunded || got.RefundedAmount != o.PaidAmount {
			t.Errorf("after the provider's webhook: %s, %s refunded of %s", got.Status, got.RefundedAmount.Format(), o.PaidAmount.Format())
		}
	})
}

// TestRefundRefusedAfterTheDashboards checks the other order of events:
// the provider reports a refund made in its dashboard while a refund of
// the store's is still counted, then refuses the store's refund because
// the dashboard's took the money. What the provider gave back is counted
// in the end, once, whatever the store's refund came to.
func TestRefundRefusedAfterTheDashboards(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newStore(t, d)
		ctx := context.Background()
		s.setStock(t, "MB8-BLK", 50)
		cases := []struct {
			name string
			// store and outside are the store's refund and the
			// dashboard's, as parts of what was paid.
			store, outside func(paid int64) int64
			// counted and status are what the order counts once the
			// dashboard's refund is reported, before the refusal.
			counted func(paid int64) int64
			status  order.Status
			after   order.Status
		}{
			{"all back in the dashboard after a part asked for",
				func(int64) int64 { return 300 }, func(p int64) int64 { return p },
				func(p int64) int64 { return p }, order.Refunded, order.Refunded},
			{"a part back in the dashboard, the store asked for nearly all",
				func(p int64) int64 { return p - 100 }, func(int64) int64 { return 200 },
				func(p int64) int64 { return p - 100 }, order.PartiallyRefunded, order.PartiallyRefunded},
			{"a part back in the dashboard, the store asked for all",
				func(p int64) int64 { return p }, func(int64) int64 { return 200 },
				func(p int64) int64 { return p }, order.Refunded, order.PartiallyRefunded},
		}
		for i, c := range cases {
			o := s.paidAtProvider(t, fmt.Sprintf("case%d@example.com", i), band(2))
			paid := o.PaidAmount.Amount
			if _, err := s.orders.Refund(staffCtx(), o.Number, money.New(c.store(paid), o.Currency), "scratch"); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if err := s.provider.RefundOutside(ctx, o.PaymentSession, money.New(c.outside(paid), o.Currency)); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			reports := s.providerHooks(t)
			for _, h := range reports {
				s.deliver(t, h)
			}
			if got := s.get(t, o.Number); got.Status != c.status || got.RefundedAmount.Amount != c.counted(paid) {
				t.Errorf("%s: once reported the order is %s, %s refunded; want %s, %d", c.name, got.Status, got.RefundedAmount.Format(),
					c.status, c.counted(paid))
			}
			s.runJobs(t) // the store's refund: refused, more than is left
			got := s.get(t, o.Number)
			if got.Status != c.after || got.RefundedAmount.Amount != c.outside(paid) {
				t.Errorf("%s: after the refusal the order is %s, %s refunded; want %s, %d (what the dashboard gave back)", c.name,
					got.Status, got.RefundedAmount.Format(), c.after, c.outside(paid))
			}
			dt, err := s.orders.Detail(ctx, o.Number)
			if err != nil {
				t.Fatal(err)
			}
			var failed, fromProvider int64
			for _, r := range dt.Refunds {
				switch {
				case r.Status == order.RefundFailed:
					failed += r.Amount.Amount
				case r.Status == order.RefundSucceeded && r.Actor == "system:test":
					fromProvider += r.Amount.Amount
				default:
					t.Errorf("%s: refund %+v", c.name, r)
				}
			}
			if failed != c.store(paid) || fromProvider != c.outside(paid) {
				t.Errorf("%s: refunds failed %d, from the provider %d; want %d, %d", c.name, failed, fromProvider, c.store(paid), c.outside(paid))
			}
			// The same report again changes nothing more.
			for _, h := range reports {
				s.deliver(t, withNewID(t, h, "evt_again_"+o.Number))
			}
			if again := s.get(t, o.Number); again.RefundedAmount != got.RefundedAmount {
				t.Errorf("%s: the same total reported again counted %s more", c.name, again.RefundedAmount.Sub0(got.RefundedAmount).Format())
			}
		}
		s.noEventRetries(t)
	})
}
