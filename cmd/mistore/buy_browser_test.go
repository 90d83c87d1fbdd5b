package main

// Browser tests of buying: product page → cart → checkout → the test
// provider's hosted payment page → the order page → the confirmation email
// in the demo outbox. The pages carry no JavaScript, so every step is a
// plain form post or link, done the way a shopper does it: typing into the
// fields and clicking the buttons; each journey runs with the browser's
// JavaScript on and off, on one store.

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

const (
	// powerBankPath is a product sold in the US in two colours, with stock.
	powerBankPath = "/us/products/mistore-power-bank-10000"
	powerBankName = "Mistore Power Bank 10000"

	// The test provider's cards: one that pays, one that is declined.
	goodCard     = "4242 4242 4242 4242"
	declinedCard = "4000 0000 0000 0002"

	// paidWithin is how long the job runner may take to deliver the
	// payment's webhook and the confirmation email; it normally takes
	// milliseconds, the margin is for a loaded CI machine under -race.
	paidWithin = 10 * time.Second
)

// address is what a shopper types into the checkout form.
type address struct {
	email, name, line1, line2, city, region, postalCode, method string
}

// newarkNJ is a New Jersey address: the state taxes goods and shipping
// (6.625%), so the totals have every part.
var newarkNJ = address{
	email: "ada@example.com", name: "Ada Lovelace", line1: "1 Center St", line2: "Apt 4",
	city: "Newark", region: "NJ", postalCode: "07102", method: "standard",
}

// TestBrowserBuyPowerBank buys a power bank from its product page to the
// confirmation email, the happy path, and screenshots each page on a wide
// and a narrow window.
func TestBrowserBuyPowerBank(t *testing.T) {
	base := startBrowserStore(t)
	inModes(t, func(t *testing.T, ctx context.Context, mode jsMode) {
		buyPowerBank(t, ctx, base, mode)
	})
}

func buyPowerBank(t *testing.T, ctx context.Context, base string, mode jsMode) {
	addr := newarkNJ
	addr.email = mode.email(addr.email)
	unit := addToCart(t, ctx, base, powerBankPath)

	// The cart: one line of one power bank, and the subtotal.
	if n := len(texts(t, ctx, "li.cart-line")); n != 1 {
		t.Fatalf("cart has %d lines (li.cart-line), want 1\n%s", n, pageText(ctx))
	}
	if name := oneText(t, ctx, ".cart-line-name"); !strings.Contains(name, powerBankName) {
		t.Errorf("cart line name = %q, want %q\n%s", name, powerBankName, pageText(ctx))
	}
	if count := oneText(t, ctx, ".cart-head .count"); count != "1 item" {
		t.Errorf("cart count = %q, want %q", count, "1 item")
	}
	if got := usd(t, ctx, oneText(t, ctx, ".cart-summary dd")); got != unit {
		t.Errorf("cart subtotal = %s, want the product page's price %s\n%s", cents(got), cents(unit), pageText(ctx))
	}

	// Two, with the line's own Update button: the subtotal follows.
	qtyID := "#" + oneAttr(t, ctx, ".cart-qty input[name=quantity]", "id")
	setField(t, ctx, qtyID, "2")
	click(t, ctx, ".cart-qty button[type=submit]", 200)
	if got := usd(t, ctx, oneText(t, ctx, ".cart-summary dd")); got != 2*unit {
		t.Errorf("after updating the quantity to 2 the subtotal = %s, want %s\n%s", cents(got), cents(2*unit), pageText(ctx))
	}
	if got := usd(t, ctx, oneText(t, ctx, ".cart-line-total")); got != 2*unit {
		t.Errorf("after updating the quantity to 2 the line total = %s, want %s\n%s", cents(got), cents(2*unit), pageText(ctx))
	}
	if v := value(t, ctx, qtyID); v != "2" {
		t.Errorf("quantity field after the update = %q, want 2", v)
	}
	screenshots(t, ctx, "cart")
	docShot(t, ctx, "cart", desktopWidth)

	// Checkout: fill in the form and place the order.
	click(t, ctx, "a.cart-checkout", 200)
	wantPath(t, ctx, "/us/checkout")
	fillCheckout(t, ctx, addr)
	screenshots(t, ctx, "checkout")
	docShot(t, ctx, "checkout", desktopWidth)
	docShot(t, ctx, "phone-checkout", phoneWidth)
	click(t, ctx, `button[name=action][value=place]`, 200)

	number := onPaymentPage(t, ctx)
	amount := usd(t, ctx, oneText(t, ctx, "#pay-title"))
	screenshots(t, ctx, "pay")

	pay(t, ctx, goodCard, 200)
	orderURL := onOrderPage(t, ctx, number)
	waitPaid(t, ctx, number)
	checkPaidOrder(t, ctx, number, addr, amount)
	if lines := texts(t, ctx, ".order-lines tbody tr"); len(lines) != 1 || !strings.Contains(lines[0], powerBankName) {
		t.Errorf("order lines = %q, want one line of %s\n%s", lines, powerBankName, pageText(ctx))
	}
	if sub := totals(t, ctx, ".order-page .totals")["Subtotal"]; sub != 2*unit {
		t.Errorf("order subtotal = %s, want 2 × %s", cents(sub), cents(unit))
	}
	screenshots(t, ctx, "order")
	docShot(t, ctx, "order-paid", desktopWidth)

	// The confirmation email, in the demo outbox.
	waitEmail(t, ctx, base, number, addr.email)
	screenshots(t, ctx, "outbox")

	// The order's link still works later, and a wrong token shows nothing.
	visit(t, ctx, orderURL, 200)
	visit(t, ctx, base+"/us/orders/"+number+"?token=wrong", 404)
	if body := oneText(t, ctx, "body"); strings.Contains(body, addr.email) || strings.Contains(body, addr.line1) {
		t.Errorf("the order page with a wrong token shows the shopper's details\n%s", pageText(ctx))
	}
}

