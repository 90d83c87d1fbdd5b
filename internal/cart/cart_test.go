package cart_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"mistore/internal/cart"
	"mistore/internal/catalog"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/demo"
	"mistore/internal/inventory"
	"mistore/internal/market"
)

// testNow is a fixed clock: the demo's coming-soon watch launches in 2027.
var testNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

type fixture struct {
	ctx     context.Context
	d       *db.DB
	catalog *catalog.Service
	carts   *cart.Service
}

// newFixture seeds the demo catalog on d and returns a cart service that
// reads stock fresh.
func newFixture(t *testing.T, d *db.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	inv := inventory.NewService(d)
	c := catalog.NewService(d, inv, catalog.Options{Now: func() time.Time { return testNow }})
	if _, err := demo.Seed(ctx, c); err != nil {
		t.Fatal(err)
	}
	return &fixture{ctx: ctx, d: d, catalog: c, carts: cart.NewService(d, c, inv, nil)}
}

// newCart makes a cart in market code.
func (f *fixture) newCart(t *testing.T, code string) (string, string) {
	t.Helper()
	v, token, err := f.carts.Create(f.ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	return v.ID, token
}

func (f *fixture) get(t *testing.T, id, token string) *cart.View {
	t.Helper()
	v, err := f.carts.Get(f.ctx, id, token)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// exec runs a statement as staff would, then reloads the catalog.
func (f *fixture) exec(t *testing.T, query string, args ...any) {
	t.Helper()
	if _, err := f.d.Write.ExecContext(f.ctx, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	if _, err := f.catalog.Refresh(f.ctx); err != nil {
		t.Fatal(err)
	}
}

// setStock sets sku's stock in the US warehouses to east and west units.
func (f *fixture) setStock(t *testing.T, sku string, east, west int) {
	t.Helper()
	err := f.d.Tx(f.ctx, func(tx db.Querier) error {
		if err := inventory.SetOnHand(f.ctx, tx, sku, "us-east", east); err != nil {
			return err
		}
		return inventory.SetOnHand(f.ctx, tx, sku, "us-west", west)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func line(v *cart.View, sku string) *cart.LineView {
	for i := range v.Lines {
		if v.Lines[i].SKU == sku {
			return &v.Lines[i]
		}
	}
	return nil
}

func TestCreateAndGet(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		v, token, err := f.carts.Create(f.ctx, "in")
		if err != nil {
			t.Fatal(err)
		}
		if len(v.ID) != 26 || strings.Trim(v.ID, "0123456789abcdefghijklmnopqrstuv") != "" {
			t.Errorf("id %q is not 26 base32 characters", v.ID)
		}
		if v.Market != "in" || v.Currency != "INR" || len(v.Lines) != 0 || v.Subtotal.Amount != 0 || v.Subtotal.Currency != "INR" {
			t.Errorf("new cart %+v", v)
		}
		if token == "" || strings.ContainsAny(token, "+/=") {
			t.Errorf("token %q is not base64url", token)
		}
		got := f.get(t, v.ID, token)
		if got.ID != v.ID || got.Market != "in" || len(got.Notices) != 0 {
			t.Errorf("got %+v", got)
		}
		v2, token2, _ := f.carts.Create(f.ctx, "in")
		if v2.ID == v.ID || token2 == token {
			t.Error("two carts share an id or token")
		}
		// Nothing secret is stored with the cart.
		var n int
		d.Read.QueryRow("SELECT count(*) FROM carts WHERE id = $1 OR market = $2", token, token).Scan(&n)
		if n != 0 {
			t.Error("the token is stored")
		}
		if _, _, err := f.carts.Create(f.ctx, "xx"); !errors.Is(err, market.ErrNotFound) {
			t.Errorf("cart in market xx: %v", err)
		}
		if s, err := f.carts.Verify(f.ctx, v.ID, token); err != nil || s.Market != "in" || s.CheckedOut() {
			t.Errorf("Verify = %+v, %v", s, err)
		}
		// A cart made when ids were 16 random bytes in the a-z2-7 alphabet
		// still opens with its token.
		old := "k3vxq7abmz2rtw4yc6dfhjnp5e"
		if _, err := d.Write.Exec("INSERT INTO carts (id, market, created_at, updated_at) VALUES ($1, 'in', $2, $2)", old, db.Now()); err != nil {
			t.Fatal(err)
		}
		oldToken, err := f.carts.Token(f.ctx, old)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.get(t, old, oldToken); got.ID != old || got.Market != "in" {
			t.Errorf("old-style cart: %+v", got)
		}
	})
}

func TestAddMergesBySKU(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		id, token := f.newCart(t, "us")
		for _, step := range []struct {
			sku string
			qty int
		}{{"MB8-BLK", 2}, {"MPB10-BLK", 1}, {"MB8-BLK", 3}} {
			if err := f.carts.AddItem(f.ctx, id, token, step.sku, step.qty); err != nil {
				t.Fatalf("add %d %s: %v", step.qty, step.sku, err)
			}
		}
		v := f.get(t, id, token)
		if len(v.Lines) != 2 {
			t.Fatalf("%d lines, want 2: %+v", len(v.Lines), v.Lines)
		}
		band := v.Lines[0]
		if band.SKU != "MB8-BLK" || band.Quantity != 5 || band.Name != "Mistore Band 8" || band.VariantName != "Black" ||
			band.FullName != "Mistore Band 8 (Black)" || band.Slug != "mistore-band-8" || band.Image == "" ||
			band.UnitPrice.Amount != 3999 || band.Total.Amount != 5*3999 || band.Total.Currency != "USD" ||
			!band.Purchasable || band.State != catalog.Available || band.Limit != catalog.DefaultPurchaseLimit {
			t.Errorf("band line %+v", band)
		}
		if v.Lines[1].SKU != "MPB10-BLK" {
			t.Errorf("lines out of order: %+v", v.Lines)
		}
		if v.Subtotal.Amount != 5*3999+2499 || v.Subtotal.Currency != "USD" || v.Count != 6 {
			t.Errorf("subtotal %+v, count %d", v.Subtotal, v.Count)
		}
		if len(v.Notices) != 0 {
			t.Errorf("notices on an unchanged cart: %q", v.Notices)
		}
		lines, err := f.carts.LinesTx(f.ctx, f.d.Read, id)
		if err != nil || len(lines) != 2 || lines[0] != (cart.Line{SKU: "MB8-BLK", Quantity: 5}) {
			t.Errorf("LinesTx = %+v, %v", lines, err)
		}
	})
}

func TestQuantityRules(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		id, token := f.newCart(t, "us")
		for _, qty := range []int{0, -1, 1_000_000_000, catalog.DefaultPurchaseLimit + 1} {
			if err := f.carts.AddItem(f.ctx, id, token, "MB8-BLK", qty); !errors.Is(err, cart.ErrQuantity) {
				t.Errorf("add %d: %v, want ErrQuantity", qty, err)
			}
		}
		if err := f.carts.AddItem(f.ctx, id, token, "MB8-BLK", 8); err != nil {
			t.Fatal(err)
		}
		err := f.carts.AddItem(f.ctx, id, token, "MB8-BLK", 3)
		if !errors.Is(err, cart.ErrQuantity) || !strings.Contains(err.Error(), "at most 10") || !strings.Contains(err.Error(), "already has 8") {
			t.Errorf("8 + 3: %v", err)
		}
		if err := f.carts.AddItem(f.ctx, id, token, "MB8-BLK", 2); err != nil {
			t.Errorf("8 + 2: %v", err)
		}
		for _, qty := range []int{-1, 11, 1_000_000_000} {
			if err := f.carts.SetQuantity(f.ctx, id, token, "MB8-BLK", qty); !errors.Is(err, cart.ErrQuantity) {
				t.Errorf("set %d: %v, want ErrQuantity", qty, err)
			}
		}
		if v := f.get(t, id, token); v.Lines[0].Quantity != 10 {
			t.Errorf("refused changes changed the line: %+v", v.Lines[0])
		}

		// A product's own limit.
		f.exec(t, "UPDATE products SET purchase_limit = 2 WHERE slug = 'mistore-power-bank-10000'")
		err = f.carts.AddItem(f.ctx, id, token, "MPB10-BLK", 3)
		if !errors.Is(err, cart.ErrQuantity) || !strings.Contains(err.Error(), "at most 2") {
			t.Errorf("3 over a limit of 2: %v", err)
		}
		if err := f.carts.AddItem(f.ctx, id, token, "MPB10-BLK", 2); err != nil {
			t.Fatal(err)
		}
		// Lowering the limit below a line leaves the line, unorderable, and
		// says why once.
		f.exec(t, "UPDATE products SET purchase_limit = 1 WHERE slug = 'mistore-power-bank-10000'")
		v := f.get(t, id, token)
		pb := line(v, "MPB10-BLK")
		if pb.Purchasable || !strings.Contains(pb.Reason, "at most 1") || v.Subtotal.Amount != 10*3999 {
			t.Errorf("line over a lowered limit: %+v, subtotal %v", pb, v.Subtotal)
		}
		if len(v.Notices) != 1 || !strings.Contains(v.Notices[0], "at most 1") {
			t.Errorf("notices %q", v.Notices)
		}
		if err := f.carts.SetQuantity(f.ctx, id, token, "MPB10-BLK", 1); err != nil {
			t.Fatal(err)
		}
		if v := f.get(t, id, token); !line(v, "MPB10-BLK").Purchasable || len(v.Notices) != 0 {
			t.Errorf("after lowering to the limit: %+v %q", line(v, "MPB10-BLK"), v.Notices)
		}
	})
}

