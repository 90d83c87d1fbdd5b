package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"mistore/internal/audit"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/staff"
)

var (
	totpKeyRe      = regexp.MustCompile(`<code id="totp-key">([A-Z2-7 ]+)</code>`)
	recoveryCodeRe = regexp.MustCompile(`<li><code>([a-z2-7]{5}-[a-z2-7]{5})</code></li>`)
)

// cookieNamed returns the cookie called name that hdr sets, or nil.
func cookieNamed(hdr http.Header, name string) *http.Cookie {
	for _, c := range (&http.Response{Header: hdr}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// totpAt is the authenticator's code for key, d from now.
func totpAt(t *testing.T, key string, d time.Duration) string {
	t.Helper()
	c, err := staff.TOTPCode(key, time.Now().Add(d))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAdminTwoStepSignIn(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		owner := s.adminCookie("owner")
		email := s.adminMember("owner")

		st, body, _ := s.adminGet(owner, "/admin/account")
		if st != 200 || !strings.Contains(body, "Set up two-step sign-in") || !strings.Contains(body, `href="/admin/account"`) {
			t.Fatalf("account page: %d", st)
		}
		if st, _, hdr := s.adminForm(owner, "/admin/account/two-step", nil); st != http.StatusSeeOther || hdr.Get("Location") != "/admin/account" {
			t.Fatalf("start setup: %d %q", st, hdr.Get("Location"))
		}
		_, body, _ = s.adminGet(owner, "/admin/account")
		m := totpKeyRe.FindStringSubmatch(body)
		if m == nil || !strings.Contains(body, `href="otpauth://totp/`) {
			t.Fatalf("setup page shows no key: %s", body)
		}
		key := strings.ReplaceAll(m[1], " ", "")
		// Sign-in is unchanged until the key is confirmed.
		if on, _ := s.staff.TwoStepOn(cliCtx(), 1); on {
			t.Fatal("on before confirming")
		}
		if st, body, _ := s.adminForm(owner, "/admin/account/two-step/confirm", url.Values{"code": {"12345"}}); st != http.StatusUnprocessableEntity || !strings.Contains(body, "does not match") {
			t.Fatalf("confirm with a wrong code: %d", st)
		}
		st, body, _ = s.adminForm(owner, "/admin/account/two-step/confirm", url.Values{"code": {totpAt(t, key, 0)}})
		codes := recoveryCodeRe.FindAllStringSubmatch(body, -1)
		if st != 200 || len(codes) != staff.RecoveryCodeCount || !strings.Contains(body, `id="two-step-status">On`) {
			t.Fatalf("confirm: %d, %d recovery codes", st, len(codes))
		}

		// The confirmation sent again (a reload) changes nothing and says so.
		st, _, hdr := s.adminForm(owner, "/admin/account/two-step/confirm", url.Values{"code": {totpAt(t, key, 0)}})
		if _, body, _ := s.adminGet(owner, "/admin/account", hdr); st != http.StatusSeeOther || !strings.Contains(body, "No two-step sign-in is being set up") {
			t.Fatalf("confirm again: %d", st)
		}
		if st, _, hdr := s.adminForm(owner, "/admin/account/two-step", nil); st != http.StatusSeeOther || !strings.Contains(hdr.Get("Set-Cookie"), "already+on") {
			t.Fatalf("set up while on: %d %v", st, hdr)
		}

		// Signing in now takes the password and then a code.
		s.adminForm(owner, "/admin/sign-out", nil)
		signIn := func() *http.Cookie {
			t.Helper()
			st, _, hdr := s.adminForm(nil, "/admin/sign-in", url.Values{"email": {email}, "password": {staffPassword}, "next": {"/admin/orders"}})
			if st != http.StatusSeeOther || hdr.Get("Location") != "/admin/sign-in/code?next=%2Fadmin%2Forders" {
				t.Fatalf("password step: %d %q", st, hdr.Get("Location"))
			}
			if cookieNamed(hdr, "mistore_admin") != nil {
				t.Fatal("the password alone set a session cookie")
			}
			c := cookieNamed(hdr, "mistore_admin_code")
			if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
				t.Fatalf("second-step cookie: %+v", c)
			}
			return c
		}
		challenge := signIn()
		// The second-step cookie opens nothing else.
		if st, _, _ := s.adminGet(&http.Cookie{Name: "mistore_admin", Value: challenge.Value}, "/admin/orders"); st != http.StatusSeeOther {
			t.Fatalf("second-step token as a session: %d", st)
		}
		if st, _, hdr := s.adminGet(nil, "/admin/sign-in/code"); st != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "/admin/sign-in") {
			t.Fatalf("code page without a challenge: %d %q", st, hdr.Get("Location"))
		}
		if st, body, _ := s.adminGet(challenge, "/admin/sign-in/code?next=/admin/orders"); st != 200 || !strings.Contains(body, `autocomplete="one-time-code"`) {
			t.Fatalf("code page: %d", st)
		}
		if st, body, hdr := s.adminForm(challenge, "/admin/sign-in/code", url.Values{"code": {"000000"}, "next": {"/admin/orders"}}); st != http.StatusUnauthorized || !strings.Contains(body, "not right") || cookieNamed(hdr, "mistore_admin") != nil {
			t.Fatalf("wrong code: %d", st)
		}
		code := totpAt(t, key, staff.TOTPStep)
		st, _, hdr = s.adminForm(challenge, "/admin/sign-in/code", url.Values{"code": {code}, "next": {"/admin/orders"}})
		session := cookieNamed(hdr, "mistore_admin")
		if st != http.StatusSeeOther || hdr.Get("Location") != "/admin/orders" || session == nil {
			t.Fatalf("right code: %d %q", st, hdr.Get("Location"))
		}
		if c := cookieNamed(hdr, "mistore_admin_code"); c == nil || c.MaxAge >= 0 {
			t.Fatalf("second-step cookie not cleared: %+v", c)
		}
		if st, _, _ := s.adminGet(session, "/admin/orders"); st != 200 {
			t.Fatalf("signed in with both steps: %d", st)
		}
		// The challenge is spent, and the code too.
		if st, _, _ := s.adminForm(challenge, "/admin/sign-in/code", url.Values{"code": {code}}); st != http.StatusUnauthorized {
			t.Fatalf("a spent challenge: %d", st)
		}
		challenge = signIn()
		if st, _, hdr := s.adminForm(challenge, "/admin/sign-in/code", url.Values{"code": {code}}); st != http.StatusUnauthorized || cookieNamed(hdr, "mistore_admin") != nil {
			t.Fatalf("a used code in a new sign-in: %d", st)
		}
		// A recovery code, once.
		rc := codes[0][1]
		if st, _, hdr := s.adminForm(challenge, "/admin/sign-in/code", url.Values{"code": {strings.ToUpper(rc)}}); st != http.StatusSeeOther || cookieNamed(hdr, "mistore_admin") == nil {
			t.Fatalf("recovery code: %d", st)
		}
		challenge = signIn()
		if st, _, _ := s.adminForm(challenge, "/admin/sign-in/code", url.Values{"code": {rc}}); st != http.StatusUnauthorized {
			t.Fatalf("a used recovery code: %d", st)
		}

		// This test has made ten sign-in attempts from one address, the
		// limit per ten minutes (TestAdminTwoStepLimitsAndReset tests the
		// limits): start afresh.
		if _, err := d.Exec(cliCtx(), "DELETE FROM rate_limits"); err != nil {
			t.Fatal(err)
		}
		// Turning it off takes the password and a code.
		if st, _, _ := s.adminForm(session, "/admin/account/two-step/off", url.Values{"password": {"not the password"}, "code": {codes[1][1]}}); st != http.StatusUnauthorized {
			t.Fatalf("turn off with a wrong password: %d", st)
		}
		if on, _ := s.staff.TwoStepOn(cliCtx(), 1); !on {
			t.Fatal("a wrong password turned it off")
		}
		if st, _, hdr := s.adminForm(session, "/admin/account/two-step/off", url.Values{"password": {staffPassword}, "code": {codes[2][1]}}); st != http.StatusSeeOther {
			t.Fatalf("turn off: %d %v", st, hdr)
		}
		if _, body, _ := s.adminGet(session, "/admin/account"); !strings.Contains(body, `id="two-step-status">Off`) {
			t.Fatal("still on after turning off")
		}
		// And the password alone signs in again.
		if st, _, hdr := s.adminForm(nil, "/admin/sign-in", url.Values{"email": {email}, "password": {staffPassword}}); st != http.StatusSeeOther || cookieNamed(hdr, "mistore_admin") == nil {
			t.Fatalf("password sign-in after turning off: %d", st)
		}
		entries, err := audit.List(cliCtx(), d.Reader(), audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range entries {
			if strings.HasPrefix(e.Action, "staff.two_step") || e.Action == "staff.recovery_code_used" {
				actions = append(actions, e.Action)
			}
		}
		if got := strings.Join(actions, " "); got != "staff.two_step_off staff.recovery_code_used staff.recovery_code_used staff.two_step_on" {
			t.Fatalf("audit log: %s", got)
		}
		// The owner was told of both changes by email.
		var told int
		if err := d.Read.QueryRow("SELECT count(*) FROM emails WHERE kind = 'staff_security' AND to_address = $1", email).Scan(&told); err != nil || told != 2 {
			t.Fatalf("%d notices in the outbox, want 2 (%v)", told, err)
		}
	})
}

