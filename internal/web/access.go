package web

import (
	"context"
	"net/http"
	"strings"

	"mistore/internal/staff"
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
	// accessStaff: a staff member or API key of the back office whose
	// role holds the route's permission (admin.go); never a customer.
	// Admin routes are declared with their permission where they are
	// registered (adminRouter.api), not in apiAccess.
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
	waitlistRoute:                                  accessPublic,
	"GET /api/v1/markets/{market}/flash-sales":     accessPublic,
	"POST /api/v1/flash-sales/{id}/claims":         accessCustomer,
	"POST /api/v1/flash-sales/{id}/registrations":  accessCustomer,
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
	// Comments and reviews (community.go): anyone reads, signed-in
	// customers post, and change or delete only their own comments (the
	// service refuses another's with not_author).
	"GET /api/v1/markets/{market}/products/{slug}/comments":               accessPublic,
	"POST /api/v1/markets/{market}/products/{slug}/comments":              accessCustomer,
	"PATCH /api/v1/markets/{market}/products/{slug}/comments/{id}":        accessCustomer,
	"DELETE /api/v1/markets/{market}/products/{slug}/comments/{id}":       accessCustomer,
	"POST /api/v1/markets/{market}/products/{slug}/comments/{id}/reports": accessCustomer,
	"GET /api/v1/markets/{market}/products/{slug}/reviews":                accessPublic,
	"POST /api/v1/markets/{market}/products/{slug}/reviews":               accessCustomer,
	"POST /api/v1/markets/{market}/products/{slug}/reviews/{id}/votes":    accessCustomer,
}

// guard wraps h with the check its access calls for, where the check is
// the same for every route: a customer route answers 401 before its
// handler runs unless the request is signed in; an admin route (one
// registered with a permission, by adminRouter.api) answers 401 without
// staff credentials and 403 without the permission. A route with no
// declared access answers 403 to everyone.
func (s *Server) guard(pattern string, perm staff.Permission, h http.HandlerFunc) (http.HandlerFunc, access) {
	if perm != "" {
		if _, path, _ := strings.Cut(pattern, " "); !strings.HasPrefix(path, "/api/v1/admin/") {
			return s.closedRoute(pattern, "an admin permission on a route outside /api/v1/admin/"), ""
		}
		return s.staffAPIGuard(perm, h), accessStaff
	}
	acc, ok := s.access[pattern]
	if !ok {
		return s.closedRoute(pattern, "route has no declared access"), ""
	}
	if acc == accessStaff {
		// A staff route must say which permission it needs: without one
		// it is closed to every caller.
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

// closedRoute answers 403 to everyone and logs why: a route registered
// without a valid access declaration.
func (s *Server) closedRoute(pattern, why string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.log.ErrorContext(r.Context(), why, "route", pattern)
		s.writeJSON(w, r, http.StatusForbidden, map[string]apiError{"error": {Code: "forbidden", Message: "This route is not open to anyone."}})
	}
}

// callerKey keeps the caller guard found, so the handler does not look
// the session up again.
type callerKey struct{}