func TestNotSoldInMarket(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		id, token := f.newCart(t, "us")
		tests := []struct {
			sku  string
			want string
		}{
			{"NOPE-1", "no product with SKU"},
			{"", "no product with SKU"},
			{"MP14-BLK-256", "FCC"},       // a phone in the US
			{"MWS4-BLK", "March 1, 2027"}, // coming soon
		}
		for _, tt := range tests {
			err := f.carts.AddItem(f.ctx, id, token, tt.sku, 1)
			if !errors.Is(err, cart.ErrNotSoldInMarket) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("add %q: %v, want ErrNotSoldInMarket saying %q", tt.sku, err, tt.want)
			}
		}
		// The same phone is sold in China.
		cid, ctoken := f.newCart(t, "cn")
		if err := f.carts.AddItem(f.ctx, cid, ctoken, "MP14-BLK-256", 1); err != nil {
			t.Errorf("phone in China: %v", err)
		}
		if v := f.get(t, id, token); len(v.Lines) != 0 {
			t.Errorf("refused adds made lines: %+v", v.Lines)
		}
	})
}

func TestOutOfStock(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		id, token := f.newCart(t, "us")
		err := f.carts.AddItem(f.ctx, id, token, "MPB20-GRY", 1)
		if !errors.Is(err, cart.ErrOutOfStock) || !strings.Contains(err.Error(), "out of stock") {
			t.Errorf("sold-out power bank: %v", err)
		}
		f.setStock(t, "MB8-PNK", 2, 1)
		err = f.carts.AddItem(f.ctx, id, token, "MB8-PNK", 4)
		if !errors.Is(err, cart.ErrOutOfStock) || !strings.Contains(err.Error(), "Only 3 of Mistore Band 8 (Pink) are left") {
			t.Errorf("4 of 3: %v", err)
		}
		if err := f.carts.AddItem(f.ctx, id, token, "MB8-PNK", 2); err != nil {
			t.Fatal(err)
		}
		err = f.carts.AddItem(f.ctx, id, token, "MB8-PNK", 2)
		if !errors.Is(err, cart.ErrOutOfStock) || !strings.Contains(err.Error(), "already has 2") {
			t.Errorf("2 + 2 of 3: %v", err)
		}
		if err := f.carts.SetQuantity(f.ctx, id, token, "MB8-PNK", 4); !errors.Is(err, cart.ErrOutOfStock) {
			t.Errorf("set 4 of 3: %v", err)
		}
		if err := f.carts.SetQuantity(f.ctx, id, token, "MB8-PNK", 3); err != nil {
			t.Errorf("set 3 of 3: %v", err)
		}
		// Reservations count: stock is on hand less what is reserved.
		f.exec(t, "UPDATE stock SET reserved = 2 WHERE sku = 'MB8-PNK' AND warehouse = 'us-east'")
		v := f.get(t, id, token)
		pink := line(v, "MB8-PNK")
		if pink.Purchasable || pink.State != catalog.OutOfStock || v.Subtotal.Amount != 0 {
			t.Errorf("line short of stock: %+v, subtotal %v", pink, v.Subtotal)
		}
		if len(v.Notices) != 1 || v.Notices[0] != "Only 1 of Mistore Band 8 (Pink) is left; lower the quantity to 1 to order it." {
			t.Errorf("notices %q", v.Notices)
		}
		// Lowering is always allowed.
		if err := f.carts.SetQuantity(f.ctx, id, token, "MB8-PNK", 1); err != nil {
			t.Fatal(err)
		}
		if v := f.get(t, id, token); !v.Lines[0].Purchasable || len(v.Notices) != 0 || v.Subtotal.Amount != 3999 {
			t.Errorf("after lowering: %+v %q", v.Lines[0], v.Notices)
		}
		f.setStock(t, "MB8-PNK", 2, 0) // 2 on hand, 2 reserved
		if v := f.get(t, id, token); len(v.Notices) != 1 || !strings.Contains(v.Notices[0], "is now out of stock") {
			t.Errorf("sold out: %q", v.Notices)
		}
		f.setStock(t, "MB8-PNK", 10, 0)
		if v := f.get(t, id, token); len(v.Notices) != 1 || v.Notices[0] != "Mistore Band 8 (Pink) is available again." {
			t.Errorf("back in stock: %q", v.Notices)
		}
	})
}

