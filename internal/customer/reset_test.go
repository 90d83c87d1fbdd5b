package customer_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mistore/internal/customer"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/notify"
)

func TestPasswordReset(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		c := e.register(t, "Ada@Example.com", "Ada")
		sess, err := e.s.NewSession(ctx, c.ID, customer.SessionBrowser)
		if err != nil {
			t.Fatal(err)
		}

		if err := e.s.RequestPasswordReset(ctx, "  ada@EXAMPLE.com "); err != nil {
			t.Fatal(err)
		}
		list := e.emailsOf(t, notify.KindPasswordReset)
		if len(list) != 1 || list[0].To != "Ada@Example.com" {
			t.Fatalf("reset emails %+v", list)
		}
		tok := e.lastToken(t, notify.KindPasswordReset, "Ada@Example.com")
		if !strings.Contains(list[0].HTML, customer.ResetPath+"?token="+tok) || strings.Contains(list[0].Key, tok) {
			t.Errorf("reset email: key %q, HTML:\n%s", list[0].Key, list[0].HTML)
		}
		// Only the token's hash is stored.
		var stored string
		if err := d.Read.QueryRow("SELECT token_hash FROM password_resets").Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if stored != sha(tok) {
			t.Errorf("stored %q, want the SHA-256 of the token", stored)
		}

		// A new password that is too short leaves the link usable.
		err = e.s.ResetPassword(ctx, tok, "short")
		fieldError(t, "short password", err, "password", customer.ErrPasswordLength)

		if err := e.s.ResetPassword(ctx, tok, "a brand new password"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.Authenticate(ctx, "ada@example.com", "a brand new password"); err != nil {
			t.Errorf("new password: %v", err)
		}
		if _, err := e.s.Authenticate(ctx, "ada@example.com", password); !errors.Is(err, customer.ErrInvalidCredentials) {
			t.Errorf("old password: %v", err)
		}
		if _, _, err := e.s.Session(ctx, sess); !errors.Is(err, customer.ErrNoSession) {
			t.Errorf("a session survived the reset: %v", err)
		}
		if n := len(e.emailsOf(t, notify.KindAccountChanged)); n != 1 {
			t.Errorf("%d change notices", n)
		}

		// Single use.
		if err := e.s.ResetPassword(ctx, tok, "another new password"); !errors.Is(err, customer.ErrInvalidToken) {
			t.Errorf("second use: %v", err)
		}
		if _, err := e.s.Authenticate(ctx, "ada@example.com", "a brand new password"); err != nil {
			t.Errorf("the second use changed the password: %v", err)
		}
		for _, bad := range []string{"", "garbage", stored, tok[:42], strings.Repeat("A", 43)} {
			if err := e.s.ResetPassword(ctx, bad, "another new password"); !errors.Is(err, customer.ErrInvalidToken) {
				t.Errorf("ResetPassword(%q) = %v", bad, err)
			}
		}
	})
}

func TestPasswordResetExpires(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		e.register(t, "ada@example.com", "Ada")
		request := func() string {
			t.Helper()
			if err := e.s.RequestPasswordReset(ctx, "ada@example.com"); err != nil {
				t.Fatal(err)
			}
			return e.lastToken(t, notify.KindPasswordReset, "ada@example.com")
		}
		tok := request()
		e.clock.Add(customer.ResetTTL)
		if err := e.s.ResetPassword(ctx, tok, "a brand new password"); !errors.Is(err, customer.ErrInvalidToken) {
			t.Errorf("expired link: %v", err)
		}

		// Asking again voids the link sent before.
		first := request()
		e.clock.Add(time.Minute)
		second := request()
		if err := e.s.ResetPassword(ctx, first, "a brand new password"); !errors.Is(err, customer.ErrInvalidToken) {
			t.Errorf("superseded link: %v", err)
		}
		e.clock.Add(customer.ResetTTL - time.Second)
		if err := e.s.ResetPassword(ctx, second, "a brand new password"); err != nil {
			t.Errorf("link a second before it expires: %v", err)
		}
	})
}

