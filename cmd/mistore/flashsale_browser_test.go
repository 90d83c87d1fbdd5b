package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserFlashSale: an owner schedules a flash sale of a power bank
// that needs registration; a shopper creates an account, registers for the
// sale before it starts, the owner moves its start to now, the shopper
// claims a unit, checks out at the sale price and pays; the back office
// then counts the unit claimed and paid. With JavaScript the page's script
// claims through the JSON API; without it the claim button is a plain form
// post. One store, a sale for each run.
func TestBrowserFlashSale(t *testing.T) {
	m, _ := startStoreWithOwner(t)
	base := m.URL()
	inModes(t, func(t *testing.T, ctx context.Context, mode jsMode) {
		flashSale(t, ctx, base, mode)
	})
}

// saleTime is the format of the back office's datetime-local fields (UTC).
const saleTime = "2006-01-02T15:04"

func flashSale(t *testing.T, ctx context.Context, base string, mode jsMode) {
	title := "Blue power bank drop"
	if mode == jsOff {
		title = "Blue power bank second drop"
	}

	// The owner schedules the sale: from the next hour, registration
	// until it starts.
	visit(t, ctx, base+"/admin/flash-sales/new", 200)
	signInStaff(t, ctx, "/admin/flash-sales/new")
	start := time.Now().UTC().Truncate(time.Minute).Add(time.Hour)
	choose(t, ctx, "#fs-market", "us")
	setField(t, ctx, "#fs-sku", "MPB10-BLU")
	setField(t, ctx, "#fs-title", title)
	setField(t, ctx, "#fs-price", "9.99")
	setField(t, ctx, "#fs-quantity", "3")
	setField(t, ctx, "#fs-limit", "1")
	setTimes(t, ctx, map[string]time.Time{"#fs-start": start, "#fs-end": start.Add(time.Hour), "#fs-reg": start})
	click(t, ctx, `form:has(#fs-sku) button[type=submit]`, 200)
	adminSale := location(t, ctx)
	if !regexp.MustCompile(`/admin/flash-sales/\d+$`).MatchString(adminSale) {
		t.Fatalf("after creating the sale the browser is at %s\n%s", adminSale, pageText(ctx))
	}

	// A shopper creates an account, then finds the sale from the list.
	email := mode.email(newarkNJ.email)
	visit(t, ctx, base+"/us/account/register", 200)
	setField(t, ctx, "#name", newarkNJ.name)
	setField(t, ctx, "#email", email)
	setField(t, ctx, "#password", ownerPassword)
	click(t, ctx, ".account-form button[type=submit]", 200)
	wantPath(t, ctx, "/us/account")

	visit(t, ctx, base+"/us/flash-sales", 200)
	if page := pageText(ctx); !strings.Contains(page, title) || !strings.Contains(page, "$9.99") {
		t.Fatalf("the flash-sale list does not show the sale at $9.99:\n%s", page)
	}
	// The demo store's own sale is listed too (and the other run's): open
	// this one.
	salePath := "/us/flash-sales/" + adminSale[strings.LastIndex(adminSale, "/")+1:]
	click(t, ctx, `a[href="`+salePath+`"]`, 200)
	if pill := oneText(t, ctx, ".sale-pill"); !strings.EqualFold(pill, "Coming up") {
		t.Errorf("the sale's state before it starts = %q, want Coming up", pill)
	}
	if n := texts(t, ctx, ".sale-claim"); len(n) != 0 {
		t.Errorf("a sale that has not started offers to claim\n%s", pageText(ctx))
	}

	// Registration, before the start.
	click(t, ctx, ".sale-register button[type=submit]", 200)
	wantPath(t, ctx, salePath)
	if msg := oneText(t, ctx, ".sale-message"); !strings.Contains(msg, "You are registered") {
		t.Errorf("after registering the sale says %q\n%s", msg, pageText(ctx))
	}
	if got := oneText(t, ctx, ".sale-registered"); got != "You are registered for this sale." {
		t.Errorf("the registered shopper's sale page says %q", got)
	}

	// The owner starts it now: registration closed, claims open.
	now := time.Now().UTC().Truncate(time.Minute)
	visit(t, ctx, adminSale, 200)
	setTimes(t, ctx, map[string]time.Time{"#fs-start": now, "#fs-end": now.Add(time.Hour), "#fs-reg": now})
	click(t, ctx, `form[action$="/schedule"] button[type=submit]`, 200)
	if flash := oneText(t, ctx, ".admin-flash"); !strings.Contains(flash, "rescheduled") {
		t.Fatalf("after rescheduling: %q\n%s", flash, pageText(ctx))
	}

	// The shopper claims. With JavaScript the button claims through the
	// API and posts the claim's cart to checkout; without it, the button
	// posts the form. Either way the browser lands on the checkout.
	visit(t, ctx, base+salePath, 200)
	if pill := oneText(t, ctx, ".sale-pill"); !strings.EqualFold(pill, "On now") {
		t.Errorf("the sale's state after the start = %q, want On now\n%s", pill, pageText(ctx))
	}
	if left := oneText(t, ctx, ".sale-remaining"); !strings.HasPrefix(left, "3 of 3 left") {
		t.Errorf("remaining = %q, want 3 of 3 left", left)
	}
	docShot(t, ctx, "flash-sale", desktopWidth)
	sent := len(requestsOf(t, ctx))
	claimCtx, cancel := context.WithTimeout(ctx, 10*time.Second) // a script that never navigates fails here
	click(t, claimCtx, ".sale-claim-button", 200)
	cancel()
	wantPath(t, ctx, "/us/checkout")
	claimed := strings.Join(requestsOf(t, ctx)[sent:], "\n")
	api := strings.Contains(claimed, "POST /api/v1/flash-sales/")
	form := strings.Contains(claimed, "POST "+salePath+"/claim")
	if mode == jsOn && (!api || form) || mode == jsOff && (api || !form) {
		t.Errorf("with %s the claim sent:\n%s\nwant the claim through %s", mode, claimed,
			map[jsMode]string{jsOn: "the API (the page's script)", jsOff: "the form"}[mode])
	}
	if page := pageText(ctx); !strings.Contains(page, "$9.99") || strings.Contains(page, "$24.99") {
		t.Fatalf("the checkout does not price the claimed unit at the sale price $9.99:\n%s", page)
	}
	addr := newarkNJ
	addr.email = email
	fillCheckout(t, ctx, addr)
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

// setTimes sets datetime-local fields by id to times (UTC, to the minute).
// It sets the values directly: what typing does in such a field differs
// between browsers and locales.
func setTimes(t *testing.T, ctx context.Context, times map[string]time.Time) {
	t.Helper()
	for id, at := range times {
		if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(id), at.Format(saleTime))); err != nil {
			t.Fatalf("set %s: %v\n%s", id, err, pageText(ctx))
		}
	}
}
