package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"mistore/internal/db"
	"mistore/internal/money"
	"mistore/internal/notify"
)

// TestBrowserOutbox opens the demo's outbox in Chromium: the list, then
// one email whose HTML body shows in a sandboxed frame under its own
// Content-Security-Policy, with the email's inline styles applied (the
// page's own policy would block them).
func TestBrowserOutbox(t *testing.T) {
	ctx := newBrowser(t)
	m := startStore(t, filepath.Join(t.TempDir(), "mistore.db"))
	usd := func(a int64) money.Money { return money.New(a, "USD") }
	msg, err := notify.OrderConfirmation(notify.OrderEmail{
		Number: "US-100001", MarketName: "United States", Email: "ada@example.com", CustomerName: "Ada",
		Lines:    []notify.OrderEmailLine{{Name: "Mistore Band 8", Quantity: 1, UnitPrice: usd(4999), Total: usd(4999)}},
		Subtotal: usd(4999), Tax: usd(400), Total: usd(5399),
		URL: m.URL() + "/us/orders/US-100001?token=t",
	})
	if err != nil {
		t.Fatal(err)
	}
	bg := context.Background()
	if err := m.DB.Tx(bg, func(tx db.Querier) error { return m.Mailer.Queue(bg, tx, msg) }); err != nil {
		t.Fatal(err)
	}
	list, err := m.Mailer.Outbox(bg, 1)
	if err != nil || len(list) != 1 {
		t.Fatalf("outbox %v, %v", list, err)
	}

	visit(t, ctx, m.URL()+"/admin/outbox", 200)
	if h := oneText(t, ctx, "h1"); h != "Outbox (demo mode)" {
		t.Errorf("h1 %q", h)
	}
	if row := oneText(t, ctx, ".outbox-table tbody tr"); !strings.Contains(row, "Your Mistore order US-100001") || !strings.Contains(row, "no SMTP configured") {
		t.Errorf("outbox row %q", row)
	}

	visit(t, ctx, fmt.Sprintf("%s/admin/outbox/%d", m.URL(), list[0].ID), 200)
	if pre := oneText(t, ctx, "pre.outbox-text"); !strings.Contains(pre, "Hello Ada,") {
		t.Errorf("text version %q", pre)
	}
	// A sandboxed frame has an opaque origin, so Chrome runs it as a
	// target of its own: attach to it.
	htmlURL := fmt.Sprintf("%s/admin/outbox/%d/html", m.URL(), list[0].ID)
	var frameID target.ID
	for i := 0; i < 100 && frameID == ""; i++ {
		infos, err := chromedp.Targets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, info := range infos {
			if info.Type == "iframe" && info.URL == htmlURL {
				frameID = info.TargetID
			}
		}
		if frameID == "" {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if frameID == "" {
		t.Fatalf("no frame loaded %s\n%s", htmlURL, pageText(ctx))
	}
	frame, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(frameID))
	defer cancel()
	h1, err := chromedp.Run(frame, chromedp.Text(chromedp.CSS("h1")))
	if err != nil {
		t.Fatalf("the HTML version did not render in its frame: %v", err)
	}
	if h1 != "Thank you for your order" {
		t.Errorf("frame h1 %q", h1)
	}
	styles, err := chromedp.Run(frame, chromedp.ComputedStyle(chromedp.CSS("h1")))
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range styles {
		if st.Name == "font-size" && st.Value != "24px" {
			t.Errorf("the email's inline style is blocked: h1 font-size %s, want 24px", st.Value)
		}
	}
}
