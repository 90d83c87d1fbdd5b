package order

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"mistore/internal/db"
	"mistore/internal/inventory"
	"mistore/internal/jobs"
	"mistore/internal/money"
	"mistore/internal/notify"
	"mistore/internal/payment"
)

// Job kinds the order service runs.
const (
	jobPaymentEvent = "payment.event"
	jobRefund       = "order.refund"
	jobConfirmation = "order.confirmation"
	jobCloseSession = "order.close_session"
)

// Confirmer queues an order's confirmation email inside a transaction.
type Confirmer interface {
	// RenderConfirmation renders o's confirmation email. It is called
	// outside the transaction that marks o paid where it can be, since a
	// template is no work for the database writer to wait on.
	RenderConfirmation(ctx context.Context, o *Order) (notify.Message, error)
	// QueueMessage queues a rendered email in tx.
	QueueMessage(ctx context.Context, tx db.Querier, msg notify.Message) error
}

// Claims is what orders need of flash sales (flashsale.Service): an
// order of a claim's cart sells the claim's units when paid, and gives
// them back to the sale when it is cancelled unpaid.
type Claims interface {
	// Paid marks the order's claims paid inside tx, before owner's
	// reservations are committed; ok is false when a claim was given back
	// meanwhile or its units are no longer reserved for owner: the
	// payment must then not sell them.
	Paid(ctx context.Context, tx db.Querier, number, owner string) (ok bool, err error)
	// Unpaid gives the claims of an order cancelled unpaid back to their
	// sales inside tx, before owner's stock is released.
	Unpaid(ctx context.Context, tx db.Querier, number, owner string) error
}

// Service runs the order lifecycle.
type Service struct {
	db        *db.DB
	tokens    Tokens
	providers map[string]payment.Provider
	confirmer Confirmer
	claims    Claims
	log       *slog.Logger
	now       func() time.Time
	// stats counts payments applied, for the store's metrics (stats.go).
	stats paymentStats
}

// SetClaims makes orders settle flash-sale claims. Without it (a store
// with no flash sales) no order holds one. Call it before the service is
// used; c must not be a nil pointer in a non-nil interface.
func (s *Service) SetClaims(c Claims) { s.claims = c }

// NewService returns the order service. confirmer may be nil (no emails).
func NewService(d *db.DB, tokens Tokens, providers []payment.Provider, confirmer Confirmer, log *slog.Logger, now func() time.Time) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	s := &Service{db: d, tokens: tokens, providers: map[string]payment.Provider{}, confirmer: confirmer, log: log, now: now}
	for _, p := range providers {
		s.providers[p.Name()] = p
	}
	return s
}

// Tokens returns the order access token maker.
func (s *Service) Tokens() Tokens { return s.tokens }

// Provider returns the named payment provider.
func (s *Service) Provider(name string) (payment.Provider, bool) {
	p, ok := s.providers[name]
	return p, ok
}

// Register adds the order jobs to a runner.
func (s *Service) Register(r *jobs.Runner) {
	r.Handle(jobPaymentEvent, s.handlePaymentEvent)
	r.Handle(jobRefund, s.handleRefund)
	r.Handle(jobConfirmation, s.handleConfirmation)
	r.Handle(jobCloseSession, s.handleCloseSession)
}

// Open returns the order number if token opens it, else ErrNotFound, the
// same answer whether or not the order exists.
func (s *Service) Open(ctx context.Context, number, token string) (*Order, error) {
	if !s.tokens.Valid(number, token) {
		return nil, ErrNotFound
	}
	return Get(ctx, s.db.Reader(), number)
}

// StartPayment opens a payment session for a pending order (or returns the
// one it has) and records where to send the shopper. The provider call
// carries an idempotency key of the order, so a retry after a timeout
// cannot open a second session.
func (s *Service) StartPayment(ctx context.Context, o *Order, returnURL string) (*Order, error) {
	if o.Status != PendingPayment {
		return o, nil
	}
	if o.PaymentURL != "" {
		return o, nil
	}
	p, ok := s.providers[o.PaymentProvider]
	if !ok {
		return nil, fmt.Errorf("order %s: no payment provider %q", o.Number, o.PaymentProvider)
	}
	sess, err := p.CreateSession(ctx, payment.SessionRequest{
		Reference: o.Number, Amount: o.Total, Email: o.Email, Description: "Mistore order " + o.Number,
		ReturnURL: returnURL, ExpiresAt: o.ExpiresAt, IdempotencyKey: "order:" + o.Number + ":session",
	})
	if err != nil {
		return nil, fmt.Errorf("order %s: start payment: %w", o.Number, err)
	}
	if _, err := s.db.Exec(ctx, `UPDATE orders SET payment_session = $2, payment_url = $3, payment_status = 'open', updated_at = $4
		WHERE number = $1 AND status = 'pending_payment' AND payment_session = ''`, o.Number, sess.ID, sess.URL, db.Now()); err != nil {
		return nil, fmt.Errorf("order %s: record payment session: %w", o.Number, err)
	}
	return Get(ctx, s.db.Reader(), o.Number)
}