// TestBrowserDeclinedThenRetry pays with a card that is declined, sees why
// on the same payment page, and pays again with a good card.
func TestBrowserDeclinedThenRetry(t *testing.T) {
	base := startBrowserStore(t)
	inModes(t, func(t *testing.T, ctx context.Context, mode jsMode) {
		declinedThenRetry(t, ctx, base, mode)
	})
}

func declinedThenRetry(t *testing.T, ctx context.Context, base string, mode jsMode) {
	addToCart(t, ctx, base, powerBankPath)
	click(t, ctx, "a.cart-checkout", 200)
	addr := newarkNJ
	addr.email = mode.email(addr.email)
	addr.line2, addr.method = "", "express"
	fillCheckout(t, ctx, addr)
	click(t, ctx, `button[name=action][value=place]`, 200)
	number := onPaymentPage(t, ctx)
	amount := usd(t, ctx, oneText(t, ctx, "#pay-title"))
	payURL := location(t, ctx)

	// Declined: 402, the reason in an alert, and the form to try again
	// on the same page.
	pay(t, ctx, declinedCard, 402)
	if loc := location(t, ctx); loc != payURL {
		t.Errorf("after a decline the browser is at %s, want to stay on the payment page %s", loc, payURL)
	}
	docShot(t, ctx, "pay-declined", desktopWidth)
	alert := oneText(t, ctx, `#pay-error[role=alert]`)
	if !strings.Contains(strings.ToLower(alert), "declined") {
		t.Errorf("decline message = %q, want it to say the card was declined\n%s", alert, pageText(ctx))
	}
	for _, id := range []string{"#card_number", "#expiry", "#cvc"} {
		if len(texts(t, ctx, ".pay-form "+id)) != 1 {
			t.Fatalf("after a decline the payment form has no %s to try again\n%s", id, pageText(ctx))
		}
	}
	// The card number is never echoed back; the expiry is, to spare
	// retyping it.
	if v := value(t, ctx, "#card_number"); v != "" {
		t.Errorf("after a decline the card number field holds %q, want it empty", v)
	}
	if v := value(t, ctx, "#expiry"); v != "12/30" {
		t.Errorf("after a decline the expiry field holds %q, want what was typed (12/30)", v)
	}
	card := attrs(t, ctx, "#card_number")
	if card["aria-invalid"] != "true" || card["aria-describedby"] != "pay-error" {
		t.Errorf("card number field after a decline: aria-invalid=%q aria-describedby=%q, want true and pay-error", card["aria-invalid"], card["aria-describedby"])
	}
	if got := usd(t, ctx, oneText(t, ctx, "#pay-title")); got != amount {
		t.Errorf("after a decline the page asks for %s, want the same %s", cents(got), cents(amount))
	}

	// Again with a good card on the same form.
	pay(t, ctx, goodCard, 200)
	onOrderPage(t, ctx, number)
	waitPaid(t, ctx, number)
	checkPaidOrder(t, ctx, number, addr, amount)
	// The decline stays in the history, but no notice asks to try again.
	if s := strings.Join(texts(t, ctx, ".order-page .notice"), " "); strings.Contains(s, "declined") {
		t.Errorf("the paid order's notices %q still talk of the declined attempt\n%s", s, pageText(ctx))
	}
	if events := strings.Join(texts(t, ctx, "ol.timeline li"), "\n"); !strings.Contains(strings.ToLower(events), "declined") {
		t.Errorf("the order history does not record the declined attempt:\n%s", events)
	}
	if ship := strings.Join(texts(t, ctx, ".totals dt"), " | "); !strings.Contains(ship, "Express shipping") {
		t.Errorf("order totals %q name no Express shipping, which was chosen", ship)
	}
}

