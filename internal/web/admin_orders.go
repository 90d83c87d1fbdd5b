package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"mistore/internal/market"
	"mistore/internal/money"
	"mistore/internal/order"
	"mistore/internal/staff"
)

// The back office's orders: the list with its filters, one order's
// detail and timeline, and what staff do to an order (fulfil, mark
// delivered, refund, cancel, see a return through). Pages and API are two
// doors onto the same order.Service methods.

// adminOrderRoutes registers this back-office surface's pages and API.
func (s *Server) adminOrderRoutes(a *adminRouter) {
	if s.orders == nil {
		return
	}
	view, fulfil, refund := staff.PermViewOrders, staff.PermFulfilOrders, staff.PermRefundOrders
	a.page("GET /admin/orders", view, s.adminOrdersPage)
	s.adminOrderExportRoutes(a)
	a.page("GET /admin/orders/{number}", view, s.adminOrderPage)
	a.page("POST /admin/orders/{number}/fulfil", fulfil, s.adminOrderFulfil)
	a.page("POST /admin/orders/{number}/deliver", fulfil, s.adminOrderDeliver)
	a.page("POST /admin/orders/{number}/refund", refund, s.adminOrderRefund)
	a.page("POST /admin/orders/{number}/cancel", refund, s.adminOrderCancel)
	a.page("POST /admin/orders/{number}/returns/{id}/{step}", fulfil, s.adminReturnStep)

	number := paramDoc{name: "number", in: "path", typ: "string", desc: "Order number, e.g. US-100001.", required: true}
	returnID := paramDoc{name: "id", in: "path", typ: "integer", desc: "Return id.", required: true}
	a.api("GET /api/v1/admin/orders", view, s.apiAdminOrders, opDoc{
		summary: "Orders, newest first, filtered and paged.", response: "AdminOrderList",
		params: append(orderFilterParams(),
			paramDoc{name: "page", in: "query", typ: "integer", desc: "Page, from 1."},
			paramDoc{name: "per_page", in: "query", typ: "integer", desc: "1 to 200 orders a page (default 50)."}),
	})
	a.api("GET /api/v1/admin/orders/{number}", view, s.apiAdminOrder, opDoc{
		summary: "One order with its timeline, shipments, refunds and returns.", response: "AdminOrder", params: []paramDoc{number},
	})
	a.api("POST /api/v1/admin/orders/{number}/fulfilments", fulfil, s.apiAdminOrderFulfil, opDoc{
		summary:  "Ship a paid order: records the carrier and tracking number, marks it fulfilled and emails the customer. 409 invalid_state when it is not paid or has shipped.",
		response: "AdminOrder", request: "FulfilmentRequest", status: http.StatusCreated, params: []paramDoc{number},
	})
	a.api("POST /api/v1/admin/orders/{number}/deliver", fulfil, s.apiAdminOrderDeliver, opDoc{
		summary: "Mark a shipped order delivered.", response: "AdminOrder", params: []paramDoc{number},
	})
	a.api("POST /api/v1/admin/orders/{number}/refunds", refund, s.apiAdminOrderRefund, opDoc{
		summary:  "Refund part or all of what was captured, through the payment provider. 409 refund_exceeds_captured when the amount is more than is left; 422 for an amount that is not positive or not in the order's currency.",
		response: "AdminOrder", request: "RefundRequest", status: http.StatusCreated, params: []paramDoc{number},
	})
	a.api("POST /api/v1/admin/orders/{number}/cancel", refund, s.apiAdminOrderCancel, opDoc{
		summary:  "Cancel an order before it ships: its stock comes back, and what was captured is refunded. Body optional.",
		response: "AdminOrder", request: "CancelRequest", params: []paramDoc{number},
	})
	a.api("GET /api/v1/admin/orders/{number}/returns", view, s.apiAdminOrderReturns, opDoc{
		summary: "An order's returns.", response: "AdminReturnList", params: []paramDoc{number},
	})
	a.api("POST /api/v1/admin/orders/{number}/returns/{id}/approve", fulfil, s.apiAdminReturnStep("approve"), opDoc{
		summary: "Approve a requested return.", response: "AdminReturn", params: []paramDoc{number, returnID},
	})
	a.api("POST /api/v1/admin/orders/{number}/returns/{id}/reject", fulfil, s.apiAdminReturnStep("reject"), opDoc{
		summary:  "Reject a requested return; its units may be asked back again. Body optional.",
		response: "AdminReturn", request: "ReturnRejectRequest", params: []paramDoc{number, returnID},
	})
	a.api("POST /api/v1/admin/orders/{number}/returns/{id}/receive", fulfil, s.apiAdminReturnStep("receive"), opDoc{
		summary:  "Record an approved return as received; restock puts its units back on hand in the order's market.",
		response: "AdminReturn", request: "ReturnReceiveRequest", params: []paramDoc{number, returnID},
	})
	a.api("POST /api/v1/admin/orders/{number}/returns/{id}/refund", refund, s.apiAdminReturnStep("refund"), opDoc{
		summary:  "Refund a received return through the payment provider: what its units were paid, or amount (not more). Body optional.",
		response: "AdminReturn", request: "ReturnRefundRequest", status: http.StatusCreated, params: []paramDoc{number, returnID},
	})
}