// StartPaymentTx opens the payment session of o inside tx, the
// transaction that places it, between Allocate and Insert, when its
// provider keeps its sessions in the store's own database
// (payment.LocalSessions): the session is recorded on o, and Insert writes
// it with the order. started is false for any other provider, whose
// session StartPayment opens after the commit.
func (s *Service) StartPaymentTx(ctx context.Context, tx db.Querier, o *Order, returnURL string) (started bool, err error) {
	p, ok := s.providers[o.PaymentProvider].(payment.LocalSessions)
	if !ok || o.Status != PendingPayment || o.PaymentURL != "" {
		return false, nil
	}
	sess, err := p.CreateSessionTx(ctx, tx, payment.SessionRequest{
		Reference: o.Number, Amount: o.Total, Email: o.Email, Description: "Mistore order " + o.Number,
		ReturnURL: returnURL, ExpiresAt: o.ExpiresAt, IdempotencyKey: "order:" + o.Number + ":session",
	})
	if err != nil {
		return false, fmt.Errorf("order %s: start payment: %w", o.Number, err)
	}
	o.PaymentSession, o.PaymentURL, o.PaymentStatus = sess.ID, sess.URL, "open"
	return true, nil
}

// AcceptWebhook verifies a provider's webhook and queues its event for
// processing, once per event id: a redelivered or replayed event is
// accepted (so the provider stops retrying) and does nothing.
func (s *Service) AcceptWebhook(ctx context.Context, provider string, payload []byte, header map[string][]string) error {
	p, ok := s.providers[provider]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownProvider, provider)
	}
	ev, err := p.ParseWebhook(payload, header, s.now())
	if err != nil {
		return err
	}
	// Record and apply the event in one transaction: the provider gets its
	// 2xx only once the order has moved. Should applying fail, the event
	// is recorded with a job to apply it later instead, so it is never
	// lost and the provider need not retry.
	var pre *prepared
	if ev.Type == payment.EventPaymentSucceeded {
		pre = s.prerender(ctx, ev.Reference)
	}
	err = s.payTx(ctx, func(ctx context.Context, tx db.Querier) error {
		fresh, err := recordEvent(ctx, tx, provider, ev.ID)
		if err != nil || !fresh {
			return err
		}
		return s.applyEvent(ctx, tx, provider, ev, pre)
	})
	if err == nil {
		return nil
	}
	s.log.Warn("payment event queued after a failure to apply it", "provider", provider, "event", ev.ID, "err", err)
	return s.db.Tx(ctx, func(tx db.Querier) error {
		fresh, err := recordEvent(ctx, tx, provider, ev.ID)
		if err != nil || !fresh {
			return err
		}
		return jobs.Enqueue(ctx, tx, jobPaymentEvent, paymentEventJob{Provider: provider, Event: ev},
			jobs.Options{UniqueKey: "event:" + provider + ":" + ev.ID})
	})
}

