package web_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"mistore/internal/audit"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/staff"
)

// staffPassword is every test member's password.
const staffPassword = "correct horse battery staple"

// cliCtx names the test as someone at the command line, as mistore staff
// create does.
func cliCtx() context.Context {
	return audit.WithActor(context.Background(), audit.Actor{Kind: audit.KindCLI, Name: "test"})
}

// adminMember makes a staff member of role, once per role and shop, and
// returns their email address.
func (s *shop) adminMember(role string) string {
	s.t.Helper()
	r, err := staff.ParseRole(role)
	if err != nil {
		s.t.Fatal(err)
	}
	email := role + "@staff.example"
	if _, err := s.staff.Create(cliCtx(), email, strings.ToUpper(role[:1])+role[1:]+" Member", r, staffPassword); err != nil && !strings.Contains(err.Error(), "already exists") {
		s.t.Fatal(err)
	}
	return email
}

// adminKey returns a new API key of role, for Authorization: Bearer.
func (s *shop) adminKey(role string) string {
	s.t.Helper()
	r, err := staff.ParseRole(role)
	if err != nil {
		s.t.Fatal(err)
	}
	key, _, err := s.staff.CreateAPIKey(cliCtx(), "test "+role, r, 0)
	if err != nil {
		s.t.Fatal(err)
	}
	return key
}

// adminCookie signs a member of role in through the sign-in page and
// returns the back-office session cookie.
func (s *shop) adminCookie(role string) *http.Cookie {
	s.t.Helper()
	email := s.adminMember(role)
	st, body, hdr := s.adminForm(nil, "/admin/sign-in", url.Values{"email": {email}, "password": {staffPassword}, "next": {"/admin/"}})
	if st != http.StatusSeeOther {
		s.t.Fatalf("staff sign-in as %s: %d %s", role, st, body)
	}
	for _, c := range (&http.Response{Header: hdr}).Cookies() {
		if c.Name == "mistore_admin" {
			return c
		}
	}
	s.t.Fatalf("staff sign-in set no session cookie: %v", hdr)
	return nil
}

// adminForm posts a form as a browser would, with cookie if not nil.
func (s *shop) adminForm(cookie *http.Cookie, path string, form url.Values) (int, string, http.Header) {
	s.t.Helper()
	req, err := http.NewRequest("POST", s.url+path, strings.NewReader(form.Encode()))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if cookie != nil {
		req.AddCookie(cookie)
	}
	return s.send(req)
}

// adminGet gets a back-office page with cookie and, if given, the
// cookies a previous answer set (the flash message after a redirect).
func (s *shop) adminGet(cookie *http.Cookie, path string, after ...http.Header) (int, string, http.Header) {
	s.t.Helper()
	req, err := http.NewRequest("GET", s.url+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	for _, h := range after {
		for _, c := range (&http.Response{Header: h}).Cookies() {
			req.AddCookie(c)
		}
	}
	return s.send(req)
}

func (s *shop) send(req *http.Request) (int, string, http.Header) {
	s.t.Helper()
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func bearer(key string) []string { return []string{"Authorization", "Bearer " + key} }

func TestAdminSignInAndGuard(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		// Not signed in: pages send to the sign-in page, keeping the way back.
		st, _, hdr := s.adminGet(nil, "/admin/audit?actor=x")
		if st != http.StatusSeeOther || hdr.Get("Location") != "/admin/sign-in?next=%2Fadmin%2Faudit%3Factor%3Dx" {
			t.Fatalf("unsigned page: %d %q", st, hdr.Get("Location"))
		}
		if st, _, _ := s.adminGet(nil, "/admin/no-such-page"); st != http.StatusSeeOther {
			t.Errorf("unsigned unknown page: %d, want the sign-in redirect", st)
		}
		// A customer's session is no staff session.
		if st, b, _ := s.do("POST", "/api/v1/customers", `{"email":"cust@example.com","password":"correct horse battery","name":"C"}`); st != 201 {
			t.Fatalf("register: %d %s", st, b)
		}
		_, b, _ := s.do("POST", "/api/v1/sessions", `{"email":"cust@example.com","password":"correct horse battery"}`)
		var session struct{ Token string }
		json.Unmarshal([]byte(b), &session)
		for _, c := range []*http.Cookie{{Name: "mistore_session", Value: session.Token}, {Name: "mistore_admin", Value: session.Token}} {
			if st, _, _ := s.adminGet(c, "/admin/orders"); st != http.StatusSeeOther {
				t.Errorf("customer session as cookie %s on a back-office page: %d", c.Name, st)
			}
			if st, _, _ := s.adminForm(c, "/admin/api-keys", url.Values{"name": {"x"}, "role": {"owner"}}); st != http.StatusUnauthorized {
				t.Errorf("customer session as cookie %s posting to the back office: %d", c.Name, st)
			}
		}
		if st, body, _ := s.adminGet(nil, "/admin/sign-in"); st != 200 || !strings.Contains(body, `action="/admin/sign-in"`) {
			t.Fatalf("sign-in page: %d", st)
		}
		// Wrong password: one answer for every reason.
		email := s.adminMember("viewer")
		st, body, _ := s.adminForm(nil, "/admin/sign-in", url.Values{"email": {email}, "password": {"wrong password!!"}})
		if st != http.StatusUnauthorized || !strings.Contains(body, "Wrong email address or password.") {
			t.Fatalf("wrong password: %d", st)
		}
		// A redirect after sign-in never leaves the back office.
		st, _, hdr = s.adminForm(nil, "/admin/sign-in", url.Values{"email": {email}, "password": {staffPassword}, "next": {"//evil.example/admin/"}})
		if st != http.StatusSeeOther || hdr.Get("Location") != "/admin/" {
			t.Fatalf("sign-in with a foreign next: %d %q", st, hdr.Get("Location"))
		}
		viewer := s.adminCookie("viewer")
		if st, body, _ := s.adminGet(viewer, "/admin/permissions"); st != 200 || !strings.Contains(body, "Viewer Member") {
			t.Fatalf("viewer on the permissions page: %d", st)
		}
		// A viewer may read the log but not manage staff.
		if st, _, _ := s.adminGet(viewer, "/admin/audit"); st != 200 {
			t.Errorf("viewer audit page: %d", st)
		}
		if st, body, _ := s.adminGet(viewer, "/admin/staff"); st != http.StatusForbidden || !strings.Contains(body, "staff.manage") {
			t.Errorf("viewer staff page: %d", st)
		}
		if st, _, _ := s.adminForm(viewer, "/admin/staff", url.Values{"email": {"x@staff.example"}, "name": {"X"}, "role": {"owner"}, "password": {staffPassword}}); st != http.StatusForbidden {
			t.Errorf("viewer adding staff: %d", st)
		}
		if st, _, _ := s.adminGet(viewer, "/admin/no-such-page"); st != http.StatusNotFound {
			t.Errorf("signed-in unknown page: %d", st)
		}
		// Signing out ends the session on the server: the old cookie is dead.
		if st, _, _ := s.adminForm(viewer, "/admin/sign-out", nil); st != http.StatusSeeOther {
			t.Fatalf("sign out: %d", st)
		}
		if st, _, _ := s.adminGet(viewer, "/admin/audit"); st != http.StatusSeeOther {
			t.Errorf("after sign-out: %d, want the sign-in redirect", st)
		}
		// A POST without a session is refused, not redirected into.
		if st, _, _ := s.adminForm(viewer, "/admin/staff", url.Values{"name": {"X"}}); st != http.StatusUnauthorized {
			t.Errorf("POST after sign-out: %d", st)
		}
	})
}

