package waitlist

import (
	"context"
	"net/url"
	"strconv"

	"mistore/internal/locale"
	"mistore/internal/market"
	"mistore/internal/notify"
)

// mailView is what the waitlist emails show.
type mailView struct {
	Product string
	Place   string
	// Link is the action of the email: confirm, or go to the product.
	Link string
	// Unsubscribe is the link that takes the address off the list.
	Unsubscribe string
}

// The emails' bodies, in English and cloned per language (notify.Bodies).
// Text is what every client shows; the HTML alternative is escaped by
// html/template, so a product name cannot inject markup.
var (
	confirmBodies = mustBodies("waitlist confirmation", `{{t "Hello,"}}

{{t "Someone, hopefully you, asked Mistore to send this address an email when the %s is available in %s." .Product .Place}}

{{t "To confirm, open this link:"}}
{{.Link}}

{{t "If it was not you, ignore this email: without the confirmation you will not hear from us about it."}}
`, `<p>{{t "Hello,"}}</p>
<p>{{t "Someone, hopefully you, asked Mistore to send this address an email when the %s is available in %s." (strong .Product) .Place}}</p>
<p><a href="{{.Link}}">{{t "Confirm: tell me when it is available"}}</a></p>
<p>{{t "If it was not you, ignore this email: without the confirmation you will not hear from us about it."}}</p>
`)
	availableBodies = mustBodies("waitlist available", `{{t "Hello,"}}

{{t "Good news: the %s is now available in %s." .Product .Place}}

{{.Link}}

{{t "You asked us to tell you, so we did, once; you will get no further email about it."}}
{{t "To be taken off this list anyway: %s" .Unsubscribe}}
`, `<p>{{t "Hello,"}}</p>
<p>{{t "Good news: the %s is now available in %s." (strong .Product) .Place}}</p>
<p><a href="{{.Link}}">{{t "See the %s" .Product}}</a></p>
<p>{{t "You asked us to tell you, so we did, once; you will get no further email about it."}}
<a href="{{.Unsubscribe}}">{{t "Take me off this list"}}</a>.</p>
`)
)

func mustBodies(name, text, html string) *notify.Bodies {
	b, err := notify.ParseBodies(name, text, html, nil)
	if err != nil {
		panic(err)
	}
	return b
}

// link is an absolute store URL for path with the query token t.
func (s *Service) link(path, token string) string {
	u := s.publicURL + path
	if token != "" {
		u += "?t=" + url.QueryEscape(token)
	}
	return u
}

// ConfirmPath and UnsubscribePath are the storefront pages of the links,
// under the entry's market.
func ConfirmPath(market string) string { return "/" + market + "/waitlist/confirm" }

// UnsubscribePath is the page an unsubscribe link opens.
func UnsubscribePath(market string) string { return "/" + market + "/waitlist/unsubscribe" }

func render(kind, subject, key, to string, v mailView, l *locale.Lang, b *notify.Bodies) (msgParts, error) {
	text, html, err := b.Render(l, "waitlist: "+kind+" email", v)
	if err != nil {
		return msgParts{}, err
	}
	return msgParts{kind: kind, subject: subject, key: key, to: to, text: text, html: html, unsubscribe: v.Unsubscribe}, nil
}

// msgParts is a rendered email before it becomes a notify.Message. An
// email with an unsubscribe link comes from the list the address joined:
// its message carries the link for mail clients' one-click way off it
// (List-Unsubscribe), which pageWaitlistUnsubscribe takes as a POST.
type msgParts struct{ kind, subject, key, to, text, html, unsubscribe string }

func (p msgParts) message() notify.Message {
	return notify.Message{Kind: p.kind, To: p.to, Subject: p.subject, Text: p.text, HTML: p.html, UniqueKey: p.key, Unsubscribe: p.unsubscribe}
}

// lang is the language of market m's emails; nil (English) without a
// catalog.
func (s *Service) lang(m market.Market) *locale.Lang {
	if s.locales == nil {
		return nil
	}
	return s.locales.Lang(m.ContentLanguage())
}

// place is market m's name as a sentence in l says it.
func (s *Service) place(l *locale.Lang, m market.Market) string {
	p := m.Place()
	if l == nil || l.Texts == "" || !s.locales.Has(l.Tag, p) {
		return p
	}
	return l.T(p)
}

// productName is entry e's product as the shop wrote its name in l's
// language, else as the entry names it.
func (s *Service) productName(ctx context.Context, l *locale.Lang, e *Entry) string {
	if l == nil || l.Texts == "" || s.catalog == nil {
		return e.ProductName
	}
	v, err := s.catalog.Product(ctx, e.Market, e.ProductSlug)
	if err != nil {
		return e.ProductName
	}
	return v.In(l.Texts).Name
}

// confirmMessage is the n-th confirmation email of entry e, in market m.
func (s *Service) confirmMessage(ctx context.Context, key []byte, e *Entry, m market.Market, n int) (notify.Message, error) {
	l := s.lang(m)
	place := s.place(l, m)
	name := s.productName(ctx, l, e)
	v := mailView{Product: name, Place: place, Link: s.link(ConfirmPath(e.Market), confirmToken(key, e))}
	p, err := render(KindConfirm, notify.Say(l, "Confirm: tell me when the %s is available", oneLine(name)), "waitlist-confirm:"+
		strconv.FormatInt(e.ID, 10)+":"+strconv.Itoa(n), e.Email, v, l, confirmBodies)
	return p.message(), err
}

// availableMessage is the one email of entry e in its round, in market m.
func (s *Service) availableMessage(ctx context.Context, key []byte, e *Entry, m market.Market) (notify.Message, error) {
	l := s.lang(m)
	place := s.place(l, m)
	name := s.productName(ctx, l, e)
	v := mailView{Product: name, Place: place, Link: s.publicURL + "/" + e.Market + "/products/" + url.PathEscape(e.ProductSlug),
		Unsubscribe: s.link(UnsubscribePath(e.Market), unsubscribeToken(key, e))}
	p, err := render(KindAvailable, notify.Say(l, "The %s is available in %s", oneLine(name), place), AvailableKey(e.ID, e.Round), e.Email, v, l, availableBodies)
	return p.message(), err
}

// AvailableKey is the outbox key of entry id's "available" email in a
// round: the one thing that makes it go out once.
func AvailableKey(id int64, round int) string {
	return "waitlist-available:" + strconv.FormatInt(id, 10) + ":" + strconv.Itoa(round)
}

// oneLine keeps a subject on one line whatever a product is called.
func oneLine(s string) string {
	b := []rune(s)
	for i, r := range b {
		if r == '\r' || r == '\n' {
			b[i] = ' '
		}
	}
	return string(b)
}
