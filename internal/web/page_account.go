package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"mistore/internal/customer"
	"mistore/internal/order"
	"mistore/internal/ratelimit"
)

// accountContent is what the account pages show. Mode picks the page:
// overview (signed in), sign-in, register, reset-request, reset-sent,
// reset-set or verify.
type accountContent struct {
	Mode      string
	Customer  customer.Customer
	Orders    []*order.Order
	Addresses []customer.Address
	// Email and Name refill a form after an error; passwords never are.
	Email, Name string
	// Errors are per field; Message is about the whole form.
	Errors  map[string]string
	Message string
	Flash   string
	// Token carries a reset or verification token through its form.
	Token string
}

// accountNotes are the one-line confirmations a redirect may ask for.
var accountNotes = map[string]string{
	"signed-out":      "You are signed out.",
	"registered":      "Welcome! Your account is ready. We have sent you a link to confirm your email address.",
	"reset":           "Your password is changed, and every other session of your account is signed out. Sign in with the new password.",
	"verified":        "Thank you, your email address is confirmed. Orders placed with it now show in your account.",
	"deleted":         "Your account is deleted. Orders you placed keep their amounts for our accounts, without your name or address.",
	"welcome":         "You are signed in.",
	"password":        "Your password is changed. Every other session of your account is signed out.",
	"email":           "Your email address is changed. We have sent a link to the new address to confirm it.",
	"address-removed": "The address is removed.",
	"others-ended":    "You are signed out on every other device and app. This one stays signed in.",
}

// renderAccount shows an account page in market code.
func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, status int, title string, c accountContent) {
	code := r.PathValue("market")
	p, err := s.newPage(r, code, "/account")
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	// Titles and notes are English keys, said here in the page's language.
	p.Title, p.NoIndex, p.Canonical = p.Lang.T(title), true, ""
	if c.Flash != "" {
		c.Flash = p.Lang.T(c.Flash)
	}
	p.Content = c
	s.renderNoStore(w, r, status, "account", p)
}

// pageAccount is the account overview when signed in, else the sign-in
// form.
func (s *Server) pageAccount(w http.ResponseWriter, r *http.Request) {
	flash := accountNotes[r.URL.Query().Get("note")]
	who, err := s.signedIn(r)
	if errors.Is(err, errSignInRequired) {
		s.renderAccount(w, r, http.StatusOK, "Sign in", accountContent{Mode: "sign-in", Flash: flash})
		return
	}
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	c, err := s.overview(r, who)
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	c.Flash = flash
	s.renderAccount(w, r, http.StatusOK, "Your account", c)
}

// overview is the signed-in account page's content.
func (s *Server) overview(r *http.Request, who caller) (accountContent, error) {
	orders, err := s.customerOrders(r, who.customer)
	if err != nil {
		return accountContent{}, err
	}
	addrs, err := s.customers.Addresses(r.Context(), who.customer.ID)
	if err != nil {
		return accountContent{}, err
	}
	return accountContent{Mode: "overview", Customer: who.customer, Orders: orders, Addresses: addrs}, nil
}

// pageAddressDelete removes a saved address; someone else's is a 404.
func (s *Server) pageAddressDelete(w http.ResponseWriter, r *http.Request) {
	who, err := s.signedIn(r)
	if err != nil {
		localRedirect(w, r, "/"+r.PathValue("market")+"/account", http.StatusSeeOther)
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.pageFail(w, r, customer.ErrNotFound)
		return
	}
	if err := s.customers.DeleteAddress(r.Context(), who.customer.ID, id); err != nil {
		s.pageFail(w, r, err)
		return
	}
	accountRedirect(w, r, "address-removed")
}

// accountRedirect sends the browser to the account page with a note.
func accountRedirect(w http.ResponseWriter, r *http.Request, note string) {
	localRedirect(w, r, "/"+r.PathValue("market")+"/account?note="+url.QueryEscape(note), http.StatusSeeOther)
}