// adminOrderSchemas are the OpenAPI schemas of this surface's API bodies.
func adminOrderSchemas() map[string]any {
	str, integer, boolean, ts := schemaString, schemaInteger, schemaBoolean, schemaTime
	ref, arr, obj := schemaRef, schemaArray, schemaObject
	returnStatus := map[string]any{"type": "string", "enum": []string{"requested", "approved", "rejected", "received", "refunded"}}
	return map[string]any{
		"AdminOrderSummary": obj([]string{"number", "market", "status", "email", "name", "item_count", "total", "refunded", "created_at"}, map[string]any{
			"number": str, "market": str, "status": str, "email": str, "name": str, "item_count": integer,
			"total": ref("Money"), "refunded": ref("Money"), "created_at": ts,
		}),
		"AdminOrderList": obj([]string{"orders", "page", "per_page", "total"}, map[string]any{
			"orders": arr(ref("AdminOrderSummary")), "page": integer, "per_page": integer, "total": integer,
		}),
		"Shipment": obj([]string{"id", "carrier", "tracking_number", "created_at"}, map[string]any{
			"id": integer, "carrier": str, "tracking_number": str, "tracking_url": map[string]any{"type": "string", "format": "uri", "description": "The carrier's page that follows the parcel; absent for a carrier the store has no page for (UPS, USPS, FedEx and DHL have one)."}, "by": str, "created_at": ts, "delivered_at": ts,
		}),
		"AdminRefund": obj([]string{"id", "amount", "status", "created_at"}, map[string]any{
			"id": integer, "amount": ref("Money"), "reason": str,
			"status":       map[string]any{"type": "string", "enum": []string{"pending", "succeeded", "failed"}},
			"provider_ref": str, "return_id": integer, "by": str, "created_at": ts,
		}),
		"AdminReturn": obj([]string{"id", "status", "reason", "lines", "value", "created_at"}, map[string]any{
			"id": integer, "status": returnStatus, "reason": str, "note": str, "restocked": boolean,
			"lines": arr(obj([]string{"sku", "name", "quantity"}, map[string]any{"sku": str, "name": str, "quantity": integer})),
			"value": ref("Money"), "created_at": ts, "updated_at": ts,
			"refund": ref("AdminRefund"),
		}),
		"AdminReturnList": obj([]string{"returns"}, map[string]any{"returns": arr(ref("AdminReturn"))}),
		"AdminDispute": obj([]string{"id", "provider", "provider_ref", "amount", "status", "created_at", "updated_at"}, map[string]any{
			"id": integer, "provider": str, "provider_ref": str, "amount": ref("Money"), "reason": str,
			"status": map[string]any{"type": "string", "enum": []string{"open", "won", "lost"},
				"description": "A chargeback: open until the customer's bank decides; lost counts as money given back (a refund by the provider)."},
			"due_by":     map[string]any{"type": "string", "format": "date-time", "description": "When the shop's answer must be in at the provider."},
			"created_at": ts, "updated_at": ts,
		}),
		"AdminOrder": map[string]any{"allOf": []any{ref("Order"), obj([]string{"paid", "refundable", "shipments", "refunds", "returns", "disputes"}, map[string]any{
			"paid": ref("Money"), "refundable": ref("Money"), "cancel_reason": str,
			"shipments": arr(ref("Shipment")), "refunds": arr(ref("AdminRefund")), "returns": arr(ref("AdminReturn")),
			"disputes": arr(ref("AdminDispute")),
		})}},
		"FulfilmentRequest": obj([]string{"carrier", "tracking_number"}, map[string]any{
			"carrier":         map[string]any{"type": "string", "maxLength": 64},
			"tracking_number": map[string]any{"type": "string", "maxLength": 128},
		}),
		"RefundRequest":        obj([]string{"amount"}, map[string]any{"amount": ref("Money"), "reason": map[string]any{"type": "string", "maxLength": 500}}),
		"CancelRequest":        obj(nil, map[string]any{"reason": map[string]any{"type": "string", "maxLength": 500}}),
		"ReturnRejectRequest":  obj(nil, map[string]any{"note": map[string]any{"type": "string", "maxLength": 500}}),
		"ReturnReceiveRequest": obj([]string{"restock"}, map[string]any{"restock": boolean}),
		"ReturnRefundRequest":  obj(nil, map[string]any{"amount": ref("Money")}),
	}
}

