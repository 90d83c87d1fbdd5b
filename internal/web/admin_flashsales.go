package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"mistore/internal/flashsale"
	"mistore/internal/input"
	"mistore/internal/money"
	"mistore/internal/staff"
)

// Flash sales in the back office: the list with live counters, creating a
// sale, its page with pause, resume and end, and rescheduling before it
// starts. The service audits every change.
//
// Permissions: reading sales needs PermViewReports (every role: it changes
// nothing); creating and changing them PermManageFlashSales (owners and
// managers).

const permFlashSaleRead = staff.PermViewReports

// adminFlashSaleRoutes registers this back-office surface's pages and API.
func (s *Server) adminFlashSaleRoutes(a *adminRouter) {
	manage := staff.PermManageFlashSales
	a.page("GET /admin/flash-sales", permFlashSaleRead, s.adminFlashSalesPage)
	a.page("GET /admin/flash-sales/new", manage, s.adminFlashSaleNewPage)
	a.page("POST /admin/flash-sales", manage, s.adminFlashSaleCreate)
	a.page("GET /admin/flash-sales/{id}", permFlashSaleRead, s.adminFlashSalePage)
	a.page("POST /admin/flash-sales/{id}/schedule", manage, s.adminFlashSaleSchedule)
	a.page("POST /admin/flash-sales/{id}/pause", manage, s.adminFlashSaleAction)
	a.page("POST /admin/flash-sales/{id}/resume", manage, s.adminFlashSaleAction)
	a.page("POST /admin/flash-sales/{id}/end", manage, s.adminFlashSaleAction)

	idParam := paramDoc{name: "id", in: "path", typ: "integer", desc: "Flash sale id.", required: true}
	a.api("GET /api/v1/admin/flash-sales", permFlashSaleRead, s.apiAdminFlashSales, opDoc{
		summary:  "Every flash sale with its live counters (claimed, paid, released, remaining, pending), newest first.",
		response: "AdminFlashSaleList",
		params:   []paramDoc{{name: "market", in: "query", typ: "string", desc: "Only this market's sales."}},
	})
	a.api("POST /api/v1/admin/flash-sales", manage, s.apiAdminFlashSaleCreate, opDoc{
		summary: "Create a flash sale: its units are set aside in one warehouse of the market at once. 422 invalid_field names " +
			"what cannot work (a product not sold in the market, too little stock, times in the wrong order).",
		response: "AdminFlashSale", request: "FlashSaleCreateRequest", status: http.StatusCreated,
	})
	a.api("GET /api/v1/admin/flash-sales/{id}", permFlashSaleRead, s.apiAdminFlashSale, opDoc{
		summary: "One flash sale with its live counters.", response: "AdminFlashSale", params: []paramDoc{idParam},
	})
	a.api("PATCH /api/v1/admin/flash-sales/{id}", manage, s.apiAdminFlashSaleSchedule, opDoc{
		summary: "Reschedule a sale that has not started: fields sent replace the sale's, null registration_closes_at drops " +
			"the registration (409 invalid_state once it started).",
		response: "AdminFlashSale", request: "FlashSaleScheduleRequest", params: []paramDoc{idParam},
	})
	for _, act := range []struct{ verb, summary string }{
		{"pause", "Pause a sale: claims are refused (409 paused) until it is resumed."},
		{"resume", "Resume a paused sale."},
		{"end", "End a sale now: claims are refused from then on; units not claimed go back to stock."},
	} {
		a.api("POST /api/v1/admin/flash-sales/{id}/"+act.verb, manage, s.apiAdminFlashSaleAction, opDoc{
			summary: act.summary, response: "AdminFlashSale", params: []paramDoc{idParam},
		})
	}
}