func TestPasswordResetUnknownEmail(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		e.register(t, "ada@example.com", "Ada")
		before := len(e.emails(t))
		for _, addr := range []string{"nobody@example.com", "ada@example.org", "ada+x@example.com"} {
			if err := e.s.RequestPasswordReset(ctx, addr); err != nil {
				t.Errorf("RequestPasswordReset(%q) = %v, want nil", addr, err)
			}
		}
		if n := len(e.emails(t)); n != before {
			t.Errorf("%d emails queued for unknown addresses", n-before)
		}
		if n := e.count(t, "SELECT count(*) FROM password_resets"); n != 0 {
			t.Errorf("%d reset links stored for unknown addresses", n)
		}
		err := e.s.RequestPasswordReset(ctx, "not an address")
		fieldError(t, "malformed address", err, "email", customer.ErrInvalidEmail)
	})
}

// TestConcurrentResets checks that of many concurrent uses of one reset
// link exactly one sets the password.
func TestConcurrentResets(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		e.register(t, "ada@example.com", "Ada")
		if err := e.s.RequestPasswordReset(ctx, "ada@example.com"); err != nil {
			t.Fatal(err)
		}
		tok := e.lastToken(t, notify.KindPasswordReset, "ada@example.com")

		const n = 20
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				errs[i] = e.s.ResetPassword(ctx, tok, "new password number "+strconv.Itoa(i))
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("attempts %d and %d both succeeded", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, customer.ErrInvalidToken):
				t.Errorf("attempt %d: %v", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("no attempt succeeded")
		}
		if _, err := e.s.Authenticate(ctx, "ada@example.com", "new password number "+strconv.Itoa(winner)); err != nil {
			t.Errorf("the winner's password: %v", err)
		}
		if n := len(e.emailsOf(t, notify.KindAccountChanged)); n != 1 {
			t.Errorf("%d change notices", n)
		}
	})
}

func TestVerifyEmail(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		c := e.register(t, "ada@example.com", "Ada")
		tok := e.lastToken(t, notify.KindEmailVerification, "ada@example.com")
		if n := e.count(t, "SELECT count(*) FROM email_verifications WHERE token_hash = $1", sha(tok)); n != 1 {
			t.Errorf("the token's hash is not what is stored (%d rows)", n)
		}
		if _, err := e.s.VerifyEmail(ctx, sha(tok)); !errors.Is(err, customer.ErrInvalidToken) {
			t.Errorf("the stored hash as a token: %v", err)
		}
		e.clock.Add(customer.VerificationTTL - time.Second)
		v, err := e.s.VerifyEmail(ctx, tok)
		if err != nil || !v.EmailVerified || v.ID != c.ID {
			t.Fatalf("VerifyEmail = %+v, %v", v, err)
		}
		if got, _ := e.s.Get(ctx, c.ID); !got.EmailVerified {
			t.Error("Get says unverified")
		}
		if _, err := e.s.VerifyEmail(ctx, tok); !errors.Is(err, customer.ErrInvalidToken) {
			t.Errorf("second use: %v", err)
		}
		// A verified address gets no more links.
		before := len(e.emails(t))
		if err := e.s.SendVerification(ctx, c.ID); err != nil || len(e.emails(t)) != before {
			t.Errorf("SendVerification to a verified address: %v", err)
		}

		// Expired.
		b := e.register(t, "bob@example.com", "Bob")
		old := e.lastToken(t, notify.KindEmailVerification, "bob@example.com")
		e.clock.Add(customer.VerificationTTL)
		if _, err := e.s.VerifyEmail(ctx, old); !errors.Is(err, customer.ErrInvalidToken) {
			t.Errorf("expired link: %v", err)
		}
		if err := e.s.SendVerification(ctx, b.ID); err != nil {
			t.Fatal(err)
		}
		fresh := e.lastToken(t, notify.KindEmailVerification, "bob@example.com")
		if fresh == old {
			t.Fatal("the new link is the old one")
		}

		// A link verifies the address it was sent to, not one the
		// account moved to since.
		if err := e.s.ChangeEmail(ctx, b.ID, password, "bob@new.example"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.VerifyEmail(ctx, fresh); !errors.Is(err, customer.ErrInvalidToken) {
			t.Errorf("link to the old address: %v", err)
		}
		if got, _ := e.s.Get(ctx, b.ID); got.EmailVerified {
			t.Error("the new address is verified by a link to the old one")
		}
	})
}
