// Package idempotency keeps the first answer to a creating request made
// with an Idempotency-Key header, so that a client that retries (because a
// connection dropped, a proxy timed out or a user pressed twice) gets that
// answer again instead of a second order, cart or refund (API.md).
//
// A key lives in the idempotency_keys table, scoped to the caller, with a
// fingerprint of the request. Claim claims it with one conditional insert,
// so on either engine and across any number of instances exactly one
// request runs per key; the others are told by Lookup to replay, to wait,
// or that they reused the key for a different request. The claim goes
// into the transaction of the change it guards, so that the two commit
// together, or, for a request whose change that cannot reach, into one of
// its own before the request runs (Begin). Finish stores the answer;
// Abandon releases the key when there was no answer worth keeping; Record
// keeps the answer of a request that wrote nothing.
//
// A key whose request never finished because its process died after its
// change committed stays running until it expires: nobody can tell
// whether that request's answer reached the client, and refusing the
// retry (409) is the answer that can never do anything twice. Once it has
// been running for InterruptedAfter, far longer than any request runs,
// Lookup says so (ErrInterrupted) instead of "still in progress", so that
// the client stops waiting for an answer that will not come and looks at
// what exists instead.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"mistore/internal/db"
)

// TTL is how long a key and its answer are kept.
const TTL = 24 * time.Hour

// InterruptedAfter is how long a key may stay running before its request
// is taken to have been interrupted (its process stopped) rather than
// still running. The server gives up writing an answer after a minute.
const InterruptedAfter = 10 * time.Minute

// MaxKeyLen is the longest key accepted, in bytes.
const MaxKeyLen = 255

// MaxBody bounds both the request body that is fingerprinted and the
// answer that is stored: 1 MB, far more than any creating request or its
// answer needs.
const MaxBody = 1 << 20

// Errors Begin returns when the request must not run.
var (
	// ErrKeyReused means the key was already used by this caller for a
	// different request (method, path or body).
	ErrKeyReused = errors.New("idempotency: key already used for a different request")
	// ErrInProgress means the first request with the key is still running.
	ErrInProgress = errors.New("idempotency: a request with this key is still in progress")
	// ErrInterrupted means the first request with the key was cut short
	// (its process stopped) after it claimed the key: it may or may not
	// have taken effect, and it will never be answered.
	ErrInterrupted = errors.New("idempotency: the request with this key was interrupted")
	// ErrInvalidKey means the key is empty, too long or not printable ASCII.
	ErrInvalidKey = errors.New("idempotency: invalid key")
	// ErrTaken means Claim or Record found the key held by an earlier
	// request.
	ErrTaken = errors.New("idempotency: key held by an earlier request")
	// ErrUnknownKey means Lookup found nobody holding the key.
	ErrUnknownKey = errors.New("idempotency: no request holds the key")
)

// Outcome is what Begin decided.
type Outcome struct {
	// Proceed is true when this call claimed the key: the caller must run
	// the request and then call Finish or Abandon.
	Proceed bool
	// Replay is the stored first answer, when Proceed is false.
	Replay Replay
}

// Replay is a stored answer, to be sent again as it was.
type Replay struct {
	Status      int
	ContentType string
	Body        []byte
}

// Store keeps idempotency keys in the database.
type Store struct {
	db  *db.DB
	now func() time.Time
}

// NewStore returns a store on d; now is its clock (nil means time.Now),
// injectable so that tests can step past the expiry.
func NewStore(d *db.DB, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: d, now: now}
}

// CheckKey reports whether key is acceptable: 1 to MaxKeyLen printable
// ASCII characters. Anything else is refused rather than cleaned up, since
// a key the client did not send byte for byte would not match its retry.
func CheckKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: it is empty", ErrInvalidKey)
	}
	if len(key) > MaxKeyLen {
		return fmt.Errorf("%w: it has %d characters, at most %d are allowed", ErrInvalidKey, len(key), MaxKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c > 0x7e {
			return fmt.Errorf("%w: character %d is not printable ASCII", ErrInvalidKey, i+1)
		}
	}
	return nil
}