func TestAdminTwoStepLimitsAndReset(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		owner := s.adminCookie("owner")
		viewer := s.adminCookie("viewer")
		email := s.adminMember("manager")
		members, _ := s.staff.List(cliCtx())
		var manager staff.Member
		for _, m := range members {
			if m.Email == email {
				manager = m
			}
		}
		setup, err := s.staff.SetUpTwoStep(cliCtx(), manager.ID, "test")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.staff.ConfirmTwoStep(cliCtx(), manager.ID, totpAt(t, setup.Key, 0)); err != nil {
			t.Fatal(err)
		}
		// Five wrong codes end the sign-in, and count as five failed
		// sign-ins of the account: the right password is then refused too.
		_, _, hdr := s.adminForm(nil, "/admin/sign-in", url.Values{"email": {email}, "password": {staffPassword}})
		challenge := cookieNamed(hdr, "mistore_admin_code")
		for i := range 5 {
			if st, _, _ := s.adminForm(challenge, "/admin/sign-in/code", url.Values{"code": {"000000"}}); st != http.StatusUnauthorized {
				t.Fatalf("wrong code %d: %d", i, st)
			}
		}
		if st, body, _ := s.adminForm(challenge, "/admin/sign-in/code", url.Values{"code": {totpAt(t, setup.Key, staff.TOTPStep)}}); st == http.StatusSeeOther || !strings.Contains(body, "Sign in again") && st != http.StatusTooManyRequests {
			t.Fatalf("the right code after five wrong ones: %d", st)
		}
		if st, _, hdr := s.adminForm(nil, "/admin/sign-in", url.Values{"email": {email}, "password": {staffPassword}}); st != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" {
			t.Fatalf("password after five wrong codes: %d", st)
		}

		// An owner can turn it off for a member who lost their phone; a
		// viewer cannot, and an owner's own goes through their account page.
		if _, body, _ := s.adminGet(owner, "/admin/staff"); !strings.Contains(body, `action="/admin/staff/`+itoa(manager.ID)+`/two-step/reset"`) {
			t.Fatal("staff page offers no reset for a member with two-step sign-in")
		}
		if st, _, _ := s.adminForm(viewer, "/admin/staff/"+itoa(manager.ID)+"/two-step/reset", nil); st != http.StatusForbidden {
			t.Fatalf("viewer resets: %d", st)
		}
		if on, _ := s.staff.TwoStepOn(cliCtx(), manager.ID); !on {
			t.Fatal("a viewer's reset turned it off")
		}
		if st, _, hdr := s.adminForm(owner, "/admin/staff/"+itoa(manager.ID)+"/two-step/reset", nil); st != http.StatusSeeOther || hdr.Get("Location") != "/admin/staff" {
			t.Fatalf("owner resets: %d %q", st, hdr.Get("Location"))
		}
		if on, _ := s.staff.TwoStepOn(cliCtx(), manager.ID); on {
			t.Fatal("still on after the owner's reset")
		}
		if st, _, _ := s.adminForm(owner, "/admin/staff/999999/two-step/reset", nil); st != http.StatusSeeOther {
			t.Fatalf("reset of nobody: %d", st)
		}
		entries, _ := audit.List(cliCtx(), d.Reader(), audit.Filter{})
		if e := entries[0]; e.Action != "staff.two_step_reset" || e.Actor.Name != s.adminMember("owner") || e.Subject != "staff:"+itoa(manager.ID) {
			t.Fatalf("last audit entry: %+v", e)
		}
		// A cancelled setup never turns off what is on.
		if st, _, _ := s.adminForm(owner, "/admin/account/two-step/cancel", nil); st != http.StatusSeeOther {
			t.Fatalf("cancel with nothing set up: %d", st)
		}
	})
}

