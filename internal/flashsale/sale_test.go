package flashsale

import (
	"errors"
	"strings"
	"testing"
	"time"

	"mistore/internal/audit"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/input"
	"mistore/internal/inventory"
)

func TestCreateRefuses(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		// The phone has no FCC certification: the US may not sell it,
		// whatever the stock.
		phone := f.band(10, 1)
		phone.SKU = "MP14-BLK-256"
		_, err := f.s.Create(f.ctx, phone)
		var fe *input.FieldError
		if !errors.Is(err, ErrNotSellable) || !errors.As(err, &fe) || fe.Field != "sku" || !strings.Contains(err.Error(), "not sold in") {
			t.Errorf("phone in the US: %v, want ErrNotSellable on sku saying why", err)
		}
		// 140 in us-east and 95 in us-west: 150 are not in one warehouse.
		if _, err := f.s.Create(f.ctx, f.band(150, 1)); !errors.Is(err, inventory.ErrOutOfStock) {
			t.Errorf("150 bands: %v, want ErrOutOfStock", err)
		}
		bad := map[string]func(*NewSale){
			"market":                 func(n *NewSale) { n.Market = "xx" },
			"sku":                    func(n *NewSale) { n.SKU = "NOPE" },
			"price":                  func(n *NewSale) { n.Price = 0 },
			"price too high":         func(n *NewSale) { n.Price = 1_000_000_000 },
			"quantity":               func(n *NewSale) { n.Quantity = 0 },
			"quantity too high":      func(n *NewSale) { n.Quantity = MaxQuantity + 1 },
			"per_customer_limit":     func(n *NewSale) { n.PerCustomerLimit = 0 },
			"limit above quantity":   func(n *NewSale) { n.PerCustomerLimit = 11 },
			"ends_at":                func(n *NewSale) { n.EndsAt = n.StartsAt },
			"registration_closes_at": func(n *NewSale) { n.RegistrationClosesAt = n.StartsAt.Add(time.Second) },
			"ended already":          func(n *NewSale) { n.StartsAt, n.EndsAt = n.StartsAt.Add(-2*time.Hour), n.StartsAt.Add(-time.Hour) },
		}
		for name, change := range bad {
			ns := f.band(10, 1)
			change(&ns)
			_, err := f.s.Create(f.ctx, ns)
			if !errors.As(err, &fe) {
				t.Errorf("%s: %v, want a field error", name, err)
			}
		}
		var n int
		d.Read.QueryRow("SELECT count(*) FROM flash_sales").Scan(&n)
		if n != 0 {
			t.Errorf("%d sales written by refused creations", n)
		}
		checkStock(t, d)
	})
}

func TestCreateSetsUnitsAside(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		sl := f.create(t, f.band(100, 2))
		if sl.Warehouse != "us-east" || sl.Name != "Mistore Band 8 (Black)" || sl.ProductSlug != "mistore-band-8" ||
			sl.Price.Amount != 1999 || sl.Price.Currency != "USD" || sl.StateAt(f.clock.Now()) != Live || sl.Remaining() != 100 {
			t.Errorf("created %+v", sl)
		}
		if q, state := f.pool(t, sl.ID); q != 100 || state != "live" {
			t.Errorf("pool: %d %s", q, state)
		}
		var reserved int
		d.Read.QueryRow("SELECT reserved FROM stock WHERE sku = 'MB8-BLK' AND warehouse = 'us-east'").Scan(&reserved)
		if reserved != 100 {
			t.Errorf("reserved %d, want 100", reserved)
		}
		checkStock(t, d)
		var exp time.Time
		d.Read.QueryRow("SELECT expires_at FROM reservations WHERE owner = $1", PoolOwner(sl.ID)).Scan(&exp)
		if !exp.Equal(sl.EndsAt.Add(ClaimTTL + poolGrace)) {
			t.Errorf("pool expires %v, want %v", exp, sl.EndsAt.Add(ClaimTTL+poolGrace))
		}
		entries := auditActions(t, d, sl.ID)
		if len(entries) != 1 || entries[0] != "flashsale.create" {
			t.Errorf("audit: %v", entries)
		}
		list, err := f.s.List(f.ctx, "us")
		if err != nil || len(list) != 1 || list[0].ID != sl.ID {
			t.Errorf("List: %v %v", list, err)
		}
		if list, _ := f.s.List(f.ctx, "in"); len(list) != 0 {
			t.Errorf("List(in): %d sales", len(list))
		}
		all, err := f.s.ListAll(f.ctx, AdminFilter{})
		if err != nil || len(all) != 1 {
			t.Errorf("ListAll: %v %v", all, err)
		}
		if _, err := f.s.Get(f.ctx, sl.ID+100); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get unknown: %v", err)
		}
		// Without an actor the change would go unlogged: refused.
		if _, err := f.s.Create(t.Context(), f.band(1, 1)); !errors.Is(err, audit.ErrNoActor) {
			t.Errorf("no actor: %v", err)
		}
	})
}