// Fingerprint identifies a request: SHA-256 over the method, the target
// (path and query) and the raw body. The body is not normalised (no JSON
// re-encoding, no whitespace or key-order folding): "the same body" means
// the same bytes, so a retry that differs in any way is a different
// request. The method and target are length-prefixed so that no choice of
// target and body can collide with another.
func Fingerprint(method, target string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(strconv.Itoa(len(method)) + ":" + method + strconv.Itoa(len(target)) + ":" + target))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// Storable reports whether an answer with status is final and so kept for
// replay. 2xx answers are; so are 4xx answers, which by the API's rule
// changed nothing, except those that say "not now" (408 timeout, 409
// conflict with the current state, 423 locked, 425 too early, 429 too
// many requests): the same request may rightly succeed later, so the key
// is released for the retry. 5xx answers are never kept, for the same
// reason.
func Storable(status int) bool {
	switch {
	case status >= 200 && status < 300:
		return true
	case status >= 400 && status < 500:
		switch status {
		case 408, 409, 423, 425, 429:
			return false
		}
		return true
	}
	return false
}

// claimSQL claims a key that is new or has expired, in one statement, so
// that of two requests claiming at once exactly one wins; an expired
// key's old answer goes with it.
const claimSQL = `INSERT INTO idempotency_keys
	(scope, key, fingerprint, state, status, content_type, body, created_at, expires_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
	ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, state = excluded.state,
		status = excluded.status, content_type = excluded.content_type, body = excluded.body,
		created_at = excluded.created_at, expires_at = excluded.expires_at
	WHERE idempotency_keys.expires_at <= excluded.created_at`

// Claim claims key for scope inside tx, so that the claim commits or
// rolls back with the change the request makes in tx. It returns ErrTaken
// when the key is held (running or answered) by an earlier request; the
// caller must then roll tx back and ask Lookup what to answer.
func (s *Store) Claim(ctx context.Context, tx db.Querier, scope, key, fingerprint string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	now := db.Time(s.now())
	res, err := tx.ExecContext(ctx, claimSQL, scope, key, fingerprint, "running", 0, "", "", now, now.Add(TTL))
	return claimed(res, err, key)
}

// claimed turns the result of claimSQL into Claim's answer.
func claimed(res sql.Result, err error, key string) error {
	if err != nil {
		return fmt.Errorf("idempotency: claim %q: %w", key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("idempotency: claim %q: %w", key, err)
	}
	if n == 0 {
		return ErrTaken
	}
	return nil
}

// Begin claims key for scope in a transaction of its own, before the
// request runs, or says why the request must not run. It returns Proceed
// when this call owns the key, a Replay of the stored answer when the
// same request was already answered, ErrKeyReused when the key was used
// for a different request, and ErrInProgress when the same request is
// still running. An expired key is taken over as if new.
func (s *Store) Begin(ctx context.Context, scope, key, fingerprint string) (Outcome, error) {
	err := s.db.TxRelaxed(ctx, func(tx db.Querier) error {
		return s.Claim(ctx, tx, scope, key, fingerprint)
	})
	switch {
	case err == nil:
		return Outcome{Proceed: true}, nil
	case !errors.Is(err, ErrTaken):
		return Outcome{}, err
	}
	return s.Held(ctx, scope, key, fingerprint)
}

// Held says what to answer a request whose claim found key taken: what
// Lookup says, except that a key nobody holds any more (released or
// expired since the claim failed) is ErrInProgress, since the retry will
// find it free.
func (s *Store) Held(ctx context.Context, scope, key, fingerprint string) (Outcome, error) {
	out, err := s.Lookup(ctx, scope, key, fingerprint)
	if errors.Is(err, ErrUnknownKey) {
		return Outcome{}, ErrInProgress
	}
	return out, err
}

// Lookup says what became of key for a request with fingerprint that did
// not claim it: a Replay of the stored answer, ErrKeyReused when the key
// belongs to a different request, ErrInProgress while its request runs,
// ErrInterrupted when it has been running for InterruptedAfter, and
// ErrUnknownKey when nobody holds it (never claimed, released, or
// expired).
func (s *Store) Lookup(ctx context.Context, scope, key, fingerprint string) (Outcome, error) {
	var (
		fp, state, contentType, body string
		status                       int
		created, expires             time.Time
	)
	err := s.db.Reader().QueryRowContext(ctx, `SELECT fingerprint, state, status, content_type, body, created_at, expires_at
		FROM idempotency_keys WHERE scope = $1 AND key = $2`, scope, key).
		Scan(&fp, &state, &status, &contentType, &body, &created, &expires)
	now := db.Time(s.now())
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Outcome{}, ErrUnknownKey
	case err != nil:
		return Outcome{}, fmt.Errorf("idempotency: look up %q: %w", key, err)
	case !expires.After(now):
		return Outcome{}, ErrUnknownKey
	case fp != fingerprint:
		return Outcome{}, ErrKeyReused
	case state == "running" && !now.Before(created.Add(InterruptedAfter)):
		return Outcome{}, ErrInterrupted
	case state == "running":
		return Outcome{}, ErrInProgress
	}
	return Outcome{Replay: Replay{Status: status, ContentType: contentType, Body: []byte(body)}}, nil
}

