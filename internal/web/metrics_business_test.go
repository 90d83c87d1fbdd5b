package web_test

import (
	"context"
	"regexp"
	"strconv"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/jobs"
)

// metricValue reads one sample (name with its labels, as exposed) from
// /metrics; -1 when it is missing.
func metricValue(t *testing.T, s *shop, sample string) float64 {
	t.Helper()
	status, body, _ := s.do("GET", "/metrics", "")
	if status != 200 {
		t.Fatalf("metrics: %d", status)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestBusinessMetrics: orders placed and paid, payment failures, claims
// by outcome and the job queue appear in /metrics and move.
func TestBusinessMetrics(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		for _, sample := range []string{"mistore_orders_placed_total", "mistore_orders_paid_total", "mistore_payment_failures_total",
			`mistore_flashsale_claims_total{outcome="not_found"}`, "mistore_jobs_due", "mistore_jobs_oldest_due_age_seconds", "mistore_jobs_failed"} {
			if v := metricValue(t, s, sample); v < 0 {
				t.Errorf("metrics lack %s", sample)
			}
		}
		s.runJobs()
		if v := metricValue(t, s, "mistore_jobs_due"); v != 0 {
			t.Errorf("jobs due after running them: %v", v)
		}
		ctx := context.Background()
		if err := d.Tx(ctx, func(tx db.Querier) error { return jobs.Enqueue(ctx, tx, "nothing", nil, jobs.Options{}) }); err != nil {
			t.Fatal(err)
		}
		if v := metricValue(t, s, "mistore_jobs_due"); v != 1 {
			t.Errorf("jobs due with one queued: %v", v)
		}
		s.runJobs()

		id, tok := s.cartWith("MB8-BLK", 1)
		o := s.checkout(id, tok)
		if v := metricValue(t, s, "mistore_orders_placed_total"); v != 1 {
			t.Errorf("orders placed: %v, want 1", v)
		}
		s.pay(o.Payment.RedirectURL, "4000 0000 0000 0002")
		s.runJobs()
		if v := metricValue(t, s, "mistore_payment_failures_total"); v != 1 {
			t.Errorf("payment failures: %v, want 1", v)
		}
		s.pay(o.Payment.RedirectURL, "4242 4242 4242 4242")
		s.runJobs()
		if v := metricValue(t, s, "mistore_orders_paid_total"); v != 1 {
			t.Errorf("orders paid: %v, want 1", v)
		}
		if v := metricValue(t, s, "mistore_jobs_failed"); v != 1 {
			t.Errorf("failed jobs: %v, want the one with no handler", v)
		}
	})
}