// adminFlashSaleJSON is a sale as the back office sees it: everything,
// with its counters.
type adminFlashSaleJSON struct {
	flashSaleJSON
	Warehouse string     `json:"warehouse"`
	Paused    bool       `json:"paused"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	Claimed   int        `json:"claimed"`
	Paid      int        `json:"paid"`
	Released  int        `json:"released"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// adminSaleJSON is sale for the admin API at now; its ends_at is the
// planned end, and ended_at says when staff ended it early.
func adminSaleJSON(sale *flashsale.Sale, now time.Time) adminFlashSaleJSON {
	j := adminFlashSaleJSON{flashSaleJSON: saleJSON(sale, now), Warehouse: sale.Warehouse, Paused: sale.Paused,
		Claimed: sale.Claimed, Paid: sale.Paid, Released: sale.Released, CreatedAt: sale.CreatedAt.UTC(), UpdatedAt: sale.UpdatedAt.UTC()}
	j.EndsAt = sale.EndsAt.UTC()
	if !sale.EndedAt.IsZero() {
		t := sale.EndedAt.UTC()
		j.EndedAt = &t
	}
	return j
}

func (s *Server) apiAdminFlashSales(w http.ResponseWriter, r *http.Request) {
	list, err := s.flashsales.ListAll(r.Context(), flashsale.AdminFilter{Market: strings.TrimSpace(r.URL.Query().Get("market"))})
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	now := s.catalog.Now()
	out := make([]adminFlashSaleJSON, 0, len(list))
	for _, sale := range list {
		out = append(out, adminSaleJSON(sale, now))
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"flash_sales": out})
}

// flashSaleCreateRequest is the body of POST /api/v1/admin/flash-sales.
// The price is "amount" in minor units: "price" is a field the store
// refuses from clients everywhere (jsonbody.go), so that no one believes
// they set what a shopper pays by sending it to the wrong route.
type flashSaleCreateRequest struct {
	Market               string  `json:"market"`
	SKU                  string  `json:"sku"`
	Title                string  `json:"title"`
	Amount               int64   `json:"amount"`
	Quantity             int     `json:"quantity"`
	PerCustomerLimit     int     `json:"per_customer_limit"`
	StartsAt             string  `json:"starts_at"`
	EndsAt               string  `json:"ends_at"`
	RegistrationClosesAt *string `json:"registration_closes_at"`
}

// apiTime reads field's RFC 3339 value; "" is the zero time unless the
// field is required.
func apiTime(field, v string, required bool) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		if required {
			return time.Time{}, &input.FieldError{Field: field, Msg: "The " + field + " is required (an RFC 3339 time such as 2026-11-27T09:00:00Z)."}
		}
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, badParam(field, "%s must be an RFC 3339 time such as 2026-11-27T09:00:00Z", field)
	}
	return t.UTC(), nil
}

