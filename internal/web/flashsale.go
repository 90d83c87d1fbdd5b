package web

import (
	"net/http"
	"strconv"
	"time"

	"mistore/internal/flashsale"
	"mistore/internal/input"
	"mistore/internal/money"
)

// Flash sales on the storefront and in the public API: the sales of a
// market, one sale, claims and registrations. The claim path is the
// store's hottest, so its handlers do no more than decode, ask the
// service once and encode; the service sheds overload with a BusyError,
// which the API answers 503 overloaded with Retry-After and
// Retry-After-Ms, and the pages turn into a queue message that retries by
// itself (flashsale_page.go). The back office's side is
// admin_flashsales.go.

// flashSaleRoutes registers the flash sales: the public API, the
// storefront pages and, with a back office, its pages and admin API.
func (s *Server) flashSaleRoutes(mux *recordingMux, store *http.ServeMux, api *apiRouter) {
	if s.flashsales == nil {
		return
	}
	saleID := paramDoc{name: "id", in: "path", typ: "integer", desc: "Flash sale id.", required: true}
	bearer := paramDoc{name: "Authorization", in: "header", typ: "string",
		desc: "Bearer TOKEN from POST /api/v1/sessions; a browser may send the session cookie instead.", required: true}
	api.handle("GET /api/v1/markets/{market}/flash-sales", s.apiFlashSales, opDoc{
		summary: "The market's flash sales shoppers see: scheduled and running ones, and those that ended in the last week, soonest first. " +
			"remaining is what can be claimed now; pending the claimed units not paid yet, which may come back.",
		tag: "flash sales", response: "FlashSaleList", params: []paramDoc{marketParam},
	})
	api.handle("POST /api/v1/flash-sales/{id}/claims", s.apiFlashSaleClaim, opDoc{
		summary: "Claim units of a running sale (quantity omitted: 1): they are put in a cart of their own at the sale price, held until expires_at; " +
			"check the cart out with its id and X-Cart-Token. Refusals: 409 sold_out, not_started, ended or paused, 403 not_registered, " +
			"429 limit_reached, 422 invalid_field (quantity), 401 without a session; under overload 503 overloaded with Retry-After (seconds), " +
			"Retry-After-Ms and retry_after_ms: retry after that long.",
		tag: "flash sales", response: "FlashSaleClaim", status: http.StatusCreated, request: "FlashSaleClaimRequest",
		params: []paramDoc{saleID, bearer},
	})
	api.handle("POST /api/v1/flash-sales/{id}/registrations", s.apiFlashSaleRegister, opDoc{
		summary: "Register for a sale that takes registrations, before registration closes (409 registration_closed after, or for a sale that takes none). " +
			"Only registered customers may claim such a sale.",
		tag: "flash sales", response: "FlashSaleRegistration", status: http.StatusCreated, params: []paramDoc{saleID, bearer},
	})
	s.flashSalePageRoutes(store)
	if s.staff != nil {
		s.adminFlashSaleRoutes(&adminRouter{s: s, mux: mux, doc: api})
	}
}

// flashSaleJSON is a sale as shoppers see it.
type flashSaleJSON struct {
	ID               int64           `json:"id"`
	Market           string          `json:"market"`
	SKU              string          `json:"sku"`
	Name             string          `json:"name"`
	Title            string          `json:"title"`
	ProductSlug      string          `json:"product_slug"`
	Price            money.Money     `json:"price"`
	Quantity         int             `json:"quantity"`
	Remaining        int             `json:"remaining"`
	Pending          int             `json:"pending"`
	PerCustomerLimit int             `json:"per_customer_limit"`
	StartsAt         time.Time       `json:"starts_at"`
	EndsAt           time.Time       `json:"ends_at"`
	State            flashsale.State `json:"state"`
	// RegistrationRequired: only customers who registered before
	// RegistrationClosesAt may claim.
	RegistrationRequired bool       `json:"registration_required"`
	RegistrationClosesAt *time.Time `json:"registration_closes_at,omitempty"`
	URL                  string     `json:"url"`
}

