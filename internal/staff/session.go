package staff

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"mistore/internal/audit"
	"mistore/internal/customer"
	"mistore/internal/db"
)

// Staff session lifetimes (ASVS V7.3). A staff session opens the back
// office, so it ends much sooner than a customer's: after IdleTimeout
// without a request, and at SessionLifetime after sign-in however busy.
const (
	IdleTimeout     = 30 * time.Minute
	SessionLifetime = 12 * time.Hour
)

// TouchInterval is how stale a session's last_seen_at (or a key's
// last_used_at) may get before a request writes it again: a busy session
// costs one write a minute, and its idle timeout is off by at most this.
const TouchInterval = time.Minute

// MaxSessions bounds a member's live sessions: a new one beyond it ends
// the least recently used, so that signing in in a loop cannot grow the
// table without end.
const MaxSessions = 20

// NewSession signs member staffID in and returns the session's token: 32
// random bytes in unpadded base64url, for the client's cookie. The store
// keeps only its SHA-256. Call it at every sign-in, so that a browser
// never keeps an identifier it had before. A disabled or unknown member
// gets ErrNotFound.
func (s *Service) NewSession(ctx context.Context, staffID int64) (string, error) {
	token, err := customer.NewToken()
	if err != nil {
		return "", fmt.Errorf("new staff session: %w", err)
	}
	now := db.Time(s.now())
	err = s.db.Tx(ctx, func(tx db.Querier) error {
		var one int
		err := tx.QueryRowContext(ctx, "SELECT 1 FROM staff WHERE id = $1 AND disabled_at IS NULL", staffID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO staff_sessions (id, staff_id, created_at, last_seen_at, expires_at)
			VALUES ($1, $2, $3, $3, $4)`, customer.HashToken(token), staffID, now, now.Add(SessionLifetime)); err != nil {
			return err
		}
		// Keep the newest MaxSessions; the rest have been idle longest.
		_, err = tx.ExecContext(ctx, `DELETE FROM staff_sessions WHERE staff_id = $1 AND id NOT IN (
			SELECT id FROM staff_sessions WHERE staff_id = $1 ORDER BY last_seen_at DESC, created_at DESC LIMIT $2)`,
			staffID, MaxSessions)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("new session for staff member %d: %w", staffID, err)
	}
	return token, nil
}

// Session returns the member whose session token opens, with their role
// as it is now, or ErrNoSession when the token is unknown, ended, past
// SessionLifetime, idle for IdleTimeout or longer, or its member is
// disabled. Using a session keeps it alive: its last use is recorded, at
// most once per TouchInterval.
func (s *Service) Session(ctx context.Context, token string) (Member, error) {
	m, _, err := s.SessionState(ctx, token)
	return m, err
}

// SessionState is Session, and also whether the member must set up
// two-step sign-in before anything else (the shop requires it and
// theirs is off), read in the same statement.
func (s *Service) SessionState(ctx context.Context, token string) (m Member, twoStepDue bool, err error) {
	if !customer.WellFormedToken(token) {
		return Member{}, false, ErrNoSession
	}
	id := customer.HashToken(token)
	var lastSeen, expires time.Time
	m, err = scanMember(s.db.Reader().QueryRowContext(ctx, `SELECT m.id, m.email, m.name, m.role, m.created_at, m.disabled_at,
			s.last_seen_at, s.expires_at,
			coalesce((SELECT require_two_step FROM staff_policy WHERE id = 1), FALSE)
				AND NOT EXISTS (SELECT 1 FROM staff_two_step t WHERE t.staff_id = m.id AND t.confirmed_at IS NOT NULL)
		FROM staff_sessions s JOIN staff m ON m.id = s.staff_id WHERE s.id = $1`, id), &lastSeen, &expires, &twoStepDue)
	if errors.Is(err, sql.ErrNoRows) {
		return Member{}, false, ErrNoSession
	}
	if err != nil {
		return Member{}, false, fmt.Errorf("staff session: %w", err)
	}
	now := db.Time(s.now())
	if m.Disabled || !now.Before(expires) || !now.Before(lastSeen.Add(IdleTimeout)) {
		return Member{}, false, ErrNoSession
	}
	if now.Sub(lastSeen) >= TouchInterval {
		// Relaxed: losing a touch in a database crash only brings the idle
		// timeout a minute closer. A failed touch does not refuse a valid
		// session; the next request tries again.
		_, _ = s.db.ExecRelaxed(ctx, "UPDATE staff_sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2", id, now)
	}
	return m, twoStepDue, nil
}

// EndSession signs out the session token opens. Ending a session that
// does not exist (any more) is not an error: signing out twice is fine.
func (s *Service) EndSession(ctx context.Context, token string) error {
	if !customer.WellFormedToken(token) {
		return nil
	}
	if _, err := s.db.Exec(ctx, "DELETE FROM staff_sessions WHERE id = $1", customer.HashToken(token)); err != nil {
		return fmt.Errorf("end staff session: %w", err)
	}
	return nil
}

// Sweep deletes staff sessions that have expired or idled out and
// returns how many, for a periodic job. Lookups already refuse them, so
// sweeping only reclaims space.
func (s *Service) Sweep(ctx context.Context) (int64, error) {
	now := db.Time(s.now())
	res, err := s.db.ExecRelaxed(ctx, "DELETE FROM staff_sessions WHERE expires_at <= $1 OR last_seen_at <= $2", now, now.Add(-IdleTimeout))
	if err != nil {
		return 0, fmt.Errorf("sweep staff sessions: %w", err)
	}
	return res.RowsAffected()
}

// SessionInfo is one of a member's sessions, as their account page lists
// it.
type SessionInfo struct {
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	// Current marks the session the list was asked for from.
	Current bool
}

// Sessions returns member id's live sessions, most recently used first;
// the one token opens is marked Current.
func (s *Service) Sessions(ctx context.Context, id int64, token string) ([]SessionInfo, error) {
	now := db.Time(s.now())
	current := customer.HashToken(token)
	var out []SessionInfo
	err := db.EachRow(ctx, s.db.Reader(), `SELECT id, created_at, last_seen_at, expires_at FROM staff_sessions
		WHERE staff_id = $1 AND expires_at > $2 AND last_seen_at > $3 ORDER BY last_seen_at DESC, created_at DESC`,
		[]any{id, now, now.Add(-IdleTimeout)}, func(rows *sql.Rows) error {
			var sid string
			var si SessionInfo
			if err := rows.Scan(&sid, &si.CreatedAt, &si.LastSeenAt, &si.ExpiresAt); err != nil {
				return err
			}
			si.Current = sid == current
			si.CreatedAt, si.LastSeenAt, si.ExpiresAt = si.CreatedAt.UTC(), si.LastSeenAt.UTC(), si.ExpiresAt.UTC()
			out = append(out, si)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("sessions of staff member %d: %w", id, err)
	}
	return out, nil
}

// EndOtherSessions signs member id out everywhere but in the session keep
// opens, and returns how many sessions ended.
func (s *Service) EndOtherSessions(ctx context.Context, id int64, keep string) (int64, error) {
	var n int64
	err := s.db.Tx(ctx, func(tx db.Querier) error {
		var err error
		if n, err = endOtherSessions(ctx, tx, id, keep); err != nil || n == 0 {
			return err
		}
		return audit.Record(ctx, tx, "staff.end_sessions", subject(id), nil, map[string]int64{"sessions_ended": n})
	})
	if err != nil {
		return 0, fmt.Errorf("end other sessions of staff member %d: %w", id, err)
	}
	return n, nil
}

// endOtherSessions deletes, in tx, member id's sessions but the one keep
// opens ("" keeps none), and returns how many.
func endOtherSessions(ctx context.Context, tx db.Querier, id int64, keep string) (int64, error) {
	res, err := tx.ExecContext(ctx, "DELETE FROM staff_sessions WHERE staff_id = $1 AND id <> $2", id, customer.HashToken(keep))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