// TestBrowserCheckoutErrors submits the checkout with a ZIP code that is
// not one, fixes it, asks for the total with New Jersey sales tax, places
// the order, and leaves the payment page for the order waiting for payment.
func TestBrowserCheckoutErrors(t *testing.T) {
	base := startBrowserStore(t)
	inModes(t, func(t *testing.T, ctx context.Context, mode jsMode) {
		checkoutErrors(t, ctx, base, mode)
	})
}

func checkoutErrors(t *testing.T, ctx context.Context, base string, mode jsMode) {
	addToCart(t, ctx, base, powerBankPath)
	click(t, ctx, "a.cart-checkout", 200)
	good := newarkNJ
	good.email = mode.email(good.email)
	bad := good
	bad.postalCode = "1234"
	fillCheckout(t, ctx, bad)
	click(t, ctx, `button[name=action][value=place]`, 422)
	wantPath(t, ctx, "/us/checkout")

	// The error sits next to the postal code, tied to it for screen
	// readers, and nothing else is marked wrong.
	if msg := oneText(t, ctx, "#co-message[role=alert]"); msg == "" {
		t.Errorf("the checkout page's alert (#co-message) is empty\n%s", pageText(ctx))
	}
	errText := oneText(t, ctx, "#postal_code-error")
	if !strings.Contains(errText, "12345") {
		t.Errorf("postal code error = %q, want it to show the shape of a ZIP code (12345)\n%s", errText, pageText(ctx))
	}
	zip := attrs(t, ctx, "#postal_code")
	if zip["aria-invalid"] != "true" || zip["aria-describedby"] != "postal_code-error" {
		t.Errorf("#postal_code: aria-invalid=%q aria-describedby=%q, want true and postal_code-error", zip["aria-invalid"], zip["aria-describedby"])
	}
	if n := texts(t, ctx, "[aria-invalid=true]"); len(n) != 1 {
		t.Errorf("%d fields are marked aria-invalid, want only the postal code\n%s", len(n), pageText(ctx))
	}
	if n := texts(t, ctx, "p.field-error #postal_code"); len(n) != 1 {
		t.Errorf("the postal code's field is not styled as an error (p.field-error)")
	}
	// Everything typed is still there.
	checkForm(t, ctx, bad)

	// Fixed, and "See the total": the order with New Jersey sales tax, no
	// error left, the form still filled in.
	setField(t, ctx, "#postal_code", "07102")
	click(t, ctx, `button[name=action][value=quote]`, 200)
	if n := texts(t, ctx, "#postal_code-error, #co-message, [aria-invalid=true]"); len(n) != 0 {
		t.Errorf("after fixing the ZIP code the page still shows errors %q\n%s", n, pageText(ctx))
	}
	checkForm(t, ctx, good)
	if lines := texts(t, ctx, ".quote .order-lines tbody tr"); len(lines) != 1 || !strings.Contains(lines[0], powerBankName) {
		t.Errorf("quote lines = %q, want one line of %s\n%s", lines, powerBankName, pageText(ctx))
	}
	total := checkNJTotals(t, ctx, ".quote .totals", "New Jersey sales tax")

	// Place it: the payment page asks for exactly the quoted total.
	click(t, ctx, `button[name=action][value=place]`, 200)
	number := onPaymentPage(t, ctx)
	if got := usd(t, ctx, oneText(t, ctx, "#pay-title")); got != total {
		t.Errorf("payment page asks for %s, want the quoted total %s", cents(got), cents(total))
	}
	payURL := location(t, ctx)

	// Leaving without paying: the order waits for payment, with a button
	// back to the same payment page.
	click(t, ctx, `.pay-page a[href*="/us/orders/"]`, 200)
	onOrderPage(t, ctx, number)
	if h := oneText(t, ctx, "#order-title"); h != "Waiting for payment" {
		t.Errorf("unpaid order heading = %q, want %q\n%s", h, "Waiting for payment", pageText(ctx))
	}
	if pill := oneText(t, ctx, ".order-status .pill"); pill != "Waiting for payment" {
		t.Errorf("unpaid order status pill = %q, want %q", pill, "Waiting for payment")
	}
	payLink := attrs(t, ctx, ".order-page a.button[href*='/pay/']")
	if payLink["href"] != payURL {
		t.Errorf("the order's Pay button goes to %q, want the payment page %q", payLink["href"], payURL)
	}
	if label := oneText(t, ctx, ".order-page a.button[href*='/pay/']"); label != "Pay "+cents(total) {
		t.Errorf("the order's Pay button says %q, want %q", label, "Pay "+cents(total))
	}
	click(t, ctx, ".order-page a.button[href*='/pay/']", 200)
	if n := onPaymentPage(t, ctx); n != number {
		t.Errorf("the Pay button opened the payment of order %s, want %s", n, number)
	}
}

