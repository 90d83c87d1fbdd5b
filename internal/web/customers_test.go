package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"mistore/internal/catalog"
	"mistore/internal/customer"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/demo"
	"mistore/internal/inventory"
	"mistore/internal/notify"
	"mistore/internal/ratelimit"
	"mistore/internal/web"
)

// accountShop is a store with accounts, served over HTTP so that cookies
// and origins are real.
type accountShop struct {
	t      *testing.T
	d      *db.DB
	url    string
	client *http.Client
}

func newAccountShop(t *testing.T, d *db.DB) *accountShop {
	t.Helper()
	ctx := context.Background()
	inv := inventory.NewService(d)
	c := catalog.NewService(d, inv, catalog.Options{})
	if _, err := demo.Seed(ctx, c); err != nil {
		t.Fatal(err)
	}
	var handler http.Handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	mailer := notify.NewMailer(d, nil, "Mistore <accounts@mistore.invalid>", nil)
	customers := customer.NewService(d, mailer, ts.URL, nil)
	customers.Params = customer.Params{Memory: 64, Time: 1, Threads: 1} // cheap hashes for tests
	s, err := web.New(web.Deps{DB: d, Catalog: c, Version: "test", Demo: true, Mailer: mailer,
		Customers: customers, Limits: ratelimit.New(d, nil), PublicURL: ts.URL, Theme: theme(t)})
	if err != nil {
		t.Fatal(err)
	}
	handler = s
	return &accountShop{t: t, d: d, url: ts.URL, client: &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// do sends a request; hdr is name, value pairs.
func (s *accountShop) do(method, path, body string, hdr ...string) (int, string, http.Header) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" && strings.HasPrefix(strings.TrimSpace(body), "{") {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// form posts a form as a same-origin browser does.
func (s *accountShop) form(path string, v url.Values, hdr ...string) (int, string, http.Header) {
	s.t.Helper()
	return s.do(http.MethodPost, path, v.Encode(), append([]string{"Content-Type", "application/x-www-form-urlencoded", "Origin", s.url}, hdr...)...)
}

func (s *accountShop) register(email, password, name string) {
	s.t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password, "name": name})
	if st, b, _ := s.do(http.MethodPost, "/api/v1/customers", string(body)); st != http.StatusCreated {
		s.t.Fatalf("register %s: %d %s", email, st, b)
	}
}

// signIn returns a session token and the session cookie set with it.
func (s *accountShop) signIn(email, password string, hdr ...string) (string, *http.Cookie) {
	s.t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	st, b, h := s.do(http.MethodPost, "/api/v1/sessions", string(body), hdr...)
	if st != http.StatusOK {
		s.t.Fatalf("sign in %s: %d %s", email, st, b)
	}
	var out struct {
		Token string `json:"token"`
	}
	json.Unmarshal([]byte(b), &out)
	if len(out.Token) < 22 { // 128 bits in base64
		s.t.Fatalf("token %q is too short", out.Token)
	}
	resp := http.Response{Header: h}
	for _, c := range resp.Cookies() {
		if strings.HasSuffix(c.Name, "mistore_session") {
			return out.Token, c
		}
	}
	s.t.Fatalf("sign-in set no session cookie: %v", h)
	return "", nil
}

func apiCode(t *testing.T, body string) string {
	t.Helper()
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("not an API error: %s", body)
	}
	return e.Error.Code
}

