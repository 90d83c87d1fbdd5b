package order

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"mistore/internal/audit"
	"mistore/internal/db"
	"mistore/internal/input"
	"mistore/internal/inventory"
	"mistore/internal/jobs"
	"mistore/internal/money"
	"mistore/internal/notify"
	"mistore/internal/payment"
)

// refundable are the states in which staff may give money back: paid,
// whether shipped or not, and not refunded in full yet.
var refundable = []Status{Paid, Fulfilled, Delivered, PartiallyRefunded}

// checkAmount validates an amount staff asked to refund from o.
func checkAmount(o *Order, amount money.Money) error {
	if amount.Currency != o.Currency {
		return input.Invalid("amount.currency", "The order was paid in %s; refund it in %s.", o.Currency, o.Currency)
	}
	if amount.Amount <= 0 {
		return input.Invalid("amount.amount", "The amount to refund must be more than zero.")
	}
	return nil
}

// Refund gives amount of order number's payment back through the payment
// provider, for reason. The amount is counted against the capture at
// once, by one conditional update, so however many refunds run at the
// same time the total never exceeds what was captured: the one that would
// is ErrRefundExceedsCaptured, and changes nothing. The order becomes
// refunded when nothing is left, partially_refunded otherwise; the
// provider call follows in a durable job.
func (s *Service) Refund(ctx context.Context, number string, amount money.Money, reason string) (*RefundEntry, error) {
	reason, err := cleanText("reason", reason, maxReason, false)
	if err != nil {
		return nil, err
	}
	var entry *RefundEntry
	err = s.db.Tx(ctx, func(tx db.Querier) error {
		o, err := Get(ctx, tx, number)
		if err != nil {
			return err
		}
		if err := checkAmount(o, amount); err != nil {
			return err
		}
		before := stateOf(o)
		if entry, err = s.reserveRefund(ctx, tx, o, amount, reason, 0, refundable...); err != nil {
			return err
		}
		if err := AddEvent(ctx, tx, o.ID, "refund", "A refund of "+amount.Format()+" is on its way."); err != nil {
			return err
		}
		after, err := Get(ctx, tx, number)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, "order.refund", subject(o), before, refundAudit{stateOf(after), amount, reason})
	})
	if err != nil {
		return nil, fmt.Errorf("refund %s: %w", number, err)
	}
	return entry, nil
}

// refundAudit is the audit log's after of a refund.
type refundAudit struct {
	auditState
	Amount money.Money `json:"amount"`
	Reason string      `json:"reason,omitempty"`
}

