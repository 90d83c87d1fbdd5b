package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"mistore/internal/audit"

	"mistore/internal/ratelimit"
	"mistore/internal/staff"
)

// adminAuthRoutes registers the back office's sign-in and sign-out. They
// are open to anyone (a sign-in page must be), under limits of their own.
func (s *Server) adminAuthRoutes(a *adminRouter) {
	a.mux.HandleFunc("GET /admin/sign-in", s.adminSignInPage)
	a.mux.HandleFunc("POST /admin/sign-in", s.adminSignIn)
	a.mux.HandleFunc("POST /admin/sign-out", s.adminSignOut)
	a.mux.HandleFunc("GET /admin/sign-in/code", s.adminCodePage)
	a.mux.HandleFunc("POST /admin/sign-in/code", s.adminCode)
	a.api("GET /api/v1/admin/me", staff.PermViewReports, s.apiAdminMe, opDoc{
		summary: "Who the credentials belong to, with their role and permissions.", response: "AdminCaller",
	})
}

// adminSignInForm is the sign-in page's content.
type adminSignInForm struct {
	Email string
	Next  string
	Error string
}

func (s *Server) renderAdminSignIn(w http.ResponseWriter, r *http.Request, status int, f adminSignInForm) {
	s.renderAdmin(w, r, status, "admin_signin", "", "Sign in", f)
}

// adminNext is where to go after signing in: a back-office path from the
// form, anything else the dashboard.
func adminNext(next string) string {
	if !strings.HasPrefix(next, "/admin/") || strings.HasPrefix(next, "/admin/sign-") || strings.ContainsAny(next, "\\\r\n") {
		return "/admin/"
	}
	return next
}

func (s *Server) adminSignInPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if _, err := s.staffFromSession(r); err == nil {
		localRedirect(w, r, adminNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.renderAdminSignIn(w, r, http.StatusOK, adminSignInForm{Next: adminNext(r.URL.Query().Get("next"))})
}

// adminSignIn checks a member's email and password under the staff
// sign-in limits (per address, every attempt; per member, failures) and
// starts a back-office session.
func (s *Server) adminSignIn(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderAdminSignIn(w, r, http.StatusBadRequest, adminSignInForm{Error: "The form could not be read; please try again."})
		return
	}
	f := adminSignInForm{Email: strings.TrimSpace(r.PostForm.Get("email")), Next: adminNext(r.PostForm.Get("next"))}
	m, err := s.staffSignIn(r, f.Email, r.PostForm.Get("password"))
	if err != nil {
		status, body := classify(err)
		retryAfter(w, err)
		f.Error = body.Message
		if errors.Is(err, staff.ErrInvalidCredentials) {
			f.Error = "Wrong email address or password."
		} else if status >= 500 {
			s.log.ErrorContext(r.Context(), "staff sign-in", "err", err)
		}
		s.renderAdminSignIn(w, r, status, f)
		return
	}
	twoStep, err := s.staff.TwoStepOn(r.Context(), m.ID)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	if twoStep {
		// The password was right; the session waits for the code. The
		// failures counted against the account stay until the code is
		// right too, so that a stolen password buys few guesses.
		if err := s.staff.EndChallenge(r.Context(), challengeToken(r)); err != nil {
			s.adminFail(w, r, err)
			return
		}
		token, err := s.staff.NewChallenge(r.Context(), m.ID)
		if err != nil {
			s.adminFail(w, r, err)
			return
		}
		setAdminCookie(w, r, adminChallengeCookieTLS, adminChallengeCookiePlain, token, int(staff.ChallengeLifetime.Seconds()))
		localRedirect(w, r, "/admin/sign-in/code?next="+url.QueryEscape(f.Next), http.StatusSeeOther)
		return
	}
	s.resetSignInFailures(r, m.Email)
	s.startStaffSession(w, r, m.ID, f.Next)
}

