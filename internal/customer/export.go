package customer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"mistore/internal/community"
	"mistore/internal/db"
	"mistore/internal/money"
	"mistore/internal/waitlist"
)

// Export is everything the store keeps about a customer, for their right
// of access and to data portability (GDPR articles 15 and 20). It
// marshals to JSON meant to be read by a person as well as a program:
// amounts are decimal strings in the order's currency, times are RFC 3339
// in UTC, and "never" is null. Secrets are left out: the password hash,
// and the tokens (or their hashes) of sessions and links.
type Export struct {
	ExportedAt         time.Time    `json:"exported_at"`
	Profile            Profile      `json:"profile"`
	Addresses          []Address    `json:"addresses"`
	Sessions           []Session    `json:"sessions"`
	PasswordResets     []ExportLink `json:"password_resets"`
	EmailVerifications []ExportLink `json:"email_verifications"`
	// Orders are the orders placed with the customer's verified email
	// address, newest first; none while it is unverified.
	Orders []ExportOrder `json:"orders"`
	// Comments and Reviews are what they posted in the community.
	Comments []community.ExportComment `json:"comments"`
	Reviews  []community.ExportReview  `json:"reviews"`
	// Waitlist holds the waitlist entries of their verified address; none
	// while it is unverified.
	Waitlist []waitlist.ExportEntry `json:"waitlist"`
}

// Profile is the account itself, in an Export.
type Profile struct {
	ID              int64      `json:"id"`
	Email           string     `json:"email"`
	Name            string     `json:"name"`
	EmailVerifiedAt *time.Time `json:"email_verified_at"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
}

// ExportLink is a password reset or email verification link that was
// sent, without its token.
type ExportLink struct {
	// Email is the address a verification link was sent to; empty for a
	// reset link, which goes to the account's address.
	Email     string     `json:"email,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	UsedAt    *time.Time `json:"used_at"`
}

// ExportOrder is one of the customer's orders, in an Export.
type ExportOrder struct {
	Number         string            `json:"number"`
	Market         string            `json:"market"`
	Status         string            `json:"status"`
	Email          string            `json:"email"`
	Currency       string            `json:"currency"`
	Subtotal       string            `json:"subtotal"`
	Discount       string            `json:"discount"`
	Shipping       string            `json:"shipping"`
	Tax            string            `json:"tax"`
	TaxIncluded    bool              `json:"tax_included"`
	Total          string            `json:"total"`
	Paid           string            `json:"paid"`
	Refunded       string            `json:"refunded"`
	CouponCode     string            `json:"coupon_code"`
	ShippingMethod string            `json:"shipping_method"`
	ShipTo         ExportShipTo      `json:"ship_to"`
	Lines          []ExportOrderLine `json:"lines"`
	CreatedAt      time.Time         `json:"created_at"`
	PaidAt         *time.Time        `json:"paid_at"`
	CancelledAt    *time.Time        `json:"cancelled_at"`
}

// ExportShipTo is where an order ships, in an Export.
type ExportShipTo struct {
	Name       string `json:"name"`
	Line1      string `json:"line1"`
	Line2      string `json:"line2"`
	City       string `json:"city"`
	Region     string `json:"region"`
	PostalCode string `json:"postal_code"`
	Country    string `json:"country"`
}

// ExportOrderLine is one product line of an order, in an Export.
type ExportOrderLine struct {
	SKU       string `json:"sku"`
	Name      string `json:"name"`
	Variant   string `json:"variant"`
	Quantity  int    `json:"quantity"`
	UnitPrice string `json:"unit_price"`
	Total     string `json:"total"`
	Tax       string `json:"tax"`
}

// customerOrders is the join that makes orders a customer's: placed with
// their email address in any letter case, once that address is verified.
// lower() on both sides, so each engine compares with its own notion of
// case, and the orders_email_lower index serves the lookup.
const customerOrders = `orders o JOIN customers c ON lower(o.email) = lower(c.email)
	WHERE c.id = $1 AND c.email_verified_at IS NOT NULL`

// OrderNumbers returns the numbers of customer id's orders, newest first:
// the orders placed with their email address once it is verified, none
// before.
func (s *Service) OrderNumbers(ctx context.Context, id int64) ([]string, error) {
	rows, err := s.db.Reader().QueryContext(ctx, "SELECT o.number FROM "+customerOrders+" ORDER BY o.created_at DESC, o.id DESC", id)
	if err != nil {
		return nil, fmt.Errorf("orders of customer %d: %w", id, err)
	}
	defer rows.Close()
	numbers := []string{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("orders of customer %d: %w", id, err)
		}
		numbers = append(numbers, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("orders of customer %d: %w", id, err)
	}
	return numbers, nil
}