func TestNotices(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		id, token := f.newCart(t, "us")
		for _, sku := range []string{"MB8-BLK", "MBD5-WHT"} {
			if err := f.carts.AddItem(f.ctx, id, token, sku, 1); err != nil {
				t.Fatal(err)
			}
		}
		f.exec(t, "UPDATE prices SET amount = 3499 WHERE sku = 'MB8-BLK' AND market = 'us'")
		v := f.get(t, id, token)
		want := "The price of Mistore Band 8 (Black) changed from $39.99 to $34.99."
		if len(v.Notices) != 1 || v.Notices[0] != want {
			t.Errorf("notices %q, want %q", v.Notices, want)
		}
		if v.Lines[0].UnitPrice.Amount != 3499 || v.Subtotal.Amount != 3499+4999 {
			t.Errorf("after the price change: %+v, subtotal %v", v.Lines[0], v.Subtotal)
		}
		// Told once.
		if v := f.get(t, id, token); len(v.Notices) != 0 {
			t.Errorf("the same change told twice: %q", v.Notices)
		}

		// The buds lose their FCC certification.
		f.exec(t, `DELETE FROM certifications WHERE market = 'us' AND scheme = 'FCC'
			AND product_id = (SELECT id FROM products WHERE slug = 'mistore-buds-5')`)
		v = f.get(t, id, token)
		if len(v.Notices) != 1 || !strings.HasPrefix(v.Notices[0], "Mistore Buds 5 (White) is no longer available in the United States: ") ||
			!strings.Contains(v.Notices[0], "FCC") {
			t.Errorf("notices %q", v.Notices)
		}
		buds := line(v, "MBD5-WHT")
		if buds.Purchasable || buds.State != catalog.NotSold || !strings.Contains(buds.Reason, "FCC") || v.Subtotal.Amount != 3499 {
			t.Errorf("uncertified line %+v, subtotal %v", buds, v.Subtotal)
		}
		if v.Purchasable() != true {
			t.Error("the band can still be bought")
		}
		if v := f.get(t, id, token); len(v.Notices) != 0 {
			t.Errorf("told twice: %q", v.Notices)
		}
		// It cannot be added to, but it can be lowered and removed.
		if err := f.carts.AddItem(f.ctx, id, token, "MBD5-WHT", 1); !errors.Is(err, cart.ErrNotSoldInMarket) {
			t.Errorf("add to an uncertified line: %v", err)
		}
		if err := f.carts.RemoveItem(f.ctx, id, token, "MBD5-WHT"); err != nil {
			t.Fatal(err)
		}
		if v := f.get(t, id, token); len(v.Lines) != 1 {
			t.Errorf("lines after remove: %+v", v.Lines)
		}
	})
}

