package customer

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"mistore/internal/db"
)

// SessionKind is what holds a session: a browser, with a cookie, or an API
// client, with a bearer token.
type SessionKind string

// Session kinds.
const (
	SessionBrowser SessionKind = "browser"
	SessionAPI     SessionKind = "api"
)

// Session lifetimes (ASVS V7.3). A session ends when it has not been used
// for its idle timeout, or at its absolute lifetime from sign-in however
// much it is used; either way the customer signs in again. A browser is
// more often shared or left open than an API client that keeps its token
// in its own storage, so its limits are shorter.
const (
	BrowserIdleTimeout = 24 * time.Hour
	BrowserLifetime    = 30 * 24 * time.Hour
	APIIdleTimeout     = 30 * 24 * time.Hour
	APILifetime        = 90 * 24 * time.Hour
)

// TouchInterval is how stale a session's last_seen_at may get before a
// request writes it again: a busy session costs one write a minute, not
// one per request, and its idle timeout is off by at most this much.
const TouchInterval = time.Minute

// MaxSessions bounds a customer's live sessions: a new one beyond it ends
// the least recently used, so a script that signs in in a loop cannot grow
// the table without end.
const MaxSessions = 50

// tokenBytes is the size of every secret token: 256 random bits.
const tokenBytes = 32

// Session is a signed-in browser or API client. The token that opens it is
// not part of it: it exists only with the client.
type Session struct {
	CustomerID int64       `json:"customer_id"`
	Kind       SessionKind `json:"kind"`
	CreatedAt  time.Time   `json:"created_at"`
	LastSeenAt time.Time   `json:"last_seen_at"`
	ExpiresAt  time.Time   `json:"expires_at"`
}

// IdleTimeout is how long a session of kind may go unused before it
// ends: BrowserIdleTimeout or APIIdleTimeout, 0 for an unknown kind.
func IdleTimeout(kind SessionKind) time.Duration {
	idle, _, _ := kind.limits()
	return idle
}

// AbsoluteTimeout is the lifetime of a session of kind from sign-in,
// however much it is used: BrowserLifetime or APILifetime, 0 for an
// unknown kind. A cookie that carries the token should not outlive it.
func AbsoluteTimeout(kind SessionKind) time.Duration {
	_, life, _ := kind.limits()
	return life
}

// limits returns the idle timeout and lifetime of sessions of kind k.
func (k SessionKind) limits() (idle, life time.Duration, ok bool) {
	switch k {
	case SessionBrowser:
		return BrowserIdleTimeout, BrowserLifetime, true
	case SessionAPI:
		return APIIdleTimeout, APILifetime, true
	}
	return 0, 0, false
}

