package bounded

import (
	"sync"
	"testing"
)

func TestMapStaysBounded(t *testing.T) {
	m := New[int, int](64)
	for i := range 10_000 {
		m.Put(i, i*i)
		if m.Len() > 64 {
			t.Fatalf("%d entries after %d puts, max 64", m.Len(), i+1)
		}
	}
	m.Put(-1, 7)
	if v, ok := m.Get(-1); !ok || v != 7 {
		t.Errorf("the newest entry is missing: %v %v", v, ok)
	}
	// Replacing a key never evicts.
	n := m.Len()
	m.Put(-1, 8)
	if m.Len() != n {
		t.Errorf("replacing a key changed the size from %d to %d", n, m.Len())
	}
	var zero Map[string, int]
	zero.Put("a", 1)
	if _, ok := zero.Get("a"); ok {
		t.Error("a Map with Max 0 kept an entry")
	}
}

func TestMapConcurrent(t *testing.T) {
	m := New[int, int](100)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				m.Put(g*10000+i, i)
				m.Get(i)
			}
		}()
	}
	wg.Wait()
	if m.Len() > 100 {
		t.Errorf("%d entries, max 100", m.Len())
	}
}
