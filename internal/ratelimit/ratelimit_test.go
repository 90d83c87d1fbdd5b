package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mistore/internal/clocktest"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/ratelimit"
)

// newClock starts at a whole hour, which is the start of a window for
// every rule the tests use.
func newClock() *clocktest.Clock {
	return clocktest.New(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
}

func allow(t *testing.T, l *ratelimit.Limiter, r ratelimit.Rule, key string) ratelimit.Decision {
	t.Helper()
	dec, err := l.Allow(context.Background(), r, key)
	if err != nil {
		t.Fatalf("Allow(%s, %s): %v", r.Name, key, err)
	}
	return dec
}

func peek(t *testing.T, l *ratelimit.Limiter, r ratelimit.Rule, key string) ratelimit.Decision {
	t.Helper()
	dec, err := l.Peek(context.Background(), r, key)
	if err != nil {
		t.Fatalf("Peek(%s, %s): %v", r.Name, key, err)
	}
	return dec
}

// mustAllowN calls Allow n times and fails unless every call is allowed,
// with Remaining counting down.
func mustAllowN(t *testing.T, l *ratelimit.Limiter, r ratelimit.Rule, key string, n int) {
	t.Helper()
	for i := range n {
		dec := allow(t, l, r, key)
		if !dec.Allowed || dec.RetryAfter != 0 {
			t.Fatalf("event %d of %d for %s/%s: %+v, want allowed", i+1, n, r.Name, key, dec)
		}
	}
}

func mustDeny(t *testing.T, l *ratelimit.Limiter, r ratelimit.Rule, key string) ratelimit.Decision {
	t.Helper()
	dec := allow(t, l, r, key)
	if dec.Allowed || dec.Remaining != 0 {
		t.Fatalf("Allow(%s, %s) = %+v, want denied", r.Name, key, dec)
	}
	if dec.RetryAfter < time.Second || dec.RetryAfter%time.Second != 0 || dec.RetryAfter > 2*r.Window {
		t.Fatalf("RetryAfter %s: want whole seconds, at least 1s, at most two windows (%s)", dec.RetryAfter, 2*r.Window)
	}
	return dec
}

// checkRetryAfter moves the clock to just before and then exactly to the
// moment dec says one more event is allowed, and checks that it is refused
// and then allowed there, without counting anything.
func checkRetryAfter(t *testing.T, c *clocktest.Clock, l *ratelimit.Limiter, r ratelimit.Rule, key string, dec ratelimit.Decision) {
	t.Helper()
	c.Add(dec.RetryAfter - time.Second)
	if p := peek(t, l, r, key); p.Allowed {
		t.Fatalf("%s before RetryAfter %s: %+v, want still denied", time.Second, dec.RetryAfter, p)
	}
	c.Add(time.Second)
	if p := peek(t, l, r, key); !p.Allowed || p.Remaining < 1 {
		t.Fatalf("at RetryAfter %s: %+v, want allowed", dec.RetryAfter, p)
	}
}

// storedHits is the sum of the counts stored for rule, over all keys and
// windows.
func storedHits(t *testing.T, d *db.DB, rule string) int {
	t.Helper()
	var n int
	if err := d.Reader().QueryRowContext(context.Background(),
		"SELECT COALESCE(SUM(hits), 0) FROM rate_limits WHERE rule = $1", rule).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func countRows(t *testing.T, d *db.DB) int {
	t.Helper()
	var n int
	if err := d.Reader().QueryRowContext(context.Background(), "SELECT count(*) FROM rate_limits").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLimit: a limit of N allows exactly N, with Remaining counting down,
// then refuses with a RetryAfter that is exactly when one more fits.
func TestLimit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		c := newClock()
		l := ratelimit.New(d, c.Now)
		r := ratelimit.Rule{Name: "t", Limit: 5, Window: time.Minute}
		for i := range 5 {
			dec := allow(t, l, r, "k")
			if !dec.Allowed || dec.Remaining != 4-i || dec.RetryAfter != 0 {
				t.Fatalf("event %d: %+v, want allowed with %d remaining", i+1, dec, 4-i)
			}
		}
		dec := mustDeny(t, l, r, "k")
		// Six counted events, the refused one included: one more fits once
		// the next window's weight on them is down to four, 20s into it.
		if dec.RetryAfter != 80*time.Second {
			t.Errorf("RetryAfter = %s, want 1m20s", dec.RetryAfter)
		}
		checkRetryAfter(t, c, l, r, "k", dec)
	})
}

