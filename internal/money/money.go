// Package money holds the store's one money type: an integer count of minor
// units in an ISO 4217 currency. Floats never touch a price.
package money

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// ErrCurrencyMismatch is returned when an operation mixes two currencies.
var ErrCurrencyMismatch = errors.New("currency mismatch")

// ErrOverflow is returned when a sum or product leaves the int64 range.
var ErrOverflow = errors.New("amount out of range")

// ErrUnknownCurrency is returned for a currency code the store does not know.
var ErrUnknownCurrency = errors.New("unknown currency")

// Money is an amount in minor units (cents, fen, paise) of one currency.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// New returns an amount of minor units in currency.
func New(amount int64, currency string) Money {
	return Money{Amount: amount, Currency: currency}
}

// Currency describes how a currency is written.
type Currency struct {
	Code     string
	Exponent int    // digits after the decimal point
	Symbol   string // e.g. "$", "¥", "₹"
	// Grouping is "western" (1,234,567) or "indian" (12,34,567).
	Grouping string
}

// currencies is read-only after init: the ISO 4217 facts the store needs.
var currencies = map[string]Currency{
	"USD": {Code: "USD", Exponent: 2, Symbol: "$", Grouping: "western"},
	"CNY": {Code: "CNY", Exponent: 2, Symbol: "¥", Grouping: "western"},
	"INR": {Code: "INR", Exponent: 2, Symbol: "₹", Grouping: "indian"},
	"EUR": {Code: "EUR", Exponent: 2, Symbol: "€", Grouping: "western"},
	"GBP": {Code: "GBP", Exponent: 2, Symbol: "£", Grouping: "western"},
	"JPY": {Code: "JPY", Exponent: 0, Symbol: "¥", Grouping: "western"},
}

// LookupCurrency returns the facts of an ISO 4217 code the store knows.
func LookupCurrency(code string) (Currency, error) {
	c, ok := currencies[code]
	if !ok {
		return Currency{}, fmt.Errorf("%w %q", ErrUnknownCurrency, code)
	}
	return c, nil
}

// IsZero reports whether m has no amount.
func (m Money) IsZero() bool { return m.Amount == 0 }

// Add returns m+o, refusing to add different currencies or to overflow.
func (m Money) Add(o Money) (Money, error) {
	if m.Currency != o.Currency {
		return Money{}, fmt.Errorf("add %s to %s: %w", o.Currency, m.Currency, ErrCurrencyMismatch)
	}
	s := m.Amount + o.Amount
	if (s > m.Amount) != (o.Amount > 0) {
		return Money{}, fmt.Errorf("add %d to %d: %w", o.Amount, m.Amount, ErrOverflow)
	}
	return Money{Amount: s, Currency: m.Currency}, nil
}

// Sub returns m-o, refusing to mix currencies or to overflow.
func (m Money) Sub(o Money) (Money, error) {
	if o.Amount == math.MinInt64 {
		return Money{}, fmt.Errorf("subtract %d: %w", o.Amount, ErrOverflow)
	}
	return m.Add(Money{Amount: -o.Amount, Currency: o.Currency})
}

// Mul returns m times a whole quantity, refusing to overflow.
func (m Money) Mul(q int64) (Money, error) {
	if m.Amount == 0 || q == 0 {
		return Money{Currency: m.Currency}, nil
	}
	p := m.Amount * q
	if p/q != m.Amount || (m.Amount == -1 && q == math.MinInt64) || (q == -1 && m.Amount == math.MinInt64) {
		return Money{}, fmt.Errorf("multiply %d by %d: %w", m.Amount, q, ErrOverflow)
	}
	return Money{Amount: p, Currency: m.Currency}, nil
}

// Parse reads a decimal amount in major units ("29.99", "2499", "-0.5") in
// currency. It accepts at most the currency's number of decimals, and no
// exponent, sign-only, grouping or spaces: a price typed by staff must mean
// exactly one thing.
func Parse(s, currency string) (Money, error) {
	c, err := LookupCurrency(currency)
	if err != nil {
		return Money{}, err
	}
	orig := s
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || (hasDot && frac == "") {
		return Money{}, fmt.Errorf("parse %q as %s: not a decimal amount", orig, currency)
	}
	if len(frac) > c.Exponent {
		return Money{}, fmt.Errorf("parse %q as %s: at most %d decimals", orig, currency, c.Exponent)
	}
	var amount int64
	digits := whole + frac + strings.Repeat("0", c.Exponent-len(frac))
	for _, r := range digits {
		if r < '0' || r > '9' {
			return Money{}, fmt.Errorf("parse %q as %s: not a decimal amount", orig, currency)
		}
		if amount > (math.MaxInt64-int64(r-'0'))/10 {
			return Money{}, fmt.Errorf("parse %q as %s: %w", orig, currency, ErrOverflow)
		}
		amount = amount*10 + int64(r-'0')
	}
	if neg {
		amount = -amount
	}
	return Money{Amount: amount, Currency: currency}, nil
}

// Decimal writes m in major units with the currency's decimals and no
// grouping or symbol, e.g. "29.99": the inverse of Parse.
func (m Money) Decimal() string {
	c, ok := currencies[m.Currency]
	if !ok {
		c = Currency{Code: m.Currency, Exponent: 2}
	}
	whole, frac, neg := m.split(c.Exponent)
	s := whole
	if c.Exponent > 0 {
		s += "." + frac
	}
	if neg {
		s = "-" + s
	}
	return s
}

// split returns the whole and fraction digits of |m.Amount|.
func (m Money) split(exp int) (whole, frac string, neg bool) {
	a := m.Amount
	neg = a < 0
	// Work in uint64 so that MinInt64 has a magnitude.
	u := uint64(a)
	if neg {
		u = -u
	}
	digits := fmt.Sprintf("%0*d", exp+1, u)
	return digits[:len(digits)-exp], digits[len(digits)-exp:], neg
}

// Format writes m for a shopper: symbol, grouped digits and the currency's
// decimals, e.g. "$1,234.50", "¥199.00", "₹1,23,456.00".
func (m Money) Format() string {
	c, ok := currencies[m.Currency]
	if !ok {
		return m.Decimal() + " " + m.Currency
	}
	whole, frac, neg := m.split(c.Exponent)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	b.WriteString(c.Symbol)
	b.WriteString(group(whole, c.Grouping))
	if c.Exponent > 0 {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

// group inserts thousands separators: the last three digits, then groups of
// three (western) or two (indian).
func group(digits, style string) string {
	if len(digits) <= 3 {
		return digits
	}
	head, tail := digits[:len(digits)-3], digits[len(digits)-3:]
	size := 3
	if style == "indian" {
		size = 2
	}
	var parts []string
	for len(head) > size {
		parts = append([]string{head[len(head)-size:]}, parts...)
		head = head[:len(head)-size]
	}
	parts = append([]string{head}, parts...)
	return strings.Join(parts, ",") + "," + tail
}

// String writes m as "29.99 USD" for logs and errors.
func (m Money) String() string { return m.Decimal() + " " + m.Currency }

// Sub0 returns m-o, or zero when the currencies differ or the result
// would be negative: for amounts such as "what is left to refund".
func (m Money) Sub0(o Money) Money {
	d, err := m.Sub(o)
	if err != nil || d.Amount < 0 {
		return Money{Currency: m.Currency}
	}
	return d
}