// formProblem turns an error into what a form shows, in the page's
// language: a field's own message, or one for the whole form, with the
// status to answer.
func (s *Server) formProblem(r *http.Request, err error) (status int, field, msg string) {
	l := s.langOf(r, r.PathValue("market"))
	if field, text, ok := s.customerFieldText(l, err); ok {
		return http.StatusUnprocessableEntity, field, text
	}
	status, _ = classify(err)
	return status, "", s.sayError(l, err)
}

func (s *Server) pageSignIn(w http.ResponseWriter, r *http.Request) {
	email := r.PostFormValue("email")
	c, err := s.signIn(r, email, r.PostFormValue("password"))
	if err == nil {
		_, err = s.startSession(w, r, c, customer.SessionBrowser)
	}
	if err == nil {
		err = s.adoptCart(w, r, c)
	}
	if err != nil {
		status, _, msg := s.formProblem(r, err)
		if status >= 500 {
			s.pageFail(w, r, err)
			return
		}
		retryAfter(w, err)
		s.renderAccount(w, r, status, "Sign in", accountContent{Mode: "sign-in", Email: email, Message: msg})
		return
	}
	accountRedirect(w, r, "welcome")
}

func (s *Server) pageRegister(w http.ResponseWriter, r *http.Request) {
	s.renderAccount(w, r, http.StatusOK, "Create an account", accountContent{Mode: "register"})
}

func (s *Server) pageRegisterSubmit(w http.ResponseWriter, r *http.Request) {
	email, name := r.PostFormValue("email"), r.PostFormValue("name")
	err := s.limit(r, ratelimit.RegisterPerIP, clientIP(r))
	var c customer.Customer
	if err == nil {
		c, err = s.customers.Register(s.storefront(r), email, r.PostFormValue("password"), name)
	}
	if err == nil {
		s.jobs.Notify() // the verification email
		_, err = s.startSession(w, r, c, customer.SessionBrowser)
	}
	if err == nil {
		err = s.adoptCart(w, r, c)
	}
	if err != nil {
		status, field, msg := s.formProblem(r, err)
		if status >= 500 {
			s.pageFail(w, r, err)
			return
		}
		retryAfter(w, err)
		content := accountContent{Mode: "register", Email: email, Name: name, Errors: map[string]string{}}
		switch {
		case field != "":
			content.Errors[field] = msg
		case errors.Is(err, customer.ErrEmailTaken):
			content.Errors["email"] = msg
		default:
			content.Message = msg
		}
		s.renderAccount(w, r, status, "Create an account", content)
		return
	}
	accountRedirect(w, r, "registered")
}

func (s *Server) pageSignOut(w http.ResponseWriter, r *http.Request) {
	if token := credentials(r); token != "" {
		if err := s.customers.EndSession(r.Context(), token); err != nil {
			s.pageFail(w, r, err)
			return
		}
	}
	clearSessionCookie(w, r)
	accountRedirect(w, r, "signed-out")
}

// pageReset asks for the email address to send a reset link to, or, with
// the link's token, for the new password.
func (s *Server) pageReset(w http.ResponseWriter, r *http.Request) {
	// The token is in this page's address: no link on it may pass it on.
	w.Header().Set("Referrer-Policy", "no-referrer")
	if token := r.URL.Query().Get("token"); token != "" {
		s.renderAccount(w, r, http.StatusOK, "Choose a new password", accountContent{Mode: "reset-set", Token: token})
		return
	}
	s.renderAccount(w, r, http.StatusOK, "Reset your password", accountContent{Mode: "reset-request"})
}

