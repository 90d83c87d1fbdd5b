package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"mistore/internal/inventory"
	"mistore/internal/notify"
	"mistore/internal/ratelimit"
	"mistore/internal/waitlist"
)

// The waitlist on the storefront and in the public API: the "tell me
// when it's available" form of a product page (waitlist_page.go), its
// sign-up answer, and the pages the emails' links open. The back office's
// demand report is admin_waitlist.go.

// waitlistSignUpPerIP counts waitlist sign-ups from one IP address, of
// any address and product. Each may send a confirmation email, so one
// address must not be able to mail a list of strangers; thirty an hour
// leaves room for a household or an office asking for several products.
var waitlistSignUpPerIP = ratelimit.Rule{Name: "waitlist_ip", Limit: 30, Window: time.Hour}

// Error codes of the waitlist.
const (
	// codeAvailableNow: the product can be bought in the market; there
	// is nothing to wait for.
	codeAvailableNow = "available_now"
)

// waitlistErrors maps the waitlist's outcomes (ErrInvalidEmail comes as
// a field error: 422 invalid_field on email).
var waitlistErrors = []errorMapping{
	{waitlist.ErrAvailable, http.StatusConflict, codeAvailableNow},
	{waitlist.ErrInvalidToken, http.StatusNotFound, codeInvalidToken},
}

// waitlistRoute is the sign-up's API route; it is public.
const waitlistRoute = "POST /api/v1/markets/{market}/products/{slug}/waitlist"

// waitlistRoutes registers the sign-up (API and form), the pages of the
// emails' links and, with a back office, the demand report.
func (s *Server) waitlistRoutes(mux *recordingMux, store *http.ServeMux, api *apiRouter) {
	if s.waitlist == nil {
		mailer := s.mailer
		if mailer == nil {
			mailer = notify.NewMailer(s.db, nil, "", s.log)
		}
		s.waitlist = waitlist.NewService(s.db, s.catalog, mailer, waitlist.Options{
			Now: s.catalog.Now, Stock: inventory.NewService(s.db), PublicURL: s.publicURL, Log: s.log, Locales: s.locales})
	}
	api.handle(waitlistRoute, s.apiWaitlistJoin, opDoc{
		summary: "Ask to be emailed once when a product that is not sold, coming soon or out of stock in the market can be bought there. " +
			"Double opt-in: the address gets a link to confirm (at most one such email an hour). The answer is 202 whether the address " +
			"was on the list or not, so it tells nobody who is. 409 available_now when the product can be bought now, 404 for an unknown " +
			"product, 422 invalid_field for an address that is not one, 429 rate_limited past 30 sign-ups an hour from one IP address.",
		tag: "waitlist", response: "WaitlistAccepted", status: http.StatusAccepted, request: "WaitlistRequest",
		params: []paramDoc{marketParam, slugParam},
	})
	store.HandleFunc("POST /{market}/products/{slug}/waitlist", s.pageWaitlistJoin)
	store.HandleFunc("GET /{market}/waitlist/sent", s.pageWaitlistSent)
	store.HandleFunc("GET /{market}/waitlist/confirm", s.pageWaitlistConfirm)
	store.HandleFunc("POST /{market}/waitlist/confirm", s.pageWaitlistConfirm)
	store.HandleFunc("GET /{market}/waitlist/unsubscribe", s.pageWaitlistUnsubscribe)
	store.HandleFunc("POST /{market}/waitlist/unsubscribe", s.pageWaitlistUnsubscribe)
	if s.staff != nil {
		s.adminWaitlistRoutes(&adminRouter{s: s, mux: mux, doc: api})
	}
}

// waitlistRequest is the sign-up's body.
type waitlistRequest struct {
	Email string `json:"email"`
}

// waitlistAccepted is the answer to every accepted sign-up, the same
// whether the address was new, waiting or confirmed.
type waitlistAccepted struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// waitlistAcceptedText is what a shopper is told after signing up.
const waitlistAcceptedText = "Thank you. Unless this address is on the list already, we have sent it a link: open it to confirm, and we will email you once when the product is available."

// waitlistJoin counts the sign-up against the caller's address and
// signs email up.
func (s *Server) waitlistJoin(r *http.Request, market, slug, email string) error {
	if _, err := waitlist.CheckEmail(email); err != nil {
		return err
	}
	if err := s.limit(r, waitlistSignUpPerIP, clientIP(r)); err != nil {
		return err
	}
	res, err := s.waitlist.Join(r.Context(), market, slug, email)
	if err != nil {
		return err
	}
	if res.Mailed {
		s.jobs.Notify()
	}
	return nil
}