// recordEvent notes a provider event as seen; fresh is false for one seen
// before.
func recordEvent(ctx context.Context, tx db.Querier, provider, id string) (fresh bool, err error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO payment_events (provider, event_id, received_at) VALUES ($1, $2, $3)
		ON CONFLICT (provider, event_id) DO NOTHING`, provider, id, db.Now())
	if err != nil {
		return false, fmt.Errorf("record event %s: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

type paymentEventJob struct {
	Provider string        `json:"provider"`
	Event    payment.Event `json:"event"`
}

func (s *Service) handlePaymentEvent(ctx context.Context, j jobs.Job) error {
	var pj paymentEventJob
	if err := json.Unmarshal(j.Payload, &pj); err != nil {
		return jobs.Permanent(err)
	}
	return s.payTx(ctx, func(ctx context.Context, tx db.Querier) error {
		return s.applyEvent(ctx, tx, pj.Provider, pj.Event, nil)
	})
}

// applyEvent moves the order an event is about, inside tx.
func (s *Service) applyEvent(ctx context.Context, tx db.Querier, provider string, ev payment.Event, pre *prepared) error {
	switch ev.Type {
	case payment.EventPaymentSucceeded:
		return s.applyPayment(ctx, tx, provider, ev.Reference, ev.SessionID, ev.ChargeID, ev.Amount, pre)
	case payment.EventPaymentFailed:
		return noteFailure(ctx, tx, ev)
	case payment.EventRefunded:
		return applyProviderRefund(ctx, tx, provider, ev)
	case payment.EventDisputeOpened, payment.EventDisputeClosed:
		return applyDispute(ctx, tx, provider, ev)
	default:
		// Expiry is the order's own job; other events need nothing.
		return nil
	}
}

func noteFailure(ctx context.Context, tx db.Querier, ev payment.Event) error {
	o, err := Get(ctx, tx, ev.Reference)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if o.Status == PendingPayment {
		if _, err := tx.ExecContext(ctx, `UPDATE orders SET payment_status = 'declined', updated_at = $2 WHERE id = $1 AND status = 'pending_payment'`, o.ID, db.Now()); err != nil {
			return err
		}
	}
	msg := "A payment attempt failed."
	if ev.Message != "" {
		msg = "A payment attempt failed: " + ev.Message
	}
	if err := AddEvent(ctx, tx, o.ID, "payment_failed", msg); err != nil {
		return err
	}
	tallyOf(ctx).failed++
	return nil
}

// ApplyPayment records that the provider captured amount for order
// number. It is idempotent: the same charge applied five times, or racing
// the shopper's return, pays the order once. A payment for an order that
// expired meanwhile takes its stock again if it is still there, and is
// refunded if not.
func (s *Service) ApplyPayment(ctx context.Context, provider, number, sessionID, chargeID string, amount money.Money) error {
	pre := s.prerender(ctx, number)
	return s.payTx(ctx, func(ctx context.Context, tx db.Querier) error {
		return s.applyPayment(ctx, tx, provider, number, sessionID, chargeID, amount, pre)
	})
}

// prepared is what the transaction applying a payment can take from a
// read made before it, outside SQLite's writer and PostgreSQL's row lock:
// the order's lines, which never change once it is placed, and its
// confirmation email, rendered.
type prepared struct {
	order *Order
	// msg is the confirmation, or nil when the order was not waiting for
	// its payment or rendering failed (the transaction then renders, or
	// leaves it to a job).
	msg *notify.Message
}

// prerender reads order number and renders its confirmation if it is
// waiting for its payment; nil when the order could not be read. It
// serves SQLite, whose one writer should spend no time rendering. On
// PostgreSQL it returns nil: the transaction reads the order's lines once
// instead of the order twice, and rendering there holds only the order's
// row (the stock rows are taken last).
func (s *Service) prerender(ctx context.Context, number string) *prepared {
	if s.db.Dialect == db.Postgres {
		return nil
	}
	o, err := Get(ctx, s.db.Reader(), number)
	if err != nil {
		return nil
	}
	pre := &prepared{order: o}
	if s.confirmer == nil || o.Status != PendingPayment {
		return pre
	}
	if msg, err := s.confirmer.RenderConfirmation(ctx, o); err == nil {
		pre.msg = &msg
	}
	return pre
}

// message is the prerendered confirmation, or nil.
func (p *prepared) message() *notify.Message {
	if p == nil {
		return nil
	}
	return p.msg
}

// forPayment reads order number inside the transaction that applies a
// payment to it, holding its row until the commit on PostgreSQL (SQLite's
// one writer needs no lock): the lock order is the order's row first, then
// the sales' rows (as an expiry does), then claims, then stock. The lines
// come from pre when it read the same order.
func (s *Service) forPayment(ctx context.Context, tx db.Querier, number string, pre *prepared) (*Order, error) {
	lock := ""
	if s.db.Dialect == db.Postgres {
		lock = " FOR UPDATE"
	}
	o, err := header(ctx, tx, "number = $1", lock, number)
	if err != nil {
		return nil, err
	}
	if pre != nil && pre.order != nil && pre.order.ID == o.ID {
		o.Lines = pre.order.Lines
		return o, nil
	}
	return o, readLines(ctx, tx, o)
}

// applyPayment is ApplyPayment inside the caller's transaction; pre is
// what was read and rendered before it, or nil.
func (s *Service) applyPayment(ctx context.Context, tx db.Querier, provider, number, sessionID, chargeID string, amount money.Money, pre *prepared) error {
	o, err := s.forPayment(ctx, tx, number, pre)
	if errors.Is(err, ErrNotFound) {
		return jobs.Permanent(fmt.Errorf("payment for unknown order %s", number))
	}
	if err != nil {
		return err
	}
	now := db.Now()
	// The charge row is the idempotency record: one per charge.
	res, err := tx.ExecContext(ctx, `INSERT INTO payments (order_id, provider, kind, provider_ref, amount, currency, status, idempotency_key, created_at, updated_at)
		VALUES ($1, $2, 'charge', $3, $4, $5, 'succeeded', $6, $7, $7) ON CONFLICT (idempotency_key) DO NOTHING`,
		o.ID, provider, chargeID, amount.Amount, amount.Currency, "charge:"+provider+":"+chargeID, now)
	if err != nil {
		return fmt.Errorf("record charge %s: %w", chargeID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // seen this charge before
	}
	if amount != o.Total {
		if err := AddEvent(ctx, tx, o.ID, "payment_mismatch", fmt.Sprintf("The provider captured %s, not the order total %s; it is refunded.", amount.Format(), o.Total.Format())); err != nil {
			return err
		}
		return s.refundCaptured(ctx, tx, o, sessionID, chargeID, amount, "amount mismatch")
	}
	// The stock rows change last (see inventory.CommitLater).
	var sold inventory.Settlement
	if o.Status == Cancelled && o.CancelReason != notPaidInTime {
		// Cancelled on purpose, by the customer or staff, not by its
		// payment window closing: the order stays cancelled.
		if err := AddEvent(ctx, tx, o.ID, "paid_after_cancel", "Payment arrived after the order was cancelled; it is refunded."); err != nil {
			return err
		}
		return s.refundCaptured(ctx, tx, o, sessionID, chargeID, amount, "paid after cancellation")
	}
	switch o.Status {
	case PendingPayment, Cancelled:
		if s.claims != nil {
			ok, err := s.claims.Paid(ctx, tx, o.Number, o.Owner())
			if err != nil {
				return err
			}
			if !ok {
				// A flash-sale claim's units were given back (or ran out):
				// they are never sold again from general stock at the
				// sale's price.
				return s.claimGone(ctx, tx, o, sessionID, chargeID, amount, now)
			}
		}
		committed := 0
		if o.Status == PendingPayment {
			if committed, sold, err = inventory.CommitLater(ctx, tx, o.Owner()); err != nil {
				return err
			}
		}
		if committed > 0 {
			break
		}
		// The window closed before the money came (the order was
		// cancelled, or its reservation swept while still pending): sell
		// again what is still there, or give the money back.
		lines := make([]inventory.Line, len(o.Lines))
		for i, l := range o.Lines {
			lines[i] = inventory.Line{SKU: l.SKU, Quantity: l.Quantity}
		}
		if err := reserveAgain(ctx, tx, o, lines); err != nil {
			if !errors.Is(err, inventory.ErrOutOfStock) {
				return err
			}
			if o.Status == PendingPayment {
				if _, err := tx.ExecContext(ctx, `UPDATE orders SET status = 'cancelled', cancelled_at = $2, cancel_reason = 'not paid in time',
						expires_at = NULL, updated_at = $2 WHERE id = $1`, o.ID, now); err != nil {
					return err
				}
			}
			if err := AddEvent(ctx, tx, o.ID, "paid_after_cancel", "Payment arrived after the order's stock was released, and the stock is gone; it is refunded."); err != nil {
				return err
			}
			return s.refundCaptured(ctx, tx, o, sessionID, chargeID, amount, "paid after cancellation")
		}
	default:
		// Already paid by another charge: give this one back.
		if err := AddEvent(ctx, tx, o.ID, "duplicate_payment", "A second payment arrived; it is refunded."); err != nil {
			return err
		}
		return s.refundCaptured(ctx, tx, o, sessionID, chargeID, amount, "duplicate payment")
	}
	if _, err := tx.ExecContext(ctx, `UPDATE orders SET status = 'paid', payment_status = 'succeeded', payment_session = $2,
			paid_amount = paid_amount + $3, paid_at = $4, expires_at = NULL, cancelled_at = NULL, cancel_reason = '', updated_at = $4
		WHERE id = $1`, o.ID, sessionID, amount.Amount, now); err != nil {
		return fmt.Errorf("mark %s paid: %w", o.Number, err)
	}
	tallyOf(ctx).paid++
	if err := notify.EmitEvent(ctx, tx, notify.EventOrderPaid, WebhookData(o, Paid)); err != nil {
		return err
	}
	// The timeline's "paid" goes in with the confirmation's "email".
	paid := Event{Kind: "paid", Detail: "Payment of " + amount.Format() + " received."}
	if err := s.confirm(ctx, tx, o, pre.message(), paid); err != nil {
		return err
	}
	return sold.Apply(ctx, tx)
}

// claimGone refunds a payment for an order whose flash-sale claim was
// given back before the money came, cancelling the order if it was still
// waiting (and giving back what it holds).
func (s *Service) claimGone(ctx context.Context, tx db.Querier, o *Order, sessionID, chargeID string, amount money.Money, now time.Time) error {
	if o.Status == PendingPayment {
		res, err := tx.ExecContext(ctx, `UPDATE orders SET status = 'cancelled', cancelled_at = $2, cancel_reason = 'not paid in time',
				payment_status = 'expired', expires_at = NULL, updated_at = $2 WHERE id = $1 AND status = 'pending_payment'`, o.ID, now)
		if err != nil {
			return fmt.Errorf("cancel %s: %w", o.Number, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			if err := s.afterUnpaidCancel(ctx, tx, o.Number, "The flash-sale claim ran out before payment; its units went back to the sale."); err != nil {
				return err
			}
		}
	}
	if err := AddEvent(ctx, tx, o.ID, "paid_after_cancel", "Payment arrived after the flash-sale claim ran out and its units went back to the sale; it is refunded."); err != nil {
		return err
	}
	return s.refundCaptured(ctx, tx, o, sessionID, chargeID, amount, "paid after cancellation")
}

// confirm queues the confirmation email of a paid order in its
// transaction, writing the events before to its timeline first. Should
// the email fail (a template, say), a job tries again later rather than
// the payment failing.
func (s *Service) confirm(ctx context.Context, tx db.Querier, o *Order, pre *notify.Message, before ...Event) error {
	if s.confirmer == nil {
		return AddEvents(ctx, tx, o.ID, before...)
	}
	if err := s.queueConfirmation(ctx, tx, o, pre, before...); err != nil {
		s.log.Warn("confirmation email left to a job", "order", o.Number, "err", err)
		if err := AddEvents(ctx, tx, o.ID, before...); err != nil {
			return err
		}
		return jobs.Enqueue(ctx, tx, jobConfirmation, map[string]string{"number": o.Number},
			jobs.Options{UniqueKey: "confirmation:" + o.Number})
	}
	return nil
}

// queueConfirmation queues o's confirmation email and notes it on the
// order's timeline after the events before, in one statement, inside tx.
func (s *Service) queueConfirmation(ctx context.Context, tx db.Querier, o *Order, pre *notify.Message, before ...Event) error {
	if pre == nil || pre.UniqueKey != notify.OrderConfirmationKey(o.Number) {
		msg, err := s.confirmer.RenderConfirmation(ctx, o)
		if err != nil {
			return err
		}
		pre = &msg
	}
	if err := s.confirmer.QueueMessage(ctx, tx, *pre); err != nil {
		return err
	}
	return AddEvents(ctx, tx, o.ID, append(before, Event{Kind: "email", Detail: "Order confirmation emailed to " + o.Email + "."})...)
}

// reserveAgain takes the stock of a cancelled order again and commits it
// at once: the order is being paid.
func reserveAgain(ctx context.Context, tx db.Querier, o *Order, lines []inventory.Line) error {
	if err := inventory.Reserve(ctx, tx, o.Market, o.Owner(), lines, time.Now().Add(time.Minute)); err != nil {
		return err
	}
	_, err := inventory.Commit(ctx, tx, o.Owner())
	return err
}

// refundCaptured counts money the provider captured for an order that
// cannot keep it, and queues its refund: paid_amount and refunded_amount
// then both tell the truth about what moved.
func (s *Service) refundCaptured(ctx context.Context, tx db.Querier, o *Order, sessionID, chargeID string, amount money.Money, reason string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE orders SET paid_amount = paid_amount + $2, updated_at = $3 WHERE id = $1`, o.ID, amount.Amount, db.Now()); err != nil {
		return fmt.Errorf("record captured %s on %s: %w", amount, o.Number, err)
	}
	return s.queueRefund(ctx, tx, o, sessionID, chargeID, amount, reason)
}

