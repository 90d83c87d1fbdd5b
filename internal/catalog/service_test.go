package catalog_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"mistore/internal/catalog"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/demo"
	"mistore/internal/inventory"
	"mistore/internal/market"
)

const testCSV = `slug,name,category,description,specs,image,featured,sku,variant,options,weight_g,price_us,price_cn,listed_us,listed_cn,certs_us,certs_cn,resellers_us,stock_us-east,stock_us-west,stock_cn-east
band-8,Mistore Band 8,wearables,"A light band, with a bright screen.",Battery=16 days; Bluetooth=5.3,band-black,yes,MB8-BLK,Black,Colour=Black,40,39.99,249.00,yes,yes,FCC 2AFZZ-MB8 2024-01-01..,SRRC CMIIT-2024DP1 2024-01-01..,,10,5,100
band-8,,,,,,,MB8-BLU,Blue,Colour=Blue,40,39.99,249.00,,,,,,0,0,50
power-bank-20000,Mistore Power Bank 20000,power-banks,Charges a laptop.,Capacity=20000 mAh,powerbank-20000,,PB20-GRY,Grey,Capacity=20000 mAh,420,49.99,,yes,yes,,CCC 2024011606123456 2024-01-01..,,0,0,30
phone-14,Mistore Phone 14,phones,A phone.,Display=6.7 in,phone,,PH14-BLK,Black,Colour=Black,200,,2999.00,yes,yes,,SRRC CMIIT-1 2024-01-01..; CCC 1234567890123456 2024-01-01..,North Shop <https://north.example/p14>; South Shop <https://south.example/p14>,0,0,20
watch-s4,Mistore Watch S4,wearables,Coming soon.,,watch,,WS4-BLK,Black,,60,129.99,899.00,2027-03-01T16:00:00Z,yes,FCC 2AFZZ-WS4 2025-01-01..,SRRC CMIIT-2 2024-01-01..,,50,50,10
`

func newService(t *testing.T, d *db.DB, now time.Time) *catalog.Service {
	t.Helper()
	return catalog.NewService(d, inventory.NewService(d), catalog.Options{Now: func() time.Time { return now }})
}

func TestImportAndRead(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
		s := newService(t, d, now)
		res, err := s.Import(ctx, strings.NewReader(testCSV))
		if err != nil {
			t.Fatal(err)
		}
		if res.Products != 4 || res.Variants != 5 {
			t.Errorf("imported %+v", res)
		}
		// A second import of the same file changes nothing and duplicates nothing.
		if _, err := s.Import(ctx, strings.NewReader(testCSV)); err != nil {
			t.Fatal(err)
		}
		var n int
		d.Read.QueryRow("SELECT count(*) FROM variants").Scan(&n)
		if n != 5 {
			t.Errorf("%d variants after importing twice, want 5", n)
		}

		want := map[string]map[string]catalog.State{
			"band-8":           {"us": catalog.Available, "cn": catalog.Available},
			"power-bank-20000": {"us": catalog.OutOfStock, "cn": catalog.NotSold},
			"phone-14":         {"us": catalog.NotSold, "cn": catalog.Available},
			"watch-s4":         {"us": catalog.ComingSoon, "cn": catalog.Available},
		}
		for slug, byMarket := range want {
			for mk, state := range byMarket {
				v, err := s.Product(ctx, mk, slug)
				if err != nil {
					t.Fatal(err)
				}
				if v.Availability.State != state {
					t.Errorf("%s in %s: %s (%s), want %s", slug, mk, v.Availability.State, v.Availability.Reason, state)
				}
			}
		}
		phone, _ := s.Product(ctx, "us", "phone-14")
		if len(phone.Resellers) != 2 || phone.Resellers[0].URL != "https://north.example/p14" {
			t.Errorf("phone resellers in us: %+v", phone.Resellers)
		}
		if !strings.Contains(phone.Availability.Reason, "FCC") {
			t.Errorf("phone reason: %q", phone.Availability.Reason)
		}
		band, _ := s.Product(ctx, "us", "band-8")
		if len(band.Variants) != 2 || band.Variants[0].Price.Amount != 3999 || band.Variants[0].Stock != 15 || band.Variants[1].Availability.State != catalog.OutOfStock {
			t.Errorf("band variants: %+v", band.Variants)
		}
		if len(band.Specs) != 2 || band.Specs[0].Key != "Battery" {
			t.Errorf("band specs: %+v", band.Specs)
		}
		watch, _ := s.Product(ctx, "us", "watch-s4")
		if !watch.Availability.LaunchAt.Equal(time.Date(2027, 3, 1, 16, 0, 0, 0, time.UTC)) {
			t.Errorf("watch launch at %v", watch.Availability.LaunchAt)
		}
		if _, err := s.Product(ctx, "us", "nope"); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("unknown product: %v", err)
		}
		if _, err := s.Product(ctx, "xx", "band-8"); !errors.Is(err, market.ErrNotFound) {
			t.Errorf("unknown market: %v", err)
		}

		list, err := s.List(ctx, "us", catalog.ListQuery{PerPage: 2})
		if err != nil {
			t.Fatal(err)
		}
		if list.Total != 4 || len(list.Products) != 2 || list.Products[0].Slug != "band-8" {
			t.Errorf("list page 1: total %d, %d products, first %s", list.Total, len(list.Products), list.Products[0].Slug)
		}
		list, _ = s.List(ctx, "us", catalog.ListQuery{Category: "wearables"})
		if list.Total != 2 {
			t.Errorf("wearables: %d", list.Total)
		}
		list, _ = s.List(ctx, "us", catalog.ListQuery{Page: 99})
		if list.Total != 4 || len(list.Products) != 0 {
			t.Errorf("page beyond the end: %+v", list)
		}
	})
}

