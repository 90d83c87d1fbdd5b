package catalog

import (
	"fmt"
	"strings"
	"time"

	"mistore/internal/market"
)

// State is where a product stands in a market.
type State string

// The states of DESIGN.md's availability rule.
const (
	Available  State = "available"
	OutOfStock State = "out_of_stock"
	ComingSoon State = "coming_soon"
	NotSold    State = "not_sold"
)

// Availability is a decision with the sentence a shopper reads about it.
type Availability struct {
	State  State
	Reason string // empty when Available
	// LaunchAt is set for ComingSoon.
	LaunchAt time.Time
}

// Purchasable reports whether the decision allows a sale.
func (a Availability) Purchasable() bool { return a.State == Available }

// Rules is what the availability rule needs beyond the product: the
// market and the names of certification schemes.
type Rules struct {
	Market  market.Market
	Schemes *market.Set
	// CategoryName is the plural category name in a sentence, e.g. "phones".
	CategoryName string
}

// Decide applies the availability rule to one variant of p in the market
// of r: listed and launched, certified for every required scheme, priced
// in the market, and at least qty units in stock (stock is what the
// market's warehouses have available). It is the one place this rule is
// written; pages, the API, carts and checkout all ask it.
func Decide(p *Product, v *Variant, r Rules, stock, qty int, now time.Time) Availability {
	if a := decideProduct(p, r, now); a.State != Available {
		return a
	}
	return decideVariant(p, v, r, stock, qty)
}

// decideProduct checks the clauses that hold for every variant: listing,
// launch and certification.
func decideProduct(p *Product, r Rules, now time.Time) Availability {
	m := r.Market
	l, ok := p.Listings[m.Code]
	if !ok || !l.Listed {
		return Availability{State: NotSold, Reason: fmt.Sprintf("The %s is not sold in %s.", p.Name, placeName(m))}
	}
	for _, scheme := range m.RequiredSchemes(p.Category) {
		if reason, ok := certified(p, r, scheme, now); !ok {
			return Availability{State: NotSold, Reason: reason}
		}
	}
	if !l.LaunchAt.IsZero() && now.Before(l.LaunchAt) {
		return Availability{
			State:    ComingSoon,
			Reason:   fmt.Sprintf("The %s comes to %s on %s.", p.Name, placeName(m), l.LaunchAt.UTC().Format("January 2, 2006")),
			LaunchAt: l.LaunchAt,
		}
	}
	return Availability{State: Available}
}

// certified reports whether p holds a certification of scheme for the
// market that is valid at now, and if not, why not in a shopper's words.
func certified(p *Product, r Rules, scheme string, now time.Time) (string, bool) {
	var expired, future *Certification
	for i, c := range p.Certifications[r.Market.Code] {
		if c.Scheme != scheme {
			continue
		}
		if c.ValidAt(now) {
			return "", true
		}
		if now.Before(c.ValidFrom) {
			future = &p.Certifications[r.Market.Code][i]
		} else {
			expired = &p.Certifications[r.Market.Code][i]
		}
	}
	sc := r.Schemes.Scheme(scheme)
	where := placeName(r.Market)
	switch {
	case future != nil:
		return fmt.Sprintf("The %s is not sold in %s yet: its %s (%s) takes effect on %s.",
			p.Name, where, sc.Name, future.Reference, future.ValidFrom.UTC().Format("January 2, 2006")), false
	case expired != nil:
		return fmt.Sprintf("The %s is no longer sold in %s: its %s (%s) expired on %s.",
			p.Name, where, sc.Name, expired.Reference, expired.ValidUntil.UTC().Format("January 2, 2006")), false
	}
	what := r.CategoryName
	if what == "" {
		what = "products of its kind"
	}
	return fmt.Sprintf("The %s is not sold in %s: it does not have %s from %s, which %s requires for %s.",
		p.Name, where, article(sc.Name), sc.Authority, where, strings.ToLower(what)), false
}

// decideVariant checks the clauses of one variant: price and stock.
func decideVariant(p *Product, v *Variant, r Rules, stock, qty int) Availability {
	m := r.Market
	price, ok := v.Prices[m.Code]
	if !ok || price.Currency != m.Currency {
		return Availability{State: NotSold, Reason: fmt.Sprintf("The %s is not priced for %s yet.", fullName(p, v), placeName(m))}
	}
	if qty < 1 {
		qty = 1
	}
	if stock < qty {
		reason := fmt.Sprintf("The %s is out of stock in %s.", fullName(p, v), placeName(m))
		if stock > 0 {
			reason = fmt.Sprintf("Only %d of the %s are left in %s.", stock, fullName(p, v), placeName(m))
		}
		return Availability{State: OutOfStock, Reason: reason}
	}
	return Availability{State: Available}
}

// DecideProduct sums up a product in a market: its product-wide state, or
// available when any variant can be bought, out of stock when all priced
// variants are sold out. stock maps SKU to available units.
func DecideProduct(p *Product, r Rules, stock map[string]int, now time.Time) (Availability, []Availability) {
	perVariant := make([]Availability, len(p.Variants))
	whole := decideProduct(p, r, now)
	if whole.State != Available {
		for i := range perVariant {
			perVariant[i] = whole
		}
		return whole, perVariant
	}
	best := Availability{State: NotSold, Reason: fmt.Sprintf("The %s is not priced for %s yet.", p.Name, placeName(r.Market))}
	for i := range p.Variants {
		v := &p.Variants[i]
		a := decideVariant(p, v, r, stock[v.SKU], 1)
		perVariant[i] = a
		switch {
		case a.State == Available:
			best = a
		case a.State == OutOfStock && best.State != Available:
			best = Availability{State: OutOfStock, Reason: fmt.Sprintf("The %s is out of stock in %s.", p.Name, placeName(r.Market))}
		}
	}
	return best, perVariant
}

func fullName(p *Product, v *Variant) string {
	if v == nil || v.Name == "" || len(p.Variants) < 2 {
		return p.Name
	}
	return p.Name + " (" + v.Name + ")"
}

// placeName is the market's name in a sentence: "the United States".
func placeName(m market.Market) string { return m.Place() }

func article(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case 'A', 'E', 'I', 'O', 'a', 'e', 'i', 'o', 'u', 'F', 'S':
		// "an FCC ...", "an SRRC ...": the letter is said with a vowel.
		return "an " + s
	}
	return "a " + s
}
