package checkout_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"mistore/internal/audit"
	"mistore/internal/checkout"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/inventory"
	"mistore/internal/money"
	"mistore/internal/payment"
)

var paymentCard = payment.Card{Number: "4242424242424242", Expiry: "01/40", CVC: "999"}

func staffCtx() context.Context {
	return audit.WithActor(context.Background(), audit.Actor{Kind: audit.KindStaff, ID: 7, Name: "mia@example.com"})
}

func ptr[T any](v T) *T { return &v }

func invalidField(err error) string {
	var ie *checkout.InvalidError
	if errors.As(err, &ie) {
		return ie.InvalidField()
	}
	return ""
}

func TestCreateCouponValidates(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := staffCtx()
		newStore(t, d)
		admin := checkout.NewAdmin(d, nil)
		now := time.Now()
		usd := func(n int64) *money.Money { return &money.Money{Amount: n, Currency: "USD"} }
		for _, tc := range []struct {
			code  string
			rules checkout.CouponRules
			field string
		}{
			{"", checkout.CouponRules{Kind: "percent", Percent: 10}, "code"},
			{"<script>alert(1)</script>", checkout.CouponRules{Kind: "percent", Percent: 10}, "code"},
			{"TOO-LONG-" + string(make([]byte, 40)), checkout.CouponRules{Kind: "percent", Percent: 10}, "code"},
			{"X1", checkout.CouponRules{Kind: "bogus"}, "kind"},
			{"X1", checkout.CouponRules{Kind: "percent", Percent: 0}, "percent"},
			{"X1", checkout.CouponRules{Kind: "percent", Percent: 101}, "percent"},
			{"X1", checkout.CouponRules{Kind: "fixed"}, "amount"},
			{"X1", checkout.CouponRules{Kind: "fixed", Amount: usd(-5)}, "amount"},
			{"X1", checkout.CouponRules{Kind: "fixed", Amount: &money.Money{Amount: 5, Currency: "XXX"}}, "amount"},
			{"X1", checkout.CouponRules{Kind: "fixed", Amount: usd(500), Market: "in"}, "amount"},
			{"X1", checkout.CouponRules{Kind: "percent", Percent: 5, Market: "mars"}, "market"},
			{"X1", checkout.CouponRules{Kind: "percent", Percent: 5, MinSubtotal: usd(1000)}, "min_subtotal"},
			{"X1", checkout.CouponRules{Kind: "percent", Percent: 5, Market: "in", MinSubtotal: usd(1000)}, "min_subtotal"},
			{"X1", checkout.CouponRules{Kind: "percent", Percent: 5, StartsAt: now, EndsAt: ptr(now.Add(-time.Hour))}, "ends_at"},
			{"X1", checkout.CouponRules{Kind: "percent", Percent: 5, MaxUses: ptr(0)}, "max_uses"},
			{"X1", checkout.CouponRules{Kind: "percent", Percent: 5, MaxUsesPerEmail: ptr(-1)}, "max_uses_per_email"},
		} {
			_, err := admin.CreateCoupon(ctx, tc.code, tc.rules)
			if got := invalidField(err); got != tc.field {
				t.Errorf("%q %+v: field %q (%v), want %q", tc.code, tc.rules, got, err, tc.field)
			}
		}
		var n int
		d.Read.QueryRow("SELECT count(*) FROM coupons").Scan(&n)
		if n != 0 {
			t.Errorf("%d coupons made by invalid requests", n)
		}

		c, err := admin.CreateCoupon(ctx, " spring-10 ", checkout.CouponRules{Kind: "percent", Percent: 10, Market: "US", MinSubtotal: &money.Money{Amount: 2000}, MaxUsesPerEmail: ptr(1)})
		if err != nil {
			t.Fatal(err)
		}
		if c.Code != "SPRING-10" || c.Market != "us" || c.MinSubtotal == nil || *c.MinSubtotal != (money.Money{Amount: 2000, Currency: "USD"}) || c.State != checkout.CouponActive || c.Amount != nil {
			t.Errorf("created %+v", c)
		}
		if _, err := admin.CreateCoupon(ctx, "Spring-10", checkout.CouponRules{Kind: "percent", Percent: 5}); !errors.Is(err, checkout.ErrCouponExists) {
			t.Errorf("duplicate code: %v", err)
		}
		later, err := admin.CreateCoupon(ctx, "LATER", checkout.CouponRules{Kind: "fixed", Amount: usd(500), StartsAt: now.Add(time.Hour)})
		if err != nil || later.State != checkout.CouponScheduled || later.Amount.Currency != "USD" {
			t.Fatalf("scheduled %+v, %v", later, err)
		}
		if _, err := admin.Coupon(ctx, "nope"); !errors.Is(err, checkout.ErrCouponNotFound) {
			t.Errorf("unknown coupon: %v", err)
		}
		list, err := admin.Coupons(ctx)
		if err != nil || len(list) != 2 {
			t.Fatalf("list %+v, %v", list, err)
		}
		entries, _ := audit.List(context.Background(), d.Reader(), audit.Filter{Action: "coupon.create"})
		if len(entries) != 2 || entries[1].Subject != "coupon:SPRING-10" || entries[1].Actor.Name != "mia@example.com" || entries[1].Before != nil {
			t.Errorf("audit %+v", entries)
		}
		// No actor: nothing is created.
		if _, err := admin.CreateCoupon(context.Background(), "ANON", checkout.CouponRules{Kind: "percent", Percent: 5}); !errors.Is(err, audit.ErrNoActor) {
			t.Errorf("no actor: %v", err)
		}
		if _, err := admin.Coupon(ctx, "ANON"); !errors.Is(err, checkout.ErrCouponNotFound) {
			t.Errorf("a coupon was created without an actor: %v", err)
		}
	})
}

