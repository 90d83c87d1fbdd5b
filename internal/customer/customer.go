// Package customer holds customer accounts: registration, sign-in with a
// password, sessions for browsers and API clients, password resets, email
// verification, saved addresses, and the export and erasure of everything
// the store keeps about a customer.
//
// It follows OWASP ASVS 5.0 chapters V6 (authentication) and V7 (session
// management). Passwords are hashed with argon2id and checked in constant
// time; sign-in says the same thing, after the same work, whether the
// address has an account or not. Session and one-time tokens carry 256
// random bits, are handed to the client once and stored only as their
// SHA-256, so that a copy of the database opens no account. Every change of
// a password ends every session, and resets and verifications are single
// use, claimed by one conditional update that exactly one of any number of
// concurrent attempts wins.
//
// Rate limiting of sign-in, registration and reset requests is not here:
// the web layer applies it in front of these calls.
package customer

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"mistore/internal/db"
	"mistore/internal/locale"
	"mistore/internal/notify"
)

// Errors the service returns. Input problems come as a *FieldError that
// unwraps to one of them.
var (
	// ErrEmailTaken means another account has the email address, in any
	// letter case.
	ErrEmailTaken = errors.New("customer: an account with this email address already exists")
	// ErrInvalidCredentials means the email address or the password is
	// wrong; which one is never told.
	ErrInvalidCredentials = errors.New("customer: wrong email address or password")
	// ErrPasswordLength means a new password is shorter than
	// MinPasswordLen or longer than MaxPasswordLen characters.
	ErrPasswordLength = errors.New("customer: password length out of bounds")
	// ErrInvalidEmail means a string is not a usable email address.
	ErrInvalidEmail = errors.New("customer: invalid email address")
	// ErrInvalidName means a name is empty, too long or holds control
	// characters.
	ErrInvalidName = errors.New("customer: invalid name")
	// ErrNoSession means a session token is unknown, ended or expired.
	ErrNoSession = errors.New("customer: no such session")
	// ErrInvalidToken means a reset or verification link is unknown,
	// expired or already used.
	ErrInvalidToken = errors.New("customer: invalid or expired link")
	// ErrNotFound means there is no such customer, or no such address of
	// theirs (the two are not told apart).
	ErrNotFound = errors.New("customer: not found")
	// ErrInvalidAddress means a field of an address is missing or not
	// acceptable.
	ErrInvalidAddress = errors.New("customer: invalid address")
	// ErrTooManyAddresses means the customer already has MaxAddresses
	// saved addresses.
	ErrTooManyAddresses = errors.New("customer: too many saved addresses")
)

// FieldError is a problem with one field of a request: the web layer shows
// Msg next to Field. It unwraps to the sentinel error it stands for, e.g.
// ErrInvalidEmail.
type FieldError struct {
	Field string
	Msg   string
	Err   error
	// Why is Msg as a message, for pages to say in their reader's
	// language; zero on errors made without one, which show Msg.
	Why locale.Msg
}

// fieldError makes a FieldError whose Msg is format with args in English.
func fieldError(field string, kind error, format string, args ...any) *FieldError {
	why := locale.M(format, args...)
	return &FieldError{Field: field, Msg: why.String(), Err: kind, Why: why}
}

// Error returns the field and what is wrong with it.
func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap returns the sentinel error, for errors.Is.
func (e *FieldError) Unwrap() error { return e.Err }

// Limits on what a customer types.
const (
	// MaxEmailLen is the longest email address accepted, in bytes (RFC
	// 5321's limit on a forward path).
	MaxEmailLen = 254
	// MaxNameLen is the longest name, in characters.
	MaxNameLen = 100
)

// Links in account emails, below the store's public URL and the market's
// code: /cn/account/reset.
const (
	ResetPath  = "/account/reset"
	VerifyPath = "/account/verify"
)

// DefaultMarket is the market whose pages account emails link to when the
// request came from none (the API).
const DefaultMarket = "us"

