package customer_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"mistore/internal/clocktest"
	"mistore/internal/customer"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/notify"
)

// cheap are argon2id parameters that make tests fast; the format and the
// production defaults are tested on their own.
var cheap = customer.Params{Memory: 64, Time: 1, Threads: 1}

const (
	password = "correct horse battery staple"
	base     = "https://shop.example"
)

func newClock() *clocktest.Clock {
	return clocktest.New(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
}

// env is a service on a fresh database, with an outbox to read its email
// from.
type env struct {
	d     *db.DB
	s     *customer.Service
	clock *clocktest.Clock
}

func newEnv(t *testing.T, d *db.DB) *env {
	t.Helper()
	c := newClock()
	s := customer.NewService(d, notify.NewMailer(d, nil, "Mistore <shop@mistore.test>", nil), base+"/", c.Now)
	s.Params = cheap
	return &env{d: d, s: s, clock: c}
}

func (e *env) register(t *testing.T, email, name string) customer.Customer {
	t.Helper()
	c, err := e.s.Register(context.Background(), email, password, name)
	if err != nil {
		t.Fatalf("Register(%q): %v", email, err)
	}
	return c
}

// verified registers an account and verifies its address.
func (e *env) verified(t *testing.T, email, name string) customer.Customer {
	t.Helper()
	e.register(t, email, name)
	tok := e.lastToken(t, notify.KindEmailVerification, email)
	v, err := e.s.VerifyEmail(context.Background(), tok)
	if err != nil || !v.EmailVerified {
		t.Fatalf("VerifyEmail = %+v, %v", v, err)
	}
	return v
}

type email struct {
	Kind, To, Text, HTML, Key string
}

// emails returns the outbox, oldest first.
func (e *env) emails(t *testing.T) []email {
	t.Helper()
	rows, err := e.d.Read.Query("SELECT kind, to_address, text_body, html_body, unique_key FROM emails ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []email
	for rows.Next() {
		var m email
		if err := rows.Scan(&m.Kind, &m.To, &m.Text, &m.HTML, &m.Key); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func (e *env) emailsOf(t *testing.T, kind string) []email {
	t.Helper()
	var out []email
	for _, m := range e.emails(t) {
		if m.Kind == kind {
			out = append(out, m)
		}
	}
	return out
}

var linkRE = regexp.MustCompile(`https://shop\.example/([a-z]+)(/account/[a-z]+)\?token=([A-Za-z0-9_-]+)\n`)

// lastToken returns the token of the newest email of kind to address to,
// checking that its link leads where it should.
func (e *env) lastToken(t *testing.T, kind, to string) string {
	t.Helper()
	list := e.emailsOf(t, kind)
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].To != to {
			continue
		}
		m := linkRE.FindStringSubmatch(list[i].Text)
		if m == nil {
			t.Fatalf("%s email without a link:\n%s", kind, list[i].Text)
		}
		want := map[string]string{notify.KindPasswordReset: customer.ResetPath, notify.KindEmailVerification: customer.VerifyPath}[kind]
		// Without a storefront in the context (as from the API), the
		// links open the default market's pages.
		if m[1] != customer.DefaultMarket || m[2] != want {
			t.Errorf("%s link leads to /%s%s, want /%s%s", kind, m[1], m[2], customer.DefaultMarket, want)
		}
		return m[3]
	}
	t.Fatalf("no %s email to %s in %+v", kind, to, e.emails(t))
	return ""
}

func (e *env) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := e.d.Read.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// fieldError checks that err is a *FieldError on field that unwraps to
// want.
func fieldError(t *testing.T, what string, err error, field string, want error) {
	t.Helper()
	var fe *customer.FieldError
	if !errors.As(err, &fe) || fe.Field != field || !errors.Is(err, want) {
		t.Errorf("%s: error %v, want a FieldError on %s that is %v", what, err, field, want)
	}
}

func TestRegister(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		c := e.register(t, "  Ada.Lovelace@Example.com ", "Ada Lovelace")
		if c.ID == 0 || c.Email != "Ada.Lovelace@Example.com" || c.Name != "Ada Lovelace" || c.EmailVerified || !c.CreatedAt.Equal(e.clock.Now()) {
			t.Errorf("registered %+v", c)
		}
		got, err := e.s.Get(ctx, c.ID)
		if err != nil || got != c {
			t.Errorf("Get = %+v, %v; want %+v", got, err, c)
		}
		if _, err := e.s.Get(ctx, c.ID+1000); !errors.Is(err, customer.ErrNotFound) {
			t.Errorf("Get of no one: %v", err)
		}

		// The same address in another case, or padded, is taken.
		for _, dup := range []string{"ada.lovelace@example.com", "ADA.LOVELACE@EXAMPLE.COM", " Ada.Lovelace@Example.com"} {
			_, err := e.s.Register(ctx, dup, password, "Someone Else")
			fieldError(t, "duplicate "+dup, err, "email", customer.ErrEmailTaken)
		}
		if n := e.count(t, "SELECT count(*) FROM customers"); n != 1 {
			t.Errorf("%d customers after duplicates", n)
		}

		// A verification email went to the address as typed.
		list := e.emailsOf(t, notify.KindEmailVerification)
		if len(list) != 1 || list[0].To != "Ada.Lovelace@Example.com" {
			t.Fatalf("verification emails %+v", list)
		}
		if tok := e.lastToken(t, notify.KindEmailVerification, "Ada.Lovelace@Example.com"); len(tok) != 43 {
			t.Errorf("token %q", tok)
		}

		for _, bad := range []string{"", "ada", "ada@localhost", "Ada <ada@example.com>", "ada@example.com (Ada)", "a b@example.com",
			strings.Repeat("a", 250) + "@example.com"} {
			_, err := e.s.Register(ctx, bad, password, "Ada")
			fieldError(t, "email "+bad, err, "email", customer.ErrInvalidEmail)
		}
	})
}

