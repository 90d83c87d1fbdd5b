package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// stockLevels is the body of GET /api/v1/admin/inventory/{sku}.
type stockLevels struct {
	SKU        string `json:"sku"`
	Warehouses []struct {
		Code      string `json:"code"`
		OnHand    int    `json:"on_hand"`
		Reserved  int    `json:"reserved"`
		Available int    `json:"available"`
		Threshold *int   `json:"low_stock_threshold"`
	} `json:"warehouses"`
}

// onHandIn returns sku's on-hand count in warehouse through the API.
func (s *shop) onHandIn(key, sku, warehouse string) int {
	s.t.Helper()
	st, body, _ := s.do("GET", "/api/v1/admin/inventory/"+sku, "", bearer(key)...)
	if st != http.StatusOK {
		s.t.Fatalf("GET inventory: %d %s", st, body)
	}
	var lv stockLevels
	if err := json.Unmarshal([]byte(body), &lv); err != nil {
		s.t.Fatal(err)
	}
	for _, w := range lv.Warehouses {
		if w.Code == warehouse {
			if w.Available != w.OnHand-w.Reserved {
				s.t.Errorf("available %d, on hand %d, reserved %d", w.Available, w.OnHand, w.Reserved)
			}
			return w.OnHand
		}
	}
	s.t.Fatalf("no warehouse %s in %s", warehouse, body)
	return 0
}

