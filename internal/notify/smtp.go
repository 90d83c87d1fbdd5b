package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Envelope is one message as a Sender delivers it.
type Envelope struct {
	// From is the author, an RFC 5322 address such as
	// "Mistore <orders@example.com>".
	From    string
	To      string
	Subject string
	// Text is the plain-text part; HTML, when set, is its alternative.
	Text string
	HTML string
	// MessageID is the Message-ID header without its angle brackets; the
	// same message gets the same id on every attempt.
	MessageID string
	// Unsubscribe, when set, is sent as List-Unsubscribe with
	// List-Unsubscribe-Post: List-Unsubscribe=One-Click (RFC 8058).
	Unsubscribe string
}

// Sender delivers one message.
type Sender interface {
	Send(ctx context.Context, e Envelope) error
}

// ErrUndeliverable marks a message that cannot be delivered as it is, so
// that trying again cannot help: the server refused the recipient for
// good, or an address is malformed.
var ErrUndeliverable = errors.New("undeliverable")

// SMTPTimeout bounds each step of talking to the mail server: connecting,
// and every command after.
const SMTPTimeout = 10 * time.Second

// SMTPSender delivers mail to an SMTP server (a relay or a provider's
// submission service). It opens a connection per message: the store
// sends a few emails a minute, not a stream, and a fresh connection has
// no state to go stale.
type SMTPSender struct {
	host         string
	port         int
	implicitTLS  bool
	tlsPolicy    gomail.TLSPolicy
	user, pass   string
	auth         gomail.SMTPAuthType
	envelopeFrom string
	redacted     string

	// TLSConfig, when set before the first Send, replaces the default TLS
	// settings (system roots, the URL's host as server name), e.g. to trust
	// a private certificate authority.
	TLSConfig *tls.Config
}

// authTypes are the ?auth= values NewSMTPSender accepts.
var authTypes = map[string]gomail.SMTPAuthType{
	"auto":          gomail.SMTPAuthAutoDiscover,
	"plain":         gomail.SMTPAuthPlain,
	"login":         gomail.SMTPAuthLogin,
	"cram-md5":      gomail.SMTPAuthCramMD5,
	"scram-sha-1":   gomail.SMTPAuthSCRAMSHA1,
	"scram-sha-256": gomail.SMTPAuthSCRAMSHA256,
}

// NewSMTPSender returns a sender for an SMTP URL:
//
//	smtp://user:password@host:port?from=bounces@example.com
//	smtps://user:password@host:port
//
// smtps is TLS from the first byte (port 465 by default); smtp (port 587
// by default) upgrades with STARTTLS when the server offers it, or must
// with ?tls=required, or never with ?tls=none (for a test server on
// loopback). The user and password, percent-encoded, are optional; with
// them the strongest mechanism the server offers is used, or the one
// named by ?auth=plain|login|cram-md5|scram-sha-1|scram-sha-256. PLAIN and
// LOGIN send the password only over TLS or to a loopback server. ?from=
// sets the envelope sender (where bounces go) when it is not the From
// address of the message. Errors never contain the password.
func NewSMTPSender(rawURL string) (*SMTPSender, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error quotes the whole URL, password and all: say only what
		// went wrong, without it.
		return nil, fmt.Errorf("SMTP URL %s: not a valid URL (percent-encode special characters in the user name and password)", redactRaw(rawURL))
	}
	s := &SMTPSender{host: u.Hostname(), redacted: u.Redacted()}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("SMTP URL %s: "+format, append([]any{s.redacted}, args...)...)
	}
	switch u.Scheme {
	case "smtp":
		s.port = 587
	case "smtps":
		s.port, s.implicitTLS = 465, true
	default:
		return nil, bad("the scheme must be smtp or smtps")
	}
	if s.host == "" {
		return nil, bad("no host")
	}
	if p := u.Port(); p != "" {
		if s.port, err = strconv.Atoi(p); err != nil || s.port < 1 || s.port > 65535 {
			return nil, bad("port %q is not a port number", p)
		}
	}
	if u.Path != "" && u.Path != "/" {
		return nil, bad("an SMTP URL has no path")
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
		if s.user == "" {
			return nil, bad("a password needs a user name")
		}
		s.auth = gomail.SMTPAuthAutoDiscover
	}
	q := u.Query()
	for k := range q {
		if k != "from" && k != "tls" && k != "auth" {
			return nil, bad("unknown option %q (want from, tls or auth)", k)
		}
	}
	if from := q.Get("from"); from != "" {
		a, err := mail.ParseAddress(from)
		if err != nil {
			return nil, bad("from=%q is not an email address", from)
		}
		s.envelopeFrom = a.Address
	}
	switch tlsOpt := q.Get("tls"); {
	case tlsOpt != "" && s.implicitTLS:
		return nil, bad("smtps is always TLS; tls=%q applies to smtp only", tlsOpt)
	case tlsOpt == "" || tlsOpt == "starttls":
		s.tlsPolicy = gomail.TLSOpportunistic
	case tlsOpt == "required":
		s.tlsPolicy = gomail.TLSMandatory
	case tlsOpt == "none":
		s.tlsPolicy = gomail.NoTLS
	default:
		return nil, bad("tls=%q: want starttls, required or none", tlsOpt)
	}
	if a := q.Get("auth"); a != "" {
		t, ok := authTypes[strings.ToLower(a)]
		if !ok {
			return nil, bad("auth=%q: want auto, plain, login, cram-md5, scram-sha-1 or scram-sha-256", a)
		}
		if s.user == "" {
			return nil, bad("auth=%s needs a user name and password", a)
		}
		s.auth = t
	}
	return s, nil
}

