package main

import (
	"context"
	"encoding/csv"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/money"
	"mistore/internal/order"
)

// placeOrders writes orders straight into the store at dsn, n per market
// given, each placed ten minutes after the last from start; every other
// round is paid.
func placeOrders(t *testing.T, dsn string, start time.Time, n int, markets ...string) {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, dsn, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	cur := map[string]string{"us": "USD", "cn": "CNY", "in": "INR"}
	at := start
	err = d.Tx(ctx, func(tx db.Querier) error {
		for i := range n {
			for _, mk := range markets {
				c := cur[mk]
				o := &order.Order{Market: mk, Email: "ada@example.com", Status: order.PendingPayment, Currency: c,
					Subtotal: money.New(1999, c), Discount: money.New(0, c), Shipping: money.New(0, c), Tax: money.New(0, c), Total: money.New(1999, c),
					ShippingMethod: "standard", ShippingName: "Standard", PaymentProvider: "test", PaymentStatus: "none",
					Address: order.Address{Name: "Ada", Country: strings.ToUpper(mk)},
					Lines:   []order.Line{{SKU: "MB8-BLK", Name: "Band 8", Quantity: 1, UnitPrice: money.New(1999, c), Total: money.New(1999, c), Tax: money.New(0, c)}}}
				if err := order.Insert(ctx, tx, d.Dialect, o); err != nil {
					return err
				}
				status, paidAt := order.PendingPayment, any(nil)
				if i%2 == 1 {
					status, paidAt = order.Paid, db.Time(at)
				}
				if _, err := tx.ExecContext(ctx, "UPDATE orders SET created_at = $2, status = $3, paid_at = $4 WHERE id = $1",
					o.ID, db.Time(at), string(status), paidAt); err != nil {
					return err
				}
				at = at.Add(10 * time.Minute)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestExportOrdersCommand(t *testing.T) {
	for _, dialect := range []db.Dialect{db.SQLite, db.Postgres} {
		t.Run(string(dialect), func(t *testing.T) {
			dsn := dbtest.DSN(t, dialect)
			start := time.Date(2026, 10, 31, 23, 0, 0, 0, time.UTC)
			// us, cn, in, us, cn, in ... ten minutes apart, unpaid then
			// paid: the first six on October 31st.
			placeOrders(t, dsn, start, 6, "us", "cn", "in")
			env := map[string]string{"MISTORE_DB": dsn}
			code, out, errOut := runCLI(t, env, "export", "orders")
			if code != 0 {
				t.Fatalf("export orders: %d %s", code, errOut)
			}
			recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			if err != nil || len(recs) != 19 || strings.Join(recs[0], ",") != strings.Join(order.CSVColumns, ",") {
				t.Fatalf("%d records, %v:\n%s", len(recs), err, out)
			}
			if r := recs[1]; r[0] != "US-100001" || r[3] != "2026-10-31T23:00:00Z" || r[6] != "USD" || r[12] != "19.99" || r[len(r)-1] != "MB8-BLK x 1" {
				t.Errorf("first row %v", r)
			}
			if !strings.Contains(errOut, "exported 18 orders from ") || strings.Contains(errOut, "[") {
				t.Errorf("stderr: %q", errOut)
			}

			// Filters, from flags or the environment.
			code, out, errOut = runCLI(t, env, "export", "orders", "--market", "US", "--status", "paid", "--since", "2026-11-01")
			if code != 0 || strings.Count(out, "\n") != 3 || strings.Count(out, "US-") != 2 || strings.Contains(out, "pending_payment") {
				t.Errorf("filtered: %d\n%s%s", code, out, errOut)
			}
			if !strings.Contains(errOut, "exported 2 orders (market us, status paid, since 2026-11-01) from ") {
				t.Errorf("filtered stderr: %q", errOut)
			}
			envIN := map[string]string{"MISTORE_DB": dsn, "MISTORE_MARKET": "in", "MISTORE_SINCE": "2026-10-31T23:30:00Z"}
			if code, out, errOut := runCLI(t, envIN, "export", "orders"); code != 0 || strings.Count(out, "IN-") != 5 || strings.Count(out, "\n") != 6 {
				t.Errorf("env filters: %d\n%s%s", code, out, errOut)
			}
			if code, out, _ := runCLI(t, envIN, "export", "orders", "--since", "2026-11-01T00:05:00Z"); code != 0 || strings.Count(out, "IN-") != 4 {
				t.Errorf("a flag wins over the environment: %d\n%s", code, out)
			}

			// Bad input stops with one line, and nothing on stdout.
			for _, c := range []struct {
				args []string
				code int
				err  string
			}{
				{[]string{"--status", "shipped"}, 1, `--status "shipped": give one of pending_payment, paid,`},
				{[]string{"--since", "1/11/2026"}, 1, `--since "1/11/2026": give a date`},
				{[]string{"--market", "xx"}, 1, `--market "xx": `},
				{[]string{"extra"}, 1, "usage: mistore export orders"},
				{[]string{"--colour", "red"}, 2, "flag provided but not defined"},
			} {
				code, out, errOut := runCLI(t, env, append([]string{"export", "orders"}, c.args...)...)
				if code != c.code || out != "" || !strings.Contains(errOut, c.err) {
					t.Errorf("%v: %d %q %q", c.args, code, out, errOut)
				}
			}
		})
	}
}

// TestExportOrdersProgress: an export of at least progressMinItems orders
// draws the products export's bar on stderr, a line per tenth when stderr
// is not a terminal, and leaves stdout pure CSV.
func TestExportOrdersProgress(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "m.db")
	placeOrders(t, dsn, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), 1200, "us")
	code, out, errOut := runCLI(t, nil, "export", "orders", "--db", dsn)
	if code != 0 || strings.Count(out, "\n") != 1201 {
		t.Fatalf("%d, %d lines: %s", code, strings.Count(out, "\n"), errOut)
	}
	if !strings.Contains(errOut, "exporting [") || !strings.Contains(errOut, "1200/1200 orders") || strings.Count(errOut, "\n") != 12 {
		t.Errorf("progress:\n%s", errOut)
	}
	if strings.Contains(out, "exporting") {
		t.Error("the bar went to stdout")
	}
}