// Record stores the answer to a request that ran without claiming key
// because it wrote nothing, to be replayed for TTL from now. It returns
// ErrTaken when another request holds the key: that request's answer, from
// Lookup, is then the one to give. Its answer rules are Finish's.
func (s *Store) Record(ctx context.Context, scope, key, fingerprint string, status int, contentType string, body []byte) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if err := keepable(key, status, body); err != nil {
		return err
	}
	now := db.Time(s.now())
	res, err := s.db.ExecRelaxed(ctx, claimSQL, scope, key, fingerprint, "done", status, contentType, string(body), now, now.Add(TTL))
	return claimed(res, err, key)
}

// keepable says why an answer cannot be stored, if it cannot.
func keepable(key string, status int, body []byte) error {
	switch {
	case !Storable(status):
		return fmt.Errorf("idempotency: keep %q: status %d is not a final answer", key, status)
	case len(body) > MaxBody:
		return fmt.Errorf("idempotency: keep %q: answer of %d bytes exceeds %d", key, len(body), MaxBody)
	case !utf8.Valid(body) || bytes.IndexByte(body, 0) >= 0:
		// PostgreSQL TEXT refuses both; refusing them on SQLite too keeps
		// the engines alike.
		return fmt.Errorf("idempotency: keep %q: answer is not text", key)
	}
	return nil
}

// Finish stores the answer to the request that owns key, to be replayed
// until TTL after the key was claimed: the expiry set by the claim stays,
// so that storing the answer moves no index entry (a fifth of the
// statement's time on SQLite's one writer). The caller decides with Storable whether the answer is
// final; Finish refuses one that is not, and a body that is not valid
// UTF-8 text or is larger than MaxBody, which the table cannot keep as
// sent.
func (s *Store) Finish(ctx context.Context, scope, key string, status int, contentType string, body []byte) error {
	if err := keepable(key, status, body); err != nil {
		return err
	}
	res, err := s.db.ExecRelaxed(ctx, `UPDATE idempotency_keys
		SET state = 'done', status = $3, content_type = $4, body = $5
		WHERE scope = $1 AND key = $2 AND state = 'running'`,
		scope, key, status, contentType, string(body))
	if err != nil {
		return fmt.Errorf("idempotency: finish %q: %w", key, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("idempotency: finish %q: %w", key, err)
	} else if n == 0 {
		return fmt.Errorf("idempotency: finish %q: the key is not running", key)
	}
	return nil
}

// Abandon releases a key whose request gave no final answer (a 5xx, a
// panic, a "not now" 4xx), so that the client may retry with it. Only a
// running key is released: a stored answer stays.
func (s *Store) Abandon(ctx context.Context, scope, key string) error {
	if _, err := s.db.ExecRelaxed(ctx, `DELETE FROM idempotency_keys
		WHERE scope = $1 AND key = $2 AND state = 'running'`, scope, key); err != nil {
		return fmt.Errorf("idempotency: abandon %q: %w", key, err)
	}
	return nil
}

// Sweep deletes expired keys and returns how many, for a periodic job.
// Begin already ignores expired keys, so sweeping only reclaims space.
func (s *Store) Sweep(ctx context.Context) (int64, error) {
	res, err := s.db.ExecRelaxed(ctx, `DELETE FROM idempotency_keys WHERE expires_at <= $1`, db.Time(s.now()))
	if err != nil {
		return 0, fmt.Errorf("idempotency: sweep: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("idempotency: sweep: %w", err)
	}
	return n, nil
}