// saleJSON is sale as shoppers see it at now. Its end is when claiming
// ends: earlier than planned when staff ended the sale.
func saleJSON(sale *flashsale.Sale, now time.Time) flashSaleJSON {
	j := flashSaleJSON{
		ID: sale.ID, Market: sale.Market, SKU: sale.SKU, Name: sale.Name, Title: sale.Title, ProductSlug: sale.ProductSlug,
		Price: sale.Price, Quantity: sale.Quantity, Remaining: max(0, sale.Remaining()), Pending: max(0, sale.Pending()),
		PerCustomerLimit: sale.PerCustomerLimit, StartsAt: sale.StartsAt.UTC(), EndsAt: sale.Closes().UTC(),
		State: sale.StateAt(now), RegistrationRequired: sale.RegistrationRequired(),
		URL: "/" + sale.Market + "/flash-sales/" + strconv.FormatInt(sale.ID, 10),
	}
	if j.RegistrationRequired {
		t := sale.RegistrationClosesAt.UTC()
		j.RegistrationClosesAt = &t
	}
	return j
}

// saleIDParam reads the sale id of the path; one that is not a number
// names no sale.
func saleIDParam(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, flashsale.ErrNotFound
	}
	return id, nil
}

func (s *Server) apiFlashSales(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("market")
	if _, err := s.marketOf(r, code); err != nil {
		s.apiFail(w, r, err)
		return
	}
	sales, err := s.flashsales.List(r.Context(), code)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	now := s.catalog.Now()
	out := make([]flashSaleJSON, 0, len(sales))
	for _, sale := range sales {
		out = append(out, saleJSON(sale, now))
	}
	// The counts move with every claim: never kept by a cache.
	w.Header().Set("Cache-Control", "no-store")
	s.writeJSON(w, r, http.StatusOK, map[string]any{"flash_sales": out, "now": now.UTC()})
}

// flashSaleClaimRequest is the body of a claim; it may be left out.
type flashSaleClaimRequest struct {
	Quantity *int `json:"quantity"`
}

// flashSaleClaimJSON is the answer to a claim.
type flashSaleClaimJSON struct {
	ClaimID   int64       `json:"claim_id"`
	SaleID    int64       `json:"sale_id"`
	Quantity  int         `json:"quantity"`
	UnitPrice money.Money `json:"unit_price"`
	ExpiresAt time.Time   `json:"expires_at"`
	CartID    string      `json:"cart_id"`
	CartToken string      `json:"cart_token"`
}

// claimQuantity checks the quantity asked for before the sale is asked;
// the sale itself refuses more than its per-customer limit.
func claimQuantity(q *int) (int, error) {
	if q == nil {
		return 1, nil
	}
	if *q < 1 {
		return 0, &input.FieldError{Field: "quantity", Msg: "The quantity must be at least 1."}
	}
	return *q, nil
}