func shopAuditCount(t *testing.T, d *db.DB, action, subject string) int {
	t.Helper()
	var n int
	if err := d.Read.QueryRow("SELECT count(*) FROM audit_log WHERE action = $1 AND subject = $2", action, subject).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAdminInventoryCompareAndSet(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		key := s.adminKey("manager")
		cur := s.onHandIn(key, "MB8-BLK", "us-east")
		put := func(body string) (int, string) {
			st, b, _ := s.do("PUT", "/api/v1/admin/inventory/MB8-BLK", body, bearer(key)...)
			return st, b
		}
		st, b := put(`{"warehouse":"us-east","on_hand":` + strconv.Itoa(cur+5) + `,"expected_on_hand":` + strconv.Itoa(cur) + `,"reason":"received","note":"PO 12"}`)
		if st != http.StatusOK || !strings.Contains(b, `"on_hand":`+strconv.Itoa(cur+5)) {
			t.Fatalf("adjust: %d %s", st, b)
		}
		// A second editor who read the old count is refused, and nothing changes.
		st, b = put(`{"warehouse":"us-east","on_hand":1,"expected_on_hand":` + strconv.Itoa(cur) + `,"reason":"count_correction"}`)
		if st != http.StatusConflict || apiCode(t, b) != "stale_stock" {
			t.Errorf("stale edit: %d %s", st, b)
		}
		if n := s.onHandIn(key, "MB8-BLK", "us-east"); n != cur+5 {
			t.Errorf("on hand %d after a stale edit, want %d", n, cur+5)
		}
		for body, field := range map[string]string{
			`{"warehouse":"us-east","on_hand":3,"reason":"lost"}`:     "reason",
			`{"warehouse":"us-east","on_hand":-3,"reason":"damaged"}`: "on_hand",
			`{"warehouse":"us-east","reason":"damaged"}`:              "on_hand",
		} {
			st, b := put(body)
			var e struct {
				Error struct{ Code, Field string } `json:"error"`
			}
			json.Unmarshal([]byte(b), &e)
			if st != http.StatusUnprocessableEntity || e.Error.Code != "invalid_field" || e.Error.Field != field {
				t.Errorf("%s: %d %s, want 422 on %s", body, st, b, field)
			}
		}
		if st, _, _ := s.do("GET", "/api/v1/admin/inventory/NOPE-1", "", bearer(key)...); st != http.StatusNotFound {
			t.Errorf("unknown SKU: %d", st)
		}
		if n := shopAuditCount(t, d, "inventory.adjust", "stock:MB8-BLK@us-east"); n != 1 {
			t.Errorf("%d audit entries, want 1", n)
		}
		st, b, _ = s.do("GET", "/api/v1/admin/inventory/MB8-BLK/adjustments", "", bearer(key)...)
		if st != http.StatusOK || !strings.Contains(b, `"note":"PO 12"`) || !strings.Contains(b, `"reason":"received"`) {
			t.Errorf("history: %d %s", st, b)
		}

		// Low stock: a threshold above what is there puts the row on the list.
		st, b, _ = s.do("PUT", "/api/v1/admin/inventory/MB8-BLK/low-stock", `{"warehouse":"us-east","low_stock_threshold":100000}`, bearer(key)...)
		if st != http.StatusOK {
			t.Fatalf("threshold: %d %s", st, b)
		}
		st, b, _ = s.do("GET", "/api/v1/admin/inventory?low=1", "", bearer(key)...)
		if st != http.StatusOK || !strings.Contains(b, `"sku":"MB8-BLK","product"`) {
			t.Errorf("low stock: %d %s", st, b)
		}
		if st, _, _ := s.do("GET", "/api/v1/admin/inventory", "", bearer(key)...); st != http.StatusBadRequest {
			t.Errorf("without low=1: %d", st)
		}

		// The page: the form carries the count it was based on, and a
		// stale form is refused with the current numbers shown.
		cookie := s.adminCookie("manager")
		st, page, _ := s.adminGet(cookie, "/admin/inventory?sku=MB8-BLK")
		now := strconv.Itoa(cur + 5)
		if st != http.StatusOK || !strings.Contains(page, `name="expected_on_hand" value="`+now+`"`) || !strings.Contains(page, "PO 12") ||
			!strings.Contains(page, `name="low_stock_threshold" type="number" min="0" inputmode="numeric" size="5" value="100000"`) {
			t.Fatalf("inventory page: %d %s", st, page)
		}
		st, page, _ = s.adminForm(cookie, "/admin/inventory/adjust", url.Values{"sku": {"MB8-BLK"}, "warehouse": {"us-east"},
			"on_hand": {"2"}, "expected_on_hand": {strconv.Itoa(cur)}, "reason": {"damaged"}})
		if st != http.StatusConflict || !strings.Contains(page, "changed this stock while you were editing") {
			t.Errorf("stale page edit: %d", st)
		}
		if n := s.onHandIn(key, "MB8-BLK", "us-east"); n != cur+5 {
			t.Errorf("on hand %d after a stale page edit", n)
		}
		st, _, hdr := s.adminForm(cookie, "/admin/inventory/adjust", url.Values{"sku": {"MB8-BLK"}, "warehouse": {"us-east"},
			"on_hand": {"2"}, "expected_on_hand": {now}, "reason": {"damaged"}, "note": {"dropped"}})
		if st != http.StatusSeeOther || hdr.Get("Location") != "/admin/inventory?sku=MB8-BLK" {
			t.Fatalf("page edit: %d %v", st, hdr)
		}
		if n := s.onHandIn(key, "MB8-BLK", "us-east"); n != 2 {
			t.Errorf("on hand %d after the page edit, want 2", n)
		}
		if n := shopAuditCount(t, d, "inventory.adjust", "stock:MB8-BLK@us-east"); n != 2 {
			t.Errorf("%d audit entries, want 2", n)
		}
	})
}

// shopWrites are every write of this surface, API and pages, with a body
// that would be acceptable.
var shopAPIWrites = []struct{ method, path, body string }{
	{"PUT", "/api/v1/admin/inventory/MB8-BLK", `{"warehouse":"us-east","on_hand":7,"reason":"received"}`},
	{"PUT", "/api/v1/admin/inventory/MB8-BLK/low-stock", `{"warehouse":"us-east","low_stock_threshold":3}`},
	{"POST", "/api/v1/admin/coupons", `{"code":"V1","kind":"percent","percent":5}`},
	{"PATCH", "/api/v1/admin/coupons/WELCOME", `{"percent":20}`},
	{"POST", "/api/v1/admin/coupons/WELCOME/end", ``},
	{"PUT", "/api/v1/admin/tax-rates", `{"market":"us","region":"NJ","name":"NJ","rate_pcm":1000,"tax_shipping":false}`},
	{"PUT", "/api/v1/admin/shipping-methods/us/standard", `{"name":"Standard","kind":"flat","amount":100}`},
	{"DELETE", "/api/v1/admin/shipping-methods/us/express", ``},
	{"POST", "/api/v1/admin/customers/CUSTOMER/disable", `{}`},
	{"POST", "/api/v1/admin/customers/CUSTOMER/enable", ``},
	{"POST", "/api/v1/admin/customers/CUSTOMER/sign-out", ``},
}

