// Package market holds the countries the store sells in: each market's
// currency, tax convention, warehouses, and the certification schemes it
// requires before a product of a category may be sold there.
package market

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"mistore/internal/db"
)

// ErrNotFound is returned for a market code the store does not serve.
var ErrNotFound = errors.New("market not found")

// Market is one country (or group of countries) with its own catalog rules.
type Market struct {
	Code         string
	Name         string
	Currency     string
	CountryCodes []string
	// TaxIncluded says whether shelf prices include tax (cn, in) or tax is
	// added at checkout (us).
	TaxIncluded bool
	Locale      string
	Warehouses  []string
	// required maps a category slug to the schemes the market requires.
	required map[string][]string
}

// Place is the market's name as it reads in a sentence: "the United
// States", "China".
func (m Market) Place() string {
	if strings.HasPrefix(m.Name, "United ") {
		return "the " + m.Name
	}
	return m.Name
}

// ContentLanguage is the BCP 47 tag of the market's own language, its
// locale: "en-US", "zh-CN", "en-IN" (for hreflang alternates, and the
// language its pages are written in unless a visitor chooses another).
func (m Market) ContentLanguage() string {
	if m.Locale != "" {
		return m.Locale
	}
	if len(m.CountryCodes) == 0 {
		return "en"
	}
	return "en-" + m.CountryCodes[0]
}

// RequiredSchemes returns the certification schemes m requires for
// products of category, in a stable order.
func (m Market) RequiredSchemes(category string) []string {
	return m.required[category]
}

// Scheme is a certification scheme such as the FCC's equipment
// authorization.
type Scheme struct {
	Code      string
	Name      string
	Authority string
}

// Set is every market the store serves and the schemes they use. It is
// read-only once loaded.
type Set struct {
	Markets []Market
	Schemes map[string]Scheme
	byCode  map[string]int
}

// Get returns the market with the given code.
func (s *Set) Get(code string) (Market, error) {
	i, ok := s.byCode[code]
	if !ok {
		return Market{}, fmt.Errorf("%w: %q", ErrNotFound, code)
	}
	return s.Markets[i], nil
}

// Scheme returns the named scheme, or one that just repeats the code when
// the scheme is unknown.
func (s *Set) Scheme(code string) Scheme {
	if sc, ok := s.Schemes[code]; ok {
		return sc
	}
	return Scheme{Code: code, Name: code + " certification", Authority: "the authorities"}
}

// Load reads all markets, their rules and warehouses.
func Load(ctx context.Context, q db.Querier) (*Set, error) {
	set := &Set{Schemes: map[string]Scheme{}, byCode: map[string]int{}}
	rows, err := q.QueryContext(ctx, `SELECT code, name, currency, country_codes, tax_included, locale
		FROM markets ORDER BY position, code`)
	if err != nil {
		return nil, fmt.Errorf("load markets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var m Market
		var countries string
		if err := rows.Scan(&m.Code, &m.Name, &m.Currency, &countries, &m.TaxIncluded, &m.Locale); err != nil {
			return nil, fmt.Errorf("load markets: %w", err)
		}
		m.CountryCodes = strings.Split(countries, ",")
		m.required = map[string][]string{}
		set.byCode[m.Code] = len(set.Markets)
		set.Markets = append(set.Markets, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load markets: %w", err)
	}
	if err := set.loadRules(ctx, q); err != nil {
		return nil, err
	}
	if err := set.loadWarehouses(ctx, q); err != nil {
		return nil, err
	}
	if err := set.loadSchemes(ctx, q); err != nil {
		return nil, err
	}
	return set, nil
}

func (s *Set) loadRules(ctx context.Context, q db.Querier) error {
	rows, err := q.QueryContext(ctx, "SELECT market, category, scheme FROM certification_rules ORDER BY market, category, scheme")
	if err != nil {
		return fmt.Errorf("load certification rules: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var code, category, scheme string
		if err := rows.Scan(&code, &category, &scheme); err != nil {
			return fmt.Errorf("load certification rules: %w", err)
		}
		if i, ok := s.byCode[code]; ok {
			m := &s.Markets[i]
			m.required[category] = append(m.required[category], scheme)
		}
	}
	return rows.Err()
}

func (s *Set) loadWarehouses(ctx context.Context, q db.Querier) error {
	rows, err := q.QueryContext(ctx, "SELECT code, market FROM warehouses ORDER BY code")
	if err != nil {
		return fmt.Errorf("load warehouses: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var code, mk string
		if err := rows.Scan(&code, &mk); err != nil {
			return fmt.Errorf("load warehouses: %w", err)
		}
		if i, ok := s.byCode[mk]; ok {
			s.Markets[i].Warehouses = append(s.Markets[i].Warehouses, code)
		}
	}
	return rows.Err()
}

func (s *Set) loadSchemes(ctx context.Context, q db.Querier) error {
	rows, err := q.QueryContext(ctx, "SELECT code, name, authority FROM certification_schemes")
	if err != nil {
		return fmt.Errorf("load certification schemes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var sc Scheme
		if err := rows.Scan(&sc.Code, &sc.Name, &sc.Authority); err != nil {
			return fmt.Errorf("load certification schemes: %w", err)
		}
		s.Schemes[sc.Code] = sc
	}
	return rows.Err()
}

// NewSet builds a Set from values, for tests and tools that do not read
// the database. rules maps market code to category to schemes.
func NewSet(markets []Market, schemes []Scheme, rules map[string]map[string][]string) *Set {
	set := &Set{Schemes: map[string]Scheme{}, byCode: map[string]int{}}
	for _, m := range markets {
		m.required = map[string][]string{}
		for cat, list := range rules[m.Code] {
			l := append([]string(nil), list...)
			sort.Strings(l)
			m.required[cat] = l
		}
		set.byCode[m.Code] = len(set.Markets)
		set.Markets = append(set.Markets, m)
	}
	for _, sc := range schemes {
		set.Schemes[sc.Code] = sc
	}
	return set
}
