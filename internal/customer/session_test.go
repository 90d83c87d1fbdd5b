package customer_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"mistore/internal/customer"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

func TestSessions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		c := e.register(t, "ada@example.com", "Ada")
		start := e.clock.Now()

		tok, err := e.s.NewSession(ctx, c.ID, customer.SessionBrowser)
		if err != nil {
			t.Fatal(err)
		}
		if raw, err := base64.RawURLEncoding.DecodeString(tok); err != nil || len(raw) != 32 {
			t.Errorf("token %q is not 32 bytes of base64url: %v", tok, err)
		}
		other, err := e.s.NewSession(ctx, c.ID, customer.SessionBrowser)
		if err != nil || other == tok {
			t.Fatalf("second session %q, %v", other, err)
		}

		sess, got, err := e.s.Session(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		want := customer.Session{CustomerID: c.ID, Kind: customer.SessionBrowser, CreatedAt: start, LastSeenAt: start,
			ExpiresAt: start.Add(customer.BrowserLifetime)}
		if sess != want || got != c {
			t.Errorf("Session = %+v, %+v; want %+v, %+v", sess, got, want, c)
		}

		// The token is never stored, only its SHA-256.
		rows, err := d.Read.Query("SELECT id, kind FROM customer_sessions")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for rows.Next() {
			var id, kind string
			if err := rows.Scan(&id, &kind); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id+" "+kind)
		}
		rows.Close()
		stored := strings.Join(ids, "\n")
		if strings.Contains(stored, tok) || strings.Contains(stored, other) || !strings.Contains(stored, sha(tok)+" browser") {
			t.Errorf("stored sessions:\n%s", stored)
		}

		// The hash itself, a token changed by one character, garbage and
		// nothing open no session.
		flipped := []byte(tok)
		flipped[10] ^= 1
		for _, bad := range []string{"", sha(tok), string(flipped), tok + "A", tok[:42], "../../etc/passwd", strings.Repeat("A", 43)} {
			if _, _, err := e.s.Session(ctx, bad); !errors.Is(err, customer.ErrNoSession) {
				t.Errorf("Session(%q) = %v", bad, err)
			}
		}

		if _, err := e.s.NewSession(ctx, c.ID+1000, customer.SessionBrowser); !errors.Is(err, customer.ErrNotFound) {
			t.Errorf("session for no one: %v", err)
		}
		if _, err := e.s.NewSession(ctx, c.ID, "admin"); err == nil {
			t.Error("unknown kind accepted")
		}

		// Ending one session leaves the other; ending it twice is fine.
		if err := e.s.EndSession(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.s.Session(ctx, tok); !errors.Is(err, customer.ErrNoSession) {
			t.Errorf("ended session: %v", err)
		}
		if _, _, err := e.s.Session(ctx, other); err != nil {
			t.Errorf("the other session: %v", err)
		}
		if err := e.s.EndSession(ctx, tok); err != nil {
			t.Errorf("ending twice: %v", err)
		}
		if err := e.s.EndSession(ctx, "garbage"); err != nil {
			t.Errorf("ending garbage: %v", err)
		}
	})
}

func TestTimeouts(t *testing.T) {
	for _, c := range []struct {
		kind       customer.SessionKind
		idle, life time.Duration
	}{
		{customer.SessionBrowser, 24 * time.Hour, 30 * 24 * time.Hour},
		{customer.SessionAPI, 30 * 24 * time.Hour, 90 * 24 * time.Hour},
		{"admin", 0, 0},
	} {
		if idle, life := customer.IdleTimeout(c.kind), customer.AbsoluteTimeout(c.kind); idle != c.idle || life != c.life {
			t.Errorf("%s: idle %v, lifetime %v; want %v, %v", c.kind, idle, life, c.idle, c.life)
		}
	}
}

