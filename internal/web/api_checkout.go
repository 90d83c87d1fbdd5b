package web

import (
	"net/http"
	"strings"

	"mistore/internal/checkout"
	"mistore/internal/order"
)

// checkoutBody is API.md's checkout request. It has no price fields:
// decodeJSON refuses a body that carries one.
type checkoutBody struct {
	Email           string        `json:"email"`
	ShippingAddress order.Address `json:"shipping_address"`
	ShippingMethod  string        `json:"shipping_method"`
	CouponCode      string        `json:"coupon_code"`
}

func (b checkoutBody) request() checkout.Request {
	return checkout.Request{Email: b.Email, Address: b.ShippingAddress, ShippingMethod: b.ShippingMethod, CouponCode: b.CouponCode}
}

// apiCheckout turns a cart into an order: 201 with the order and its
// access token; a cart checked out before answers 200 with that order.
func (s *Server) apiCheckout(w http.ResponseWriter, r *http.Request) {
	var body checkoutBody
	if err := decodeJSON(r, &body); err != nil {
		s.apiFail(w, r, err)
		return
	}
	var (
		o       *order.Order
		created bool
	)
	err := s.guardCoupon(r, r.PathValue("id"), body.CouponCode, func() (err error) {
		o, created, err = s.checkout.Place(r.Context(), r.PathValue("id"), r.Header.Get("X-Cart-Token"), body.request(), s.orderURL)
		return err
	})
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	// A new order's timeline is its placing; an order placed before is
	// read as it is now.
	status, events := http.StatusCreated, []order.Event{order.Placed(o)}
	if !created {
		status = http.StatusOK
		var err error
		if events, err = order.Events(r.Context(), s.db.Reader(), o.ID); err != nil {
			s.apiFail(w, r, err)
			return
		}
	}
	s.writeJSON(w, r, status, orderJSON(o, events, s.orders.Tokens().For(o.Number)))
}

func (s *Server) apiShippingMethods(w http.ResponseWriter, r *http.Request) {
	id, token, region := r.PathValue("id"), r.Header.Get("X-Cart-Token"), strings.TrimSpace(r.URL.Query().Get("region"))
	if region != "" {
		// A region the cart's market does not have would quietly show the
		// methods offered everywhere: say so instead.
		code, err := s.cart.Check(r.Context(), id, token)
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		if _, ok := checkout.USStates()[strings.ToUpper(region)]; code == "us" && !ok {
			s.apiFail(w, r, badParam("region", "region must be a US state code such as CA or NY"))
			return
		}
	}
	methods, err := s.checkout.ShippingMethods(r.Context(), id, token, region)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if methods == nil {
		methods = []checkout.Method{}
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"methods": methods})
}
