package checkout

import (
	"testing"
)

func TestComputeTotals(t *testing.T) {
	std := methodRule{code: "standard", kind: "flat", price: 599, freeOver: 3500}
	express := methodRule{code: "express", kind: "weight", price: 1299, perKg: 200, freeOver: -1}
	nj := taxRule{ratePCM: 6625, taxShipping: true, found: true}
	ca := taxRule{ratePCM: 7250, taxShipping: false, found: true}
	cnVAT := taxRule{ratePCM: 13000, taxShipping: true, taxIncluded: true, found: true}
	band := func(q int) pricedLine { return pricedLine{sku: "B", quantity: q, unit: 3999, weightG: 60} }
	cable := func(q int) pricedLine { return pricedLine{sku: "C", quantity: q, unit: 599, weightG: 40} }
	tests := []struct {
		name  string
		lines []pricedLine
		c     *coupon
		ship  methodRule
		tax   taxRule
		want  Totals
	}{
		{"free shipping over $35, NJ taxes goods", []pricedLine{band(1)}, nil, std, nj,
			// 39.99 * 6.625% = 2.6493 -> 2.65
			Totals{Subtotal: 3999, Shipping: 0, Tax: 265, Total: 4264}},
		{"flat shipping under $35, NJ taxes shipping too", []pricedLine{cable(2)}, nil, std, nj,
			// goods 11.98 -> 0.7937 -> 0.79; shipping 5.99 -> 0.3968 -> 0.40
			Totals{Subtotal: 1198, Shipping: 599, Tax: 119, Total: 1916}},
		{"CA does not tax shipping", []pricedLine{cable(1)}, nil, std, ca,
			Totals{Subtotal: 599, Shipping: 599, Tax: 43, Total: 1241}},
		{"express by started kilogram", []pricedLine{{sku: "P", quantity: 3, unit: 4999, weightG: 420}}, nil, express, taxRule{},
			// 1260 g -> 2 kg -> 12.99 + 2 * 2.00
			Totals{Subtotal: 14997, Shipping: 1699, Tax: 0, Total: 16696}},
		{"10% coupon spread over lines, shipping on discounted goods", []pricedLine{band(1), cable(1)}, &coupon{percent: 10}, std, nj,
			// subtotal 45.98, discount 4.60, goods 41.38 >= 35: free shipping
			// line taxes: (39.99-4.00)=35.99 -> 2.38; (5.99-0.60)=5.39 -> 0.36
			Totals{Subtotal: 4598, Discount: 460, Shipping: 0, Tax: 274, Total: 4412}},
		{"fixed coupon larger than the goods", []pricedLine{cable(1)}, &coupon{amount: 5000}, std, taxRule{},
			Totals{Subtotal: 599, Discount: 599, Shipping: 599, Tax: 0, Total: 599}},
		{"prices include VAT: tax is contained, not added", []pricedLine{{sku: "P", quantity: 1, unit: 24900, weightG: 60}},
			nil, methodRule{kind: "flat", price: 1000, freeOver: 9900}, cnVAT,
			// 249.00 * 13/113 = 28.646 -> 28.65
			Totals{Subtotal: 24900, Shipping: 0, Tax: 2865, Total: 24900}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, lines, err := computeTotals(tt.lines, tt.c, tt.ship, tt.tax)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("totals %+v, want %+v", got, tt.want)
			}
			var disc, tax int64
			for _, l := range lines {
				disc += l.discount
				tax += l.tax
			}
			if disc != got.Discount {
				t.Errorf("line discounts add to %d, order discount %d", disc, got.Discount)
			}
			if !tt.tax.taxShipping && tax != got.Tax {
				t.Errorf("line taxes add to %d, order tax %d", tax, got.Tax)
			}
		})
	}
}

// FuzzComputeTotals checks the invariants of pricing for any cart: the
// discount never exceeds the goods, line shares add up, nothing is
// negative, and the total is the sum of its parts.
func FuzzComputeTotals(f *testing.F) {
	f.Add(int64(3999), 2, int64(599), 1, int64(10), int64(0), int64(6625), true, false)
	f.Add(int64(1), 1000, int64(0), 1, int64(0), int64(99999), int64(18000), true, true)
	f.Fuzz(func(t *testing.T, unitA int64, qA int, unitB int64, qB int, pct, fixed, rate int64, taxShip, included bool) {
		if unitA < 0 || unitB < 0 || unitA > 1e9 || unitB > 1e9 || qA < 1 || qB < 1 || qA > 1000 || qB > 1000 ||
			pct < 0 || pct > 100 || fixed < 0 || fixed > 1e12 || rate < 0 || rate > 100000 {
			t.Skip()
		}
		var c *coupon
		if pct > 0 {
			c = &coupon{percent: pct}
		} else if fixed > 0 {
			c = &coupon{amount: fixed}
		}
		lines := []pricedLine{{sku: "A", quantity: qA, unit: unitA, weightG: 100}, {sku: "B", quantity: qB, unit: unitB, weightG: 50}}
		tax := taxRule{ratePCM: rate, taxShipping: taxShip, taxIncluded: included, found: true}
		got, out, err := computeTotals(lines, c, methodRule{kind: "flat", price: 599, freeOver: 3500}, tax)
		if err != nil {
			t.Fatal(err)
		}
		if got.Discount < 0 || got.Discount > got.Subtotal || got.Tax < 0 || got.Shipping < 0 {
			t.Fatalf("bad totals %+v", got)
		}
		var disc int64
		for _, l := range out {
			if l.discount < 0 || l.discount > l.total {
				t.Fatalf("line %s discount %d of %d", l.sku, l.discount, l.total)
			}
			disc += l.discount
		}
		if disc != got.Discount {
			t.Fatalf("shares %d != discount %d", disc, got.Discount)
		}
		want := got.Subtotal - got.Discount + got.Shipping
		if !included {
			want += got.Tax
		}
		if got.Total != want {
			t.Fatalf("total %d != parts %d", got.Total, want)
		}
	})
}
