// Package notify sends the store's email. A message is written to the
// emails table (the outbox) and a send job is enqueued in the same
// transaction as the change it reports, so an order that commits always
// gets its email and a rolled-back one never does. The job delivers it
// through a Sender (SMTP); without one, as in the demo, the email stays in
// the outbox for anyone to read at /admin/outbox.
package notify

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"mistore/internal/db"
	"mistore/internal/jobs"
)

// JobSend is the kind of the job that delivers one email.
const JobSend = "email.send"

// ErrNotFound: there is no email with that id.
var ErrNotFound = errors.New("email not found")

// Message is an email to queue.
type Message struct {
	// Kind names what the email is about, e.g. "order_confirmation".
	Kind    string
	To      string
	Subject string
	// Text is the plain-text body; HTML, when set, is its alternative.
	Text string
	HTML string
	// OrderID links the email to the order it is about, if any.
	OrderID *int64
	// UniqueKey identifies the message: queueing a second message with the
	// same key does nothing, so an event that arrives twice mails once.
	UniqueKey string
	// Unsubscribe, for an email from a list the recipient joined (a
	// waitlist), is the absolute https address that takes them off it:
	// sent as List-Unsubscribe with one-click unsubscribing (RFC 8058),
	// so a mail client can offer the button and a mailbox provider sees
	// that the sender honours it. The address must act on a POST of
	// "List-Unsubscribe=One-Click" without a session or a form token.
	Unsubscribe string
}

// Email is a message in the outbox, sent or not.
type Email struct {
	ID        int64
	Kind      string
	To        string
	Subject   string
	Text      string // empty in Outbox lists
	HTML      string // empty in Outbox lists
	OrderID   *int64
	UniqueKey string
	CreatedAt time.Time
	// SentAt is zero while the email has not been sent.
	SentAt time.Time
	// LastError is why the latest attempt to send failed, if it did.
	LastError string
	// Unsubscribe is Message.Unsubscribe; empty in Outbox lists.
	Unsubscribe string
}

// Sent reports whether the email has been handed to the mail server.
func (e Email) Sent() bool { return !e.SentAt.IsZero() }

// Mailer queues email in the outbox and delivers it from a job.
type Mailer struct {
	db     *db.DB
	sender Sender
	from   string
	log    *slog.Logger
}

// NewMailer returns a mailer on d that sends with sender as from (an
// RFC 5322 address such as "Mistore <orders@example.com>"). A nil sender
// keeps every email in the outbox unsent: the demo mode.
func NewMailer(d *db.DB, sender Sender, from string, log *slog.Logger) *Mailer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if s, ok := sender.(*SMTPSender); ok && s == nil {
		// A nil *SMTPSender in the interface is not a nil Sender; it means
		// the same thing here, no server.
		sender = nil
	}
	return &Mailer{db: d, sender: sender, from: from, log: log}
}

// Delivers reports whether the mailer has a sender; without one email is
// only kept in the outbox.
func (m *Mailer) Delivers() bool { return m.sender != nil }

// sendPayload is the payload of a JobSend job.
type sendPayload struct {
	EmailID int64 `json:"email_id"`
}

