package web

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"time"

	"mistore/internal/cart"
	"mistore/internal/catalog"
	"mistore/internal/checkout"
	"mistore/internal/customer"
	"mistore/internal/input"
	"mistore/internal/inventory"
	"mistore/internal/locale"
	"mistore/internal/order"
	"mistore/internal/ratelimit"
)

// The buying pages (cart, checkout, payment, order, account) show what the
// store refused in the reader's language. The API words the same refusals
// in English (classify); the pages say the message a domain error carries
// when it has one, or translate a fixed English sentence they know.

// langOf is the language the pages of market code are shown in to the
// visitor of r, for text made before the page is (a message a redirect
// leaves for the next page).
func (s *Server) langOf(r *http.Request, code string) *locale.Lang {
	m, err := s.marketOf(r, code)
	if err != nil {
		return s.locales.Lang("en-US")
	}
	l, _ := s.pageLanguage(r, m)
	return l
}

// sayError is what a page tells its reader about err, a refusal of the
// store (below 500), in l.
func (s *Server) sayError(l *locale.Lang, err error) string {
	var limited *ratelimit.LimitedError
	if errors.As(err, &limited) {
		return pageErrorText(l, err)
	}
	_, body := classify(err)
	return s.sayOr(l, errorMsg(err), body.Message)
}

// sayOr says m in l. When m is zero or l has no translation of it, it
// says english instead: translated when l has that very sentence, else as
// it is (a sentence made of data the store cannot translate).
func (s *Server) sayOr(l *locale.Lang, m locale.Msg, english string) string {
	if !m.IsZero() && s.locales.Has(l.Tag, m.Key) {
		return l.Say(m)
	}
	if english != "" && !strings.Contains(english, "%") && s.locales.Has(l.Tag, english) {
		return l.T(english)
	}
	if !m.IsZero() {
		// Asked anyway, so that the missing translation is recorded.
		return l.Say(m)
	}
	return english
}

// errorMsg is the message a storefront refusal carries, the same sentence
// classify gives the API; zero when err carries none.
func errorMsg(err error) locale.Msg {
	var coupon *checkout.CouponError
	var notSold *checkout.NotSoldError
	var oos *inventory.OutOfStockError
	var cfe *customer.FieldError
	var ife *input.FieldError
	switch {
	case errors.As(err, &cfe) && !errors.Is(err, customer.ErrEmailTaken):
		return cfe.Why
	case errors.As(err, &ife):
		return ife.Why
	case errors.As(err, &notSold):
		return notSold.Why
	case errors.As(err, &coupon):
		return coupon.Why
	case errors.As(err, &oos):
		return stockMsg(oos, oos.SKU)
	}
	if m, ok := cart.Message(err); ok {
		return m
	}
	return locale.Msg{}
}

// stockMsg says that there is too little of what oos names, called name:
// its SKU, or on a page the product's name (a locale.Name).
func stockMsg(oos *inventory.OutOfStockError, name any) locale.Msg {
	if oos.Available > 0 {
		return locale.M("Only %d of %s are left; lower the quantity.", oos.Available, name)
	}
	return locale.M("%s is out of stock.", name)
}

// sayStockError is sayError for a page of market code: a stock refusal
// names the product as the page's language has it, not its SKU.
func (s *Server) sayStockError(r *http.Request, l *locale.Lang, code string, err error) string {
	var oos *inventory.OutOfStockError
	if errors.As(err, &oos) {
		if it, ierr := s.catalog.Item(r.Context(), code, oos.SKU); ierr == nil {
			return l.Say(stockMsg(oos, catalog.LocalFullName(it.Product, it.Variant)))
		}
	}
	return s.sayError(l, err)
}

// customerFieldText is what an account form shows next to a field that
// the customer service refused.
func (s *Server) customerFieldText(l *locale.Lang, err error) (field, text string, ok bool) {
	var fe *customer.FieldError
	if !errors.As(err, &fe) {
		return "", "", false
	}
	return fe.Field, s.sayOr(l, fe.Why, fe.Msg), true
}

// eventLine is one entry of an order's history as its page shows it.
type eventLine struct {
	CreatedAt time.Time
	Text      string
}

// eventTexts are the order timeline's sentences as the order package
// writes them (the back office reads them as they are stored): a page in
// another language matches a detail against them and says it translated,
// with the pieces of data (amounts, names) as they are.
var eventTexts = eventPatterns(
	"Order placed for %s.",
	"Order confirmation emailed to %s.",
	"Shipping notice emailed to %s.",
	"Shipped with %s, tracking number %s.",
	"Delivered.",
	"A payment attempt failed.",
	"A payment attempt failed: %s",
	"Payment of %s received.",
	"The provider captured %s, not the order total %s; it is refunded.",
	"Payment arrived after the order's stock was released, and the stock is gone; it is refunded.",
	"Payment arrived after the flash-sale claim ran out and its units went back to the sale; it is refunded.",
	"A second payment arrived; it is refunded.",
	"%s refunded (%s).",
	"%s refunded.",
	"A refund of %s is on its way.",
	"The refund of %s could not be made; we will contact you.",
	"The order was not paid in time; its stock is released.",
	"Cancelled by the store before payment.",
	"Cancelled by the customer before payment.",
	"Cancelled by the customer; a full refund is on its way.",
	"Cancelled by the store.",
	"Cancelled by the store; a refund of %s is on its way.",
	"Return #%s requested: %s.",
	"Return #%s approved: send the items back.",
	"Return #%s was not accepted.",
	"Return #%s received.",
	"Return #%s received and restocked.",
	"Return #%s: a refund of %s is on its way.",
)

type eventPattern struct {
	key string
	re  *regexp.Regexp
}

func eventPatterns(keys ...string) []eventPattern {
	out := make([]eventPattern, len(keys))
	for i, k := range keys {
		re := "^" + strings.ReplaceAll(regexp.QuoteMeta(k), "%s", "(.+?)") + "$"
		out[i] = eventPattern{key: k, re: regexp.MustCompile(re)}
	}
	return out
}

// eventText says an order event's detail in l. A piece of data the
// catalog has a sentence for (a provider's "Your card was declined.") is
// translated too.
func (s *Server) eventText(l *locale.Lang, detail string) string {
	for _, p := range eventTexts {
		m := p.re.FindStringSubmatch(detail)
		if m == nil {
			continue
		}
		args := make([]any, len(m)-1)
		for i, a := range m[1:] {
			args[i] = s.sayOr(l, locale.Msg{}, a)
		}
		return l.T(p.key, args...)
	}
	return detail
}

// eventLines is an order's history as its page shows it, in l.
func (s *Server) eventLines(l *locale.Lang, events []order.Event) []eventLine {
	out := make([]eventLine, len(events))
	for i, e := range events {
		out[i] = eventLine{CreatedAt: e.CreatedAt, Text: s.eventText(l, e.Detail)}
	}
	return out
}
