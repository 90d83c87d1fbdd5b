package web

import (
	"net/http"
	"net/url"

	"mistore/internal/cart"
	"mistore/internal/money"
)

// cartTokenHeader carries the token that opens a cart (API.md).
const cartTokenHeader = "X-Cart-Token"

var (
	cartIDParam    = paramDoc{name: "id", in: "path", typ: "string", desc: "Cart id, as returned when the cart was made.", required: true}
	cartTokenParam = paramDoc{name: cartTokenHeader, in: "header", typ: "string", required: true,
		desc: "The cart's token, as returned when the cart was made. A wrong or missing token is answered like an unknown cart: 404."}
	skuParam = paramDoc{name: "sku", in: "path", typ: "string", desc: "The SKU of a line in the cart.", required: true}
)

// cartRoutes registers the cart API and the cart pages; routes.go calls it.
func (s *Server) cartRoutes(api *apiRouter, store *http.ServeMux) {
	api.handle("POST /api/v1/markets/{market}/carts", s.apiCartCreate, opDoc{
		summary: "Make an empty cart in a market. The answer holds the token every later cart request must send as X-Cart-Token.",
		tag:     "carts", response: "NewCart", status: http.StatusCreated, params: []paramDoc{marketParam},
		claimInTx: true,
	})
	api.handle("GET /api/v1/carts/{id}", s.apiCartGet, opDoc{
		summary: "A cart with every line decided again against the catalog and stock, and notices of what changed since it was last shown.",
		tag:     "carts", response: "Cart", params: []paramDoc{cartIDParam, cartTokenParam},
	})
	api.handle("POST /api/v1/carts/{id}/items", s.apiCartAdd, opDoc{
		summary: "Add units of a SKU; a line merges by SKU. 422 not_sold_in_market or invalid_quantity, 409 out_of_stock.",
		tag:     "carts", response: "Cart", params: []paramDoc{cartIDParam, cartTokenParam}, request: "CartItemRequest",
		claimInTx: true,
	})
	api.handle("PATCH /api/v1/carts/{id}/items/{sku}", s.apiCartSet, opDoc{
		summary: "Set a line's quantity; 0 removes it. Raising it must be sellable and in stock; lowering it always works.",
		tag:     "carts", response: "Cart", params: []paramDoc{cartIDParam, skuParam, cartTokenParam}, request: "CartQuantityRequest",
	})
	api.handle("DELETE /api/v1/carts/{id}/items/{sku}", s.apiCartRemove, opDoc{
		summary: "Remove a line; removing a SKU the cart does not hold changes nothing.",
		tag:     "carts", response: "Cart", params: []paramDoc{cartIDParam, skuParam, cartTokenParam},
	})

	store.HandleFunc("GET /{market}/cart", s.pageCart)
	store.HandleFunc("POST /{market}/cart/items", s.pageCartAdd)
	store.HandleFunc("POST /{market}/cart/items/{sku}", s.pageCartSet)
}

// apiCart is API.md's Cart.
type apiCart struct {
	ID         string        `json:"id"`
	Market     string        `json:"market"`
	Currency   string        `json:"currency"`
	Lines      []apiCartLine `json:"lines"`
	Subtotal   money.Money   `json:"subtotal"`
	ItemCount  int           `json:"item_count"`
	Notices    []string      `json:"notices"`
	CheckedOut bool          `json:"checked_out"`
}

// apiCartLine is one line of a Cart.
type apiCartLine struct {
	SKU          string       `json:"sku"`
	Name         string       `json:"name"`
	Variant      string       `json:"variant"`
	Slug         string       `json:"slug"`
	Image        string       `json:"image"`
	Quantity     int          `json:"quantity"`
	UnitPrice    *money.Money `json:"unit_price,omitempty"`
	Total        money.Money  `json:"total"`
	Available    bool         `json:"available"`
	Availability string       `json:"availability"`
	Reason       string       `json:"reason,omitempty"`
	MaxQuantity  int          `json:"max_quantity"`
	URL          string       `json:"url"`
}