func TestAccountsRegisterAndSignIn(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newAccountShop(t, d)
		name := "Zoë 🚀 Ωmega  O'Brien"
		s.register("zoe@example.com", "correct horse battery", name)

		// The same address in other letters is the same account.
		if st, b, _ := s.do(http.MethodPost, "/api/v1/customers", `{"email":"ZOE@example.com","password":"another password","name":"Z"}`); st != 409 || apiCode(t, b) != "email_taken" {
			t.Errorf("duplicate email: %d %s", st, b)
		}
		// Mass assignment: a field the API does not take is refused, not ignored.
		for _, extra := range []string{`"role":"owner"`, `"email_verified":true`, `"price":1`} {
			st, b, _ := s.do(http.MethodPost, "/api/v1/customers", `{"email":"mal@example.com","password":"correct horse battery","name":"M",`+extra+`}`)
			if st != 400 {
				t.Errorf("register with %s: %d %s", extra, st, b)
			}
		}
		if st, _, _ := s.do(http.MethodPost, "/api/v1/sessions", `{"email":"mal@example.com","password":"correct horse battery"}`); st != 401 {
			t.Errorf("an account was made by a refused request: sign-in %d", st)
		}
		// A 1 MB password is refused without being hashed; a 10 MB body early.
		big := strings.Repeat("p", 1<<20)
		if st, b, _ := s.do(http.MethodPost, "/api/v1/customers", `{"email":"big@example.com","password":"`+big+`","name":"B"}`); st != 413 && st != 422 {
			t.Errorf("1 MB password: %d %.200s", st, b)
		}
		if st, _, _ := s.do(http.MethodPost, "/api/v1/customers", `{"email":"big@example.com","password":"`+strings.Repeat("p", 10<<20)+`","name":"B"}`); st != 413 {
			t.Errorf("10 MB body: %d, want 413", st)
		}
		if st, b, _ := s.do(http.MethodPost, "/api/v1/customers", `{"email":"short@example.com","password":"1234567","name":"S"}`); st != 422 || apiCode(t, b) != "invalid_field" {
			t.Errorf("7-character password: %d %s", st, b)
		}

		token, cookie := s.signIn("zoe@example.com", "correct horse battery")
		if !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" || cookie.Name != "mistore_session" {
			t.Errorf("session cookie over http: %+v", cookie)
		}
		st, b, h := s.do(http.MethodGet, "/api/v1/me", "", "Authorization", "Bearer "+token)
		var me struct {
			Name, Email string
		}
		json.Unmarshal([]byte(b), &me)
		if st != 200 || me.Name != name || me.Email != "zoe@example.com" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("me: %d %s %v (name must be kept exactly)", st, b, h.Get("Cache-Control"))
		}
		// The cookie works the same as the token.
		if st, _, _ := s.do(http.MethodGet, "/api/v1/me", "", "Cookie", cookie.Name+"="+cookie.Value); st != 200 {
			t.Errorf("me by cookie: %d", st)
		}
		// The token is stored only hashed.
		var clear int
		d.Read.QueryRow("SELECT count(*) FROM customer_sessions WHERE id = $1", token).Scan(&clear)
		if clear != 0 {
			t.Error("the session token is stored in clear")
		}

		// Sign-out ends the session on the server: a copy is worthless.
		if st, _, _ := s.do(http.MethodDelete, "/api/v1/sessions", "", "Authorization", "Bearer "+token); st != 204 {
			t.Errorf("sign out: %d", st)
		}
		st, b, h = s.do(http.MethodGet, "/api/v1/me", "", "Authorization", "Bearer "+token)
		if st != 401 || apiCode(t, b) != "unauthorized" || h.Get("WWW-Authenticate") == "" {
			t.Errorf("me after sign-out: %d %s %v", st, b, h)
		}
		if st, _, _ := s.do(http.MethodGet, "/api/v1/me", "", "Cookie", cookie.Name+"="+cookie.Value); st != 401 {
			t.Errorf("stolen cookie after sign-out: %d", st)
		}
		if st, _, _ := s.do(http.MethodGet, "/api/v1/me", ""); st != 401 {
			t.Errorf("me without credentials: %d", st)
		}
	})
}

