package web

import (
	"errors"
	"strings"
	"testing"

	"mistore/internal/checkout"
	"mistore/internal/customer"
	"mistore/internal/locale"
	"mistore/internal/order"
)

// TestBuyingMessagesTranslated: what the buying pages say that is not in
// their templates (refusals of the checkout and the customer service, the
// order's history, account notes, shipping data of the demo store) reads
// in English exactly as before and has a Chinese translation.
func TestBuyingMessagesTranslated(t *testing.T) {
	t.Parallel()
	cat, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Theme: &Theme{locales: cat}}
	en, zh := cat.Lang("en-US"), cat.Lang("zh-CN")

	// A checkout field's sentence is the API's fragment, capitalised.
	_, err = checkout.NormalizeAddress(order.Address{Name: "A", Line1: "1 Main St", City: "Shanghai", Region: "SH", PostalCode: "12", Country: "CN"}, []string{"CN"})
	var fe *checkout.FieldError
	if !errors.As(err, &fe) || fe.Msg != "must look like 6 digits, e.g. 200000" {
		t.Fatalf("postal code: %v", err)
	}
	if got := s.sayOr(en, fe.Why, ""); got != capitalize(fe.Msg)+"." {
		t.Errorf("English field sentence %q, want %q", got, capitalize(fe.Msg)+".")
	}
	if got := s.sayOr(zh, fe.Why, ""); got != "格式应为 6 位数字，例如 200000。" {
		t.Errorf("Chinese field sentence %q", got)
	}
	if _, err := checkout.NormalizeEmail("nope"); s.sayOr(zh, errorWhy(err), "") == "" {
		t.Errorf("email: %v", err)
	}

	// The customer service's refusals.
	err = &customer.FieldError{Field: "email", Msg: "must be an email address such as you@example.com",
		Why: locale.M("must be an email address such as you@example.com")}
	if field, text, ok := s.customerFieldText(zh, err); !ok || field != "email" || !strings.Contains(text, "邮箱") {
		t.Errorf("customer email: %q %q", field, text)
	}

	// Known English sentences of the API become Chinese on a page.
	if got := s.sayError(zh, customer.ErrInvalidCredentials); got != "邮箱地址或密码不正确。" {
		t.Errorf("invalid credentials: %q", got)
	}
	if got := s.sayError(en, customer.ErrInvalidCredentials); got != "The email address or the password is not right." {
		t.Errorf("invalid credentials in English: %q", got)
	}

	// The order's history, its statuses, the account notes and the demo
	// store's shipping data.
	for _, p := range eventTexts {
		if !cat.Has("zh-CN", p.key) {
			t.Errorf("order event %q: no Chinese", p.key)
		}
	}
	for _, d := range []string{"Order placed for ¥4,286.00.", "A payment attempt failed: Your card was declined.", "Return #3 requested: 1 × Mistore Band 8, 2 × Mistore Buds 5."} {
		if got := s.eventText(en, d); got != d {
			t.Errorf("English event %q reads %q", d, got)
		}
	}
	if got := s.eventText(zh, "A payment attempt failed: Your card was declined."); got != "一次付款未成功：银行卡被拒。" {
		t.Errorf("Chinese event: %q", got)
	}
	for _, st := range []order.Status{order.PendingPayment, order.Paid, order.Fulfilled, order.Delivered, order.Cancelled, order.Refunded, order.PartiallyRefunded} {
		if !cat.Has("zh-CN", orderStatusText(st)) {
			t.Errorf("status %s: no Chinese", st)
		}
	}
	for note, text := range accountNotes {
		if !cat.Has("zh-CN", text) {
			t.Errorf("account note %s: no Chinese", note)
		}
	}
	for _, k := range []string{"标准配送 Standard", "顺丰速运 Express", "2–4 days", "next day", "VAT"} {
		if !cat.Has("zh-CN", k) {
			t.Errorf("shipping data %q: no Chinese", k)
		}
	}
	if m := cat.Missing(); len(m) > 0 {
		t.Errorf("untranslated: %q", m)
	}
}

func errorWhy(err error) locale.Msg {
	var fe *checkout.FieldError
	if errors.As(err, &fe) {
		return fe.Why
	}
	return locale.Msg{}
}
