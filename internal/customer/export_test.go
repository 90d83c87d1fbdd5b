package customer_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"mistore/internal/customer"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/money"
	"mistore/internal/notify"
	"mistore/internal/order"
)

// place writes a paid US order for email: $10.00 of goods, $5.00
// shipping, $0.80 tax.
func place(t *testing.T, d *db.DB, email string) *order.Order {
	t.Helper()
	usd := func(a int64) money.Money { return money.New(a, "USD") }
	o := &order.Order{
		Market: "us", Email: email, Status: order.Paid, Currency: "USD",
		Subtotal: usd(1000), Shipping: usd(500), Tax: usd(80), Total: usd(1580),
		ShippingMethod: "standard", ShippingName: "Standard shipping",
		Address: order.Address{Name: "Ada Lovelace", Line1: "1 Main Street", Line2: "Apt 2", City: "Springfield",
			Region: "IL", PostalCode: "62701", Country: "US"},
		Lines: []order.Line{
			{SKU: "band-9-black", Name: "Mi Smart Band 9", VariantName: "Midnight Black", Quantity: 2, UnitPrice: usd(400), Total: usd(800), Tax: usd(64)},
			{SKU: "cable", Name: "USB-C cable", Quantity: 1, UnitPrice: usd(200), Total: usd(200), Tax: usd(16)},
		},
		PaymentProvider: "test", PaymentStatus: "succeeded",
	}
	ctx := context.Background()
	if err := d.Tx(ctx, func(tx db.Querier) error { return order.Insert(ctx, tx, d.Dialect, o) }); err != nil {
		t.Fatal(err)
	}
	return o
}

func TestOrderNumbers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		first := place(t, d, "ada@example.com")
		second := place(t, d, "ADA@Example.COM")
		place(t, d, "bob@example.com")
		c := e.register(t, "Ada@example.com", "Ada")

		// Unverified, the address's guest orders are not the account's.
		if got, err := e.s.OrderNumbers(ctx, c.ID); err != nil || len(got) != 0 {
			t.Errorf("unverified: %v, %v", got, err)
		}
		if _, err := e.s.VerifyEmail(ctx, e.lastToken(t, notify.KindEmailVerification, "Ada@example.com")); err != nil {
			t.Fatal(err)
		}
		third := place(t, d, "ada@example.com")
		got, err := e.s.OrderNumbers(ctx, c.ID)
		want := []string{third.Number, second.Number, first.Number}
		if err != nil || strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("OrderNumbers = %v, %v; want %v", got, err, want)
		}
	})
}

func TestExport(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		o := place(t, d, "ada@example.com")
		place(t, d, "bob@example.com")
		c := e.verified(t, "Ada@Example.com", "Ada 🚀")
		tok, err := e.s.NewSession(ctx, c.ID, customer.SessionAPI)
		if err != nil {
			t.Fatal(err)
		}
		addr, err := e.s.AddAddress(ctx, c.ID, home())
		if err != nil {
			t.Fatal(err)
		}
		if err := e.s.RequestPasswordReset(ctx, "ada@example.com"); err != nil {
			t.Fatal(err)
		}
		reset := e.lastToken(t, notify.KindPasswordReset, "Ada@Example.com")

		x, err := e.s.Export(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if x.Profile.ID != c.ID || x.Profile.Email != "Ada@Example.com" || x.Profile.Name != "Ada 🚀" || x.Profile.EmailVerifiedAt == nil {
			t.Errorf("profile %+v", x.Profile)
		}
		if len(x.Addresses) != 1 || x.Addresses[0] != addr {
			t.Errorf("addresses %+v", x.Addresses)
		}
		if len(x.Sessions) != 1 || x.Sessions[0].Kind != customer.SessionAPI || x.Sessions[0].CustomerID != c.ID {
			t.Errorf("sessions %+v", x.Sessions)
		}
		if len(x.PasswordResets) != 1 || len(x.EmailVerifications) != 1 || x.EmailVerifications[0].UsedAt == nil {
			t.Errorf("links %+v %+v", x.PasswordResets, x.EmailVerifications)
		}
		if len(x.Orders) != 1 {
			t.Fatalf("orders %+v", x.Orders)
		}
		xo := x.Orders[0]
		if xo.Number != o.Number || xo.Total != "15.80" || xo.Subtotal != "10.00" || xo.Currency != "USD" || xo.ShipTo.City != "Springfield" ||
			xo.ShippingMethod != "Standard shipping" || len(xo.Lines) != 2 || xo.Lines[0].Name != "Mi Smart Band 9" ||
			xo.Lines[0].UnitPrice != "4.00" || xo.Lines[0].Quantity != 2 || xo.Lines[1].SKU != "cable" {
			t.Errorf("order %+v", xo)
		}

		js, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		s := string(js)
		for _, want := range []string{`"profile":{"id":`, `"email":"Ada@Example.com"`, `"orders":[{"number":"` + o.Number + `"`,
			`"total":"15.80"`, `"postal_code":"62701"`, `"kind":"api"`, `"lines":[{"sku":"band-9-black"`} {
			if !strings.Contains(s, want) {
				t.Errorf("JSON lacks %s:\n%s", want, s)
			}
		}
		var hash string
		if err := d.Read.QueryRow("SELECT password_hash FROM customers WHERE id = $1", c.ID).Scan(&hash); err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{hash, "argon2id", tok, sha(tok), reset, sha(reset), "bob@example.com"} {
			if strings.Contains(s, secret) {
				t.Errorf("the export holds %q", secret)
			}
		}

		if _, err := e.s.Export(ctx, c.ID+1000); !errors.Is(err, customer.ErrNotFound) {
			t.Errorf("export of no one: %v", err)
		}
		// A customer with nothing has empty lists, not nulls.
		b := e.register(t, "bob@example.com", "Bob")
		x, err = e.s.Export(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		js, _ = json.Marshal(x)
		for _, want := range []string{`"addresses":[]`, `"sessions":[]`, `"orders":[]`, `"email_verified_at":null`} {
			if !strings.Contains(string(js), want) {
				t.Errorf("empty export lacks %s:\n%s", want, js)
			}
		}
	})
}

