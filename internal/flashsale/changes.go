package flashsale

import (
	"context"
	"strconv"
)

// Changed drops what the claim engine remembers of the sale whose id is
// key, or of every sale when key is empty: another instance changed it
// (changefeed.FlashSale), or this one may have missed such news. The next
// claim reads the sale again before anything is answered from memory.
func (s *Service) Changed(_ context.Context, key string) {
	if key != "" {
		if id, err := strconv.ParseInt(key, 10, 64); err == nil {
			s.engine.invalidate(id)
			return
		}
	}
	s.engine.invalidateAll()
}

// invalidateAll is invalidate for every sale the engine holds.
func (e *engine) invalidateAll() {
	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, l := range e.sales {
		l.gen.Add(1)
	}
}