// Storefront is the store a customer is using when they register, ask
// for a password reset or change their account: the market whose pages
// the account emails link to, and the language they are written in, so
// that a shopper of the Chinese store gets a Chinese email that opens the
// Chinese store. It travels in the request's context, like the audit
// actor, since the same methods serve every market's pages and the API,
// which has no market (DefaultMarket, in English).
type Storefront struct {
	Market string
	Lang   *locale.Lang
}

type storefrontKey struct{}

// WithStorefront returns ctx carrying sf.
func WithStorefront(ctx context.Context, sf Storefront) context.Context {
	return context.WithValue(ctx, storefrontKey{}, sf)
}

// storefrontOf returns the storefront ctx carries, or DefaultMarket in
// English.
func storefrontOf(ctx context.Context) Storefront {
	sf, _ := ctx.Value(storefrontKey{}).(Storefront)
	if sf.Market == "" {
		sf.Market = DefaultMarket
	}
	return sf
}

// How long one-time links work.
const (
	// ResetTTL is how long a password reset link works: short, since it
	// opens the account to whoever holds it.
	ResetTTL = 30 * time.Minute
	// VerificationTTL is how long an email verification link works.
	VerificationTTL = 7 * 24 * time.Hour
)

// Customer is an account, without its secrets.
type Customer struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
	// EmailVerified is true once the customer followed a link sent to
	// Email: only then are the guest orders placed with it theirs.
	EmailVerified bool      `json:"email_verified"`
	CreatedAt     time.Time `json:"created_at"`
}

// Mailer queues an email inside a transaction, as *notify.Mailer does.
type Mailer interface {
	Queue(ctx context.Context, tx db.Querier, msg notify.Message) error
}

// Service manages customer accounts.
type Service struct {
	// Params are the argon2id costs of the hashes the service makes.
	// NewService sets DefaultParams; tests lower them. Change them only
	// before the service is first used.
	Params Params

	db        *db.DB
	mailer    Mailer
	publicURL string
	now       func() time.Time

	// hasher runs the argon2id work, a bounded number at once, and keeps
	// the dummy hash an unknown address is verified against.
	hasher *Hasher
}

// NewService returns the account service on d. mailer queues its emails
// (nil sends none); publicURL is the store's absolute address, such as
// https://shop.example, that links in emails start with; now is its clock
// (nil means time.Now), injectable so tests can step past expiries.
func NewService(d *db.DB, mailer Mailer, publicURL string, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	if m, ok := mailer.(*notify.Mailer); ok && m == nil {
		// A nil *notify.Mailer in the interface is not a nil Mailer; it
		// means the same thing here, no email.
		mailer = nil
	}
	return &Service{
		Params:    DefaultParams,
		db:        d,
		mailer:    mailer,
		publicURL: strings.TrimRight(publicURL, "/"),
		now:       now,
		hasher:    NewHasher(),
	}
}

