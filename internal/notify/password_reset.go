package notify

import (
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/mail"
	"strings"
	"sync"
	"time"

	"mistore/internal/locale"
)

// Kinds of account email.
const (
	KindPasswordReset     = "password_reset"
	KindEmailVerification = "email_verification"
	KindAccountChanged    = "account_changed"
	KindStaffSecurity     = "staff_security"
)

// AccountEmail is what an email about a customer account needs: a password
// reset link, an address to confirm, or a notice that something changed.
// It is notify's own type, filled by the customer package, so that notify
// needs nothing from it.
type AccountEmail struct {
	// To is the address the email goes to.
	To string
	// Name is the customer's name for the greeting; empty greets without
	// one.
	Name string
	// URL is the absolute link the email offers. A reset or verification
	// link carries its one-time token and is required; a change notice
	// may offer one (where to go if the change was not theirs) or not.
	URL string
	// ValidFor is how long the link works, said in the email so that a
	// customer who finds it late knows to ask again.
	ValidFor time.Duration
	// At is when the change happened, for a change notice.
	At time.Time
	// ID tells this email apart from every other of its kind in the
	// outbox. It must not be the link's token, since the outbox key is
	// stored and logged in the clear: the token's SHA-256 will do.
	ID string
	// Lang is the language the email is written in: the one of the store
	// the customer was using when they asked for it. nil is English, and
	// a back-office email (StaffSecurity) is always English.
	Lang *locale.Lang
}

// AccountChange is what changed on an account, for AccountChanged.
type AccountChange string

// The changes a customer is told about.
const (
	PasswordChanged AccountChange = "password"
	EmailChanged    AccountChange = "email"
)

// accountTemplates are the account emails' bodies: each file holds one
// named template per kind of email, parsed on first use.
var accountTemplates = sync.OnceValues(func() (*Bodies, error) {
	return parseBodiesFS("password_reset", map[string]any{"link": linkHTML})
})

// linkHTML is a link to an absolute URL that shows the URL itself, to go
// into a translated sentence of an HTML body.
func linkHTML(url string) htmltemplate.HTML {
	u := escapeHTML(url)
	return htmltemplate.HTML(`<a href="` + u + `" style="color:#14161a">` + u + `</a>`)
}

// accountView is what the account templates see.
type accountView struct {
	AccountEmail
	Change AccountChange
	// Action is the label of the HTML email's button.
	Action string
}

// PasswordReset renders the email that carries a password reset link,
// ready to Queue.
func PasswordReset(e AccountEmail) (Message, error) {
	if err := e.validate(true); err != nil {
		return Message{}, fmt.Errorf("password reset email: %w", err)
	}
	return renderAccount(KindPasswordReset, Say(e.Lang, "Reset your Mistore password"), "password-reset:",
		accountView{AccountEmail: e, Action: Say(e.Lang, "Choose a new password")})
}

// EmailVerification renders the email that asks a customer to confirm
// their email address by following a link, ready to Queue.
func EmailVerification(e AccountEmail) (Message, error) {
	if err := e.validate(true); err != nil {
		return Message{}, fmt.Errorf("email verification email: %w", err)
	}
	return renderAccount(KindEmailVerification, Say(e.Lang, "Confirm your email address for Mistore"), "email-verification:",
		accountView{AccountEmail: e, Action: Say(e.Lang, "Confirm my email address")})
}

// AccountChanged renders the notice that a customer's password or email
// address changed, so that a change they did not make does not go
// unnoticed. An email change is told to the old address, which the new
// owner of the account cannot silence.
func AccountChanged(e AccountEmail, change AccountChange) (Message, error) {
	var subject string
	switch change {
	case PasswordChanged:
		subject = Say(e.Lang, "Your Mistore password was changed")
	case EmailChanged:
		subject = Say(e.Lang, "The email address of your Mistore account was changed")
	default:
		return Message{}, fmt.Errorf("account change email: unknown change %q", change)
	}
	if err := e.validate(false); err != nil {
		return Message{}, fmt.Errorf("account change email: %w", err)
	}
	if e.At.IsZero() {
		// The notice says when, so that a change the customer did not
		// make can be told from one they did.
		return Message{}, errors.New("account change email: no time of the change")
	}
	return renderAccount(KindAccountChanged, subject, "account-changed:", accountView{AccountEmail: e, Change: change})
}

