package web

import (
	"context"
	"net/http"
)

// access says who may call a route.
type access string

// The kinds of caller a route admits. Cart and order routes check their
// token (or the order's signed-in owner) in their service and answer 404
// to anyone else, exactly as for a cart or order that does not exist.
const (
	// accessPublic: anyone.
	accessPublic access = "public"
	// accessCart: whoever holds the cart's X-Cart-Token.
	accessCart access = "cart"
	// accessOrder: whoever holds the order's token, or its signed-in owner.
	accessOrder access = "order"
	// accessCustomer: a signed-in customer, on their own data only: these
	// routes take no id, so there is no one else's data to name.
	accessCustomer access = "customer"
	// accessProvider: a payment provider, by its webhook's signature.
	accessProvider access = "provider"
	// accessStaff: a staff member or API key of the back office (issue 5
	// adds the routes and the roles); never a customer.
	accessStaff access = "staff"
)

// apiAccess declares, in this one place, who may call every API route.
// A route missing here is served to no one (see apiRouter.handle), and
// the tests walk the whole table.
var apiAccess = map[string]access{
	"GET /api/v1/openapi.json":                     accessPublic,
	"GET /api/v1/markets":                          accessPublic,
	"GET /api/v1/markets/{market}/products":        accessPublic,
	"GET /api/v1/markets/{market}/products/{slug}": accessPublic,
	"POST /api/v1/markets/{market}/carts":          accessPublic,
	"GET /api/v1/carts/{id}":                       accessCart,
	"POST /api/v1/carts/{id}/items":                accessCart,
	"PATCH /api/v1/carts/{id}/items/{sku}":         accessCart,
	"DELETE /api/v1/carts/{id}/items/{sku}":        accessCart,
	"GET /api/v1/carts/{id}/shipping-methods":      accessCart,
	"POST /api/v1/carts/{id}/checkout":             accessCart,
	"GET /api/v1/orders/{number}":                  accessOrder,
	"POST /api/v1/orders/{number}/cancel":          accessOrder,
	"POST /api/v1/orders/{number}/payment":         accessOrder,
	"POST /api/v1/payments/{provider}/webhook":     accessProvider,
	"POST /api/v1/customers":                       accessPublic,
	"POST /api/v1/sessions":                        accessPublic,
	"DELETE /api/v1/sessions":                      accessPublic,
	"GET /api/v1/me":                               accessCustomer,
	"GET /api/v1/me/orders":                        accessCustomer,
	"GET /api/v1/me/export":                        accessCustomer,
	"DELETE /api/v1/me":                            accessCustomer,
}

// guard wraps h with the check its access calls for, where the check is
// the same for every route: a customer route answers 401 before its
// handler runs unless the request is signed in. A route with no declared
// access answers 403 to everyone.
func (s *Server) guard(pattern string, h http.HandlerFunc) (http.HandlerFunc, access) {
	acc, ok := s.access[pattern]
	if !ok {
		return func(w http.ResponseWriter, r *http.Request) {
			s.log.ErrorContext(r.Context(), "route has no declared access", "route", pattern)
			s.writeJSON(w, r, http.StatusForbidden, map[string]apiError{"error": {Code: "forbidden", Message: "This route is not open to anyone."}})
		}, ""
	}
	if acc == accessStaff {
		// No staff credentials exist yet: until the back office brings
		// them, a staff route is closed to every caller.
		return func(w http.ResponseWriter, r *http.Request) {
			s.writeJSON(w, r, http.StatusForbidden, map[string]apiError{"error": {Code: "forbidden", Message: "This route is for the shop's staff."}})
		}, acc
	}
	if acc != accessCustomer {
		return h, acc
	}
	return func(w http.ResponseWriter, r *http.Request) {
		who, err := s.signedIn(r)
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, who)))
	}, acc
}

// callerKey keeps the caller guard found, so the handler does not look
// the session up again.
type callerKey struct{}
