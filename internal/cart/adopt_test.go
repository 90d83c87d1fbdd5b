package cart_test

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"mistore/internal/cart"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// adopt signs customer in with the guest cart id and token and returns the
// cart they keep.
func (f *fixture) adopt(t *testing.T, customer int64, market, id, token string) (string, string) {
	t.Helper()
	gotID, gotToken, err := f.carts.Adopt(f.ctx, customer, market, id, token)
	if err != nil {
		t.Fatalf("Adopt(%d, %s, %q): %v", customer, market, id, err)
	}
	if (gotID == "") != (gotToken == "") {
		t.Fatalf("Adopt(%d, %s, %q) = %q, %q: an id without a token or the reverse", customer, market, id, gotID, gotToken)
	}
	return gotID, gotToken
}

// add puts qty of sku in cart id.
func (f *fixture) add(t *testing.T, id, token, sku string, qty int) {
	t.Helper()
	if err := f.carts.AddItem(f.ctx, id, token, sku, qty); err != nil {
		t.Fatalf("add %d %s: %v", qty, sku, err)
	}
}

// rawLine appends a line to cart id directly, for SKUs AddItem would
// refuse.
func (f *fixture) rawLine(t *testing.T, id, sku string, qty int) {
	t.Helper()
	if _, err := f.d.Write.ExecContext(f.ctx, `INSERT INTO cart_lines (cart_id, sku, quantity, seen_state, position)
		SELECT $1, $2, $3, '', coalesce(max(position), 0) + 1 FROM cart_lines WHERE cart_id = $1`, id, sku, qty); err != nil {
		t.Fatalf("line %s in %s: %v", sku, id, err)
	}
}

// setCart runs an UPDATE of cart id's row, as checkout or an earlier
// sign-in would have left it.
func (f *fixture) setCart(t *testing.T, id, set string, args ...any) {
	t.Helper()
	if _, err := f.d.Write.ExecContext(f.ctx, "UPDATE carts SET "+set+" WHERE id = $1", append([]any{id}, args...)...); err != nil {
		t.Fatalf("update cart %s: %v", id, err)
	}
}

// ownedCart makes a cart in market belonging to customer.
func (f *fixture) ownedCart(t *testing.T, customer int64, market string) (string, string) {
	t.Helper()
	id, token := f.newCart(t, market)
	f.setCart(t, id, "customer_id = $2", customer)
	return id, token
}

