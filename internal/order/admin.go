package order

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"mistore/internal/audit"
	"mistore/internal/db"
	"mistore/internal/input"
	"mistore/internal/money"
)

// Outcomes of the back office's order work.
var (
	// ErrRefundExceedsCaptured: the refund asked for, added to what was
	// refunded already, would give back more than the provider captured.
	ErrRefundExceedsCaptured = errors.New("refund exceeds what is left of the captured payment")
	// ErrReturnNotFound: the order has no return with that id.
	ErrReturnNotFound = errors.New("return not found")
)

// RefundExceedsError is ErrRefundExceedsCaptured told with its amounts.
type RefundExceedsError struct {
	Asked, Left, Captured money.Money
}

func (e *RefundExceedsError) Error() string {
	if e.Left.Amount <= 0 {
		return fmt.Sprintf("Nothing is left to refund: all of the %s captured has been refunded.", e.Captured.Format())
	}
	return fmt.Sprintf("A refund of %s is more than the %s left of the %s captured.", e.Asked.Format(), e.Left.Format(), e.Captured.Format())
}

// Is makes a RefundExceedsError ErrRefundExceedsCaptured.
func (e *RefundExceedsError) Is(target error) bool { return target == ErrRefundExceedsCaptured }

// FieldError is input the back office (or a customer's return form) sent
// that cannot be used, naming the field at fault. Its Error is the
// sentence to show. It is every back-office write's input.FieldError, so
// the web layer answers them all alike (422).
type FieldError = input.FieldError

// cleanText trims s and checks it is at most max characters of one line
// of printable text: carriers, tracking numbers and reasons are shown on
// pages and in emails, so control characters have no business in them.
func cleanText(field, s string, max int, required bool) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" && required {
		return "", input.Invalid(field, "The %s is required.", strings.ReplaceAll(field, "_", " "))
	}
	if len([]rune(s)) > max {
		return "", input.Invalid(field, "The %s is longer than %d characters.", strings.ReplaceAll(field, "_", " "), max)
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return "", input.Invalid(field, "The %s holds control characters.", strings.ReplaceAll(field, "_", " "))
		}
	}
	return s, nil
}

// Shipment is a parcel sent for an order.
type Shipment struct {
	ID             int64
	Carrier        string
	TrackingNumber string
	// Actor is who fulfilled it, as the audit log names them.
	Actor     string
	CreatedAt time.Time
	// DeliveredAt is zero until the order is marked delivered.
	DeliveredAt time.Time
}

// RefundStatus is how a staff refund stands at the provider.
type RefundStatus string

// Refund states: pending until the provider has answered.
const (
	RefundPending   RefundStatus = "pending"
	RefundSucceeded RefundStatus = "succeeded"
	RefundFailed    RefundStatus = "failed"
)

// RefundEntry is money staff gave back: a refund, a cancellation's, a
// return's. Its amount counts against the capture from the moment it is
// written.
type RefundEntry struct {
	ID          int64
	Amount      money.Money
	Reason      string
	Status      RefundStatus
	ProviderRef string
	// ReturnID is the return it pays for, 0 for none.
	ReturnID  int64
	Actor     string
	CreatedAt time.Time
}

// Detail is everything the back office shows of one order.
type Detail struct {
	Order     *Order
	Events    []Event
	Shipments []Shipment
	Refunds   []RefundEntry
	Returns   []Return
	// Disputes are the chargebacks the payment provider reported.
	Disputes []Dispute
}

// Refundable is what is left of the captured payment to give back.
func (d *Detail) Refundable() money.Money { return d.Order.PaidAmount.Sub0(d.Order.RefundedAmount) }

// Detail returns order number with its timeline, shipments, refunds and
// returns, for the back office.
func (s *Service) Detail(ctx context.Context, number string) (*Detail, error) {
	q := s.db.Reader()
	o, err := Get(ctx, q, number)
	if err != nil {
		return nil, err
	}
	d := &Detail{Order: o}
	if d.Events, err = Events(ctx, q, o.ID); err != nil {
		return nil, err
	}
	if d.Shipments, err = shipments(ctx, q, o.ID); err != nil {
		return nil, err
	}
	if d.Refunds, err = refunds(ctx, q, o); err != nil {
		return nil, err
	}
	if d.Disputes, err = disputes(ctx, q, o); err != nil {
		return nil, err
	}
	if d.Returns, err = returns(ctx, q, o); err != nil {
		return nil, err
	}
	return d, nil
}

