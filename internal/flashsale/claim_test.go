package flashsale

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/input"
)

// TestClaimCrowd: ten thousand customers at once for a hundred units get
// exactly a hundred, and the counters agree with the rows.
func TestClaimCrowd(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		env := newClEnv(t, d, Options{})
		id := clAddSale(t, d, clSale{Quantity: 100})
		const crowd = 10000
		ctx := context.Background()
		var out clOutcomes
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range crowd {
			wg.Go(func() {
				<-start
				out.add(clClaimRetrying(ctx, env.s, id, int64(i+1), 1))
			})
		}
		close(start)
		wg.Wait()
		if len(out.other) > 0 {
			t.Fatalf("%d unexpected answers, first: %v", len(out.other), out.other[0])
		}
		if out.by[nil] != 100 || out.by[ErrSoldOut] != crowd-100 {
			t.Errorf("outcomes %v, want 100 claimed and %d sold out", out.by, crowd-100)
		}
		if n := clInt(t, d, "SELECT claimed FROM flash_sales WHERE id = $1", id); n != 100 {
			t.Errorf("claimed %d, want 100", n)
		}
		clCheckConsistent(t, d, id)
		// Every claimed answer opens its cart, priced at the sale price.
		seen := map[string]bool{}
		for _, c := range out.claims {
			if c.CartToken == "" || seen[c.CartID] || c.State != "live" || c.Quantity != 1 ||
				c.UnitPrice.Amount != 9900 || c.UnitPrice.Currency != "USD" || !c.ExpiresAt.Equal(c.CreatedAt.Add(ClaimTTL)) {
				t.Fatalf("claim %+v", c)
			}
			seen[c.CartID] = true
			if _, err := env.carts.Verify(ctx, c.CartID, c.CartToken); err != nil {
				t.Fatalf("cart of claim %d: %v", c.ID, err)
			}
		}
	})
}

// TestClaimOneCustomerLimit: one customer firing fifty claims at once
// against a limit of two gets two units.
func TestClaimOneCustomerLimit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		env := newClEnv(t, d, Options{})
		id := clAddSale(t, d, clSale{Quantity: 100, Limit: 2})
		var out clOutcomes
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() { out.add(clClaimRetrying(context.Background(), env.s, id, 7, 1)) })
		}
		wg.Wait()
		if len(out.other) > 0 || out.by[nil] != 2 || out.by[ErrLimitReached] != 48 {
			t.Errorf("outcomes %v, other %v; want 2 claimed, 48 limit reached", out.by, out.other)
		}
		if n := clInt(t, d, "SELECT units FROM flash_sale_holders WHERE sale_id = $1 AND customer_id = 7", id); n != 2 {
			t.Errorf("customer holds %d units", n)
		}
		// Two units at once after that: still over the limit.
		if _, err := env.s.Claim(context.Background(), id, 7, 2); !errors.Is(err, ErrLimitReached) {
			t.Errorf("third and fourth unit: %v", err)
		}
		if c, err := env.s.Claim(context.Background(), id, 8, 2); err != nil || c.Quantity != 2 {
			t.Errorf("two units for another customer: %+v, %v", c, err)
		}
		clCheckConsistent(t, d, id)
	})
}

// TestClaimWindow: a claim a millisecond before the start or at the end
// is refused; at the start and a millisecond before the end it is not.
func TestClaimWindow(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		env := newClEnv(t, d, Options{})
		ends := clBase.Add(time.Hour)
		id := clAddSale(t, d, clSale{Quantity: 10, Starts: clBase, Ends: ends})
		ctx := context.Background()
		cases := []struct {
			at   time.Time
			want error
		}{
			{clBase.Add(-time.Millisecond), ErrNotStarted},
			{clBase, nil},
			{ends.Add(-time.Millisecond), nil},
			{ends, ErrEnded},
			{ends.Add(time.Millisecond), ErrEnded},
		}
		for i, c := range cases {
			env.clock.Set(c.at)
			_, err := env.s.Claim(ctx, id, int64(100+i), 1)
			if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
				t.Errorf("claim at %v: %v, want %v", c.at.Sub(clBase), err, c.want)
			}
		}
		// Ended early by staff, in another process: no snapshot in this
		// one knows, and the batch refuses against the locked row.
		env.clock.Set(clBase.Add(30 * time.Minute))
		clExec(t, d, "UPDATE flash_sales SET ended_at = $1 WHERE id = $2", db.Time(clBase.Add(20*time.Minute)), id)
		if _, err := env.s.Claim(ctx, id, 200, 1); !errors.Is(err, ErrEnded) {
			t.Errorf("claim after an early end: %v", err)
		}
		if n := clInt(t, d, "SELECT claimed FROM flash_sales WHERE id = $1", id); n != 2 {
			t.Errorf("claimed %d, want 2", n)
		}
		clCheckConsistent(t, d, id)
	})
}

