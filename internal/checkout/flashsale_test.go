package checkout_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"mistore/internal/audit"
	"mistore/internal/cart"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/flashsale"
	"mistore/internal/inventory"
	"mistore/internal/order"
)

// flashStore is a store with flash sales wired into checkout and orders,
// and a sale of 3 Band 8 (black) at 19.99 out of 10 in us-east.
type flashStore struct {
	*store
	fs   *flashsale.Service
	sale *flashsale.Sale
}

func newFlashStore(t *testing.T, d *db.DB) *flashStore {
	t.Helper()
	s := newStore(t, d)
	fs := flashsale.NewService(d, s.catalog, cart.NewService(d, s.catalog, inventory.NewService(d), nil), flashsale.Options{})
	t.Cleanup(fs.Close)
	s.checkout.SetClaims(fs)
	s.orders.SetClaims(fs)
	s.setStock(t, "MB8-BLK", 10)
	ctx := audit.WithActor(context.Background(), audit.Actor{Kind: audit.KindCLI, Name: "test"})
	now := time.Now()
	sale, err := fs.Create(ctx, flashsale.NewSale{Market: "us", SKU: "MB8-BLK", Price: 1999, Quantity: 3, PerCustomerLimit: 1,
		StartsAt: now.Add(-time.Minute), EndsAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return &flashStore{store: s, fs: fs, sale: sale}
}

// claim makes a claim of one unit for customer, with its cart, the way the
// claim engine writes one, and returns the cart id.
func (s *flashStore) claim(t *testing.T, customer int64) string {
	t.Helper()
	ctx := context.Background()
	id := s.cart(t, "us", inventory.Line{SKU: "MB8-BLK", Quantity: 1})
	now := db.Now()
	err := s.d.Tx(ctx, func(tx db.Querier) error {
		res, err := tx.ExecContext(ctx, "UPDATE flash_sales SET claimed = claimed + 1 WHERE id = $1 AND claimed + 1 <= quantity", s.sale.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return flashsale.ErrSoldOut
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO flash_sale_holders (sale_id, customer_id, units) VALUES ($1, $2, 1)
			ON CONFLICT (sale_id, customer_id) DO UPDATE SET units = flash_sale_holders.units + 1`, s.sale.ID, customer); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO flash_sale_claims (sale_id, customer_id, quantity, state, cart_id, expires_at, created_at, updated_at)
			VALUES ($1, $2, 1, 'live', $3, $4, $5, $5)`, s.sale.ID, customer, id, now.Add(flashsale.ClaimTTL), now)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (s *flashStore) counters(t *testing.T, claimed, paid, released int) {
	t.Helper()
	sl, err := s.fs.Get(context.Background(), s.sale.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sl.Claimed != claimed || sl.Paid != paid || sl.Released != released {
		t.Errorf("claimed %d paid %d released %d, want %d %d %d", sl.Claimed, sl.Paid, sl.Released, claimed, paid, released)
	}
}

func (s *flashStore) pool(t *testing.T) int {
	t.Helper()
	var q int
	s.d.Read.QueryRow("SELECT quantity FROM reservations WHERE owner = $1 AND state = 'live'", flashsale.PoolOwner(s.sale.ID)).Scan(&q)
	return q
}

func (s *flashStore) claimState(t *testing.T, cartID string) string {
	t.Helper()
	var st string
	s.d.Read.QueryRow("SELECT state FROM flash_sale_claims WHERE cart_id = $1", cartID).Scan(&st)
	return st
}

func (s *flashStore) place(t *testing.T, cartID string) *order.Order {
	t.Helper()
	o, _, err := s.checkout.Place(context.Background(), cartID, cartToken, usRequest("f@example.com"), returnURL)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// expire cancels o as its payment window's end would.
func (s *flashStore) expire(t *testing.T, o *order.Order) {
	t.Helper()
	if _, err := s.d.Write.Exec("UPDATE orders SET expires_at = $2 WHERE id = $1", o.ID, db.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if did, err := s.orders.Expire(context.Background(), o.Number); err != nil || !did {
		t.Fatalf("expire %s: %v, %v", o.Number, did, err)
	}
}

// checkStock checks that each stock row's reserved is the sum of its live
// reservations.
func checkStock(t *testing.T, d *db.DB) {
	t.Helper()
	rows, err := d.Read.Query(`SELECT s.sku, s.warehouse, s.reserved, coalesce((SELECT sum(r.quantity) FROM reservations r
		WHERE r.sku = s.sku AND r.warehouse = s.warehouse AND r.state = 'live'), 0) FROM stock s`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var sku, wh string
		var reserved, live int
		if err := rows.Scan(&sku, &wh, &reserved, &live); err != nil {
			t.Fatal(err)
		}
		if reserved != live {
			t.Errorf("stock %s@%s: reserved %d, live reservations %d", sku, wh, reserved, live)
		}
	}
}

func TestClaimCartChecksOutAtSalePrice(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newFlashStore(t, d)
		cartID := s.claim(t, 1)
		q, err := s.checkout.Quote(ctx, cartID, cartToken, usRequest("f@example.com"))
		if err != nil {
			t.Fatal(err)
		}
		if len(q.Lines) != 1 || q.Lines[0].UnitPrice.Amount != 1999 || q.Subtotal.Amount != 1999 {
			t.Errorf("quote %+v", q)
		}
		o := s.place(t, cartID)
		var claimExpires time.Time
		d.Read.QueryRow("SELECT expires_at FROM flash_sale_claims WHERE cart_id = $1", cartID).Scan(&claimExpires)
		if o.Lines[0].UnitPrice.Amount != 1999 || o.Subtotal.Amount != 1999 || o.ExpiresAt.After(claimExpires) {
			t.Errorf("order %+v, claim expires %v", o, claimExpires)
		}
		if st := s.claimState(t, cartID); st != "ordered" || s.pool(t) != 2 {
			t.Errorf("claim %s, pool %d", st, s.pool(t))
		}
		if on, res := s.stock(t, "MB8-BLK"); on != 10 || res != 3 {
			t.Errorf("stock after checkout: on hand %d, reserved %d", on, res)
		}
		checkStock(t, d)
		// The same cart again is the same order.
		if again, created, err := s.checkout.Place(ctx, cartID, cartToken, usRequest("f@example.com"), returnURL); err != nil || created || again.Number != o.Number {
			t.Errorf("second place: %v %v %v", again, created, err)
		}

		sess := s.pay(t, o)
		if err := s.orders.ApplyPayment(ctx, "test", o.Number, sess.ID, sess.ChargeID, sess.Amount); err != nil {
			t.Fatal(err)
		}
		got, _ := order.Get(ctx, d.Read, o.Number)
		if got.Status != order.Paid || s.claimState(t, cartID) != "paid" {
			t.Errorf("after payment: order %s, claim %s", got.Status, s.claimState(t, cartID))
		}
		s.counters(t, 1, 1, 0)
		if on, res := s.stock(t, "MB8-BLK"); on != 9 || res != 2 {
			t.Errorf("stock after payment: on hand %d (want 9), reserved %d (want 2)", on, res)
		}
		checkStock(t, d)
	})
}

func TestExpiredClaimCannotCheckOut(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newFlashStore(t, d)
		cartID := s.claim(t, 1)
		if _, err := d.Write.Exec("UPDATE flash_sale_claims SET expires_at = $2 WHERE cart_id = $1", cartID, db.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.checkout.Quote(ctx, cartID, cartToken, usRequest("f@example.com")); !errors.Is(err, flashsale.ErrClaimExpired) {
			t.Errorf("quote: %v", err)
		}
		if _, _, err := s.checkout.Place(ctx, cartID, cartToken, usRequest("f@example.com"), returnURL); !errors.Is(err, flashsale.ErrClaimExpired) {
			t.Errorf("place: %v", err)
		}
		var n int
		d.Read.QueryRow("SELECT count(*) FROM orders").Scan(&n)
		if n != 0 || s.pool(t) != 3 || s.claimState(t, cartID) != "live" {
			t.Errorf("%d orders, pool %d, claim %s", n, s.pool(t), s.claimState(t, cartID))
		}
		// Swept, it is released; the cart still cannot check out.
		if _, err := s.fs.Sweep(ctx, time.Now(), 10); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.checkout.Place(ctx, cartID, cartToken, usRequest("f@example.com"), returnURL); !errors.Is(err, flashsale.ErrClaimExpired) {
			t.Errorf("place after the sweep: %v", err)
		}
		s.counters(t, 0, 0, 1)
		checkStock(t, d)
	})
}

func TestUnpaidClaimOrderGivesUnitBack(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newFlashStore(t, d)
		cartID := s.claim(t, 1)
		o := s.place(t, cartID)
		s.expire(t, o)
		if st := s.claimState(t, cartID); st != "released" || s.pool(t) != 3 {
			t.Errorf("after expiry: claim %s, pool %d", st, s.pool(t))
		}
		s.counters(t, 0, 0, 1)
		if on, res := s.stock(t, "MB8-BLK"); on != 10 || res != 3 {
			t.Errorf("stock after expiry: on hand %d, reserved %d", on, res)
		}
		checkStock(t, d)
		// The unit is claimable and sellable again.
		o2 := s.place(t, s.claim(t, 1))
		if s.pool(t) != 2 || o2.Status != order.PendingPayment {
			t.Errorf("second order %s, pool %d", o2.Status, s.pool(t))
		}
		checkStock(t, d)
	})
}

func TestLateClaimPaymentIsRefunded(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newFlashStore(t, d)
		cartID := s.claim(t, 1)
		o := s.place(t, cartID)
		sess := s.pay(t, o)
		s.expire(t, o)
		if err := s.orders.ApplyPayment(ctx, "test", o.Number, sess.ID, sess.ChargeID, sess.Amount); err != nil {
			t.Fatal(err)
		}
		s.runner.RunDue(ctx)
		got, _ := order.Get(ctx, d.Read, o.Number)
		if got.Status != order.Cancelled || got.RefundedAmount.Amount != sess.Amount.Amount {
			t.Errorf("late payment: %s, refunded %v of %v", got.Status, got.RefundedAmount, sess.Amount)
		}
		s.counters(t, 0, 0, 1)
		if on, res := s.stock(t, "MB8-BLK"); on != 10 || res != 3 || s.pool(t) != 3 {
			t.Errorf("stock: on hand %d, reserved %d, pool %d", on, res, s.pool(t))
		}
		checkStock(t, d)
	})
}

// The order's reservation ran out and was swept while the order still
// waited: a payment then must not buy from general stock at the sale's
// price; it is refunded and the unit goes back to the sale.
func TestClaimPaymentAfterReservationSwept(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newFlashStore(t, d)
		cartID := s.claim(t, 1)
		o := s.place(t, cartID)
		if err := d.Tx(ctx, func(tx db.Querier) error { _, err := inventory.Release(ctx, tx, o.Owner()); return err }); err != nil {
			t.Fatal(err)
		}
		sess := s.pay(t, o)
		if err := s.orders.ApplyPayment(ctx, "test", o.Number, sess.ID, sess.ChargeID, sess.Amount); err != nil {
			t.Fatal(err)
		}
		s.runner.RunDue(ctx)
		got, _ := order.Get(ctx, d.Read, o.Number)
		if got.Status != order.Cancelled || got.RefundedAmount.Amount != sess.Amount.Amount || s.claimState(t, cartID) != "released" {
			t.Errorf("payment after the sweep: %s, refunded %v, claim %s", got.Status, got.RefundedAmount, s.claimState(t, cartID))
		}
		s.counters(t, 0, 0, 1)
		if on, res := s.stock(t, "MB8-BLK"); on != 10 || res != 3 || s.pool(t) != 3 {
			t.Errorf("stock: on hand %d, reserved %d, pool %d", on, res, s.pool(t))
		}
		checkStock(t, d)
	})
}