func TestAdminTwoStepRequired(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		owner := s.adminCookie("owner")
		viewer := s.adminCookie("viewer")
		key := s.adminKey("viewer")
		if st, _, hdr := s.adminForm(owner, "/admin/staff/two-step-policy", url.Values{"require": {"maybe"}}); st != http.StatusSeeOther || !strings.Contains(hdr.Get("Set-Cookie"), "Not+done") {
			t.Fatalf("require=maybe: %d %v", st, hdr)
		}
		if on, _ := s.staff.TwoStepRequired(cliCtx()); on {
			t.Fatal("require=maybe turned the requirement on")
		}
		if st, _, _ := s.adminForm(viewer, "/admin/staff/two-step-policy", url.Values{"require": {"on"}}); st != http.StatusForbidden {
			t.Fatalf("a viewer sets the policy: %d", st)
		}
		if st, _, _ := s.adminForm(owner, "/admin/staff/two-step-policy", url.Values{"require": {"on"}}); st != http.StatusSeeOther {
			t.Fatalf("require=on: %d", st)
		}
		// Members without two-step sign-in are sent to set it up, the owner
		// who required it included; nothing else is open to them.
		for name, c := range map[string]*http.Cookie{"viewer": viewer, "owner": owner} {
			st, _, hdr := s.adminGet(c, "/admin/orders")
			if st != http.StatusSeeOther || hdr.Get("Location") != "/admin/account" {
				t.Fatalf("%s opens orders: %d %q", name, st, hdr.Get("Location"))
			}
			if _, body, _ := s.adminGet(c, "/admin/account", hdr); !strings.Contains(body, "requires two-step sign-in") || !strings.Contains(body, `id="two-step-required"`) {
				t.Fatalf("%s's account page does not say why", name)
			}
		}
		if st, _, _ := s.adminForm(owner, "/admin/staff/two-step-policy", url.Values{"require": {"off"}}); st != http.StatusForbidden {
			t.Fatalf("an owner without two-step sign-in changes the policy: %d", st)
		}
		if st, body, _ := s.do("GET", "/api/v1/admin/me", "", "Cookie", "mistore_admin="+viewer.Value); st != http.StatusForbidden || apiCode(t, body) != "forbidden" || !strings.Contains(body, "/admin/account") {
			t.Fatalf("the API with a session that owes two-step sign-in: %d %s", st, body)
		}
		// API keys are not members: unaffected.
		if st, _, _ := s.do("GET", "/api/v1/admin/me", "", bearer(key)...); st != 200 {
			t.Fatalf("an API key under the requirement: %d", st)
		}
		// The viewer sets it up and goes on.
		if st, _, _ := s.adminForm(viewer, "/admin/account/two-step", nil); st != http.StatusSeeOther {
			t.Fatalf("viewer starts setup: %d", st)
		}
		_, body, _ := s.adminGet(viewer, "/admin/account")
		m := totpKeyRe.FindStringSubmatch(body)
		if m == nil {
			t.Fatal("no key on the setup page")
		}
		if st, _, _ := s.adminForm(viewer, "/admin/account/two-step/confirm", url.Values{"code": {totpAt(t, strings.ReplaceAll(m[1], " ", ""), 0)}}); st != 200 {
			t.Fatalf("viewer confirms: %d", st)
		}
		if st, _, _ := s.adminGet(viewer, "/admin/orders"); st != 200 {
			t.Fatalf("viewer with two-step sign-in on: %d", st)
		}
		if st, _, _ := s.adminGet(owner, "/admin/orders"); st != http.StatusSeeOther {
			t.Fatalf("owner still without it: %d", st)
		}
		// Each member's choice again: the owner is let through.
		if err := s.staff.SetTwoStepRequired(cliCtx(), false); err != nil {
			t.Fatal(err)
		}
		if st, _, _ := s.adminGet(owner, "/admin/orders"); st != 200 {
			t.Fatalf("owner after the requirement was lifted: %d", st)
		}
		entries, _ := audit.List(cliCtx(), d.Reader(), audit.Filter{})
		var got []string
		for _, e := range entries {
			if e.Action == "staff.require_two_step" {
				got = append(got, string(e.After))
			}
		}
		if strings.Join(got, " ") != `{"require_two_step":false} {"require_two_step":true}` {
			t.Fatalf("policy changes in the audit log: %v", got)
		}
	})
}
