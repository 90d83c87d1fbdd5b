// Package ratelimit enforces abuse limits (sign-in attempts, password
// resets, sign-ups, coupon guesses, failed payments) that hold across every
// instance of the store, because their counters live in the database.
//
// # Algorithm
//
// A Rule allows at most Limit events per Window for one key. Time is cut
// into fixed windows aligned on the Unix epoch, and each (rule, key,
// window) has a row counting its events. A decision estimates the events
// in the sliding window that ends now as the current window's count plus
// the previous window's count weighted by the share of the previous window
// that the sliding one still covers:
//
//	estimate = current + previous × (Window − elapsed) / Window
//
// A plain fixed window lets a client spend its whole limit at the end of
// one window and again at the start of the next, twice the limit in a
// moment; the weighted estimate smooths that edge away while costing one
// row per window, where an exact sliding log would keep a row per event.
// It is exact when events are spread evenly and errs by at most a fraction
// of the previous window's count otherwise, which is plenty for abuse
// limits. The arithmetic is in whole milliseconds and integers, so that a
// decision and its RetryAfter agree exactly.
//
// # Atomicity
//
// Allow counts its event with one upsert that adds one to the current
// window's row and returns the new count along with the previous window's,
// so concurrent requests on any number of instances each see a distinct
// count and no race can let more than Limit through. It runs as a relaxed
// transaction (db.TxRelaxed): on PostgreSQL a crash of the database server
// itself may lose the last fraction of a second of counts, which lets an
// abuser a handful of extra attempts once, an acceptable price for not
// waiting on the disk on every sign-in.
//
// Denied events count too, so that a client hammering a limit stays
// limited instead of being let through as soon as the window turns. The
// stored count stops at twice the Limit: that keeps the numbers small and
// bounds how long a client that stops is still refused to at most two
// windows.
//
// # Keys
//
// Keys (an IP address, an email, a cart or order id) are stored as a
// truncated SHA-256, so the table does not list who signed in from where.
// This keeps them out of plain sight, not secret from someone holding the
// database: IPv4 addresses can be hashed exhaustively. Sweep deletes a row
// once its window and the next have ended.
//
// Windows are computed from each instance's own clock, so instances whose
// clocks disagree by a few seconds disagree by that much on where a window
// starts, which moves counts between neighbouring windows, never loses
// them.
//
// # Use
//
// Limits on every attempt call Allow before the work and refuse when it
// says so. Limits on failures (wrong passwords, unknown coupons, declined
// cards) call Peek before the work, Allow only when it failed, and may call
// Reset when it succeeded. Decision.Err turns a refusal into a
// *LimitedError, so the web layer answers 429 with Retry-After in one
// place. An error from Allow or Peek means no decision was made; whether
// to refuse or let the request through then is the caller's choice.
package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"mistore/internal/db"
)

// Rule is a limit: at most Limit events per Window for one key. Name
// identifies the rule's counters in the database, so it must be stable and
// distinct from every other rule's.
type Rule struct {
	Name   string
	Limit  int
	Window time.Duration
}

// Bounds on a Rule's values, which keep the arithmetic within int64 and
// the stored counts within PostgreSQL's INTEGER.
const (
	// MaxLimit is the largest Limit a rule may have.
	MaxLimit = 1_000_000
	// MinWindow is the shortest Window a rule may have: RetryAfter is in
	// whole seconds, so a shorter window could not be told apart.
	MinWindow = time.Second
	// MaxWindow is the longest Window a rule may have.
	MaxWindow = 366 * 24 * time.Hour
)

