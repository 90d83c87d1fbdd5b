package web

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
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

// wholeParam parses v, the value of query parameter name, as a whole
// number from lo to hi; "" means def. The caller reads v from the query,
// trimmed where its form's fields are. Unlike intParam's, its one error
// states the whole range, as the back office's list filters do.
func wholeParam(name, v string, def, lo, hi int64) (int64, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, badParam(name, "%s must be a whole number from %d to %d", name, lo, hi)
	}
	return n, nil
}

// timeParam reads query parameter name, trimmed, as an RFC 3339 time or
// a date (UTC); absent or empty is the zero time. With endOfDay a date
// stands for the end of that day (the next day's start): for the bound a
// range stops before, "to 2026-11-27" includes that day.
func timeParam(q url.Values, name string, endOfDay bool) (time.Time, error) {
	v := strings.TrimSpace(q.Get(name))
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		return time.Time{}, badParam(name, "%s must be an RFC 3339 time (2026-11-27T09:00:00Z) or a date (2026-11-27)", name)
	}
	if endOfDay {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}