// TestAccountsNoEnumeration: an unknown email and a wrong password get
// the same status and the same body; so do resets.
func TestAccountsNoEnumeration(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newAccountShop(t, d)
		s.register("known@example.com", "correct horse battery", "Known")
		st1, b1, _ := s.do(http.MethodPost, "/api/v1/sessions", `{"email":"known@example.com","password":"wrong password!"}`)
		st2, b2, _ := s.do(http.MethodPost, "/api/v1/sessions", `{"email":"nobody@example.com","password":"wrong password!"}`)
		if st1 != 401 || st1 != st2 || b1 != b2 {
			t.Errorf("wrong password %d %s vs unknown email %d %s", st1, b1, st2, b2)
		}
		r1, p1, _ := s.form("/us/account/reset", url.Values{"email": {"known@example.com"}})
		r2, p2, _ := s.form("/us/account/reset", url.Values{"email": {"nobody@example.com"}})
		strip := func(p string) string {
			return strings.NewReplacer("known@example.com", "X", "nobody@example.com", "X").Replace(p)
		}
		if r1 != 200 || r1 != r2 || !strings.Contains(p1, "Check your email") || pageMain(strip(p1)) != pageMain(strip(p2)) {
			t.Errorf("reset for a known address %d and an unknown one %d answer differently", r1, r2)
		}
		var n int
		d.Read.QueryRow("SELECT count(*) FROM emails WHERE kind = $1", notify.KindPasswordReset).Scan(&n)
		if n != 1 {
			t.Errorf("%d reset emails queued, want 1 (for the known address only)", n)
		}
	})
}

// pageMain is a page's main content, without what differs per request.
func pageMain(p string) string {
	i, j := strings.Index(p, `<main`), strings.Index(p, `</main>`)
	if i < 0 || j < i {
		return p
	}
	return p[i:j]
}

// TestAccountsSignInLimits: failures per account are limited, with 429,
// Retry-After and a clear message; success is refused too once limited.
func TestAccountsSignInLimits(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newAccountShop(t, d)
		s.register("target@example.com", "correct horse battery", "Target")
		for i := range ratelimit.SignInPerAccount.Limit {
			if st, b, _ := s.do(http.MethodPost, "/api/v1/sessions", `{"email":"target@example.com","password":"guess number `+string(rune('a'+i))+`"}`); st != 401 {
				t.Fatalf("guess %d: %d %s", i, st, b)
			}
		}
		st, b, h := s.do(http.MethodPost, "/api/v1/sessions", `{"email":"target@example.com","password":"correct horse battery"}`)
		if st != 429 || apiCode(t, b) != "rate_limited" || h.Get("Retry-After") == "" || !strings.Contains(b, "try again") {
			t.Errorf("after %d failures: %d %s Retry-After %q", ratelimit.SignInPerAccount.Limit, st, b, h.Get("Retry-After"))
		}
	})
}

// TestAccountsSessionFixation: a session id planted in the browser before
// sign-in is not the one signed in, and is ended.
func TestAccountsSessionFixation(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newAccountShop(t, d)
		s.register("attacker@example.com", "attacker password", "Attacker")
		s.register("victim@example.com", "victim password!", "Victim")
		planted, _ := s.signIn("attacker@example.com", "attacker password")
		// The victim signs in in a browser that carries the planted cookie.
		st, _, h := s.form("/us/account/sign-in", url.Values{"email": {"victim@example.com"}, "password": {"victim password!"}},
			"Cookie", "mistore_session="+planted)
		if st != http.StatusSeeOther {
			t.Fatalf("page sign-in: %d", st)
		}
		var fresh string
		for _, c := range (&http.Response{Header: h}).Cookies() {
			if c.Name == "mistore_session" {
				fresh = c.Value
			}
		}
		if fresh == "" || fresh == planted {
			t.Fatalf("sign-in kept the planted session (new %q)", fresh)
		}
		if st, _, _ := s.do(http.MethodGet, "/api/v1/me", "", "Authorization", "Bearer "+planted); st != 401 {
			t.Errorf("the planted session still works: %d", st)
		}
		_, b, _ := s.do(http.MethodGet, "/api/v1/me", "", "Authorization", "Bearer "+fresh)
		if !strings.Contains(b, "victim@example.com") {
			t.Errorf("new session is not the victim's: %s", b)
		}
	})
}

// TestAccountsCookieOverTLS: behind a proxy that says https, the cookie is
// __Host- prefixed and Secure.
func TestAccountsCookieOverTLS(t *testing.T) {
	t.Parallel()
	d := dbtest.Open(t, db.SQLite)
	s := newAccountShop(t, d)
	s.register("tls@example.com", "correct horse battery", "TLS")
	_, c := s.signIn("tls@example.com", "correct horse battery", "X-Forwarded-Proto", "https")
	if c.Name != "__Host-mistore_session" || !c.Secure || !c.HttpOnly || c.Path != "/" || c.Domain != "" {
		t.Errorf("cookie over TLS: %+v", c)
	}
}

