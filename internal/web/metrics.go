package web

import (
	"net/http"
	"strconv"

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
		m.registry.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "mistore_db_group_commits_total",
				Help: "Commits of SQLite's writer, each carrying one or more write transactions.",
			}, func() float64 { return float64(d.WriterStats().Commits) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "mistore_db_group_committed_transactions_total",
				Help: "Write transactions committed on SQLite; divided by mistore_db_group_commits_total, the mean batch.",
			}, func() float64 { return float64(d.WriterStats().Transactions) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "mistore_db_writer_busy_seconds_total",
				Help: "Time SQLite's one writer spent running transactions; its rate is the writer's utilisation.",
			}, func() float64 { return d.WriterStats().Busy.Seconds() }),
		)
	}
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
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