// adminOrderErrors maps this surface's domain errors to API codes.
var adminOrderErrors = []errorMapping{
	{order.ErrRefundExceedsCaptured, http.StatusConflict, "refund_exceeds_captured"},
	{order.ErrReturnNotFound, http.StatusNotFound, codeNotFound},
}

// API bodies.

type apiAdminOrderSummary struct {
	Number    string      `json:"number"`
	Market    string      `json:"market"`
	Status    string      `json:"status"`
	Email     string      `json:"email"`
	Name      string      `json:"name"`
	ItemCount int         `json:"item_count"`
	Total     money.Money `json:"total"`
	Refunded  money.Money `json:"refunded"`
	CreatedAt time.Time   `json:"created_at"`
}

type apiShipment struct {
	ID             int64  `json:"id"`
	Carrier        string `json:"carrier"`
	TrackingNumber string `json:"tracking_number"`
	// TrackingURL is the carrier's page for the parcel, where the store
	// knows the carrier (order.TrackingURL).
	TrackingURL string    `json:"tracking_url,omitempty"`
	By          string    `json:"by,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	DeliveredAt time.Time `json:"delivered_at,omitzero"`
}

type apiAdminRefund struct {
	ID          int64       `json:"id"`
	Amount      money.Money `json:"amount"`
	Reason      string      `json:"reason,omitempty"`
	Status      string      `json:"status"`
	ProviderRef string      `json:"provider_ref,omitempty"`
	ReturnID    int64       `json:"return_id,omitempty"`
	By          string      `json:"by,omitempty"`
	CreatedAt   time.Time   `json:"created_at"`
}

type apiReturnLine struct {
	SKU      string `json:"sku"`
	Name     string `json:"name"`
	Quantity int    `json:"quantity"`
}

type apiAdminReturn struct {
	ID        int64           `json:"id"`
	Status    string          `json:"status"`
	Reason    string          `json:"reason"`
	Note      string          `json:"note,omitempty"`
	Restocked bool            `json:"restocked"`
	Lines     []apiReturnLine `json:"lines"`
	Value     money.Money     `json:"value"`
	Refund    *apiAdminRefund `json:"refund,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

type apiAdminOrder struct {
	apiOrder
	Paid         money.Money      `json:"paid"`
	Refundable   money.Money      `json:"refundable"`
	CancelReason string           `json:"cancel_reason,omitempty"`
	Shipments    []apiShipment    `json:"shipments"`
	Refunds      []apiAdminRefund `json:"refunds"`
	Returns      []apiAdminReturn `json:"returns"`
	Disputes     []apiDispute     `json:"disputes"`
}

// apiDispute is a chargeback as the admin API shows it.
type apiDispute struct {
	ID        int64       `json:"id"`
	Provider  string      `json:"provider"`
	Ref       string      `json:"provider_ref"`
	Amount    money.Money `json:"amount"`
	Reason    string      `json:"reason,omitempty"`
	Status    string      `json:"status"`
	DueBy     time.Time   `json:"due_by,omitzero"`
	CreatedAt time.Time   `json:"created_at"`
	UpdatedAt time.Time   `json:"updated_at"`
}

func refundJSON(r order.RefundEntry) apiAdminRefund {
	return apiAdminRefund{ID: r.ID, Amount: r.Amount, Reason: r.Reason, Status: string(r.Status), ProviderRef: r.ProviderRef,
		ReturnID: r.ReturnID, By: r.Actor, CreatedAt: r.CreatedAt}
}

func returnJSON(r order.Return, refunds []order.RefundEntry) apiAdminReturn {
	out := apiAdminReturn{ID: r.ID, Status: string(r.Status), Reason: r.Reason, Note: r.Note, Restocked: r.Restocked,
		Lines: make([]apiReturnLine, len(r.Lines)), Value: r.Value, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	for i, l := range r.Lines {
		out.Lines[i] = apiReturnLine{SKU: l.SKU, Name: l.Name, Quantity: l.Quantity}
	}
	for _, f := range refunds {
		if f.ReturnID == r.ID {
			j := refundJSON(f)
			out.Refund = &j
		}
	}
	return out
}

func adminOrderJSON(d *order.Detail) apiAdminOrder {
	out := apiAdminOrder{
		apiOrder: orderJSON(d.Order, d.Events, ""), Paid: d.Order.PaidAmount, Refundable: d.Refundable(),
		CancelReason: d.Order.CancelReason,
		Shipments:    make([]apiShipment, len(d.Shipments)), Refunds: make([]apiAdminRefund, len(d.Refunds)), Returns: make([]apiAdminReturn, len(d.Returns)),
	}
	for i, sh := range d.Shipments {
		out.Shipments[i] = apiShipment{ID: sh.ID, Carrier: sh.Carrier, TrackingNumber: sh.TrackingNumber, TrackingURL: sh.TrackingURL(),
			By: sh.Actor, CreatedAt: sh.CreatedAt, DeliveredAt: sh.DeliveredAt}
	}
	for i, r := range d.Refunds {
		out.Refunds[i] = refundJSON(r)
	}
	for i, r := range d.Returns {
		out.Returns[i] = returnJSON(r, d.Refunds)
	}
	out.Disputes = make([]apiDispute, len(d.Disputes))
	for i, dp := range d.Disputes {
		out.Disputes[i] = apiDispute{ID: dp.ID, Provider: dp.Provider, Ref: dp.Ref, Amount: dp.Amount, Reason: dp.Reason,
			Status: string(dp.Status), DueBy: dp.DueBy, CreatedAt: dp.CreatedAt, UpdatedAt: dp.UpdatedAt}
	}
	return out
}

// orderFilterParams documents the query parameters orderFilter reads,
// besides paging: the list's and the CSV export's.
func orderFilterParams() []paramDoc {
	return []paramDoc{
		{name: "status", in: "query", typ: "string", desc: "pending_payment, paid, fulfilled, delivered, partially_refunded, refunded or cancelled."},
		{name: "market", in: "query", typ: "string", desc: "Market code, e.g. us."},
		{name: "q", in: "query", typ: "string", desc: "An order number, or part of the customer's email address or name."},
		{name: "email", in: "query", typ: "string", desc: "The customer's email address, whole (any case)."},
		{name: "from", in: "query", typ: "string", desc: "Placed at or after: RFC 3339 time or YYYY-MM-DD (UTC)."},
		{name: "to", in: "query", typ: "string", desc: "Placed before: RFC 3339 time, or YYYY-MM-DD (UTC) for up to the end of that day."},
	}
}

// orderFilter is parseOrderFilter with the market checked against the
// store's markets: a typo must not pass for a market without orders.
func (s *Server) orderFilter(r *http.Request, q url.Values) (order.Filter, error) {
	f, err := parseOrderFilter(q)
	if err == nil && f.Market != "" {
		if _, merr := s.marketOf(r, f.Market); merr != nil {
			err = badParam("market", "there is no market %q", f.Market)
		}
	}
	return f, err
}

// parseOrderFilter reads the order list's filters from a query; the same
// for the page, the API and the export.
func parseOrderFilter(q url.Values) (order.Filter, error) {
	f := order.Filter{
		Status: order.Status(strings.TrimSpace(q.Get("status"))),
		Market: strings.TrimSpace(q.Get("market")),
		Email:  strings.TrimSpace(q.Get("email")),
		Q:      strings.TrimSpace(q.Get("q")),
	}
	if f.Status != "" && !order.ValidStatus(f.Status) {
		return f, badParam("status", "status must be one of pending_payment, paid, fulfilled, delivered, partially_refunded, refunded, cancelled")
	}
	if len(f.Q) > 200 || len(f.Email) > 254 {
		return f, badParam("q", "q and email are at most 200 and 254 characters")
	}
	var err error
	if f.From, err = timeParam(q, "from", false); err != nil {
		return f, err
	}
	if f.To, err = timeParam(q, "to", true); err != nil {
		return f, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		return f, badParam("to", "to must come after from")
	}
	page, err := wholeParam("page", strings.TrimSpace(q.Get("page")), 1, 1, 1<<30)
	if err != nil {
		return f, err
	}
	perPage, err := wholeParam("per_page", strings.TrimSpace(q.Get("per_page")), order.DefaultPerPage, 1, order.MaxPerPage)
	if err != nil {
		return f, err
	}
	f.Page, f.PerPage = int(page), int(perPage)
	return f, nil
}

func (s *Server) apiAdminOrders(w http.ResponseWriter, r *http.Request) {
	f, err := s.orderFilter(r, r.URL.Query())
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	p, err := s.orders.List(r.Context(), f)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	out := struct {
		Orders  []apiAdminOrderSummary `json:"orders"`
		Page    int                    `json:"page"`
		PerPage int                    `json:"per_page"`
		Total   int                    `json:"total"`
	}{Orders: make([]apiAdminOrderSummary, len(p.Orders)), Page: p.Page, PerPage: p.PerPage, Total: p.Total}
	for i, o := range p.Orders {
		out.Orders[i] = apiAdminOrderSummary{Number: o.Number, Market: o.Market, Status: string(o.Status), Email: o.Email, Name: o.Name,
			ItemCount: o.Items, Total: o.Total, Refunded: o.Refunded, CreatedAt: o.CreatedAt}
	}
	s.writeJSON(w, r, http.StatusOK, out)
}

// writeAdminOrder answers with order number's detail as it is now.
func (s *Server) writeAdminOrder(w http.ResponseWriter, r *http.Request, status int, number string) {
	d, err := s.orders.Detail(r.Context(), number)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, status, adminOrderJSON(d))
}

func (s *Server) apiAdminOrder(w http.ResponseWriter, r *http.Request) {
	s.writeAdminOrder(w, r, http.StatusOK, r.PathValue("number"))
}

func (s *Server) apiAdminOrderFulfil(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Carrier        string `json:"carrier"`
		TrackingNumber string `json:"tracking_number"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	if _, err := s.orders.Fulfil(r.Context(), r.PathValue("number"), req.Carrier, req.TrackingNumber); err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.jobs.Notify()
	s.writeAdminOrder(w, r, http.StatusCreated, r.PathValue("number"))
}

func (s *Server) apiAdminOrderDeliver(w http.ResponseWriter, r *http.Request) {
	if _, err := s.orders.Deliver(r.Context(), r.PathValue("number")); err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeAdminOrder(w, r, http.StatusOK, r.PathValue("number"))
}

func (s *Server) apiAdminOrderRefund(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Amount *money.Money `json:"amount"`
		Reason string       `json:"reason"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	if req.Amount == nil {
		s.apiFail(w, r, &order.FieldError{Field: "amount", Msg: `Say how much to refund: "amount": {"amount": 1999, "currency": "USD"}.`})
		return
	}
	if _, err := s.orders.Refund(r.Context(), r.PathValue("number"), *req.Amount, req.Reason); err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.jobs.Notify()
	s.writeAdminOrder(w, r, http.StatusCreated, r.PathValue("number"))
}

func (s *Server) apiAdminOrderCancel(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Reason string `json:"reason"`
	}
	if err := decodeOptionalJSON(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	if _, err := s.orders.StaffCancel(r.Context(), r.PathValue("number"), req.Reason); err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.jobs.Notify()
	s.writeAdminOrder(w, r, http.StatusOK, r.PathValue("number"))
}

func (s *Server) apiAdminOrderReturns(w http.ResponseWriter, r *http.Request) {
	d, err := s.orders.Detail(r.Context(), r.PathValue("number"))
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	out := struct {
		Returns []apiAdminReturn `json:"returns"`
	}{make([]apiAdminReturn, len(d.Returns))}
	for i, rt := range d.Returns {
		out.Returns[i] = returnJSON(rt, d.Refunds)
	}
	s.writeJSON(w, r, http.StatusOK, out)
}

// returnStepRequest is the body of every return step; each reads the
// fields it needs.
type returnStepRequest struct {
	Note    string       `json:"note"`
	Restock *bool        `json:"restock"`
	Amount  *money.Money `json:"amount"`
}

// returnStep moves return id of order number one step on.
func (s *Server) returnStep(r *http.Request, number string, id int64, step string, req returnStepRequest) error {
	ctx := r.Context()
	var err error
	switch step {
	case "approve":
		_, err = s.orders.ApproveReturn(ctx, number, id)
	case "reject":
		_, err = s.orders.RejectReturn(ctx, number, id, req.Note)
	case "receive":
		if req.Restock == nil {
			return &order.FieldError{Field: "restock", Msg: "Say whether the units go back on hand: restock true or false."}
		}
		_, err = s.orders.ReceiveReturn(ctx, number, id, *req.Restock)
	case "refund":
		_, err = s.orders.RefundReturn(ctx, number, id, req.Amount)
		s.jobs.Notify()
	default:
		err = order.ErrReturnNotFound
	}
	return err
}

// apiAdminReturnStep answers a return step with the return as it is now.
func (s *Server) apiAdminReturnStep(step string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		number := r.PathValue("number")
		id, err := pathID(r)
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		var req returnStepRequest
		if err := decodeOptionalJSON(r, &req); err != nil {
			s.apiFail(w, r, err)
			return
		}
		if err := s.returnStep(r, number, id, step, req); err != nil {
			s.apiFail(w, r, err)
			return
		}
		d, err := s.orders.Detail(r.Context(), number)
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		status := http.StatusOK
		if step == "refund" {
			status = http.StatusCreated
		}
		for _, rt := range d.Returns {
			if rt.ID == id {
				s.writeJSON(w, r, status, returnJSON(rt, d.Refunds))
				return
			}
		}
		s.apiFail(w, r, order.ErrReturnNotFound)
	}
}

