package web

import (
	"maps"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"mistore/internal/staff"
)

// apiDoc builds the OpenAPI document from the same calls that register API
// routes, so a route cannot exist without being described.
type apiDoc struct {
	version string
	paths   map[string]map[string]any // path -> method -> operation
}

func newAPIDoc(version string) *apiDoc {
	return &apiDoc{version: version, paths: map[string]map[string]any{}}
}

// opDoc describes one API operation.
type opDoc struct {
	summary  string
	tag      string
	response string // schema name of the 2xx body
	status   int    // 2xx status; 0 means 200
	params   []paramDoc
	request  string // schema name of the JSON request body; "" for none
	// perm is the permission an admin route needs (set by
	// adminRouter.api); "" for every other route.
	perm staff.Permission
	// claimInTx claims a POST's Idempotency-Key in the handler's first
	// write transaction (see Server.idempotent): only for a handler
	// whose every write runs on the request's context.
	claimInTx bool
}

type paramDoc struct {
	name, in, typ, desc string
	required            bool
}

var (
	marketParam   = paramDoc{name: "market", in: "path", typ: "string", desc: "Market code, e.g. us.", required: true}
	slugParam     = paramDoc{name: "slug", in: "path", typ: "string", desc: "Product slug.", required: true}
	qParam        = paramDoc{name: "q", in: "query", typ: "string", desc: "Search text (at most 200 characters); every word must match."}
	categoryParam = paramDoc{name: "category", in: "query", typ: "string", desc: "Category slug."}
	sortParam     = paramDoc{name: "sort", in: "query", typ: "string", desc: "price_asc or price_desc (by the lowest price of a product's variants in the market; products without one there last); empty: featured first, or by relevance to q."}
	pageParam     = paramDoc{name: "page", in: "query", typ: "integer", desc: "Page number from 1 (default 1)."}
	perPageParam  = paramDoc{name: "per_page", in: "query", typ: "integer", desc: "Products per page, 1 to 100 (default 24)."}
)

// idempotencyKeyParam is documented on every POST; see Server.idempotent.
var idempotencyKeyParam = paramDoc{name: "Idempotency-Key", in: "header", typ: "string",
	desc: "Optional, 1 to 255 printable ASCII characters; make it a random UUID. The same key with the same request " +
		"within 24 hours returns the first answer again, with header Idempotency-Replayed: true, and does nothing twice; " +
		"with a different body it is a 422 idempotency_key_reused; while the first request runs, a 409 " +
		"idempotency_key_in_use with Retry-After."}

// apiRouter registers API routes on the mux and in the document.
type apiRouter struct {
	doc *apiDoc
	mux *recordingMux
	s   *Server
	// seen lists the paths given a method-less fallback already.
	seen map[string]bool
}

func (d *apiDoc) router(mux *recordingMux, s *Server) *apiRouter {
	return &apiRouter{doc: d, mux: mux, s: s, seen: map[string]bool{}}
}

// handle registers "METHOD /path" and documents it. Other methods on the
// same path get the API's JSON 405 instead of the mux's plain text.
func (a *apiRouter) handle(pattern string, h http.HandlerFunc, op opDoc) {
	method, path, _ := strings.Cut(pattern, " ")
	h, acc := a.s.guard(pattern, op.perm, h)
	// Every API POST takes an Idempotency-Key (API.md); wiring it here
	// means no POST route can be added without it.
	if method == "POST" {
		h = a.s.idempotent(h, op.claimInTx)
		op.params = append(op.params[:len(op.params):len(op.params)], idempotencyKeyParam)
	}
	a.mux.HandleFunc(pattern, h)
	if !a.seen[path] {
		a.seen[path] = true
		a.mux.HandleFunc(path, a.s.apiMethodNotAllowed)
	}
	if a.doc.paths[path] == nil {
		a.doc.paths[path] = map[string]any{}
	}
	status := op.status
	if status == 0 {
		status = http.StatusOK
	}
	params := make([]any, len(op.params))
	for i, p := range op.params {
		params[i] = map[string]any{
			"name": p.name, "in": p.in, "required": p.required, "description": p.desc,
			"schema": map[string]any{"type": p.typ},
		}
	}
	success := map[string]any{"description": "Success."}
	if op.response != "" {
		success["content"] = jsonContent("#/components/schemas/" + op.response)
	}
	operation := map[string]any{
		"x-access":   string(acc),
		"summary":    op.summary,
		"tags":       []string{op.tag},
		"parameters": params,
		"responses": map[string]any{
			strconv.Itoa(status): success,
			"default": map[string]any{
				"description": "An error (API.md): 400 invalid_parameter, 404 not_found, ...",
				"content":     jsonContent("#/components/schemas/Error"),
			},
		},
	}
	if op.perm != "" {
		operation["x-permission"] = string(op.perm)
	}
	if op.request != "" {
		operation["requestBody"] = map[string]any{"required": true, "content": jsonContent("#/components/schemas/" + op.request)}
	}
	a.doc.paths[path][strings.ToLower(method)] = operation
}