// TestAccountsCrossSiteForms: a form posted from another site, or a
// cross-site fetch, changes nothing.
func TestAccountsCrossSiteForms(t *testing.T) {
	t.Parallel()
	d := dbtest.Open(t, db.SQLite)
	s := newAccountShop(t, d)
	s.register("csrf@example.com", "correct horse battery", "CSRF")
	token, _ := s.signIn("csrf@example.com", "correct horse battery")
	for _, hdr := range [][]string{
		{"Origin", "https://evil.example"},
		{"Sec-Fetch-Site", "cross-site"},
	} {
		st, _, _ := s.do(http.MethodPost, "/us/account/delete", url.Values{"password": {"correct horse battery"}}.Encode(),
			"Content-Type", "application/x-www-form-urlencoded", "Cookie", "mistore_session="+token, hdr[0], hdr[1])
		if st != http.StatusForbidden {
			t.Errorf("cross-site delete with %s: %d, want 403", hdr[0], st)
		}
	}
	if st, _, _ := s.do(http.MethodGet, "/api/v1/me", "", "Authorization", "Bearer "+token); st != 200 {
		t.Errorf("the account is gone after cross-site posts: %d", st)
	}
}

// TestAccountsPages: register, see the account, sign out, sign in again,
// all as a browser without JavaScript; HTML in a name is shown as text.
func TestAccountsPages(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newAccountShop(t, d)
		name := `<script>alert(1)</script> Ada`
		st, _, h := s.form("/us/account/register", url.Values{"name": {name}, "email": {"ada@example.com"}, "password": {"correct horse battery"}})
		if st != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/us/account") {
			t.Fatalf("register form: %d %v", st, h.Get("Location"))
		}
		var cookie string
		for _, c := range (&http.Response{Header: h}).Cookies() {
			if c.Name == "mistore_session" {
				cookie = c.Name + "=" + c.Value
			}
		}
		st, page, h := s.do(http.MethodGet, "/us/account", "", "Cookie", cookie)
		if st != 200 || !strings.Contains(page, "Hello, &lt;script&gt;alert(1)&lt;/script&gt; Ada") || strings.Contains(page, "<script>alert(1)") {
			t.Errorf("account page: %d, name not escaped or missing:\n%s", st, pageMain(page))
		}
		if !strings.Contains(h.Get("Cache-Control"), "no-store") {
			t.Errorf("account page Cache-Control %q", h.Get("Cache-Control"))
		}
		if st, _, _ := s.form("/us/account/sign-out", nil, "Cookie", cookie); st != http.StatusSeeOther {
			t.Errorf("sign out: %d", st)
		}
		if _, page, _ := s.do(http.MethodGet, "/us/account", "", "Cookie", cookie); !strings.Contains(page, `action="/us/account/sign-in"`) {
			t.Error("after sign-out the old cookie still opens the account")
		}
		st, page, _ = s.form("/us/account/sign-in", url.Values{"email": {"ada@example.com"}, "password": {"not the password"}})
		if st != 401 || !strings.Contains(page, "not right") {
			t.Errorf("wrong password on the page: %d", st)
		}
		if st, _, _ := s.form("/us/account/sign-in", url.Values{"email": {"ada@example.com"}, "password": {"correct horse battery"}}); st != http.StatusSeeOther {
			t.Errorf("sign in on the page: %d", st)
		}
	})
}