// Pages.

// adminOrdersContent is the order list page's content.
type adminOrdersContent struct {
	Page     order.ListPage
	Query    url.Values
	Statuses []order.Status
	Markets  []market.Market
	// Prev and Next link to the neighbouring pages; "" where there is none.
	Prev, Next string
	Error      string
}

func (s *Server) adminOrdersPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c := adminOrdersContent{Query: q, Statuses: order.Statuses}
	if set, err := s.catalog.Markets(r.Context()); err == nil {
		c.Markets = set.Markets
	}
	status := http.StatusOK
	f, err := s.orderFilter(r, q)
	if err == nil {
		c.Page, err = s.orders.List(r.Context(), f)
	}
	if err != nil {
		st, body := classify(err)
		if st >= 500 {
			s.adminFail(w, r, err)
			return
		}
		c.Error, status = body.Message, st
	}
	link := func(page int) string {
		v := cloneValues(q)
		v.Set("page", strconv.Itoa(page))
		return "/admin/orders?" + v.Encode()
	}
	if c.Page.Page > 1 {
		c.Prev = link(c.Page.Page - 1)
	}
	if c.Page.Page > 0 && c.Page.Page < c.Page.Pages() {
		c.Next = link(c.Page.Page + 1)
	}
	s.renderAdmin(w, r, status, "admin_orders", "orders", "Orders", c)
}

