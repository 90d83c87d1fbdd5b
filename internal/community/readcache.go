package community

import (
	"context"
	"sync"
	"time"

	"mistore/internal/db"
)

// readTTL is how long a thread's state or a product's rating read from
// the database is reused. Every storefront view of a product, a list or
// the home page asks for them (they are part of the cached pages' keys),
// so without it each view costs a database read. A change made through
// this process is seen at once (write bumps the generation); one made
// through another instance within readTTL.
const readTTL = time.Second

// readCache holds recent thread states and rating summaries by product.
type readCache struct {
	mu        sync.Mutex
	threads   map[int64]cachedRead[ThreadState]
	summaries map[int64]cachedRead[Summary]
}

// cachedRead is a value read at a time, under a generation of writes.
type cachedRead[T any] struct {
	v   T
	gen uint64
	at  time.Time
}

// fresh reports whether c may still be used at now under generation gen.
func (c cachedRead[T]) fresh(gen uint64, now time.Time) bool {
	return c.gen == gen && now.Sub(c.at) < readTTL
}

// write runs fn in a write transaction and, whatever came of it, makes
// every cached read stale: the next one goes to the database.
func (s *Service) write(ctx context.Context, fn func(db.Querier) error) error {
	defer s.gen.Add(1)
	return s.db.Tx(ctx, fn)
}

// cachedThread returns the cached state of product's thread, if fresh.
func (s *Service) cachedThread(product int64, gen uint64, now time.Time) (ThreadState, bool) {
	s.reads.mu.Lock()
	defer s.reads.mu.Unlock()
	c, ok := s.reads.threads[product]
	return c.v, ok && c.fresh(gen, now)
}

// keepThread caches st, read under generation gen at now.
func (s *Service) keepThread(product int64, st ThreadState, gen uint64, now time.Time) {
	s.reads.mu.Lock()
	defer s.reads.mu.Unlock()
	if s.reads.threads == nil {
		s.reads.threads = map[int64]cachedRead[ThreadState]{}
	}
	s.reads.threads[product] = cachedRead[ThreadState]{v: st, gen: gen, at: now}
}

// cachedSummaries splits products into the summaries cached fresh and
// the products still to read.
func (s *Service) cachedSummaries(products []int64, gen uint64, now time.Time) (map[int64]Summary, []int64) {
	out := make(map[int64]Summary, len(products))
	var missing []int64
	s.reads.mu.Lock()
	defer s.reads.mu.Unlock()
	for _, id := range products {
		if c, ok := s.reads.summaries[id]; ok && c.fresh(gen, now) {
			out[id] = c.v
		} else {
			missing = append(missing, id)
		}
	}
	return out, missing
}

// keepSummaries caches the summaries of products read under generation
// gen at now; a product with no reviews is cached as the zero summary.
func (s *Service) keepSummaries(products []int64, got map[int64]Summary, gen uint64, now time.Time) {
	s.reads.mu.Lock()
	defer s.reads.mu.Unlock()
	if s.reads.summaries == nil {
		s.reads.summaries = map[int64]cachedRead[Summary]{}
	}
	for _, id := range products {
		s.reads.summaries[id] = cachedRead[Summary]{v: got[id], gen: gen, at: now}
	}
}
