// Package report computes the back office's sales figures: paid sales per
// day and market, orders by status, top products and average order value.
// Amounts are kept per currency, never added across currencies: a market
// sells in one currency, and a figure that mixed dollars and euros would
// mean nothing.
package report

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"mistore/internal/db"
	"mistore/internal/money"
)

// ErrDays: the period asked for is not between 1 and MaxDays days.
var ErrDays = errors.New("days must be between 1 and 366")

// MaxDays bounds a report's period.
const MaxDays = 366

// Statuses is the order in which order statuses are reported (API.md's
// lifecycle order), each listed even when no order has it.
var Statuses = []string{"pending_payment", "paid", "fulfilled", "delivered", "partially_refunded", "refunded", "cancelled"}

// WaitlistDemand is how many shoppers wait for a product in a market
// (package waitlist keeps them): the entries that confirmed their address
// and those that did not yet.
type WaitlistDemand struct {
	Product     string `json:"product"`
	Name        string `json:"name"`
	Market      string `json:"market"`
	Confirmed   int    `json:"confirmed"`
	Unconfirmed int    `json:"unconfirmed"`
}

// WaitlistSource reads the waitlist demand, most wanted first, from q.
// The report takes it as a hook (Options.Waitlist) so that it needs
// nothing from the waitlist package; since is the period's start, for a
// source that counts only recent sign-ups.
type WaitlistSource func(ctx context.Context, q db.Querier, since time.Time) ([]WaitlistDemand, error)

// Options shape a report.
type Options struct {
	// Now ends the period; zero means time.Now. Injected by tests.
	Now time.Time
	// Days is the period's length in whole UTC days, today included; 0
	// means 30.
	Days int
	// TopN is how many products the top list holds; 0 means 10.
	TopN int
	// Waitlist reads waitlist demand; nil: not tracked.
	Waitlist WaitlistSource
}

// Report is the sales of a period. An order counts as a sale on the day it
// was paid, for its whole total (refunds made later are not taken off:
// these are gross sales); orders by status count the orders placed in the
// period.
type Report struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Days are the period's days (UTC midnights), oldest first; every
	// Daily series has one entry per day.
	Days    []time.Time   `json:"days"`
	Markets []MarketSales `json:"markets"`
	// ByStatus lists every status in Statuses order.
	ByStatus    []StatusCount  `json:"orders_by_status"`
	TopProducts []ProductSales `json:"top_products"`
	// WaitlistTracked is false when the report was made without a
	// waitlist source; Waitlist is then empty.
	WaitlistTracked bool             `json:"waitlist_tracked"`
	Waitlist        []WaitlistDemand `json:"waitlist"`
}

// MarketSales is one market's paid sales, in its currency. A market whose
// orders were in two currencies (its currency changed) has one entry per
// currency.
type MarketSales struct {
	Market   string `json:"market"`
	Currency string `json:"currency"`
	// Daily is the sum of the totals paid each day of Report.Days.
	Daily []money.Money `json:"daily"`
	// DailyOrders counts the orders paid each day.
	DailyOrders []int       `json:"daily_orders"`
	Total       money.Money `json:"total"`
	Orders      int         `json:"orders"`
	// Average is the average order value, Total / Orders rounded to the
	// nearest minor unit.
	Average money.Money `json:"average_order_value"`
}

// StatusCount is how many of the period's orders have a status now.
type StatusCount struct {
	Status string `json:"status"`
	Orders int    `json:"orders"`
}

// ProductSales is a variant's paid sales: units over every market, and
// revenue per currency.
type ProductSales struct {
	SKU     string        `json:"sku"`
	Name    string        `json:"name"`
	Units   int           `json:"units"`
	Revenue []money.Money `json:"revenue"`
}