// pageResetSubmit sends a reset link, or sets the new password. Asking
// for a link answers the same whether or not the address has an account.
func (s *Server) pageResetSubmit(w http.ResponseWriter, r *http.Request) {
	if token := r.PostFormValue("token"); token != "" {
		err := s.customers.ResetPassword(s.storefront(r), token, r.PostFormValue("password"))
		if err != nil {
			status, field, msg := s.formProblem(r, err)
			if status >= 500 {
				s.pageFail(w, r, err)
				return
			}
			content := accountContent{Mode: "reset-set", Token: token, Errors: map[string]string{}}
			if field != "" {
				content.Errors[field] = msg
			} else {
				content.Message = msg
			}
			s.renderAccount(w, r, status, "Choose a new password", content)
			return
		}
		clearSessionCookie(w, r)
		accountRedirect(w, r, "reset")
		return
	}
	email := r.PostFormValue("email")
	err := s.limit(r, ratelimit.ResetPerIP, clientIP(r))
	if err == nil {
		err = s.limit(r, ratelimit.ResetPerAccount, strings.ToLower(strings.TrimSpace(email)))
	}
	if err == nil {
		err = s.customers.RequestPasswordReset(s.storefront(r), email)
		s.jobs.Notify()
	}
	if err != nil {
		status, field, msg := s.formProblem(r, err)
		if status >= 500 {
			s.pageFail(w, r, err)
			return
		}
		retryAfter(w, err)
		content := accountContent{Mode: "reset-request", Email: email, Errors: map[string]string{}}
		if field != "" {
			content.Errors[field] = msg
		} else {
			content.Message = msg
		}
		s.renderAccount(w, r, status, "Reset your password", content)
		return
	}
	s.renderAccount(w, r, http.StatusOK, "Check your email", accountContent{Mode: "reset-sent", Email: email})
}

// pageVerify shows the button that confirms an email address; the
// confirming is a POST, since following a link (or a mail scanner doing
// so) must not change anything.
func (s *Server) pageVerify(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Referrer-Policy", "no-referrer")
	s.renderAccount(w, r, http.StatusOK, "Confirm your email address", accountContent{Mode: "verify", Token: r.URL.Query().Get("token")})
}

func (s *Server) pageVerifySubmit(w http.ResponseWriter, r *http.Request) {
	if _, err := s.customers.VerifyEmail(r.Context(), r.PostFormValue("token")); err != nil {
		s.pageFail(w, r, err)
		return
	}
	accountRedirect(w, r, "verified")
}

// pageExport downloads everything held about the signed-in customer.
func (s *Server) pageExport(w http.ResponseWriter, r *http.Request) {
	who, err := s.signedIn(r)
	if err != nil {
		localRedirect(w, r, "/"+r.PathValue("market")+"/account", http.StatusSeeOther)
		return
	}
	ex, err := s.customers.Export(r.Context(), who.customer.ID)
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	noStore(w)
	w.Header().Set("Content-Disposition", `attachment; filename="mistore-data.json"`)
	s.writeJSON(w, r, http.StatusOK, ex)
}

// pageDelete deletes the signed-in customer's account after asking for
// the password again.
func (s *Server) pageDelete(w http.ResponseWriter, r *http.Request) {
	s.withPassword(w, r, "password", "delete_password", "The password is not right; the account is not deleted.", func(who caller) error {
		if err := s.customers.Delete(r.Context(), who.customer.ID); err != nil {
			return err
		}
		clearSessionCookie(w, r)
		accountRedirect(w, r, "deleted")
		return nil
	})
}

// pageEndOtherSessions signs the customer out everywhere but here (a
// shared computer, a lost phone), once their password is given again.
func (s *Server) pageEndOtherSessions(w http.ResponseWriter, r *http.Request) {
	s.withPassword(w, r, "others_password", "others_password", "The password is not right; no session was ended.", func(who caller) error {
		if err := s.customers.EndSessions(r.Context(), who.customer.ID, who.token); err != nil {
			return err
		}
		accountRedirect(w, r, "others-ended")
		return nil
	})
}

