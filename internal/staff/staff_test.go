package staff_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"mistore/internal/audit"
	"mistore/internal/clocktest"
	"mistore/internal/customer"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/staff"
)

// cheap are argon2id parameters that make tests fast.
var cheap = customer.Params{Memory: 64, Time: 1, Threads: 1}

const password = "correct horse battery staple"

// bg is the context of the tests' calls: someone at the command line, as
// every change must name who makes it (package audit).
func bg() context.Context {
	return audit.WithActor(context.Background(), audit.Actor{Kind: audit.KindCLI, Name: "tester"})
}

func TestChangesAreAudited(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := staff.NewService(d, nil)
		s.Params = cheap
		ctx := bg()
		owner, err := s.Create(ctx, "owner@example.com", "Owner", staff.RoleOwner, password)
		if err != nil {
			t.Fatal(err)
		}
		m, err := s.Create(ctx, "sam@example.com", "Sam", staff.RoleSupport, password)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetRole(ctx, m.ID, staff.RoleManager); err != nil {
			t.Fatal(err)
		}
		if err := s.Disable(ctx, m.ID); err != nil {
			t.Fatal(err)
		}
		_, k, err := s.CreateAPIKey(ctx, "erp", staff.RoleViewer, owner.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeAPIKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		// A refused change leaves no entry.
		if err := s.Disable(ctx, owner.ID); !errors.Is(err, staff.ErrLastOwner) {
			t.Fatalf("disable last owner: %v", err)
		}
		// A change with no one named is refused outright.
		if _, err := s.Create(context.Background(), "anon@example.com", "Anon", staff.RoleViewer, password); !errors.Is(err, audit.ErrNoActor) {
			t.Fatalf("create without actor: %v", err)
		}
		got, err := audit.List(ctx, d.Reader(), audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range got {
			actions = append(actions, e.Action+" "+e.Subject)
			if e.Actor.Name != "tester" || e.Actor.Kind != audit.KindCLI {
				t.Errorf("entry %d actor %+v", e.ID, e.Actor)
			}
		}
		want := []string{"apikey.revoke apikey:1", "apikey.create apikey:1", "staff.disable staff:2", "staff.set_role staff:2",
			"staff.create staff:2", "staff.create staff:1"}
		if strings.Join(actions, "|") != strings.Join(want, "|") {
			t.Fatalf("audit log:\n%s\nwant\n%s", strings.Join(actions, "\n"), strings.Join(want, "\n"))
		}
		if string(got[3].Before) != `{"role":"support"}` || string(got[3].After) != `{"role":"manager"}` {
			t.Errorf("set_role before/after: %s %s", got[3].Before, got[3].After)
		}
	})
}

type env struct {
	d     *db.DB
	s     *staff.Service
	clock *clocktest.Clock
}

func newEnv(t *testing.T, d *db.DB) *env {
	t.Helper()
	c := clocktest.New(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	s := staff.NewService(d, c.Now)
	s.Params = cheap
	return &env{d: d, s: s, clock: c}
}

func (e *env) create(t *testing.T, email string, role staff.Role) staff.Member {
	t.Helper()
	m, err := e.s.Create(bg(), email, "Ada Lovelace", role, password)
	if err != nil {
		t.Fatalf("Create(%s, %s): %v", email, role, err)
	}
	return m
}

func TestCreate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := bg()
		m, err := e.s.Create(ctx, "  Ada@Example.com ", "  Ada Lovelace ", staff.RoleManager, password)
		if err != nil {
			t.Fatal(err)
		}
		want := staff.Member{ID: m.ID, Email: "Ada@Example.com", Name: "Ada Lovelace", Role: staff.RoleManager, CreatedAt: e.clock.Now()}
		if m != want || m.ID == 0 {
			t.Errorf("Create = %+v, want %+v", m, want)
		}
		if got, err := e.s.Get(ctx, m.ID); err != nil || got != want {
			t.Errorf("Get = %+v, %v", got, err)
		}
		for _, dup := range []string{"ada@example.com", "ADA@EXAMPLE.COM", " Ada@Example.com"} {
			if _, err := e.s.Create(ctx, dup, "Other", staff.RoleViewer, password); !errors.Is(err, staff.ErrEmailTaken) {
				t.Errorf("Create(%q) = %v, want ErrEmailTaken", dup, err)
			}
		}
		bad := []struct {
			email, name string
			role        staff.Role
			want        error
		}{
			{"not an address", "Bob", staff.RoleViewer, staff.ErrInvalidEmail},
			{"Bob <bob@example.com>", "Bob", staff.RoleViewer, staff.ErrInvalidEmail},
			{"", "Bob", staff.RoleViewer, staff.ErrInvalidEmail},
			{strings.Repeat("b", 250) + "@example.com", "Bob", staff.RoleViewer, staff.ErrInvalidEmail},
			{"bob@example.com", "", staff.RoleViewer, staff.ErrInvalidName},
			{"bob@example.com", "   ", staff.RoleViewer, staff.ErrInvalidName},
			{"bob@example.com", strings.Repeat("é", 101), staff.RoleViewer, staff.ErrInvalidName},
			{"bob@example.com", "Bob\nAdmin", staff.RoleViewer, staff.ErrInvalidName},
			{"bob@example.com", "Bob", "admin", staff.ErrInvalidRole},
			{"bob@example.com", "Bob", "", staff.ErrInvalidRole},
		}
		for _, b := range bad {
			if _, err := e.s.Create(ctx, b.email, b.name, b.role, password); !errors.Is(err, b.want) {
				t.Errorf("Create(%.30q, %.30q, %q) = %v, want %v", b.email, b.name, b.role, err, b.want)
			}
		}
		if _, err := e.s.Create(ctx, "bob@example.com", strings.Repeat("é", 100), staff.RoleViewer, password); err != nil {
			t.Errorf("a name of 100 characters is refused: %v", err)
		}
		list, err := e.s.List(ctx)
		if err != nil || len(list) != 2 || list[0] != want || list[1].Email != "bob@example.com" {
			t.Errorf("List = %+v, %v", list, err)
		}
	})
}

