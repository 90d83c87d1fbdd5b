package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"mistore/internal/audit"
	"mistore/internal/staff"
)

// The back office: pages under /admin/ for staff in a browser, and the
// admin JSON API under /api/v1/admin/ for programs with an API key. Every
// route names the one permission it needs (internal/staff/role.go), and
// the guard below checks it before the handler runs, so a handler never
// sees a caller who may not use it.

// Back-office session cookie names. The back office has its own cookie,
// apart from the shoppers' session: a customer's session is never a staff
// credential, and the admin cookie is SameSite=Strict, since nothing from
// another site ever needs to land signed in on a back-office page.
const (
	adminCookieTLS   = "__Host-mistore_admin"
	adminCookiePlain = "mistore_admin"
	// adminFlashCookie carries a one-time message to the page after a
	// redirect ("Order US-100001 refunded.").
	adminFlashCookie = "mistore_admin_flash"
)

// Errors of the staff guard, mapped in adminErrors.
var (
	// errStaffSignInRequired: a back-office route was called with no
	// staff credentials, or with ones that are unknown, expired or
	// revoked.
	errStaffSignInRequired = errors.New("staff sign-in required")
	// errForbidden: the caller is staff but their role lacks the
	// route's permission.
	errForbidden = errors.New("forbidden")
	// errTwoStepDue: the shop requires two-step sign-in and the signed-in
	// member has not turned theirs on yet.
	errTwoStepDue = errors.New("two-step sign-in required")
)

// adminErrors maps the staff domain's outcomes and the guard's.
var adminErrors = []errorMapping{
	{errStaffSignInRequired, http.StatusUnauthorized, codeUnauthorized},
	{errForbidden, http.StatusForbidden, "forbidden"},
	{errTwoStepDue, http.StatusForbidden, "forbidden"},
	{staff.ErrNoSession, http.StatusUnauthorized, codeUnauthorized},
	{staff.ErrInvalidCredentials, http.StatusUnauthorized, codeInvalidCredentials},
	{staff.ErrEmailTaken, http.StatusConflict, codeEmailTaken},
	{staff.ErrLastOwner, http.StatusConflict, "last_owner"},
	{staff.ErrNotFound, http.StatusNotFound, codeNotFound},
	{staff.ErrInvalidRole, http.StatusUnprocessableEntity, "invalid_field"},
	{staff.ErrInvalidEmail, http.StatusUnprocessableEntity, "invalid_field"},
	{staff.ErrInvalidName, http.StatusUnprocessableEntity, "invalid_field"},
	{staff.ErrPasswordLength, http.StatusUnprocessableEntity, "invalid_field"},
	{staff.ErrWrongCode, http.StatusUnauthorized, codeInvalidCredentials},
	{staff.ErrNoChallenge, http.StatusUnauthorized, codeUnauthorized},
	{staff.ErrTwoStepOn, http.StatusConflict, codeInvalidState},
	{staff.ErrTwoStepNotSetUp, http.StatusConflict, codeInvalidState},
}

// staffCaller is who is using the back office: a signed-in member or an
// API key, with the role that says what they may do.
type staffCaller struct {
	Actor audit.Actor
	Role  staff.Role
	// Name is how pages greet the caller: a member's name, a key's name.
	Name string
	// MemberID is the member's id; 0 for an API key.
	MemberID int64
	// KeyID is the API key's id; 0 for a member.
	KeyID int64
	// token is the browser session's secret, for signing out.
	token string
	// twoStepDue: the shop requires two-step sign-in and this member has
	// not turned it on; only its setup is open to them.
	twoStepDue bool
}

// email is a member's email address, the name they have in the audit
// log. For an API key it is the key's name: only back-office pages, which
// admit members alone, ask for it.
func (c *staffCaller) email() string { return c.Actor.Name }

// Can reports whether the caller's role holds p.
func (c *staffCaller) Can(p staff.Permission) bool { return c != nil && c.Role.Can(p) }

type staffCallerKey struct{}

// staffCaller returns the caller the staff guard admitted; nil outside a
// guarded handler.
func (s *Server) staffCaller(r *http.Request) *staffCaller {
	c, _ := r.Context().Value(staffCallerKey{}).(*staffCaller)
	return c
}

// withStaffCaller returns r carrying c, as the caller and as the audit
// log's actor.
func withStaffCaller(r *http.Request, c *staffCaller) *http.Request {
	ctx := context.WithValue(r.Context(), staffCallerKey{}, c)
	return r.WithContext(audit.WithActor(ctx, c.Actor))
}

// adminToken returns the back-office session token a browser sends.
func adminToken(r *http.Request) string {
	return adminCookieValue(r, adminCookieTLS, adminCookiePlain)
}

