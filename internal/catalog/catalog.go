// Package catalog holds products, their variants, prices per market,
// certifications, listings and resellers, and the one rule that decides
// whether a product may be sold in a market.
package catalog

import (
	"errors"
	"time"

	"mistore/internal/money"
)

// ErrNotFound is returned for an unknown product.
var ErrNotFound = errors.New("product not found")

// Spec is one named property, such as "Battery" = "Up to 16 days". Specs
// and options keep their order, so they are pairs rather than a map.
type Spec struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Product is a thing the brand makes, with everything that decides where
// and how it is sold.
type Product struct {
	ID          int64
	Slug        string
	Name        string
	Category    string
	Description string
	Specs       []Spec
	// Image is the name of the product's built-in art, shown while it
	// has no photos (see Cover).
	Image string
	// Photos are the pictures staff uploaded, in order; the first is the
	// cover.
	Photos   []Photo
	Featured bool
	// PurchaseLimit is the most units of one SKU a cart may hold; 0 means
	// the store default.
	PurchaseLimit int
	Variants      []Variant
	// Listings, Certifications and Resellers are keyed by market code.
	Listings       map[string]Listing
	Certifications map[string][]Certification
	Resellers      map[string][]Reseller
	// Texts are the product's name, description and variant names in
	// other languages, keyed by language tag ("zh-Hans").
	Texts     map[string]ProductText
	UpdatedAt time.Time
	// names holds the product's full names by SKU ("" for the product
	// alone), then language of texts: see indexNames.
	names map[string]map[string]string
}

// ProductText is a product's words in one language other than English.
// An empty field means the English one.
type ProductText struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Specs replace the English specifications as a whole when present.
	Specs    []Spec            `json:"specs,omitempty"`
	Variants map[string]string `json:"variants,omitempty"` // SKU -> variant name
}

// IsZero reports whether t translates nothing.
func (t ProductText) IsZero() bool {
	if t.Name != "" || t.Description != "" || len(t.Specs) > 0 {
		return false
	}
	for _, v := range t.Variants {
		if v != "" {
			return false
		}
	}
	return true
}

// Variant is one buyable version of a product, such as a colour.
type Variant struct {
	ID      int64
	SKU     string
	Name    string
	Options []Spec
	WeightG int
	// Prices is keyed by market code.
	Prices map[string]money.Money
}

// Listing says whether a product is offered in a market and from when.
type Listing struct {
	Listed bool
	// LaunchAt is when sales open; zero means already open.
	LaunchAt time.Time
}

// Certification is a regulator's approval of a product for a market, such
// as an FCC ID.
type Certification struct {
	Scheme      string
	Reference   string
	ValidFrom   time.Time
	ValidUntil  time.Time // zero: no end
	DocumentURL string
}

// ValidAt reports whether c is in force at t.
func (c Certification) ValidAt(t time.Time) bool {
	return !t.Before(c.ValidFrom) && (c.ValidUntil.IsZero() || t.Before(c.ValidUntil))
}

// Reseller is an authorised third-party shop for a product in a market.
type Reseller struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// Category groups products on the storefront.
type Category struct {
	Slug  string
	Name  string
	Radio bool
}

// DefaultPurchaseLimit is the most units of one SKU a cart may hold when
// the product sets no limit of its own.
const DefaultPurchaseLimit = 10

// Limit returns the most units of one of p's SKUs a cart may hold.
func (p *Product) Limit() int {
	if p.PurchaseLimit > 0 {
		return p.PurchaseLimit
	}
	return DefaultPurchaseLimit
}

// Variant returns the variant with the given SKU.
func (p *Product) Variant(sku string) (*Variant, bool) {
	for i := range p.Variants {
		if p.Variants[i].SKU == sku {
			return &p.Variants[i], true
		}
	}
	return nil, false
}