var shopPageWrites = []struct {
	path string
	form url.Values
}{
	{"/admin/inventory/adjust", url.Values{"sku": {"MB8-BLK"}, "warehouse": {"us-east"}, "on_hand": {"7"}, "reason": {"received"}}},
	{"/admin/inventory/low-stock", url.Values{"sku": {"MB8-BLK"}, "warehouse": {"us-east"}, "low_stock_threshold": {"3"}}},
	{"/admin/coupons", url.Values{"code": {"V2"}, "kind": {"percent"}, "percent": {"5"}}},
	{"/admin/coupons/WELCOME", url.Values{"kind": {"percent"}, "percent": {"20"}}},
	{"/admin/coupons/WELCOME/end", url.Values{}},
	{"/admin/tax-rates", url.Values{"market": {"us"}, "region": {"NJ"}, "name": {"NJ"}, "rate_pcm": {"1000"}}},
	{"/admin/shipping", url.Values{"market": {"us"}, "code": {"standard"}, "name": {"Standard"}, "kind": {"flat"}, "amount": {"1.00"}}},
	{"/admin/shipping/delete", url.Values{"market": {"us"}, "code": {"express"}}},
	{"/admin/customers/CUSTOMER/disable", url.Values{}},
	{"/admin/customers/CUSTOMER/enable", url.Values{}},
	{"/admin/customers/CUSTOMER/sign-out", url.Values{}},
}

// registerCustomer makes an account through the API and returns its id.
func (s *shop) registerCustomer(email, name string) int64 {
	s.t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": "correct horse battery", "name": name})
	st, b, _ := s.do("POST", "/api/v1/customers", string(body))
	if st != http.StatusCreated {
		s.t.Fatalf("register: %d %s", st, b)
	}
	var c struct {
		ID int64 `json:"id"`
	}
	json.Unmarshal([]byte(b), &c)
	return c.ID
}