// NewSession signs customer customerID in and returns the session's token
// (ErrInvalidCredentials if the account is disabled):
// 32 random bytes in unpadded base64url, to be handed to the client (in a
// cookie or as a bearer token) and never kept by the store, which stores
// only its SHA-256. Call it at every sign-in, so that a browser never keeps
// an identifier it had before (no session fixation).
func (s *Service) NewSession(ctx context.Context, customerID int64, kind SessionKind) (string, error) {
	_, life, ok := kind.limits()
	if !ok {
		return "", fmt.Errorf("new session: unknown session kind %q", kind)
	}
	token, id, err := newToken()
	if err != nil {
		return "", fmt.Errorf("new session: %w", err)
	}
	now := db.Time(s.now())
	err = s.db.Tx(ctx, func(tx db.Querier) error {
		var disabled sql.NullTime
		err := tx.QueryRowContext(ctx, "SELECT disabled_at FROM customers WHERE id = $1", customerID).Scan(&disabled)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if disabled.Valid {
			// Disabled between the password check and here.
			return ErrInvalidCredentials
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO customer_sessions (id, customer_id, kind, created_at, last_seen_at, expires_at)
			VALUES ($1, $2, $3, $4, $4, $5)`, id, customerID, string(kind), now, now.Add(life)); err != nil {
			return err
		}
		// Keep the newest MaxSessions; the rest have been idle longest.
		_, err = tx.ExecContext(ctx, `DELETE FROM customer_sessions WHERE customer_id = $1 AND id NOT IN (
			SELECT id FROM customer_sessions WHERE customer_id = $1 ORDER BY last_seen_at DESC, created_at DESC LIMIT $2)`,
			customerID, MaxSessions)
		return err
	})
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalidCredentials) {
		return "", err
	}
	if err != nil {
		return "", fmt.Errorf("new session for customer %d: %w", customerID, err)
	}
	return token, nil
}

// Session returns the session token opens and its customer, or
// ErrNoSession when the token is unknown, ended, past its lifetime, idle
// for longer than its kind's idle timeout, or its account is disabled. Using a session keeps it alive:
// its last use is recorded, at most once per TouchInterval.
func (s *Service) Session(ctx context.Context, token string) (Session, Customer, error) {
	if !WellFormedToken(token) {
		return Session{}, Customer{}, ErrNoSession
	}
	id := HashToken(token)
	var (
		sess Session
		kind string
	)
	c, err := scanCustomer(s.db.Reader().QueryRowContext(ctx, `SELECT c.id, c.email, c.name, c.email_verified_at, c.created_at,
			s.customer_id, s.kind, s.created_at, s.last_seen_at, s.expires_at
		FROM customer_sessions s JOIN customers c ON c.id = s.customer_id WHERE s.id = $1 AND c.disabled_at IS NULL`, id),
		&sess.CustomerID, &kind, &sess.CreatedAt, &sess.LastSeenAt, &sess.ExpiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, Customer{}, ErrNoSession
	}
	if err != nil {
		return Session{}, Customer{}, fmt.Errorf("session: %w", err)
	}
	sess.Kind = SessionKind(kind)
	sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt = sess.CreatedAt.UTC(), sess.LastSeenAt.UTC(), sess.ExpiresAt.UTC()
	idle, _, ok := sess.Kind.limits()
	now := db.Time(s.now())
	if !ok || !now.Before(sess.ExpiresAt) || !now.Before(sess.LastSeenAt.Add(idle)) {
		return Session{}, Customer{}, ErrNoSession
	}
	if now.Sub(sess.LastSeenAt) >= TouchInterval {
		// Relaxed: losing a touch in a database crash only brings the
		// idle timeout a minute closer. A failed touch does not refuse a
		// session that is valid; the next request tries again.
		if _, err := s.db.ExecRelaxed(ctx, "UPDATE customer_sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2",
			id, now); err == nil {
			sess.LastSeenAt = now
		}
	}
	return sess, c, nil
}

// EndSession signs out the session token opens. Ending a session that does
// not exist (any more) is not an error: signing out twice is fine.
func (s *Service) EndSession(ctx context.Context, token string) error {
	if !WellFormedToken(token) {
		return nil
	}
	err := s.db.Tx(ctx, func(tx db.Querier) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM customer_sessions WHERE id = $1", HashToken(token))
		return err
	})
	if err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// EndSessions signs customer customerID out everywhere, except in the
// session whose token is except ("" ends them all): the "sign out other
// devices" button.
func (s *Service) EndSessions(ctx context.Context, customerID int64, except string) error {
	keep := "" // no session id is empty: nothing is kept
	if except != "" {
		keep = HashToken(except)
	}
	err := s.db.Tx(ctx, func(tx db.Querier) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM customer_sessions WHERE customer_id = $1 AND id <> $2", customerID, keep)
		return err
	})
	if err != nil {
		return fmt.Errorf("end sessions of customer %d: %w", customerID, err)
	}
	return nil
}

// Sweep deletes expired sessions and expired or used one-time links, and
// returns how many rows it deleted, for a periodic job. Lookups already
// ignore them, so sweeping only reclaims space.
func (s *Service) Sweep(ctx context.Context) (int64, error) {
	now := db.Time(s.now())
	var total int64
	err := s.db.TxRelaxed(ctx, func(tx db.Querier) error {
		total = 0
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`DELETE FROM customer_sessions WHERE expires_at <= $1
				OR (kind = 'browser' AND last_seen_at <= $2) OR (kind = 'api' AND last_seen_at <= $3)`,
				[]any{now, now.Add(-BrowserIdleTimeout), now.Add(-APIIdleTimeout)}},
			{"DELETE FROM password_resets WHERE expires_at <= $1 OR used_at IS NOT NULL", []any{now}},
			{"DELETE FROM email_verifications WHERE expires_at <= $1 OR used_at IS NOT NULL", []any{now}},
		} {
			res, err := tx.ExecContext(ctx, q.sql, q.args...)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sweep customer sessions and links: %w", err)
	}
	return total, nil
}

// newToken returns a fresh secret token and the hash under which it is
// stored.
func newToken() (token, hash string, err error) {
	if token, err = NewToken(); err != nil {
		return "", "", err
	}
	return token, HashToken(token), nil
}

// NewToken returns a fresh secret: tokenBytes random bytes in unpadded
// base64url, as every session token and reset link carries (staff's
// too). Store only its HashToken.
func NewToken() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// HashToken is the stored form of a token: the hex SHA-256 of the string
// the client holds. A token has 256 random bits, so a fast hash is enough:
// there is nothing to guess, only to keep out of the database.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// WellFormedToken reports whether token could be one this package made, so that
// garbage is refused without a query.
func WellFormedToken(token string) bool {
	if len(token) != base64.RawURLEncoding.EncodedLen(tokenBytes) {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(token)
	return err == nil && len(b) == tokenBytes
}