// reserveRefund counts amount against o's capture and queues its refund
// at the provider, inside tx. The count is one conditional UPDATE: it
// succeeds only while o is in one of the allowed states and what was
// refunded plus amount is within what was paid, checked against the row
// as it is when the update runs (on PostgreSQL a concurrent refund waits
// for the row and sees the committed total), so two refunds can never
// both take the same money. returnID links a return's refund.
func (s *Service) reserveRefund(ctx context.Context, tx db.Querier, o *Order, amount money.Money, reason string, returnID int64, allowed ...Status) (*RefundEntry, error) {
	now := db.Now()
	res, err := tx.ExecContext(ctx, `UPDATE orders SET refunded_amount = refunded_amount + $2,
			status = CASE WHEN status = 'cancelled' THEN status
				WHEN refunded_amount + $2 >= paid_amount THEN 'refunded' ELSE 'partially_refunded' END,
			updated_at = $3
		WHERE id = $1 AND status IN (`+statusList(allowed)+`) AND refunded_amount + $2 <= paid_amount`, o.ID, amount.Amount, now)
	if err != nil {
		return nil, fmt.Errorf("count refund: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		cur, err := Get(ctx, tx, o.Number)
		if err != nil {
			return nil, err
		}
		for _, st := range allowed {
			if cur.Status == st {
				left := cur.PaidAmount.Sub0(cur.RefundedAmount)
				return nil, &RefundExceedsError{Asked: amount, Left: left, Captured: cur.PaidAmount}
			}
		}
		return nil, fmt.Errorf("%w: order %s is %s", ErrState, o.Number, statusWords(cur.Status))
	}
	var charge string
	if err := tx.QueryRowContext(ctx, `SELECT provider_ref FROM payments WHERE order_id = $1 AND kind = 'charge' AND status = 'succeeded'
		ORDER BY id LIMIT 1`, o.ID).Scan(&charge); err != nil {
		return nil, fmt.Errorf("find the charge of %s: %w", o.Number, err)
	}
	e := &RefundEntry{Amount: amount, Reason: reason, Status: RefundPending, ReturnID: returnID, Actor: actorName(ctx), CreatedAt: now}
	var ret any
	if returnID != 0 {
		ret = returnID
	}
	if err := tx.QueryRowContext(ctx, `INSERT INTO order_refunds (order_id, amount, currency, reason, status, return_id, actor, created_at, updated_at)
		VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $7) RETURNING id`, o.ID, amount.Amount, amount.Currency, reason, ret, e.Actor, now).Scan(&e.ID); err != nil {
		return nil, fmt.Errorf("record refund: %w", err)
	}
	// The key names this refund, not only the charge: an order may be
	// refunded in several parts, each once.
	key := "refund:" + o.Number + ":" + charge + ":" + strconv.FormatInt(e.ID, 10)
	if err := jobs.Enqueue(ctx, tx, jobRefund, refundJob{
		Number: o.Number, Provider: o.PaymentProvider, SessionID: o.PaymentSession, ChargeID: charge,
		Amount: amount, Reason: refundReason(reason), Key: key, RefundID: e.ID,
	}, jobs.Options{UniqueKey: key, MaxAttempts: 20}); err != nil {
		return nil, err
	}
	return e, nil
}

func refundReason(r string) string {
	if r == "" {
		return "refunded by the store"
	}
	return r
}

// refundRest refunds whatever is left of a cancelled order's capture, for
// reason. It runs after the cancelling update took the order's row, so
// what it reads is final; nothing left is no refund.
func (s *Service) refundRest(ctx context.Context, tx db.Querier, o *Order, reason string) (*RefundEntry, error) {
	var left int64
	if err := tx.QueryRowContext(ctx, "SELECT paid_amount - refunded_amount FROM orders WHERE id = $1", o.ID).Scan(&left); err != nil {
		return nil, fmt.Errorf("what is left to refund of %s: %w", o.Number, err)
	}
	if left <= 0 {
		return nil, nil
	}
	return s.reserveRefund(ctx, tx, o, money.New(left, o.Currency), reason, 0, Cancelled)
}

// StaffCancel cancels order number for the store, before it ships: an
// unpaid order gives its reservation (and coupon use) back; a paid one
// puts its units back on hand and is refunded all that is left of its
// capture through the provider. A shipped, delivered, refunded or
// cancelled order is ErrState.
func (s *Service) StaffCancel(ctx context.Context, number, reason string) (*Order, error) {
	reason, err := cleanText("reason", reason, maxReason, false)
	if err != nil {
		return nil, err
	}
	err = s.db.Tx(ctx, func(tx db.Querier) error {
		o, err := lockForChange(ctx, tx, number, PendingPayment, Paid, PartiallyRefunded)
		if err != nil {
			return err
		}
		before := stateOf(o)
		why := "cancelled by the store"
		if reason != "" {
			why = "cancelled by the store: " + reason
		}
		now := db.Now()
		if o.Status == PendingPayment {
			if _, err := tx.ExecContext(ctx, `UPDATE orders SET status = 'cancelled', cancelled_at = $2, cancel_reason = $3,
					expires_at = NULL, updated_at = $2 WHERE id = $1`, o.ID, now, why); err != nil {
				return err
			}
			if err := s.afterUnpaidCancel(ctx, tx, number, "Cancelled by the store before payment."); err != nil {
				return err
			}
		} else {
			res, err := tx.ExecContext(ctx, `UPDATE orders SET status = 'cancelled', cancelled_at = $2, cancel_reason = $3, updated_at = $2
				WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM shipments WHERE order_id = $1)`, o.ID, now, why)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return fmt.Errorf("%w: order %s has shipped", ErrState, number)
			}
			if _, err := inventory.Release(ctx, tx, o.Owner()); err != nil {
				return err
			}
			if _, err := inventory.Restock(ctx, tx, o.Owner()); err != nil {
				return err
			}
			r, err := s.refundRest(ctx, tx, o, why)
			if err != nil {
				return err
			}
			detail := "Cancelled by the store."
			if r != nil {
				detail = "Cancelled by the store; a refund of " + r.Amount.Format() + " is on its way."
			}
			if err := AddEvent(ctx, tx, o.ID, "cancelled", detail); err != nil {
				return err
			}
		}
		after, err := Get(ctx, tx, number)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, "order.cancel", subject(o), before, struct {
			auditState
			Reason string `json:"reason,omitempty"`
		}{stateOf(after), reason})
	})
	if err != nil {
		return nil, fmt.Errorf("cancel %s: %w", number, err)
	}
	return Get(ctx, s.db.Reader(), number)
}

