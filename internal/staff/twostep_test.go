package staff_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"mistore/internal/audit"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/notify"
	"mistore/internal/staff"
)

// turnOnTwoStep sets two-step sign-in up for m and confirms it, returning
// the key and the recovery codes. The clock moves on a step, so that the
// code used to confirm is not the one the caller types next.
func (e *env) turnOnTwoStep(t *testing.T, m staff.Member) (string, []string) {
	t.Helper()
	ctx := bg()
	setup, err := e.s.SetUpTwoStep(ctx, m.ID, "Mistore test")
	if err != nil {
		t.Fatal(err)
	}
	codes, err := e.s.ConfirmTwoStep(ctx, m.ID, e.code(t, setup.Key))
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Add(staff.TOTPStep)
	return setup.Key, codes
}

func (e *env) code(t *testing.T, key string) string {
	t.Helper()
	c, err := staff.TOTPCode(key, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTwoStepSetUp(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := bg()
		m := e.create(t, "ada@example.com", staff.RoleOwner)
		if st, err := e.s.TwoStep(ctx, m.ID, "x"); err != nil || st.On || st.Setup != nil {
			t.Fatalf("a new member's two-step state = %+v, %v", st, err)
		}
		setup, err := e.s.SetUpTwoStep(ctx, m.ID, "Mistore shop.example")
		if err != nil {
			t.Fatal(err)
		}
		if len(setup.Key) != 32 || !strings.HasPrefix(setup.URI, "otpauth://totp/Mistore%20shop.example:ada@example.com?") ||
			!strings.Contains(setup.URI, "secret="+setup.Key) || !strings.Contains(setup.URI, "issuer=Mistore+shop.example") {
			t.Fatalf("setup = %+v", setup)
		}
		// Not on until confirmed: the page shows the same key again.
		st, err := e.s.TwoStep(ctx, m.ID, "Mistore shop.example")
		if err != nil || st.On || st.Setup == nil || *st.Setup != setup {
			t.Fatalf("state while setting up = %+v, %v", st, err)
		}
		if on, _ := e.s.TwoStepOn(ctx, m.ID); on {
			t.Fatal("on before it was confirmed")
		}
		// A wrong code does not confirm it.
		wrong := e.code(t, setup.Key)
		wrong = string('0'+(wrong[0]-'0'+1)%10) + wrong[1:]
		if _, err := e.s.ConfirmTwoStep(ctx, m.ID, wrong); !errors.Is(err, staff.ErrWrongCode) {
			t.Fatalf("confirm with a wrong code: %v", err)
		}
		// Starting again makes a new key; the old one no longer confirms.
		again, err := e.s.SetUpTwoStep(ctx, m.ID, "Mistore shop.example")
		if err != nil || again.Key == setup.Key {
			t.Fatalf("second setup = %+v, %v", again, err)
		}
		if _, err := e.s.ConfirmTwoStep(ctx, m.ID, e.code(t, setup.Key)); !errors.Is(err, staff.ErrWrongCode) {
			t.Fatalf("confirm with the replaced key's code: %v", err)
		}
		codes, err := e.s.ConfirmTwoStep(ctx, m.ID, e.code(t, again.Key))
		if err != nil || len(codes) != staff.RecoveryCodeCount {
			t.Fatalf("confirm = %v, %v", codes, err)
		}
		st, err = e.s.TwoStep(ctx, m.ID, "x")
		if err != nil || !st.On || st.Setup != nil || st.RecoveryLeft != staff.RecoveryCodeCount {
			t.Fatalf("state when on = %+v, %v", st, err)
		}
		if _, err := e.s.SetUpTwoStep(ctx, m.ID, "x"); !errors.Is(err, staff.ErrTwoStepOn) {
			t.Fatalf("set up while on: %v", err)
		}
		if _, err := e.s.ConfirmTwoStep(ctx, m.ID, e.code(t, again.Key)); !errors.Is(err, staff.ErrTwoStepNotSetUp) {
			t.Fatalf("confirm while on: %v", err)
		}
		// The recovery codes are kept only as hashes.
		var n int
		if err := d.Reader().QueryRowContext(ctx, "SELECT count(*) FROM staff_recovery_codes WHERE code_hash = $1 OR code_hash = $2",
			codes[0], strings.ReplaceAll(codes[0], "-", "")).Scan(&n); err != nil || n != 0 {
			t.Fatalf("a recovery code is stored as typed: %d, %v", n, err)
		}
		entries, err := audit.List(ctx, d.Reader(), audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if entries[0].Action != "staff.two_step_on" {
			t.Fatalf("last audit entry = %+v", entries[0])
		}
	})
}

func TestTwoStepCodes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := bg()
		m := e.create(t, "ada@example.com", staff.RoleOwner)
		key, codes := e.turnOnTwoStep(t, m)

		code := e.code(t, key)
		if err := e.s.CheckCode(ctx, m.ID, code); err != nil {
			t.Fatalf("the code of the moment: %v", err)
		}
		// Once only, even within its 30 seconds.
		if err := e.s.CheckCode(ctx, m.ID, code); !errors.Is(err, staff.ErrWrongCode) {
			t.Fatalf("the same code again: %v", err)
		}
		// Nor the previous step's, once a later one was used.
		e.clock.Add(staff.TOTPStep)
		prev, _ := staff.TOTPCode(key, e.clock.Now().Add(-staff.TOTPStep))
		if err := e.s.CheckCode(ctx, m.ID, prev); !errors.Is(err, staff.ErrWrongCode) {
			t.Fatalf("an older code: %v", err)
		}
		// A phone 30 seconds ahead is fine; two minutes ahead is not.
		ahead, _ := staff.TOTPCode(key, e.clock.Now().Add(staff.TOTPStep))
		if err := e.s.CheckCode(ctx, m.ID, ahead); err != nil {
			t.Fatalf("a code 30 s ahead: %v", err)
		}
		e.clock.Add(3 * staff.TOTPStep)
		far, _ := staff.TOTPCode(key, e.clock.Now().Add(4*staff.TOTPStep))
		if err := e.s.CheckCode(ctx, m.ID, far); !errors.Is(err, staff.ErrWrongCode) {
			t.Fatalf("a code two minutes ahead: %v", err)
		}
		// Recovery codes: each once, typed in any case and grouping.
		typed := strings.ToUpper(strings.ReplaceAll(codes[3], "-", " "))
		if err := e.s.CheckCode(ctx, m.ID, typed); err != nil {
			t.Fatalf("recovery code %q: %v", typed, err)
		}
		if err := e.s.CheckCode(ctx, m.ID, codes[3]); !errors.Is(err, staff.ErrWrongCode) {
			t.Fatalf("a used recovery code: %v", err)
		}
		if st, _ := e.s.TwoStep(ctx, m.ID, "x"); st.RecoveryLeft != staff.RecoveryCodeCount-1 {
			t.Fatalf("recovery codes left = %d", st.RecoveryLeft)
		}
		for _, bad := range []string{"", "000000x", "'; DROP TABLE staff; --", strings.Repeat("9", 4000), "abcde-fghij"} {
			if err := e.s.CheckCode(ctx, m.ID, bad); !errors.Is(err, staff.ErrWrongCode) {
				t.Fatalf("code %.20q: %v", bad, err)
			}
		}
		// New recovery codes replace the old ones.
		fresh, err := e.s.NewRecoveryCodes(ctx, m.ID)
		if err != nil || len(fresh) != staff.RecoveryCodeCount {
			t.Fatalf("NewRecoveryCodes = %v, %v", fresh, err)
		}
		if err := e.s.CheckCode(ctx, m.ID, codes[4]); !errors.Is(err, staff.ErrWrongCode) {
			t.Fatalf("a replaced recovery code: %v", err)
		}
		if err := e.s.CheckCode(ctx, m.ID, fresh[0]); err != nil {
			t.Fatalf("a new recovery code: %v", err)
		}
		// Off: no code passes, and nothing of the key is left.
		if err := e.s.TurnOffTwoStep(ctx, m.ID, "staff.two_step_off"); err != nil {
			t.Fatal(err)
		}
		if err := e.s.CheckCode(ctx, m.ID, fresh[1]); !errors.Is(err, staff.ErrWrongCode) {
			t.Fatalf("a recovery code after turning off: %v", err)
		}
		var n int
		if err := d.Reader().QueryRowContext(ctx, "SELECT (SELECT count(*) FROM staff_two_step) + (SELECT count(*) FROM staff_recovery_codes)").Scan(&n); err != nil || n != 0 {
			t.Fatalf("rows left after turning off: %d, %v", n, err)
		}
		if err := e.s.TurnOffTwoStep(ctx, m.ID, "staff.two_step_off"); err != nil {
			t.Fatalf("turning off twice: %v", err)
		}
		if err := e.s.TurnOffTwoStep(ctx, 9999, "staff.two_step_off"); !errors.Is(err, staff.ErrNotFound) {
			t.Fatalf("turning off for nobody: %v", err)
		}
	})
}