// lines lists cart id's lines in order as "SKU:quantity".
func (f *fixture) lines(t *testing.T, id string) string {
	t.Helper()
	rows, err := f.d.Read.QueryContext(f.ctx, "SELECT sku, quantity FROM cart_lines WHERE cart_id = $1 ORDER BY position, sku", id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var sku string
		var qty int
		if err := rows.Scan(&sku, &qty); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s:%d", sku, qty))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, " ")
}

// cartRow is all of a cart as stored, to tell whether anything touched it.
type cartRow struct {
	market   string
	customer sql.NullInt64
	order    sql.NullString
	updated  time.Time
	lines    string
}

func (f *fixture) row(t *testing.T, id string) (cartRow, bool) {
	t.Helper()
	var r cartRow
	err := f.d.Read.QueryRowContext(f.ctx, "SELECT market, customer_id, order_number, updated_at FROM carts WHERE id = $1", id).
		Scan(&r.market, &r.customer, &r.order, &r.updated)
	if errors.Is(err, sql.ErrNoRows) {
		return cartRow{}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	r.lines = f.lines(t, id)
	return r, true
}

// openCarts lists customer's open carts in market.
func (f *fixture) openCarts(t *testing.T, customer int64, market string) []string {
	t.Helper()
	rows, err := f.d.Read.QueryContext(f.ctx, "SELECT id FROM carts WHERE customer_id = $1 AND market = $2 AND order_number IS NULL ORDER BY id",
		customer, market)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAdoptNoCarts(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		const customer = 7
		// Carts that are not this customer's open cart in the US.
		f.ownedCart(t, customer, "cn")
		done, _ := f.ownedCart(t, customer, "us")
		f.setCart(t, done, "order_number = 'US-1001'")
		f.ownedCart(t, customer+1, "us")
		_, guestToken := f.newCart(t, "us")
		for _, c := range []struct{ id, token string }{
			{"", ""},
			{strings.Repeat("a", 26), guestToken}, // no such cart
		} {
			if id, token := f.adopt(t, customer, "us", c.id, c.token); id != "" || token != "" {
				t.Errorf("Adopt with guest %q = %q, %q; want none", c.id, id, token)
			}
		}
		if _, _, err := f.carts.Adopt(f.ctx, 0, "us", "", ""); err == nil {
			t.Error("Adopt for customer 0 succeeded")
		}
	})
}

func TestAdoptGuestOnly(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		const customer = 7
		guest, guestToken := f.newCart(t, "us")
		f.add(t, guest, guestToken, "MB8-BLK", 2)
		f.add(t, guest, guestToken, "MPB10-BLK", 1)

		id, token := f.adopt(t, customer, "us", guest, guestToken)
		if id != guest || token != guestToken {
			t.Fatalf("Adopt = %q, %q; want the guest cart %q", id, token, guest)
		}
		r, ok := f.row(t, guest)
		if !ok || r.customer != (sql.NullInt64{Int64: customer, Valid: true}) || r.order.Valid || r.lines != "MB8-BLK:2 MPB10-BLK:1" {
			t.Errorf("adopted cart %+v (exists %v)", r, ok)
		}
		// Another device, with no cart of its own, gets the same cart.
		if id, token := f.adopt(t, customer, "us", "", ""); id != guest || token != guestToken {
			t.Errorf("second Adopt = %q, %q; want %q", id, token, guest)
		}
		// Signing in again with the cart already the customer's keeps it.
		if id, _ := f.adopt(t, customer, "us", guest, guestToken); id != guest {
			t.Errorf("Adopt of the own cart = %q; want %q", id, guest)
		}
		if v := f.get(t, guest, guestToken); len(v.Lines) != 2 || v.Lines[0].Quantity != 2 {
			t.Errorf("cart after adopting it twice: %+v", v.Lines)
		}
		if got := f.openCarts(t, customer, "us"); len(got) != 1 || got[0] != guest {
			t.Errorf("open carts %v, want [%s]", got, guest)
		}
		// Nobody else gets it: another customer signing in on this browser
		// keeps nothing.
		if id, _ := f.adopt(t, customer+1, "us", guest, guestToken); id != "" {
			t.Errorf("another customer adopted %q", id)
		}
	})
}

func TestAdoptOwnOnly(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		const customer = 7
		older, _ := f.ownedCart(t, customer, "us")
		own, ownToken := f.ownedCart(t, customer, "us")
		f.add(t, own, ownToken, "MB8-BLK", 3)
		done, _ := f.ownedCart(t, customer, "us")
		cn, _ := f.ownedCart(t, customer, "cn")
		hour := db.Now().Add(-time.Hour)
		f.setCart(t, older, "updated_at = $2", hour.Add(-time.Hour))
		f.setCart(t, own, "updated_at = $2", hour)
		// Newer, but an order now; and newer, but in China.
		f.setCart(t, done, "updated_at = $2, order_number = 'US-1001'", hour.Add(time.Minute))
		f.setCart(t, cn, "updated_at = $2", hour.Add(time.Minute))
		before, _ := f.row(t, own)

		id, token := f.adopt(t, customer, "us", "", "")
		if id != own || token != ownToken {
			t.Fatalf("Adopt = %q, %q; want the newest open US cart %q (older %q, ordered %q, cn %q)", id, token, own, older, done, cn)
		}
		if after, _ := f.row(t, own); after.lines != before.lines || after.customer != before.customer {
			t.Errorf("own cart changed: %+v, was %+v", after, before)
		}
		if id, _ := f.adopt(t, customer, "cn", "", ""); id != cn {
			t.Errorf("Adopt in China = %q, want %q", id, cn)
		}
	})
}