// StaffChange is what changed on a back-office member's sign-in, for
// StaffSecurity.
type StaffChange string

// The changes a staff member is told about.
const (
	StaffPasswordChanged StaffChange = "password"
	StaffTwoStepOn       StaffChange = "two_step_on"
	StaffTwoStepOff      StaffChange = "two_step_off"
	StaffTwoStepReset    StaffChange = "two_step_reset"
	StaffRecoveryCodes   StaffChange = "recovery_codes"
)

// staffSubjects are the StaffSecurity emails' subjects.
var staffSubjects = map[StaffChange]string{
	StaffPasswordChanged: "Your Mistore back-office password was changed",
	StaffTwoStepOn:       "Two-step sign-in is on for your Mistore back office",
	StaffTwoStepOff:      "Two-step sign-in was turned off for your Mistore back office",
	StaffTwoStepReset:    "Two-step sign-in was turned off for your Mistore back office",
	StaffRecoveryCodes:   "New recovery codes for your Mistore back office",
}

// StaffSecurity renders the notice to a back-office member that the way
// they sign in changed (password, two-step sign-in, recovery codes), so
// that a change they did not make does not go unnoticed. The back office
// is English only, and so is this email.
func StaffSecurity(e AccountEmail, change StaffChange) (Message, error) {
	subject, ok := staffSubjects[change]
	if !ok {
		return Message{}, fmt.Errorf("staff security email: unknown change %q", change)
	}
	if err := e.validate(false); err != nil {
		return Message{}, fmt.Errorf("staff security email: %w", err)
	}
	e.Lang = nil
	return renderAccount(KindStaffSecurity, subject, "staff-security:", accountView{AccountEmail: e, Change: AccountChange(change)})
}

func renderAccount(kind, subject, keyPrefix string, v accountView) (Message, error) {
	tpl, err := accountTemplates()
	if err != nil {
		return Message{}, err
	}
	text, html, err := tpl.RenderNamed(v.Lang, kind, kind+" email", v)
	if err != nil {
		return Message{}, err
	}
	return Message{
		Kind:      kind,
		To:        v.To,
		Subject:   subject,
		Text:      text,
		HTML:      html,
		UniqueKey: keyPrefix + v.ID,
	}, nil
}

// validate checks what the email cannot do without; needLink says whether
// it exists to carry its link.
func (e AccountEmail) validate(needLink bool) error {
	if e.ID == "" {
		return errors.New("no id")
	}
	if strings.ContainsAny(e.ID, "\r\n") {
		return errors.New("id spans lines")
	}
	if _, err := mail.ParseAddress(e.To); err != nil {
		return fmt.Errorf("email %q: %w", e.To, err)
	}
	if e.URL == "" && !needLink {
		return nil
	}
	if !absoluteHTTP(e.URL) {
		// The URL is not quoted: it may hold a token.
		return errors.New("the link is not an absolute http(s) URL")
	}
	if needLink && e.ValidFor <= 0 {
		return errors.New("no validity for the link")
	}
	return nil
}

// formatDuration writes how long a link works in words, in language l:
// "30 minutes", "1 hour", "7 days".
func formatDuration(l *locale.Lang, d time.Duration) string {
	unit := func(n int64, one, many string) string {
		if n == 1 {
			return Say(l, one, n)
		}
		return Say(l, many, n)
	}
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return unit(int64(d/(24*time.Hour)), "%d day", "%d days")
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "%d hour", "%d hours")
	default:
		return unit(max(int64(d.Round(time.Minute)/time.Minute), 1), "%d minute", "%d minutes")
	}
}
