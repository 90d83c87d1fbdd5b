package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"mistore/internal/community"
	"mistore/internal/customer"
)

// Customers in the back office: search by email or name, one customer
// with their orders, disabling an account (it cannot sign in, its
// sessions end) and enabling it again, and signing it out everywhere.

func (s *Server) adminCustomerRoutes(a *adminRouter) {
	a.page("GET /admin/customers", permCustomerRead, s.adminCustomersPage)
	a.page("GET /admin/customers/{id}", permCustomerRead, s.adminCustomerPage)
	a.page("POST /admin/customers/{id}/disable", permCustomerWrite, s.adminCustomerChange(s.disableCustomerForm, "%s is disabled: signed out everywhere, and cannot sign in."))
	a.page("POST /admin/customers/{id}/enable", permCustomerWrite, s.adminCustomerChange(s.enableCustomer, "%s can sign in again."))
	a.page("POST /admin/customers/{id}/sign-out", permCustomerWrite, s.adminCustomerChange(s.signOutCustomer, "%s is signed out everywhere; they can sign in again."))

	idParam := paramDoc{name: "id", in: "path", typ: "integer", desc: "Customer id.", required: true}
	a.api("GET /api/v1/admin/customers", permCustomerRead, s.apiAdminCustomers, opDoc{
		summary: "Customer accounts whose email address or name contains q (any case), newest first.", response: "CustomerAccountList",
		params: []paramDoc{{name: "q", in: "query", typ: "string", desc: "Part of an email address or name (at most 200 characters)."},
			pageParam, {name: "per_page", in: "query", typ: "integer", desc: "Accounts per page, 1 to 100 (default 50)."}},
	})
	a.api("GET /api/v1/admin/customers/{id}", permCustomerRead, s.apiAdminCustomer, opDoc{
		summary: "One customer with every order placed with their email address.", response: "CustomerDetail", params: []paramDoc{idParam},
	})
	a.api("POST /api/v1/admin/customers/{id}/disable", permCustomerWrite, s.apiCustomerChange(s.disableCustomerJSON), opDoc{
		summary:  "Disable an account: its sessions end and sign-in answers invalid_credentials as for a wrong password.",
		response: "CustomerAccount", request: "CustomerDisableRequest", params: []paramDoc{idParam},
	})
	a.api("POST /api/v1/admin/customers/{id}/enable", permCustomerWrite, s.apiCustomerChange(s.enableCustomer), opDoc{
		summary: "Let a disabled account sign in again.", response: "CustomerAccount", params: []paramDoc{idParam},
	})
	a.api("POST /api/v1/admin/customers/{id}/sign-out", permCustomerWrite, s.apiCustomerChange(s.signOutCustomer), opDoc{
		summary:  "End every session of an account (browsers and app tokens) without disabling it: the customer signs in again.",
		response: "CustomerAccount", params: []paramDoc{idParam},
	})
}

// maxCustomerQuery bounds a search text.
const maxCustomerQuery = 200

// customerQuery reads q, page and per_page.
func customerQuery(r *http.Request, perPageDefault int) (q string, page, perPage int, err error) {
	q = strings.TrimSpace(r.URL.Query().Get("q"))
	if len(q) > maxCustomerQuery {
		return "", 0, 0, badParam("q", "q must be at most %d characters", maxCustomerQuery)
	}
	if page, err = intParam(r, "page", 1, 1, 10000); err != nil {
		return "", 0, 0, err
	}
	if perPage, err = intParam(r, "per_page", perPageDefault, 1, customer.MaxSearchResults); err != nil {
		return "", 0, 0, err
	}
	return q, page, perPage, nil
}

func (s *Server) apiAdminCustomers(w http.ResponseWriter, r *http.Request) {
	q, page, perPage, err := customerQuery(r, 50)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	list, total, err := s.customers.Search(r.Context(), q, perPage, (page-1)*perPage)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"customers": list, "total": total, "page": page, "per_page": perPage})
}

