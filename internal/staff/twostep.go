package staff

// Two-step sign-in: after their password, a member who turned it on
// gives a code from an authenticator app (TOTP, RFC 6238: HMAC-SHA-1,
// six digits, 30-second steps, the form every authenticator app reads)
// or one of their single-use recovery codes.

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"database/sql"
	"database/sql/driver"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"mistore/internal/audit"
	"mistore/internal/customer"
	"mistore/internal/db"
	"mistore/internal/notify"
)

// Two-step sign-in's parameters.
const (
	// TOTPStep is the life of one authenticator code.
	TOTPStep = 30 * time.Second
	// TOTPDigits is the length of an authenticator code.
	TOTPDigits = 6
	// totpSkew is how many steps either side of the server's clock are
	// accepted, for a phone whose clock is off by up to 30 seconds and a
	// code typed just as it changed.
	totpSkew = 1
	// totpKeyBytes is the key's length: 160 bits, RFC 4226's
	// recommendation for HMAC-SHA-1.
	totpKeyBytes = 20
	// RecoveryCodeCount is how many recovery codes a member gets each
	// time two-step sign-in is turned on.
	RecoveryCodeCount = 10
	// ChallengeLifetime is how long the second step may wait after the
	// password was right.
	ChallengeLifetime = 5 * time.Minute
	// MaxChallengeFailures is how many wrong codes end a challenge: the
	// member then starts again from the password.
	MaxChallengeFailures = 5
)

// Errors of two-step sign-in, for errors.Is.
var (
	// ErrWrongCode means a code is not the authenticator's code of the
	// moment, was already used, or is not an unused recovery code.
	ErrWrongCode = errors.New("staff: wrong or already used code")
	// ErrTwoStepOn means two-step sign-in is already on for the member.
	ErrTwoStepOn = errors.New("staff: two-step sign-in is already on")
	// ErrTwoStepNotSetUp means there is no key being set up (or on) to
	// check a code against.
	ErrTwoStepNotSetUp = errors.New("staff: two-step sign-in is not set up")
	// ErrNoChallenge means a sign-in's second step is unknown, expired,
	// ended after too many wrong codes, or its member is disabled.
	ErrNoChallenge = errors.New("staff: no sign-in waiting for a code")
)

// base32Key is how keys are shown and put in otpauth URIs: RFC 4648
// base32 without padding, which authenticator apps expect.
var base32Key = base32.StdEncoding.WithPadding(base32.NoPadding)

// totpKey is a TOTP key as the store keeps it: base32 text, which both
// engines store and copy alike.
type totpKey []byte

// Value implements driver.Valuer.
func (k totpKey) Value() (driver.Value, error) { return base32Key.EncodeToString(k), nil }

// Scan implements sql.Scanner.
func (k *totpKey) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return fmt.Errorf("authenticator key: unexpected %T", src)
	}
	b, err := base32Key.DecodeString(s)
	if err != nil {
		return fmt.Errorf("authenticator key: %w", err)
	}
	*k = b
	return nil
}

// TwoStepSetup is a key being set up: Key for typing into an
// authenticator app, URI (otpauth://) for one that opens links or reads
// it from a QR code.
type TwoStepSetup struct {
	Key string
	URI string
}

// TwoStepState is where a member stands with two-step sign-in.
type TwoStepState struct {
	// On: the second step is asked for at every sign-in.
	On bool
	// Setup is the key being set up, when the member started and has not
	// yet confirmed it; nil otherwise.
	Setup *TwoStepSetup
	// RecoveryLeft is how many unused recovery codes the member has.
	RecoveryLeft int
}

// hotp is RFC 4226's HOTP value of key at counter, as TOTPDigits digits.
func hotp(key []byte, counter uint64) string {
	mac := hmac.New(sha1.New, key)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%0*d", TOTPDigits, v%1_000_000)
}

// TOTPCode returns the code an authenticator app shows at t for key (as
// SetUpTwoStep gives it, base32): what a member types, and what tests and
// scripts that sign in as a member compute.
func TOTPCode(key string, t time.Time) (string, error) {
	b, err := base32Key.DecodeString(strings.ToUpper(strings.ReplaceAll(key, " ", "")))
	if err != nil {
		return "", fmt.Errorf("authenticator key: %w", err)
	}
	return hotp(b, uint64(totpStep(t))), nil
}

