package web_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"mistore/internal/audit"
	"mistore/internal/catalog"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/demo"
	"mistore/internal/inventory"
	"mistore/internal/web"
)

// relatedCards returns the slugs and availability states of the product
// page's "More ..." cards, in order.
func relatedCards(t *testing.T, body string) (slugs, states []string) {
	t.Helper()
	start := strings.Index(body, `id="related-title"`)
	if start < 0 {
		t.Fatal("the product page has no related products")
	}
	section := body[start:]
	section = section[:strings.Index(section, "</section>")]
	for _, m := range regexp.MustCompile(`href="/us/products/([a-z0-9-]+)"[\s\S]*?class="pill pill-([a-z_]+)"`).FindAllStringSubmatch(section, -1) {
		slugs, states = append(slugs, m[1]), append(states, m[2])
	}
	return slugs, states
}

// TestRelatedProducts checks that a product page suggests other products
// of its category, the ones that can be bought first, and that the cached
// page follows their availability.
func TestRelatedProducts(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newStore(t, d)
		wearables := map[string]bool{}
		for _, m := range regexp.MustCompile(`href="/us/products/([a-z0-9-]+)"`).FindAllStringSubmatch(get(t, s, "/us/products?category=wearables").body, -1) {
			wearables[m[1]] = true
		}

		page := func() ([]string, []string) {
			t.Helper()
			r := get(t, s, "/us/products/mistore-band-8")
			if r.status != 200 {
				t.Fatalf("band 8: %d", r.status)
			}
			if !strings.Contains(r.body, "More wearables") {
				t.Error("the related section is not headed by its category")
			}
			return relatedCards(t, r.body)
		}
		slugs, states := page()
		if len(slugs) != 4 {
			t.Fatalf("related %v, want 4", slugs)
		}
		for _, sl := range slugs {
			if sl == "mistore-band-8" || !wearables[sl] {
				t.Errorf("related %v: %s is the product itself or not a wearable", slugs, sl)
			}
		}
		if i := slices.IndexFunc(states, func(s string) bool { return s != "available" }); i >= 0 && slices.Contains(states[i:], "available") {
			t.Errorf("related states %v: one that can be bought after one that cannot", states)
		}
		if states[0] != "available" || slugs[0] != "mistore-band-8-pro" && slugs[0] != "mistore-band-8-active" {
			t.Fatalf("related %v %v: the demo's bands are for sale in the US", slugs, states)
		}

		// The first sells out: the (cached) page moves it behind the
		// products still for sale.
		first := slugs[0]
		if _, err := d.Exec(context.Background(), `UPDATE stock SET on_hand = 0 WHERE sku IN
			(SELECT v.sku FROM variants v JOIN products p ON p.id = v.product_id WHERE p.slug = $1)`, first); err != nil {
			t.Fatal(err)
		}
		after, afterStates := page()
		i := slices.Index(after, first)
		if i < 0 || afterStates[i] != "out_of_stock" || i < slices.Index(afterStates, "available") {
			t.Errorf("after %s sold out: related %v %v", first, after, afterStates)
		}
	})
}

// TestRelatedProductsKept checks the suggestions a store keeps while its
// displayed stock may be kept: they follow that stock, and a catalog
// change shows at once.
func TestRelatedProductsKept(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		// Stock as displayed may be an hour old: only a catalog change
		// (which makes the stock be read again) renews it.
		c := catalog.NewService(d, inventory.NewDisplayCache(inventory.NewService(d), time.Hour), catalog.Options{Now: func() time.Time { return testNow }})
		if _, err := demo.Seed(ctx, c); err != nil {
			t.Fatal(err)
		}
		s, err := web.New(web.Deps{DB: d, Catalog: c, Version: "test", Theme: theme(t)})
		if err != nil {
			t.Fatal(err)
		}
		page := func() ([]string, []string) {
			t.Helper()
			return relatedCards(t, get(t, s, "/us/products/mistore-band-8").body)
		}
		slugs, states := page()
		first := slugs[0]
		if states[0] != "available" {
			t.Fatalf("related %v %v", slugs, states)
		}
		if _, err := d.Exec(ctx, `UPDATE stock SET on_hand = 0 WHERE sku IN
			(SELECT v.sku FROM variants v JOIN products p ON p.id = v.product_id WHERE p.slug = $1)`, first); err != nil {
			t.Fatal(err)
		}
		// What the store displays has not changed: neither have the
		// suggestions.
		if again, againStates := page(); !slices.Equal(again, slugs) || !slices.Equal(againStates, states) {
			t.Errorf("suggestions %v %v changed before the displayed stock did (%v %v)", again, againStates, slugs, states)
		}
		// Another product of the category leaves the US: the catalog
		// changes, the stock is read again, and both show.
		gone := slugs[1]
		if _, err := c.SetListing(audit.WithActor(ctx, audit.Actor{Kind: audit.KindCLI, Name: "tester"}), gone, "us", catalog.Listing{Listed: false}); err != nil {
			t.Fatal(err)
		}
		after, afterStates := page()
		if i := slices.Index(after, gone); i >= 0 && afterStates[i] != "not_sold" {
			t.Errorf("after %s was unlisted: %v %v", gone, after, afterStates)
		}
		if i := slices.Index(after, first); i < 0 || afterStates[i] != "out_of_stock" {
			t.Errorf("after the catalog changed, %s still shows in stock: %v %v", first, after, afterStates)
		}
	})
}
