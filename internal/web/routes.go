package web

import (
	"net/http"
	"sort"
	"strings"
)

// recordingMux is a ServeMux that remembers every pattern registered on
// it, so tests can hold the OpenAPI document against what is really
// routed, however a route was added.
type recordingMux struct {
	*http.ServeMux
	patterns []string
}

func (m *recordingMux) Handle(pattern string, h http.Handler) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.Handle(pattern, h)
}

func (m *recordingMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(h))
}

// APIRoutes returns every API operation the server routes, as sorted
// "METHOD /path" strings; method-less fallbacks are left out.
func (s *Server) APIRoutes() []string {
	var out []string
	for _, p := range s.patterns {
		if method, path, ok := strings.Cut(p, " "); ok && method != "" && strings.HasPrefix(path, "/api/") {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// routes registers every surface of the store. Each table reads as the
// list of URLs it serves; API routes are registered through s.api so that
// the OpenAPI document and the router cannot disagree.
func (s *Server) routes(mux *recordingMux) {
	// Operations.
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.guardMetrics(s.metrics.handler()))
	mux.Handle("GET /static/{hash}/{file...}", s.assets)
	mux.HandleFunc("GET /media/{file}/{width}", s.serveMedia)
	mux.HandleFunc("GET /robots.txt", s.robots)
	mux.HandleFunc("GET /favicon.ico", s.favicon)
	// The demo's outbox: every email the store would have sent.
	s.outboxRoutes(mux)

	// Storefront pages live under /{market}/, a wildcard first segment that
	// would clash with every fixed prefix above, so they get a mux of their
	// own that sees whatever the fixed routes do not claim.
	store := http.NewServeMux()
	store.HandleFunc("GET /{$}", s.rootRedirect)
	store.HandleFunc("GET /{market}/{$}", s.pageHome)
	store.HandleFunc("GET /{market}", s.marketRedirect)
	store.HandleFunc("GET /{market}/sitemap.xml", s.sitemap)
	store.HandleFunc("GET /{market}/products", s.pageProducts)
	store.HandleFunc("GET /{market}/products/{slug}", s.pageProduct)
	store.HandleFunc("POST /{market}/language", s.setLanguage)
	store.HandleFunc("/", s.pageNotFound)
	mux.Handle("/", store)

	// JSON API.
	api := s.api.router(mux, s)
	api.handle("GET /api/v1/openapi.json", s.apiOpenAPI, opDoc{
		summary: "This OpenAPI document.", tag: "meta", response: "OpenAPI",
	})
	api.handle("GET /api/v1/markets", s.apiMarkets, opDoc{
		summary: "List the markets the store sells in.", tag: "catalog", response: "MarketList",
	})
	api.handle("GET /api/v1/markets/{market}/products", s.apiProducts, opDoc{
		summary: "List or search a market's products.", tag: "catalog", response: "ProductList",
		params: []paramDoc{marketParam, qParam, categoryParam, sortParam, pageParam, perPageParam},
	})
	api.handle("GET /api/v1/markets/{market}/products/{slug}", s.apiProduct, opDoc{
		summary: "One product as a market sees it, with its availability there.", tag: "catalog", response: "Product",
		params: []paramDoc{marketParam, slugParam},
	})
	s.orderRoutes(mux, store, api)
	s.customerRoutes(store, api)
	s.cartRoutes(api, store)
	s.adminRoutes(mux, api)
	s.flashSaleRoutes(mux, store, api)
	s.communityRoutes(mux, store, api)
	s.waitlistRoutes(mux, store, api)
	mux.HandleFunc("/api/", s.apiNotFound)
}
