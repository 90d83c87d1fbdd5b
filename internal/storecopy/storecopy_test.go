package storecopy

import (
	"slices"
	"testing"
	"time"
)

func TestConvert(t *testing.T) {
	at := time.Date(2026, 11, 1, 9, 30, 0, 123456000, time.UTC)
	for _, c := range []struct {
		in   any
		kind string
		want any
	}{
		{int64(1), "bool", true},
		{int64(0), "bool", false},
		{"1", "bool", true},
		{at.In(time.FixedZone("CET", 3600)), "time", at},
		{"2026-11-01 09:30:00.123456+00:00", "time", at},
		{"2026-11-01T10:30:00.123456+01:00", "time", at},
		{"2026-11-01 09:30:00.123456", "time", at},
		{[]byte("abc"), "text", "abc"},
		{int64(7), "text", "7"},
		{float64(3), "int", int64(3)},
		{nil, "time", nil},
	} {
		got, err := convert(c.in, c.kind)
		if err != nil {
			t.Errorf("convert(%v, %s): %v", c.in, c.kind, err)
			continue
		}
		if gt, ok := got.(time.Time); ok {
			if !gt.Equal(c.want.(time.Time)) || gt.Location() != time.UTC {
				t.Errorf("convert(%v, time) = %v, want %v in UTC", c.in, gt, c.want)
			}
			continue
		}
		if got != c.want {
			t.Errorf("convert(%v, %s) = %#v, want %#v", c.in, c.kind, got, c.want)
		}
	}
	for _, c := range []struct {
		in   any
		kind string
	}{{"yes please", "bool"}, {"last Tuesday", "time"}, {1.5, "int"}} {
		if _, err := convert(c.in, c.kind); err == nil {
			t.Errorf("convert(%v, %s) succeeded", c.in, c.kind)
		}
	}
}

func TestFKOrder(t *testing.T) {
	got, err := fkOrder([]string{"order_lines", "orders", "markets", "products"},
		map[string][]string{"order_lines": {"orders"}, "orders": {"markets"}, "products": {"markets", "elsewhere"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"markets", "orders", "products", "order_lines"}; !slices.Equal(got, want) {
		t.Errorf("fkOrder = %v, want %v (each table after those it refers to)", got, want)
	}
	if _, err := fkOrder([]string{"a", "b"}, map[string][]string{"a": {"b"}, "b": {"a"}}); err == nil {
		t.Error("a cycle was sorted")
	}
}
