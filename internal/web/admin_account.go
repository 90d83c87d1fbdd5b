package web

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"mistore/internal/staff"
)

// adminAccountRoutes registers a member's own account page: two-step
// sign-in and its recovery codes. Every signed-in member may use it for
// themselves; turning another member's off is an owner's (adminStaff).
func (s *Server) adminAccountRoutes(a *adminRouter) {
	a.page("GET /admin/account", staff.PermViewReports, s.adminAccountPage)
	a.page("POST /admin/account/two-step", staff.PermViewReports, s.adminTwoStepStart)
	a.page("POST /admin/account/two-step/confirm", staff.PermViewReports, s.adminTwoStepConfirm)
	a.page("POST /admin/account/two-step/cancel", staff.PermViewReports, s.adminTwoStepCancel)
	a.page("POST /admin/account/two-step/off", staff.PermViewReports, s.adminTwoStepOff)
	a.page("POST /admin/account/recovery-codes", staff.PermViewReports, s.adminRecoveryCodes)
	a.page("POST /admin/account/password", staff.PermViewReports, s.adminChangePassword)
	a.page("POST /admin/account/sessions/end-others", staff.PermViewReports, s.adminEndOtherSessions)
	a.page("POST /admin/staff/{id}/two-step/reset", staff.PermManageStaff, s.adminTwoStepReset)
	a.page("POST /admin/staff/two-step-policy", staff.PermManageStaff, s.adminTwoStepPolicy)
}

// adminTwoStepPolicy makes two-step sign-in required of every member
// (require=on) or each member's choice (require=off).
func (s *Server) adminTwoStepPolicy(w http.ResponseWriter, r *http.Request) {
	var on bool
	switch r.PostFormValue("require") {
	case "on":
		on = true
	case "off":
	default:
		s.adminFormFail(w, r, badParam("require", "require must be on or off."), "/admin/staff")
		return
	}
	if err := s.staff.SetTwoStepRequired(r.Context(), on); err != nil {
		s.adminFormFail(w, r, err, "/admin/staff")
		return
	}
	if on {
		s.adminRedirect(w, r, "/admin/staff", "Two-step sign-in is now required: members without it are asked to set it up at their next step in the back office.")
		return
	}
	s.adminRedirect(w, r, "/admin/staff", "Two-step sign-in is each member's choice again.")
}

// adminAccountContent is the account page's content.
type adminAccountContent struct {
	Email   string
	TwoStep staff.TwoStepState
	// KeyGroups is the key being set up in groups of four, easier to type.
	KeyGroups string
	// SetupURI is the key's otpauth: link. html/template would refuse
	// the scheme; the store builds the link from the key and its host.
	SetupURI template.URL
	// SetupQR is that link as a QR code (inline SVG), for a phone's
	// authenticator app to scan.
	SetupQR template.HTML
	// RecoveryCodes are new codes, shown this once.
	RecoveryCodes []string
	// Due: the shop requires two-step sign-in and this member's is off.
	Due bool
	// Sessions are the member's live sessions, this one marked.
	Sessions []staff.SessionInfo
	Error    string
}

// issuer is the name authenticator apps show for this store's keys: the
// store's host, so that a member of two stores can tell their codes apart.
func (s *Server) issuer(r *http.Request) string {
	host := r.Host
	if u, err := url.Parse(s.publicURL); err == nil && u.Host != "" {
		host = u.Host
	}
	return "Mistore " + host
}

func (s *Server) adminAccountPage(w http.ResponseWriter, r *http.Request) {
	s.renderStaffAccount(w, r, http.StatusOK, adminAccountContent{})
}

// renderStaffAccount shows the account page with c, its two-step state read
// afresh.
func (s *Server) renderStaffAccount(w http.ResponseWriter, r *http.Request, status int, c adminAccountContent) {
	caller := s.staffCaller(r)
	c.Email, c.Due = caller.email(), caller.twoStepDue
	var err error
	if c.TwoStep, err = s.staff.TwoStep(r.Context(), caller.MemberID, s.issuer(r)); err != nil {
		s.adminFail(w, r, err)
		return
	}
	if c.Sessions, err = s.staff.Sessions(r.Context(), caller.MemberID, caller.token); err != nil {
		s.adminFail(w, r, err)
		return
	}
	if st := c.TwoStep.Setup; st != nil {
		var groups []string
		for k := st.Key; k != ""; {
			n := min(4, len(k))
			groups, k = append(groups, k[:n]), k[n:]
		}
		c.KeyGroups = strings.Join(groups, " ")
		c.SetupURI = template.URL(st.URI)
		if c.SetupQR, err = qrSVG(st.URI, "QR code of the key, for an authenticator app to scan"); err != nil {
			s.adminFail(w, r, err)
			return
		}
	}
	s.renderAdmin(w, r, status, "admin_account", "account", "Your account", c)
}

func (s *Server) adminTwoStepStart(w http.ResponseWriter, r *http.Request) {
	if _, err := s.staff.SetUpTwoStep(r.Context(), s.staffCaller(r).MemberID, s.issuer(r)); err != nil {
		s.adminFormFail(w, r, err, "/admin/account")
		return
	}
	localRedirect(w, r, "/admin/account", http.StatusSeeOther)
}