// startStaffSession signs member id in (both steps done) and sends the
// browser on to next. A new session at every sign-in, and the one the
// browser came with ended, so a session planted before sign-in is worth
// nothing.
func (s *Server) startStaffSession(w http.ResponseWriter, r *http.Request, id int64, next string) {
	if old := adminToken(r); old != "" {
		if err := s.staff.EndSession(r.Context(), old); err != nil {
			s.adminFail(w, r, err)
			return
		}
	}
	token, err := s.staff.NewSession(r.Context(), id)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	setAdminCookie(w, r, adminCookieTLS, adminCookiePlain, token, int(staff.SessionLifetime.Seconds()))
	localRedirect(w, r, next, http.StatusSeeOther)
}

// setAdminCookie sets (maxAge > 0) or clears (maxAge < 0) a back-office
// cookie: named tlsName over HTTPS and plainName otherwise, HttpOnly and
// SameSite=Strict.
func setAdminCookie(w http.ResponseWriter, r *http.Request, tlsName, plainName, value string, maxAge int) {
	name := plainName
	if overTLS(r) {
		name = tlsName
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: overTLS(r), SameSite: http.SameSiteStrictMode})
}

// adminCookieValue returns the first of the named cookies a browser sends
// with a value.
func adminCookieValue(r *http.Request, names ...string) string {
	for _, name := range names {
		if c, err := r.Cookie(name); err == nil && c.Value != "" {
			return c.Value
		}
	}
	return ""
}

// Cookie of a sign-in waiting for its second step, on the same terms as
// the session's.
const (
	adminChallengeCookieTLS   = "__Host-mistore_admin_code"
	adminChallengeCookiePlain = "mistore_admin_code"
)

// challengeToken returns the second-step token a browser sends.
func challengeToken(r *http.Request) string {
	return adminCookieValue(r, adminChallengeCookieTLS, adminChallengeCookiePlain)
}

// adminCodeForm is the second step's page content.
type adminCodeForm struct {
	Next  string
	Error string
}

func (s *Server) renderAdminCode(w http.ResponseWriter, r *http.Request, status int, f adminCodeForm) {
	s.renderAdmin(w, r, status, "admin_signin_code", "", "Sign in: code", f)
}

// adminCodePage asks for the second step's code, when the browser holds a
// sign-in waiting for one; otherwise it sends it to the password form.
func (s *Server) adminCodePage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	next := adminNext(r.URL.Query().Get("next"))
	if _, err := s.staff.Challenge(r.Context(), challengeToken(r)); err != nil {
		if !errors.Is(err, staff.ErrNoChallenge) {
			s.adminFail(w, r, err)
			return
		}
		localRedirect(w, r, "/admin/sign-in?next="+url.QueryEscape(next), http.StatusSeeOther)
		return
	}
	s.renderAdminCode(w, r, http.StatusOK, adminCodeForm{Next: next})
}

// adminCode checks the second step's code under the sign-in limits: a
// wrong code counts as a failed sign-in of the account, and the fifth on
// one challenge ends it. The right one starts the session.
func (s *Server) adminCode(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if err := r.ParseForm(); err != nil {
		s.renderAdminCode(w, r, http.StatusBadRequest, adminCodeForm{Error: "The form could not be read; please try again."})
		return
	}
	f := adminCodeForm{Next: adminNext(r.PostForm.Get("next"))}
	token := challengeToken(r)
	m, err := s.staff.Challenge(r.Context(), token)
	if err == nil {
		err = s.underStaffLimits(r, m.Email, func() error {
			actor := audit.Actor{Kind: audit.KindStaff, ID: m.ID, Name: m.Email, IP: clientIP(r)}
			_, err := s.staff.PassChallenge(audit.WithActor(r.Context(), actor), token, r.PostForm.Get("code"))
			return err
		})
	}
	switch {
	case err == nil:
		setAdminCookie(w, r, adminChallengeCookieTLS, adminChallengeCookiePlain, "", -1)
		s.resetSignInFailures(r, m.Email)
		s.startStaffSession(w, r, m.ID, f.Next)
	case errors.Is(err, staff.ErrNoChallenge):
		setAdminCookie(w, r, adminChallengeCookieTLS, adminChallengeCookiePlain, "", -1)
		s.renderAdminSignIn(w, r, http.StatusUnauthorized, adminSignInForm{Next: f.Next,
			Error: "Your sign-in timed out or had too many wrong codes. Sign in again."})
	case errors.Is(err, staff.ErrWrongCode):
		f.Error = "That code is not right, or it was used already. Type the code your app shows now, or a recovery code."
		s.renderAdminCode(w, r, http.StatusUnauthorized, f)
	default:
		status, body := classify(err)
		if status >= 500 {
			s.adminFail(w, r, err)
			return
		}
		retryAfter(w, err)
		f.Error = body.Message
		s.renderAdminCode(w, r, status, f)
	}
}