func TestNamesKeptExactly(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		for i, name := range []string{
			"Zoë Ångström-Núñez",
			"李小龍",
			"Ada 🚀 Lovelace",
			"👩‍👩‍👧‍👦 family",     // zero-width joiners
			"Ｆｕｌｌｗｉｄｔｈ",          // not folded
			"e\u0301 decomposed", // combining accent, not normalised
			"O'Brien \"Bob\" <b>",
			strings.Repeat("名", customer.MaxNameLen),
		} {
			c := e.register(t, "n"+string(rune('a'+i))+"@example.com", "  "+name+"\t")
			got, err := e.s.Get(ctx, c.ID)
			if err != nil || got.Name != name || c.Name != name {
				t.Errorf("name %q came back as %q / %q, %v", name, c.Name, got.Name, err)
			}
		}
		for _, bad := range []string{"", "   ", "\t\n", strings.Repeat("x", customer.MaxNameLen+1), "Ada\nLovelace", "Ada\x00", "Ada\u0085Lovelace", "Ada\u2028Lovelace", "bad \xff utf8",
			strings.Repeat("x", 1<<20)} {
			_, err := e.s.Register(ctx, "bad@example.com", password, bad)
			fieldError(t, "name "+strconv.Quote(bad), err, "name", customer.ErrInvalidName)
		}
	})
}

func TestPasswordLength(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		good := []string{
			"12345678",
			"        ",                // spaces count
			"🔑🔑🔑🔑🔑🔑🔑🔑",                // 8 characters, 32 bytes
			"pässwörd",                // 8 characters, 10 bytes
			strings.Repeat("p", 128),  // the longest
			strings.Repeat("🔑", 128),  // the longest, in 512 bytes
			" leading and trailing  ", // kept as typed, not trimmed
		}
		for i, pw := range good {
			email := "good" + string(rune('a'+i)) + "@example.com"
			if _, err := e.s.Register(ctx, email, pw, "Ada"); err != nil {
				t.Errorf("password %q refused: %v", pw, err)
				continue
			}
			if _, err := e.s.Authenticate(ctx, email, pw); err != nil {
				t.Errorf("password %q does not sign in: %v", pw, err)
			}
		}
		// Not trimmed: the password without its spaces is another one.
		if _, err := e.s.Authenticate(ctx, "goodg@example.com", "leading and trailing"); !errors.Is(err, customer.ErrInvalidCredentials) {
			t.Errorf("trimmed password signs in: %v", err)
		}

		// Hashing would fail under these parameters, so a password
		// refused for its length shows it was refused before hashing.
		e.s.Params = customer.Params{}
		bad := []string{"", "1234567", "🔑🔑🔑🔑🔑🔑🔑", strings.Repeat("p", 129), strings.Repeat("🔑", 129), strings.Repeat("x", 1<<20)}
		for _, pw := range bad {
			_, err := e.s.Register(ctx, "bad@example.com", pw, "Ada")
			fieldError(t, "password of "+strconv.Itoa(len(pw))+" bytes", err, "password", customer.ErrPasswordLength)
		}
		if _, err := e.s.Register(ctx, "bad@example.com", "12345678", "Ada"); err == nil || errors.Is(err, customer.ErrPasswordLength) {
			t.Errorf("the unusable parameters did not fail hashing: %v", err)
		}
	})
}