// adminOrderContent is one order's page content.
type adminOrderContent struct {
	*order.Detail
	// Can* say which forms the caller's role may use.
	CanFulfil, CanRefund bool
	// Fulfillable, Deliverable, Cancellable say which actions the order's
	// state allows.
	Fulfillable, Deliverable, Cancellable bool
	// Error is why the last action failed, with what was typed.
	Error                     string
	Carrier, Tracking, Amount string
	Reason                    string
}

func (s *Server) adminOrderPage(w http.ResponseWriter, r *http.Request) {
	s.renderAdminOrder(w, r, http.StatusOK, adminOrderContent{})
}

// renderAdminOrder shows the order of the request's path with c's error
// and form values.
func (s *Server) renderAdminOrder(w http.ResponseWriter, r *http.Request, status int, c adminOrderContent) {
	d, err := s.orders.Detail(r.Context(), r.PathValue("number"))
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	c.Detail = d
	caller := s.staffCaller(r)
	c.CanFulfil, c.CanRefund = caller.Can(staff.PermFulfilOrders), caller.Can(staff.PermRefundOrders)
	st := d.Order.Status
	c.Fulfillable = len(d.Shipments) == 0 && (st == order.Paid || st == order.PartiallyRefunded)
	c.Cancellable = len(d.Shipments) == 0 && (st == order.PendingPayment || st == order.Paid || st == order.PartiallyRefunded)
	for _, sh := range d.Shipments {
		if sh.DeliveredAt.IsZero() && (st == order.Fulfilled || st == order.PartiallyRefunded) {
			c.Deliverable = true
		}
	}
	s.renderAdmin(w, r, status, "admin_order", "orders", "Order "+d.Order.Number, c)
}

