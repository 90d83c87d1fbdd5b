package jobs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"mistore/internal/audit"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/jobs"
)

// TestFailuresRetryAndDismiss checks the back office's hold on failed
// jobs: listed with their error and payload, counted per kind, retried
// once each (a second retry, or one of a job that is not failed, finds
// nothing), dismissed, and both audited with the job as it was.
func TestFailuresRetryAndDismiss(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := audit.WithActor(context.Background(), audit.Actor{Kind: audit.KindStaff, Name: "ada@example.com"})
		r := jobs.NewRunner(d, nil)
		fixed := false
		ran := 0
		r.Handle("refund", func(ctx context.Context, j jobs.Job) error {
			ran++
			if !fixed {
				return errors.New("provider unreachable")
			}
			return nil
		})
		r.Handle("email", func(ctx context.Context, j jobs.Job) error {
			return jobs.Permanent(errors.New("no such mailbox"))
		})
		enqueue(t, d, "refund", map[string]string{"number": "US-100001"}, jobs.Options{MaxAttempts: 1, UniqueKey: "refund:US-100001"})
		enqueue(t, d, "email", map[string]int{"email_id": 7}, jobs.Options{})
		enqueue(t, d, "email", map[string]int{"email_id": 8}, jobs.Options{})
		if _, err := r.RunDue(ctx); err != nil {
			t.Fatal(err)
		}
		// A later job still waiting, due in an hour.
		enqueue(t, d, "email", map[string]int{"email_id": 9}, jobs.Options{RunAt: time.Now().Add(time.Hour)})

		failed, err := jobs.Failures(ctx, d.Read, 10)
		if err != nil || len(failed) != 3 {
			t.Fatalf("failures %+v, %v; want 3", failed, err)
		}
		var refund jobs.Failure
		for _, f := range failed {
			if f.Kind == "refund" {
				refund = f
			}
		}
		if refund.ID == 0 || refund.LastError != "provider unreachable" || refund.Attempts != 1 || string(refund.Payload) != `{"number":"US-100001"}` ||
			refund.CreatedAt.IsZero() || refund.FailedAt.Before(refund.CreatedAt) {
			t.Errorf("the failed refund: %+v", refund)
		}
		if n, err := jobs.CountFailed(ctx, d.Read); err != nil || n != 3 {
			t.Errorf("CountFailed = %d, %v; want 3", n, err)
		}
		counts, err := jobs.Counts(ctx, d.Read)
		if err != nil || len(counts) != 2 || counts[0].Kind != "email" || counts[0].Waiting != 1 || counts[0].Failed != 2 || counts[0].OldestDue.IsZero() ||
			counts[1].Kind != "refund" || counts[1].Waiting != 0 || counts[1].Failed != 1 || !counts[1].OldestDue.IsZero() {
			t.Errorf("counts %+v, %v", counts, err)
		}

		// Its cause fixed, the refund is retried: it runs again, with all
		// its attempts, and leaves no row.
		fixed = true
		if got, err := jobs.Retry(ctx, d, refund.ID); err != nil || got.ID != refund.ID || got.LastError != "provider unreachable" {
			t.Fatalf("Retry = %+v, %v", got, err)
		}
		var attempts int
		if err := d.Read.QueryRow(`SELECT attempts FROM jobs WHERE id = $1 AND state = 'pending'`, refund.ID).Scan(&attempts); err != nil || attempts != 0 {
			t.Errorf("the retried job has used %d attempts (%v), want 0", attempts, err)
		}
		if _, err := jobs.Retry(ctx, d, refund.ID); !errors.Is(err, jobs.ErrNotFound) {
			t.Errorf("a second retry of a job waiting to run: %v, want ErrNotFound", err)
		}
		before := ran
		if _, err := r.RunDue(ctx); err != nil {
			t.Fatal(err)
		}
		if ran != before+1 {
			t.Errorf("the retried refund ran %d times, want once", ran-before)
		}
		var left int
		if err := d.Read.QueryRow(`SELECT count(*) FROM jobs WHERE kind = 'refund'`).Scan(&left); err != nil || left != 0 {
			t.Errorf("%d refund jobs left after the retry succeeded (%v)", left, err)
		}

		// One email is dismissed; the other stays.
		var email jobs.Failure
		for _, f := range failed {
			if f.Kind == "email" {
				email = f
				break
			}
		}
		if _, err := jobs.Dismiss(ctx, d, email.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := jobs.Dismiss(ctx, d, email.ID); !errors.Is(err, jobs.ErrNotFound) {
			t.Errorf("dismissed twice: %v, want ErrNotFound", err)
		}
		if n, err := jobs.CountFailed(ctx, d.Read); err != nil || n != 1 {
			t.Errorf("after a retry and a dismissal %d failed (%v), want 1", n, err)
		}
		// A waiting job is neither retried nor dismissed.
		var waiting int64
		if err := d.Read.QueryRow(`SELECT id FROM jobs WHERE state = 'pending'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if _, err := jobs.Dismiss(ctx, d, waiting); !errors.Is(err, jobs.ErrNotFound) {
			t.Errorf("dismissed a waiting job: %v", err)
		}

		// Both changes are in the audit log, with the staff member.
		var n int
		if err := d.Read.QueryRow(`SELECT count(*) FROM audit_log WHERE action IN ('job.retry', 'job.dismiss') AND actor_kind = 'staff' AND actor_name = 'ada@example.com'`).
			Scan(&n); err != nil || n != 2 {
			t.Errorf("%d audit records (%v), want 2", n, err)
		}
		// Without an actor nothing changes.
		if _, err := jobs.Retry(context.Background(), d, failed[0].ID); err == nil {
			t.Error("a retry with no actor was allowed")
		}
	})
}
