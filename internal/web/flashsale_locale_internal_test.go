package web

import (
	"fmt"
	"testing"
	"time"

	"mistore/internal/input"
	"mistore/internal/locale"
)

// TestSaleRefusalsMatchAPI: the sale page's sentences for a refused claim
// are, in English, the API's own, so an English page says what it said
// before the store spoke Chinese, and a change of wording in one place
// cannot leave the other behind.
func TestSaleRefusalsMatchAPI(t *testing.T) {
	t.Parallel()
	for _, rf := range saleRefusals {
		if _, body := classify(fmt.Errorf("wrapped: %w", rf.err)); rf.msg.String() != body.Message {
			t.Errorf("%v: the page says %q, the API %q", rf.err, rf.msg.String(), body.Message)
		}
	}
	for _, msg := range []string{"Claim at least one unit.", "You may claim one unit of this sale.", "You may claim at most 3 units of this sale."} {
		m, ok := quantityRefusal(fmt.Errorf("claim: %w", &input.FieldError{Field: "quantity", Msg: msg}))
		if !ok || m.String() != msg {
			t.Errorf("%q: %v %q", msg, ok, m.String())
		}
	}
	if _, ok := quantityRefusal(&input.FieldError{Field: "quantity", Msg: "Some new sentence."}); ok {
		t.Error("a sentence the page does not know is taken for one it knows")
	}
}

// TestCountdownText: the countdown in English as it always read, and in
// Chinese.
func TestCountdownText(t *testing.T) {
	t.Parallel()
	cat, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	en, zh := cat.Lang("en-US"), cat.Lang("zh-CN")
	for _, tc := range []struct {
		d      time.Duration
		en, zh string
	}{
		{3*24*time.Hour + 4*time.Hour, "3 days 4 h", "3 天 4 小时"},
		{24 * time.Hour, "1 day 0 h", "1 天 0 小时"},
		{2*time.Hour + 3*time.Minute, "2 h 03 min", "2 小时 03 分"},
		{4*time.Minute + 9*time.Second, "4 min 09 s", "4 分 09 秒"},
		{11*time.Second + time.Millisecond, "12 s", "12 秒"},
		{-time.Second, "0 s", "0 秒"},
	} {
		if got := countdownText(en, tc.d); got != tc.en {
			t.Errorf("%v in English: %q, want %q", tc.d, got, tc.en)
		}
		if got := countdownText(zh, tc.d); got != tc.zh {
			t.Errorf("%v in Chinese: %q, want %q", tc.d, got, tc.zh)
		}
	}
	if m := cat.Missing(); len(m) > 0 {
		t.Errorf("untranslated: %q", m)
	}
}
