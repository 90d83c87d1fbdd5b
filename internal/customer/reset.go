package customer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"mistore/internal/db"
	"mistore/internal/notify"
)

// RequestPasswordReset mails a password reset link, valid for ResetTTL,
// to the account with email, if there is one. It returns nil whether or
// not there is, and does the same work either way (a token, an email
// rendered, one transaction), so that neither its answer nor its timing
// tells which addresses have accounts. A malformed address is a
// *FieldError (ErrInvalidEmail), which tells nothing about accounts.
//
// Only the newest link works: asking again voids the ones sent before.
func (s *Service) RequestPasswordReset(ctx context.Context, email string) error {
	email, err := normalizeEmail(email)
	if err != nil {
		return err
	}
	token, hash, err := newToken()
	if err != nil {
		return fmt.Errorf("request password reset: %w", err)
	}
	// Rendered before the account is looked up, to the address as typed:
	// the work must not depend on whether it exists.
	sf := storefrontOf(ctx)
	msg, err := notify.PasswordReset(notify.AccountEmail{To: email, URL: s.link(sf, ResetPath, token), ValidFor: ResetTTL, ID: hash, Lang: sf.Lang})
	if err != nil {
		return fmt.Errorf("request password reset: %w", err)
	}
	now := db.Time(s.now())
	// Relaxed on PostgreSQL: a link lost with a database crash costs the
	// customer a second request, never security, and a commit that waits
	// for the disk only when the account exists would tell by its timing
	// that it does.
	err = s.db.TxRelaxed(ctx, func(tx db.Querier) error {
		var id int64
		var stored string
		// A disabled account gets no link, as if it did not exist.
		err := tx.QueryRowContext(ctx, "SELECT id, email FROM customers WHERE email_key = $1 AND disabled_at IS NULL", EmailKey(email)).Scan(&id, &stored)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM password_resets WHERE customer_id = $1 AND used_at IS NULL", id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO password_resets (token_hash, customer_id, created_at, expires_at)
			VALUES ($1, $2, $3, $4)`, hash, id, now, now.Add(ResetTTL)); err != nil {
			return err
		}
		// To the address on the account, which may differ in case from
		// the one typed.
		msg.To = stored
		return s.queue(ctx, tx, msg)
	})
	if err != nil {
		return fmt.Errorf("request password reset: %w", err)
	}
	return nil
}

// ResetPassword sets a new password with a reset link's token. The token
// works once and only until it expires, otherwise ErrInvalidToken; of any
// number of concurrent calls with one token exactly one succeeds. Every
// session of the customer ends, and they are told of the change by email.
func (s *Service) ResetPassword(ctx context.Context, token, newPassword string) error {
	if !WellFormedToken(token) {
		return ErrInvalidToken
	}
	if err := checkPassword("password", newPassword); err != nil {
		return err
	}
	hash := HashToken(token)
	now := db.Time(s.now())
	// A cheap look first, so that made-up tokens cannot make the server
	// hash passwords; the transaction below decides.
	var (
		c       Customer
		expires time.Time
		used    sql.NullTime
	)
	c, err := scanCustomer(s.db.Reader().QueryRowContext(ctx, `SELECT c.id, c.email, c.name, c.email_verified_at, c.created_at,
			r.expires_at, r.used_at
		FROM password_resets r JOIN customers c ON c.id = r.customer_id WHERE r.token_hash = $1`, hash), &expires, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrInvalidToken
	}
	if err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	if used.Valid || !now.Before(expires) {
		return ErrInvalidToken
	}
	pw, err := s.hash(ctx, newPassword)
	if err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	notice, err := s.changeNotice(ctx, c.Email, c.Name, notify.PasswordChanged, now)
	if err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	err = s.db.Tx(ctx, func(tx db.Querier) error {
		// The claim: one conditional update, which only one transaction
		// can make on either engine.
		var id int64
		err := tx.QueryRowContext(ctx, `UPDATE password_resets SET used_at = $2
			WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING customer_id`, hash, now).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrInvalidToken
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE customers SET password_hash = $2, updated_at = $3 WHERE id = $1", id, pw, now); err != nil {
			return err
		}
		if err := endCredentials(ctx, tx, id); err != nil {
			return err
		}
		return s.queue(ctx, tx, notice)
	})
	if err != nil && !errors.Is(err, ErrInvalidToken) {
		return fmt.Errorf("reset password: %w", err)
	}
	return err
}

// VerifyEmail marks an account's email address verified with the token
// of a verification link and returns the account. The token works once,
// for VerificationTTL, and only for the address it was sent to: after a
// change of address it is ErrInvalidToken.
func (s *Service) VerifyEmail(ctx context.Context, token string) (Customer, error) {
	if !WellFormedToken(token) {
		return Customer{}, ErrInvalidToken
	}
	hash := HashToken(token)
	now := db.Time(s.now())
	var c Customer
	err := s.db.Tx(ctx, func(tx db.Querier) error {
		var (
			id    int64
			email string
		)
		err := tx.QueryRowContext(ctx, `UPDATE email_verifications SET used_at = $2
			WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING customer_id, email`, hash, now).Scan(&id, &email)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrInvalidToken
		}
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE customers SET email_verified_at = coalesce(email_verified_at, $3), updated_at = $3
			WHERE id = $1 AND email = $2`, id, email, now)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrInvalidToken
		}
		c, err = scanCustomer(tx.QueryRowContext(ctx, "SELECT "+customerColumns+" FROM customers WHERE id = $1", id))
		return err
	})
	if errors.Is(err, ErrInvalidToken) {
		return Customer{}, err
	}
	if err != nil {
		return Customer{}, fmt.Errorf("verify email: %w", err)
	}
	return c, nil
}

