package catalog_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mistore/internal/audit"
	"mistore/internal/catalog"
	"mistore/internal/clocktest"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/inventory"
	"mistore/internal/jobs"
	"mistore/internal/market"
	"mistore/internal/notify"
)

func staffCtx() context.Context {
	return audit.WithActor(context.Background(), audit.Actor{Kind: audit.KindStaff, ID: 1, Name: "ada@example.com"})
}

// newPhone creates a phone with one variant and US stock, not yet sold in
// the US: it is not listed, has no FCC certificate and no US price.
func newPhone(t *testing.T, d *db.DB, s *catalog.Service, slug, sku string) {
	t.Helper()
	ctx := staffCtx()
	_, err := s.CreateProduct(ctx, catalog.ProductInput{
		Slug: slug, Name: "Mistore Phone 15", Category: "phones", Description: "A phone.",
		Specs:    []catalog.Spec{{Key: "Display", Value: "6.7 in"}},
		Variants: []catalog.VariantInput{{SKU: sku, Name: "Black", Options: []catalog.Spec{{Key: "Colour", Value: "Black"}}, WeightG: 190}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Tx(ctx, func(tx db.Querier) error { return inventory.SetOnHand(ctx, tx, sku, "us-east", 5) }); err != nil {
		t.Fatal(err)
	}
}

func auditActions(t *testing.T, d *db.DB, subject string) []string {
	t.Helper()
	rows, err := d.Read.Query("SELECT action, actor_name FROM audit_log WHERE subject = $1 ORDER BY id", subject)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a, who string
		if err := rows.Scan(&a, &who); err != nil {
			t.Fatal(err)
		}
		out = append(out, a+" by "+who)
	}
	return out
}

func TestLaunchAProductIntoAMarket(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := staffCtx()
		clk := clocktest.New(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
		s := catalog.NewService(d, inventory.NewService(d), catalog.Options{Now: clk.Now})
		// Another process's service: it learns of writes by the revision.
		other := catalog.NewService(d, inventory.NewService(d), catalog.Options{Now: clk.Now, Recheck: time.Nanosecond})
		if _, err := s.Import(context.Background(), strings.NewReader(testCSV)); err != nil {
			t.Fatal(err)
		}
		newPhone(t, d, s, "phone-15", "PH15-BLK")
		state := func(svc *catalog.Service) catalog.Availability {
			t.Helper()
			v, err := svc.Product(ctx, "us", "phone-15")
			if err != nil {
				t.Fatal(err)
			}
			return v.Availability
		}
		if a := state(other); a.State != catalog.NotSold {
			t.Fatalf("new phone in us: %+v", a)
		}
		if _, err := s.SetPrice(ctx, "phone-15", "us", "PH15-BLK", 69900); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetListing(ctx, "phone-15", "us", catalog.Listing{Listed: true}); err != nil {
			t.Fatal(err)
		}
		if a := state(s); a.State != catalog.NotSold || !strings.Contains(a.Reason, "FCC") {
			t.Fatalf("listed and priced, no FCC: %+v", a)
		}
		from := clk.Now().AddDate(0, -1, 0)
		until := clk.Now().Add(48 * time.Hour)
		p, err := s.AddCertification(ctx, "phone-15", "us", catalog.Certification{
			Scheme: "FCC", Reference: "2AFZZ-PH15", ValidFrom: from, ValidUntil: until, DocumentURL: "https://fcc.example/2AFZZ-PH15.pdf",
		})
		if err != nil {
			t.Fatal(err)
		}
		if c := p.Certifications["us"]; len(c) != 1 || c[0].DocumentURL != "https://fcc.example/2AFZZ-PH15.pdf" || !c[0].ValidUntil.Equal(until) {
			t.Errorf("certifications after adding: %+v", c)
		}
		if a := state(s); a.State != catalog.Available {
			t.Fatalf("with FCC: %+v", a)
		}
		if a := state(other); a.State != catalog.Available {
			t.Fatalf("another process with FCC: %+v", a)
		}
		// The moment the certificate ends the phone stops selling, with no
		// write at all: the rule reads valid_until.
		clk.Set(until.Add(-time.Second))
		if a := state(s); a.State != catalog.Available {
			t.Fatalf("a second before expiry: %+v", a)
		}
		clk.Set(until)
		if a := state(s); a.State != catalog.NotSold || !strings.Contains(a.Reason, "expired") {
			t.Fatalf("at expiry: %+v", a)
		}
		got := auditActions(t, d, "product:phone-15")
		want := []string{"product.create", "price.set", "listing.set", "certification.add"}
		if len(got) != len(want) {
			t.Fatalf("audit %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i]+" by ada@example.com" {
				t.Errorf("audit[%d] = %q, want %s", i, got[i], want[i])
			}
		}
	})
}

func TestAdminEditsAndValidation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := staffCtx()
		s := newService(t, d, time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
		if _, err := s.Import(context.Background(), strings.NewReader(testCSV)); err != nil {
			t.Fatal(err)
		}
		newPhone(t, d, s, "phone-15", "PH15-BLK")
		before := dump(t, d)
		name := "Phone <script>alert(1)</script>"
		tests := []struct {
			name  string
			do    func() error
			field string
			is    error
		}{
			{"javascript reseller", func() error {
				_, err := s.SetResellers(ctx, "phone-15", "us", []catalog.Reseller{{Name: "Evil", URL: "javascript:alert(1)"}})
				return err
			}, "url", nil},
			{"data reseller", func() error {
				_, err := s.SetResellers(ctx, "phone-15", "us", []catalog.Reseller{{Name: "Evil", URL: "data:text/html,<script>alert(1)</script>"}})
				return err
			}, "url", nil},
			{"relative reseller", func() error {
				_, err := s.SetResellers(ctx, "phone-15", "us", []catalog.Reseller{{Name: "Shop", URL: "//shop.example/x"}})
				return err
			}, "url", nil},
			{"negative price", func() error { _, err := s.SetPrice(ctx, "phone-15", "us", "PH15-BLK", -1); return err }, "amount", nil},
			{"price of another product's sku", func() error { _, err := s.SetPrice(ctx, "phone-15", "us", "MB8-BLK", 100); return err }, "sku", nil},
			{"price in unknown market", func() error { _, err := s.SetPrice(ctx, "phone-15", "fr", "PH15-BLK", 100); return err }, "", market.ErrNotFound},
			{"unknown product", func() error { _, err := s.SetPrice(ctx, "nope", "us", "PH15-BLK", 100); return err }, "", catalog.ErrNotFound},
			{"unknown scheme", func() error {
				_, err := s.AddCertification(ctx, "phone-15", "us", catalog.Certification{Scheme: "XYZ", Reference: "R1", ValidFrom: time.Now()})
				return err
			}, "scheme", nil},
			{"bad reference", func() error {
				_, err := s.AddCertification(ctx, "phone-15", "us", catalog.Certification{Scheme: "FCC", Reference: "<b>x</b>", ValidFrom: time.Now()})
				return err
			}, "reference", nil},
			{"ends before it starts", func() error {
				_, err := s.AddCertification(ctx, "phone-15", "us", catalog.Certification{Scheme: "FCC", Reference: "R1", ValidFrom: time.Now(), ValidUntil: time.Now().Add(-time.Hour)})
				return err
			}, "valid_until", nil},
			{"javascript document", func() error {
				_, err := s.AddCertification(ctx, "phone-15", "us", catalog.Certification{Scheme: "FCC", Reference: "R1", ValidFrom: time.Now(), DocumentURL: "javascript:alert(1)"})
				return err
			}, "document_url", nil},
			{"empty name", func() error {
				blank := " "
				_, err := s.UpdateProduct(ctx, "phone-15", catalog.ProductPatch{Name: &blank})
				return err
			}, "name", nil},
			{"unknown category", func() error {
				c := "toasters"
				_, err := s.UpdateProduct(ctx, "phone-15", catalog.ProductPatch{Category: &c})
				return err
			}, "category", nil},
			{"slug taken", func() error {
				_, err := s.CreateProduct(ctx, catalog.ProductInput{Slug: "band-8", Name: "X", Category: "phones", Variants: []catalog.VariantInput{{SKU: "X-1"}}})
				return err
			}, "", catalog.ErrSlugTaken},
			{"sku taken", func() error {
				_, err := s.CreateProduct(ctx, catalog.ProductInput{Slug: "new-x", Name: "X", Category: "phones", Variants: []catalog.VariantInput{{SKU: "MB8-BLK"}}})
				return err
			}, "", catalog.ErrSKUTaken},
			{"variant sku of another product", func() error {
				_, err := s.SaveVariant(ctx, "phone-15", catalog.VariantInput{SKU: "MB8-BLK", Name: "Stolen"})
				return err
			}, "", catalog.ErrSKUTaken},
			{"no variant", func() error {
				_, err := s.CreateProduct(ctx, catalog.ProductInput{Slug: "new-y", Name: name, Category: "phones"})
				return err
			}, "variants", nil},
			{"bad slug", func() error {
				_, err := s.CreateProduct(ctx, catalog.ProductInput{Slug: "Bad Slug", Name: "X", Category: "phones", Variants: []catalog.VariantInput{{SKU: "Y-1"}}})
				return err
			}, "slug", nil},
			{"no actor", func() error {
				_, err := s.SetPrice(context.Background(), "phone-15", "us", "PH15-BLK", 100)
				return err
			}, "", audit.ErrNoActor},
		}
		for _, tt := range tests {
			err := tt.do()
			if err == nil {
				t.Errorf("%s: no error", tt.name)
				continue
			}
			if tt.field != "" {
				var fe interface{ InvalidField() string }
				if !errors.As(err, &fe) || fe.InvalidField() != tt.field || !errors.Is(err, catalog.ErrInvalid) {
					t.Errorf("%s: %v, want a field error on %s", tt.name, err, tt.field)
				}
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("%s: %v, want %v", tt.name, err, tt.is)
			}
		}
		if after := dump(t, d); after != before {
			t.Errorf("refused writes changed the catalog:\n%s\n%s", before, after)
		}

		// Valid edits land, names are stored as typed (escaping is the
		// pages' job), and a product can be found by its new variant.
		p, err := s.UpdateProduct(ctx, "phone-15", catalog.ProductPatch{Name: &name})
		if err != nil || p.Name != name {
			t.Fatalf("rename: %v %+v", err, p)
		}
		if _, err := s.SaveVariant(ctx, "phone-15", catalog.VariantInput{SKU: "PH15-GLD", Name: "Sunset gold", WeightG: 191}); err != nil {
			t.Fatal(err)
		}
		list, err := s.List(ctx, "us", catalog.ListQuery{Q: "sunset"})
		if err != nil || list.Total != 1 || list.Products[0].Slug != "phone-15" {
			t.Errorf("search for the new variant: %v %+v", err, list)
		}
		rs := []catalog.Reseller{{Name: "North Shop", URL: "https://north.example/p15"}, {Name: "South", URL: "http://south.example/"}}
		if p, err = s.SetResellers(ctx, "phone-15", "us", rs); err != nil || len(p.Resellers["us"]) != 2 || p.Resellers["us"][1].Name != "South" {
			t.Fatalf("resellers: %v %+v", err, p)
		}
		if _, err := s.AddCertification(ctx, "phone-15", "us", catalog.Certification{Scheme: "FCC", Reference: "R1", ValidFrom: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RemoveCertification(ctx, "phone-15", "us", "FCC", "R1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RemoveCertification(ctx, "phone-15", "us", "FCC", "R1"); !errors.Is(err, catalog.ErrCertificationNotFound) {
			t.Errorf("removing twice: %v", err)
		}
		if _, err := s.SetPrice(ctx, "phone-15", "us", "PH15-BLK", 0); err != nil {
			t.Errorf("a free item: %v", err)
		}
		if p, err = s.RemovePrice(ctx, "phone-15", "us", "PH15-BLK"); err != nil || len(p.Variants[0].Prices) != 0 {
			t.Errorf("remove price: %v %+v", err, p.Variants[0].Prices)
		}
		got := auditActions(t, d, "product:phone-15")
		if len(got) != 8 {
			t.Errorf("audit entries: %v", got)
		}
	})
}

func TestAvailabilityChangeIsAnnounced(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := staffCtx()
		s := newService(t, d, time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
		newPhone(t, d, s, "phone-15", "PH15-BLK")
		if _, _, err := notify.CreateEndpoint(ctx, d, "https://hooks.example/in", []string{catalog.EventAvailabilityChanged}); err != nil {
			t.Fatal(err)
		}
		count := func() int {
			var n int
			if err := d.Read.QueryRow("SELECT count(*) FROM webhook_deliveries WHERE event = $1", catalog.EventAvailabilityChanged).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if _, err := s.SetPrice(ctx, "phone-15", "us", "PH15-BLK", 69900); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetListing(ctx, "phone-15", "us", catalog.Listing{Listed: true}); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 0 {
			t.Fatalf("%d events while the phone stays not sold", n)
		}
		if _, err := s.AddCertification(ctx, "phone-15", "us", catalog.Certification{Scheme: "FCC", Reference: "R1", ValidFrom: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
			t.Fatal(err)
		}
		var body string
		if err := d.Read.QueryRow("SELECT body FROM webhook_deliveries WHERE event = $1", catalog.EventAvailabilityChanged).Scan(&body); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(body, `"slug":"phone-15"`) || !strings.Contains(body, `"market":"us"`) || !strings.Contains(body, `"availability":"available"`) {
			t.Errorf("event body %s", body)
		}
	})
}

func TestReadiness(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
		s := newService(t, d, now)
		ctx := staffCtx()
		if _, err := s.Import(context.Background(), strings.NewReader(testCSV)); err != nil {
			t.Fatal(err)
		}
		newPhone(t, d, s, "phone-15", "PH15-BLK")
		if _, err := s.AddCertification(ctx, "band-8", "us", catalog.Certification{Scheme: "FCC", Reference: "2AFZZ-MB8", ValidFrom: now.AddDate(-1, 0, 0), ValidUntil: now.AddDate(0, 0, 10)}); err != nil {
			t.Fatal(err)
		}
		r, err := s.Readiness(ctx, "us")
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string][]string{}
		ready := map[string]bool{}
		for _, row := range r.Rows {
			ready[row.Product.Slug] = row.Ready
			for _, b := range row.Blockers {
				kinds[row.Product.Slug] = append(kinds[row.Product.Slug], b.Kind)
			}
		}
		want := map[string]string{
			"phone-15":         "not_listed certificate no_price",
			"band-8":           "certificate_expiring no_stock", // the blue one is sold out
			"power-bank-20000": "no_stock",
			"watch-s4":         "launch_ahead",
			"phone-14":         "certificate no_price",
		}
		for slug, w := range want {
			if got := strings.Join(kinds[slug], " "); got != w {
				t.Errorf("%s blockers %q, want %q", slug, got, w)
			}
		}
		if !ready["band-8"] || ready["phone-15"] || ready["watch-s4"] {
			t.Errorf("ready: %v", ready)
		}
		if _, err := s.Readiness(ctx, "fr"); !errors.Is(err, market.ErrNotFound) {
			t.Errorf("unknown market: %v", err)
		}
	})
}

