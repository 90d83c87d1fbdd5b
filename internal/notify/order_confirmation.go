package notify

import (
	"embed"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"time"

	"mistore/internal/locale"
	"mistore/internal/money"
)

//go:embed templates
var templateFiles embed.FS

// OrderEmail is what the order confirmation shows. It is notify's own
// type, filled by whoever places the order, so that notify needs nothing
// from the order package.
type OrderEmail struct {
	// OrderID links the email to the orders row; 0 links nothing.
	OrderID      int64
	Number       string // e.g. US-100001
	MarketName   string // e.g. United States
	Email        string
	CustomerName string
	Lines        []OrderEmailLine
	Subtotal     money.Money
	// Discount is the amount taken off, positive (zero: none).
	Discount money.Money
	Shipping money.Money
	Tax      money.Money
	// TaxIncluded: prices include Tax (shown as "includes"), rather than
	// Tax being added on top.
	TaxIncluded bool
	Total       money.Money
	// ShippingAddress is the address as it is written on a parcel, one line
	// each: name, street, city and postal code, country.
	ShippingAddress []string
	ShippingMethod  string // the method's name, e.g. "Standard (3–5 days)"
	// URL is the absolute address of the order's page, with its access
	// token.
	URL       string
	CreatedAt time.Time
	// Lang is the language the email is written in, the order's market's;
	// nil is English.
	Lang *locale.Lang
}

// OrderEmailLine is one product line of an order.
type OrderEmailLine struct {
	Name      string
	Variant   string // empty when the product has one variant
	Quantity  int
	UnitPrice money.Money
	Total     money.Money
}

// Kinds of email.
const (
	KindOrderConfirmation = "order_confirmation"
)

// orderTemplates are the confirmation's two bodies, parsed on first use
// and never changed after: the confirmation is rendered inside the
// transaction that marks an order paid, where parsing on every call was a
// measurable share of the writer's time.
var orderTemplates = sync.OnceValues(func() (*Bodies, error) {
	return parseBodiesFS("order_confirmation", map[string]any{"row": textRow, "minus": minusMoney})
})

// OrderConfirmation renders the email that confirms order o to its
// customer, ready to Queue.
func OrderConfirmation(o OrderEmail) (Message, error) {
	if err := o.validate(); err != nil {
		return Message{}, fmt.Errorf("order confirmation %s: %w", o.Number, err)
	}
	tpl, err := orderTemplates()
	if err != nil {
		return Message{}, err
	}
	text, html, err := tpl.Render(o.Lang, "order confirmation "+o.Number, o)
	if err != nil {
		return Message{}, err
	}
	return orderMessage(Message{
		Kind:      KindOrderConfirmation,
		To:        o.Email,
		Subject:   Say(o.Lang, "Your Mistore order %s", o.Number),
		Text:      text,
		HTML:      html,
		UniqueKey: OrderConfirmationKey(o.Number),
	}, o.OrderID), nil
}

// orderMessage ties m to order orderID in the outbox (so the order page
// can list its emails); 0 is an email not yet tied to a stored order.
func orderMessage(m Message, orderID int64) Message {
	if orderID != 0 {
		m.OrderID = &orderID
	}
	return m
}

// OrderConfirmationKey is the outbox key of order number's confirmation:
// one per order, however often it is queued.
func OrderConfirmationKey(number string) string { return "order-confirmation:" + number }

// validate checks what the email cannot do without.
func (o OrderEmail) validate() error {
	if o.Number == "" {
		return errors.New("no order number")
	}
	if strings.ContainsAny(o.Number, "\r\n") {
		return errors.New("order number spans lines")
	}
	if _, err := mail.ParseAddress(o.Email); err != nil {
		return fmt.Errorf("email %q: %w", o.Email, err)
	}
	if len(o.Lines) == 0 {
		return errors.New("no lines")
	}
	if !absoluteHTTP(o.URL) {
		return fmt.Errorf("order URL %q is not an absolute http(s) URL", o.URL)
	}
	return nil
}
