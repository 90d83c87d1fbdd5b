package waitlist_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"mistore/internal/audit"
	"mistore/internal/catalog"
	"mistore/internal/clocktest"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/demo"
	"mistore/internal/input"
	"mistore/internal/inventory"
	"mistore/internal/market"
	"mistore/internal/notify"
	"mistore/internal/waitlist"
)

type fixture struct {
	t     *testing.T
	ctx   context.Context
	d     *db.DB
	cat   *catalog.Service
	s     *waitlist.Service
	clock *clocktest.Clock
}

// newFixture is the demo catalog at the end of November 2026, before the
// Watch S4 launches in the US, with the waitlist on live stock.
func newFixture(t *testing.T, d *db.DB, batch int) *fixture {
	t.Helper()
	ctx := audit.WithActor(context.Background(), audit.Actor{Kind: audit.KindSystem, Name: "test"})
	c := clocktest.New(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	inv := inventory.NewService(d)
	cat := catalog.NewService(d, inv, catalog.Options{Now: c.Now})
	if _, err := demo.Seed(ctx, cat); err != nil {
		t.Fatal(err)
	}
	mailer := notify.NewMailer(d, nil, "Mistore <shop@mistore.invalid>", nil)
	s := waitlist.NewService(d, cat, mailer, waitlist.Options{Now: c.Now, Stock: inv, PublicURL: "https://shop.example", BatchSize: batch})
	return &fixture{t: t, ctx: ctx, d: d, cat: cat, s: s, clock: c}
}

// emails returns the outbox's emails of kind to addr, oldest first.
func (f *fixture) emails(kind, to string) []notify.Email {
	f.t.Helper()
	rows, err := f.d.Read.Query(`SELECT id FROM emails WHERE kind = $1 AND lower(to_address) = lower($2) ORDER BY id`, kind, to)
	if err != nil {
		f.t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	m := notify.NewMailer(f.d, nil, "", nil)
	var out []notify.Email
	for _, id := range ids {
		e, err := m.Email(f.ctx, id)
		if err != nil {
			f.t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func (f *fixture) count(query string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.d.Read.QueryRow(query, args...).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

var tokenRE = regexp.MustCompile(`\?t=([0-9a-f.]+)`)

// linkToken returns the token of the first link in an email.
func linkToken(t *testing.T, e notify.Email) string {
	t.Helper()
	m := tokenRE.FindStringSubmatch(e.Text)
	if m == nil {
		t.Fatalf("no link in %q", e.Text)
	}
	return m[1]
}

// join signs addr up and confirms it from its email.
func (f *fixture) joinConfirmed(slug, addr string) *waitlist.Entry {
	f.t.Helper()
	if _, err := f.s.Join(f.ctx, "us", slug, addr); err != nil {
		f.t.Fatalf("join %s %s: %v", slug, addr, err)
	}
	mails := f.emails(waitlist.KindConfirm, addr)
	if len(mails) == 0 {
		f.t.Fatalf("no confirmation email to %s", addr)
	}
	e, err := f.s.Confirm(f.ctx, linkToken(f.t, mails[len(mails)-1]))
	if err != nil {
		f.t.Fatalf("confirm %s: %v", addr, err)
	}
	return e
}

func TestJoinRules(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d, 0)
		for _, bad := range []string{"", "nope", "a@b", "Ada <ada@example.com>", "ada@example.com\r\nBcc: x@y.z", strings.Repeat("a", 300) + "@example.com"} {
			_, err := f.s.Join(f.ctx, "us", "mistore-phone-14", bad)
			var fe *input.FieldError
			if !errors.Is(err, waitlist.ErrInvalidEmail) || !errors.As(err, &fe) || fe.Field != "email" {
				t.Errorf("email %q: %v, want a field error on email", bad, err)
			}
		}
		if _, err := f.s.Join(f.ctx, "us", "no-such-thing", "ada@example.com"); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("unknown product: %v", err)
		}
		if _, err := f.s.Join(f.ctx, "xx", "mistore-phone-14", "ada@example.com"); !errors.Is(err, market.ErrNotFound) {
			t.Errorf("unknown market: %v", err)
		}
		// The band is sold in the US: nothing to wait for.
		if _, err := f.s.Join(f.ctx, "us", "mistore-band-8", "ada@example.com"); !errors.Is(err, waitlist.ErrAvailable) {
			t.Errorf("available product: %v, want ErrAvailable", err)
		}
		// Not sold (phone), coming soon (watch), out of stock (power bank).
		for _, slug := range []string{"mistore-phone-14", "mistore-watch-s4", "mistore-power-bank-20000"} {
			res, err := f.s.Join(f.ctx, "us", slug, "ada@example.com")
			if err != nil || !res.Created || !res.Mailed {
				t.Errorf("%s: %+v %v", slug, res, err)
			}
		}
		if n := f.count("SELECT count(*) FROM waitlist_entries"); n != 3 {
			t.Errorf("%d entries, want 3", n)
		}
	})
}

// TestHundredSignUps: the same address a hundred times, in any case and
// all at once, is one entry and one confirmation email an hour.
func TestHundredSignUps(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d, 0)
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for i := range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				addr := "ada@example.com"
				if i%2 == 1 {
					addr = " Ada@Example.COM "
				}
				if _, err := f.s.Join(f.ctx, "us", "mistore-phone-14", addr); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if n := f.count("SELECT count(*) FROM waitlist_entries"); n != 1 {
			t.Fatalf("%d entries, want 1", n)
		}
		if n := len(f.emails(waitlist.KindConfirm, "ada@example.com")); n != 1 {
			t.Fatalf("%d confirmation emails, want 1", n)
		}
		f.clock.Add(59 * time.Minute)
		f.s.Join(f.ctx, "us", "mistore-phone-14", "ada@example.com")
		if n := len(f.emails(waitlist.KindConfirm, "ada@example.com")); n != 1 {
			t.Errorf("%d confirmation emails within the hour, want 1", n)
		}
		f.clock.Add(time.Minute)
		for range 5 {
			f.s.Join(f.ctx, "us", "mistore-phone-14", "ada@example.com")
		}
		mails := f.emails(waitlist.KindConfirm, "ada@example.com")
		if len(mails) != 2 {
			t.Fatalf("%d confirmation emails after the hour, want 2", len(mails))
		}
		// Confirmed, a sign-up sends nothing more.
		if _, err := f.s.Confirm(f.ctx, linkToken(t, mails[1])); err != nil {
			t.Fatal(err)
		}
		f.clock.Add(2 * time.Hour)
		if res, err := f.s.Join(f.ctx, "us", "mistore-phone-14", "ada@example.com"); err != nil || res.Mailed {
			t.Errorf("sign-up when confirmed: %+v %v", res, err)
		}
		if n := len(f.emails(waitlist.KindConfirm, "ada@example.com")); n != 2 {
			t.Errorf("%d confirmation emails after confirming, want 2", n)
		}
	})
}

