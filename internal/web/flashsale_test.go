package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// regexpRefs finds the schemas an OpenAPI document refers to.
var regexpRefs = regexp.MustCompile(`"#/components/schemas/([A-Za-z0-9]+)"`)

// flashSKU is a variant the demo sells in the US with stock to set aside.
const flashSKU = "MCAB-C1M"

// saleResp is a sale as the API answers it, shopper's or staff's.
type saleResp struct {
	ID               int64  `json:"id"`
	State            string `json:"state"`
	Quantity         int    `json:"quantity"`
	Remaining        int    `json:"remaining"`
	Pending          int    `json:"pending"`
	PerCustomerLimit int    `json:"per_customer_limit"`
	Claimed          int    `json:"claimed"`
	Paid             int    `json:"paid"`
	Released         int    `json:"released"`
	Paused           bool   `json:"paused"`
	Price            struct {
		Amount   int64  `json:"amount"`
		Currency string `json:"currency"`
	} `json:"price"`
}

// rfc is t as the API takes it.
func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// createSale makes a US sale of flashSKU through the admin API with a
// manager's key; extra is more JSON fields, such as a registration close.
func (s *shop) createSale(key string, qty, limit int, starts, ends time.Time, extra string) saleResp {
	s.t.Helper()
	body := fmt.Sprintf(`{"market":"us","sku":%q,"title":"Cable drop","amount":99,"quantity":%d,"per_customer_limit":%d,"starts_at":%q,"ends_at":%q%s}`,
		flashSKU, qty, limit, rfc(starts), rfc(ends), extra)
	st, b, _ := s.do("POST", "/api/v1/admin/flash-sales", body, bearer(key)...)
	if st != http.StatusCreated {
		s.t.Fatalf("create sale: %d %s", st, b)
	}
	var sale saleResp
	json.Unmarshal([]byte(b), &sale)
	return sale
}

// customerToken registers and signs in a customer and returns the
// session token.
func (s *shop) customerToken(email string) string {
	s.t.Helper()
	if st, b, _ := s.do("POST", "/api/v1/customers", `{"email":"`+email+`","password":"correct horse battery","name":"Shopper"}`); st != 201 {
		s.t.Fatalf("register %s: %d %s", email, st, b)
	}
	s.d.Write.Exec("UPDATE customers SET email_verified_at = created_at WHERE email_verified_at IS NULL")
	st, b, _ := s.do("POST", "/api/v1/sessions", `{"email":"`+email+`","password":"correct horse battery"}`)
	if st != 200 {
		s.t.Fatalf("sign in %s: %d %s", email, st, b)
	}
	var session struct{ Token string }
	json.Unmarshal([]byte(b), &session)
	return session.Token
}

// claim posts a claim with body as the customer with token ("": none).
func (s *shop) claim(id int64, token, body string) (int, string, http.Header) {
	s.t.Helper()
	var hdr []string
	if token != "" {
		hdr = []string{"Authorization", "Bearer " + token}
	}
	return s.do("POST", fmt.Sprintf("/api/v1/flash-sales/%d/claims", id), body, hdr...)
}

// errCode is the API error code of body.
func errCode(body string) (code, field string) {
	var e struct {
		Error struct{ Code, Field string } `json:"error"`
	}
	json.Unmarshal([]byte(body), &e)
	return e.Error.Code, e.Error.Field
}

// adminSale reads a sale's counters through the admin API.
func (s *shop) adminSale(key string, id int64) saleResp {
	s.t.Helper()
	st, b, _ := s.do("GET", fmt.Sprintf("/api/v1/admin/flash-sales/%d", id), "", bearer(key)...)
	if st != 200 {
		s.t.Fatalf("admin sale: %d %s", st, b)
	}
	var sale saleResp
	json.Unmarshal([]byte(b), &sale)
	return sale
}