// TestSignInChangesAreToldByEmail: every change to how a member signs in
// queues a notice to their address, in the change's transaction; a
// refused change queues none.
func TestSignInChangesAreToldByEmail(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.s.Mailer = notify.NewMailer(d, nil, "Mistore <staff@mistore.invalid>", nil)
		ctx := bg()
		m := e.create(t, "ada@example.com", staff.RoleOwner)
		if err := e.s.ChangePassword(ctx, m.ID, "wrong wrong wrong", "a new and longer passphrase", ""); !errors.Is(err, staff.ErrInvalidCredentials) {
			t.Fatal(err)
		}
		if err := e.s.ChangePassword(ctx, m.ID, password, "a new and longer passphrase", ""); err != nil {
			t.Fatal(err)
		}
		e.turnOnTwoStep(t, m)
		if _, err := e.s.NewRecoveryCodes(ctx, m.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.s.TurnOffTwoStep(ctx, m.ID, "staff.two_step_off"); err != nil {
			t.Fatal(err)
		}
		e.turnOnTwoStep(t, m)
		if err := e.s.TurnOffTwoStep(ctx, m.ID, "staff.two_step_reset"); err != nil {
			t.Fatal(err)
		}
		// Off already: nothing to tell.
		if err := e.s.TurnOffTwoStep(ctx, m.ID, "staff.two_step_reset"); err != nil {
			t.Fatal(err)
		}
		var got []string
		err := db.EachRow(ctx, d.Reader(), "SELECT subject FROM emails WHERE kind = 'staff_security' AND to_address = 'ada@example.com' ORDER BY id", nil,
			func(rows *sql.Rows) error {
				var subject string
				err := rows.Scan(&subject)
				got = append(got, subject)
				return err
			})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			"Your Mistore back-office password was changed",
			"Two-step sign-in is on for your Mistore back office",
			"New recovery codes for your Mistore back office",
			"Two-step sign-in was turned off for your Mistore back office",
			"Two-step sign-in is on for your Mistore back office",
			"Two-step sign-in was turned off for your Mistore back office",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("notices:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// TestTwoStepCodeRace: one code typed in 50 sign-ins at once passes
// exactly one of them.
func TestTwoStepCodeRace(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		m := e.create(t, "ada@example.com", staff.RoleOwner)
		key, codes := e.turnOnTwoStep(t, m)
		for _, code := range []string{e.code(t, key), codes[0]} {
			var passed atomic.Int32
			var wg sync.WaitGroup
			for range 50 {
				wg.Go(func() {
					err := e.s.CheckCode(bg(), m.ID, code)
					switch {
					case err == nil:
						passed.Add(1)
					case !errors.Is(err, staff.ErrWrongCode):
						t.Errorf("CheckCode: %v", err)
					}
				})
			}
			wg.Wait()
			if n := passed.Load(); n != 1 {
				t.Fatalf("code %s passed %d times in 50 at once", code, n)
			}
		}
	})
}

func TestSignInChallenge(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background() // a sign-in has no actor yet
		m := e.create(t, "ada@example.com", staff.RoleOwner)
		key, codes := e.turnOnTwoStep(t, m)

		token, err := e.s.NewChallenge(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := e.s.Challenge(ctx, token); err != nil || got.ID != m.ID {
			t.Fatalf("Challenge = %+v, %v", got, err)
		}
		if _, err := e.s.Challenge(ctx, token+"x"); !errors.Is(err, staff.ErrNoChallenge) {
			t.Fatalf("a forged token: %v", err)
		}
		// Four wrong codes are told as wrong; the fifth ends the challenge.
		for i := 1; i <= staff.MaxChallengeFailures; i++ {
			if _, err := e.s.PassChallenge(ctx, token, "000000"); !errors.Is(err, staff.ErrWrongCode) {
				t.Fatalf("wrong code %d: %v", i, err)
			}
		}
		if _, err := e.s.PassChallenge(ctx, token, e.code(t, key)); !errors.Is(err, staff.ErrNoChallenge) {
			t.Fatalf("the right code after five wrong ones: %v", err)
		}
		// A new challenge, passed with the right code, once.
		token, _ = e.s.NewChallenge(ctx, m.ID)
		got, err := e.s.PassChallenge(ctx, token, e.code(t, key))
		if err != nil || got.ID != m.ID {
			t.Fatalf("PassChallenge = %+v, %v", got, err)
		}
		if _, err := e.s.PassChallenge(ctx, token, codes[0]); !errors.Is(err, staff.ErrNoChallenge) {
			t.Fatalf("a passed challenge again: %v", err)
		}
		// With a recovery code, logged as the member's.
		token, _ = e.s.NewChallenge(ctx, m.ID)
		if _, err := e.s.PassChallenge(ctx, token, codes[0]); err != nil {
			t.Fatalf("recovery code: %v", err)
		}
		entries, err := audit.List(ctx, d.Reader(), audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if entries[0].Action != "staff.recovery_code_used" || entries[0].Actor.ID != m.ID {
			t.Fatalf("last audit entry = %+v", entries[0])
		}
		// A challenge expires.
		token, _ = e.s.NewChallenge(ctx, m.ID)
		e.clock.Add(staff.ChallengeLifetime)
		if _, err := e.s.PassChallenge(ctx, token, e.code(t, key)); !errors.Is(err, staff.ErrNoChallenge) {
			t.Fatalf("an expired challenge: %v", err)
		}
		// Disabling the member ends it too.
		token, _ = e.s.NewChallenge(ctx, m.ID)
		other := e.create(t, "bea@example.com", staff.RoleOwner)
		_ = other
		if err := e.s.Disable(bg(), m.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.PassChallenge(ctx, token, e.code(t, key)); !errors.Is(err, staff.ErrNoChallenge) {
			t.Fatalf("a disabled member's challenge: %v", err)
		}
		if err := e.s.EndChallenge(ctx, token); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := d.Reader().QueryRowContext(ctx, "SELECT count(*) FROM staff_challenges WHERE staff_id = $1", m.ID).Scan(&n); err != nil || n != 0 {
			t.Fatalf("challenges left: %d, %v", n, err)
		}
	})
}
