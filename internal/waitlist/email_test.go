package waitlist_test

import (
	"strings"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/inventory"
	"mistore/internal/locale"
	"mistore/internal/notify"
	"mistore/internal/waitlist"
)

// TestEmailsInMarketLanguage: a cn entry's emails are in Chinese, a us
// entry's in English as they always were.
func TestEmailsInMarketLanguage(t *testing.T) {
	cat, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d, 0)
		f.s = waitlist.NewService(d, f.cat, notify.NewMailer(d, nil, "Mistore <shop@mistore.invalid>", nil), waitlist.Options{
			Now: f.clock.Now, Stock: inventory.NewService(d), PublicURL: "https://shop.example", Locales: cat})
		const sku = "MCHG33-WHT"
		if _, err := d.Write.Exec("UPDATE stock SET on_hand = 0, reserved = 0 WHERE sku = $1", sku); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.Join(f.ctx, "cn", "mistore-charger-33w", "li@example.com"); err != nil {
			t.Fatal(err)
		}
		confirm := f.emails(waitlist.KindConfirm, "li@example.com")
		if len(confirm) != 1 {
			t.Fatalf("%d confirmation emails", len(confirm))
		}
		if c := confirm[0]; !strings.Contains(c.Subject, "开售时通知我") || !strings.Contains(c.Text, "于中国开售时") ||
			!strings.Contains(c.HTML, "<strong>") || !strings.Contains(c.HTML, "确认：开售时通知我") ||
			!strings.Contains(c.Subject, "Mistore 33W 充电器") || strings.Contains(c.Text, "Mistore 33W Charger") {
			t.Errorf("Chinese confirmation: %s\n%s\n%s", c.Subject, c.Text, c.HTML)
		}
		if _, err := f.s.Confirm(f.ctx, linkToken(t, confirm[0])); err != nil {
			t.Fatal(err)
		}
		f.joinConfirmed("mistore-charger-33w", "ada@example.com") // us
		err := d.Tx(f.ctx, func(tx db.Querier) error {
			if err := inventory.SetOnHand(f.ctx, tx, sku, "cn-east", 3); err != nil {
				return err
			}
			return inventory.SetOnHand(f.ctx, tx, sku, "us-east", 3)
		})
		if err != nil {
			t.Fatal(err)
		}
		f.notify(2)

		zh := f.emails(waitlist.KindAvailable, "li@example.com")
		if len(zh) != 1 {
			t.Fatalf("%d available emails in cn", len(zh))
		}
		m := zh[0]
		for _, want := range []string{"您好：", "好消息：", "现已在中国开售", "https://shop.example/cn/products/mistore-charger-33w", "https://shop.example/cn/waitlist/unsubscribe?t="} {
			if !strings.Contains(m.Text, want) {
				t.Errorf("Chinese text lacks %q:\n%s", want, m.Text)
			}
		}
		if !strings.HasSuffix(m.Subject, "现已在中国开售") || !strings.Contains(m.HTML, "退出提醒名单") || !strings.Contains(m.HTML, "<strong>") ||
			!strings.Contains(m.Subject, "Mistore 33W 充电器") {
			t.Errorf("Chinese email: %s\n%s", m.Subject, m.HTML)
		}
		if strings.Contains(m.Text, "Good news") || strings.Contains(m.HTML, "Good news") {
			t.Errorf("English in the Chinese email:\n%s", m.Text)
		}

		en := f.emails(waitlist.KindAvailable, "ada@example.com")
		if len(en) != 1 {
			t.Fatalf("%d available emails in us", len(en))
		}
		if e := en[0]; !strings.HasPrefix(e.Subject, "The ") || !strings.HasSuffix(e.Subject, " is available in the United States") ||
			!strings.Contains(e.Text, "Good news: the ") || !strings.Contains(e.Text, " is now available in the United States.") ||
			!strings.Contains(e.HTML, "<a href=\"https://shop.example/us/waitlist/unsubscribe?t=") {
			t.Errorf("English email: %s\n%s\n%s", e.Subject, e.Text, e.HTML)
		}
		if miss := cat.Missing(); len(miss) > 0 {
			t.Errorf("untranslated: %q", miss)
		}
	})
}
