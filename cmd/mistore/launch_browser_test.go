package main

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"mistore/internal/db"
)

// TestBrowserLaunchProduct: an owner signs in to the back office, opens a
// phone the US does not sell (no FCC certificate, no US price), prices
// it, adds its FCC certificate, lists it, and the storefront sells it — in
// a real browser, with forms only.
func TestBrowserLaunchProduct(t *testing.T) {
	ctx := newBrowser(t)
	m, cfg := startStoreWithOwner(t)
	base := m.URL()

	// The first owner, as the README says, and stock that has arrived.
	const password = ownerPassword
	d, err := db.Open(context.Background(), cfg.DB, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(context.Background(), "UPDATE stock SET on_hand = 8 WHERE sku = 'MP14-BLK-256' AND warehouse = 'us-east'"); err != nil {
		t.Fatal(err)
	}
	d.Close()

	const product = "/us/products/mistore-phone-14"
	visit(t, ctx, base+product, 200)
	if page := pageText(ctx); !strings.Contains(page, "Not sold in the United States") {
		t.Fatalf("before the launch:\n%s", page)
	}

	visit(t, ctx, base+"/admin/products/mistore-phone-14", 200)
	wantPath(t, ctx, "/admin/sign-in")
	setField(t, ctx, "#email", "owner@example.com")
	setField(t, ctx, "#password", password)
	click(t, ctx, `form[action="/admin/sign-in"] button[type=submit]`, 200)
	wantPath(t, ctx, "/admin/products/mistore-phone-14")

	setField(t, ctx, "#price-us-MP14-BLK-256", "699.00")
	click(t, ctx, `form:has(#price-us-MP14-BLK-256) button[type=submit]`, 200)
	if flash := oneText(t, ctx, ".admin-flash"); !strings.Contains(flash, "set to $699.00") {
		t.Fatalf("after pricing: %q\n%s", flash, pageText(ctx))
	}
	setField(t, ctx, "#cr-us", "2AFZZ-MP14")
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#cf-us"), "2025-01-01")); err != nil {
		t.Fatal(err)
	}
	setField(t, ctx, "#cd-us", "https://fccid.example/2AFZZ-MP14")
	click(t, ctx, "#add-cert-us", 200)
	if flash := oneText(t, ctx, ".admin-flash"); !strings.Contains(flash, "Certification FCC added for US") {
		t.Fatalf("after the certificate: %q\n%s", flash, pageText(ctx))
	}
	click(t, ctx, "#save-listing-us", 200)
	if flash := oneText(t, ctx, ".admin-flash"); !strings.Contains(flash, "listed in US") {
		t.Fatalf("after listing: %q\n%s", flash, pageText(ctx))
	}
	screenshots(t, ctx, "admin-product")

	visit(t, ctx, base+"/admin/launch?market=us", 200)
	screenshots(t, ctx, "admin-launch")

	visit(t, ctx, base+product, 200)
	if page := pageText(ctx); strings.Contains(page, "Not sold in the United States") || !strings.Contains(page, "$699.00") {
		t.Fatalf("the storefront after the launch:\n%s", page)
	}
	visit(t, ctx, base+"/admin/audit", 200)
	if page := pageText(ctx); !strings.Contains(page, "certification.add") || !strings.Contains(page, "listing.set") {
		t.Errorf("audit log:\n%s", page)
	}
}
