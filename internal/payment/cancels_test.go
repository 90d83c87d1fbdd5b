package payment

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/jobs"
)

// TestCancelsConcurrent: when every concurrent add has returned, every
// key added is cancelled, however the adds met.
func TestCancelsConcurrent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		const n = 200
		for i := range n {
			if err := d.Tx(ctx, func(tx db.Querier) error {
				return jobs.Enqueue(ctx, tx, webhookJob, nil, jobs.Options{UniqueKey: webhookKey(fmt.Sprint(i)), RunAt: time.Now().Add(time.Hour)})
			}); err != nil {
				t.Fatal(err)
			}
		}
		var c cancels
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { c.add(ctx, d, webhookKey(fmt.Sprint(i))) })
		}
		wg.Wait()
		var left int
		if err := d.Read.QueryRow("SELECT count(*) FROM jobs").Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left != 0 || len(c.pending) != 0 || c.running {
			t.Errorf("%d jobs left, %d keys pending, running %v; want none", left, len(c.pending), c.running)
		}
	})
}