func (s *Server) adminTwoStepConfirm(w http.ResponseWriter, r *http.Request) {
	codes, err := s.staff.ConfirmTwoStep(r.Context(), s.staffCaller(r).MemberID, r.PostFormValue("code"))
	switch {
	case errors.Is(err, staff.ErrWrongCode):
		s.renderStaffAccount(w, r, http.StatusUnprocessableEntity, adminAccountContent{
			Error: "That code does not match the key. Check that your app added the key above, then type the code it shows now."})
	case err != nil:
		s.adminFormFail(w, r, err, "/admin/account")
	default:
		s.renderStaffAccount(w, r, http.StatusOK, adminAccountContent{RecoveryCodes: codes})
	}
}

func (s *Server) adminTwoStepCancel(w http.ResponseWriter, r *http.Request) {
	if err := s.staff.CancelTwoStepSetup(r.Context(), s.staffCaller(r).MemberID); err != nil {
		s.adminFormFail(w, r, err, "/admin/account")
		return
	}
	s.adminRedirect(w, r, "/admin/account", "Two-step sign-in was not turned on.")
}

// reauthenticate checks, for a change to the member's own sign-in, their
// password and a code: a session left open on a shared computer must not
// be enough to take the second step away.
func (s *Server) reauthenticate(r *http.Request) error {
	c := s.staffCaller(r)
	return s.underStaffLimits(r, c.email(), func() error {
		if _, err := s.staff.Authenticate(r.Context(), c.email(), r.PostFormValue("password")); err != nil {
			return err
		}
		return s.staff.CheckCode(r.Context(), c.MemberID, r.PostFormValue("code"))
	})
}

func (s *Server) adminTwoStepOff(w http.ResponseWriter, r *http.Request) {
	err := s.reauthenticate(r)
	if err == nil {
		err = s.staff.TurnOffTwoStep(r.Context(), s.staffCaller(r).MemberID, "staff.two_step_off")
	}
	if err != nil {
		s.accountRefused(w, r, err)
		return
	}
	s.adminRedirect(w, r, "/admin/account", "Two-step sign-in is off. Your password alone now signs you in.")
}

func (s *Server) adminRecoveryCodes(w http.ResponseWriter, r *http.Request) {
	err := s.reauthenticate(r)
	var codes []string
	if err == nil {
		codes, err = s.staff.NewRecoveryCodes(r.Context(), s.staffCaller(r).MemberID)
	}
	if err != nil {
		s.accountRefused(w, r, err)
		return
	}
	s.renderStaffAccount(w, r, http.StatusOK, adminAccountContent{RecoveryCodes: codes})
}

// accountRefused shows the account page again with why a change to the
// member's sign-in was refused.
func (s *Server) accountRefused(w http.ResponseWriter, r *http.Request, err error) {
	status, body := classify(err)
	switch {
	case errors.Is(err, staff.ErrInvalidCredentials), errors.Is(err, staff.ErrWrongCode):
		s.renderStaffAccount(w, r, http.StatusUnauthorized, adminAccountContent{Error: "The password or the code is not right. Nothing was changed."})
	case status >= 500:
		s.adminFail(w, r, err)
	default:
		retryAfter(w, err)
		s.renderStaffAccount(w, r, status, adminAccountContent{Error: body.Message})
	}
}

// adminChangePassword changes the member's password, given the current
// one under the sign-in limits (a wrong one counts as a failed sign-in),
// and ends their other sessions.
func (s *Server) adminChangePassword(w http.ResponseWriter, r *http.Request) {
	c := s.staffCaller(r)
	err := s.underStaffLimits(r, c.email(), func() error {
		return s.staff.ChangePassword(r.Context(), c.MemberID, r.PostFormValue("current_password"), r.PostFormValue("new_password"), c.token)
	})
	switch {
	case err == nil:
		s.adminRedirect(w, r, "/admin/account", "Password changed. Your other sessions have ended.")
	case errors.Is(err, staff.ErrInvalidCredentials):
		s.renderStaffAccount(w, r, http.StatusUnauthorized, adminAccountContent{Error: "Your current password is not right. Nothing was changed."})
	case errors.Is(err, staff.ErrPasswordLength):
		s.renderStaffAccount(w, r, http.StatusUnprocessableEntity, adminAccountContent{
			Error: fmt.Sprintf("The new password must be %d to %d characters. Nothing was changed.", staff.MinPasswordLen, staff.MaxPasswordLen)})
	default:
		s.accountRefused(w, r, err)
	}
}

// adminEndOtherSessions signs the member out everywhere but here.
func (s *Server) adminEndOtherSessions(w http.ResponseWriter, r *http.Request) {
	c := s.staffCaller(r)
	n, err := s.staff.EndOtherSessions(r.Context(), c.MemberID, c.token)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	msg := "You were signed in nowhere else."
	switch {
	case n == 1:
		msg = "Signed out of 1 other session."
	case n > 1:
		msg = fmt.Sprintf("Signed out of %d other sessions.", n)
	}
	s.adminRedirect(w, r, "/admin/account", msg)
}

// adminTwoStepReset turns another member's two-step sign-in off, for one
// who lost both their phone and their recovery codes. A member's own goes
// through their account page, which asks for their password and a code.
func (s *Server) adminTwoStepReset(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil && id == s.staffCaller(r).MemberID {
		s.adminRedirect(w, r, "/admin/account", "Turn your own two-step sign-in off here, with your password and a code.")
		return
	}
	if err == nil {
		err = s.staff.TurnOffTwoStep(r.Context(), id, "staff.two_step_reset")
	}
	if err != nil {
		s.adminFormFail(w, r, err, "/admin/staff")
		return
	}
	s.adminRedirect(w, r, "/admin/staff", "Two-step sign-in turned off for that member; they sign in with their password alone until they turn it on again.")
}
