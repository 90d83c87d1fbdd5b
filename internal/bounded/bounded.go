// Package bounded holds collections that never grow past a size: caches
// whose keys can be made up by visitors (search words, page parameters)
// must not let them fill memory.
package bounded

import "sync"

// Map is a map safe for concurrent use that holds at most Max entries.
// When full, a Put drops an arbitrary eighth of the entries first: cheaper
// than tracking use, and good enough for caches whose keys name their
// inputs and so are never wrong, only sometimes cold.
type Map[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]V
	// Max is the most entries kept; 0 keeps nothing.
	Max int
}

// New returns an empty Map holding at most max entries.
func New[K comparable, V any](max int) *Map[K, V] {
	return &Map[K, V]{m: make(map[K]V), Max: max}
}

// Get returns the value stored under k.
func (b *Map[K, V]) Get(k K) (V, bool) {
	b.mu.RLock()
	v, ok := b.m[k]
	b.mu.RUnlock()
	return v, ok
}

// Put stores v under k, making room first when the map is full.
func (b *Map[K, V]) Put(k K, v V) {
	if b.Max <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = make(map[K]V)
	}
	if _, ok := b.m[k]; !ok && len(b.m) >= b.Max {
		// Map iteration order is random: this drops an arbitrary eighth.
		n := max(b.Max/8, 1)
		for old := range b.m {
			delete(b.m, old)
			if n--; n == 0 {
				break
			}
		}
	}
	b.m[k] = v
}

// Len returns the number of entries.
func (b *Map[K, V]) Len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.m)
}
