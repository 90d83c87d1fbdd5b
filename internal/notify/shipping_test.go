package notify_test

import (
	"strings"
	"testing"

	"mistore/internal/locale"
	"mistore/internal/notify"
)

func sampleShipping() notify.ShippingEmail {
	return notify.ShippingEmail{
		OrderID: 7, Number: "US-100007", MarketName: "United States", Email: "ada@example.com", CustomerName: "Ada <b>Lovelace</b>",
		Carrier: "UPS", TrackingNumber: `1Z999<script>alert(1)</script>`,
		Lines:           []notify.OrderEmailLine{{Name: "Mi Smart Band 9", Variant: "Midnight Black", Quantity: 2}},
		ShippingAddress: []string{"Ada Lovelace", "1 Main Street"},
		URL:             "https://shop.example/us/orders/US-100007?token=abc",
	}
}

func TestOrderShippedContent(t *testing.T) {
	m, err := notify.OrderShipped(sampleShipping())
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != notify.KindOrderShipped || m.To != "ada@example.com" || m.UniqueKey != "order-shipped:US-100007" ||
		m.OrderID == nil || *m.OrderID != 7 || !strings.Contains(m.Subject, "US-100007") {
		t.Errorf("message %+v", m)
	}
	for _, want := range []string{"Carrier:         UPS", "Tracking number: 1Z999<script>", "2 × Mi Smart Band 9 - Midnight Black", "https://shop.example/us/orders/US-100007?token=abc"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, m.Text)
		}
	}
	if strings.Contains(m.HTML, "<script>") || !strings.Contains(m.HTML, "1Z999&lt;script&gt;") || strings.Contains(m.HTML, "<b>Lovelace") {
		t.Errorf("HTML does not escape what staff and customers typed:\n%s", m.HTML)
	}
}

func TestOrderShippedRefuses(t *testing.T) {
	for name, mod := range map[string]func(*notify.ShippingEmail){
		"no email":     func(s *notify.ShippingEmail) { s.Email = "nope" },
		"no number":    func(s *notify.ShippingEmail) { s.Number = "" },
		"no tracking":  func(s *notify.ShippingEmail) { s.TrackingNumber = "" },
		"relative URL": func(s *notify.ShippingEmail) { s.URL = "/us/orders/US-100007" },
	} {
		s := sampleShipping()
		mod(&s)
		if _, err := notify.OrderShipped(s); err == nil {
			t.Errorf("%s: rendered", name)
		}
	}
}

func TestOrderShippedInChinese(t *testing.T) {
	cat, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	s := sampleShipping()
	s.Number, s.MarketName, s.CustomerName, s.Carrier, s.TrackingNumber = "CN-100007", "中国", "李雷", "顺丰速运", "SF1234567890"
	s.URL = "https://shop.example/cn/orders/CN-100007?token=abc"
	s.Lang = cat.Lang("zh-CN")
	m, err := notify.OrderShipped(s)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "您的 Mistore 订单 CN-100007 已发货" || m.UniqueKey != "order-shipped:CN-100007" {
		t.Errorf("message %+v", m)
	}
	for _, want := range []string{"李雷，您好：", "好消息：您的订单 CN-100007 已发货。", "快递公司： 顺丰速运\n", "运单号：   SF1234567890\n", "包裹内容：\n  2 × Mi Smart Band 9 - Midnight Black", "收货信息"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, m.Text)
		}
	}
	for _, want := range []string{`<html lang="zh-CN">`, ">您的订单已发货</h1>", "订单 CN-100007 已从我们的仓库发出。", ">快递公司</td>", ">运单号</td>", ">包裹内容</p>", ">查看订单</a>"} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("HTML lacks %q:\n%s", want, m.HTML)
		}
	}
	if strings.Contains(m.Text, "on its way") || strings.Contains(m.HTML, "on its way") {
		t.Errorf("English in the Chinese email:\n%s", m.Text)
	}
	if miss := cat.Missing(); len(miss) > 0 {
		t.Errorf("untranslated: %q", miss)
	}
}

// TestOrderShippedTrackingLink checks the carrier's tracking page in the
// shipping notice: a link where the store knows the carrier, in either
// language, and nothing where it does not.
func TestOrderShippedTrackingLink(t *testing.T) {
	cat, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	const link = "https://www.ups.com/track?tracknum=1Z999AA10123456784&x=1"
	s := sampleShipping()
	s.TrackingNumber, s.TrackingURL = "1Z999AA10123456784", link
	m, err := notify.OrderShipped(s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Text, "Follow the parcel at the carrier's site:\n"+link+"\n") {
		t.Errorf("text lacks the tracking link:\n%s", m.Text)
	}
	if !strings.Contains(m.HTML, `<a href="https://www.ups.com/track?tracknum=1Z999AA10123456784&amp;x=1" style="color:#14161a;font-weight:600">Track your parcel</a>`) {
		t.Errorf("HTML lacks the tracking link:\n%s", m.HTML)
	}
	s.Lang = cat.Lang("zh-CN")
	if m, err = notify.OrderShipped(s); err != nil || !strings.Contains(m.Text, "在承运商网站上跟踪包裹：\n"+link) || !strings.Contains(m.HTML, ">跟踪包裹</a>") {
		t.Errorf("Chinese tracking link (%v):\n%s", err, m.Text)
	}
	if miss := cat.Missing(); len(miss) > 0 {
		t.Errorf("untranslated: %q", miss)
	}
	s = sampleShipping()
	if m, err = notify.OrderShipped(s); err != nil || strings.Contains(m.Text, "Follow the parcel") || strings.Contains(m.HTML, "Track your parcel") {
		t.Errorf("a tracking link without one to give (%v):\n%s", err, m.Text)
	}
}