// Predefined rules. Their numbers aim to be far above what a person does
// by mistake and far below what a script needs to succeed; each says why.
var (
	// SignInPerIP counts every sign-in attempt from one IP address,
	// successful or not. Nobody signs in thirty times in ten minutes, and
	// an office or campus behind one address still has room, while a
	// credential-stuffing script on one address is held to a few hundred
	// tries an hour.
	SignInPerIP = Rule{Name: "sign_in_ip", Limit: 30, Window: 10 * time.Minute}
	// SignInPerAccount counts failed sign-ins to one account, from any
	// address, and is Reset by a successful one. Ten leaves room for
	// someone going through their old passwords; past that, guessing from
	// many addresses is held to about forty tries an hour, and the owner
	// is locked out for minutes, not for a day.
	SignInPerAccount = Rule{Name: "sign_in_account", Limit: 10, Window: 15 * time.Minute}
	// StaffSignInPerIP counts every back-office sign-in attempt from one
	// IP address. A shop has a handful of staff, who sign in a few times a
	// day; ten in ten minutes is generous for them and, being kept apart
	// from the shoppers' counter, a crowd of shoppers behind one address
	// cannot lock staff out nor the other way round.
	StaffSignInPerIP = Rule{Name: "staff_sign_in_ip", Limit: 10, Window: 10 * time.Minute}
	// StaffSignInPerAccount counts failed back-office sign-ins to one
	// member, Reset by a successful one. A staff password opens the whole
	// shop, so five wrong tries hold it for an hour: guessing from many
	// addresses gets five tries an hour.
	StaffSignInPerAccount = Rule{Name: "staff_sign_in_account", Limit: 5, Window: time.Hour}
	// ResetPerIP counts password-reset requests from one IP address. Each
	// sends an email; ten an hour covers a household, and stops one
	// address from mailing reset links to a list of strangers.
	ResetPerIP = Rule{Name: "reset_ip", Limit: 10, Window: time.Hour}
	// ResetPerAccount counts password-reset requests for one account.
	// Three an hour covers a lost email and a second try, and stops anyone
	// from flooding the owner's inbox.
	ResetPerAccount = Rule{Name: "reset_account", Limit: 3, Window: time.Hour}
	// RegisterPerIP counts accounts created from one IP address. A family
	// or an office creates a few; a script creating throwaway accounts (for
	// first-order coupons, or to test cards) gets ten an hour.
	RegisterPerIP = Rule{Name: "register_ip", Limit: 10, Window: time.Hour}
	// CouponGuessPerCart counts unknown or unusable coupon codes tried on
	// one cart. A shopper mistyping a code tries a few times; ten an hour
	// makes walking through the code space on one cart hopeless.
	CouponGuessPerCart = Rule{Name: "coupon_cart", Limit: 10, Window: time.Hour}
	// CouponGuessPerIP counts unknown or unusable coupon codes tried from
	// one IP address, across carts, since a guesser can make a new cart
	// for free. Thirty an hour leaves room for several shoppers behind one
	// address.
	CouponGuessPerIP = Rule{Name: "coupon_ip", Limit: 30, Window: time.Hour}
	// PaymentFailuresPerOrder counts declined or failed payments on one
	// order. A shopper whose card is declined tries another card or two;
	// card testing runs through stolen numbers on one order, and every
	// decline costs the shop fees and standing with its payment provider,
	// so the sixth attempt within an hour is refused.
	PaymentFailuresPerOrder = Rule{Name: "payment_fail_order", Limit: 5, Window: time.Hour}
	// PaymentFailuresPerIP counts declined or failed payments from one IP
	// address, across orders, since a card tester can make new orders.
	// Ten an hour rather than a day, because mobile carriers put many
	// shoppers behind one address.
	PaymentFailuresPerIP = Rule{Name: "payment_fail_ip", Limit: 10, Window: time.Hour}
	// PaymentFailuresPerCustomer counts declined or failed payments of one
	// signed-in customer, across orders and addresses: as many as one
	// address may make, since a real customer has a few cards at most.
	PaymentFailuresPerCustomer = Rule{Name: "payment_fail_customer", Limit: 10, Window: time.Hour}
)

// ErrLimited is what every *LimitedError unwraps to, for errors.Is.
var ErrLimited = errors.New("rate limited")

// LimitedError is a refusal by a rule: the caller may try again after
// RetryAfter (whole seconds, at least one).
type LimitedError struct {
	// Rule is the name of the rule that refused.
	Rule string
	// RetryAfter is how long until one more event would be allowed, if
	// none is attempted in the meantime.
	RetryAfter time.Duration
}

func (e *LimitedError) Error() string {
	return fmt.Sprintf("rate limited by %s: retry after %s", e.Rule, e.RetryAfter)
}

// Unwrap returns ErrLimited.
func (e *LimitedError) Unwrap() error { return ErrLimited }

// Decision says whether an event may go ahead.
type Decision struct {
	// Allowed is true when the event may go ahead.
	Allowed bool
	// RetryAfter is, when the event is refused, how long until one more
	// would be allowed if none is attempted in the meantime: whole
	// seconds, at least one. It is zero when the event is allowed.
	RetryAfter time.Duration
	// Remaining is how many more events would be allowed now: after this
	// one for Allow, including the one asked about for Peek.
	Remaining int
}

// Err returns nil when the decision allows the event, and otherwise a
// *LimitedError naming rule, which unwraps to ErrLimited.
func (d Decision) Err(rule Rule) error {
	if d.Allowed {
		return nil
	}
	return &LimitedError{Rule: rule.Name, RetryAfter: d.RetryAfter}
}

// Limiter decides and counts events against rules, in the database.
type Limiter struct {
	db  *db.DB
	now func() time.Time
}