type refundJob struct {
	Number    string      `json:"number"`
	Provider  string      `json:"provider"`
	SessionID string      `json:"session_id"`
	ChargeID  string      `json:"charge_id"`
	Amount    money.Money `json:"amount"`
	Reason    string      `json:"reason"`
	Key       string      `json:"key"`
	// RefundID is the order_refunds row of a refund counted against the
	// capture when it was asked for (reserveRefund); 0 for the refunds
	// above, counted when the provider has made them.
	RefundID int64 `json:"refund_id,omitempty"`
}

// queueRefund queues a refund through the provider. The job's key is also
// the provider's idempotency key, so the money goes back once.
func (s *Service) queueRefund(ctx context.Context, tx db.Querier, o *Order, sessionID, chargeID string, amount money.Money, reason string) error {
	key := "refund:" + o.Number + ":" + chargeID
	return jobs.Enqueue(ctx, tx, jobRefund, refundJob{
		Number: o.Number, Provider: o.PaymentProvider, SessionID: sessionID, ChargeID: chargeID, Amount: amount, Reason: reason, Key: key,
	}, jobs.Options{UniqueKey: key, MaxAttempts: 20})
}

func (s *Service) handleRefund(ctx context.Context, j jobs.Job) error {
	var rj refundJob
	if err := json.Unmarshal(j.Payload, &rj); err != nil {
		return jobs.Permanent(err)
	}
	p, ok := s.providers[rj.Provider]
	if !ok {
		return jobs.Permanent(fmt.Errorf("refund %s: no provider %q", rj.Number, rj.Provider))
	}
	r, err := p.Refund(ctx, payment.RefundRequest{SessionID: rj.SessionID, ChargeID: rj.ChargeID, Amount: rj.Amount, Reason: rj.Reason, IdempotencyKey: rj.Key})
	if errors.Is(err, payment.ErrRefundRefused) {
		return s.refundRefused(ctx, rj, err)
	}
	if err != nil {
		return err
	}
	return s.db.Tx(ctx, func(tx db.Querier) error {
		o, err := Get(ctx, tx, rj.Number)
		if err != nil {
			return err
		}
		now := db.Now()
		res, err := tx.ExecContext(ctx, `INSERT INTO payments (order_id, provider, kind, provider_ref, amount, currency, status, idempotency_key, created_at, updated_at)
			VALUES ($1, $2, 'refund', $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (idempotency_key) DO NOTHING`,
			o.ID, rj.Provider, r.ID, rj.Amount.Amount, rj.Amount.Currency, r.Status, rj.Key, now)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		if rj.RefundID != 0 {
			if err := markRefunded(ctx, tx, rj.RefundID, r.ID, r.Status); err != nil {
				return err
			}
		} else if o.Status == Cancelled || o.Status == Paid {
			// Only money this order kept counts against what it was paid.
			if _, err := tx.ExecContext(ctx, `UPDATE orders SET refunded_amount = refunded_amount + $2, updated_at = $3
				WHERE id = $1 AND refunded_amount + $2 <= paid_amount`, o.ID, rj.Amount.Amount, now); err != nil {
				return err
			}
		}
		detail := rj.Amount.Format() + " refunded (" + rj.Reason + ")."
		if rj.RefundID != 0 {
			// Staff's reason is for the back office, not the timeline the
			// customer reads.
			detail = rj.Amount.Format() + " refunded."
		}
		if err := AddEvent(ctx, tx, o.ID, "refunded", detail); err != nil {
			return err
		}
		// The money is back with the customer: tell the integrations, in
		// the transaction that records it, so a crash sends it exactly
		// when the refund is recorded.
		after, err := Get(ctx, tx, rj.Number)
		if err != nil {
			return err
		}
		return notify.EmitEvent(ctx, tx, notify.EventOrderRefunded, RefundWebhook{WebhookOrder: WebhookData(after, after.Status), Refund: rj.Amount})
	})
}

