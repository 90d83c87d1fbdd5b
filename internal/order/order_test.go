package order

import (
	"strings"
	"testing"
)

func TestTokens(t *testing.T) {
	a := NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	b := NewTokens([]byte("another key, another store......"))
	tok := a.For("US-100001")
	if len(tok) < 40 || strings.ContainsAny(tok, "+/=") {
		t.Errorf("token %q is short or not URL-safe", tok)
	}
	if !a.Valid("US-100001", tok) {
		t.Error("a token does not open its order")
	}
	for _, c := range []struct{ number, token string }{
		{"US-100002", tok},                // another order
		{"US-100001", ""},                 // none
		{"US-100001", tok[:len(tok)-1]},   // cut
		{"US-100001", b.For("US-100001")}, // another store's key
		{"US-100001", strings.ToUpper(tok)},
	} {
		if a.Valid(c.number, c.token) {
			t.Errorf("Valid(%q, %q) = true", c.number, c.token)
		}
	}
}

func TestNumberFor(t *testing.T) {
	for id, want := range map[int64]string{1: "US-100001", 42: "US-100042", 900000: "US-1000000"} {
		if got := numberFor("us", id); got != want {
			t.Errorf("numberFor(us, %d) = %s, want %s", id, got, want)
		}
	}
	if got := numberFor("cn", 7); got != "CN-100007" {
		t.Errorf("cn: %s", got)
	}
}
