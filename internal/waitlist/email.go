package waitlist

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strconv"
	texttemplate "text/template"

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

// The emails' bodies. Text is what every client shows; the HTML
// alternative is escaped by html/template, so a product name cannot
// inject markup.
var (
	confirmText = texttemplate.Must(texttemplate.New("confirm").Parse(`Hello,

Someone, hopefully you, asked Mistore to send this address an email when the {{.Product}} is available in {{.Place}}.

To confirm, open this link:
{{.Link}}

If it was not you, ignore this email: without the confirmation you will not hear from us about it.
`))
	confirmHTML = htmltemplate.Must(htmltemplate.New("confirm").Parse(`<p>Hello,</p>
<p>Someone, hopefully you, asked Mistore to send this address an email when the <strong>{{.Product}}</strong> is available in {{.Place}}.</p>
<p><a href="{{.Link}}">Confirm: tell me when it is available</a></p>
<p>If it was not you, ignore this email: without the confirmation you will not hear from us about it.</p>
`))
	availableText = texttemplate.Must(texttemplate.New("available").Parse(`Hello,

Good news: the {{.Product}} is now available in {{.Place}}.

{{.Link}}

You asked us to tell you, so we did, once; you will get no further email about it.
To be taken off this list anyway: {{.Unsubscribe}}
`))
	availableHTML = htmltemplate.Must(htmltemplate.New("available").Parse(`<p>Hello,</p>
<p>Good news: the <strong>{{.Product}}</strong> is now available in {{.Place}}.</p>
<p><a href="{{.Link}}">See the {{.Product}}</a></p>
<p>You asked us to tell you, so we did, once; you will get no further email about it.
<a href="{{.Unsubscribe}}">Take me off this list</a>.</p>
`))
)

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

func render(kind, subject, key, to string, v mailView, text *texttemplate.Template, html *htmltemplate.Template) (msgParts, error) {
	var tb, hb bytes.Buffer
	if err := text.Execute(&tb, v); err != nil {
		return msgParts{}, fmt.Errorf("waitlist: %s email: %w", kind, err)
	}
	if err := html.Execute(&hb, v); err != nil {
		return msgParts{}, fmt.Errorf("waitlist: %s email: %w", kind, err)
	}
	return msgParts{kind: kind, subject: subject, key: key, to: to, text: tb.String(), html: hb.String()}, nil
}

// msgParts is a rendered email before it becomes a notify.Message.
type msgParts struct{ kind, subject, key, to, text, html string }

func (p msgParts) message() notify.Message {
	return notify.Message{Kind: p.kind, To: p.to, Subject: p.subject, Text: p.text, HTML: p.html, UniqueKey: p.key}
}

// confirmMessage is the n-th confirmation email of entry e.
func (s *Service) confirmMessage(key []byte, e *Entry, place string, n int) (notify.Message, error) {
	v := mailView{Product: e.ProductName, Place: place, Link: s.link(ConfirmPath(e.Market), confirmToken(key, e))}
	p, err := render(KindConfirm, "Confirm: tell me when the "+oneLine(e.ProductName)+" is available", "waitlist-confirm:"+
		strconv.FormatInt(e.ID, 10)+":"+strconv.Itoa(n), e.Email, v, confirmText, confirmHTML)
	return p.message(), err
}

// availableMessage is the one email of entry e in its round.
func (s *Service) availableMessage(key []byte, e *Entry, place string) (notify.Message, error) {
	v := mailView{Product: e.ProductName, Place: place, Link: s.publicURL + "/" + e.Market + "/products/" + url.PathEscape(e.ProductSlug),
		Unsubscribe: s.link(UnsubscribePath(e.Market), unsubscribeToken(key, e))}
	p, err := render(KindAvailable, "The "+oneLine(e.ProductName)+" is available in "+place, AvailableKey(e.ID, e.Round), e.Email, v, availableText, availableHTML)
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