// RefundWebhook is the data of the order.refunded event: the order after
// the refund, and the amount this refund sent back.
type RefundWebhook struct {
	WebhookOrder
	Refund money.Money `json:"refund"`
}

// ExpireDue cancels up to limit orders whose payment window has closed
// unpaid, the longest overdue first, and reports how many it cancelled.
// The store runs it every few seconds. An order's expires_at is the
// durable record that it must expire: placing an order queues nothing
// and paying it leaves nothing behind, and a restart loses nothing, as
// the next sweep finds every window that closed meanwhile. Several
// instances may sweep at once; Expire lets one of them cancel each order.
func (s *Service) ExpireDue(ctx context.Context, limit int) (int, error) {
	var numbers []string
	err := db.EachRow(ctx, s.db.Reader(), `SELECT number FROM orders
		WHERE status = 'pending_payment' AND expires_at <= $1 ORDER BY expires_at LIMIT $2`,
		[]any{db.Time(s.now()), limit}, func(rows *sql.Rows) error {
			var n string
			err := rows.Scan(&n)
			numbers = append(numbers, n)
			return err
		})
	if err != nil {
		return 0, fmt.Errorf("find expired orders: %w", err)
	}
	cancelled := 0
	for _, n := range numbers {
		did, err := s.Expire(ctx, n)
		if err != nil {
			return cancelled, err
		}
		if did {
			cancelled++
		}
	}
	return cancelled, nil
}

