package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"mistore/internal/audit"
	"mistore/internal/db"
)

// ErrNotFound means no failed job has the id asked for: there is none, or
// it is waiting or running, not failed.
var ErrNotFound = errors.New("jobs: no failed job with that id")

// Failure is a job that failed for good, its retries used up or its error
// one that retrying cannot fix. It stays in the table, holding its unique
// key, until staff retry or dismiss it: a failed refund is money the
// customer has not got back, a failed email a customer not told.
type Failure struct {
	ID        int64           `json:"id"`
	Kind      string          `json:"kind"`
	Attempts  int             `json:"attempts"`
	LastError string          `json:"last_error"`
	Payload   json.RawMessage `json:"payload"`
	CreatedAt time.Time       `json:"created_at"`
	FailedAt  time.Time       `json:"failed_at"`
}

const failureColumns = "id, kind, attempts, last_error, payload, created_at, updated_at"

func scanFailure(row interface{ Scan(...any) error }) (Failure, error) {
	var f Failure
	var payload string
	if err := row.Scan(&f.ID, &f.Kind, &f.Attempts, &f.LastError, &payload, &f.CreatedAt, &f.FailedAt); err != nil {
		return Failure{}, err
	}
	f.Payload = json.RawMessage(payload)
	f.CreatedAt, f.FailedAt = f.CreatedAt.UTC(), f.FailedAt.UTC()
	return f, nil
}

// Failures returns up to limit failed jobs, the latest to fail first.
func Failures(ctx context.Context, q db.Querier, limit int) ([]Failure, error) {
	out := []Failure{}
	err := db.EachRow(ctx, q, "SELECT "+failureColumns+" FROM jobs WHERE state = 'failed' ORDER BY updated_at DESC, id DESC LIMIT $1",
		[]any{limit}, func(rows *sql.Rows) error {
			f, err := scanFailure(rows)
			if err != nil {
				return err
			}
			out = append(out, f)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("failed jobs: %w", err)
	}
	return out, nil
}

// KindCount is how many jobs of one kind wait (queued or running) and how
// many failed, with when the longest-waiting one was due.
type KindCount struct {
	Kind    string `json:"kind"`
	Waiting int    `json:"waiting"`
	Failed  int    `json:"failed"`
	// OldestDue is when the longest-waiting job was due; zero when none
	// waits.
	OldestDue time.Time `json:"oldest_due,omitzero"`
}

// Counts returns, per kind, the jobs waiting and failed, by kind's name.
// The table holds only work to do and failures, so this reads little.
func Counts(ctx context.Context, q db.Querier) ([]KindCount, error) {
	out := []KindCount{}
	err := db.EachRow(ctx, q, `SELECT kind,
			sum(CASE WHEN state IN ('pending', 'running') THEN 1 ELSE 0 END),
			sum(CASE WHEN state = 'failed' THEN 1 ELSE 0 END)
		FROM jobs WHERE state <> 'done' GROUP BY kind ORDER BY kind`, nil, func(rows *sql.Rows) error {
		var k KindCount
		if err := rows.Scan(&k.Kind, &k.Waiting, &k.Failed); err != nil {
			return err
		}
		out = append(out, k)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count jobs: %w", err)
	}
	// A column's own value, not an aggregate, keeps its type on SQLite.
	for i, k := range out {
		if k.Waiting == 0 {
			continue
		}
		if err := q.QueryRowContext(ctx, `SELECT run_at FROM jobs WHERE kind = $1 AND state IN ('pending', 'running') ORDER BY run_at LIMIT 1`,
			k.Kind).Scan(&out[i].OldestDue); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("oldest %s job: %w", k.Kind, err)
		}
		out[i].OldestDue = out[i].OldestDue.UTC()
	}
	return out, nil
}

// CountFailed returns how many jobs have failed for good.
func CountFailed(ctx context.Context, q db.Querier) (int, error) {
	var n int
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM jobs WHERE state = 'failed'").Scan(&n); err != nil {
		return 0, fmt.Errorf("count failed jobs: %w", err)
	}
	return n, nil
}

// Retry queues failed job id again, due now and with all its attempts
// before it, and returns it as it was. Handlers are idempotent by their own
// records (a refund's provider call carries its idempotency key), so a job
// that did part of its work before failing does not do it twice. Audited
// as job.retry; the caller wakes the runner.
func Retry(ctx context.Context, d *db.DB, id int64) (Failure, error) {
	return change(ctx, d, id, "job.retry", `UPDATE jobs SET state = 'pending', attempts = 0, run_at = $2, locked_until = NULL, updated_at = $2
		WHERE id = $1 AND state = 'failed'`, db.Now())
}

// Dismiss deletes failed job id, for work staff settled another way (the
// money given back in the provider's dashboard, the customer called), and
// returns it as it was. Audited as job.dismiss, with the job's payload and
// error, since the row is gone.
func Dismiss(ctx context.Context, d *db.DB, id int64) (Failure, error) {
	return change(ctx, d, id, "job.dismiss", `DELETE FROM jobs WHERE id = $1 AND state = 'failed'`)
}

// change runs stmt on failed job id ($1, then args) and writes the audit
// record action, in one transaction.
func change(ctx context.Context, d *db.DB, id int64, action, stmt string, args ...any) (Failure, error) {
	var f Failure
	err := d.Tx(ctx, func(tx db.Querier) error {
		var err error
		f, err = scanFailure(tx.QueryRowContext(ctx, "SELECT "+failureColumns+" FROM jobs WHERE id = $1 AND state = 'failed'", id))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, stmt, append([]any{id}, args...)...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return audit.Record(ctx, tx, action, "job:"+strconv.FormatInt(id, 10), f, nil)
	})
	if err != nil {
		return Failure{}, fmt.Errorf("%s %d: %w", action, id, err)
	}
	return f, nil
}
