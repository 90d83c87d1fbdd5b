package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"mistore/internal/db"
)

// TestBrowserLaunchProduct: an owner signs in to the back office, opens a
// phone the US does not sell (no FCC certificate, no US price), prices
// it, adds its FCC certificate, lists it, and the storefront sells it — in
// a real browser, with forms only. The back office has no script of its
// own, so the run without JavaScript guards that it never needs one. One
// store: each run launches a phone of its own.
func TestBrowserLaunchProduct(t *testing.T) {
	m, cfg := startStoreWithOwner(t)
	base := m.URL()

	// Stock that has arrived in the US.
	d, err := db.Open(context.Background(), cfg.DB, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(context.Background(), "UPDATE stock SET on_hand = 8 WHERE sku IN ('MP14-BLK-256', 'MP14P-BLK-256') AND warehouse = 'us-east'"); err != nil {
		t.Fatal(err)
	}
	d.Close()

	phones := map[jsMode]launchPhone{
		jsOn:  {slug: "mistore-phone-14", sku: "MP14-BLK-256", price: "699.00", fccID: "2AFZZ-MP14"},
		jsOff: {slug: "mistore-phone-14-pro", sku: "MP14P-BLK-256", price: "899.00", fccID: "2AFZZ-MP14P"},
	}
	inModes(t, func(t *testing.T, ctx context.Context, mode jsMode) {
		launchProduct(t, ctx, base, phones[mode])
	})
}

// launchPhone is a phone TestBrowserLaunchProduct launches in the US.
type launchPhone struct{ slug, sku, price, fccID string }

func launchProduct(t *testing.T, ctx context.Context, base string, p launchPhone) {
	product := "/us/products/" + p.slug
	visit(t, ctx, base+product, 200)
	if page := pageText(ctx); !strings.Contains(page, "Not sold in the United States") {
		t.Fatalf("before the launch:\n%s", page)
	}

	visit(t, ctx, base+"/admin/products/"+p.slug, 200)
	signInStaff(t, ctx, "/admin/products/"+p.slug)

	priceField := "#price-us-" + p.sku
	setField(t, ctx, priceField, p.price)
	click(t, ctx, `form:has(`+priceField+`) button[type=submit]`, 200)
	if flash := oneText(t, ctx, ".admin-flash"); !strings.Contains(flash, "set to $"+p.price) {
		t.Fatalf("after pricing: %q\n%s", flash, pageText(ctx))
	}
	setField(t, ctx, "#cr-us", p.fccID)
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#cf-us"), "2025-01-01")); err != nil {
		t.Fatal(err)
	}
	setField(t, ctx, "#cd-us", "https://fccid.example/"+p.fccID)
	click(t, ctx, "#add-cert-us", 200)
	if flash := oneText(t, ctx, ".admin-flash"); !strings.Contains(flash, "Certification FCC added for US") {
		t.Fatalf("after the certificate: %q\n%s", flash, pageText(ctx))
	}
	click(t, ctx, "#save-listing-us", 200)
	if flash := oneText(t, ctx, ".admin-flash"); !strings.Contains(flash, "listed in US") {
		t.Fatalf("after listing: %q\n%s", flash, pageText(ctx))
	}
	// A photo through the page's upload form becomes the product's picture.
	photo := filepath.Join(t.TempDir(), "front.jpg")
	if err := os.WriteFile(photo, testJPEG(t, 900, 600), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.CSS("#ph-file"), []string{photo})); err != nil {
		t.Fatal(err)
	}
	setField(t, ctx, "#ph-name", "front")
	setField(t, ctx, "#ph-alt", "The phone from the front")
	click(t, ctx, "form:has(#ph-file) button[type=submit]", 200)
	if flash := oneText(t, ctx, ".admin-flash"); !strings.Contains(flash, "Photo front saved.") {
		t.Fatalf("after the upload: %q\n%s", flash, pageText(ctx))
	}
	screenshots(t, ctx, "admin-product")
	docShot(t, ctx, "admin-product", desktopWidth)

	visit(t, ctx, base+"/admin/launch?market=us", 200)
	screenshots(t, ctx, "admin-launch")

	visit(t, ctx, base+product, 200)
	if page := pageText(ctx); strings.Contains(page, "Not sold in the United States") || !strings.Contains(page, "$"+p.price) {
		t.Fatalf("the storefront after the launch:\n%s", page)
	}
	// The browser loaded one of the photo's renditions (which one depends
	// on the window and its pixel ratio), with its text alternative.
	type picture struct {
		Src   string `json:"src"`
		Alt   string `json:"alt"`
		Width int    `json:"width"`
	}
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[picture](`(() => { const i = document.querySelector('.product-art img');
		return {src: i.currentSrc, alt: i.alt, width: i.complete ? i.naturalWidth : -1}; })()`))
	if err != nil {
		t.Fatal(err)
	}
	// naturalWidth is the rendition's width over the density srcset gave
	// it, so only loaded (more than 0) is certain.
	rendition := shown.Src[strings.LastIndex(shown.Src, "/")+1:]
	if !strings.Contains(shown.Src, "/media/") || shown.Alt != "The phone from the front" || shown.Width < 1 ||
		(rendition != "400" && rendition != "800" && rendition != "900") {
		t.Errorf("the product page's picture: %+v", shown)
	}
	visit(t, ctx, base+"/admin/audit", 200)
	if page := pageText(ctx); !strings.Contains(page, "certification.add") || !strings.Contains(page, "listing.set") {
		t.Errorf("audit log:\n%s", page)
	}
}
