package flashsale

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"testing"
	"time"

	"mistore/internal/audit"
	"mistore/internal/cart"
	"mistore/internal/catalog"
	"mistore/internal/clocktest"
	"mistore/internal/db"
	"mistore/internal/demo"
	"mistore/internal/inventory"
)

// testClaim claims qty units of sale id for customer the way the model
// says a claim does (lock the sale, conditional counter, holders, a cart
// of its own, the claim row), without the engine's checks of the window:
// the lifecycle tests need claims whatever state the engine is in.
func testClaim(ctx context.Context, s *Service, id, customer int64, qty int) (*Claim, error) {
	var c *Claim
	err := s.db.TxDurable(ctx, func(tx db.Querier) error {
		sl, err := saleForUpdate(ctx, tx, s.db.Dialect, id)
		if err != nil {
			return err
		}
		now := db.Time(s.now())
		res, err := tx.ExecContext(ctx, "UPDATE flash_sales SET claimed = claimed + $2 WHERE id = $1 AND claimed + $2 <= quantity", id, qty)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrSoldOut
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO flash_sale_holders (sale_id, customer_id, units) VALUES ($1, $2, $3)
			ON CONFLICT (sale_id, customer_id) DO UPDATE SET units = flash_sale_holders.units + excluded.units`, id, customer, qty); err != nil {
			return err
		}
		cartID := testCartID()
		if _, err := tx.ExecContext(ctx, "INSERT INTO carts (id, market, created_at, updated_at) VALUES ($1, $2, $3, $3)", cartID, sl.Market, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO cart_lines (cart_id, sku, quantity, seen_price, seen_state, position)
			VALUES ($1, $2, $3, $4, '', 0)`, cartID, sl.SKU, qty, sl.Price.Amount); err != nil {
			return err
		}
		c = &Claim{SaleID: id, CustomerID: customer, Quantity: qty, State: "live", UnitPrice: sl.Price, CartID: cartID,
			ExpiresAt: now.Add(ClaimTTL), CreatedAt: now}
		return tx.QueryRowContext(ctx, `INSERT INTO flash_sale_claims (sale_id, customer_id, quantity, state, cart_id, expires_at, created_at, updated_at)
			VALUES ($1, $2, $3, 'live', $4, $5, $6, $6) RETURNING id`, id, customer, qty, cartID, c.ExpiresAt, now).Scan(&c.ID)
	})
	return c, err
}

var cartIDs = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func testCartID() string {
	var b [16]byte
	rand.Read(b[:])
	return cartIDs.EncodeToString(b[:])
}

type fixture struct {
	ctx   context.Context
	d     *db.DB
	clock *clocktest.Clock
	s     *Service
}

func newFixture(t *testing.T, d *db.DB) *fixture {
	t.Helper()
	ctx := audit.WithActor(context.Background(), audit.Actor{Kind: audit.KindCLI, Name: "test"})
	clk := clocktest.New(db.Now())
	inv := inventory.NewService(d)
	c := catalog.NewService(d, inv, catalog.Options{Now: clk.Now})
	if _, err := demo.Seed(ctx, c); err != nil {
		t.Fatal(err)
	}
	s := NewService(d, c, cart.NewService(d, c, inv, nil), Options{Now: clk.Now})
	t.Cleanup(s.Close)
	return &fixture{ctx: ctx, d: d, clock: clk, s: s}
}

// band returns a sale of n Band 8 (black) in the US at 19.99, live for an
// hour from a minute ago, limit per customer.
func (f *fixture) band(n, limit int) NewSale {
	now := f.clock.Now()
	return NewSale{Market: "us", SKU: "MB8-BLK", Title: "Band drop", Price: 1999, Quantity: n, PerCustomerLimit: limit,
		StartsAt: now.Add(-time.Minute), EndsAt: now.Add(time.Hour)}
}

func (f *fixture) create(t *testing.T, ns NewSale) *Sale {
	t.Helper()
	sl, err := f.s.Create(f.ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	return sl
}

func (f *fixture) claim(t *testing.T, id, customer int64, qty int) *Claim {
	t.Helper()
	c, err := testClaim(f.ctx, f.s, id, customer, qty)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fixture) get(t *testing.T, id int64) *Sale {
	t.Helper()
	sl, err := f.s.Get(f.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return sl
}

// counters checks a sale's claimed, paid and released.
func (f *fixture) counters(t *testing.T, id int64, claimed, paid, released int) {
	t.Helper()
	sl := f.get(t, id)
	if sl.Claimed != claimed || sl.Paid != paid || sl.Released != released {
		t.Errorf("sale %d: claimed %d paid %d released %d, want %d %d %d", id, sl.Claimed, sl.Paid, sl.Released, claimed, paid, released)
	}
}

// pool returns the quantity and state of sale id's pool reservation.
func (f *fixture) pool(t *testing.T, id int64) (int, string) {
	t.Helper()
	var q int
	var state string
	if err := f.d.Read.QueryRow("SELECT quantity, state FROM reservations WHERE owner = $1", PoolOwner(id)).Scan(&q, &state); err != nil {
		t.Fatal(err)
	}
	return q, state
}

// checkStock checks the invariant every change keeps: each stock row's
// reserved is the sum of its live reservations.
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
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}