// TestAccountsExportAndDelete: the export holds the customer's data; a
// deletion needs the password and leaves no way back in.
func TestAccountsExportAndDelete(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newAccountShop(t, d)
		s.register("gone@example.com", "correct horse battery", "Soon Gone")
		token, _ := s.signIn("gone@example.com", "correct horse battery")
		st, b, h := s.do(http.MethodGet, "/api/v1/me/export", "", "Authorization", "Bearer "+token)
		if st != 200 || !strings.Contains(b, "gone@example.com") || !strings.Contains(b, "Soon Gone") || !strings.Contains(h.Get("Content-Disposition"), "attachment") {
			t.Errorf("export: %d %s %v", st, b, h)
		}
		if strings.Contains(b, token) {
			t.Error("the export contains the session token")
		}
		if st, _, _ := s.do(http.MethodDelete, "/api/v1/me", `{"password":"wrong password!"}`, "Authorization", "Bearer "+token); st != 401 {
			t.Errorf("delete with a wrong password: %d", st)
		}
		if st, b, _ := s.do(http.MethodDelete, "/api/v1/me", `{"password":"correct horse battery"}`, "Authorization", "Bearer "+token); st != 204 {
			t.Fatalf("delete: %d %s", st, b)
		}
		if st, _, _ := s.do(http.MethodGet, "/api/v1/me", "", "Authorization", "Bearer "+token); st != 401 {
			t.Errorf("the deleted account's session works: %d", st)
		}
		if st, _, _ := s.do(http.MethodPost, "/api/v1/sessions", `{"email":"gone@example.com","password":"correct horse battery"}`); st != 401 {
			t.Errorf("the deleted account signs in: %d", st)
		}
	})
}

// TestAccountsChangePasswordAndEmail: both ask for the password again; a
// new password ends every other session.
func TestAccountsChangePasswordAndEmail(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newAccountShop(t, d)
		s.register("change@example.com", "correct horse battery", "Change")
		other, _ := s.signIn("change@example.com", "correct horse battery")
		mine, _ := s.signIn("change@example.com", "correct horse battery")
		cookie := "mistore_session=" + mine
		if st, page, _ := s.form("/us/account/password", url.Values{"current_password": {"wrong password!"}, "new_password": {"a brand new secret"}}, "Cookie", cookie); st != 401 || !strings.Contains(page, "not right") {
			t.Errorf("change with a wrong current password: %d", st)
		}
		st, _, h := s.form("/us/account/password", url.Values{"current_password": {"correct horse battery"}, "new_password": {"a brand new secret"}}, "Cookie", cookie)
		if st != http.StatusSeeOther {
			t.Fatalf("change password: %d", st)
		}
		if st, _, _ := s.do(http.MethodGet, "/api/v1/me", "", "Authorization", "Bearer "+other); st != 401 {
			t.Errorf("another session survived the password change: %d", st)
		}
		var fresh string
		for _, c := range (&http.Response{Header: h}).Cookies() {
			if c.Name == "mistore_session" {
				fresh = c.Value
			}
		}
		if st, _, _ := s.do(http.MethodGet, "/api/v1/me", "", "Authorization", "Bearer "+fresh); st != 200 || fresh == mine {
			t.Errorf("the browser that changed it is not signed in with a new session: %d", st)
		}
		s.signIn("change@example.com", "a brand new secret")
		if st, _, _ := s.form("/us/account/email", url.Values{"new_email": {"new@example.com"}, "email_password": {"wrong password!"}}, "Cookie", "mistore_session="+fresh); st != 401 {
			t.Errorf("email change with a wrong password: %d", st)
		}
		if st, _, _ := s.form("/us/account/email", url.Values{"new_email": {"new@example.com"}, "email_password": {"a brand new secret"}}, "Cookie", "mistore_session="+fresh); st != http.StatusSeeOther {
			t.Errorf("email change: %d", st)
		}
		_, b, _ := s.do(http.MethodGet, "/api/v1/me", "", "Authorization", "Bearer "+fresh)
		if !strings.Contains(b, `"email":"new@example.com"`) || !strings.Contains(b, `"email_verified":false`) {
			t.Errorf("after the email change: %s", b)
		}
	})
}

// TestNoOpenRedirect: a market segment that decodes to "/evil.example"
// never sends the browser to another host.
func TestNoOpenRedirect(t *testing.T) {
	t.Parallel()
	d := dbtest.Open(t, db.SQLite)
	s := newAccountShop(t, d)
	for _, path := range []string{"/%2Fevil.example/account/export", "/%5Cevil.example/account/export", "/%2Fevil.example",
		"/%2F%2Fevil.example/checkout"} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			st, _, h := s.do(method, path, "", "Origin", s.url)
			loc := h.Get("Location")
			if strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, "/\\") || strings.Contains(loc, "evil.example") {
				t.Errorf("%s %s: %d Location %q leaves the store", method, path, st, loc)
			}
		}
	}
}

