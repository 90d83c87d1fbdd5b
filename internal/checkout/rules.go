package checkout

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"

	"mistore/internal/db"
	"mistore/internal/market"
)

// rulesTTL is how long the shipping methods and tax rates are priced from
// memory before they are read again. A change made through the back
// office reaches this process at once (Service.RatesChanged) and other
// instances through the changefeed; the expiry only bounds how long a
// change made some other way (SQL by hand, a missed notification) goes
// unseen, as the catalog's does.
const rulesTTL = time.Second

// rules keeps every market's shipping methods and tax rates in memory.
// Pricing a checkout needs both, and they change a few times a year:
// reading them for every order cost two queries a checkout inside the
// transaction that places it, which on SQLite is time of the one writer.
type rules struct {
	db  *db.DB
	now func() time.Time

	mu   sync.Mutex
	last *pricingRules
	// gen counts forgets, so that a load that began before one is not
	// kept after it.
	gen uint64
}

// pricingRules are the shipping methods and tax rates as read at loaded.
// They are shared and never changed once loaded.
type pricingRules struct {
	// methods are each market's methods, in the order shoppers see them.
	methods map[string][]methodRule
	// taxes are each market's rates by region; region "" is the
	// market's own rate.
	taxes  map[string]map[string]taxRow
	loaded time.Time
}

// taxRow is one row of tax_rates.
type taxRow struct {
	name        string
	ratePCM     int64
	taxShipping bool
}

func newRules(d *db.DB, now func() time.Time) *rules {
	return &rules{db: d, now: now}
}

// forget drops the rules, to be read again on next use.
func (r *rules) forget() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = nil
	r.gen++
}

// current returns the rules, from memory when they were read less than
// rulesTTL ago. It reads through the reader pool, so it is called before
// a write transaction begins, never inside one.
func (r *rules) current(ctx context.Context) (*pricingRules, error) {
	now := r.now()
	r.mu.Lock()
	pr, gen := r.last, r.gen
	r.mu.Unlock()
	if pr != nil && now.Sub(pr.loaded) < rulesTTL && !now.Before(pr.loaded) {
		return pr, nil
	}
	pr, err := r.load(ctx, now)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if r.gen == gen {
		r.last = pr
	}
	r.mu.Unlock()
	return pr, nil
}

func (r *rules) load(ctx context.Context, now time.Time) (*pricingRules, error) {
	pr := &pricingRules{methods: map[string][]methodRule{}, taxes: map[string]map[string]taxRow{}, loaded: now}
	q := r.db.Reader()
	err := db.EachRow(ctx, q, `SELECT market, code, name, kind, days, price, per_kg, coalesce(free_over, -1), regions
		FROM shipping_methods ORDER BY market, position, code`, nil, func(rows *sql.Rows) error {
		var mk, regions string
		var m methodRule
		if err := rows.Scan(&mk, &m.code, &m.name, &m.kind, &m.days, &m.price, &m.perKg, &m.freeOver, &regions); err != nil {
			return err
		}
		m.regions = strings.Fields(regions)
		pr.methods[mk] = append(pr.methods[mk], m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("shipping methods: %w", err)
	}
	err = db.EachRow(ctx, q, `SELECT market, region, name, rate_pcm, tax_shipping FROM tax_rates`, nil, func(rows *sql.Rows) error {
		var mk, region string
		var t taxRow
		if err := rows.Scan(&mk, &region, &t.name, &t.ratePCM, &t.taxShipping); err != nil {
			return err
		}
		if pr.taxes[mk] == nil {
			pr.taxes[mk] = map[string]taxRow{}
		}
		pr.taxes[mk][region] = t
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tax rates: %w", err)
	}
	return pr, nil
}

// shippingMethods returns market code's shipping methods offered to
// region ("" for all), in the order shoppers see them.
func (pr *pricingRules) shippingMethods(code, region string) []methodRule {
	var out []methodRule
	for _, m := range pr.methods[code] {
		if m.offeredTo(region) {
			out = append(out, m)
		}
	}
	return out
}

// taxFor finds the rate for a destination in m: the region's, else the
// market's own, else none.
func (pr *pricingRules) taxFor(m market.Market, region string) taxRule {
	t := taxRule{taxIncluded: m.TaxIncluded}
	row, ok := pr.taxes[m.Code][region]
	if !ok {
		row, ok = pr.taxes[m.Code][""]
	}
	if ok {
		t.name, t.ratePCM, t.taxShipping, t.found = row.name, row.ratePCM, row.taxShipping, true
	}
	return t
}