func addStaff(t *testing.T, d *db.DB, email, role string, disabled bool) {
	t.Helper()
	var dis any
	if disabled {
		dis = db.Now()
	}
	if _, err := d.Exec(context.Background(), `INSERT INTO staff (email, email_key, name, role, password_hash, created_at, updated_at, disabled_at)
		VALUES ($1, $2, $3, $4, 'x', $5, $5, $6)`, email, strings.ToLower(email), strings.Split(email, "@")[0], role, db.Now(), dis); err != nil {
		t.Fatal(err)
	}
}

func TestCertificateWatchWarnsOncePerCertificate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
		clk := clocktest.New(now)
		s := catalog.NewService(d, inventory.NewService(d), catalog.Options{Now: clk.Now})
		ctx := staffCtx()
		if _, err := s.Import(context.Background(), strings.NewReader(testCSV)); err != nil {
			t.Fatal(err)
		}
		for _, st := range []struct {
			email, role string
			disabled    bool
		}{{"owner@example.com", "owner", false}, {"boss@example.com", "manager", false}, {"help@example.com", "support", false}, {"gone@example.com", "manager", true}} {
			addStaff(t, d, st.email, st.role, st.disabled)
		}
		// band-8's US FCC ends in 10 days: warn. Its China SRRC ends in 10
		// days too but a renewal is entered: no warning. watch-s4's ends in
		// 40 days: not yet.
		add := func(slug, mk, scheme, ref string, from, until time.Time) {
			if _, err := s.AddCertification(ctx, slug, mk, catalog.Certification{Scheme: scheme, Reference: ref, ValidFrom: from, ValidUntil: until}); err != nil {
				t.Fatal(err)
			}
		}
		add("band-8", "us", "FCC", "2AFZZ-MB8", now.AddDate(-1, 0, 0), now.AddDate(0, 0, 10))
		add("band-8", "cn", "SRRC", "CMIIT-2024DP1", now.AddDate(-1, 0, 0), now.AddDate(0, 0, 10))
		add("band-8", "cn", "SRRC", "CMIIT-2026DP9", now.AddDate(0, 0, 9), time.Time{})
		add("watch-s4", "cn", "SRRC", "CMIIT-2", now.AddDate(-1, 0, 0), now.AddDate(0, 0, 40))

		mailer := notify.NewMailer(d, nil, "Mistore <shop@example.com>", nil)
		w := catalog.NewCertWatch(d, mailer, "https://shop.example", clk.Now, nil)
		// Many runs at once (two instances, a rerun): one warning.
		var wg sync.WaitGroup
		var total atomic.Int64
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := w.Run(context.Background())
				if err != nil {
					t.Error(err)
				}
				total.Add(int64(len(got)))
			}()
		}
		wg.Wait()
		if total.Load() != 1 {
			t.Fatalf("%d warnings from concurrent runs, want 1", total.Load())
		}
		emails := func() []string {
			rows, err := d.Read.Query("SELECT to_address, text_body FROM emails WHERE kind = $1 ORDER BY to_address", catalog.KindCertificateExpiry)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var out []string
			for rows.Next() {
				var to, body string
				rows.Scan(&to, &body)
				if !strings.Contains(body, "2AFZZ-MB8") && !strings.Contains(body, "CMIIT-2 ") || strings.Contains(body, "CMIIT-2024DP1") {
					t.Errorf("email body: %s", body)
				}
				out = append(out, to)
			}
			return out
		}
		if got := strings.Join(emails(), " "); got != "boss@example.com owner@example.com" {
			t.Errorf("warned %s", got)
		}
		var body string
		d.Read.QueryRow("SELECT text_body FROM emails WHERE kind = $1 LIMIT 1", catalog.KindCertificateExpiry).Scan(&body)
		if !strings.Contains(body, "2AFZZ-MB8") || !strings.Contains(body, "https://shop.example/admin/launch?market=us") {
			t.Errorf("email: %s", body)
		}
		// The next day: nothing new. 11 days on the watch's certificate is
		// within 30 days: warned once, separately.
		clk.Set(now.Add(24 * time.Hour))
		if got, err := w.Run(context.Background()); err != nil || len(got) != 0 {
			t.Errorf("second day: %v %v", got, err)
		}
		clk.Set(now.AddDate(0, 0, 11))
		if got, err := w.Run(context.Background()); err != nil || len(got) != 1 || got[0].Reference != "CMIIT-2" {
			t.Errorf("watch day: %+v %v", got, err)
		}
		if n := len(emails()); n != 4 {
			t.Errorf("%d emails, want 4", n)
		}
		var audits int
		d.Read.QueryRow("SELECT count(*) FROM audit_log WHERE action = 'certificate.expiry_warning' AND actor_kind = 'system'").Scan(&audits)
		if audits != 2 {
			t.Errorf("%d audit entries, want 2", audits)
		}
	})
}

