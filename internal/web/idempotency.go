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
	"sync/atomic"
	"time"

	"mistore/internal/db"
	"mistore/internal/idempotency"
)

// idempotencyHeader is the request header that names a retryable request
// (API.md); idempotencyReplayedHeader marks an answer sent again.
const (
	idempotencyHeader         = "Idempotency-Key"
	idempotencyReplayedHeader = "Idempotency-Replayed"
)

// idempotencyWriteTimeout bounds storing or releasing a key once the
// handler is done (afterRequest).
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
//
// With claimInTx the key is claimed in the first write transaction h
// makes, with the change it guards, instead of in one of its own before h
// runs: a write less for the database, and a key that cannot be left
// claimed by a change that never committed. Only a handler whose every
// write runs on the request's context may ask for it (db.FirstWrite).
func (s *Server) idempotent(h http.HandlerFunc, claimInTx bool) http.HandlerFunc {
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
		if claimInTx {
			s.runClaimingInTx(w, r, h, scope, key, fingerprint)
			return
		}
		out, err := s.idempotency.Begin(r.Context(), scope, key, fingerprint)
		if err != nil || !out.Proceed {
			s.answerHeld(w, r, out, err)
			return
		}
		s.runIdempotent(w, r, h, scope, key)
	}
}

// answerHeld answers a request whose key an earlier request holds: with
// that request's stored answer, or err from Begin, Held or Lookup.
func (s *Server) answerHeld(w http.ResponseWriter, r *http.Request, out idempotency.Outcome, err error) {
	switch {
	case errors.Is(err, idempotency.ErrKeyReused):
		s.writeJSON(w, r, http.StatusUnprocessableEntity, map[string]apiError{"error": {
			Code:    codeIdempotencyKeyReused,
			Message: "This Idempotency-Key was already used for a different request; use a new key for a new request.",
			Field:   idempotencyHeader,
		}})
	case errors.Is(err, idempotency.ErrInterrupted):
		// No Retry-After: retrying with this key will never get an answer.
		s.writeJSON(w, r, http.StatusConflict, map[string]apiError{"error": {
			Code: codeIdempotencyKeyInUse,
			Message: "The first request with this Idempotency-Key was interrupted (the server stopped) and will not be answered; " +
				"it may or may not have taken effect. Look at what exists (for example GET the cart or the order) before you try again with a new key.",
			Field: idempotencyHeader,
		}})
	case errors.Is(err, idempotency.ErrInProgress):
		w.Header().Set("Retry-After", "1")
		s.writeJSON(w, r, http.StatusConflict, map[string]apiError{"error": {
			Code:    codeIdempotencyKeyInUse,
			Message: "A request with this Idempotency-Key is still being processed; retry shortly to get its answer.",
			Field:   idempotencyHeader,
		}})
	case err != nil:
		s.apiFail(w, r, err)
	default:
		replay(w, out.Replay)
	}
}

// runClaimingInTx runs h with key to be claimed in h's first write
// transaction. h's answer is held back until it is known to be the one to
// give: when the claim found the key taken, h's change rolled back with
// it and the answer is the earlier request's; when h wrote nothing, its
// answer is recorded, or replaced by the one recorded first.
func (s *Server) runClaimingInTx(w http.ResponseWriter, r *http.Request, h http.HandlerFunc, scope, key, fingerprint string) {
	var taken atomic.Bool
	ctx, fw := db.WithFirstWrite(r.Context(), func(ctx context.Context, tx db.Querier) error {
		err := s.idempotency.Claim(ctx, tx, scope, key, fingerprint)
		if errors.Is(err, idempotency.ErrTaken) {
			taken.Store(true)
		}
		return err
	})
	cw := &captureWriter{ResponseWriter: w, held: http.Header{}}
	// A claim that never committed holds nothing to release.
	serveCaptured(h, cw, r.WithContext(ctx), func() {
		if fw.Committed() {
			s.abandonKey(r, scope, key)
		}
	})

	// On r's context, which does not carry the claim: the writes below
	// are about the request, not of it.
	wctx, cancel := afterRequest(r)
	defer cancel()
	switch {
	case fw.Committed():
		// Stored before it is sent, so that the client never holds an
		// answer its retry would not be given.
		s.settleKey(r, cw, scope, key)
	case taken.Load():
		out, err := s.idempotency.Held(wctx, scope, key, fingerprint)
		s.answerHeld(w, r, out, err)
		return
	default:
		// h wrote nothing, so it may have run beside an earlier request
		// with the key, whose answer comes first. Failing to learn that,
		// h's answer stands: it changed nothing, and a retry that runs
		// again does no harm.
		if s.heldElsewhere(wctx, w, r, cw, scope, key, fingerprint) {
			return
		}
	}
	cw.release()
}

// heldElsewhere records the answer of a request that wrote nothing, if it
// is final, and reports whether it answered instead with that of an
// earlier request holding key.
func (s *Server) heldElsewhere(ctx context.Context, w http.ResponseWriter, r *http.Request, cw *captureWriter, scope, key, fingerprint string) bool {
	if status := cw.finalStatus(); idempotency.Storable(status) && !cw.overflow {
		err := s.idempotency.Record(ctx, scope, key, fingerprint, status, cw.contentType, cw.body.Bytes())
		if err == nil {
			return false
		}
		if !errors.Is(err, idempotency.ErrTaken) {
			s.log.WarnContext(r.Context(), "idempotency: answer of a request that wrote nothing not kept",
				slog.String("path", r.URL.Path), slog.Any("err", err))
			return false
		}
	}
	out, err := s.idempotency.Lookup(ctx, scope, key, fingerprint)
	switch {
	case errors.Is(err, idempotency.ErrUnknownKey):
		return false
	case err == nil, errors.Is(err, idempotency.ErrKeyReused), errors.Is(err, idempotency.ErrInProgress), errors.Is(err, idempotency.ErrInterrupted):
		s.answerHeld(w, r, out, err)
		return true
	}
	s.log.WarnContext(r.Context(), "idempotency: key of a request that wrote nothing not looked up",
		slog.String("path", r.URL.Path), slog.Any("err", err))
	return false
}