// TestSecurityHeaders: every answer carries the browser defences; over
// TLS, HSTS too.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	d := dbtest.Open(t, db.SQLite)
	s := newAccountShop(t, d)
	for _, path := range []string{"/us/", "/us/account", "/api/v1/markets", "/nope"} {
		_, _, h := s.do(http.MethodGet, path, "")
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %s", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP allows inline code: %q", path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", path, h)
		}
		if h.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS over plain http", path)
		}
	}
	if _, _, h := s.do(http.MethodGet, "/us/", "", "X-Forwarded-Proto", "https"); !strings.Contains(h.Get("Strict-Transport-Security"), "max-age=") {
		t.Errorf("no HSTS over https: %v", h)
	}
	if _, _, h := s.do(http.MethodGet, "/us/account/reset?token=abc", ""); h.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("the reset page lets its token leak by Referer: %q", h.Get("Referrer-Policy"))
	}
}

// TestReauthenticationIsLimited: the password asked again for a change
// counts against the same limit as signing in.
func TestReauthenticationIsLimited(t *testing.T) {
	t.Parallel()
	d := dbtest.Open(t, db.SQLite)
	s := newAccountShop(t, d)
	s.register("stolen@example.com", "correct horse battery", "Stolen")
	token, _ := s.signIn("stolen@example.com", "correct horse battery")
	cookie := "mistore_session=" + token
	for i := range ratelimit.SignInPerAccount.Limit {
		if st, _, _ := s.form("/us/account/email", url.Values{"new_email": {"thief@example.com"}, "email_password": {fmt.Sprintf("guess %d!!", i)}}, "Cookie", cookie); st != 401 {
			t.Fatalf("guess %d: %d", i, st)
		}
	}
	st, _, h := s.form("/us/account/email", url.Values{"new_email": {"thief@example.com"}, "email_password": {"correct horse battery"}}, "Cookie", cookie)
	if st != 429 || h.Get("Retry-After") == "" {
		t.Errorf("after %d wrong passwords: %d", ratelimit.SignInPerAccount.Limit, st)
	}
	_, b, _ := s.do(http.MethodGet, "/api/v1/me", "", "Authorization", "Bearer "+token)
	if !strings.Contains(b, "stolen@example.com") {
		t.Errorf("the email changed: %s", b)
	}
}

// TestAccountsCartFollowsCustomer: the guest cart of a browser that signs
// in is merged into the cart the customer left on another device.
func TestAccountsCartFollowsCustomer(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newAccountShop(t, d)
		cookieOf := func(h http.Header, name string) string {
			for _, c := range (&http.Response{Header: h}).Cookies() {
				if c.Name == name && c.MaxAge >= 0 {
					return c.Name + "=" + c.Value
				}
			}
			return ""
		}
		// Device A: a guest adds a cable, then creates an account.
		_, _, h := s.form("/us/cart/items", url.Values{"sku": {"MCAB-C1M"}, "quantity": {"1"}})
		cartA := cookieOf(h, "mistore_cart_us")
		if cartA == "" {
			t.Fatal("no cart cookie on device A")
		}
		_, _, h = s.form("/us/account/register", url.Values{"name": {"Ada"}, "email": {"ada@example.com"}, "password": {"correct horse battery"}}, "Cookie", cartA)
		if cookieOf(h, "mistore_session") == "" {
			t.Fatal("registering did not sign in")
		}
		// Device B: a guest adds two other cables, then signs in.
		_, _, h = s.form("/us/cart/items", url.Values{"sku": {"MCAB-C2M"}, "quantity": {"2"}})
		cartB := cookieOf(h, "mistore_cart_us")
		st, _, h := s.form("/us/account/sign-in", url.Values{"email": {"ada@example.com"}, "password": {"correct horse battery"}}, "Cookie", cartB)
		if st != http.StatusSeeOther {
			t.Fatalf("sign in on device B: %d", st)
		}
		merged := cookieOf(h, "mistore_cart_us")
		if merged == "" || merged != cartA {
			t.Fatalf("after signing in, device B's cart cookie is %q, want device A's cart %q", merged, cartA)
		}
		_, page, _ := s.do(http.MethodGet, "/us/cart", "", "Cookie", merged)
		if !strings.Contains(page, "MCAB-C1M") || !strings.Contains(page, "MCAB-C2M") {
			t.Errorf("the merged cart lacks a line:\n%s", pageMain(page))
		}
		var guests int
		d.Read.QueryRow("SELECT count(*) FROM carts WHERE customer_id IS NULL AND order_number IS NULL").Scan(&guests)
		if guests != 0 {
			t.Errorf("%d guest carts left after the merge", guests)
		}
	})
}

