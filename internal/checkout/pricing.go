package checkout

import (
	"fmt"
	"slices"
	"strings"

	"mistore/internal/money"
)

// Method is a shipping method with its price for one cart.
type Method struct {
	Code  string      `json:"code"`
	Name  string      `json:"name"`
	Days  string      `json:"days,omitempty"`
	Price money.Money `json:"price"`
}

// methodRule is a shipping method as the shop configured it.
type methodRule struct {
	code, name, kind, days string
	price, perKg           int64
	freeOver               int64 // -1: never free
	// regions are the regions it is offered to; none: everywhere.
	regions []string
}

// offeredTo reports whether the method ships to region; an unknown
// region ("") is offered every method, to be checked once it is known.
func (m methodRule) offeredTo(region string) bool {
	return len(m.regions) == 0 || region == "" || slices.Contains(m.regions, strings.ToUpper(strings.TrimSpace(region)))
}

// priceFor is the method's price for goods worth subtotal (after discount)
// weighing weightG grams.
func (m methodRule) priceFor(subtotal int64, weightG int) int64 {
	switch m.kind {
	case "weight":
		kg := int64((weightG + 999) / 1000)
		return m.price + m.perKg*max(kg, 1)
	default:
		if m.freeOver >= 0 && subtotal >= m.freeOver {
			return 0
		}
		return m.price
	}
}

// taxRule is a tax rate in units of 0.001 percent.
type taxRule struct {
	name        string
	ratePCM     int64
	taxShipping bool
	taxIncluded bool
	found       bool
}

// pricedLine is a line with its price fixed for the order.
type pricedLine struct {
	sku, name, variant string
	quantity           int
	unit               int64
	weightG            int
	total              int64 // unit * quantity
	discount           int64 // this line's share of the order discount
	tax                int64
}

// coupon is a coupon as far as pricing needs it.
type coupon struct {
	code    string
	percent int64 // 1..100, or 0 for a fixed amount
	amount  int64 // fixed amount in minor units
}

// Totals are an order's sums, all in one currency.
type Totals struct {
	Subtotal, Discount, Shipping, Tax, Total int64
}

// mulDiv returns round(a*b/c) for non-negative a, b and positive c,
// rounding halves up, without overflow for the store's amounts (a up to
// 1e12 minor units, b up to 1e5).
func mulDiv(a, b, c int64) int64 {
	return (a*b + c/2) / c
}

// computeTotals prices lines: the coupon's discount (spread over the lines
// in proportion, the remainder on the last), shipping on the discounted
// goods, and tax by rule, added on top (US) or contained in the prices
// (markets whose prices include tax). All amounts are integers in minor
// units; every rounding is half up and the pieces always add up.
func computeTotals(lines []pricedLine, c *coupon, ship methodRule, tax taxRule) (Totals, []pricedLine, error) {
	var t Totals
	weight := 0
	for i := range lines {
		l := &lines[i]
		if l.quantity <= 0 || l.unit < 0 {
			return t, nil, fmt.Errorf("line %s: quantity %d at %d", l.sku, l.quantity, l.unit)
		}
		l.total = l.unit * int64(l.quantity)
		t.Subtotal += l.total
		weight += l.weightG * l.quantity
	}
	if c != nil {
		if c.percent > 0 {
			t.Discount = mulDiv(t.Subtotal, c.percent, 100)
		} else {
			t.Discount = min(c.amount, t.Subtotal)
		}
		left := t.Discount
		for i := range lines {
			share := left
			if i < len(lines)-1 && t.Subtotal > 0 {
				share = min(left, mulDiv(t.Discount, lines[i].total, t.Subtotal))
			}
			lines[i].discount = share
			left -= share
		}
	}
	goods := t.Subtotal - t.Discount
	t.Shipping = ship.priceFor(goods, weight)
	if tax.found && tax.ratePCM > 0 {
		for i := range lines {
			base := lines[i].total - lines[i].discount
			if tax.taxIncluded {
				lines[i].tax = mulDiv(base, tax.ratePCM, 100000+tax.ratePCM)
			} else {
				lines[i].tax = mulDiv(base, tax.ratePCM, 100000)
			}
			t.Tax += lines[i].tax
		}
		if tax.taxShipping {
			if tax.taxIncluded {
				t.Tax += mulDiv(t.Shipping, tax.ratePCM, 100000+tax.ratePCM)
			} else {
				t.Tax += mulDiv(t.Shipping, tax.ratePCM, 100000)
			}
		}
	}
	t.Total = goods + t.Shipping
	if !tax.taxIncluded {
		t.Total += t.Tax
	}
	return t, lines, nil
}