// totpStep is the number of the TOTPStep-long step t falls in.
func totpStep(t time.Time) int64 { return t.Unix() / int64(TOTPStep/time.Second) }

// matchTOTP returns the step, within totpSkew of now, whose code is code,
// or 0. Every candidate is compared, in constant time, so that the time
// taken does not tell which step matched.
func matchTOTP(key []byte, code string, now time.Time) int64 {
	step := totpStep(now)
	var found int64
	for s := step - totpSkew; s <= step+totpSkew; s++ {
		if subtle.ConstantTimeCompare([]byte(hotp(key, uint64(s))), []byte(code)) == 1 {
			found = s
		}
	}
	return found
}

// normalizeCode takes what was typed for a code: spaces and dashes
// dropped, letters in lower case. ok reports whether the result has the
// shape of an authenticator code (totp) or of a recovery code.
func normalizeCode(typed string) (code string, totp, ok bool) {
	var b strings.Builder
	for _, r := range strings.ToLower(typed) {
		switch {
		case r == ' ' || r == '-' || r == '\t':
		case r >= '0' && r <= '9', r >= 'a' && r <= 'z':
			b.WriteRune(r)
		default:
			return "", false, false
		}
		if b.Len() > 32 {
			return "", false, false
		}
	}
	code = b.String()
	if len(code) == TOTPDigits && strings.Trim(code, "0123456789") == "" {
		return code, true, true
	}
	if len(code) == 10 && strings.Trim(code, "abcdefghijklmnopqrstuvwxyz234567") == "" {
		return code, false, true
	}
	return "", false, false
}

// newRecoveryCode returns a recovery code: ten base32 letters and digits
// (50 random bits), written as two groups of five.
func newRecoveryCode() (string, error) {
	b := make([]byte, 7)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	s := strings.ToLower(base32Key.EncodeToString(b))[:10]
	return s[:5] + "-" + s[5:], nil
}

// newRecoveryCodes returns a member's set of RecoveryCodeCount codes.
func newRecoveryCodes() ([]string, error) {
	codes := make([]string, RecoveryCodeCount)
	for i := range codes {
		c, err := newRecoveryCode()
		if err != nil {
			return nil, err
		}
		codes[i] = c
	}
	return codes, nil
}

// otpauthURI is the Key URI Format that authenticator apps read: the
// account is the member's email address under issuer.
func otpauthURI(issuer, email string, key []byte) string {
	v := url.Values{}
	v.Set("secret", base32Key.EncodeToString(key))
	v.Set("issuer", issuer)
	v.Set("algorithm", "SHA1")
	v.Set("digits", fmt.Sprint(TOTPDigits))
	v.Set("period", fmt.Sprint(int(TOTPStep/time.Second)))
	label := url.PathEscape(issuer) + ":" + url.PathEscape(email)
	return "otpauth://totp/" + label + "?" + v.Encode()
}

// TwoStep says where member id stands with two-step sign-in; issuer names
// the store in a key being set up (see SetUpTwoStep).
func (s *Service) TwoStep(ctx context.Context, id int64, issuer string) (TwoStepState, error) {
	var st TwoStepState
	var key totpKey
	var confirmed sql.NullTime
	var email string
	err := s.db.Reader().QueryRowContext(ctx, `SELECT t.secret, t.confirmed_at, m.email,
			(SELECT count(*) FROM staff_recovery_codes r WHERE r.staff_id = t.staff_id AND r.used_at IS NULL)
		FROM staff_two_step t JOIN staff m ON m.id = t.staff_id WHERE t.staff_id = $1`, id).
		Scan(&key, &confirmed, &email, &st.RecoveryLeft)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return TwoStepState{}, nil
	case err != nil:
		return TwoStepState{}, fmt.Errorf("two-step sign-in of staff member %d: %w", id, err)
	case confirmed.Valid:
		st.On = true
	default:
		// A key being set up has no recovery codes yet: they come with
		// the confirmation.
		st.Setup = &TwoStepSetup{Key: base32Key.EncodeToString(key), URI: otpauthURI(issuer, email, key)}
	}
	return st, nil
}

