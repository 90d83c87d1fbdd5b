package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// cartMethods is what checkout offers a cart sent to New York (or to
// region, if given): code and price of each shipping method, in order.
func (s *shop) cartMethods(id, token string, region ...string) []string {
	s.t.Helper()
	to := "NY"
	if len(region) > 0 {
		to = region[0]
	}
	st, body, _ := s.do("GET", "/api/v1/carts/"+id+"/shipping-methods?postal_code=10001&region="+to, "", "X-Cart-Token", token)
	if st != http.StatusOK {
		s.t.Fatalf("shipping methods: %d %s", st, body)
	}
	var out struct {
		Methods []struct {
			Code  string `json:"code"`
			Price struct {
				Amount int64 `json:"amount"`
			} `json:"price"`
		} `json:"methods"`
	}
	json.Unmarshal([]byte(body), &out)
	var list []string
	for _, m := range out.Methods {
		list = append(list, m.Code+"="+itoa(m.Price.Amount))
	}
	return list
}

// TestAdminShippingMethods: a manager changes what shipping costs in the
// US through the API; checkout prices with it at once; refused changes
// change nothing; a market keeps at least one method.
func TestAdminShippingMethods(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		manager := bearer(s.adminKey("manager"))
		const path = "/api/v1/admin/shipping-methods/us/"
		st, body, _ := s.do("GET", "/api/v1/admin/shipping-methods?market=us", "", manager...)
		if st != http.StatusOK || !strings.Contains(body, `{"market":"us","code":"standard","name":"Standard shipping","kind":"flat","amount":599,"free_over":3500,"per_kg":0,"days":"3–5 business days","position":1,"regions":[]}`) {
			t.Fatalf("the US methods: %d %s", st, body)
		}
		id, token := s.cartWith("MCAB-C2M", 2) // 2 × $10.99: under $35, over $20
		// A region the US does not have is refused, not answered with the
		// methods offered everywhere.
		if st, body, _ := s.do("GET", "/api/v1/carts/"+id+"/shipping-methods?region=ZZ", "", "X-Cart-Token", token); st != http.StatusBadRequest ||
			!strings.Contains(body, `"field":"region"`) {
			t.Errorf("shipping methods to region ZZ: %d %s", st, body)
		}
		if got := strings.Join(s.cartMethods(id, token), " "); got != "standard=599 express=1499" {
			t.Fatalf("before: %s", got)
		}

		// Free standard shipping from $20, and a next-day method by weight.
		if st, body, _ := s.do("PUT", path+"standard", `{"name":"Standard shipping","kind":"flat","amount":499,"free_over":2000,"days":"3–5 business days","position":1}`, manager...); st != http.StatusOK || !strings.Contains(body, `"amount":499,"free_over":2000`) {
			t.Fatalf("PUT standard: %d %s", st, body)
		}
		if st, body, _ := s.do("PUT", path+"next-day", `{"name":"Next day","kind":"weight","amount":2500,"per_kg":300,"days":"tomorrow","position":3}`, manager...); st != http.StatusOK {
			t.Fatalf("PUT next-day: %d %s", st, body)
		}
		if got := strings.Join(s.cartMethods(id, token), " "); got != "standard=0 express=1499 next-day=2800" {
			t.Errorf("after the changes, checkout offers %s", got)
		}

		// A method for Alaska and Hawaii only: offered there, and refused at
		// checkout elsewhere.
		if st, body, _ := s.do("PUT", path+"alaska-hawaii", `{"name":"Alaska and Hawaii","kind":"flat","amount":1999,"position":4,"regions":["hi","AK","AK"]}`, manager...); st != http.StatusOK || !strings.Contains(body, `"regions":["AK","HI"]`) {
			t.Fatalf("PUT alaska-hawaii: %d %s", st, body)
		}
		if got := strings.Join(s.cartMethods(id, token, "ak"), " "); got != "standard=0 express=1499 next-day=2800 alaska-hawaii=1999" {
			t.Errorf("to Alaska, checkout offers %s", got)
		}
		ship := func(region, postal, method string) (int, string) {
			t.Helper()
			body := `{"email":"ada@example.com","shipping_address":{"name":"Ada Lovelace","line1":"1 Main St","city":"Somewhere","region":"` + region +
				`","postal_code":"` + postal + `","country":"US"},"shipping_method":"` + method + `"}`
			st, out, _ := s.do("POST", "/api/v1/carts/"+id+"/checkout", body, "X-Cart-Token", token)
			return st, out
		}
		if st, out := ship("NY", "10001", "alaska-hawaii"); st != http.StatusUnprocessableEntity || !strings.Contains(out, `"field":"shipping_method"`) || !strings.Contains(out, "AK, HI only") {
			t.Errorf("Alaska and Hawaii shipping to New York: %d %s", st, out)
		}
		if n := s.count("SELECT count(*) FROM orders"); n != 0 {
			t.Fatalf("a refused checkout placed %d orders", n)
		}
		if st, out := ship("AK", "99501", "alaska-hawaii"); st != http.StatusCreated || !strings.Contains(out, `"shipping":{"amount":1999,"currency":"USD"}`) {
			t.Errorf("Alaska and Hawaii shipping to Alaska: %d %s", st, out)
		}
		id, token = s.cartWith("MCAB-C2M", 2) // the cart above is an order now

		// Refused, each changing nothing.
		viewer := bearer(s.adminKey("viewer"))
		for _, c := range []struct {
			path, body string
			hdr        []string
			status     int
			field      string
		}{
			{path + "standard", `{"name":"S","kind":"flat","price":100}`, manager, 400, "price"},
			{path + "standard", `{"name":"S","kind":"air","amount":100}`, manager, 422, "kind"},
			{path + "standard", `{"name":"S","kind":"flat","amount":-1}`, manager, 422, "amount"},
			{path + "standard", `{"name":"S","kind":"flat"}`, manager, 422, "amount"},
			{path + "standard", `{"name":"S","kind":"flat","amount":"1"}`, manager, 400, ""},
			{path + "standard", `{"name":"S","kind":"flat","amount":100,"per_kg":5}`, manager, 422, "per_kg"},
			{path + "express", `{"name":"E","kind":"weight","amount":100,"free_over":5}`, manager, 422, "free_over"},
			{path + "standard", `{"name":"","kind":"flat","amount":100}`, manager, 422, "name"},
			{path + "Next%20Day", `{"name":"N","kind":"flat","amount":100}`, manager, 422, "code"},
			{"/api/v1/admin/shipping-methods/xx/standard", `{"name":"S","kind":"flat","amount":100}`, manager, 422, "market"},
			{path + "standard", `{"name":"S","kind":"flat","amount":100,"regions":["XX"]}`, manager, 422, "regions"},
			{path + "standard", `{"name":"S","kind":"flat","amount":100,"regions":"AK"}`, manager, 400, ""},
			{path + "standard", `{"name":"S","kind":"flat","amount":100}`, viewer, 403, ""},
		} {
			st, body, _ := s.do("PUT", c.path, c.body, c.hdr...)
			if st != c.status || (c.field != "" && !strings.Contains(body, `"field":"`+c.field+`"`)) {
				t.Errorf("PUT %s %s: %d %s, want %d on %s", c.path, c.body, st, body, c.status, c.field)
			}
		}
		if got := strings.Join(s.cartMethods(id, token), " "); got != "standard=0 express=1499 next-day=2800" {
			t.Errorf("refused changes changed checkout: %s", got)
		}

		// Deleting: gone from checkout; unknown is a 404; the last one stays.
		for _, c := range []struct {
			code   string
			status int
		}{{"next-day", 204}, {"next-day", 404}, {"express", 204}, {"alaska-hawaii", 204}, {"standard", 422}} {
			if st, body, _ := s.do("DELETE", path+c.code, "", manager...); st != c.status {
				t.Errorf("DELETE %s: %d %s, want %d", c.code, st, body, c.status)
			}
		}
		if got := strings.Join(s.cartMethods(id, token), " "); got != "standard=0" {
			t.Errorf("after deleting, checkout offers %s", got)
		}
		for action, want := range map[string]int{"shipping_method.set": 3, "shipping_method.delete": 3} {
			var n int
			d.Read.QueryRow("SELECT count(*) FROM audit_log WHERE action = $1", action).Scan(&n)
			if n != want {
				t.Errorf("%s audited %d times, want %d", action, n, want)
			}
		}
	})
}

