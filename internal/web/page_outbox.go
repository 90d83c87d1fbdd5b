package web

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"mistore/internal/notify"
)

// outboxLimit is how many emails the outbox page lists.
const outboxLimit = 100

// emailHTMLPolicy is the Content-Security-Policy of an email's HTML body
// served on its own: emails carry inline styles and may carry data:
// images, and nothing else, so nothing else may load; sandbox runs it in
// an opaque origin without scripts even when opened directly, and only
// the outbox page itself may frame it.
const emailHTMLPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox"

// outboxRoutes registers the demo's outbox: until the back office and its
// staff sign-in exist, the only way to read the email a demo store
// "sends" (it has no SMTP server) is this page. It shows customers'
// addresses and order links, so it answers 404 unless the store runs in
// demo mode.
func (s *Server) outboxRoutes(mux *recordingMux) {
	mux.HandleFunc("GET /admin/outbox", s.pageOutbox)
	mux.HandleFunc("GET /admin/outbox/{id}", s.pageOutboxEmail)
	mux.HandleFunc("GET /admin/outbox/{id}/html", s.outboxEmailHTML)
}

// outboxOn reports whether the outbox pages exist.
func (s *Server) outboxOn() bool { return s.demo && s.mailer != nil }

// outboxEmail is an email as the outbox pages show it.
type outboxEmail struct {
	notify.Email
	Created string
	Status  string
}

func (s *Server) newOutboxEmail(e notify.Email) outboxEmail {
	v := outboxEmail{Email: e, Created: outboxTime(e.CreatedAt)}
	switch {
	case e.Sent():
		v.Status = "Sent " + outboxTime(e.SentAt)
	case e.LastError != "":
		v.Status = "Not sent yet: the last attempt failed"
	case !s.mailer.Delivers():
		v.Status = "Kept in the outbox (no SMTP configured)"
	default:
		v.Status = "Waiting to be sent"
	}
	return v
}

func outboxTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

type outboxContent struct {
	Emails   []outboxEmail
	Delivers bool
}

type outboxEmailContent struct {
	Email outboxEmail
}

func (s *Server) pageOutbox(w http.ResponseWriter, r *http.Request) {
	if !s.outboxOn() {
		s.pageNotFound(w, r)
		return
	}
	list, err := s.mailer.Outbox(r.Context(), outboxLimit)
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	p, err := s.outboxPage(r)
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	c := outboxContent{Delivers: s.mailer.Delivers()}
	for _, e := range list {
		c.Emails = append(c.Emails, s.newOutboxEmail(e))
	}
	p.Title = "Outbox (demo mode)"
	p.Canonical = "/admin/outbox"
	p.Content = c
	w.Header().Set("X-Robots-Tag", "noindex")
	// No cache key: the list changes with every order.
	s.render(w, r, http.StatusOK, "outbox", "", p)
}

// outboxLookup finds the email the URL names, or answers the request
// itself and returns false.
func (s *Server) outboxLookup(w http.ResponseWriter, r *http.Request) (notify.Email, bool) {
	if !s.outboxOn() {
		s.pageNotFound(w, r)
		return notify.Email{}, false
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.pageNotFound(w, r)
		return notify.Email{}, false
	}
	e, err := s.mailer.Email(r.Context(), id)
	if errors.Is(err, notify.ErrNotFound) {
		s.pageNotFound(w, r)
		return notify.Email{}, false
	}
	if err != nil {
		s.pageFail(w, r, err)
		return notify.Email{}, false
	}
	return e, true
}

// outboxPage is the shop's page around the outbox, which belongs to no
// market: the market links go to each market's home, and no alternates
// are announced (the pages are not to be indexed).
func (s *Server) outboxPage(r *http.Request) (*page, error) {
	p, err := s.newPage(r, "us", "/")
	if err != nil {
		return nil, err
	}
	p.NoIndex = true
	return p, nil
}

func (s *Server) pageOutboxEmail(w http.ResponseWriter, r *http.Request) {
	e, ok := s.outboxLookup(w, r)
	if !ok {
		return
	}
	p, err := s.outboxPage(r)
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	p.Title = e.Subject + " · Outbox (demo mode)"
	p.Canonical = "/admin/outbox/" + strconv.FormatInt(e.ID, 10)
	p.Content = outboxEmailContent{Email: s.newOutboxEmail(e)}
	w.Header().Set("X-Robots-Tag", "noindex")
	s.render(w, r, http.StatusOK, "outbox_email", "", p)
}

// outboxEmailHTML serves an email's HTML body as it is, for the sandboxed
// frame of the email page. The page's own policy would block the email's
// inline styles (and an iframe srcdoc inherits it), so the body is a
// document of its own with a policy that allows exactly what email HTML
// needs.
func (s *Server) outboxEmailHTML(w http.ResponseWriter, r *http.Request) {
	e, ok := s.outboxLookup(w, r)
	if !ok {
		return
	}
	if e.HTML == "" {
		s.pageNotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", emailHTMLPolicy)
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Robots-Tag", "noindex")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(e.HTML)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write([]byte(e.HTML))
	}
}