// staffFromSession returns the member whose back-office session cookie r
// carries, or errStaffSignInRequired.
func (s *Server) staffFromSession(r *http.Request) (*staffCaller, error) {
	token := adminToken(r)
	if token == "" || s.staff == nil {
		return nil, errStaffSignInRequired
	}
	m, due, err := s.staff.SessionState(r.Context(), token)
	if errors.Is(err, staff.ErrNoSession) {
		return nil, errStaffSignInRequired
	}
	if err != nil {
		return nil, err
	}
	return &staffCaller{
		Actor: audit.Actor{Kind: audit.KindStaff, ID: m.ID, Name: m.Email, IP: clientIP(r)},
		Role:  m.Role, Name: m.Name, MemberID: m.ID, token: token, twoStepDue: due,
	}, nil
}

// staffFromRequest returns the API caller: an API key in Authorization:
// Bearer, or else a member's session cookie (the back-office pages' own
// scripts, and a member trying the API from the browser). A bearer that
// is not an API key, such as a customer's session token, is refused
// rather than looked up elsewhere.
func (s *Server) staffFromRequest(r *http.Request) (*staffCaller, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return s.staffFromSession(r)
	}
	scheme, key, _ := strings.Cut(h, " ")
	key = strings.TrimSpace(key)
	if !strings.EqualFold(scheme, "Bearer") || !strings.HasPrefix(key, staff.APIKeyPrefix) || s.staff == nil {
		return nil, errStaffSignInRequired
	}
	k, err := s.staff.APIKey(r.Context(), key)
	if errors.Is(err, staff.ErrNoSession) {
		return nil, errStaffSignInRequired
	}
	if err != nil {
		return nil, err
	}
	name := k.Name + " (" + k.Prefix + "…)"
	return &staffCaller{
		Actor: audit.Actor{Kind: audit.KindAPIKey, ID: k.ID, Name: name, IP: clientIP(r)},
		Role:  k.Role, Name: name, KeyID: k.ID,
	}, nil
}

// staffAPIGuard wraps an admin API handler: 401 without staff
// credentials, 403 without perm.
func (s *Server) staffAPIGuard(perm staff.Permission, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := s.staffFromRequest(r)
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		if c.twoStepDue {
			s.apiFail(w, r, errTwoStepDue)
			return
		}
		if !c.Can(perm) {
			s.apiFail(w, r, forbidden(c, perm))
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		h(w, withStaffCaller(r, c))
	}
}

// forbiddenError says which permission a role lacks.
type forbiddenError struct {
	role staff.Role
	perm staff.Permission
}

func (e *forbiddenError) Error() string {
	return "Your role (" + string(e.role) + ") does not allow this: it needs the " + string(e.perm) + " permission."
}

func (e *forbiddenError) Unwrap() error { return errForbidden }

func forbidden(c *staffCaller, perm staff.Permission) error {
	return &forbiddenError{role: c.Role, perm: perm}
}

// staffPageGuard wraps a back-office page: a browser without a staff
// session is sent to sign in (a GET comes back afterwards), and a role
// without perm gets a 403 page. Pages take the session cookie only, never
// an API key.
func (s *Server) staffPageGuard(perm staff.Permission, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Robots-Tag", "noindex, nofollow")
		c, err := s.staffFromSession(r)
		if errors.Is(err, errStaffSignInRequired) {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/admin/sign-in?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.renderAdminSignIn(w, r, http.StatusUnauthorized, adminSignInForm{Error: "Your session has ended. Sign in again, then repeat what you were doing."})
			return
		}
		if err != nil {
			s.adminFail(w, r, err)
			return
		}
		if c.twoStepDue && !twoStepSetupPath(r.URL.Path) {
			r = withStaffCaller(r, c)
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				s.adminRedirect(w, r, "/admin/account", "The shop requires two-step sign-in: set yours up to go on.")
				return
			}
			s.adminFail(w, r, errTwoStepDue)
			return
		}
		if !c.Can(perm) {
			r = withStaffCaller(r, c)
			s.adminFail(w, r, forbidden(c, perm))
			return
		}
		h(w, withStaffCaller(r, c))
	}
}

// twoStepSetupPath reports whether path is the member's account page or
// one of its forms (two-step setup, password): all a member may open
// while the shop requires two-step sign-in and theirs is off.
func twoStepSetupPath(path string) bool {
	return path == "/admin/account" || strings.HasPrefix(path, "/admin/account/")
}

// adminRouter registers the back office's routes: pages on the mux, API
// operations through the documented API router.
type adminRouter struct {
	s   *Server
	mux *recordingMux
	doc *apiRouter
}