func TestConfirmAndUnsubscribe(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d, 0)
		f.s.Join(f.ctx, "us", "mistore-phone-14", "ada@example.com")
		f.s.Join(f.ctx, "us", "mistore-phone-14", "eve@example.com")
		mail := f.emails(waitlist.KindConfirm, "ada@example.com")[0]
		if !strings.Contains(mail.Text, "https://shop.example/us/waitlist/confirm?t=") || !strings.Contains(mail.Text, "Mistore Phone 14") ||
			!strings.Contains(mail.Text, "the United States") {
			t.Errorf("confirmation email: %s", mail.Text)
		}
		token := linkToken(t, mail)
		eveToken := linkToken(t, f.emails(waitlist.KindConfirm, "eve@example.com")[0])
		// Forged and altered links confirm nothing.
		id, _, _ := strings.Cut(token, ".")
		eveID, eveRest, _ := strings.Cut(eveToken, ".")
		for _, bad := range []string{"", "x", token[:len(token)-1] + "0", token + "0", eveID + "." + strings.SplitN(token, ".", 2)[1],
			id + "." + eveRest, "1.1", id + ".2." + token[strings.LastIndex(token, ".")+1:]} {
			if bad == token {
				continue
			}
			if _, err := f.s.Confirm(f.ctx, bad); !errors.Is(err, waitlist.ErrInvalidToken) {
				t.Errorf("confirm %q: %v, want ErrInvalidToken", bad, err)
			}
		}
		if n := f.count("SELECT count(*) FROM waitlist_entries WHERE confirmed_at IS NOT NULL"); n != 0 {
			t.Fatalf("%d confirmed by forged links", n)
		}
		e, err := f.s.Confirm(f.ctx, token)
		if err != nil || !e.Confirmed() || e.ProductSlug != "mistore-phone-14" || e.Market != "us" {
			t.Fatalf("confirm: %+v %v", e, err)
		}
		if _, err := f.s.Confirm(f.ctx, token); err != nil {
			t.Errorf("confirm twice: %v", err)
		}
		// A confirmation token is not an unsubscribe token.
		if _, err := f.s.Unsubscribe(f.ctx, token); !errors.Is(err, waitlist.ErrInvalidToken) {
			t.Errorf("unsubscribe with a confirmation token: %v", err)
		}
		conf, unsub := f.s.Tokens(f.ctx, e)
		if conf != token {
			t.Errorf("tokens differ: %s %s", conf, token)
		}
		// Eve signs her own address's token on Ada's entry: refused; and
		// Ada's unsubscribe token altered in any way: refused.
		forged := f.s.ForgeUnsubscribe(f.ctx, e.ID, "eve@example.com", e.ProductID, "us")
		uid, umac, _ := strings.Cut(unsub, ".")
		for _, bad := range []string{forged, uid + "." + umac[:len(umac)-1] + "x", eveID + "." + umac, uid + "." + strings.ToUpper(umac), unsub + ".1"} {
			if _, err := f.s.Unsubscribe(f.ctx, bad); !errors.Is(err, waitlist.ErrInvalidToken) {
				t.Errorf("unsubscribe %q: %v, want ErrInvalidToken", bad, err)
			}
		}
		if n := f.count("SELECT count(*) FROM waitlist_entries WHERE unsubscribed_at IS NOT NULL"); n != 0 {
			t.Fatalf("%d unsubscribed by forged links", n)
		}
		if got, err := f.s.CheckUnsubscribe(f.ctx, unsub); err != nil || got.ID != e.ID || got.Unsubscribed() {
			t.Errorf("check unsubscribe: %+v %v", got, err)
		}
		if got, err := f.s.Unsubscribe(f.ctx, unsub); err != nil || !got.Unsubscribed() {
			t.Errorf("unsubscribe: %+v %v", got, err)
		}
		if _, err := f.s.Unsubscribe(f.ctx, unsub); err != nil {
			t.Errorf("unsubscribe twice: %v", err)
		}
		// The old confirmation link does not put her back.
		if _, err := f.s.Confirm(f.ctx, token); !errors.Is(err, waitlist.ErrInvalidToken) {
			t.Errorf("confirm after unsubscribing: %v", err)
		}
		// Signing up again starts a new round that must be confirmed anew,
		// once the hour since the last confirmation email is over.
		f.clock.Add(time.Hour)
		if res, err := f.s.Join(f.ctx, "us", "mistore-phone-14", "ada@example.com"); err != nil || !res.Mailed || res.EntryID != e.ID {
			t.Fatalf("join again: %+v %v", res, err)
		}
		mails := f.emails(waitlist.KindConfirm, "ada@example.com")
		if len(mails) != 2 {
			t.Fatalf("%d confirmation emails", len(mails))
		}
		if _, err := f.s.Confirm(f.ctx, linkToken(t, mails[1])); err != nil {
			t.Errorf("confirm the new round: %v", err)
		}
		// The unsubscribe link works in every round.
		if _, err := f.s.CheckUnsubscribe(f.ctx, unsub); err != nil {
			t.Errorf("unsubscribe link in the new round: %v", err)
		}
	})
}

