// Package staff holds the back office's people and programs: staff
// members who sign in with a password, their sessions, API keys, and the
// roles and permissions that say what each may do.
//
// It reuses the customer package's argon2id hashing and follows the same
// rules (OWASP ASVS V6 and V7), a little stricter: staff passwords are at
// least MinPasswordLen (12) characters, and staff sessions end after
// IdleTimeout (30 minutes) unused or SessionLifetime (12 hours) after
// sign-in. Session tokens and API keys carry 256 random bits and are
// stored only as their SHA-256. The shop always keeps at least one
// enabled owner: demoting or disabling the last one is refused, checked
// inside the transaction that would do it.
//
// Rate limiting of sign-in is not here: the web layer applies it.
package staff

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"mistore/internal/audit"
	"mistore/internal/customer"
	"mistore/internal/db"
	"mistore/internal/notify"
)

// Errors the service returns, for errors.Is.
var (
	// ErrEmailTaken means another member has the email address, in any
	// letter case.
	ErrEmailTaken = errors.New("staff: a staff member with this email address already exists")
	// ErrPasswordLength means a new password is shorter than
	// MinPasswordLen or longer than MaxPasswordLen characters.
	ErrPasswordLength = errors.New("staff: password length out of bounds")
	// ErrInvalidEmail means a string is not a usable email address.
	ErrInvalidEmail = errors.New("staff: invalid email address")
	// ErrInvalidName means a name is empty, longer than MaxNameLen or
	// holds control characters.
	ErrInvalidName = errors.New("staff: invalid name")
	// ErrInvalidCredentials means the email address or password is wrong,
	// or the member is disabled; which one is never told.
	ErrInvalidCredentials = errors.New("staff: wrong email address or password")
	// ErrNoSession means a session token or API key is unknown, ended,
	// expired or revoked, or its member is disabled.
	ErrNoSession = errors.New("staff: no such session")
	// ErrNotFound means there is no staff member or API key with the id.
	ErrNotFound = errors.New("staff: not found")
	// ErrLastOwner means a change would leave the shop without an enabled
	// owner, and so without anyone who can manage staff.
	ErrLastOwner = errors.New("staff: the last enabled owner can be neither demoted nor disabled")
)

// Limits on what is typed when a member is created.
const (
	// MinPasswordLen and MaxPasswordLen bound a staff password, in
	// characters (runes). Staff passwords open the whole shop, so the
	// minimum is above a customer's; the maximum keeps a request from
	// making the server hash megabytes.
	MinPasswordLen = 12
	MaxPasswordLen = 128
	// MaxEmailLen is the longest email address accepted, in bytes.
	MaxEmailLen = 254
	// MaxNameLen is the longest name, in characters.
	MaxNameLen = 100
)

// Member is a staff member, without their password.
type Member struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	// Disabled members can neither sign in nor use a session.
	Disabled bool `json:"disabled"`
}

// Service manages staff members, their sessions and API keys.
type Service struct {
	// Params are the argon2id costs of the hashes the service makes.
	// NewService sets customer.DefaultParams; tests lower them. Change
	// them only before the service is first used.
	Params customer.Params

	db  *db.DB
	now func() time.Time

	// Mailer, when set, tells a member by email, in the transaction of
	// the change, whenever how they sign in changes: their password,
	// two-step sign-in, their recovery codes. Set it before first use.
	Mailer Queuer

	// hasher runs the argon2id work, a bounded number at once, and keeps
	// the dummy hash an unknown address is verified against.
	hasher *customer.Hasher
}

// Queuer queues an email inside a transaction; notify.Mailer is one.
type Queuer interface {
	Queue(ctx context.Context, tx db.Querier, msg notify.Message) error
}

// tell queues the notice of change to member id, inside tx, when the
// service has a mailer.
func (s *Service) tell(ctx context.Context, tx db.Querier, id int64, change notify.StaffChange) error {
	if s.Mailer == nil {
		return nil
	}
	var email, name string
	if err := tx.QueryRowContext(ctx, "SELECT email, name FROM staff WHERE id = $1", id).Scan(&email, &name); err != nil {
		return fmt.Errorf("notice to staff member %d: %w", id, err)
	}
	noticeID, err := customer.NewToken() // tells this notice apart in the outbox
	if err != nil {
		return fmt.Errorf("notice to staff member %d: %w", id, err)
	}
	msg, err := notify.StaffSecurity(notify.AccountEmail{To: email, Name: name, At: s.now().UTC(), ID: noticeID}, change)
	if err != nil {
		return fmt.Errorf("notice to staff member %d: %w", id, err)
	}
	return s.Mailer.Queue(ctx, tx, msg)
}

// NewService returns the staff service on d. now is its clock (nil means
// time.Now), injectable so tests can step past expiries.
func NewService(d *db.DB, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{
		Params: customer.DefaultParams,
		db:     d,
		now:    now,
		hasher: customer.NewHasher(),
	}
}