// Queue writes msg to the outbox and enqueues its delivery inside the
// caller's transaction tx: it is sent only if tx commits. Queueing a
// message whose UniqueKey is already in the outbox does nothing.
func (m *Mailer) Queue(ctx context.Context, tx db.Querier, msg Message) error {
	if err := msg.validate(); err != nil {
		return fmt.Errorf("queue email %q: %w", msg.UniqueKey, err)
	}
	var orderID any
	if msg.OrderID != nil {
		orderID = *msg.OrderID
	}
	var id int64
	err := tx.QueryRowContext(ctx, `INSERT INTO emails (kind, to_address, subject, text_body, html_body, order_id, unique_key, unsubscribe_url, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (unique_key) DO NOTHING RETURNING id`,
		msg.Kind, msg.To, msg.Subject, msg.Text, msg.HTML, orderID, msg.UniqueKey, msg.Unsubscribe, db.Now()).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		// Queued before. Its job was enqueued with it, under the same
		// unique key, so enqueueing again below is a no-op too; doing it
		// anyway keeps this path identical to the first.
		err = tx.QueryRowContext(ctx, "SELECT id FROM emails WHERE unique_key = $1", msg.UniqueKey).Scan(&id)
	}
	if err != nil {
		return fmt.Errorf("queue email %q: %w", msg.UniqueKey, err)
	}
	if m.sender == nil {
		// No mail server: the email stays in the outbox, and a job that
		// would find nothing to do is not worth a write.
		return nil
	}
	if err := jobs.Enqueue(ctx, tx, JobSend, sendPayload{EmailID: id}, jobs.Options{UniqueKey: "email:" + msg.UniqueKey}); err != nil {
		return fmt.Errorf("queue email %q: %w", msg.UniqueKey, err)
	}
	return nil
}

