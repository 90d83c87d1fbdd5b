// Package order holds orders and their lifecycle: placed and waiting for
// payment, paid (the reservation becomes a sale), cancelled (stock comes
// back, money goes back), with a timeline of what happened.
package order

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"mistore/internal/db"
	"mistore/internal/money"
)

// Domain outcomes.
var (
	// ErrNotFound: no such order, or not yours (the two are not told apart).
	ErrNotFound = errors.New("order not found")
	// ErrState: the order is not in a state that allows the change.
	ErrState = errors.New("order state does not allow this")
	// ErrUnknownProvider: a webhook for a payment provider the store does
	// not use.
	ErrUnknownProvider = errors.New("no such payment provider")
)

// Status is where an order stands (API.md).
type Status string

// Order statuses.
const (
	PendingPayment    Status = "pending_payment"
	Paid              Status = "paid"
	Fulfilled         Status = "fulfilled"
	Delivered         Status = "delivered"
	Cancelled         Status = "cancelled"
	Refunded          Status = "refunded"
	PartiallyRefunded Status = "partially_refunded"
)

// PaymentWindow is how long a placed order waits for payment before it is
// cancelled and its stock released.
const PaymentWindow = 15 * time.Minute

// Address is where an order ships.
type Address struct {
	Name       string `json:"name"`
	Line1      string `json:"line1"`
	Line2      string `json:"line2"`
	City       string `json:"city"`
	Region     string `json:"region"`
	PostalCode string `json:"postal_code"`
	Country    string `json:"country"`
}

// Line is one product line of an order, with the name and prices of the
// moment it was placed.
type Line struct {
	SKU         string
	Name        string
	VariantName string
	Quantity    int
	UnitPrice   money.Money
	Total       money.Money
	Tax         money.Money
}

// Order is a placed order.
type Order struct {
	ID          int64
	Number      string
	Market      string
	CartID      string
	Email       string
	Status      Status
	Currency    string
	Subtotal    money.Money
	Discount    money.Money
	Shipping    money.Money
	Tax         money.Money
	Total       money.Money
	TaxIncluded bool
	CouponCode  string
	// ShippingMethod is the method's code; ShippingName what the shopper read.
	ShippingMethod string
	ShippingName   string
	Address        Address
	Lines          []Line

	PaymentProvider string
	PaymentStatus   string
	PaymentSession  string
	PaymentURL      string
	PaidAmount      money.Money
	RefundedAmount  money.Money

	ExpiresAt    time.Time // zero unless pending payment
	PaidAt       time.Time
	CancelledAt  time.Time
	CancelReason string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Owner is the reservation owner name of the order's stock.
func (o *Order) Owner() string { return "order:" + strconv.FormatInt(o.ID, 10) }

// Event is one entry of an order's timeline.
type Event struct {
	Kind      string
	Detail    string
	CreatedAt time.Time
}

// Tokens makes and checks order access tokens: an HMAC of the order number
// under a key the store keeps in its database. Nothing about the token is
// stored, it cannot be guessed, and it is checked in constant time.
type Tokens struct{ key []byte }

// NewTokens returns a token maker with key.
func NewTokens(key []byte) Tokens { return Tokens{key: key} }

// For returns the access token of order number.
func (t Tokens) For(number string) string {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte("order:" + number))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Valid reports whether token opens order number.
func (t Tokens) Valid(number, token string) bool {
	return token != "" && hmac.Equal([]byte(t.For(number)), []byte(token))
}

// numberFor makes the human order number of an order id in market: US-100001.
func numberFor(market string, id int64) string {
	return strings.ToUpper(market) + "-" + strconv.FormatInt(100000+id, 10)
}

// Allocate gives o its ID and Number inside the caller's transaction,
// ahead of Insert, so that what is written before the order (its payment
// session) can name it. Numbers come from the order id, so no counter row
// serialises checkouts.
func Allocate(ctx context.Context, tx db.Querier, d db.Dialect, o *Order) error {
	var id int64
	var err error
	if d == db.Postgres {
		err = tx.QueryRowContext(ctx, "SELECT nextval(pg_get_serial_sequence('orders', 'id'))").Scan(&id)
	} else {
		// SQLite writes one transaction at a time, so the next id is ours.
		err = tx.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) + 1 FROM orders").Scan(&id)
	}
	if err != nil {
		return fmt.Errorf("next order id: %w", err)
	}
	o.ID, o.Number = id, numberFor(o.Market, id)
	return nil
}

