package money

import (
	"errors"
	"math"
	"testing"
)

func TestParseAndFormat(t *testing.T) {
	tests := []struct {
		in, cur string
		amount  int64
		format  string
	}{
		{"29.99", "USD", 2999, "$29.99"},
		{"0", "USD", 0, "$0.00"},
		{"0.5", "USD", 50, "$0.50"},
		{"1234.5", "USD", 123450, "$1,234.50"},
		{"1234567.89", "USD", 123456789, "$1,234,567.89"},
		{"199", "CNY", 19900, "¥199.00"},
		{"123456", "INR", 12345600, "₹1,23,456.00"},
		{"12345678", "INR", 1234567800, "₹1,23,45,678.00"},
		{"999", "INR", 99900, "₹999.00"},
		{"1000", "JPY", 1000, "¥1,000"},
		{"-5.25", "USD", -525, "-$5.25"},
	}
	for _, tt := range tests {
		m, err := Parse(tt.in, tt.cur)
		if err != nil {
			t.Fatalf("Parse(%q, %s): %v", tt.in, tt.cur, err)
		}
		if m.Amount != tt.amount || m.Currency != tt.cur {
			t.Errorf("Parse(%q, %s) = %v, want %d", tt.in, tt.cur, m, tt.amount)
		}
		if got := m.Format(); got != tt.format {
			t.Errorf("Format(%v) = %q, want %q", m, got, tt.format)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{"", "-", ".", "1.", ".5", "1.234", "1e3", "1,000", " 1", "1 ", "0x10", "+1", "--1", "1.2.3", "99999999999999999999"} {
		if m, err := Parse(in, "USD"); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", in, m)
		}
	}
	if _, err := Parse("1", "XXX"); !errors.Is(err, ErrUnknownCurrency) {
		t.Errorf("Parse in XXX: %v, want ErrUnknownCurrency", err)
	}
	if _, err := Parse("1.5", "JPY"); err == nil {
		t.Error("JPY has no decimals, Parse(1.5) should fail")
	}
}

func TestArithmetic(t *testing.T) {
	a, b := New(1000, "USD"), New(250, "USD")
	if s, err := a.Add(b); err != nil || s.Amount != 1250 {
		t.Errorf("Add = %v, %v", s, err)
	}
	if s, err := a.Sub(b); err != nil || s.Amount != 750 {
		t.Errorf("Sub = %v, %v", s, err)
	}
	if p, err := b.Mul(3); err != nil || p.Amount != 750 {
		t.Errorf("Mul = %v, %v", p, err)
	}
	if _, err := a.Add(New(1, "CNY")); !errors.Is(err, ErrCurrencyMismatch) {
		t.Errorf("Add across currencies: %v", err)
	}
	if _, err := New(math.MaxInt64, "USD").Add(New(1, "USD")); !errors.Is(err, ErrOverflow) {
		t.Errorf("overflowing Add: %v", err)
	}
	if _, err := New(math.MinInt64, "USD").Sub(New(1, "USD")); !errors.Is(err, ErrOverflow) {
		t.Errorf("overflowing Sub: %v", err)
	}
	if _, err := New(math.MaxInt64/2+1, "USD").Mul(2); !errors.Is(err, ErrOverflow) {
		t.Errorf("overflowing Mul: %v", err)
	}
	if _, err := New(math.MinInt64, "USD").Mul(-1); !errors.Is(err, ErrOverflow) {
		t.Errorf("overflowing Mul by -1: %v", err)
	}
}

// FuzzParse checks that whatever Parse accepts, Decimal writes back to an
// amount Parse reads as the same value, and Format never panics.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"29.99", "0", "-1.5", "123456789.01", "1e5", "", "9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, cur := range []string{"USD", "INR", "JPY"} {
			m, err := Parse(s, cur)
			if err != nil {
				continue
			}
			back, err := Parse(m.Decimal(), cur)
			if err != nil || back != m {
				t.Fatalf("round trip %q (%s): %v -> %q -> %v, %v", s, cur, m, m.Decimal(), back, err)
			}
			_ = m.Format()
		}
	})
}

// FuzzAdd checks Add against big-number arithmetic: it either returns the
// exact sum or reports overflow, never a wrapped value.
func FuzzAdd(f *testing.F) {
	f.Add(int64(1), int64(2))
	f.Add(int64(math.MaxInt64), int64(1))
	f.Add(int64(math.MinInt64), int64(-1))
	f.Fuzz(func(t *testing.T, a, b int64) {
		s, err := New(a, "USD").Add(New(b, "USD"))
		exact := float64(a) + float64(b)
		overflow := (b > 0 && a > math.MaxInt64-b) || (b < 0 && a < math.MinInt64-b)
		if overflow != (err != nil) {
			t.Fatalf("%d + %d: overflow=%v err=%v", a, b, overflow, err)
		}
		if err == nil && float64(s.Amount) != exact && s.Amount != a+b {
			t.Fatalf("%d + %d = %d", a, b, s.Amount)
		}
		if _, err := New(a, "USD").Mul(b); err == nil && a != 0 && b != 0 {
			p := a * b
			if p/b != a {
				t.Fatalf("%d * %d wrapped to %d without error", a, b, p)
			}
		}
	})
}
