package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// cartDo sends method path with a JSON body (none when body is "") and
// header pairs.
func cartDo(t testing.TB, h http.Handler, method, path, body string, hdr ...string) response {
	t.Helper()
	var req *http.Request
	if body == "" {
		req = httptest.NewRequest(method, path, nil)
	} else {
		req = httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Result().Header, body: rec.Body.String()}
}

type cartJSON struct {
	ID         string `json:"id"`
	Token      string `json:"token"`
	Market     string `json:"market"`
	Currency   string `json:"currency"`
	ItemCount  int    `json:"item_count"`
	CheckedOut bool   `json:"checked_out"`
	Notices    []string
	Subtotal   struct {
		Amount   int64  `json:"amount"`
		Currency string `json:"currency"`
	} `json:"subtotal"`
	Lines []struct {
		SKU       string `json:"sku"`
		Name      string `json:"name"`
		Variant   string `json:"variant"`
		Quantity  int    `json:"quantity"`
		UnitPrice *struct {
			Amount int64 `json:"amount"`
		} `json:"unit_price"`
		Total struct {
			Amount int64 `json:"amount"`
		} `json:"total"`
		Available    bool   `json:"available"`
		Availability string `json:"availability"`
		Reason       string `json:"reason"`
		MaxQuantity  int    `json:"max_quantity"`
		URL          string `json:"url"`
	} `json:"lines"`
}

// newAPICart makes a cart in the US through the API.
func newAPICart(t testing.TB, h http.Handler) cartJSON {
	t.Helper()
	r := cartDo(t, h, "POST", "/api/v1/markets/us/carts", "")
	var c cartJSON
	decode(t, r, &c)
	if r.status != 201 || c.ID == "" || c.Token == "" {
		t.Fatalf("create cart: %d %s", r.status, r.body)
	}
	return c
}

