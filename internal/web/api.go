package web

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
)

// writeJSON sends v with status. Encoding into a buffer first means an
// encoding failure becomes a clean 500 instead of half a body.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		s.apiFail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// writeJSONCached sends the 200 body that build makes, kept under key: the
// key must name everything the body depends on.
func (s *Server) writeJSONCached(w http.ResponseWriter, r *http.Request, key string, build func() any) {
	if e := s.cache.get(key); e != nil {
		e.serve(w, r)
		return
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(build()); err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.cache.put(key, buf.Bytes(), "application/json; charset=utf-8").serve(w, r)
}

// apiFail answers an API request with the error format of API.md.
func (s *Server) apiFail(w http.ResponseWriter, r *http.Request, err error) {
	status, body := classify(err)
	retryAfter(w, err)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="mistore"`)
	}
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "api error", slog.String("path", r.URL.Path), slog.Any("err", err))
	}
	s.writeJSON(w, r, status, map[string]apiError{"error": body})
}

// intParam reads an optional integer query parameter in [lo, hi].
func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	raw, ok := r.URL.Query()[name]
	if !ok {
		return def, nil
	}
	if len(raw) != 1 {
		return 0, badParam(name, "%s must be given once", name)
	}
	n, err := strconv.Atoi(raw[0])
	if err != nil {
		return 0, badParam(name, "%s must be a whole number from %d to %d", name, lo, hi)
	}
	if n < lo || n > hi {
		return 0, badParam(name, "%s must be from %d to %d", name, lo, hi)
	}
	return n, nil
}