// TwoStepMembers returns the ids of the members with two-step sign-in
// on, for the staff list.
func (s *Service) TwoStepMembers(ctx context.Context) (map[int64]bool, error) {
	out := map[int64]bool{}
	err := db.EachRow(ctx, s.db.Reader(), "SELECT staff_id FROM staff_two_step WHERE confirmed_at IS NOT NULL", nil,
		func(rows *sql.Rows) error {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			out[id] = true
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("two-step sign-in of staff: %w", err)
	}
	return out, nil
}

// SetUpTwoStep makes a new key for member id and returns it, to be
// confirmed with a code made from it (ConfirmTwoStep); until then sign-in
// is unchanged. Starting again replaces a key not yet confirmed. issuer
// is the name authenticator apps show for the key. ErrTwoStepOn when it
// is on already: it must be turned off first.
func (s *Service) SetUpTwoStep(ctx context.Context, id int64, issuer string) (TwoStepSetup, error) {
	key := make([]byte, totpKeyBytes)
	if _, err := rand.Read(key); err != nil {
		return TwoStepSetup{}, fmt.Errorf("set up two-step sign-in: %w", err)
	}
	var email string
	err := s.db.Tx(ctx, func(tx db.Querier) error {
		var disabled sql.NullTime
		err := tx.QueryRowContext(ctx, "SELECT email, disabled_at FROM staff WHERE id = $1", id).Scan(&email, &disabled)
		if errors.Is(err, sql.ErrNoRows) || disabled.Valid {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO staff_two_step (staff_id, secret, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (staff_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at
			WHERE staff_two_step.confirmed_at IS NULL`, id, totpKey(key), db.Time(s.now()))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrTwoStepOn
		}
		return nil
	})
	if err != nil {
		return TwoStepSetup{}, fmt.Errorf("set up two-step sign-in for staff member %d: %w", id, err)
	}
	return TwoStepSetup{Key: base32Key.EncodeToString(key), URI: otpauthURI(issuer, email, key)}, nil
}

// ConfirmTwoStep turns two-step sign-in on for member id, given an
// authenticator code made from the key SetUpTwoStep gave, and returns the
// member's new recovery codes, to be shown once: the store keeps only
// their hashes. ErrWrongCode when the code does not match,
// ErrTwoStepNotSetUp when no key is being set up.
func (s *Service) ConfirmTwoStep(ctx context.Context, id int64, typed string) ([]string, error) {
	codes, err := newRecoveryCodes()
	if err != nil {
		return nil, fmt.Errorf("confirm two-step sign-in: %w", err)
	}
	now := db.Time(s.now())
	err = s.db.Tx(ctx, func(tx db.Querier) error {
		var key totpKey
		err := tx.QueryRowContext(ctx, "SELECT secret FROM staff_two_step WHERE staff_id = $1 AND confirmed_at IS NULL", id).Scan(&key)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrTwoStepNotSetUp
		}
		if err != nil {
			return err
		}
		code, totp, ok := normalizeCode(typed)
		step := int64(0)
		if ok && totp {
			step = matchTOTP(key, code, now)
		}
		if step == 0 {
			return ErrWrongCode
		}
		// Of two confirmations racing, the second finds it on already.
		if err := mustAffect(tx.ExecContext(ctx, `UPDATE staff_two_step SET confirmed_at = $2, last_step = $3
			WHERE staff_id = $1 AND confirmed_at IS NULL`, id, now, step)); errors.Is(err, ErrNotFound) {
			return ErrTwoStepNotSetUp
		} else if err != nil {
			return err
		}
		if err := storeRecoveryCodes(ctx, tx, id, codes); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, "staff.two_step_on", subject(id), map[string]bool{"two_step": false}, map[string]bool{"two_step": true}); err != nil {
			return err
		}
		return s.tell(ctx, tx, id, notify.StaffTwoStepOn)
	})
	if err != nil {
		return nil, fmt.Errorf("confirm two-step sign-in for staff member %d: %w", id, err)
	}
	return codes, nil
}

// storeRecoveryCodes replaces member id's recovery codes with codes.
func storeRecoveryCodes(ctx context.Context, tx db.Querier, id int64, codes []string) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM staff_recovery_codes WHERE staff_id = $1", id); err != nil {
		return err
	}
	for _, c := range codes {
		n, _, _ := normalizeCode(c)
		if _, err := tx.ExecContext(ctx, "INSERT INTO staff_recovery_codes (staff_id, code_hash) VALUES ($1, $2)",
			id, customer.HashToken(n)); err != nil {
			return err
		}
	}
	return nil
}

// NewRecoveryCodes replaces member id's recovery codes with new ones and
// returns them, to be shown once. ErrTwoStepNotSetUp when two-step
// sign-in is off.
func (s *Service) NewRecoveryCodes(ctx context.Context, id int64) ([]string, error) {
	codes, err := newRecoveryCodes()
	if err != nil {
		return nil, fmt.Errorf("new recovery codes: %w", err)
	}
	err = s.db.Tx(ctx, func(tx db.Querier) error {
		var one int
		err := tx.QueryRowContext(ctx, "SELECT 1 FROM staff_two_step WHERE staff_id = $1 AND confirmed_at IS NOT NULL", id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrTwoStepNotSetUp
		}
		if err != nil {
			return err
		}
		if err := storeRecoveryCodes(ctx, tx, id, codes); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, "staff.recovery_codes", subject(id), nil, map[string]int{"recovery_codes": len(codes)}); err != nil {
			return err
		}
		return s.tell(ctx, tx, id, notify.StaffRecoveryCodes)
	})
	if err != nil {
		return nil, fmt.Errorf("new recovery codes for staff member %d: %w", id, err)
	}
	return codes, nil
}

// TurnOffTwoStep turns two-step sign-in off for member id (or drops a key
// being set up) and forgets the recovery codes and any sign-in waiting
// for its second step. The caller decides who may: the member after their
// password and a code, an owner for another member who lost their phone,
// or `mistore staff reset-two-step`; action names it in the audit log
// ("staff.two_step_off" or "staff.two_step_reset"). Turning off what is
// off changes nothing and is not an error; an unknown member is
// ErrNotFound.
func (s *Service) TurnOffTwoStep(ctx context.Context, id int64, action string) error {
	err := s.db.Tx(ctx, func(tx db.Querier) error {
		var one int
		if err := tx.QueryRowContext(ctx, "SELECT 1 FROM staff WHERE id = $1", id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		var on bool
		err := tx.QueryRowContext(ctx, "SELECT confirmed_at IS NOT NULL FROM staff_two_step WHERE staff_id = $1", id).Scan(&on)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, q := range []string{
			"DELETE FROM staff_two_step WHERE staff_id = $1",
			"DELETE FROM staff_recovery_codes WHERE staff_id = $1",
			"DELETE FROM staff_challenges WHERE staff_id = $1",
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		if !on {
			return nil
		}
		if err := audit.Record(ctx, tx, action, subject(id), map[string]bool{"two_step": true}, map[string]bool{"two_step": false}); err != nil {
			return err
		}
		change := notify.StaffTwoStepOff
		if action != "staff.two_step_off" {
			change = notify.StaffTwoStepReset
		}
		return s.tell(ctx, tx, id, change)
	})
	if err != nil {
		return fmt.Errorf("turn off two-step sign-in for staff member %d: %w", id, err)
	}
	return nil
}

// CancelTwoStepSetup drops the key member id is setting up, if any.
// Two-step sign-in that is on stays on (ErrTwoStepOn): turning it off
// asks for more (TurnOffTwoStep's callers).
func (s *Service) CancelTwoStepSetup(ctx context.Context, id int64) error {
	err := s.db.Tx(ctx, func(tx db.Querier) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM staff_two_step WHERE staff_id = $1 AND confirmed_at IS NULL", id); err != nil {
			return err
		}
		var one int
		err := tx.QueryRowContext(ctx, "SELECT 1 FROM staff_two_step WHERE staff_id = $1", id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err == nil {
			return ErrTwoStepOn
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("cancel two-step setup of staff member %d: %w", id, err)
	}
	return nil
}

// TwoStepOn reports whether member id has two-step sign-in on.
func (s *Service) TwoStepOn(ctx context.Context, id int64) (bool, error) {
	var one int
	err := s.db.Reader().QueryRowContext(ctx, "SELECT 1 FROM staff_two_step WHERE staff_id = $1 AND confirmed_at IS NOT NULL", id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("two-step sign-in of staff member %d: %w", id, err)
	}
	return true, nil
}

// CheckCode checks typed, a code member id gives for their second step:
// the authenticator's code of the moment, which then cannot be used
// again, or an unused recovery code, which is used up. ErrWrongCode
// otherwise, including when two-step sign-in is off.
func (s *Service) CheckCode(ctx context.Context, id int64, typed string) error {
	err := s.db.Tx(ctx, func(tx db.Querier) error { return s.useCode(ctx, tx, id, typed) })
	if err != nil && !errors.Is(err, ErrWrongCode) {
		return fmt.Errorf("check code of staff member %d: %w", id, err)
	}
	return err
}

// useCode is CheckCode inside tx.
func (s *Service) useCode(ctx context.Context, tx db.Querier, id int64, typed string) error {
	code, totp, ok := normalizeCode(typed)
	if !ok {
		return ErrWrongCode
	}
	now := db.Time(s.now())
	if !totp {
		res, err := tx.ExecContext(ctx, `UPDATE staff_recovery_codes SET used_at = $3
			WHERE staff_id = $1 AND code_hash = $2 AND used_at IS NULL
			AND EXISTS (SELECT 1 FROM staff_two_step t WHERE t.staff_id = $1 AND t.confirmed_at IS NOT NULL)`,
			id, customer.HashToken(code), now)
		if err := mustAffect(res, err); errors.Is(err, ErrNotFound) {
			return ErrWrongCode
		} else if err != nil {
			return err
		}
		return audit.Record(ctx, tx, "staff.recovery_code_used", subject(id), nil, nil)
	}
	var key totpKey
	err := tx.QueryRowContext(ctx, "SELECT secret FROM staff_two_step WHERE staff_id = $1 AND confirmed_at IS NOT NULL", id).Scan(&key)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrWrongCode
	}
	if err != nil {
		return err
	}
	step := matchTOTP(key, code, now)
	if step == 0 {
		return ErrWrongCode
	}
	// A code works once: of two sign-ins with the same code, or one
	// replaying a code seen over a shoulder, only the first passes.
	res, err := tx.ExecContext(ctx, "UPDATE staff_two_step SET last_step = $2 WHERE staff_id = $1 AND last_step < $2", id, step)
	if err := mustAffect(res, err); errors.Is(err, ErrNotFound) {
		return ErrWrongCode
	} else if err != nil {
		return err
	}
	return nil
}

// NewChallenge records that member id gave the right password and now
// owes the second step, and returns the token for the browser's cookie
// (stored only as its SHA-256), good for ChallengeLifetime.
func (s *Service) NewChallenge(ctx context.Context, id int64) (string, error) {
	token, err := customer.NewToken()
	if err != nil {
		return "", fmt.Errorf("new sign-in challenge: %w", err)
	}
	now := db.Time(s.now())
	err = s.db.Tx(ctx, func(tx db.Querier) error {
		// Expired challenges go with each new one: they are few, and so
		// the table needs no sweeping job.
		if _, err := tx.ExecContext(ctx, "DELETE FROM staff_challenges WHERE expires_at <= $1", now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO staff_challenges (id, staff_id, expires_at) VALUES ($1, $2, $3)",
			customer.HashToken(token), id, now.Add(ChallengeLifetime))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("new sign-in challenge for staff member %d: %w", id, err)
	}
	return token, nil
}

// Challenge returns the member whose second step token waits for, or
// ErrNoChallenge.
func (s *Service) Challenge(ctx context.Context, token string) (Member, error) {
	if !customer.WellFormedToken(token) {
		return Member{}, ErrNoChallenge
	}
	var expires time.Time
	m, err := scanMember(s.db.Reader().QueryRowContext(ctx, `SELECT m.id, m.email, m.name, m.role, m.created_at, m.disabled_at, c.expires_at
		FROM staff_challenges c JOIN staff m ON m.id = c.staff_id WHERE c.id = $1`, customer.HashToken(token)), &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return Member{}, ErrNoChallenge
	}
	if err != nil {
		return Member{}, fmt.Errorf("sign-in challenge: %w", err)
	}
	if m.Disabled || !db.Time(s.now()).Before(expires) {
		return Member{}, ErrNoChallenge
	}
	return m, nil
}

// PassChallenge checks the code typed for the second step token waits
// for. On success the challenge ends and its member is returned, to be
// given a session. A wrong code is ErrWrongCode and counts against the
// challenge, which ends at MaxChallengeFailures (ErrNoChallenge from then
// on).
func (s *Service) PassChallenge(ctx context.Context, token, typed string) (Member, error) {
	m, err := s.Challenge(ctx, token)
	if err != nil {
		return Member{}, err
	}
	id := customer.HashToken(token)
	if _, ok := audit.ActorFrom(ctx); !ok {
		// A recovery code used here is logged as used by its member.
		ctx = audit.WithActor(ctx, audit.Actor{Kind: audit.KindStaff, ID: m.ID, Name: m.Email})
	}
	err = s.db.Tx(ctx, func(tx db.Querier) error {
		// Ending the challenge first makes it single-use: of two requests
		// racing with it, one finds it gone.
		if err := mustAffect(tx.ExecContext(ctx, "DELETE FROM staff_challenges WHERE id = $1 AND expires_at > $2", id, db.Time(s.now()))); errors.Is(err, ErrNotFound) {
			return ErrNoChallenge
		} else if err != nil {
			return err
		}
		return s.useCode(ctx, tx, m.ID, typed)
	})
	switch {
	case err == nil:
		return m, nil
	case errors.Is(err, ErrNoChallenge):
		return Member{}, err
	case !errors.Is(err, ErrWrongCode):
		return Member{}, fmt.Errorf("sign-in challenge of staff member %d: %w", m.ID, err)
	}
	// The wrong code rolled the deletion back: count it instead, and end
	// the challenge at the last allowed failure.
	err = s.db.Tx(ctx, func(tx db.Querier) error {
		if _, err := tx.ExecContext(ctx, "UPDATE staff_challenges SET failures = failures + 1 WHERE id = $1", id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "DELETE FROM staff_challenges WHERE id = $1 AND failures >= $2", id, MaxChallengeFailures)
		return err
	})
	if err != nil {
		return Member{}, fmt.Errorf("sign-in challenge of staff member %d: %w", m.ID, err)
	}
	return Member{}, ErrWrongCode
}

// EndChallenge ends a second step that will not come: the browser
// signed in with its password again. Ending one that does not exist is
// fine.
func (s *Service) EndChallenge(ctx context.Context, token string) error {
	if !customer.WellFormedToken(token) {
		return nil
	}
	if _, err := s.db.Exec(ctx, "DELETE FROM staff_challenges WHERE id = $1", customer.HashToken(token)); err != nil {
		return fmt.Errorf("end sign-in challenge: %w", err)
	}
	return nil
}

// TwoStepRequired reports whether the shop requires two-step sign-in of
// every member.
func (s *Service) TwoStepRequired(ctx context.Context) (bool, error) {
	var on bool
	err := s.db.Reader().QueryRowContext(ctx, "SELECT require_two_step FROM staff_policy WHERE id = 1").Scan(&on)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("staff policy: %w", err)
	}
	return on, nil
}

// SetTwoStepRequired makes two-step sign-in required of every member (or
// each member's choice again). Members without it are then sent to set
// it up at their next request; API keys are not affected.
func (s *Service) SetTwoStepRequired(ctx context.Context, on bool) error {
	now := db.Time(s.now())
	err := s.db.Tx(ctx, func(tx db.Querier) error {
		var before bool
		err := tx.QueryRowContext(ctx, "SELECT require_two_step FROM staff_policy WHERE id = 1").Scan(&before)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO staff_policy (id, require_two_step, updated_at) VALUES (1, $1, $2)
			ON CONFLICT (id) DO UPDATE SET require_two_step = excluded.require_two_step, updated_at = excluded.updated_at`, on, now); err != nil {
			return err
		}
		if before == on {
			return nil
		}
		return audit.Record(ctx, tx, "staff.require_two_step", "staff_policy", map[string]bool{"require_two_step": before}, map[string]bool{"require_two_step": on})
	})
	if err != nil {
		return fmt.Errorf("require two-step sign-in: %w", err)
	}
	return nil
}