func TestAdminShopPermissions(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		id := strconv.FormatInt(s.registerCustomer("perm@example.com", "Perm"), 10)
		manager := s.adminKey("manager")
		if st, b, _ := s.do("POST", "/api/v1/admin/coupons", `{"code":"WELCOME","kind":"percent","percent":10}`, bearer(manager)...); st != http.StatusCreated {
			t.Fatalf("create coupon: %d %s", st, b)
		}
		viewer, support := s.adminKey("viewer"), s.adminKey("support")
		viewerCookie, supportCookie := s.adminCookie("viewer"), s.adminCookie("support")
		for _, w := range shopAPIWrites {
			path := strings.ReplaceAll(w.path, "CUSTOMER", id)
			if st, b, _ := s.do(w.method, path, w.body, bearer(viewer)...); st != http.StatusForbidden || apiCode(t, b) != "forbidden" {
				t.Errorf("viewer %s %s: %d %s", w.method, path, st, b)
			}
			// Support may disable and enable customers, nothing else here.
			want := http.StatusForbidden
			if strings.Contains(path, "/customers/") {
				want = http.StatusOK
			}
			if st, b, _ := s.do(w.method, path, w.body, bearer(support)...); st != want {
				t.Errorf("support %s %s: %d %s, want %d", w.method, path, st, b, want)
			}
			// No credentials at all: 401.
			if st, _, _ := s.do(w.method, path, w.body); st != http.StatusUnauthorized {
				t.Errorf("anonymous %s %s: %d", w.method, path, st)
			}
		}
		for _, w := range shopPageWrites {
			path := strings.ReplaceAll(w.path, "CUSTOMER", id)
			if st, _, _ := s.adminForm(viewerCookie, path, w.form); st != http.StatusForbidden {
				t.Errorf("viewer page POST %s: %d", path, st)
			}
			want := http.StatusForbidden
			if strings.Contains(path, "/customers/") {
				want = http.StatusSeeOther
			}
			if st, _, _ := s.adminForm(supportCookie, path, w.form); st != want {
				t.Errorf("support page POST %s: %d, want %d", path, st, want)
			}
		}
		// Nothing the refused writes asked for happened.
		var n int
		d.Read.QueryRow("SELECT count(*) FROM coupons WHERE code IN ('V1', 'V2')").Scan(&n)
		var rate int
		d.Read.QueryRow("SELECT rate_pcm FROM tax_rates WHERE market = 'us' AND region = 'NJ'").Scan(&rate)
		if n != 0 || rate != 6625 {
			t.Errorf("refused writes changed things: %d coupons, NJ rate %d", n, rate)
		}
		// Reads: the viewer may look at all of it.
		for _, path := range []string{"/api/v1/admin/inventory/MB8-BLK", "/api/v1/admin/inventory?low=1", "/api/v1/admin/coupons",
			"/api/v1/admin/coupons/welcome/usage", "/api/v1/admin/coupon-usage", "/api/v1/admin/tax-rates?market=us",
			"/api/v1/admin/customers?q=perm", "/api/v1/admin/customers/" + id} {
			if st, b, _ := s.do("GET", path, "", bearer(viewer)...); st != http.StatusOK {
				t.Errorf("viewer GET %s: %d %s", path, st, b)
			}
		}
		for _, path := range []string{"/admin/inventory?sku=MB8-BLK", "/admin/coupons", "/admin/coupons/WELCOME", "/admin/tax-rates", "/admin/customers", "/admin/customers/" + id} {
			st, page, _ := s.adminGet(viewerCookie, path)
			if st != http.StatusOK {
				t.Errorf("viewer page %s: %d", path, st)
			}
			// No forms that would only be refused.
			if strings.Contains(page, `method="post" action="/admin/inventory`) || strings.Contains(page, `action="/admin/coupons/WELCOME/end"`) ||
				strings.Contains(page, `method="post" action="/admin/tax-rates"`) || strings.Contains(page, `/disable"`) {
				t.Errorf("viewer page %s offers a change", path)
			}
		}
		// A customer's token is no staff credential.
		if st, _, _ := s.do("GET", "/api/v1/admin/customers", "", "Authorization", "Bearer "+strings.Repeat("a", 43)); st != http.StatusUnauthorized {
			t.Errorf("customer-shaped bearer: %d", st)
		}
	})
}

func TestAdminDisableCustomer(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		id := s.registerCustomer("ada@example.com", "Ada")
		signIn := func() (int, string) {
			st, b, _ := s.do("POST", "/api/v1/sessions", `{"email":"ada@example.com","password":"correct horse battery"}`)
			return st, b
		}
		st, b := signIn()
		if st != http.StatusOK {
			t.Fatalf("sign in: %d %s", st, b)
		}
		var tok struct {
			Token string `json:"token"`
		}
		json.Unmarshal([]byte(b), &tok)
		if st, _, _ := s.do("GET", "/api/v1/me", "", "Authorization", "Bearer "+tok.Token); st != http.StatusOK {
			t.Fatalf("me before: %d", st)
		}
		support := s.adminKey("support")
		path := "/api/v1/admin/customers/" + strconv.FormatInt(id, 10)
		st, b, _ = s.do("POST", path+"/disable", `{"reason":"chargebacks"}`, bearer(support)...)
		if st != http.StatusOK || !strings.Contains(b, `"disabled_at"`) {
			t.Fatalf("disable: %d %s", st, b)
		}
		if st, b, _ := s.do("GET", "/api/v1/me", "", "Authorization", "Bearer "+tok.Token); st != http.StatusUnauthorized {
			t.Errorf("the disabled account's token still works: %d %s", st, b)
		}
		// The right password gets exactly the wrong password's answer.
		st, b = signIn()
		wst, wb, _ := s.do("POST", "/api/v1/sessions", `{"email":"ada@example.com","password":"not the password at all"}`)
		if st != http.StatusUnauthorized || apiCode(t, b) != "invalid_credentials" || st != wst || b != wb {
			t.Errorf("sign-in of a disabled account: %d %s; a wrong password: %d %s", st, b, wst, wb)
		}
		st, b, _ = s.do("GET", path, "", bearer(support)...)
		if st != http.StatusOK || !strings.Contains(b, `"sessions":0`) {
			t.Errorf("detail: %d %s", st, b)
		}
		st, page, _ := s.adminGet(s.adminCookie("support"), "/admin/customers/"+strconv.FormatInt(id, 10))
		if st != http.StatusOK || !strings.Contains(page, "Disabled</span> since") || !strings.Contains(page, "Enable account") {
			t.Errorf("customer page of a disabled account: %d %s", st, page)
		}
		if st, b, _ := s.do("POST", path+"/enable", "", bearer(support)...); st != http.StatusOK || strings.Contains(b, "disabled_at") {
			t.Fatalf("enable: %d %s", st, b)
		}
		if st, b := signIn(); st != http.StatusOK {
			t.Errorf("sign-in after enabling: %d %s", st, b)
		}
		subject := "customer:" + strconv.FormatInt(id, 10)
		if shopAuditCount(t, d, "customer.disable", subject) != 1 || shopAuditCount(t, d, "customer.enable", subject) != 1 {
			t.Error("disable and enable are not both in the audit log")
		}
		if st, _, _ := s.do("POST", "/api/v1/admin/customers/999999/disable", "", bearer(support)...); st != http.StatusNotFound {
			t.Errorf("unknown customer: %d", st)
		}
	})
}

