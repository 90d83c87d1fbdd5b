package inventory_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"mistore/internal/audit"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/inventory"
)

// staffCtx is a context with a staff member acting, as the web layer's
// guard makes it.
func staffCtx() context.Context {
	return audit.WithActor(context.Background(), audit.Actor{Kind: audit.KindStaff, ID: 1, Name: "ada@example.com"})
}

func onHand(t *testing.T, d *db.DB, sku, warehouse string) int {
	t.Helper()
	var n int
	if err := d.Read.QueryRow("SELECT on_hand FROM stock WHERE sku = $1 AND warehouse = $2", sku, warehouse).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func count(t *testing.T, d *db.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := d.Read.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAdjustIsCompareAndSet(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := staffCtx()
		addVariant(t, d, "A-1")
		setStock(t, d, "A-1", "us-east", 10)
		inv := inventory.NewService(d)
		ten := 10
		lvl, err := inv.Adjust(ctx, inventory.Adjustment{SKU: "A-1", Warehouse: "us-east", OnHand: 12, Expected: &ten, Reason: inventory.ReasonReceived, Note: "PO 77"})
		if err != nil || lvl.OnHand != 12 {
			t.Fatalf("Adjust = %+v, %v", lvl, err)
		}
		// A second editor who still thinks there are 10 is refused, and
		// nothing changes.
		if _, err := inv.Adjust(ctx, inventory.Adjustment{SKU: "A-1", Warehouse: "us-east", OnHand: 9, Expected: &ten, Reason: inventory.ReasonCountCorrection}); !errors.Is(err, inventory.ErrConflict) {
			t.Errorf("stale expected: %v", err)
		}
		if n := onHand(t, d, "A-1", "us-east"); n != 12 {
			t.Errorf("on hand %d after a stale edit, want 12", n)
		}
		if err := reserve(d, "order:1", inventory.Line{SKU: "A-1", Quantity: 6}); err != nil {
			t.Fatal(err)
		}
		if _, err := inv.Adjust(ctx, inventory.Adjustment{SKU: "A-1", Warehouse: "us-east", OnHand: 5, Reason: inventory.ReasonDamaged}); !errors.Is(err, inventory.ErrBelowReserved) {
			t.Errorf("going below reserved: %v", err)
		}
		var fe *inventory.FieldError
		if _, err := inv.Adjust(ctx, inventory.Adjustment{SKU: "A-1", Warehouse: "us-east", OnHand: -1, Reason: inventory.ReasonDamaged}); !errors.Is(err, inventory.ErrNegativeStock) || !errors.As(err, &fe) || fe.InvalidField() != "on_hand" {
			t.Errorf("negative: %v", err)
		}
		for _, reason := range []inventory.Reason{"", "stolen", "count"} {
			if _, err := inv.Adjust(ctx, inventory.Adjustment{SKU: "A-1", Warehouse: "us-east", OnHand: 7, Reason: reason}); !errors.As(err, &fe) || fe.InvalidField() != "reason" {
				t.Errorf("reason %q: %v", reason, err)
			}
		}
		// No actor, no change: nothing is changed unattributed.
		if _, err := inv.Adjust(context.Background(), inventory.Adjustment{SKU: "A-1", Warehouse: "us-east", OnHand: 30, Reason: inventory.ReasonReceived}); !errors.Is(err, audit.ErrNoActor) {
			t.Errorf("no actor: %v", err)
		}
		if n := onHand(t, d, "A-1", "us-east"); n != 12 {
			t.Errorf("on hand %d after refused edits, want 12", n)
		}
		if n := count(t, d, "SELECT count(*) FROM stock_adjustments WHERE sku = 'A-1'"); n != 1 {
			t.Errorf("%d adjustments recorded, want 1", n)
		}
		entries, err := audit.List(context.Background(), d.Reader(), audit.Filter{Subject: "stock:A-1@us-east"})
		if err != nil || len(entries) != 1 {
			t.Fatalf("audit %v, %v", entries, err)
		}
		e := entries[0]
		if e.Action != "inventory.adjust" || e.Actor.Name != "ada@example.com" ||
			string(e.Before) != `{"on_hand":10,"reserved":0}` || string(e.After) != `{"on_hand":12,"reserved":0,"reason":"received","note":"PO 77"}` {
			t.Errorf("audit entry %+v before %s after %s", e, e.Before, e.After)
		}
		hist, err := inv.History(ctx, "A-1", 0)
		if err != nil || len(hist) != 1 || hist[0].Before != 10 || hist[0].After != 12 || hist[0].Reason != "received" || hist[0].Note != "PO 77" || hist[0].Actor != "staff:ada@example.com" {
			t.Errorf("history %+v, %v", hist, err)
		}
	})
}