// TestWindowPasses: once the window has passed events are allowed again,
// and after two quiet windows the whole limit is back.
func TestWindowPasses(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		c := newClock()
		c.Add(10 * time.Second) // not at a window's start
		l := ratelimit.New(d, c.Now)
		r := ratelimit.Rule{Name: "t", Limit: 3, Window: time.Minute}
		mustAllowN(t, l, r, "k", 3)
		dec := mustDeny(t, l, r, "k")
		checkRetryAfter(t, c, l, r, "k", dec)
		if dec := allow(t, l, r, "k"); !dec.Allowed {
			t.Fatalf("at RetryAfter: %+v, want allowed", dec)
		}
		c.Add(2 * time.Minute)
		mustAllowN(t, l, r, "k", 3)
		mustDeny(t, l, r, "k")
	})
}

// TestSlidingWindow: the previous window counts in proportion to how much
// of it the sliding window still covers, so a client cannot spend its
// limit at the end of one window and again at the start of the next.
func TestSlidingWindow(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		c := newClock()
		l := ratelimit.New(d, c.Now)
		r := ratelimit.Rule{Name: "t", Limit: 10, Window: time.Minute}
		c.Add(59 * time.Second)
		mustAllowN(t, l, r, "k", 10)
		// Just into the next window the previous one still weighs almost
		// fully.
		c.Add(2 * time.Second)
		if dec := peek(t, l, r, "k"); dec.Allowed {
			t.Fatalf("1s into the next window: %+v, want denied", dec)
		}
		// Half-way through it, half the previous window's events count.
		c.Add(29 * time.Second)
		if dec := peek(t, l, r, "k"); !dec.Allowed || dec.Remaining != 5 {
			t.Fatalf("half-way: %+v, want 5 remaining", dec)
		}
		mustAllowN(t, l, r, "k", 5)
		dec := mustDeny(t, l, r, "k")
		checkRetryAfter(t, c, l, r, "k", dec)
	})
}

// TestIndependent: keys and rules have counters of their own.
func TestIndependent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		l := ratelimit.New(d, newClock().Now)
		a := ratelimit.Rule{Name: "a", Limit: 2, Window: time.Minute}
		b := ratelimit.Rule{Name: "b", Limit: 2, Window: time.Minute}
		mustAllowN(t, l, a, "k1", 2)
		mustDeny(t, l, a, "k1")
		mustAllowN(t, l, a, "k2", 2)
		mustAllowN(t, l, b, "k1", 2)
		mustDeny(t, l, a, "k2")
		mustDeny(t, l, b, "k1")
		if dec := peek(t, l, b, "k2"); !dec.Allowed || dec.Remaining != 2 {
			t.Errorf("untouched rule and key: %+v, want 2 remaining", dec)
		}
	})
}

// TestPeekDoesNotCount: Peek decides like Allow would but leaves the
// counts alone.
func TestPeekDoesNotCount(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		l := ratelimit.New(d, newClock().Now)
		r := ratelimit.Rule{Name: "t", Limit: 3, Window: time.Minute}
		for range 10 {
			if dec := peek(t, l, r, "k"); !dec.Allowed || dec.Remaining != 3 {
				t.Fatalf("Peek on a new key: %+v, want 3 remaining", dec)
			}
		}
		mustAllowN(t, l, r, "k", 1)
		if dec := peek(t, l, r, "k"); !dec.Allowed || dec.Remaining != 2 {
			t.Fatalf("Peek after one event: %+v, want 2 remaining", dec)
		}
		mustAllowN(t, l, r, "k", 2)
		for range 5 {
			if dec := peek(t, l, r, "k"); dec.Allowed || dec.RetryAfter < time.Second {
				t.Fatalf("Peek at the limit: %+v, want denied with a RetryAfter", dec)
			}
		}
		if n := storedHits(t, d, "t"); n != 3 {
			t.Errorf("stored count %d after 3 Allow and 15 Peek, want 3", n)
		}
	})
}

