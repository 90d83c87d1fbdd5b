package notify_test

import (
	"strings"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/jobs"
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
		srv := startSMTP(t, smtpOptions{})
		m := notify.NewMailer(d, smtpSender(t, srv.Addr, ""), testFrom, nil)
		r := jobs.NewRunner(d, nil)
		m.Register(r)
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