// TestAdjustConcurrentSameExpectation: editors who all read the same
// number race; exactly one wins, the rest are told.
func TestAdjustConcurrentSameExpectation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := staffCtx()
		addVariant(t, d, "A-1")
		setStock(t, d, "A-1", "us-east", 12)
		inv := inventory.NewService(d)
		twelve := 12
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, winner := 0, 0
		start := make(chan struct{})
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := inv.Adjust(ctx, inventory.Adjustment{SKU: "A-1", Warehouse: "us-east", OnHand: 20 + i, Expected: &twelve, Reason: inventory.ReasonCountCorrection})
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					wins++
					winner = 20 + i
				} else if !errors.Is(err, inventory.ErrConflict) {
					t.Errorf("concurrent adjust: %v", err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d concurrent adjustments won, want 1", wins)
		}
		if n := onHand(t, d, "A-1", "us-east"); n != winner {
			t.Errorf("on hand %d, want the winner's %d", n, winner)
		}
		if n := count(t, d, "SELECT count(*) FROM stock_adjustments WHERE sku = 'A-1'"); n != 1 {
			t.Errorf("%d adjustments recorded, want 1", n)
		}
		if n := count(t, d, "SELECT count(*) FROM audit_log WHERE action = 'inventory.adjust'"); n != 1 {
			t.Errorf("%d audit entries, want 1", n)
		}
	})
}

// TestAdjustNeverLosesAnUpdate: many editors each receive one unit by
// reading the level and writing it plus one with the level they read as
// expected, retrying on a conflict. Every unit must arrive: a lost update
// would show as a total below the number of editors.
func TestAdjustNeverLosesAnUpdate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := staffCtx()
		addVariant(t, d, "A-1")
		setStock(t, d, "A-1", "us-east", 100)
		inv := inventory.NewService(d)
		const editors = 25
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range editors {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for {
					st, err := inv.Stock(ctx, "A-1")
					if err != nil {
						t.Error(err)
						return
					}
					cur := -1
					for _, w := range st.Warehouses {
						if w.Code == "us-east" {
							cur = w.OnHand
						}
					}
					_, err = inv.Adjust(ctx, inventory.Adjustment{SKU: "A-1", Warehouse: "us-east", OnHand: cur + 1, Expected: &cur, Reason: inventory.ReasonReceived})
					if err == nil {
						return
					}
					if !errors.Is(err, inventory.ErrConflict) {
						t.Error(err)
						return
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		if n := onHand(t, d, "A-1", "us-east"); n != 100+editors {
			t.Errorf("on hand %d, want %d: an update was lost", n, 100+editors)
		}
		if n := count(t, d, "SELECT count(*) FROM stock_adjustments WHERE sku = 'A-1'"); n != editors {
			t.Errorf("%d adjustments recorded, want %d", n, editors)
		}
		if n := count(t, d, "SELECT count(*) FROM audit_log WHERE action = 'inventory.adjust'"); n != editors {
			t.Errorf("%d audit entries, want %d", n, editors)
		}
	})
}

func TestAdjustCreatesTheFirstRow(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := staffCtx()
		addVariant(t, d, "A-1")
		inv := inventory.NewService(d)
		st, err := inv.Stock(ctx, "A-1")
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Warehouses) < 2 {
			t.Fatalf("warehouses %+v: every warehouse is listed", st.Warehouses)
		}
		for _, w := range st.Warehouses {
			if w.Stocked || w.OnHand != 0 || w.LowStockThreshold != nil {
				t.Errorf("unstocked warehouse %+v", w)
			}
		}
		three := 3
		if _, err := inv.Adjust(ctx, inventory.Adjustment{SKU: "A-1", Warehouse: "us-west", OnHand: 4, Expected: &three, Reason: inventory.ReasonReceived}); !errors.Is(err, inventory.ErrConflict) {
			t.Errorf("expected 3 of nothing: %v", err)
		}
		zero := 0
		if _, err := inv.Adjust(ctx, inventory.Adjustment{SKU: "A-1", Warehouse: "us-west", OnHand: 4, Expected: &zero, Reason: inventory.ReasonReceived}); err != nil {
			t.Fatal(err)
		}
		if n := onHand(t, d, "A-1", "us-west"); n != 4 {
			t.Errorf("on hand %d, want 4", n)
		}
		if _, err := inv.Adjust(ctx, inventory.Adjustment{SKU: "NOPE", Warehouse: "us-west", OnHand: 4, Reason: inventory.ReasonReceived}); !errors.Is(err, inventory.ErrUnknownSKU) {
			t.Errorf("unknown SKU: %v", err)
		}
		var fe *inventory.FieldError
		if _, err := inv.Adjust(ctx, inventory.Adjustment{SKU: "A-1", Warehouse: "mars", OnHand: 4, Reason: inventory.ReasonReceived}); !errors.As(err, &fe) || fe.Field != "warehouse" {
			t.Errorf("unknown warehouse: %v", err)
		}
		if _, err := inv.Stock(ctx, "NOPE"); !errors.Is(err, inventory.ErrUnknownSKU) {
			t.Errorf("Stock of an unknown SKU: %v", err)
		}
	})
}