// adminOrderDone answers a successful order action: back to the order,
// with flash.
func (s *Server) adminOrderDone(w http.ResponseWriter, r *http.Request, flash string) {
	s.jobs.Notify()
	s.adminRedirect(w, r, "/admin/orders/"+url.PathEscape(r.PathValue("number")), flash)
}

// adminOrderFailed shows the order again with why the action failed; a
// failure on the store's side is the error page.
func (s *Server) adminOrderFailed(w http.ResponseWriter, r *http.Request, err error, c adminOrderContent) {
	status, body := classify(err)
	if status >= 500 || errors.Is(err, order.ErrNotFound) {
		s.adminFail(w, r, err)
		return
	}
	c.Error = body.Message
	s.renderAdminOrder(w, r, status, c)
}

func (s *Server) adminOrderFulfil(w http.ResponseWriter, r *http.Request) {
	c := adminOrderContent{Carrier: r.PostFormValue("carrier"), Tracking: r.PostFormValue("tracking_number")}
	if _, err := s.orders.Fulfil(r.Context(), r.PathValue("number"), c.Carrier, c.Tracking); err != nil {
		s.adminOrderFailed(w, r, err, c)
		return
	}
	s.adminOrderDone(w, r, "Order "+r.PathValue("number")+" is fulfilled; the customer is emailed.")
}