// setUp makes the phone sellable in the US but for its certificate:
// priced, in stock.
func (f *fixture) phoneReadyButCert() {
	f.t.Helper()
	if _, err := f.cat.SetPrice(f.ctx, "mistore-phone-14", "us", "MP14-BLK-256", 79999); err != nil {
		f.t.Fatal(err)
	}
	f.setStock("MP14-BLK-256", 5)
}

func (f *fixture) setStock(sku string, n int) {
	f.t.Helper()
	err := f.d.Tx(f.ctx, func(tx db.Querier) error { return inventory.SetOnHand(f.ctx, tx, sku, "us-east", n) })
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) notify(want int) {
	f.t.Helper()
	n, err := f.s.Notify(f.ctx)
	if err != nil || n != want {
		f.t.Fatalf("notify: %d %v, want %d", n, err, want)
	}
}

// available returns how many "available" emails went to addr.
func (f *fixture) available(addr string) int {
	return len(f.emails(waitlist.KindAvailable, addr))
}

func TestNotifyOnCertificate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d, 0)
		f.joinConfirmed("mistore-phone-14", "ada@example.com")
		f.s.Join(f.ctx, "us", "mistore-phone-14", "bob@example.com") // never confirms
		carol := f.joinConfirmed("mistore-phone-14", "carol@example.com")
		_, unsub := f.s.Tokens(f.ctx, carol)
		if _, err := f.s.Unsubscribe(f.ctx, unsub); err != nil {
			t.Fatal(err)
		}
		f.phoneReadyButCert()
		f.notify(0)
		if _, err := f.cat.AddCertification(f.ctx, "mistore-phone-14", "us", catalog.Certification{
			Scheme: "FCC", Reference: "2AFZZ-MP14", ValidFrom: f.clock.Now().Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		f.notify(1)
		f.notify(0)
		if f.available("ada@example.com") != 1 || f.available("bob@example.com") != 0 || f.available("carol@example.com") != 0 {
			t.Errorf("available emails: ada %d bob %d carol %d", f.available("ada@example.com"), f.available("bob@example.com"), f.available("carol@example.com"))
		}
		mail := f.emails(waitlist.KindAvailable, "ada@example.com")[0]
		if !strings.Contains(mail.Text, "https://shop.example/us/products/mistore-phone-14") ||
			!strings.Contains(mail.Text, "https://shop.example/us/waitlist/unsubscribe?t=") {
			t.Errorf("available email: %s", mail.Text)
		}
		// Its unsubscribe link works without signing in.
		if e, err := f.s.Unsubscribe(f.ctx, linkToken(t, mail)); err != nil || !e.Unsubscribed() {
			t.Errorf("unsubscribe from the available email: %v", err)
		}
		// Bob confirms late: the product is there, so he is told at the
		// next run, once.
		if _, err := f.s.Confirm(f.ctx, linkToken(t, f.emails(waitlist.KindConfirm, "bob@example.com")[0])); err != nil {
			t.Fatal(err)
		}
		f.notify(1)
		f.notify(0)
		if f.available("bob@example.com") != 1 {
			t.Errorf("bob: %d", f.available("bob@example.com"))
		}
	})
}

