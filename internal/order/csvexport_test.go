package order_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/money"
	"mistore/internal/order"
)

// csvLine is one line of an order the CSV tests place.
type csvLine struct {
	sku  string
	qty  int
	unit int64
}

// csvPlace inserts an order as checkout would, then backdates it to
// created (and marks it paid at paid when that is not zero), so a test
// controls the order the export must follow.
func csvPlace(t *testing.T, tx db.Querier, d *db.DB, o *order.Order, created, paid time.Time, lines ...csvLine) *order.Order {
	t.Helper()
	ctx := context.Background()
	cur := o.Currency
	var sub int64
	for _, l := range lines {
		o.Lines = append(o.Lines, order.Line{SKU: l.sku, Name: "Product " + l.sku, Quantity: l.qty,
			UnitPrice: money.New(l.unit, cur), Total: money.New(l.unit*int64(l.qty), cur), Tax: money.New(0, cur)})
		sub += l.unit * int64(l.qty)
	}
	if o.Status == "" {
		o.Status = order.PendingPayment
	}
	o.Subtotal = money.New(sub, cur)
	o.Discount = money.New(o.Discount.Amount, cur)
	o.Shipping = money.New(o.Shipping.Amount, cur)
	o.Tax = money.New(o.Tax.Amount, cur)
	o.Total = money.New(sub-o.Discount.Amount+o.Shipping.Amount+o.Tax.Amount, cur)
	if o.ShippingMethod == "" {
		o.ShippingMethod, o.ShippingName = "standard", "Standard"
	}
	o.PaymentProvider, o.PaymentStatus = "test", "none"
	status := o.Status
	o.Status = order.PendingPayment
	if err := order.Insert(ctx, tx, d.Dialect, o); err != nil {
		t.Fatal(err)
	}
	var paidAt any
	var paidAmount int64
	if !paid.IsZero() {
		paidAt, paidAmount = db.Time(paid), o.Total.Amount
	}
	if _, err := tx.ExecContext(ctx, "UPDATE orders SET created_at = $2, paid_at = $3, status = $4, paid_amount = $5 WHERE id = $1",
		o.ID, db.Time(created), paidAt, string(status), paidAmount); err != nil {
		t.Fatal(err)
	}
	o.Status = status
	return o
}

func readCSV(t *testing.T, b []byte) []map[string]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, b)
	}
	if strings.Join(recs[0], ",") != strings.Join(order.CSVColumns, ",") {
		t.Fatalf("header %v", recs[0])
	}
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, c := range recs[0] {
			m[c] = r[i]
		}
		out = append(out, m)
	}
	return out
}

func exportCSV(t *testing.T, d *db.DB, f order.Filter) []map[string]string {
	t.Helper()
	var b bytes.Buffer
	if err := order.WriteCSV(context.Background(), d.Reader(), f, &b, nil); err != nil {
		t.Fatal(err)
	}
	return readCSV(t, b.Bytes())
}

func numbers(rows []map[string]string) string {
	var n []string
	for _, r := range rows {
		n = append(n, r["number"])
	}
	return strings.Join(n, " ")
}