func TestAuthenticate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		c := e.register(t, "Ada@Example.com", "Ada")

		for _, addr := range []string{"Ada@Example.com", "ada@example.com", "  ADA@EXAMPLE.COM  "} {
			got, err := e.s.Authenticate(ctx, addr, password)
			if err != nil || got != c {
				t.Errorf("Authenticate(%q) = %+v, %v", addr, got, err)
			}
		}
		wrong := []struct{ email, password string }{
			{"ada@example.com", "correct horse battery stapl"},
			{"ada@example.com", "Correct horse battery staple"},
			{"ada@example.com", ""},
			{"ada@example.com", strings.Repeat("x", 1<<20)},
			{"nobody@example.com", password},
			{"", password},
			{"not an address", password},
			{strings.Repeat("a", 1<<20) + "@example.com", password},
		}
		for _, w := range wrong {
			got, err := e.s.Authenticate(ctx, w.email, w.password)
			// The very same error, so that nothing tells the cases apart.
			if err != customer.ErrInvalidCredentials || got != (customer.Customer{}) {
				t.Errorf("Authenticate(%q, %.20q) = %+v, %v", w.email, w.password, got, err)
			}
		}
	})
}

// TestUnknownEmailTakesAsLong checks that sign-in with an address that
// has no account does the argon2id work a wrong password does, so that
// the time of the answer does not tell which addresses have accounts.
func TestUnknownEmailTakesAsLong(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		e.s.Params = customer.Params{Memory: 8 * 1024, Time: 4, Threads: 1}
		e.register(t, "ada@example.com", "Ada")
		fastest := func(email string) time.Duration {
			best := time.Hour
			for range 5 {
				start := time.Now()
				if _, err := e.s.Authenticate(ctx, email, "wrong password!"); !errors.Is(err, customer.ErrInvalidCredentials) {
					t.Fatal(err)
				}
				best = min(best, time.Since(start))
			}
			return best
		}
		known, unknown := fastest("ada@example.com"), fastest("nobody@example.com")
		// Without the dummy hash the unknown address answers a hundred
		// times sooner; with it, about as soon.
		if unknown < known/4 {
			t.Errorf("unknown address answered in %v, a wrong password in %v", unknown, known)
		}
	})
}

func TestPasswordHash(t *testing.T) {
	h, err := customer.HashPassword("päss wörd 🔑", customer.DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	format := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !format.MatchString(h) {
		t.Errorf("hash %q is not PHC argon2id with the default parameters", h)
	}
	if ok, err := customer.VerifyPassword(h, "päss wörd 🔑"); !ok || err != nil {
		t.Errorf("right password: %v, %v", ok, err)
	}
	for _, wrong := range []string{"päss wörd", "pass word 🔑", "päss wörd 🔑 ", ""} {
		if ok, err := customer.VerifyPassword(h, wrong); ok || err != nil {
			t.Errorf("wrong password %q: %v, %v", wrong, ok, err)
		}
	}
	h2, err := customer.HashPassword("päss wörd 🔑", customer.DefaultParams)
	if err != nil || h2 == h {
		t.Errorf("two hashes of one password are equal (no salt?): %v", err)
	}
	if customer.NeedsRehash(h, customer.DefaultParams) {
		t.Error("a hash under the current parameters needs rehashing")
	}

	weak, err := customer.HashPassword("secret password", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := customer.VerifyPassword(weak, "secret password"); !ok || err != nil {
		t.Errorf("parameters are not read from the hash: %v, %v", ok, err)
	}
	if !customer.NeedsRehash(weak, customer.DefaultParams) {
		t.Error("a hash under weaker parameters does not need rehashing")
	}
	for _, p := range []customer.Params{
		{Memory: 64, Time: 2, Threads: 1},
		{Memory: 128, Time: 1, Threads: 1},
		{Memory: 64, Time: 1, Threads: 2},
	} {
		if !customer.NeedsRehash(weak, p) {
			t.Errorf("raising to %+v does not ask for a rehash", p)
		}
	}
	if customer.NeedsRehash(weak, customer.Params{Memory: 32, Time: 1, Threads: 1}) {
		t.Error("lower parameters ask for a rehash")
	}

	// A hash of another password, a tampered hash, and strings that are
	// no argon2id hash at all never match.
	other, _ := customer.HashPassword("another password", cheap)
	if ok, err := customer.VerifyPassword(other, "secret password"); ok || err != nil {
		t.Errorf("another password's hash: %v, %v", ok, err)
	}
	parts := strings.Split(weak, "$")
	swapped := strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], strings.Split(other, "$")[5]}, "$")
	if ok, err := customer.VerifyPassword(swapped, "secret password"); ok || err != nil {
		t.Errorf("tampered key: %v, %v", ok, err)
	}
	for _, bad := range []string{
		"",
		"secret password",
		"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", // bcrypt
		strings.Replace(weak, "argon2id", "argon2i", 1),
		strings.Replace(weak, "v=19", "v=16", 1),
		strings.Replace(weak, "m=64", "m=0", 1),
		strings.Replace(weak, "m=64", "m=99999999", 1), // would take 95 GiB
		strings.Replace(weak, "t=1", "t=0", 1),
		strings.Replace(weak, "p=1", "p=0", 1),
		strings.Replace(weak, "m=64,t=1,p=1", "t=1,m=64,p=1", 1),
		strings.Replace(weak, "m=64", "m=-64", 1),
		weak + "$",
		weak[:len(weak)-10],
		strings.Join(parts[:5], "$"),
	} {
		ok, err := customer.VerifyPassword(bad, "secret password")
		if ok || err == nil {
			t.Errorf("VerifyPassword(%q) = %v, %v; want an error", bad, ok, err)
		}
		if !customer.NeedsRehash(bad, cheap) {
			t.Errorf("NeedsRehash(%q) = false", bad)
		}
	}
	if _, err := customer.HashPassword("x", customer.Params{}); err == nil {
		t.Error("zero parameters accepted")
	}
}

