package checkout_test

import (
	"context"
	"testing"
	"time"

	"mistore/internal/changefeed"
	"mistore/internal/checkout"
	"mistore/internal/clocktest"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/inventory"
)

// TestRatesFromMemory: checkout prices tax and shipping from memory. A
// rate set in the back office applies to the next checkout at once; one
// changed behind the store's back (by hand, or by another instance whose
// news did not arrive) applies within a second.
func TestRatesFromMemory(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := staffCtx()
		s := newStore(t, d)
		s.setStock(t, "MB8-BLK", 5)
		clk := clocktest.New(time.Now())
		co := checkout.NewService(d, s.catalog, testCarts{d}, s.orders, "test", clk.Now)
		admin := checkout.NewAdmin(d, nil)
		admin.OnRatesChanged(co.RatesChanged)
		cart := s.cart(t, "us", inventory.Line{SKU: "MB8-BLK", Quantity: 1})
		taxOf := func() int64 {
			t.Helper()
			q, err := co.Quote(ctx, cart, cartToken, usRequest("rates@example.com"))
			if err != nil {
				t.Fatal(err)
			}
			return q.Tax.Amount
		}
		// 39.99 at New Jersey's 6.625%, shipping free over 35.00.
		if got := taxOf(); got != 265 {
			t.Fatalf("tax %d, want 265", got)
		}

		if _, err := d.Write.ExecContext(ctx, "UPDATE tax_rates SET rate_pcm = 7000 WHERE market = 'us' AND region = 'NJ'"); err != nil {
			t.Fatal(err)
		}
		if got := taxOf(); got != 265 {
			t.Errorf("tax %d right after a change by hand, want the remembered 265", got)
		}
		clk.Add(time.Second)
		if got := taxOf(); got != 280 {
			t.Errorf("tax %d a second after a change by hand, want 280 (7%%)", got)
		}

		if _, err := admin.SetTaxRate(ctx, checkout.TaxRate{Market: "us", Region: "NJ", Name: "New Jersey sales tax", RatePCM: 8000, TaxShipping: true}); err != nil {
			t.Fatal(err)
		}
		if got := taxOf(); got != 320 {
			t.Errorf("tax %d right after the back office set 8%%, want 320", got)
		}
		o, _, err := co.Place(ctx, cart, cartToken, usRequest("rates@example.com"), returnURL)
		if err != nil || o.Tax.Amount != 320 {
			t.Fatalf("placed with tax %v, %v; want 3.20", o, err)
		}

		// Shipping methods come from memory too: a changed flat rate is
		// priced after the same second.
		if _, err := d.Write.ExecContext(ctx, "UPDATE shipping_methods SET price = price + 100 WHERE market = 'us' AND code = 'express'"); err != nil {
			t.Fatal(err)
		}
		express := func() int64 {
			t.Helper()
			ms, err := co.ShippingMethods(ctx, s.cart(t, "us", inventory.Line{SKU: "MB8-BLK", Quantity: 1}), cartToken, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				if m.Code == "express" {
					return m.Price.Amount
				}
			}
			t.Fatal("no express method")
			return 0
		}
		before := express()
		clk.Add(time.Second)
		if after := express(); after != before+100 {
			t.Errorf("express %d a second after a change by hand, want %d", after, before+100)
		}
	})
}

// TestTaxRateChangeReachesOtherInstances: on PostgreSQL, setting a rate
// or a shipping method tells the other instances (changefeed.Rates),
// whose checkout then forgets what it remembered.
func TestTaxRateChangeReachesOtherInstances(t *testing.T) {
	dsn := dbtest.DSN(t, db.Postgres)
	d, err := db.Open(context.Background(), dsn, db.Options{MaxReaders: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	l := changefeed.NewListener(dsn, nil)
	heard := make(chan struct{}, 10)
	l.On(changefeed.Rates, func(context.Context, string) { heard <- struct{}{} })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-l.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("listener not connected within 10s")
	}
	// Connecting calls every handler once, "anything may have changed".
	select {
	case <-heard:
	case <-time.After(10 * time.Second):
		t.Fatal("no resync on connect")
	}

	admin := checkout.NewAdmin(d, nil)
	if _, err := admin.SetTaxRate(staffCtx(), checkout.TaxRate{Market: "us", Region: "NJ", Name: "New Jersey sales tax", RatePCM: 7000, TaxShipping: true}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-heard:
	case <-time.After(10 * time.Second):
		t.Fatal("the rate change was not heard within 10s")
	}
	// A rejected change is not announced.
	if _, err := admin.SetTaxRate(staffCtx(), checkout.TaxRate{Market: "us", Region: "NJ", Name: "x", RatePCM: -1}); err == nil {
		t.Fatal("a negative rate was accepted")
	}
	select {
	case <-heard:
		t.Error("a rejected change was announced")
	case <-time.After(300 * time.Millisecond):
	}

	// Shipping methods are the same rules: a change is heard, a refused
	// one is not.
	free := int64(2500)
	if _, err := admin.SetShippingMethod(staffCtx(), checkout.ShippingMethod{Market: "us", Code: "standard", Name: "Standard", Kind: "flat", Amount: 499, FreeOver: &free}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-heard:
	case <-time.After(10 * time.Second):
		t.Fatal("the shipping change was not heard within 10s")
	}
	if _, err := admin.SetShippingMethod(staffCtx(), checkout.ShippingMethod{Market: "us", Code: "standard", Name: "Standard", Kind: "air", Amount: 499}); err == nil {
		t.Fatal("an unknown kind was accepted")
	}
	select {
	case <-heard:
		t.Error("a refused shipping change was announced")
	case <-time.After(300 * time.Millisecond):
	}
}
