package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"mistore/internal/checkout"
	"mistore/internal/money"
	"mistore/internal/staff"
)

// Coupons and tax rates in the back office. Coupons follow the checkout's
// rules (checkout/coupon_admin.go); tax rates are the per-market and
// per-state table checkout prices with.

func (s *Server) adminCouponRoutes(a *adminRouter) {
	a.page("GET /admin/coupons", permShopRead, s.adminCouponsPage)
	a.page("GET /admin/coupons/new", staff.PermManageCoupons, s.adminCouponNewPage)
	a.page("POST /admin/coupons", staff.PermManageCoupons, s.adminCouponCreate)
	a.page("GET /admin/coupons/{code}", permShopRead, s.adminCouponPage)
	a.page("POST /admin/coupons/{code}", staff.PermManageCoupons, s.adminCouponUpdate)
	a.page("POST /admin/coupons/{code}/end", staff.PermManageCoupons, s.adminCouponEnd)

	codeParam := paramDoc{name: "code", in: "path", typ: "string", desc: "Coupon code (any case).", required: true}
	a.api("GET /api/v1/admin/coupons", permShopRead, s.apiAdminCoupons, opDoc{
		summary: "Every coupon with its rules, use count and state, newest first.", response: "CouponList",
	})
	a.api("POST /api/v1/admin/coupons", staff.PermManageCoupons, s.apiAdminCouponCreate, opDoc{
		summary:  "Create a coupon (422 invalid_field naming the rule that cannot work; 409 coupon_exists).",
		response: "Coupon", request: "CouponCreateRequest", status: http.StatusCreated,
	})
	a.api("GET /api/v1/admin/coupons/{code}", permShopRead, s.apiAdminCoupon, opDoc{
		summary: "One coupon.", response: "Coupon", params: []paramDoc{codeParam},
	})
	a.api("PATCH /api/v1/admin/coupons/{code}", staff.PermManageCoupons, s.apiAdminCouponUpdate, opDoc{
		summary: "Change a coupon's rules: fields sent replace the coupon's, null clears ends_at, max_uses or max_uses_per_email. " +
			"Orders already placed keep their discount.",
		response: "Coupon", request: "CouponUpdateRequest", params: []paramDoc{codeParam},
	})
	a.api("POST /api/v1/admin/coupons/{code}/end", staff.PermManageCoupons, s.apiAdminCouponEnd, opDoc{
		summary: "End a coupon now: checkout refuses it from then on.", response: "Coupon", params: []paramDoc{codeParam},
	})
	a.api("GET /api/v1/admin/coupons/{code}/usage", permShopRead, s.apiAdminCouponUsage, opDoc{
		summary:  "A coupon's usage: uses, paid and pending orders, discount given and revenue per currency, latest orders.",
		response: "CouponUsage", params: []paramDoc{codeParam},
	})
	a.api("GET /api/v1/admin/coupon-usage", permShopRead, s.apiAdminCouponReport, opDoc{
		summary: "The usage report of every coupon.", response: "CouponUsageList",
	})
}

func (s *Server) adminTaxRoutes(a *adminRouter) {
	a.page("GET /admin/tax-rates", permShopRead, s.adminTaxPage)
	a.page("POST /admin/tax-rates", staff.PermEditPrices, s.adminTaxSet)
	a.api("GET /api/v1/admin/tax-rates", permShopRead, s.apiAdminTaxRates, opDoc{
		summary: "The tax table: a rate per market and region (US state), \"\" for the whole market.", response: "TaxRateList",
		params: []paramDoc{{name: "market", in: "query", typ: "string", desc: "Only this market's rates."}},
	})
	a.api("PUT /api/v1/admin/tax-rates", staff.PermEditPrices, s.apiAdminTaxSet, opDoc{
		summary:  "Create or replace the rate of a market and region. Checkouts priced from then on use it.",
		response: "TaxRate", request: "TaxRate",
	})
}

func (s *Server) apiAdminCoupons(w http.ResponseWriter, r *http.Request) {
	list, err := s.coupons.Coupons(r.Context())
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"coupons": list})
}

// couponCreateRequest is the body of POST /api/v1/admin/coupons.
type couponCreateRequest struct {
	Code string `json:"code"`
	checkout.CouponRules
}

