package web_test

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// waitlistLink returns the token of the newest email of kind to addr.
func (s *shop) waitlistLink(kind, addr string) string {
	s.t.Helper()
	var text string
	err := s.d.Read.QueryRow(`SELECT text_body FROM emails WHERE kind = $1 AND to_address = $2 ORDER BY id DESC LIMIT 1`, kind, addr).Scan(&text)
	if err != nil {
		s.t.Fatalf("no %s email to %s: %v", kind, addr, err)
	}
	m := regexp.MustCompile(`\?t=([0-9a-f.]+)`).FindStringSubmatch(text)
	if m == nil {
		s.t.Fatalf("no link in %s", text)
	}
	return m[1]
}

func (s *shop) countRows(query string, args ...any) int {
	s.t.Helper()
	var n int
	if err := s.d.Read.QueryRow(query, args...).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

// TestWaitlistAPI holds the sign-up to its contract: 202 whether the
// address is new or not, 409 available_now, 404, 422 and 429.
func TestWaitlistAPI(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		const path = "/api/v1/markets/us/products/mistore-phone-14/waitlist"
		var first string
		for i := range 3 {
			st, body, _ := s.do("POST", path, `{"email":"ada@example.com"}`)
			if st != 202 {
				t.Fatalf("sign-up %d: %d %s", i, st, body)
			}
			if i == 0 {
				first = body
			} else if body != first {
				t.Errorf("second answer differs: %s vs %s", body, first)
			}
		}
		var ok struct{ Status, Message string }
		json.Unmarshal([]byte(first), &ok)
		if ok.Status != "accepted" || ok.Message == "" {
			t.Errorf("answer %s", first)
		}
		for _, c := range []struct {
			path, body string
			status     int
			code       string
		}{
			{"/api/v1/markets/us/products/mistore-band-8/waitlist", `{"email":"ada@example.com"}`, 409, "available_now"},
			{"/api/v1/markets/us/products/nope/waitlist", `{"email":"ada@example.com"}`, 404, "not_found"},
			{"/api/v1/markets/xx/products/mistore-phone-14/waitlist", `{"email":"ada@example.com"}`, 404, "not_found"},
			{path, `{"email":"not an address"}`, 422, "invalid_field"},
			{path, `{"email":""}`, 422, "invalid_field"},
			{path, `{"email":`, 400, "malformed_request"},
		} {
			st, body, _ := s.do("POST", c.path, c.body)
			var e struct {
				Error struct{ Code, Field, Message string }
			}
			json.Unmarshal([]byte(body), &e)
			if st != c.status || e.Error.Code != c.code {
				t.Errorf("%s %s: %d %s, want %d %s", c.path, c.body, st, body, c.status, c.code)
			}
			// A sentence for people, not the Go error.
			if strings.Contains(e.Error.Message, "waitlist:") || strings.Contains(e.Error.Message, "mistore-") {
				t.Errorf("%s %s: message %q reads like an internal error", c.path, c.body, e.Error.Message)
			}
		}
		if n := s.countRows("SELECT count(*) FROM waitlist_entries"); n != 1 {
			t.Errorf("%d entries, want 1", n)
		}
		if n := s.countRows("SELECT count(*) FROM emails WHERE kind = 'waitlist_confirm'"); n != 1 {
			t.Errorf("%d confirmation emails, want 1", n)
		}
		// Thirty sign-ups an hour from one address; the next is refused.
		for i := 7; i <= 30; i++ { // the 409 and 404s above counted too
			if st, body, _ := s.do("POST", path, `{"email":"ada@example.com"}`); st != 202 {
				t.Fatalf("sign-up %d: %d %s", i, st, body)
			}
		}
		st, body, hdr := s.do("POST", path, `{"email":"bob@example.com"}`)
		if st != 429 || !strings.Contains(body, "rate_limited") || hdr.Get("Retry-After") == "" {
			t.Errorf("31st sign-up: %d %s", st, body)
		}
	})
}

