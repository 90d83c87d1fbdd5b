// Package waitlist keeps the shoppers' "tell me when it's available in my
// country" requests: one entry per email address, product and market,
// confirmed by a link (double opt-in), told exactly once when the product
// becomes purchasable there, and counted for the back office's demand
// report.
//
// Every email goes through the notify outbox in the transaction of the
// change it reports, under a unique key, so a request retried or a
// notifier that crashes half way never mails twice and never skips
// anyone.
package waitlist

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"time"

	"mistore/internal/catalog"
	"mistore/internal/db"
	"mistore/internal/input"
	"mistore/internal/locale"
	"mistore/internal/notify"
)

// Domain outcomes, mapped to API codes in internal/web/errors.go.
var (
	// ErrAvailable: the product can be bought in the market now; there is
	// nothing to wait for.
	ErrAvailable = errors.New("waitlist: the product is available now")
	// ErrInvalidEmail: the address is not one an email can be sent to.
	ErrInvalidEmail = errors.New("waitlist: invalid email address")
	// ErrInvalidToken: a confirmation or unsubscribe link is not one the
	// store made, or no longer applies (an old round, a removed entry).
	ErrInvalidToken = errors.New("waitlist: invalid or outdated link")
)

// Limits and periods.
const (
	// MaxEmailLen is the longest address accepted (RFC 5321's path limit).
	MaxEmailLen = 254
	// ConfirmationInterval is the least time between two confirmation
	// emails of one entry, however often the address signs up: the form
	// must not be a way to flood someone's inbox.
	ConfirmationInterval = time.Hour
	// DefaultBatchSize is how many entries the notifier marks and mails
	// in one transaction.
	DefaultBatchSize = 200
)

// Email kinds in the outbox.
const (
	KindConfirm   = "waitlist_confirm"
	KindAvailable = "waitlist_available"
)

// Options configure a Service.
type Options struct {
	// Now is the clock of sign-ups, confirmations and the hourly limit;
	// nil means time.Now. Availability is decided on the catalog's clock.
	Now func() time.Time
	// Stock is where the notifier reads live stock (never a display
	// cache: an email saying "in stock" must be true); nil means the
	// catalog's own reader.
	Stock catalog.StockReader
	// PublicURL is the store's address for the links in emails, e.g.
	// https://shop.example.
	PublicURL string
	// BatchSize bounds a notifier transaction; 0 means DefaultBatchSize.
	BatchSize int
	Log       *slog.Logger
	// Locales writes an entry's emails in its market's language; nil
	// writes them in English.
	Locales *locale.Catalog
}

// Service runs the waitlist.
type Service struct {
	db        *db.DB
	catalog   *catalog.Service
	mailer    *notify.Mailer
	stock     catalog.StockReader
	now       func() time.Time
	publicURL string
	batch     int
	log       *slog.Logger
	locales   *locale.Catalog

	keyMu sync.Mutex
	key   []byte
	// beforeCommit, set by tests only, runs at the end of each notifier
	// batch's transaction: an error rolls the batch back, as a crash
	// before its commit would.
	beforeCommit func(batch int) error
}