// withPassword runs done for the signed-in customer once the password in
// form field input is right, under the sign-in limits. A wrong one shows
// the overview again with wrong (a message key) next to field errField;
// done's error is a failed page.
func (s *Server) withPassword(w http.ResponseWriter, r *http.Request, input, errField, wrong string, done func(caller) error) {
	who, err := s.signedIn(r)
	if err != nil {
		localRedirect(w, r, "/"+r.PathValue("market")+"/account", http.StatusSeeOther)
		return
	}
	if _, err := s.signIn(r, who.customer.Email, r.PostFormValue(input)); err != nil {
		s.overviewWithErrors(w, r, who, err, map[string]string{errField: s.langOf(r, r.PathValue("market")).T(wrong)})
		return
	}
	if err := done(who); err != nil {
		s.pageFail(w, r, err)
	}
}

// overviewWithErrors shows the account overview again with errs next to
// their fields, after a failed change.
func (s *Server) overviewWithErrors(w http.ResponseWriter, r *http.Request, who caller, err error, errs map[string]string) {
	status, _, _ := s.formProblem(r, err)
	if status >= 500 {
		s.pageFail(w, r, err)
		return
	}
	retryAfter(w, err)
	c, oerr := s.overview(r, who)
	if oerr != nil {
		s.pageFail(w, r, oerr)
		return
	}
	c.Errors = errs
	s.renderAccount(w, r, status, "Your account", c)
}

// pagePassword changes the password; the current one is asked again.
// Every session ends, this one included, and the browser gets a new one.
func (s *Server) pagePassword(w http.ResponseWriter, r *http.Request) {
	who, err := s.signedIn(r)
	if err != nil {
		localRedirect(w, r, "/"+r.PathValue("market")+"/account", http.StatusSeeOther)
		return
	}
	err = s.reauthenticated(r, who, func() error {
		return s.customers.ChangePassword(s.storefront(r), who.customer.ID, r.PostFormValue("current_password"), r.PostFormValue("new_password"))
	})
	if err == nil {
		_, err = s.startSession(w, r, who.customer, customer.SessionBrowser)
	}
	if err != nil {
		_, field, msg := s.formProblem(r, err)
		errs := map[string]string{"current_password": msg}
		if field == "password" || field == "new_password" {
			errs = map[string]string{"new_password": msg}
		}
		s.overviewWithErrors(w, r, who, err, errs)
		return
	}
	accountRedirect(w, r, "password")
}

// pageEmail changes the email address; the password is asked again.
func (s *Server) pageEmail(w http.ResponseWriter, r *http.Request) {
	who, err := s.signedIn(r)
	if err != nil {
		localRedirect(w, r, "/"+r.PathValue("market")+"/account", http.StatusSeeOther)
		return
	}
	if err := s.reauthenticated(r, who, func() error {
		return s.customers.ChangeEmail(s.storefront(r), who.customer.ID, r.PostFormValue("email_password"), r.PostFormValue("new_email"))
	}); err != nil {
		_, field, msg := s.formProblem(r, err)
		errs := map[string]string{"email_password": msg}
		if field == "email" || errors.Is(err, customer.ErrEmailTaken) {
			errs = map[string]string{"new_email": msg}
		}
		s.overviewWithErrors(w, r, who, err, errs)
		return
	}
	s.jobs.Notify()
	accountRedirect(w, r, "email")
}

// adoptCart gives the customer who just signed in the browser's cart of
// this market, merged into the cart they left on another device, and
// points the browser's cart cookie at the result.
func (s *Server) adoptCart(w http.ResponseWriter, r *http.Request, c customer.Customer) error {
	code := r.PathValue("market")
	guestID, guestToken, _ := cartCookie(r, code)
	id, token, err := s.cart.Adopt(r.Context(), c.ID, code, guestID, guestToken)
	if err != nil {
		return err
	}
	if id != "" && id != guestID {
		setCartCookie(w, r, code, id, token)
	}
	return nil
}

// storefront is r's context for the customer service's calls that send an
// account email: the email links to the pages of r's market and is
// written in their language (customer.Storefront).
func (s *Server) storefront(r *http.Request) context.Context {
	return customer.WithStorefront(r.Context(), customer.Storefront{Market: r.PathValue("market"), Lang: s.requestLang(r)})
}