func (s *Server) apiAdminCouponCreate(w http.ResponseWriter, r *http.Request) {
	var req couponCreateRequest
	if err := decodeJSON(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	c, err := s.coupons.CreateCoupon(r.Context(), req.Code, req.CouponRules)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusCreated, c)
}

func (s *Server) apiAdminCoupon(w http.ResponseWriter, r *http.Request) {
	c, err := s.coupons.Coupon(r.Context(), r.PathValue("code"))
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, c)
}

func (s *Server) apiAdminCouponUpdate(w http.ResponseWriter, r *http.Request) {
	body, err := readJSONBody(r)
	if err == nil && len(strings.TrimSpace(string(body))) == 0 {
		err = malformed("The request body is empty; send a JSON object with the fields to change.")
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	// The body is laid over the coupon's rules as they are, inside the
	// update's transaction: fields left out keep their value.
	c, err := s.coupons.UpdateCoupon(r.Context(), r.PathValue("code"), func(rules *checkout.CouponRules) error {
		return decodeJSONBytes(body, rules)
	})
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, c)
}

func (s *Server) apiAdminCouponEnd(w http.ResponseWriter, r *http.Request) {
	c, err := s.coupons.EndCoupon(r.Context(), r.PathValue("code"))
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, c)
}

func (s *Server) apiAdminCouponUsage(w http.ResponseWriter, r *http.Request) {
	u, err := s.coupons.CouponUsage(r.Context(), r.PathValue("code"))
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, u)
}

func (s *Server) apiAdminCouponReport(w http.ResponseWriter, r *http.Request) {
	report, err := s.coupons.CouponReport(r.Context())
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"coupons": report})
}

func (s *Server) apiAdminTaxRates(w http.ResponseWriter, r *http.Request) {
	rates, err := s.coupons.TaxRates(r.Context(), r.URL.Query().Get("market"))
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"tax_rates": rates})
}

func (s *Server) apiAdminTaxSet(w http.ResponseWriter, r *http.Request) {
	var req checkout.TaxRate
	if err := decodeJSON(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	t, err := s.coupons.SetTaxRate(r.Context(), req)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, t)
}

// Pages.

// adminCouponRow is a coupon as the list shows it.
type adminCouponRow struct {
	checkout.Coupon
	Discount, Rules string
	Usage           checkout.CouponUsage
}

// adminCouponsContent is the coupon list's content.
type adminCouponsContent struct {
	Coupons []adminCouponRow
	CanEdit bool
}

// couponDiscountText says what a coupon takes off, e.g. "10%" or "$5.00".
func couponDiscountText(c checkout.Coupon) string {
	if c.Kind == checkout.CouponPercent {
		return strconv.Itoa(c.Percent) + "%"
	}
	if c.Amount != nil {
		return c.Amount.Format()
	}
	return ""
}

// couponRulesText sums up a coupon's limits in words.
func couponRulesText(c checkout.Coupon) string {
	var parts []string
	if c.Market != "" {
		parts = append(parts, "market "+c.Market)
	}
	if c.MinSubtotal != nil {
		parts = append(parts, "from "+c.MinSubtotal.Format())
	}
	if c.MaxUses != nil {
		parts = append(parts, fmt.Sprintf("%d uses in all", *c.MaxUses))
	}
	if c.MaxUsesPerEmail != nil {
		parts = append(parts, fmt.Sprintf("%d per email", *c.MaxUsesPerEmail))
	}
	if c.EndsAt != nil {
		parts = append(parts, "until "+c.EndsAt.UTC().Format("Jan 2, 2006 15:04")+" UTC")
	}
	return strings.Join(parts, " · ")
}

func (s *Server) adminCouponsPage(w http.ResponseWriter, r *http.Request) {
	admin := s.coupons
	list, err := admin.Coupons(r.Context())
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	report, err := admin.CouponReport(r.Context())
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	usage := map[string]checkout.CouponUsage{}
	for _, u := range report {
		usage[u.Code] = u
	}
	c := adminCouponsContent{CanEdit: s.staffCaller(r).Can(staff.PermManageCoupons)}
	for _, cp := range list {
		c.Coupons = append(c.Coupons, adminCouponRow{Coupon: cp, Discount: couponDiscountText(cp), Rules: couponRulesText(cp), Usage: usage[cp.Code]})
	}
	s.renderAdmin(w, r, http.StatusOK, "admin_coupons", "coupons", "Coupons", c)
}

