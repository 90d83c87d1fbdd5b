package catalog_test

import (
	"context"
	"testing"
	"time"

	"mistore/internal/catalog"
	"mistore/internal/changefeed"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/inventory"
)

// instance is one store process's catalog on a shared database.
type instance struct {
	d       *db.DB
	catalog *catalog.Service
	stock   *inventory.Service
}

// openInstance opens dsn as a store process would, with caches that never
// expire by themselves: only the change feed can make it see another
// instance's edits.
func openInstance(t *testing.T, dsn string) instance {
	t.Helper()
	d, err := db.Open(context.Background(), dsn, db.Options{MaxReaders: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	inv := inventory.NewService(d)
	c := catalog.NewService(d, inventory.NewDisplayCache(inv, time.Hour), catalog.Options{Recheck: time.Hour})
	return instance{d: d, catalog: c, stock: inv}
}

// TestEditSeenByAnotherInstance: a price, a listing and a stock
// adjustment made through one instance show on another through the change
// feed, though the other's caches would keep their copies for an hour.
func TestEditSeenByAnotherInstance(t *testing.T) {
	dsn := dbtest.DSN(t, db.Postgres)
	a := openInstance(t, dsn)
	if _, err := a.d.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	b := openInstance(t, dsn)
	ctx := staffCtx()
	newPhone(t, a.d, a.catalog, "phone-15", "PH15-BLK")
	if _, err := a.catalog.SetPrice(ctx, "phone-15", "us", "PH15-BLK", 69900); err != nil {
		t.Fatal(err)
	}

	feed := changefeed.NewListener(dsn, nil)
	refresh := func(ctx context.Context, key string) {
		if err := b.catalog.Changed(ctx, key); err != nil {
			t.Errorf("refresh: %v", err)
		}
	}
	feed.On(changefeed.Catalog, refresh)
	feed.On(changefeed.Stock, refresh)
	fctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); feed.Run(fctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-feed.Ready()

	view := func() *catalog.View {
		t.Helper()
		v, err := b.catalog.Product(context.Background(), "us", "phone-15")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	eventually(t, "the first price", func() bool { return view().Variants[0].Price.Amount == 69900 })

	if _, err := a.catalog.SetPrice(ctx, "phone-15", "us", "PH15-BLK", 59900); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new price", func() bool { return view().Variants[0].Price.Amount == 59900 })

	if _, err := a.catalog.SetListing(ctx, "phone-15", "us", catalog.Listing{Listed: true}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the listing", func() bool { return view().Listings["us"].Listed })

	if _, err := a.stock.Adjust(ctx, inventory.Adjustment{SKU: "PH15-BLK", Warehouse: "us-east", OnHand: 42, Reason: inventory.ReasonReceived}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new stock", func() bool { return view().Variants[0].Stock == 42 })
}

// eventually polls cond for a generous while: the feed's promise is "within
// a second", and the test only checks that it gets there at all.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("another instance did not see %s within 5s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