func TestFlashSaleAPIContract(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		manager, viewer := s.adminKey("manager"), s.adminKey("viewer")
		now := time.Now()

		// Staff: a viewer cannot create; a bad body is a 400.
		body := fmt.Sprintf(`{"market":"us","sku":%q,"amount":99,"quantity":5,"per_customer_limit":2,"starts_at":%q,"ends_at":%q}`,
			flashSKU, rfc(now.Add(-time.Minute)), rfc(now.Add(time.Hour)))
		if st, b, _ := s.do("POST", "/api/v1/admin/flash-sales", body, bearer(viewer)...); st != 403 {
			t.Errorf("viewer creates: %d %s", st, b)
		}
		if st, b, _ := s.do("POST", "/api/v1/admin/flash-sales", `{"market":"us","quantity":"many"}`, bearer(manager)...); st != 400 {
			t.Errorf("wrong type: %d %s", st, b)
		}
		if st, b, _ := s.do("POST", "/api/v1/admin/flash-sales", `{"market":"us","price":99}`, bearer(manager)...); st != 400 {
			t.Errorf("price sent: %d %s", st, b)
		}
		if st, b, _ := s.do("POST", "/api/v1/admin/flash-sales", strings.Replace(body, `"amount":99`, `"amount":0`, 1), bearer(manager)...); st != 422 ||
			!strings.Contains(b, `"field":"amount"`) {
			t.Errorf("no amount: %d %s, want 422 on the field amount", st, b)
		}
		if st, b, _ := s.do("POST", "/api/v1/admin/flash-sales", strings.Replace(body, `"starts_at":"`, `"starts_at":"yesterday`, 1), bearer(manager)...); st != 400 {
			t.Errorf("bad time: %d %s", st, b)
		}
		sale := s.createSale(manager, 5, 2, now.Add(-time.Minute), now.Add(time.Hour), "")
		if sale.ID == 0 || sale.State != "live" || sale.Remaining != 5 || sale.Price.Amount != 99 || sale.Price.Currency != "USD" {
			t.Fatalf("created %+v", sale)
		}

		// The public list, field for field.
		st, b, _ := s.do("GET", "/api/v1/markets/us/flash-sales", "")
		if st != 200 {
			t.Fatalf("list: %d %s", st, b)
		}
		var list struct {
			FlashSales []json.RawMessage `json:"flash_sales"`
		}
		json.Unmarshal([]byte(b), &list)
		if len(list.FlashSales) != 1 {
			t.Fatalf("list: %s", b)
		}
		got := keys(t, list.FlashSales[0])
		for _, k := range []string{"id", "sku", "name", "price", "quantity", "remaining", "per_customer_limit", "starts_at", "ends_at", "state", "pending"} {
			if !strings.Contains(","+strings.Join(got, ",")+",", ","+k+",") {
				t.Errorf("list entry lacks %s: %s", k, list.FlashSales[0])
			}
		}
		if st, b, _ := s.do("GET", "/api/v1/markets/xx/flash-sales", ""); st != 404 {
			t.Errorf("unknown market: %d %s", st, b)
		}

		// Claims: a session is needed, and a sensible quantity.
		ada := s.customerToken("ada@example.com")
		if st, b, h := s.claim(sale.ID, "", `{"quantity":1}`); st != 401 || h.Get("WWW-Authenticate") == "" {
			t.Errorf("claim without a session: %d %s", st, b)
		}
		if st, b, _ := s.claim(sale.ID, "forged-token-0123456789", `{"quantity":1}`); st != 401 {
			t.Errorf("claim with a forged session: %d %s", st, b)
		}
		for _, q := range []string{`{"quantity":0}`, `{"quantity":-1}`} {
			st, b, _ := s.claim(sale.ID, ada, q)
			if code, field := errCode(b); st != 422 || code != "invalid_field" || field != "quantity" {
				t.Errorf("claim %s: %d %s", q, st, b)
			}
		}
		// More than one customer may hold is the purchase limit.
		if st, b, _ := s.claim(sale.ID, ada, `{"quantity":3}`); st != 429 || !strings.Contains(b, `"limit_reached"`) || !strings.Contains(b, "at most 2 units") {
			t.Errorf("claim over the limit: %d %s", st, b)
		}
		for _, q := range []string{`{"quantity":"one"}`, `{"quantity":1`, `[1]`, `{"quantity":1,"unit_price":1}`} {
			if st, b, _ := s.claim(sale.ID, ada, q); st != 400 {
				t.Errorf("claim %s: %d %s", q, st, b)
			}
		}
		if st, b, _ := s.claim(999999, ada, ""); st != 404 {
			t.Errorf("unknown sale: %d %s", st, b)
		} else if code, _ := errCode(b); code != "not_found" {
			t.Errorf("unknown sale: %s", b)
		}

		// A claim without a body is one unit.
		st, b, _ = s.claim(sale.ID, ada, "")
		if st != 201 {
			t.Fatalf("claim: %d %s", st, b)
		}
		var claim struct {
			ClaimID   int64  `json:"claim_id"`
			ExpiresAt string `json:"expires_at"`
			CartID    string `json:"cart_id"`
			CartToken string `json:"cart_token"`
			Quantity  int    `json:"quantity"`
		}
		json.Unmarshal([]byte(b), &claim)
		if claim.ClaimID == 0 || claim.CartID == "" || claim.CartToken == "" || claim.Quantity != 1 {
			t.Errorf("claim answer %s", b)
		}
		if exp, err := time.Parse(time.RFC3339, claim.ExpiresAt); err != nil || !exp.After(now) {
			t.Errorf("claim expires_at %q", claim.ExpiresAt)
		}
		// The claim's cart opens with its token, at the sale price.
		if st, b, _ := s.do("GET", "/api/v1/carts/"+claim.CartID, "", "X-Cart-Token", claim.CartToken); st != 200 || !strings.Contains(b, `"amount":99`) {
			t.Errorf("claim cart: %d %s", st, b)
		}
		// and cannot be changed.
		if st, b, _ := s.do("PATCH", "/api/v1/carts/"+claim.CartID+"/items/"+flashSKU, `{"quantity":2}`, "X-Cart-Token", claim.CartToken); st != 409 {
			t.Errorf("change a claim cart: %d %s", st, b)
		} else if code, _ := errCode(b); code != "claim_cart" {
			t.Errorf("change a claim cart: %s", b)
		}
		// Nor checked out at another price: a price in the request is
		// refused, whatever the cart.
		for _, body := range []string{`{"email":"ada@example.com","unit_price":{"amount":1,"currency":"USD"}}`,
			`{"email":"ada@example.com","total":{"amount":1,"currency":"USD"}}`} {
			if st, b, _ := s.do("POST", "/api/v1/carts/"+claim.CartID+"/checkout", body, "X-Cart-Token", claim.CartToken); st != 400 {
				t.Errorf("check out a claim cart with %s: %d %s", body, st, b)
			}
		}
		if st, b, _ := s.claim(sale.ID, ada, `{"quantity":1}`); st != 201 {
			t.Fatalf("second claim: %d %s", st, b)
		}
		if st, b, _ := s.claim(sale.ID, ada, `{"quantity":1}`); st != 429 {
			t.Errorf("over the limit: %d %s", st, b)
		} else if code, _ := errCode(b); code != "limit_reached" {
			t.Errorf("over the limit: %s", b)
		}
		got2 := s.adminSale(manager, sale.ID)
		if got2.Claimed != 2 || got2.Remaining != 3 || got2.Pending != 2 || got2.Paid != 0 || got2.Released != 0 {
			t.Errorf("counters %+v", got2)
		}

		// Staff pause, resume and end; the claims answer each.
		bob := s.customerToken("bob@example.com")
		act := func(verb string, want int) {
			t.Helper()
			if st, b, _ := s.do("POST", fmt.Sprintf("/api/v1/admin/flash-sales/%d/%s", sale.ID, verb), "", bearer(manager)...); st != want {
				t.Errorf("%s: %d %s", verb, st, b)
			}
		}
		if st, b, _ := s.do("POST", fmt.Sprintf("/api/v1/admin/flash-sales/%d/pause", sale.ID), "", bearer(viewer)...); st != 403 {
			t.Errorf("viewer pauses: %d %s", st, b)
		}
		act("pause", 200)
		if st, b, _ := s.claim(sale.ID, bob, ""); st != 409 || !strings.Contains(b, `"paused"`) {
			t.Errorf("claim paused: %d %s", st, b)
		}
		act("resume", 200)
		if st, b, _ := s.do("PATCH", fmt.Sprintf("/api/v1/admin/flash-sales/%d", sale.ID), `{"ends_at":"`+rfc(now.Add(2*time.Hour))+`"}`, bearer(manager)...); st != 409 {
			t.Errorf("reschedule a running sale: %d %s", st, b)
		} else if code, _ := errCode(b); code != "invalid_state" {
			t.Errorf("reschedule a running sale: %s", b)
		}
		act("end", 200)
		if st, b, _ := s.claim(sale.ID, bob, ""); st != 409 || !strings.Contains(b, `"ended"`) {
			t.Errorf("claim ended: %d %s", st, b)
		}
		act("resume", 409)

		// A sale that has not started, with registration.
		later := s.createSale(manager, 1, 1, now.Add(time.Hour), now.Add(2*time.Hour), `,"registration_closes_at":"`+rfc(now.Add(30*time.Minute))+`"`)
		if st, b, _ := s.claim(later.ID, bob, ""); st != 409 || !strings.Contains(b, `"not_started"`) {
			t.Errorf("claim before the start: %d %s", st, b)
		}
		if st, b, _ := s.do("POST", fmt.Sprintf("/api/v1/flash-sales/%d/registrations", later.ID), "", "Authorization", "Bearer "+bob); st != 201 {
			t.Errorf("register: %d %s", st, b)
		}
		if st, b, _ := s.do("POST", fmt.Sprintf("/api/v1/flash-sales/%d/registrations", later.ID), ""); st != 401 {
			t.Errorf("register without a session: %d %s", st, b)
		}
		if st, b, _ := s.do("POST", fmt.Sprintf("/api/v1/flash-sales/%d/registrations", sale.ID), "", "Authorization", "Bearer "+bob); st != 409 {
			t.Errorf("register for a sale without registration: %d %s", st, b)
		}
		st, b, _ = s.do("PATCH", fmt.Sprintf("/api/v1/admin/flash-sales/%d", later.ID), `{"starts_at":"`+rfc(now.Add(90*time.Minute))+`","registration_closes_at":null}`, bearer(manager)...)
		if st != 200 || strings.Contains(b, "registration_closes_at") {
			t.Errorf("reschedule: %d %s", st, b)
		}

		// Registration closed before the start: only registrants claim.
		closed := s.createSale(manager, 1, 1, now.Add(-time.Minute), now.Add(time.Hour), `,"registration_closes_at":"`+rfc(now.Add(-2*time.Minute))+`"`)
		if st, b, _ := s.claim(closed.ID, bob, ""); st != 403 || !strings.Contains(b, `"not_registered"`) {
			t.Errorf("claim unregistered: %d %s", st, b)
		}

		// One unit, two shoppers: the second hears sold_out.
		one := s.createSale(manager, 1, 1, now.Add(-time.Minute), now.Add(time.Hour), "")
		if st, b, _ := s.claim(one.ID, bob, ""); st != 201 {
			t.Fatalf("claim the last unit: %d %s", st, b)
		}
		if st, b, _ := s.claim(one.ID, ada, ""); st != 409 || !strings.Contains(b, `"sold_out"`) {
			t.Errorf("claim sold out: %d %s", st, b)
		}

		// The admin list has them all.
		st, b, _ = s.do("GET", "/api/v1/admin/flash-sales?market=us", "", bearer(viewer)...)
		if st != 200 || strings.Count(b, `"claimed"`) != 4 {
			t.Errorf("admin list: %d %s", st, b)
		}
	})
}