// Shipments returns the parcels sent for order orderID, oldest first.
func Shipments(ctx context.Context, q db.Querier, orderID int64) ([]Shipment, error) {
	return shipments(ctx, q, orderID)
}

func shipments(ctx context.Context, q db.Querier, orderID int64) ([]Shipment, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, carrier, tracking_number, actor, created_at, delivered_at
		FROM shipments WHERE order_id = $1 ORDER BY id`, orderID)
	if err != nil {
		return nil, fmt.Errorf("order %d shipments: %w", orderID, err)
	}
	defer rows.Close()
	var out []Shipment
	for rows.Next() {
		var sh Shipment
		var delivered sql.NullTime
		if err := rows.Scan(&sh.ID, &sh.Carrier, &sh.TrackingNumber, &sh.Actor, &sh.CreatedAt, &delivered); err != nil {
			return nil, fmt.Errorf("order %d shipments: %w", orderID, err)
		}
		sh.CreatedAt = sh.CreatedAt.UTC()
		if delivered.Valid {
			sh.DeliveredAt = delivered.Time.UTC()
		}
		out = append(out, sh)
	}
	return out, rows.Err()
}

func refunds(ctx context.Context, q db.Querier, o *Order) ([]RefundEntry, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, amount, currency, reason, status, provider_ref, coalesce(return_id, 0), actor, created_at
		FROM order_refunds WHERE order_id = $1 ORDER BY id`, o.ID)
	if err != nil {
		return nil, fmt.Errorf("order %s refunds: %w", o.Number, err)
	}
	defer rows.Close()
	var out []RefundEntry
	for rows.Next() {
		var r RefundEntry
		var amount int64
		var cur, status string
		if err := rows.Scan(&r.ID, &amount, &cur, &r.Reason, &status, &r.ProviderRef, &r.ReturnID, &r.Actor, &r.CreatedAt); err != nil {
			return nil, fmt.Errorf("order %s refunds: %w", o.Number, err)
		}
		r.Amount, r.Status, r.CreatedAt = money.New(amount, cur), RefundStatus(status), r.CreatedAt.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// actorName is how shipments and refunds name who made them: the audit
// log's name of the actor in ctx.
func actorName(ctx context.Context) string {
	if a, ok := audit.ActorFrom(ctx); ok {
		return a.String()
	}
	return ""
}

// subject is an order's name in the audit log.
func subject(o *Order) string { return "order:" + o.Number }

// auditState is the part of an order that staff actions change, as the
// audit log keeps it before and after.
type auditState struct {
	Status   Status      `json:"status"`
	Paid     money.Money `json:"paid"`
	Refunded money.Money `json:"refunded"`
}

func stateOf(o *Order) auditState {
	return auditState{Status: o.Status, Paid: o.PaidAmount, Refunded: o.RefundedAmount}
}

// lockForChange takes order number's row inside tx (a no-op update of
// updated_at, allowed only in one of the given states) and returns it as
// it is now. Every staff change begins here, so two changes of one order
// run one after the other on either engine, and each sees the other's
// outcome. A state not allowed is ErrState.
func lockForChange(ctx context.Context, tx db.Querier, number string, allowed ...Status) (*Order, error) {
	o, err := Get(ctx, tx, number)
	if err != nil {
		return nil, err
	}
	res, err := tx.ExecContext(ctx, "UPDATE orders SET updated_at = $2 WHERE id = $1 AND status IN ("+statusList(allowed)+")", o.ID, db.Now())
	if err != nil {
		return nil, fmt.Errorf("lock order %s: %w", number, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, fmt.Errorf("%w: order %s is %s", ErrState, number, statusWords(o.Status))
	}
	// Read again: on PostgreSQL the first read may predate a change that
	// committed while this transaction waited for the row.
	return Get(ctx, tx, number)
}

// statusList writes statuses as an SQL list of literals. They are the
// package's own constants, never input.
func statusList(ss []Status) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = "'" + string(s) + "'"
	}
	return strings.Join(parts, ", ")
}

func statusWords(s Status) string { return strings.ReplaceAll(string(s), "_", " ") }

// Statuses is every order status, in lifecycle order, for filters.
var Statuses = []Status{PendingPayment, Paid, Fulfilled, Delivered, PartiallyRefunded, Refunded, Cancelled}

// ValidStatus reports whether s is an order status.
func ValidStatus(s Status) bool {
	for _, k := range Statuses {
		if k == s {
			return true
		}
	}
	return false
}
