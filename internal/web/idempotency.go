package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"mistore/internal/idempotency"
)

// idempotencyHeader is the request header that names a retryable request
// (API.md); idempotencyReplayedHeader marks an answer sent again.
const (
	idempotencyHeader         = "Idempotency-Key"
	idempotencyReplayedHeader = "Idempotency-Replayed"
)

// idempotencyWriteTimeout bounds storing or releasing a key once the
// handler is done. That runs on a context detached from the request's: a
// client that hung up must not stop the store from recording an answer
// its change already committed, or its retry would run the change again.
const idempotencyWriteTimeout = 5 * time.Second

// idempotent wraps the handler of a creating POST so that an
// Idempotency-Key header makes it run at most once per key (API.md).
// Without the header, h just runs. With it, the first request with the
// key runs h and its final answer is stored for 24 hours; a retry with the
// same key and the same bytes gets that answer again, marked
// Idempotency-Replayed: true, without running h; a retry with another body
// is a 422 idempotency_key_reused; a retry while the first still runs is a
// 409 idempotency_key_in_use with Retry-After: 1. An answer that is not
// final (5xx, a panic, a "not now" 4xx, see idempotency.Storable) releases
// the key so that the retry runs.
//
// Only the status, Content-Type and body are stored and replayed; the
// API's creating routes answer with nothing else that matters.
func (s *Server) idempotent(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		values, ok := r.Header[idempotencyHeader]
		if !ok {
			h(w, r)
			return
		}
		if len(values) != 1 {
			s.apiFail(w, r, badParam(idempotencyHeader, "Idempotency-Key must be given once."))
			return
		}
		key := values[0]
		if idempotency.CheckKey(key) != nil {
			s.apiFail(w, r, badParam(idempotencyHeader, "Idempotency-Key must be 1 to %d printable ASCII characters.", idempotency.MaxKeyLen))
			return
		}

		// The whole body is read here to fingerprint it, then handed to h
		// as if unread.
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, idempotency.MaxBody))
		if err != nil {
			if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
				s.writeJSON(w, r, http.StatusRequestEntityTooLarge, map[string]apiError{"error": {
					Code: codeTooLarge, Message: "The request body is larger than 1 MB.",
				}})
				return
			}
			s.writeJSON(w, r, http.StatusBadRequest, map[string]apiError{"error": {
				Code: codeMalformed, Message: "The request body could not be read.",
			}})
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))

		scope := idempotencyScope(r)
		fingerprint := idempotency.Fingerprint(r.Method, r.URL.RequestURI(), body)
		out, err := s.idempotency.Begin(r.Context(), scope, key, fingerprint)
		switch {
		case errors.Is(err, idempotency.ErrKeyReused):
			s.writeJSON(w, r, http.StatusUnprocessableEntity, map[string]apiError{"error": {
				Code:    codeIdempotencyKeyReused,
				Message: "This Idempotency-Key was already used for a different request; use a new key for a new request.",
				Field:   idempotencyHeader,
			}})
			return
		case errors.Is(err, idempotency.ErrInProgress):
			w.Header().Set("Retry-After", "1")
			s.writeJSON(w, r, http.StatusConflict, map[string]apiError{"error": {
				Code:    codeIdempotencyKeyInUse,
				Message: "A request with this Idempotency-Key is still being processed; retry shortly to get its answer.",
				Field:   idempotencyHeader,
			}})
			return
		case err != nil:
			s.apiFail(w, r, err)
			return
		case !out.Proceed:
			replay(w, out.Replay)
			return
		}
		s.runIdempotent(w, r, h, scope, key)
	}
}