// New returns a limiter on d; now is its clock (nil means time.Now),
// injectable so that tests can step through windows.
func New(d *db.DB, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{db: d, now: now}
}

// allowSQL counts one event in the current window, stopping at the cap
// ($5), and returns the window's count with the previous window's ($6).
// The insert or the update of the row is atomic on both engines, so each
// concurrent event gets its own count.
const allowSQL = `INSERT INTO rate_limits (rule, key, window_start, expires_at, hits)
	VALUES ($1, $2, $3, $4, 1)
	ON CONFLICT (rule, key, window_start) DO UPDATE
		SET hits = CASE WHEN rate_limits.hits < $5 THEN rate_limits.hits + 1 ELSE rate_limits.hits END
	RETURNING hits, COALESCE((SELECT p.hits FROM rate_limits p
		WHERE p.rule = $1 AND p.key = $2 AND p.window_start = $6), 0)`

// Allow counts one event for key under r and decides whether it may go
// ahead. A refused event is counted as well (up to twice the limit), so
// that retrying while refused keeps the key refused.
func (l *Limiter) Allow(ctx context.Context, r Rule, key string) (Decision, error) {
	if err := check(r, key); err != nil {
		return Decision{}, err
	}
	now := l.now()
	w := windowAt(r, now)
	var cur, prev int64
	err := l.db.TxRelaxed(ctx, func(tx db.Querier) error {
		return tx.QueryRowContext(ctx, allowSQL, r.Name, hashKey(key), w.start,
			w.start.Add(2*r.Window), 2*r.Limit, w.start.Add(-r.Window)).Scan(&cur, &prev)
	})
	if err != nil {
		return Decision{}, fmt.Errorf("ratelimit: allow %s: %w", r.Name, err)
	}
	return w.decide(r, now, cur, prev, false), nil
}

// Peek decides whether one event for key under r may go ahead now,
// without counting it: for limits on failures, which check first and
// count with Allow only when the attempt failed.
func (l *Limiter) Peek(ctx context.Context, r Rule, key string) (Decision, error) {
	_, d, err := l.PeekAll(ctx, Check{Rule: r, Key: key})
	return d, err
}

// Check is a rule and the key to decide under it.
type Check struct {
	Rule Rule
	Key  string
}

// PeekAll is Peek for several checks in one query: it returns the
// decision of the first check, in the order given, that refuses, with that
// check's rule; or an allowed decision when none does.
func (l *Limiter) PeekAll(ctx context.Context, checks ...Check) (Rule, Decision, error) {
	if len(checks) == 0 {
		return Rule{}, Decision{Allowed: true}, nil
	}
	now := l.now()
	var q strings.Builder
	q.WriteString("SELECT ")
	args := make([]any, 0, 4*len(checks))
	wins := make([]window, len(checks))
	for i, c := range checks {
		if err := check(c.Rule, c.Key); err != nil {
			return Rule{}, Decision{}, err
		}
		wins[i] = windowAt(c.Rule, now)
		n := len(args)
		if i > 0 {
			q.WriteString(", ")
		}
		fmt.Fprintf(&q, `COALESCE((SELECT hits FROM rate_limits WHERE rule = $%d AND key = $%d AND window_start = $%d), 0),
			COALESCE((SELECT hits FROM rate_limits WHERE rule = $%d AND key = $%d AND window_start = $%d), 0)`, n+1, n+2, n+3, n+1, n+2, n+4)
		args = append(args, c.Rule.Name, hashKey(c.Key), wins[i].start, wins[i].start.Add(-c.Rule.Window))
	}
	hits := make([]int64, 2*len(checks))
	dest := make([]any, len(hits))
	for i := range hits {
		dest[i] = &hits[i]
	}
	if err := l.db.Reader().QueryRowContext(ctx, q.String(), args...).Scan(dest...); err != nil {
		return Rule{}, Decision{}, fmt.Errorf("ratelimit: peek %s: %w", checks[0].Rule.Name, err)
	}
	allowed := Decision{Allowed: true, Remaining: -1}
	for i, c := range checks {
		d := wins[i].decide(c.Rule, now, hits[2*i], hits[2*i+1], true)
		if !d.Allowed {
			return c.Rule, d, nil
		}
		if allowed.Remaining < 0 || d.Remaining < allowed.Remaining {
			allowed.Remaining = d.Remaining
		}
	}
	return Rule{}, allowed, nil
}

// Reset forgets every event counted for key under r, for instance an
// account's failed sign-ins once its owner has signed in.
func (l *Limiter) Reset(ctx context.Context, r Rule, key string) error {
	if err := check(r, key); err != nil {
		return err
	}
	if _, err := l.db.ExecRelaxed(ctx, `DELETE FROM rate_limits WHERE rule = $1 AND key = $2`,
		r.Name, hashKey(key)); err != nil {
		return fmt.Errorf("ratelimit: reset %s: %w", r.Name, err)
	}
	return nil
}