func TestCertificateWatchJobChainsDaily(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		now := time.Now().UTC()
		mailer := notify.NewMailer(d, nil, "Mistore <shop@example.com>", nil)
		w := catalog.NewCertWatch(d, mailer, "", nil, nil)
		r := jobs.NewRunner(d, nil)
		w.Register(r)
		ctx := context.Background()
		if err := w.Schedule(ctx); err != nil {
			t.Fatal(err)
		}
		if err := w.Schedule(ctx); err != nil { // a restart the same day
			t.Fatal(err)
		}
		n, err := r.RunDue(ctx)
		if err != nil || n != 1 {
			t.Fatalf("ran %d, %v", n, err)
		}
		var runAt time.Time
		var pending int
		if err := d.Read.QueryRow("SELECT count(*) FROM jobs WHERE kind = $1 AND state = 'pending'", catalog.JobCertificateWatch).Scan(&pending); err != nil || pending != 1 {
			t.Fatalf("%d pending watch jobs, %v", pending, err)
		}
		d.Read.QueryRow("SELECT run_at FROM jobs WHERE kind = $1", catalog.JobCertificateWatch).Scan(&runAt)
		if !runAt.After(now) || runAt.Sub(now) > 25*time.Hour {
			t.Errorf("next run at %v (now %v)", runAt, now)
		}
	})
}

