package order

import (
	"context"
	"fmt"
	"strings"

	"mistore/internal/db"
	"mistore/internal/market"
	"mistore/internal/notify"
)

// MailConfirmer queues an order's confirmation email through the store's
// mailer.
type MailConfirmer struct {
	Mailer *notify.Mailer
	Tokens Tokens
	// PublicURL is the store's address, for the link to the order.
	PublicURL string
	Markets   func(context.Context) (*market.Set, error)
}

// RenderConfirmation renders o's confirmation email.
func (c MailConfirmer) RenderConfirmation(ctx context.Context, o *Order) (notify.Message, error) {
	set, err := c.Markets(ctx)
	if err != nil {
		return notify.Message{}, err
	}
	m, err := set.Get(o.Market)
	if err != nil {
		return notify.Message{}, err
	}
	a := o.Address
	e := notify.OrderEmail{
		OrderID: o.ID, Number: o.Number, MarketName: m.Name, Email: o.Email, CustomerName: a.Name,
		Subtotal: o.Subtotal, Discount: o.Discount, Shipping: o.Shipping, Tax: o.Tax, TaxIncluded: o.TaxIncluded, Total: o.Total,
		ShippingAddress: nonEmpty(a.Name, a.Line1, a.Line2, strings.TrimSpace(a.City+", "+a.Region+" "+a.PostalCode), m.Name),
		ShippingMethod:  o.ShippingName,
		URL:             strings.TrimSuffix(c.PublicURL, "/") + "/" + o.Market + "/orders/" + o.Number + "?token=" + c.Tokens.For(o.Number),
		CreatedAt:       o.CreatedAt,
	}
	for _, l := range o.Lines {
		e.Lines = append(e.Lines, notify.OrderEmailLine{Name: l.Name, Variant: l.VariantName, Quantity: l.Quantity, UnitPrice: l.UnitPrice, Total: l.Total})
	}
	msg, err := notify.OrderConfirmation(e)
	if err != nil {
		return notify.Message{}, fmt.Errorf("confirmation of %s: %w", o.Number, err)
	}
	return msg, nil
}

// QueueMessage queues a rendered email in tx.
func (c MailConfirmer) QueueMessage(ctx context.Context, tx db.Querier, msg notify.Message) error {
	return c.Mailer.Queue(ctx, tx, msg)
}

func nonEmpty(parts ...string) []string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}