// Sales computes the report for the period opts describes, reading from q.
func Sales(ctx context.Context, q db.Querier, dialect db.Dialect, opts Options) (*Report, error) {
	days := opts.Days
	if days == 0 {
		days = 30
	}
	if days < 1 || days > MaxDays {
		return nil, ErrDays
	}
	top := opts.TopN
	if top <= 0 {
		top = 10
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = db.Time(now)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	r := &Report{From: today.AddDate(0, 0, -(days - 1)), To: now}
	index := map[string]int{}
	for i := range days {
		d := r.From.AddDate(0, 0, i)
		r.Days = append(r.Days, d)
		index[d.Format(time.DateOnly)] = i
	}
	if err := r.daily(ctx, q, dialect, index); err != nil {
		return nil, err
	}
	if err := r.statuses(ctx, q); err != nil {
		return nil, err
	}
	if err := r.products(ctx, q, top); err != nil {
		return nil, err
	}
	if opts.Waitlist != nil {
		w, err := opts.Waitlist(ctx, q, r.From)
		if err != nil {
			return nil, fmt.Errorf("report: waitlist: %w", err)
		}
		r.WaitlistTracked, r.Waitlist = true, w
	}
	if r.Waitlist == nil {
		r.Waitlist = []WaitlistDemand{}
	}
	return r, nil
}

// dayExpr is the UTC day of a timestamp column as YYYY-MM-DD. SQLite
// keeps timestamps as text in UTC ("2006-01-02 15:04:05..."), so the day
// is the first ten characters.
func dayExpr(d db.Dialect, col string) string {
	if d == db.Postgres {
		return "to_char(" + col + " AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
	}
	return "substr(" + col + ", 1, 10)"
}

// paidIn is the condition of a sale in the period [$1, $2).
const paidIn = "o.paid_at IS NOT NULL AND o.paid_at >= $1 AND o.paid_at < $2"

func (r *Report) daily(ctx context.Context, q db.Querier, dialect db.Dialect, index map[string]int) error {
	// The period includes its end, now: hence the microsecond past it.
	rows, err := q.QueryContext(ctx, `SELECT `+dayExpr(dialect, "o.paid_at")+`, o.market, o.currency, count(*), sum(o.total)
		FROM orders o WHERE `+paidIn+` GROUP BY 1, 2, 3`, r.From, r.To.Add(time.Microsecond))
	if err != nil {
		return fmt.Errorf("report: daily sales: %w", err)
	}
	defer rows.Close()
	byKey := map[[2]string]*MarketSales{}
	for rows.Next() {
		var day, mk, cur string
		var n int
		var sum int64
		if err := rows.Scan(&day, &mk, &cur, &n, &sum); err != nil {
			return fmt.Errorf("report: daily sales: %w", err)
		}
		i, ok := index[day]
		if !ok {
			continue
		}
		m := byKey[[2]string{mk, cur}]
		if m == nil {
			m = &MarketSales{Market: mk, Currency: cur, Daily: make([]money.Money, len(r.Days)), DailyOrders: make([]int, len(r.Days)),
				Total: money.New(0, cur)}
			for j := range m.Daily {
				m.Daily[j] = money.New(0, cur)
			}
			byKey[[2]string{mk, cur}] = m
		}
		m.Daily[i].Amount += sum
		m.DailyOrders[i] += n
		m.Total.Amount += sum
		m.Orders += n
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("report: daily sales: %w", err)
	}
	r.Markets = []MarketSales{}
	for _, m := range byKey {
		m.Average = money.New(divRound(m.Total.Amount, int64(m.Orders)), m.Currency)
		r.Markets = append(r.Markets, *m)
	}
	slices.SortFunc(r.Markets, func(a, b MarketSales) int {
		return cmp.Or(cmp.Compare(a.Market, b.Market), cmp.Compare(a.Currency, b.Currency))
	})
	return nil
}

// divRound is a/b rounded half away from zero, for b > 0.
func divRound(a, b int64) int64 {
	if b == 0 {
		return 0
	}
	if a < 0 {
		return -divRound(-a, b)
	}
	return (a + b/2) / b
}

func (r *Report) statuses(ctx context.Context, q db.Querier) error {
	rows, err := q.QueryContext(ctx, `SELECT status, count(*) FROM orders WHERE created_at >= $1 AND created_at < $2 GROUP BY status`,
		r.From, r.To.Add(time.Microsecond))
	if err != nil {
		return fmt.Errorf("report: orders by status: %w", err)
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return fmt.Errorf("report: orders by status: %w", err)
		}
		counts[s] = n
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("report: orders by status: %w", err)
	}
	for _, s := range Statuses {
		r.ByStatus = append(r.ByStatus, StatusCount{Status: s, Orders: counts[s]})
		delete(counts, s)
	}
	// A status added later than this list still shows.
	for _, s := range slices.Sorted(maps.Keys(counts)) {
		r.ByStatus = append(r.ByStatus, StatusCount{Status: s, Orders: counts[s]})
	}
	return nil
}

func (r *Report) products(ctx context.Context, q db.Querier, top int) error {
	rows, err := q.QueryContext(ctx, `SELECT l.sku, max(l.name), o.currency, sum(l.quantity), sum(l.total)
		FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE `+paidIn+` GROUP BY l.sku, o.currency`,
		r.From, r.To.Add(time.Microsecond))
	if err != nil {
		return fmt.Errorf("report: top products: %w", err)
	}
	defer rows.Close()
	bySKU := map[string]*ProductSales{}
	for rows.Next() {
		var sku, name, cur string
		var units int
		var revenue int64
		if err := rows.Scan(&sku, &name, &cur, &units, &revenue); err != nil {
			return fmt.Errorf("report: top products: %w", err)
		}
		p := bySKU[sku]
		if p == nil {
			p = &ProductSales{SKU: sku, Name: name}
			bySKU[sku] = p
		}
		p.Units += units
		p.Revenue = append(p.Revenue, money.New(revenue, cur))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("report: top products: %w", err)
	}
	r.TopProducts = []ProductSales{}
	for _, p := range bySKU {
		slices.SortFunc(p.Revenue, func(a, b money.Money) int { return cmp.Compare(a.Currency, b.Currency) })
		r.TopProducts = append(r.TopProducts, *p)
	}
	slices.SortFunc(r.TopProducts, func(a, b ProductSales) int {
		return cmp.Or(cmp.Compare(b.Units, a.Units), cmp.Compare(a.SKU, b.SKU))
	})
	if len(r.TopProducts) > top {
		r.TopProducts = r.TopProducts[:top]
	}
	return nil
}
