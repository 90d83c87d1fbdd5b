package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mistore/internal/staff"
)

// TestBrowserTwoStepSignIn: the owner turns two-step sign-in on from
// their account page with a code from an authenticator (computed here
// from the key the page shows), signs in again with the password and a
// code, and turns it off with the password and a recovery code; with and
// without JavaScript.
func TestBrowserTwoStepSignIn(t *testing.T) {
	m, _ := startStoreWithOwner(t)
	base := m.URL()
	inModes(t, func(t *testing.T, ctx context.Context, mode jsMode) {
		twoStepJourney(t, ctx, base)
	})
}

func twoStepJourney(t *testing.T, ctx context.Context, base string) {
	visit(t, ctx, base+"/admin/account", 200)
	signInStaff(t, ctx, "/admin/account")
	if s := oneText(t, ctx, "#two-step-status"); s != "Off" {
		t.Fatalf("a new owner's two-step status = %q", s)
	}
	click(t, ctx, `form[action="/admin/account/two-step"] button[type=submit]`, 200)
	wantPath(t, ctx, "/admin/account")
	// The QR code is drawn, at a size a phone's camera can read off a
	// screen.
	width, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(() => {
		const svg = document.querySelector('#totp-qr svg[role=img][aria-label]');
		return svg ? svg.getBoundingClientRect().width : 0;
	})()`))
	if err != nil || width < 120 {
		t.Errorf("the setup page's QR code is %v px wide (%v)\n%s", width, err, pageText(ctx))
	}
	screenshots(t, ctx, "admin-two-step-setup")
	key := strings.ReplaceAll(oneText(t, ctx, "#totp-key"), " ", "")
	code := func(d time.Duration) string {
		c, err := staff.TOTPCode(key, time.Now().Add(d))
		if err != nil {
			t.Fatalf("the page's key %q: %v", key, err)
		}
		return c
	}
	setField(t, ctx, "#confirm-code", code(0))
	click(t, ctx, `form[action="/admin/account/two-step/confirm"] button[type=submit]`, 200)
	recovery := texts(t, ctx, "#recovery-codes code")
	if len(recovery) != staff.RecoveryCodeCount || oneText(t, ctx, "#two-step-status") != "On" {
		t.Fatalf("after confirming: %d recovery codes, status %q\n%s", len(recovery), oneText(t, ctx, "#two-step-status"), pageText(ctx))
	}

	// Signed out, the password alone no longer opens the back office.
	click(t, ctx, `form[action="/admin/sign-out"] button[type=submit]`, 200)
	visit(t, ctx, base+"/admin/orders", 200)
	wantPath(t, ctx, "/admin/sign-in")
	setField(t, ctx, "#email", "owner@example.com")
	setField(t, ctx, "#password", ownerPassword)
	click(t, ctx, `form[action="/admin/sign-in"] button[type=submit]`, 200)
	wantPath(t, ctx, "/admin/sign-in/code")
	setField(t, ctx, "#code", "000000")
	click(t, ctx, `form[action="/admin/sign-in/code"] button[type=submit]`, 401)
	if msg := oneText(t, ctx, "#code-error"); !strings.Contains(msg, "not right") {
		t.Errorf("a wrong code says %q", msg)
	}
	setField(t, ctx, "#code", code(staff.TOTPStep))
	click(t, ctx, `form[action="/admin/sign-in/code"] button[type=submit]`, 200)
	wantPath(t, ctx, "/admin/orders")

	// Off again, with the password and a recovery code.
	visit(t, ctx, base+"/admin/account", 200)
	setField(t, ctx, "#off-password", ownerPassword)
	setField(t, ctx, "#off-code", recovery[0])
	click(t, ctx, `form[action="/admin/account/two-step/off"] button[type=submit]`, 200)
	if s := oneText(t, ctx, "#two-step-status"); s != "Off" {
		t.Fatalf("after turning off: %q\n%s", s, pageText(ctx))
	}
	click(t, ctx, `form[action="/admin/sign-out"] button[type=submit]`, 200)
}
