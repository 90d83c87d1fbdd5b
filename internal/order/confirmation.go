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

// QueueConfirmation renders o's confirmation and queues it in tx.
func (c MailConfirmer) QueueConfirmation(ctx context.Context, tx db.Querier, o *Order) error {
	set, err := c.Markets(ctx)
	if err != nil {
		return err
	}
	m, err := set.Get(o.Market)
	if err != nil {
		return err
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
		return fmt.Errorf("confirmation of %s: %w", o.Number, err)
	}
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
