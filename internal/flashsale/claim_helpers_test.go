package flashsale

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"mistore/internal/cart"
	"mistore/internal/clocktest"
	"mistore/internal/db"
)

// The claim engine's tests make their sales by SQL, as the package's
// model says Create leaves them: the sale row, and its units set aside in
// one warehouse as the pool reservation.

// clBase is the start of every test sale; clock times are read from it.
var clBase = time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)

// clSale describes a test sale.
type clSale struct {
	SKU          string
	Quantity     int
	Limit        int
	Price        int64
	Starts, Ends time.Time
	// Registration makes the sale registration-only.
	Registration bool
	Paused       bool
}

// clEnv is a Service on a test database with its clock and carts.
type clEnv struct {
	d     *db.DB
	s     *Service
	carts *cart.Service
	clock *clocktest.Clock
}

// newClEnv returns a Service on d whose clock stands a minute into the
// test sales' window.
func newClEnv(t testing.TB, d *db.DB, opts Options) *clEnv {
	t.Helper()
	clock := clocktest.New(clBase.Add(time.Minute))
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	carts := cart.NewService(d, nil, nil, clock.Now)
	s := NewService(d, nil, carts, opts)
	t.Cleanup(s.Close)
	return &clEnv{d: d, s: s, carts: carts, clock: clock}
}

// clAddSale writes a sale as Create would leave it and returns its id.
func clAddSale(t testing.TB, d *db.DB, sale clSale) int64 {
	t.Helper()
	ctx := context.Background()
	if sale.SKU == "" {
		sale.SKU = "FS-1"
	}
	if sale.Limit == 0 {
		sale.Limit = 1
	}
	if sale.Price == 0 {
		sale.Price = 9900
	}
	if sale.Starts.IsZero() {
		sale.Starts = clBase
	}
	if sale.Ends.IsZero() {
		sale.Ends = sale.Starts.Add(time.Hour)
	}
	now := db.Now()
	var id int64
	err := d.Tx(ctx, func(tx db.Querier) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM variants WHERE sku = $1", sale.SKU).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			var pid int64
			if err := tx.QueryRowContext(ctx, `INSERT INTO products (slug, name, category, created_at, updated_at)
				VALUES ($1, $1, 'accessories', $2, $2) RETURNING id`, "p-"+sale.SKU, now).Scan(&pid); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO variants (product_id, sku, name) VALUES ($1, $2, $2)", pid, sale.SKU); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO stock (sku, warehouse, on_hand, reserved) VALUES ($1, 'us-east', 1000000, 0)", sale.SKU); err != nil {
				return err
			}
		}
		var reg any
		if sale.Registration {
			reg = db.Time(sale.Starts.Add(-time.Minute))
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO flash_sales (market, sku, warehouse, title, price, currency, quantity,
				per_customer_limit, starts_at, ends_at, registration_closes_at, paused, created_at, updated_at)
			VALUES ('us', $1, 'us-east', 'test', $2, 'USD', $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id`,
			sale.SKU, sale.Price, sale.Quantity, sale.Limit, db.Time(sale.Starts), db.Time(sale.Ends), reg, sale.Paused, now).Scan(&id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE stock SET reserved = reserved + $1
			WHERE sku = $2 AND warehouse = 'us-east' AND on_hand - reserved >= $1`, sale.Quantity, sale.SKU)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errors.New("no stock for the pool")
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO reservations (owner, sku, warehouse, quantity, state, expires_at, created_at, updated_at)
			VALUES ($1, $2, 'us-east', $3, 'live', $4, $5, $5)`, PoolOwner(id), sale.SKU, sale.Quantity,
			db.Time(sale.Ends.Add(ClaimTTL+poolGrace)), now)
		return err
	})
	if err != nil {
		t.Fatalf("add sale: %v", err)
	}
	return id
}

// clExec runs a statement for a test, failing it on error.
func clExec(t testing.TB, d *db.DB, query string, args ...any) {
	t.Helper()
	if _, err := d.Exec(context.Background(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// clInt reads one number.
func clInt(t testing.TB, d *db.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := d.Read.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// clClaimRetrying claims like the storefront does: a shed claim is tried
// again after its Retry-After.
func clClaimRetrying(ctx context.Context, s *Service, id, customer int64, qty int) (*Claim, error) {
	for {
		c, err := s.Claim(ctx, id, customer, qty)
		var busy *BusyError
		if !errors.As(err, &busy) {
			return c, err
		}
		if busy.RetryAfter < minRetry || busy.RetryAfter > maxRetry {
			return nil, fmt.Errorf("retry after %v, outside [%v, %v]", busy.RetryAfter, minRetry, maxRetry)
		}
		select {
		case <-time.After(busy.RetryAfter):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// clOutcomes counts outcomes by error (nil for claimed).
type clOutcomes struct {
	mu     sync.Mutex
	by     map[error]int
	claims []*Claim
	other  []error
}

func (o *clOutcomes) add(c *Claim, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.by == nil {
		o.by = map[error]int{}
	}
	for _, known := range []error{ErrSoldOut, ErrLimitReached, ErrNotRegistered, ErrNotStarted, ErrEnded, ErrPaused} {
		if errors.Is(err, known) {
			o.by[known]++
			return
		}
	}
	if err != nil {
		o.other = append(o.other, err)
		return
	}
	o.by[nil]++
	o.claims = append(o.claims, c)
}

// clCheckConsistent checks that sale id's counters agree with its claim,
// holder and cart rows and stay within the quantity and the limit.
func clCheckConsistent(t testing.TB, d *db.DB, id int64) {
	t.Helper()
	claimed := clInt(t, d, "SELECT claimed FROM flash_sales WHERE id = $1", id)
	quantity := clInt(t, d, "SELECT quantity FROM flash_sales WHERE id = $1", id)
	limit := clInt(t, d, "SELECT per_customer_limit FROM flash_sales WHERE id = $1", id)
	if claimed < 0 || claimed > quantity {
		t.Errorf("claimed %d outside 0..%d", claimed, quantity)
	}
	rows := clInt(t, d, "SELECT COALESCE(SUM(quantity), 0) FROM flash_sale_claims WHERE sale_id = $1 AND state <> 'released'", id)
	held := clInt(t, d, "SELECT COALESCE(SUM(units), 0) FROM flash_sale_holders WHERE sale_id = $1", id)
	over := clInt(t, d, "SELECT count(*) FROM flash_sale_holders WHERE sale_id = $1 AND units > $2", id, limit)
	lines := clInt(t, d, `SELECT COALESCE(SUM(l.quantity), 0) FROM flash_sale_claims c JOIN cart_lines l ON l.cart_id = c.cart_id
		JOIN carts k ON k.id = c.cart_id WHERE c.sale_id = $1 AND c.state <> 'released' AND k.customer_id IS NULL
		AND l.seen_price = (SELECT price FROM flash_sales WHERE id = $1)`, id)
	perCustomer := clInt(t, d, `SELECT count(*) FROM (SELECT c.customer_id FROM flash_sale_claims c
		JOIN flash_sale_holders h ON h.sale_id = c.sale_id AND h.customer_id = c.customer_id
		WHERE c.sale_id = $1 AND c.state <> 'released' GROUP BY c.customer_id, h.units HAVING SUM(c.quantity) <> h.units) x`, id)
	if rows != claimed || held != claimed || lines != claimed || over != 0 || perCustomer != 0 {
		t.Errorf("claimed %d, claim rows %d, holders %d, cart lines %d, holders over the limit %d, holders off their claims %d",
			claimed, rows, held, lines, over, perCustomer)
	}
}