// TestAdminShippingPage: the back office's shipping page, with amounts
// in the market's currency, without JavaScript.
func TestAdminShippingPage(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		cookie := s.adminCookie("manager")
		_, page, _ := s.adminGet(cookie, "/admin/shipping?market=in")
		for _, want := range []string{"Standard delivery", `value="99.00"`, `value="999.00"`, `value="50.00"`, `action="/admin/shipping/delete"`} {
			if !strings.Contains(page, want) {
				t.Errorf("the India shipping page lacks %s", want)
			}
		}
		form := url.Values{"market": {"us"}, "code": {"standard"}, "name": {"Standard shipping"}, "kind": {"flat"}, "amount": {"4.99"}, "free_over": {"25"}, "days": {"3–5 business days"}, "position": {"1"}}
		st, _, h := s.adminForm(cookie, "/admin/shipping", form)
		if st != http.StatusSeeOther {
			t.Fatalf("save: %d", st)
		}
		_, page, _ = s.adminGet(cookie, "/admin/shipping?market=us", h)
		if !strings.Contains(page, "Shipping method Standard shipping (us) saved.") || !strings.Contains(page, `value="4.99"`) || !strings.Contains(page, `value="25.00"`) {
			t.Error("the saved method does not show")
		}
		if st, _, _ := s.adminForm(cookie, "/admin/shipping", url.Values{"market": {"us"}, "code": {"islands"}, "name": {"Alaska and Hawaii"}, "kind": {"flat"}, "amount": {"19.99"}, "regions": {"hi, ak"}}); st != http.StatusSeeOther {
			t.Fatalf("save a regional method: %d", st)
		}
		if _, page, _ := s.adminGet(cookie, "/admin/shipping?market=us"); !strings.Contains(page, `name="regions" size="10" value="AK HI"`) {
			t.Error("the regional method's regions do not show")
		}
		if st, _, _ := s.adminForm(cookie, "/admin/shipping/delete", url.Values{"market": {"us"}, "code": {"islands"}}); st != http.StatusSeeOther {
			t.Errorf("delete the regional method: %d", st)
		}
		form.Set("amount", "4.999")
		if st, page, _ := s.adminForm(cookie, "/admin/shipping", form); st != http.StatusUnprocessableEntity || !strings.Contains(page, "is not an amount in USD") {
			t.Errorf("three decimals in dollars: %d", st)
		}
		if st, _, _ := s.adminForm(cookie, "/admin/shipping/delete", url.Values{"market": {"us"}, "code": {"express"}}); st != http.StatusSeeOther {
			t.Errorf("delete: %d", st)
		}
		if st, page, _ := s.adminForm(cookie, "/admin/shipping/delete", url.Values{"market": {"us"}, "code": {"standard"}}); st != http.StatusUnprocessableEntity || !strings.Contains(page, "only shipping method") {
			t.Errorf("delete the last: %d", st)
		}
		_, page, _ = s.adminGet(s.adminCookie("viewer"), "/admin/shipping")
		if !strings.Contains(page, "Standard shipping") || strings.Contains(page, `method="post" action="/admin/shipping"`) {
			t.Error("a viewer's shipping page shows no methods, or forms")
		}
	})
}