// TestRehashOnSignIn checks that a hash under weaker parameters is
// replaced at the next successful sign-in, and only then.
func TestRehashOnSignIn(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		c := e.register(t, "ada@example.com", "Ada")
		stored := func() string {
			var h string
			if err := d.Read.QueryRow("SELECT password_hash FROM customers WHERE id = $1", c.ID).Scan(&h); err != nil {
				t.Fatal(err)
			}
			return h
		}
		before := stored()
		if !strings.HasPrefix(before, "$argon2id$v=19$m=64,t=1,p=1$") {
			t.Fatalf("stored hash %q", before)
		}
		e.s.Params = customer.Params{Memory: 128, Time: 2, Threads: 1}
		if _, err := e.s.Authenticate(ctx, "ada@example.com", "wrong password"); !errors.Is(err, customer.ErrInvalidCredentials) {
			t.Fatal(err)
		}
		if stored() != before {
			t.Error("a failed sign-in rehashed the password")
		}
		if _, err := e.s.Authenticate(ctx, "ada@example.com", password); err != nil {
			t.Fatal(err)
		}
		after := stored()
		if !strings.HasPrefix(after, "$argon2id$v=19$m=128,t=2,p=1$") {
			t.Errorf("hash after sign-in %q", after)
		}
		if _, err := e.s.Authenticate(ctx, "ada@example.com", password); err != nil {
			t.Errorf("sign-in after the rehash: %v", err)
		}
		if stored() != after {
			t.Error("a current hash was rehashed again")
		}
	})
}

