package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// TestEveryRouteDeclaresAccess walks the whole API route table: every
// route says who may call it, and each kind of caller is held to it — no
// credentials or a forged token on a customer route is a 401; another
// shopper's cart, or another customer's order, is a 404 exactly like one
// that does not exist; an unsigned webhook is refused.
func TestEveryRouteDeclaresAccess(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		// Mallory has her own cart and account; Ada has the cart and the
		// order Mallory tries to reach.
		adaCart, _ := s.cartWith("MCAB-C1M", 1)
		adaCart2, adaToken2 := s.cartWith("MCAB-C1M", 1)
		o := s.checkout(adaCart2, adaToken2)
		_, malloryToken := s.cartWith("MCAB-C2M", 1)
		if st, b, _ := s.do("POST", "/api/v1/customers", `{"email":"mallory@example.com","password":"correct horse battery","name":"Mallory"}`); st != 201 {
			t.Fatalf("register: %d %s", st, b)
		}
		d.Write.Exec("UPDATE customers SET email_verified_at = created_at")
		_, b, _ := s.do("POST", "/api/v1/sessions", `{"email":"mallory@example.com","password":"correct horse battery"}`)
		var session struct{ Token string }
		json.Unmarshal([]byte(b), &session)

		var doc struct {
			Paths map[string]map[string]struct {
				Access     string `json:"x-access"`
				Permission string `json:"x-permission"`
			} `json:"paths"`
		}
		_, body, _ := s.do("GET", "/api/v1/openapi.json", "")
		if err := json.Unmarshal([]byte(body), &doc); err != nil {
			t.Fatal(err)
		}
		fill := strings.NewReplacer("{market}", "us", "{slug}", "mi-band-8", "{id}", adaCart, "{sku}", "MCAB-C1M",
			"{number}", o.Number, "{provider}", "test")
		seen := map[string]bool{}
		viewer := s.adminKey("viewer")
		staffRoutes := 0
		for path, ops := range doc.Paths {
			for method, op := range ops {
				method = strings.ToUpper(method)
				route := method + " " + path
				seen[route] = true
				target := fill.Replace(path)
				// A well-formed body, so that only access can refuse it.
				body := ""
				switch {
				case strings.HasSuffix(path, "/items"):
					body = `{"sku":"MCAB-C1M","quantity":1}`
				case strings.HasSuffix(path, "/items/{sku}") && method == "PATCH":
					body = `{"quantity":1}`
				case strings.HasSuffix(path, "/checkout"):
					body = checkoutJSON
				case method == "POST" || method == "PATCH":
					body = `{}`
				}
				switch op.Access {
				case "public":
				case "customer":
					for _, hdr := range [][]string{nil, {"Authorization", "Bearer forged-token-0123456789abcdef"}} {
						if st, b, _ := s.do(method, target, body, hdr...); st != 401 {
							t.Errorf("%s with %v: %d %s, want 401", route, hdr, st, b)
						}
					}
				case "cart":
					// Mallory's own cart token on Ada's cart.
					if st, b, _ := s.do(method, target, body, "X-Cart-Token", malloryToken, "Authorization", "Bearer "+session.Token); st != 404 {
						t.Errorf("%s on another shopper's cart: %d %s, want 404", route, st, b)
					}
				case "order":
					// Signed in, verified, but not the owner, and no token.
					if st, b, _ := s.do(method, target, body, "Authorization", "Bearer "+session.Token); st != 404 {
						t.Errorf("%s on another customer's order: %d %s, want 404", route, st, b)
					}
				case "staff":
					if op.Permission == "" {
						t.Errorf("%s is a staff route without a permission", route)
					}
					// No credentials, a customer's token or its cookie are
					// never staff credentials.
					for _, hdr := range [][]string{nil, {"Authorization", "Bearer " + session.Token}, {"Cookie", "mistore_session=" + session.Token}} {
						if st, b, _ := s.do(method, target, body, hdr...); st != 401 {
							t.Errorf("%s with %v: %d %s, want 401", route, hdr, st, b)
						}
					}
					// A viewer changes nothing.
					if method != "GET" {
						if st, b, _ := s.do(method, target, body, bearer(viewer)...); st != 403 {
							t.Errorf("%s as a viewer: %d %s, want 403", route, st, b)
						}
					}
					staffRoutes++
				case "provider":
					if st, b, _ := s.do(method, target, `{"id":"evt_1","type":"payment.succeeded"}`); st != 400 {
						t.Errorf("%s unsigned: %d %s, want 400", route, st, b)
					}
				default:
					t.Errorf("%s declares no known access (%q)", route, op.Access)
				}
			}
		}
		for _, r := range s.routes() {
			if !seen[r] {
				t.Errorf("route %s is served but not in the document", r)
			}
		}
		if staffRoutes < 9 {
			t.Errorf("the walk saw only %d admin routes", staffRoutes)
		}
		if !slices.Contains(s.routes(), "GET /api/v1/me") {
			t.Error("the walk missed the customer routes")
		}
		if got := s.order(o.Number, o.Token); got.Status != "pending_payment" {
			t.Errorf("Ada's order is %s after Mallory's tries", got.Status)
		}
	})
}

// TestStaffRoutesRefuseCustomers: a route declared for staff never runs
// for a customer's token, or for no credentials.
func TestStaffRoutesRefuseCustomers(t *testing.T) {
	t.Parallel()
	d := dbtest.Open(t, db.SQLite)
	s := newShop(t, d)
	ran := false
	h := s.srv.StaffRouteForTest("GET /api/v1/admin/things", func(w http.ResponseWriter, r *http.Request) { ran = true })
	if st, b, _ := s.do("POST", "/api/v1/customers", `{"email":"c@example.com","password":"correct horse battery","name":"C"}`); st != 201 {
		t.Fatalf("register: %d %s", st, b)
	}
	_, b, _ := s.do("POST", "/api/v1/sessions", `{"email":"c@example.com","password":"correct horse battery"}`)
	var session struct{ Token string }
	json.Unmarshal([]byte(b), &session)
	for _, hdr := range [][]string{nil, {"Authorization", "Bearer " + session.Token}} {
		req := httptest.NewRequest("GET", "/api/v1/admin/things", nil)
		if hdr != nil {
			req.Header.Set(hdr[0], hdr[1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 401 && rec.Code != 403 {
			t.Errorf("staff route with %v: %d", hdr, rec.Code)
		}
	}
	if ran {
		t.Error("a staff route ran for a customer")
	}
}
