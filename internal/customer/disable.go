package customer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"mistore/internal/audit"
	"mistore/internal/db"
)

// Disabling an account.
//
// Staff disable an account that is abused or compromised. A disabled
// account cannot sign in: Authenticate answers ErrInvalidCredentials, the
// very answer of a wrong password, so nobody learns from sign-in that the
// account exists or was disabled. Every session ends at once, and Session
// refuses any that a concurrent sign-in made. No reset link is sent to it.
// Guest checkout with the address still works: orders are not accounts.

// MaxDisableReasonLen is the longest reason staff give for disabling.
const MaxDisableReasonLen = 500

// accountAudit is an account as the audit log shows it.
type accountAudit struct {
	Email    string `json:"email"`
	Disabled bool   `json:"disabled"`
	Reason   string `json:"reason,omitempty"`
}

// Disable disables customer id for reason (optional), ends every session
// and unused reset link, and records it in the audit log with the actor
// ctx carries. Disabling a disabled account changes nothing. ErrNotFound
// when there is no such customer.
func (s *Service) Disable(ctx context.Context, id int64, reason string) (Account, error) {
	reason = strings.TrimSpace(reason)
	if utf8.RuneCountInString(reason) > MaxDisableReasonLen || !utf8.ValidString(reason) {
		return Account{}, &FieldError{Field: "reason", Msg: fmt.Sprintf("must be at most %d characters of text", MaxDisableReasonLen)}
	}
	return s.setDisabled(ctx, id, true, reason)
}

// Enable lets customer id sign in again, recorded in the audit log.
// Enabling an enabled account changes nothing. The sessions Disable ended
// stay ended: the customer signs in again.
func (s *Service) Enable(ctx context.Context, id int64) (Account, error) {
	return s.setDisabled(ctx, id, false, "")
}

func (s *Service) setDisabled(ctx context.Context, id int64, disable bool, reason string) (Account, error) {
	action, set := "customer.enable", "NULL"
	if disable {
		action, set = "customer.disable", "$2"
	}
	err := s.db.Tx(ctx, func(tx db.Querier) error {
		var email string
		var was sql.NullTime
		err := tx.QueryRowContext(ctx, "SELECT email, disabled_at FROM customers WHERE id = $1", id).Scan(&email, &was)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if was.Valid == disable {
			return nil
		}
		now := db.Time(s.now())
		// Conditional on the state read: of two staff members acting at
		// once, one changes it and the other's UPDATE finds nothing to do.
		args := []any{id}
		if disable {
			args = append(args, now)
		}
		cond := "disabled_at IS NOT NULL"
		if disable {
			cond = "disabled_at IS NULL"
		}
		res, err := tx.ExecContext(ctx, "UPDATE customers SET disabled_at = "+set+" WHERE id = $1 AND "+cond, args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		if disable {
			if err := endCredentials(ctx, tx, id); err != nil {
				return err
			}
		}
		subject := fmt.Sprintf("customer:%d", id)
		return audit.Record(ctx, tx, action, subject,
			accountAudit{Email: email, Disabled: !disable},
			accountAudit{Email: email, Disabled: disable, Reason: reason})
	})
	if errors.Is(err, ErrNotFound) {
		return Account{}, err
	}
	if err != nil {
		return Account{}, fmt.Errorf("%s %d: %w", action, id, err)
	}
	return s.Account(ctx, id)
}

// SignOutEverywhere ends every session of customer id (browsers and app
// tokens) for a staff member, say after the customer reports a lost phone,
// without disabling the account: they sign in again. It is recorded in
// the audit log with how many sessions ended, and returns the account.
func (s *Service) SignOutEverywhere(ctx context.Context, id int64) (Account, error) {
	err := s.db.Tx(ctx, func(tx db.Querier) error {
		var email string
		err := tx.QueryRowContext(ctx, "SELECT email FROM customers WHERE id = $1", id).Scan(&email)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM customer_sessions WHERE customer_id = $1", id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, "customer.sign_out", fmt.Sprintf("customer:%d", id), nil,
			map[string]any{"email": email, "sessions_ended": n})
	})
	if errors.Is(err, ErrNotFound) {
		return Account{}, err
	}
	if err != nil {
		return Account{}, fmt.Errorf("sign out customer %d: %w", id, err)
	}
	return s.Account(ctx, id)
}