// Insert writes o and its lines inside the caller's transaction, giving it
// an ID and Number first unless Allocate did.
func Insert(ctx context.Context, tx db.Querier, d db.Dialect, o *Order) error {
	if o.ID == 0 {
		if err := Allocate(ctx, tx, d, o); err != nil {
			return err
		}
	}
	now := db.Now()
	o.CreatedAt, o.UpdatedAt = now, now
	var cart, coupon, expires any
	if o.CartID != "" {
		cart = o.CartID
	}
	if o.CouponCode != "" {
		coupon = o.CouponCode
	}
	if !o.ExpiresAt.IsZero() {
		expires = db.Time(o.ExpiresAt)
	}
	a := o.Address
	_, err := tx.ExecContext(ctx, `INSERT INTO orders (id, number, market, cart_id, email, status, currency,
			subtotal, discount, shipping, tax, total, tax_included, coupon_code, shipping_method, shipping_name,
			ship_name, ship_line1, ship_line2, ship_city, ship_region, ship_postal_code, ship_country,
			payment_provider, payment_status, payment_session, payment_url, expires_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
			$17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $29)`,
		o.ID, o.Number, o.Market, cart, o.Email, string(o.Status), o.Currency,
		o.Subtotal.Amount, o.Discount.Amount, o.Shipping.Amount, o.Tax.Amount, o.Total.Amount, o.TaxIncluded, coupon,
		o.ShippingMethod, o.ShippingName, a.Name, a.Line1, a.Line2, a.City, a.Region, a.PostalCode, a.Country,
		o.PaymentProvider, o.PaymentStatus, o.PaymentSession, o.PaymentURL, expires, now)
	if err != nil {
		return fmt.Errorf("insert order %s: %w", o.Number, err)
	}
	for i, l := range o.Lines {
		if _, err := tx.ExecContext(ctx, `INSERT INTO order_lines (order_id, position, sku, name, variant_name, quantity, unit_price, total, tax)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			o.ID, i, l.SKU, l.Name, l.VariantName, l.Quantity, l.UnitPrice.Amount, l.Total.Amount, l.Tax.Amount); err != nil {
			return fmt.Errorf("insert order %s line %d: %w", o.Number, i, err)
		}
	}
	return AddEvents(ctx, tx, o.ID, Placed(o))
}

// Placed is the first event of order o's timeline, as Insert writes it:
// a new order's whole timeline.
func Placed(o *Order) Event {
	return Event{Kind: "placed", Detail: fmt.Sprintf("Order placed for %s.", o.Total.Format()), CreatedAt: o.CreatedAt}
}

// AddEvent appends to an order's timeline inside the caller's transaction.
func AddEvent(ctx context.Context, tx db.Querier, orderID int64, kind, detail string) error {
	return AddEvents(ctx, tx, orderID, Event{Kind: kind, Detail: detail})
}

// AddEvents appends events to an order's timeline, in the order given and
// in one statement, inside the caller's transaction. An event without a
// time happens now.
func AddEvents(ctx context.Context, tx db.Querier, orderID int64, events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	var q strings.Builder
	q.WriteString("INSERT INTO order_events (order_id, kind, detail, created_at) VALUES ")
	args := make([]any, 0, 1+3*len(events))
	args = append(args, orderID)
	now := db.Now()
	for i, e := range events {
		if i > 0 {
			q.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(&q, "($1, $%d, $%d, $%d)", n+1, n+2, n+3)
		at := now
		if !e.CreatedAt.IsZero() {
			at = db.Time(e.CreatedAt)
		}
		args = append(args, e.Kind, e.Detail, at)
	}
	if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
		return fmt.Errorf("order %d event %s: %w", orderID, events[0].Kind, err)
	}
	return nil
}

const orderColumns = `id, number, market, coalesce(cart_id, ''), email, status, currency, subtotal, discount, shipping, tax, total,
	tax_included, coalesce(coupon_code, ''), shipping_method, shipping_name, ship_name, ship_line1, ship_line2, ship_city,
	ship_region, ship_postal_code, ship_country, payment_provider, payment_status, payment_session, payment_url,
	paid_amount, refunded_amount, expires_at, paid_at, cancelled_at, cancel_reason, created_at, updated_at`

// scanOrder reads one row of orderColumns.
func scanOrder(row interface{ Scan(...any) error }) (*Order, error) {
	var o Order
	var status string
	var sub, disc, ship, tax, total, paid, refunded int64
	var expires, paidAt, cancelled sql.NullTime
	a := &o.Address
	err := row.Scan(&o.ID, &o.Number, &o.Market, &o.CartID, &o.Email, &status, &o.Currency, &sub, &disc, &ship, &tax, &total,
		&o.TaxIncluded, &o.CouponCode, &o.ShippingMethod, &o.ShippingName, &a.Name, &a.Line1, &a.Line2, &a.City,
		&a.Region, &a.PostalCode, &a.Country, &o.PaymentProvider, &o.PaymentStatus, &o.PaymentSession, &o.PaymentURL,
		&paid, &refunded, &expires, &paidAt, &cancelled, &o.CancelReason, &o.CreatedAt, &o.UpdatedAt)
	if err != nil {
		return nil, err
	}
	o.Status = Status(status)
	c := o.Currency
	o.Subtotal, o.Discount, o.Shipping = money.New(sub, c), money.New(disc, c), money.New(ship, c)
	o.Tax, o.Total = money.New(tax, c), money.New(total, c)
	o.PaidAmount, o.RefundedAmount = money.New(paid, c), money.New(refunded, c)
	if expires.Valid {
		o.ExpiresAt = expires.Time.UTC()
	}
	if paidAt.Valid {
		o.PaidAt = paidAt.Time.UTC()
	}
	if cancelled.Valid {
		o.CancelledAt = cancelled.Time.UTC()
	}
	o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	return &o, nil
}

// load reads an order and its lines by a condition on orders.
func load(ctx context.Context, q db.Querier, where string, arg any) (*Order, error) {
	o, err := header(ctx, q, where, "", arg)
	if err != nil {
		return nil, err
	}
	return o, readLines(ctx, q, o)
}

// header reads an order's own row, without its lines, by a condition on
// orders; lock is appended to the query (" FOR UPDATE", or nothing).
func header(ctx context.Context, q db.Querier, where, lock string, arg any) (*Order, error) {
	o, err := scanOrder(q.QueryRowContext(ctx, "SELECT "+orderColumns+" FROM orders WHERE "+where+lock, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load order: %w", err)
	}
	return o, nil
}

// readLines reads o's lines into o.
func readLines(ctx context.Context, q db.Querier, o *Order) error {
	rows, err := q.QueryContext(ctx, `SELECT sku, name, variant_name, quantity, unit_price, total, tax
		FROM order_lines WHERE order_id = $1 ORDER BY position`, o.ID)
	if err != nil {
		return fmt.Errorf("load order %s lines: %w", o.Number, err)
	}
	defer rows.Close()
	for rows.Next() {
		var l Line
		var unit, total, tax int64
		if err := rows.Scan(&l.SKU, &l.Name, &l.VariantName, &l.Quantity, &unit, &total, &tax); err != nil {
			return fmt.Errorf("load order %s lines: %w", o.Number, err)
		}
		l.UnitPrice, l.Total, l.Tax = money.New(unit, o.Currency), money.New(total, o.Currency), money.New(tax, o.Currency)
		o.Lines = append(o.Lines, l)
	}
	return rows.Err()
}

// Get returns the order with number, read from q (a pool or a transaction).
func Get(ctx context.Context, q db.Querier, number string) (*Order, error) {
	return load(ctx, q, "number = $1", number)
}

// ByCart returns the order a cart was turned into.
func ByCart(ctx context.Context, q db.Querier, cartID string) (*Order, error) {
	return load(ctx, q, "cart_id = $1", cartID)
}

// Events returns an order's timeline, oldest first.
func Events(ctx context.Context, q db.Querier, orderID int64) ([]Event, error) {
	rows, err := q.QueryContext(ctx, "SELECT kind, detail, created_at FROM order_events WHERE order_id = $1 ORDER BY id", orderID)
	if err != nil {
		return nil, fmt.Errorf("order %d events: %w", orderID, err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		if err := rows.Scan(&e.Kind, &e.Detail, &e.CreatedAt); err != nil {
			return nil, err
		}
		e.CreatedAt = e.CreatedAt.UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}