func TestAdminSignInIsLimited(t *testing.T) {
	t.Parallel()
	d := dbtest.Open(t, db.SQLite)
	s := newShop(t, d)
	email := s.adminMember("owner")
	for i := range 5 {
		if st, _, _ := s.adminForm(nil, "/admin/sign-in", url.Values{"email": {email}, "password": {"not the password"}}); st != http.StatusUnauthorized {
			t.Fatalf("try %d: %d", i, st)
		}
	}
	// The sixth try is refused before the password is checked, even the
	// right one, and says when to come back.
	st, body, hdr := s.adminForm(nil, "/admin/sign-in", url.Values{"email": {email}, "password": {staffPassword}})
	if st != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" {
		t.Fatalf("over the limit: %d %s", st, body)
	}
}

func TestAdminAPIKeysAndStaff(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		owner := s.adminKey("owner")
		viewer := s.adminKey("viewer")
		st, body, _ := s.do("GET", "/api/v1/admin/me", "", bearer(viewer)...)
		var me struct {
			Kind, Role  string
			Permissions []string
		}
		json.Unmarshal([]byte(body), &me)
		if st != 200 || me.Kind != "apikey" || me.Role != "viewer" || strings.Contains(strings.Join(me.Permissions, ","), "edit") {
			t.Fatalf("me: %d %s", st, body)
		}
		if st, body, _ := s.do("GET", "/api/v1/admin/me", "", "Authorization", "Bearer msk_forged0000000000000000000000000000000000000"); st != 401 || apiCode(t, body) != "unauthorized" {
			t.Errorf("forged key: %d %s", st, body)
		}
		// Owner makes a support member and a key; viewer may not.
		if st, body, _ := s.do("POST", "/api/v1/admin/staff", `{"email":"sam@staff.example","name":"Sam","role":"support","password":"short"}`, bearer(owner)...); st != 422 || apiCode(t, body) != "invalid_field" {
			t.Errorf("short password: %d %s", st, body)
		}
		st, body, _ = s.do("POST", "/api/v1/admin/staff", `{"email":"sam@staff.example","name":"Sam","role":"support","password":"`+staffPassword+`"}`, bearer(owner)...)
		if st != 201 {
			t.Fatalf("create staff: %d %s", st, body)
		}
		var sam staff.Member
		json.Unmarshal([]byte(body), &sam)
		// The same address again: a sentence, not the store's own words.
		if st, body, _ := s.do("POST", "/api/v1/admin/staff", `{"email":"sam@staff.example","name":"Sam","role":"support","password":"`+staffPassword+`"}`,
			bearer(owner)...); st != 409 || apiCode(t, body) != "email_taken" || !strings.Contains(body, `"message":"There is already a staff member with this email address."`) {
			t.Errorf("the same staff address twice: %d %s", st, body)
		}
		if st, _, _ := s.do("POST", "/api/v1/admin/staff", `{"email":"x@staff.example","name":"X","role":"owner","password":"`+staffPassword+`"}`, bearer(viewer)...); st != 403 {
			t.Errorf("viewer creates staff: %d", st)
		}
		st, body, _ = s.do("POST", "/api/v1/admin/api-keys", `{"name":"erp","role":"manager"}`, bearer(owner)...)
		var made struct {
			Key    string
			APIKey staff.APIKey `json:"api_key"`
		}
		json.Unmarshal([]byte(body), &made)
		if st != 201 || !strings.HasPrefix(made.Key, "msk_") {
			t.Fatalf("create key: %d %s", st, body)
		}
		if st, _, _ := s.do("GET", "/api/v1/admin/me", "", bearer(made.Key)...); st != 200 {
			t.Fatalf("new key: %d", st)
		}
		// The key is never listed.
		if _, body, _ := s.do("GET", "/api/v1/admin/api-keys", "", bearer(owner)...); strings.Contains(body, made.Key) || !strings.Contains(body, made.APIKey.Prefix) {
			t.Errorf("key list: %s", body)
		}
		if st, _, _ := s.do("DELETE", "/api/v1/admin/api-keys/"+itoa(made.APIKey.ID), "", bearer(owner)...); st != 204 {
			t.Fatalf("revoke: %d", st)
		}
		if st, _, _ := s.do("GET", "/api/v1/admin/me", "", bearer(made.Key)...); st != 401 {
			t.Errorf("revoked key: %d", st)
		}
		if st, body, _ := s.do("PATCH", "/api/v1/admin/staff/"+itoa(sam.ID), `{"role":"manager"}`, bearer(owner)...); st != 200 || !strings.Contains(body, `"role":"manager"`) {
			t.Errorf("set role: %d %s", st, body)
		}
		// Every change above is in the audit log, by the key that made it.
		st, body, _ = s.do("GET", "/api/v1/admin/audit?actor=apikey:test+owner+("+url.QueryEscape(owner[:12])+"…)", "", bearer(viewer)...)
		var log struct{ Entries []audit.Entry }
		json.Unmarshal([]byte(body), &log)
		var actions []string
		for _, e := range log.Entries {
			actions = append(actions, e.Action)
		}
		if st != 200 || strings.Join(actions, ",") != "staff.set_role,apikey.revoke,apikey.create,staff.create" {
			t.Fatalf("audit: %d %v %s", st, actions, body)
		}
		// CSV export of the same.
		st, body, hdr := s.do("GET", "/api/v1/admin/audit?format=csv&action=staff.", "", bearer(viewer)...)
		recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if st != 200 || err != nil || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") || len(recs) != 3 {
			t.Fatalf("csv: %d %v %q", st, err, body)
		}
		if st, body, _ := s.do("GET", "/api/v1/admin/audit?since=yesterday", "", bearer(viewer)...); st != 400 || apiCode(t, body) != "invalid_parameter" {
			t.Errorf("bad since: %d %s", st, body)
		}
	})
}