// Expire cancels an order whose payment window has closed unpaid and gives
// its stock and coupon use back. It reports whether it cancelled.
func (s *Service) Expire(ctx context.Context, number string) (bool, error) {
	cancelled := false
	err := s.db.Tx(ctx, func(tx db.Querier) error {
		now := db.Time(s.now())
		res, err := tx.ExecContext(ctx, `UPDATE orders SET status = 'cancelled', cancelled_at = $2, cancel_reason = 'not paid in time',
				payment_status = CASE WHEN payment_status = 'declined' THEN 'declined' ELSE 'expired' END, expires_at = NULL, updated_at = $2
			WHERE number = $1 AND status = 'pending_payment' AND expires_at <= $2`, number, now)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		cancelled = true
		return s.afterUnpaidCancel(ctx, tx, number, "The order was not paid in time; its stock is released.")
	})
	if err != nil {
		return false, fmt.Errorf("expire %s: %w", number, err)
	}
	return cancelled, nil
}

// afterUnpaidCancel releases an unpaid cancelled order's stock and coupon.
func (s *Service) afterUnpaidCancel(ctx context.Context, tx db.Querier, number, detail string) error {
	o, err := Get(ctx, tx, number)
	if err != nil {
		return err
	}
	if s.claims != nil {
		// Before Release: a running sale takes its units back into its
		// pool, and Release then returns only the rest to the warehouse.
		if err := s.claims.Unpaid(ctx, tx, o.Number, o.Owner()); err != nil {
			return err
		}
	}
	if _, err := inventory.Release(ctx, tx, o.Owner()); err != nil {
		return err
	}
	if err := s.closeSession(ctx, tx, o); err != nil {
		return err
	}
	if o.CouponCode != "" {
		res, err := tx.ExecContext(ctx, "DELETE FROM coupon_redemptions WHERE order_id = $1", o.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			if _, err := tx.ExecContext(ctx, "UPDATE coupons SET used = used - 1 WHERE code = $1 AND used > 0", o.CouponCode); err != nil {
				return err
			}
		}
	}
	return AddEvent(ctx, tx, o.ID, "cancelled", detail)
}

