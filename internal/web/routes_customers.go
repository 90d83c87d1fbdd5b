package web

import "net/http"

// customerRoutes registers accounts: the customers API and the account
// pages under /{market}/account.
func (s *Server) customerRoutes(store *http.ServeMux, api *apiRouter) {
	if s.customers == nil {
		return
	}
	bearer := paramDoc{name: "Authorization", in: "header", typ: "string",
		desc: "Bearer TOKEN from POST /api/v1/sessions; a browser may send the session cookie instead.", required: true}
	api.handle("POST /api/v1/customers", s.apiRegister, opDoc{
		summary: "Create a customer account; a link to verify the email address is emailed.", tag: "customers",
		response: "Customer", status: http.StatusCreated, request: "RegisterRequest",
	})
	api.handle("POST /api/v1/sessions", s.apiSignIn, opDoc{
		summary: "Sign in: answers a session token (send it as Authorization: Bearer) and sets the session cookie.",
		tag:     "customers", response: "SessionToken", request: "SignInRequest",
	})
	api.handle("DELETE /api/v1/sessions", s.apiSignOut, opDoc{
		summary: "Sign out: ends the session on the server.", tag: "customers", status: http.StatusNoContent,
	})
	api.handle("GET /api/v1/me", s.apiMe, opDoc{
		summary: "The signed-in customer.", tag: "customers", response: "Customer", params: []paramDoc{bearer},
	})
	api.handle("GET /api/v1/me/orders", s.apiMyOrders, opDoc{
		summary: "The signed-in customer's orders, newest first (orders placed with their verified email address).",
		tag:     "customers", response: "OrderHistory", params: []paramDoc{bearer},
	})
	api.handle("GET /api/v1/me/export", s.apiMyExport, opDoc{
		summary: "Everything the store holds about the signed-in customer, as a JSON download.", tag: "customers",
		response: "DataExport", params: []paramDoc{bearer},
	})
	api.handle("DELETE /api/v1/me", s.apiDeleteMe, opDoc{
		summary: "Delete the account (the password is asked again); orders keep their amounts, not the personal data.",
		tag:     "customers", status: http.StatusNoContent, params: []paramDoc{bearer}, request: "PasswordRequest",
	})

	store.HandleFunc("GET /{market}/account", s.pageAccount)
	store.HandleFunc("POST /{market}/account/sign-in", s.pageSignIn)
	store.HandleFunc("GET /{market}/account/register", s.pageRegister)
	store.HandleFunc("POST /{market}/account/register", s.pageRegisterSubmit)
	store.HandleFunc("POST /{market}/account/sign-out", s.pageSignOut)
	store.HandleFunc("GET /{market}/account/reset", s.pageReset)
	store.HandleFunc("POST /{market}/account/reset", s.pageResetSubmit)
	store.HandleFunc("GET /{market}/account/verify", s.pageVerify)
	store.HandleFunc("POST /{market}/account/verify", s.pageVerifySubmit)
	store.HandleFunc("GET /{market}/account/export", s.pageExport)
	store.HandleFunc("POST /{market}/account/delete", s.pageDelete)
	store.HandleFunc("POST /{market}/account/password", s.pagePassword)
	store.HandleFunc("POST /{market}/account/sessions/end-others", s.pageEndOtherSessions)
	store.HandleFunc("POST /{market}/account/email", s.pageEmail)
	store.HandleFunc("POST /{market}/account/addresses/{id}/delete", s.pageAddressDelete)
}