func TestAdoptMerges(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		const customer = 7
		own, ownToken := f.ownedCart(t, customer, "us")
		guest, guestToken := f.newCart(t, "us")
		f.add(t, own, ownToken, "MB8-BLK", 6)
		f.add(t, own, ownToken, "MPB10-BLK", 1)
		f.add(t, own, ownToken, "MB8P-BLK", 5)
		f.add(t, guest, guestToken, "MBD5-WHT", 2)
		f.add(t, guest, guestToken, "MB8-BLK", 7)
		f.add(t, guest, guestToken, "MPB10-BLK", 2)
		f.add(t, guest, guestToken, "MB8P-BLK", 1)
		f.add(t, guest, guestToken, "MCAB-C1M", 4)
		// Limits lowered since: the power bank's sum is capped at 2; the
		// Band 8 Pro line is already above 3 and stays as it is; the
		// guest's cables come over capped at 3.
		f.exec(t, "UPDATE products SET purchase_limit = 2 WHERE slug = 'mistore-power-bank-10000'")
		f.exec(t, "UPDATE products SET purchase_limit = 3 WHERE slug = 'mistore-band-8-pro'")
		f.exec(t, "UPDATE products SET purchase_limit = 3 WHERE slug = 'mistore-usb-c-cable'")
		// Variants the catalog in memory does not know yet (no refresh): as
		// for a line made on a newer catalog than this instance's.
		if _, err := d.Write.ExecContext(f.ctx, `INSERT INTO variants (product_id, sku, name, position)
			SELECT id, sku, 'Ghost', 99 FROM products, (SELECT 'MB8-GHOST' AS sku UNION ALL SELECT 'MB8-GHOST2') g
			WHERE slug = 'mistore-band-8'`); err != nil {
			t.Fatal(err)
		}
		f.rawLine(t, own, "MB8-GHOST", 3)
		f.rawLine(t, guest, "MB8-GHOST", 2)
		f.rawLine(t, guest, "MB8-GHOST2", 1)
		f.add(t, guest, guestToken, "MB8-BLU", 1)

		id, token := f.adopt(t, customer, "us", guest, guestToken)
		if id != own || token != ownToken {
			t.Fatalf("Adopt = %q, %q; want the own cart %q", id, token, own)
		}
		want := "MB8-BLK:10 MPB10-BLK:2 MB8P-BLK:5 MB8-GHOST:3 MBD5-WHT:2 MCAB-C1M:3 MB8-BLU:1"
		if got := f.lines(t, own); got != want {
			t.Errorf("merged lines\n got %s\nwant %s", got, want)
		}
		if r, ok := f.row(t, guest); ok {
			t.Errorf("guest cart left after the merge: %+v", r)
		}
		var n int
		if err := d.Read.QueryRowContext(f.ctx, "SELECT count(*) FROM cart_lines WHERE cart_id = $1", guest).Scan(&n); err != nil || n != 0 {
			t.Errorf("%d guest lines left, %v", n, err)
		}
		if _, err := f.carts.Get(f.ctx, guest, guestToken); !errors.Is(err, cart.ErrNotFound) {
			t.Errorf("Get of the merged guest cart: %v", err)
		}
		if err := f.carts.AddItem(f.ctx, guest, guestToken, "MB8-BLK", 1); !errors.Is(err, cart.ErrNotFound) {
			t.Errorf("AddItem to the merged guest cart: %v", err)
		}
		if got := f.openCarts(t, customer, "us"); len(got) != 1 || got[0] != own {
			t.Errorf("open carts %v, want [%s]", got, own)
		}
		v := f.get(t, own, ownToken)
		if len(v.Lines) != 7 || v.Lines[4].SKU != "MBD5-WHT" || !v.Lines[4].Purchasable {
			t.Errorf("merged cart view %+v", v.Lines)
		}
		// The merge does not make the own cart refuse what AddItem allows.
		if err := f.carts.AddItem(f.ctx, own, ownToken, "MB8-BLU", 1); err != nil {
			t.Errorf("add to the merged cart: %v", err)
		}
	})
}