// Create adds a staff member. The email is trimmed and kept as typed, but
// unique in any letter case (ErrEmailTaken); the name is trimmed and 1 to
// MaxNameLen characters (ErrInvalidName); the password is MinPasswordLen
// to MaxPasswordLen characters, kept exactly (ErrPasswordLength).
func (s *Service) Create(ctx context.Context, email, name string, role Role, password string) (Member, error) {
	if !role.valid() {
		return Member{}, fmt.Errorf("create staff member: %w %q", ErrInvalidRole, role)
	}
	email, err := normalizeEmail(email)
	if err != nil {
		return Member{}, err
	}
	if name, err = checkName(name); err != nil {
		return Member{}, err
	}
	if err := checkPassword(password); err != nil {
		return Member{}, err
	}
	// Hashing, the slow part, happens before the transaction, so the
	// writer is not held for it.
	hash, err := s.hash(ctx, password)
	if err != nil {
		return Member{}, fmt.Errorf("create staff member: %w", err)
	}
	now := db.Time(s.now())
	m := Member{Email: email, Name: name, Role: role, CreatedAt: now}
	err = s.db.Tx(ctx, func(tx db.Querier) error {
		if err := tx.QueryRowContext(ctx, `INSERT INTO staff (email, email_key, name, role, password_hash, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id`, email, customer.EmailKey(email), name, string(role), hash, now).Scan(&m.ID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "staff.create", subject(m.ID), nil, m)
	})
	if db.IsUniqueViolation(err) {
		return Member{}, fmt.Errorf("create staff member %s: %w", email, ErrEmailTaken)
	}
	if err != nil {
		return Member{}, fmt.Errorf("create staff member %s: %w", email, err)
	}
	return m, nil
}

// Authenticate checks an email address and password and returns the
// member. It returns ErrInvalidCredentials alike for an unknown address, a
// wrong password and a disabled member, after the same argon2id work, so
// that neither the answer nor its timing tells which. A hash made with
// weaker parameters than s.Params is upgraded on the way.
func (s *Service) Authenticate(ctx context.Context, email, password string) (Member, error) {
	// Made on every path, so that its one-time cost does not mark the
	// first unknown address.
	dummy, err := s.hasher.Dummy(ctx, s.Params)
	if err != nil {
		return Member{}, fmt.Errorf("authenticate staff: %w", err)
	}
	if len(password) > MaxPasswordLen*utf8.UTFMax || utf8.RuneCountInString(password) > MaxPasswordLen {
		// No password that long was ever accepted; hashing it would only
		// cost time, and refusing says nothing about the account.
		return Member{}, ErrInvalidCredentials
	}
	var hash string
	m, err := Member{}, sql.ErrNoRows
	if key := customer.EmailKey(email); len(key) <= MaxEmailLen {
		m, err = scanMember(s.db.Reader().QueryRowContext(ctx,
			"SELECT "+memberColumns+", password_hash FROM staff WHERE email_key = $1", key), &hash)
	}
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := s.hasher.Verify(ctx, dummy, password); err != nil {
			return Member{}, fmt.Errorf("authenticate staff: %w", err)
		}
		return Member{}, ErrInvalidCredentials
	}
	if err != nil {
		return Member{}, fmt.Errorf("authenticate staff: %w", err)
	}
	ok, err := s.hasher.Verify(ctx, hash, password)
	if err != nil {
		return Member{}, fmt.Errorf("authenticate staff member %d: %w", m.ID, err)
	}
	// A disabled member's password is still checked, so that the time
	// does not tell disabled accounts from others.
	if !ok || m.Disabled {
		return Member{}, ErrInvalidCredentials
	}
	if customer.NeedsRehash(hash, s.Params) {
		// A failure leaves the old hash, which still works: the upgrade
		// is tried again at the next sign-in.
		_ = s.rehash(ctx, m.ID, hash, password)
	}
	return m, nil
}

