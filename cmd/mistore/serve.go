package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"mistore/internal/audit"
	"mistore/internal/catalog"
	"mistore/internal/changefeed"
	"mistore/internal/community"
	"mistore/internal/db"
	"mistore/internal/demo"
	"mistore/internal/flashsale"
	"mistore/internal/inventory"
	"mistore/internal/locale"
	"mistore/internal/notify"
	"mistore/internal/web"
)

// Main is a running store: its database, services and HTTP server. Tests
// start one on 127.0.0.1:0 and talk to URL().
type Main struct {
	Config Config
	Log    *slog.Logger

	DB      *db.DB
	Catalog *catalog.Service
	Web     *web.Server
	// Mailer queues the store's email; it sends through --smtp-url, or
	// keeps email in the outbox without it. No job runner is started here.
	Mailer    *notify.Mailer
	shop      *shop
	publicURL string
	// feed listens for other instances' changes (PostgreSQL only).
	feed     *changefeed.Listener
	stopFeed context.CancelFunc
	feedDone sync.WaitGroup
	// Wrap, when set before Open, wraps the store's handler; tests use it
	// to hold requests in flight.
	Wrap     func(http.Handler) http.Handler
	http     *http.Server
	listener net.Listener
	served   chan error
}

// NewMain returns a store for cfg, not yet open.
func NewMain(cfg Config, log *slog.Logger) *Main {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Main{Config: cfg, Log: log}
}

// Open connects the database, migrates it, seeds an empty demo store,
// builds the services and starts listening. It returns once the store
// accepts connections; Close stops it.
func (m *Main) Open(ctx context.Context) error {
	// Claim the port first: a port in use is the commonest start-up
	// failure, and it should not wait for migrations.
	ln, err := net.Listen("tcp", m.Config.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", m.Config.Addr, unwrapSyscall(err))
	}
	m.publicURL = strings.TrimSuffix(m.Config.PublicURL, "/")
	if m.publicURL == "" {
		m.publicURL = "http://" + ln.Addr().String()
	}
	if err := m.openServices(ctx); err != nil {
		ln.Close()
		return err
	}
	m.listener = ln
	m.shop.start(m.Log)
	if m.feed != nil {
		ctx, cancel := context.WithCancel(context.Background())
		m.stopFeed = cancel
		m.feedDone.Add(1)
		go func() {
			defer m.feedDone.Done()
			m.feed.Run(ctx)
		}()
	}
	var handler http.Handler = m.Web
	if m.Wrap != nil {
		handler = m.Wrap(handler)
	}
	m.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(m.Log.Handler(), slog.LevelWarn),
	}
	m.served = make(chan error, 1)
	go func() { m.served <- m.http.Serve(ln) }()
	return nil
}

