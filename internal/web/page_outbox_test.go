package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"mistore/internal/catalog"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/demo"
	"mistore/internal/inventory"
	"mistore/internal/money"
	"mistore/internal/notify"
	"mistore/internal/web"
)

// newOutboxStore returns a demo store (demo mode on or off) whose mailer
// has no SMTP server, and one order confirmation in its outbox.
func newOutboxStore(t *testing.T, d *db.DB, demoMode bool) (*web.Server, int64) {
	t.Helper()
	ctx := context.Background()
	c := catalog.NewService(d, inventory.NewService(d), catalog.Options{})
	if _, err := demo.Seed(ctx, c); err != nil {
		t.Fatal(err)
	}
	m := notify.NewMailer(d, nil, "Mistore <orders@mistore.test>", nil)
	usd := func(a int64) money.Money { return money.New(a, "USD") }
	msg, err := notify.OrderConfirmation(notify.OrderEmail{
		Number: "US-100001", MarketName: "United States", Email: "ada@example.com",
		CustomerName: "<script>alert(1)</script>",
		Lines:        []notify.OrderEmailLine{{Name: "Mi Smart Band 9", Quantity: 1, UnitPrice: usd(3999), Total: usd(3999)}},
		Subtotal:     usd(3999), Shipping: usd(0), Tax: usd(320), Total: usd(4319),
		URL: "https://shop.example/us/orders/US-100001?token=t0k",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Tx(ctx, func(tx db.Querier) error { return m.Queue(ctx, tx, msg) }); err != nil {
		t.Fatal(err)
	}
	list, err := m.Outbox(ctx, 1)
	if err != nil || len(list) != 1 {
		t.Fatalf("outbox %v, %v", list, err)
	}
	s, err := web.New(web.Deps{DB: d, Catalog: c, Version: "test", Demo: demoMode, Mailer: m, Theme: theme(t)})
	if err != nil {
		t.Fatal(err)
	}
	return s, list[0].ID
}

func TestOutboxPages(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, id := newOutboxStore(t, d, true)

		r := get(t, s, "/admin/outbox")
		if r.status != 200 {
			t.Fatalf("GET /admin/outbox: %d\n%s", r.status, r.body)
		}
		for _, want := range []string{
			"Outbox (demo mode)", "ada@example.com", "Your Mistore order US-100001", "order_confirmation",
			"Kept in the outbox (no SMTP configured)", fmt.Sprintf(`href="/admin/outbox/%d"`, id),
		} {
			if !strings.Contains(r.body, want) {
				t.Errorf("outbox page lacks %q", want)
			}
		}
		// The outbox is no market's: its market links lead to the
		// markets' homes, not to pages that do not exist.
		if strings.Contains(r.body, "/us/admin/outbox") || strings.Contains(r.body, "/cn/admin/outbox") || !strings.Contains(r.body, `href="/cn/"`) {
			t.Error("the outbox page links to a market's outbox, or not to the markets' homes")
		}

		r = get(t, s, fmt.Sprintf("/admin/outbox/%d", id))
		if r.status != 200 {
			t.Fatalf("GET email: %d\n%s", r.status, r.body)
		}
		for _, want := range []string{
			`<pre class="outbox-text">Hello &lt;script&gt;alert(1)&lt;/script&gt;,`,
			fmt.Sprintf(`<iframe class="outbox-frame" sandbox src="/admin/outbox/%d/html"`, id),
			"Outbox (demo mode)",
		} {
			if !strings.Contains(r.body, want) {
				t.Errorf("email page lacks %q", want)
			}
		}
		if strings.Contains(r.body, "<script>") {
			t.Error("email page holds an unescaped <script>")
		}

		r = get(t, s, fmt.Sprintf("/admin/outbox/%d/html", id))
		if r.status != 200 || !strings.HasPrefix(r.body, "<!doctype html>") || !strings.Contains(r.body, "&lt;script&gt;") {
			t.Fatalf("GET email HTML: %d\n%s", r.status, r.body)
		}
		csp := r.header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "style-src 'unsafe-inline'", "img-src data:", "frame-ancestors 'self'", "sandbox"} {
			if !strings.Contains(csp, want) {
				t.Errorf("email HTML CSP %q lacks %q", csp, want)
			}
		}
		if xfo := r.header.Get("X-Frame-Options"); xfo != "SAMEORIGIN" {
			t.Errorf("email HTML X-Frame-Options %q", xfo)
		}

		for _, p := range []string{"/admin/outbox/0", "/admin/outbox/abc", fmt.Sprintf("/admin/outbox/%d", id+100), fmt.Sprintf("/admin/outbox/%d/html", id+100)} {
			if r := get(t, s, p); r.status != 404 {
				t.Errorf("GET %s: %d, want 404", p, r.status)
			}
		}
	})
}

func TestOutboxOnlyInDemoMode(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, id := newOutboxStore(t, d, false)
		for _, p := range []string{"/admin/outbox", fmt.Sprintf("/admin/outbox/%d", id), fmt.Sprintf("/admin/outbox/%d/html", id)} {
			r := get(t, s, p)
			if r.status != 404 {
				t.Errorf("GET %s with demo mode off: %d, want 404", p, r.status)
			}
			if strings.Contains(r.body, "ada@example.com") {
				t.Errorf("GET %s with demo mode off shows the email", p)
			}
		}
	})
}