// addToCart opens a product page, checks its price and adds one of the
// selected variant with the page's own form, landing on the cart page. It
// returns the unit price in cents.
func addToCart(t *testing.T, ctx context.Context, base, path string) int64 {
	t.Helper()
	visit(t, ctx, base+path, 200)
	unit := usd(t, ctx, oneText(t, ctx, ".product-price"))
	if len(texts(t, ctx, "form.add-to-cart")) != 1 {
		t.Fatalf("%s has no Add to cart form (form.add-to-cart)\n%s", path, pageText(ctx))
	}
	if label := oneText(t, ctx, "form.add-to-cart button[type=submit]"); label != "Add to cart" {
		t.Errorf("add button says %q, want %q", label, "Add to cart")
	}
	click(t, ctx, "form.add-to-cart button[type=submit]", 200)
	wantPath(t, ctx, "/us/cart")
	if h := oneText(t, ctx, "h1"); h != "Your cart" {
		t.Errorf("cart page h1 = %q, want %q\n%s", h, "Your cart", pageText(ctx))
	}
	if n := texts(t, ctx, "[role=alert]"); len(n) != 0 {
		t.Fatalf("adding to the cart failed: %q\n%s", n, pageText(ctx))
	}
	return unit
}

// fillCheckout types a into the checkout form, choosing the state and the
// shipping method.
func fillCheckout(t *testing.T, ctx context.Context, a address) {
	t.Helper()
	if h := oneText(t, ctx, "h1"); h != "Checkout" {
		t.Fatalf("checkout page h1 = %q, want %q\n%s", h, "Checkout", pageText(ctx))
	}
	for _, f := range [][2]string{
		{"#email", a.email}, {"#name", a.name}, {"#line1", a.line1}, {"#line2", a.line2},
		{"#city", a.city}, {"#postal_code", a.postalCode},
	} {
		setField(t, ctx, f[0], f[1])
	}
	choose(t, ctx, "#region", a.region)
	click(t, ctx, "#ship-"+a.method, -1)
	if v := value(t, ctx, "#ship-"+a.method+":checked"); v != a.method {
		t.Fatalf("shipping method %q is not checked after clicking it\n%s", a.method, pageText(ctx))
	}
}

