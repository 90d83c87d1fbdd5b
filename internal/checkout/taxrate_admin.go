package checkout

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"mistore/internal/audit"
	"mistore/internal/changefeed"
	"mistore/internal/db"
	"mistore/internal/input"
)

// TaxRate is one row of the tax table: the rate of a market, or of one
// region of it (a US state), that checkout applies to a destination.
type TaxRate struct {
	Market string `json:"market"`
	// Region is the destination's region code (a US state such as "NJ"),
	// or "" for the market's rate wherever no region's applies.
	Region string `json:"region"`
	Name   string `json:"name"`
	// RatePCM is the rate in thousandths of a percent: 6625 is 6.625%.
	RatePCM int `json:"rate_pcm"`
	// TaxShipping says whether shipping is taxed too.
	TaxShipping bool `json:"tax_shipping"`
}

// MaxTaxRatePCM is the highest rate the table allows: 100%.
const MaxTaxRatePCM = 100_000

// maxTaxNameLen is the longest name of a tax rate, in characters.
const maxTaxNameLen = 100

// TaxRates returns the tax table, of one market or of all when market is
// "", by market and region.
func (a *Admin) TaxRates(ctx context.Context, market string) ([]TaxRate, error) {
	query := "SELECT market, region, name, rate_pcm, tax_shipping FROM tax_rates"
	args := []any{}
	if market != "" {
		query += " WHERE market = $1"
		args = append(args, market)
	}
	rows, err := a.db.Reader().QueryContext(ctx, query+" ORDER BY market, region", args...)
	if err != nil {
		return nil, fmt.Errorf("tax rates: %w", err)
	}
	defer rows.Close()
	out := []TaxRate{}
	for rows.Next() {
		var t TaxRate
		if err := rows.Scan(&t.Market, &t.Region, &t.Name, &t.RatePCM, &t.TaxShipping); err != nil {
			return nil, fmt.Errorf("tax rates: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// check validates and normalises t in q.
func (t *TaxRate) check(ctx context.Context, q db.Querier) error {
	t.Market = strings.ToLower(strings.TrimSpace(t.Market))
	t.Region = strings.ToUpper(strings.TrimSpace(t.Region))
	t.Name = strings.TrimSpace(t.Name)
	if err := checkMarket(ctx, q, t.Market); err != nil {
		return err
	}
	if t.Region != "" {
		if err := checkRegion(t.Market, t.Region, "region"); err != nil {
			return err
		}
	}
	switch {
	case t.Name == "":
		return input.Invalid("name", "A tax rate needs a name, as receipts show it.")
	case utf8.RuneCountInString(t.Name) > maxTaxNameLen || !utf8.ValidString(t.Name):
		return input.Invalid("name", "The name is at most %d characters.", maxTaxNameLen)
	case strings.ContainsFunc(t.Name, unicode.IsControl):
		return input.Invalid("name", "The name must be on one line.")
	case t.RatePCM < 0 || t.RatePCM > MaxTaxRatePCM:
		return input.Invalid("rate_pcm", "The rate is between 0 and %d thousandths of a percent (100%%).", MaxTaxRatePCM)
	}
	return nil
}

// checkRegion validates a region code of market, as checkout compares it
// with an address's region: a US state code in the US, elsewhere a code
// of up to 10 letters, digits and hyphens. field names it in the error.
func checkRegion(market, region, field string) error {
	if market == "us" {
		if _, ok := usStates[region]; !ok {
			return input.Invalid(field, "%q is not a US state code such as NJ.", region)
		}
		return nil
	}
	if len(region) > 10 || strings.ContainsFunc(region, func(r rune) bool { return !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') }) {
		return input.Invalid(field, "A region is a code of up to 10 letters and digits.")
	}
	return nil
}

// checkMarket fails with an *InvalidError on field market unless a
// market's code is code.
func checkMarket(ctx context.Context, q db.Querier, code string) error {
	var one int
	err := q.QueryRowContext(ctx, "SELECT 1 FROM markets WHERE code = $1", code).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return input.Invalid("market", "There is no market %q.", code)
	}
	if err != nil {
		return fmt.Errorf("market %s: %w", code, err)
	}
	return nil
}

// TaxRateSubject is the audit log's subject for a market's (region "")
// or a region's tax rate: tax_rate:us/NJ, tax_rate:cn.
func TaxRateSubject(market, region string) string {
	if region == "" {
		return "tax_rate:" + market
	}
	return "tax_rate:" + market + "/" + region
}

// SetTaxRate creates or replaces the rate of t's market and region, an
// *InvalidError for a rate that cannot be. Checkouts priced from then on
// use it; orders placed before keep their tax.
func (a *Admin) SetTaxRate(ctx context.Context, t TaxRate) (TaxRate, error) {
	err := a.db.Tx(ctx, func(tx db.Querier) error {
		if err := t.check(ctx, tx); err != nil {
			return err
		}
		// Lock the row (if there is one) before reading it, so that the
		// audit log's "before" is what this change replaced.
		if _, err := tx.ExecContext(ctx, "UPDATE tax_rates SET name = name WHERE market = $1 AND region = $2", t.Market, t.Region); err != nil {
			return fmt.Errorf("tax rate %s: %w", TaxRateSubject(t.Market, t.Region), err)
		}
		var before any
		old := TaxRate{Market: t.Market, Region: t.Region}
		err := tx.QueryRowContext(ctx, "SELECT name, rate_pcm, tax_shipping FROM tax_rates WHERE market = $1 AND region = $2", t.Market, t.Region).
			Scan(&old.Name, &old.RatePCM, &old.TaxShipping)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("tax rate %s: %w", TaxRateSubject(t.Market, t.Region), err)
		default:
			before = old
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO tax_rates (market, region, name, rate_pcm, tax_shipping) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (market, region) DO UPDATE SET name = excluded.name, rate_pcm = excluded.rate_pcm, tax_shipping = excluded.tax_shipping`,
			t.Market, t.Region, t.Name, t.RatePCM, t.TaxShipping); err != nil {
			return fmt.Errorf("set tax rate %s: %w", TaxRateSubject(t.Market, t.Region), err)
		}
		if err := changefeed.Publish(ctx, a.db, tx, changefeed.Rates, ""); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "tax_rate.set", TaxRateSubject(t.Market, t.Region), before, t)
	})
	if err != nil {
		return TaxRate{}, err
	}
	if a.ratesChanged != nil {
		a.ratesChanged(ctx, "")
	}
	return t, nil
}