func (s *Server) adminOrderDeliver(w http.ResponseWriter, r *http.Request) {
	if _, err := s.orders.Deliver(r.Context(), r.PathValue("number")); err != nil {
		s.adminOrderFailed(w, r, err, adminOrderContent{})
		return
	}
	s.adminOrderDone(w, r, "Order "+r.PathValue("number")+" is marked delivered.")
}

func (s *Server) adminOrderRefund(w http.ResponseWriter, r *http.Request) {
	c := adminOrderContent{Amount: strings.TrimSpace(r.PostFormValue("amount")), Reason: r.PostFormValue("reason")}
	o, err := order.Get(r.Context(), s.db.Reader(), r.PathValue("number"))
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	amount, err := money.Parse(c.Amount, o.Currency)
	if err != nil {
		s.adminOrderFailed(w, r, &order.FieldError{Field: "amount", Msg: "Write the amount to refund as a number, e.g. 12.50."}, c)
		return
	}
	if _, err := s.orders.Refund(r.Context(), o.Number, amount, c.Reason); err != nil {
		s.adminOrderFailed(w, r, err, c)
		return
	}
	s.adminOrderDone(w, r, amount.Format()+" of order "+o.Number+" is being refunded.")
}

func (s *Server) adminOrderCancel(w http.ResponseWriter, r *http.Request) {
	c := adminOrderContent{Reason: r.PostFormValue("reason")}
	if _, err := s.orders.StaffCancel(r.Context(), r.PathValue("number"), c.Reason); err != nil {
		s.adminOrderFailed(w, r, err, c)
		return
	}
	s.adminOrderDone(w, r, "Order "+r.PathValue("number")+" is cancelled.")
}