// TestWaitlistPages walks the storefront journey: the box on the page, the
// form, the confirmation link, the unsubscribe link, and forged links.
func TestWaitlistPages(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		st, page, _ := s.do("GET", "/us/products/mistore-phone-14", "")
		if st != 200 || !strings.Contains(page, "Tell me when it's available in the United States") ||
			!strings.Contains(page, `action="/us/products/mistore-phone-14/waitlist"`) {
			t.Errorf("phone page: %d, no waitlist form", st)
		}
		if _, band, _ := s.do("GET", "/us/products/mistore-band-8", ""); strings.Contains(band, "waitlist-form") {
			t.Error("the band, on sale, shows the waitlist form")
		}
		st, body, _ := s.form("/us/products/mistore-phone-14/waitlist", url.Values{"email": {"<script>x</script>"}})
		if st != 422 || !strings.Contains(body, "must be one such as") || strings.Contains(body, "<script>x") {
			t.Errorf("bad email form: %d", st)
		}
		if strings.Contains(body, "/waitlist/form") {
			t.Error("the refused form's page links to /waitlist/form, which is no page")
		}
		st, _, hdr := s.form("/us/products/mistore-phone-14/waitlist", url.Values{"email": {"ada@example.com"}})
		if st != 303 || hdr.Get("Location") != "/us/waitlist/sent?product=mistore-phone-14" {
			t.Fatalf("form: %d %v", st, hdr)
		}
		if st, body, _ := s.do("GET", hdr.Get("Location"), ""); st != 200 || !strings.Contains(body, "Check your inbox") {
			t.Errorf("sent page: %d", st)
		}
		token := s.waitlistLink("waitlist_confirm", "ada@example.com")
		// The link's page asks before it confirms.
		st, body, hdr = s.do("GET", "/us/waitlist/confirm?t="+url.QueryEscape(token), "")
		if st != 200 || !strings.Contains(body, "Mistore Phone 14") || !strings.Contains(hdr.Get("Cache-Control"), "no-store") {
			t.Errorf("confirm page: %d %s", st, hdr.Get("Cache-Control"))
		}
		if n := s.countRows("SELECT count(*) FROM waitlist_entries WHERE confirmed_at IS NOT NULL"); n != 0 {
			t.Fatal("a GET confirmed")
		}
		for _, bad := range []string{"", "1.1.00", token + "0", strings.Replace(token, ".", "9.", 1)} {
			if st, _, _ := s.form("/us/waitlist/confirm", url.Values{"t": {bad}}); st != 404 {
				t.Errorf("confirm %q: %d, want 404", bad, st)
			}
		}
		if st, body, _ := s.form("/us/waitlist/confirm", url.Values{"t": {token}}); st != 200 || !strings.Contains(body, "You are on the list") {
			t.Errorf("confirm: %d", st)
		}
		if n := s.countRows("SELECT count(*) FROM waitlist_entries WHERE confirmed_at IS NOT NULL"); n != 1 {
			t.Fatal("not confirmed")
		}
		// Staff add the FCC certificate, a price and stock: the notifier
		// tells Ada once; her email's unsubscribe link works signed out.
		key := s.adminKey("manager")
		for _, c := range [][3]string{
			{"PUT", "/api/v1/admin/products/mistore-phone-14/prices/us", `{"sku":"MP14-BLK-256","amount":79999}`},
			{"PUT", "/api/v1/admin/inventory/MP14-BLK-256", `{"warehouse":"us-east","on_hand":5,"reason":"received"}`},
			{"POST", "/api/v1/admin/products/mistore-phone-14/certifications", `{"market":"us","scheme":"FCC","reference":"2AFZZ-MP14","valid_from":"2020-01-01T00:00:00Z"}`},
		} {
			if st, body, _ := s.do(c[0], c[1], c[2], bearer(key)...); st >= 300 {
				t.Fatalf("%s %s: %d %s", c[0], c[1], st, body)
			}
		}
		if n, err := s.srv.WaitlistForTest().Notify(t.Context()); err != nil || n != 1 {
			t.Fatalf("notify: %d %v", n, err)
		}
		unsub := s.waitlistLink("waitlist_available", "ada@example.com")
		if st, body, _ := s.do("GET", "/us/waitlist/unsubscribe?t="+url.QueryEscape(unsub), ""); st != 200 || !strings.Contains(body, "Take me off the list") {
			t.Errorf("unsubscribe page: %d", st)
		}
		if st, _, _ := s.form("/us/waitlist/unsubscribe", url.Values{"t": {unsub[:len(unsub)-2] + "00"}}); st != 404 {
			t.Errorf("altered unsubscribe: %d", st)
		}
		// The email's List-Unsubscribe address is its link, and a mail
		// client's one-click POST to it (RFC 8058: the token in the
		// address, no form, no Origin) takes Ada off the list.
		var listURL string
		if err := s.d.Read.QueryRow("SELECT unsubscribe_url FROM emails WHERE kind = 'waitlist_available'").Scan(&listURL); err != nil ||
			!strings.HasSuffix(listURL, "/us/waitlist/unsubscribe?t="+url.QueryEscape(unsub)) {
			t.Errorf("List-Unsubscribe address %q, %v", listURL, err)
		}
		oneClick := "/us/waitlist/unsubscribe?t=" + url.QueryEscape(unsub)
		if st, _, _ := s.do("POST", "/us/waitlist/unsubscribe?t="+url.QueryEscape(unsub[:len(unsub)-2]+"00"), "List-Unsubscribe=One-Click",
			"Content-Type", "application/x-www-form-urlencoded"); st != 404 {
			t.Errorf("one-click with an altered token: %d", st)
		}
		if st, body, _ := s.do("POST", oneClick, "List-Unsubscribe=One-Click", "Content-Type", "application/x-www-form-urlencoded"); st != 200 || !strings.Contains(body, "You are off the list") {
			t.Errorf("one-click unsubscribe: %d", st)
		}
		if n := s.countRows("SELECT count(*) FROM waitlist_entries WHERE unsubscribed_at IS NOT NULL"); n != 1 {
			t.Error("not unsubscribed")
		}
		// The page's own button, pressed afterwards, says the same.
		if st, body, _ := s.form("/us/waitlist/unsubscribe", url.Values{"t": {unsub}}); st != 200 || !strings.Contains(body, "You are off the list") {
			t.Errorf("unsubscribe: %d", st)
		}
		// A signed-in shopper finds their address in the box, on a page
		// nobody else is served; the anonymous page has an empty box.
		if st, b, _ := s.do("POST", "/api/v1/customers", `{"email":"grace@example.com","password":"correct horse battery","name":"Grace"}`); st != 201 {
			t.Fatalf("register: %d %s", st, b)
		}
		_, b, _ := s.do("POST", "/api/v1/sessions", `{"email":"grace@example.com","password":"correct horse battery"}`)
		var session struct{ Token string }
		json.Unmarshal([]byte(b), &session)
		st, page, hdr = s.do("GET", "/us/products/mistore-pad-6", "", "Authorization", "Bearer "+session.Token)
		if st != 200 || !strings.Contains(page, `value="grace@example.com"`) || !strings.Contains(hdr.Get("Cache-Control"), "private") {
			t.Errorf("signed-in page: %d %s", st, hdr.Get("Cache-Control"))
		}
		if _, anon, _ := s.do("GET", "/us/products/mistore-pad-6", ""); strings.Contains(anon, "grace@example.com") || !strings.Contains(anon, "waitlist-email") {
			t.Error("the anonymous page shows someone's address, or no box")
		}
	})
}

