package market_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/market"
)

func TestLoad(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		set, err := market.Load(context.Background(), d.Read)
		if err != nil {
			t.Fatal(err)
		}
		us, err := set.Get("us")
		if err != nil {
			t.Fatal(err)
		}
		if us.Currency != "USD" || us.TaxIncluded || !slices.Equal(us.CountryCodes, []string{"US"}) {
			t.Errorf("us = %+v", us)
		}
		if got := us.RequiredSchemes("phones"); !slices.Equal(got, []string{"FCC"}) {
			t.Errorf("us requires %v for phones, want [FCC]", got)
		}
		if got := us.RequiredSchemes("power-banks"); len(got) != 0 {
			t.Errorf("us requires %v for power banks, want nothing", got)
		}
		if len(us.Warehouses) == 0 {
			t.Error("us has no warehouses")
		}
		cn, _ := set.Get("cn")
		if !cn.TaxIncluded || cn.Currency != "CNY" || !slices.Equal(cn.RequiredSchemes("phones"), []string{"CCC", "SRRC"}) {
			t.Errorf("cn = %+v, phones need %v", cn, cn.RequiredSchemes("phones"))
		}
		in, _ := set.Get("in")
		if !in.TaxIncluded || in.Currency != "INR" {
			t.Errorf("in = %+v", in)
		}
		if _, err := set.Get("xx"); !errors.Is(err, market.ErrNotFound) {
			t.Errorf("Get(xx) = %v, want ErrNotFound", err)
		}
		if set.Scheme("FCC").Authority == "" {
			t.Error("FCC has no authority")
		}
	})
}
