package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/notify"
)

func sampleAccountEmail() notify.AccountEmail {
	return notify.AccountEmail{
		To:       "ada@example.com",
		Name:     "Ada 🚀 Lovelace",
		URL:      "https://shop.example/us/account/reset?token=SECRET-TOKEN",
		ValidFor: 30 * time.Minute,
		ID:       "0f1e2d",
	}
}

func TestPasswordResetContent(t *testing.T) {
	m, err := notify.PasswordReset(sampleAccountEmail())
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != notify.KindPasswordReset || m.To != "ada@example.com" || m.Subject != "Reset your Mistore password" ||
		m.UniqueKey != "password-reset:0f1e2d" || m.OrderID != nil {
		t.Errorf("message %+v", m)
	}
	for _, want := range []string{
		"Hello Ada 🚀 Lovelace,\n",
		"account for ada@example.com.",
		"\nhttps://shop.example/us/account/reset?token=SECRET-TOKEN\n",
		"works once, for 30 minutes.",
	} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, m.Text)
		}
	}
	for _, want := range []string{`href="https://shop.example/us/account/reset?token=SECRET-TOKEN"`, "Choose a new password", "30 minutes"} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("HTML lacks %q:\n%s", want, m.HTML)
		}
	}
	// The outbox key is stored and logged in the clear: it must never be
	// made of the token.
	if strings.Contains(m.UniqueKey, "SECRET") {
		t.Errorf("unique key %q holds the token", m.UniqueKey)
	}
}

func TestEmailVerificationContent(t *testing.T) {
	e := sampleAccountEmail()
	e.Name = ""
	e.URL = "https://shop.example/us/account/verify?token=T"
	e.ValidFor = 7 * 24 * time.Hour
	m, err := notify.EmailVerification(e)
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != notify.KindEmailVerification || m.UniqueKey != "email-verification:0f1e2d" || !strings.HasPrefix(m.Text, "Hello,\n") ||
		!strings.Contains(m.Text, "for 7 days.") || !strings.Contains(m.Text, "\nhttps://shop.example/us/account/verify?token=T\n") ||
		!strings.Contains(m.HTML, "Confirm my email address") {
		t.Errorf("message %+v\n%s", m, m.Text)
	}
}

func TestAccountChangedContent(t *testing.T) {
	e := sampleAccountEmail()
	e.URL, e.ValidFor = "", 0
	e.At = time.Date(2026, 11, 27, 12, 30, 0, 0, time.UTC)
	m, err := notify.AccountChanged(e, notify.PasswordChanged)
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != notify.KindAccountChanged || m.Subject != "Your Mistore password was changed" || m.UniqueKey != "account-changed:0f1e2d" ||
		!strings.Contains(m.Text, "was changed\non November 27, 2026 at 12:30 UTC.") || !strings.Contains(m.Text, "signed out") ||
		strings.Contains(m.Text, "http") {
		t.Errorf("password notice %+v\n%s", m, m.Text)
	}
	e.URL = "https://shop.example/us/account/forgot"
	m, err = notify.AccountChanged(e, notify.EmailChanged)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "The email address of your Mistore account was changed" || !strings.Contains(m.Text, "until now ada@example.com") ||
		!strings.Contains(m.Text, "https://shop.example/us/account/forgot") || !strings.Contains(m.HTML, `href="https://shop.example/us/account/forgot"`) {
		t.Errorf("email notice %+v\n%s", m, m.Text)
	}
	if _, err := notify.AccountChanged(e, "name"); err == nil {
		t.Error("unknown change accepted")
	}
}