func TestChangePassword(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		c := e.register(t, "ada@example.com", "Ada")
		other := e.register(t, "bob@example.com", "Bob")
		var tokens []string
		for _, k := range []customer.SessionKind{customer.SessionBrowser, customer.SessionBrowser, customer.SessionAPI} {
			tok, err := e.s.NewSession(ctx, c.ID, k)
			if err != nil {
				t.Fatal(err)
			}
			tokens = append(tokens, tok)
		}
		bobs, err := e.s.NewSession(ctx, other.ID, customer.SessionBrowser)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.s.RequestPasswordReset(ctx, "ada@example.com"); err != nil {
			t.Fatal(err)
		}
		reset := e.lastToken(t, notify.KindPasswordReset, "ada@example.com")

		if err := e.s.ChangePassword(ctx, c.ID, "not my password", "a new password"); !errors.Is(err, customer.ErrInvalidCredentials) {
			t.Errorf("wrong current password: %v", err)
		}
		err = e.s.ChangePassword(ctx, c.ID, password, "short")
		fieldError(t, "short new password", err, "new_password", customer.ErrPasswordLength)
		if err := e.s.ChangePassword(ctx, c.ID+1000, password, "a new password"); !errors.Is(err, customer.ErrNotFound) {
			t.Errorf("no such customer: %v", err)
		}
		for _, tok := range tokens {
			if _, _, err := e.s.Session(ctx, tok); err != nil {
				t.Fatalf("a refused change ended a session: %v", err)
			}
		}

		if err := e.s.ChangePassword(ctx, c.ID, password, "a new password"); err != nil {
			t.Fatal(err)
		}
		for i, tok := range tokens {
			if _, _, err := e.s.Session(ctx, tok); !errors.Is(err, customer.ErrNoSession) {
				t.Errorf("session %d survived the change: %v", i, err)
			}
		}
		if _, _, err := e.s.Session(ctx, bobs); err != nil {
			t.Errorf("another customer's session ended: %v", err)
		}
		if _, err := e.s.Authenticate(ctx, "ada@example.com", password); !errors.Is(err, customer.ErrInvalidCredentials) {
			t.Errorf("old password: %v", err)
		}
		if _, err := e.s.Authenticate(ctx, "ada@example.com", "a new password"); err != nil {
			t.Errorf("new password: %v", err)
		}
		if err := e.s.ResetPassword(ctx, reset, "yet another password"); !errors.Is(err, customer.ErrInvalidToken) {
			t.Errorf("a reset link sent before the change still works: %v", err)
		}
		if n := len(e.emailsOf(t, notify.KindAccountChanged)); n != 1 {
			t.Errorf("%d change notices", n)
		}
		// The current password is the new one now.
		if err := e.s.ChangePassword(ctx, c.ID, password, "a third password"); !errors.Is(err, customer.ErrInvalidCredentials) {
			t.Errorf("change with the old password: %v", err)
		}
	})
}

func TestChangeEmail(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		c := e.verified(t, "ada@example.com", "Ada")
		e.register(t, "taken@example.com", "Someone")
		if err := e.s.ChangeEmail(ctx, c.ID, "wrong password", "ada@new.example"); !errors.Is(err, customer.ErrInvalidCredentials) {
			t.Errorf("wrong password: %v", err)
		}
		err := e.s.ChangeEmail(ctx, c.ID, password, "TAKEN@example.com")
		fieldError(t, "taken address", err, "email", customer.ErrEmailTaken)
		err = e.s.ChangeEmail(ctx, c.ID, password, "not an address")
		fieldError(t, "bad address", err, "email", customer.ErrInvalidEmail)
		if got, _ := e.s.Get(ctx, c.ID); got != c {
			t.Fatalf("refused changes changed the account: %+v", got)
		}

		// Only the letter case: still verified, nothing mailed.
		before := len(e.emails(t))
		if err := e.s.ChangeEmail(ctx, c.ID, password, "Ada@Example.com"); err != nil {
			t.Fatal(err)
		}
		if got, _ := e.s.Get(ctx, c.ID); got.Email != "Ada@Example.com" || !got.EmailVerified {
			t.Errorf("after a case change: %+v", got)
		}
		if len(e.emails(t)) != before {
			t.Error("a case change sent email")
		}

		if err := e.s.ChangeEmail(ctx, c.ID, password, " ada@new.example "); err != nil {
			t.Fatal(err)
		}
		got, _ := e.s.Get(ctx, c.ID)
		if got.Email != "ada@new.example" || got.EmailVerified {
			t.Errorf("after the change: %+v", got)
		}
		notices := e.emailsOf(t, notify.KindAccountChanged)
		if len(notices) != 1 || notices[0].To != "Ada@Example.com" {
			t.Errorf("notices %+v", notices)
		}
		if _, err := e.s.Authenticate(ctx, "ada@example.com", password); !errors.Is(err, customer.ErrInvalidCredentials) {
			t.Errorf("sign-in with the old address: %v", err)
		}
		if _, err := e.s.Authenticate(ctx, "ada@new.example", password); err != nil {
			t.Errorf("sign-in with the new address: %v", err)
		}
		// The old address is free again.
		e.register(t, "ada@example.com", "New Ada")

		tok := e.lastToken(t, notify.KindEmailVerification, "ada@new.example")
		v, err := e.s.VerifyEmail(ctx, tok)
		if err != nil || !v.EmailVerified || v.Email != "ada@new.example" {
			t.Errorf("verify the new address: %+v, %v", v, err)
		}
	})
}