// TestAdminCustomerSignOut: staff end every session of a customer (say,
// a lost phone) without disabling the account; it is audited with the
// count, and the customer signs in again.
func TestAdminCustomerSignOut(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		id := s.registerCustomer("lost@example.com", "Lost Phone")
		var tokens []string
		for range 2 {
			_, b, _ := s.do("POST", "/api/v1/sessions", `{"email":"lost@example.com","password":"correct horse battery"}`)
			var tok struct {
				Token string `json:"token"`
			}
			json.Unmarshal([]byte(b), &tok)
			tokens = append(tokens, tok.Token)
		}
		page := "/admin/customers/" + strconv.FormatInt(id, 10)
		support := s.adminCookie("support")
		if _, body, _ := s.adminGet(support, page); !strings.Contains(body, `action="`+page+`/sign-out"`) {
			t.Fatal("the customer page offers no sign-out")
		}
		st, _, hdr := s.adminForm(support, page+"/sign-out", nil)
		if st != http.StatusSeeOther || hdr.Get("Location") != page {
			t.Fatalf("sign out: %d %q", st, hdr.Get("Location"))
		}
		if _, body, _ := s.adminGet(support, page, hdr); !strings.Contains(body, "lost@example.com is signed out everywhere") ||
			strings.Contains(body, `action="`+page+`/sign-out"`) || strings.Contains(body, "Disabled</span>") {
			t.Fatal("after signing out: no word of it, still a sign-out button, or disabled")
		}
		for _, tok := range tokens {
			if st, _, _ := s.do("GET", "/api/v1/me", "", "Authorization", "Bearer "+tok); st != http.StatusUnauthorized {
				t.Fatalf("a token after sign-out everywhere: %d", st)
			}
		}
		if st, _, _ := s.do("POST", "/api/v1/sessions", `{"email":"lost@example.com","password":"correct horse battery"}`); st != http.StatusOK {
			t.Fatalf("sign in again: %d", st)
		}
		var after string
		if err := d.Read.QueryRow("SELECT after FROM audit_log WHERE action = 'customer.sign_out' AND subject = $1", "customer:"+strconv.FormatInt(id, 10)).Scan(&after); err != nil ||
			!strings.Contains(after, `"sessions_ended":2`) {
			t.Fatalf("audit entry: %q, %v", after, err)
		}
		key := s.adminKey("support")
		if st, b, _ := s.do("POST", "/api/v1/admin/customers/"+strconv.FormatInt(id, 10)+"/sign-out", "", bearer(key)...); st != http.StatusOK || !strings.Contains(b, `"email":"lost@example.com"`) {
			t.Fatalf("sign out through the API: %d %s", st, b)
		}
		if st, _, _ := s.do("POST", "/api/v1/admin/customers/999999/sign-out", "", bearer(key)...); st != http.StatusNotFound {
			t.Fatalf("unknown customer: %d", st)
		}
	})
}