// adminReturnStep runs a return's step from the order page. Approving,
// rejecting and receiving need the fulfil permission (the route's);
// refunding needs the refund permission as well.
func (s *Server) adminReturnStep(w http.ResponseWriter, r *http.Request) {
	step := r.PathValue("step")
	id, err := pathID(r)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	if step == "refund" && !s.staffCaller(r).Can(staff.PermRefundOrders) {
		s.adminFail(w, r, forbidden(s.staffCaller(r), staff.PermRefundOrders))
		return
	}
	req := returnStepRequest{Note: r.PostFormValue("note")}
	if step == "receive" {
		restock := r.PostFormValue("restock") == "yes"
		req.Restock = &restock
	}
	if v := strings.TrimSpace(r.PostFormValue("amount")); step == "refund" && v != "" {
		o, err := order.Get(r.Context(), s.db.Reader(), r.PathValue("number"))
		if err != nil {
			s.adminFail(w, r, err)
			return
		}
		m, err := money.Parse(v, o.Currency)
		if err != nil {
			s.adminOrderFailed(w, r, &order.FieldError{Field: "amount", Msg: "Write the amount to refund as a number, e.g. 12.50."}, adminOrderContent{})
			return
		}
		req.Amount = &m
	}
	if err := s.returnStep(r, r.PathValue("number"), id, step, req); err != nil {
		s.adminOrderFailed(w, r, err, adminOrderContent{})
		return
	}
	done := map[string]string{"approve": "approved", "reject": "rejected", "receive": "received", "refund": "refunded"}[step]
	s.adminOrderDone(w, r, "Return #"+strconv.FormatInt(id, 10)+" "+done+".")
}
