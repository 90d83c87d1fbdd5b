package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserFulfilAndRefund: a shopper buys a power bank; the owner signs
// in to the back office, finds the paid order in the list, marks it
// shipped with a carrier and tracking number, then refunds it in full;
// after each step the shopper's order page (the link from the
// confirmation email) shows the new status, and the shipping notice is in
// the outbox. With JavaScript and without, on one store: each run with an
// order of its own.
func TestBrowserFulfilAndRefund(t *testing.T) {
	m, _ := startStoreWithOwner(t)
	base := m.URL()
	inModes(t, func(t *testing.T, ctx context.Context, mode jsMode) {
		fulfilAndRefund(t, ctx, base, mode)
	})
}

func fulfilAndRefund(t *testing.T, ctx context.Context, base string, mode jsMode) {
	addr := newarkNJ
	addr.email = mode.email(addr.email)
	number, orderURL, amount := buyPaid(t, ctx, base, addr)

	// The owner finds the order in the list and opens it.
	visit(t, ctx, base+"/admin/orders", 200)
	signInStaff(t, ctx, "/admin/orders")
	if row := rowWith(t, ctx, ".admin-table tbody tr", number); !strings.Contains(row, addr.email) || !strings.Contains(row, "Paid") {
		t.Errorf("the order list's row of %s = %q, want the shopper's email and Paid", number, row)
	}
	click(t, ctx, `.admin-table a[href="/admin/orders/`+number+`"]`, 200)
	wantPath(t, ctx, "/admin/orders/"+number)
	if h := oneText(t, ctx, "#order-title"); h != "Order "+number+" Paid" {
		t.Errorf("the back office's order heading = %q, want %q", h, "Order "+number+" Paid")
	}

	// Shipped: the carrier and tracking number, and the shopper is told.
	const carrier, tracking = "UPS", "1Z999AA10123456784"
	setField(t, ctx, "#f-carrier", carrier)
	setField(t, ctx, "#f-tracking", tracking)
	click(t, ctx, `form[action$="/fulfil"] button[type=submit]`, 200)
	wantPath(t, ctx, "/admin/orders/"+number)
	if flash := oneText(t, ctx, ".admin-flash"); flash != "Order "+number+" is fulfilled; the customer is emailed." {
		t.Errorf("after marking it shipped the back office says %q\n%s", flash, pageText(ctx))
	}
	if status := oneText(t, ctx, "#order-title .status"); status != "Shipped" {
		t.Errorf("the back office's status after shipping = %q, want Shipped", status)
	}
	if row := rowWith(t, ctx, "section[aria-labelledby=ship-title] tbody tr", tracking); !strings.Contains(row, carrier) || !strings.Contains(row, "On its way") {
		t.Errorf("the shipment row = %q, want %s, %s, On its way", row, carrier, tracking)
	}
	if n := texts(t, ctx, `form[action$="/fulfil"]`); len(n) != 0 {
		t.Errorf("a shipped order still offers to ship it\n%s", pageText(ctx))
	}
	docShot(t, ctx, "admin-order", desktopWidth)

	visit(t, ctx, orderURL, 200)
	if pill := oneText(t, ctx, ".order-status .pill"); pill != "Shipped" {
		t.Errorf("the shopper's order %s after shipping shows %q, want Shipped\n%s", number, pill, pageText(ctx))
	}
	if history := strings.Join(texts(t, ctx, "ol.timeline li"), "\n"); !strings.Contains(history, "Shipped with "+carrier+", tracking number "+tracking) {
		t.Errorf("the shopper's order history does not give the carrier and tracking number:\n%s", history)
	}
	waitOutbox(t, ctx, base, "Your Mistore order "+number+" is on its way", addr.email)

	// Refunded in full, with a reason for the back office only.
	visit(t, ctx, base+"/admin/orders/"+number, 200)
	const reason = "Parcel lost by the carrier"
	setField(t, ctx, "#r-amount", strings.NewReplacer("$", "", ",", "").Replace(cents(amount)))
	setField(t, ctx, "#r-reason", reason)
	click(t, ctx, `form[action$="/refund"] button[type=submit]`, 200)
	wantPath(t, ctx, "/admin/orders/"+number)
	if flash := oneText(t, ctx, ".admin-flash"); flash != cents(amount)+" of order "+number+" is being refunded." {
		t.Errorf("after the refund the back office says %q\n%s", flash, pageText(ctx))
	}
	if status := oneText(t, ctx, "#order-title .status"); status != "Refunded" {
		t.Errorf("the back office's status after the refund = %q, want Refunded", status)
	}
	if row := rowWith(t, ctx, "section[aria-labelledby=refunds-title] tbody tr", reason); !strings.Contains(row, cents(amount)) {
		t.Errorf("the refund row = %q, want %s", row, cents(amount))
	}
	if n := texts(t, ctx, `form[action$="/refund"]`); len(n) != 0 {
		t.Errorf("a refunded order still offers a refund\n%s", pageText(ctx))
	}

	// The shopper's page: refunded, the amount, and once the payment
	// provider has it, the money back in the history; never staff's reason.
	visit(t, ctx, orderURL, 200)
	if pill := oneText(t, ctx, ".order-status .pill"); pill != "Refunded" {
		t.Errorf("the shopper's order %s after the refund shows %q, want Refunded\n%s", number, pill, pageText(ctx))
	}
	if got := totals(t, ctx, ".order-page .totals")["Refunded"]; got != amount {
		t.Errorf("the shopper's order totals give %s refunded, want %s", cents(got), cents(amount))
	}
	waitHistory(t, ctx, cents(amount)+" refunded.")
	if page := pageText(ctx); strings.Contains(page, reason) {
		t.Errorf("the shopper's order page shows staff's reason %q:\n%s", reason, page)
	}
}