func TestExportImportRoundTrip(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := audit.WithActor(context.Background(), audit.Actor{Kind: audit.KindCLI, Name: "tester"})
		s := newService(t, d, time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
		if _, err := s.Import(ctx, strings.NewReader(testCSV)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddCertification(ctx, "band-8", "us", catalog.Certification{Scheme: "FCC", Reference: "2AFZZ-MB8",
			ValidFrom: time.Date(2024, 1, 1, 9, 30, 0, 0, time.UTC), DocumentURL: "https://fcc.example/doc.pdf"}); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		n, err := s.Export(ctx, &buf, catalog.ExportOptions{})
		if err != nil || n != 4 {
			t.Fatalf("export: %d %v", n, err)
		}
		first := buf.String()
		before := dump(t, d)
		var progress []int
		if _, err := s.ImportWith(ctx, strings.NewReader(first), catalog.ImportOptions{Progress: func(done, total int) { progress = append(progress, done*10+total) }}); err != nil {
			t.Fatalf("import the export: %v\n%s", err, first)
		}
		if len(progress) != 4 || progress[3] != 44 {
			t.Errorf("progress %v", progress)
		}
		after := dump(t, d)
		// Only the revision moves.
		if before[:strings.LastIndex(before, "revision")] != after[:strings.LastIndex(after, "revision")] {
			t.Errorf("round trip changed the catalog:\n%s\n%s", before, after)
		}
		buf.Reset()
		if _, err := s.Export(ctx, &buf, catalog.ExportOptions{}); err != nil || buf.String() != first {
			t.Errorf("second export differs:\n%s\n%s", first, buf.String())
		}
		p, _ := s.AdminProduct(ctx, "band-8")
		if c := p.Certifications["us"]; len(c) != 1 || c[0].DocumentURL != "https://fcc.example/doc.pdf" || c[0].ValidFrom.Hour() != 9 {
			t.Errorf("certificate after round trip: %+v", c)
		}
		buf.Reset()
		if _, err := s.Export(ctx, &buf, catalog.ExportOptions{Market: "us"}); err != nil {
			t.Fatal(err)
		}
		header := strings.SplitN(buf.String(), "\n", 2)[0]
		if strings.Contains(header, "_cn") || !strings.Contains(header, "price_us") || strings.Contains(header, "stock_") {
			t.Errorf("us header %s", header)
		}
		if _, err := s.Export(ctx, &buf, catalog.ExportOptions{Market: "fr"}); !errors.Is(err, market.ErrNotFound) {
			t.Errorf("unknown market: %v", err)
		}
		var imports int
		d.Read.QueryRow("SELECT count(*) FROM audit_log WHERE action = 'product.import' AND actor_name = 'tester'").Scan(&imports)
		if imports != 2 {
			t.Errorf("%d import audit entries, want 2", imports)
		}
		// A bad row in an otherwise good file: nothing changes, the error
		// names row and column, and nothing is audited.
		bad := strings.Replace(first, "39.99", "39.999", 1)
		before = dump(t, d)
		_, err = s.Import(ctx, strings.NewReader(bad))
		if err == nil || !strings.Contains(err.Error(), "row 2, column price_us") {
			t.Errorf("bad file: %v", err)
		}
		if dump(t, d) != before {
			t.Error("a refused import changed the catalog")
		}
		d.Read.QueryRow("SELECT count(*) FROM audit_log WHERE action = 'product.import'").Scan(&imports)
		if imports != 2 {
			t.Errorf("%d import audit entries after a refused import", imports)
		}
	})
}

