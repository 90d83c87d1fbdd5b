package web

import (
	"net/http"
)

// healthz says the process is alive; it touches nothing else, so a slow
// database never gets a healthy instance restarted.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte("ok\n"))
}

// readyz says whether this instance should get traffic: the database
// answers and the schema is current.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.Ready(r.Context()); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("not ready: " + err.Error() + "\n"))
		return
	}
	w.Write([]byte("ready\n"))
}

// favicon points browsers at the logo, which lives under a hashed URL.
func (s *Server) favicon(w http.ResponseWriter, r *http.Request) {
	u, err := s.assets.URL("img/logo.svg")
	if err != nil {
		http.NotFound(w, r)
		return
	}
	http.Redirect(w, r, u, http.StatusMovedPermanently)
}