func (s *Server) apiAdminFlashSaleCreate(w http.ResponseWriter, r *http.Request) {
	var req flashSaleCreateRequest
	if err := decodeJSON(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	ns := flashsale.NewSale{Market: strings.TrimSpace(req.Market), SKU: strings.TrimSpace(req.SKU), Title: strings.TrimSpace(req.Title),
		Price: req.Amount, Quantity: req.Quantity, PerCustomerLimit: req.PerCustomerLimit}
	var err error
	if ns.StartsAt, err = apiTime("starts_at", req.StartsAt, true); err == nil {
		if ns.EndsAt, err = apiTime("ends_at", req.EndsAt, true); err == nil && req.RegistrationClosesAt != nil {
			ns.RegistrationClosesAt, err = apiTime("registration_closes_at", *req.RegistrationClosesAt, false)
		}
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	sale, err := s.flashsales.Create(r.Context(), ns)
	var fe *input.FieldError
	if errors.As(err, &fe) && fe.Field == "price" {
		// The request names the sale's price "amount".
		fe.Field = "amount"
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusCreated, adminSaleJSON(sale, s.catalog.Now()))
}

func (s *Server) apiAdminFlashSale(w http.ResponseWriter, r *http.Request) {
	id, err := saleIDParam(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	sale, err := s.flashsales.Get(r.Context(), id)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, adminSaleJSON(sale, s.catalog.Now()))
}

// flashSaleScheduleRequest is the body of PATCH .../flash-sales/{id}:
// each field is left out (keep), or set; registration_closes_at may also
// be null (no registration).
type flashSaleScheduleRequest struct {
	StartsAt             *string         `json:"starts_at"`
	EndsAt               *string         `json:"ends_at"`
	RegistrationClosesAt json.RawMessage `json:"registration_closes_at"`
}

func (s *Server) apiAdminFlashSaleSchedule(w http.ResponseWriter, r *http.Request) {
	id, err := saleIDParam(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	var req flashSaleScheduleRequest
	if err := decodeJSON(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	sale, err := s.flashsales.Get(r.Context(), id)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	starts, ends, reg := sale.StartsAt, sale.EndsAt, sale.RegistrationClosesAt
	if req.StartsAt != nil {
		if starts, err = apiTime("starts_at", *req.StartsAt, true); err != nil {
			s.apiFail(w, r, err)
			return
		}
	}
	if req.EndsAt != nil {
		if ends, err = apiTime("ends_at", *req.EndsAt, true); err != nil {
			s.apiFail(w, r, err)
			return
		}
	}
	if raw := strings.TrimSpace(string(req.RegistrationClosesAt)); raw == "null" {
		reg = time.Time{}
	} else if raw != "" {
		var v string
		if err := json.Unmarshal(req.RegistrationClosesAt, &v); err != nil {
			s.apiFail(w, r, badParam("registration_closes_at", "registration_closes_at must be an RFC 3339 time or null"))
			return
		}
		if reg, err = apiTime("registration_closes_at", v, false); err != nil {
			s.apiFail(w, r, err)
			return
		}
	}
	sale, err = s.flashsales.Schedule(r.Context(), id, starts, ends, reg)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, adminSaleJSON(sale, s.catalog.Now()))
}

// saleAction runs the pause, resume or end the path ends with.
func (s *Server) saleAction(r *http.Request, id int64) (*flashsale.Sale, string, error) {
	ctx := r.Context()
	switch {
	case strings.HasSuffix(r.URL.Path, "/pause"):
		sale, err := s.flashsales.Pause(ctx, id)
		return sale, "paused", err
	case strings.HasSuffix(r.URL.Path, "/resume"):
		sale, err := s.flashsales.Resume(ctx, id)
		return sale, "resumed", err
	}
	sale, err := s.flashsales.End(ctx, id)
	return sale, "ended", err
}

func (s *Server) apiAdminFlashSaleAction(w http.ResponseWriter, r *http.Request) {
	id, err := saleIDParam(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	sale, _, err := s.saleAction(r, id)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, adminSaleJSON(sale, s.catalog.Now()))
}

// Pages.

// adminSaleRow is a sale as the back office's pages show it.
type adminSaleRow struct {
	Sale               *flashsale.Sale
	State              flashsale.State
	Remaining, Pending int
}

// Heading is the sale's title, else its product's name.
func (r adminSaleRow) Heading() string {
	if r.Sale.Title != "" {
		return r.Sale.Title
	}
	return r.Sale.Name
}

func adminSaleRowOf(sale *flashsale.Sale, now time.Time) adminSaleRow {
	return adminSaleRow{Sale: sale, State: sale.StateAt(now), Remaining: max(0, sale.Remaining()), Pending: max(0, sale.Pending())}
}

// adminFlashSalesContent is the list page's content.
type adminFlashSalesContent struct {
	Sales   []adminSaleRow
	Market  string
	Markets []adminMarketOption
	CanEdit bool
	Now     time.Time
}

func (s *Server) adminFlashSalesPage(w http.ResponseWriter, r *http.Request) {
	market := strings.TrimSpace(r.URL.Query().Get("market"))
	list, err := s.flashsales.ListAll(r.Context(), flashsale.AdminFilter{Market: market})
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	markets, _, err := s.marketOptions(r.Context())
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	now := s.catalog.Now()
	c := adminFlashSalesContent{Market: market, Markets: markets, CanEdit: s.staffCaller(r).Can(staff.PermManageFlashSales), Now: now}
	for _, sale := range list {
		c.Sales = append(c.Sales, adminSaleRowOf(sale, now))
	}
	s.renderAdmin(w, r, http.StatusOK, "admin_flashsales", "flash-sales", "Flash sales", c)
}

// adminFlashSaleForm is the new-sale form, as typed. Times are
// datetime-local values in UTC.
type adminFlashSaleForm struct {
	Market, SKU, Title, Price, Quantity, Limit, StartsAt, EndsAt, RegistrationClosesAt string
	Error, ErrorField                                                                  string
}

// adminFlashSaleFormContent is the new-sale page's content.
type adminFlashSaleFormContent struct {
	Form    adminFlashSaleForm
	Markets []adminMarketOption
}

func (s *Server) renderFlashSaleForm(w http.ResponseWriter, r *http.Request, status int, f adminFlashSaleForm) {
	markets, _, err := s.marketOptions(r.Context())
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	s.renderAdmin(w, r, status, "admin_flashsale_new", "flash-sales", "New flash sale", adminFlashSaleFormContent{Form: f, Markets: markets})
}

func (s *Server) adminFlashSaleNewPage(w http.ResponseWriter, r *http.Request) {
	s.renderFlashSaleForm(w, r, http.StatusOK, adminFlashSaleForm{Quantity: "100", Limit: "1"})
}

// formTime reads a datetime-local value (UTC) of field; "" is the zero
// time.
func formTime(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation(formTimeLayout, v, time.UTC)
	if err != nil {
		return time.Time{}, &input.FieldError{Field: field, Msg: "\"" + v + "\" is not a date and time."}
	}
	return t, nil
}

// newSale turns the form into what the service takes, or an
// *input.FieldError for a field that cannot be read.
func (f adminFlashSaleForm) newSale(markets []adminMarketOption) (flashsale.NewSale, error) {
	ns := flashsale.NewSale{Market: f.Market, SKU: f.SKU, Title: f.Title}
	cur := ""
	for _, m := range markets {
		if m.Code == f.Market {
			cur = m.Currency
		}
	}
	if cur == "" {
		return ns, &input.FieldError{Field: "market", Msg: "Choose a market."}
	}
	price, err := money.Parse(f.Price, cur)
	if err != nil {
		return ns, &input.FieldError{Field: "price", Msg: "\"" + f.Price + "\" is not an amount in " + cur + ", such as 199.00."}
	}
	ns.Price = price.Amount
	whole := func(field, raw string) (int, error) {
		n, err := strconv.Atoi(raw)
		if err != nil {
			return 0, &input.FieldError{Field: field, Msg: "\"" + raw + "\" is not a whole number."}
		}
		return n, nil
	}
	if ns.Quantity, err = whole("quantity", f.Quantity); err != nil {
		return ns, err
	}
	if ns.PerCustomerLimit, err = whole("per_customer_limit", f.Limit); err != nil {
		return ns, err
	}
	if ns.StartsAt, err = formTime("starts_at", f.StartsAt); err != nil {
		return ns, err
	}
	if ns.EndsAt, err = formTime("ends_at", f.EndsAt); err != nil {
		return ns, err
	}
	if ns.RegistrationClosesAt, err = formTime("registration_closes_at", f.RegistrationClosesAt); err != nil {
		return ns, err
	}
	return ns, nil
}

func (s *Server) adminFlashSaleCreate(w http.ResponseWriter, r *http.Request) {
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	f := adminFlashSaleForm{Market: v("market"), SKU: v("sku"), Title: v("title"), Price: v("price"), Quantity: v("quantity"),
		Limit: v("per_customer_limit"), StartsAt: v("starts_at"), EndsAt: v("ends_at"), RegistrationClosesAt: v("registration_closes_at")}
	markets, _, err := s.marketOptions(r.Context())
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	ns, err := f.newSale(markets)
	var sale *flashsale.Sale
	if err == nil {
		sale, err = s.flashsales.Create(r.Context(), ns)
	}
	if err != nil {
		status, body := classify(err)
		if status >= 500 {
			s.adminFail(w, r, err)
			return
		}
		f.Error, f.ErrorField = body.Message, body.Field
		s.renderFlashSaleForm(w, r, status, f)
		return
	}
	s.adminRedirect(w, r, "/admin/flash-sales/"+strconv.FormatInt(sale.ID, 10), "Flash sale created: its units are set aside.")
}

// adminFlashSaleContent is a sale's page's content.
type adminFlashSaleContent struct {
	Row     adminSaleRow
	CanEdit bool
	// Reschedulable: the sale has not started, so its times may change.
	Reschedulable bool
	// Schedule is the reschedule form, as typed or as the sale is.
	Schedule          adminFlashSaleForm
	Error, ErrorField string
}

func (s *Server) adminFlashSalePage(w http.ResponseWriter, r *http.Request) {
	s.renderAdminSale(w, r, http.StatusOK, nil, "", "")
}

// renderAdminSale shows sale id's page; form, when not nil, is a refused
// reschedule to show again with errMsg.
func (s *Server) renderAdminSale(w http.ResponseWriter, r *http.Request, status int, form *adminFlashSaleForm, errMsg, errField string) {
	id, err := saleIDParam(r)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	sale, err := s.flashsales.Get(r.Context(), id)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	now := s.catalog.Now()
	c := adminFlashSaleContent{Row: adminSaleRowOf(sale, now), CanEdit: s.staffCaller(r).Can(staff.PermManageFlashSales),
		Reschedulable: now.Before(sale.StartsAt) && sale.EndedAt.IsZero(), Error: errMsg, ErrorField: errField}
	if form != nil {
		c.Schedule = *form
	} else {
		c.Schedule = adminFlashSaleForm{StartsAt: sale.StartsAt.UTC().Format(formTimeLayout), EndsAt: sale.EndsAt.UTC().Format(formTimeLayout)}
		if sale.RegistrationRequired() {
			c.Schedule.RegistrationClosesAt = sale.RegistrationClosesAt.UTC().Format(formTimeLayout)
		}
	}
	s.renderAdmin(w, r, status, "admin_flashsale", "flash-sales", "Flash sale "+strconv.FormatInt(sale.ID, 10), c)
}

func (s *Server) adminFlashSaleSchedule(w http.ResponseWriter, r *http.Request) {
	id, err := saleIDParam(r)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	f := adminFlashSaleForm{StartsAt: v("starts_at"), EndsAt: v("ends_at"), RegistrationClosesAt: v("registration_closes_at")}
	starts, err := formTime("starts_at", f.StartsAt)
	var ends, reg time.Time
	if err == nil {
		ends, err = formTime("ends_at", f.EndsAt)
	}
	if err == nil {
		reg, err = formTime("registration_closes_at", f.RegistrationClosesAt)
	}
	if err == nil {
		_, err = s.flashsales.Schedule(r.Context(), id, starts, ends, reg)
	}
	if err != nil {
		status, body := classify(err)
		if status >= 500 || status == http.StatusNotFound {
			s.adminFail(w, r, err)
			return
		}
		s.renderAdminSale(w, r, status, &f, body.Message, body.Field)
		return
	}
	s.adminRedirect(w, r, "/admin/flash-sales/"+strconv.FormatInt(id, 10), "Flash sale rescheduled.")
}

func (s *Server) adminFlashSaleAction(w http.ResponseWriter, r *http.Request) {
	id, err := saleIDParam(r)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	path := "/admin/flash-sales/" + strconv.FormatInt(id, 10)
	_, done, err := s.saleAction(r, id)
	if err != nil {
		status, _ := classify(err)
		if status == http.StatusNotFound {
			s.adminFail(w, r, err)
			return
		}
		s.adminFormFail(w, r, err, path)
		return
	}
	s.adminRedirect(w, r, path, "Flash sale "+done+".")
}
