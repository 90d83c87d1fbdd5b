package inventory

import (
	"context"
	"sync"
	"time"
)

// DisplayCache answers "how many can this market sell" for pages and the
// catalog API from a per-market copy that is at most maxAge old. Shop
// windows tolerate a second of staleness; carts and checkout never read
// through it, they ask the database, so nothing is sold on a stale number.
type DisplayCache struct {
	svc    *Service
	maxAge time.Duration

	mu      sync.Mutex
	markets map[string]*marketStock
}

type marketStock struct {
	mu       sync.Mutex // held while one caller reloads
	loadedAt time.Time
	levels   map[string]int // read-only once published
}

// NewDisplayCache returns a cache over svc whose entries live for maxAge.
func NewDisplayCache(svc *Service, maxAge time.Duration) *DisplayCache {
	return &DisplayCache{svc: svc, maxAge: maxAge, markets: map[string]*marketStock{}}
}

// MaxAge is how old the levels it answers with may be.
func (c *DisplayCache) MaxAge() time.Duration { return c.maxAge }

// Available returns the sellable units of skus in market, as of at most
// maxAge ago.
func (c *DisplayCache) Available(ctx context.Context, market string, skus []string) (map[string]int, error) {
	if c.maxAge <= 0 {
		return c.svc.Available(ctx, market, skus)
	}
	c.mu.Lock()
	ms := c.markets[market]
	if ms == nil {
		ms = &marketStock{}
		c.markets[market] = ms
	}
	c.mu.Unlock()

	ms.mu.Lock()
	if ms.levels == nil || time.Since(ms.loadedAt) > c.maxAge {
		levels, err := c.svc.marketLevels(ctx, market)
		if err != nil {
			ms.mu.Unlock()
			return nil, err
		}
		ms.levels, ms.loadedAt = levels, time.Now()
	}
	levels := ms.levels
	ms.mu.Unlock()

	out := make(map[string]int, len(skus))
	for _, sku := range skus {
		if n, ok := levels[sku]; ok {
			out[sku] = n
		}
	}
	return out, nil
}

// Invalidate drops the cached levels, after a stock change this process
// made, so its own pages show it at once.
func (c *DisplayCache) Invalidate() {
	c.mu.Lock()
	c.markets = map[string]*marketStock{}
	c.mu.Unlock()
}

// marketLevels returns the sellable units of every SKU stocked in market.
func (s *Service) marketLevels(ctx context.Context, market string) (map[string]int, error) {
	return s.sellable(ctx, market, "", market)
}