// adminCouponForm is the coupon form, as typed.
type adminCouponForm struct {
	// Code is "" on the new-coupon form; Existing is set when editing.
	Code, Kind, Percent, Amount, Currency, Market, MinSubtotal, StartsAt, EndsAt, MaxUses, MaxUsesPerEmail string
	Existing                                                                                               bool
	Error, ErrorField                                                                                      string
}

// adminCouponFormContent is the new and edit pages' content.
type adminCouponFormContent struct {
	Form       adminCouponForm
	Markets    []adminMarketOption
	Currencies []string
	// Coupon and Usage are the coupon being edited and what it did.
	Coupon  *checkout.Coupon
	Usage   *checkout.CouponUsage
	CanEdit bool
}

// adminMarketOption is a market in a picker.
type adminMarketOption struct{ Code, Name, Currency string }

// formTimeLayout is the value of an <input type="datetime-local">, read
// and shown in UTC.
const formTimeLayout = "2006-01-02T15:04"

// couponFormOf fills the form with c's rules.
func couponFormOf(c checkout.Coupon) adminCouponForm {
	f := adminCouponForm{Code: c.Code, Kind: c.Kind, Market: c.Market, StartsAt: c.StartsAt.UTC().Format(formTimeLayout), Existing: true}
	if c.Kind == checkout.CouponPercent {
		f.Percent = strconv.Itoa(c.Percent)
	}
	if c.Amount != nil {
		f.Amount, f.Currency = c.Amount.Decimal(), c.Amount.Currency
	}
	if c.MinSubtotal != nil {
		f.MinSubtotal = c.MinSubtotal.Decimal()
		if f.Currency == "" {
			f.Currency = c.MinSubtotal.Currency
		}
	}
	if c.EndsAt != nil {
		f.EndsAt = c.EndsAt.UTC().Format(formTimeLayout)
	}
	if c.MaxUses != nil {
		f.MaxUses = strconv.Itoa(*c.MaxUses)
	}
	if c.MaxUsesPerEmail != nil {
		f.MaxUsesPerEmail = strconv.Itoa(*c.MaxUsesPerEmail)
	}
	return f
}

// couponFormFrom reads the coupon form of r.
func couponFormFrom(r *http.Request) adminCouponForm {
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	return adminCouponForm{Code: v("code"), Kind: v("kind"), Percent: v("percent"), Amount: v("amount"), Currency: v("currency"),
		Market: v("market"), MinSubtotal: v("min_subtotal"), StartsAt: v("starts_at"), EndsAt: v("ends_at"),
		MaxUses: v("max_uses"), MaxUsesPerEmail: v("max_uses_per_email")}
}

// rules turns the form into coupon rules, or an *checkout.InvalidError
// for a field that cannot be read. The currency of the amounts is the
// form's currency, else the market's.
func (f adminCouponForm) rules(markets []adminMarketOption) (checkout.CouponRules, error) {
	bad := func(field, msg string) error { return &checkout.InvalidError{Field: field, Msg: msg} }
	r := checkout.CouponRules{Kind: f.Kind, Market: f.Market}
	cur := f.Currency
	if cur == "" {
		for _, m := range markets {
			if m.Code == f.Market {
				cur = m.Currency
			}
		}
	}
	whole := func(field, raw string) (*int, error) {
		if raw == "" {
			return nil, nil
		}
		n, err := strconv.Atoi(raw)
		if err != nil {
			return nil, bad(field, fmt.Sprintf("%q is not a whole number.", raw))
		}
		return &n, nil
	}
	amount := func(field, raw string) (*money.Money, error) {
		if raw == "" {
			return nil, nil
		}
		if cur == "" {
			return nil, bad(field, "Choose a currency (or a market) for the amount.")
		}
		m, err := money.Parse(raw, cur)
		if err != nil {
			return nil, bad(field, fmt.Sprintf("%q is not an amount in %s, such as 5.00.", raw, cur))
		}
		return &m, nil
	}
	when := func(field, raw string) (*time.Time, error) {
		if raw == "" {
			return nil, nil
		}
		t, err := time.ParseInLocation(formTimeLayout, raw, time.UTC)
		if err != nil {
			return nil, bad(field, fmt.Sprintf("%q is not a date and time.", raw))
		}
		return &t, nil
	}
	var err error
	if r.Kind == checkout.CouponPercent {
		p, err := whole("percent", f.Percent)
		if err != nil {
			return r, err
		}
		if p != nil {
			r.Percent = *p
		}
	} else if r.Amount, err = amount("amount", f.Amount); err != nil {
		return r, err
	}
	if r.MinSubtotal, err = amount("min_subtotal", f.MinSubtotal); err != nil {
		return r, err
	}
	start, err := when("starts_at", f.StartsAt)
	if err != nil {
		return r, err
	}
	if start != nil {
		r.StartsAt = *start
	}
	if r.EndsAt, err = when("ends_at", f.EndsAt); err != nil {
		return r, err
	}
	if r.MaxUses, err = whole("max_uses", f.MaxUses); err != nil {
		return r, err
	}
	if r.MaxUsesPerEmail, err = whole("max_uses_per_email", f.MaxUsesPerEmail); err != nil {
		return r, err
	}
	return r, nil
}