func apiErrorOf(t testing.TB, r response) (code, field, msg string) {
	t.Helper()
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"error"`
	}
	decode(t, r, &body)
	return body.Error.Code, body.Error.Field, body.Error.Message
}

func TestCartAPI(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newStore(t, d)
		r := cartDo(t, s, "POST", "/api/v1/markets/us/carts", "")
		if r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		var raw json.RawMessage
		decode(t, r, &raw)
		want := []string{"checked_out", "currency", "id", "item_count", "lines", "market", "notices", "subtotal", "token"}
		if got := keys(t, raw); !slices.Equal(got, want) {
			t.Errorf("new cart fields %v, want %v", got, want)
		}
		var c cartJSON
		decode(t, r, &c)
		if c.Market != "us" || c.Currency != "USD" || c.Subtotal.Currency != "USD" || c.Lines == nil || c.Notices == nil {
			t.Errorf("new cart %s", r.body)
		}
		if r.header.Get("Location") != "/api/v1/carts/"+c.ID || r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("headers %v", r.header)
		}
		tok := []string{"X-Cart-Token", c.Token}
		cartPath := "/api/v1/carts/" + c.ID

		r = cartDo(t, s, "GET", cartPath, "", tok...)
		decode(t, r, &raw)
		if r.status != 200 || slices.Contains(keys(t, raw), "token") {
			t.Errorf("GET: %d %s", r.status, r.body)
		}
		r = cartDo(t, s, "POST", cartPath+"/items", `{"sku":"MB8-BLK","quantity":2}`, tok...)
		if r.status != 200 {
			t.Fatalf("add: %d %s", r.status, r.body)
		}
		r = cartDo(t, s, "POST", cartPath+"/items", `{"sku":"MB8-BLK","quantity":3}`, tok...)
		var got cartJSON
		decode(t, r, &got)
		if r.status != 200 || len(got.Lines) != 1 || got.Lines[0].Quantity != 5 || got.Lines[0].Total.Amount != 5*3999 ||
			got.Lines[0].UnitPrice == nil || got.Lines[0].UnitPrice.Amount != 3999 || got.Subtotal.Amount != 5*3999 ||
			got.ItemCount != 5 || got.Lines[0].Name != "Mistore Band 8" || got.Lines[0].Variant != "Black" ||
			!got.Lines[0].Available || got.Lines[0].Availability != "available" || got.Lines[0].MaxQuantity != 10 ||
			got.Lines[0].URL != "/us/products/mistore-band-8?variant=MB8-BLK" {
			t.Errorf("after 2 + 3: %d %s", r.status, r.body)
		}
		var lines struct {
			Lines []json.RawMessage `json:"lines"`
		}
		decode(t, r, &lines)
		wantLine := []string{"availability", "available", "image", "max_quantity", "name", "quantity", "sku", "slug", "total", "unit_price", "url", "variant"}
		if got := keys(t, lines.Lines[0]); !slices.Equal(got, wantLine) {
			t.Errorf("line fields %v, want %v", got, wantLine)
		}

		r = cartDo(t, s, "PATCH", cartPath+"/items/MB8-BLK", `{"quantity":1}`, tok...)
		decode(t, r, &got)
		if r.status != 200 || got.Lines[0].Quantity != 1 {
			t.Errorf("patch: %d %s", r.status, r.body)
		}
		if r := cartDo(t, s, "POST", cartPath+"/items", `{"sku":"MPB10-BLK","quantity":1}`, tok...); r.status != 200 {
			t.Fatalf("add: %d %s", r.status, r.body)
		}
		r = cartDo(t, s, "DELETE", cartPath+"/items/MPB10-BLK", "", tok...)
		decode(t, r, &got)
		if r.status != 200 || len(got.Lines) != 1 {
			t.Errorf("delete: %d %s", r.status, r.body)
		}
		r = cartDo(t, s, "PATCH", cartPath+"/items/MB8-BLK", `{"quantity":0}`, tok...)
		decode(t, r, &got)
		if r.status != 200 || len(got.Lines) != 0 || got.Subtotal.Amount != 0 {
			t.Errorf("patch 0: %d %s", r.status, r.body)
		}
		// An explicit empty object is a fine body for a new cart.
		if r := cartDo(t, s, "POST", "/api/v1/markets/cn/carts", `{}`); r.status != 201 || !strings.Contains(r.body, `"CNY"`) {
			t.Errorf("create with {}: %d %s", r.status, r.body)
		}
	})
}

// TestCartAPIErrors sends every kind of bad request to one cart and checks
// the status and code of each, and that none changed the cart.
func TestCartAPIErrors(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newStore(t, d)
		c := newAPICart(t, s)
		other := newAPICart(t, s)
		cartPath := "/api/v1/carts/" + c.ID
		tok := []string{"X-Cart-Token", c.Token}
		if r := cartDo(t, s, "POST", cartPath+"/items", `{"sku":"MB8-BLK","quantity":1}`, tok...); r.status != 200 {
			t.Fatalf("add: %d %s", r.status, r.body)
		}
		before := cartDo(t, s, "GET", cartPath, "", tok...).body
		var cartsBefore int
		d.Read.QueryRow("SELECT count(*) FROM carts").Scan(&cartsBefore)

		tests := []struct {
			method, path, body string
			hdr                []string
			status             int
			code, field, msg   string
		}{
			// Domain outcomes.
			{"POST", cartPath + "/items", `{"sku":"MP14-BLK-256","quantity":1}`, tok, 422, "not_sold_in_market", "", "FCC"},
			{"POST", cartPath + "/items", `{"sku":"NOPE-1","quantity":1}`, tok, 422, "not_sold_in_market", "", "NOPE-1"},
			{"POST", cartPath + "/items", `{"sku":"MWS4-BLK","quantity":1}`, tok, 422, "not_sold_in_market", "", "2027"},
			{"POST", cartPath + "/items", `{"sku":"MPB20-GRY","quantity":1}`, tok, 409, "out_of_stock", "", "out of stock"},
			{"POST", cartPath + "/items", `{"sku":"MB8-BLK","quantity":0}`, tok, 422, "invalid_quantity", "", "at least 1"},
			{"POST", cartPath + "/items", `{"sku":"MB8-BLK","quantity":-1}`, tok, 422, "invalid_quantity", "", ""},
			// Above the product's purchase limit is API.md's 429; above any
			// product's, no purchase at all.
			{"POST", cartPath + "/items", `{"sku":"MB8-BLK","quantity":10}`, tok, 429, "limit_reached", "", "at most 10"},
			{"POST", cartPath + "/items", `{"sku":"MB8-BLK","quantity":1000000000}`, tok, 422, "invalid_quantity", "", "at most 10"},
			{"PATCH", cartPath + "/items/MB8-BLK", `{"quantity":11}`, tok, 429, "limit_reached", "", "at most 10"},
			{"PATCH", cartPath + "/items/MB8-BLK", `{"quantity":1001}`, tok, 422, "invalid_quantity", "", "at most 10"},
			{"PATCH", cartPath + "/items/MB8-BLK", `{"quantity":-1}`, tok, 422, "invalid_quantity", "", ""},
			{"PATCH", cartPath + "/items/MB8-BLU", `{"quantity":2}`, tok, 404, "not_found", "", "MB8-BLU"},
			{"PATCH", cartPath + "/items/MB8-BLU", `{"quantity":0}`, tok, 404, "not_found", "", ""},
			// Wrong types, each named.
			{"POST", cartPath + "/items", `{"sku":"MB8-BLK","quantity":"3"}`, tok, 400, "invalid_parameter", "quantity", "whole number"},
			{"POST", cartPath + "/items", `{"sku":"MB8-BLK","quantity":1.5}`, tok, 400, "invalid_parameter", "quantity", "whole number"},
			{"POST", cartPath + "/items", `{"sku":"MB8-BLK","quantity":1e9}`, tok, 400, "invalid_parameter", "quantity", "whole number"},
			{"POST", cartPath + "/items", `{"sku":"MB8-BLK","quantity":99999999999999999999}`, tok, 400, "invalid_parameter", "quantity", ""},
			{"POST", cartPath + "/items", `{"sku":"MB8-BLK","quantity":true}`, tok, 400, "invalid_parameter", "quantity", ""},
			{"POST", cartPath + "/items", `{"sku":"MB8-BLK","quantity":null}`, tok, 400, "invalid_parameter", "quantity", "required"},
			{"POST", cartPath + "/items", `{"sku":"MB8-BLK"}`, tok, 400, "invalid_parameter", "quantity", "required"},
			{"POST", cartPath + "/items", `{"quantity":1}`, tok, 400, "invalid_parameter", "sku", "required"},
			{"POST", cartPath + "/items", `{"sku":7,"quantity":1}`, tok, 400, "invalid_parameter", "sku", "string"},
			{"PATCH", cartPath + "/items/MB8-BLK", `{"quantity":"2"}`, tok, 400, "invalid_parameter", "quantity", ""},
			{"PATCH", cartPath + "/items/MB8-BLK", `{}`, tok, 400, "invalid_parameter", "quantity", "required"},
			// Fields the request does not have, and prices above all.
			{"POST", cartPath + "/items", `{"sku":"MB8-BLK","quantity":1,"colour":"red"}`, tok, 400, "invalid_parameter", "colour", ""},
			{"POST", cartPath + "/items", `{"sku":"MB8-BLK","quantity":1,"price":1}`, tok, 400, "invalid_parameter", "price", "computed by the store"},
			{"POST", cartPath + "/items", `{"unit_price":{"amount":1,"currency":"USD"},"sku":"MB8-BLK","quantity":1}`, tok, 400, "invalid_parameter", "unit_price", "computed by the store"},
			{"POST", cartPath + "/items", `{"quantity":"x","sku":"MB8-BLK","total":0}`, tok, 400, "invalid_parameter", "total", "computed by the store"},
			{"POST", cartPath + "/items", `{"sku":"MB8-BLK","quantity":1,"Subtotal":0}`, tok, 400, "invalid_parameter", "Subtotal", "computed by the store"},
			{"PATCH", cartPath + "/items/MB8-BLK", `{"quantity":1,"discount":500}`, tok, 400, "invalid_parameter", "discount", "computed by the store"},
			{"POST", "/api/v1/markets/us/carts", `{"lines":[{"sku":"MB8-BLK","quantity":1,"price":0}]}`, nil, 400, "invalid_parameter", "lines", ""},
			// Not JSON, or not one object.
			{"POST", cartPath + "/items", `{"sku":`, tok, 400, "malformed_request", "", ""},
			{"POST", cartPath + "/items", `{"sku":"MB8-BLK",}`, tok, 400, "malformed_request", "", ""},
			{"POST", cartPath + "/items", `{"sku":"MB8-BLK","quantity":1}{"sku":"MB8-BLK","quantity":1}`, tok, 400, "malformed_request", "", "exactly one"},
			{"POST", cartPath + "/items", `[{"sku":"MB8-BLK","quantity":1}]`, tok, 400, "malformed_request", "", "object"},
			{"POST", cartPath + "/items", `null`, tok, 400, "malformed_request", "", "object"},
			{"POST", cartPath + "/items", ``, tok, 400, "malformed_request", "", "empty"},
			{"POST", "/api/v1/markets/us/carts", `[]`, nil, 400, "malformed_request", "", ""},
			{"POST", cartPath + "/items", `{"sku":"MB8-BLK","quantity":1,"pad":"` + strings.Repeat("x", 70<<10) + `"}`, tok, 413, "request_too_large", "", ""},
			// Tokens: missing, wrong, another cart's; an unknown cart.
			{"GET", cartPath, "", nil, 404, "not_found", "", ""},
			{"GET", cartPath, "", []string{"X-Cart-Token", c.Token + "x"}, 404, "not_found", "", ""},
			{"GET", cartPath, "", []string{"X-Cart-Token", other.Token}, 404, "not_found", "", ""},
			{"POST", cartPath + "/items", `{"sku":"MB8-BLK","quantity":1}`, nil, 404, "not_found", "", ""},
			{"POST", cartPath + "/items", `{"sku":"MB8-BLK","quantity":1}`, []string{"X-Cart-Token", other.Token}, 404, "not_found", "", ""},
			{"PATCH", cartPath + "/items/MB8-BLK", `{"quantity":3}`, []string{"X-Cart-Token", "nope"}, 404, "not_found", "", ""},
			{"DELETE", cartPath + "/items/MB8-BLK", "", nil, 404, "not_found", "", ""},
			{"DELETE", cartPath + "/items/MB8-BLK", "", []string{"X-Cart-Token", other.Token}, 404, "not_found", "", ""},
			{"GET", "/api/v1/carts/" + other.ID + "x", "", []string{"X-Cart-Token", other.Token}, 404, "not_found", "", ""},
			{"GET", "/api/v1/carts/nope", "", tok, 404, "not_found", "", ""},
			{"POST", "/api/v1/markets/xx/carts", "", nil, 404, "not_found", "", "market"},
			{"PUT", cartPath, "", tok, 405, "method_not_allowed", "", ""},
		}
		for _, tt := range tests {
			r := cartDo(t, s, tt.method, tt.path, tt.body, append([]string{"X-Cart-Token", ""}, tt.hdr...)...)
			code, field, msg := apiErrorOf(t, r)
			if r.status != tt.status || code != tt.code || field != tt.field || msg == "" || !strings.Contains(msg, tt.msg) {
				t.Errorf("%s %s %.80s: %d %s field %q %q; want %d %s field %q saying %q",
					tt.method, strings.TrimPrefix(tt.path, cartPath), tt.body, r.status, code, field, msg, tt.status, tt.code, tt.field, tt.msg)
			}
		}
		// The same message for a wrong token as for no cart at all.
		_, _, m1 := apiErrorOf(t, cartDo(t, s, "GET", cartPath, "", "X-Cart-Token", other.Token))
		_, _, m2 := apiErrorOf(t, cartDo(t, s, "GET", "/api/v1/carts/"+strings.Repeat("a", 26), "", "X-Cart-Token", c.Token))
		if m1 != m2 {
			t.Errorf("wrong token says %q, unknown cart %q", m1, m2)
		}
		// A body that is not JSON at all.
		req := httptest.NewRequest("POST", cartPath+"/items", strings.NewReader("sku=MB8-BLK&quantity=1"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Cart-Token", c.Token)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != 415 || !strings.Contains(rec.Body.String(), "unsupported_media_type") {
			t.Errorf("form body: %d %s", rec.Code, rec.Body)
		}

		if after := cartDo(t, s, "GET", cartPath, "", tok...).body; after != before {
			t.Errorf("refused requests changed the cart:\nbefore %s\nafter  %s", before, after)
		}
		var cartsAfter int
		d.Read.QueryRow("SELECT count(*) FROM carts").Scan(&cartsAfter)
		if cartsAfter != cartsBefore {
			t.Errorf("refused requests made carts: %d, then %d", cartsBefore, cartsAfter)
		}

		// A checked-out cart refuses changes, and still shows.
		if _, err := d.Write.Exec("UPDATE carts SET order_number = 'US-1' WHERE id = $1", c.ID); err != nil {
			t.Fatal(err)
		}
		for _, req := range [][3]string{
			{"POST", cartPath + "/items", `{"sku":"MB8-BLK","quantity":1}`},
			{"PATCH", cartPath + "/items/MB8-BLK", `{"quantity":2}`},
			{"DELETE", cartPath + "/items/MB8-BLK", ""},
		} {
			r := cartDo(t, s, req[0], req[1], req[2], tok...)
			if code, _, _ := apiErrorOf(t, r); r.status != 409 || code != "cart_checked_out" {
				t.Errorf("%s on a checked-out cart: %d %s", req[0], r.status, r.body)
			}
		}
		var got cartJSON
		if r := cartDo(t, s, "GET", cartPath, "", tok...); r.status != 200 {
			t.Errorf("GET a checked-out cart: %d", r.status)
		} else if decode(t, r, &got); !got.CheckedOut || len(got.Lines) != 1 {
			t.Errorf("checked-out cart %s", r.body)
		}
	})
}

// TestCartAPIConcurrentAdds: 20 clients add one unit of the same SKU to
// one cart at once; the line ends at the limit and the rest are refused.
func TestCartAPIConcurrentAdds(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newStore(t, d)
		c := newAPICart(t, s)
		const n = 20
		statuses := make(chan int, n)
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				statuses <- cartDo(t, s, "POST", "/api/v1/carts/"+c.ID+"/items", `{"sku":"MB8-BLK","quantity":1}`, "X-Cart-Token", c.Token).status
			})
		}
		wg.Wait()
		close(statuses)
		counts := map[int]int{}
		for st := range statuses {
			counts[st]++
		}
		if counts[200] != 10 || counts[429] != 10 || len(counts) != 2 {
			t.Errorf("statuses %v, want ten 200s and ten 429s (the purchase limit)", counts)
		}
		var got cartJSON
		decode(t, cartDo(t, s, "GET", "/api/v1/carts/"+c.ID, "", "X-Cart-Token", c.Token), &got)
		if len(got.Lines) != 1 || got.Lines[0].Quantity != 10 {
			t.Errorf("lines %+v, want one line of 10", got.Lines)
		}
	})
}
