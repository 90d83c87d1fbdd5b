package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mistore/internal/db"
)

// TestBrowserPhoneWaitlist is the community journey: a new shopper opens
// the phone the US does not sell, reads its comments (each author with
// their posts and member-since date), joins the conversation, joins the
// waitlist and confirms it from the email; the back office's demand report
// counts the entry; staff price and list the phone (still not sellable),
// then add its FCC certificate, and the shopper gets exactly one email.
func TestBrowserPhoneWaitlist(t *testing.T) {
	ctx := newBrowser(t)
	m, cfg := startStoreWithOwner(t)
	base := m.URL()
	const password = ownerPassword
	d, err := db.Open(context.Background(), cfg.DB, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(context.Background(), "UPDATE stock SET on_hand = 8 WHERE sku = 'MP14-BLK-256' AND warehouse = 'us-east'"); err != nil {
		t.Fatal(err)
	}
	d.Close()

	// The demo community's thread under the phone, read by a visitor.
	const product = "/us/products/mistore-phone-14"
	visit(t, ctx, base+product, 200)
	if page := pageText(ctx); !strings.Contains(page, "Not sold in the United States") {
		t.Fatalf("the phone is for sale in the US before its launch:\n%s", page)
	}
	first := oneText(t, ctx, "#c-1 .comment-head")
	if !strings.Contains(first, "Mei Lin") || !strings.Contains(first, "Posts: 3; Member since: Jan 15, 2015") {
		t.Errorf("comment #1's author line = %q, want Mei Lin with Posts: 3; Member since: Jan 15, 2015", first)
	}
	if q := oneText(t, ctx, "#c-3 .comment-quote"); !strings.Contains(q, "In reply to #2") {
		t.Errorf("comment #3 does not quote #2: %q", q)
	}

	// A new shopper registers and joins the conversation.
	visit(t, ctx, base+"/us/account/register", 200)
	setField(t, ctx, "#name", newarkNJ.name)
	setField(t, ctx, "#email", newarkNJ.email)
	setField(t, ctx, "#password", password)
	click(t, ctx, ".account-form button[type=submit]", 200)
	wantPath(t, ctx, "/us/account")
	visit(t, ctx, base+product, 200)
	setField(t, ctx, "#comment-body", "Count me in for the US version. <script>alert(1)</script>")
	click(t, ctx, "#post-comment button[type=submit]", 200)
	mine := oneText(t, ctx, "#c-5")
	today := time.Now().UTC().Format("Jan 2, 2006")
	if !strings.Contains(mine, newarkNJ.name) || !strings.Contains(mine, "Posts: 1; Member since: "+today) ||
		!strings.Contains(mine, "Count me in for the US version. <script>alert(1)</script>") {
		t.Errorf("the new comment #5 reads %q, want the text as typed by %s, Posts: 1; Member since: %s", mine, newarkNJ.name, today)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#c-5 script").length`)); err != nil || n != 0 {
		t.Errorf("the comment's text became markup: %d script elements (%v)", n, err)
	}

	// The waitlist, with the account's address filled in.
	if v := value(t, ctx, "#waitlist-email"); v != newarkNJ.email {
		t.Errorf("waitlist email field = %q, want the account's %q", v, newarkNJ.email)
	}
	click(t, ctx, ".waitlist-form button[type=submit]", 200)
	wantPath(t, ctx, "/us/waitlist/sent")
	link := outboxLink(t, ctx, base, newarkNJ.email, "Confirm: tell me when the Mistore Phone 14 is available", waitlistLinkRE)
	visit(t, ctx, link, 200)
	click(t, ctx, "main form button[type=submit]", 200)
	if page := pageText(ctx); !strings.Contains(page, "We will email you once when the Mistore Phone 14 is available in the United States") {
		t.Errorf("after confirming:\n%s", page)
	}

	// Staff: the demand report counts the entry.
	visit(t, ctx, base+"/admin/waitlist?market=us", 200)
	wantPath(t, ctx, "/admin/sign-in")
	setField(t, ctx, "#email", "owner@example.com")
	setField(t, ctx, "#password", password)
	click(t, ctx, `form[action="/admin/sign-in"] button[type=submit]`, 200)
	wantPath(t, ctx, "/admin/waitlist")
	if row := rowWith(t, ctx, ".admin-table tbody tr", "Mistore Phone 14"); !regexp.MustCompile(`(?i)\bus\s+1\s+1\s+0\b`).MatchString(row) {
		t.Errorf("demand report row = %q, want us, 1 waiting, 1 confirmed, 0 unconfirmed", row)
	}

	// A price and a listing are not enough: no FCC certificate, no email.
	visit(t, ctx, base+"/admin/products/mistore-phone-14", 200)
	setField(t, ctx, "#price-us-MP14-BLK-256", "699.00")
	click(t, ctx, `form:has(#price-us-MP14-BLK-256) button[type=submit]`, 200)
	click(t, ctx, "#save-listing-us", 200)
	if n, err := m.shop.waitlist.Notify(context.Background()); err != nil || n != 0 {
		t.Fatalf("Notify before the certificate = %d, %v; want 0", n, err)
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
	// The server's own loop runs every 30 s; the test does not wait for it.
	for range 2 {
		if _, err := m.shop.waitlist.Notify(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	visit(t, ctx, base+"/admin/outbox", 200)
	told := 0
	for _, row := range texts(t, ctx, ".outbox-table tbody tr") {
		if strings.Contains(row, "The Mistore Phone 14 is available in") && strings.Contains(row, newarkNJ.email) {
			told++
		}
	}
	if told != 1 {
		t.Errorf("%d availability emails to %s in the outbox, want exactly 1\n%s", told, newarkNJ.email, pageText(ctx))
	}
}

var waitlistLinkRE = regexp.MustCompile(`https?://\S+/us/waitlist/confirm\?t=\S+`)

// outboxLink finds the email to addr whose subject holds subject in the
// demo outbox and returns the first link in its text matching re.
func outboxLink(t *testing.T, ctx context.Context, base, addr, subject string, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(paidWithin)
	for {
		visit(t, ctx, base+"/admin/outbox", 200)
		for _, row := range texts(t, ctx, ".outbox-table tbody tr") {
			if !strings.Contains(row, subject) || !strings.Contains(row, addr) {
				continue
			}
			href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(Array.from(document.querySelectorAll(".outbox-table a"))
				.find(a => a.innerText.includes(`+jsString(subject)+`)) || {}).getAttribute?.("href") || ""`))
			if err != nil || href == "" {
				t.Fatalf("no link to the email %q in the outbox: %v\n%s", subject, err, pageText(ctx))
			}
			visit(t, ctx, base+href, 200)
			link := re.FindString(oneText(t, ctx, ".outbox-text"))
			if link == "" {
				t.Fatalf("the email %q has no link matching %s:\n%s", subject, re, pageText(ctx))
			}
			return link
		}
		if time.Now().After(deadline) {
			t.Fatalf("no email %q to %s in the outbox\n%s", subject, addr, pageText(ctx))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// rowWith returns the text of the first element matching css that
// contains sub, failing t when there is none.
func rowWith(t *testing.T, ctx context.Context, css, sub string) string {
	t.Helper()
	for _, row := range texts(t, ctx, css) {
		if strings.Contains(row, sub) {
			return row
		}
	}
	t.Fatalf("no %s contains %q\n%s", css, sub, pageText(ctx))
	return ""
}
