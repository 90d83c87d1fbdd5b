package notify_test

import (
	"strings"
	"testing"

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