func TestSetAndRemove(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		id, token := f.newCart(t, "us")
		if err := f.carts.AddItem(f.ctx, id, token, "MB8-BLK", 1); err != nil {
			t.Fatal(err)
		}
		if err := f.carts.SetQuantity(f.ctx, id, token, "MB8-BLK", 4); err != nil {
			t.Fatal(err)
		}
		if v := f.get(t, id, token); v.Lines[0].Quantity != 4 {
			t.Errorf("set 4: %+v", v.Lines)
		}
		if err := f.carts.SetQuantity(f.ctx, id, token, "MB8-BLU", 2); !errors.Is(err, cart.ErrLineNotFound) {
			t.Errorf("set a SKU not in the cart: %v", err)
		}
		if err := f.carts.SetQuantity(f.ctx, id, token, "NOPE", 2); !errors.Is(err, cart.ErrLineNotFound) {
			t.Errorf("set an unknown SKU: %v", err)
		}
		if err := f.carts.SetQuantity(f.ctx, id, token, "MB8-BLU", 0); !errors.Is(err, cart.ErrLineNotFound) {
			t.Errorf("remove by 0 a SKU not in the cart: %v", err)
		}
		if err := f.carts.SetQuantity(f.ctx, id, token, "MB8-BLK", 0); err != nil {
			t.Fatal(err)
		}
		if v := f.get(t, id, token); len(v.Lines) != 0 || v.Subtotal.Amount != 0 {
			t.Errorf("after set 0: %+v", v)
		}
		// Removing what is not there is not an error (a retried DELETE).
		if err := f.carts.RemoveItem(f.ctx, id, token, "MB8-BLK"); err != nil {
			t.Errorf("remove twice: %v", err)
		}
	})
}