func TestSessionTouch(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		c := e.register(t, "ada@example.com", "Ada")
		start := e.clock.Now()
		tok, err := e.s.NewSession(ctx, c.ID, customer.SessionBrowser)
		if err != nil {
			t.Fatal(err)
		}
		lastSeen := func() time.Time {
			var ts time.Time
			if err := d.Read.QueryRow("SELECT last_seen_at FROM customer_sessions WHERE id = $1", sha(tok)).Scan(&ts); err != nil {
				t.Fatal(err)
			}
			return ts.UTC()
		}
		e.clock.Add(30 * time.Second)
		if s, _, err := e.s.Session(ctx, tok); err != nil || !s.LastSeenAt.Equal(start) || !lastSeen().Equal(start) {
			t.Errorf("within a minute: %+v, %v; stored %v", s, err, lastSeen())
		}
		e.clock.Add(customer.TouchInterval)
		now := e.clock.Now()
		if s, _, err := e.s.Session(ctx, tok); err != nil || !s.LastSeenAt.Equal(now) || !lastSeen().Equal(now) {
			t.Errorf("after a minute: %+v, %v; stored %v", s, err, lastSeen())
		}
	})
}

func TestSessionIdleExpiry(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		c := e.register(t, "ada@example.com", "Ada")
		browser, err := e.s.NewSession(ctx, c.ID, customer.SessionBrowser)
		if err != nil {
			t.Fatal(err)
		}
		api, err := e.s.NewSession(ctx, c.ID, customer.SessionAPI)
		if err != nil {
			t.Fatal(err)
		}
		// Used just before the idle timeout, a browser session lives on.
		e.clock.Add(customer.BrowserIdleTimeout - time.Second)
		if _, _, err := e.s.Session(ctx, browser); err != nil {
			t.Fatalf("browser session just before its idle timeout: %v", err)
		}
		e.clock.Add(customer.BrowserIdleTimeout - time.Second)
		if _, _, err := e.s.Session(ctx, browser); err != nil {
			t.Fatalf("browser session kept alive: %v", err)
		}
		// Left alone for the idle timeout, it ends; an API session, left
		// alone as long, does not.
		e.clock.Add(customer.BrowserIdleTimeout)
		if _, _, err := e.s.Session(ctx, browser); !errors.Is(err, customer.ErrNoSession) {
			t.Errorf("idle browser session: %v", err)
		}
		if _, _, err := e.s.Session(ctx, api); err != nil {
			t.Errorf("API session after 3 days: %v", err)
		}
		e.clock.Add(customer.APIIdleTimeout)
		if _, _, err := e.s.Session(ctx, api); !errors.Is(err, customer.ErrNoSession) {
			t.Errorf("idle API session: %v", err)
		}
	})
}

func TestSessionAbsoluteExpiry(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		c := e.register(t, "ada@example.com", "Ada")
		for _, k := range []struct {
			kind       customer.SessionKind
			idle, life time.Duration
		}{
			{customer.SessionBrowser, customer.BrowserIdleTimeout, customer.BrowserLifetime},
			{customer.SessionAPI, customer.APIIdleTimeout, customer.APILifetime},
		} {
			start := e.clock.Now()
			tok, err := e.s.NewSession(ctx, c.ID, k.kind)
			if err != nil {
				t.Fatal(err)
			}
			// Used steadily, never idle for long, until its lifetime.
			step := k.idle - time.Hour
			for e.clock.Now().Add(step).Before(start.Add(k.life)) {
				e.clock.Add(step)
				if _, _, err := e.s.Session(ctx, tok); err != nil {
					t.Fatalf("%s session at %v: %v", k.kind, e.clock.Now().Sub(start), err)
				}
			}
			e.clock.Add(start.Add(k.life).Sub(e.clock.Now()))
			if _, _, err := e.s.Session(ctx, tok); !errors.Is(err, customer.ErrNoSession) {
				t.Errorf("%s session at its lifetime: %v", k.kind, err)
			}
		}
	})
}

