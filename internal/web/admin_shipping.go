package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"mistore/internal/checkout"
	"mistore/internal/money"
	"mistore/internal/staff"
)

// Shipping methods: each market's ways of delivery and what they cost,
// which checkout prices orders with. Reading them is a report; changing
// them needs PermEditPrices, like the tax rates.

func (s *Server) adminShippingRoutes(a *adminRouter) {
	a.page("GET /admin/shipping", permShopRead, s.adminShippingPage)
	a.page("POST /admin/shipping", staff.PermEditPrices, s.adminShippingSet)
	a.page("POST /admin/shipping/delete", staff.PermEditPrices, s.adminShippingDelete)
	params := []paramDoc{marketParam, {name: "code", in: "path", typ: "string", desc: "The method's code, such as express.", required: true}}
	a.api("GET /api/v1/admin/shipping-methods", permShopRead, s.apiAdminShippingMethods, opDoc{
		summary: "Every market's shipping methods, in the order checkout offers them.", response: "ShippingMethodList",
		params: []paramDoc{{name: "market", in: "query", typ: "string", desc: "Only this market's methods."}},
	})
	a.api("PUT /api/v1/admin/shipping-methods/{market}/{code}", staff.PermEditPrices, s.apiAdminShippingSet, opDoc{
		summary: "Create or replace a market's shipping method. Money is in minor units of the market's currency: amount " +
			"(the charge), free_over (flat: free at or over this subtotal after discounts; null: never), per_kg (weight: " +
			"added for each started kilogram). regions limits it to some regions (US state codes). Checkouts priced from " +
			"then on use it; orders placed keep theirs.",
		request: "ShippingMethodPut", response: "ShippingMethod", params: params,
	})
	a.api("DELETE /api/v1/admin/shipping-methods/{market}/{code}", staff.PermEditPrices, s.apiAdminShippingDelete, opDoc{
		summary: "Delete a shipping method; a market keeps at least one (422 otherwise).", params: params,
	})
}

// adminShippingSchemas are the OpenAPI schemas of the shipping API.
func adminShippingSchemas() map[string]any {
	minor := func(desc string) map[string]any {
		return map[string]any{"type": "integer", "minimum": 0, "description": desc}
	}
	fields := map[string]any{
		"name": schemaString, "kind": map[string]any{"type": "string", "enum": []string{"flat", "weight"}},
		"amount":    minor("The charge, in minor units of the market's currency."),
		"free_over": map[string]any{"type": []string{"integer", "null"}, "minimum": 0, "description": "Flat only: free at or over this subtotal (minor units); null means never."},
		"per_kg":    minor("Weight only: added for each started kilogram (minor units)."),
		"days":      map[string]any{"type": "string", "description": "The delivery estimate shoppers see."},
		"position":  map[string]any{"type": "integer", "description": "Order in checkout; the first is the default."},
		"regions":   map[string]any{"type": "array", "items": schemaString, "description": "The regions (US state codes) the method is offered to; empty: the whole market."},
	}
	full := map[string]any{"market": schemaString, "code": schemaString}
	for k, v := range fields {
		full[k] = v
	}
	return map[string]any{
		"ShippingMethodPut":  schemaObject([]string{"name", "kind", "amount"}, fields),
		"ShippingMethod":     schemaObject([]string{"market", "code", "name", "kind", "amount", "free_over", "per_kg", "days", "position", "regions"}, full),
		"ShippingMethodList": schemaObject([]string{"shipping_methods"}, map[string]any{"shipping_methods": schemaArray(schemaRef("ShippingMethod"))}),
	}
}

func (s *Server) apiAdminShippingMethods(w http.ResponseWriter, r *http.Request) {
	list, err := s.coupons.ShippingMethods(r.Context(), r.URL.Query().Get("market"))
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"shipping_methods": list})
}