func TestAdminCouponsAndTaxRates(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		key := s.adminKey("manager")
		st, b, _ := s.do("POST", "/api/v1/admin/coupons", `{"code":"spring","kind":"fixed","amount":{"amount":500,"currency":"USD"},"market":"us",
			"min_subtotal":{"amount":2000,"currency":"USD"},"max_uses":10,"ends_at":"2099-01-01T00:00:00Z"}`, bearer(key)...)
		if st != http.StatusCreated || !strings.Contains(b, `"code":"SPRING"`) || !strings.Contains(b, `"state":"active"`) {
			t.Fatalf("create: %d %s", st, b)
		}
		if st, b, _ := s.do("POST", "/api/v1/admin/coupons", `{"code":"SPRING","kind":"percent","percent":5}`, bearer(key)...); st != http.StatusConflict || apiCode(t, b) != "coupon_exists" {
			t.Errorf("duplicate: %d %s", st, b)
		}
		if st, b, _ := s.do("POST", "/api/v1/admin/coupons", `{"code":"HALF","kind":"percent","percent":150}`, bearer(key)...); st != http.StatusUnprocessableEntity || !strings.Contains(b, `"field":"percent"`) {
			t.Errorf("bad percent: %d %s", st, b)
		}
		// PATCH: fields left out stay, null clears.
		st, b, _ = s.do("PATCH", "/api/v1/admin/coupons/spring", `{"max_uses":null,"amount":{"amount":700}}`, bearer(key)...)
		if st != http.StatusOK || strings.Contains(b, `"max_uses"`) || !strings.Contains(b, `"amount":{"amount":700,"currency":"USD"}`) || !strings.Contains(b, `"ends_at":"2099-01-01T00:00:00Z"`) {
			t.Errorf("patch: %d %s", st, b)
		}
		if st, b, _ := s.do("PATCH", "/api/v1/admin/coupons/spring", `{"code":"OTHER"}`, bearer(key)...); st != http.StatusBadRequest {
			t.Errorf("patching the code: %d %s", st, b)
		}
		if st, _, _ := s.do("PATCH", "/api/v1/admin/coupons/nope", `{"percent":5}`, bearer(key)...); st != http.StatusNotFound {
			t.Errorf("patch unknown: %d", st)
		}
		st, b, _ = s.do("GET", "/api/v1/admin/coupons/spring/usage", "", bearer(key)...)
		if st != http.StatusOK || !strings.Contains(b, `"orders":0`) || !strings.Contains(b, `"discount":[]`) {
			t.Errorf("usage: %d %s", st, b)
		}
		st, b, _ = s.do("POST", "/api/v1/admin/coupons/spring/end", "", bearer(key)...)
		if st != http.StatusOK || !strings.Contains(b, `"state":"ended"`) {
			t.Errorf("end: %d %s", st, b)
		}
		for action, want := range map[string]int{"coupon.create": 1, "coupon.update": 1, "coupon.end": 1} {
			if n := shopAuditCount(t, d, action, "coupon:SPRING"); n != want {
				t.Errorf("%d %s entries, want %d", n, action, want)
			}
		}

		st, b, _ = s.do("PUT", "/api/v1/admin/tax-rates", `{"market":"us","region":"ny","name":"New York sales tax","rate_pcm":4500,"tax_shipping":true}`, bearer(key)...)
		if st != http.StatusOK || !strings.Contains(b, `"region":"NY"`) {
			t.Fatalf("set tax rate: %d %s", st, b)
		}
		if st, b, _ := s.do("PUT", "/api/v1/admin/tax-rates", `{"market":"us","region":"XX","name":"x","rate_pcm":1,"tax_shipping":false}`, bearer(key)...); st != http.StatusUnprocessableEntity || !strings.Contains(b, `"field":"region"`) {
			t.Errorf("bad region: %d %s", st, b)
		}
		st, b, _ = s.do("GET", "/api/v1/admin/tax-rates?market=us", "", bearer(key)...)
		if st != http.StatusOK || !strings.Contains(b, `{"market":"us","region":"NY","name":"New York sales tax","rate_pcm":4500,"tax_shipping":true}`) {
			t.Errorf("tax rates: %d %s", st, b)
		}
		if shopAuditCount(t, d, "tax_rate.set", "tax_rate:us/NY") != 1 {
			t.Error("no audit entry for the tax rate")
		}

		// The pages: create through the form, then edit it.
		cookie := s.adminCookie("manager")
		st, _, hdr := s.adminForm(cookie, "/admin/coupons", url.Values{"code": {"form10"}, "kind": {"percent"}, "percent": {"10"}, "market": {"in"}, "min_subtotal": {"999.50"}})
		if st != http.StatusSeeOther || hdr.Get("Location") != "/admin/coupons/FORM10" {
			t.Fatalf("create by form: %d %v", st, hdr)
		}
		st, page, _ := s.adminGet(cookie, "/admin/coupons/FORM10", hdr)
		if st != http.StatusOK || !strings.Contains(page, "Coupon FORM10 created.") || !strings.Contains(page, `value="999.50"`) {
			t.Errorf("coupon page: %d", st)
		}
		st, page, _ = s.adminForm(cookie, "/admin/coupons/FORM10", url.Values{"kind": {"percent"}, "percent": {"0"}, "market": {"in"}})
		if st != http.StatusUnprocessableEntity || !strings.Contains(page, "1 to 100 percent") {
			t.Errorf("bad edit by form: %d", st)
		}
		if st, _, _ := s.adminForm(cookie, "/admin/tax-rates", url.Values{"market": {"in"}, "name": {"GST"}, "rate_pcm": {"12000"}, "tax_shipping": {"1"}}); st != http.StatusSeeOther {
			t.Errorf("tax rate by form: %d", st)
		}
		st, page, _ = s.adminGet(cookie, "/admin/tax-rates?market=in")
		if st != http.StatusOK || !strings.Contains(page, "12%") {
			t.Errorf("tax page: %d", st)
		}
		st, page, _ = s.adminGet(cookie, "/admin/coupons")
		if st != http.StatusOK || !strings.Contains(page, "SPRING") || !strings.Contains(page, "FORM10") {
			t.Errorf("coupon list: %d", st)
		}
	})
}