// closeSession closes cancelled order o's payment session at its
// provider, so that the shopper cannot pay for it any more: inside tx for
// a provider whose sessions are the store's (the test provider's page
// then says the payment window closed), by a job for one reached over
// the network. A payment that gets in first is refunded when it is
// reported (paid_after_cancel).
func (s *Service) closeSession(ctx context.Context, tx db.Querier, o *Order) error {
	if o.PaymentSession == "" {
		return nil
	}
	switch p := s.providers[o.PaymentProvider].(type) {
	case payment.LocalSessions:
		return p.CloseSessionTx(ctx, tx, o.PaymentSession)
	case payment.SessionCloser:
		key := "close-session:" + o.PaymentProvider + ":" + o.PaymentSession
		return jobs.Enqueue(ctx, tx, jobCloseSession, closeSessionJob{Number: o.Number, Provider: o.PaymentProvider, SessionID: o.PaymentSession},
			jobs.Options{UniqueKey: key, MaxAttempts: 10})
	}
	return nil
}

// notPaidInTime is the cancel reason of an order whose payment window
// closed (the statements that cancel one write it as a literal): a
// payment that arrives late revives such an order if its stock is still
// there, unlike one cancelled on purpose.
const notPaidInTime = "not paid in time"

type closeSessionJob struct {
	Number    string `json:"number"`
	Provider  string `json:"provider"`
	SessionID string `json:"session_id"`
}