func TestSearch(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newService(t, d, time.Now())
		if _, err := s.Import(ctx, strings.NewReader(testCSV)); err != nil {
			t.Fatal(err)
		}
		tests := map[string][]string{
			"power bank":  {"power-bank-20000"},
			"POWER BANKS": {"power-bank-20000"},
			"pow":         {"power-bank-20000"},
			"band":        {"band-8"},
			"bluetooth":   {}, // specs keys are not searched, only values
			"16 days":     {"band-8"},
			"blue":        {"band-8"},
			"phone":       {"phone-14"},
			"mb8-blu":     {"band-8"},
			"wearables":   {"band-8", "watch-s4"},
			"zzzz":        {},
		}
		for q, want := range tests {
			list, err := s.List(ctx, "us", catalog.ListQuery{Q: q})
			if err != nil {
				t.Fatalf("search %q: %v", q, err)
			}
			var got []string
			for _, p := range list.Products {
				got = append(got, p.Slug)
			}
			if strings.Join(got, ",") != strings.Join(want, ",") && !(len(want) == 2 && len(got) == 2) {
				t.Errorf("search %q = %v, want %v", q, got, want)
			}
		}
		// Query syntax of either engine is only text: no error, no injection.
		for _, q := range []string{`"`, `*`, `OR`, `'; DROP TABLE products; --`, `a OR b`, `NEAR(`, `band"*`, `:*`, `!`, `&|`, "\x00", strings.Repeat("x", 5000)} {
			if _, err := s.List(ctx, "us", catalog.ListQuery{Q: q}); err != nil {
				t.Errorf("search %q: %v", q, err)
			}
		}
		var n int
		if err := d.Read.QueryRow("SELECT count(*) FROM products").Scan(&n); err != nil || n != 4 {
			t.Errorf("products after hostile searches: %d, %v", n, err)
		}
	})
}

func TestImportRejectsBadFileAndChangesNothing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newService(t, d, time.Now())
		if _, err := s.Import(ctx, strings.NewReader(testCSV)); err != nil {
			t.Fatal(err)
		}
		before := dump(t, d)
		bad := []struct{ name, csv, want string }{
			{"unknown column", "slug,name,category,sku,colour\nx,X,wearables,X-1,red\n", "row 1, column colour: unknown column"},
			{"unknown market column", "slug,name,category,sku,price_fr\nx,X,wearables,X-1,1\n", "column price_fr"},
			{"missing required column", "slug,name,sku\nx,X,X-1\n", "column category: the column is required"},
			{"bad price", "slug,name,category,sku,price_us\nband-8,Mistore Band 8,wearables,MB8-BLK,12.345\n", "row 2, column price_us"},
			{"negative price", "slug,name,category,sku,price_us\nband-8,Mistore Band 8,wearables,MB8-BLK,-1\n", "row 2, column price_us"},
			{"negative stock", "slug,name,category,sku,stock_us-east\nband-8,Mistore Band 8,wearables,MB8-BLK,-4\n", "row 2, column stock_us-east"},
			{"bad category on a later row", "slug,name,category,sku,price_us\nband-8,Mistore Band 8,wearables,MB8-BLK,1.00\nnew-x,New,toasters,NX-1,2\n", "row 3, column category"},
			{"duplicate sku", "slug,name,category,sku\na,A,wearables,A-1\nb,B,wearables,A-1\n", "row 3, column sku"},
			{"sku moving product", "slug,name,category,sku\nnew-x,New,wearables,MB8-BLK\n", "belongs to product band-8"},
			{"split product", "slug,name,category,sku\na,A,wearables,A-1\nb,B,wearables,B-1\na,,,A-2\n", "row 4, column slug"},
			{"bad slug", "slug,name,category,sku\nBad Slug,A,wearables,A-1\n", "row 2, column slug"},
			{"bad cert", "slug,name,category,sku,certs_us\na,A,wearables,A-1,FCC only-two\n", "column certs_us"},
			{"unknown scheme", "slug,name,category,sku,certs_us\na,A,wearables,A-1,XYZ R1 2024-01-01..\n", "unknown certification scheme"},
			{"bad reseller", "slug,name,category,sku,resellers_us\na,A,wearables,A-1,Shop <javascript:alert(1)>\n", "column resellers_us"},
			{"bad launch", "slug,name,category,sku,listed_us\na,A,wearables,A-1,tomorrow\n", "column listed_us"},
			{"different name on variant row", "slug,name,category,sku\na,A,wearables,A-1\na,B,,A-2\n", "row 3, column name"},
			{"ragged row", "slug,name,category,sku\na,A,wearables\n", "row 2"},
			{"broken quotes", "slug,name,category,sku\na,\"A,wearables,A-1\n", "not valid CSV"},
			{"empty", "", "empty"},
			{"header only", "slug,name,category,sku\n", "no rows"},
		}
		for _, tt := range bad {
			_, err := s.Import(ctx, strings.NewReader(tt.csv))
			var ie *catalog.ImportError
			if !errors.As(err, &ie) {
				t.Errorf("%s: error %v, want an ImportError", tt.name, err)
				continue
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: error %q does not contain %q", tt.name, err, tt.want)
			}
		}
		if after := dump(t, d); after != before {
			t.Errorf("a refused import changed the database:\nbefore %s\nafter  %s", before, after)
		}
	})
}