// TestClaimQuantity: quantities no claim can have are a field error on
// "quantity", and more than one customer may hold of the sale is
// ErrLimitReached (a purchase limit, 429 in the API), decided before
// anything else is.
func TestClaimQuantity(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		env := newClEnv(t, d, Options{})
		id := clAddSale(t, d, clSale{Quantity: 10, Limit: 3})
		big := clAddSale(t, d, clSale{SKU: "FS-2", Quantity: 5000, Limit: 5000})
		for _, c := range []struct {
			sale int64
			qty  int
		}{{id, 0}, {id, -1}, {big, 1001}} {
			_, err := env.s.Claim(context.Background(), c.sale, 1, c.qty)
			var fe *input.FieldError
			if !errors.As(err, &fe) || fe.InvalidField() != "quantity" {
				t.Errorf("quantity %d: %v", c.qty, err)
			}
		}
		for _, qty := range []int{4, 1 << 40} {
			_, err := env.s.Claim(context.Background(), id, 1, qty)
			var ole *OverLimitError
			if !errors.Is(err, ErrLimitReached) || !errors.As(err, &ole) || ole.Limit != 3 {
				t.Errorf("quantity %d over the limit of 3: %v", qty, err)
			}
		}
		if c, err := env.s.Claim(context.Background(), id, 1, 3); err != nil || c.Quantity != 3 {
			t.Errorf("the limit itself: %+v, %v", c, err)
		}
		if _, err := env.s.Claim(context.Background(), 999999, 1, 1); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown sale: %v", err)
		}
		if n := len(env.s.engine.sales); n != 2 {
			t.Errorf("%d sales remembered, want the 2 that exist", n)
		}
		clCheckConsistent(t, d, id)
	})
}

// TestClaimRegistration: a registration-only sale lets registered
// customers claim and refuses the others.
func TestClaimRegistration(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		env := newClEnv(t, d, Options{})
		id := clAddSale(t, d, clSale{Quantity: 10, Registration: true})
		clExec(t, d, "INSERT INTO flash_sale_registrations (sale_id, customer_id, created_at) VALUES ($1, 1, $2)", id, db.Now())
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Go(func() { _, errs[i] = clClaimRetrying(context.Background(), env.s, id, int64(i+1), 1) })
		}
		wg.Wait()
		if errs[0] != nil || !errors.Is(errs[1], ErrNotRegistered) {
			t.Errorf("registered: %v; not registered: %v", errs[0], errs[1])
		}
		clCheckConsistent(t, d, id)
	})
}

// TestClaimPaused: a paused sale refuses claims, from memory once this
// process knows and against the locked row when another process paused
// it.
func TestClaimPaused(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		env := newClEnv(t, d, Options{})
		ctx := context.Background()
		paused := clAddSale(t, d, clSale{Quantity: 10, Paused: true})
		if _, err := env.s.Claim(ctx, paused, 1, 1); !errors.Is(err, ErrPaused) {
			t.Errorf("paused sale: %v", err)
		}
		id := clAddSale(t, d, clSale{SKU: "FS-2", Quantity: 10})
		if _, err := env.s.Claim(ctx, id, 1, 1); err != nil {
			t.Fatal(err)
		}
		clExec(t, d, "UPDATE flash_sales SET paused = TRUE WHERE id = $1", id)
		if _, err := env.s.Claim(ctx, id, 2, 1); !errors.Is(err, ErrPaused) {
			t.Errorf("paused elsewhere: %v", err)
		}
		// Resumed here: invalidate makes the next claim read it again.
		clExec(t, d, "UPDATE flash_sales SET paused = FALSE WHERE id = $1", id)
		env.s.engine.invalidate(id)
		if _, err := env.s.Claim(ctx, id, 2, 1); err != nil {
			t.Errorf("resumed: %v", err)
		}
		clCheckConsistent(t, d, id)
	})
}

