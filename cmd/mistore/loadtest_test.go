package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/loadtest"
)

// openStockDB opens the store's database beside the running store, as
// `mistore loadtest --db` does, to set stock and to check it.
func openStockDB(t *testing.T, dsn string) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), dsn, db.Options{MaxReaders: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// checkStockPassed fails t unless the run has a stock check and all of it
// passed.
func checkStockPassed(t *testing.T, r *loadtest.Report) {
	t.Helper()
	if len(r.Checkout.Stock) == 0 {
		t.Error("no stock check in the report")
	}
	for _, c := range r.Checkout.Stock {
		if !c.OK {
			t.Errorf("FAIL %s: %s", c.Name, c.Detail)
		}
	}
	if r.Failed() {
		t.Error("report says a check failed")
	}
}

// TestLoadtestCheckout buys from a real store, in-process, and checks the
// store's stock against what was bought.
func TestLoadtestCheckout(t *testing.T) {
	for _, dialect := range []db.Dialect{db.SQLite, db.Postgres} {
		t.Run(string(dialect), func(t *testing.T) {
			dsn := dbtest.DSN(t, dialect)
			m := startStore(t, dsn)
			d := openStockDB(t, dsn)
			// The demo's few hundred units must not sell out in the run.
			if _, err := d.Write.Exec("UPDATE stock SET on_hand = 100000"); err != nil {
				t.Fatal(err)
			}
			r, err := loadtest.Run(t.Context(), loadtest.Options{
				Targets: []string{m.URL()}, Scenario: "checkout", Duration: time.Second, Workers: 4, StockDB: d,
			})
			if err != nil {
				t.Fatal(err)
			}
			c := r.Checkout
			t.Logf("%d placed, %d paid (%.0f/s), SKUs %q", c.Placed, c.Paid, c.PerSecond, c.SKUs)
			if c.Placed == 0 || c.Paid != c.Placed || c.Unpaid != 0 || c.OutOfStock != 0 {
				t.Errorf("placed %d, paid %d, unpaid %d, out of stock %d: want every order placed paid", c.Placed, c.Paid, c.Unpaid, c.OutOfStock)
			}
			for _, k := range r.Kinds {
				if k.Errors != 0 || k.Non2xxTotal() != 0 {
					t.Errorf("%s: %d errors, unexpected statuses %v", k.Name, k.Errors, k.Non2xx)
				}
			}
			checkStockPassed(t, r)
			// The SQLite writer's counters come from the store's metrics;
			// a store on PostgreSQL has none.
			w := r.Writer
			switch {
			case dialect == db.Postgres && w != nil:
				t.Errorf("writer stats from a store on PostgreSQL: %+v", w)
			case dialect == db.SQLite && (w == nil || w.Commits == 0 || w.Transactions < c.Paid || w.Transactions < w.Commits || w.Busy <= 0 || w.Busy > w.Elapsed):
				t.Errorf("writer stats %+v for %d checkouts", w, c.Paid)
			case dialect == db.SQLite:
				var b strings.Builder
				r.WriteText(&b)
				if !strings.Contains(b.String(), "SQLite writer: ") || !strings.Contains(b.String(), "write transactions a complete checkout") {
					t.Errorf("report without the writer:\n%s", b.String())
				}
			}
			// The store's CPU time comes from its metrics on both engines;
			// on PostgreSQL the report says the database server's is not
			// in it.
			if cpu := r.CPU; cpu == nil || !cpu.StoreKnown || cpu.Store <= 0 || !cpu.GeneratorKnown || cpu.Generator <= 0 {
				t.Errorf("CPU stats %+v", cpu)
			} else {
				var b strings.Builder
				r.WriteText(&b)
				notCounted := strings.Contains(b.String(), "store (its database server not counted) ")
				if !strings.Contains(b.String(), "ms of the store's, ") || !strings.Contains(b.String(), "ms of this machine's; at that cost its ") ||
					!strings.Contains(b.String(), " complete checkouts/s\n") || notCounted != (dialect == db.Postgres) {
					t.Errorf("report's CPU line on %s:\n%s", dialect, b.String())
				}
			}
		})
	}
}

// TestLoadtestCheckoutSellOut sells the last units of the only SKU in
// stock: exactly that many orders, every other shopper told out_of_stock.
func TestLoadtestCheckoutSellOut(t *testing.T) {
	dsn := dbtest.DSN(t, db.SQLite)
	if code, out, errOut := runCLI(t, nil, "seed", "--db", dsn); code != 0 {
		t.Fatalf("seed: %s %s", out, errOut)
	}
	// Before the store starts, so that its shop window shows the stock
	// as it is from the first request on.
	d := openStockDB(t, dsn)
	const units = 5
	for _, q := range []string{
		"UPDATE stock SET on_hand = 0",
		"UPDATE stock SET on_hand = 5 WHERE sku = 'MCAB-C1M' AND warehouse = 'us-east'",
	} {
		if _, err := d.Write.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	m := startStore(t, dsn)
	r, err := loadtest.Run(t.Context(), loadtest.Options{
		Targets: []string{m.URL()}, Scenario: "checkout", Duration: 700 * time.Millisecond, Workers: 4, StockDB: d,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := r.Checkout
	if !slices.Equal(c.SKUs, []string{"MCAB-C1M"}) {
		t.Errorf("bought %q, want only the SKU in stock", c.SKUs)
	}
	if c.Placed != units || c.Paid != units || c.OutOfStock == 0 {
		t.Errorf("placed %d, paid %d, out of stock %d: want %d, %d and the rest out of stock", c.Placed, c.Paid, c.OutOfStock, units, units)
	}
	checkStockPassed(t, r)
	var left int
	if err := d.Read.QueryRow("SELECT sum(on_hand) FROM stock WHERE sku = 'MCAB-C1M'").Scan(&left); err != nil || left != 0 {
		t.Errorf("units left %d (%v), want 0", left, err)
	}
}

// TestLoadtestCommandStockCheck runs the check through the command line.
func TestLoadtestCommandStockCheck(t *testing.T) {
	dsn := dbtest.DSN(t, db.SQLite)
	m := startStore(t, dsn)
	code, out, errOut := runCLI(t, nil, "loadtest", m.URL(), "--scenario", "checkout", "--duration", "300ms", "--workers", "2", "--quiet", "--db", dsn)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	for _, want := range []string{"complete checkouts/s", "PASS  stock sold + stock left = stock before", "PASS  reserved", "PASS  orders placed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "FAIL") {
		t.Errorf("a check failed:\n%s", out)
	}
	code, _, errOut = runCLI(t, nil, "loadtest", m.URL(), "--scenario", "product", "--db", dsn)
	if code != 1 || !strings.Contains(errOut, "checkout scenario") {
		t.Errorf("--db with the product scenario: exit %d, %s", code, errOut)
	}
}

// checkFlashSalePassed fails t unless the run has flash-sale checks and
// all of them passed.
func checkFlashSalePassed(t *testing.T, r *loadtest.Report) {
	t.Helper()
	if r.FlashSale == nil || len(r.FlashSale.Checks) == 0 {
		t.Fatal("no flash-sale check in the report")
	}
	for _, c := range r.FlashSale.Checks {
		if !c.OK {
			t.Errorf("FAIL %s: %s", c.Name, c.Detail)
		}
	}
	if r.Failed() {
		t.Error("report says a check failed")
	}
}

// TestLoadtestFlashSale runs a small flash sale against a real store,
// in-process: 500 customers for 50 units, all decided, exactly 50
// claimed, and the database agreeing with the answers.
func TestLoadtestFlashSale(t *testing.T) {
	for _, dialect := range []db.Dialect{db.SQLite, db.Postgres} {
		t.Run(string(dialect), func(t *testing.T) {
			dsn := dbtest.DSN(t, dialect)
			m := startStore(t, dsn)
			d := openStockDB(t, dsn)
			const customers, units = 500, 50
			r, err := loadtest.Run(t.Context(), loadtest.Options{
				Targets: []string{m.URL()}, Scenario: "flashsale", Duration: 20 * time.Second, Workers: 8,
				FlashSale: loadtest.FlashSaleOptions{DB: d, Customers: customers, Units: units, Lead: time.Second},
			})
			if err != nil {
				t.Fatal(err)
			}
			f := r.FlashSale
			t.Logf("%d decided in %s (%.0f/s), outcomes %v, %d overloaded, %d not started, failed %d %v",
				f.Decided, f.Window, f.PerSecond, f.Outcomes, f.Overloaded, f.NotStarted, f.Failed, f.Unexpected)
			if f.Decided != customers || f.Claimed() != units || f.Outcomes["sold_out"] != customers-units {
				t.Errorf("decided %d, outcomes %v: want %d decided, %d claimed, the rest sold out", f.Decided, f.Outcomes, customers, units)
			}
			checkFlashSalePassed(t, r)
		})
	}
}

// TestLoadtestCommandFlashSale runs the scenario through the command line,
// with a per-customer limit and the database taken from MISTORE_DB.
func TestLoadtestCommandFlashSale(t *testing.T) {
	dsn := dbtest.DSN(t, db.SQLite)
	m := startStore(t, dsn)
	var stdout, stderr bytes.Buffer
	err := cmdLoadtest(t.Context(), []string{m.URL(), "--scenario", "flashsale", "--customers", "120", "--units", "30",
		"--limit", "2", "--lead", "1s", "--duration", "20s", "--workers", "4", "--quiet"},
		func(k string) string { return map[string]string{"MISTORE_DB": dsn}[k] }, &stdout, &stderr)
	out := stdout.String()
	if err != nil {
		t.Fatalf("%v: %s %s", err, out, stderr.String())
	}
	for _, want := range []string{"decided/s", "outcomes: sold_out 90, claimed 30", "PASS  claimed = min(units, demand)",
		"PASS  no customer above the limit", "PASS  stock reserved = live reservations", "PASS  claims answered 201 = claim rows"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "FAIL") {
		t.Errorf("a check failed:\n%s", out)
	}
	code, _, errOut := runCLI(t, nil, "loadtest", m.URL(), "--scenario", "flashsale", "--units", "5", "--limit", "6", "--db", dsn)
	if code != 1 || !strings.Contains(errOut, "per-customer limit 6 out of range") {
		t.Errorf("--limit above --units: exit %d, %s", code, errOut)
	}
	missing := filepath.Join(t.TempDir(), "none.db")
	code, _, errOut = runCLI(t, nil, "loadtest", m.URL(), "--scenario", "flashsale", "--db", missing)
	if _, err := os.Stat(missing); code != 1 || !strings.Contains(errOut, "give the store's own --db") || err == nil {
		t.Errorf("--db naming no file: exit %d, %s; file made: %v", code, errOut, err == nil)
	}
}
