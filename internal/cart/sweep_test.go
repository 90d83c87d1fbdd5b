package cart_test

import (
	"context"
	"testing"
	"time"

	"mistore/internal/cart"
	"mistore/internal/catalog"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/inventory"
)

func TestSweepDeletesAbandonedCarts(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		inv := inventory.NewService(d)
		s := cart.NewService(d, catalog.NewService(d, inv, catalog.Options{}), inv, nil)
		old, _, err := s.Create(ctx, "us")
		if err != nil {
			t.Fatal(err)
		}
		fresh, _, err := s.Create(ctx, "us")
		if err != nil {
			t.Fatal(err)
		}
		ordered, _, err := s.Create(ctx, "us")
		if err != nil {
			t.Fatal(err)
		}
		long := db.Now().Add(-40 * 24 * time.Hour)
		d.Write.Exec("UPDATE carts SET updated_at = $2 WHERE id = $1", old.ID, long)
		d.Write.Exec("UPDATE carts SET updated_at = $2, order_number = 'US-100001' WHERE id = $1", ordered.ID, long)
		n, err := s.Sweep(ctx, time.Now().Add(-30*24*time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("Sweep = %d, %v; want 1", n, err)
		}
		var left []string
		rows, _ := d.Read.Query("SELECT id FROM carts ORDER BY id")
		for rows.Next() {
			var id string
			rows.Scan(&id)
			left = append(left, id)
		}
		rows.Close()
		if len(left) != 2 || (left[0] != fresh.ID && left[1] != fresh.ID) {
			t.Errorf("carts left %v, want the fresh and the ordered one", left)
		}
	})
}