func jsonContent(ref string) map[string]any {
	return map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": ref}}}
}

func (s *Server) apiMethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for m := range s.api.paths[r.Pattern] {
		allowed = append(allowed, strings.ToUpper(m))
	}
	sort.Strings(allowed)
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	s.writeJSON(w, r, http.StatusMethodNotAllowed, map[string]apiError{"error": {
		Code: codeMethodNotAllowed, Message: r.Method + " is not allowed here; use " + strings.Join(allowed, " or ") + ".",
	}})
}

// schemas are the bodies the API sends, as OpenAPI components: the
// storefront's and each back-office surface's.
func schemas() map[string]any {
	out := storeSchemas()
	for _, more := range []map[string]any{adminSchemas(), adminOrderSchemas(), adminCatalogSchemas(), adminTextSchemas(), adminImageSchemas(), adminShippingSchemas(), adminShopSchemas(), adminDashboardSchemas(), flashSaleSchemas(), communitySchemas(), waitlistSchemas()} {
		maps.Copy(out, more)
	}
	return out
}

// Schema builders for the schema functions of every surface.
var (
	schemaString  = map[string]any{"type": "string"}
	schemaInteger = map[string]any{"type": "integer"}
	schemaBoolean = map[string]any{"type": "boolean"}
	schemaTime    = map[string]any{"type": "string", "format": "date-time"}
)

