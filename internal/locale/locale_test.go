package locale

import (
	"testing"
	"time"
)

func TestLangFormats(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2015, 1, 15, 9, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		tag, date, clock, number string
	}{
		{"en-US", "January 15, 2015", "Jan 15, 2015 09:30", "1,234,567"},
		{"en-IN", "15 January 2015", "15 Jan 2015 09:30", "12,34,567"},
		{"en-CN", "15 January 2015", "15 Jan 2015 09:30", "1,234,567"},
		{"zh-CN", "2015年1月15日", "2015年1月15日 09:30", "1,234,567"},
	} {
		l := c.Lang(tc.tag)
		if got := l.Date(day); got != tc.date {
			t.Errorf("%s Date = %q, want %q", tc.tag, got, tc.date)
		}
		if got := l.Clock(day); got != tc.clock {
			t.Errorf("%s Clock = %q, want %q", tc.tag, got, tc.clock)
		}
		if got := l.Number(1234567); got != tc.number {
			t.Errorf("%s Number = %q, want %q", tc.tag, got, tc.number)
		}
	}
}

func TestTranslateAndMissing(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	zh, en := c.Lang("zh-CN"), c.Lang("en-US")
	if got := zh.T("Cart"); got != "购物车" {
		t.Errorf(`zh T("Cart") = %q, want 购物车`, got)
	}
	if got := en.T("Cart"); got != "Cart" {
		t.Errorf(`en T("Cart") = %q, want the key`, got)
	}
	if len(c.Missing()) != 0 {
		t.Fatalf("missing before any miss: %v", c.Missing())
	}
	if got := zh.T("no such message %d", 3); got != "no such message 3" {
		t.Errorf("an untranslated key prints as English: got %q", got)
	}
	if m := c.Missing(); len(m) != 1 || m[0] != "no such message %d" {
		t.Errorf("Missing() = %v, want the one key asked", m)
	}
	en.T("English never misses")
	if len(c.Missing()) != 1 {
		t.Errorf("an English lookup was counted as missing: %v", c.Missing())
	}
}

// TestContextKeys: "[charge] Shipping" is its own key, translated apart
// from "Shipping"; English, and a language without it, show "Shipping".
func TestContextKeys(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	zh, en := c.Lang("zh-CN"), c.Lang("en-US")
	if got, method := zh.T("[charge] Shipping"), zh.T("Shipping"); got != "运费" || method != "配送方式" {
		t.Errorf("zh: charge %q, method %q; want 运费 and 配送方式", got, method)
	}
	if got := en.T("[charge] Shipping"); got != "Shipping" {
		t.Errorf("en: %q, want Shipping", got)
	}
	if got := zh.T("[nowhere] Left %d", 2); got != "Left 2" {
		t.Errorf("zh, untranslated: %q, want the English without its context", got)
	}
	if m := c.Missing(); len(m) != 1 || m[0] != "[nowhere] Left %d" {
		t.Errorf("Missing() = %v, want the whole key", m)
	}
	if got := M("[charge] Shipping").String(); got != "Shipping" {
		t.Errorf("Msg.String() = %q", got)
	}
	if got := M("[x] %s and %s", "a", M("[charge] Shipping")).String(); got != "a and Shipping" {
		t.Errorf("nested Msg.String() = %q", got)
	}
	for key, want := range map[string]string{
		"[charge] Shipping": "Shipping",
		"Shipping":          "Shipping",
		"[] Shipping":       "[] Shipping",
		"[charge]Shipping":  "[charge]Shipping",
		"[a] [b] c":         "[b] c",
		"[":                 "[",
	} {
		if got := Source(key); got != want {
			t.Errorf("Source(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestMsgNested(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	m := M("The %s is not sold in %s.", "Mistore Phone 14", M("the United States"))
	if got := m.String(); got != "The Mistore Phone 14 is not sold in the United States." {
		t.Errorf("String() = %q", got)
	}
	if got := c.Lang("zh-CN").Say(m); got != "Mistore Phone 14 不在美国销售。" {
		t.Errorf("zh Say = %q", got)
	}
}
