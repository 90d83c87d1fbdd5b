package web

import (
	"errors"
	"net/http"
	"strings"

	"mistore/internal/ratelimit"
	"mistore/internal/staff"
)

// adminAuthRoutes registers the back office's sign-in and sign-out. They
// are open to anyone (a sign-in page must be), under limits of their own.
func (s *Server) adminAuthRoutes(a *adminRouter) {
	a.mux.HandleFunc("GET /admin/sign-in", s.adminSignInPage)
	a.mux.HandleFunc("POST /admin/sign-in", s.adminSignIn)
	a.mux.HandleFunc("POST /admin/sign-out", s.adminSignOut)
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
	// A new session at every sign-in, and the one the browser came with
	// ended, so a session planted before sign-in is worth nothing.
	if old := adminToken(r); old != "" {
		if err := s.staff.EndSession(r.Context(), old); err != nil {
			s.adminFail(w, r, err)
			return
		}
	}
	token, err := s.staff.NewSession(r.Context(), m.ID)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	name := adminCookiePlain
	if overTLS(r) {
		name = adminCookieTLS
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: token, Path: "/", MaxAge: int(staff.SessionLifetime.Seconds()),
		HttpOnly: true, Secure: overTLS(r), SameSite: http.SameSiteStrictMode})
	localRedirect(w, r, f.Next, http.StatusSeeOther)
}

// staffSignIn is Authenticate under the staff sign-in limits.
func (s *Server) staffSignIn(r *http.Request, email, password string) (staff.Member, error) {
	if s.staff == nil {
		return staff.Member{}, staff.ErrInvalidCredentials
	}
	if err := s.limit(r, ratelimit.StaffSignInPerIP, clientIP(r)); err != nil {
		return staff.Member{}, err
	}
	account := strings.ToLower(strings.TrimSpace(email))
	if err := s.overLimit(r, ratelimit.StaffSignInPerAccount, account); err != nil {
		return staff.Member{}, err
	}
	m, err := s.staff.Authenticate(r.Context(), email, password)
	if errors.Is(err, staff.ErrInvalidCredentials) {
		s.countFailure(r, ratelimit.StaffSignInPerAccount, account)
		return staff.Member{}, err
	}
	if err != nil {
		return staff.Member{}, err
	}
	if s.limits != nil {
		if err := s.limits.Reset(r.Context(), ratelimit.StaffSignInPerAccount, account); err != nil {
			s.log.WarnContext(r.Context(), "reset staff sign-in failures", "err", err)
		}
	}
	return m, nil
}

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