// marketOptions returns the markets for pickers, and their currencies.
func (s *Server) marketOptions(ctx context.Context) ([]adminMarketOption, []string, error) {
	set, err := s.catalog.Markets(ctx)
	if err != nil {
		return nil, nil, err
	}
	var out []adminMarketOption
	seen := map[string]bool{}
	var currencies []string
	for _, m := range set.Markets {
		out = append(out, adminMarketOption{Code: m.Code, Name: m.Name, Currency: m.Currency})
		if !seen[m.Currency] {
			seen[m.Currency] = true
			currencies = append(currencies, m.Currency)
		}
	}
	sort.Strings(currencies)
	return out, currencies, nil
}

func (s *Server) renderCouponForm(w http.ResponseWriter, r *http.Request, status int, c adminCouponFormContent) {
	markets, currencies, err := s.marketOptions(r.Context())
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	c.Markets, c.Currencies = markets, currencies
	c.CanEdit = s.staffCaller(r).Can(staff.PermManageCoupons)
	title := "New coupon"
	if c.Form.Existing {
		title = "Coupon " + c.Form.Code
	}
	s.renderAdmin(w, r, status, "admin_coupon", "coupons", title, c)
}

func (s *Server) adminCouponNewPage(w http.ResponseWriter, r *http.Request) {
	s.renderCouponForm(w, r, http.StatusOK, adminCouponFormContent{Form: adminCouponForm{Kind: checkout.CouponPercent}})
}

// couponFormFail shows the coupon form again with why it was refused,
// or an error page for what the form cannot help with.
func (s *Server) couponFormFail(w http.ResponseWriter, r *http.Request, err error, c adminCouponFormContent) {
	status, body := classify(err)
	if status >= 500 || status == http.StatusNotFound {
		s.adminFail(w, r, err)
		return
	}
	c.Form.Error, c.Form.ErrorField = body.Message, body.Field
	s.renderCouponForm(w, r, status, c)
}

func (s *Server) adminCouponCreate(w http.ResponseWriter, r *http.Request) {
	f := couponFormFrom(r)
	markets, _, err := s.marketOptions(r.Context())
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	rules, err := f.rules(markets)
	var c checkout.Coupon
	if err == nil {
		c, err = s.coupons.CreateCoupon(r.Context(), f.Code, rules)
	}
	if err != nil {
		s.couponFormFail(w, r, err, adminCouponFormContent{Form: f})
		return
	}
	s.adminRedirect(w, r, "/admin/coupons/"+url.PathEscape(c.Code), "Coupon "+c.Code+" created.")
}

func (s *Server) adminCouponPage(w http.ResponseWriter, r *http.Request) {
	admin := s.coupons
	c, err := admin.Coupon(r.Context(), r.PathValue("code"))
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	u, err := admin.CouponUsage(r.Context(), c.Code)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	s.renderCouponForm(w, r, http.StatusOK, adminCouponFormContent{Form: couponFormOf(c), Coupon: &c, Usage: &u})
}

