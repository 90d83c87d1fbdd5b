package main

import (
	"context"
	"fmt"
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
// waitlist and confirms it from the email — with JavaScript and without,
// two shoppers on one store. Then the back office's demand report counts
// both entries; staff price and list the phone (still not sellable), then
// add its FCC certificate, and each shopper gets exactly one email.
func TestBrowserPhoneWaitlist(t *testing.T) {
	m, cfg := startStoreWithOwner(t)
	base := m.URL()
	d, err := db.Open(context.Background(), cfg.DB, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(context.Background(), "UPDATE stock SET on_hand = 8 WHERE sku = 'MP14-BLK-256' AND warehouse = 'us-east'"); err != nil {
		t.Fatal(err)
	}
	d.Close()

	var waiting []string // the shoppers who confirmed their place on the list
	browser := inModes(t, func(t *testing.T, ctx context.Context, mode jsMode) {
		waiting = append(waiting, commentAndWait(t, ctx, base, mode))
	})
	if len(waiting) == 0 {
		return // both runs failed, or -run chose neither
	}
	ctx := newTab(t, browser, jsOn)
	launchToWaitlist(t, ctx, m, waiting)
}

// commentAndWait is the shopper's part of TestBrowserPhoneWaitlist: it
// returns the email address the shopper confirmed on the waitlist.
func commentAndWait(t *testing.T, ctx context.Context, base string, mode jsMode) string {
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

	// A new shopper registers and joins the conversation (with markup
	// that must stay text).
	name, said := newarkNJ.name, "Count me in for the US version. <script>alert(1)</script>"
	if mode == jsOff {
		name, said = "Grace Hopper", "Same here, I would buy two. <img src=x onerror=alert(1)>"
	}
	email := mode.email(newarkNJ.email)
	visit(t, ctx, base+"/us/account/register", 200)
	setField(t, ctx, "#name", name)
	setField(t, ctx, "#email", email)
	setField(t, ctx, "#password", ownerPassword)
	click(t, ctx, ".account-form button[type=submit]", 200)
	wantPath(t, ctx, "/us/account")
	visit(t, ctx, base+product, 200)
	setField(t, ctx, "#comment-body", said)
	click(t, ctx, "#post-comment button[type=submit]", 200)
	// The page comes back at the new comment: #c-{its number}.
	_, frag, _ := strings.Cut(location(t, ctx), "#")
	if !regexp.MustCompile(`^c-\d+$`).MatchString(frag) {
		t.Fatalf("after posting the browser is at %s, want the new comment's anchor #c-N\n%s", location(t, ctx), pageText(ctx))
	}
	mine := oneText(t, ctx, "#"+frag)
	today := time.Now().UTC().Format("Jan 2, 2006")
	if !strings.Contains(mine, name) || !strings.Contains(mine, "Posts: 1; Member since: "+today) || !strings.Contains(mine, said) {
		t.Errorf("the new comment %s reads %q, want the text as typed by %s, Posts: 1; Member since: %s", frag, mine, name, today)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#`+frag+` script, #`+frag+` img").length`)); err != nil || n != 0 {
		t.Errorf("the comment's text became markup: %d script or img elements (%v)", n, err)
	}
	docShotFrom(t, ctx, "community", desktopWidth, "#comments")

	// The waitlist, with the account's address filled in.
	if v := value(t, ctx, "#waitlist-email"); v != email {
		t.Errorf("waitlist email field = %q, want the account's %q", v, email)
	}
	click(t, ctx, ".waitlist-form button[type=submit]", 200)
	wantPath(t, ctx, "/us/waitlist/sent")
	link := outboxLink(t, ctx, base, email, "Confirm: tell me when the Mistore Phone 14 is available", waitlistLinkRE)
	visit(t, ctx, link, 200)
	click(t, ctx, "main form button[type=submit]", 200)
	if page := pageText(ctx); !strings.Contains(page, "We will email you once when the Mistore Phone 14 is available in the United States") {
		t.Errorf("after confirming:\n%s", page)
	}
	return email
}

// launchToWaitlist is the staff's part of TestBrowserPhoneWaitlist: the
// demand report counts the shoppers waiting, and the launch emails each of
// them once.
func launchToWaitlist(t *testing.T, ctx context.Context, m *Main, waiting []string) {
	base := m.URL()
	visit(t, ctx, base+"/admin/waitlist?market=us", 200)
	signInStaff(t, ctx, "/admin/waitlist")
	n := len(waiting)
	if row := rowWith(t, ctx, ".admin-table tbody tr", "Mistore Phone 14"); !regexp.MustCompile(fmt.Sprintf(`(?i)\bus\s+%d\s+%d\s+0\b`, n, n)).MatchString(row) {
		t.Errorf("demand report row = %q, want us, %d waiting, %d confirmed, 0 unconfirmed", row, n, n)
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
	rows := texts(t, ctx, ".outbox-table tbody tr")
	for _, email := range waiting {
		told := 0
		for _, row := range rows {
			if strings.Contains(row, "The Mistore Phone 14 is available in") && strings.Contains(row, email) {
				told++
			}
		}
		if told != 1 {
			t.Errorf("%d availability emails to %s in the outbox, want exactly 1\n%s", told, email, pageText(ctx))
		}
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
			// The link in this row: the list holds other shoppers' emails
			// with the same subject.
			href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
				const row = Array.from(document.querySelectorAll(".outbox-table tbody tr"))
					.find(tr => tr.innerText.includes(`+jsString(subject)+`) && tr.innerText.includes(`+jsString(addr)+`));
				const a = row && Array.from(row.querySelectorAll("a")).find(a => a.innerText.includes(`+jsString(subject)+`));
				return a ? a.getAttribute("href") : "";
			})()`))
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