// checkForm checks that the checkout form shows a again, as typed.
func checkForm(t *testing.T, ctx context.Context, a address) {
	t.Helper()
	for id, want := range map[string]string{
		"#email": a.email, "#name": a.name, "#line1": a.line1, "#line2": a.line2, "#city": a.city,
		"#region": a.region, "#postal_code": a.postalCode, "input[name=shipping_method]:checked": a.method,
	} {
		if got := value(t, ctx, id); got != want {
			t.Errorf("checkout field %s = %q, want what was typed, %q", id, got, want)
		}
	}
}

// onPaymentPage checks that the browser is on the test provider's payment
// page for an order, and returns the order's number.
func onPaymentPage(t *testing.T, ctx context.Context) string {
	t.Helper()
	loc := location(t, ctx)
	if !regexp.MustCompile(`/pay/test/[^/?]+$`).MatchString(loc) {
		t.Fatalf("after placing the order the browser is at %s, want the payment page /pay/test/{session}\n%s", loc, pageText(ctx))
	}
	m := regexp.MustCompile(`^Order (US-\d+)$`).FindStringSubmatch(oneText(t, ctx, ".pay-page .lead"))
	if m == nil {
		t.Fatalf("the payment page names no order (want .lead %q)\n%s", "Order US-…", pageText(ctx))
	}
	if len(texts(t, ctx, "form.pay-form")) != 1 {
		t.Fatalf("the payment page has no card form\n%s", pageText(ctx))
	}
	return m[1]
}

// pay types card into the payment form, with an expiry in the future and
// a security code, and submits it.
func pay(t *testing.T, ctx context.Context, card string, wantStatus int64) {
	t.Helper()
	setField(t, ctx, "#card_number", card)
	setField(t, ctx, "#expiry", "12/30")
	setField(t, ctx, "#cvc", "123")
	click(t, ctx, ".pay-form button[type=submit]", wantStatus)
}

// onOrderPage checks that the browser is on order number's page, and
// returns its URL, the token included.
func onOrderPage(t *testing.T, ctx context.Context, number string) string {
	t.Helper()
	loc := location(t, ctx)
	if !regexp.MustCompile(`/us/orders/` + regexp.QuoteMeta(number) + `\?token=[^&]+`).MatchString(loc) {
		t.Fatalf("the browser is at %s, want the page of order %s (/us/orders/%s?token=…)\n%s", loc, number, number, pageText(ctx))
	}
	if e := oneText(t, ctx, ".order-page .eyebrow"); !strings.EqualFold(e, "Order "+number) {
		t.Errorf("order page eyebrow = %q, want %q", e, "Order "+number)
	}
	return loc
}

// waitPaid reloads the order page until it says the order is paid: the
// payment's webhook reaches the store through its job runner, a moment
// after the shopper is sent back.
func waitPaid(t *testing.T, ctx context.Context, number string) {
	t.Helper()
	const paid = "Thank you, your order is paid"
	deadline := time.Now().Add(paidWithin)
	for {
		h := oneText(t, ctx, "#order-title")
		if h == paid {
			return
		}
		if h != "Waiting for payment" {
			t.Fatalf("order %s heading = %q while waiting for the payment, want %q or %q\n%s", number, h, "Waiting for payment", paid, pageText(ctx))
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s is not paid %v after paying: heading %q\n%s", number, paidWithin, h, pageText(ctx))
		}
		time.Sleep(100 * time.Millisecond)
		resp, err := chromedp.RunResponse(ctx, chromedp.Reload())
		if err != nil || resp.Status != 200 {
			t.Fatalf("reload the order page: %v (response %v)\n%s", err, resp, pageText(ctx))
		}
	}
}