func TestAdminShopEscapesWhatPeopleType(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		const evil = `<script>alert(1)</script>`
		id := strconv.FormatInt(s.registerCustomer("xss@example.com", evil), 10)
		cookie := s.adminCookie("support")
		for _, path := range []string{"/admin/customers?q=" + url.QueryEscape("<script"), "/admin/customers/" + id} {
			st, page, _ := s.adminGet(cookie, path)
			if st != http.StatusOK || strings.Contains(page, evil) || !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
				t.Errorf("%s: %d, name not escaped", path, st)
			}
		}
		// A coupon code is letters, digits, - and _: markup is refused,
		// and the form that comes back shows it escaped.
		manager := s.adminCookie("manager")
		code := `"><img src=x onerror=alert(1)>`
		st, page, _ := s.adminForm(manager, "/admin/coupons", url.Values{"code": {code}, "kind": {"percent"}, "percent": {"10"}})
		if st != http.StatusUnprocessableEntity || strings.Contains(page, "<img src=x") || !strings.Contains(page, "&lt;img src=x onerror=alert(1)&gt;") {
			t.Errorf("coupon code with markup: %d", st)
		}
		key := s.adminKey("manager")
		if st, b, _ := s.do("POST", "/api/v1/admin/coupons", `{"code":"<b>X</b>","kind":"percent","percent":10}`, bearer(key)...); st != http.StatusUnprocessableEntity || !strings.Contains(b, `"field":"code"`) {
			t.Errorf("API coupon code with markup: %d %s", st, b)
		}
		// A note on an adjustment is shown escaped in the history.
		body, _ := json.Marshal(map[string]any{"warehouse": "us-east", "on_hand": 9, "reason": "received", "note": evil})
		if st, b, _ := s.do("PUT", "/api/v1/admin/inventory/MB8-BLK", string(body), bearer(key)...); st != http.StatusOK {
			t.Fatalf("adjust: %d %s", st, b)
		}
		st, page, _ = s.adminGet(manager, "/admin/inventory?sku=MB8-BLK")
		if st != http.StatusOK || strings.Contains(page, evil) || !strings.Contains(page, "&lt;script&gt;") {
			t.Errorf("inventory page: %d, note not escaped", st)
		}
	})
}
