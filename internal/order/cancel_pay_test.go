package order_test

import (
	"context"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/order"
	"mistore/internal/payment"
)

// TestCancelledOrderTakesNoPayment checks that an order cancelled on
// purpose stays cancelled: its payment page is closed with it, and a
// payment that got in first (made before the cancellation, reported
// after it) is refunded, the stock staying where the cancellation put
// it. An order whose payment window closed is revived by a late payment
// instead (TestLatePayment...), since its shopper did pay.
func TestCancelledOrderTakesNoPayment(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newStore(t, d)
		ctx := context.Background()
		s.setStock(t, "MB8-BLK", 10)
		card := payment.Card{Number: "4242424242424242", Expiry: "01/40", CVC: "999"}

		// Cancelled by the customer before paying: the page is closed.
		o := s.place(t, "ada@example.com", band(2))
		if _, err := s.orders.Cancel(ctx, o.Number); err != nil {
			t.Fatal(err)
		}
		if page, err := s.provider.Page(ctx, o.PaymentSession); err != nil || page.Status != payment.SessionExpired {
			t.Errorf("the cancelled order's payment page is %s (%v), want expired", page.Status, err)
		}
		if _, err := s.provider.Pay(ctx, o.PaymentSession, card); err == nil {
			t.Error("the cancelled order's page took a payment")
		}
		s.runJobs(t)
		if got := s.get(t, o.Number); got.Status != order.Cancelled || got.PaidAmount.Amount != 0 {
			t.Errorf("after paying the closed page: %s, %s paid", got.Status, got.PaidAmount.Format())
		}

		// Paid at the provider, cancelled by staff before the payment is
		// reported: the payment is refunded, the order stays cancelled
		// and its stock stays released.
		p := s.place(t, "grace@example.com", band(3))
		sess, err := s.provider.Pay(ctx, p.PaymentSession, card)
		if err != nil {
			t.Fatal(err)
		}
		hooks := s.providerHooks(t)
		if _, err := s.orders.StaffCancel(staffCtx(), p.Number, "customer called"); err != nil {
			t.Fatal(err)
		}
		if avail := s.available(t, "MB8-BLK"); avail != 10 {
			t.Fatalf("%d available after both cancellations, want 10", avail)
		}
		for _, h := range hooks {
			s.deliver(t, h)
		}
		got := s.get(t, p.Number)
		if got.Status != order.Cancelled || got.PaidAmount != sess.Amount {
			t.Errorf("after the late payment: %s, %s paid; want cancelled, %s paid", got.Status, got.PaidAmount.Format(), sess.Amount.Format())
		}
		if avail := s.available(t, "MB8-BLK"); avail != 10 {
			t.Errorf("the late payment took stock: %d available, want 10", avail)
		}
		dt, err := s.orders.Detail(ctx, p.Number)
		if err != nil {
			t.Fatal(err)
		}
		if !hasEvent(dt.Events, "paid_after_cancel") || hasEvent(dt.Events, "paid") {
			t.Errorf("timeline: %+v", dt.Events)
		}
		s.runJobs(t) // the refund
		var refunded int64
		if err := d.Read.QueryRow(`SELECT coalesce(sum(amount), 0) FROM payments p JOIN orders o ON o.id = p.order_id
			WHERE o.number = $1 AND p.kind = 'refund' AND p.status = 'succeeded'`, p.Number).Scan(&refunded); err != nil || refunded != sess.Amount.Amount {
			t.Errorf("refunded %d (%v), want %d", refunded, err, sess.Amount.Amount)
		}
		s.noEventRetries(t)
	})
}

// available is what sku has on hand, less what is reserved, in the
// warehouse setStock fills.
func (s *store) available(t *testing.T, sku string) int {
	t.Helper()
	var n int
	if err := s.d.Read.QueryRow(`SELECT on_hand - reserved FROM stock WHERE sku = $1 AND warehouse = 'us-east'`, sku).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