func TestTokens(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		id, token := f.newCart(t, "us")
		other, otherToken := f.newCart(t, "us")
		if err := f.carts.AddItem(f.ctx, id, token, "MB8-BLK", 1); err != nil {
			t.Fatal(err)
		}
		// A well-formed id that was never made, with a token that is right
		// for it, must read exactly like a wrong token.
		ghost := strings.Repeat("a", 26)
		f.exec(t, "DELETE FROM carts WHERE id = $1", other)
		cases := []struct{ id, token string }{
			{id, ""},
			{id, "x"},
			{id, token + "A"},
			{id, strings.ToUpper(token)},
			{id, otherToken},
			{other, otherToken}, // deleted
			{ghost, token},
			{"", ""},
			{id + "'; DROP TABLE carts; --", token},
		}
		var msg string
		for _, c := range cases {
			_, err := f.carts.Get(f.ctx, c.id, c.token)
			if !errors.Is(err, cart.ErrNotFound) {
				t.Errorf("Get(%q, %q) = %v, want ErrNotFound", c.id, c.token, err)
				continue
			}
			if msg == "" {
				msg = err.Error()
			} else if err.Error() != msg {
				t.Errorf("Get(%q, %q) says %q, others %q", c.id, c.token, err, msg)
			}
			for name, change := range map[string]func() error{
				"add":    func() error { return f.carts.AddItem(f.ctx, c.id, c.token, "MB8-BLK", 1) },
				"set":    func() error { return f.carts.SetQuantity(f.ctx, c.id, c.token, "MB8-BLK", 2) },
				"remove": func() error { return f.carts.RemoveItem(f.ctx, c.id, c.token, "MB8-BLK") },
			} {
				if err := change(); !errors.Is(err, cart.ErrNotFound) {
					t.Errorf("%s with (%q, %q) = %v, want ErrNotFound", name, c.id, c.token, err)
				}
			}
			if _, err := f.carts.Verify(f.ctx, c.id, c.token); !errors.Is(err, cart.ErrNotFound) {
				t.Errorf("Verify(%q, %q) = %v", c.id, c.token, err)
			}
		}
		if v := f.get(t, id, token); len(v.Lines) != 1 || v.Lines[0].Quantity != 1 {
			t.Errorf("refused changes changed the cart: %+v", v.Lines)
		}
		// Another instance of the store opens the same carts: the key is in
		// the database, not in the process.
		again := cart.NewService(d, f.catalog, inventory.NewService(d), nil)
		if _, err := again.Get(f.ctx, id, token); err != nil {
			t.Errorf("a second service: %v", err)
		}
	})
}