func (s *Server) apiAdminCustomer(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	d, err := s.customers.Detail(r.Context(), id)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, d)
}

// customerDisableRequest is the optional body of POST .../disable.
type customerDisableRequest struct {
	Reason string `json:"reason"`
}

// customerChange is one of staff's changes to customer account id: it
// returns the account as it is afterwards.
type customerChange func(ctx context.Context, r *http.Request, id int64) (customer.Account, error)

// disableCustomerForm disables the account for the page's form, with
// its reason field.
func (s *Server) disableCustomerForm(ctx context.Context, r *http.Request, id int64) (customer.Account, error) {
	return s.customers.Disable(ctx, id, r.PostFormValue("reason"))
}

// disableCustomerJSON disables the account for the API, with the reason
// of its optional JSON body.
func (s *Server) disableCustomerJSON(ctx context.Context, r *http.Request, id int64) (customer.Account, error) {
	var req customerDisableRequest
	if err := decodeOptionalJSON(r, &req); err != nil {
		return customer.Account{}, err
	}
	return s.customers.Disable(ctx, id, req.Reason)
}

func (s *Server) enableCustomer(ctx context.Context, _ *http.Request, id int64) (customer.Account, error) {
	return s.customers.Enable(ctx, id)
}

func (s *Server) signOutCustomer(ctx context.Context, _ *http.Request, id int64) (customer.Account, error) {
	return s.customers.SignOutEverywhere(ctx, id)
}

// apiCustomerChange answers an admin API call that makes change to
// customer {id} with the account afterwards.
func (s *Server) apiCustomerChange(change customerChange) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		var a customer.Account
		if err == nil {
			a, err = change(r.Context(), r, id)
		}
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		s.writeJSON(w, r, http.StatusOK, a)
	}
}

// adminCustomerChange answers a customer page's form that makes change:
// back to the page, with done(email) said once.
func (s *Server) adminCustomerChange(change customerChange, done string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		var a customer.Account
		if err == nil {
			a, err = change(r.Context(), r, id)
		}
		page := "/admin/customers/" + strconv.FormatInt(id, 10)
		if err != nil {
			s.adminFormFail(w, r, err, page)
			return
		}
		s.adminRedirect(w, r, page, fmt.Sprintf(done, a.Email))
	}
}

// adminCustomersContent is the customer search page's content.
type adminCustomersContent struct {
	Q         string
	Customers []customer.Account
	Total     int
	Page      int
	// PrevURL and NextURL page through the results; "" at either end.
	PrevURL, NextURL string
}

// customersPerPage is a page of the customer search page.
const customersPerPage = 50

func (s *Server) adminCustomersPage(w http.ResponseWriter, r *http.Request) {
	q, page, _, err := customerQuery(r, customersPerPage)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	list, total, err := s.customers.Search(r.Context(), q, customersPerPage, (page-1)*customersPerPage)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	c := adminCustomersContent{Q: q, Customers: list, Total: total, Page: page}
	link := func(p int) string {
		v := r.URL.Query()
		v.Set("page", strconv.Itoa(p))
		return "/admin/customers?" + v.Encode()
	}
	if page > 1 {
		c.PrevURL = link(page - 1)
	}
	if page*customersPerPage < total {
		c.NextURL = link(page + 1)
	}
	s.renderAdmin(w, r, http.StatusOK, "admin_customers", "customers", "Customers", c)
}

// adminCustomerContent is one customer's page.
type adminCustomerContent struct {
	Customer customer.AccountDetail
	// CanDisable: the caller may disable and enable accounts, and ban
	// them from the community.
	CanDisable bool
	// Member is the account in the community: its posts and any ban.
	Member *community.Member
}

func (s *Server) adminCustomerPage(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	d, err := s.customers.Detail(r.Context(), id)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	m, err := s.community.Member(r.Context(), id)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	s.renderAdmin(w, r, http.StatusOK, "admin_customer", "customers", d.Name,
		adminCustomerContent{Customer: d, CanDisable: s.staffCaller(r).Can(permCustomerWrite), Member: m})
}
