package community

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"mistore/internal/audit"
	"mistore/internal/clocktest"
	"mistore/internal/db"
	"mistore/internal/input"
)

type env struct {
	d     *db.DB
	s     *Service
	clock *clocktest.Clock
	n     int
}

// newEnv returns a service on d with a fixed clock and no posting limits
// unless limits is true.
func newEnv(t *testing.T, d *db.DB, limits bool) *env {
	t.Helper()
	c := clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	return &env{d: d, clock: c, s: New(d, Options{Now: c.Now, NoLimits: !limits})}
}

func (e *env) exec(t *testing.T, query string, args ...any) {
	t.Helper()
	if _, err := e.d.Write.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func (e *env) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := e.d.Read.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// product inserts a product with one variant, SKU slug-upper, and
// returns its id.
func (e *env) product(t *testing.T, slug string) int64 {
	t.Helper()
	now := db.Now()
	var id int64
	if err := e.d.Write.QueryRow(`INSERT INTO products (slug, name, category, created_at, updated_at)
		VALUES ($1, $2, 'wearables', $3, $3) RETURNING id`, slug, "Product "+slug, now).Scan(&id); err != nil {
		t.Fatal(err)
	}
	e.exec(t, "INSERT INTO variants (product_id, sku, name) VALUES ($1, $2, 'Black')", id, "SKU-"+slug)
	return id
}

// customer inserts a verified customer and returns their id.
func (e *env) customer(t *testing.T, name string) int64 {
	t.Helper()
	e.n++
	email := fmt.Sprintf("c%d@example.com", e.n)
	created := time.Date(2015, 1, 15, 9, 0, 0, 0, time.UTC)
	var id int64
	if err := e.d.Write.QueryRow(`INSERT INTO customers (email, email_key, name, password_hash, email_verified_at, created_at, updated_at)
		VALUES ($1, $1, $2, 'x', $3, $3, $3) RETURNING id`, email, name, created).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// order inserts an order with status for customer's email with one line
// of sku.
func (e *env) order(t *testing.T, customer int64, status, sku string) {
	t.Helper()
	e.n++
	var email string
	if err := e.d.Read.QueryRow("SELECT email FROM customers WHERE id = $1", customer).Scan(&email); err != nil {
		t.Fatal(err)
	}
	now := db.Now()
	var id int64
	if err := e.d.Write.QueryRow(`INSERT INTO orders (number, market, email, status, currency, subtotal, discount, shipping, tax, total, tax_included,
			shipping_method, shipping_name, ship_name, ship_line1, ship_line2, ship_city, ship_region, ship_postal_code, ship_country,
			payment_provider, payment_status, created_at, updated_at)
		VALUES ($1, 'us', $2, $3, 'USD', 100, 0, 0, 0, 100, FALSE, 'standard', 'Standard', 'A', 'B', '', 'C', 'NJ', '07102', 'US', 'test', 'paid', $4, $4)
		RETURNING id`, fmt.Sprintf("US-%d", 100000+e.n), email, status, now).Scan(&id); err != nil {
		t.Fatal(err)
	}
	e.exec(t, `INSERT INTO order_lines (order_id, position, sku, name, variant_name, quantity, unit_price, total)
		VALUES ($1, 1, $2, 'P', 'V', 1, 100, 100)`, id, sku)
}

func (e *env) posts(t *testing.T, customer int64) int {
	t.Helper()
	return e.count(t, "SELECT COALESCE((SELECT posts FROM community_members WHERE customer_id = $1), 0)", customer)
}

func (e *env) comment(t *testing.T, product, customer int64, body string) *Comment {
	t.Helper()
	c, err := e.s.PostComment(context.Background(), NewComment{ProductID: product, CustomerID: customer, Body: body})
	if err != nil {
		t.Fatalf("post %q: %v", body, err)
	}
	return c
}

func staffCtx() context.Context {
	return audit.WithActor(context.Background(), audit.Actor{Kind: audit.KindStaff, ID: 3, Name: "sam@example.com"})
}

// fieldErr fails t unless err is a *input.FieldError on field.
func fieldErr(t *testing.T, err error, field string) *input.FieldError {
	t.Helper()
	var fe *input.FieldError
	if !errors.As(err, &fe) || fe.Field != field {
		t.Fatalf("err = %v, want a field error on %s", err, field)
	}
	return fe
}