func TestAdminPagesManageStaffAndKeys(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		owner := s.adminCookie("owner")
		st, body, hdr := s.adminForm(owner, "/admin/staff", url.Values{"email": {"new@staff.example"}, "name": {`<script>alert(1)</script>`},
			"role": {"support"}, "password": {staffPassword}})
		if st != http.StatusSeeOther {
			t.Fatalf("add member: %d %s", st, body)
		}
		st, body, _ = s.adminGet(owner, "/admin/staff", hdr)
		if st != 200 || strings.Contains(body, "<script>alert(1)") || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Fatalf("staff page: %d, name not escaped", st)
		}
		if !strings.Contains(body, "can now sign in as support") {
			t.Error("no flash after adding a member")
		}
		st, body, _ = s.adminForm(owner, "/admin/api-keys", url.Values{"name": {"Warehouse"}, "role": {"manager"}})
		if st != http.StatusCreated || !strings.Contains(body, `id="new-key">msk_`) {
			t.Fatalf("make key: %d", st)
		}
		// The only owner cannot disable themselves.
		members, _ := s.staff.List(context.Background())
		var ownerID int64
		for _, m := range members {
			if m.Role == staff.RoleOwner {
				ownerID = m.ID
			}
		}
		st, _, hdr = s.adminForm(owner, "/admin/staff/"+itoa(ownerID)+"/disable", nil)
		if st != http.StatusSeeOther {
			t.Fatalf("disable last owner: %d", st)
		}
		if _, body, _ := s.adminGet(owner, "/admin/staff", hdr); !strings.Contains(body, "at least one enabled owner") {
			t.Error("refusal not shown")
		}
		if st, body, _ := s.adminGet(owner, "/admin/audit?action=staff."); st != 200 || !strings.Contains(body, "staff.create") || !strings.Contains(body, "owner@staff.example") {
			t.Errorf("audit page: %d", st)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
