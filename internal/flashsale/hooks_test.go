package flashsale

import (
	"errors"
	"testing"
	"time"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/inventory"
)

// take checks out claim c as order number (owner "order:"+number).
func (f *fixture) take(c *Claim, number string) error {
	return f.d.Tx(f.ctx, func(tx db.Querier) error {
		return f.s.Take(f.ctx, tx, c.CartID, number, "order:"+number, f.clock.Now().Add(ClaimTTL))
	})
}

func (f *fixture) paid(t *testing.T, number string) bool {
	t.Helper()
	var ok bool
	err := f.d.Tx(f.ctx, func(tx db.Querier) error {
		var err error
		ok, err = f.s.Paid(f.ctx, tx, number, "order:"+number)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func (f *fixture) unpaid(t *testing.T, number string) {
	t.Helper()
	err := f.d.Tx(f.ctx, func(tx db.Querier) error {
		if err := f.s.Unpaid(f.ctx, tx, number, "order:"+number); err != nil {
			return err
		}
		_, err := inventory.Release(f.ctx, tx, "order:"+number)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) held(t *testing.T, owner string) int {
	t.Helper()
	var n int
	f.d.Read.QueryRow("SELECT coalesce(sum(quantity), 0) FROM reservations WHERE owner = $1 AND state = 'live'", owner).Scan(&n)
	return n
}

func (f *fixture) claimState(t *testing.T, c *Claim) string {
	t.Helper()
	var s string
	f.d.Read.QueryRow("SELECT state FROM flash_sale_claims WHERE id = $1", c.ID).Scan(&s)
	return s
}

func TestTakePaidUnpaid(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		sl := f.create(t, f.band(2, 2))
		c1, c2 := f.claim(t, sl.ID, 1, 1), f.claim(t, sl.ID, 2, 1)
		h, err := f.s.ForCart(f.ctx, d.Reader(), c1.CartID)
		if err != nil || h == nil || h.SKU != "MB8-BLK" || h.UnitPrice.Amount != 1999 || h.State != "live" || h.Quantity != 1 {
			t.Fatalf("ForCart: %+v %v", h, err)
		}
		if h, err := f.s.ForCart(f.ctx, d.Reader(), "nope"); h != nil || err != nil {
			t.Errorf("ForCart of an ordinary cart: %+v %v", h, err)
		}

		if err := f.take(c1, "T-1"); err != nil {
			t.Fatal(err)
		}
		if q, state := f.pool(t, sl.ID); q != 1 || state != "live" || f.held(t, "order:T-1") != 1 {
			t.Errorf("after one take: pool %d %s, order holds %d", q, state, f.held(t, "order:T-1"))
		}
		checkStock(t, d)
		if err := f.take(c1, "T-1b"); !errors.Is(err, ErrClaimExpired) {
			t.Errorf("taking an ordered claim again: %v", err)
		}
		// The last unit: the pool is emptied without a stock change.
		if err := f.take(c2, "T-2"); err != nil {
			t.Fatal(err)
		}
		if _, state := f.pool(t, sl.ID); state != "released" {
			t.Errorf("empty pool is %s", state)
		}
		checkStock(t, d)

		// T-2 is cancelled unpaid: its unit revives the pool.
		f.unpaid(t, "T-2")
		if q, state := f.pool(t, sl.ID); q != 1 || state != "live" || f.held(t, "order:T-2") != 0 {
			t.Errorf("after unpaid: pool %d %s, order holds %d", q, state, f.held(t, "order:T-2"))
		}
		if f.claimState(t, c2) != "released" {
			t.Errorf("claim 2 %s", f.claimState(t, c2))
		}
		f.counters(t, sl.ID, 1, 0, 1)
		checkStock(t, d)

		for i := range 2 { // the second time changes nothing
			if !f.paid(t, "T-1") {
				t.Errorf("paying T-1 (%d) refused", i+1)
			}
		}
		f.counters(t, sl.ID, 1, 1, 1)
		if f.paid(t, "T-2") {
			t.Error("paying T-2, whose claim was given back, accepted")
		}
		f.unpaid(t, "T-1") // paid: nothing to give back
		f.counters(t, sl.ID, 1, 1, 1)
		if !f.paid(t, "T-none") {
			t.Error("an order without claims is not ok")
		}
		checkStock(t, d)

		// The unit that came back is claimable (once).
		c3 := f.claim(t, sl.ID, 3, 1)
		if _, err := testClaim(f.ctx, f.s, sl.ID, 4, 1); !errors.Is(err, ErrSoldOut) {
			t.Errorf("claim past the quantity: %v", err)
		}
		f.clock.Add(ClaimTTL + time.Second)
		if err := f.take(c3, "T-3"); !errors.Is(err, ErrClaimExpired) {
			t.Errorf("taking an expired claim: %v", err)
		}
		checkStock(t, d)
	})
}

// An order whose reservation ran out (swept) before it was cancelled:
// the units are reserved again from the warehouse for the pool, and a
// payment for it is refused.
func TestUnpaidAfterSweep(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		sl := f.create(t, f.band(3, 3))
		c := f.claim(t, sl.ID, 1, 2)
		if err := f.take(c, "T-1"); err != nil {
			t.Fatal(err)
		}
		d.Tx(f.ctx, func(tx db.Querier) error { _, err := inventory.Release(f.ctx, tx, "order:T-1"); return err })
		if f.paid(t, "T-1") {
			t.Error("paid without the units reserved")
		}
		if f.claimState(t, c) != "ordered" {
			t.Errorf("refused payment changed the claim to %s", f.claimState(t, c))
		}
		f.unpaid(t, "T-1")
		if q, state := f.pool(t, sl.ID); q != 3 || state != "live" {
			t.Errorf("pool %d %s, want 3 live", q, state)
		}
		f.counters(t, sl.ID, 0, 0, 2)
		checkStock(t, d)

		// Now the warehouse sells what the order let go: the units are
		// lost to the sale, which offers that many fewer.
		c2 := f.claim(t, sl.ID, 2, 2)
		if err := f.take(c2, "T-2"); err != nil {
			t.Fatal(err)
		}
		d.Tx(f.ctx, func(tx db.Querier) error { _, err := inventory.Release(f.ctx, tx, "order:T-2"); return err })
		if _, err := d.Write.Exec("UPDATE stock SET on_hand = reserved WHERE sku = 'MB8-BLK' AND warehouse = $1", sl.Warehouse); err != nil {
			t.Fatal(err)
		}
		f.unpaid(t, "T-2")
		got := f.get(t, sl.ID)
		if got.Quantity != 1 || got.Claimed != 0 || got.Remaining() != 1 {
			t.Errorf("after losing 2: quantity %d claimed %d", got.Quantity, got.Claimed)
		}
		if q, _ := f.pool(t, sl.ID); q != got.Remaining() {
			t.Errorf("pool %d, remaining %d", q, got.Remaining())
		}
		checkStock(t, d)
	})
}

// Once the sale is over, units of a cancelled order go back to the
// warehouse, not to the pool.
func TestUnpaidAfterEnd(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		sl := f.create(t, f.band(2, 1))
		c := f.claim(t, sl.ID, 1, 1)
		if err := f.take(c, "T-1"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.End(f.ctx, sl.ID); err != nil {
			t.Fatal(err)
		}
		var before int
		d.Read.QueryRow("SELECT reserved FROM stock WHERE sku = 'MB8-BLK' AND warehouse = $1", sl.Warehouse).Scan(&before)
		f.unpaid(t, "T-1")
		if q, _ := f.pool(t, sl.ID); q != 1 {
			t.Errorf("pool %d, want 1", q)
		}
		var after int
		d.Read.QueryRow("SELECT reserved FROM stock WHERE sku = 'MB8-BLK' AND warehouse = $1", sl.Warehouse).Scan(&after)
		if after != before-1 {
			t.Errorf("reserved %d -> %d, want one back in the warehouse", before, after)
		}
		f.counters(t, sl.ID, 0, 0, 1)
		checkStock(t, d)
	})
}
