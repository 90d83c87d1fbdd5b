package flashsale

import (
	"context"
	"errors"
	"os"
	"strconv"
	"sync/atomic"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// benchClients is how many claims are made at once per GOMAXPROCS: a
// crowd, so that batches fill as they do under real load.
const benchClients = 256

// BenchmarkClaim measures claims granted per second: every claim is
// decided by a batch and committed durably. Each op is one claim.
//
//	go test -run '^$' -bench 'BenchmarkClaim' -benchtime 20000x ./internal/flashsale/
//
// PostgreSQL runs too when MISTORE_TEST_POSTGRES is set.
func BenchmarkClaim(b *testing.B) {
	for _, dialect := range benchDialects() {
		b.Run(string(dialect), func(b *testing.B) {
			d := dbtest.Open(b, dialect)
			env := newClEnv(b, d, Options{MaxBatch: benchBatch()})
			id := clAddSale(b, d, clSale{Quantity: b.N})
			benchClaims(b, env, id, nil)
			if n := clInt(b, d, "SELECT claimed FROM flash_sales WHERE id = $1", id); n != b.N {
				b.Fatalf("claimed %d of %d", n, b.N)
			}
		})
	}
}

// BenchmarkClaimSoldOut measures the answers a sold-out sale gives from
// memory.
func BenchmarkClaimSoldOut(b *testing.B) {
	for _, dialect := range benchDialects() {
		b.Run(string(dialect), func(b *testing.B) {
			d := dbtest.Open(b, dialect)
			env := newClEnv(b, d, Options{})
			id := clAddSale(b, d, clSale{Quantity: 1})
			if _, err := env.s.Claim(context.Background(), id, 1, 1); err != nil {
				b.Fatal(err)
			}
			benchClaims(b, env, id, ErrSoldOut)
		})
	}
}

func benchDialects() []db.Dialect {
	if os.Getenv("MISTORE_TEST_POSTGRES") != "" {
		return []db.Dialect{db.SQLite, db.Postgres}
	}
	return []db.Dialect{db.SQLite}
}

// benchClaims makes b.N claims by distinct customers from many goroutines
// and reports claims per second; each answer must be want (nil: claimed),
// a shed claim being tried again.
func benchClaims(b *testing.B, env *clEnv, id int64, want error) {
	ctx := context.Background()
	var customer atomic.Int64
	customer.Store(1000)
	b.SetParallelism(benchClients)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, err := clClaimRetrying(ctx, env.s, id, customer.Add(1), 1)
			if err != want && !errors.Is(err, want) || (want == nil && err != nil) {
				b.Errorf("claim: %v", err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "claims/s")
	if n := env.s.engine.batches.Load(); n > 0 {
		b.ReportMetric(float64(env.s.engine.batched.Load())/float64(n), "claims/batch")
	}
}

// benchBatch is MISTORE_BENCH_BATCH, to compare batch bounds; 0 (the
// default bound) when unset.
func benchBatch() int {
	n, _ := strconv.Atoi(os.Getenv("MISTORE_BENCH_BATCH"))
	return n
}