// TestCertificateWatchNextRun: the daily run chains to the next 06:00 UTC
// strictly after it, so a run just after midnight keeps the same morning's.
func TestCertificateWatchNextRun(t *testing.T) {
	for _, c := range []struct{ now, want time.Time }{
		{time.Date(2026, 11, 28, 0, 6, 0, 0, time.UTC), time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC)},
		{time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC), time.Date(2026, 11, 29, 6, 0, 0, 0, time.UTC)},
		{time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 6, 0, 0, 0, time.UTC)},
	} {
		dbtest.Each(t, func(t *testing.T, d *db.DB) {
			mailer := notify.NewMailer(d, nil, "Mistore <shop@example.com>", nil)
			w := catalog.NewCertWatch(d, mailer, "", func() time.Time { return c.now }, nil)
			ctx := context.Background()
			if _, err := w.Run(ctx); err != nil {
				t.Fatal(err)
			}
			var runAt time.Time
			if err := d.Read.QueryRow("SELECT run_at FROM jobs WHERE kind = $1 AND state = 'pending'", catalog.JobCertificateWatch).Scan(&runAt); err != nil {
				t.Fatal(err)
			}
			if !runAt.Equal(c.want) {
				t.Errorf("run at %v: next run %v, want %v", c.now, runAt.UTC(), c.want)
			}
		})
	}
}
