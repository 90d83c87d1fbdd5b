package notify

import (
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/mail"
	"net/url"
	"strings"
	"sync"
	texttemplate "text/template"
)

// KindOrderShipped is the kind of the email that tells a customer their
// order is on its way.
const KindOrderShipped = "order_shipped"

// ShippingEmail is what the shipping notice shows. Like OrderEmail it is
// notify's own type, filled by the order package, so that notify needs
// nothing from it.
type ShippingEmail struct {
	// OrderID links the email to the orders row; 0 links nothing.
	OrderID        int64
	Number         string
	MarketName     string
	Email          string
	CustomerName   string
	Carrier        string
	TrackingNumber string
	Lines          []OrderEmailLine
	// ShippingAddress is the address as written on the parcel, one line
	// each.
	ShippingAddress []string
	// URL is the absolute address of the order's page, with its token.
	URL string
}

// shippingTemplates are parsed once, like the confirmation's.
var shippingTemplates = sync.OnceValues(func() (*confirmationTemplates, error) {
	text, err := texttemplate.New("order_shipped.txt").ParseFS(templateFiles, "templates/order_shipped.txt")
	if err != nil {
		return nil, fmt.Errorf("shipping text template: %w", err)
	}
	html, err := htmltemplate.New("order_shipped.html").ParseFS(templateFiles, "templates/order_shipped.html")
	if err != nil {
		return nil, fmt.Errorf("shipping HTML template: %w", err)
	}
	return &confirmationTemplates{text: text, html: html}, nil
})

// OrderShipped renders the email that tells the customer order s.Number
// has shipped, with its carrier and tracking number, ready to Queue.
func OrderShipped(s ShippingEmail) (Message, error) {
	if err := s.validate(); err != nil {
		return Message{}, fmt.Errorf("shipping notice %s: %w", s.Number, err)
	}
	tpl, err := shippingTemplates()
	if err != nil {
		return Message{}, err
	}
	text, html, err := tpl.render("shipping notice "+s.Number, s)
	if err != nil {
		return Message{}, err
	}
	return orderMessage(Message{
		Kind:      KindOrderShipped,
		To:        s.Email,
		Subject:   "Your Mistore order " + s.Number + " is on its way",
		Text:      text,
		HTML:      html,
		UniqueKey: OrderShippedKey(s.Number),
	}, s.OrderID), nil
}

// OrderShippedKey is the outbox key of order number's shipping notice: an
// order ships once, so it is mailed once however often it is queued.
func OrderShippedKey(number string) string { return "order-shipped:" + number }

func (s ShippingEmail) validate() error {
	if s.Number == "" || strings.ContainsAny(s.Number, "\r\n") {
		return errors.New("no usable order number")
	}
	if _, err := mail.ParseAddress(s.Email); err != nil {
		return fmt.Errorf("email %q: %w", s.Email, err)
	}
	if s.Carrier == "" || s.TrackingNumber == "" {
		return errors.New("no carrier or tracking number")
	}
	u, err := url.Parse(s.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("order URL %q is not an absolute http(s) URL", s.URL)
	}
	return nil
}
