package customer_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"mistore/internal/audit"
	"mistore/internal/customer"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/notify"
)

func staffCtx() context.Context {
	return audit.WithActor(context.Background(), audit.Actor{Kind: audit.KindStaff, ID: 3, Name: "sam@example.com"})
}

// addOrder inserts a bare order placed with email.
func addOrder(t *testing.T, d *db.DB, number, email string, total int64) {
	t.Helper()
	now := db.Now()
	_, err := d.Write.Exec(`INSERT INTO orders (number, market, email, status, currency, subtotal, discount, shipping, tax, total, tax_included,
			shipping_method, shipping_name, ship_name, ship_line1, ship_line2, ship_city, ship_region, ship_postal_code, ship_country,
			payment_provider, payment_status, created_at, updated_at)
		VALUES ($1, 'us', $2, 'paid', 'USD', $3, 0, 0, 0, $3, FALSE, 'standard', 'Standard', 'A', 'B', '', 'C', 'NJ', '07102', 'US', 'test', 'paid', $4, $4)`,
		number, email, total, now)
	if err != nil {
		t.Fatal(err)
	}
}

func TestSearchAndDetail(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		ada := e.register(t, "Ada@Example.com", "Ada Lovelace")
		e.register(t, "grace@example.org", "Grace Hopper")
		e.register(t, "a_b@example.net", "Under Score")
		for i := range 3 {
			e.register(t, fmt.Sprintf("bulk%d@example.net", i), "Bulk")
		}
		for _, tc := range []struct {
			q    string
			want int
		}{
			{"", 6}, {"ADA", 1}, {"lovelace", 1}, {"example.net", 4}, {"a_b", 1}, {"%", 0}, {"nobody", 0},
		} {
			got, total, err := e.s.Search(ctx, tc.q, 0, 0)
			if err != nil || len(got) != tc.want || total != tc.want {
				t.Errorf("Search(%q) = %d of %d, %v; want %d", tc.q, len(got), total, err, tc.want)
			}
		}
		page, total, err := e.s.Search(ctx, "bulk", 2, 2)
		if err != nil || len(page) != 1 || total != 3 {
			t.Errorf("second page: %d of %d, %v", len(page), total, err)
		}

		addOrder(t, d, "US-1", "ada@example.com", 1000)
		addOrder(t, d, "US-2", "other@example.com", 2000)
		addOrder(t, d, "US-3", "ADA@EXAMPLE.COM", 3000)
		det, err := e.s.Detail(ctx, ada.ID)
		if err != nil {
			t.Fatal(err)
		}
		if det.Email != "Ada@Example.com" || det.DisabledAt != nil || len(det.Orders) != 2 || det.Orders[0].Total.Amount+det.Orders[1].Total.Amount != 4000 || det.Orders[0].Total.Currency != "USD" {
			t.Errorf("detail %+v", det)
		}
		if _, err := e.s.Detail(ctx, 9999); !errors.Is(err, customer.ErrNotFound) {
			t.Errorf("unknown customer: %v", err)
		}
	})
}

func TestDisable(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := staffCtx()
		c := e.register(t, "ada@example.com", "Ada")
		browser, err := e.s.NewSession(ctx, c.ID, customer.SessionBrowser)
		if err != nil {
			t.Fatal(err)
		}
		api, _ := e.s.NewSession(ctx, c.ID, customer.SessionAPI)
		if err := e.s.RequestPasswordReset(ctx, "ada@example.com"); err != nil {
			t.Fatal(err)
		}

		// Without an actor nothing happens.
		if _, err := e.s.Disable(context.Background(), c.ID, "fraud"); !errors.Is(err, audit.ErrNoActor) {
			t.Errorf("no actor: %v", err)
		}
		if _, _, err := e.s.Session(ctx, browser); err != nil {
			t.Fatalf("session after a refused disable: %v", err)
		}

		acct, err := e.s.Disable(ctx, c.ID, "  chargebacks ")
		if err != nil || acct.DisabledAt == nil {
			t.Fatalf("Disable = %+v, %v", acct, err)
		}
		for _, tok := range []string{browser, api} {
			if _, _, err := e.s.Session(ctx, tok); !errors.Is(err, customer.ErrNoSession) {
				t.Errorf("session of a disabled account: %v", err)
			}
		}
		if _, err := e.s.Authenticate(ctx, "ada@example.com", password); !errors.Is(err, customer.ErrInvalidCredentials) {
			t.Errorf("sign-in with the right password: %v", err)
		}
		if _, err := e.s.NewSession(ctx, c.ID, customer.SessionAPI); !errors.Is(err, customer.ErrInvalidCredentials) {
			t.Errorf("new session for a disabled account: %v", err)
		}
		if n := e.count(t, "SELECT count(*) FROM password_resets WHERE customer_id = $1 AND used_at IS NULL", c.ID); n != 0 {
			t.Errorf("%d reset links left", n)
		}
		before := len(e.emailsOf(t, notify.KindPasswordReset))
		if err := e.s.RequestPasswordReset(ctx, "ada@example.com"); err != nil {
			t.Fatal(err)
		}
		if after := len(e.emailsOf(t, notify.KindPasswordReset)); after != before {
			t.Error("a disabled account was sent a reset link")
		}
		// A session row made behind the service's back is refused too.
		if _, err := d.Write.Exec(`INSERT INTO customer_sessions (id, customer_id, kind, created_at, last_seen_at, expires_at)
			VALUES ($1, $2, 'api', $3, $3, $4)`, customer.HashToken(api), c.ID, db.Time(e.clock.Now()), db.Time(e.clock.Now().Add(customer.APILifetime))); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.s.Session(ctx, api); !errors.Is(err, customer.ErrNoSession) {
			t.Errorf("stray session of a disabled account: %v", err)
		}

		// Disabling twice changes nothing more.
		if _, err := e.s.Disable(ctx, c.ID, "again"); err != nil {
			t.Fatal(err)
		}
		acct, err = e.s.Enable(ctx, c.ID)
		if err != nil || acct.DisabledAt != nil {
			t.Fatalf("Enable = %+v, %v", acct, err)
		}
		if _, err := e.s.Authenticate(ctx, "ada@example.com", password); err != nil {
			t.Errorf("sign-in after enabling: %v", err)
		}
		if _, _, err := e.s.Session(ctx, browser); !errors.Is(err, customer.ErrNoSession) {
			t.Errorf("an ended session came back: %v", err)
		}
		if _, err := e.s.Disable(ctx, 9999, ""); !errors.Is(err, customer.ErrNotFound) {
			t.Errorf("unknown customer: %v", err)
		}
		entries, err := audit.List(context.Background(), d.Reader(), audit.Filter{Subject: fmt.Sprintf("customer:%d", c.ID)})
		if err != nil || len(entries) != 2 || entries[0].Action != "customer.enable" || entries[1].Action != "customer.disable" ||
			string(entries[1].After) != `{"email":"ada@example.com","disabled":true,"reason":"chargebacks"}` || entries[1].Actor.Name != "sam@example.com" {
			t.Errorf("audit %+v", entries)
		}
	})
}

// TestConcurrentDisable: many staff disabling at once make one change and
// one audit entry.
func TestConcurrentDisable(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := staffCtx()
		c := e.register(t, "ada@example.com", "Ada")
		var wg sync.WaitGroup
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := e.s.Disable(ctx, c.ID, ""); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if n := e.count(t, "SELECT count(*) FROM audit_log WHERE action = 'customer.disable'"); n != 1 {
			t.Errorf("%d audit entries, want 1", n)
		}
	})
}
