package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
)

// TestBrowserAccount: a shopper creates an account, buys with the same
// email, confirms the address from the email in the outbox, finds the
// order in the account, signs out and in again — in a real browser, with
// forms only, with JavaScript on and off.
func TestBrowserAccount(t *testing.T) {
	base := startBrowserStore(t)
	inModes(t, func(t *testing.T, ctx context.Context, mode jsMode) {
		account(t, ctx, base, mode)
	})
}

func account(t *testing.T, ctx context.Context, base string, mode jsMode) {
	const password = "correct horse battery staple"
	addr := newarkNJ
	addr.email = mode.email(addr.email)

	visit(t, ctx, base+"/us/account", 200)
	click(t, ctx, `a[href="/us/account/register"]`, 200)
	setField(t, ctx, "#name", addr.name)
	setField(t, ctx, "#email", addr.email)
	setField(t, ctx, "#password", password)
	click(t, ctx, ".account-form button[type=submit]", 200)
	wantPath(t, ctx, "/us/account")
	if h := oneText(t, ctx, "#account-title"); h != "Hello, "+addr.name {
		t.Fatalf("after registering the heading is %q\n%s", h, pageText(ctx))
	}
	screenshots(t, ctx, "account")

	// Buy a power bank, signed in, with the account's email.
	addToCart(t, ctx, base, powerBankPath)
	click(t, ctx, "a.cart-checkout", 200)
	fillCheckout(t, ctx, addr)
	click(t, ctx, `button[name=action][value=place]`, 200)
	number := onPaymentPage(t, ctx)
	pay(t, ctx, goodCard, 200)
	onOrderPage(t, ctx, number)
	waitPaid(t, ctx, number)

	// Until the address is confirmed, the order is not the account's.
	visit(t, ctx, base+"/us/account", 200)
	if page := pageText(ctx); !strings.Contains(page, "No orders yet") || strings.Contains(page, number) {
		t.Errorf("an unconfirmed account lists orders:\n%s", page)
	}

	// Confirm it from the email in the demo outbox.
	link := verificationLink(t, ctx, base, addr.email)
	visit(t, ctx, link, 200)
	click(t, ctx, ".account-form button[type=submit]", 200)
	wantPath(t, ctx, "/us/account")
	if page := pageText(ctx); !strings.Contains(page, "email address is confirmed") {
		t.Errorf("no confirmation after following the link:\n%s", page)
	}
	docShot(t, ctx, "account-orders", desktopWidth)
	rows := texts(t, ctx, ".order-lines tbody tr")
	if len(rows) != 1 || !strings.Contains(rows[0], number) || !strings.Contains(rows[0], "Paid") {
		t.Errorf("order history = %q, want order %s, paid\n%s", rows, number, pageText(ctx))
	}
	// The order opens from the history without its token.
	click(t, ctx, `.order-lines a[href="/us/orders/`+number+`"]`, 200)
	if h := oneText(t, ctx, "#order-title"); h != "Thank you, your order is paid" {
		t.Errorf("order page from the account: %q", h)
	}

	// Sign out, then in again; a wrong password first.
	visit(t, ctx, base+"/us/account", 200)
	click(t, ctx, `form[action="/us/account/sign-out"] button`, 200)
	if page := pageText(ctx); !strings.Contains(page, "You are signed out") {
		t.Errorf("after signing out:\n%s", page)
	}
	setField(t, ctx, "#email", addr.email)
	setField(t, ctx, "#password", "not the password")
	click(t, ctx, ".account-form button[type=submit]", 401)
	if page := pageText(ctx); !strings.Contains(page, "not right") {
		t.Errorf("a wrong password says:\n%s", page)
	}
	setField(t, ctx, "#password", password)
	click(t, ctx, ".account-form button[type=submit]", 200)
	if h := oneText(t, ctx, "#account-title"); h != "Hello, "+addr.name {
		t.Errorf("after signing in again the heading is %q", h)
	}
}

var verifyLinkRE = regexp.MustCompile(`https?://\S+/us/account/verify\?token=[A-Za-z0-9_-]+`)

// verificationLink finds the confirmation email to addr in the demo
// outbox and returns its link.
func verificationLink(t *testing.T, ctx context.Context, base, addr string) string {
	t.Helper()
	return outboxLink(t, ctx, base, addr, "Confirm your email address", verifyLinkRE)
}