// apiNewCart is the answer to making a cart: the only one with the token.
type apiNewCart struct {
	apiCart
	Token string `json:"token"`
}

func (s *Server) cartJSON(v *cart.View) apiCart {
	out := apiCart{
		ID: v.ID, Market: v.Market, Currency: v.Currency, Lines: make([]apiCartLine, len(v.Lines)),
		Subtotal: v.Subtotal, ItemCount: v.Count, Notices: v.Notices, CheckedOut: v.CheckedOut,
	}
	if out.Notices == nil {
		out.Notices = []string{}
	}
	for i := range v.Lines {
		l := &v.Lines[i]
		al := apiCartLine{
			SKU: l.SKU, Name: l.Name, Variant: l.VariantName, Slug: l.Slug, Image: s.imageURL(l.Image),
			Quantity: l.Quantity, Total: l.Total, Available: l.Purchasable, Availability: string(l.State),
			MaxQuantity: l.Limit, URL: productURL(v.Market, l.Slug, l.SKU),
		}
		if !l.Purchasable {
			al.Reason = l.Reason
		}
		if l.HasPrice {
			p := l.UnitPrice
			al.UnitPrice = &p
		}
		out.Lines[i] = al
	}
	return out
}

// productURL is the storefront page of one variant.
func productURL(market, slug, sku string) string {
	return "/" + market + "/products/" + url.PathEscape(slug) + "?variant=" + url.QueryEscape(sku)
}

// writeCart answers with a cart. A cart is one visitor's, and its notices
// are said once: no cache may keep it.
func (s *Server) writeCart(w http.ResponseWriter, r *http.Request, status int, body any) {
	w.Header().Set("Cache-Control", "no-store")
	s.writeJSON(w, r, status, body)
}

func (s *Server) apiCartCreate(w http.ResponseWriter, r *http.Request) {
	// The body may be left out; when sent it must be an (empty) object,
	// so that a client sending lines or prices learns they were not taken.
	var req struct{}
	if err := decodeOptionalJSON(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	v, token, err := s.cart.Create(r.Context(), r.PathValue("market"))
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/carts/"+v.ID)
	s.writeCart(w, r, http.StatusCreated, apiNewCart{apiCart: s.cartJSON(v), Token: token})
}

func (s *Server) apiCartGet(w http.ResponseWriter, r *http.Request) {
	s.answerCart(w, r, nil)
}

// answerCart runs change, if any, on the cart the request names and then
// answers with the cart as it is after it.
func (s *Server) answerCart(w http.ResponseWriter, r *http.Request, change func(id, token string) error) {
	id, token := r.PathValue("id"), r.Header.Get(cartTokenHeader)
	if change != nil {
		if err := change(id, token); err != nil {
			s.apiFail(w, r, err)
			return
		}
	}
	v, err := s.cart.Get(r.Context(), id, token)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeCart(w, r, http.StatusOK, s.cartJSON(v))
}

func (s *Server) apiCartAdd(w http.ResponseWriter, r *http.Request) {
	var req struct {
		SKU      *string `json:"sku"`
		Quantity *int    `json:"quantity"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	if req.SKU == nil || *req.SKU == "" {
		s.apiFail(w, r, badParam("sku", "sku is required."))
		return
	}
	if req.Quantity == nil {
		s.apiFail(w, r, badParam("quantity", "quantity is required."))
		return
	}
	s.answerCart(w, r, func(id, token string) error {
		return s.cart.AddItem(r.Context(), id, token, *req.SKU, *req.Quantity)
	})
}

func (s *Server) apiCartSet(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Quantity *int `json:"quantity"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	if req.Quantity == nil {
		s.apiFail(w, r, badParam("quantity", "quantity is required."))
		return
	}
	s.answerCart(w, r, func(id, token string) error {
		return s.cart.SetQuantity(r.Context(), id, token, r.PathValue("sku"), *req.Quantity)
	})
}

func (s *Server) apiCartRemove(w http.ResponseWriter, r *http.Request) {
	s.answerCart(w, r, func(id, token string) error {
		return s.cart.RemoveItem(r.Context(), id, token, r.PathValue("sku"))
	})
}