// checkPaidOrder checks what a paid order's page says: the status, the
// amount paid, where the confirmation went, the address and the history.
func checkPaidOrder(t *testing.T, ctx context.Context, number string, a address, amount int64) {
	t.Helper()
	if pill := oneText(t, ctx, ".order-status .pill"); pill != "Paid" {
		t.Errorf("order %s status pill = %q, want Paid", number, pill)
	}
	notice := oneText(t, ctx, ".notice-paid")
	if !strings.Contains(notice, cents(amount)) || !strings.Contains(notice, a.email) {
		t.Errorf("paid notice = %q, want it to give the amount %s and the email %s", notice, cents(amount), a.email)
	}
	if len(texts(t, ctx, ".order-page a[href*='/pay/']")) != 0 {
		t.Errorf("the paid order %s still offers to pay\n%s", number, pageText(ctx))
	}
	if got := checkNJTotals(t, ctx, ".order-page .totals", "Tax"); got != amount {
		t.Errorf("order total = %s, want the amount paid %s", cents(got), cents(amount))
	}
	addr := strings.Join(strings.Fields(oneText(t, ctx, ".order-page address")), " ")
	for _, want := range []string{a.name, a.line1, a.city + ", " + a.region + " " + a.postalCode} {
		if !strings.Contains(addr, want) {
			t.Errorf("order address %q lacks %q", addr, want)
		}
	}
	if events := texts(t, ctx, "ol.timeline li"); len(events) < 2 {
		t.Errorf("order history has %d entries %q, want at least the order and its payment", len(events), events)
	}
}

// checkNJTotals checks the totals (a dl) matching css of an order to New
// Jersey and returns the total. The line taxLabel is the sales tax:
// 6.625% of the goods and of the shipping, each rounded half up to the
// cent (the shop's tax_rates); and the total adds up.
func checkNJTotals(t *testing.T, ctx context.Context, css, taxLabel string) int64 {
	t.Helper()
	tot := totals(t, ctx, css)
	tax, ok := tot[taxLabel]
	if !ok {
		t.Fatalf("the totals %v have no line %q\n%s", tot, taxLabel, pageText(ctx))
	}
	var shipping int64
	found := false
	for label, amount := range tot {
		if strings.HasPrefix(label, "Shipping · ") {
			shipping, found = amount, true
		}
	}
	if !found {
		t.Fatalf("the totals %v have no line %q\n%s", tot, "Shipping · {method}", pageText(ctx))
	}
	goods := tot["Subtotal"]
	if want := (goods*6625+50000)/100000 + (shipping*6625+50000)/100000; tax != want || tax == 0 {
		t.Errorf("%s %s = %s, want %s (6.625%% of %s goods and %s shipping)\n%s",
			css, taxLabel, cents(tax), cents(want), cents(goods), cents(shipping), pageText(ctx))
	}
	if want := goods + shipping + tax; tot["Total"] != want {
		t.Errorf("%s Total = %s, want subtotal + shipping + tax = %s (totals %v)", css, cents(tot["Total"]), cents(want), tot)
	}
	return tot["Total"]
}

// waitEmail opens the demo outbox until it lists order number's
// confirmation to email: it is queued by a job once the order is paid.
func waitEmail(t *testing.T, ctx context.Context, base, number, email string) {
	t.Helper()
	subject := "Your Mistore order " + number
	deadline := time.Now().Add(paidWithin)
	for {
		visit(t, ctx, base+"/admin/outbox", 200)
		for _, row := range texts(t, ctx, ".outbox-table tbody tr") {
			if strings.Contains(row, subject) {
				if !strings.Contains(row, email) {
					t.Errorf("outbox row %q is not addressed to %s", row, email)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the outbox lists no %q %v after the order was paid\n%s", subject, paidWithin, pageText(ctx))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// click clicks the element matching css and waits for the page it leads
// to, failing t unless the server answered wantStatus (after redirects).
// With wantStatus -1 it does not wait: the click loads no page.
func click(t *testing.T, ctx context.Context, css string, wantStatus int64) {
	t.Helper()
	if wantStatus < 0 {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(css))); err != nil {
			t.Fatalf("click %s: %v\n%s", css, err, pageText(ctx))
		}
		return
	}
	// The element must be there now: Click would wait for it until the
	// test's timeout, and a missing button should fail at once.
	if len(texts(t, ctx, css)) == 0 {
		t.Fatalf("nothing to click: no element matches %s\n%s", css, pageText(ctx))
	}
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("click %s: %v\n%s", css, err, pageText(ctx))
	}
	if resp == nil || resp.Status != wantStatus {
		status := int64(0)
		if resp != nil {
			status = resp.Status
		}
		t.Fatalf("click %s: HTTP %d, want %d\n%s", css, status, wantStatus, pageText(ctx))
	}
}

// setField replaces the text of the input matching css by typing v, as a
// shopper does.
func setField(t *testing.T, ctx context.Context, css, v string) {
	t.Helper()
	if len(texts(t, ctx, css)) == 0 {
		t.Fatalf("no field %s to type into\n%s", css, pageText(ctx))
	}
	// Select what is there and delete it with the keys a shopper presses,
	// then enter the text as the keyboard's input method does (one input
	// event for the whole text, as from a paste or autofill): the page
	// sees real input events, and a long text costs one call to the
	// browser rather than three key events a character.
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.Focus(chromedp.CSS(css)),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(kb.ModifierCtrl)),
		chromedp.KeyEvent(kb.Backspace),
	}
	if v != "" {
		steps = append(steps, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, input.InsertText, input.InsertTextParams{Text: v})
			return err
		}))
	}
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("type %q into %s: %v\n%s", v, css, err, pageText(ctx))
	}
	if got := value(t, ctx, css); got != v {
		t.Fatalf("field %s holds %q after typing %q (a maxlength or input type in the way?)", css, got, v)
	}
}