func (m *Main) openServices(ctx context.Context) error {
	d, err := db.Open(ctx, m.Config.DB, db.Options{})
	if err != nil {
		return err
	}
	if n, err := d.Migrate(ctx); err != nil {
		d.Close()
		return err
	} else if n > 0 {
		m.Log.Info("migrated database", "applied", n, "db", d.Target)
	}
	m.DB = d
	inv := inventory.NewService(d)
	m.Catalog = catalog.NewService(d, inventory.NewDisplayCache(inv, time.Second), catalog.Options{})
	if m.Mailer, err = newMailer(m.Config, d, m.Log); err != nil {
		d.Close()
		return err
	}
	// Carts and checkout decide with fresh stock (inv), never the display
	// cache.
	// One message catalog for the process: the storefront's pages and the
	// shoppers' emails speak from it.
	locales, err := locale.Load()
	if err != nil {
		d.Close()
		return err
	}
	if m.shop, err = openShop(ctx, m.Config, d, m.Catalog, inv, m.Mailer, locales, m.publicURL, m.Log); err != nil {
		d.Close()
		return err
	}
	if m.Config.Demo {
		// Instances starting at once on one PostgreSQL database seed it
		// once: they take turns, and the first finds it empty.
		if err := d.Exclusively(ctx, demoSeedLockID, func() error { return m.seedIfEmpty(ctx) }); err != nil {
			m.shop.close()
			d.Close()
			return err
		}
	}
	if !m.Config.Demo && m.Config.MetricsToken == "" {
		// The order counters are the shop's sales (docs/operations.md).
		m.Log.Warn("/metrics is open to anyone who can reach this address: set --metrics-token, or block it at the proxy")
	}
	m.Web, err = web.New(web.Deps{
		DB: d, Catalog: m.Catalog, Log: m.Log, Version: version, Demo: m.Config.Demo, Mailer: m.Mailer,
		Cart: m.shop.carts, Orders: m.shop.orders, Checkout: m.shop.checkout, TestPay: m.shop.testPay,
		Jobs: m.shop.runner, Idempotency: m.shop.idem, PublicURL: m.publicURL,
		Customers: m.shop.customers, Limits: m.shop.limits, Staff: m.shop.staff, FlashSales: m.shop.flash,
		Waitlist: m.shop.waitlist, Community: m.shop.community, Locales: locales, MetricsToken: m.Config.MetricsToken,
	})
	if err != nil {
		d.Close()
		return err
	}
	if d.Dialect == db.Postgres {
		// Other instances' staff changes reach this one's caches through
		// PostgreSQL's LISTEN/NOTIFY (internal/changefeed).
		m.feed = changefeed.NewListener(m.Config.DB, m.Log)
		reload := func(ctx context.Context, key string) {
			if err := m.Catalog.Changed(ctx, key); err != nil {
				m.Log.Warn("reload the catalog after another instance's change", "err", err)
			}
		}
		m.feed.On(changefeed.Catalog, reload)
		m.feed.On(changefeed.Stock, reload)
		m.feed.On(changefeed.FlashSale, m.shop.flash.Changed)
		m.feed.On(changefeed.Rates, m.shop.checkout.RatesChanged)
		if err := m.Web.RegisterMetrics(m.feed); err != nil {
			d.Close()
			return err
		}
	}
	return nil
}

// seedIfEmpty loads the demo catalog, its flash sale and its community into
// a store that has no products, so the first start shows a working shop and
// a real store is never touched.
func (m *Main) seedIfEmpty(ctx context.Context) error {
	var n int
	if err := m.DB.Reader().QueryRowContext(ctx, "SELECT count(*) FROM products").Scan(&n); err != nil {
		return fmt.Errorf("count products: %w", err)
	}
	if n > 0 {
		return nil
	}
	res, err := demo.Seed(ctx, m.Catalog)
	if err != nil {
		return err
	}
	m.Log.Info("loaded the demo catalog", "products", res.Products, "variants", res.Variants)
	// A demo without its sale or its members is still a demo: say so, and
	// go on.
	if err := m.openDemoSale(ctx); err != nil {
		m.Log.Warn("no demo flash sale", "err", err)
	}
	members := community.New(m.DB, community.Options{NoLimits: true})
	if err := demo.SeedCommunity(ctx, m.DB, members); err != nil {
		m.Log.Warn("no demo community", "err", err)
	}
	return nil
}

// demoSeedLockID is the PostgreSQL advisory lock under which an instance
// seeds an empty demo store.
const demoSeedLockID = 7259_1002

// openDemoSale starts the demo store's flash sale, on its first start: a
// week of Band 8 Active at two thirds of its price, so that the flash-sale
// pages have something to show and to claim.
func (m *Main) openDemoSale(ctx context.Context) error {
	now := time.Now().UTC().Truncate(time.Second)
	ctx = audit.WithActor(ctx, audit.Actor{Kind: audit.KindSystem, Name: "demo"})
	sale, err := m.shop.flash.Create(ctx, flashsale.NewSale{
		Market: "us", SKU: "MB8A-GRN", Title: "Band 8 Active launch drop", Price: 1999,
		Quantity: 20, PerCustomerLimit: 1, StartsAt: now, EndsAt: now.Add(7 * 24 * time.Hour),
	})
	if err != nil {
		return fmt.Errorf("demo flash sale: %w", err)
	}
	m.Log.Info("opened the demo flash sale", "id", sale.ID, "path", "/us/flash-sales/"+strconv.FormatInt(sale.ID, 10))
	return nil
}

