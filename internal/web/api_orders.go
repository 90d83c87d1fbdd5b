package web

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"mistore/internal/money"
	"mistore/internal/order"
)

// apiOrder is API.md's Order.
type apiOrder struct {
	Number          string          `json:"number"`
	Market          string          `json:"market"`
	Status          string          `json:"status"`
	Token           string          `json:"token,omitempty"`
	Email           string          `json:"email"`
	Lines           []apiOrderLine  `json:"lines"`
	Subtotal        money.Money     `json:"subtotal"`
	Discount        money.Money     `json:"discount"`
	Shipping        money.Money     `json:"shipping"`
	Tax             money.Money     `json:"tax"`
	TaxIncluded     bool            `json:"tax_included"`
	Total           money.Money     `json:"total"`
	CouponCode      string          `json:"coupon_code,omitempty"`
	ShippingMethod  string          `json:"shipping_method"`
	ShippingAddress order.Address   `json:"shipping_address"`
	Payment         apiOrderPayment `json:"payment"`
	Refunded        money.Money     `json:"refunded"`
	CreatedAt       time.Time       `json:"created_at"`
	ExpiresAt       *time.Time      `json:"expires_at,omitempty"`
	Timeline        []apiOrderEvent `json:"timeline"`
	// Parcels are the shipments, for an order that has shipped (GET
	// /api/v1/orders/{number} only; the back office has its own list).
	Parcels []apiParcel `json:"parcels,omitempty"`
}

// apiParcel is a shipment as the customer sees it.
type apiParcel struct {
	Carrier        string    `json:"carrier"`
	TrackingNumber string    `json:"tracking_number"`
	TrackingURL    string    `json:"tracking_url,omitempty"`
	ShippedAt      time.Time `json:"shipped_at"`
	DeliveredAt    time.Time `json:"delivered_at,omitzero"`
}

// shipped says whether an order in status st may have parcels: not
// before it is fulfilled, and never once cancelled (an order ships only
// paid and is cancelled only before it ships). The order API reads the
// shipments only then, so polling an order that waits for its payment
// costs no more than it did.
func shipped(st order.Status) bool {
	switch st {
	case order.PendingPayment, order.Paid, order.Cancelled:
		return false
	}
	return true
}

type apiOrderLine struct {
	SKU       string      `json:"sku"`
	Name      string      `json:"name"`
	Variant   string      `json:"variant"`
	Quantity  int         `json:"quantity"`
	UnitPrice money.Money `json:"unit_price"`
	Total     money.Money `json:"total"`
}

type apiOrderPayment struct {
	Provider    string `json:"provider"`
	Status      string `json:"status"`
	RedirectURL string `json:"redirect_url"`
}

type apiOrderEvent struct {
	Kind   string    `json:"kind"`
	Detail string    `json:"detail"`
	At     time.Time `json:"at"`
}

// orderJSON is an order as the API shows it; token is set only in the
// answer to the checkout that created it.
func orderJSON(o *order.Order, events []order.Event, token string) apiOrder {
	out := apiOrder{
		Number: o.Number, Market: o.Market, Status: string(o.Status), Token: token, Email: o.Email,
		Subtotal: o.Subtotal, Discount: o.Discount, Shipping: o.Shipping, Tax: o.Tax, TaxIncluded: o.TaxIncluded,
		Total: o.Total, CouponCode: o.CouponCode, ShippingMethod: o.ShippingMethod, ShippingAddress: o.Address,
		Payment:   apiOrderPayment{Provider: o.PaymentProvider, Status: o.PaymentStatus},
		Refunded:  o.RefundedAmount,
		CreatedAt: o.CreatedAt, Lines: make([]apiOrderLine, len(o.Lines)), Timeline: make([]apiOrderEvent, len(events)),
	}
	if o.Status == order.PendingPayment {
		out.Payment.RedirectURL = o.PaymentURL
		if !o.ExpiresAt.IsZero() {
			t := o.ExpiresAt
			out.ExpiresAt = &t
		}
	}
	for i, l := range o.Lines {
		out.Lines[i] = apiOrderLine{SKU: l.SKU, Name: l.Name, Variant: l.VariantName, Quantity: l.Quantity, UnitPrice: l.UnitPrice, Total: l.Total}
	}
	for i, e := range events {
		out.Timeline[i] = apiOrderEvent{Kind: e.Kind, Detail: e.Detail, At: e.CreatedAt}
	}
	return out
}