func TestWriteCSV(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		day := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
		addr := func(country, region, postal string) order.Address {
			return order.Address{Name: "Ada", Line1: "1 Main St", City: "Springfield", Region: region, PostalCode: postal, Country: country}
		}
		var us1, cn, in, us2, hostile *order.Order
		err := d.Tx(ctx, func(tx db.Querier) error {
			// Placed in a different order from their ids: the export
			// follows the placing time.
			us2 = csvPlace(t, tx, d, &order.Order{Market: "us", Email: "bob@example.com", Currency: "USD", Status: order.PendingPayment,
				Address: addr("US", "NJ", "07102")}, day.Add(48*time.Hour), time.Time{}, csvLine{"MB8-BLK", 1, 19999})
			us1 = csvPlace(t, tx, d, &order.Order{Market: "us", Email: "ada@example.com", Currency: "USD", Status: order.Paid,
				CouponCode: "FALL10", Discount: money.Money{Amount: 500}, Shipping: money.Money{Amount: 799}, Tax: money.Money{Amount: 1234},
				ShippingMethod: "express", ShippingName: "Express", Address: addr("US", "NY", "10001")},
				day, day.Add(time.Minute), csvLine{"MB8-BLK", 2, 1999}, csvLine{"CABLE-1", 1, 5})
			cn = csvPlace(t, tx, d, &order.Order{Market: "cn", Email: "li@example.cn", Currency: "CNY", Status: order.Fulfilled, TaxIncluded: true,
				Address: addr("CN", "Shanghai", "200000")}, day.Add(24*time.Hour), day.Add(25*time.Hour), csvLine{"MB8-BLK", 3, 19900})
			in = csvPlace(t, tx, d, &order.Order{Market: "in", Email: "ravi@example.in", Currency: "INR", Status: order.Paid, TaxIncluded: true,
				Address: addr("IN", "KA", "560001")}, day.Add(36*time.Hour), day.Add(37*time.Hour), csvLine{"PHONE-X", 1, 12345678})
			// Everything a customer typed that a spreadsheet would run.
			hostile = csvPlace(t, tx, d, &order.Order{Market: "us", Email: "=HYPERLINK(\"http://evil.example\")@x.com", Currency: "USD",
				Status: order.Cancelled, CouponCode: "+SUM(1)", Address: addr("US", "@A1", "-2+3")},
				day.Add(72*time.Hour), time.Time{}, csvLine{"=CMD", 1, 100})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}

		rows := exportCSV(t, d, order.Filter{})
		if got, want := numbers(rows), strings.Join([]string{us1.Number, cn.Number, in.Number, us2.Number, hostile.Number}, " "); got != want {
			t.Fatalf("order %s, want oldest first %s", got, want)
		}
		r := rows[0]
		want := map[string]string{
			"market": "us", "status": "paid", "created_at": "2026-11-02T09:30:00Z", "paid_at": "2026-11-02T09:31:00Z",
			"email": "ada@example.com", "currency": "USD", "subtotal": "40.03", "discount": "5.00", "shipping": "7.99",
			"tax": "12.34", "tax_included": "no", "total": "55.36", "paid": "55.36", "refunded": "0.00", "coupon": "FALL10",
			"shipping_method": "express", "ship_country": "US", "ship_region": "NY", "ship_postal_code": "10001",
			"item_count": "3", "lines": "MB8-BLK x 2; CABLE-1 x 1",
		}
		for k, v := range want {
			if r[k] != v {
				t.Errorf("us %s = %q, want %q", k, r[k], v)
			}
		}
		// CNY and INR in major units with two decimals; INR without its
		// lakh grouping, which a spreadsheet would read as text.
		if r := rows[1]; r["currency"] != "CNY" || r["total"] != "597.00" || r["subtotal"] != "597.00" || r["tax_included"] != "yes" || r["item_count"] != "3" {
			t.Errorf("cn row %v", r)
		}
		if r := rows[2]; r["currency"] != "INR" || r["total"] != "123456.78" || r["paid"] != "123456.78" || r["lines"] != "PHONE-X x 1" {
			t.Errorf("in row %v", r)
		}
		if r := rows[3]; r["paid_at"] != "" || r["paid"] != "0.00" || r["coupon"] != "" {
			t.Errorf("unpaid row %v", r)
		}
		h := rows[4]
		for k, v := range map[string]string{"email": `'=HYPERLINK("http://evil.example")@x.com`, "coupon": "'+SUM(1)",
			"ship_region": "'@A1", "ship_postal_code": "'-2+3", "lines": "'=CMD x 1"} {
			if h[k] != v {
				t.Errorf("hostile %s = %q, want %q", k, h[k], v)
			}
		}

		// The list's filters select the same orders here.
		for _, c := range []struct {
			f    order.Filter
			want []*order.Order
		}{
			{order.Filter{Market: "US"}, []*order.Order{us1, us2, hostile}},
			{order.Filter{Status: order.Paid}, []*order.Order{us1, in}},
			{order.Filter{Market: "us", Status: order.Paid}, []*order.Order{us1}},
			{order.Filter{From: day.Add(24 * time.Hour)}, []*order.Order{cn, in, us2, hostile}},
			{order.Filter{From: day.Add(24 * time.Hour), To: day.Add(48 * time.Hour)}, []*order.Order{cn, in}},
			{order.Filter{Email: "LI@example.cn"}, []*order.Order{cn}},
			{order.Filter{Q: in.Number}, []*order.Order{in}},
			// Paging the list does not page the export.
			{order.Filter{Page: 3, PerPage: 1}, []*order.Order{us1, cn, in, us2, hostile}},
			{order.Filter{Market: "gb"}, nil},
		} {
			var want []string
			for _, o := range c.want {
				want = append(want, o.Number)
			}
			if got := numbers(exportCSV(t, d, c.f)); got != strings.Join(want, " ") {
				t.Errorf("%+v: %s, want %v", c.f, got, want)
			}
		}

		var b bytes.Buffer
		err = order.WriteCSV(ctx, d.Reader(), order.Filter{Status: "lost"}, &b, nil)
		var fe *order.FieldError
		if !errors.As(err, &fe) || fe.Field != "status" || b.Len() != 0 {
			t.Errorf("unknown status: %v, wrote %q", err, b.String())
		}
	})
}

// TestWriteCSVPages exports more orders than a page, many placed in the
// same microsecond, and inside a transaction (one connection): each order
// comes once, in order, and progress counts them all.
func TestWriteCSVPages(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		const n = 1234
		var all []string
		err := d.Tx(ctx, func(tx db.Querier) error {
			for i := range n {
				// 700 orders share one placing time, across a page edge;
				// the rest come later, newest first by id.
				created := start
				if i >= 700 {
					created = start.Add(time.Duration(n-i) * time.Second)
				}
				o := csvPlace(t, tx, d, &order.Order{Market: "us", Email: fmt.Sprintf("c%d@example.com", i), Currency: "USD",
					Address: order.Address{Country: "US"}}, created, time.Time{}, csvLine{"A", 1, 100})
				all = append(all, o.Number)
			}
			want := all[:700:700]
			for i := n - 1; i >= 700; i-- {
				want = append(want, all[i])
			}
			var b bytes.Buffer
			var calls, last int
			if err := order.WriteCSV(ctx, tx, order.Filter{}, &b, func(done int) { calls, last = calls+1, done }); err != nil {
				return err
			}
			if got := numbers(readCSV(t, b.Bytes())); got != strings.Join(want, " ") {
				t.Errorf("%d rows; the order differs", strings.Count(got, " ")+1)
			}
			if calls != n || last != n {
				t.Errorf("progress: %d calls, last %d", calls, last)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