// ChangePassword sets member id's password to next, given their current
// one: ErrInvalidCredentials when current is wrong (or the member is
// disabled, or their password changed meanwhile), ErrPasswordLength when
// next is out of bounds, and nothing changes. It ends every other
// session of the member and any sign-in waiting for its second step;
// keep is the session token that stays open (the one making the change),
// "" for none.
func (s *Service) ChangePassword(ctx context.Context, id int64, current, next, keep string) error {
	if err := checkPassword(next); err != nil {
		return err
	}
	var old string
	var disabled sql.NullTime
	err := s.db.Reader().QueryRowContext(ctx, "SELECT password_hash, disabled_at FROM staff WHERE id = $1", id).Scan(&old, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("change password of staff member %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("change password of staff member %d: %w", id, err)
	}
	if len(current) > MaxPasswordLen*utf8.UTFMax {
		return ErrInvalidCredentials
	}
	ok, err := s.hasher.Verify(ctx, old, current)
	if err != nil {
		return fmt.Errorf("change password of staff member %d: %w", id, err)
	}
	if !ok || disabled.Valid {
		return ErrInvalidCredentials
	}
	hash, err := s.hash(ctx, next)
	if err != nil {
		return fmt.Errorf("change password of staff member %d: %w", id, err)
	}
	err = s.db.Tx(ctx, func(tx db.Querier) error {
		// Conditional on the hash that was checked: of two changes racing,
		// the second finds the password no longer the one it was given.
		if err := mustAffect(tx.ExecContext(ctx, "UPDATE staff SET password_hash = $3, updated_at = $4 WHERE id = $1 AND password_hash = $2",
			id, old, hash, db.Time(s.now()))); errors.Is(err, ErrNotFound) {
			return ErrInvalidCredentials
		} else if err != nil {
			return err
		}
		if _, err := endOtherSessions(ctx, tx, id, keep); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM staff_challenges WHERE staff_id = $1", id); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, "staff.change_password", subject(id), nil, nil); err != nil {
			return err
		}
		return s.tell(ctx, tx, id, notify.StaffPasswordChanged)
	})
	if errors.Is(err, ErrInvalidCredentials) {
		return err
	}
	if err != nil {
		return fmt.Errorf("change password of staff member %d: %w", id, err)
	}
	return nil
}

// rehash replaces member id's password hash old with one under the
// current parameters, unless the password changed meanwhile.
func (s *Service) rehash(ctx context.Context, id int64, old, password string) error {
	hash, err := s.hash(ctx, password)
	if err != nil {
		return err
	}
	_, err = s.db.Exec(ctx, "UPDATE staff SET password_hash = $3 WHERE id = $1 AND password_hash = $2", id, old, hash)
	return err
}

// Get returns member id, or ErrNotFound.
func (s *Service) Get(ctx context.Context, id int64) (Member, error) {
	return s.member(ctx, "id", id)
}

// member returns the member whose column holds v, or ErrNotFound.
func (s *Service) member(ctx context.Context, column string, v any) (Member, error) {
	m, err := scanMember(s.db.Reader().QueryRowContext(ctx, "SELECT "+memberColumns+" FROM staff WHERE "+column+" = $1", v))
	if errors.Is(err, sql.ErrNoRows) {
		return Member{}, fmt.Errorf("staff member %v: %w", v, ErrNotFound)
	}
	if err != nil {
		return Member{}, fmt.Errorf("staff member %v: %w", v, err)
	}
	return m, nil
}

// ByEmail returns the member with email address email, in any letter
// case, or ErrNotFound.
func (s *Service) ByEmail(ctx context.Context, email string) (Member, error) {
	return s.member(ctx, "email_key", customer.EmailKey(email))
}

// List returns every staff member, disabled ones included, oldest first.
func (s *Service) List(ctx context.Context) ([]Member, error) {
	rows, err := s.db.Reader().QueryContext(ctx, "SELECT "+memberColumns+" FROM staff ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("list staff: %w", err)
	}
	defer rows.Close()
	var out []Member
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, fmt.Errorf("list staff: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list staff: %w", err)
	}
	return out, nil
}

// SetRole gives member id role. It takes effect at the member's next
// request: sessions read the role each time. Demoting the last enabled
// owner is refused with ErrLastOwner.
func (s *Service) SetRole(ctx context.Context, id int64, role Role) error {
	if !role.valid() {
		return fmt.Errorf("set role of staff member %d: %w %q", id, ErrInvalidRole, role)
	}
	now := db.Time(s.now())
	err := s.db.Tx(ctx, func(tx db.Querier) error {
		if role != RoleOwner {
			if err := s.keepAnOwner(ctx, tx, id); err != nil {
				return err
			}
		}
		var before string
		if err := tx.QueryRowContext(ctx, "SELECT role FROM staff WHERE id = $1", id).Scan(&before); errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		if err := mustAffect(tx.ExecContext(ctx, "UPDATE staff SET role = $2, updated_at = $3 WHERE id = $1", id, string(role), now)); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "staff.set_role", subject(id), map[string]string{"role": before}, map[string]string{"role": string(role)})
	})
	if err != nil {
		return fmt.Errorf("set role of staff member %d to %s: %w", id, role, err)
	}
	return nil
}

