package order

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"mistore/internal/audit"
	"mistore/internal/db"
	"mistore/internal/money"
	"mistore/internal/notify"
	"mistore/internal/payment"
)

// Dispute is a chargeback: the customer's bank disputes a payment and
// takes the money back unless the shop answers at the payment provider,
// with evidence, by DueBy. The provider reports how it ends.
type Dispute struct {
	ID       int64
	Provider string
	// Ref is the provider's id of the dispute, where staff answer it.
	Ref    string
	Amount money.Money
	// Reason is the bank's, in the provider's words ("fraudulent",
	// "product not received").
	Reason string
	Status DisputeStatus
	// DueBy is when the answer must be in; zero when the provider did
	// not say.
	DueBy     time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// DisputeStatus is where a dispute stands.
type DisputeStatus string

// The states of a dispute.
const (
	DisputeOpen DisputeStatus = "open"
	DisputeWon  DisputeStatus = "won"
	DisputeLost DisputeStatus = "lost"
)

// DisputeWebhook is the data of the order.disputed event: the order, and
// the dispute as it now stands.
type DisputeWebhook struct {
	WebhookOrder
	Dispute disputeAudit `json:"dispute"`
}

// disputeAudit is a dispute as the audit log and the order.disputed
// webhook tell it.
type disputeAudit struct {
	Dispute string        `json:"dispute"`
	Status  DisputeStatus `json:"status"`
	Amount  money.Money   `json:"amount"`
	Reason  string        `json:"reason,omitempty"`
	DueBy   *time.Time    `json:"due_by,omitempty"`
}

// applyDispute records a provider's dispute event for the order it is
// about, inside tx: an opened dispute, and how it ended. Each dispute is
// one row, moved from open to its outcome once, so the provider's events
// repeated or out of order (the end before the start) record it once;
// the end of a dispute the store never heard open is recorded as ended.
// A lost dispute's amount went back to the customer: it is counted as a
// refund by the provider (moneyBack), unless the order was refunded or
// cancelled already.
func applyDispute(ctx context.Context, tx db.Querier, provider string, ev payment.Event) error {
	o, err := eventOrder(ctx, tx, provider, ev)
	if err != nil || o == nil || o.PaymentProvider != provider || ev.DisputeID == "" || ev.Amount.Currency != o.Currency || ev.Amount.Amount <= 0 {
		return err
	}
	status := DisputeOpen
	if ev.Type == payment.EventDisputeClosed {
		switch ev.Outcome {
		case payment.DisputeWon:
			status = DisputeWon
		case payment.DisputeLost:
			status = DisputeLost
		default:
			return fmt.Errorf("dispute %s of %s: unknown outcome %q", ev.DisputeID, o.Number, ev.Outcome)
		}
	}
	var due *time.Time
	if !ev.DueBy.IsZero() {
		t := db.Time(ev.DueBy)
		due = &t
	}
	now := db.Now()
	res, err := tx.ExecContext(ctx, `INSERT INTO order_disputes (order_id, provider, dispute_ref, amount, currency, reason, status, due_by, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
		ON CONFLICT (provider, dispute_ref) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at
		WHERE order_disputes.status = 'open' AND excluded.status <> 'open'`,
		o.ID, provider, ev.DisputeID, ev.Amount.Amount, ev.Amount.Currency, ev.Message, string(status), due, now)
	if err != nil {
		return fmt.Errorf("dispute %s of %s: %w", ev.DisputeID, o.Number, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	actor := audit.Actor{Kind: audit.KindSystem, Name: provider}
	action := "order.dispute_" + string(status)
	da := disputeAudit{Dispute: ev.DisputeID, Status: status, Amount: ev.Amount, Reason: ev.Message, DueBy: due}
	if err := audit.RecordAs(ctx, tx, actor, action, subject(o), nil, da); err != nil {
		return err
	}
	// Integrations hear of it too (a chat alert, say): an open dispute
	// has a date to answer by.
	if err := notify.EmitEvent(ctx, tx, notify.EventOrderDisputed, DisputeWebhook{WebhookOrder: WebhookData(o, o.Status), Dispute: da}); err != nil {
		return err
	}
	if status != DisputeLost {
		return nil
	}
	locked, err := lockForChange(ctx, tx, o.Number, providerRefundable...)
	if errors.Is(err, ErrState) {
		// Refunded or cancelled already: the money was back before the
		// bank took it.
		return nil
	}
	if err != nil {
		return err
	}
	reason := "lost a payment dispute"
	if ev.Message != "" {
		reason += " (" + ev.Message + ")"
	}
	back := ev.Amount
	if left := locked.PaidAmount.Sub0(locked.RefundedAmount); back.Amount > left.Amount {
		back = left
	}
	if back.Amount <= 0 {
		return nil
	}
	return moneyBack(ctx, tx, locked, provider, ev.DisputeID, "dispute:"+provider+":"+ev.DisputeID, reason, back)
}

// disputeColumns are what scanDispute reads, in its order.
const disputeColumns = `d.id, d.provider, d.dispute_ref, d.amount, d.currency, d.reason, d.status, d.due_by, d.created_at, d.updated_at`

// scanDispute reads a row that ends with disputeColumns into a Dispute,
// the row's first columns into first.
func scanDispute(rows *sql.Rows, first ...any) (Dispute, error) {
	var d Dispute
	var amount int64
	var cur, status string
	var due sql.NullTime
	dest := append(first, &d.ID, &d.Provider, &d.Ref, &amount, &cur, &d.Reason, &status, &due, &d.CreatedAt, &d.UpdatedAt)
	if err := rows.Scan(dest...); err != nil {
		return Dispute{}, err
	}
	d.Amount, d.Status = money.New(amount, cur), DisputeStatus(status)
	if due.Valid {
		d.DueBy = due.Time.UTC()
	}
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	return d, nil
}

// disputes returns an order's disputes, oldest first.
func disputes(ctx context.Context, q db.Querier, o *Order) ([]Dispute, error) {
	var out []Dispute
	err := db.EachRow(ctx, q, `SELECT `+disputeColumns+` FROM order_disputes d WHERE d.order_id = $1 ORDER BY d.id`, []any{o.ID},
		func(rows *sql.Rows) error {
			d, err := scanDispute(rows)
			out = append(out, d)
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("disputes of %s: %w", o.Number, err)
	}
	return out, nil
}

// OpenDispute is a dispute still waiting for an answer or a decision, as
// the back office's dashboard lists it.
type OpenDispute struct {
	Number string
	Dispute
}

// maxOpenDisputes bounds the dashboard's list.
const maxOpenDisputes = 100

// OpenDisputes returns the disputes still open, the soonest due first
// (those without a due date last), at most maxOpenDisputes.
func (s *Service) OpenDisputes(ctx context.Context) ([]OpenDispute, error) {
	var out []OpenDispute
	err := db.EachRow(ctx, s.db.Reader(), `SELECT o.number, `+disputeColumns+`
		FROM order_disputes d JOIN orders o ON o.id = d.order_id
		WHERE d.status = 'open' ORDER BY d.due_by IS NULL, d.due_by, d.id LIMIT $1`, []any{maxOpenDisputes}, func(rows *sql.Rows) error {
		var number string
		d, err := scanDispute(rows, &number)
		out = append(out, OpenDispute{Number: number, Dispute: d})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open disputes: %w", err)
	}
	return out, nil
}
