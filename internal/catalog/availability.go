package catalog

import (
	"strings"
	"time"

	"mistore/internal/locale"
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
	// Why is Reason as a message for pages, which say it in their
	// reader's language (Reason is Why.String(), kept for the API). Its
	// places, schemes and categories are nested messages; its dates are
	// Day values, which a page writes its own way.
	Why locale.Msg
	// LaunchAt is set for ComingSoon.
	LaunchAt time.Time
}

// because makes an Availability of state for the reason why, with its
// English text.
func because(state State, why locale.Msg) Availability {
	return Availability{State: state, Reason: why.String(), Why: why}
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
		return because(NotSold, locale.M("The %s is not sold in %s.", p.LocalName(), placeName(m)))
	}
	for _, scheme := range m.RequiredSchemes(p.Category) {
		if a, ok := certified(p, r, scheme, now); !ok {
			return a
		}
	}
	if !l.LaunchAt.IsZero() && now.Before(l.LaunchAt) {
		a := because(ComingSoon, locale.M("The %s comes to %s on %s.", p.LocalName(), placeName(m), locale.Day(l.LaunchAt)))
		a.LaunchAt = l.LaunchAt
		return a
	}
	return Availability{State: Available}
}

// certified reports whether p holds a certification of scheme for the
// market that is valid at now, and if not, why not in a shopper's words.
func certified(p *Product, r Rules, scheme string, now time.Time) (Availability, bool) {
	var expired, future *Certification
	for i, c := range p.Certifications[r.Market.Code] {
		if c.Scheme != scheme {
			continue
		}
		if c.ValidAt(now) {
			return Availability{State: Available}, true
		}
		if now.Before(c.ValidFrom) {
			future = &p.Certifications[r.Market.Code][i]
		} else {
			expired = &p.Certifications[r.Market.Code][i]
		}
	}
	sc := r.Schemes.Scheme(scheme)
	where := placeName(r.Market)
	// Scheme names and authorities are reference data: as messages, a
	// page can translate the ones its catalog knows.
	name, authority := locale.M(sc.Name), locale.M(sc.Authority)
	switch {
	case future != nil:
		return because(NotSold, locale.M("The %s is not sold in %s yet: its %s (%s) takes effect on %s.",
			p.LocalName(), where, name, future.Reference, locale.Day(future.ValidFrom))), false
	case expired != nil:
		return because(NotSold, locale.M("The %s is no longer sold in %s: its %s (%s) expired on %s.",
			p.LocalName(), where, name, expired.Reference, locale.Day(expired.ValidUntil))), false
	}
	what := locale.M("products of its kind")
	if r.CategoryName != "" {
		what = locale.M(strings.ToLower(r.CategoryName))
	}
	return because(NotSold, locale.M("The %s is not sold in %s: it does not have %s from %s, which %s requires for %s.",
		p.LocalName(), where, article(name), authority, where, what)), false
}

// decideVariant checks the clauses of one variant: price and stock.
func decideVariant(p *Product, v *Variant, r Rules, stock, qty int) Availability {
	m := r.Market
	price, ok := v.Prices[m.Code]
	if !ok || price.Currency != m.Currency {
		return because(NotSold, locale.M("The %s is not priced for %s yet.", LocalFullName(p, v), placeName(m)))
	}
	if qty < 1 {
		qty = 1
	}
	if stock < qty {
		if stock > 0 {
			return because(OutOfStock, locale.M("Only %d of the %s are left in %s.", stock, LocalFullName(p, v), placeName(m)))
		}
		return because(OutOfStock, locale.M("The %s is out of stock in %s.", LocalFullName(p, v), placeName(m)))
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
	best := because(NotSold, locale.M("The %s is not priced for %s yet.", p.LocalName(), placeName(r.Market)))
	for i := range p.Variants {
		v := &p.Variants[i]
		a := decideVariant(p, v, r, stock[v.SKU], 1)
		perVariant[i] = a
		switch {
		case a.State == Available:
			best = a
		case a.State == OutOfStock && best.State != Available:
			best = because(OutOfStock, locale.M("The %s is out of stock in %s.", p.LocalName(), placeName(r.Market)))
		}
	}
	return best, perVariant
}

// FullName is the product's name, with the variant's after it where the
// product has several: "Mistore Band 8 (Black)".
func FullName(p *Product, v *Variant) string {
	if !hasVariantName(p, v) {
		return p.Name
	}
	return joinName(p.Name, v.Name)
}

// LocalName is the product's name for a message: as the shop wrote it in
// each language, so a page says it in its reader's.
func (p *Product) LocalName() locale.Name { return LocalFullName(p, nil) }

// LocalFullName is FullName for a message, in each language the shop
// wrote the product's texts in: from the index made when the texts were
// loaded (indexNames), worked out here only for a product built without.
func LocalFullName(p *Product, v *Variant) locale.Name {
	key := ""
	if hasVariantName(p, v) {
		key = v.SKU
	} else {
		v = nil
	}
	n := locale.Name{Default: FullName(p, v)}
	if in, ok := p.names[key]; ok {
		n.In = in
	} else if len(p.Texts) > 0 {
		n.In = localNames(p, v)
	}
	return n
}

// indexNames works out p's names in the languages of its texts once, for
// LocalFullName: a reason names the product for every product a market
// does not sell, on every view that is not kept.
func (p *Product) indexNames() {
	p.names = nil
	if len(p.Texts) == 0 {
		return
	}
	p.names = map[string]map[string]string{"": localNames(p, nil)}
	for i := range p.Variants {
		if v := &p.Variants[i]; hasVariantName(p, v) {
			p.names[v.SKU] = localNames(p, v)
		}
	}
}

// hasVariantName reports whether v's name belongs after p's: a product of
// several variants tells them apart.
func hasVariantName(p *Product, v *Variant) bool {
	return v != nil && v.Name != "" && len(p.Variants) >= 2
}

func joinName(name, variant string) string {
	if variant == "" {
		return name
	}
	return name + " (" + variant + ")"
}

// localNames is p's name, with v's after it when v is not nil, in each
// language of p's texts; English where a text leaves one out.
func localNames(p *Product, v *Variant) map[string]string {
	out := make(map[string]string, len(p.Texts))
	for lang, t := range p.Texts {
		name, variant := t.Name, ""
		if name == "" {
			name = p.Name
		}
		if v != nil {
			if variant = t.Variants[v.SKU]; variant == "" {
				variant = v.Name
			}
		}
		out[lang] = joinName(name, variant)
	}
	return out
}

// placeName is the market's name in a sentence, "the United States", as
// a message a page can translate.
func placeName(m market.Market) locale.Msg { return locale.M(m.Place()) }

// article puts "a" or "an" before a scheme's name: a message of its own,
// so that a language without articles can drop it.
func article(name locale.Msg) locale.Msg {
	s := name.String()
	if s == "" {
		return name
	}
	switch s[0] {
	case 'A', 'E', 'I', 'O', 'a', 'e', 'i', 'o', 'u', 'F', 'S':
		// "an FCC ...", "an SRRC ...": the letter is said with a vowel.
		return locale.M("an %s", name)
	}
	return locale.M("a %s", name)
}