func TestPasswordLength(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := bg()
		for i, pw := range []string{strings.Repeat("p", 12), strings.Repeat("🔑", 12), strings.Repeat("p", 128), strings.Repeat("🔑", 128)} {
			email := string(rune('a'+i)) + "@example.com"
			if _, err := e.s.Create(ctx, email, "Ok", staff.RoleViewer, pw); err != nil {
				t.Errorf("password of %d bytes refused: %v", len(pw), err)
			}
			if _, err := e.s.Authenticate(ctx, email, pw); err != nil {
				t.Errorf("password of %d bytes does not sign in: %v", len(pw), err)
			}
		}
		// Hashing fails under these parameters, so a password refused for
		// its length shows it was refused before any hashing.
		e.s.Params = customer.Params{}
		for _, pw := range []string{"", strings.Repeat("p", 11), strings.Repeat("🔑", 11), "12345678",
			strings.Repeat("p", 129), strings.Repeat("🔑", 129), strings.Repeat("x", 1<<20)} {
			if _, err := e.s.Create(ctx, "bad@example.com", "Bad", staff.RoleViewer, pw); !errors.Is(err, staff.ErrPasswordLength) {
				t.Errorf("password of %d bytes: %v, want ErrPasswordLength", len(pw), err)
			}
		}
		if _, err := e.s.Create(ctx, "bad@example.com", "Bad", staff.RoleViewer, strings.Repeat("p", 12)); err == nil || errors.Is(err, staff.ErrPasswordLength) {
			t.Errorf("the unusable parameters did not fail hashing: %v", err)
		}
	})
}

func TestAuthenticate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := bg()
		owner := e.create(t, "owner@example.com", staff.RoleOwner)
		m := e.create(t, "Ada@Example.com", staff.RoleSupport)
		for _, addr := range []string{"Ada@Example.com", "ada@example.com", " ADA@EXAMPLE.COM "} {
			if got, err := e.s.Authenticate(ctx, addr, password); err != nil || got != m {
				t.Errorf("Authenticate(%q) = %+v, %v", addr, got, err)
			}
		}
		wrong := []struct{ email, password string }{
			{"ada@example.com", password + "!"},
			{"ada@example.com", strings.ToUpper(password)},
			{"ada@example.com", ""},
			{"ada@example.com", strings.Repeat("x", 1<<20)},
			{"nobody@example.com", password},
			{"", password},
			{strings.Repeat("a", 1<<20) + "@example.com", password},
		}
		check := func(what string) {
			t.Helper()
			for _, w := range wrong {
				got, err := e.s.Authenticate(ctx, w.email, w.password)
				// The very same error, so that nothing tells the cases apart.
				if err != staff.ErrInvalidCredentials || got != (staff.Member{}) {
					t.Errorf("%s: Authenticate(%.30q, %.20q) = %+v, %v", what, w.email, w.password, got, err)
				}
			}
		}
		check("enabled")
		if err := e.s.Disable(ctx, m.ID); err != nil {
			t.Fatal(err)
		}
		wrong = append(wrong, struct{ email, password string }{"ada@example.com", password})
		check("disabled")
		if _, err := e.s.Authenticate(ctx, owner.Email, password); err != nil {
			t.Errorf("the owner cannot sign in: %v", err)
		}
	})
}