// TestClaimTwoServices: two processes on one database never oversell.
func TestClaimTwoServices(t *testing.T) {
	for _, dialect := range []db.Dialect{db.SQLite, db.Postgres} {
		t.Run(string(dialect), func(t *testing.T) {
			dsn := dbtest.DSN(t, dialect)
			ctx := context.Background()
			var envs []*clEnv
			var d0 *db.DB
			for i := range 2 {
				d, err := db.Open(ctx, dsn, db.Options{MaxReaders: 4})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { d.Close() })
				if i == 0 {
					if _, err := d.Migrate(ctx); err != nil {
						t.Fatal(err)
					}
					d0 = d
				}
				envs = append(envs, newClEnv(t, d, Options{MaxBatch: 16}))
			}
			id := clAddSale(t, d0, clSale{Quantity: 50, Limit: 2})
			var out clOutcomes
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range 1000 {
				wg.Go(func() {
					<-start
					// Customers claim through both processes.
					out.add(clClaimRetrying(ctx, envs[i%2].s, id, int64(i%400+1), 1))
				})
			}
			close(start)
			wg.Wait()
			if len(out.other) > 0 {
				t.Fatalf("%d unexpected answers, first: %v", len(out.other), out.other[0])
			}
			if out.by[nil] != 50 {
				t.Errorf("outcomes %v, want 50 claimed", out.by)
			}
			clCheckConsistent(t, d0, id)
		})
	}
}

