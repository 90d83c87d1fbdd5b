package catalog

import (
	"context"
	"fmt"
	"time"

	"mistore/internal/market"
)

// CertificateWarningWindow is how long before a certificate's end staff
// are warned: the time it takes to get a renewal through a regulator.
const CertificateWarningWindow = 30 * 24 * time.Hour

// The kinds of Blocker.
const (
	BlockNotListed          = "not_listed"
	BlockLaunchAhead        = "launch_ahead"
	BlockCertificate        = "certificate"
	BlockCertificateExpires = "certificate_expiring" // a warning
	BlockNoPrice            = "no_price"
	BlockNoStock            = "no_stock"
)

// Blocker is one thing that stops a product selling in a market, or, when
// Warning, soon will.
type Blocker struct {
	Kind    string
	Message string
	Warning bool
	// Until is when an expiring certificate ends.
	Until time.Time
}

// ReadinessRow is one product's launch readiness in a market.
type ReadinessRow struct {
	Product *Product
	// Availability is the availability rule's verdict: Ready means it is
	// Available.
	Availability Availability
	Ready        bool
	Blockers     []Blocker
}

// Warnings counts the row's warnings.
func (r ReadinessRow) Warnings() int {
	n := 0
	for _, b := range r.Blockers {
		if b.Warning {
			n++
		}
	}
	return n
}

// Readiness is every product's launch readiness in one market.
type Readiness struct {
	Market market.Market
	At     time.Time
	Rows   []ReadinessRow
}

// Readiness lists, for every product, what still stands between it and a
// sale in market code. The verdict is the availability rule's; the list
// asks the rule's own clauses one by one, so that staff see every problem
// at once rather than the first one a shopper is told about.
func (s *Service) Readiness(ctx context.Context, code string) (*Readiness, error) {
	snap, m, err := s.inMarket(ctx, code)
	if err != nil {
		return nil, err
	}
	var skus []string
	for _, p := range snap.products {
		for _, v := range p.Variants {
			skus = append(skus, v.SKU)
		}
	}
	stock, err := s.stock.Available(ctx, m.Code, skus)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := &Readiness{Market: m, At: now, Rows: make([]ReadinessRow, 0, len(snap.products))}
	for _, p := range snap.products {
		r := Rules{Market: m, Schemes: snap.markets, CategoryName: snap.categoryName(p.Category)}
		out.Rows = append(out.Rows, readinessOf(p, r, stock, now))
	}
	return out, nil
}

func readinessOf(p *Product, r Rules, stock map[string]int, now time.Time) ReadinessRow {
	whole, _ := DecideProduct(p, r, stock, now)
	row := ReadinessRow{Product: p, Availability: whole, Ready: whole.State == Available}
	m := r.Market
	switch l, ok := p.Listings[m.Code]; {
	case !ok || !l.Listed:
		row.Blockers = append(row.Blockers, Blocker{Kind: BlockNotListed, Message: fmt.Sprintf("Not listed in %s.", m.Place())})
	case !l.LaunchAt.IsZero() && now.Before(l.LaunchAt):
		row.Blockers = append(row.Blockers, Blocker{Kind: BlockLaunchAhead,
			Message: fmt.Sprintf("Launches on %s.", l.LaunchAt.UTC().Format("January 2, 2006 15:04 MST"))})
	}
	for _, scheme := range m.RequiredSchemes(p.Category) {
		if a, ok := certified(p, r, scheme, now); !ok {
			row.Blockers = append(row.Blockers, Blocker{Kind: BlockCertificate, Message: a.Reason})
			continue
		}
		if c, expiring := expiringCert(p, m.Code, scheme, now); expiring {
			row.Blockers = append(row.Blockers, Blocker{Kind: BlockCertificateExpires, Warning: true, Until: c.ValidUntil,
				Message: fmt.Sprintf("%s %s expires on %s; the product stops selling here then unless it is renewed.",
					c.Scheme, c.Reference, c.ValidUntil.UTC().Format("January 2, 2006"))})
		}
	}
	if len(p.Variants) == 0 {
		row.Blockers = append(row.Blockers, Blocker{Kind: BlockNoPrice, Message: "The product has no variants to sell."})
	}
	for i := range p.Variants {
		v := &p.Variants[i]
		switch a := decideVariant(p, v, r, stock[v.SKU], 1); a.State {
		case NotSold:
			row.Blockers = append(row.Blockers, Blocker{Kind: BlockNoPrice, Message: a.Reason})
		case OutOfStock:
			row.Blockers = append(row.Blockers, Blocker{Kind: BlockNoStock, Message: a.Reason})
		}
	}
	return row
}

// expiringCert returns the certificate of scheme in force now that ends
// last, and whether the product will hold none in force a warning window
// from now: a renewal already entered silences the warning.
func expiringCert(p *Product, code, scheme string, now time.Time) (Certification, bool) {
	var last Certification
	found := false
	horizon := now.Add(CertificateWarningWindow)
	for _, c := range p.Certifications[code] {
		if c.Scheme != scheme {
			continue
		}
		if c.ValidAt(horizon) {
			return Certification{}, false
		}
		if c.ValidAt(now) && (!found || c.ValidUntil.After(last.ValidUntil)) {
			last, found = c, true
		}
	}
	return last, found
}