// TestAuthenticateTiming checks that an unknown address and a disabled
// member cost the same argon2id work as a wrong password, so that the time
// of the answer tells nothing.
func TestAuthenticateTiming(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := bg()
		e.s.Params = customer.Params{Memory: 8 * 1024, Time: 4, Threads: 1}
		e.create(t, "owner@example.com", staff.RoleOwner)
		gone := e.create(t, "gone@example.com", staff.RoleViewer)
		if err := e.s.Disable(ctx, gone.ID); err != nil {
			t.Fatal(err)
		}
		fastest := func(email, pw string) time.Duration {
			best := time.Hour
			for range 5 {
				start := time.Now()
				if _, err := e.s.Authenticate(ctx, email, pw); !errors.Is(err, staff.ErrInvalidCredentials) {
					t.Fatal(err)
				}
				best = min(best, time.Since(start))
			}
			return best
		}
		wrong := fastest("owner@example.com", "wrong password!")
		for _, c := range []struct{ what, email, pw string }{
			{"unknown address", "nobody@example.com", password},
			{"disabled member", "gone@example.com", password},
		} {
			// Without the argon2id work these answer a hundred times sooner.
			if got := fastest(c.email, c.pw); got < wrong/4 {
				t.Errorf("%s answered in %v, a wrong password in %v", c.what, got, wrong)
			}
		}
	})
}

func TestRehashOnSignIn(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := bg()
		m := e.create(t, "ada@example.com", staff.RoleViewer)
		stronger := customer.Params{Memory: 128, Time: 2, Threads: 1}
		e.s.Params = stronger
		if _, err := e.s.Authenticate(ctx, m.Email, password); err != nil {
			t.Fatal(err)
		}
		var hash string
		if err := d.Read.QueryRowContext(ctx, "SELECT password_hash FROM staff WHERE id = $1", m.ID).Scan(&hash); err != nil {
			t.Fatal(err)
		}
		if customer.NeedsRehash(hash, stronger) {
			t.Errorf("hash %s not upgraded to %+v", hash, stronger)
		}
		if _, err := e.s.Authenticate(ctx, m.Email, password); err != nil {
			t.Errorf("the upgraded hash does not sign in: %v", err)
		}
	})
}

func TestSetRoleAndDisable(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := bg()
		a := e.create(t, "a@example.com", staff.RoleOwner)
		b := e.create(t, "b@example.com", staff.RoleManager)

		// The only owner: neither demoted nor disabled.
		for _, r := range []staff.Role{staff.RoleManager, staff.RoleSupport, staff.RoleViewer} {
			if err := e.s.SetRole(ctx, a.ID, r); !errors.Is(err, staff.ErrLastOwner) {
				t.Errorf("demoting the last owner to %s: %v", r, err)
			}
		}
		if err := e.s.Disable(ctx, a.ID); !errors.Is(err, staff.ErrLastOwner) {
			t.Errorf("disabling the last owner: %v", err)
		}
		if err := e.s.SetRole(ctx, a.ID, staff.RoleOwner); err != nil {
			t.Errorf("an owner made owner again: %v", err)
		}
		if got, _ := e.s.Get(ctx, a.ID); got.Role != staff.RoleOwner || got.Disabled {
			t.Fatalf("the last owner changed: %+v", got)
		}

		// With a second owner, the first may go; then the second is last.
		if err := e.s.SetRole(ctx, b.ID, staff.RoleOwner); err != nil {
			t.Fatal(err)
		}
		if err := e.s.SetRole(ctx, a.ID, staff.RoleViewer); err != nil {
			t.Fatal(err)
		}
		if err := e.s.Disable(ctx, b.ID); !errors.Is(err, staff.ErrLastOwner) {
			t.Errorf("disabling the new last owner: %v", err)
		}
		// A disabled owner does not count as one.
		if err := e.s.SetRole(ctx, a.ID, staff.RoleOwner); err != nil {
			t.Fatal(err)
		}
		if err := e.s.Disable(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.s.SetRole(ctx, b.ID, staff.RoleManager); !errors.Is(err, staff.ErrLastOwner) {
			t.Errorf("demoting the only enabled owner beside a disabled one: %v", err)
		}
		if err := e.s.Disable(ctx, a.ID); err != nil {
			t.Errorf("disabling twice: %v", err)
		}

		if err := e.s.SetRole(ctx, b.ID, "admin"); !errors.Is(err, staff.ErrInvalidRole) {
			t.Errorf("SetRole(admin) = %v", err)
		}
		if err := e.s.SetRole(ctx, 9999, staff.RoleViewer); !errors.Is(err, staff.ErrNotFound) {
			t.Errorf("SetRole of no one = %v", err)
		}
		if err := e.s.Disable(ctx, 9999); !errors.Is(err, staff.ErrNotFound) {
			t.Errorf("Disable of no one = %v", err)
		}
		list, err := e.s.List(ctx)
		if err != nil || len(list) != 2 || !list[0].Disabled || list[1].Disabled || list[1].Role != staff.RoleOwner {
			t.Errorf("List = %+v, %v", list, err)
		}
	})
}

