package loadtest

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"mistore/internal/db"
	"mistore/internal/flashsale"
)

// The flash-sale check reads the sale, its claims, its holders, the SKU's
// stock and its reservations in one read transaction after the run, and
// holds them against each other and against what the run was answered.

// saleSnapshot is what the check reads.
type saleSnapshot struct {
	quantity, limit            int64
	claimed, paid, released    int64
	sku                        string
	claimUnits                 map[string]int64 // by claim state
	claimIDs                   map[string]bool
	holders, holderSum         int64
	holderMax, holderMin       int64
	holdersOver                int64
	claimsMax, claimsOver      int64               // per customer, over claims not released
	holdersOff, holdersMissing int64               // holders rows that disagree with the claims, customers without one
	stock                      map[string][2]int64 // warehouse -> on hand, reserved
	live                       map[string]int64    // warehouse -> live reservations of the SKU
	poolState                  string
	poolQuantity               int64
	poolRows                   int
	reservationsMin            int64
}

// readSale reads the snapshot of sale id.
func readSale(ctx context.Context, d *db.DB, id int64) (*saleSnapshot, error) {
	opts := &sql.TxOptions{ReadOnly: true}
	if d.Dialect == db.Postgres {
		// One snapshot for every statement, as the SQLite read
		// transaction has by itself.
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := d.Read.BeginTx(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	// Read-only: ending it only lets go of the snapshot.
	defer tx.Rollback()

	s := &saleSnapshot{claimUnits: map[string]int64{}, claimIDs: map[string]bool{}, stock: map[string][2]int64{}, live: map[string]int64{}}
	err = tx.QueryRowContext(ctx, `SELECT quantity, per_customer_limit, claimed, paid, released, sku
		FROM flash_sales WHERE id = $1`, id).Scan(&s.quantity, &s.limit, &s.claimed, &s.paid, &s.released, &s.sku)
	if err != nil {
		return nil, fmt.Errorf("read sale %d: %w", id, err)
	}
	// Sums are cast because PostgreSQL sums into numeric.
	err = db.EachRow(ctx, tx, `SELECT state, CAST(coalesce(sum(quantity), 0) AS BIGINT) FROM flash_sale_claims
		WHERE sale_id = $1 GROUP BY state`, []any{id}, func(rows *sql.Rows) error {
		var state string
		var n int64
		if err := rows.Scan(&state, &n); err != nil {
			return err
		}
		s.claimUnits[state] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sum claims: %w", err)
	}
	err = db.EachRow(ctx, tx, "SELECT id FROM flash_sale_claims WHERE sale_id = $1", []any{id}, func(rows *sql.Rows) error {
		var claim int64
		if err := rows.Scan(&claim); err != nil {
			return err
		}
		s.claimIDs[strconv.FormatInt(claim, 10)] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read claim ids: %w", err)
	}
	err = tx.QueryRowContext(ctx, `SELECT count(*), CAST(coalesce(sum(units), 0) AS BIGINT),
			coalesce(max(units), 0), coalesce(min(units), 0),
			CAST(coalesce(sum(CASE WHEN units > $2 THEN 1 ELSE 0 END), 0) AS BIGINT)
		FROM flash_sale_holders WHERE sale_id = $1`, id, s.limit).
		Scan(&s.holders, &s.holderSum, &s.holderMax, &s.holderMin, &s.holdersOver)
	if err != nil {
		return nil, fmt.Errorf("read holders: %w", err)
	}
	err = tx.QueryRowContext(ctx, `SELECT CAST(coalesce(max(u), 0) AS BIGINT),
			CAST(coalesce(sum(CASE WHEN u > $2 THEN 1 ELSE 0 END), 0) AS BIGINT)
		FROM (SELECT customer_id, sum(quantity) AS u FROM flash_sale_claims
			WHERE sale_id = $1 AND state <> 'released' GROUP BY customer_id) per_customer`, id, s.limit).
		Scan(&s.claimsMax, &s.claimsOver)
	if err != nil {
		return nil, fmt.Errorf("read claims per customer: %w", err)
	}
	err = tx.QueryRowContext(ctx, `SELECT count(*) FROM flash_sale_holders h WHERE h.sale_id = $1
		AND h.units <> (SELECT coalesce(sum(c.quantity), 0) FROM flash_sale_claims c
			WHERE c.sale_id = h.sale_id AND c.customer_id = h.customer_id AND c.state <> 'released')`, id).Scan(&s.holdersOff)
	if err != nil {
		return nil, fmt.Errorf("compare holders with claims: %w", err)
	}
	err = tx.QueryRowContext(ctx, `SELECT count(DISTINCT c.customer_id) FROM flash_sale_claims c
		WHERE c.sale_id = $1 AND c.state <> 'released' AND NOT EXISTS (
			SELECT 1 FROM flash_sale_holders h WHERE h.sale_id = c.sale_id AND h.customer_id = c.customer_id)`, id).Scan(&s.holdersMissing)
	if err != nil {
		return nil, fmt.Errorf("find claims without holders: %w", err)
	}
	err = db.EachRow(ctx, tx, "SELECT warehouse, on_hand, reserved FROM stock WHERE sku = $1", []any{s.sku}, func(rows *sql.Rows) error {
		var w string
		var l [2]int64
		if err := rows.Scan(&w, &l[0], &l[1]); err != nil {
			return err
		}
		s.stock[w] = l
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read stock: %w", err)
	}
	err = db.EachRow(ctx, tx, `SELECT warehouse, CAST(coalesce(sum(quantity), 0) AS BIGINT) FROM reservations
		WHERE sku = $1 AND state = 'live' GROUP BY warehouse`, []any{s.sku}, func(rows *sql.Rows) error {
		var w string
		var n int64
		if err := rows.Scan(&w, &n); err != nil {
			return err
		}
		s.live[w] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sum reservations: %w", err)
	}
	err = tx.QueryRowContext(ctx, "SELECT coalesce(min(quantity), 1) FROM reservations WHERE sku = $1", s.sku).Scan(&s.reservationsMin)
	if err != nil {
		return nil, fmt.Errorf("read reservations: %w", err)
	}
	err = db.EachRow(ctx, tx, "SELECT state, quantity FROM reservations WHERE owner = $1", []any{flashsale.PoolOwner(id)}, func(rows *sql.Rows) error {
		s.poolRows++
		return rows.Scan(&s.poolState, &s.poolQuantity)
	})
	if err != nil {
		return nil, fmt.Errorf("read the sale's pool: %w", err)
	}
	return s, nil
}

// verifySale reads the sale after the run and checks it against itself,
// the stock and the run's answers, whose claim ids are answered.
func verifySale(ctx context.Context, d *db.DB, f *FlashSaleStats, answered []string) ([]Check, error) {
	s, err := readSale(ctx, d, f.SaleID)
	if err != nil {
		return nil, err
	}
	return saleChecks(s, f, answered), nil
}

// saleChecks holds the snapshot against the run.
func saleChecks(s *saleSnapshot, f *FlashSaleStats, answered []string) []Check {
	var checks []Check
	add := func(ok bool, name, format string, args ...any) {
		checks = append(checks, Check{OK: ok, Name: name, Detail: fmt.Sprintf(format, args...)})
	}

	add(f.Fired == uint64(f.Customers) && f.Decided == f.Fired && f.Failed == 0 && f.CutOff == 0,
		"every customer's claim decided",
		"%d of %d customers fired, %d decided, %d failed, %d still retrying at the close",
		f.Fired, f.Customers, f.Decided, f.Failed, f.CutOff)

	demand := int64(f.Fired) * claimQuantity
	want := min(s.quantity, demand)
	answeredUnits := int64(f.Claimed()) * claimQuantity
	add(s.claimed == want && answeredUnits == want, "claimed = min(units, demand)",
		"sale's claimed %d, units answered 201 %d, min(%d units, %d demanded) = %d",
		s.claimed, answeredUnits, s.quantity, demand, want)

	var missing, empty int
	seen := make(map[string]bool, len(answered))
	for _, id := range answered {
		switch {
		case id == "":
			empty++
		case !s.claimIDs[id]:
			missing++
		}
		seen[id] = true
	}
	var unanswered int
	for id := range s.claimIDs {
		if !seen[id] {
			unanswered++
		}
	}
	add(missing == 0 && empty == 0 && unanswered == 0 && len(answered) == len(s.claimIDs),
		"claims answered 201 = claim rows",
		"%d answered 201, %d claim rows; %d answered but not in the database, %d answers without a claim_id, %d rows never answered 201",
		len(answered), len(s.claimIDs), missing, empty, unanswered)

	add(s.holdersOver == 0 && s.claimsOver == 0 && s.holderMax <= s.limit && s.claimsMax <= s.limit,
		"no customer above the limit",
		"limit %d; most units one customer holds: %d (holders), %d (claims not released); customers above: %d, %d",
		s.limit, s.holderMax, s.claimsMax, s.holdersOver, s.claimsOver)

	held := s.claimUnits["live"] + s.claimUnits["ordered"] + s.claimUnits["paid"]
	add(s.claimed == held && s.paid == s.claimUnits["paid"] && s.released == s.claimUnits["released"] &&
		s.holderSum == s.claimed && s.holdersOff == 0 && s.holdersMissing == 0,
		"sale counters = sums over claims",
		"claimed %d = live %d + ordered %d + paid %d; paid %d = %d; released %d = %d; holders' units %d; %d holders rows disagree with the claims, %d customers with claims lack one",
		s.claimed, s.claimUnits["live"], s.claimUnits["ordered"], s.claimUnits["paid"],
		s.paid, s.claimUnits["paid"], s.released, s.claimUnits["released"], s.holderSum, s.holdersOff, s.holdersMissing)

	var negatives []string
	note := func(bad bool, format string, args ...any) {
		if bad {
			negatives = append(negatives, fmt.Sprintf(format, args...))
		}
	}
	note(s.claimed < 0 || s.paid < 0 || s.released < 0, "sale counters claimed %d paid %d released %d", s.claimed, s.paid, s.released)
	note(s.quantity-s.claimed < 0, "remaining %d", s.quantity-s.claimed)
	note(s.paid > s.claimed, "paid %d above claimed %d", s.paid, s.claimed)
	note(s.holders > 0 && s.holderMin < 0, "a holder with %d units", s.holderMin)
	note(s.reservationsMin <= 0, "a reservation of %d units", s.reservationsMin)
	for _, w := range slices.Sorted(maps.Keys(s.stock)) {
		l := s.stock[w]
		note(l[0] < 0 || l[1] < 0 || l[1] > l[0], "stock in %s: on hand %d, reserved %d", w, l[0], l[1])
	}
	add(len(negatives) == 0, "nothing below zero",
		"remaining %d of %d, %d holders (fewest units %d), stock of %s in %d warehouse(s)%s",
		s.quantity-s.claimed, s.quantity, s.holders, s.holderMin, s.sku, len(s.stock), listProblems(negatives))

	var off []string
	var reserved, live int64
	for _, w := range slices.Sorted(maps.Keys(s.stock)) {
		reserved += s.stock[w][1]
		live += s.live[w]
		if s.stock[w][1] != s.live[w] {
			off = append(off, fmt.Sprintf("%s reserved %d, live reservations %d", w, s.stock[w][1], s.live[w]))
		}
	}
	for w := range s.live {
		if _, ok := s.stock[w]; !ok {
			off = append(off, fmt.Sprintf("%s has live reservations %d and no stock row", w, s.live[w]))
		}
	}
	add(len(off) == 0, "stock reserved = live reservations",
		"%s: %d reserved, %d in live reservations%s", s.sku, reserved, live, listProblems(off))

	// Claims take units from the counter only; checkout moves them from
	// the pool to the order's reservation, and an unpaid order brings
	// them back. So the pool holds what is not in orders.
	inPool := s.quantity - s.claimUnits["ordered"] - s.claimUnits["paid"]
	poolLive := int64(0)
	if s.poolState == "live" {
		poolLive = s.poolQuantity
	}
	add(s.poolRows == 1 && poolLive == inPool, "pool reservation = units not checked out",
		"%d pool reservation row(s), %s with %d units; %d units - %d in orders = %d",
		s.poolRows, orNone(s.poolState), s.poolQuantity, s.quantity, s.claimUnits["ordered"]+s.claimUnits["paid"], inPool)
	return checks
}

// listProblems formats problems after a detail line, or nothing.
func listProblems(p []string) string {
	if len(p) == 0 {
		return ""
	}
	return "; " + strings.Join(p, "; ")
}

// orNone returns s, or "none" when it is empty.
func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