// openOrder returns the order the request may see: with its token in
// X-Order-Token (API) or ?token= (pages), or to its signed-in owner.
// Anything else is "not found", whether or not the order exists. Opening
// an order changes nothing: GET requests use it.
func (s *Server) openOrder(r *http.Request, token string) (*order.Order, error) {
	number := r.PathValue("number")
	if !s.orders.Tokens().Valid(number, token) && s.ownsOrder(r, number) {
		token = s.orders.Tokens().For(number)
	}
	return s.orders.Open(r.Context(), number, token)
}

// settlePayment brings a pending order up to date with its provider, for
// a POST: a shopper back from the provider before its webhook has the
// payment applied now, and an order whose payment session could not be
// opened at checkout gets one.
func (s *Server) settlePayment(r *http.Request, o *order.Order) *order.Order {
	if o.Status == order.PendingPayment && o.PaymentSession != "" {
		if synced, err := s.orders.SyncPayment(r.Context(), o); err == nil {
			o = synced
		}
	}
	if o.Status == order.PendingPayment && o.PaymentURL == "" {
		if started, err := s.orders.StartPayment(r.Context(), o, s.orderURL(o, s.orders.Tokens().For(o.Number))); err == nil {
			o = started
		}
	}
	return o
}

// apiOrderPayment settles an order's payment with its provider and
// answers the order, with payment.redirect_url to pay at when pending.
func (s *Server) apiOrderPayment(w http.ResponseWriter, r *http.Request) {
	o, err := s.openOrder(r, r.Header.Get("X-Order-Token"))
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	o = s.settlePayment(r, o)
	events, err := order.Events(r.Context(), s.db.Reader(), o.ID)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, orderJSON(o, events, ""))
}

// ownsOrder reports whether the request is signed in as the customer
// whose order number is: placed with the customer's verified email
// address, the rule of the account's order history. Anyone else's order
// stays a 404, exactly like one that does not exist.
func (s *Server) ownsOrder(r *http.Request, number string) bool {
	who, err := s.signedIn(r)
	if err != nil || !who.customer.EmailVerified {
		return false
	}
	o, err := order.Get(r.Context(), s.db.Reader(), number)
	return err == nil && strings.EqualFold(o.Email, who.customer.Email)
}

// orderURL is the absolute address of an order's page with its token.
func (s *Server) orderURL(o *order.Order, token string) string {
	return s.publicURL + "/" + o.Market + "/orders/" + o.Number + "?token=" + url.QueryEscape(token)
}

func (s *Server) apiOrder(w http.ResponseWriter, r *http.Request) {
	o, err := s.openOrder(r, r.Header.Get("X-Order-Token"))
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	events, err := order.Events(r.Context(), s.db.Reader(), o.ID)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	out := orderJSON(o, events, "")
	if shipped(o.Status) {
		shipments, err := order.Shipments(r.Context(), s.db.Reader(), o.ID)
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		for _, sh := range shipments {
			out.Parcels = append(out.Parcels, apiParcel{Carrier: sh.Carrier, TrackingNumber: sh.TrackingNumber, TrackingURL: sh.TrackingURL(),
				ShippedAt: sh.CreatedAt, DeliveredAt: sh.DeliveredAt})
		}
	}
	s.writeJSON(w, r, http.StatusOK, out)
}

func (s *Server) apiOrderCancel(w http.ResponseWriter, r *http.Request) {
	number, token := r.PathValue("number"), r.Header.Get("X-Order-Token")
	if !s.orders.Tokens().Valid(number, token) && s.ownsOrder(r, number) {
		token = s.orders.Tokens().For(number)
	}
	if _, err := s.orders.Open(r.Context(), number, token); err != nil {
		s.apiFail(w, r, err)
		return
	}
	o, err := s.orders.Cancel(r.Context(), r.PathValue("number"))
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.jobs.Notify()
	events, _ := order.Events(r.Context(), s.db.Reader(), o.ID)
	s.writeJSON(w, r, http.StatusOK, orderJSON(o, events, ""))
}

// apiPaymentWebhook takes a provider's signed event. A verified event is
// stored and queued before the 200, so the provider may stop retrying; a
// forged, altered or stale one changes nothing and gets a 400.
func (s *Server) apiPaymentWebhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		s.apiFail(w, r, badParam("body", "the webhook body is too large"))
		return
	}
	if err := s.orders.AcceptWebhook(r.Context(), r.PathValue("provider"), body, r.Header); err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.jobs.Notify()
	s.writeJSON(w, r, http.StatusOK, map[string]bool{"received": true})
}