// resetSignInFailures forgets the failed sign-ins counted against email,
// once someone signed in as its member.
func (s *Server) resetSignInFailures(r *http.Request, email string) {
	if s.limits == nil {
		return
	}
	if err := s.limits.Reset(r.Context(), ratelimit.StaffSignInPerAccount, staffAccount(email)); err != nil {
		s.log.WarnContext(r.Context(), "reset staff sign-in failures", "err", err)
	}
}

// staffSignIn is Authenticate under the staff sign-in limits. The caller
// forgets the account's failures once the member is fully signed in
// (resetSignInFailures).
func (s *Server) staffSignIn(r *http.Request, email, password string) (staff.Member, error) {
	if s.staff == nil {
		return staff.Member{}, staff.ErrInvalidCredentials
	}
	var m staff.Member
	err := s.underStaffLimits(r, email, func() (err error) {
		m, err = s.staff.Authenticate(r.Context(), email, password)
		return err
	})
	return m, err
}

// underStaffLimits runs check, a password or code check of the member
// with email, under the staff sign-in limits: every attempt from the
// address counts, the account's past failures may refuse it before it
// runs, and a wrong password or code counts as one more failure.
func (s *Server) underStaffLimits(r *http.Request, email string, check func() error) error {
	if err := s.limit(r, ratelimit.StaffSignInPerIP, clientIP(r)); err != nil {
		return err
	}
	account := staffAccount(email)
	if err := s.overLimit(r, ratelimit.StaffSignInPerAccount, account); err != nil {
		return err
	}
	err := check()
	if errors.Is(err, staff.ErrInvalidCredentials) || errors.Is(err, staff.ErrWrongCode) {
		s.countFailure(r, ratelimit.StaffSignInPerAccount, account)
	}
	return err
}

// staffAccount is the key the per-account limits count a member's email
// address under.
func staffAccount(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// adminSignOut ends the back-office session on the server and in the
// browser.
func (s *Server) adminSignOut(w http.ResponseWriter, r *http.Request) {
	if token := adminToken(r); token != "" && s.staff != nil {
		if err := s.staff.EndSession(r.Context(), token); err != nil {
			s.adminFail(w, r, err)
			return
		}
	}
	for _, name := range []string{adminCookieTLS, adminCookiePlain} {
		if _, err := r.Cookie(name); err == nil {
			http.SetCookie(w, &http.Cookie{Name: name, Path: "/", MaxAge: -1, HttpOnly: true,
				Secure: name == adminCookieTLS || overTLS(r), SameSite: http.SameSiteStrictMode})
		}
	}
	localRedirect(w, r, "/admin/sign-in", http.StatusSeeOther)
}

// adminCallerJSON is GET /api/v1/admin/me's body.
type adminCallerJSON struct {
	Kind        string             `json:"kind"`
	ID          int64              `json:"id"`
	Name        string             `json:"name"`
	Role        staff.Role         `json:"role"`
	Permissions []staff.Permission `json:"permissions"`
}

func (s *Server) apiAdminMe(w http.ResponseWriter, r *http.Request) {
	c := s.staffCaller(r)
	out := adminCallerJSON{Kind: string(c.Actor.Kind), ID: c.Actor.ID, Name: c.Name, Role: c.Role, Permissions: []staff.Permission{}}
	for _, row := range staff.Matrix() {
		if c.Can(row.Permission) {
			out.Permissions = append(out.Permissions, row.Permission)
		}
	}
	s.writeJSON(w, r, http.StatusOK, out)
}