// SendVerification queues a new verification link to customer id's
// address, for a customer who lost the first one. It does nothing when
// the address is already verified.
func (s *Service) SendVerification(ctx context.Context, id int64) error {
	c, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if c.EmailVerified {
		return nil
	}
	v, err := s.newVerification(ctx, c.Email, c.Name)
	if err != nil {
		return fmt.Errorf("send verification to customer %d: %w", id, err)
	}
	now := db.Time(s.now())
	err = s.db.Tx(ctx, func(tx db.Querier) error {
		// Only if the address is still the one the link names.
		var one int
		err := tx.QueryRowContext(ctx, "SELECT 1 FROM customers WHERE id = $1 AND email = $2", id, c.Email).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		return s.storeVerification(ctx, tx, id, v, now)
	})
	if err != nil {
		return fmt.Errorf("send verification to customer %d: %w", id, err)
	}
	return nil
}

// verification is a link to verify an address, ready to be stored and
// mailed.
type verification struct {
	email string
	hash  string
	msg   notify.Message
}

// newVerification makes a verification link for email and renders its
// email, for ctx's storefront, outside any transaction.
func (s *Service) newVerification(ctx context.Context, email, name string) (verification, error) {
	token, hash, err := newToken()
	if err != nil {
		return verification{}, err
	}
	sf := storefrontOf(ctx)
	msg, err := notify.EmailVerification(notify.AccountEmail{To: email, Name: name, URL: s.link(sf, VerifyPath, token), Lang: sf.Lang,
		ValidFor: VerificationTTL, ID: hash})
	if err != nil {
		return verification{}, err
	}
	return verification{email: email, hash: hash, msg: msg}, nil
}

// storeVerification stores v for customer id and queues its email, inside
// tx.
func (s *Service) storeVerification(ctx context.Context, tx db.Querier, id int64, v verification, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO email_verifications (token_hash, customer_id, email, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5)`, v.hash, id, v.email, now, now.Add(VerificationTTL)); err != nil {
		return fmt.Errorf("store verification: %w", err)
	}
	return s.queue(ctx, tx, v.msg)
}
