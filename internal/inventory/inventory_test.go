package inventory_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/inventory"
)

// addVariant creates the minimum catalog rows a stock row refers to.
func addVariant(t *testing.T, d *db.DB, sku string) {
	t.Helper()
	ctx := context.Background()
	now := db.Now()
	err := d.Tx(ctx, func(tx db.Querier) error {
		var id int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO products (slug, name, category, created_at, updated_at)
			VALUES ($1, $1, 'accessories', $2, $2) RETURNING id`, "p-"+sku, now).Scan(&id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO variants (product_id, sku, name) VALUES ($1, $2, $2)", id, sku)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func setStock(t *testing.T, d *db.DB, sku, warehouse string, n int) {
	t.Helper()
	ctx := context.Background()
	if err := d.Tx(ctx, func(tx db.Querier) error { return inventory.SetOnHand(ctx, tx, sku, warehouse, n) }); err != nil {
		t.Fatal(err)
	}
}

func TestAvailableSumsTheMarketsWarehouses(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		addVariant(t, d, "A-1")
		addVariant(t, d, "B-1")
		setStock(t, d, "A-1", "us-east", 3)
		setStock(t, d, "A-1", "us-west", 4)
		setStock(t, d, "A-1", "cn-east", 100)
		setStock(t, d, "B-1", "cn-east", 5)
		svc := inventory.NewService(d)
		got, err := svc.Available(ctx, "us", []string{"A-1", "B-1", "NONE"})
		if err != nil {
			t.Fatal(err)
		}
		if got["A-1"] != 7 || got["B-1"] != 0 || len(got) != 1 {
			t.Errorf("us stock %v, want A-1=7 only", got)
		}
		got, _ = svc.Available(ctx, "cn", []string{"A-1", "B-1"})
		if got["A-1"] != 100 || got["B-1"] != 5 {
			t.Errorf("cn stock %v", got)
		}
		levels, err := svc.Levels(ctx, "A-1")
		if err != nil || len(levels) != 3 || levels[0].Warehouse != "cn-east" {
			t.Errorf("levels %v, %v", levels, err)
		}
		// Setting again replaces, never adds.
		setStock(t, d, "A-1", "us-east", 1)
		got, _ = svc.Available(ctx, "us", []string{"A-1"})
		if got["A-1"] != 5 {
			t.Errorf("after a new level: %v", got)
		}
	})
}

func TestSetOnHandRejectsBadQuantities(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		addVariant(t, d, "A-1")
		for _, n := range []int{-1, inventory.MaxOnHand + 1} {
			err := d.Tx(ctx, func(tx db.Querier) error { return inventory.SetOnHand(ctx, tx, "A-1", "us-east", n) })
			if err == nil {
				t.Errorf("SetOnHand(%d) succeeded", n)
			}
		}
		err := d.Tx(ctx, func(tx db.Querier) error { return inventory.SetOnHand(ctx, tx, "A-1", "us-east", -1) })
		if !errors.Is(err, inventory.ErrNegativeStock) {
			t.Errorf("negative: %v", err)
		}
		// The database refuses too, whoever writes.
		if _, err := d.Write.ExecContext(ctx, "INSERT INTO stock (sku, warehouse, on_hand) VALUES ('A-1', 'us-west', -5)"); err == nil {
			t.Error("the schema accepts negative stock")
		}
		if err := d.Tx(ctx, func(tx db.Querier) error { return inventory.SetOnHand(ctx, tx, "NOPE", "us-east", 1) }); err == nil {
			t.Error("stock for an unknown SKU was accepted")
		}
	})
}

func TestDisplayCache(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		addVariant(t, d, "A-1")
		setStock(t, d, "A-1", "us-east", 3)
		cache := inventory.NewDisplayCache(inventory.NewService(d), time.Hour)
		got, err := cache.Available(ctx, "us", []string{"A-1"})
		if err != nil || got["A-1"] != 3 {
			t.Fatalf("first read %v, %v", got, err)
		}
		setStock(t, d, "A-1", "us-east", 9)
		if got, _ := cache.Available(ctx, "us", []string{"A-1"}); got["A-1"] != 3 {
			t.Errorf("within max age the cache answered %v, want the cached 3", got)
		}
		cache.Invalidate()
		if got, _ := cache.Available(ctx, "us", []string{"A-1"}); got["A-1"] != 9 {
			t.Errorf("after Invalidate %v, want 9", got)
		}
		direct := inventory.NewDisplayCache(inventory.NewService(d), 0)
		setStock(t, d, "A-1", "us-east", 2)
		if got, _ := direct.Available(ctx, "us", []string{"A-1"}); got["A-1"] != 2 {
			t.Errorf("max age 0 must read through: %v", got)
		}
	})
}