// Export returns everything the store keeps about customer id, or
// ErrNotFound.
func (s *Service) Export(ctx context.Context, id int64) (Export, error) {
	e, err := s.export(ctx, s.db.Reader(), id)
	if errors.Is(err, ErrNotFound) {
		return Export{}, err
	}
	if err != nil {
		return Export{}, fmt.Errorf("export customer %d: %w", id, err)
	}
	return e, nil
}

func (s *Service) export(ctx context.Context, q db.Querier, id int64) (Export, error) {
	e := Export{ExportedAt: db.Time(s.now())}
	var verified sql.NullTime
	err := q.QueryRowContext(ctx, "SELECT id, email, name, email_verified_at, created_at, updated_at FROM customers WHERE id = $1", id).
		Scan(&e.Profile.ID, &e.Profile.Email, &e.Profile.Name, &verified, &e.Profile.CreatedAt, &e.Profile.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return Export{}, ErrNotFound
	}
	if err != nil {
		return Export{}, fmt.Errorf("profile: %w", err)
	}
	e.Profile.EmailVerifiedAt = timePtr(verified)
	e.Profile.CreatedAt, e.Profile.UpdatedAt = e.Profile.CreatedAt.UTC(), e.Profile.UpdatedAt.UTC()

	if e.Addresses, err = addresses(ctx, q, id); err != nil {
		return Export{}, fmt.Errorf("addresses: %w", err)
	}
	if e.Sessions, err = exportSessions(ctx, q, id); err != nil {
		return Export{}, fmt.Errorf("sessions: %w", err)
	}
	if e.PasswordResets, err = exportLinks(ctx, q, "SELECT '', created_at, expires_at, used_at FROM password_resets WHERE customer_id = $1 ORDER BY created_at", id); err != nil {
		return Export{}, fmt.Errorf("password resets: %w", err)
	}
	if e.EmailVerifications, err = exportLinks(ctx, q, "SELECT email, created_at, expires_at, used_at FROM email_verifications WHERE customer_id = $1 ORDER BY created_at", id); err != nil {
		return Export{}, fmt.Errorf("email verifications: %w", err)
	}
	if e.Orders, err = exportOrders(ctx, q, id); err != nil {
		return Export{}, fmt.Errorf("orders: %w", err)
	}
	if e.Comments, e.Reviews, err = community.ExportCustomer(ctx, q, id); err != nil {
		return Export{}, err
	}
	e.Waitlist = []waitlist.ExportEntry{}
	if verified.Valid {
		if e.Waitlist, err = waitlist.ExportEmail(ctx, q, e.Profile.Email); err != nil {
			return Export{}, err
		}
	}
	return e, nil
}

