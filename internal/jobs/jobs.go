// Package jobs is the store's durable job queue: work that must happen
// after a response (send an email, process a payment event, deliver a
// webhook) is written to the jobs table in the same transaction as the
// change that needs it, and any instance runs it, at least once, retrying
// with backoff. Handlers are idempotent, so "at least once" has the effect
// of "once".
//
// It is a table and a loop rather than a library: enqueueing goes through
// the store's own transaction (and on SQLite its one writer connection),
// and the same SQL runs on both engines.
package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"mistore/internal/db"
)

// Job is one unit of work as a handler sees it.
type Job struct {
	ID       int64
	Kind     string
	Payload  json.RawMessage
	Attempts int // including this one
}

// Handler runs one kind of job. Returning an error retries the job later;
// returning Permanent(err) fails it for good.
type Handler func(ctx context.Context, j Job) error

// permanent marks an error that retrying cannot fix.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent wraps err so the job is not retried.
func Permanent(err error) error { return permanent{err} }

// Options for Enqueue.
type Options struct {
	// RunAt delays the job; zero means now.
	RunAt time.Time
	// UniqueKey, when set, makes a second enqueue with the same key do
	// nothing while the first is still queued (or failed): a finished job
	// leaves no row, so lasting "once" belongs to the handler's records.
	UniqueKey string
	// MaxAttempts bounds retries; 0 means 10.
	MaxAttempts int
}