// TestWaitlistDemandReport: the report's page, API and CSV, for every
// role that reads reports, with formula-safe cells.
func TestWaitlistDemandReport(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		for _, addr := range []string{"a@example.com", "b@example.com"} {
			if st, body, _ := s.do("POST", "/api/v1/markets/us/products/mistore-phone-14/waitlist", `{"email":"`+addr+`"}`); st != 202 {
				t.Fatalf("%d %s", st, body)
			}
		}
		token := s.waitlistLink("waitlist_confirm", "a@example.com")
		if st, _, _ := s.form("/us/waitlist/confirm", url.Values{"t": {token}}); st != 200 {
			t.Fatal("confirm")
		}
		viewer := s.adminKey("viewer")
		st, body, _ := s.do("GET", "/api/v1/admin/waitlist?market=us", "", bearer(viewer)...)
		var rep struct {
			Products []struct {
				Product     string
				Market      string
				Confirmed   int
				Unconfirmed int
			}
			Weeks []struct{ Entries int }
		}
		json.Unmarshal([]byte(body), &rep)
		if st != 200 || len(rep.Products) != 1 || rep.Products[0].Product != "mistore-phone-14" || rep.Products[0].Confirmed != 1 ||
			rep.Products[0].Unconfirmed != 1 || len(rep.Weeks) != 12 || rep.Weeks[11].Entries != 2 {
			t.Errorf("report: %d %s", st, body)
		}
		if st, body, _ := s.do("GET", "/api/v1/admin/waitlist?market=xx", "", bearer(viewer)...); st != 400 {
			t.Errorf("unknown market: %d %s", st, body)
		}
		if st, _, _ := s.do("GET", "/api/v1/admin/waitlist", ""); st != 401 {
			t.Errorf("no credentials: %d", st)
		}
		d.Write.Exec(`UPDATE products SET name = '=HYPERLINK("http://evil.example")' WHERE slug = 'mistore-phone-14'`)
		st, body, hdr := s.do("GET", "/api/v1/admin/waitlist?format=csv", "", bearer(viewer)...)
		if st != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") ||
			!strings.HasPrefix(body, "product,name,market,waiting,confirmed,unconfirmed,notified,unsubscribed\n") ||
			!strings.Contains(body, `mistore-phone-14,"'=HYPERLINK(""http://evil.example"")",us,2,1,1,0,0`) {
			t.Errorf("CSV: %d %s %s", st, hdr.Get("Content-Type"), body)
		}
		for _, role := range []string{"viewer", "support"} {
			cookie := s.adminCookie(role)
			st, page, _ := s.adminGet(cookie, "/admin/waitlist?market=us")
			if st != 200 || !strings.Contains(page, "Waitlist sign-ups per week") || !strings.Contains(page, "HYPERLINK") ||
				strings.Contains(page, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"`) == false {
				t.Errorf("%s: page %d", role, st)
			}
			if st, dash, _ := s.adminGet(cookie, "/admin/"); st != 200 || !strings.Contains(dash, "The full demand report") || !strings.Contains(dash, "HYPERLINK") {
				t.Errorf("%s: dashboard %d", role, st)
			}
		}
		cookie := s.adminCookie("viewer")
		if st, csv, _ := s.adminGet(cookie, "/admin/waitlist?format=csv&market=us"); st != 200 || !strings.Contains(csv, "'=HYPERLINK") {
			t.Errorf("page CSV: %d %s", st, csv)
		}
	})
}
