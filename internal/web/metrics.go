package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"mistore/internal/db"
)

// metrics is the store's Prometheus registry. It is per server, not the
// package-global default, so tests can start many servers in one process.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(d *db.DB) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mistore_http_requests_total",
			Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mistore_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
	}
	m.registry.MustRegister(
		m.requests, m.latency,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(d.Read, "read"),
	)
	if d.Write != d.Read {
		m.registry.MustRegister(collectors.NewDBStatsCollector(d.Write, "write"))
	}
	if d.Relaxed != nil {
		m.registry.MustRegister(collectors.NewDBStatsCollector(d.Relaxed, "relaxed"))
	}
	if d.Dialect == db.SQLite {
		for _, c := range []struct {
			name, help string
			value      func(db.WriterStats) float64
		}{
			{"mistore_db_group_commits_total",
				"Commits of SQLite's writer, each carrying one or more write transactions.",
				func(s db.WriterStats) float64 { return float64(s.Commits) }},
			{"mistore_db_group_committed_transactions_total",
				"Write transactions committed on SQLite; divided by mistore_db_group_commits_total, the mean batch.",
				func(s db.WriterStats) float64 { return float64(s.Transactions) }},
			{"mistore_db_writer_busy_seconds_total",
				"Time SQLite's one writer spent running transactions; its rate is the writer's utilisation.",
				func(s db.WriterStats) float64 { return s.Busy.Seconds() }},
			{"mistore_db_checkpoints_total",
				"Background checkpoints of SQLite's write-ahead log.",
				func(s db.WriterStats) float64 { return float64(s.Checkpoints) }},
			{"mistore_db_checkpointed_frames_total",
				"WAL frames found copied back into the database file at the end of each background checkpoint, added up.",
				func(s db.WriterStats) float64 { return float64(s.CheckpointedFrames) }},
		} {
			m.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: c.name, Help: c.help},
				func() float64 { return c.value(d.WriterStats()) }))
		}
	}
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// guardMetrics asks for the metrics token, when the store has one, as
// "Authorization: Bearer TOKEN" (what Prometheus sends with a scrape
// config's authorization.credentials); anything else is a 401 that says
// nothing more.
func (s *Server) guardMetrics(h http.Handler) http.Handler {
	if s.metricsToken == "" {
		return h
	}
	want := sha256.Sum256([]byte("Bearer " + s.metricsToken))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Compared as digests, in constant time, so neither the token
		// nor its length leaks through timing.
		got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "401 unauthorized: /metrics needs the store's metrics token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// observe records one answered request. route is the ServeMux pattern, so
// label values stay few whatever URLs clients invent.
func (m *metrics) observe(route, method string, status int, seconds float64) {
	m.requests.WithLabelValues(route, method, statusText(status)).Inc()
	m.latency.WithLabelValues(route).Observe(seconds)
}

// statusText avoids strconv allocations for the common codes.
func statusText(code int) string {
	switch code {
	case 200:
		return "200"
	case 304:
		return "304"
	case 404:
		return "404"
	}
	return strconv.Itoa(code)
}

// RegisterMetrics adds collectors made outside the web server to its
// /metrics, such as the change feed's (changefeed.Listener).
func (s *Server) RegisterMetrics(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := s.metrics.registry.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// registerStore adds the business metrics of s's services.
func (m *metrics) registerStore(s *Server) {
	m.registry.MustRegister(storeCollector{s: s})
}

var (
	descOrdersPlaced = prometheus.NewDesc("mistore_orders_placed_total",
		"Orders placed through this instance (checkouts that created an order).", nil, nil)
	descOrdersPaid = prometheus.NewDesc("mistore_orders_paid_total",
		"Orders this instance marked paid (payment events and returns applied).", nil, nil)
	descPaymentFailures = prometheus.NewDesc("mistore_payment_failures_total",
		"Failed payment attempts this instance recorded on orders.", nil, nil)
	descClaims = prometheus.NewDesc("mistore_flashsale_claims_total",
		"Flash-sale claims this instance decided, by outcome (claimed, sold_out, busy, ...).", []string{"outcome"}, nil)
	descJobsDue = prometheus.NewDesc("mistore_jobs_due",
		"Jobs due now and not finished, store-wide (every instance reports the same queue).", nil, nil)
	descJobsOldest = prometheus.NewDesc("mistore_jobs_oldest_due_age_seconds",
		"How long the oldest pending due job has waited, store-wide; 0 when none waits.", nil, nil)
	descJobsFailed = prometheus.NewDesc("mistore_jobs_failed",
		"Jobs that failed for good and wait for someone to look at them, store-wide.", nil, nil)
)

// storeCollector reads the business metrics at scrape time: the services'
// counters, and the job queue with two cheap queries (the jobs table holds
// only work to do and failures, and the due one walks the jobs_due index).
type storeCollector struct{ s *Server }

// Describe implements prometheus.Collector.
func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOrdersPlaced, descOrdersPaid, descPaymentFailures, descClaims, descJobsDue, descJobsOldest, descJobsFailed} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	if s.checkout != nil {
		ch <- prometheus.MustNewConstMetric(descOrdersPlaced, prometheus.CounterValue, float64(s.checkout.Placed()))
	}
	if s.orders != nil {
		paid, failed := s.orders.PaymentStats()
		ch <- prometheus.MustNewConstMetric(descOrdersPaid, prometheus.CounterValue, float64(paid))
		ch <- prometheus.MustNewConstMetric(descPaymentFailures, prometheus.CounterValue, float64(failed))
	}
	if s.flashsales != nil {
		for outcome, n := range s.flashsales.ClaimStats() {
			ch <- prometheus.MustNewConstMetric(descClaims, prometheus.CounterValue, float64(n), outcome)
		}
	}
	// A scrape while the database is away leaves the queue's metrics
	// out rather than failing: readiness reports the database.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	q, err := jobQueue(ctx, s.db)
	if err != nil {
		s.log.Warn("metrics: read the job queue", "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(descJobsDue, prometheus.GaugeValue, float64(q.due))
	ch <- prometheus.MustNewConstMetric(descJobsOldest, prometheus.GaugeValue, q.oldest.Seconds())
	ch <- prometheus.MustNewConstMetric(descJobsFailed, prometheus.GaugeValue, float64(q.failed))
}

// queueState is the job queue as a scrape sees it.
type queueState struct {
	due, failed int64
	oldest      time.Duration
}

func jobQueue(ctx context.Context, d *db.DB) (queueState, error) {
	now := db.Now()
	var q queueState
	err := d.Reader().QueryRowContext(ctx, `SELECT
			COALESCE(SUM(CASE WHEN state IN ('pending', 'running') AND run_at <= $1 THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END), 0)
		FROM jobs`, now).Scan(&q.due, &q.failed)
	if err != nil {
		return q, err
	}
	var oldest time.Time
	err = d.Reader().QueryRowContext(ctx, `SELECT run_at FROM jobs WHERE state = 'pending' AND run_at <= $1 ORDER BY run_at LIMIT 1`, now).Scan(&oldest)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return q, err
	default:
		q.oldest = max(now.Sub(oldest), 0)
	}
	return q, nil
}
