package staff_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"mistore/internal/audit"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/staff"
)

func TestSessionIdleExpiry(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := bg()
		m := e.create(t, "ada@example.com", staff.RoleSupport)
		token, err := e.s.NewSession(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if b, err := base64.RawURLEncoding.Strict().DecodeString(token); err != nil || len(b) != 32 {
			t.Fatalf("token %q is not 32 bytes of base64url: %v", token, err)
		}
		if got, err := e.s.Session(ctx, token); err != nil || got != m {
			t.Fatalf("Session = %+v, %v", got, err)
		}
		// Used every 29 minutes for 5 hours, the session stays open: each
		// use moves the idle limit.
		for range 10 {
			e.clock.Add(staff.IdleTimeout - time.Minute)
			if _, err := e.s.Session(ctx, token); err != nil {
				t.Fatalf("a session used within its idle timeout ended: %v", err)
			}
		}
		e.clock.Add(staff.IdleTimeout - time.Second)
		if _, err := e.s.Session(ctx, token); err != nil {
			t.Fatalf("ended a second before its idle timeout: %v", err)
		}
		// That use was recorded (it came well over TouchInterval after
		// the one before); a full idle timeout after it, the session ends.
		e.clock.Add(staff.IdleTimeout)
		if _, err := e.s.Session(ctx, token); !errors.Is(err, staff.ErrNoSession) {
			t.Fatalf("a session idle for %v still works: %v", staff.IdleTimeout, err)
		}
		// The sweep removes it, and only it.
		live, err := e.s.NewSession(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := e.s.Sweep(ctx); err != nil || n != 1 {
			t.Fatalf("Sweep = %d, %v; want the one idle session", n, err)
		}
		if _, err := e.s.Session(ctx, live); err != nil {
			t.Fatalf("the sweep ended a live session: %v", err)
		}
	})
}

func TestSessionTouchedOncePerMinute(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := bg()
		m := e.create(t, "ada@example.com", staff.RoleSupport)
		token, err := e.s.NewSession(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		created := e.clock.Now()
		lastSeen := func() time.Time {
			var ts time.Time
			if err := d.Write.QueryRowContext(ctx, "SELECT last_seen_at FROM staff_sessions WHERE staff_id = $1", m.ID).Scan(&ts); err != nil {
				t.Fatal(err)
			}
			return ts.UTC()
		}
		e.clock.Add(30 * time.Second)
		if _, err := e.s.Session(ctx, token); err != nil {
			t.Fatal(err)
		}
		if got := lastSeen(); !got.Equal(created) {
			t.Errorf("touched after 30s: last_seen_at = %v, want %v", got, created)
		}
		e.clock.Add(30 * time.Second)
		if _, err := e.s.Session(ctx, token); err != nil {
			t.Fatal(err)
		}
		if got := lastSeen(); !got.Equal(e.clock.Now()) {
			t.Errorf("not touched after a minute: last_seen_at = %v, want %v", got, e.clock.Now())
		}
	})
}

func TestSessionAbsoluteExpiry(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := bg()
		m := e.create(t, "ada@example.com", staff.RoleSupport)
		token, err := e.s.NewSession(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		// In use every 10 minutes, it still ends 12 hours after sign-in.
		var used time.Duration
		for used+10*time.Minute < staff.SessionLifetime {
			e.clock.Add(10 * time.Minute)
			used += 10 * time.Minute
			if _, err := e.s.Session(ctx, token); err != nil {
				t.Fatalf("ended after %v: %v", used, err)
			}
		}
		e.clock.Add(staff.SessionLifetime - used)
		if _, err := e.s.Session(ctx, token); !errors.Is(err, staff.ErrNoSession) {
			t.Fatalf("a session past its lifetime still works: %v", err)
		}
	})
}

func TestEndSession(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := bg()
		m := e.create(t, "ada@example.com", staff.RoleViewer)
		t1, err := e.s.NewSession(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		t2, err := e.s.NewSession(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if t1 == t2 {
			t.Fatal("two sessions share a token")
		}
		if err := e.s.EndSession(ctx, t1); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.Session(ctx, t1); !errors.Is(err, staff.ErrNoSession) {
			t.Errorf("an ended session works: %v", err)
		}
		if _, err := e.s.Session(ctx, t2); err != nil {
			t.Errorf("ending one session ended another: %v", err)
		}
		for _, tok := range []string{t1, "", "garbage", strings.Repeat("A", 43)} {
			if err := e.s.EndSession(ctx, tok); err != nil {
				t.Errorf("EndSession(%q) = %v", tok, err)
			}
		}
		for _, tok := range []string{"", "garbage", t2 + "A", t2[:42], strings.Repeat("A", 43), strings.ToUpper(t2)} {
			if tok == t2 {
				continue
			}
			if _, err := e.s.Session(ctx, tok); !errors.Is(err, staff.ErrNoSession) {
				t.Errorf("Session(%q) = %v", tok, err)
			}
		}
	})
}

