package order_test

import (
	"context"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/money"
	"mistore/internal/order"
)

// TestDisputes checks that a chargeback the provider reports is kept
// with its order, once, whatever the order of the provider's events, and
// that a lost one counts as money given back while a won one changes
// nothing.
func TestDisputes(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newStore(t, d)
		ctx := context.Background()
		s.setStock(t, "MB8-BLK", 50)
		deliverAll := func() {
			t.Helper()
			for _, h := range s.providerHooks(t) {
				s.deliver(t, h)
			}
		}
		detail := func(number string) *order.Detail {
			t.Helper()
			dt, err := s.orders.Detail(ctx, number)
			if err != nil {
				t.Fatal(err)
			}
			return dt
		}

		// Lost: the whole payment goes back to the customer.
		lost := s.paidAtProvider(t, "ada@example.com", band(1))
		id, err := s.provider.OpenDispute(ctx, lost.PaymentSession, "fraudulent")
		if err != nil {
			t.Fatal(err)
		}
		opened := s.providerHooks(t)
		s.deliver(t, opened[0])
		s.deliver(t, opened[0])                                   // the same event again
		s.deliver(t, withNewID(t, opened[0], "evt_opened_again")) // the same news, another event
		dt := detail(lost.Number)
		if len(dt.Disputes) != 1 || dt.Disputes[0].Status != order.DisputeOpen || dt.Disputes[0].Ref != id ||
			dt.Disputes[0].Amount != lost.PaidAmount || dt.Disputes[0].Reason != "fraudulent" || dt.Disputes[0].DueBy.IsZero() {
			t.Fatalf("disputes after the opening: %+v", dt.Disputes)
		}
		if dt.Order.Status != order.Paid || dt.Order.RefundedAmount.Amount != 0 {
			t.Errorf("an open dispute moved the order: %s, %s refunded", dt.Order.Status, dt.Order.RefundedAmount.Format())
		}
		if open, err := s.orders.OpenDisputes(ctx); err != nil || len(open) != 1 || open[0].Number != lost.Number || open[0].Ref != id {
			t.Errorf("open disputes: %+v %v, want %s's", open, err, lost.Number)
		}
		if err := s.provider.CloseDispute(ctx, lost.PaymentSession, id, false); err != nil {
			t.Fatal(err)
		}
		closed := s.providerHooks(t)
		s.deliver(t, closed[0])
		s.deliver(t, withNewID(t, closed[0], "evt_closed_again"))
		s.deliver(t, withNewID(t, opened[0], "evt_opened_late")) // a late opening changes nothing
		dt = detail(lost.Number)
		if len(dt.Disputes) != 1 || dt.Disputes[0].Status != order.DisputeLost {
			t.Errorf("disputes after losing: %+v", dt.Disputes)
		}
		if dt.Order.Status != order.Refunded || dt.Order.RefundedAmount != lost.PaidAmount {
			t.Errorf("after losing the dispute the order is %s, %s refunded; want refunded, %s",
				dt.Order.Status, dt.Order.RefundedAmount.Format(), lost.PaidAmount.Format())
		}
		if len(dt.Refunds) != 1 || dt.Refunds[0].Actor != "system:test" || dt.Refunds[0].Amount != lost.PaidAmount {
			t.Errorf("refunds after losing: %+v", dt.Refunds)
		}
		for action, want := range map[string]int{"order.dispute_open": 1, "order.dispute_lost": 1, "order.refund": 1} {
			if n := s.auditCount(t, action, "order:"+lost.Number); n != want {
				t.Errorf("%d %s in the audit log, want %d", n, action, want)
			}
		}

		// Won, heard of only when it ended: recorded, no money moves.
		won := s.paidAtProvider(t, "grace@example.com", band(1))
		if err := s.provider.CloseDispute(ctx, won.PaymentSession, "dp_unheard", true); err != nil {
			t.Fatal(err)
		}
		deliverAll()
		dt = detail(won.Number)
		if len(dt.Disputes) != 1 || dt.Disputes[0].Status != order.DisputeWon || dt.Order.Status != order.Paid || dt.Order.RefundedAmount.Amount != 0 {
			t.Errorf("a won dispute: %+v, order %s, %s refunded", dt.Disputes, dt.Order.Status, dt.Order.RefundedAmount.Format())
		}

		// Lost after staff refunded part: only what was left goes back.
		part := s.paidAtProvider(t, "linus@example.com", band(2))
		if _, err := s.orders.Refund(staffCtx(), part.Number, money.New(500, part.Currency), "scratch"); err != nil {
			t.Fatal(err)
		}
		s.runJobs(t)
		id, err = s.provider.OpenDispute(ctx, part.PaymentSession, "product not received")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.provider.CloseDispute(ctx, part.PaymentSession, id, false); err != nil {
			t.Fatal(err)
		}
		deliverAll()
		dt = detail(part.Number)
		if dt.Order.Status != order.Refunded || dt.Order.RefundedAmount != part.PaidAmount {
			t.Errorf("lost after a partial refund: %s, %s refunded of %s", dt.Order.Status, dt.Order.RefundedAmount.Format(), part.PaidAmount.Format())
		}
		if open, err := s.orders.OpenDisputes(ctx); err != nil || len(open) != 0 {
			t.Errorf("open disputes at the end: %+v %v", open, err)
		}
		s.noEventRetries(t)
	})
}
