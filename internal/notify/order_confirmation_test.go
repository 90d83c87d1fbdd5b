package notify_test

import (
	"strings"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/locale"
	"mistore/internal/money"
	"mistore/internal/notify"
)

func TestOrderConfirmationContent(t *testing.T) {
	m := confirmation(t, sampleOrder())
	if m.Kind != notify.KindOrderConfirmation || m.To != "ada@example.com" || m.Subject != "Your Mistore order US-100001" ||
		m.UniqueKey != "order-confirmation:US-100001" || m.OrderID != nil {
		t.Errorf("message %+v", m)
	}
	for _, want := range []string{
		"Hello Ada Lovelace,",
		"Order US-100001\nPlaced November 27, 2026 at 12:30 UTC",
		"  Mi Smart Band 9 - Midnight Black\n",
		"  Subtotal                                       $109.97\n",
		"  Discount                                       -$10.00\n",
		"  Tax                                              $8.80\n",
		"  Shipping                                         $5.99\n",
		"  Total                                          $114.76\n",
		"Shipping to\n  Ada Lovelace\n  1 Main Street\n",
		"Shipping method: Standard (3-5 business days)",
		"https://shop.example/us/orders/US-100001?token=abc123\n",
	} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, m.Text)
		}
	}
	// Prices line up in one column.
	var ends []int
	for _, l := range strings.Split(m.Text, "\n") {
		if strings.HasPrefix(l, "  ") && strings.Contains(l, "$") {
			ends = append(ends, len([]rune(l)))
		}
	}
	if len(ends) != 7 {
		t.Errorf("%d price rows, want 7:\n%s", len(ends), m.Text)
	}
	for _, e := range ends {
		if e != ends[0] {
			t.Errorf("price rows end at columns %v:\n%s", ends, m.Text)
			break
		}
	}
	if strings.Contains(m.Text, "Includes tax") || strings.Contains(m.HTML, "Includes tax") {
		t.Error("tax shown as included in a market that adds it")
	}

	// A market whose prices include tax, no discount, no name, an order id.
	o := sampleOrder()
	o.TaxIncluded = true
	o.Discount = money.Money{}
	o.CustomerName = ""
	o.OrderID = 42
	m = confirmation(t, o)
	if !strings.Contains(m.Text, "Hello,\n") || !strings.Contains(m.Text, "Includes tax") || strings.Contains(m.Text, "Discount") ||
		!strings.Contains(m.HTML, "Includes tax") || strings.Contains(m.HTML, "Discount") {
		t.Errorf("tax-included text:\n%s", m.Text)
	}
	if m.OrderID == nil || *m.OrderID != 42 {
		t.Errorf("OrderID %v", m.OrderID)
	}
}