func TestDisableEndsSessions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := bg()
		e.create(t, "owner@example.com", staff.RoleOwner)
		m := e.create(t, "ada@example.com", staff.RoleManager)
		token, err := e.s.NewSession(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		// A role change shows at the next request, without a new session.
		if err := e.s.SetRole(ctx, m.ID, staff.RoleViewer); err != nil {
			t.Fatal(err)
		}
		if got, err := e.s.Session(ctx, token); err != nil || got.Role != staff.RoleViewer {
			t.Fatalf("Session after SetRole = %+v, %v", got, err)
		}
		if err := e.s.Disable(ctx, m.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.Session(ctx, token); !errors.Is(err, staff.ErrNoSession) {
			t.Errorf("a disabled member's session works: %v", err)
		}
		var n int
		if err := d.Write.QueryRowContext(ctx, "SELECT count(*) FROM staff_sessions WHERE staff_id = $1", m.ID).Scan(&n); err != nil || n != 0 {
			t.Errorf("%d sessions of the disabled member left, %v", n, err)
		}
		if _, err := e.s.NewSession(ctx, m.ID); !errors.Is(err, staff.ErrNotFound) {
			t.Errorf("NewSession for a disabled member = %v", err)
		}
		if _, err := e.s.NewSession(ctx, 9999); !errors.Is(err, staff.ErrNotFound) {
			t.Errorf("NewSession for no one = %v", err)
		}
	})
}

func TestSessionCap(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := bg()
		m := e.create(t, "ada@example.com", staff.RoleViewer)
		first, err := e.s.NewSession(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		for range staff.MaxSessions {
			e.clock.Add(time.Second)
			if _, err := e.s.NewSession(ctx, m.ID); err != nil {
				t.Fatal(err)
			}
		}
		var n int
		if err := d.Write.QueryRowContext(ctx, "SELECT count(*) FROM staff_sessions").Scan(&n); err != nil || n != staff.MaxSessions {
			t.Errorf("%d sessions kept, want %d (%v)", n, staff.MaxSessions, err)
		}
		if _, err := e.s.Session(ctx, first); !errors.Is(err, staff.ErrNoSession) {
			t.Errorf("the oldest session survived the cap: %v", err)
		}
	})
}

// TestTokensStoredHashed reads the tables: no column holds a session token
// or API key, only their hex SHA-256.
func TestTokensStoredHashed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := bg()
		m := e.create(t, "ada@example.com", staff.RoleOwner)
		token, err := e.s.NewSession(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		key, _, err := e.s.CreateAPIKey(ctx, "sync", staff.RoleViewer, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.APIKey(ctx, key); err != nil {
			t.Fatal(err)
		}
		secrets := []string{token, key, strings.TrimPrefix(key, staff.APIKeyPrefix)}
		for _, q := range []string{
			"SELECT id, CAST(staff_id AS TEXT) FROM staff_sessions",
			"SELECT key_hash, prefix || ' ' || name FROM api_keys",
			"SELECT password_hash, email FROM staff",
		} {
			rows, err := d.Read.QueryContext(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			found := 0
			for rows.Next() {
				found++
				var a, b string
				if err := rows.Scan(&a, &b); err != nil {
					t.Fatal(err)
				}
				for _, v := range []string{a, b} {
					for _, s := range secrets {
						if strings.Contains(v, s) {
							t.Errorf("%s: a secret is stored: %q", q, v)
						}
					}
					if v == password || strings.Contains(v, password) {
						t.Errorf("%s: the password is stored", q)
					}
				}
				if q != "SELECT password_hash, email FROM staff" && (len(a) != 64 || strings.Trim(a, "0123456789abcdef") != "") {
					t.Errorf("%s: %q is not a hex SHA-256", q, a)
				}
			}
			if err := rows.Close(); err != nil || found != 1 {
				t.Fatalf("%s: %d rows, %v", q, found, err)
			}
		}
	})
}

func TestSessionsListAndEndOthers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := bg()
		m := e.create(t, "ada@example.com", staff.RoleSupport)
		other := e.create(t, "bea@example.com", staff.RoleSupport)
		e.s.NewSession(ctx, m.ID) // idles out below, not yet swept
		e.clock.Add(staff.IdleTimeout + time.Minute)
		a, _ := e.s.NewSession(ctx, m.ID)
		e.clock.Add(time.Minute)
		here, _ := e.s.NewSession(ctx, m.ID)
		theirs, _ := e.s.NewSession(ctx, other.ID)
		list, err := e.s.Sessions(ctx, m.ID, here)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || !list[0].Current || list[1].Current || !list[0].LastSeenAt.After(list[1].LastSeenAt) {
			t.Fatalf("Sessions = %+v, want here (current) then a", list)
		}
		n, err := e.s.EndOtherSessions(ctx, m.ID, here)
		if err != nil || n != 2 { // a, and the idled-out one
			t.Fatalf("EndOtherSessions = %d, %v", n, err)
		}
		if _, err := e.s.Session(ctx, a); !errors.Is(err, staff.ErrNoSession) {
			t.Fatalf("an ended session: %v", err)
		}
		if _, err := e.s.Session(ctx, here); err != nil {
			t.Fatalf("the kept session: %v", err)
		}
		if _, err := e.s.Session(ctx, theirs); err != nil {
			t.Fatalf("another member's session: %v", err)
		}
		if n, err := e.s.EndOtherSessions(ctx, m.ID, here); err != nil || n != 0 {
			t.Fatalf("again: %d, %v", n, err)
		}
		entries, _ := audit.List(ctx, d.Reader(), audit.Filter{})
		if entries[0].Action != "staff.end_sessions" || string(entries[0].After) != `{"sessions_ended":2}` {
			t.Fatalf("last audit entry: %+v", entries[0])
		}
	})
}
