package cart_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"mistore/internal/cart"
	"mistore/internal/catalog"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// claimCart makes a cart holding a flash-sale claim of qty Band 8 (black)
// at 19.99, live until expires, as the claim engine would.
func (f *fixture) claimCart(t *testing.T, qty int, expires time.Time) (id, token string) {
	t.Helper()
	id, token = f.newCart(t, "us")
	err := f.d.Tx(f.ctx, func(tx db.Querier) error {
		var sale int64
		if err := tx.QueryRowContext(f.ctx, `INSERT INTO flash_sales (market, sku, warehouse, price, currency, quantity, per_customer_limit,
				starts_at, ends_at, claimed, created_at, updated_at)
			VALUES ('us', 'MB8-BLK', 'us-east', 1999, 'USD', 10, 5, $1, $2, $3, $1, $1) RETURNING id`,
			testNow.Add(-time.Hour), testNow.Add(time.Hour), qty).Scan(&sale); err != nil {
			return err
		}
		if _, err := tx.ExecContext(f.ctx, `INSERT INTO cart_lines (cart_id, sku, quantity, seen_price, seen_state, position)
			VALUES ($1, 'MB8-BLK', $2, 1999, '', 0)`, id, qty); err != nil {
			return err
		}
		_, err := tx.ExecContext(f.ctx, `INSERT INTO flash_sale_claims (sale_id, customer_id, quantity, state, cart_id, expires_at, created_at, updated_at)
			VALUES ($1, 1, $2, 'live', $3, $4, $5, $5)`, sale, qty, id, expires, testNow)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id, token
}

func TestClaimCart(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		// The sale's units are reserved: the market has none to sell.
		f.setStock(t, "MB8-BLK", 0, 0)
		id, token := f.claimCart(t, 2, testNow.Add(5*time.Minute))
		v := f.get(t, id, token)
		l := line(v, "MB8-BLK")
		if l == nil || !l.Purchasable || l.UnitPrice.Amount != 1999 || l.Total.Amount != 3998 || v.Subtotal.Amount != 3998 ||
			!strings.Contains(l.Reason, "Held for you until 12:05") || !l.HeldUntil.Equal(testNow.Add(5*time.Minute)) {
			t.Errorf("claim line %+v, subtotal %v", l, v.Subtotal)
		}
		if len(v.Notices) != 0 {
			t.Errorf("notices %v", v.Notices)
		}
		for name, err := range map[string]error{
			"add":    f.carts.AddItem(f.ctx, id, token, "MB8-BLU", 1),
			"set":    f.carts.SetQuantity(f.ctx, id, token, "MB8-BLK", 1),
			"zero":   f.carts.SetQuantity(f.ctx, id, token, "MB8-BLK", 0),
			"remove": f.carts.RemoveItem(f.ctx, id, token, "MB8-BLK"),
		} {
			if !errors.Is(err, cart.ErrClaimCart) {
				t.Errorf("%s: %v, want ErrClaimCart", name, err)
			}
		}
		if v := f.get(t, id, token); len(v.Lines) != 1 || v.Lines[0].Quantity != 2 {
			t.Errorf("claim cart changed: %+v", v.Lines)
		}

		// Staff stop selling the band in the US: the claim cannot be
		// bought either (checkout would refuse it), and the shopper is told.
		f.exec(t, "UPDATE listings SET listed = FALSE WHERE market = 'us' AND product_id = (SELECT product_id FROM variants WHERE sku = 'MB8-BLK')")
		v = f.get(t, id, token)
		if l := line(v, "MB8-BLK"); l.Purchasable || l.State != catalog.NotSold || len(v.Notices) != 1 {
			t.Errorf("unlisted claim line %+v, notices %v", l, v.Notices)
		}
		f.exec(t, "UPDATE listings SET listed = TRUE WHERE market = 'us' AND product_id = (SELECT product_id FROM variants WHERE sku = 'MB8-BLK')")
		if l := line(f.get(t, id, token), "MB8-BLK"); !l.Purchasable {
			t.Errorf("listed again: %+v", l)
		}

		// The claim runs out: the line stays, not purchasable, told once.
		if _, err := d.Write.Exec("UPDATE flash_sale_claims SET expires_at = $2 WHERE cart_id = $1", id, testNow.Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		v = f.get(t, id, token)
		l = line(v, "MB8-BLK")
		if l.Purchasable || l.State != catalog.OutOfStock || !strings.Contains(l.Reason, "ran out") || v.Purchasable() || v.Subtotal.Amount != 0 {
			t.Errorf("expired claim line %+v", l)
		}
		if len(v.Notices) != 1 || !strings.Contains(v.Notices[0], "ran out") {
			t.Errorf("notices %v", v.Notices)
		}
		if v := f.get(t, id, token); len(v.Notices) != 0 {
			t.Errorf("told twice: %v", v.Notices)
		}
		if _, err := d.Write.Exec("UPDATE flash_sale_claims SET state = 'released' WHERE cart_id = $1", id); err != nil {
			t.Fatal(err)
		}
		if l := line(f.get(t, id, token), "MB8-BLK"); l.Purchasable {
			t.Error("released claim purchasable")
		}

		// An ordinary cart is untouched by any of this.
		f.setStock(t, "MB8-BLK", 5, 0)
		oid, otoken := f.newCart(t, "us")
		if err := f.carts.AddItem(f.ctx, oid, otoken, "MB8-BLK", 1); err != nil {
			t.Fatal(err)
		}
		if l := line(f.get(t, oid, otoken), "MB8-BLK"); !l.Purchasable || l.UnitPrice.Amount != 3999 || !l.HeldUntil.IsZero() {
			t.Errorf("ordinary line %+v", l)
		}
	})
}

// TestAdoptLeavesClaimCart: signing in with a claim's cart in the browser
// adopts nothing from it: its unit stays at the sale price, in its cart.
func TestAdoptLeavesClaimCart(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		f.setStock(t, "MB8-BLK", 0, 0)
		const customer = 7
		own, ownToken := f.newCart(t, "us")
		f.add(t, own, ownToken, "MPB10-BLK", 1)
		if id, _ := f.adopt(t, customer, "us", own, ownToken); id != own {
			t.Fatalf("Adopt of a guest cart = %q, want %q", id, own)
		}
		claim, claimToken := f.claimCart(t, 1, testNow.Add(5*time.Minute))
		if id, _ := f.adopt(t, customer, "us", claim, claimToken); id != own {
			t.Errorf("Adopt with a claim cart = %q, want the customer's own %q", id, own)
		}
		if v := f.get(t, own, ownToken); len(v.Lines) != 1 || v.Lines[0].SKU != "MPB10-BLK" {
			t.Errorf("own cart after signing in with a claim cart: %+v", v.Lines)
		}
		v := f.get(t, claim, claimToken)
		if l := line(v, "MB8-BLK"); l == nil || l.Quantity != 1 || l.UnitPrice.Amount != 1999 || !l.Purchasable {
			t.Errorf("claim cart after signing in: %+v", v.Lines)
		}
	})
}