// choose picks the option of value v in the select matching css. It sets
// the value directly: what the keyboard does in a closed select differs
// between platforms, and the form posts the value either way.
func choose(t *testing.T, ctx context.Context, css, v string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(css), v)); err != nil {
		t.Fatalf("choose %q in %s: %v\n%s", v, css, err, pageText(ctx))
	}
	if got := value(t, ctx, css); got != v {
		t.Fatalf("select %s has no option %q (it holds %q)\n%s", css, v, got, pageText(ctx))
	}
}

// value is the current value of the form control matching css.
func value(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	if len(texts(t, ctx, css)) == 0 {
		t.Fatalf("no form control matches %s\n%s", css, pageText(ctx))
	}
	v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("read the value of %s: %v\n%s", css, err, pageText(ctx))
	}
	return v
}

// attrs returns the attributes of the first element matching css.
func attrs(t *testing.T, ctx context.Context, css string) map[string]string {
	t.Helper()
	if len(texts(t, ctx, css)) == 0 {
		t.Fatalf("no element matches %s\n%s", css, pageText(ctx))
	}
	a, err := chromedp.Run(ctx, chromedp.Attributes(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("read the attributes of %s: %v\n%s", css, err, pageText(ctx))
	}
	return a
}

// oneAttr returns attribute name of the first element matching css.
func oneAttr(t *testing.T, ctx context.Context, css, name string) string {
	t.Helper()
	v, ok := attrs(t, ctx, css)[name]
	if !ok {
		t.Fatalf("%s has no attribute %s\n%s", css, name, pageText(ctx))
	}
	return v
}

// location is the URL the tab shows now.
func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatalf("read the location: %v", err)
	}
	return loc
}

// wantPath fails t unless the tab shows path (any query).
func wantPath(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	loc := location(t, ctx)
	if u, err := url.Parse(loc); err != nil || u.Path != path {
		t.Fatalf("the browser is at %s, want %s\n%s", loc, path, pageText(ctx))
	}
}

// totals reads a dl of totals into amounts in cents by label: "Free" is 0.
func totals(t *testing.T, ctx context.Context, css string) map[string]int64 {
	t.Helper()
	labels := texts(t, ctx, css+" dt")
	amounts := texts(t, ctx, css+" dd")
	if len(labels) == 0 || len(labels) != len(amounts) {
		t.Fatalf("%s has %d labels and %d amounts, want as many of each\n%s", css, len(labels), len(amounts), pageText(ctx))
	}
	out := make(map[string]int64, len(labels))
	for i, l := range labels {
		if amounts[i] == "Free" {
			out[l] = 0
			continue
		}
		out[l] = usd(t, ctx, amounts[i])
	}
	return out
}

var dollars = regexp.MustCompile(`\$(\d{1,3}(?:,\d{3})*)\.(\d\d)`)

// usd reads the one dollar amount in s, in cents.
func usd(t *testing.T, ctx context.Context, s string) int64 {
	t.Helper()
	all := dollars.FindAllStringSubmatch(s, -1)
	if len(all) != 1 {
		t.Fatalf("%q should hold one dollar amount like $24.99\n%s", s, pageText(ctx))
	}
	d, err := strconv.ParseInt(strings.ReplaceAll(all[0][1], ",", ""), 10, 64)
	if err != nil {
		t.Fatalf("amount %q: %v", s, err)
	}
	c, _ := strconv.ParseInt(all[0][2], 10, 64)
	return d*100 + c
}