func TestCouponEditEndAndUsage(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := staffCtx()
		s := newStore(t, d)
		s.setStock(t, "MB8-BLK", 10)
		admin := checkout.NewAdmin(d, nil)
		if _, err := admin.CreateCoupon(ctx, "TEN", checkout.CouponRules{Kind: "percent", Percent: 10, StartsAt: time.Now().Add(-time.Hour), MaxUses: ptr(5)}); err != nil {
			t.Fatal(err)
		}
		place := func(email string) error {
			r := usRequest(email)
			r.CouponCode = "ten"
			_, _, err := s.checkout.Place(context.Background(), s.cart(t, "us", inventory.Line{SKU: "MB8-BLK", Quantity: 1}), cartToken, r, returnURL)
			return err
		}
		for _, e := range []string{"a@example.com", "b@example.com", "c@example.com"} {
			if err := place(e); err != nil {
				t.Fatal(err)
			}
		}
		// Pay one of them.
		var number, session string
		d.Read.QueryRow("SELECT number, payment_session FROM orders WHERE email = 'a@example.com'").Scan(&number, &session)
		sess, err := s.provider.Pay(context.Background(), session, paymentCard)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.orders.ApplyPayment(context.Background(), "test", number, sess.ID, sess.ChargeID, sess.Amount); err != nil {
			t.Fatal(err)
		}

		// A limit below the uses so far is refused; a partial edit keeps
		// the rest.
		if _, err := admin.UpdateCoupon(ctx, "ten", func(r *checkout.CouponRules) error { r.MaxUses = ptr(2); return nil }); invalidField(err) != "max_uses" {
			t.Errorf("max uses below used: %v", err)
		}
		c, err := admin.UpdateCoupon(ctx, "ten", func(r *checkout.CouponRules) error {
			r.Percent = 15
			r.MaxUsesPerEmail = ptr(1)
			return nil
		})
		if err != nil || c.Percent != 15 || c.MaxUses == nil || *c.MaxUses != 5 || c.Used != 3 || *c.MaxUsesPerEmail != 1 {
			t.Fatalf("update %+v, %v", c, err)
		}
		// Switching kind drops the other kind's value.
		c, err = admin.UpdateCoupon(ctx, "TEN", func(r *checkout.CouponRules) error {
			r.Kind, r.Amount = checkout.CouponFixed, &money.Money{Amount: 300, Currency: "USD"}
			return nil
		})
		if err != nil || c.Percent != 0 || c.Amount == nil || c.Amount.Amount != 300 {
			t.Fatalf("switch kind %+v, %v", c, err)
		}
		if _, err := admin.UpdateCoupon(ctx, "NONE", func(*checkout.CouponRules) error { return nil }); !errors.Is(err, checkout.ErrCouponNotFound) {
			t.Errorf("update unknown: %v", err)
		}

		u, err := admin.CouponUsage(ctx, "ten")
		if err != nil {
			t.Fatal(err)
		}
		if u.Used != 3 || u.Orders != 1 || u.Pending != 2 || len(u.Discount) != 1 || u.Discount[0].Currency != "USD" || u.Discount[0].Amount <= 0 || len(u.Recent) != 3 {
			t.Errorf("usage %+v", u)
		}
		report, err := admin.CouponReport(ctx)
		if err != nil || len(report) != 1 || report[0].Orders != 1 || report[0].Pending != 2 || report[0].Recent != nil {
			t.Errorf("report %+v, %v", report, err)
		}

		ended, err := admin.EndCoupon(ctx, "ten")
		if err != nil || ended.State != checkout.CouponEnded {
			t.Fatalf("end %+v, %v", ended, err)
		}
		if err := place("d@example.com"); !errors.Is(err, checkout.ErrCoupon) {
			t.Errorf("checkout with an ended coupon: %v", err)
		}
		if again, err := admin.EndCoupon(ctx, "ten"); err != nil || !again.EndsAt.Equal(*ended.EndsAt) {
			t.Errorf("ending twice: %+v, %v", again, err)
		}
		for action, want := range map[string]int{"coupon.create": 1, "coupon.update": 2, "coupon.end": 1} {
			entries, _ := audit.List(context.Background(), d.Reader(), audit.Filter{Action: action, Subject: "coupon:TEN"})
			if len(entries) != want {
				t.Errorf("%d %s entries, want %d", len(entries), action, want)
			}
		}
	})
}

