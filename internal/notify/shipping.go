package notify

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync"

	"mistore/internal/locale"
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
	// TrackingURL is the carrier's page that follows the parcel; empty
	// for a carrier the store has no page for.
	TrackingURL string
	Lines       []OrderEmailLine
	// ShippingAddress is the address as written on the parcel, one line
	// each.
	ShippingAddress []string
	// URL is the absolute address of the order's page, with its token.
	URL string
	// Lang is the language the email is written in, the order's market's;
	// nil is English.
	Lang *locale.Lang
}

// shippingTemplates are parsed once, like the confirmation's.
var shippingTemplates = sync.OnceValues(func() (*Bodies, error) {
	return parseBodiesFS("order_shipped", map[string]any{"pad": pad, "widest": widest})
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
	text, html, err := tpl.Render(s.Lang, "shipping notice "+s.Number, s)
	if err != nil {
		return Message{}, err
	}
	return orderMessage(Message{
		Kind:      KindOrderShipped,
		To:        s.Email,
		Subject:   Say(s.Lang, "Your Mistore order %s is on its way", s.Number),
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
	if !absoluteHTTP(s.URL) {
		return fmt.Errorf("order URL %q is not an absolute http(s) URL", s.URL)
	}
	return nil
}