// NewService returns the waitlist on d, deciding availability with c and
// mailing through mailer.
func NewService(d *db.DB, c *catalog.Service, mailer *notify.Mailer, opts Options) *Service {
	s := &Service{db: d, catalog: c, mailer: mailer, stock: opts.Stock, now: opts.Now,
		publicURL: strings.TrimRight(opts.PublicURL, "/"), batch: opts.BatchSize, log: opts.Log, locales: opts.Locales}
	if s.now == nil {
		s.now = time.Now
	}
	if s.batch <= 0 {
		s.batch = DefaultBatchSize
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// Entry is one request to be told.
type Entry struct {
	ID          int64
	ProductID   int64
	ProductSlug string
	ProductName string
	Market      string
	Email       string
	Round       int
	CreatedAt   time.Time
	ConfirmedAt time.Time // zero: not confirmed
	NotifiedAt  time.Time // zero: not told yet
	// UnsubscribedAt is zero unless the address asked to hear no more.
	UnsubscribedAt time.Time
}

// Confirmed reports whether the address confirmed the entry.
func (e *Entry) Confirmed() bool { return !e.ConfirmedAt.IsZero() }

// Unsubscribed reports whether the address left the list.
func (e *Entry) Unsubscribed() bool { return !e.UnsubscribedAt.IsZero() }

// SignUp is what a sign-up did. The web layer answers the same whatever
// it says, so that nobody learns whether an address is on a list; tests
// and logs read it.
type SignUp struct {
	EntryID int64
	// Created: the entry is new (or a new round of an old one).
	Created bool
	// Mailed: a confirmation email was queued.
	Mailed bool
}

// CheckEmail returns the address trimmed, or a field error wrapping
// ErrInvalidEmail.
func CheckEmail(s string) (string, error) {
	if len(s) > 4*MaxEmailLen {
		return "", invalidEmail()
	}
	s = strings.TrimSpace(s)
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || len(s) > MaxEmailLen || strings.ContainsAny(s, "\r\n") ||
		!strings.Contains(s[strings.LastIndex(s, "@"):], ".") {
		return "", invalidEmail()
	}
	return s, nil
}

func invalidEmail() error {
	return &input.FieldError{Field: "email", Msg: "The email address must be one such as you@example.com.", Err: ErrInvalidEmail}
}

// emailKey is what makes two addresses one entry.
func emailKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// Join signs email up for the product slug in market: a new entry, or the
// existing one, gets a confirmation email unless it is confirmed already
// or had one within ConfirmationInterval. A product that can be bought
// there now is ErrAvailable; an unknown product or market is the
// catalog's ErrNotFound.
func (s *Service) Join(ctx context.Context, market, slug, email string) (SignUp, error) {
	email, err := CheckEmail(email)
	if err != nil {
		return SignUp{}, err
	}
	v, err := s.catalog.Product(ctx, market, slug)
	if err != nil {
		return SignUp{}, err
	}
	if v.Availability.Purchasable() {
		return SignUp{}, fmt.Errorf("%w: %s in %s", ErrAvailable, slug, market)
	}
	key, err := s.secret(ctx)
	if err != nil {
		return SignUp{}, err
	}
	now := db.Time(s.now())
	var out SignUp
	err = s.db.Tx(ctx, func(tx db.Querier) error {
		out = SignUp{}
		res, err := tx.ExecContext(ctx, `INSERT INTO waitlist_entries (product_id, market, email, email_key, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (product_id, market, email_key) DO NOTHING`,
			v.ID, v.Market.Code, email, emailKey(email), now)
		if err != nil {
			return fmt.Errorf("waitlist: sign up: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			out.Created = true
		}
		var e Entry
		var confirmed, notified, unsubscribed sql.NullTime
		err = tx.QueryRowContext(ctx, `SELECT id, round, confirmed_at, notified_at, unsubscribed_at FROM waitlist_entries
			WHERE product_id = $1 AND market = $2 AND email_key = $3`, v.ID, v.Market.Code, emailKey(email)).
			Scan(&e.ID, &e.Round, &confirmed, &notified, &unsubscribed)
		if err != nil {
			return fmt.Errorf("waitlist: sign up: %w", err)
		}
		out.EntryID = e.ID
		if notified.Valid || unsubscribed.Valid {
			// A new round: the address is asked to confirm again, since
			// it may not be its owner who asks this time.
			e.Round++
			if _, err := tx.ExecContext(ctx, `UPDATE waitlist_entries SET round = $2, email = $3, confirmed_at = NULL, notified_at = NULL,
				unsubscribed_at = NULL, updated_at = $4 WHERE id = $1`, e.ID, e.Round, email, now); err != nil {
				return fmt.Errorf("waitlist: sign up again: %w", err)
			}
			out.Created = true
		} else if confirmed.Valid {
			return nil // waiting already: nothing to send
		}
		// At most one confirmation an hour: the condition and the update
		// are one statement, so concurrent sign-ups cannot both pass it.
		var n int
		err = tx.QueryRowContext(ctx, `UPDATE waitlist_entries SET confirm_sent_at = $2, confirm_mails = confirm_mails + 1, updated_at = $2
			WHERE id = $1 AND confirmed_at IS NULL AND (confirm_sent_at IS NULL OR confirm_sent_at <= $3) RETURNING confirm_mails`,
			e.ID, now, now.Add(-ConfirmationInterval)).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("waitlist: sign up: %w", err)
		}
		e.ProductID, e.ProductSlug, e.ProductName, e.Market, e.Email = v.ID, v.Slug, v.Name, v.Market.Code, email
		msg, err := s.confirmMessage(ctx, key, &e, v.Market, n)
		if err != nil {
			return err
		}
		if err := s.mailer.Queue(ctx, tx, msg); err != nil {
			return fmt.Errorf("waitlist: %w", err)
		}
		out.Mailed = true
		return nil
	})
	return out, err
}

// Token purposes, part of every MAC so that a link of one kind is never
// taken for the other.
const (
	purposeConfirm     = "waitlist-confirm"
	purposeUnsubscribe = "waitlist-unsubscribe"
)

// secret is the key links are signed with, kept in the database so that
// every instance accepts the others' links.
func (s *Service) secret(ctx context.Context) ([]byte, error) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if s.key == nil {
		k, err := s.db.Secret(ctx, "waitlist-links")
		if err != nil {
			return nil, fmt.Errorf("waitlist: link key: %w", err)
		}
		s.key = k
	}
	return s.key, nil
}

// mac signs what a link stands for: its purpose, the entry, its round
// (confirmation only; 0 otherwise) and the address, product and market.
// A link therefore opens one entry of one address and nothing else.
func mac(key []byte, purpose string, id int64, round int, email string, productID int64, market string) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s\x00%d\x00%d\x00%s\x00%d\x00%s", purpose, id, round, emailKey(email), productID, market)
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// confirmToken is "ID.ROUND.MAC"; unsubscribeToken "ID.MAC", the same
// for every round, so an unsubscribe link keeps working.
func confirmToken(key []byte, e *Entry) string {
	return strconv.FormatInt(e.ID, 10) + "." + strconv.Itoa(e.Round) + "." + mac(key, purposeConfirm, e.ID, e.Round, e.Email, e.ProductID, e.Market)
}

func unsubscribeToken(key []byte, e *Entry) string {
	return strconv.FormatInt(e.ID, 10) + "." + mac(key, purposeUnsubscribe, e.ID, 0, e.Email, e.ProductID, e.Market)
}

// parseToken splits a token of parts numbers and a MAC.
func parseToken(token string, parts int) (id int64, round int, sum string, ok bool) {
	if len(token) > 128 {
		return 0, 0, "", false
	}
	f := strings.Split(token, ".")
	if len(f) != parts+1 {
		return 0, 0, "", false
	}
	id, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || id <= 0 {
		return 0, 0, "", false
	}
	if parts == 2 {
		if round, err = strconv.Atoi(f[1]); err != nil || round <= 0 {
			return 0, 0, "", false
		}
	}
	return id, round, f[len(f)-1], true
}

const entryColumns = `e.id, e.product_id, p.slug, p.name, e.market, e.email, e.round, e.created_at, e.confirmed_at, e.notified_at, e.unsubscribed_at`

func scanEntry(row interface{ Scan(...any) error }) (*Entry, error) {
	var e Entry
	var confirmed, notified, unsubscribed sql.NullTime
	if err := row.Scan(&e.ID, &e.ProductID, &e.ProductSlug, &e.ProductName, &e.Market, &e.Email, &e.Round, &e.CreatedAt,
		&confirmed, &notified, &unsubscribed); err != nil {
		return nil, err
	}
	e.CreatedAt = e.CreatedAt.UTC()
	if confirmed.Valid {
		e.ConfirmedAt = confirmed.Time.UTC()
	}
	if notified.Valid {
		e.NotifiedAt = notified.Time.UTC()
	}
	if unsubscribed.Valid {
		e.UnsubscribedAt = unsubscribed.Time.UTC()
	}
	return &e, nil
}

// open returns the entry a token names, if its MAC verifies for the
// entry as it is now; any failure is ErrInvalidToken, alike.
func (s *Service) open(ctx context.Context, q db.Querier, purpose, token string) (*Entry, error) {
	parts := 1
	if purpose == purposeConfirm {
		parts = 2
	}
	id, round, sum, ok := parseToken(token, parts)
	if !ok {
		return nil, ErrInvalidToken
	}
	key, err := s.secret(ctx)
	if err != nil {
		return nil, err
	}
	e, err := scanEntry(q.QueryRowContext(ctx, `SELECT `+entryColumns+` FROM waitlist_entries e JOIN products p ON p.id = e.product_id WHERE e.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, fmt.Errorf("waitlist: open link: %w", err)
	}
	want := mac(key, purpose, e.ID, round, e.Email, e.ProductID, e.Market)
	if !hmac.Equal([]byte(sum), []byte(want)) {
		return nil, ErrInvalidToken
	}
	if purpose == purposeConfirm && (round != e.Round || e.Unsubscribed()) {
		// A link of an earlier round, or one followed after leaving the
		// list: it must not put the address back on it.
		return nil, ErrInvalidToken
	}
	return e, nil
}

// CheckConfirm returns the entry a confirmation link names, without
// confirming it: the page a link opens asks for a click first, so that a
// mail scanner fetching links confirms nothing.
func (s *Service) CheckConfirm(ctx context.Context, token string) (*Entry, error) {
	return s.open(ctx, s.db.Reader(), purposeConfirm, token)
}

// CheckUnsubscribe returns the entry an unsubscribe link names.
func (s *Service) CheckUnsubscribe(ctx context.Context, token string) (*Entry, error) {
	return s.open(ctx, s.db.Reader(), purposeUnsubscribe, token)
}

// Confirm confirms the entry of a confirmation link. Confirming twice is
// not an error.
func (s *Service) Confirm(ctx context.Context, token string) (*Entry, error) {
	var e *Entry
	err := s.db.Tx(ctx, func(tx db.Querier) error {
		var err error
		if e, err = s.open(ctx, tx, purposeConfirm, token); err != nil {
			return err
		}
		if e.Confirmed() {
			return nil
		}
		now := db.Time(s.now())
		if _, err := tx.ExecContext(ctx, `UPDATE waitlist_entries SET confirmed_at = $2, updated_at = $2
			WHERE id = $1 AND round = $3 AND confirmed_at IS NULL AND unsubscribed_at IS NULL`, e.ID, now, e.Round); err != nil {
			return fmt.Errorf("waitlist: confirm: %w", err)
		}
		e.ConfirmedAt = now
		return nil
	})
	return e, err
}

// Unsubscribe takes the entry of an unsubscribe link off the list. It
// works without signing in, and twice is not an error.
func (s *Service) Unsubscribe(ctx context.Context, token string) (*Entry, error) {
	var e *Entry
	err := s.db.Tx(ctx, func(tx db.Querier) error {
		var err error
		if e, err = s.open(ctx, tx, purposeUnsubscribe, token); err != nil {
			return err
		}
		if e.Unsubscribed() {
			return nil
		}
		now := db.Time(s.now())
		if _, err := tx.ExecContext(ctx, `UPDATE waitlist_entries SET unsubscribed_at = $2, updated_at = $2
			WHERE id = $1 AND unsubscribed_at IS NULL`, e.ID, now); err != nil {
			return fmt.Errorf("waitlist: unsubscribe: %w", err)
		}
		e.UnsubscribedAt = now
		return nil
	})
	return e, err
}