// redactRaw shows an unparsable URL without anything that may be a
// password: the scheme only.
func redactRaw(raw string) string {
	scheme, _, ok := strings.Cut(raw, "://")
	if !ok || strings.ContainsAny(scheme, ":@/") {
		return "(unparsable)"
	}
	return scheme + "://…"
}

// String is the URL without its password, for logs.
func (s *SMTPSender) String() string { return s.redacted }

// GoString keeps the password out of %#v.
func (s *SMTPSender) GoString() string { return "notify.SMTPSender(" + s.redacted + ")" }

// LogValue keeps the password out of structured logs too.
func (s *SMTPSender) LogValue() slog.Value { return slog.StringValue(s.redacted) }

// Send delivers e as a multipart/alternative message (text, then HTML).
func (s *SMTPSender) Send(ctx context.Context, e Envelope) error {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(e.From); err != nil {
		return fmt.Errorf("smtp: From %q: %w: %w", e.From, ErrUndeliverable, err)
	}
	if err := msg.To(e.To); err != nil {
		return fmt.Errorf("smtp: To %q: %w: %w", e.To, ErrUndeliverable, err)
	}
	if s.envelopeFrom != "" {
		if err := msg.EnvelopeFrom(s.envelopeFrom); err != nil {
			return fmt.Errorf("smtp: envelope from %q: %w: %w", s.envelopeFrom, ErrUndeliverable, err)
		}
	}
	msg.Subject(e.Subject)
	if e.MessageID != "" {
		msg.SetMessageIDWithValue(e.MessageID)
	}
	msg.SetDate()
	if e.Unsubscribe != "" {
		msg.SetGenHeader(gomail.HeaderListUnsubscribe, "<"+e.Unsubscribe+">")
		msg.SetGenHeader(gomail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
	}
	msg.SetBodyString(gomail.TypeTextPlain, e.Text)
	if e.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, e.HTML)
	}

	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.TLSConfig != nil {
		tlsConfig = s.TLSConfig.Clone()
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = s.host
	}
	opts := []gomail.Option{
		gomail.WithPort(s.port),
		gomail.WithTimeout(SMTPTimeout),
		gomail.WithTLSConfig(tlsConfig),
		gomail.WithTLSPolicy(s.tlsPolicy),
	}
	if s.implicitTLS {
		opts = append(opts, gomail.WithSSL())
	}
	if s.user != "" {
		// The library's debug log, which could show the AUTH exchange, is
		// never turned on.
		opts = append(opts, gomail.WithSMTPAuth(s.auth), gomail.WithUsername(s.user), gomail.WithPassword(s.pass))
	}
	c, err := gomail.NewClient(s.host, opts...)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", s.redacted, err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		var se *gomail.SendError
		if errors.As(err, &se) && se.Reason == gomail.ErrSMTPRcptTo && !se.IsTemp() {
			return fmt.Errorf("smtp %s: %w: %w", s.redacted, ErrUndeliverable, err)
		}
		return fmt.Errorf("smtp %s: %w", s.redacted, err)
	}
	return nil
}