// TestClaimSoldOutSparesTheWriter: once sold out, claims are answered
// without a transaction; units that come back are seen again, at once
// after invalidate and by a periodic read otherwise.
func TestClaimSoldOutSparesTheWriter(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		env := newClEnv(t, d, Options{})
		ctx := context.Background()
		id := clAddSale(t, d, clSale{Quantity: 2})
		for i := range 2 {
			if _, err := env.s.Claim(ctx, id, int64(i+1), 1); err != nil {
				t.Fatal(err)
			}
		}
		before := d.WriterStats()
		var wg sync.WaitGroup
		for i := range 1000 {
			wg.Go(func() {
				if _, err := env.s.Claim(ctx, id, int64(100+i), 1); !errors.Is(err, ErrSoldOut) {
					t.Errorf("claim after sold out: %v", err)
				}
			})
		}
		wg.Wait()
		if after := d.WriterStats(); after.Transactions != before.Transactions || after.Commits != before.Commits {
			t.Errorf("writer went from %+v to %+v while sold out", before, after)
		}
		// A unit comes back (a claim expired), and this process is told.
		giveBack := func() {
			t.Helper()
			var claim, customer int64
			if err := d.Read.QueryRow(`SELECT id, customer_id FROM flash_sale_claims WHERE sale_id = $1 AND state = 'live'
				ORDER BY id LIMIT 1`, id).Scan(&claim, &customer); err != nil {
				t.Fatal(err)
			}
			err := d.Tx(ctx, func(tx db.Querier) error {
				for _, q := range []string{
					`UPDATE flash_sales SET claimed = claimed - 1, released = released + 1 WHERE id = $1 AND $2 > 0 AND $3 > 0`,
					`UPDATE flash_sale_claims SET state = 'released' WHERE sale_id = $1 AND id = $2 AND $3 > 0`,
					`UPDATE flash_sale_holders SET units = units - 1 WHERE sale_id = $1 AND customer_id = $3 AND $2 > 0`,
				} {
					if _, err := tx.ExecContext(ctx, q, id, claim, customer); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		giveBack()
		env.s.engine.invalidate(id)
		if _, err := env.s.Claim(ctx, id, 3, 1); err != nil {
			t.Errorf("claim after invalidate: %v", err)
		}
		if _, err := env.s.Claim(ctx, id, 4, 1); !errors.Is(err, ErrSoldOut) {
			t.Errorf("second claim of one unit back: %v", err)
		}
		// Another process swept it: seen by the periodic read.
		giveBack()
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, err := env.s.Claim(ctx, id, 5, 1)
			if err == nil {
				break
			}
			if !errors.Is(err, ErrSoldOut) || time.Now().After(deadline) {
				t.Fatalf("claim after a unit came back elsewhere: %v", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		clCheckConsistent(t, d, id)
	})
}

// TestClaimShedsOverload: beyond the bound on claims in flight a claim is
// answered at once with a BusyError, and a retry gets through.
func TestClaimShedsOverload(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		env := newClEnv(t, d, Options{MaxInFlight: 2, MaxBatch: 2})
		id := clAddSale(t, d, clSale{Quantity: 1000})
		var mu sync.Mutex
		busy := 0
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 200 {
			wg.Go(func() {
				<-start
				_, err := env.s.Claim(context.Background(), id, int64(i+1), 1)
				var be *BusyError
				switch {
				case errors.As(err, &be):
					if be.RetryAfter < minRetry || be.RetryAfter > maxRetry || !errors.Is(err, ErrBusy) {
						t.Errorf("busy: %v", err)
					}
					mu.Lock()
					busy++
					mu.Unlock()
				case err != nil:
					t.Errorf("claim: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		// With the bound reached, the next claim is shed whatever the
		// timing of the crowd above was.
		env.s.engine.inFlight.Add(2)
		_, err := env.s.Claim(context.Background(), id, 999, 1)
		env.s.engine.inFlight.Add(-2)
		if be := (*BusyError)(nil); !errors.As(err, &be) {
			t.Errorf("claim beyond the bound: %v", err)
		} else {
			busy++
		}
		if n := clInt(t, d, "SELECT claimed FROM flash_sales WHERE id = $1", id); n != 201-busy {
			t.Errorf("claimed %d, want %d", n, 201-busy)
		}
		if n := env.s.engine.inFlight.Load(); n != 0 {
			t.Errorf("%d claims still in flight", n)
		}
		clCheckConsistent(t, d, id)
	})
}

// TestClaimCancelled: a claim whose caller gave up is answered with the
// context's error and decides nothing.
func TestClaimCancelled(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		env := newClEnv(t, d, Options{})
		id := clAddSale(t, d, clSale{Quantity: 10})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := env.s.Claim(ctx, id, 1, 1); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled claim: %v", err)
		}
		// Cancelled while queued behind others: either decided in full or
		// not at all.
		var wg sync.WaitGroup
		var mu sync.Mutex
		granted := 0
		for i := range 200 {
			ctx, cancel := context.WithCancel(context.Background())
			wg.Go(func() {
				defer cancel()
				_, err := env.s.Claim(ctx, id, int64(i+10), 1)
				if err == nil {
					mu.Lock()
					granted++
					mu.Unlock()
				} else if !errors.Is(err, context.Canceled) && !errors.Is(err, ErrSoldOut) {
					t.Errorf("claim: %v", err)
				}
			})
			if i%2 == 0 {
				cancel()
			}
		}
		wg.Wait()
		if n := clInt(t, d, "SELECT claimed FROM flash_sales WHERE id = $1", id); n != granted {
			t.Errorf("claimed %d, %d answered claimed", n, granted)
		}
		clCheckConsistent(t, d, id)
	})
}

// TestClaimAfterClose: a closed Service takes no more claims.
func TestClaimAfterClose(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	env := newClEnv(t, d, Options{})
	id := clAddSale(t, d, clSale{Quantity: 10})
	env.s.Close()
	if _, err := env.s.Claim(context.Background(), id, 1, 1); !errors.Is(err, errClosed) {
		t.Errorf("claim after close: %v", err)
	}
}

// TestClaimBatchFailsWhole: when a batch's transaction fails, every claim
// in it gets the error and nothing of it stays; the next batch starts
// from the database as it is.
func TestClaimBatchFailsWhole(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		env := newClEnv(t, d, Options{})
		id := clAddSale(t, d, clSale{Quantity: 10})
		clExec(t, d, "ALTER TABLE flash_sale_claims RENAME TO flash_sale_claims_gone")
		var out clOutcomes
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() { out.add(env.s.Claim(context.Background(), id, int64(i+1), 1)) })
		}
		wg.Wait()
		if len(out.other) != 20 {
			t.Errorf("outcomes %v, %d errors; want 20 errors", out.by, len(out.other))
		}
		if n := clInt(t, d, "SELECT claimed FROM flash_sales WHERE id = $1", id); n != 0 {
			t.Errorf("claimed %d after failed batches", n)
		}
		if n := clInt(t, d, "SELECT count(*) FROM flash_sale_holders") + clInt(t, d, "SELECT count(*) FROM carts"); n != 0 {
			t.Errorf("%d holder and cart rows after failed batches", n)
		}
		clExec(t, d, "ALTER TABLE flash_sale_claims_gone RENAME TO flash_sale_claims")
		if _, err := env.s.Claim(context.Background(), id, 1, 1); err != nil {
			t.Errorf("claim once the table is back: %v", err)
		}
		clCheckConsistent(t, d, id)
	})
}