// Enqueue adds a job inside the caller's transaction: it runs only if the
// transaction commits.
func Enqueue(ctx context.Context, tx db.Querier, kind string, payload any, opts Options) error {
	body, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("enqueue %s: %w", kind, err)
	}
	now := db.Now()
	runAt := opts.RunAt
	if runAt.IsZero() {
		runAt = now
	}
	max := opts.MaxAttempts
	if max <= 0 {
		max = 10
	}
	var unique any
	if opts.UniqueKey != "" {
		unique = opts.UniqueKey
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO jobs (kind, payload, unique_key, state, run_at, max_attempts, created_at, updated_at)
		VALUES ($1, $2, $3, 'pending', $4, $5, $6, $6) ON CONFLICT (unique_key) DO NOTHING`,
		kind, string(body), unique, db.Time(runAt), max, now)
	if err != nil {
		return fmt.Errorf("enqueue %s: %w", kind, err)
	}
	return nil
}

// Cancel drops the pending jobs queued under uniqueKeys, for work that got
// done another way; a job already running, or none, is left alone.
func Cancel(ctx context.Context, d *db.DB, uniqueKeys ...string) error {
	for len(uniqueKeys) > 0 {
		n := min(len(uniqueKeys), maxCancel)
		var q strings.Builder
		q.WriteString("DELETE FROM jobs WHERE state = 'pending' AND unique_key IN (")
		args := make([]any, n)
		for i, k := range uniqueKeys[:n] {
			if i > 0 {
				q.WriteString(", ")
			}
			fmt.Fprintf(&q, "$%d", i+1)
			args[i] = k
		}
		q.WriteString(")")
		if _, err := d.ExecRelaxed(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("cancel jobs %s...: %w", uniqueKeys[0], err)
		}
		uniqueKeys = uniqueKeys[n:]
	}
	return nil
}

// maxCancel bounds the keys one statement of Cancel deletes, well within
// both engines' limits on parameters.
const maxCancel = 500

// Expedite makes the pending job queued under uniqueKey due now.
func Expedite(ctx context.Context, d *db.DB, uniqueKey string) error {
	if _, err := d.ExecRelaxed(ctx, "UPDATE jobs SET run_at = $2, updated_at = $2 WHERE unique_key = $1 AND state = 'pending'", uniqueKey, db.Now()); err != nil {
		return fmt.Errorf("expedite job %s: %w", uniqueKey, err)
	}
	return nil
}

// Runner claims due jobs and runs them.
type Runner struct {
	db       *db.DB
	log      *slog.Logger
	handlers map[string]Handler
	// Lease is how long a claimed job is this runner's; a runner that dies
	// loses it after that and another runs the job again.
	Lease time.Duration
	// Poll is how often an idle runner looks for due jobs.
	Poll time.Duration
	// Workers is how many jobs run at once.
	Workers int

	wake chan struct{}
}

// NewRunner returns a runner on d with no handlers.
func NewRunner(d *db.DB, log *slog.Logger) *Runner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{
		db: d, log: log, handlers: map[string]Handler{},
		Lease: time.Minute, Poll: 500 * time.Millisecond, Workers: 4,
		wake: make(chan struct{}, 1),
	}
}

// Handle registers the handler of a kind. Call it before Run.
func (r *Runner) Handle(kind string, h Handler) { r.handlers[kind] = h }

// Notify wakes the runner now, after this process enqueued a job that
// should not wait for the next poll.
func (r *Runner) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run claims and runs jobs until ctx ends, then waits for the jobs in hand.
func (r *Runner) Run(ctx context.Context) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(r.Workers, 1))
	for ctx.Err() == nil {
		claimed := 0
		for len(sem) < cap(sem) {
			j, ok, err := r.claim(ctx)
			if err != nil {
				if ctx.Err() == nil {
					r.log.Warn("claim job", "err", err)
				}
				break
			}
			if !ok {
				break
			}
			claimed++
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				r.execute(context.WithoutCancel(ctx), j)
				r.Notify()
			}()
		}
		if claimed > 0 && len(sem) < cap(sem) {
			continue
		}
		select {
		case <-ctx.Done():
		case <-r.wake:
		case <-time.After(r.Poll):
		}
	}
	wg.Wait()
}

// RunDue runs every job due now, one after another, and returns how many
// ran: for tests and one-shot commands.
func (r *Runner) RunDue(ctx context.Context) (int, error) {
	n := 0
	for {
		j, ok, err := r.claim(ctx)
		if err != nil || !ok {
			return n, err
		}
		r.execute(ctx, j)
		n++
	}
}

// claim takes the oldest due job: pending and due, or running with an
// expired lease (its runner died). One statement, so two runners can never
// claim the same job. A read on the reader pool goes first: most polls
// find nothing, and on SQLite they should not queue for the one writer.
func (r *Runner) claim(ctx context.Context) (Job, bool, error) {
	now := db.Now()
	// The state and run_at conditions come first so both engines can walk
	// the partial index jobs_due; the lease test only filters what it finds.
	const due = `state IN ('pending', 'running') AND run_at <= $1 AND (state = 'pending' OR locked_until < $1)`
	var one int
	err := r.db.Reader().QueryRowContext(ctx, `SELECT 1 FROM jobs WHERE `+due+` LIMIT 1`, now).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, false, nil
	}
	if err != nil {
		return Job{}, false, fmt.Errorf("look for jobs: %w", err)
	}
	var j Job
	var payload string
	lockClause := ""
	if r.db.Dialect == db.Postgres {
		lockClause = " FOR UPDATE SKIP LOCKED"
	}
	err = r.db.TxRelaxed(ctx, func(tx db.Querier) error {
		return tx.QueryRowContext(ctx, `UPDATE jobs SET state = 'running', attempts = attempts + 1,
				locked_until = $2, updated_at = $1
			WHERE id = (SELECT id FROM jobs WHERE `+due+` ORDER BY run_at, id LIMIT 1`+lockClause+`)
			RETURNING id, kind, payload, attempts`, now, now.Add(r.Lease)).Scan(&j.ID, &j.Kind, &payload, &j.Attempts)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, false, nil
	}
	if err != nil {
		return Job{}, false, fmt.Errorf("claim job: %w", err)
	}
	j.Payload = json.RawMessage(payload)
	return j, true, nil
}

// execute runs one claimed job and records the outcome.
func (r *Runner) execute(ctx context.Context, j Job) {
	h, ok := r.handlers[j.Kind]
	var err error
	if !ok {
		err = Permanent(fmt.Errorf("no handler for job kind %q", j.Kind))
	} else {
		err = safeRun(ctx, h, j)
	}
	now := db.Now()
	var uerr error
	var perm permanent
	switch {
	case err == nil:
		// A finished job leaves no row: the table holds only work to do
		// (and failures to look at), so claiming stays fast. Handlers are
		// idempotent by their own records, not by this row.
		_, uerr = r.db.ExecRelaxed(ctx, `DELETE FROM jobs WHERE id = $1`, j.ID)
	case errors.As(err, &perm):
		r.log.Error("job failed for good", "id", j.ID, "kind", j.Kind, "err", err)
		_, uerr = r.db.ExecRelaxed(ctx, `UPDATE jobs SET state = 'failed', locked_until = NULL, last_error = $2, updated_at = $3 WHERE id = $1`, j.ID, err.Error(), now)
	default:
		next := now.Add(backoff(j.Attempts))
		r.log.Warn("job will be retried", "id", j.ID, "kind", j.Kind, "attempt", j.Attempts, "err", err, "at", next)
		_, uerr = r.db.ExecRelaxed(ctx, `UPDATE jobs SET
				state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END,
				run_at = $2, locked_until = NULL, last_error = $3, updated_at = $4
			WHERE id = $1`, j.ID, next, err.Error(), now)
	}
	if uerr != nil {
		// The lease runs out and another runner retries: at least once.
		r.log.Error("record job outcome", "id", j.ID, "err", uerr)
	}
}

// safeRun turns a handler's panic into an error, so one bad job cannot
// stop the runner.
func safeRun(ctx context.Context, h Handler, j Job) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("job %d (%s) panicked: %v", j.ID, j.Kind, v)
		}
	}()
	return h(ctx, j)
}

// backoff is exponential from one second, capped at an hour, with jitter
// so that a burst of failures does not retry in lockstep.
func backoff(attempt int) time.Duration {
	d := time.Second << min(attempt-1, 12)
	d = min(d, time.Hour)
	return d/2 + rand.N(d/2+1)
}