func TestTaxRates(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := staffCtx()
		s := newStore(t, d)
		admin := checkout.NewAdmin(d, nil)
		rates, err := admin.TaxRates(ctx, "us")
		if err != nil || len(rates) != 51 {
			t.Fatalf("us rates: %d, %v", len(rates), err)
		}
		for _, tc := range []struct {
			rate  checkout.TaxRate
			field string
		}{
			{checkout.TaxRate{Market: "mars", Name: "x"}, "market"},
			{checkout.TaxRate{Market: "us", Region: "ZZ", Name: "x"}, "region"},
			{checkout.TaxRate{Market: "in", Region: "<b>", Name: "x"}, "region"},
			{checkout.TaxRate{Market: "us", Region: "NJ", Name: ""}, "name"},
			{checkout.TaxRate{Market: "us", Region: "NJ", Name: "a\nb"}, "name"},
			{checkout.TaxRate{Market: "us", Region: "NJ", Name: "x", RatePCM: 100001}, "rate_pcm"},
			{checkout.TaxRate{Market: "us", Region: "NJ", Name: "x", RatePCM: -1}, "rate_pcm"},
		} {
			if _, err := admin.SetTaxRate(ctx, tc.rate); invalidField(err) != tc.field {
				t.Errorf("%+v: %v, want field %s", tc.rate, err, tc.field)
			}
		}
		got, err := admin.SetTaxRate(ctx, checkout.TaxRate{Market: "US", Region: "nj", Name: "New Jersey sales tax", RatePCM: 7000, TaxShipping: true})
		if err != nil || got.Market != "us" || got.Region != "NJ" {
			t.Fatalf("set %+v, %v", got, err)
		}
		// Checkout prices with the new rate: 39.99 at 7% = 2.80.
		s.setStock(t, "MB8-BLK", 5)
		o := s.placeBand(t, "tax@example.com")
		if o.Tax.Amount != 280 { // shipping is free over 35.00
			t.Errorf("tax %v with the new rate", o.Tax)
		}
		entries, _ := audit.List(context.Background(), d.Reader(), audit.Filter{Subject: "tax_rate:us/NJ"})
		if len(entries) != 1 || entries[0].Action != "tax_rate.set" || string(entries[0].Before) != `{"market":"us","region":"NJ","name":"New Jersey sales tax","rate_pcm":6625,"tax_shipping":true}` {
			t.Errorf("audit %+v", entries)
		}
		// A new row for a whole market.
		if _, err := admin.SetTaxRate(ctx, checkout.TaxRate{Market: "us", Name: "Default", RatePCM: 0}); err != nil {
			t.Fatal(err)
		}
		if rates, _ := admin.TaxRates(ctx, ""); len(rates) != 51+2+1 {
			t.Errorf("%d rates in all", len(rates))
		}
	})
}

// TestConcurrentCouponEdits: editors who each raise the use limit by one,
// at once, all count: no edit is lost to another read at the same time.
func TestConcurrentCouponEdits(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := staffCtx()
		admin := checkout.NewAdmin(d, nil)
		if _, err := admin.CreateCoupon(ctx, "MANY", checkout.CouponRules{Kind: "percent", Percent: 5, MaxUses: ptr(100)}); err != nil {
			t.Fatal(err)
		}
		const editors = 20
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range editors {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if _, err := admin.UpdateCoupon(ctx, "MANY", func(r *checkout.CouponRules) error {
					*r.MaxUses++
					return nil
				}); err != nil {
					t.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
		c, err := admin.Coupon(ctx, "MANY")
		if err != nil || *c.MaxUses != 100+editors {
			t.Errorf("max uses %v, %v; want %d", *c.MaxUses, err, 100+editors)
		}
		var n int
		d.Read.QueryRow("SELECT count(*) FROM audit_log WHERE action = 'coupon.update'").Scan(&n)
		if n != editors {
			t.Errorf("%d audit entries, want %d", n, editors)
		}
	})
}
