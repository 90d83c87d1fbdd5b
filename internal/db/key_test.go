package db

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestNewKey: keys are KeyLen characters of the key alphabet, unique, and
// a key made later sorts after one made a millisecond or more before.
func TestNewKey(t *testing.T) {
	seen := map[string]bool{}
	var keys []string
	for i := range 2000 {
		k := NewKey()
		if len(k) != KeyLen || strings.Trim(k, "0123456789abcdefghijklmnopqrstuv") != "" {
			t.Fatalf("key %q: want %d characters of 0-9a-v", k, KeyLen)
		}
		if seen[k] {
			t.Fatalf("key %q made twice", k)
		}
		seen[k] = true
		if i%500 == 0 {
			time.Sleep(2 * time.Millisecond)
			keys = append(keys, k)
		}
	}
	if !slices.IsSorted(keys) {
		t.Errorf("keys made milliseconds apart do not sort in time order: %v", keys)
	}
	a := NewKey()
	time.Sleep(2 * time.Millisecond)
	if b := NewKey(); b <= a {
		t.Errorf("key %q made after %q sorts before it", b, a)
	}
}