// markRefunded records the provider's answer to a staff refund, inside
// the refund job's transaction.
func markRefunded(ctx context.Context, tx db.Querier, refundID int64, providerRef, status string) error {
	st := RefundPending
	if status == string(RefundSucceeded) {
		st = RefundSucceeded
	}
	_, err := tx.ExecContext(ctx, "UPDATE order_refunds SET status = $2, provider_ref = $3, updated_at = $4 WHERE id = $1",
		refundID, string(st), providerRef, db.Now())
	if err != nil {
		return fmt.Errorf("refund %d: %w", refundID, err)
	}
	return nil
}

// providerRefundable are the states in which money given back at the
// provider is counted: those staff may refund in. A cancelled order's
// money went back with its cancellation.
var providerRefundable = []Status{Paid, Fulfilled, Delivered, PartiallyRefunded}

// providerReported are the states in which the provider's refunded total
// is kept: those money given back is counted in, and refunded, since a
// refund of the store's counted there may yet be refused.
var providerReported = []Status{Paid, Fulfilled, Delivered, PartiallyRefunded, Refunded}

// outsideReason is the reason on refunds made in the provider's dashboard.
func outsideReason(provider string) string { return "refunded at " + provider + ", outside the store" }

// applyProviderRefund keeps what the provider says it gave back of an
// order's charge (ev.Amount: all of it so far, by anyone) and counts the
// part the store did not give back itself, a refund made in the
// provider's dashboard (countOutside). The order's row is locked first,
// and only a total above the one kept is new, so the same event again,
// or an older one with a smaller total, changes nothing. An order paid by
// more than one charge (a second payment, refunded by the store) is left
// alone, since its refunded amount is not one charge's. Inside tx.
func applyProviderRefund(ctx context.Context, tx db.Querier, provider string, ev payment.Event) error {
	o, err := eventOrder(ctx, tx, provider, ev)
	if err != nil || o == nil || o.PaymentProvider != provider || ev.Amount.Currency != o.Currency {
		return err
	}
	if o, err = lockForChange(ctx, tx, o.Number, providerReported...); errors.Is(err, ErrState) {
		return nil
	} else if err != nil {
		return err
	}
	var charges int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM payments WHERE order_id = $1 AND kind = 'charge' AND status = 'succeeded'`,
		o.ID).Scan(&charges); err != nil {
		return fmt.Errorf("charges of %s: %w", o.Number, err)
	}
	if charges != 1 {
		return nil
	}
	res, err := tx.ExecContext(ctx, `UPDATE orders SET provider_refunded = $2 WHERE id = $1 AND provider_refunded < $2`, o.ID, ev.Amount.Amount)
	if err != nil {
		return fmt.Errorf("keep the refunded total of %s: %w", o.Number, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	return countOutside(ctx, tx, o, provider, ev.ID)
}

// countOutside counts, for order o (its row locked by the caller), money
// the provider reported given back that the store has not counted: the
// provider's total less the store's own refunds (counted from the moment
// staff ask for them, so also those the provider has yet to make) and
// less what earlier reports counted. The store's own refunds are what the
// order counts as refunded beyond what moneyBack counted (these reports
// and lost disputes, which the provider's refunded total leaves out).
// Run when the total grows and when one of the store's refunds is
// refused, since a refund the provider refused because the dashboard's
// took the money leaves the dashboard's refund to be counted. ref is the
// provider's reference for the payment row. Inside tx.
func countOutside(ctx context.Context, tx db.Querier, o *Order, provider, ref string) error {
	if !slices.Contains(providerRefundable, o.Status) && o.Status != Refunded {
		return nil
	}
	var reported, counted, outside int64
	err := tx.QueryRowContext(ctx, `SELECT o.provider_refunded, coalesce(sum(p.amount), 0),
			coalesce(sum(CASE WHEN p.idempotency_key LIKE 'provider-refund:%' THEN p.amount END), 0)
		FROM orders o LEFT JOIN payments p ON p.order_id = o.id AND p.kind = 'refund'
			AND (p.idempotency_key LIKE 'provider-refund:%' OR p.idempotency_key LIKE 'dispute:%')
		WHERE o.id = $1 GROUP BY o.provider_refunded`, o.ID).Scan(&reported, &counted, &outside)
	if err != nil {
		return fmt.Errorf("refunds of %s at %s: %w", o.Number, provider, err)
	}
	own := o.RefundedAmount.Amount - counted
	back := reported - own - outside
	if back <= 0 {
		return nil
	}
	// Named by what the dashboard's refunds come to with it, a total that
	// only grows.
	key := "provider-refund:" + provider + ":" + o.Number + ":outside:" + strconv.FormatInt(outside+back, 10)
	return moneyBack(ctx, tx, o, provider, ref, key, outsideReason(provider), money.New(back, o.Currency))
}

// moneyBack counts back, money the provider gave back to the customer
// without the store asking (a refund in its dashboard, a lost dispute),
// against order o, whose row the caller locked in one of the
// providerRefundable states: the order's refunded amount and status, a
// payment row named key, a refund by the provider with reason, the
// timeline, the audit log and the order.refunded webhook. More than is
// left of the capture is not counted. Inside tx.
func moneyBack(ctx context.Context, tx db.Querier, o *Order, provider, ref, key, reason string, back money.Money) error {
	now := db.Now()
	res, err := tx.ExecContext(ctx, `UPDATE orders SET refunded_amount = refunded_amount + $2,
			status = CASE WHEN refunded_amount + $2 >= paid_amount THEN 'refunded' ELSE 'partially_refunded' END, updated_at = $3
		WHERE id = $1 AND refunded_amount + $2 <= paid_amount`, o.ID, back.Amount, now)
	if err != nil {
		return fmt.Errorf("count %s back at %s of %s: %w", back.Format(), provider, o.Number, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO payments (order_id, provider, kind, provider_ref, amount, currency, status, idempotency_key, created_at, updated_at)
		VALUES ($1, $2, 'refund', $3, $4, $5, 'succeeded', $6, $7, $7)`, o.ID, provider, ref, back.Amount, back.Currency, key, now); err != nil {
		return fmt.Errorf("record %s back at %s of %s: %w", back.Format(), provider, o.Number, err)
	}
	actor := audit.Actor{Kind: audit.KindSystem, Name: provider}
	if _, err := tx.ExecContext(ctx, `INSERT INTO order_refunds (order_id, amount, currency, reason, status, provider_ref, actor, created_at, updated_at)
		VALUES ($1, $2, $3, $4, 'succeeded', $5, $6, $7, $7)`, o.ID, back.Amount, back.Currency, reason, ref, actor.String(), now); err != nil {
		return fmt.Errorf("record %s back at %s of %s: %w", back.Format(), provider, o.Number, err)
	}
	if err := AddEvent(ctx, tx, o.ID, "refunded", back.Format()+" refunded."); err != nil {
		return err
	}
	after, err := Get(ctx, tx, o.Number)
	if err != nil {
		return err
	}
	if err := audit.RecordAs(ctx, tx, actor, "order.refund", subject(o), stateOf(o), refundAudit{stateOf(after), back, reason}); err != nil {
		return err
	}
	return notify.EmitEvent(ctx, tx, notify.EventOrderRefunded, RefundWebhook{WebhookOrder: WebhookData(after, after.Status), Refund: back})
}