func (s *Server) apiAdminShippingSet(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name     string   `json:"name"`
		Kind     string   `json:"kind"`
		Amount   *int64   `json:"amount"`
		FreeOver *int64   `json:"free_over"`
		PerKg    int64    `json:"per_kg"`
		Days     string   `json:"days"`
		Position int      `json:"position"`
		Regions  []string `json:"regions"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.apiFail(w, r, err)
		return
	}
	if in.Amount == nil {
		s.apiFail(w, r, &checkout.InvalidError{Field: "amount", Msg: "Give the charge as amount, in minor units of the market's currency (0 for free)."})
		return
	}
	m, err := s.coupons.SetShippingMethod(r.Context(), checkout.ShippingMethod{Market: r.PathValue("market"), Code: r.PathValue("code"),
		Name: in.Name, Kind: in.Kind, Amount: *in.Amount, FreeOver: in.FreeOver, PerKg: in.PerKg, Days: in.Days, Position: in.Position, Regions: in.Regions})
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, m)
}

func (s *Server) apiAdminShippingDelete(w http.ResponseWriter, r *http.Request) {
	if err := s.coupons.DeleteShippingMethod(r.Context(), r.PathValue("market"), r.PathValue("code")); err != nil {
		s.apiFail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// --- the page ---

// adminShippingContent is the shipping page.
type adminShippingContent struct {
	Market  string
	Markets []adminMarketOption
	Methods []adminShippingRow
	CanEdit bool
	// Error is why the last change was refused, with what was typed.
	Error string
	Form  adminShippingForm
}

// adminShippingRow is a method with its money as staff type it.
type adminShippingRow struct {
	checkout.ShippingMethod
	Currency                         string
	Amount, FreeOver, PerKg, Regions string
}

// adminShippingForm is the method form, as typed: money in major units.
type adminShippingForm struct {
	Market, Code, Name, Kind, Amount, FreeOver, PerKg, Days, Position, Regions string
}

func (s *Server) adminShippingPage(w http.ResponseWriter, r *http.Request) {
	s.renderShippingPage(w, r, http.StatusOK, adminShippingContent{Market: r.URL.Query().Get("market"), Form: adminShippingForm{Kind: "flat"}})
}

func (s *Server) renderShippingPage(w http.ResponseWriter, r *http.Request, status int, c adminShippingContent) {
	markets, _, err := s.marketOptions(r.Context())
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	list, err := s.coupons.ShippingMethods(r.Context(), c.Market)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	currency := map[string]string{}
	for _, m := range markets {
		currency[m.Code] = m.Currency
	}
	c.Markets, c.CanEdit = markets, s.staffCaller(r).Can(staff.PermEditPrices)
	for _, m := range list {
		cur := currency[m.Market]
		row := adminShippingRow{ShippingMethod: m, Currency: cur, Amount: money.Money{Amount: m.Amount, Currency: cur}.Decimal(), Regions: strings.Join(m.Regions, " ")}
		if m.FreeOver != nil {
			row.FreeOver = money.Money{Amount: *m.FreeOver, Currency: cur}.Decimal()
		}
		if m.Kind == "weight" {
			row.PerKg = money.Money{Amount: m.PerKg, Currency: cur}.Decimal()
		}
		if c.Error != "" && c.Form.Market == m.Market && c.Form.Code == m.Code {
			// A refused change of this row: the row shows what was typed,
			// and the form for a new method starts empty.
			row.Name, row.Amount, row.FreeOver, row.PerKg, row.Regions = c.Form.Name, c.Form.Amount, c.Form.FreeOver, c.Form.PerKg, c.Form.Regions
			c.Form = adminShippingForm{Market: c.Form.Market, Kind: "flat"}
		}
		c.Methods = append(c.Methods, row)
	}
	s.renderAdmin(w, r, status, "admin_shipping", "shipping", "Shipping", c)
}

// adminShippingSet saves the page's form, a method's row or the new one.
func (s *Server) adminShippingSet(w http.ResponseWriter, r *http.Request) {
	f := adminShippingForm{Market: r.PostFormValue("market"), Code: strings.TrimSpace(r.PostFormValue("code")), Name: r.PostFormValue("name"),
		Kind: r.PostFormValue("kind"), Amount: strings.TrimSpace(r.PostFormValue("amount")), FreeOver: strings.TrimSpace(r.PostFormValue("free_over")),
		PerKg: strings.TrimSpace(r.PostFormValue("per_kg")), Days: r.PostFormValue("days"), Position: strings.TrimSpace(r.PostFormValue("position")),
		Regions: r.PostFormValue("regions")}
	m, err := s.shippingFromForm(r, f)
	if err == nil {
		m, err = s.coupons.SetShippingMethod(r.Context(), m)
	}
	if err != nil {
		s.shippingRefused(w, r, f, err)
		return
	}
	s.adminRedirect(w, r, "/admin/shipping?market="+url.QueryEscape(m.Market), fmt.Sprintf("Shipping method %s (%s) saved.", m.Name, m.Market))
}

func (s *Server) adminShippingDelete(w http.ResponseWriter, r *http.Request) {
	mk, code := r.PostFormValue("market"), r.PostFormValue("code")
	if err := s.coupons.DeleteShippingMethod(r.Context(), mk, code); err != nil {
		s.shippingRefused(w, r, adminShippingForm{Market: mk, Kind: "flat"}, err)
		return
	}
	s.adminRedirect(w, r, "/admin/shipping?market="+url.QueryEscape(mk), fmt.Sprintf("Shipping method %s deleted from %s.", code, mk))
}

// shippingRefused shows the page again with why a change was refused.
func (s *Server) shippingRefused(w http.ResponseWriter, r *http.Request, f adminShippingForm, err error) {
	status, body := classify(err)
	if status >= 500 {
		s.adminFail(w, r, err)
		return
	}
	s.renderShippingPage(w, r, status, adminShippingContent{Market: f.Market, Error: body.Message, Form: f})
}

// shippingFromForm reads the form's amounts, typed in major units of the
// market's currency.
func (s *Server) shippingFromForm(r *http.Request, f adminShippingForm) (checkout.ShippingMethod, error) {
	m := checkout.ShippingMethod{Market: strings.ToLower(strings.TrimSpace(f.Market)), Code: f.Code, Name: f.Name, Kind: f.Kind, Days: f.Days,
		Regions: strings.FieldsFunc(f.Regions, func(r rune) bool { return r == ',' || r == ' ' || r == ';' })}
	mk, err := s.marketOf(r, m.Market)
	if err != nil {
		return m, &checkout.InvalidError{Field: "market", Msg: fmt.Sprintf("There is no market %q.", m.Market)}
	}
	amount := func(field, raw string) (int64, error) {
		v, err := money.Parse(raw, mk.Currency)
		if err != nil || v.Amount < 0 {
			return 0, &checkout.InvalidError{Field: field, Msg: fmt.Sprintf("%q is not an amount in %s, such as 5.99.", raw, mk.Currency)}
		}
		return v.Amount, nil
	}
	if m.Amount, err = amount("amount", f.Amount); err != nil {
		return m, err
	}
	if f.FreeOver != "" && m.Kind == "flat" {
		v, err := amount("free_over", f.FreeOver)
		if err != nil {
			return m, err
		}
		m.FreeOver = &v
	}
	if f.PerKg != "" && m.Kind == "weight" {
		if m.PerKg, err = amount("per_kg", f.PerKg); err != nil {
			return m, err
		}
	}
	if f.Position != "" {
		if m.Position, err = strconv.Atoi(f.Position); err != nil {
			return m, &checkout.InvalidError{Field: "position", Msg: "The position is a whole number."}
		}
	}
	return m, nil
}