func TestAdoptIgnores(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		cases := []struct {
			name   string
			market string
			setup  func(id string, customer int64)
			token  func(id, token string) string
		}{
			{name: "wrong token", market: "us", token: func(string, string) string {
				_, other := f.newCart(t, "us")
				return other
			}},
			{name: "no token", market: "us", token: func(string, string) string { return "" }},
			{name: "another customer's", market: "us", setup: func(id string, _ int64) { f.setCart(t, id, "customer_id = 99") }},
			{name: "checked out", market: "us", setup: func(id string, _ int64) { f.setCart(t, id, "order_number = 'US-1001'") }},
			{name: "checked out and ours", market: "us", setup: func(id string, customer int64) {
				f.setCart(t, id, "order_number = 'US-1002', customer_id = $2", customer)
			}},
			{name: "other market", market: "cn"},
		}
		for i, c := range cases {
			customer := int64(100 + i)
			guest, guestToken := f.newCart(t, c.market)
			f.add(t, guest, guestToken, "MB8-BLK", 2)
			if c.setup != nil {
				c.setup(guest, customer)
			}
			token := guestToken
			if c.token != nil {
				token = c.token(guest, guestToken)
			}
			before, _ := f.row(t, guest)

			// Without an own cart there is nothing to keep.
			if id, _ := f.adopt(t, customer, "us", guest, token); id != "" {
				t.Errorf("%s: Adopt = %q, want none", c.name, id)
			}
			if after, ok := f.row(t, guest); !ok || after != before {
				t.Errorf("%s: guest cart changed: %+v, was %+v", c.name, after, before)
			}
			// With one, the own cart is kept as it was.
			own, ownToken := f.ownedCart(t, customer, "us")
			f.add(t, own, ownToken, "MPB10-BLK", 1)
			if id, got := f.adopt(t, customer, "us", guest, token); id != own || got != ownToken {
				t.Errorf("%s: Adopt = %q, want the own cart %q", c.name, id, own)
			}
			if got := f.lines(t, own); got != "MPB10-BLK:1" {
				t.Errorf("%s: own cart lines %s", c.name, got)
			}
			if after, ok := f.row(t, guest); !ok || after != before {
				t.Errorf("%s: guest cart changed: %+v, was %+v", c.name, after, before)
			}
		}
	})
}

// TestAdoptConcurrent signs one customer in on ten devices at once, each
// with its own guest cart: one open cart must come out of it, holding
// every guest's lines, with the shared SKU capped at its limit.
func TestAdoptConcurrent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		skus := []string{"MB8-BLU", "MB8P-BLK", "MB8P-BLU", "MB8A-BLK", "MB8A-GRN", "MWL2-IVR", "MWL2-BLK", "MPB5-WHT", "MPB5-BLK", "MPB10-BLU"}
		const n = 10
		// A few rounds, one customer each, so that a race shows up.
		for round := range 3 {
			customer := int64(200 + round)
			ids, tokens := make([]string, n), make([]string, n)
			for i := range n {
				ids[i], tokens[i] = f.newCart(t, "us")
				f.add(t, ids[i], tokens[i], "MB8-BLK", 2)
				f.add(t, ids[i], tokens[i], skus[i], i%3+1)
			}
			got := make([]string, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { got[i], _, errs[i] = f.carts.Adopt(f.ctx, customer, "us", ids[i], tokens[i]) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("round %d: Adopt %d: %v", round, i, err)
				}
			}
			open := f.openCarts(t, customer, "us")
			if len(open) != 1 {
				t.Fatalf("round %d: %d open carts %v, want 1", round, len(open), open)
			}
			own := open[0]
			for i, id := range got {
				if id != own {
					t.Errorf("round %d: Adopt %d kept %q, want %q", round, i, id, own)
				}
			}
			// The order of the lines is the order the sign-ins ran in; the
			// set of them is fixed.
			have := map[string]bool{}
			lines := strings.Fields(f.lines(t, own))
			for _, l := range lines {
				have[l] = true
			}
			want := []string{"MB8-BLK:10"}
			for i, sku := range skus {
				want = append(want, fmt.Sprintf("%s:%d", sku, i%3+1))
			}
			for _, w := range want {
				if !have[w] {
					t.Errorf("round %d: no line %s in %v", round, w, lines)
				}
			}
			if len(lines) != len(want) {
				t.Errorf("round %d: lines %v, want %v in some order", round, lines, want)
			}
			for i, id := range ids {
				if _, ok := f.row(t, id); ok != (id == own) {
					t.Errorf("round %d: guest cart %d exists %v (own %v)", round, i, ok, id == own)
				}
			}
		}
	})
}