func TestFlashSaleOpenAPI(t *testing.T) {
	t.Parallel()
	s := newShop(t, dbtest.Open(t, db.SQLite))
	_, body, _ := s.do("GET", "/api/v1/openapi.json", "")
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{
		"GET /api/v1/markets/{market}/flash-sales", "POST /api/v1/flash-sales/{id}/claims", "POST /api/v1/flash-sales/{id}/registrations",
		"GET /api/v1/admin/flash-sales", "POST /api/v1/admin/flash-sales", "GET /api/v1/admin/flash-sales/{id}",
		"PATCH /api/v1/admin/flash-sales/{id}", "POST /api/v1/admin/flash-sales/{id}/pause",
		"POST /api/v1/admin/flash-sales/{id}/resume", "POST /api/v1/admin/flash-sales/{id}/end",
	} {
		method, path, _ := strings.Cut(op, " ")
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("the document lacks %s", op)
		}
	}
	// Every schema an operation names is in the document.
	for _, ref := range regexpRefs.FindAllStringSubmatch(body, -1) {
		if _, ok := doc.Components.Schemas[ref[1]]; !ok {
			t.Errorf("the document refers to a schema it lacks: %s", ref[1])
		}
	}
}

func TestFlashSalePages(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		manager := s.adminKey("manager")
		now := time.Now()
		sale := s.createSale(manager, 3, 1, now.Add(-time.Minute), now.Add(time.Hour), "")
		soon := s.createSale(manager, 2, 1, now.Add(time.Hour), now.Add(2*time.Hour), "")
		salePath := fmt.Sprintf("/us/flash-sales/%d", sale.ID)

		st, b, _ := s.do("GET", "/us/flash-sales", "")
		if st != 200 {
			t.Fatalf("list page: %d", st)
		}
		for _, want := range []string{"Cable drop", "3 of 3 left", "Starts in", "Ends in", "data-countdown=", "<time datetime=", salePath} {
			if !strings.Contains(b, want) {
				t.Errorf("list page lacks %q", want)
			}
		}
		if _, sp, _ := s.do("GET", salePath, ""); strings.Contains(sp, fmt.Sprintf("/cn/flash-sales/%d", sale.ID)) || !strings.Contains(sp, `href="/cn/flash-sales"`) {
			t.Error("the US sale's page links to the same sale in China, which has none, or not to China's sales")
		}
		if !strings.Contains(b, `href="/us/flash-sales"`) {
			t.Error("the store's header has no link to the flash sales")
		}

		// Signed out: the countdown, the units, and a sign-in prompt.
		st, b, _ = s.do("GET", salePath, "")
		if st != 200 {
			t.Fatalf("sale page: %d", st)
		}
		for _, want := range []string{"Ends in", "3</strong> of 3 left", "server time", "Sign in to claim", `src="/static/`} {
			if !strings.Contains(b, want) {
				t.Errorf("signed-out sale page lacks %q", want)
			}
		}
		if strings.Contains(b, `class="sale-claim"`) {
			t.Error("a signed-out shopper sees the claim button")
		}
		_, b, _ = s.do("GET", fmt.Sprintf("/us/flash-sales/%d", soon.ID), "")
		if !strings.Contains(b, "Starts in") || strings.Contains(b, `class="sale-claim"`) {
			t.Error("a scheduled sale's page shows no countdown to its start, or a claim button")
		}
		if st, _, _ := s.do("GET", fmt.Sprintf("/gb/flash-sales/%d", sale.ID), ""); st != 404 {
			t.Errorf("a US sale in another market: %d", st)
		}
		if st, _, _ := s.do("GET", "/us/flash-sales/nope", ""); st != 404 {
			t.Errorf("a sale that is no number: %d", st)
		}

		// Signed in: claim from the form, straight to checkout.
		token := s.customerToken("ada@example.com")
		session := "mistore_session=" + token
		_, b, _ = s.do("GET", salePath, "", "Cookie", session)
		if !strings.Contains(b, `class="sale-claim"`) || !strings.Contains(b, `action="`+salePath+`/claim"`) {
			t.Fatalf("signed-in sale page has no claim form:\n%s", pageMain(b))
		}
		// The shopper has a cart of their own already.
		st, _, hdr := s.form("/us/cart/items", url.Values{"sku": {"MB8-BLK"}, "quantity": {"2"}}, session)
		ownCart := ""
		for _, c := range (&http.Response{Header: hdr}).Cookies() {
			if c.Name == "mistore_cart_us" {
				ownCart = c.Name + "=" + c.Value
			}
		}
		if st != http.StatusSeeOther || ownCart == "" {
			t.Fatalf("add to the own cart: %d %v", st, hdr)
		}
		st, b, hdr = s.form(salePath+"/claim", url.Values{"quantity": {"1"}}, session+"; "+ownCart)
		if st != http.StatusSeeOther || hdr.Get("Location") != "/us/checkout" {
			t.Fatalf("claim form: %d %s %v", st, b, hdr)
		}
		var claimCookie *http.Cookie
		for _, c := range (&http.Response{Header: hdr}).Cookies() {
			switch c.Name {
			case "mistore_claim_us":
				claimCookie = c
			case "mistore_cart_us":
				t.Errorf("the claim replaced the shopper's own cart: %v", c)
			}
		}
		if claimCookie == nil || !strings.Contains(claimCookie.Value, ".") {
			t.Fatalf("the claim set no claim cookie: %v", hdr)
		}
		both := session + "; " + ownCart + "; mistore_claim_us=" + claimCookie.Value
		// The checkout page shows the claim's cart; the cart page the
		// shopper's own, with the claim waiting at checkout.
		st, b, _ = s.do("GET", "/us/checkout", "", "Cookie", both)
		if st != 200 || !strings.Contains(b, "$0.99") || !strings.Contains(b, "Your flash-sale units are held until") || strings.Contains(b, "15 minutes") {
			t.Errorf("checkout of the claim: %d %s", st, pageMain(b))
		}
		st, b, _ = s.do("GET", "/us/cart", "", "Cookie", both)
		if st != 200 || !strings.Contains(b, "Mistore Band 8") || !strings.Contains(b, "Your flash-sale claim is waiting at checkout") {
			t.Errorf("cart page beside a claim: %d %s", st, pageMain(b))
		}
		// Back on the sale page: the claim held, and the units that may
		// come back.
		_, b, _ = s.do("GET", salePath, "", "Cookie", session)
		for _, want := range []string{"You hold 1 unit until", "Check out", "1 unit may come back", "2</strong> of 3 left"} {
			if !strings.Contains(b, want) {
				t.Errorf("sale page after the claim lacks %q", want)
			}
		}
		// A second claim is refused with a message on the page, not an
		// error page.
		st, _, hdr = s.form(salePath+"/claim", url.Values{"quantity": {"1"}}, session)
		if st != http.StatusSeeOther || hdr.Get("Location") != salePath {
			t.Fatalf("claim over the limit: %d %v", st, hdr)
		}
		flash := ""
		for _, c := range (&http.Response{Header: hdr}).Cookies() {
			if c.Name == "mistore_sale_flash" {
				flash = c.Name + "=" + c.Value
			}
		}
		st, b, _ = s.do("GET", salePath, "", "Cookie", session+"; "+flash)
		if st != 200 || !strings.Contains(b, "as many units of this sale as one customer may") {
			t.Errorf("refused claim's page: %d %s", st, pageMain(b))
		}
		// The held claim's Check out button opens its cart again.
		claimID := between(b, `name="claim_id" value="`, `"`)
		st, _, hdr = s.form(salePath+"/checkout", url.Values{"claim_id": {claimID}}, session)
		if st != http.StatusSeeOther || hdr.Get("Location") != "/us/checkout" || !strings.Contains(hdr.Get("Set-Cookie"), "mistore_claim_us=") {
			t.Errorf("check out the held claim %q: %d %v", claimID, st, hdr)
		}
		// The claim runs out: checkout sends the shopper to their own
		// cart, which they can change, and says why.
		if _, err := d.Write.Exec(`UPDATE flash_sale_claims SET expires_at = $1`, time.Now().Add(-time.Minute).UTC()); err != nil {
			t.Fatal(err)
		}
		st, _, hdr = s.do("GET", "/us/checkout", "", "Cookie", both)
		if st != http.StatusSeeOther || hdr.Get("Location") != "/us/cart" || !strings.Contains(hdr.Get("Set-Cookie"), "mistore_claim_us=;") {
			t.Errorf("checkout after the claim ran out: %d %v", st, hdr)
		}
		if st, _, hdr = s.form("/us/cart/items", url.Values{"sku": {"MB8-BLK"}, "quantity": {"1"}}, session+"; "+ownCart); st != http.StatusSeeOther ||
			strings.Contains(hdr.Get("Set-Cookie"), "mistore_cart_us=") {
			t.Errorf("add to the own cart after the claim: %d %v", st, hdr)
		}
		st, b, _ = s.do("GET", "/us/checkout", "", "Cookie", session+"; "+ownCart)
		if st != 200 || !strings.Contains(b, "Mistore Band 8") || strings.Contains(b, "$0.99") {
			t.Errorf("checkout of the own cart after the claim: %d %s", st, pageMain(b))
		}
		// Signed out, the form asks to sign in.
		st, _, hdr = s.form(salePath+"/claim", url.Values{"quantity": {"1"}})
		if st != http.StatusSeeOther || hdr.Get("Location") != salePath {
			t.Errorf("claim signed out: %d %v", st, hdr)
		}
		// A forged queue ticket claims nothing.
		st, _, hdr = s.do("GET", salePath+"/claim?ticket=1.2.1.99999999999.00", "", "Cookie", session)
		if st != http.StatusSeeOther || hdr.Get("Location") != salePath {
			t.Errorf("forged ticket: %d %v", st, hdr)
		}
	})
}