// TestPeekAll: several checks in one query decide as one Peek each would:
// the first refusal in the order given, with its rule, else allowed with
// the least room left.
func TestPeekAll(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		c := newClock()
		l := ratelimit.New(d, c.Now)
		a := ratelimit.Rule{Name: "a", Limit: 3, Window: time.Minute}
		b := ratelimit.Rule{Name: "b", Limit: 2, Window: time.Hour}
		checks := []ratelimit.Check{{Rule: a, Key: "k"}, {Rule: b, Key: "k"}}
		rule, dec, err := l.PeekAll(ctx, checks...)
		if err != nil || !dec.Allowed || dec.Remaining != 2 || rule.Name != "" {
			t.Fatalf("PeekAll on new keys: %+v %+v %v, want allowed with 2 remaining", rule, dec, err)
		}
		mustAllowN(t, l, b, "k", 2)
		rule, dec, err = l.PeekAll(ctx, checks...)
		if err != nil || dec.Allowed || rule.Name != "b" || dec.RetryAfter != peek(t, l, b, "k").RetryAfter {
			t.Fatalf("PeekAll with b at its limit: %+v %+v %v, want b's refusal", rule, dec, err)
		}
		mustAllowN(t, l, a, "k", 3)
		if rule, dec, err = l.PeekAll(ctx, checks...); err != nil || dec.Allowed || rule.Name != "a" {
			t.Fatalf("PeekAll with both at their limits: %+v %+v %v, want a's refusal, the first", rule, dec, err)
		}
		c.Add(2 * time.Minute)
		if rule, dec, err = l.PeekAll(ctx, checks...); err != nil || dec.Allowed || rule.Name != "b" {
			t.Fatalf("PeekAll once a's window passed: %+v %+v %v, want b's refusal", rule, dec, err)
		}
		if n := storedHits(t, d, "a") + storedHits(t, d, "b"); n != 5 {
			t.Errorf("stored count %d after 5 Allow and 4 PeekAll, want 5", n)
		}
		if _, _, err := l.PeekAll(ctx, ratelimit.Check{Rule: a, Key: ""}); err == nil {
			t.Error("PeekAll with an empty key: no error")
		}
	})
}

// TestReset: Reset forgets a key's events, in the previous window too,
// and only that key's.
func TestReset(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		c := newClock()
		l := ratelimit.New(d, c.Now)
		r := ratelimit.Rule{Name: "t", Limit: 2, Window: time.Minute}
		mustAllowN(t, l, r, "a", 2)
		mustAllowN(t, l, r, "b", 2)
		c.Add(61 * time.Second) // a's and b's events are now the previous window's
		mustDeny(t, l, r, "a")
		if err := l.Reset(ctx, r, "a"); err != nil {
			t.Fatal(err)
		}
		if dec := peek(t, l, r, "a"); !dec.Allowed || dec.Remaining != 2 {
			t.Fatalf("after Reset: %+v, want 2 remaining", dec)
		}
		if dec := peek(t, l, r, "b"); dec.Allowed {
			t.Fatalf("other key after Reset: %+v, want still denied", dec)
		}
		mustAllowN(t, l, r, "a", 2)
	})
}

// TestConcurrentAllow: however many requests race, exactly Limit are
// allowed, and the stored count stops at twice the limit.
func TestConcurrentAllow(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		l := ratelimit.New(d, newClock().Now)
		r := ratelimit.Rule{Name: "t", Limit: 10, Window: time.Minute}
		if n := race(t, 100, r, l); n != 10 {
			t.Errorf("%d of 100 concurrent events allowed, want 10", n)
		}
		if n := storedHits(t, d, "t"); n != 20 {
			t.Errorf("stored count %d, want the cap of 20", n)
		}
	})
}

// TestConcurrentInstances: two instances on one database share their
// limits exactly.
func TestConcurrentInstances(t *testing.T) {
	for _, dialect := range []db.Dialect{db.SQLite, db.Postgres} {
		t.Run(string(dialect), func(t *testing.T) {
			ctx := context.Background()
			dsn := dbtest.DSN(t, dialect)
			c := newClock()
			var limiters []*ratelimit.Limiter
			for i := range 2 {
				d, err := db.Open(ctx, dsn, db.Options{MaxReaders: 4})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { d.Close() })
				if i == 0 {
					if _, err := d.Migrate(ctx); err != nil {
						t.Fatal(err)
					}
				}
				limiters = append(limiters, ratelimit.New(d, c.Now))
			}
			r := ratelimit.Rule{Name: "t", Limit: 10, Window: time.Minute}
			if n := race(t, 100, r, limiters...); n != 10 {
				t.Errorf("%d of 100 concurrent events on two instances allowed, want 10", n)
			}
		})
	}
}