// buyPaid buys a power bank for a, from the product page to the paid
// order's page, and returns the order's number, its page's URL (with its
// token) and the amount paid.
func buyPaid(t *testing.T, ctx context.Context, base string, a address) (number, orderURL string, amount int64) {
	t.Helper()
	addToCart(t, ctx, base, powerBankPath)
	click(t, ctx, "a.cart-checkout", 200)
	fillCheckout(t, ctx, a)
	click(t, ctx, `button[name=action][value=place]`, 200)
	number = onPaymentPage(t, ctx)
	amount = usd(t, ctx, oneText(t, ctx, "#pay-title"))
	pay(t, ctx, goodCard, 200)
	orderURL = onOrderPage(t, ctx, number)
	waitPaid(t, ctx, number)
	return number, orderURL, amount
}

// signInStaff signs the owner in on the back office's sign-in page, where
// the browser must be, and checks it lands on then, the page asked for.
func signInStaff(t *testing.T, ctx context.Context, then string) {
	t.Helper()
	wantPath(t, ctx, "/admin/sign-in")
	setField(t, ctx, "#email", "owner@example.com")
	setField(t, ctx, "#password", ownerPassword)
	click(t, ctx, `form[action="/admin/sign-in"] button[type=submit]`, 200)
	wantPath(t, ctx, then)
}

// waitOutbox opens the demo outbox until it lists an email to addr whose
// subject holds subject: jobs queue some emails a moment after the action.
func waitOutbox(t *testing.T, ctx context.Context, base, subject, addr string) {
	t.Helper()
	deadline := time.Now().Add(paidWithin)
	for {
		visit(t, ctx, base+"/admin/outbox", 200)
		for _, row := range texts(t, ctx, ".outbox-table tbody tr") {
			if strings.Contains(row, subject) && strings.Contains(row, addr) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the outbox lists no %q to %s %v later\n%s", subject, addr, paidWithin, pageText(ctx))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitHistory reloads the order page until its history has an entry
// holding entry: the payment provider's answers reach the order through
// the job runner.
func waitHistory(t *testing.T, ctx context.Context, entry string) {
	t.Helper()
	deadline := time.Now().Add(paidWithin)
	for {
		if history := strings.Join(texts(t, ctx, "ol.timeline li"), "\n"); strings.Contains(history, entry) {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("the order's history has no %q %v later:\n%s", entry, paidWithin, history)
		}
		time.Sleep(100 * time.Millisecond)
		resp, err := chromedp.RunResponse(ctx, chromedp.Reload())
		if err != nil || resp.Status != 200 {
			t.Fatalf("reload the order page: %v (response %v)\n%s", err, resp, pageText(ctx))
		}
	}
}