// eventOrder is the order a provider event is about, by the reference
// the store gave the provider or else by its charge; nil when the store
// has no such order.
func eventOrder(ctx context.Context, tx db.Querier, provider string, ev payment.Event) (*Order, error) {
	o, err := Get(ctx, tx, ev.Reference)
	if errors.Is(err, ErrNotFound) && ev.ChargeID != "" {
		o, err = byCharge(ctx, tx, provider, ev.ChargeID)
	}
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return o, err
}

// byCharge finds the order whose payment at provider is chargeID.
func byCharge(ctx context.Context, tx db.Querier, provider, chargeID string) (*Order, error) {
	var number string
	err := tx.QueryRowContext(ctx, `SELECT o.number FROM payments p JOIN orders o ON o.id = p.order_id
		WHERE p.provider = $1 AND p.kind = 'charge' AND p.provider_ref = $2 ORDER BY p.id LIMIT 1`, provider, chargeID).Scan(&number)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("order of charge %s: %w", chargeID, err)
	}
	return Get(ctx, tx, number)
}

// refundRefused records that the provider refused refund job rj for good
// (refused: why), so that the order does not count money it never gave
// back: a refund staff asked for (counted when asked) is marked failed
// and its amount is no longer counted, the order going back to what it
// was before (paid, fulfilled or delivered, or partially_refunded while
// other refunds stay); a refund counted only once made (a cancelled
// order's, a second payment's) had nothing counted. Either way the
// timeline says the refund could not be made and the audit log keeps
// the provider's words, for staff to settle at the provider; and money
// the provider reported given back meanwhile that this refund accounted
// for is counted now (countOutside). Once: a refund already marked is
// left as it is.
func (s *Service) refundRefused(ctx context.Context, rj refundJob, refused error) error {
	return s.db.Tx(ctx, func(tx db.Querier) error {
		o, err := Get(ctx, tx, rj.Number)
		if err != nil {
			return err
		}
		now := db.Now()
		if rj.RefundID != 0 {
			res, err := tx.ExecContext(ctx, `UPDATE order_refunds SET status = 'failed', updated_at = $2 WHERE id = $1 AND status = 'pending'`, rj.RefundID, now)
			if err != nil {
				return fmt.Errorf("refund %d of %s: %w", rj.RefundID, rj.Number, err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, `UPDATE orders SET refunded_amount = refunded_amount - $2,
					status = CASE WHEN status NOT IN ('refunded', 'partially_refunded') THEN status
						WHEN refunded_amount - $2 > 0 THEN 'partially_refunded'
						WHEN EXISTS (SELECT 1 FROM shipments WHERE order_id = $1 AND delivered_at IS NOT NULL) THEN 'delivered'
						WHEN EXISTS (SELECT 1 FROM shipments WHERE order_id = $1) THEN 'fulfilled'
						ELSE 'paid' END,
					updated_at = $3
				WHERE id = $1 AND refunded_amount >= $2`, o.ID, rj.Amount.Amount, now); err != nil {
				return fmt.Errorf("uncount the refund of %s: %w", rj.Number, err)
			}
		}
		if err := AddEvent(ctx, tx, o.ID, "refund_failed", "The refund of "+rj.Amount.Format()+" could not be made; we will contact you."); err != nil {
			return err
		}
		after, err := Get(ctx, tx, rj.Number)
		if err != nil {
			return err
		}
		if err := audit.RecordAs(ctx, tx, audit.Actor{Kind: audit.KindSystem, Name: rj.Provider}, "order.refund_failed", subject(o), stateOf(o),
			refundAudit{stateOf(after), rj.Amount, refused.Error()}); err != nil {
			return err
		}
		if rj.RefundID == 0 {
			return nil
		}
		// The provider may have refused because a refund in its dashboard
		// took the money, reported while this one was counted and so not
		// counted itself.
		return countOutside(ctx, tx, after, rj.Provider, "")
	})
}