// Disable stops member id from signing in and ends all their sessions at
// once. Disabling the last enabled owner is refused with ErrLastOwner.
// Disabling a disabled member changes nothing.
func (s *Service) Disable(ctx context.Context, id int64) error {
	now := db.Time(s.now())
	err := s.db.Tx(ctx, func(tx db.Querier) error {
		if err := s.keepAnOwner(ctx, tx, id); err != nil {
			return err
		}
		if err := mustAffect(tx.ExecContext(ctx,
			"UPDATE staff SET disabled_at = COALESCE(disabled_at, $2), updated_at = $2 WHERE id = $1", id, now)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM staff_sessions WHERE staff_id = $1", id); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "staff.disable", subject(id), map[string]bool{"disabled": false}, map[string]bool{"disabled": true})
	})
	if err != nil {
		return fmt.Errorf("disable staff member %d: %w", id, err)
	}
	return nil
}

// subject names member id in the audit log.
func subject(id int64) string { return "staff:" + strconv.FormatInt(id, 10) }

// ownerLockID is the PostgreSQL advisory lock that changes of who is an
// enabled owner take, so that they run one after the other.
const ownerLockID = 7259_1008

// keepAnOwner returns ErrLastOwner, inside tx, if member id is an enabled
// owner and no other enabled owner exists: the check before id stops
// being one. Without a lock two transactions demoting the two last owners
// could each see the other still an owner and both commit; on PostgreSQL
// (READ COMMITTED) the advisory lock makes the second wait for the first
// and then, its next statement taking a fresh snapshot, see the first's
// change. On SQLite every write transaction holds the database's one
// write lock from its first statement already.
func (s *Service) keepAnOwner(ctx context.Context, tx db.Querier, id int64) error {
	if s.db.Dialect == db.Postgres {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", ownerLockID); err != nil {
			return fmt.Errorf("lock owners: %w", err)
		}
	}
	var role string
	var disabled sql.NullTime
	err := tx.QueryRowContext(ctx, "SELECT role, disabled_at FROM staff WHERE id = $1", id).Scan(&role, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	if Role(role) != RoleOwner || disabled.Valid {
		return nil
	}
	var others int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM staff WHERE role = 'owner' AND disabled_at IS NULL AND id <> $1",
		id).Scan(&others); err != nil {
		return err
	}
	if others == 0 {
		return ErrLastOwner
	}
	return nil
}

// mustAffect turns an update that touched no row into ErrNotFound.
func mustAffect(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// hash hashes password under s.Params, waiting for a free slot.
func (s *Service) hash(ctx context.Context, password string) (string, error) {
	return s.hasher.Hash(ctx, password, s.Params)
}

const memberColumns = "id, email, name, role, created_at, disabled_at"

// scanMember reads the memberColumns of one row, plus any extra targets.
func scanMember(row interface{ Scan(...any) error }, extra ...any) (Member, error) {
	var (
		m        Member
		role     string
		disabled sql.NullTime
	)
	if err := row.Scan(append([]any{&m.ID, &m.Email, &m.Name, &role, &m.CreatedAt, &disabled}, extra...)...); err != nil {
		return Member{}, err
	}
	m.Role, m.Disabled, m.CreatedAt = Role(role), disabled.Valid, m.CreatedAt.UTC()
	return m, nil
}

// checkPassword refuses a password of the wrong length. It looks at the
// byte length first, so that an enormous input is refused unread: no
// character takes more than utf8.UTFMax bytes.
func checkPassword(password string) error {
	if len(password) < MinPasswordLen || len(password) > MaxPasswordLen*utf8.UTFMax {
		return passwordLengthError()
	}
	if n := utf8.RuneCountInString(password); n < MinPasswordLen || n > MaxPasswordLen {
		return passwordLengthError()
	}
	return nil
}

func passwordLengthError() error {
	return fmt.Errorf("%w: a staff password must be %d to %d characters long", ErrPasswordLength, MinPasswordLen, MaxPasswordLen)
}

// normalizeEmail checks an email address and returns it trimmed.
func normalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > MaxEmailLen {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrInvalidEmail, MaxEmailLen)
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || !strings.Contains(s[strings.LastIndex(s, "@"):], ".") {
		return "", fmt.Errorf("%w %q: want an address such as you@example.com", ErrInvalidEmail, s)
	}
	return s, nil
}

// checkName returns name trimmed, or why it is not acceptable.
func checkName(name string) (string, error) {
	if len(name) > utf8.UTFMax*MaxNameLen+1024 {
		// Refused unread: not even surrounding spaces make it short enough.
		return "", fmt.Errorf("%w: longer than %d characters", ErrInvalidName, MaxNameLen)
	}
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", fmt.Errorf("%w: empty", ErrInvalidName)
	case !utf8.ValidString(name):
		return "", fmt.Errorf("%w: not text", ErrInvalidName)
	case utf8.RuneCountInString(name) > MaxNameLen:
		return "", fmt.Errorf("%w: longer than %d characters", ErrInvalidName, MaxNameLen)
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp) }):
		// A name is shown on one line in lists and the audit log.
		return "", fmt.Errorf("%w: must be on one line, without control characters", ErrInvalidName)
	}
	return name, nil
}
