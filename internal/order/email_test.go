package order_test

import (
	"context"
	"strings"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/notify"
	"mistore/internal/order"
	"mistore/internal/payment"
)

// email reads the outbox's email of unique key.
func (s *store) email(t testing.TB, key string) (subject, text, html string) {
	t.Helper()
	if err := s.d.Read.QueryRow("SELECT subject, text_body, html_body FROM emails WHERE unique_key = $1", key).Scan(&subject, &text, &html); err != nil {
		t.Fatalf("email %s: %v", key, err)
	}
	return
}

// TestEmailsInMarketLanguage: the confirmation and the shipping notice of
// a cn order are in Chinese, a us order's in English as they always were.
func TestEmailsInMarketLanguage(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newStore(t, d)
		s.setStock(t, "MB8-BLK", 10)
		us := s.paid(t, "ada@example.com", band(1))

		// What the language follows is the order's market: the test's
		// carts are American, so this order moves to cn before it is paid.
		cn := s.place(t, "li@example.com", band(1))
		if _, err := d.Write.Exec("UPDATE orders SET market = 'cn' WHERE number = $1", cn.Number); err != nil {
			t.Fatal(err)
		}
		sess, err := s.provider.Pay(ctx, cn.PaymentSession, payment.Card{Number: "4242424242424242", Expiry: "01/40", CVC: "999"})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.orders.ApplyPayment(ctx, "test", cn.Number, sess.ID, sess.ChargeID, sess.Amount); err != nil {
			t.Fatal(err)
		}

		subject, text, html := s.email(t, notify.OrderConfirmationKey(cn.Number))
		if subject != "您的 Mistore 订单 "+cn.Number {
			t.Errorf("cn subject %q", subject)
		}
		for _, want := range []string{"Ada Lovelace，您好：", "感谢您在 Mistore 中国购物。", "订单 " + cn.Number, "下单时间：", "  合计", "\n  中国\n", "/cn/orders/" + cn.Number + "?token=",
			"  Mistore 手环 8 - 黑色\n"} {
			if !strings.Contains(text, want) {
				t.Errorf("cn confirmation text lacks %q:\n%s", want, text)
			}
		}
		for _, want := range []string{`lang="zh-CN"`, ">感谢您的购买</h1>", "订单 " + cn.Number, ">查看订单</a>"} {
			if !strings.Contains(html, want) {
				t.Errorf("cn confirmation HTML lacks %q:\n%s", want, html)
			}
		}
		if strings.Contains(text, "Thank you") || strings.Contains(html, "Thank you") || strings.Contains(text+html, "Mistore Band 8") {
			t.Errorf("English in the cn confirmation:\n%s", text)
		}
		if !strings.Contains(html, "Mistore 手环 8") {
			t.Errorf("cn confirmation HTML lacks the Chinese product name:\n%s", html)
		}
		// The order keeps the names it was placed with, for the back
		// office and the API.
		if o, err := order.Get(ctx, d.Reader(), cn.Number); err != nil || o.Lines[0].Name != "Mistore Band 8" || o.Lines[0].VariantName != "Black" {
			t.Errorf("stored line after the Chinese email: %v %+v", err, o)
		}

		subject, text, html = s.email(t, notify.OrderConfirmationKey(us.Number))
		if subject != "Your Mistore order "+us.Number || !strings.Contains(text, "Thank you for your order from Mistore United States. Here is\n") ||
			!strings.Contains(text, "Order "+us.Number+"\nPlaced ") || !strings.Contains(text, "  Mistore Band 8 - Black\n") || !strings.Contains(html, ">Thank you for your order</h1>") || !strings.Contains(html, `lang="en"`) {
			t.Errorf("us confirmation: %s\n%s\n%s", subject, text, html)
		}

		staff := staffCtx()
		for _, o := range []*order.Order{us, cn} {
			if _, err := s.orders.Fulfil(staff, o.Number, "SF Express", "SF123"); err != nil {
				t.Fatal(err)
			}
		}
		subject, text, html = s.email(t, notify.OrderShippedKey(cn.Number))
		if subject != "您的 Mistore 订单 "+cn.Number+" 已发货" || !strings.Contains(text, "好消息：您的订单 "+cn.Number+" 已发货。") ||
			!strings.Contains(text, "快递公司： SF Express\n") || !strings.Contains(html, ">您的订单已发货</h1>") || strings.Contains(text, "on its way") {
			t.Errorf("cn shipping notice: %s\n%s\n%s", subject, text, html)
		}
		subject, text, html = s.email(t, notify.OrderShippedKey(us.Number))
		if subject != "Your Mistore order "+us.Number+" is on its way" || !strings.Contains(text, "Good news: your order "+us.Number+" is on its way.") ||
			!strings.Contains(text, "Carrier:         SF Express\nTracking number: SF123\n") || !strings.Contains(html, ">Your order is on its way</h1>") {
			t.Errorf("us shipping notice: %s\n%s\n%s", subject, text, html)
		}
		if miss := s.locales.Missing(); len(miss) > 0 {
			t.Errorf("untranslated: %q", miss)
		}
	})
}