// URL is the store's base address, e.g. http://127.0.0.1:8080.
func (m *Main) URL() string {
	return "http://" + m.listener.Addr().String()
}

// Wait blocks until the server stops by itself (it failed) or ctx ends.
func (m *Main) Wait(ctx context.Context) error {
	select {
	case err := <-m.served:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
		return nil
	}
}

// Close stops accepting connections, lets requests in flight finish
// (within the shutdown timeout), then closes the database.
func (m *Main) Close() error {
	var err error
	if m.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
		defer cancel()
		if serr := m.http.Shutdown(ctx); serr != nil {
			err = fmt.Errorf("shutdown: %w", serr)
			m.http.Close()
		}
	}
	if m.stopFeed != nil {
		m.stopFeed()
		m.feedDone.Wait()
	}
	if m.shop != nil {
		m.shop.close()
	}
	if m.DB != nil {
		err = errors.Join(err, m.DB.Close())
	}
	return err
}

func cmdServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg := defaultConfig()
	fs := newFlagSet("serve", stderr)
	validate, err := configFlags(fs, &cfg, getenv, "addr", "db", "demo", "log-level", "log-format", "shutdown-timeout", "debug-addr", "public-url", "smtp-url", "mail-from", "stripe-secret-key", "stripe-webhook-secret", "metrics-token")
	if err != nil {
		return err
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve takes no arguments, got %q", fs.Args())
	}
	if err := validate(); err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	m := NewMain(cfg, log)
	if err := m.Open(ctx); err != nil {
		return err
	}
	if cfg.DebugAddr != "" {
		stopDebug, err := serveDebug(cfg.DebugAddr, m.DB, log)
		if err != nil {
			m.Close()
			return err
		}
		defer stopDebug()
	}
	fmt.Fprintf(stdout, "mistore %s serving %s on %s/\n", version, m.DB.Target, m.URL())
	log.Info("serving", "url", m.URL(), "db", m.DB.Target, "engine", m.DB.Dialect)
	err = m.Wait(ctx)
	log.Info("shutting down")
	return errors.Join(err, m.Close())
}

// unwrapSyscall keeps the useful end of a net error: "address already in
// use" rather than the whole operation chain.
func unwrapSyscall(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// serveDebug serves net/http/pprof, and where SQLite's writer spends its
// time (writerStatements), on its own listener, so they are never
// reachable through the shop's public address.
func serveDebug(addr string, d *db.DB, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("debug listener on %s: %w", addr, unwrapSyscall(err))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /debug/db/writer", writerStatements(d))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	log.Info("debug profiles", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
	return func() { srv.Close() }, nil
}

// writerStatements answers with the SQLite writer's time by statement
// since the store started, the most first, as a text table: the one
// writer bounds the rate of writes, and this says what it is busy with.
// Two reads a known interval apart give that interval's figures.
func writerStatements(d *db.DB) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if d.Dialect != db.SQLite {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintln(w, "This store runs on PostgreSQL, which has no single writer; see its pg_stat_statements.")
			return
		}
		stats := d.WriterStatements()
		var total time.Duration
		for _, s := range stats {
			total += s.Total
		}
		fmt.Fprintf(w, "SQLite writer: %v in statements since the store started (time waiting for the CPU included)\n\n", total.Round(time.Millisecond))
		fmt.Fprintf(w, "%12s %10s %10s %6s  %s\n", "total", "calls", "per call", "share", "statement")
		for _, s := range stats {
			share := 0.0
			if total > 0 {
				share = 100 * float64(s.Total) / float64(total)
			}
			fmt.Fprintf(w, "%12v %10d %10v %5.1f%%  %s\n", s.Total.Round(time.Microsecond), s.Calls,
				(s.Total / time.Duration(s.Calls)).Round(100*time.Nanosecond), share, s.SQL)
		}
	}
}