// Sweep deletes the counters that can no longer affect a decision, those
// whose window and the window after it have both ended, and returns how
// many, for a periodic job. Decisions ignore such rows anyway, so sweeping
// only reclaims space (and forgets the hashed keys).
func (l *Limiter) Sweep(ctx context.Context) (int64, error) {
	res, err := l.db.ExecRelaxed(ctx, `DELETE FROM rate_limits WHERE expires_at <= $1`, db.Time(l.now()))
	if err != nil {
		return 0, fmt.Errorf("ratelimit: sweep: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("ratelimit: sweep: %w", err)
	}
	return n, nil
}

// check refuses a rule outside the bounds and an empty key. An empty key
// is a caller's bug (a request without an address, a missing account),
// and counting all of them together would lock everyone out at once.
func check(r Rule, key string) error {
	switch {
	case r.Name == "":
		return errors.New("ratelimit: rule has no name")
	case r.Limit < 1 || r.Limit > MaxLimit:
		return fmt.Errorf("ratelimit: rule %s: limit %d is outside 1 to %d", r.Name, r.Limit, MaxLimit)
	case r.Window < MinWindow || r.Window > MaxWindow:
		return fmt.Errorf("ratelimit: rule %s: window %s is outside %s to %s", r.Name, r.Window, MinWindow, MaxWindow)
	case r.Window%time.Millisecond != 0:
		return fmt.Errorf("ratelimit: rule %s: window %s is not a whole number of milliseconds", r.Name, r.Window)
	case key == "":
		return fmt.Errorf("ratelimit: rule %s: empty key", r.Name)
	}
	return nil
}

// hashKey is what is stored for key: 128 bits of its SHA-256, in hex,
// which no two keys share by accident.
func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16])
}

// window is the fixed window that contains a moment, in milliseconds.
type window struct {
	start   time.Time // the window's first instant, UTC
	length  int64     // the rule's window
	elapsed int64     // from start to the moment, in [0, length)
}

// windowAt returns r's window containing now. Windows are aligned on the
// Unix epoch, so every instance agrees on them without coordination.
func windowAt(r Rule, now time.Time) window {
	length := r.Window.Milliseconds()
	ms := now.UnixMilli()
	elapsed := ms % length
	if elapsed < 0 { // before 1970: keep the window start at or before now
		elapsed += length
	}
	return window{start: time.UnixMilli(ms - elapsed).UTC(), length: length, elapsed: elapsed}
}

// decide turns the current and previous windows' counts into a decision.
// For Allow (peek false) cur already includes the event asked about; for
// Peek it does not. The estimate cur + prev×(length−elapsed)/length is
// compared with the limit multiplied through by length, so that it stays
// in integers: the bounds on Rule keep every product within int64.
func (w window) decide(r Rule, now time.Time, cur, prev int64, peek bool) Decision {
	limit := int64(r.Limit)
	// free is how much room the limit has left, in events × length: its
	// floor division by length is how many more events fit now.
	free := limit*w.length - cur*w.length - prev*(w.length-w.elapsed)
	fit := int64(-1)
	if free >= 0 {
		fit = free / w.length
	}
	if peek && fit >= 1 || !peek && fit >= 0 {
		return Decision{Allowed: true, Remaining: int(fit)}
	}
	return Decision{RetryAfter: w.retryAfter(limit, cur, prev, now)}
}

// retryAfter is how long from now until one more event would be allowed
// if the counts stay as they are, rounded up to whole seconds and at least
// one second.
func (w window) retryAfter(limit, cur, prev int64, now time.Time) time.Duration {
	var (
		at    time.Time
		found bool
	)
	// Later in this window, as the previous window's weight shrinks:
	// one more fits once prev×(length−e) ≤ room×length.
	if room := limit - cur - 1; room >= 0 && prev > 0 {
		if e := w.length - room*w.length/prev; e < w.length {
			at, found = w.start.Add(time.Duration(e)*time.Millisecond), true
		}
	}
	// Otherwise in the next window, where this window's count is the
	// previous one: one more fits once cur×(length−e) ≤ (limit−1)×length.
	// With a limit of one that is the start of the window after it.
	if !found {
		e := int64(0)
		if cur > 0 {
			e = max(0, w.length-(limit-1)*w.length/cur)
		}
		at = w.start.Add(time.Duration(w.length+e) * time.Millisecond)
	}
	d := at.Sub(now)
	d = (d + time.Second - 1) / time.Second * time.Second
	return max(d, time.Second)
}