// absoluteHTTP reports whether raw is an absolute http(s) URL: an email
// is read far from the store, where a relative link leads nowhere.
func absoluteHTTP(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// validate checks what every message needs before it is stored: a
// recipient address, a one-line subject, a body and a key.
func (msg Message) validate() error {
	switch {
	case msg.Kind == "":
		return errors.New("no kind")
	case msg.UniqueKey == "":
		return errors.New("no unique key")
	case strings.TrimSpace(msg.Subject) == "":
		return errors.New("no subject")
	case strings.ContainsAny(msg.Subject, "\r\n"):
		return errors.New("subject spans lines")
	case msg.Text == "":
		return errors.New("no text body")
	}
	if _, err := mail.ParseAddress(msg.To); err != nil {
		return fmt.Errorf("recipient %q: %w", msg.To, err)
	}
	if msg.Unsubscribe != "" {
		// It becomes a header: nothing in it may end the header or the
		// angle brackets it is sent in.
		if !absoluteHTTP(msg.Unsubscribe) || strings.ContainsAny(msg.Unsubscribe, "\r\n<> \t") {
			return fmt.Errorf("unsubscribe address %q is not an absolute http(s) URL", msg.Unsubscribe)
		}
	}
	return nil
}

// Register makes r deliver queued email.
func (m *Mailer) Register(r *jobs.Runner) { r.Handle(JobSend, m.HandleSend) }

// HandleSend is the JobSend handler: it delivers one email, or leaves it in
// the outbox when the mailer has no sender. It is idempotent: an email
// already sent is not sent again.
func (m *Mailer) HandleSend(ctx context.Context, j jobs.Job) error {
	var p sendPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil || p.EmailID == 0 {
		return jobs.Permanent(fmt.Errorf("send email: bad payload %s", j.Payload))
	}
	e, err := m.Email(ctx, p.EmailID)
	if errors.Is(err, ErrNotFound) {
		return jobs.Permanent(fmt.Errorf("send email %d: %w", p.EmailID, err))
	}
	if err != nil {
		return fmt.Errorf("send email %d: %w", p.EmailID, err)
	}
	if e.Sent() {
		return nil
	}
	if m.sender == nil {
		m.log.InfoContext(ctx, "email kept in the outbox: no SMTP server configured", "email_id", e.ID, "kind", e.Kind)
		return nil
	}
	env := Envelope{
		From:      m.from,
		To:        e.To,
		Subject:   e.Subject,
		Text:      e.Text,
		HTML:      e.HTML,
		MessageID: messageID(e, m.from),
		// Sent, like the bodies, as it was queued.
		Unsubscribe: e.Unsubscribe,
	}
	if err := m.sender.Send(ctx, env); err != nil {
		// Recorded on the email for the outbox page; the job keeps its own
		// copy and retries with backoff until its attempts run out.
		if _, uerr := m.db.Exec(ctx, "UPDATE emails SET last_error = $2 WHERE id = $1", e.ID, err.Error()); uerr != nil {
			m.log.ErrorContext(ctx, "record email error", "email_id", e.ID, "err", uerr)
		}
		if errors.Is(err, ErrUndeliverable) {
			return jobs.Permanent(fmt.Errorf("send email %d: %w", e.ID, err))
		}
		return fmt.Errorf("send email %d: %w", e.ID, err)
	}
	// A crash (or a failed UPDATE) between the server's acceptance above
	// and this statement leaves the email unsent in the table, so the job
	// runs again and sends it a second time: at least once, never lost.
	// The Message-ID is derived from the unique key, so receivers that
	// de-duplicate by it show one message.
	if _, err := m.db.Exec(ctx, "UPDATE emails SET sent_at = $2, last_error = '' WHERE id = $1 AND sent_at IS NULL", e.ID, db.Now()); err != nil {
		return fmt.Errorf("mark email %d sent: %w", e.ID, err)
	}
	// By id, not address: the log outlives a customer's deletion request.
	m.log.InfoContext(ctx, "email sent", "email_id", e.ID, "kind", e.Kind)
	return nil
}

// messageID is the Message-ID of email e sent from from: derived from its
// unique key, so it is the same on every attempt and a resend after a
// crash is known for what it is. The row's creation time goes in too, so
// that a store rebuilt from scratch, which numbers its orders from the
// start again, does not reuse the ids of mail already delivered. Hashed,
// because the key may hold characters a Message-ID may not.
func messageID(e Email, from string) string {
	sum := sha256.Sum256([]byte(e.UniqueKey + "\x00" + e.CreatedAt.UTC().Format(time.RFC3339Nano)))
	domain := "mistore.invalid"
	if a, err := mail.ParseAddress(from); err == nil {
		if _, d, ok := strings.Cut(a.Address, "@"); ok && d != "" {
			domain = d
		}
	}
	return hex.EncodeToString(sum[:16]) + "@" + domain
}

const emailColumns = "id, kind, to_address, subject, order_id, unique_key, created_at, sent_at, last_error"

// scanEmail reads the emailColumns of one row, plus any extra targets.
func scanEmail(row interface{ Scan(...any) error }, extra ...any) (Email, error) {
	var e Email
	var orderID sql.NullInt64
	var sent sql.NullTime
	dest := append([]any{&e.ID, &e.Kind, &e.To, &e.Subject, &orderID, &e.UniqueKey, &e.CreatedAt, &sent, &e.LastError}, extra...)
	if err := row.Scan(dest...); err != nil {
		return Email{}, err
	}
	if orderID.Valid {
		e.OrderID = &orderID.Int64
	}
	if sent.Valid {
		e.SentAt = sent.Time.UTC()
	}
	e.CreatedAt = e.CreatedAt.UTC()
	return e, nil
}

// Email returns one email with its bodies.
func (m *Mailer) Email(ctx context.Context, id int64) (Email, error) {
	var text, html, unsubscribe string
	e, err := scanEmail(m.db.Reader().QueryRowContext(ctx,
		"SELECT "+emailColumns+", text_body, html_body, unsubscribe_url FROM emails WHERE id = $1", id), &text, &html, &unsubscribe)
	if errors.Is(err, sql.ErrNoRows) {
		return Email{}, ErrNotFound
	}
	if err != nil {
		return Email{}, fmt.Errorf("email %d: %w", id, err)
	}
	e.Text, e.HTML, e.Unsubscribe = text, html, unsubscribe
	return e, nil
}

// Outbox returns the newest limit emails, newest first, without their
// bodies (Email has them).
func (m *Mailer) Outbox(ctx context.Context, limit int) ([]Email, error) {
	if limit <= 0 {
		limit = 50
	}
	rows, err := m.db.Reader().QueryContext(ctx,
		"SELECT "+emailColumns+" FROM emails ORDER BY created_at DESC, id DESC LIMIT $1", limit)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	defer rows.Close()
	var out []Email
	for rows.Next() {
		e, err := scanEmail(rows)
		if err != nil {
			return nil, fmt.Errorf("outbox: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return out, nil
}
