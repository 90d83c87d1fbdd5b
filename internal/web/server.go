// Package web is the store's HTTP surface: storefront pages, the JSON API,
// operations endpoints and embedded static files. It holds no business
// rules; handlers ask the domain services and render their answers.
package web

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"mistore/internal/locale"
	"net/http"
	"strings"
	"sync"
	"time"

	"mistore/internal/cart"
	"mistore/internal/catalog"
	"mistore/internal/checkout"
	"mistore/internal/community"
	"mistore/internal/customer"
	"mistore/internal/db"
	"mistore/internal/flashsale"
	"mistore/internal/idempotency"
	"mistore/internal/inventory"
	"mistore/internal/notify"
	"mistore/internal/order"
	"mistore/internal/payment"
	"mistore/internal/ratelimit"
	"mistore/internal/staff"
	"mistore/internal/waitlist"
)

// Deps is what the web layer needs from the rest of the store.
type Deps struct {
	DB      *db.DB
	Catalog *catalog.Service
	Log     *slog.Logger
	// Version names the running build, for logs and the OpenAPI document.
	Version string
	// CacheEntries bounds the rendered pages and API bodies kept in
	// memory; 0 means 1024, a negative number turns the cache off.
	CacheEntries int
	// Idempotency keeps the answers to creating POSTs sent with an
	// Idempotency-Key; nil means a store on DB, which is all serving needs.
	Idempotency *idempotency.Store
	// Demo marks the demo store: pages that must not exist in a real one,
	// such as the outbox at /admin/outbox, are served only then.
	Demo bool
	// Mailer is the outbox that /admin/outbox shows in the demo; nil: none.
	Mailer *notify.Mailer
	// Orders runs the order lifecycle; Checkout turns carts into orders.
	Orders   *order.Service
	Checkout *checkout.Service
	// TestPay is the built-in test payment provider, whose hosted page
	// the store serves at /pay/test/{session}; nil when it is not in use.
	TestPay *payment.TestProvider
	// Jobs is woken after a request queues work; nil: jobs wait for the
	// runner's next poll.
	Jobs interface{ Notify() }
	// PublicURL is the store's address as shoppers and providers reach
	// it, e.g. https://shop.example; links in emails and payment return
	// addresses use it.
	PublicURL string
	// Cart keeps shopping carts; nil means a service on DB and Catalog
	// with fresh stock and the catalog's clock.
	Cart *cart.Service
	// Customers keeps accounts and sessions; nil: the store has no
	// accounts (the account pages and API are not served).
	Customers *customer.Service
	// Limits holds the abuse limits (sign-in, registration, resets); nil:
	// none are enforced.
	Limits *ratelimit.Limiter
	// Staff keeps back-office members, sessions and API keys; nil: the
	// store has no back office (nothing under /admin/ but the demo
	// outbox, and no admin API).
	Staff *staff.Service
	// FlashSales runs flash sales; nil means a service on DB, Catalog and
	// Cart with default options. serve passes the one its sweeper runs,
	// so that a claim's engine hears of units coming back.
	FlashSales *flashsale.Service
	// Community keeps products' comments and reviews and their
	// moderation; nil means a service on DB with the catalog's clock,
	// posting limits enforced only when Limits is set.
	Community *community.Service
	// Waitlist keeps the "tell me when it's available" requests; nil
	// means a service on DB and Catalog mailing through Mailer (or an
	// outbox-only mailer), with live stock and PublicURL's links.
	Waitlist *waitlist.Service
	// Locales holds the storefront's message catalogs; nil means the
	// embedded ones, loaded here. serve passes the one its emails use.
	Locales *locale.Catalog
	// Theme holds the parsed templates and static files; nil means a
	// theme loaded here (LoadTheme) speaking Locales. Servers that share
	// one skip the loading: tests start hundreds.
	Theme *Theme
	// MetricsToken, when set, is the bearer token /metrics asks for: the
	// counters say how much the shop sells, which is the shop's business.
	// Empty leaves /metrics open.
	MetricsToken string
}

// noJobs is the waker of a store without a job runner.
type noJobs struct{}

func (noJobs) Notify() {}