// runIdempotent runs h for the request that owns key and then stores its
// answer or releases the key.
func (s *Server) runIdempotent(w http.ResponseWriter, r *http.Request, h http.HandlerFunc, scope, key string) {
	cw := &captureWriter{ResponseWriter: w}
	serveCaptured(h, cw, r, func() { s.abandonKey(r, scope, key) })
	s.settleKey(r, cw, scope, key)
}

// serveCaptured runs h into cw. If h panics (or calls runtime.Goexit)
// there is no answer to keep: release frees the key for the retry before
// the panic goes on to the recovery middleware.
func serveCaptured(h http.HandlerFunc, cw *captureWriter, r *http.Request, release func()) {
	returned := false
	defer func() {
		if returned {
			return
		}
		v := recover()
		release()
		if v != nil {
			panic(v)
		}
	}()
	h(cw, r)
	returned = true
}

// afterRequest is the context of the writes that store or release a key
// once the handler is done. It is detached from the request's: a client
// that hung up must not stop the store from recording an answer its
// change already committed, or its retry would run the change again.
func afterRequest(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), idempotencyWriteTimeout)
}

// settleKey stores the answer cw captured for the request that owns key,
// or releases the key when the answer is not final.
func (s *Server) settleKey(r *http.Request, cw *captureWriter, scope, key string) {
	status := cw.finalStatus()
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
	ctx, cancel := afterRequest(r)
	defer cancel()
	if err := s.idempotency.Finish(ctx, scope, key, status, cw.contentType, cw.body.Bytes()); err != nil {
		s.log.ErrorContext(r.Context(), "idempotency: answer not kept; the key stays locked until it expires",
			slog.String("path", r.URL.Path), slog.Int("status", status), slog.Any("err", err))
	}
}

// abandonKey releases key after a request that gave no final answer.
func (s *Server) abandonKey(r *http.Request, scope, key string) {
	ctx, cancel := afterRequest(r)
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
// An anonymous caller has no identity, so its scope is the path and the
// client's address: otherwise anyone who guessed a weak key (a client's
// "1", say) and sent the same body to the same path would be given the
// first answer, a new cart's id and token among them. The price is that a
// retry from another network (a phone moving from Wi-Fi to its carrier)
// runs again: an anonymous cart is made twice, the first left to expire,
// or a registration finds its email taken and the client signs in. Behind
// a load balancer every client has its address (clientIP), so keys there
// must be as unguessable as random UUIDs anyway.
func idempotencyScope(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		return "auth:" + sha256Hex(a)
	}
	if t := r.Header.Get("X-Cart-Token"); t != "" {
		return "cart:" + sha256Hex(t)
	}
	return "anon:" + r.URL.Path + "@" + clientIP(r)
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// captureWriter passes an answer through to the client and keeps a copy
// of its status, Content-Type and first idempotency.MaxBody bytes. With
// held set it passes nothing through until release: it keeps the headers
// in held and the whole body.
type captureWriter struct {
	http.ResponseWriter
	status      int
	contentType string
	body        bytes.Buffer
	// overflow is set when the body outgrew what is kept.
	overflow bool
	held     http.Header
}

// finalStatus is the status of the answer; an answer with none written
// is the empty 200 net/http sends.
func (c *captureWriter) finalStatus() int {
	if c.status == 0 {
		return http.StatusOK
	}
	return c.status
}

// Header returns the header map of the answer.
func (c *captureWriter) Header() http.Header {
	if c.held != nil {
		return c.held
	}
	return c.ResponseWriter.Header()
}

// WriteHeader records the status of the answer.
func (c *captureWriter) WriteHeader(code int) {
	// 1xx answers are interim; the final status comes after them.
	if c.status == 0 && code >= 200 {
		c.status = code
		c.contentType = c.Header().Get("Content-Type")
	}
	if c.held == nil {
		c.ResponseWriter.WriteHeader(code)
	}
}

// Write records a part of the answer's body.
func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
		c.contentType = c.Header().Get("Content-Type")
	}
	if c.held != nil {
		// All of it, for release; too much of it to keep is overflow.
		c.body.Write(b)
		c.overflow = c.overflow || c.body.Len() > idempotency.MaxBody
		return len(b), nil
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

// release sends a held answer.
func (c *captureWriter) release() {
	h := c.ResponseWriter.Header()
	for k, v := range c.held {
		h[k] = v
	}
	if c.status != 0 {
		c.ResponseWriter.WriteHeader(c.status)
	}
	c.ResponseWriter.Write(c.body.Bytes())
}

// Unwrap lets http.ResponseController reach the underlying writer, unless
// the answer is held: a flush would send the client what may be replaced.
func (c *captureWriter) Unwrap() http.ResponseWriter {
	if c.held != nil {
		return nil
	}
	return c.ResponseWriter
}