// race runs n Allow calls at once, spread over the limiters, and returns
// how many were allowed.
func race(t *testing.T, n int, r ratelimit.Rule, limiters ...*ratelimit.Limiter) int {
	t.Helper()
	var (
		wg      sync.WaitGroup
		allowed atomic.Int32
		start   = make(chan struct{})
	)
	for i := range n {
		l := limiters[i%len(limiters)]
		wg.Go(func() {
			<-start
			dec, err := l.Allow(context.Background(), r, "k")
			if err != nil {
				t.Errorf("Allow: %v", err)
				return
			}
			if dec.Allowed {
				allowed.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	return int(allowed.Load())
}

// TestDeniedCountsCapped: refused events count, so hammering keeps a key
// refused, but the count stops at twice the limit and a client that stops
// is let back within two windows.
func TestDeniedCountsCapped(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		c := newClock()
		l := ratelimit.New(d, c.Now)
		r := ratelimit.Rule{Name: "t", Limit: 3, Window: time.Minute}
		mustAllowN(t, l, r, "k", 3)
		var last ratelimit.Decision
		for range 50 {
			last = mustDeny(t, l, r, "k")
		}
		if n := storedHits(t, d, "t"); n != 6 {
			t.Errorf("stored count %d after 53 events, want the cap of 6", n)
		}
		// A client that stops is let back when RetryAfter said.
		checkRetryAfter(t, c, l, r, "k", last)

		// One that keeps hammering into the next window stays refused: at
		// the cap, the previous window alone outweighs the limit there.
		c2 := newClock()
		l2 := ratelimit.New(d, c2.Now)
		mustAllowN(t, l2, r, "other", 3)
		for range 10 {
			mustDeny(t, l2, r, "other")
		}
		c2.Add(time.Minute)
		mustDeny(t, l2, r, "other")
	})
}

// TestSweep: Sweep deletes only the windows that can no longer count,
// those whose window and the one after it have ended.
func TestSweep(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		c := newClock()
		l := ratelimit.New(d, c.Now)
		short := ratelimit.Rule{Name: "short", Limit: 10, Window: time.Minute}
		long := ratelimit.Rule{Name: "long", Limit: 10, Window: time.Hour}
		mustAllowN(t, l, short, "k", 4)
		mustAllowN(t, l, long, "k", 4)
		sweep := func(want int64) {
			t.Helper()
			n, err := l.Sweep(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n != want {
				t.Fatalf("Sweep at %s deleted %d, want %d", c.Now().Format(time.TimeOnly), n, want)
			}
		}
		sweep(0)
		// Half-way through the next window the short rule's first window
		// still counts, for half.
		c.Add(90 * time.Second)
		sweep(0)
		if dec := peek(t, l, short, "k"); dec.Remaining != 8 {
			t.Fatalf("short rule after a sweep, half-way through the next window: %+v, want 8 remaining", dec)
		}
		c.Add(30*time.Second - time.Millisecond)
		sweep(0)
		c.Add(time.Millisecond)
		sweep(1)
		if n := countRows(t, d); n != 1 {
			t.Errorf("%d rows left, want the long rule's", n)
		}
		if dec := peek(t, l, long, "k"); dec.Remaining != 6 {
			t.Errorf("long rule after the sweep: %+v, want 6 remaining", dec)
		}
		c.Add(2 * time.Hour)
		sweep(1)
		if n := countRows(t, d); n != 0 {
			t.Errorf("%d rows left, want none", n)
		}
	})
}

// TestKeysHashed: the table holds neither IP addresses nor emails.
func TestKeysHashed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		l := ratelimit.New(d, newClock().Now)
		keys := []string{"203.0.113.7", "someone@example.com", "2001:db8::1"}
		for _, k := range keys {
			mustAllowN(t, l, ratelimit.SignInPerIP, k, 1)
		}
		rows, err := d.Reader().QueryContext(context.Background(), "SELECT key FROM rate_limits")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		hexKey := regexp.MustCompile(`^[0-9a-f]{32}$`)
		seen := map[string]bool{}
		for rows.Next() {
			var stored string
			if err := rows.Scan(&stored); err != nil {
				t.Fatal(err)
			}
			if !hexKey.MatchString(stored) {
				t.Errorf("stored key %q is not a 128-bit hex hash", stored)
			}
			for _, k := range keys {
				if strings.Contains(stored, k) {
					t.Errorf("stored key %q holds %q in clear", stored, k)
				}
			}
			seen[stored] = true
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if len(seen) != len(keys) {
			t.Errorf("%d distinct stored keys for %d keys", len(seen), len(keys))
		}
	})
}

