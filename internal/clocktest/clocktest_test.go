package clocktest_test

import (
	"sync"
	"testing"
	"time"

	"mistore/internal/clocktest"
)

// TestClock: the clock reads what it was set to and moves by exactly what
// it was told, also when many goroutines move and read it at once.
func TestClock(t *testing.T) {
	start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	c := clocktest.New(start)
	if !c.Now().Equal(start) {
		t.Fatalf("Now %v, want %v", c.Now(), start)
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			c.Add(time.Second)
			_ = c.Now()
		})
	}
	wg.Wait()
	if want := start.Add(50 * time.Second); !c.Now().Equal(want) {
		t.Errorf("after 50 seconds: %v, want %v", c.Now(), want)
	}
	c.Set(start)
	if !c.Now().Equal(start) {
		t.Errorf("after Set: %v, want %v", c.Now(), start)
	}
}