func TestNotifyOnRestock(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d, 0)
		f.joinConfirmed("mistore-power-bank-20000", "ada@example.com")
		f.notify(0)
		f.setStock("MPB20-BLK", 3)
		f.notify(1)
		f.notify(0)
		if f.available("ada@example.com") != 1 {
			t.Errorf("%d emails", f.available("ada@example.com"))
		}
		// Out of stock again, Ada asks again: a new round, confirmed anew,
		// told once more when it is back.
		f.setStock("MPB20-BLK", 0)
		f.clock.Add(time.Hour)
		f.joinConfirmed("mistore-power-bank-20000", "ada@example.com")
		f.notify(0)
		f.setStock("MPB20-GRY", 1)
		f.notify(1)
		f.notify(0)
		if f.available("ada@example.com") != 2 {
			t.Errorf("%d emails over two rounds, want 2", f.available("ada@example.com"))
		}
	})
}

func TestNotifyOnLaunchAndListing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d, 0)
		// The watch launches in the US on March 1, 2027 at 16:00 UTC.
		f.joinConfirmed("mistore-watch-s4", "ada@example.com")
		f.notify(0)
		f.clock.Add(time.Date(2027, 3, 1, 15, 59, 0, 0, time.UTC).Sub(f.clock.Now()))
		f.notify(0)
		f.clock.Add(2 * time.Minute)
		f.notify(1)
		f.notify(0)
		// A listing opened: the phone is taken off the Indian store, Bob
		// waits there, and it is listed again.
		if _, err := f.cat.SetListing(f.ctx, "mistore-phone-14", "in", catalog.Listing{Listed: false}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.Join(f.ctx, "in", "mistore-phone-14", "bob@example.com"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.Confirm(f.ctx, linkToken(t, f.emails(waitlist.KindConfirm, "bob@example.com")[0])); err != nil {
			t.Fatal(err)
		}
		f.notify(0)
		if _, err := f.cat.SetListing(f.ctx, "mistore-phone-14", "in", catalog.Listing{Listed: true}); err != nil {
			t.Fatal(err)
		}
		f.notify(1)
		if f.available("ada@example.com") != 1 || f.available("bob@example.com") != 1 {
			t.Errorf("ada %d bob %d", f.available("ada@example.com"), f.available("bob@example.com"))
		}
	})
}

