package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserFlashSale: an owner creates a flash sale of a power bank in
// the back office; a shopper registers, finds the sale, claims a unit with
// the page's own script, checks out at the sale price and pays; the back
// office then counts the unit claimed and paid.
func TestBrowserFlashSale(t *testing.T) {
	ctx := newBrowser(t)
	m, _ := startStoreWithOwner(t)
	base := m.URL()

	const password = ownerPassword

	// The owner schedules the sale: running from this minute for an hour.
	visit(t, ctx, base+"/admin/flash-sales/new", 200)
	wantPath(t, ctx, "/admin/sign-in")
	setField(t, ctx, "#email", "owner@example.com")
	setField(t, ctx, "#password", password)
	click(t, ctx, `form[action="/admin/sign-in"] button[type=submit]`, 200)
	wantPath(t, ctx, "/admin/flash-sales/new")
	now := time.Now().UTC()
	choose(t, ctx, "#fs-market", "us")
	setField(t, ctx, "#fs-sku", "MPB10-BLU")
	setField(t, ctx, "#fs-title", "Blue power bank drop")
	setField(t, ctx, "#fs-price", "9.99")
	setField(t, ctx, "#fs-quantity", "3")
	setField(t, ctx, "#fs-limit", "1")
	for id, at := range map[string]time.Time{"#fs-start": now.Truncate(time.Minute), "#fs-end": now.Add(time.Hour)} {
		if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(id), at.Format("2006-01-02T15:04"))); err != nil {
			t.Fatal(err)
		}
	}
	click(t, ctx, `form:has(#fs-sku) button[type=submit]`, 200)
	adminSale := location(t, ctx)
	if !regexp.MustCompile(`/admin/flash-sales/\d+$`).MatchString(adminSale) {
		t.Fatalf("after creating the sale the browser is at %s\n%s", adminSale, pageText(ctx))
	}

	// A shopper registers, then finds the sale from the list.
	visit(t, ctx, base+"/us/account/register", 200)
	setField(t, ctx, "#name", newarkNJ.name)
	setField(t, ctx, "#email", newarkNJ.email)
	setField(t, ctx, "#password", password)
	click(t, ctx, ".account-form button[type=submit]", 200)
	wantPath(t, ctx, "/us/account")

	visit(t, ctx, base+"/us/flash-sales", 200)
	if page := pageText(ctx); !strings.Contains(page, "Blue power bank drop") || !strings.Contains(page, "$9.99") {
		t.Fatalf("the flash-sale list does not show the sale at $9.99:\n%s", page)
	}
	// The demo store's own sale is listed too: open the owner's.
	salePath := "/us/flash-sales/" + adminSale[strings.LastIndex(adminSale, "/")+1:]
	click(t, ctx, `a[href="`+salePath+`"]`, 200)
	if left := oneText(t, ctx, ".sale-remaining"); !strings.HasPrefix(left, "3 of 3 left") {
		t.Errorf("remaining = %q, want 3 of 3 left", left)
	}

	// The claim button claims through the API and goes to checkout.
	click(t, ctx, ".sale-claim-button", -1)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.HasSuffix(strings.SplitN(location(t, ctx), "?", 2)[0], "/us/checkout") {
		if time.Now().After(deadline) {
			t.Fatalf("after claiming the browser is at %s, want /us/checkout\n%s", location(t, ctx), pageText(ctx))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := chromedp.Do(ctx, chromedp.WaitReady("body")); err != nil {
		t.Fatal(err)
	}
	if page := pageText(ctx); !strings.Contains(page, "$9.99") || strings.Contains(page, "$24.99") {
		t.Fatalf("the checkout does not price the claimed unit at the sale price $9.99:\n%s", page)
	}
	fillCheckout(t, ctx, newarkNJ)
	click(t, ctx, `button[name=action][value=place]`, 200)
	number := onPaymentPage(t, ctx)
	pay(t, ctx, goodCard, 200)
	onOrderPage(t, ctx, number)
	waitPaid(t, ctx, number)

	// The back office counts it.
	visit(t, ctx, adminSale, 200)
	counters := map[string]string{}
	for _, row := range texts(t, ctx, ".sale-counters div") {
		if k, v, ok := strings.Cut(row, "\n"); ok {
			counters[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	for k, want := range map[string]string{"Claimed": "1", "Paid": "1", "Remaining": "2", "Pending": "0"} {
		if counters[k] != want {
			t.Errorf("back office %s = %q, want %s (all: %v)", k, counters[k], want, counters)
		}
	}
}