func TestStaffSecurityContent(t *testing.T) {
	e := sampleAccountEmail()
	e.URL, e.ValidFor = "", 0
	e.Name = "Ada <b>Lovelace</b>"
	e.At = time.Date(2026, 11, 27, 12, 30, 0, 0, time.UTC)
	for change, want := range map[notify.StaffChange]string{
		notify.StaffPasswordChanged: "Your other sessions were signed out.",
		notify.StaffTwoStepOn:       "asks for a code from your\nauthenticator app",
		notify.StaffTwoStepOff:      "your password alone now signs you in",
		notify.StaffTwoStepReset:    "by an\nowner of the shop",
		notify.StaffRecoveryCodes:   "the\nearlier ones no longer work",
	} {
		m, err := notify.StaffSecurity(e, change)
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind != notify.KindStaffSecurity || m.UniqueKey != "staff-security:0f1e2d" || !strings.Contains(m.Text, want) ||
			!strings.Contains(m.Text, "November 27, 2026 at 12:30 UTC") || !strings.Contains(m.Text, "tell an owner of the shop at once") ||
			!strings.Contains(m.HTML, "Ada &lt;b&gt;Lovelace&lt;/b&gt;") || strings.Contains(m.HTML, "<b>Lovelace") {
			t.Errorf("%s notice %+v\n%s", change, m, m.Text)
		}
	}
	if _, err := notify.StaffSecurity(e, "role"); err == nil {
		t.Error("unknown change accepted")
	}
	e.To = "not an address"
	if _, err := notify.StaffSecurity(e, notify.StaffTwoStepOn); err == nil {
		t.Error("a bad address accepted")
	}
}

func TestAccountEmailsRefuseIncompleteInput(t *testing.T) {
	for name, f := range map[string]func(*notify.AccountEmail){
		"no id":          func(e *notify.AccountEmail) { e.ID = "" },
		"multiline id":   func(e *notify.AccountEmail) { e.ID = "a\r\nBcc: x@example.com" },
		"bad email":      func(e *notify.AccountEmail) { e.To = "ada" },
		"no link":        func(e *notify.AccountEmail) { e.URL = "" },
		"relative link":  func(e *notify.AccountEmail) { e.URL = "/us/account/reset?token=x" },
		"javascript":     func(e *notify.AccountEmail) { e.URL = "javascript:alert(1)" },
		"no validity":    func(e *notify.AccountEmail) { e.ValidFor = 0 },
		"header in name": nil, // the name is only ever in the body: accepted
	} {
		e := sampleAccountEmail()
		if f == nil {
			e.Name = "Ada\r\nBcc: x@example.com"
			if _, err := notify.PasswordReset(e); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		f(&e)
		if _, err := notify.PasswordReset(e); err == nil {
			t.Errorf("password reset, %s: accepted", name)
		}
		if _, err := notify.EmailVerification(e); err == nil {
			t.Errorf("verification, %s: accepted", name)
		}
	}
}

func TestAccountEmailEscapesHTML(t *testing.T) {
	e := sampleAccountEmail()
	e.Name = `<script>alert("hi")</script>`
	e.URL = `https://shop.example/us/account/reset?token=a"><img src=x>`
	m, err := notify.PasswordReset(e)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script", "<img", `a">`} {
		if strings.Contains(m.HTML, bad) {
			t.Errorf("HTML holds %q unescaped:\n%s", bad, m.HTML)
		}
	}
	if !strings.Contains(m.HTML, "&lt;script&gt;") {
		t.Errorf("HTML lacks the escaped name:\n%s", m.HTML)
	}
}

func TestValidityInWords(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Minute:        "for 1 minute.",
		30 * time.Minute:   "for 30 minutes.",
		90 * time.Minute:   "for 90 minutes.",
		time.Hour:          "for 1 hour.",
		48 * time.Hour:     "for 2 days.",
		24 * time.Hour:     "for 1 day.",
		7 * 24 * time.Hour: "for 7 days.",
		10 * time.Second:   "for 1 minute.",
	} {
		e := sampleAccountEmail()
		e.ValidFor = d
		m, err := notify.PasswordReset(e)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Text, want) {
			t.Errorf("%v: text lacks %q", d, want)
		}
	}
}

func TestQueuePasswordReset(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		m := notify.NewMailer(d, nil, testFrom, nil)
		msg, err := notify.PasswordReset(sampleAccountEmail())
		if err != nil {
			t.Fatal(err)
		}
		queue(t, d, m, msg)
		queue(t, d, m, msg) // the same reset queued twice mails once
		list := outbox(t, m)
		if len(list) != 1 || list[0].Kind != notify.KindPasswordReset || list[0].To != "ada@example.com" {
			t.Fatalf("outbox %+v", list)
		}
		full, err := m.Email(context.Background(), list[0].ID)
		if err != nil || full.Text != msg.Text || full.HTML != msg.HTML {
			t.Errorf("stored email %+v, %v", full, err)
		}
	})
}
