package checkout

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"mistore/internal/audit"
	"mistore/internal/changefeed"
	"mistore/internal/db"
	"mistore/internal/input"
)

// ShippingMethod is one way a market's orders can be delivered, as staff
// set it: a flat charge (free at or over a subtotal, if FreeOver is set)
// or a charge by weight (Amount plus PerKg for each started kilogram).
// Money is in minor units of the market's currency. The fields are named
// amount rather than price: the API refuses "price" in any request body.
type ShippingMethod struct {
	Market string `json:"market"`
	// Code names the method in a market (standard, express); orders keep
	// the code and the name they were shipped with.
	Code string `json:"code"`
	Name string `json:"name"`
	// Kind is "flat" or "weight".
	Kind   string `json:"kind"`
	Amount int64  `json:"amount"`
	// FreeOver, for a flat method, is the subtotal (after discounts) from
	// which it is free; nil means never.
	FreeOver *int64 `json:"free_over"`
	// PerKg, for a weight method, is added for each started kilogram.
	PerKg int64 `json:"per_kg"`
	// Days is the delivery estimate shoppers see, such as "3–5 business days".
	Days string `json:"days"`
	// Position orders a market's methods; the first is checkout's default.
	Position int `json:"position"`
	// Regions are the regions (US state codes) the method is offered to,
	// sorted; empty means the whole market.
	Regions []string `json:"regions"`
}

// maxShippingAmount bounds a shipping charge or threshold: 100 million
// minor units, far above any real one in any of the currencies.
const maxShippingAmount = 100_000_000

var shippingCodePattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// ShippingMethodSubject is the audit log's subject for a shipping method:
// shipping_method:us/express.
func ShippingMethodSubject(market, code string) string {
	return "shipping_method:" + market + "/" + code
}

// ShippingMethods returns the shipping methods of one market, or of all
// when market is "", by market and in the order shoppers see them.
func (a *Admin) ShippingMethods(ctx context.Context, market string) ([]ShippingMethod, error) {
	query := "SELECT " + shippingColumns + " FROM shipping_methods"
	args := []any{}
	if market != "" {
		query += " WHERE market = $1"
		args = append(args, market)
	}
	out := []ShippingMethod{}
	err := db.EachRow(ctx, a.db.Reader(), query+" ORDER BY market, position, code", args, func(rows *sql.Rows) error {
		m, err := scanShippingMethod(rows)
		out = append(out, m)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("shipping methods: %w", err)
	}
	return out, nil
}

// shippingColumns are what scanShippingMethod reads.
const shippingColumns = "market, code, name, kind, price, free_over, per_kg, days, position, regions"

type rowScanner interface{ Scan(dest ...any) error }

func scanShippingMethod(row rowScanner) (ShippingMethod, error) {
	var m ShippingMethod
	var free sql.NullInt64
	var regions string
	if err := row.Scan(&m.Market, &m.Code, &m.Name, &m.Kind, &m.Amount, &free, &m.PerKg, &m.Days, &m.Position, &regions); err != nil {
		return ShippingMethod{}, err
	}
	if free.Valid {
		m.FreeOver = &free.Int64
	}
	m.Regions = strings.Fields(regions)
	if m.Regions == nil {
		m.Regions = []string{}
	}
	return m, nil
}

// check validates and normalises m in q.
func (m *ShippingMethod) check(ctx context.Context, q db.Querier) error {
	m.Market = strings.ToLower(strings.TrimSpace(m.Market))
	m.Code = strings.TrimSpace(m.Code)
	m.Name = strings.TrimSpace(m.Name)
	m.Days = strings.TrimSpace(m.Days)
	if err := checkMarket(ctx, q, m.Market); err != nil {
		return err
	}
	oneLine := func(s string) bool { return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl) }
	switch {
	case len(m.Code) > 40 || !shippingCodePattern.MatchString(m.Code):
		return input.Invalid("code", "A method's code is 1 to 40 lowercase letters, digits and hyphens, such as express.")
	case m.Name == "" || utf8.RuneCountInString(m.Name) > 100 || !oneLine(m.Name):
		return input.Invalid("name", "A method needs a name of 1 to 100 characters on one line, as checkout shows it.")
	case utf8.RuneCountInString(m.Days) > 60 || !oneLine(m.Days):
		return input.Invalid("days", "The delivery estimate is at most 60 characters on one line.")
	case m.Kind != "flat" && m.Kind != "weight":
		return input.Invalid("kind", "The kind is flat (one charge, optionally free over a subtotal) or weight (a charge and an amount a started kilogram).")
	case m.Amount < 0 || m.Amount > maxShippingAmount:
		return input.Invalid("amount", "The charge is 0 to %d, in minor units of the market's currency.", maxShippingAmount)
	case m.Kind == "flat" && m.PerKg != 0:
		return input.Invalid("per_kg", "A flat method has no charge by weight; make it a weight method.")
	case m.Kind == "weight" && m.FreeOver != nil:
		return input.Invalid("free_over", "A weight method is never free; make it a flat method to offer free shipping.")
	case m.PerKg < 0 || m.PerKg > maxShippingAmount:
		return input.Invalid("per_kg", "The charge a kilogram is 0 to %d, in minor units of the market's currency.", maxShippingAmount)
	case m.FreeOver != nil && (*m.FreeOver < 0 || *m.FreeOver > maxShippingAmount*100):
		return input.Invalid("free_over", "The free-shipping threshold is 0 to %d, in minor units of the market's currency.", maxShippingAmount*100)
	case m.Position < 0 || m.Position > 1000:
		return input.Invalid("position", "The position is 0 to 1000.")
	}
	regions := make([]string, 0, len(m.Regions))
	for _, r := range m.Regions {
		r = strings.ToUpper(strings.TrimSpace(r))
		if r == "" || slices.Contains(regions, r) {
			continue
		}
		if err := checkRegion(m.Market, r, "regions"); err != nil {
			return err
		}
		regions = append(regions, r)
	}
	slices.Sort(regions)
	m.Regions = regions
	return nil
}

