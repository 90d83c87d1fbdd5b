package web

import (
	"container/list"
	"sync"

	"mistore/internal/catalog"
)

// mediaCacheBytes bounds the photo renditions kept in memory: the covers
// and thumbnails of the products a crowd is looking at (an 800-pixel
// JPEG is about 100-150 KB, so 8 MB holds the cover of every product of
// a brand's catalog), within issue 2's memory budget of 100 MB.
const mediaCacheBytes = 8 << 20

// mediaCache keeps recently served renditions in memory, least recently
// used out first, so that a crowd opening the same product page costs the
// database one read of each picture instead of one a visitor. A
// rendition's bytes never change under its key (a new picture is a new
// file), so nothing is ever stale; a deleted photo's renditions simply
// age out.
type mediaCache struct {
	mu    sync.Mutex
	max   int
	size  int
	order *list.List // of *mediaEntry, most recent first
	byKey map[string]*list.Element
}

type mediaEntry struct {
	key string
	r   catalog.Rendition
}

func newMediaCache(maxBytes int) *mediaCache {
	return &mediaCache{max: maxBytes, order: list.New(), byKey: map[string]*list.Element{}}
}

func (c *mediaCache) get(key string) (catalog.Rendition, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[key]
	if !ok {
		return catalog.Rendition{}, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*mediaEntry).r, true
}

// put keeps r under key, dropping the least recently used renditions
// beyond the budget; one larger than a quarter of it is not kept.
func (c *mediaCache) put(key string, r catalog.Rendition) {
	if len(r.Data) > c.max/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[key]; ok {
		return
	}
	c.byKey[key] = c.order.PushFront(&mediaEntry{key: key, r: r})
	c.size += len(r.Data)
	for c.size > c.max {
		last := c.order.Back()
		old := last.Value.(*mediaEntry)
		c.order.Remove(last)
		delete(c.byKey, old.key)
		c.size -= len(old.r.Data)
	}
}