// Claims made by the engine check out, concurrently, and settle: paid
// orders sell their units, expired ones give them back, and the counters
// and stock agree.
func TestEngineClaimsSettle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newFlashStore(t, d)
		var carts []string
		for c := range int64(3) {
			cl, err := s.fs.Claim(ctx, s.sale.ID, 100+c, 1)
			if err != nil {
				t.Fatal(err)
			}
			if cl.UnitPrice.Amount != 1999 {
				t.Errorf("claim at %v", cl.UnitPrice)
			}
			carts = append(carts, cl.CartID)
		}
		if _, err := s.fs.Claim(ctx, s.sale.ID, 200, 1); !errors.Is(err, flashsale.ErrSoldOut) {
			t.Fatalf("fourth claim: %v", err)
		}
		orders := make([]*order.Order, len(carts))
		var wg sync.WaitGroup
		for i, id := range carts {
			wg.Go(func() {
				o, _, err := s.checkout.Place(ctx, id, cartToken, usRequest("e@example.com"), returnURL)
				if err != nil {
					t.Errorf("place %s: %v", id, err)
					return
				}
				orders[i] = o
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		if s.pool(t) != 0 {
			t.Errorf("pool %d after every unit was ordered", s.pool(t))
		}
		checkStock(t, d)
		// Two are paid while the third expires, at once.
		for i, o := range orders {
			wg.Go(func() {
				if i == 2 {
					if _, err := d.Write.Exec("UPDATE orders SET expires_at = $2 WHERE id = $1", o.ID, db.Now().Add(-time.Second)); err != nil {
						t.Error(err)
					}
					if did, err := s.orders.Expire(ctx, o.Number); err != nil || !did {
						t.Errorf("expire: %v %v", did, err)
					}
					return
				}
				sess := s.pay(t, o)
				if err := s.orders.ApplyPayment(ctx, "test", o.Number, sess.ID, sess.ChargeID, sess.Amount); err != nil {
					t.Errorf("pay: %v", err)
				}
			})
		}
		wg.Wait()
		s.counters(t, 2, 2, 1)
		if on, res := s.stock(t, "MB8-BLK"); on != 8 || res != 1 || s.pool(t) != 1 {
			t.Errorf("stock: on hand %d (want 8), reserved %d (want 1), pool %d (want 1)", on, res, s.pool(t))
		}
		checkStock(t, d)
		// The unit that came back is claimable again, once.
		if _, err := s.fs.Claim(ctx, s.sale.ID, 300, 1); err != nil {
			t.Errorf("claim of the unit that came back: %v", err)
		}
		if _, err := s.fs.Claim(ctx, s.sale.ID, 301, 1); !errors.Is(err, flashsale.ErrSoldOut) {
			t.Errorf("claim past it: %v", err)
		}
	})
}