// SetShippingMethod creates or replaces the method of m's market and
// code, or fails with an *InvalidError. Checkouts priced from then on use
// it, on every instance; orders placed before keep their shipping.
func (a *Admin) SetShippingMethod(ctx context.Context, m ShippingMethod) (ShippingMethod, error) {
	err := a.editShipping(ctx, m.Market, m.Code, "shipping_method.set", func(tx db.Querier, before *ShippingMethod) (any, error) {
		if err := m.check(ctx, tx); err != nil {
			return nil, err
		}
		var free any
		if m.FreeOver != nil {
			free = *m.FreeOver
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO shipping_methods (market, code, name, kind, price, free_over, per_kg, days, position, regions)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (market, code) DO UPDATE SET name = excluded.name, kind = excluded.kind, price = excluded.price,
				free_over = excluded.free_over, per_kg = excluded.per_kg, days = excluded.days, position = excluded.position,
				regions = excluded.regions`,
			m.Market, m.Code, m.Name, m.Kind, m.Amount, free, m.PerKg, m.Days, m.Position, strings.Join(m.Regions, " ")); err != nil {
			return nil, fmt.Errorf("set shipping method %s: %w", ShippingMethodSubject(m.Market, m.Code), err)
		}
		return m, nil
	})
	if err != nil {
		return ShippingMethod{}, err
	}
	return m, nil
}

// DeleteShippingMethod removes a market's method. A market keeps at least
// one: without any, nothing could be checked out there.
func (a *Admin) DeleteShippingMethod(ctx context.Context, market, code string) error {
	return a.editShipping(ctx, market, code, "shipping_method.delete", func(tx db.Querier, before *ShippingMethod) (any, error) {
		if before == nil {
			return nil, fmt.Errorf("%w: %s", ErrShippingMethodNotFound, ShippingMethodSubject(market, code))
		}
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM shipping_methods WHERE market = $1", market).Scan(&n); err != nil {
			return nil, fmt.Errorf("delete shipping method: %w", err)
		}
		if n <= 1 {
			return nil, input.Invalid("code", "This is the market's only shipping method: add another before deleting it, or nothing can be checked out there.")
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM shipping_methods WHERE market = $1 AND code = $2", market, code); err != nil {
			return nil, fmt.Errorf("delete shipping method: %w", err)
		}
		return nil, nil
	})
}

// ErrShippingMethodNotFound: the market has no method of that code.
var ErrShippingMethodNotFound = errors.New("shipping method not found")

// editShipping runs one change of the method market/code in a
// transaction with its audit entry and the changefeed's notice, then
// tells this process's checkout.
func (a *Admin) editShipping(ctx context.Context, market, code, action string, fn func(tx db.Querier, before *ShippingMethod) (after any, err error)) error {
	market, code = strings.ToLower(strings.TrimSpace(market)), strings.TrimSpace(code)
	err := a.db.Tx(ctx, func(tx db.Querier) error {
		// Lock the row (if there is one) before reading it, so that the
		// audit log's "before" is what this change replaced.
		if _, err := tx.ExecContext(ctx, "UPDATE shipping_methods SET name = name WHERE market = $1 AND code = $2", market, code); err != nil {
			return fmt.Errorf("shipping method %s: %w", ShippingMethodSubject(market, code), err)
		}
		var before *ShippingMethod
		old, err := scanShippingMethod(tx.QueryRowContext(ctx, "SELECT "+shippingColumns+" FROM shipping_methods WHERE market = $1 AND code = $2", market, code))
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("shipping method %s: %w", ShippingMethodSubject(market, code), err)
		default:
			before = &old
		}
		after, err := fn(tx, before)
		if err != nil {
			return err
		}
		if err := changefeed.Publish(ctx, a.db, tx, changefeed.Rates, ""); err != nil {
			return err
		}
		var beforeAny any
		if before != nil {
			beforeAny = *before
		}
		return audit.Record(ctx, tx, action, ShippingMethodSubject(market, code), beforeAny, after)
	})
	if err != nil {
		return err
	}
	if a.ratesChanged != nil {
		a.ratesChanged(ctx, "")
	}
	return nil
}