func auditActions(t *testing.T, d *db.DB, id int64) []string {
	t.Helper()
	rows, err := d.Read.Query("SELECT action FROM audit_log WHERE subject = $1 ORDER BY id", subject(id))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		rows.Scan(&a)
		out = append(out, a)
	}
	return out
}

func TestLifecycle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		now := f.clock.Now()
		ns := f.band(10, 1)
		ns.StartsAt, ns.EndsAt = now.Add(time.Hour), now.Add(2*time.Hour)
		sl := f.create(t, ns)
		if sl.StateAt(now) != Scheduled {
			t.Errorf("state %s, want scheduled", sl.StateAt(now))
		}
		starts, ends := now.Add(30*time.Minute), now.Add(3*time.Hour)
		if _, err := f.s.Schedule(f.ctx, sl.ID, starts, starts, time.Time{}); err == nil {
			t.Error("scheduled to end as it starts")
		}
		sl, err := f.s.Schedule(f.ctx, sl.ID, starts, ends, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if !sl.StartsAt.Equal(db.Time(starts)) || !sl.EndsAt.Equal(db.Time(ends)) {
			t.Errorf("rescheduled to %v..%v", sl.StartsAt, sl.EndsAt)
		}
		var exp time.Time
		d.Read.QueryRow("SELECT expires_at FROM reservations WHERE owner = $1", PoolOwner(sl.ID)).Scan(&exp)
		if !exp.Equal(db.Time(ends).Add(ClaimTTL + poolGrace)) {
			t.Errorf("pool expires %v after rescheduling", exp)
		}

		f.clock.Add(31 * time.Minute) // started
		if _, err := f.s.Schedule(f.ctx, sl.ID, starts, ends.Add(time.Hour), time.Time{}); !errors.Is(err, ErrState) {
			t.Errorf("rescheduling a started sale: %v", err)
		}
		if sl, err = f.s.Pause(f.ctx, sl.ID); err != nil || sl.StateAt(f.clock.Now()) != Paused {
			t.Errorf("pause: %v", err)
		}
		if sl, err = f.s.Resume(f.ctx, sl.ID); err != nil || sl.StateAt(f.clock.Now()) != Live {
			t.Errorf("resume: %v", err)
		}
		if sl, err = f.s.End(f.ctx, sl.ID); err != nil || sl.StateAt(f.clock.Now()) != Ended || sl.EndedAt.IsZero() {
			t.Fatalf("end: %v", err)
		}
		d.Read.QueryRow("SELECT expires_at FROM reservations WHERE owner = $1", PoolOwner(sl.ID)).Scan(&exp)
		if !exp.Equal(sl.EndedAt.Add(ClaimTTL + poolGrace)) {
			t.Errorf("pool expires %v after End at %v", exp, sl.EndedAt)
		}
		for name, fn := range map[string]func() (*Sale, error){
			"pause":  func() (*Sale, error) { return f.s.Pause(f.ctx, sl.ID) },
			"resume": func() (*Sale, error) { return f.s.Resume(f.ctx, sl.ID) },
			"end":    func() (*Sale, error) { return f.s.End(f.ctx, sl.ID) },
		} {
			if _, err := fn(); !errors.Is(err, ErrState) {
				t.Errorf("%s an ended sale: %v", name, err)
			}
		}
		if _, err := f.s.Pause(f.ctx, sl.ID+100); !errors.Is(err, ErrNotFound) {
			t.Errorf("pause unknown: %v", err)
		}
		want := []string{"flashsale.create", "flashsale.schedule", "flashsale.pause", "flashsale.resume", "flashsale.end"}
		if got := auditActions(t, d, sl.ID); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("audit %v, want %v", got, want)
		}
		// What the pool holds goes back when it runs out.
		inv := inventory.NewService(d)
		if _, err := inv.ReleaseExpired(f.ctx, exp.Add(time.Second), 10); err != nil {
			t.Fatal(err)
		}
		if _, state := f.pool(t, sl.ID); state != "released" {
			t.Errorf("pool %s after it ran out", state)
		}
		checkStock(t, d)
	})
}

