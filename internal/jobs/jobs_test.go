package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/jobs"
)

func enqueue(t *testing.T, d *db.DB, kind string, payload any, opts jobs.Options) {
	t.Helper()
	ctx := context.Background()
	if err := d.Tx(ctx, func(tx db.Querier) error { return jobs.Enqueue(ctx, tx, kind, payload, opts) }); err != nil {
		t.Fatal(err)
	}
}

func states(t *testing.T, d *db.DB) map[string]int {
	t.Helper()
	rows, err := d.Read.Query("SELECT state, count(*) FROM jobs GROUP BY state")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		rows.Scan(&s, &n)
		out[s] = n
	}
	return out
}

func TestRunRetryAndFail(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		r := jobs.NewRunner(d, nil)
		var got []string
		r.Handle("ok", func(ctx context.Context, j jobs.Job) error {
			got = append(got, string(j.Payload))
			return nil
		})
		r.Handle("flaky", func(ctx context.Context, j jobs.Job) error {
			return errors.New("not yet")
		})
		r.Handle("broken", func(ctx context.Context, j jobs.Job) error {
			return jobs.Permanent(errors.New("cannot ever work"))
		})
		r.Handle("panics", func(ctx context.Context, j jobs.Job) error { panic("boom") })
		enqueue(t, d, "ok", map[string]int{"n": 1}, jobs.Options{})
		enqueue(t, d, "flaky", nil, jobs.Options{MaxAttempts: 1})
		enqueue(t, d, "broken", nil, jobs.Options{})
		enqueue(t, d, "panics", nil, jobs.Options{})
		enqueue(t, d, "later", nil, jobs.Options{RunAt: time.Now().Add(time.Hour)})
		enqueue(t, d, "ok", "dup", jobs.Options{UniqueKey: "k1"})
		enqueue(t, d, "ok", "dup", jobs.Options{UniqueKey: "k1"})
		// A rolled-back transaction enqueues nothing.
		d.Tx(ctx, func(tx db.Querier) error {
			jobs.Enqueue(ctx, tx, "ok", "rolled back", jobs.Options{})
			return errors.New("roll back")
		})
		n, err := r.RunDue(ctx)
		if err != nil || n != 5 {
			t.Fatalf("RunDue = %d, %v; want 5", n, err)
		}
		if len(got) != 2 || got[0] != `{"n":1}` || got[1] != `"dup"` {
			t.Errorf("ok jobs saw %v", got)
		}
		st := states(t, d)
		// Done jobs leave no row; flaky used its one attempt, broken is
		// permanent; panics retries.
		if st["done"] != 0 || st["failed"] != 2 || st["pending"] != 2 || st["running"] != 0 {
			t.Errorf("states %v", st)
		}
	})
}

func TestExpiredLeaseIsReclaimed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		enqueue(t, d, "work", nil, jobs.Options{})
		dead := jobs.NewRunner(d, nil)
		dead.Lease = -time.Second // claims with a lease already over, as if its runner died
		dead.Handle("work", func(ctx context.Context, j jobs.Job) error { return nil })
		// Claim without finishing: take it with a handler that never records.
		var ran atomic.Int32
		live := jobs.NewRunner(d, nil)
		live.Handle("work", func(ctx context.Context, j jobs.Job) error {
			ran.Add(1)
			if j.Attempts != 2 {
				t.Errorf("attempt %d, want 2 (the dead runner had the first)", j.Attempts)
			}
			return nil
		})
		// Simulate the dead runner's claim directly.
		if _, err := d.Write.Exec(`UPDATE jobs SET state = 'running', attempts = 1, locked_until = $1`, db.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if n, err := live.RunDue(ctx); err != nil || n != 1 || ran.Load() != 1 {
			t.Fatalf("reclaim: %d, %v, ran %d", n, err, ran.Load())
		}
	})
}

// TestConcurrentRunnersRunEachJobOnce starts several runners on one queue:
// every job runs exactly once.
func TestConcurrentRunnersRunEachJobOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		const n = 60
		for i := range n {
			enqueue(t, d, "count", i, jobs.Options{})
		}
		var mu sync.Mutex
		seen := map[string]int{}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for range 3 {
			r := jobs.NewRunner(d, nil)
			r.Poll = 10 * time.Millisecond
			r.Handle("count", func(ctx context.Context, j jobs.Job) error {
				mu.Lock()
				seen[string(j.Payload)]++
				mu.Unlock()
				return nil
			})
			wg.Add(1)
			go func() { defer wg.Done(); r.Run(ctx) }()
		}
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) && len(states(t, d)) > 0 {
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		wg.Wait()
		if len(seen) != n {
			t.Fatalf("%d distinct jobs ran, want %d", len(seen), n)
		}
		for k, c := range seen {
			if c != 1 {
				t.Errorf("job %s ran %d times", k, c)
			}
		}
	})
}

// TestCancel: Cancel drops the pending jobs of every key given, more than
// one statement's worth included, and leaves other jobs alone.
func TestCancel(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		var keys []string
		for i := range 1203 {
			k := fmt.Sprintf("cancel:%d", i)
			enqueue(t, d, "later", nil, jobs.Options{UniqueKey: k, RunAt: time.Now().Add(time.Hour)})
			if i%2 == 0 {
				keys = append(keys, k)
			}
		}
		keys = append(keys, "cancel:none")
		if err := jobs.Cancel(ctx, d, keys...); err != nil {
			t.Fatal(err)
		}
		if err := jobs.Cancel(ctx, d); err != nil {
			t.Fatalf("Cancel of no keys: %v", err)
		}
		var left, odd int
		d.Read.QueryRow("SELECT count(*), count(CASE WHEN CAST(substr(unique_key, 8) AS INTEGER) % 2 = 1 THEN 1 END) FROM jobs").Scan(&left, &odd)
		if left != 601 || odd != 601 {
			t.Errorf("%d jobs left, %d of them odd; want the 601 odd ones", left, odd)
		}
	})
}