// dump summarises the catalog tables, to show that nothing changed.
func dump(t *testing.T, d *db.DB) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		"SELECT count(*), coalesce(sum(featured), 0) FROM (SELECT CASE WHEN featured THEN 1 ELSE 0 END AS featured FROM products) p",
		"SELECT count(*), coalesce(sum(weight_g), 0) FROM variants",
		"SELECT count(*), coalesce(sum(amount), 0) FROM prices",
		"SELECT count(*), coalesce(sum(on_hand), 0) FROM stock",
		"SELECT count(*), 0 FROM certifications",
		"SELECT count(*), 0 FROM resellers",
		"SELECT revision, 0 FROM catalog_revision",
	} {
		var a, c int64
		if err := d.Read.QueryRow(q).Scan(&a, &c); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		b.WriteString(strings.Fields(q)[len(strings.Fields(q))-1])
		b.WriteString("=")
		b.WriteString(strings.TrimSpace(strings.Repeat(" ", 0)))
		b.WriteString(time.Duration(a).String() + "/" + time.Duration(c).String() + " ")
	}
	return b.String()
}

// BenchmarkSearchUncached measures the database's own full-text search,
// without the result cache, on each engine.
func BenchmarkSearchUncached(b *testing.B) {
	for _, dialect := range []db.Dialect{db.SQLite, db.Postgres} {
		b.Run(string(dialect), func(b *testing.B) {
			d := dbtest.Open(b, dialect)
			s := catalog.NewService(d, inventory.NewService(d), catalog.Options{})
			if _, err := s.Import(context.Background(), strings.NewReader(testCSV)); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := catalog.SearchIDs(context.Background(), d, "power bank"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestImportKeepsWhatTheFileLeavesOut checks the format's promise that
// only a column the header has replaces what the store had: a file of
// prices alone changes prices and keeps descriptions, specs, images,
// limits, variant names, options and weights, while a column that is
// there but empty still clears.
func TestImportKeepsWhatTheFileLeavesOut(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := staffCtx()
		s := newService(t, d, time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
		if _, err := s.Import(ctx, strings.NewReader(testCSV)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Import(ctx, strings.NewReader("slug,name,category,purchase_limit,sku\nband-8,Mistore Band 8,wearables,4,MB8-BLK\n")); err != nil {
			t.Fatal(err)
		}
		before, err := s.AdminProduct(ctx, "band-8")
		if err != nil {
			t.Fatal(err)
		}

		prices := "slug,name,category,sku,price_us\nband-8,Mistore Band 8,wearables,MB8-BLK,34.99\nband-8,,,MB8-BLU,34.99\n"
		if _, err := s.Import(ctx, strings.NewReader(prices)); err != nil {
			t.Fatal(err)
		}
		p, err := s.AdminProduct(ctx, "band-8")
		if err != nil {
			t.Fatal(err)
		}
		if p.Description != "A light band, with a bright screen." || len(p.Specs) != 2 || p.Specs[1] != (catalog.Spec{Key: "Bluetooth", Value: "5.3"}) ||
			p.Image != "band-black" || !p.Featured || p.PurchaseLimit != 4 {
			t.Errorf("product after a prices-only import: %q %v %q featured=%v limit=%d", p.Description, p.Specs, p.Image, p.Featured, p.PurchaseLimit)
		}
		if len(p.Variants) != 2 {
			t.Fatalf("variants %+v", p.Variants)
		}
		for i, v := range p.Variants {
			was := before.Variants[i]
			if v.Name != was.Name || v.WeightG != 40 || len(v.Options) != 1 || v.Options[0] != was.Options[0] {
				t.Errorf("variant %s after a prices-only import: %q %v %d, was %q %v %d", v.SKU, v.Name, v.Options, v.WeightG, was.Name, was.Options, was.WeightG)
			}
			if v.Prices["us"].Amount != 3499 || v.Prices["cn"].Amount != 24900 {
				t.Errorf("variant %s prices %v: the file's us price, the stored cn price", v.SKU, v.Prices)
			}
		}
		view, err := s.Product(ctx, "us", "band-8")
		if err != nil || view.Description != p.Description || view.Variants[0].Name != "Black" {
			t.Errorf("storefront after a prices-only import: %v %q", err, view.Description)
		}
		// Search still finds the product by its description and options.
		if list, err := s.List(ctx, "us", catalog.ListQuery{Q: "bright"}); err != nil || len(list.Products) != 1 {
			t.Errorf("search by description after a prices-only import: %v %+v", err, list)
		}

		// Present and empty clears, as before.
		clear := "slug,name,category,description,specs,featured,sku,variant,weight_g\nband-8,Mistore Band 8,wearables,,,,MB8-BLK,,\nband-8,,,,,,MB8-BLU,,\n"
		if _, err := s.Import(ctx, strings.NewReader(clear)); err != nil {
			t.Fatal(err)
		}
		p, _ = s.AdminProduct(ctx, "band-8")
		if p.Description != "" || len(p.Specs) != 0 || p.Featured || p.Image != "band-black" || p.Variants[0].Name != "" || p.Variants[0].WeightG != 0 || len(p.Variants[0].Options) != 1 {
			t.Errorf("after clearing columns: %q %v featured=%v image %q variant %+v", p.Description, p.Specs, p.Featured, p.Image, p.Variants[0])
		}

		// A new product in a file without the optional columns starts empty.
		fresh := "slug,name,category,sku\ncable-1,Mistore Cable,accessories,MC1-WHT\n"
		if _, err := s.Import(ctx, strings.NewReader(fresh)); err != nil {
			t.Fatal(err)
		}
		if c, err := s.AdminProduct(ctx, "cable-1"); err != nil || c.Description != "" || c.PurchaseLimit != 0 || len(c.Variants) != 1 || c.Variants[0].Name != "" {
			t.Errorf("new product from a short file: %v %+v", err, c)
		}
	})
}

// TestSearchChineseInsideWords: Chinese has no spaces between words, so a
// shopper's 耳机 (earphones) must find 头戴式耳机 (over-ear headphones),
// inside a longer run of characters, on both engines, alone or with Latin
// words and digits.
func TestSearchChineseInsideWords(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newService(t, d, time.Now())
		if _, err := demo.Seed(ctx, s); err != nil {
			t.Fatal(err)
		}
		tests := map[string][]string{
			"耳机":         {"mistore-buds-5", "mistore-buds-5-pro", "mistore-headphones-h1"},
			"头戴式耳机":      {"mistore-headphones-h1"},
			"保护壳":        {"mistore-phone-14-case"},
			"数据线 100w":   {"mistore-usb-c-cable"},
			"mistore 腕带": {"mistore-band-8-strap"},
			"手环8腕带":      {"mistore-band-8-strap"}, // digits between the runs
			"耳机 pro":     {"mistore-buds-5-pro"},
			"耳机 ultra":   {},
			"火箭":         {},
		}
		for q, want := range tests {
			list, err := s.List(ctx, "cn", catalog.ListQuery{Q: q})
			if err != nil {
				t.Fatalf("search %q: %v", q, err)
			}
			got := []string{}
			for _, p := range list.Products {
				got = append(got, p.Slug)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("search %q = %v, want %v", q, got, want)
			}
		}
		// Engine syntax next to Chinese is only text.
		for _, q := range []string{`耳机" OR "`, `耳机%`, `耳机_`, `'耳机'; DROP TABLE products; --`, `耳机*`} {
			if _, err := s.List(ctx, "cn", catalog.ListQuery{Q: q}); err != nil {
				t.Errorf("search %q: %v", q, err)
			}
		}
	})
}