// schemaRef refers to the schema called name.
func schemaRef(name string) map[string]any {
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

// schemaArray is an array of items.
func schemaArray(items any) map[string]any { return map[string]any{"type": "array", "items": items} }

// schemaObject is an object with props, of which required must be there.
func schemaObject(required []string, props map[string]any) map[string]any {
	o := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

// storeSchemas are the storefront API's bodies.
func storeSchemas() map[string]any {
	str, integer, boolean := schemaString, schemaInteger, schemaBoolean
	ref, arr, obj := schemaRef, schemaArray, schemaObject
	availability := map[string]any{"type": "string", "enum": []string{"available", "out_of_stock", "coming_soon", "not_sold"}}
	return map[string]any{
		"Money": obj([]string{"amount", "currency"}, map[string]any{
			"amount":   map[string]any{"type": "integer", "format": "int64", "description": "Minor units, e.g. cents."},
			"currency": map[string]any{"type": "string", "description": "ISO 4217 code."},
		}),
		"Error": obj([]string{"error"}, map[string]any{
			"error": obj([]string{"code", "message"}, map[string]any{"code": str, "message": str, "field": str}),
		}),
		"Market": obj([]string{"code", "name", "currency", "country_codes", "tax_included"}, map[string]any{
			"code": str, "name": str, "currency": str, "country_codes": arr(str), "tax_included": boolean, "locale": str,
		}),
		"MarketList": obj([]string{"markets"}, map[string]any{"markets": arr(ref("Market"))}),
		"Spec":       obj([]string{"key", "value"}, map[string]any{"key": str, "value": str}),
		"Reseller":   obj([]string{"name", "url"}, map[string]any{"name": str, "url": str}),
		"ProductSummary": obj([]string{"slug", "name", "category", "image", "availability", "url"}, map[string]any{
			"slug": str, "name": str, "category": str, "image": str, "availability": availability,
			"reason": str, "price": ref("Money"), "url": str,
		}),
		"ProductList": obj([]string{"products", "page", "per_page", "total"}, map[string]any{
			"products": arr(ref("ProductSummary")), "page": integer, "per_page": integer, "total": integer,
		}),
		"Variant": obj([]string{"sku", "name", "available"}, map[string]any{
			"sku": str, "name": str, "options": arr(ref("Spec")), "price": ref("Money"), "available": boolean,
		}),
		"Product": obj([]string{"slug", "name", "category", "description", "images", "specs", "availability", "resellers", "variants"}, map[string]any{
			"slug": str, "name": str, "category": str, "description": str, "images": arr(str),
			"specs": arr(ref("Spec")), "availability": availability,
			"reason":    map[string]any{"type": "string", "description": "Why the product cannot be bought here; absent when available."},
			"launch_at": map[string]any{"type": "string", "format": "date-time"},
			"resellers": arr(ref("Reseller")), "variants": arr(ref("Variant")), "url": str,
		}),
		// Carts (cart_api.go).
		"CartLine": obj([]string{"sku", "name", "variant", "slug", "image", "quantity", "total", "available", "availability", "max_quantity", "url"}, map[string]any{
			"sku": str, "name": str, "variant": str, "slug": str, "image": str, "quantity": integer,
			"unit_price":   map[string]any{"$ref": "#/components/schemas/Money", "description": "The price in the cart's market now; absent when the variant has none there."},
			"total":        ref("Money"),
			"available":    map[string]any{"type": "boolean", "description": "Whether the line can be ordered as it is; only such lines count in the subtotal."},
			"availability": availability,
			"reason":       map[string]any{"type": "string", "description": "Why the line cannot be ordered; absent when it can."},
			"max_quantity": map[string]any{"type": "integer", "description": "The most units of this SKU a cart may hold."},
			"url":          str,
		}),
		"Cart": obj([]string{"id", "market", "currency", "lines", "subtotal", "item_count", "notices", "checked_out"}, map[string]any{
			"id": str, "market": str, "currency": str, "lines": arr(ref("CartLine")), "subtotal": ref("Money"),
			"item_count":  integer,
			"notices":     map[string]any{"type": "array", "items": str, "description": "What changed since the cart was last shown (prices, availability, stock), each said once."},
			"checked_out": boolean,
		}),
		"NewCart": map[string]any{"allOf": []any{ref("Cart"), obj([]string{"token"}, map[string]any{
			"token": map[string]any{"type": "string", "description": "Opens the cart: send it as X-Cart-Token with every cart request. It is shown only here."},
		})}},
		"CartItemRequest": obj([]string{"sku", "quantity"}, map[string]any{
			"sku": str, "quantity": map[string]any{"type": "integer", "minimum": 1, "description": "Units to add; the line may hold at most the product's limit."},
		}),
		"CartQuantityRequest": obj([]string{"quantity"}, map[string]any{
			"quantity": map[string]any{"type": "integer", "minimum": 0, "description": "The line's new quantity; 0 removes it."},
		}),
		"OpenAPI": map[string]any{"type": "object"},
		"ShippingMethod": obj([]string{"code", "name", "price"}, map[string]any{
			"code": str, "name": str, "days": str, "price": ref("Money"),
		}),
		"ShippingMethods": obj([]string{"methods"}, map[string]any{"methods": arr(ref("ShippingMethod"))}),
		"Address": obj([]string{"name", "line1", "city", "region", "postal_code", "country"}, map[string]any{
			"name": str, "line1": str, "line2": str, "city": str, "region": str, "postal_code": str, "country": str,
		}),
		"OrderLine": obj([]string{"sku", "name", "quantity", "unit_price", "total"}, map[string]any{
			"sku": str, "name": str, "variant": str, "quantity": integer, "unit_price": ref("Money"), "total": ref("Money"),
		}),
		"Order": obj([]string{"number", "market", "status", "email", "lines", "subtotal", "discount", "shipping", "tax", "total", "payment", "created_at"}, map[string]any{
			"number": str, "market": str,
			"status": map[string]any{"type": "string", "enum": []string{"pending_payment", "paid", "fulfilled", "delivered", "cancelled", "refunded", "partially_refunded"}},
			"token":  map[string]any{"type": "string", "description": "Only in the answer to the checkout: the order's access token (X-Order-Token)."},
			"email":  str, "lines": arr(ref("OrderLine")),
			"subtotal": ref("Money"), "discount": ref("Money"), "shipping": ref("Money"), "tax": ref("Money"),
			"tax_included": boolean, "total": ref("Money"), "refunded": ref("Money"), "coupon_code": str,
			"shipping_method": str, "shipping_address": ref("Address"),
			"payment":    obj([]string{"provider", "status", "redirect_url"}, map[string]any{"provider": str, "status": str, "redirect_url": str}),
			"created_at": map[string]any{"type": "string", "format": "date-time"},
			"expires_at": map[string]any{"type": "string", "format": "date-time"},
			"timeline":   arr(obj([]string{"kind", "detail", "at"}, map[string]any{"kind": str, "detail": str, "at": map[string]any{"type": "string", "format": "date-time"}})),
			"parcels": map[string]any{"type": "array", "description": "The parcels sent, once the order has shipped (GET /api/v1/orders/{number}).",
				"items": obj([]string{"carrier", "tracking_number", "shipped_at"}, map[string]any{
					"carrier": str, "tracking_number": str,
					"tracking_url": map[string]any{"type": "string", "format": "uri", "description": "The carrier's page for the parcel, where the store knows the carrier."},
					"shipped_at":   map[string]any{"type": "string", "format": "date-time"},
					"delivered_at": map[string]any{"type": "string", "format": "date-time"},
				})},
		}),
		"WebhookReceived": obj([]string{"received"}, map[string]any{"received": boolean}),
		// Customers (api_customers.go).
		"Customer": obj([]string{"id", "email", "name", "email_verified", "created_at"}, map[string]any{
			"id": integer, "email": str, "name": str, "email_verified": boolean,
			"created_at": map[string]any{"type": "string", "format": "date-time"},
		}),
		"RegisterRequest": obj([]string{"email", "password", "name"}, map[string]any{
			"email": str, "name": map[string]any{"type": "string", "minLength": 1, "maxLength": 100},
			"password": map[string]any{"type": "string", "minLength": 8, "maxLength": 128, "description": "8 to 128 characters, any characters."},
		}),
		"SignInRequest": obj([]string{"email", "password"}, map[string]any{"email": str, "password": str,
			"cart_id": map[string]any{"type": "string", "description": "Optional: a guest cart (its token in X-Cart-Token) to merge into the customer's cart."}}),
		"PasswordRequest": obj([]string{"password"}, map[string]any{"password": str}),
		"SessionToken": obj([]string{"token", "customer"}, map[string]any{
			"token":    map[string]any{"type": "string", "description": "Send as Authorization: Bearer TOKEN. Shown only here."},
			"customer": ref("Customer"),
			"cart": obj([]string{"id", "token"}, map[string]any{"id": str, "token": map[string]any{"type": "string",
				"description": "The customer's cart after merging the guest cart named in the request; use it from now on."}}),
		}),
		"OrderSummary": obj([]string{"number", "market", "status", "total", "item_count", "created_at"}, map[string]any{
			"number": str, "market": str, "status": str, "total": ref("Money"), "item_count": integer,
			"created_at": map[string]any{"type": "string", "format": "date-time"},
		}),
		"OrderHistory": obj([]string{"orders"}, map[string]any{"orders": arr(ref("OrderSummary"))}),
		"DataExport":   map[string]any{"type": "object", "description": "Profile, addresses, sessions and orders, as held."},
	}
}

func (s *Server) apiOpenAPI(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, r, http.StatusOK, map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "mistore API",
			"version":     "1",
			"description": "The JSON API of a mistore shop. Money is {amount, currency} in minor units; times are RFC 3339 UTC. Build " + s.version + ".",
		},
		"servers":    []any{map[string]any{"url": "/"}},
		"paths":      s.api.paths,
		"components": map[string]any{"schemas": schemas()},
	})
}