func (s *Server) apiWaitlistJoin(w http.ResponseWriter, r *http.Request) {
	var req waitlistRequest
	if err := decodeJSON(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	if err := s.waitlistJoin(r, r.PathValue("market"), r.PathValue("slug"), req.Email); err != nil {
		s.apiFail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.writeJSON(w, r, http.StatusAccepted, waitlistAccepted{Status: "accepted", Message: waitlistAcceptedText})
}

// maxWaitlistForm bounds the sign-up and link forms' bodies.
const maxWaitlistForm = 4 << 10

// waitlistContent is the waitlist page: the answer to the form, or what
// a confirmation or unsubscribe link opens.
type waitlistContent struct {
	// Step is "sent", "form" (the sign-up refused, shown again with its
	// error), "confirm", "confirmed", "unsubscribe", "unsubscribed" or
	// "invalid".
	Step    string
	Product string
	Slug    string
	Place   string
	// Email and Error refill a refused sign-up form; Error is in the
	// page's language.
	Email string
	Error string
	// Token is the link's token, posted back by the page's button.
	Token  string
	Action string
}

// renderWaitlist shows the waitlist page: never cached, never indexed.
// title is English, translated here.
func (s *Server) renderWaitlist(w http.ResponseWriter, r *http.Request, status int, title string, c waitlistContent) {
	// The waitlist's pages answer a link or a form: the market links go
	// to the markets' homes, and the language switch comes back to the
	// page's own address when it has one (a GET's), else the home.
	p, err := s.newPage(r, r.PathValue("market"), "/")
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	p.Canonical = ""
	if c.Place == "" {
		c.Place = p.Market.Place()
	}
	if c.Slug != "" && p.Lang.Texts != "" {
		// The product as the shop wrote it in the page's language.
		if v, err := s.catalog.Product(r.Context(), p.Market.Code, c.Slug); err == nil {
			c.Product = v.In(p.Lang.Texts).Name
		}
	}
	p.Title, p.NoIndex, p.Private, p.Content = p.Lang.T(title), true, true, c
	s.render(w, r, status, "waitlist", "", p)
}

func (s *Server) pageWaitlistJoin(w http.ResponseWriter, r *http.Request) {
	market, slug := r.PathValue("market"), r.PathValue("slug")
	v, err := s.catalog.Product(r.Context(), market, slug)
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxWaitlistForm)
	if err := r.ParseForm(); err != nil {
		s.renderWaitlist(w, r, http.StatusBadRequest, "Tell me when it's available",
			waitlistContent{Step: "form", Product: v.Name, Slug: slug, Error: s.requestLang(r).T("The form could not be read; please try again.")})
		return
	}
	email := r.PostForm.Get("email")
	err = s.waitlistJoin(r, market, slug, email)
	switch {
	case err == nil:
		localRedirect(w, r, "/"+market+"/waitlist/sent?product="+url.QueryEscape(slug), http.StatusSeeOther)
	case errors.Is(err, waitlist.ErrAvailable):
		// It came while the page was open: the product page sells it.
		localRedirect(w, r, "/"+market+"/products/"+url.PathEscape(slug), http.StatusSeeOther)
	default:
		status, _ := classify(err)
		if status >= http.StatusInternalServerError || status == http.StatusNotFound {
			s.pageFail(w, r, err)
			return
		}
		retryAfter(w, err)
		if len(email) > waitlist.MaxEmailLen {
			email = ""
		}
		s.renderWaitlist(w, r, status, "Tell me when it's available",
			waitlistContent{Step: "form", Product: v.Name, Slug: slug, Email: email, Error: pageErrorText(s.requestLang(r), err),
				Action: "/" + market + "/products/" + slug + "/waitlist"})
	}
}

func (s *Server) pageWaitlistSent(w http.ResponseWriter, r *http.Request) {
	c := waitlistContent{Step: "sent"}
	if slug := r.URL.Query().Get("product"); slug != "" {
		if v, err := s.catalog.Product(r.Context(), r.PathValue("market"), slug); err == nil {
			c.Product, c.Slug = v.Name, v.Slug
		}
	}
	s.renderWaitlist(w, r, http.StatusOK, "Check your inbox", c)
}

// linkToken is the token of a link page: in the query string of the
// link, in the form of the page's button.
func linkToken(w http.ResponseWriter, r *http.Request) string {
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxWaitlistForm)
		if err := r.ParseForm(); err != nil {
			return ""
		}
		return r.PostForm.Get("t")
	}
	return r.URL.Query().Get("t")
}

