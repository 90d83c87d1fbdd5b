package customer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"mistore/internal/money"
)

// Account is a customer account as the back office shows it: what the
// customer sees of themselves, and whether it is disabled.
type Account struct {
	Customer
	// DisabledAt is when staff disabled the account; nil while it works.
	DisabledAt *time.Time `json:"disabled_at,omitempty"`
}

// MaxSearchResults bounds one page of a customer search.
const MaxSearchResults = 100

// Search returns the accounts whose email address or name contains q (in
// any letter case), newest first, limit of them (1 to MaxSearchResults;
// anything else means 50) after skipping offset, and how many match in
// all. An empty q lists every account.
func (s *Service) Search(ctx context.Context, q string, limit, offset int) ([]Account, int, error) {
	if limit <= 0 || limit > MaxSearchResults {
		limit = 50
	}
	offset = max(offset, 0)
	where, args := "", []any{}
	if q = strings.TrimSpace(q); q != "" {
		// LIKE with the wildcards in q escaped: a search for "a_b" finds
		// that, not "axb".
		pattern := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(strings.ToLower(q)) + "%"
		where = ` WHERE email_key LIKE $1 ESCAPE '\' OR lower(name) LIKE $1 ESCAPE '\'`
		args = append(args, pattern)
	}
	var total int
	if err := s.db.Reader().QueryRowContext(ctx, "SELECT count(*) FROM customers"+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("search customers: %w", err)
	}
	n := len(args)
	rows, err := s.db.Reader().QueryContext(ctx, "SELECT "+customerColumns+", disabled_at FROM customers"+where+
		fmt.Sprintf(" ORDER BY created_at DESC, id DESC LIMIT $%d OFFSET $%d", n+1, n+2), append(args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("search customers: %w", err)
	}
	defer rows.Close()
	out := []Account{}
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("search customers: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("search customers: %w", err)
	}
	return out, total, nil
}

func scanAccount(row interface{ Scan(...any) error }) (Account, error) {
	var disabled sql.NullTime
	c, err := scanCustomer(row, &disabled)
	if err != nil {
		return Account{}, err
	}
	a := Account{Customer: c}
	if disabled.Valid {
		t := disabled.Time.UTC()
		a.DisabledAt = &t
	}
	return a, nil
}

// Account returns customer id's account, or ErrNotFound.
func (s *Service) Account(ctx context.Context, id int64) (Account, error) {
	a, err := scanAccount(s.db.Reader().QueryRowContext(ctx, "SELECT "+customerColumns+", disabled_at FROM customers WHERE id = $1", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, ErrNotFound
	}
	if err != nil {
		return Account{}, fmt.Errorf("customer %d: %w", id, err)
	}
	return a, nil
}

// AccountOrder is an order as the back office lists it on a customer.
type AccountOrder struct {
	Number    string      `json:"number"`
	Market    string      `json:"market"`
	Email     string      `json:"email"`
	Status    string      `json:"status"`
	Total     money.Money `json:"total"`
	CreatedAt time.Time   `json:"created_at"`
}

// AccountDetail is one customer as support sees them.
type AccountDetail struct {
	Account
	// Orders are every order placed with the account's email address (in
	// any case), newest first, at most 200, whether or not the address
	// is verified: support needs to see them all, where the customer's
	// own history waits for verification.
	Orders []AccountOrder `json:"orders"`
	// Sessions counts the account's signed-in browsers and API clients.
	Sessions int `json:"sessions"`
}

// Detail returns customer id with their orders, or ErrNotFound.
func (s *Service) Detail(ctx context.Context, id int64) (AccountDetail, error) {
	a, err := s.Account(ctx, id)
	if err != nil {
		return AccountDetail{}, err
	}
	d := AccountDetail{Account: a, Orders: []AccountOrder{}}
	q := s.db.Reader()
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM customer_sessions WHERE customer_id = $1 AND expires_at > $2", id, s.now().UTC()).Scan(&d.Sessions); err != nil {
		return AccountDetail{}, fmt.Errorf("sessions of customer %d: %w", id, err)
	}
	rows, err := q.QueryContext(ctx, `SELECT number, market, email, status, currency, total, created_at FROM orders
		WHERE lower(email) = $1 ORDER BY created_at DESC, id DESC LIMIT 200`, EmailKey(a.Email))
	if err != nil {
		return AccountDetail{}, fmt.Errorf("orders of customer %d: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var o AccountOrder
		if err := rows.Scan(&o.Number, &o.Market, &o.Email, &o.Status, &o.Total.Currency, &o.Total.Amount, &o.CreatedAt); err != nil {
			return AccountDetail{}, fmt.Errorf("orders of customer %d: %w", id, err)
		}
		o.CreatedAt = o.CreatedAt.UTC()
		d.Orders = append(d.Orders, o)
	}
	if err := rows.Err(); err != nil {
		return AccountDetail{}, fmt.Errorf("orders of customer %d: %w", id, err)
	}
	return d, nil
}