// api registers an admin API operation needing perm. The pattern must be
// under /api/v1/admin/.
func (a *adminRouter) api(pattern string, perm staff.Permission, h http.HandlerFunc, op opDoc) {
	op.perm = perm
	if op.tag == "" {
		op.tag = "admin"
	}
	a.doc.handle(pattern, h, op)
}

// page registers a back-office page needing perm. The pattern must be
// under /admin/.
func (a *adminRouter) page(pattern string, perm staff.Permission, h http.HandlerFunc) {
	_, path, _ := strings.Cut(pattern, " ")
	if !strings.HasPrefix(path, "/admin/") {
		a.s.log.Error("back-office page outside /admin/: not served", "route", pattern)
		return
	}
	a.mux.HandleFunc(pattern, a.s.staffPageGuard(perm, h))
}

// adminRoutes registers the whole back office.
func (s *Server) adminRoutes(mux *recordingMux, api *apiRouter) {
	if s.staff == nil {
		return
	}
	a := &adminRouter{s: s, mux: mux, doc: api}
	s.adminAuthRoutes(a)
	s.adminStaffRoutes(a)
	s.adminAccountRoutes(a)
	s.adminAuditRoutes(a)
	s.adminOrderRoutes(a)
	s.adminCatalogRoutes(a)
	s.adminShopRoutes(a)
	s.adminDashboardRoutes(a)
	// Anything else under /admin/ is a back-office 404, shown only to
	// staff: the unsigned see the sign-in page, so the back office's map
	// is not there to probe.
	mux.HandleFunc("/admin/", s.staffPageGuard(staff.PermViewReports, func(w http.ResponseWriter, r *http.Request) {
		s.renderAdmin(w, r, http.StatusNotFound, "admin_error", "", "Not found",
			adminErrorContent{Status: http.StatusNotFound, Message: "There is no back-office page at this address."})
	}))
}

// adminPage is what every back-office template gets.
type adminPage struct {
	Title   string
	Section string
	Caller  *staffCaller
	Flash   string
	// Demo: the store runs with demo data (the outbox link shows).
	Demo      bool
	RequestID string
	Content   any
}

// renderAdmin renders a back-office page: template tmpl (a file
// templates/tmpl.html defining "content") inside the admin layout.
// section names the navigation entry to highlight.
func (s *Server) renderAdmin(w http.ResponseWriter, r *http.Request, status int, tmpl, section, title string, content any) {
	data := &adminPage{Title: title, Section: section, Caller: s.staffCaller(r), Demo: s.outboxOn(), Content: content}
	if c, err := r.Cookie(adminFlashCookie); err == nil {
		if msg, err := url.QueryUnescape(c.Value); err == nil {
			data.Flash = msg
		}
		http.SetCookie(w, &http.Cookie{Name: adminFlashCookie, Path: "/admin/", MaxAge: -1, HttpOnly: true, Secure: overTLS(r), SameSite: http.SameSiteStrictMode})
	}
	data.RequestID = requestID(r.Context())
	if !strings.HasPrefix(tmpl, "admin_") {
		// A storefront template would render in the shop's layout.
		s.log.ErrorContext(r.Context(), "no such back-office template", "template", tmpl)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	buf := s.execute(w, r, tmpl, data, data.RequestID)
	if buf == nil {
		return
	}
	defer s.pages.bufs.Put(buf)
	w.Header().Set("X-Robots-Tag", "noindex, nofollow")
	s.writeHTML(w, r, status, "no-store", buf.Bytes())
}

// adminRedirect answers a successful back-office POST: 303 to path (a
// back-office path), with flash shown once on the page it lands on.
func (s *Server) adminRedirect(w http.ResponseWriter, r *http.Request, path, flash string) {
	if flash != "" {
		http.SetCookie(w, &http.Cookie{Name: adminFlashCookie, Value: url.QueryEscape(flash), Path: "/admin/", MaxAge: 60,
			HttpOnly: true, Secure: overTLS(r), SameSite: http.SameSiteStrictMode})
	}
	if !strings.HasPrefix(path, "/admin/") {
		path = "/admin/"
	}
	localRedirect(w, r, path, http.StatusSeeOther)
}

// adminErrorContent is the error page's content.
type adminErrorContent struct {
	Status  int
	Message string
}

// adminFail shows err as a back-office error page with the status the
// error table gives it; internal errors are logged and shown as such.
func (s *Server) adminFail(w http.ResponseWriter, r *http.Request, err error) {
	status, body := classify(err)
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "admin page error", "path", r.URL.Path, "err", err)
	}
	retryAfter(w, err)
	title := http.StatusText(status)
	s.renderAdmin(w, r, status, "admin_error", "", title, adminErrorContent{Status: status, Message: body.Message})
}