// TestSignInWithoutEmail: an empty address is a wrong sign-in like any
// other (it used to reach the per-account limiter with no account and
// answer 500), on the page and in the API.
func TestSignInWithoutEmail(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		for _, body := range []string{`{"email":"","password":"whatever-long"}`, `{"email":"   ","password":"x"}`} {
			if st, out, _ := s.do("POST", "/api/v1/sessions", body); st != http.StatusUnauthorized {
				t.Errorf("API sign-in %s: %d %s, want 401", body, st, out)
			}
		}
		b := newLangBrowser(t, s)
		for _, market := range []string{"us", "cn"} {
			res, page := b.do("POST", "/"+market+"/account/sign-in", url.Values{"email": {""}, "password": {"whatever-long"}})
			if res.StatusCode >= 500 || res.StatusCode < 400 {
				t.Errorf("%s page sign-in without email: %d", market, res.StatusCode)
			}
			if market == "us" && !strings.Contains(page, "password") {
				t.Errorf("the refused sign-in page says nothing useful")
			}
		}
	})
}

// TestAccountsSignOutOtherDevices: with the password given again, the
// customer signs out every other browser and app token; this browser stays
// signed in. A wrong password ends nothing.
func TestAccountsSignOutOtherDevices(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newAccountShop(t, d)
		s.register("away@example.com", "correct horse battery", "Away")
		other, _ := s.signIn("away@example.com", "correct horse battery")
		mine, _ := s.signIn("away@example.com", "correct horse battery")
		cookie := "mistore_session=" + mine
		if st, page, _ := s.form("/us/account/sessions/end-others", url.Values{"others_password": {"wrong password!"}}, "Cookie", cookie); st != 401 || !strings.Contains(page, "no session was ended") {
			t.Fatalf("with a wrong password: %d", st)
		}
		if st, _, _ := s.do(http.MethodGet, "/api/v1/me", "", "Authorization", "Bearer "+other); st != 200 {
			t.Fatalf("a wrong password ended another session: %d", st)
		}
		st, _, h := s.form("/us/account/sessions/end-others", url.Values{"others_password": {"correct horse battery"}}, "Cookie", cookie)
		if st != http.StatusSeeOther || h.Get("Location") != "/us/account?note=others-ended" {
			t.Fatalf("sign out others: %d %q", st, h.Get("Location"))
		}
		if st, _, _ := s.do(http.MethodGet, "/api/v1/me", "", "Authorization", "Bearer "+other); st != 401 {
			t.Errorf("the other session survived: %d", st)
		}
		if st, _, _ := s.do(http.MethodGet, "/api/v1/me", "", "Authorization", "Bearer "+mine); st != 200 {
			t.Errorf("this session ended too: %d", st)
		}
		_, page, _ := s.do(http.MethodGet, "/us/account?note=others-ended", "", "Cookie", cookie)
		if !strings.Contains(page, "signed out on every other device") {
			t.Error("the account page does not say so")
		}
		// In Chinese on the cn store.
		if _, page, _ := s.do(http.MethodGet, "/cn/account", "", "Cookie", cookie); !strings.Contains(page, "退出其他设备") {
			t.Error("the cn account page's button is not in Chinese")
		}
		if st, _, h := s.form("/us/account/sessions/end-others", url.Values{"others_password": {"correct horse battery"}}); st != http.StatusSeeOther || h.Get("Location") != "/us/account" {
			t.Errorf("signed out: %d %q", st, h.Get("Location"))
		}
	})
}
