package inventory_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/inventory"
)

func reserve(d *db.DB, owner string, lines ...inventory.Line) error {
	ctx := context.Background()
	return d.Tx(ctx, func(tx db.Querier) error {
		return inventory.Reserve(ctx, tx, "us", owner, lines, time.Now().Add(15*time.Minute))
	})
}

func level(t *testing.T, d *db.DB, sku string) (onHand, reserved int) {
	t.Helper()
	if err := d.Read.QueryRow("SELECT coalesce(sum(on_hand), 0), coalesce(sum(reserved), 0) FROM stock WHERE sku = $1 AND warehouse LIKE 'us-%'", sku).Scan(&onHand, &reserved); err != nil {
		t.Fatal(err)
	}
	return onHand, reserved
}

// TestLastUnit fires many concurrent reservations at little stock: exactly
// the stock is promised, never more, on both engines.
func TestLastUnit(t *testing.T) {
	for _, tc := range []struct{ stock, buyers int }{{1, 50}, {20, 200}} {
		t.Run(fmt.Sprintf("stock%d_buyers%d", tc.stock, tc.buyers), func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, d *db.DB) {
				addVariant(t, d, "HOT-1")
				// Split the stock over two warehouses to exercise both.
				setStock(t, d, "HOT-1", "us-east", tc.stock/2)
				setStock(t, d, "HOT-1", "us-west", tc.stock-tc.stock/2)
				var wg sync.WaitGroup
				var mu sync.Mutex
				won, out := 0, 0
				var other []error
				start := make(chan struct{})
				for i := range tc.buyers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						err := reserve(d, fmt.Sprintf("order:%d", i), inventory.Line{SKU: "HOT-1", Quantity: 1})
						mu.Lock()
						defer mu.Unlock()
						switch {
						case err == nil:
							won++
						case errors.Is(err, inventory.ErrOutOfStock):
							out++
						default:
							other = append(other, err)
						}
					}()
				}
				close(start)
				wg.Wait()
				if len(other) > 0 {
					t.Fatalf("unexpected errors: %v", other[0])
				}
				if won != tc.stock || out != tc.buyers-tc.stock {
					t.Errorf("%d reserved, %d out of stock; want %d and %d", won, out, tc.stock, tc.buyers-tc.stock)
				}
				onHand, reserved := level(t, d, "HOT-1")
				if onHand != tc.stock || reserved != tc.stock {
					t.Errorf("on hand %d, reserved %d; want %d and %d", onHand, reserved, tc.stock, tc.stock)
				}
				var live int
				d.Read.QueryRow("SELECT coalesce(sum(quantity), 0) FROM reservations WHERE state = 'live'").Scan(&live)
				if live != tc.stock {
					t.Errorf("live reservations hold %d units, want %d", live, tc.stock)
				}
			})
		})
	}
}

func TestReserveCommitRelease(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		addVariant(t, d, "A-1")
		addVariant(t, d, "B-1")
		setStock(t, d, "A-1", "us-east", 2)
		setStock(t, d, "A-1", "us-west", 3)
		setStock(t, d, "B-1", "us-east", 1)
		inv := inventory.NewService(d)

		// A line bigger than one warehouse is split across two.
		if err := reserve(d, "order:1", inventory.Line{SKU: "A-1", Quantity: 4}, inventory.Line{SKU: "B-1", Quantity: 1}); err != nil {
			t.Fatal(err)
		}
		if got, _ := inv.Available(ctx, "us", []string{"A-1", "B-1"}); got["A-1"] != 1 || got["B-1"] != 0 {
			t.Errorf("available after reserving: %v", got)
		}
		// All or nothing: B-1 is gone, so A-1 is not taken either.
		err := reserve(d, "order:2", inventory.Line{SKU: "A-1", Quantity: 1}, inventory.Line{SKU: "B-1", Quantity: 1})
		var oos *inventory.OutOfStockError
		if !errors.As(err, &oos) || oos.SKU != "B-1" {
			t.Fatalf("want B-1 out of stock, got %v", err)
		}
		if got, _ := inv.Available(ctx, "us", []string{"A-1"}); got["A-1"] != 1 {
			t.Errorf("a failed reservation leaked: %v", got)
		}

		commit := func(owner string) int {
			var n int
			if err := d.Tx(ctx, func(tx db.Querier) error {
				var err error
				n, err = inventory.Commit(ctx, tx, owner)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := commit("order:1"); n != 3 {
			t.Errorf("committed %d reservations, want 3", n)
		}
		if n := commit("order:1"); n != 0 {
			t.Errorf("committing twice committed %d more", n)
		}
		onHand, reserved := level(t, d, "A-1")
		if onHand != 1 || reserved != 0 {
			t.Errorf("A-1 after the sale: on hand %d, reserved %d", onHand, reserved)
		}

		if err := reserve(d, "order:3", inventory.Line{SKU: "A-1", Quantity: 1}); err != nil {
			t.Fatal(err)
		}
		var released int
		d.Tx(ctx, func(tx db.Querier) error {
			released, err = inventory.Release(ctx, tx, "order:3")
			return err
		})
		if released != 1 {
			t.Errorf("released %d", released)
		}
		if _, reserved := level(t, d, "A-1"); reserved != 0 {
			t.Errorf("reserved after release: %d", reserved)
		}
		for _, bad := range []int{0, -1} {
			if err := reserve(d, "order:4", inventory.Line{SKU: "A-1", Quantity: bad}); err == nil {
				t.Errorf("reserving %d succeeded", bad)
			}
		}
		if err := reserve(d, "order:5", inventory.Line{SKU: "NOPE", Quantity: 1}); !errors.Is(err, inventory.ErrOutOfStock) {
			t.Errorf("unknown SKU: %v", err)
		}
	})
}

func TestReleaseExpired(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		addVariant(t, d, "A-1")
		setStock(t, d, "A-1", "us-east", 5)
		past := time.Now().Add(-time.Minute)
		d.Tx(ctx, func(tx db.Querier) error {
			return inventory.Reserve(ctx, tx, "us", "order:old", []inventory.Line{{SKU: "A-1", Quantity: 2}}, past)
		})
		if err := reserve(d, "order:new", inventory.Line{SKU: "A-1", Quantity: 1}); err != nil {
			t.Fatal(err)
		}
		n, err := inventory.NewService(d).ReleaseExpired(ctx, time.Now(), 100)
		if err != nil || n != 1 {
			t.Fatalf("ReleaseExpired = %d, %v", n, err)
		}
		if _, reserved := level(t, d, "A-1"); reserved != 1 {
			t.Errorf("reserved %d after the sweep, want the live 1", reserved)
		}
	})
}