func TestLowStock(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := staffCtx()
		addVariant(t, d, "A-1")
		addVariant(t, d, "B-1")
		setStock(t, d, "A-1", "us-east", 3)  // default threshold 5: low
		setStock(t, d, "A-1", "us-west", 50) // fine
		setStock(t, d, "B-1", "us-east", 8)
		inv := inventory.NewService(d)
		low, err := inv.LowStock(ctx, 0)
		if err != nil || len(low) != 1 || low[0].SKU != "A-1" || low[0].Warehouse != "us-east" || low[0].Threshold != inventory.DefaultLowStockThreshold || low[0].Market != "us" {
			t.Fatalf("low stock %+v, %v", low, err)
		}
		// Reservations count: what can still be sold is what matters.
		if err := reserve(d, "order:1", inventory.Line{SKU: "B-1", Quantity: 3}); err != nil {
			t.Fatal(err)
		}
		ten := 10
		if err := inv.SetLowStockThreshold(ctx, "B-1", "us-east", &ten); err != nil {
			t.Fatal(err)
		}
		if err := inv.SetLowStockThreshold(ctx, "A-1", "us-east", nil); err != nil {
			t.Fatal(err)
		}
		low, err = inv.LowStock(ctx, 0)
		if err != nil || len(low) != 1 || low[0].SKU != "B-1" || low[0].Available != 5 || low[0].Threshold != 10 {
			t.Fatalf("low stock after thresholds %+v, %v", low, err)
		}
		st, _ := inv.Stock(ctx, "B-1")
		for _, w := range st.Warehouses {
			if w.Code == "us-east" && (!w.Low || w.LowStockThreshold == nil || *w.LowStockThreshold != 10 || w.Available != 5) {
				t.Errorf("B-1 in us-east %+v", w)
			}
		}
		// A threshold for a warehouse without the SKU makes its row.
		one := 1
		if err := inv.SetLowStockThreshold(ctx, "A-1", "cn-east", &one); err != nil {
			t.Fatal(err)
		}
		if n := onHand(t, d, "A-1", "cn-east"); n != 0 {
			t.Errorf("new row on hand %d", n)
		}
		var fe *inventory.FieldError
		neg := -1
		if err := inv.SetLowStockThreshold(ctx, "A-1", "us-east", &neg); !errors.As(err, &fe) {
			t.Errorf("negative threshold: %v", err)
		}
		if err := inv.SetLowStockThreshold(ctx, "NOPE", "us-east", &one); !errors.Is(err, inventory.ErrUnknownSKU) {
			t.Errorf("unknown SKU: %v", err)
		}
		entries, err := audit.List(context.Background(), d.Reader(), audit.Filter{Action: "inventory.threshold"})
		if err != nil || len(entries) != 3 {
			t.Fatalf("audit %+v, %v", entries, err)
		}
		// Newest first: cn-east (no row before), A-1 us-east (5 -> off), B-1 (5 -> 10).
		if entries[0].Before != nil || string(entries[1].Before) != `{"low_stock_threshold":5}` || string(entries[1].After) != `{"low_stock_threshold":null}` ||
			string(entries[2].After) != `{"low_stock_threshold":10}` {
			t.Errorf("audit entries %s/%s, %s/%s, %s", entries[0].Before, entries[0].After, entries[1].Before, entries[1].After, entries[2].After)
		}
	})
}