// Server routes requests to handlers.
type Server struct {
	db      *db.DB
	catalog *catalog.Service
	log     *slog.Logger
	version string
	metrics *metrics
	// metricsToken guards /metrics when set (Deps.MetricsToken).
	metricsToken string
	// Theme gives the server its assets, pages and locales (the
	// storefront's message catalogs, language.go), shared with any other
	// server built on the same theme.
	*Theme
	api   *apiDoc
	cache *bodyCache
	// relatedMemo keeps the product pages' suggestions (related.go).
	relatedMemo relatedMemo
	// idempotency backs the Idempotency-Key middleware of API POSTs.
	idempotency *idempotency.Store
	handler     http.Handler
	// patterns are the routes registered, for APIRoutes.
	patterns  []string
	started   time.Time
	orders    *order.Service
	checkout  *checkout.Service
	testPay   *payment.TestProvider
	jobs      interface{ Notify() }
	publicURL string
	// demo and mailer serve the demo-only outbox (page_outbox.go).
	demo   bool
	mailer *notify.Mailer
	// cart serves the cart API and page (cart_api.go, page_cart.go).
	cart *cart.Service
	// customers and limits serve accounts (api_customers.go,
	// page_account.go).
	customers *customer.Service
	limits    *ratelimit.Limiter
	// staff serves the back office (admin*.go); stock and coupons its
	// inventory and coupon pages, built once here like every service.
	staff   *staff.Service
	stock   *inventory.Service
	coupons *checkout.Admin
	// flashsales serves the flash-sale pages and API (flashsale*.go,
	// admin_flashsales*.go).
	flashsales *flashsale.Service
	// queueKeyBytes signs the flash-sale queue page's retries, read from
	// the database on first use (flashsale_page.go).
	queueKeyMu    sync.Mutex
	queueKeyBytes []byte
	// imageWork holds a slot for each upload being scaled
	// (admin_images.go).
	imageWork chan struct{}
	// media keeps the renditions visitors ask for most (mediacache.go).
	media *mediaCache
	// community serves comments, reviews and their moderation
	// (community*.go, admin_moderation*.go).
	community *community.Service
	// waitlist serves the waitlist form, its links and the demand report
	// (waitlist*.go, admin_waitlist.go).
	waitlist *waitlist.Service
	// access is apiAccess, this server's copy.
	access map[string]access
}

// New builds the HTTP surface from deps.
func New(deps Deps) (*Server, error) {
	if deps.DB == nil || deps.Catalog == nil {
		return nil, fmt.Errorf("web: a database and a catalog are required")
	}
	s := &Server{
		db:        deps.DB,
		catalog:   deps.Catalog,
		log:       deps.Log,
		version:   deps.Version,
		started:   time.Now(),
		imageWork: make(chan struct{}, imageWorkers()),
		media:     newMediaCache(mediaCacheBytes),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if s.Theme, err = deps.theme(); err != nil {
		return nil, err
	}
	s.metrics = newMetrics(deps.DB)
	s.metricsToken = deps.MetricsToken
	s.cache = newBodyCache(deps.CacheEntries)
	s.demo, s.mailer = deps.Demo, deps.Mailer
	s.orders, s.checkout, s.testPay, s.jobs, s.publicURL = deps.Orders, deps.Checkout, deps.TestPay, deps.Jobs, strings.TrimSuffix(deps.PublicURL, "/")
	if s.jobs == nil {
		s.jobs = noJobs{}
	}
	s.customers, s.limits, s.staff = deps.Customers, deps.Limits, deps.Staff
	s.idempotency = deps.Idempotency
	if s.idempotency == nil {
		s.idempotency = idempotency.NewStore(deps.DB, nil)
	}
	s.stock, s.coupons = inventory.NewService(deps.DB), checkout.NewAdmin(deps.DB, nil)
	if deps.Checkout != nil {
		s.coupons.OnRatesChanged(deps.Checkout.RatesChanged)
	}
	s.cart = deps.Cart
	if s.cart == nil {
		s.cart = cart.NewService(deps.DB, deps.Catalog, s.stock, nil)
	}
	s.flashsales = deps.FlashSales
	if s.flashsales == nil {
		s.flashsales = flashsale.NewService(deps.DB, deps.Catalog, s.cart, flashsale.Options{Log: s.log})
	}
	s.community = deps.Community
	if s.community == nil {
		s.community = community.New(deps.DB, community.Options{Now: deps.Catalog.Now, Limiter: deps.Limits, NoLimits: deps.Limits == nil})
	}
	s.waitlist = deps.Waitlist
	s.metrics.registerStore(s)
	s.access = maps.Clone(apiAccess)
	mux := &recordingMux{ServeMux: http.NewServeMux()}
	s.api = newAPIDoc(s.version)
	s.routes(mux)
	s.patterns = mux.patterns
	s.handler = s.middleware(mux)
	return s, nil
}

// ServeHTTP makes Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// Ready reports whether the store can serve: the database answers and its
// schema is current.
func (s *Server) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	pending, err := s.db.Pending(ctx)
	if err != nil {
		return err
	}
	if pending > 0 {
		return fmt.Errorf("database schema is %d migration(s) behind; run mistore migrate", pending)
	}
	return nil
}