func TestEndSessions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		ada := e.register(t, "ada@example.com", "Ada")
		bob := e.register(t, "bob@example.com", "Bob")
		newSession := func(id int64, k customer.SessionKind) string {
			tok, err := e.s.NewSession(ctx, id, k)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		a1, a2, a3 := newSession(ada.ID, customer.SessionBrowser), newSession(ada.ID, customer.SessionBrowser), newSession(ada.ID, customer.SessionAPI)
		b1 := newSession(bob.ID, customer.SessionBrowser)
		alive := func(tok string) bool {
			_, _, err := e.s.Session(ctx, tok)
			if err != nil && !errors.Is(err, customer.ErrNoSession) {
				t.Fatal(err)
			}
			return err == nil
		}

		// Another customer's token as the exception keeps nothing of Ada's.
		if err := e.s.EndSessions(ctx, ada.ID, a2); err != nil {
			t.Fatal(err)
		}
		if alive(a1) || !alive(a2) || alive(a3) || !alive(b1) {
			t.Errorf("after ending all but a2: a1 %v a2 %v a3 %v b1 %v", alive(a1), alive(a2), alive(a3), alive(b1))
		}
		if err := e.s.EndSessions(ctx, ada.ID, ""); err != nil {
			t.Fatal(err)
		}
		if alive(a2) || !alive(b1) {
			t.Errorf("after ending all: a2 %v b1 %v", alive(a2), alive(b1))
		}
		// Bob's token does not protect Bob's session when ending Ada's,
		// and ending Ada's never touches Bob's.
		a4 := newSession(ada.ID, customer.SessionBrowser)
		if err := e.s.EndSessions(ctx, ada.ID, b1); err != nil {
			t.Fatal(err)
		}
		if alive(a4) || !alive(b1) {
			t.Errorf("a4 %v b1 %v", alive(a4), alive(b1))
		}
	})
}

func TestSessionLimit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		c := e.register(t, "ada@example.com", "Ada")
		var first, second string
		for i := range customer.MaxSessions + 1 {
			tok, err := e.s.NewSession(ctx, c.ID, customer.SessionAPI)
			if err != nil {
				t.Fatal(err)
			}
			switch i {
			case 0:
				first = tok
			case 1:
				second = tok
			}
			e.clock.Add(time.Second)
		}
		if n := e.count(t, "SELECT count(*) FROM customer_sessions WHERE customer_id = $1", c.ID); n != customer.MaxSessions {
			t.Errorf("%d sessions, want %d", n, customer.MaxSessions)
		}
		if _, _, err := e.s.Session(ctx, first); !errors.Is(err, customer.ErrNoSession) {
			t.Errorf("the least recently used session survived: %v", err)
		}
		if _, _, err := e.s.Session(ctx, second); err != nil {
			t.Errorf("the second session: %v", err)
		}
	})
}

func TestSweep(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		c := e.register(t, "ada@example.com", "Ada") // one verification link
		if _, err := e.s.NewSession(ctx, c.ID, customer.SessionBrowser); err != nil {
			t.Fatal(err)
		}
		api, err := e.s.NewSession(ctx, c.ID, customer.SessionAPI)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.s.RequestPasswordReset(ctx, "ada@example.com"); err != nil {
			t.Fatal(err)
		}
		if n, err := e.s.Sweep(ctx); err != nil || n != 0 {
			t.Errorf("Sweep of fresh rows = %d, %v", n, err)
		}
		e.clock.Add(customer.BrowserIdleTimeout) // the browser session and the reset link expire
		if n, err := e.s.Sweep(ctx); err != nil || n != 2 {
			t.Errorf("Sweep = %d, %v; want 2", n, err)
		}
		if _, _, err := e.s.Session(ctx, api); err != nil {
			t.Errorf("the API session was swept: %v", err)
		}
		e.clock.Add(customer.VerificationTTL)
		if n, err := e.s.Sweep(ctx); err != nil || n != 1 {
			t.Errorf("Sweep = %d, %v; want 1 (the verification link)", n, err)
		}
	})
}
