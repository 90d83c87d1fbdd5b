package waitlist_test

import (
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/waitlist"
)

// TestEraseEmail: erasing an address takes all its entries, in any case
// of letters, and nobody else's.
func TestEraseEmail(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d, 0)
		f.joinConfirmed("mistore-phone-14", "ada@example.com")
		if _, err := f.s.Join(f.ctx, "us", "mistore-watch-s4", "Ada@Example.com"); err != nil {
			t.Fatal(err)
		}
		f.joinConfirmed("mistore-phone-14", "bob@example.com")
		if err := d.Tx(f.ctx, func(tx db.Querier) error { return waitlist.EraseEmail(f.ctx, tx, " ADA@example.com ") }); err != nil {
			t.Fatal(err)
		}
		if n := f.count("SELECT count(*) FROM waitlist_entries WHERE email_key = 'ada@example.com'"); n != 0 {
			t.Errorf("%d entries of the erased address left", n)
		}
		if n := f.count("SELECT count(*) FROM waitlist_entries WHERE email_key = 'bob@example.com'"); n != 1 {
			t.Errorf("%d entries of another address, want 1", n)
		}
	})
}