// cents formats an amount in cents as the store does: $1,234.50.
func cents(c int64) string {
	d := strconv.FormatInt(c/100, 10)
	for i := len(d) - 3; i > 0; i -= 3 {
		d = d[:i] + "," + d[i:]
	}
	return fmt.Sprintf("$%s.%02d", d, c%100)
}

// screenshots saves the current page, whole, as a desktop (1280 px) and a
// phone (375 px) would show it, into the test's artifact directory, kept
// under -outputdir with go test -artifacts (without it the pictures would
// be thrown away, so none are taken). On the phone width it also fails t
// when something in the page's main column sticks out past its margins,
// which a shopper sees as a ragged edge or a page that scrolls sideways.
//
// It does nothing in a nojs tab: the pages are the same, and their layout
// is checked once.
func screenshots(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if modeOf(ctx) == jsOff {
		return
	}
	keep := artifactsKept()
	for _, w := range []struct {
		width, height int64
		mobile        bool
	}{{1280, 900, false}, {375, 812, true}} {
		if !keep && !w.mobile {
			continue // nothing to check at this width
		}
		opts := []chromedp.EmulateViewportOption{chromedp.EmulatePortrait}
		if w.mobile {
			opts = append(opts, chromedp.EmulateMobile)
		}
		// From the top: a page scrolled by an earlier click draws its
		// sticky header halfway down a full-page capture.
		if err := chromedp.Do(ctx,
			chromedp.EmulateViewport(w.width, w.height, opts...),
			chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`),
		); err != nil {
			t.Fatalf("resize the window to %d px: %v", w.width, err)
		}
		see := ""
		if keep {
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatalf("screenshot %s at %d px: %v", name, w.width, err)
			}
			file := filepath.Join(t.ArtifactDir(), fmt.Sprintf("%s-%d.png", name, w.width))
			if err := os.WriteFile(file, png, 0o644); err != nil {
				t.Fatal(err)
			}
			see = " (see " + file + ")"
		}
		if w.mobile {
			out, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](overflowJS))
			if err != nil {
				t.Fatalf("measure the %s page at %d px: %v", name, w.width, err)
			}
			if len(out) > 0 {
				t.Errorf("on a %d px window the %s page has elements past the margins of its main column%s:\n  %s",
					w.width, name, see, strings.Join(out, "\n  "))
			}
		}
	}
	if err := chromedp.Do(ctx, chromedp.ResetViewport()); err != nil {
		t.Fatalf("reset the window after the screenshots: %v", err)
	}
}

// artifactsKept reports whether go test keeps the tests' artifact
// directories (go test -artifacts).
func artifactsKept() bool {
	f := flag.Lookup("test.artifacts")
	return f != nil && f.Value.String() == "true"
}

// overflowJS lists the elements of main that stick out of its content box,
// as "tag.class "text": left..right px of margin..margin". What is inside a box
// that scrolls or clips sideways (a wide table in .outbox-scroll) is
// meant to.
const overflowJS = `(() => {
	const main = document.querySelector("main");
	const cs = getComputedStyle(main), box = main.getBoundingClientRect();
	const left = box.left + parseFloat(cs.paddingLeft), right = box.right - parseFloat(cs.paddingRight);
	const clipped = e => {
		for (let p = e.parentElement; p && p !== main; p = p.parentElement) {
			if (getComputedStyle(p).overflowX !== "visible") return true;
		}
		return false;
	};
	const out = [];
	for (const e of main.querySelectorAll("*")) {
		const b = e.getBoundingClientRect();
		if (!b.width || !b.height || (b.left >= left - 0.5 && b.right <= right + 0.5) || clipped(e)) continue;
		const text = (e.innerText || "").trim().replace(/\s+/g, " ").slice(0, 40);
		out.push(e.tagName.toLowerCase() + (e.className ? "." + String(e.className).trim().replace(/\s+/g, ".") : "") +
			' "' + text + '": ' + Math.round(b.left) + ".." + Math.round(b.right) + " px of " + Math.round(left) + ".." + Math.round(right));
	}
	return out;
})()`