func (s *Service) handleCloseSession(ctx context.Context, j jobs.Job) error {
	var cj closeSessionJob
	if err := json.Unmarshal(j.Payload, &cj); err != nil {
		return jobs.Permanent(err)
	}
	p, ok := s.providers[cj.Provider].(payment.SessionCloser)
	if !ok {
		return jobs.Permanent(fmt.Errorf("close the session of %s: provider %q cannot", cj.Number, cj.Provider))
	}
	return p.CloseSession(ctx, cj.SessionID)
}

// Cancel cancels an order for its customer before it ships: an unpaid one
// gives its stock back; a paid one puts its stock back on hand and is
// refunded in full through the provider.
func (s *Service) Cancel(ctx context.Context, number string) (*Order, error) {
	err := s.db.Tx(ctx, func(tx db.Querier) error {
		o, err := Get(ctx, tx, number)
		if err != nil {
			return err
		}
		now := db.Now()
		switch o.Status {
		case PendingPayment:
			res, err := tx.ExecContext(ctx, `UPDATE orders SET status = 'cancelled', cancelled_at = $2, cancel_reason = 'cancelled by the customer',
					expires_at = NULL, updated_at = $2 WHERE id = $1 AND status = 'pending_payment'`, o.ID, now)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return ErrState
			}
			return s.afterUnpaidCancel(ctx, tx, number, "Cancelled by the customer before payment.")
		case Paid:
			res, err := tx.ExecContext(ctx, `UPDATE orders SET status = 'cancelled', cancelled_at = $2, cancel_reason = 'cancelled by the customer',
					updated_at = $2 WHERE id = $1 AND status = 'paid'`, o.ID, now)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return ErrState
			}
			if _, err := inventory.Restock(ctx, tx, o.Owner()); err != nil {
				return err
			}
			if err := AddEvent(ctx, tx, o.ID, "cancelled", "Cancelled by the customer; a full refund is on its way."); err != nil {
				return err
			}
			// Counted against the capture now, like a staff refund, so a
			// refund running at the same time cannot take the same money.
			_, err = s.refundRest(ctx, tx, o, "cancelled by the customer")
			return err
		}
		return fmt.Errorf("%w: a %s order cannot be cancelled", ErrState, o.Status)
	})
	if err != nil {
		return nil, fmt.Errorf("cancel %s: %w", number, err)
	}
	return Get(ctx, s.db.Reader(), number)
}

// SyncPayment asks the provider how a pending order's session stands and
// applies a success: for a shopper who returns before the webhook.
func (s *Service) SyncPayment(ctx context.Context, o *Order) (*Order, error) {
	if o.Status != PendingPayment || o.PaymentSession == "" {
		return o, nil
	}
	p, ok := s.providers[o.PaymentProvider]
	if !ok {
		return o, nil
	}
	sess, err := p.GetSession(ctx, o.PaymentSession)
	if err != nil {
		return o, err
	}
	if sess.Status == payment.SessionSucceeded {
		if err := s.ApplyPayment(ctx, o.PaymentProvider, o.Number, sess.ID, sess.ChargeID, sess.Amount); err != nil {
			return o, err
		}
		return Get(ctx, s.db.Reader(), o.Number)
	}
	return o, nil
}

func (s *Service) handleConfirmation(ctx context.Context, j jobs.Job) error {
	if s.confirmer == nil {
		return nil
	}
	var p struct {
		Number string `json:"number"`
	}
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return jobs.Permanent(err)
	}
	return s.db.Tx(ctx, func(tx db.Querier) error {
		o, err := Get(ctx, tx, p.Number)
		if err != nil {
			return err
		}
		return s.queueConfirmation(ctx, tx, o, nil)
	})
}
