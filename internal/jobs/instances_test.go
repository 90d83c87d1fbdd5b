package jobs_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/jobs"
)

// TestRunOnceAcrossInstances: two runners, each on its own connection to
// one database as two instances of the store would be, share a queue of
// jobs; every job is handled exactly once.
func TestRunOnceAcrossInstances(t *testing.T) {
	const n = 200
	for _, dialect := range []db.Dialect{db.SQLite, db.Postgres} {
		t.Run(string(dialect), func(t *testing.T) {
			ctx := context.Background()
			dsn := dbtest.DSN(t, dialect)
			var (
				mu      sync.Mutex
				handled = map[int]int{}
				by      = map[int]int{}
				all     = make(chan struct{})
			)
			var runners []*jobs.Runner
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
					for k := range n {
						enqueue(t, d, "work", map[string]int{"k": k}, jobs.Options{})
					}
				}
				r := jobs.NewRunner(d, nil)
				r.Poll = 20 * time.Millisecond
				r.Handle("work", func(ctx context.Context, j jobs.Job) error {
					var p struct{ K int }
					if err := json.Unmarshal(j.Payload, &p); err != nil {
						return jobs.Permanent(err)
					}
					mu.Lock()
					defer mu.Unlock()
					handled[p.K]++
					by[i]++
					if len(handled) == n {
						select {
						case <-all:
						default:
							close(all)
						}
					}
					return nil
				})
				runners = append(runners, r)
			}
			runCtx, cancel := context.WithCancel(ctx)
			var wg sync.WaitGroup
			for _, r := range runners {
				wg.Go(func() { r.Run(runCtx) })
			}
			select {
			case <-all:
			case <-time.After(60 * time.Second):
				t.Error("not every job ran within a minute")
			}
			cancel()
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			for k := range n {
				if handled[k] != 1 {
					t.Errorf("job %d handled %d times, want once", k, handled[k])
				}
			}
			t.Logf("runner 0 handled %d, runner 1 handled %d", by[0], by[1])
		})
	}
}
