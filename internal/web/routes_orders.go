package web

import "net/http"

// orderRoutes registers checkout, orders and payments: the money path.
func (s *Server) orderRoutes(mux *recordingMux, store *http.ServeMux, api *apiRouter) {
	if s.checkout == nil || s.orders == nil {
		return
	}
	cartID := paramDoc{name: "id", in: "path", typ: "string", desc: "Cart id.", required: true}
	cartToken := paramDoc{name: "X-Cart-Token", in: "header", typ: "string", desc: "The cart's token from its creation.", required: true}
	number := paramDoc{name: "number", in: "path", typ: "string", desc: "Order number, e.g. US-100001.", required: true}
	orderToken := paramDoc{name: "X-Order-Token", in: "header", typ: "string", desc: "The order's token from its checkout.", required: true}
	api.handle("GET /api/v1/carts/{id}/shipping-methods", s.apiShippingMethods, opDoc{
		summary: "The market's shipping methods, priced for this cart.", tag: "checkout", response: "ShippingMethods",
		params: []paramDoc{cartID, cartToken,
			{name: "postal_code", in: "query", typ: "string", desc: "Destination postal code (optional)."},
			{name: "region", in: "query", typ: "string", desc: "Destination state or province (optional)."}},
	})
	api.handle("POST /api/v1/carts/{id}/checkout", s.apiCheckout, opDoc{
		summary: "Turn the cart into an order waiting for payment; the answer carries the order's token and payment.redirect_url.",
		tag:     "checkout", response: "Order", status: http.StatusCreated, params: []paramDoc{cartID, cartToken},
		claimInTx: true,
	})
	api.handle("GET /api/v1/orders/{number}", s.apiOrder, opDoc{
		summary: "An order's status.", tag: "orders", response: "Order", params: []paramDoc{number, orderToken},
	})
	api.handle("POST /api/v1/orders/{number}/cancel", s.apiOrderCancel, opDoc{
		summary: "Cancel an order before it ships; a paid order is refunded.", tag: "orders", response: "Order",
		params: []paramDoc{number, orderToken},
	})
	api.handle("POST /api/v1/orders/{number}/payment", s.apiOrderPayment, opDoc{
		summary: "Bring a pending order up to date with its payment provider: a payment made but not reported yet is applied, and a payment page that could not be opened at checkout is opened (payment.redirect_url).",
		tag:     "orders", response: "Order", params: []paramDoc{number, orderToken},
	})
	api.handle("POST /api/v1/payments/{provider}/webhook", s.apiPaymentWebhook, opDoc{
		summary: "A payment provider's signed event (Mistore-Signature: t=UNIX,v1=HEX for the test provider).",
		tag:     "payments", response: "WebhookReceived",
		params: []paramDoc{{name: "provider", in: "path", typ: "string", desc: "test or stripe.", required: true}},
	})
	store.HandleFunc("GET /{market}/checkout", s.pageCheckout)
	store.HandleFunc("POST /{market}/checkout", s.pageCheckoutSubmit)
	store.HandleFunc("GET /{market}/orders/{number}", s.pageOrder)
	store.HandleFunc("POST /{market}/orders/{number}/cancel", s.pageOrderCancel)
	store.HandleFunc("POST /{market}/orders/{number}/returns", s.pageOrderReturn)
	store.HandleFunc("POST /{market}/orders/{number}/pay", s.pageOrderPay)
	if s.testPay != nil {
		mux.HandleFunc("GET /pay/test/{session}", s.pagePay)
		mux.HandleFunc("POST /pay/test/{session}", s.pagePaySubmit)
	}
}