type orderRow struct {
	Email, Name, Line1, Line2, City, Region, Postal, Country, Market string
	Subtotal, Shipping, Tax, Total                                   int64
}

func readOrder(t *testing.T, d *db.DB, id int64) orderRow {
	t.Helper()
	var r orderRow
	if err := d.Read.QueryRow(`SELECT email, ship_name, ship_line1, ship_line2, ship_city, ship_region, ship_postal_code, ship_country,
			market, subtotal, shipping, tax, total FROM orders WHERE id = $1`, id).
		Scan(&r.Email, &r.Name, &r.Line1, &r.Line2, &r.City, &r.Region, &r.Postal, &r.Country, &r.Market,
			&r.Subtotal, &r.Shipping, &r.Tax, &r.Total); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestDelete(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		mine1 := place(t, d, "ada@example.com")
		mine2 := place(t, d, "Ada@Example.com")
		theirs := place(t, d, "bob@example.com")
		c := e.verified(t, "ada@example.com", "Ada")
		if _, err := e.s.NewSession(ctx, c.ID, customer.SessionBrowser); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.AddAddress(ctx, c.ID, home()); err != nil {
			t.Fatal(err)
		}
		if err := e.s.RequestPasswordReset(ctx, "ada@example.com"); err != nil {
			t.Fatal(err)
		}
		bob := e.register(t, "bob@example.com", "Bob")
		bobSession, err := e.s.NewSession(ctx, bob.ID, customer.SessionBrowser)
		if err != nil {
			t.Fatal(err)
		}
		theirsBefore := readOrder(t, d, theirs.ID)

		if err := e.s.Delete(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		anon := "deleted-" + strconv.FormatInt(c.ID, 10) + "@invalid.example"
		for _, o := range []*order.Order{mine1, mine2} {
			got := readOrder(t, d, o.ID)
			want := orderRow{Email: anon, Region: "IL", Country: "US", Market: "us", Subtotal: 1000, Shipping: 500, Tax: 80, Total: 1580}
			if got != want {
				t.Errorf("order %s after deletion: %+v, want %+v", o.Number, got, want)
			}
		}
		if got := readOrder(t, d, theirs.ID); got != theirsBefore {
			t.Errorf("another customer's order changed: %+v", got)
		}
		var lines int
		if err := d.Read.QueryRow("SELECT count(*) FROM order_lines WHERE order_id = $1", mine1.ID).Scan(&lines); err != nil || lines != 2 {
			t.Errorf("order lines after deletion: %d, %v", lines, err)
		}
		for _, table := range []string{"customer_sessions", "customer_addresses", "password_resets", "email_verifications", "customers"} {
			col := "customer_id"
			if table == "customers" {
				col = "id"
			}
			if n := e.count(t, "SELECT count(*) FROM "+table+" WHERE "+col+" = $1", c.ID); n != 0 {
				t.Errorf("%d rows left in %s", n, table)
			}
		}
		if _, err := e.s.Get(ctx, c.ID); !errors.Is(err, customer.ErrNotFound) {
			t.Errorf("Get after deletion: %v", err)
		}
		if _, _, err := e.s.Session(ctx, bobSession); err != nil {
			t.Errorf("another customer's session: %v", err)
		}
		if err := e.s.Delete(ctx, c.ID); !errors.Is(err, customer.ErrNotFound) {
			t.Errorf("deleting twice: %v", err)
		}
		// The address can make a new account.
		e.register(t, "ada@example.com", "Ada again")
	})
}

// TestDeleteUnverified checks that an account that never proved it owns
// its address cannot erase the orders of whoever does.
func TestDeleteUnverified(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		o := place(t, d, "victim@example.com")
		before := readOrder(t, d, o.ID)
		c := e.register(t, "victim@example.com", "Impostor")
		if err := e.s.Delete(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		if got := readOrder(t, d, o.ID); got != before {
			t.Errorf("an unverified account's deletion changed %+v into %+v", before, got)
		}
	})
}