// pageWaitlistConfirm shows a confirmation link's page (GET) and
// confirms it when its button is pressed (POST): a link scanner that
// fetches every link in a mailbox confirms nothing.
func (s *Server) pageWaitlistConfirm(w http.ResponseWriter, r *http.Request) {
	token := linkToken(w, r)
	check, step, title := s.waitlist.CheckConfirm, "confirm", "Confirm your waitlist request"
	if r.Method == http.MethodPost {
		check, step, title = s.waitlist.Confirm, "confirmed", "You are on the list"
	}
	s.waitlistLinkPage(w, r, token, check, step, title, "/"+r.PathValue("market")+"/waitlist/confirm")
}

// pageWaitlistUnsubscribe is the unsubscribe link's page: it works
// without signing in, and only the button (POST) takes the address off.
// A POST may carry the token in the link itself instead of the form: that
// is the one-click unsubscribing a mail client does with the email's
// List-Unsubscribe header (RFC 8058), whose body is only
// "List-Unsubscribe=One-Click". A GET, which link scanners make, still
// changes nothing.
func (s *Server) pageWaitlistUnsubscribe(w http.ResponseWriter, r *http.Request) {
	token := linkToken(w, r)
	if token == "" && r.Method == http.MethodPost {
		token = r.URL.Query().Get("t")
	}
	check, step, title := s.waitlist.CheckUnsubscribe, "unsubscribe", "Leave the waitlist"
	if r.Method == http.MethodPost {
		check, step, title = s.waitlist.Unsubscribe, "unsubscribed", "You are off the list"
	}
	s.waitlistLinkPage(w, r, token, check, step, title, "/"+r.PathValue("market")+"/waitlist/unsubscribe")
}

func (s *Server) waitlistLinkPage(w http.ResponseWriter, r *http.Request, token string,
	open func(ctx context.Context, token string) (*waitlist.Entry, error), step, title, action string) {
	e, err := open(r.Context(), token)
	if errors.Is(err, waitlist.ErrInvalidToken) {
		s.renderWaitlist(w, r, http.StatusNotFound, "This link does not work", waitlistContent{Step: "invalid"})
		return
	}
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	c := waitlistContent{Step: step, Product: e.ProductName, Slug: e.ProductSlug, Token: token, Action: action}
	if set, err := s.catalog.Markets(r.Context()); err == nil {
		if m, err := set.Get(e.Market); err == nil {
			c.Place = m.Place()
		}
	}
	s.renderWaitlist(w, r, http.StatusOK, title, c)
}

// waitlistSchemas are the OpenAPI schemas of the waitlist's bodies, the
// storefront's and the back office's.
func waitlistSchemas() map[string]any {
	str, integer, ts := schemaString, schemaInteger, schemaTime
	row := schemaObject([]string{"product", "name", "market", "confirmed", "unconfirmed", "notified", "unsubscribed"}, map[string]any{
		"product": map[string]any{"type": "string", "description": "Product slug."}, "name": str, "market": str,
		"confirmed":    map[string]any{"type": "integer", "description": "Entries waiting whose address confirmed."},
		"unconfirmed":  map[string]any{"type": "integer", "description": "Entries waiting whose address has not confirmed yet."},
		"notified":     map[string]any{"type": "integer", "description": "Entries told the product became available."},
		"unsubscribed": map[string]any{"type": "integer", "description": "Entries that left the list."},
	})
	return map[string]any{
		"WaitlistRequest": schemaObject([]string{"email"}, map[string]any{"email": map[string]any{"type": "string", "format": "email"}}),
		"WaitlistAccepted": schemaObject([]string{"status", "message"}, map[string]any{
			"status": map[string]any{"type": "string", "enum": []string{"accepted"}}, "message": str,
		}),
		"WaitlistDemand": schemaObject([]string{"products", "weeks", "confirmed", "unconfirmed"}, map[string]any{
			"market":   map[string]any{"type": "string", "description": "The market the report is limited to; absent: every market."},
			"products": schemaArray(row),
			"weeks": schemaArray(schemaObject([]string{"start", "entries", "confirmed"}, map[string]any{
				"start": ts, "entries": map[string]any{"type": "integer", "description": "Entries created that week (Monday to Sunday, UTC)."},
				"confirmed": map[string]any{"type": "integer", "description": "Of them, those confirmed since."},
			})),
			"confirmed": integer, "unconfirmed": integer,
		}),
	}
}
