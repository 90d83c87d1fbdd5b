package web

import (
	"strconv"
	"testing"

	"mistore/internal/catalog"
)

// TestMediaCacheBound: the cache never holds more bytes than its budget,
// drops the least recently used first, and keeps nothing too large.
func TestMediaCacheBound(t *testing.T) {
	c := newMediaCache(1000)
	r := func(n int) catalog.Rendition { return catalog.Rendition{Data: make([]byte, n)} }
	for i := range 4 {
		c.put("k"+strconv.Itoa(i), r(250))
	}
	if _, ok := c.get("k0"); !ok { // k0 is now the most recent
		t.Fatal("k0 dropped within the budget")
	}
	c.put("k4", r(250)) // over budget: k1, the least recent, goes
	if _, ok := c.get("k1"); ok {
		t.Error("the least recently used entry was kept")
	}
	for _, k := range []string{"k0", "k2", "k3", "k4"} {
		if _, ok := c.get(k); !ok {
			t.Errorf("%s dropped", k)
		}
	}
	if c.size != 1000 {
		t.Errorf("size %d, want 1000", c.size)
	}
	c.put("big", r(251))
	if _, ok := c.get("big"); ok || c.size != 1000 {
		t.Errorf("a rendition over a quarter of the budget was kept (size %d)", c.size)
	}
}
