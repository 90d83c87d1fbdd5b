package order

import (
	"context"
	"fmt"
	"strings"
	"time"

	"mistore/internal/db"
	"mistore/internal/input"
	"mistore/internal/money"
)

// Page sizes of the back office's order list.
const (
	DefaultPerPage = 50
	MaxPerPage     = 200
)

// Filter narrows the back office's order list. Zero fields do not filter.
type Filter struct {
	Status Status
	Market string
	// From and To bound the placing time: From <= created_at < To.
	From, To time.Time
	// Email is a customer's address, matched whole, in any case.
	Email string
	// Q is an order number, or part of an email address or of the name
	// an order ships to.
	Q string
	// Page counts from 1; PerPage is at most MaxPerPage.
	Page, PerPage int
}

// Summary is one row of the order list.
type Summary struct {
	Number    string
	Market    string
	Status    Status
	Email     string
	Name      string
	Items     int
	Total     money.Money
	Refunded  money.Money
	CreatedAt time.Time
}

// ListPage is one page of the order list.
type ListPage struct {
	Orders  []Summary
	Page    int
	PerPage int
	// Total is how many orders match, on all pages.
	Total int
}

// Pages is how many pages the matching orders fill.
func (p ListPage) Pages() int {
	if p.PerPage <= 0 || p.Total == 0 {
		return 1
	}
	return (p.Total + p.PerPage - 1) / p.PerPage
}

// normalise checks f and fills its defaults.
func (f *Filter) normalise() error {
	if f.Status != "" && !ValidStatus(f.Status) {
		return input.Invalid("status", "There is no order status %q.", f.Status)
	}
	if f.Page <= 0 {
		f.Page = 1
	}
	switch {
	case f.PerPage <= 0:
		f.PerPage = DefaultPerPage
	case f.PerPage > MaxPerPage:
		f.PerPage = MaxPerPage
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		return input.Invalid("to", "The end of the date range must come after its start.")
	}
	f.Market = strings.ToLower(strings.TrimSpace(f.Market))
	f.Email = strings.TrimSpace(f.Email)
	f.Q = strings.TrimSpace(f.Q)
	return nil
}

// where is the filter as an SQL condition on orders and its arguments.
func (f Filter) where() (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		conds = append(conds, strings.ReplaceAll(cond, "?", fmt.Sprintf("$%d", len(args))))
	}
	if f.Status != "" {
		add("status = ?", string(f.Status))
	}
	if f.Market != "" {
		add("market = ?", f.Market)
	}
	if !f.From.IsZero() {
		add("created_at >= ?", db.Time(f.From))
	}
	if !f.To.IsZero() {
		add("created_at < ?", db.Time(f.To))
	}
	if f.Email != "" {
		add("lower(email) = ?", strings.ToLower(f.Email))
	}
	if f.Q != "" {
		args = append(args, strings.ToUpper(f.Q), "%"+likeEscape(strings.ToLower(f.Q))+"%")
		n, p := len(args)-1, len(args)
		conds = append(conds, fmt.Sprintf(`(number = $%d OR lower(email) LIKE $%d ESCAPE '\' OR lower(ship_name) LIKE $%d ESCAPE '\')`, n, p, p))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// likeEscape makes s match itself in a LIKE pattern with ESCAPE '\'.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// List returns one page of the orders f selects, newest first.
func List(ctx context.Context, q db.Querier, f Filter) (ListPage, error) {
	if err := f.normalise(); err != nil {
		return ListPage{}, err
	}
	where, args := f.where()
	page := ListPage{Page: f.Page, PerPage: f.PerPage}
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM orders"+where, args...).Scan(&page.Total); err != nil {
		return ListPage{}, fmt.Errorf("count orders: %w", err)
	}
	n := len(args)
	args = append(args, f.PerPage, (f.Page-1)*f.PerPage)
	rows, err := q.QueryContext(ctx, fmt.Sprintf(`SELECT number, market, status, email, ship_name, currency, total, refunded_amount, created_at,
			(SELECT coalesce(sum(quantity), 0) FROM order_lines l WHERE l.order_id = orders.id)
		FROM orders%s ORDER BY created_at DESC, id DESC LIMIT $%d OFFSET $%d`, where, n+1, n+2), args...)
	if err != nil {
		return ListPage{}, fmt.Errorf("list orders: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s Summary
		var status, cur string
		var total, refunded int64
		if err := rows.Scan(&s.Number, &s.Market, &status, &s.Email, &s.Name, &cur, &total, &refunded, &s.CreatedAt, &s.Items); err != nil {
			return ListPage{}, fmt.Errorf("list orders: %w", err)
		}
		s.Status, s.Total, s.Refunded, s.CreatedAt = Status(status), money.New(total, cur), money.New(refunded, cur), s.CreatedAt.UTC()
		page.Orders = append(page.Orders, s)
	}
	return page, rows.Err()
}

// List is List on the service's database.
func (s *Service) List(ctx context.Context, f Filter) (ListPage, error) {
	return List(ctx, s.db.Reader(), f)
}