func TestCheckedOut(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		id, token := f.newCart(t, "us")
		if err := f.carts.AddItem(f.ctx, id, token, "MB8-BLK", 2); err != nil {
			t.Fatal(err)
		}
		// Checkout claims the cart by updating its row in its transaction,
		// then reads the lines there.
		var lines []cart.Line
		err := d.Tx(f.ctx, func(tx db.Querier) error {
			if _, err := tx.ExecContext(f.ctx, "UPDATE carts SET order_number = 'US-1001' WHERE id = $1", id); err != nil {
				return err
			}
			var err error
			lines, err = f.carts.LinesTx(f.ctx, tx, id)
			return err
		})
		if err != nil || len(lines) != 1 || lines[0].Quantity != 2 {
			t.Fatalf("check out: %+v, %v", lines, err)
		}
		for name, change := range map[string]func() error{
			"add":    func() error { return f.carts.AddItem(f.ctx, id, token, "MB8-BLK", 1) },
			"set":    func() error { return f.carts.SetQuantity(f.ctx, id, token, "MB8-BLK", 1) },
			"set 0":  func() error { return f.carts.SetQuantity(f.ctx, id, token, "MB8-BLK", 0) },
			"remove": func() error { return f.carts.RemoveItem(f.ctx, id, token, "MB8-BLK") },
		} {
			if err := change(); !errors.Is(err, cart.ErrCheckedOut) {
				t.Errorf("%s on a checked-out cart: %v", name, err)
			}
		}
		v := f.get(t, id, token)
		if !v.CheckedOut || len(v.Lines) != 1 || v.Lines[0].Quantity != 2 {
			t.Errorf("checked-out cart %+v", v)
		}
		if s, err := f.carts.Verify(f.ctx, id, token); err != nil || !s.CheckedOut() || s.OrderNumber != "US-1001" {
			t.Errorf("Verify = %+v, %v", s, err)
		}
	})
}

func TestCartFull(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		id, token := f.newCart(t, "us")
		// Fill the cart directly: the demo has too few sellable SKUs.
		_, err := d.Write.ExecContext(f.ctx, `INSERT INTO cart_lines (cart_id, sku, quantity, seen_state, position)
			SELECT $1, sku, 1, '', id FROM variants WHERE sku <> 'MB8-BLK' ORDER BY sku LIMIT 50`, id)
		if err != nil {
			t.Fatal(err)
		}
		err = f.carts.AddItem(f.ctx, id, token, "MB8-BLK", 1)
		if !errors.Is(err, cart.ErrCartFull) || !strings.Contains(err.Error(), "at most 50") {
			t.Errorf("51st line: %v", err)
		}
		// A line already there can still grow.
		if err := f.carts.AddItem(f.ctx, id, token, "MB8-BLU", 1); err != nil {
			t.Errorf("add to an existing line of a full cart: %v", err)
		}
		// Lines nobody has seen yet get no notices on the first view.
		if v := f.get(t, id, token); len(v.Lines) != 50 || len(v.Notices) != 0 {
			t.Errorf("%d lines, notices %q", len(v.Lines), v.Notices)
		}
	})
}

// TestConcurrentAdds has 20 shoppers' worth of requests add one unit of the
// same SKU to one cart at once: the line ends at the limit, never above,
// and every request past it is refused.
func TestConcurrentAdds(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		for _, limit := range []int{catalog.DefaultPurchaseLimit, 50} {
			f.exec(t, "UPDATE products SET purchase_limit = $1 WHERE slug = 'mistore-band-8'", limit)
			id, token := f.newCart(t, "us")
			const n = 20
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for range n {
				wg.Go(func() { errs <- f.carts.AddItem(f.ctx, id, token, "MB8-BLK", 1) })
			}
			wg.Wait()
			close(errs)
			ok, refused := 0, 0
			for err := range errs {
				switch {
				case err == nil:
					ok++
				case errors.Is(err, cart.ErrQuantity):
					refused++
				default:
					t.Errorf("limit %d: unexpected error %v", limit, err)
				}
			}
			want := min(n, limit)
			v := f.get(t, id, token)
			if ok != want || refused != n-want || len(v.Lines) != 1 || v.Lines[0].Quantity != want {
				t.Errorf("limit %d: %d added, %d refused, lines %+v; want %d added", limit, ok, refused, v.Lines, want)
			}
		}
	})
}