func (s *Server) apiFlashSaleClaim(w http.ResponseWriter, r *http.Request) {
	who, err := s.signedIn(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	id, err := saleIDParam(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	var req flashSaleClaimRequest
	if err := decodeOptionalJSON(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	qty, err := claimQuantity(req.Quantity)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	c, err := s.flashsales.Claim(r.Context(), id, who.customer.ID, qty)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.writeJSON(w, r, http.StatusCreated, flashSaleClaimJSON{
		ClaimID: c.ID, SaleID: c.SaleID, Quantity: c.Quantity, UnitPrice: c.UnitPrice,
		ExpiresAt: c.ExpiresAt.UTC(), CartID: c.CartID, CartToken: c.CartToken,
	})
}

func (s *Server) apiFlashSaleRegister(w http.ResponseWriter, r *http.Request) {
	who, err := s.signedIn(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	id, err := saleIDParam(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if err := s.flashsales.Register(r.Context(), id, who.customer.ID); err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusCreated, map[string]any{"sale_id": id, "registered": true})
}

// flashSaleSchemas are the OpenAPI schemas of the flash-sale API bodies,
// the storefront's and the back office's.
func flashSaleSchemas() map[string]any {
	str, integer, boolean, ts := schemaString, schemaInteger, schemaBoolean, schemaTime
	ref, arr, obj := schemaRef, schemaArray, schemaObject
	state := map[string]any{"type": "string", "enum": []string{"scheduled", "live", "sold_out", "paused", "ended"}}
	sale := map[string]any{
		"id": integer, "market": str, "sku": str, "name": str, "title": str, "product_slug": str, "price": ref("Money"),
		"quantity":           integer,
		"remaining":          map[string]any{"type": "integer", "description": "Units that can be claimed now."},
		"pending":            map[string]any{"type": "integer", "description": "Claimed units not paid yet: they come back if their claim or order runs out."},
		"per_customer_limit": integer, "starts_at": ts,
		"ends_at":                map[string]any{"type": "string", "format": "date-time", "description": "When claiming ends (earlier than planned if staff ended the sale)."},
		"state":                  state,
		"registration_required":  boolean,
		"registration_closes_at": ts, "url": str,
	}
	saleRequired := []string{"id", "sku", "name", "price", "quantity", "remaining", "per_customer_limit", "starts_at", "ends_at", "state"}
	admin := map[string]any{}
	for k, v := range sale {
		admin[k] = v
	}
	admin["ends_at"] = map[string]any{"type": "string", "format": "date-time", "description": "The planned end."}
	admin["ended_at"] = map[string]any{"type": "string", "format": "date-time", "description": "When staff ended the sale early; absent otherwise."}
	admin["warehouse"], admin["paused"] = str, boolean
	admin["claimed"] = map[string]any{"type": "integer", "description": "Units out of the pool: held by claims, in unpaid orders, or paid."}
	admin["paid"] = integer
	admin["released"] = map[string]any{"type": "integer", "description": "Units given back by claims and orders that ran out, over the sale's life."}
	admin["created_at"], admin["updated_at"] = ts, ts
	schedule := map[string]any{
		"starts_at": ts, "ends_at": ts,
		"registration_closes_at": map[string]any{"type": "string", "format": "date-time", "nullable": true,
			"description": "Only customers who registered before it may claim; null or absent: anyone signed in may."},
	}
	create := map[string]any{
		"market": str, "sku": str, "title": str,
		"amount":             map[string]any{"type": "integer", "minimum": 1, "description": "The sale price in minor units of the market's currency."},
		"quantity":           map[string]any{"type": "integer", "minimum": 1},
		"per_customer_limit": map[string]any{"type": "integer", "minimum": 1},
	}
	for k, v := range schedule {
		create[k] = v
	}
	return map[string]any{
		"FlashSale":     obj(saleRequired, sale),
		"FlashSaleList": obj([]string{"flash_sales"}, map[string]any{"flash_sales": arr(ref("FlashSale")), "now": ts}),
		"FlashSaleClaimRequest": obj(nil, map[string]any{
			"quantity": map[string]any{"type": "integer", "minimum": 1, "description": "Units to claim, up to the sale's per-customer limit; absent: 1."},
		}),
		"FlashSaleClaim": obj([]string{"claim_id", "expires_at", "cart_id", "cart_token"}, map[string]any{
			"claim_id": integer, "sale_id": integer, "quantity": integer, "unit_price": ref("Money"),
			"expires_at": map[string]any{"type": "string", "format": "date-time", "description": "The units are held until then; check the cart out before."},
			"cart_id":    str,
			"cart_token": map[string]any{"type": "string", "description": "Opens the claim's cart: X-Cart-Token."},
		}),
		"FlashSaleRegistration":    obj([]string{"sale_id", "registered"}, map[string]any{"sale_id": integer, "registered": boolean}),
		"AdminFlashSale":           obj(append(saleRequired, "claimed", "paid", "released", "paused"), admin),
		"AdminFlashSaleList":       obj([]string{"flash_sales"}, map[string]any{"flash_sales": arr(ref("AdminFlashSale"))}),
		"FlashSaleCreateRequest":   obj([]string{"market", "sku", "amount", "quantity", "per_customer_limit", "starts_at", "ends_at"}, create),
		"FlashSaleScheduleRequest": obj(nil, schedule),
	}
}
