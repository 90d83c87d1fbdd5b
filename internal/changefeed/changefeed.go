// Package changefeed tells every instance of the store that shares one
// PostgreSQL database that staff changed something its in-process caches
// hold: the catalog (prices, listings, certificates), stock levels set by
// hand, a flash sale, tax rates. A writer publishes a change with Publish inside the
// transaction that makes it, so PostgreSQL delivers it (through
// LISTEN/NOTIFY) exactly when the change commits and never for a change
// that rolled back; each instance runs a Listener on a connection of its
// own that calls the handlers registered for the change's topic.
//
// Notifications are a hint, not a log: one can be missed while the
// listening connection is down. So whenever the Listener (re)connects it
// calls every handler with an empty key, "everything may have changed",
// and the caches' own expiry (a second or so) stays as the last line of
// defence. On SQLite the store is one process and Publish does nothing.
//
// Notifying costs PostgreSQL a short database-wide lock at commit, so only
// staff edits publish; the stock that shoppers move is left to the
// caches' expiry.
package changefeed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"mistore/internal/db"
)

// Topic names a kind of cached state that a change invalidates.
type Topic string

// The topics the store publishes.
const (
	// Catalog is any catalog edit: products, variants, prices, listings,
	// certificates, resellers, an import. Its key is empty.
	Catalog Topic = "catalog"
	// Stock is a stock level set by hand (an adjustment); its key is the
	// SKU.
	Stock Topic = "stock"
	// FlashSale is a flash sale created or changed by staff; its key is
	// the sale's id.
	FlashSale Topic = "flashsale"
	// Rates is a change of the tax rates or shipping methods that
	// checkout prices orders with. Its key is empty.
	Rates Topic = "rates"
)

// channelPrefix starts the notification channel's name; the rest is the
// connection's schema, so that stores sharing a database in different
// schemas (the tests do) do not hear each other.
const channelPrefix = "mistore_"

// Publish records, inside tx, that topic changed for key; other instances
// hear of it when tx commits, and not at all if it rolls back. It does
// nothing on SQLite. A transaction that publishes the same topic and key
// twice sends it once.
func Publish(ctx context.Context, d *db.DB, tx db.Querier, topic Topic, key string) error {
	if d.Dialect != db.Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "SELECT pg_notify('"+channelPrefix+"' || current_schema(), $1)", string(topic)+":"+key); err != nil {
		return fmt.Errorf("publish %s change: %w", topic, err)
	}
	return nil
}

// Handler reacts to a change of its topic. key names what changed; an
// empty key means anything of the topic may have changed (the Listener
// just connected, or the writer could not say). It runs on the
// Listener's goroutine, so it should be quick: drop a cache, reload a
// snapshot.
type Handler func(ctx context.Context, key string)

// Listener follows the changes published on one PostgreSQL database and
// hands them to the handlers of their topic.
type Listener struct {
	dsn string
	log *slog.Logger

	mu       sync.Mutex
	handlers map[Topic][]Handler

	// MinBackoff and MaxBackoff bound the wait between connection
	// attempts, which doubles from the first to the second while the
	// database stays away.
	MinBackoff, MaxBackoff time.Duration
	// Idle is how long the connection may stay silent before the
	// Listener checks that it is still alive: a connection to a server
	// that vanished without closing it would otherwise wait forever.
	Idle time.Duration

	connected     atomic.Bool
	received      atomic.Uint64
	reconnects    atomic.Uint64
	connectedOnce chan struct{}
	once          sync.Once
}

// NewListener returns a Listener on the PostgreSQL database at dsn (the
// store's own --db URL, search_path included), not yet running.
func NewListener(dsn string, log *slog.Logger) *Listener {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Listener{
		dsn: dsn, log: log, handlers: map[Topic][]Handler{},
		MinBackoff: 100 * time.Millisecond, MaxBackoff: 5 * time.Second, Idle: 15 * time.Second,
		connectedOnce: make(chan struct{}),
	}
}

// On registers h for changes of topic. Register every handler before Run.
func (l *Listener) On(topic Topic, h Handler) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.handlers[topic] = append(l.handlers[topic], h)
}

// Connected reports whether the Listener is listening now.
func (l *Listener) Connected() bool { return l.connected.Load() }

