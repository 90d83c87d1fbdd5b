package customer_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"mistore/internal/customer"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

func home() customer.Address {
	return customer.Address{Name: "Ada Lovelace", Line1: "1 Main Street", Line2: "Apt 2", City: "Springfield", Region: "IL",
		PostalCode: "62701", Country: "us"}
}

func TestAddresses(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		ada := e.register(t, "ada@example.com", "Ada")
		bob := e.register(t, "bob@example.com", "Bob")

		in := home()
		in.ID = 999 // ignored
		in.Name = "  Ada Lovelace "
		a, err := e.s.AddAddress(ctx, ada.ID, in)
		if err != nil {
			t.Fatal(err)
		}
		want := home()
		want.ID, want.Country = a.ID, "US"
		if a != want || a.ID == 999 {
			t.Errorf("added %+v, want %+v", a, want)
		}
		b, err := e.s.AddAddress(ctx, bob.ID, customer.Address{Name: "Bob", Line1: "2 Side Street", City: "London", Country: "GB"})
		if err != nil {
			t.Fatal(err)
		}
		list, err := e.s.Addresses(ctx, ada.ID)
		if err != nil || len(list) != 1 || list[0] != a {
			t.Errorf("Ada's addresses %+v, %v", list, err)
		}

		// Bob can neither see nor delete Ada's address.
		list, err = e.s.Addresses(ctx, bob.ID)
		if err != nil || len(list) != 1 || list[0] != b {
			t.Errorf("Bob's addresses %+v, %v", list, err)
		}
		if err := e.s.DeleteAddress(ctx, bob.ID, a.ID); !errors.Is(err, customer.ErrNotFound) {
			t.Errorf("Bob deleting Ada's address: %v", err)
		}
		if list, _ := e.s.Addresses(ctx, ada.ID); len(list) != 1 {
			t.Error("Bob deleted Ada's address")
		}
		if err := e.s.DeleteAddress(ctx, ada.ID, a.ID+b.ID+100); !errors.Is(err, customer.ErrNotFound) {
			t.Errorf("deleting no address: %v", err)
		}
		if err := e.s.DeleteAddress(ctx, ada.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		if list, _ := e.s.Addresses(ctx, ada.ID); len(list) != 0 {
			t.Errorf("after deleting: %+v", list)
		}
		if err := e.s.DeleteAddress(ctx, ada.ID, a.ID); !errors.Is(err, customer.ErrNotFound) {
			t.Errorf("deleting twice: %v", err)
		}
		if _, err := e.s.AddAddress(ctx, ada.ID+bob.ID+100, home()); !errors.Is(err, customer.ErrNotFound) {
			t.Errorf("address for no one: %v", err)
		}

		for field, f := range map[string]func(*customer.Address){
			"name":        func(a *customer.Address) { a.Name = " " },
			"line1":       func(a *customer.Address) { a.Line1 = "" },
			"city":        func(a *customer.Address) { a.City = "Spring\nfield" },
			"postal_code": func(a *customer.Address) { a.PostalCode = strings.Repeat("9", 21) },
			"line2":       func(a *customer.Address) { a.Line2 = strings.Repeat("x", 1<<20) },
			"country":     func(a *customer.Address) { a.Country = "USA" },
		} {
			a := home()
			f(&a)
			_, err := e.s.AddAddress(ctx, ada.ID, a)
			fieldError(t, "address "+field, err, field, customer.ErrInvalidAddress)
		}
		a = home()
		a.Country = "1x"
		_, err = e.s.AddAddress(ctx, ada.ID, a)
		fieldError(t, "country 1x", err, "country", customer.ErrInvalidAddress)
	})
}

// TestAddressLimit checks the limit holds under concurrent additions.
func TestAddressLimit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		c := e.register(t, "ada@example.com", "Ada")
		for range customer.MaxAddresses - 5 {
			if _, err := e.s.AddAddress(ctx, c.ID, home()); err != nil {
				t.Fatal(err)
			}
		}
		const n = 12
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { _, errs[i] = e.s.AddAddress(ctx, c.ID, home()) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, customer.ErrTooManyAddresses):
				t.Error(err)
			}
		}
		list, err := e.s.Addresses(ctx, c.ID)
		if err != nil || ok != 5 || len(list) != customer.MaxAddresses {
			t.Errorf("%d of %d concurrent additions succeeded, %d addresses (%v); want 5 and %d", ok, n, len(list), err, customer.MaxAddresses)
		}
	})
}