func TestOrderConfirmationRefusesIncompleteOrders(t *testing.T) {
	for name, f := range map[string]func(*notify.OrderEmail){
		"no number":        func(o *notify.OrderEmail) { o.Number = "" },
		"bad email":        func(o *notify.OrderEmail) { o.Email = "ada" },
		"no lines":         func(o *notify.OrderEmail) { o.Lines = nil },
		"relative URL":     func(o *notify.OrderEmail) { o.URL = "/us/orders/US-100001" },
		"javascript URL":   func(o *notify.OrderEmail) { o.URL = "javascript:alert(1)" },
		"multiline number": func(o *notify.OrderEmail) { o.Number = "US-1\r\nBcc: x@example.com" },
	} {
		o := sampleOrder()
		f(&o)
		if _, err := notify.OrderConfirmation(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestOrderConfirmationEscapesHTML(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		srv, m, r := smtpMailer(t, d, smtpOptions{})
		o := sampleOrder()
		o.CustomerName = `<script>alert("hi")</script>`
		o.Lines[0].Name = `Band <b>&</b> "Strap"`
		o.ShippingAddress[1] = `<img src=x onerror=alert(1)>`
		queue(t, d, m, confirmation(t, o))
		runDue(t, r, 1)
		got := srv.Messages()
		if len(got) != 1 {
			t.Fatalf("received %d messages", len(got))
		}
		p := parseMessage(t, got[0].Data)
		for _, bad := range []string{"<script", "<b>", "<img"} {
			if strings.Contains(p.HTML, bad) {
				t.Errorf("HTML part holds %q unescaped", bad)
			}
		}
		for _, want := range []string{"&lt;script&gt;alert(&#34;hi&#34;)&lt;/script&gt;", "Band &lt;b&gt;&amp;&lt;/b&gt; &#34;Strap&#34;", "&lt;img src=x onerror=alert(1)&gt;"} {
			if !strings.Contains(p.HTML, want) {
				t.Errorf("HTML part lacks %q:\n%s", want, p.HTML)
			}
		}
		// Plain text is not markup: it shows the name as it is.
		if !strings.Contains(p.Text, `Hello <script>alert("hi")</script>,`) {
			t.Errorf("text part:\n%s", p.Text)
		}
	})
}

// TestOrderConfirmationInChinese: given a Chinese language, the whole
// email is Chinese, its prices still line up; English stays as it was.
func TestOrderConfirmationInChinese(t *testing.T) {
	cat, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	cny := func(a int64) money.Money { return money.New(a, "CNY") }
	o := sampleOrder()
	o.Number, o.MarketName, o.CustomerName = "CN-100001", "中国", "李雷"
	o.Lines = []notify.OrderEmailLine{{Name: "Mi Smart Band 9", Variant: "Midnight Black", Quantity: 2, UnitPrice: cny(24900), Total: cny(49800)}}
	o.Subtotal, o.Discount, o.Shipping, o.Tax, o.Total, o.TaxIncluded = cny(49800), cny(1000), cny(0), cny(5614), cny(48800), true
	o.URL = "https://shop.example/cn/orders/CN-100001?token=abc123"
	o.Lang = cat.Lang("zh-CN")
	m := confirmation(t, o)
	if m.Subject != "您的 Mistore 订单 CN-100001" || m.UniqueKey != "order-confirmation:CN-100001" {
		t.Errorf("message %+v", m)
	}
	for _, want := range []string{"李雷，您好：", "感谢您在 Mistore 中国购物。", "订单 CN-100001\n下单时间：2026年11月27日 12:30 UTC", "  小计", "  优惠", "  运费", "  合计", "  其中税费", "收货信息", "此链接是查看订单的凭证"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, m.Text)
		}
	}
	for _, want := range []string{`<html lang="zh-CN">`, "<title>您的 Mistore 订单 CN-100001</title>", ">感谢您的购买</h1>", "订单 CN-100001", "下单时间：2026年11月27日 12:30 UTC", ">查看订单</a>", "或打开以下链接："} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("HTML lacks %q:\n%s", want, m.HTML)
		}
	}
	// The charge is 运费, not 配送方式 (the method, which the checkout
	// page's fieldset is titled with).
	if strings.Contains(m.Text, "  配送方式") || strings.Contains(m.HTML, ">配送方式 <") || strings.Contains(m.HTML, ">配送方式<") {
		t.Errorf("the shipping charge reads as the method:\n%s", m.Text)
	}
	for _, english := range []string{"Thank you", "Subtotal", "Hello", "Order CN", "[charge]"} {
		if strings.Contains(m.Text, english) || strings.Contains(m.HTML, english) {
			t.Errorf("English %q in the Chinese email:\n%s\n%s", english, m.Text, m.HTML)
		}
	}
	// Prices line up, a Chinese character taking two columns.
	var ends []int
	for _, l := range strings.Split(m.Text, "\n") {
		if strings.HasPrefix(l, "  ") && strings.Contains(l, "¥") {
			w := 0
			for _, r := range l {
				if r >= 0x2E80 {
					w += 2
				} else {
					w++
				}
			}
			ends = append(ends, w)
		}
	}
	if len(ends) != 6 {
		t.Errorf("%d price rows, want 6:\n%s", len(ends), m.Text)
	}
	for _, e := range ends {
		if e != ends[0] {
			t.Errorf("price rows end at columns %v:\n%s", ends, m.Text)
			break
		}
	}
	if miss := cat.Missing(); len(miss) > 0 {
		t.Errorf("untranslated: %q", miss)
	}

	// An English language is the email as it always was.
	en := sampleOrder()
	en.Lang = cat.Lang("en-US")
	if got, want := confirmation(t, en), confirmation(t, sampleOrder()); got.Subject != want.Subject || got.Text != want.Text || got.HTML != want.HTML {
		t.Errorf("en-US differs from English:\n%s\n%s", got.Text, want.Text)
	}
}

// BenchmarkOrderConfirmation renders both bodies of a three-line order's
// confirmation, as the payment's transaction does for every order paid.
func BenchmarkOrderConfirmation(b *testing.B) {
	o := sampleOrder()
	for b.Loop() {
		if _, err := notify.OrderConfirmation(o); err != nil {
			b.Fatal(err)
		}
	}
}