func exportSessions(ctx context.Context, q db.Querier, id int64) ([]Session, error) {
	rows, err := q.QueryContext(ctx, `SELECT customer_id, kind, created_at, last_seen_at, expires_at
		FROM customer_sessions WHERE customer_id = $1 ORDER BY created_at`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []Session{}
	for rows.Next() {
		var ss Session
		var kind string
		if err := rows.Scan(&ss.CustomerID, &kind, &ss.CreatedAt, &ss.LastSeenAt, &ss.ExpiresAt); err != nil {
			return nil, err
		}
		ss.Kind = SessionKind(kind)
		ss.CreatedAt, ss.LastSeenAt, ss.ExpiresAt = ss.CreatedAt.UTC(), ss.LastSeenAt.UTC(), ss.ExpiresAt.UTC()
		list = append(list, ss)
	}
	return list, rows.Err()
}

func exportLinks(ctx context.Context, q db.Querier, query string, id int64) ([]ExportLink, error) {
	rows, err := q.QueryContext(ctx, query, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []ExportLink{}
	for rows.Next() {
		var l ExportLink
		var used sql.NullTime
		if err := rows.Scan(&l.Email, &l.CreatedAt, &l.ExpiresAt, &used); err != nil {
			return nil, err
		}
		l.CreatedAt, l.ExpiresAt, l.UsedAt = l.CreatedAt.UTC(), l.ExpiresAt.UTC(), timePtr(used)
		list = append(list, l)
	}
	return list, rows.Err()
}

func exportOrders(ctx context.Context, q db.Querier, id int64) ([]ExportOrder, error) {
	rows, err := q.QueryContext(ctx, `SELECT o.id, o.number, o.market, o.status, o.email, o.currency,
			o.subtotal, o.discount, o.shipping, o.tax, o.tax_included, o.total, o.paid_amount, o.refunded_amount,
			coalesce(o.coupon_code, ''), o.shipping_name,
			o.ship_name, o.ship_line1, o.ship_line2, o.ship_city, o.ship_region, o.ship_postal_code, o.ship_country,
			o.created_at, o.paid_at, o.cancelled_at
		FROM `+customerOrders+` ORDER BY o.created_at DESC, o.id DESC`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []ExportOrder{}
	byID := map[int64]int{}
	for rows.Next() {
		var (
			o                                                      ExportOrder
			oid                                                    int64
			subtotal, discount, shipping, tax, total, paid, refund int64
			paidAt, cancelledAt                                    sql.NullTime
			a                                                      = &o.ShipTo
		)
		if err := rows.Scan(&oid, &o.Number, &o.Market, &o.Status, &o.Email, &o.Currency,
			&subtotal, &discount, &shipping, &tax, &o.TaxIncluded, &total, &paid, &refund,
			&o.CouponCode, &o.ShippingMethod,
			&a.Name, &a.Line1, &a.Line2, &a.City, &a.Region, &a.PostalCode, &a.Country,
			&o.CreatedAt, &paidAt, &cancelledAt); err != nil {
			return nil, err
		}
		amount := func(v int64) string { return money.New(v, o.Currency).Decimal() }
		o.Subtotal, o.Discount, o.Shipping, o.Tax, o.Total = amount(subtotal), amount(discount), amount(shipping), amount(tax), amount(total)
		o.Paid, o.Refunded = amount(paid), amount(refund)
		o.CreatedAt, o.PaidAt, o.CancelledAt = o.CreatedAt.UTC(), timePtr(paidAt), timePtr(cancelledAt)
		o.Lines = []ExportOrderLine{}
		byID[oid] = len(list)
		list = append(list, o)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	if len(list) == 0 {
		return list, nil
	}
	lines, err := q.QueryContext(ctx, `SELECT l.order_id, l.sku, l.name, l.variant_name, l.quantity, l.unit_price, l.total, l.tax
		FROM order_lines l JOIN orders o ON o.id = l.order_id JOIN customers c ON lower(o.email) = lower(c.email)
		WHERE c.id = $1 AND c.email_verified_at IS NOT NULL ORDER BY l.order_id, l.position`, id)
	if err != nil {
		return nil, err
	}
	defer lines.Close()
	for lines.Next() {
		var (
			oid              int64
			l                ExportOrderLine
			unit, total, tax int64
		)
		if err := lines.Scan(&oid, &l.SKU, &l.Name, &l.Variant, &l.Quantity, &unit, &total, &tax); err != nil {
			return nil, err
		}
		i, ok := byID[oid]
		if !ok {
			continue // placed between the two queries
		}
		o := &list[i]
		l.UnitPrice, l.Total, l.Tax = money.New(unit, o.Currency).Decimal(), money.New(total, o.Currency).Decimal(), money.New(tax, o.Currency).Decimal()
		o.Lines = append(o.Lines, l)
	}
	return list, lines.Err()
}

// Delete erases customer id (ErrNotFound if there is none), in one
// transaction: the personal data of their orders is anonymised (the email
// becomes deleted-<id>@invalid.example; the recipient's name, street, city
// and postal code are emptied) while the market, region, country and
// every amount stay for the books; then their sessions, addresses, links,
// community posts and (for a confirmed address) waitlist entries are
// deleted, and the account itself.
//
// Only the orders that are the customer's are touched: those placed with
// their email address once it is verified. An unverified account cannot
// erase the orders of whoever owns the address it claims.
func (s *Service) Delete(ctx context.Context, id int64) error {
	now := db.Time(s.now())
	err := s.db.Tx(ctx, func(tx db.Querier) error {
		var verified bool
		var email string
		err := tx.QueryRowContext(ctx, "SELECT email_verified_at IS NOT NULL, email FROM customers WHERE id = $1", id).Scan(&verified, &email)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if verified {
			if _, err := tx.ExecContext(ctx, `UPDATE orders SET email = $2, ship_name = '', ship_line1 = '', ship_line2 = '',
					ship_city = '', ship_postal_code = '', updated_at = $3
				WHERE id IN (SELECT o.id FROM `+customerOrders+`)`,
				id, "deleted-"+strconv.FormatInt(id, 10)+"@invalid.example", now); err != nil {
				return fmt.Errorf("anonymise orders: %w", err)
			}
			// Waitlist entries are the address's, as orders are: only a
			// confirmed owner of the address erases them.
			if err := waitlist.EraseEmail(ctx, tx, email); err != nil {
				return err
			}
		}
		for _, table := range []string{"customer_sessions", "customer_addresses", "password_resets", "email_verifications"} {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+table+" WHERE customer_id = $1", id); err != nil {
				return fmt.Errorf("delete %s: %w", table, err)
			}
		}
		// The community keeps no foreign key to the account (a thread's
		// numbering must survive it): its posts are emptied here.
		if err := community.EraseCustomer(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM customers WHERE id = $1", id); err != nil {
			return fmt.Errorf("delete account: %w", err)
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return err
	}
	if err != nil {
		return fmt.Errorf("delete customer %d: %w", id, err)
	}
	return nil
}

// timePtr is a nullable time for JSON: nil, shown as null, when NULL.
func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}