// Register creates an account and queues an email that asks to verify its
// address. The email is trimmed and kept as typed, but no two accounts may
// have the same one in any letter case; the name is trimmed and otherwise
// kept exactly (any script, emoji). Problems with the input come as a
// *FieldError: ErrInvalidEmail, ErrInvalidName, ErrPasswordLength or
// ErrEmailTaken.
func (s *Service) Register(ctx context.Context, email, password, name string) (Customer, error) {
	email, err := normalizeEmail(email)
	if err != nil {
		return Customer{}, err
	}
	if name, err = checkName(name); err != nil {
		return Customer{}, err
	}
	if err := checkPassword("password", password); err != nil {
		return Customer{}, err
	}
	// The slow part, hashing, happens before the transaction: the writer
	// is not held for it.
	hash, err := s.hash(ctx, password)
	if err != nil {
		return Customer{}, fmt.Errorf("register: %w", err)
	}
	v, err := s.newVerification(ctx, email, name)
	if err != nil {
		return Customer{}, fmt.Errorf("register: %w", err)
	}
	now := db.Time(s.now())
	c := Customer{Email: email, Name: name, CreatedAt: now}
	err = s.db.Tx(ctx, func(tx db.Querier) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO customers (email, email_key, name, password_hash, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $5) RETURNING id`, email, EmailKey(email), name, hash, now).Scan(&c.ID)
		if db.IsUniqueViolation(err) {
			return fieldError("email", ErrEmailTaken, "an account with this email address already exists")
		}
		if err != nil {
			return err
		}
		return s.storeVerification(ctx, tx, c.ID, v, now)
	})
	if err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return Customer{}, err
		}
		return Customer{}, fmt.Errorf("register: %w", err)
	}
	return c, nil
}

// Authenticate checks an email address and password and returns the
// account. It returns ErrInvalidCredentials alike for an address without
// an account and for a wrong password, after the same argon2id work, so
// that neither the answer nor its timing tells which. A hash made with
// weaker parameters than s.Params is upgraded on the way.
func (s *Service) Authenticate(ctx context.Context, email, password string) (Customer, error) {
	// Both paths make sure the dummy hash exists, so that its one-time
	// cost does not mark the first unknown address.
	dummy, err := s.hasher.Dummy(ctx, s.Params)
	if err != nil {
		return Customer{}, fmt.Errorf("authenticate: %w", err)
	}
	if len(password) > MaxPasswordLen*utf8.UTFMax || utf8.RuneCountInString(password) > MaxPasswordLen {
		// No password that long was ever accepted; hashing it would only
		// cost time. This says nothing about the account.
		return Customer{}, ErrInvalidCredentials
	}
	var hash string
	var disabled sql.NullTime
	c, err := Customer{}, sql.ErrNoRows
	if key := EmailKey(email); len(key) <= MaxEmailLen {
		// Longer keys cannot match: no account has one.
		c, err = scanCustomer(s.db.Reader().QueryRowContext(ctx,
			"SELECT "+customerColumns+", password_hash, disabled_at FROM customers WHERE email_key = $1", key), &hash, &disabled)
	}
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := s.hasher.Verify(ctx, dummy, password); err != nil {
			return Customer{}, fmt.Errorf("authenticate: %w", err)
		}
		return Customer{}, ErrInvalidCredentials
	}
	if err != nil {
		return Customer{}, fmt.Errorf("authenticate: %w", err)
	}
	ok, err := s.hasher.Verify(ctx, hash, password)
	if err != nil {
		return Customer{}, fmt.Errorf("authenticate customer %d: %w", c.ID, err)
	}
	if !ok {
		return Customer{}, ErrInvalidCredentials
	}
	if disabled.Valid {
		// A disabled account (Disable) gets the answer of a wrong
		// password, after the same work: sign-in tells nothing more.
		return Customer{}, ErrInvalidCredentials
	}
	if NeedsRehash(hash, s.Params) {
		// A failure leaves the old hash, which still works: the upgrade
		// is tried again at the next sign-in, and this one succeeds.
		_ = s.rehash(ctx, c.ID, hash, password)
	}
	return c, nil
}

// rehash replaces customer id's password hash old with one under the
// current parameters, unless the password changed meanwhile.
func (s *Service) rehash(ctx context.Context, id int64, old, password string) error {
	hash, err := s.hash(ctx, password)
	if err != nil {
		return err
	}
	return s.db.Tx(ctx, func(tx db.Querier) error {
		_, err := tx.ExecContext(ctx, "UPDATE customers SET password_hash = $3 WHERE id = $1 AND password_hash = $2", id, old, hash)
		return err
	})
}

// Get returns customer id, or ErrNotFound.
func (s *Service) Get(ctx context.Context, id int64) (Customer, error) {
	c, err := scanCustomer(s.db.Reader().QueryRowContext(ctx, "SELECT "+customerColumns+" FROM customers WHERE id = $1", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Customer{}, ErrNotFound
	}
	if err != nil {
		return Customer{}, fmt.Errorf("customer %d: %w", id, err)
	}
	return c, nil
}

// ChangePassword sets a new password for customer id after checking the
// current one (ErrInvalidCredentials when it is wrong), and ends every
// session of the customer, the one that made the change included: the
// caller signs the customer in again with NewSession, which also gives the
// browser a new session identifier after the change. Reset links not yet
// used stop working, and the customer is told of the change by email.
func (s *Service) ChangePassword(ctx context.Context, id int64, current, next string) error {
	if err := checkPassword("new_password", next); err != nil {
		return err
	}
	c, old, err := s.reauthenticate(ctx, id, current)
	if err != nil {
		return err
	}
	hash, err := s.hash(ctx, next)
	if err != nil {
		return fmt.Errorf("change password of customer %d: %w", id, err)
	}
	now := db.Time(s.now())
	notice, err := s.changeNotice(ctx, c.Email, c.Name, notify.PasswordChanged, now)
	if err != nil {
		return fmt.Errorf("change password of customer %d: %w", id, err)
	}
	err = s.db.Tx(ctx, func(tx db.Querier) error {
		// Conditional on the hash that was checked: if the password
		// changed in between, the current password given is no longer it.
		res, err := tx.ExecContext(ctx, "UPDATE customers SET password_hash = $3, updated_at = $4 WHERE id = $1 AND password_hash = $2",
			id, old, hash, now)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrInvalidCredentials
		}
		if err := endCredentials(ctx, tx, id); err != nil {
			return err
		}
		return s.queue(ctx, tx, notice)
	})
	if err != nil && !errors.Is(err, ErrInvalidCredentials) {
		return fmt.Errorf("change password of customer %d: %w", id, err)
	}
	return err
}

// ChangeEmail moves customer id to a new email address after checking the
// password (ErrInvalidCredentials when it is wrong). The new address is
// unverified until its owner follows the link queued to it, so the guest
// orders of the old address leave the account and those of the new one do
// not join it before then. The old address is told of the change, and
// reset and verification links sent to it stop working. A change of
// letter case only keeps the address verified.
func (s *Service) ChangeEmail(ctx context.Context, id int64, password, newEmail string) error {
	email, err := normalizeEmail(newEmail)
	if err != nil {
		return err
	}
	c, _, err := s.reauthenticate(ctx, id, password)
	if err != nil {
		return err
	}
	if email == c.Email {
		return nil
	}
	now := db.Time(s.now())
	if EmailKey(email) == EmailKey(c.Email) {
		if _, err := s.db.Exec(ctx, "UPDATE customers SET email = $2, updated_at = $3 WHERE id = $1", id, email, now); err != nil {
			return fmt.Errorf("change email of customer %d: %w", id, err)
		}
		return nil
	}
	v, err := s.newVerification(ctx, email, c.Name)
	if err != nil {
		return fmt.Errorf("change email of customer %d: %w", id, err)
	}
	notice, err := s.changeNotice(ctx, c.Email, c.Name, notify.EmailChanged, now)
	if err != nil {
		return fmt.Errorf("change email of customer %d: %w", id, err)
	}
	err = s.db.Tx(ctx, func(tx db.Querier) error {
		res, err := tx.ExecContext(ctx, `UPDATE customers SET email = $2, email_key = $3, email_verified_at = NULL, updated_at = $4
			WHERE id = $1`, id, email, EmailKey(email), now)
		if db.IsUniqueViolation(err) {
			return fieldError("email", ErrEmailTaken, "an account with this email address already exists")
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		// Links mailed to the old address must not act on the account
		// any more.
		if _, err := tx.ExecContext(ctx, "DELETE FROM email_verifications WHERE customer_id = $1", id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM password_resets WHERE customer_id = $1", id); err != nil {
			return err
		}
		if err := s.storeVerification(ctx, tx, id, v, now); err != nil {
			return err
		}
		return s.queue(ctx, tx, notice)
	})
	var fe *FieldError
	if err != nil && !errors.As(err, &fe) && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("change email of customer %d: %w", id, err)
	}
	return err
}

// reauthenticate checks password against customer id's, for changes that
// need it, and returns the customer and the hash it matched.
func (s *Service) reauthenticate(ctx context.Context, id int64, password string) (Customer, string, error) {
	var hash string
	c, err := scanCustomer(s.db.Reader().QueryRowContext(ctx,
		"SELECT "+customerColumns+", password_hash FROM customers WHERE id = $1", id), &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return Customer{}, "", ErrNotFound
	}
	if err != nil {
		return Customer{}, "", fmt.Errorf("customer %d: %w", id, err)
	}
	if len(password) > MaxPasswordLen*utf8.UTFMax || utf8.RuneCountInString(password) > MaxPasswordLen {
		return Customer{}, "", ErrInvalidCredentials
	}
	ok, err := s.hasher.Verify(ctx, hash, password)
	if err != nil {
		return Customer{}, "", fmt.Errorf("customer %d: %w", id, err)
	}
	if !ok {
		return Customer{}, "", ErrInvalidCredentials
	}
	return c, hash, nil
}

// endCredentials ends every session of customer id and every reset link
// not yet used, inside tx: what follows a change of password.
func endCredentials(ctx context.Context, tx db.Querier, id int64) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM customer_sessions WHERE customer_id = $1", id); err != nil {
		return fmt.Errorf("end sessions: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM password_resets WHERE customer_id = $1 AND used_at IS NULL", id); err != nil {
		return fmt.Errorf("end reset links: %w", err)
	}
	return nil
}

// hash hashes password under s.Params, waiting for a free slot.
func (s *Service) hash(ctx context.Context, password string) (string, error) {
	return s.hasher.Hash(ctx, password, s.Params)
}

// queue queues msg in tx, when the service has a mailer.
func (s *Service) queue(ctx context.Context, tx db.Querier, msg notify.Message) error {
	if s.mailer == nil {
		return nil
	}
	return s.mailer.Queue(ctx, tx, msg)
}

// changeNotice renders the email that tells to the account's address that
// its password or address changed, in the language of ctx's storefront.
func (s *Service) changeNotice(ctx context.Context, to, name string, change notify.AccountChange, at time.Time) (notify.Message, error) {
	return notify.AccountChanged(notify.AccountEmail{To: to, Name: name, At: at, ID: randomID(), Lang: storefrontOf(ctx).Lang}, change)
}

// link is the absolute address of path, on the pages of sf's market, with
// a one-time token.
func (s *Service) link(sf Storefront, path, token string) string {
	return s.publicURL + "/" + url.PathEscape(sf.Market) + path + "?token=" + url.QueryEscape(token)
}

const customerColumns = "id, email, name, email_verified_at, created_at"

// scanCustomer reads the customerColumns of one row, plus any extra
// targets.
func scanCustomer(row interface{ Scan(...any) error }, extra ...any) (Customer, error) {
	var c Customer
	var verified sql.NullTime
	if err := row.Scan(append([]any{&c.ID, &c.Email, &c.Name, &verified, &c.CreatedAt}, extra...)...); err != nil {
		return Customer{}, err
	}
	c.EmailVerified = verified.Valid
	c.CreatedAt = c.CreatedAt.UTC()
	return c, nil
}

// normalizeEmail checks an email address and returns it trimmed, as
// checkout does, so that an account and an order agree on what an address
// is.
func normalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || len(s) > MaxEmailLen || !strings.Contains(s[strings.LastIndex(s, "@"):], ".") {
		return "", fieldError("email", ErrInvalidEmail, "must be an email address such as you@example.com")
	}
	return s, nil
}

// EmailKey is what makes two addresses the same account (or staff
// member): the trimmed address in lower case.
func EmailKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// checkName returns name trimmed, or why it is not acceptable.
func checkName(name string) (string, error) {
	bad := func(format string, args ...any) error { return fieldError("name", ErrInvalidName, format, args...) }
	if len(name) > 4*MaxNameLen+1024 {
		// Refused unread: not even surrounding spaces make it short enough.
		return "", bad("must be at most %d characters long", MaxNameLen)
	}
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", bad("must not be empty")
	case utf8.RuneCountInString(name) > MaxNameLen:
		return "", bad("must be at most %d characters long", MaxNameLen)
	case !utf8.ValidString(name):
		return "", bad("must be text")
	case strings.ContainsFunc(name, breaksLine):
		// Line breaks and other controls have no place in a name that
		// is printed in emails and on labels.
		return "", bad("must be on one line, without control characters")
	}
	return name, nil
}

// breaksLine reports whether r is a control character or a line or
// paragraph separator. Other format characters stay allowed: the zero-width
// joiner, for one, builds emoji.
func breaksLine(r rune) bool { return unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp) }

// randomID returns 128 random bits in hex, to tell emails apart.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
