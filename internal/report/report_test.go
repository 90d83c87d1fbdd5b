package report_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/money"
	"mistore/internal/order"
	"mistore/internal/report"
)

// now is the report's clock: mid-afternoon, so "today" has room on both
// sides.
var now = time.Date(2031, 3, 15, 15, 0, 0, 0, time.UTC)

type line struct {
	sku  string
	qty  int
	unit int64
}

// place inserts an order of market in cur with lines, created at created;
// a non-zero paid marks it paid then, with status.
func place(t *testing.T, d *db.DB, market, cur string, created, paid time.Time, status order.Status, lines ...line) *order.Order {
	t.Helper()
	ctx := context.Background()
	o := &order.Order{Market: market, Email: "ada@example.com", Status: order.PendingPayment, Currency: cur,
		ShippingMethod: "standard", ShippingName: "Standard", PaymentProvider: "test", PaymentStatus: "none",
		Address: order.Address{Name: "Ada", Line1: "1 Main St", City: "Newark", PostalCode: "07102", Country: "US"}}
	var sub int64
	for _, l := range lines {
		o.Lines = append(o.Lines, order.Line{SKU: l.sku, Name: "Product " + l.sku, Quantity: l.qty,
			UnitPrice: money.New(l.unit, cur), Total: money.New(l.unit*int64(l.qty), cur), Tax: money.New(0, cur)})
		sub += l.unit * int64(l.qty)
	}
	o.Subtotal, o.Total = money.New(sub, cur), money.New(sub, cur)
	o.Discount, o.Shipping, o.Tax = money.New(0, cur), money.New(0, cur), money.New(0, cur)
	err := d.Tx(ctx, func(tx db.Querier) error {
		if err := order.Insert(ctx, tx, d.Dialect, o); err != nil {
			return err
		}
		var paidAt any
		if !paid.IsZero() {
			paidAt = db.Time(paid)
		}
		_, err := tx.ExecContext(ctx, "UPDATE orders SET created_at = $2, paid_at = $3, status = $4, paid_amount = $5 WHERE id = $1",
			o.ID, db.Time(created), paidAt, string(status), map[bool]int64{true: sub}[!paid.IsZero()])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestSales(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		day := func(n int, h int) time.Time {
			return now.AddDate(0, 0, -n).Truncate(24 * time.Hour).Add(time.Duration(h) * time.Hour)
		}
		// Today: two US orders, one Chinese one.
		place(t, d, "us", "USD", day(0, 9), day(0, 9), order.Paid, line{"A", 2, 1000})
		place(t, d, "us", "USD", day(0, 10), day(0, 11), order.Fulfilled, line{"A", 1, 1000}, line{"B", 1, 4999})
		place(t, d, "cn", "CNY", day(0, 1), day(0, 2), order.Paid, line{"A", 3, 7000})
		// Yesterday, one minute before midnight: yesterday's sale.
		place(t, d, "us", "USD", day(1, 23), day(1, 23).Add(59*time.Minute), order.Refunded, line{"B", 1, 5002})
		// 29 days ago: the first day of the period.
		place(t, d, "in", "INR", day(29, 0), day(29, 0).Add(time.Minute), order.Delivered, line{"C", 5, 100})
		// 30 days ago: outside it.
		place(t, d, "us", "USD", day(30, 12), day(30, 12), order.Paid, line{"A", 50, 1000})
		// Unpaid and cancelled orders count by status, not as sales.
		place(t, d, "us", "USD", day(0, 12), time.Time{}, order.PendingPayment, line{"A", 9, 1000})
		place(t, d, "us", "USD", day(2, 12), time.Time{}, order.Cancelled, line{"A", 9, 1000})
		// After the report's now: not yet.
		place(t, d, "us", "USD", now.Add(time.Hour), now.Add(time.Hour), order.Paid, line{"A", 9, 1000})

		r, err := report.Sales(ctx, d.Reader(), d.Dialect, report.Options{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Days) != 30 || !r.Days[29].Equal(day(0, 0)) || !r.Days[0].Equal(day(29, 0)) {
			t.Fatalf("days %v .. %v (%d)", r.Days[0], r.Days[len(r.Days)-1], len(r.Days))
		}
		if len(r.Markets) != 3 {
			t.Fatalf("markets %+v", r.Markets)
		}
		cn, in, us := r.Markets[0], r.Markets[1], r.Markets[2]
		if cn.Market != "cn" || cn.Currency != "CNY" || cn.Total != money.New(21000, "CNY") || cn.Daily[29] != money.New(21000, "CNY") || cn.Orders != 1 {
			t.Errorf("cn %+v", cn)
		}
		if in.Daily[0] != money.New(500, "INR") || in.Total != money.New(500, "INR") || in.Average != money.New(500, "INR") {
			t.Errorf("in %+v", in)
		}
		if us.Daily[29] != money.New(2000+5999, "USD") || us.DailyOrders[29] != 2 || us.Daily[28] != money.New(5002, "USD") ||
			us.Total != money.New(13001, "USD") || us.Orders != 3 {
			t.Errorf("us %+v", us)
		}
		// 13001 / 3 = 4333.67: rounded to the cent.
		if us.Average != money.New(4334, "USD") {
			t.Errorf("us average %v", us.Average)
		}
		for i, m := range us.Daily {
			if m.Currency != "USD" {
				t.Errorf("day %d in %q", i, m.Currency)
			}
		}
		want := map[string]int{"paid": 2, "fulfilled": 1, "refunded": 1, "delivered": 1, "pending_payment": 1, "cancelled": 1, "partially_refunded": 0}
		if len(r.ByStatus) != len(report.Statuses) {
			t.Errorf("statuses %+v", r.ByStatus)
		}
		for _, s := range r.ByStatus {
			if s.Orders != want[s.Status] {
				t.Errorf("%s: %d orders, want %d", s.Status, s.Orders, want[s.Status])
			}
		}
		if len(r.TopProducts) != 3 {
			t.Fatalf("top %+v", r.TopProducts)
		}
		a, c, b := r.TopProducts[0], r.TopProducts[1], r.TopProducts[2]
		if a.SKU != "A" || a.Units != 6 || len(a.Revenue) != 2 || a.Revenue[0] != money.New(21000, "CNY") || a.Revenue[1] != money.New(3000, "USD") {
			t.Errorf("A %+v", a)
		}
		if c.SKU != "C" || c.Units != 5 || b.SKU != "B" || b.Units != 2 || b.Revenue[0] != money.New(10001, "USD") || b.Name != "Product B" {
			t.Errorf("C %+v B %+v", c, b)
		}
		if r.WaitlistTracked || r.Waitlist == nil || len(r.Waitlist) != 0 {
			t.Errorf("waitlist %v %+v", r.WaitlistTracked, r.Waitlist)
		}

		// Shorter periods, the top list's length and the waitlist hook.
		r, err = report.Sales(ctx, d.Reader(), d.Dialect, report.Options{Now: now, Days: 1, TopN: 1,
			Waitlist: func(context.Context, db.Querier, time.Time) ([]report.WaitlistDemand, error) {
				return []report.WaitlistDemand{{Product: "b", Market: "us", Confirmed: 4}}, nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Days) != 1 || len(r.Markets) != 2 || len(r.TopProducts) != 1 || r.TopProducts[0].Units != 6 || !r.WaitlistTracked || r.Waitlist[0].Confirmed != 4 {
			t.Errorf("a day's report: %+v", r)
		}
		for _, bad := range []int{-1, report.MaxDays + 1} {
			if _, err := report.Sales(ctx, d.Reader(), d.Dialect, report.Options{Now: now, Days: bad}); !errors.Is(err, report.ErrDays) {
				t.Errorf("days %d: %v", bad, err)
			}
		}
	})
}

func TestSalesEmpty(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		r, err := report.Sales(context.Background(), d.Reader(), d.Dialect, report.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Markets) != 0 || len(r.TopProducts) != 0 || len(r.ByStatus) != len(report.Statuses) || len(r.Days) != 30 {
			t.Errorf("empty report %+v", r)
		}
	})
}