// Ready is closed once the Listener has listened for the first time, so
// that a test (or a start-up that cares) can wait for it.
func (l *Listener) Ready() <-chan struct{} { return l.connectedOnce }

// Run listens until ctx ends, reconnecting with backoff whenever the
// connection drops. It does not return before ctx ends.
func (l *Listener) Run(ctx context.Context) {
	wait := l.MinBackoff
	down := false
	for ctx.Err() == nil {
		conn, channel, err := l.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !down {
				// Once per outage, not once per attempt.
				l.log.Warn("change feed cannot listen; caches fall back to their expiry", "err", err)
				down = true
			}
			sleep(ctx, jitter(wait))
			wait = min(wait*2, l.MaxBackoff)
			continue
		}
		wait = l.MinBackoff
		if down {
			l.log.Info("change feed listening again", "channel", channel)
			down = false
		}
		l.connected.Store(true)
		l.once.Do(func() { close(l.connectedOnce) })
		// Whatever changed while nobody listened went unheard.
		l.dispatchAll(ctx)
		err = l.receive(ctx, conn)
		l.connected.Store(false)
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(closeCtx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		l.reconnects.Add(1)
		l.log.Warn("change feed lost its connection; reconnecting", "err", err)
		down = true
	}
}

// connect opens the Listener's own connection and listens on the
// schema's channel.
func (l *Listener) connect(ctx context.Context) (*pgx.Conn, string, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, l.dsn)
	if err != nil {
		return nil, "", fmt.Errorf("connect: %w", err)
	}
	var schema string
	if err := conn.QueryRow(cctx, "SELECT current_schema()").Scan(&schema); err != nil {
		conn.Close(context.Background())
		return nil, "", fmt.Errorf("read schema: %w", err)
	}
	channel := channelPrefix + schema
	if _, err := conn.Exec(cctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		conn.Close(context.Background())
		return nil, "", fmt.Errorf("listen on %s: %w", channel, err)
	}
	return conn, channel, nil
}

// receive hands notifications to their handlers until the connection
// fails or ctx ends; it checks a connection that stayed silent for Idle.
func (l *Listener) receive(ctx context.Context, conn *pgx.Conn) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, l.Idle)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			l.received.Add(1)
			topic, key, _ := strings.Cut(n.Payload, ":")
			l.dispatch(ctx, Topic(topic), key)
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return fmt.Errorf("ping: %w", err)
			}
		default:
			return err
		}
	}
}

func (l *Listener) dispatch(ctx context.Context, topic Topic, key string) {
	l.mu.Lock()
	hs := l.handlers[topic]
	l.mu.Unlock()
	for _, h := range hs {
		h(ctx, key)
	}
}

// dispatchAll tells every handler that anything may have changed.
func (l *Listener) dispatchAll(ctx context.Context) {
	l.mu.Lock()
	var topics []Topic
	for t := range l.handlers {
		topics = append(topics, t)
	}
	l.mu.Unlock()
	for _, t := range topics {
		l.dispatch(ctx, t, "")
	}
}

var (
	descConnected = prometheus.NewDesc("mistore_changefeed_connected",
		"1 while this instance listens for other instances' changes (PostgreSQL LISTEN), else 0.", nil, nil)
	descReceived = prometheus.NewDesc("mistore_changefeed_notifications_total",
		"Change notifications received from the database.", nil, nil)
	descReconnects = prometheus.NewDesc("mistore_changefeed_reconnects_total",
		"Times the change feed lost its connection and listened again.", nil, nil)
)

// Describe implements prometheus.Collector.
func (l *Listener) Describe(ch chan<- *prometheus.Desc) {
	ch <- descConnected
	ch <- descReceived
	ch <- descReconnects
}

// Collect implements prometheus.Collector.
func (l *Listener) Collect(ch chan<- prometheus.Metric) {
	c := 0.0
	if l.connected.Load() {
		c = 1
	}
	ch <- prometheus.MustNewConstMetric(descConnected, prometheus.GaugeValue, c)
	ch <- prometheus.MustNewConstMetric(descReceived, prometheus.CounterValue, float64(l.received.Load()))
	ch <- prometheus.MustNewConstMetric(descReconnects, prometheus.CounterValue, float64(l.reconnects.Load()))
}

// jitter spreads d over [d/2, d], so that instances that lost the
// database together do not knock on it together.
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