// TestLastOwnerConcurrent demotes or disables two owners from many
// goroutines at once: each call on its own would be allowed, since the
// other owner remains, and only the check inside the transaction, under a
// lock, keeps them from both succeeding.
func TestLastOwnerConcurrent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := bg()
		a := e.create(t, "a@example.com", staff.RoleOwner)
		b := e.create(t, "b@example.com", staff.RoleOwner)
		ids := []int64{a.ID, b.ID}
		for round := range 10 {
			for _, id := range ids {
				if _, err := d.Exec(ctx, "UPDATE staff SET role = 'owner', disabled_at = NULL WHERE id = $1", id); err != nil {
					t.Fatal(err)
				}
			}
			start := make(chan struct{})
			var wg sync.WaitGroup
			errs := make([]error, 10)
			for i := range errs {
				wg.Go(func() {
					<-start
					id := ids[i%2]
					if round%2 == 0 {
						errs[i] = e.s.SetRole(ctx, id, staff.RoleManager)
					} else {
						errs[i] = e.s.Disable(ctx, id)
					}
				})
			}
			close(start)
			wg.Wait()
			refused := 0
			for _, err := range errs {
				switch {
				case errors.Is(err, staff.ErrLastOwner):
					refused++
				case err != nil:
					t.Fatalf("round %d: %v", round, err)
				}
			}
			var owners int
			if err := d.Write.QueryRowContext(ctx, "SELECT count(*) FROM staff WHERE role = 'owner' AND disabled_at IS NULL").Scan(&owners); err != nil {
				t.Fatal(err)
			}
			// Whichever went first, the other owner stayed, and every
			// attempt on it was refused.
			if owners != 1 || refused != 5 {
				t.Fatalf("round %d: %d enabled owners, %d attempts refused; want 1 and 5", round, owners, refused)
			}
		}
	})
}

func TestChangePassword(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := bg()
		m := e.create(t, "ada@example.com", staff.RoleManager)
		here, _ := e.s.NewSession(ctx, m.ID)
		there, _ := e.s.NewSession(ctx, m.ID)
		const next = "a new and longer passphrase"
		if err := e.s.ChangePassword(ctx, m.ID, "not the password", next, here); !errors.Is(err, staff.ErrInvalidCredentials) {
			t.Fatalf("wrong current password: %v", err)
		}
		if err := e.s.ChangePassword(ctx, m.ID, password, "short", here); !errors.Is(err, staff.ErrPasswordLength) {
			t.Fatalf("short new password: %v", err)
		}
		if err := e.s.ChangePassword(ctx, m.ID, password, strings.Repeat("x", 129), here); !errors.Is(err, staff.ErrPasswordLength) {
			t.Fatalf("long new password: %v", err)
		}
		// Nothing changed so far: the old password and both sessions work.
		if _, err := e.s.Authenticate(ctx, "ada@example.com", password); err != nil {
			t.Fatalf("the old password after refused changes: %v", err)
		}
		if _, err := e.s.Session(ctx, there); err != nil {
			t.Fatalf("the other session after refused changes: %v", err)
		}
		if err := e.s.ChangePassword(ctx, m.ID, password, next, here); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.Authenticate(ctx, "ada@example.com", password); !errors.Is(err, staff.ErrInvalidCredentials) {
			t.Fatalf("the old password after the change: %v", err)
		}
		if _, err := e.s.Authenticate(ctx, "ada@example.com", next); err != nil {
			t.Fatalf("the new password: %v", err)
		}
		if _, err := e.s.Session(ctx, here); err != nil {
			t.Fatalf("the session that made the change ended: %v", err)
		}
		if _, err := e.s.Session(ctx, there); !errors.Is(err, staff.ErrNoSession) {
			t.Fatalf("the other session is still open: %v", err)
		}
		// The old password does not change it again (a second tab).
		if err := e.s.ChangePassword(ctx, m.ID, password, "yet another passphrase", ""); !errors.Is(err, staff.ErrInvalidCredentials) {
			t.Fatalf("change with the old password: %v", err)
		}
		if err := e.s.Disable(ctx, m.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.s.ChangePassword(ctx, m.ID, next, "yet another passphrase", ""); !errors.Is(err, staff.ErrInvalidCredentials) {
			t.Fatalf("a disabled member changes their password: %v", err)
		}
		entries, _ := audit.List(ctx, d.Reader(), audit.Filter{})
		n := 0
		for _, e := range entries {
			if e.Action == "staff.change_password" {
				n++
				if len(e.Before) != 0 || len(e.After) != 0 {
					t.Errorf("the password change's entry holds %s / %s", e.Before, e.After)
				}
			}
		}
		if n != 1 {
			t.Fatalf("%d password changes in the audit log, want 1", n)
		}
	})
}
