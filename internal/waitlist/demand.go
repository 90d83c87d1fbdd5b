package waitlist

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"mistore/internal/db"
)

// DemandRow is the waitlist of one product in one market: the numbers
// that decide whether to bring it there.
type DemandRow struct {
	ProductSlug string `json:"product"`
	ProductName string `json:"name"`
	Market      string `json:"market"`
	// Confirmed and Unconfirmed count the entries waiting now (neither
	// told nor unsubscribed), by whether the address confirmed.
	Confirmed   int `json:"confirmed"`
	Unconfirmed int `json:"unconfirmed"`
	// Notified counts the entries told the product came; Unsubscribed
	// those that left the list.
	Notified     int `json:"notified"`
	Unsubscribed int `json:"unsubscribed"`
}

// Waiting is every entry waiting now, confirmed or not.
func (r DemandRow) Waiting() int { return r.Confirmed + r.Unconfirmed }

// Week is the sign-ups of one week (Monday to Sunday, UTC).
type Week struct {
	Start time.Time `json:"start"`
	// Entries counts the entries created that week; Confirmed those of
	// them confirmed since.
	Entries   int `json:"entries"`
	Confirmed int `json:"confirmed"`
}

// Demand is the waitlist report.
type Demand struct {
	// Market is the market it is limited to; empty: every market.
	Market string      `json:"market,omitempty"`
	Rows   []DemandRow `json:"products"`
	// Weeks are the last weeks' sign-ups, oldest first, one per week even
	// when there were none.
	Weeks []Week `json:"weeks"`
	// Totals over Rows.
	Confirmed   int `json:"confirmed"`
	Unconfirmed int `json:"unconfirmed"`
}

// DemandQuery selects a report.
type DemandQuery struct {
	// Market limits it to one market; empty means all.
	Market string
	// Weeks is how many weeks of growth; 0 means 12, at most 104.
	Weeks int
	// Now ends the last week; zero means the service's clock.
	Now time.Time
}

// MaxWeeks bounds DemandQuery.Weeks.
const MaxWeeks = 104

// Demand reads the report from q (a reader: it changes nothing), most
// wanted first.
func (s *Service) Demand(ctx context.Context, q DemandQuery) (*Demand, error) {
	weeks := q.Weeks
	if weeks <= 0 {
		weeks = 12
	}
	weeks = min(weeks, MaxWeeks)
	now := q.Now
	if now.IsZero() {
		now = s.now()
	}
	rows, err := s.DemandRows(ctx, s.db.Reader(), q.Market, 0)
	if err != nil {
		return nil, err
	}
	d := &Demand{Market: q.Market, Rows: rows}
	for _, r := range rows {
		d.Confirmed += r.Confirmed
		d.Unconfirmed += r.Unconfirmed
	}
	if d.Weeks, err = s.growth(ctx, q.Market, weeks, db.Time(now)); err != nil {
		return nil, err
	}
	return d, nil
}

// DemandRows returns the demand per product and market read from q,
// most wanted first (waiting entries, then confirmed ones); market ""
// means every market, and top > 0 keeps the first top rows with anyone
// waiting.
func (s *Service) DemandRows(ctx context.Context, q db.Querier, market string, top int) ([]DemandRow, error) {
	query := `SELECT p.slug, p.name, e.market,
		sum(CASE WHEN e.unsubscribed_at IS NULL AND e.notified_at IS NULL AND e.confirmed_at IS NOT NULL THEN 1 ELSE 0 END),
		sum(CASE WHEN e.unsubscribed_at IS NULL AND e.notified_at IS NULL AND e.confirmed_at IS NULL THEN 1 ELSE 0 END),
		sum(CASE WHEN e.unsubscribed_at IS NULL AND e.notified_at IS NOT NULL THEN 1 ELSE 0 END),
		sum(CASE WHEN e.unsubscribed_at IS NOT NULL THEN 1 ELSE 0 END)
		FROM waitlist_entries e JOIN products p ON p.id = e.product_id`
	var args []any
	if market != "" {
		query += ` WHERE e.market = $1`
		args = append(args, market)
	}
	query += ` GROUP BY p.slug, p.name, e.market`
	var out []DemandRow
	err := db.EachRow(ctx, q, query, args, func(rows *sql.Rows) error {
		var r DemandRow
		if err := rows.Scan(&r.ProductSlug, &r.ProductName, &r.Market, &r.Confirmed, &r.Unconfirmed, &r.Notified, &r.Unsubscribed); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("waitlist: demand: %w", err)
	}
	slices.SortFunc(out, func(a, b DemandRow) int {
		return cmp.Or(cmp.Compare(b.Waiting(), a.Waiting()), cmp.Compare(b.Confirmed, a.Confirmed),
			cmp.Compare(a.ProductSlug, b.ProductSlug), cmp.Compare(a.Market, b.Market))
	})
	if top > 0 {
		kept := out[:0]
		for _, r := range out {
			if r.Waiting() > 0 && len(kept) < top {
				kept = append(kept, r)
			}
		}
		out = kept
	}
	if out == nil {
		out = []DemandRow{}
	}
	return out, nil
}

// weekStart is the Monday 00:00 UTC that begins t's week.
func weekStart(t time.Time) time.Time {
	t = t.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
}

// growth counts the sign-ups of the last weeks. The entries are read in
// the period only, a handful of columns each, and put in weeks here: the
// week arithmetic is then the same on both engines.
func (s *Service) growth(ctx context.Context, market string, weeks int, now time.Time) ([]Week, error) {
	first := weekStart(now).AddDate(0, 0, -7*(weeks-1))
	out := make([]Week, weeks)
	for i := range out {
		out[i].Start = first.AddDate(0, 0, 7*i)
	}
	query := `SELECT created_at, confirmed_at IS NOT NULL FROM waitlist_entries WHERE created_at >= $1`
	args := []any{first}
	if market != "" {
		query += ` AND market = $2`
		args = append(args, market)
	}
	err := db.EachRow(ctx, s.db.Reader(), query, args, func(rows *sql.Rows) error {
		var at time.Time
		var confirmed bool
		if err := rows.Scan(&at, &confirmed); err != nil {
			return err
		}
		i := int(weekStart(at).Sub(first) / (7 * 24 * time.Hour))
		if i < 0 || i >= weeks {
			return nil
		}
		out[i].Entries++
		if confirmed {
			out[i].Confirmed++
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("waitlist: growth: %w", err)
	}
	return out, nil
}