// TestDecisionErr: a refusal becomes a *LimitedError that unwraps to
// ErrLimited; an allowed decision is no error.
func TestDecisionErr(t *testing.T) {
	r := ratelimit.SignInPerIP
	if err := (ratelimit.Decision{Allowed: true, Remaining: 3}).Err(r); err != nil {
		t.Errorf("allowed decision: Err = %v, want nil", err)
	}
	err := ratelimit.Decision{RetryAfter: 42 * time.Second}.Err(r)
	if !errors.Is(err, ratelimit.ErrLimited) {
		t.Fatalf("denied decision: Err = %v, want ErrLimited", err)
	}
	wrapped := fmt.Errorf("sign in: %w", err)
	var le *ratelimit.LimitedError
	if !errors.As(wrapped, &le) {
		t.Fatalf("denied decision: %v is not a *LimitedError", err)
	}
	if le.Rule != "sign_in_ip" || le.RetryAfter != 42*time.Second {
		t.Errorf("LimitedError = %+v, want rule sign_in_ip, retry after 42s", le)
	}
	if !errors.Is(wrapped, ratelimit.ErrLimited) {
		t.Errorf("wrapped LimitedError does not unwrap to ErrLimited")
	}
}

// TestInvalid: a rule out of bounds or an empty key is an error, not a
// decision, before the database is touched.
func TestInvalid(t *testing.T) {
	l := ratelimit.New(nil, nil) // no database: nothing must reach it
	ctx := context.Background()
	good := ratelimit.Rule{Name: "t", Limit: 1, Window: time.Second}
	bad := map[string]ratelimit.Rule{
		"no name":           {Limit: 1, Window: time.Minute},
		"zero limit":        {Name: "t", Limit: 0, Window: time.Minute},
		"negative limit":    {Name: "t", Limit: -1, Window: time.Minute},
		"huge limit":        {Name: "t", Limit: ratelimit.MaxLimit + 1, Window: time.Minute},
		"zero window":       {Name: "t", Limit: 1},
		"short window":      {Name: "t", Limit: 1, Window: 999 * time.Millisecond},
		"long window":       {Name: "t", Limit: 1, Window: ratelimit.MaxWindow + time.Second},
		"fractional window": {Name: "t", Limit: 1, Window: time.Second + time.Microsecond},
	}
	for what, r := range bad {
		if _, err := l.Allow(ctx, r, "k"); err == nil {
			t.Errorf("Allow with %s: no error", what)
		}
		if _, err := l.Peek(ctx, r, "k"); err == nil {
			t.Errorf("Peek with %s: no error", what)
		}
		if err := l.Reset(ctx, r, "k"); err == nil {
			t.Errorf("Reset with %s: no error", what)
		}
	}
	if _, err := l.Allow(ctx, good, ""); err == nil {
		t.Error("Allow with an empty key: no error")
	}
	if _, err := l.Peek(ctx, good, ""); err == nil {
		t.Error("Peek with an empty key: no error")
	}
}

// TestPredefinedRules: the predefined rules are valid, distinct and work.
func TestPredefinedRules(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	l := ratelimit.New(d, newClock().Now)
	names := map[string]bool{}
	for _, r := range []ratelimit.Rule{
		ratelimit.SignInPerIP, ratelimit.SignInPerAccount,
		ratelimit.ResetPerIP, ratelimit.ResetPerAccount,
		ratelimit.RegisterPerIP,
		ratelimit.CouponGuessPerCart, ratelimit.CouponGuessPerIP,
		ratelimit.PaymentFailuresPerOrder, ratelimit.PaymentFailuresPerIP, ratelimit.PaymentFailuresPerCustomer,
	} {
		if names[r.Name] {
			t.Errorf("rule name %q is used twice", r.Name)
		}
		names[r.Name] = true
		mustAllowN(t, l, r, "k", r.Limit)
		mustDeny(t, l, r, "k")
	}
}
