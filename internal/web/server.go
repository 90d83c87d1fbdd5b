// Package web is the store's HTTP surface: storefront pages, the JSON API,
// operations endpoints and embedded static files. It holds no business
// rules; handlers ask the domain services and render their answers.
package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"mistore/internal/catalog"
	"mistore/internal/db"
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
}

// Server routes requests to handlers.
type Server struct {
	db      *db.DB
	catalog *catalog.Service
	log     *slog.Logger
	version string
	metrics *metrics
	assets  *assets
	pages   *pages
	api     *apiDoc
	cache   *bodyCache
	handler http.Handler
	// patterns are the routes registered, for APIRoutes.
	patterns []string
	started  time.Time
}

// New builds the HTTP surface from deps.
func New(deps Deps) (*Server, error) {
	if deps.DB == nil || deps.Catalog == nil {
		return nil, fmt.Errorf("web: a database and a catalog are required")
	}
	s := &Server{
		db:      deps.DB,
		catalog: deps.Catalog,
		log:     deps.Log,
		version: deps.Version,
		started: time.Now(),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if s.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	if s.pages, err = loadPages(s.assets); err != nil {
		return nil, err
	}
	s.metrics = newMetrics(deps.DB)
	s.cache = newBodyCache(deps.CacheEntries)
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
