package order

import (
	"context"
	"fmt"
	"strings"

	"mistore/internal/db"
	"mistore/internal/locale"
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
	// Locales writes an order's emails in its market's language; nil
	// writes every email in English.
	Locales *locale.Catalog
	// Texts names the lines in that language; nil keeps the English
	// names the order was placed with.
	Texts LineTexts
}

// RenderConfirmation renders o's confirmation email.
func (c MailConfirmer) RenderConfirmation(ctx context.Context, o *Order) (notify.Message, error) {
	b, err := c.mailBasics(ctx, o)
	if err != nil {
		return notify.Message{}, err
	}
	e := notify.OrderEmail{
		OrderID: o.ID, Number: o.Number, MarketName: b.marketName, Email: o.Email, CustomerName: o.Address.Name,
		Subtotal: o.Subtotal, Discount: o.Discount, Shipping: o.Shipping, Tax: o.Tax, TaxIncluded: o.TaxIncluded, Total: o.Total,
		ShippingAddress: b.address, ShippingMethod: c.say(b.lang, o.ShippingName), URL: b.url, CreatedAt: o.CreatedAt, Lines: b.lines,
		Lang: b.lang,
	}
	msg, err := notify.OrderConfirmation(e)
	if err != nil {
		return notify.Message{}, fmt.Errorf("confirmation of %s: %w", o.Number, err)
	}
	return msg, nil
}

// orderMail is what every email about an order says alike.
type orderMail struct {
	marketName string
	// address is the shipping address as written on the parcel.
	address []string
	// url is the order page's absolute address, with its token.
	url   string
	lines []notify.OrderEmailLine
	// lang is the language of the order's market; nil: English.
	lang *locale.Lang
}

// mailBasics reads what every email about order o says alike: the
// confirmation and the shipping notice.
func (c MailConfirmer) mailBasics(ctx context.Context, o *Order) (orderMail, error) {
	set, err := c.Markets(ctx)
	if err != nil {
		return orderMail{}, err
	}
	m, err := set.Get(o.Market)
	if err != nil {
		return orderMail{}, err
	}
	var lang *locale.Lang
	if c.Locales != nil {
		lang = c.Locales.Lang(m.ContentLanguage())
	}
	name := c.say(lang, m.Name)
	a := o.Address
	b := orderMail{
		lang:       lang,
		marketName: name,
		address:    nonEmpty(a.Name, a.Line1, a.Line2, strings.TrimSpace(a.City+", "+a.Region+" "+a.PostalCode), name),
		url:        strings.TrimSuffix(c.PublicURL, "/") + "/" + o.Market + "/orders/" + o.Number + "?token=" + c.Tokens.For(o.Number),
	}
	lines := o.Lines
	if lang != nil {
		lines = LocalizeLines(ctx, lines, lang.Texts, c.Texts)
	}
	for _, l := range lines {
		b.lines = append(b.lines, notify.OrderEmailLine{Name: l.Name, Variant: l.VariantName, Quantity: l.Quantity, UnitPrice: l.UnitPrice, Total: l.Total})
	}
	return b, nil
}

// say translates s, a name from the store's data (a market, a shipping
// method), into l where the catalog has it, and keeps it as it is
// otherwise: data is not a message, and must not be counted missing.
func (c MailConfirmer) say(l *locale.Lang, s string) string {
	if l == nil || l.Texts == "" || !c.Locales.Has(l.Tag, s) {
		return s
	}
	return l.T(s)
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