func (s *Server) adminCouponUpdate(w http.ResponseWriter, r *http.Request) {
	admin := s.coupons
	f := couponFormFrom(r)
	f.Existing = true
	markets, _, err := s.marketOptions(r.Context())
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	rules, err := f.rules(markets)
	var c checkout.Coupon
	if err == nil {
		// The form holds every rule: it replaces them all.
		c, err = admin.UpdateCoupon(r.Context(), r.PathValue("code"), func(cur *checkout.CouponRules) error {
			*cur = rules
			return nil
		})
	}
	if err != nil {
		old, gerr := admin.Coupon(r.Context(), r.PathValue("code"))
		if gerr != nil {
			s.adminFail(w, r, gerr)
			return
		}
		f.Code = old.Code
		u, uerr := admin.CouponUsage(r.Context(), old.Code)
		if uerr != nil {
			s.adminFail(w, r, uerr)
			return
		}
		s.couponFormFail(w, r, err, adminCouponFormContent{Form: f, Coupon: &old, Usage: &u})
		return
	}
	s.adminRedirect(w, r, "/admin/coupons/"+url.PathEscape(c.Code), "Coupon "+c.Code+" saved.")
}

func (s *Server) adminCouponEnd(w http.ResponseWriter, r *http.Request) {
	c, err := s.coupons.EndCoupon(r.Context(), r.PathValue("code"))
	if err != nil {
		if errors.Is(err, checkout.ErrCouponNotFound) {
			s.adminFail(w, r, err)
			return
		}
		s.adminFormFail(w, r, err, "/admin/coupons")
		return
	}
	s.adminRedirect(w, r, "/admin/coupons/"+url.PathEscape(c.Code), "Coupon "+c.Code+" ended: checkout no longer takes it.")
}

// adminTaxContent is the tax rates page's content.
type adminTaxContent struct {
	Market  string
	Markets []adminMarketOption
	Rates   []adminTaxRow
	CanEdit bool
	// Error is why the last change was refused, with what was typed.
	Error string
	Form  adminTaxForm
}

// adminTaxRow is a rate with its percentage in words.
type adminTaxRow struct {
	checkout.TaxRate
	Percent string
}

// adminTaxForm is the rate form, as typed.
type adminTaxForm struct {
	Market, Region, Name, RatePCM string
	TaxShipping                   bool
}

// percentText writes a rate in thousandths of a percent as a percentage:
// 6625 is "6.625%".
func percentText(pcm int) string {
	s := fmt.Sprintf("%d.%03d", pcm/1000, pcm%1000)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "%"
}

func (s *Server) adminTaxPage(w http.ResponseWriter, r *http.Request) {
	s.renderTaxPage(w, r, http.StatusOK, adminTaxContent{Market: r.URL.Query().Get("market")})
}

func (s *Server) renderTaxPage(w http.ResponseWriter, r *http.Request, status int, c adminTaxContent) {
	markets, _, err := s.marketOptions(r.Context())
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	rates, err := s.coupons.TaxRates(r.Context(), c.Market)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	c.Markets, c.CanEdit = markets, s.staffCaller(r).Can(staff.PermEditPrices)
	for _, t := range rates {
		c.Rates = append(c.Rates, adminTaxRow{TaxRate: t, Percent: percentText(t.RatePCM)})
	}
	s.renderAdmin(w, r, status, "admin_tax_rates", "tax-rates", "Tax rates", c)
}

func (s *Server) adminTaxSet(w http.ResponseWriter, r *http.Request) {
	f := adminTaxForm{Market: r.PostFormValue("market"), Region: r.PostFormValue("region"), Name: r.PostFormValue("name"),
		RatePCM: strings.TrimSpace(r.PostFormValue("rate_pcm")), TaxShipping: r.PostFormValue("tax_shipping") != ""}
	pcm, err := strconv.Atoi(f.RatePCM)
	if err != nil {
		err = &checkout.InvalidError{Field: "rate_pcm", Msg: fmt.Sprintf("%q is not a whole number of thousandths of a percent (6625 is 6.625%%).", f.RatePCM)}
	}
	var t checkout.TaxRate
	if err == nil {
		t, err = s.coupons.SetTaxRate(r.Context(), checkout.TaxRate{Market: f.Market, Region: f.Region, Name: f.Name, RatePCM: pcm, TaxShipping: f.TaxShipping})
	}
	if err != nil {
		status, body := classify(err)
		if status >= 500 {
			s.adminFail(w, r, err)
			return
		}
		s.renderTaxPage(w, r, status, adminTaxContent{Market: f.Market, Error: body.Message, Form: f})
		return
	}
	where := t.Market
	if t.Region != "" {
		where += " / " + t.Region
	}
	s.adminRedirect(w, r, "/admin/tax-rates?market="+url.QueryEscape(t.Market), fmt.Sprintf("Tax rate for %s is now %s.", where, percentText(t.RatePCM)))
}