// form posts a storefront form with extra cookies in hdr's Cookie.
func (s *shop) form(path string, v url.Values, cookie ...string) (int, string, http.Header) {
	s.t.Helper()
	req, err := http.NewRequest("POST", s.url+path, strings.NewReader(v.Encode()))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if len(cookie) > 0 {
		req.Header.Set("Cookie", cookie[0])
	}
	return s.send(req)
}

// between returns what s holds between the first from and the next to.
func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, to)
	return v
}

func TestAdminFlashSalePages(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		manager, viewer := s.adminCookie("manager"), s.adminCookie("viewer")
		now := time.Now().UTC()
		local := func(t time.Time) string { return t.Format("2006-01-02T15:04") }
		form := url.Values{"market": {"us"}, "sku": {flashSKU}, "title": {"Cable <drop>"}, "price": {"0.99"}, "quantity": {"4"},
			"per_customer_limit": {"2"}, "starts_at": {local(now.Add(time.Hour))}, "ends_at": {local(now.Add(2 * time.Hour))}}

		if st, _, _ := s.adminGet(viewer, "/admin/flash-sales"); st != 200 {
			t.Errorf("viewer reads the list: %d", st)
		}
		if st, _, _ := s.adminGet(viewer, "/admin/flash-sales/new"); st != 403 {
			t.Errorf("viewer opens the new-sale form: %d", st)
		}
		if st, _, _ := s.adminForm(viewer, "/admin/flash-sales", form); st != 403 {
			t.Errorf("viewer creates: %d", st)
		}
		if st, b, _ := s.adminGet(manager, "/admin/flash-sales/new"); st != 200 || !strings.Contains(b, `name="per_customer_limit"`) {
			t.Errorf("new-sale form: %d", st)
		}
		bad := url.Values{}
		for k, v := range form {
			bad[k] = v
		}
		bad.Set("price", "cheap")
		if st, b, _ := s.adminForm(manager, "/admin/flash-sales", bad); st != 422 || !strings.Contains(b, "is not an amount in USD") || !strings.Contains(b, `value="Cable &lt;drop&gt;"`) {
			t.Errorf("bad price: %d %s", st, b)
		}
		bad.Set("price", "0.99")
		bad.Set("sku", "NO-SUCH-SKU")
		if st, b, _ := s.adminForm(manager, "/admin/flash-sales", bad); st < 400 || st >= 500 || !strings.Contains(b, `class="form-error"`) {
			t.Errorf("unknown SKU: %d %s", st, b)
		}
		st, _, hdr := s.adminForm(manager, "/admin/flash-sales", form)
		loc := hdr.Get("Location")
		if st != http.StatusSeeOther || !strings.HasPrefix(loc, "/admin/flash-sales/") {
			t.Fatalf("create: %d %v", st, hdr)
		}
		st, b, _ := s.adminGet(manager, loc, hdr)
		if st != 200 {
			t.Fatalf("sale page: %d", st)
		}
		for _, want := range []string{"Flash sale created", "Cable &lt;drop&gt;", "Claimed", "Remaining", "Pending", "Reschedule", "Pause claims", "End the sale now"} {
			if !strings.Contains(b, want) {
				t.Errorf("sale page lacks %q", want)
			}
		}
		if _, b, _ := s.adminGet(viewer, loc); strings.Contains(b, "Pause claims") || strings.Contains(b, "Reschedule") {
			t.Error("a viewer sees the buttons that change the sale")
		}
		if st, _, _ := s.adminForm(viewer, loc+"/pause", nil); st != 403 {
			t.Errorf("viewer pauses: %d", st)
		}
		if st, _, hdr := s.adminForm(manager, loc+"/schedule", url.Values{"starts_at": {local(now.Add(3 * time.Hour))}, "ends_at": {local(now.Add(2 * time.Hour))}}); st != 422 && st != 409 {
			t.Errorf("reschedule ending before it starts: %d %v", st, hdr)
		}
		if st, _, hdr := s.adminForm(manager, loc+"/schedule", url.Values{"starts_at": {local(now.Add(3 * time.Hour))}, "ends_at": {local(now.Add(4 * time.Hour))}}); st != http.StatusSeeOther {
			t.Errorf("reschedule: %d %v", st, hdr)
		}
		if st, _, hdr := s.adminForm(manager, loc+"/pause", nil); st != http.StatusSeeOther || hdr.Get("Location") != loc {
			t.Errorf("pause: %d %v", st, hdr)
		}
		_, b, _ = s.adminGet(manager, loc)
		if !strings.Contains(b, "Resume claims") {
			t.Error("a paused sale offers no resume")
		}
		_, b, _ = s.adminGet(manager, "/admin/flash-sales")
		if !strings.Contains(b, "Cable &lt;drop&gt;") || !strings.Contains(b, `href="/admin/flash-sales"`) {
			t.Errorf("list page:\n%s", b)
		}
		if st, _, _ := s.adminForm(manager, loc+"/end", nil); st != http.StatusSeeOther {
			t.Errorf("end: %d", st)
		}
	})
}