func TestRegistration(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		now := f.clock.Now()
		ns := f.band(10, 1)
		ns.StartsAt, ns.EndsAt, ns.RegistrationClosesAt = now.Add(time.Hour), now.Add(2*time.Hour), now.Add(30*time.Minute)
		sl := f.create(t, ns)
		if !sl.RegistrationRequired() || !sl.RegistrationOpen(now) {
			t.Fatalf("registration: %+v", sl)
		}
		for range 2 {
			if err := f.s.Register(f.ctx, sl.ID, 7); err != nil {
				t.Fatalf("register: %v", err)
			}
		}
		if ok, err := f.s.Registered(f.ctx, sl.ID, 7); !ok || err != nil {
			t.Errorf("Registered(7) = %v, %v", ok, err)
		}
		if ok, _ := f.s.Registered(f.ctx, sl.ID, 8); ok {
			t.Error("8 registered without registering")
		}
		f.clock.Add(30 * time.Minute)
		if err := f.s.Register(f.ctx, sl.ID, 8); !errors.Is(err, ErrRegistrationClosed) {
			t.Errorf("register after it closed: %v", err)
		}
		open := f.create(t, f.band(5, 1))
		if err := f.s.Register(f.ctx, open.ID, 8); !errors.Is(err, ErrRegistrationClosed) {
			t.Errorf("register for a sale without registration: %v", err)
		}
		if err := f.s.Register(f.ctx, open.ID+100, 8); !errors.Is(err, ErrNotFound) {
			t.Errorf("register for no sale: %v", err)
		}
	})
}

// An expired claim's units go back to the sale once, and are claimable
// again exactly once.
func TestSweepGivesExpiredClaimsBack(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		sl := f.create(t, f.band(2, 2))
		c := f.claim(t, sl.ID, 1, 2)
		if _, err := testClaim(f.ctx, f.s, sl.ID, 2, 1); !errors.Is(err, ErrSoldOut) {
			t.Fatalf("claim of a sold-out sale: %v", err)
		}
		f.counters(t, sl.ID, 2, 0, 0)
		if n, err := f.s.Sweep(f.ctx, f.clock.Now(), 100); n != 0 || err != nil {
			t.Errorf("sweep before expiry: %d, %v", n, err)
		}
		f.clock.Add(ClaimTTL + time.Second)
		if n, err := f.s.Sweep(f.ctx, f.clock.Now(), 100); n != 1 || err != nil {
			t.Errorf("sweep: %d, %v", n, err)
		}
		if n, err := f.s.Sweep(f.ctx, f.clock.Now(), 100); n != 0 || err != nil {
			t.Errorf("second sweep: %d, %v", n, err)
		}
		f.counters(t, sl.ID, 0, 0, 2)
		var units int
		d.Read.QueryRow("SELECT units FROM flash_sale_holders WHERE sale_id = $1 AND customer_id = 1", sl.ID).Scan(&units)
		if units != 0 {
			t.Errorf("holder keeps %d units", units)
		}
		claims, err := f.s.ClaimsOf(f.ctx, sl.ID, 1)
		if err != nil || len(claims) != 1 || claims[0].State != "released" || claims[0].CartID != c.CartID {
			t.Errorf("ClaimsOf: %+v %v", claims, err)
		}
		// Two units came back: two more claims of one, then sold out.
		f.claim(t, sl.ID, 2, 1)
		f.claim(t, sl.ID, 3, 1)
		if _, err := testClaim(f.ctx, f.s, sl.ID, 4, 1); !errors.Is(err, ErrSoldOut) {
			t.Errorf("third claim: %v", err)
		}
		f.counters(t, sl.ID, 2, 0, 2)
		// The pool never moved: claims only count.
		if q, state := f.pool(t, sl.ID); q != 2 || state != "live" {
			t.Errorf("pool %d %s", q, state)
		}
		checkStock(t, d)
	})
}