// runIdempotent runs h for the request that owns key and then stores its
// answer or releases the key.
func (s *Server) runIdempotent(w http.ResponseWriter, r *http.Request, h http.HandlerFunc, scope, key string) {
	cw := &captureWriter{ResponseWriter: w}
	returned := false
	defer func() {
		if returned {
			return
		}
		// h panicked (or called runtime.Goexit): no answer to keep, so
		// the key is released for the retry and the panic goes on to the
		// recovery middleware.
		v := recover()
		s.abandonKey(r, scope, key)
		if v != nil {
			panic(v)
		}
	}()
	h(cw, r)
	returned = true

	status := cw.status
	if status == 0 {
		status = http.StatusOK // h wrote nothing: net/http sends an empty 200
	}
	if !idempotency.Storable(status) {
		s.abandonKey(r, scope, key)
		return
	}
	// From here on the key is never released: the request may have changed
	// something, and a key left running (409 to every retry until it
	// expires) is better than a change made twice.
	if cw.overflow {
		s.log.ErrorContext(r.Context(), "idempotency: answer too large to keep; the key stays locked until it expires",
			slog.String("path", r.URL.Path), slog.Int("status", status))
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), idempotencyWriteTimeout)
	defer cancel()
	if err := s.idempotency.Finish(ctx, scope, key, status, cw.contentType, cw.body.Bytes()); err != nil {
		s.log.ErrorContext(r.Context(), "idempotency: answer not kept; the key stays locked until it expires",
			slog.String("path", r.URL.Path), slog.Int("status", status), slog.Any("err", err))
	}
}

// abandonKey releases key after a request that gave no final answer.
func (s *Server) abandonKey(r *http.Request, scope, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), idempotencyWriteTimeout)
	defer cancel()
	if err := s.idempotency.Abandon(ctx, scope, key); err != nil {
		// The key stays running until it expires: retries get a 409.
		s.log.ErrorContext(r.Context(), "idempotency: key not released", slog.String("path", r.URL.Path), slog.Any("err", err))
	}
}

// replay sends a stored answer again.
func replay(w http.ResponseWriter, a idempotency.Replay) {
	h := w.Header()
	if a.ContentType != "" {
		h.Set("Content-Type", a.ContentType)
	}
	h.Set(idempotencyReplayedHeader, "true")
	if len(a.Body) > 0 {
		h.Set("Content-Length", strconv.Itoa(len(a.Body)))
	}
	w.WriteHeader(a.Status)
	w.Write(a.Body)
}

// idempotencyScope names the caller a key belongs to, so that one caller's
// key can never replay another's answer. A signed-in customer or an API key
// is its Authorization header; a cart's holder is its X-Cart-Token. The
// credentials are stored only as SHA-256 hashes, which is enough for
// secrets this long and random.
//
// An anonymous caller has no identity to scope by, so anonymous requests
// share one scope per path (say, everyone creating a cart in the US). The
// scope cannot be the client's address: retries are exactly what happens
// when a phone moves between networks. Such keys must therefore be
// unguessable, random UUIDs as clients make them anyway: anyone who sent
// the same key and the same body to the same path would be given the
// first answer, such as a new cart's id and token.
func idempotencyScope(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		return "auth:" + sha256Hex(a)
	}
	if t := r.Header.Get("X-Cart-Token"); t != "" {
		return "cart:" + sha256Hex(t)
	}
	return "anon:" + r.URL.Path
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// captureWriter passes an answer through to the client and keeps a copy
// of its status, Content-Type and first idempotency.MaxBody bytes.
type captureWriter struct {
	http.ResponseWriter
	status      int
	contentType string
	body        bytes.Buffer
	// overflow is set when the body outgrew what is kept.
	overflow bool
}

func (c *captureWriter) WriteHeader(code int) {
	// 1xx answers are interim; the final status comes after them.
	if c.status == 0 && code >= 200 {
		c.status = code
		c.contentType = c.Header().Get("Content-Type")
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
		c.contentType = c.Header().Get("Content-Type")
	}
	// The copy is of what h answered, even if the client is gone and the
	// write fails: that is what its retry must get.
	if !c.overflow {
		if c.body.Len()+len(b) > idempotency.MaxBody {
			c.overflow = true
			c.body = bytes.Buffer{}
		} else {
			c.body.Write(b)
		}
	}
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (c *captureWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
