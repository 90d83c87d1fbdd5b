package flashsale

import (
	"errors"
	"sync"
	"testing"
	"time"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// Through the claim engine: a unit whose claim ran out is claimed again by
// exactly one of a crowd.
func TestExpiredUnitClaimedAgainOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		sl := f.create(t, f.band(1, 1))
		if _, err := f.s.Claim(f.ctx, sl.ID, 1, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.Claim(f.ctx, sl.ID, 2, 1); !errors.Is(err, ErrSoldOut) {
			t.Fatalf("second claim: %v", err)
		}
		f.clock.Add(ClaimTTL + time.Second)
		if n, err := f.s.Sweep(f.ctx, f.clock.Now(), 10); n != 1 || err != nil {
			t.Fatalf("sweep: %d, %v", n, err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, lost := 0, 0
		for c := range int64(20) {
			wg.Go(func() {
				_, err := f.s.Claim(f.ctx, sl.ID, 10+c, 1)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case errors.Is(err, ErrSoldOut):
					lost++
				default:
					t.Errorf("claim: %v", err)
				}
			})
		}
		wg.Wait()
		if won != 1 || lost != 19 {
			t.Errorf("%d claimed the unit that came back, %d sold out", won, lost)
		}
		f.counters(t, sl.ID, 1, 0, 1)
		checkStock(t, d)
	})
}
