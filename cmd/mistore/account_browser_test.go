package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserAccount: a shopper creates an account, buys with the same
// email, confirms the address from the email in the outbox, finds the
// order in the account, signs out and in again — in a real browser, with
// forms only.
func TestBrowserAccount(t *testing.T) {
	ctx := newBrowser(t)
	base := startBrowserStore(t)
	const password = "correct horse battery staple"

	visit(t, ctx, base+"/us/account", 200)
	click(t, ctx, `a[href="/us/account/register"]`, 200)
	setField(t, ctx, "#name", newarkNJ.name)
	setField(t, ctx, "#email", newarkNJ.email)
	setField(t, ctx, "#password", password)
	click(t, ctx, ".account-form button[type=submit]", 200)
	wantPath(t, ctx, "/us/account")
	if h := oneText(t, ctx, "#account-title"); h != "Hello, "+newarkNJ.name {
		t.Fatalf("after registering the heading is %q\n%s", h, pageText(ctx))
	}
	screenshots(t, ctx, "account")

	// Buy a power bank, signed in, with the account's email.
	addToCart(t, ctx, base, powerBankPath)
	click(t, ctx, "a.cart-checkout", 200)
	fillCheckout(t, ctx, newarkNJ)
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
	link := verificationLink(t, ctx, base, newarkNJ.email)
	visit(t, ctx, link, 200)
	click(t, ctx, ".account-form button[type=submit]", 200)
	wantPath(t, ctx, "/us/account")
	if page := pageText(ctx); !strings.Contains(page, "email address is confirmed") {
		t.Errorf("no confirmation after following the link:\n%s", page)
	}
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
	setField(t, ctx, "#email", newarkNJ.email)
	setField(t, ctx, "#password", "not the password")
	click(t, ctx, ".account-form button[type=submit]", 401)
	if page := pageText(ctx); !strings.Contains(page, "not right") {
		t.Errorf("a wrong password says:\n%s", page)
	}
	setField(t, ctx, "#password", password)
	click(t, ctx, ".account-form button[type=submit]", 200)
	if h := oneText(t, ctx, "#account-title"); h != "Hello, "+newarkNJ.name {
		t.Errorf("after signing in again the heading is %q", h)
	}
}

var verifyLinkRE = regexp.MustCompile(`https?://\S+/us/account/verify\?token=[A-Za-z0-9_-]+`)

// verificationLink finds the confirmation email to addr in the demo
// outbox and returns its link.
func verificationLink(t *testing.T, ctx context.Context, base, addr string) string {
	t.Helper()
	deadline := time.Now().Add(paidWithin)
	for {
		visit(t, ctx, base+"/admin/outbox", 200)
		for _, row := range texts(t, ctx, ".outbox-table tbody tr") {
			if strings.Contains(row, "Confirm your email address") && strings.Contains(row, addr) {
				href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(Array.from(document.querySelectorAll(".outbox-table a"))
					.find(a => a.innerText.includes("Confirm your email address")) || {}).getAttribute?.("href") || ""`))
				if err != nil || href == "" {
					t.Fatalf("no link to the confirmation email in the outbox: %v\n%s", err, pageText(ctx))
				}
				visit(t, ctx, base+href, 200)
				link := verifyLinkRE.FindString(oneText(t, ctx, ".outbox-text"))
				if link == "" {
					t.Fatalf("the confirmation email has no link:\n%s", pageText(ctx))
				}
				return link
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no confirmation email to %s in the outbox\n%s", addr, pageText(ctx))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