// TestNotifyCrashMidway: a notifier that dies between batches, or inside
// one before its commit, leaves no duplicates and skips no one once run
// again.
func TestNotifyCrashMidway(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d, 2)
		addrs := []string{"a@example.com", "b@example.com", "c@example.com", "d@example.com", "e@example.com"}
		for _, a := range addrs {
			f.joinConfirmed("mistore-power-bank-20000", a)
		}
		f.s.Join(f.ctx, "us", "mistore-power-bank-20000", "unconfirmed@example.com")
		f.setStock("MPB20-BLK", 3)
		crash := errors.New("crash")
		f.s.SetBeforeCommit(func(batch int) error {
			if batch == 2 {
				return crash
			}
			return nil
		})
		n, err := f.s.Notify(f.ctx)
		if !errors.Is(err, crash) || n != 2 {
			t.Fatalf("crashing notify: %d %v, want 2 and the crash", n, err)
		}
		if got := f.count("SELECT count(*) FROM emails WHERE kind = $1", waitlist.KindAvailable); got != 2 {
			t.Fatalf("%d emails after the crash, want the first batch's 2", got)
		}
		f.s.SetBeforeCommit(nil)
		f.notify(3)
		f.notify(0)
		for _, a := range addrs {
			if n := f.available(a); n != 1 {
				t.Errorf("%s: %d emails, want 1", a, n)
			}
		}
		if n := f.available("unconfirmed@example.com"); n != 0 {
			t.Errorf("unconfirmed: %d emails", n)
		}
		if got := f.count("SELECT count(*) FROM emails WHERE kind = $1", waitlist.KindAvailable); got != 5 {
			t.Errorf("%d emails in all, want 5", got)
		}
		// Two notifiers at once (two instances) still mail once each.
		for _, a := range []string{"f@example.com", "g@example.com", "h@example.com"} {
			f.setStock("MPB20-BLK", 0)
			f.joinConfirmed("mistore-power-bank-20000", a)
		}
		f.setStock("MPB20-BLK", 3)
		var wg sync.WaitGroup
		total := make(chan int, 2)
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := f.s.Notify(f.ctx)
				if err != nil {
					t.Error(err)
				}
				total <- n
			}()
		}
		wg.Wait()
		close(total)
		sum := 0
		for n := range total {
			sum += n
		}
		if sum != 3 {
			t.Errorf("two notifiers told %d, want 3", sum)
		}
		if got := f.count("SELECT count(*) FROM emails WHERE kind = $1", waitlist.KindAvailable); got != 8 {
			t.Errorf("%d emails in all, want 8", got)
		}
	})
}

func TestDemand(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d, 0)
		f.joinConfirmed("mistore-phone-14", "a@example.com")
		f.joinConfirmed("mistore-phone-14", "b@example.com")
		f.s.Join(f.ctx, "us", "mistore-phone-14", "c@example.com")
		f.clock.Add(-8 * 24 * time.Hour) // a week and a day earlier
		f.s.Join(f.ctx, "us", "mistore-pad-6", "a@example.com")
		f.clock.Add(8 * 24 * time.Hour)
		if _, err := f.cat.SetListing(f.ctx, "mistore-phone-14", "in", catalog.Listing{Listed: false}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.Join(f.ctx, "in", "mistore-phone-14", "x@example.com"); err != nil {
			t.Fatal(err)
		}
		dem, err := f.s.Demand(f.ctx, waitlist.DemandQuery{Market: "us", Weeks: 4})
		if err != nil {
			t.Fatal(err)
		}
		if len(dem.Rows) != 2 || dem.Rows[0].ProductSlug != "mistore-phone-14" || dem.Rows[0].Confirmed != 2 || dem.Rows[0].Unconfirmed != 1 ||
			dem.Rows[1].ProductSlug != "mistore-pad-6" || dem.Rows[1].Unconfirmed != 1 || dem.Confirmed != 2 || dem.Unconfirmed != 2 {
			t.Errorf("rows %+v totals %d %d", dem.Rows, dem.Confirmed, dem.Unconfirmed)
		}
		if len(dem.Weeks) != 4 || dem.Weeks[3].Entries != 3 || dem.Weeks[3].Confirmed != 2 || dem.Weeks[2].Entries != 1 ||
			dem.Weeks[3].Start.Weekday() != time.Monday {
			t.Errorf("weeks %+v", dem.Weeks)
		}
		all, err := f.s.Demand(f.ctx, waitlist.DemandQuery{})
		if err != nil || len(all.Rows) != 3 || len(all.Weeks) != 12 {
			t.Errorf("all markets: %+v %v", all, err)
		}
		top, err := f.s.DemandRows(f.ctx, d.Reader(), "", 1)
		if err != nil || len(top) != 1 || top[0].ProductSlug != "mistore-phone-14" {
			t.Errorf("top: %+v %v", top, err)
		}
	})
}