// TestFlashSaleClaimCheckoutKeepsTheCart: checking out a claim forgets the
// claim's cart, never the shopper's own, which is there afterwards as it
// was.
func TestFlashSaleClaimCheckoutKeepsTheCart(t *testing.T) {
	t.Parallel()
	s := newShop(t, dbtest.Open(t, db.SQLite))
	now := time.Now()
	sale := s.createSale(s.adminKey("manager"), 3, 1, now.Add(-time.Minute), now.Add(time.Hour), "")
	session := "mistore_session=" + s.customerToken("ada@example.com")
	cookieOf := func(hdr http.Header, name string) *http.Cookie {
		for _, c := range (&http.Response{Header: hdr}).Cookies() {
			if c.Name == name {
				return c
			}
		}
		return nil
	}
	_, _, hdr := s.form("/us/cart/items", url.Values{"sku": {"MB8-BLK"}, "quantity": {"2"}}, session)
	own := cookieOf(hdr, "mistore_cart_us")
	_, _, hdr = s.form(fmt.Sprintf("/us/flash-sales/%d/claim", sale.ID), url.Values{"quantity": {"1"}}, session+"; mistore_cart_us="+own.Value)
	claim := cookieOf(hdr, "mistore_claim_us")
	if own == nil || claim == nil {
		t.Fatalf("own cart %v, claim %v", own, claim)
	}
	both := session + "; mistore_cart_us=" + own.Value + "; mistore_claim_us=" + claim.Value
	form := url.Values{"email": {"ada@example.com"}, "name": {"Ada"}, "line1": {"1 Main St"}, "city": {"Newark"}, "region": {"NJ"},
		"postal_code": {"07102"}, "shipping_method": {"standard"}, "action": {"place"}}
	st, _, hdr := s.do("POST", "/us/checkout", form.Encode(), "Content-Type", "application/x-www-form-urlencoded", "Origin", s.url, "Cookie", both)
	if st != http.StatusSeeOther {
		t.Fatalf("place the claim's order: %d", st)
	}
	if c := cookieOf(hdr, "mistore_claim_us"); c == nil || c.MaxAge >= 0 {
		t.Errorf("the claim's cookie is kept after its order: %v", c)
	}
	if c := cookieOf(hdr, "mistore_cart_us"); c != nil {
		t.Errorf("the shopper's own cart was forgotten with the claim's order: %v", c)
	}
	if st, b, _ := s.do("GET", "/us/cart", "", "Cookie", session+"; mistore_cart_us="+own.Value); st != 200 || !strings.Contains(b, "Mistore Band 8") {
		t.Errorf("the own cart after the claim's order: %d", st)
	}
}
