package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"mistore/internal/catalog"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/demo"
	"mistore/internal/flashsale"
	"mistore/internal/inventory"
	"mistore/internal/money"
)

// newFlashServer is a demo store's surface, for handler tests that need
// to hand the flash-sale answers an outcome the service gives only under
// load.
func newFlashServer(t *testing.T) *Server {
	t.Helper()
	d := dbtest.Open(t, db.SQLite)
	c := catalog.NewService(d, inventory.NewService(d), catalog.Options{})
	if _, err := demo.Seed(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	s, err := New(Deps{DB: d, Catalog: c, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestOverloadedClaimAnswer: a claim shed under overload is a 503
// overloaded, with Retry-After in whole seconds rounded up and the exact
// wait in Retry-After-Ms and retry_after_ms.
func TestOverloadedClaimAnswer(t *testing.T) {
	t.Parallel()
	s := newFlashServer(t)
	for _, tc := range []struct {
		wait     time.Duration
		secs, ms string
	}{
		{1500 * time.Millisecond, "2", "1500"},
		{200 * time.Millisecond, "1", "200"},
		{2 * time.Second, "2", "2000"},
		{0, "1", "1"},
	} {
		rec := httptest.NewRecorder()
		err := fmt.Errorf("claim sale 1: %w", &flashsale.BusyError{RetryAfter: tc.wait})
		s.apiFail(rec, httptest.NewRequest("POST", "/api/v1/flash-sales/1/claims", nil), err)
		var body struct {
			Error struct {
				Code         string `json:"code"`
				Message      string `json:"message"`
				RetryAfterMs int64  `json:"retry_after_ms"`
			} `json:"error"`
		}
		json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != 503 || body.Error.Code != "overloaded" || fmt.Sprint(body.Error.RetryAfterMs) != tc.ms || body.Error.Message == "" {
			t.Errorf("wait %v: %d %s", tc.wait, rec.Code, rec.Body)
		}
		if got := rec.Header().Get("Retry-After"); got != tc.secs {
			t.Errorf("wait %v: Retry-After %q, want %q", tc.wait, got, tc.secs)
		}
		if got := rec.Header().Get("Retry-After-Ms"); got != tc.ms {
			t.Errorf("wait %v: Retry-After-Ms %q, want %q", tc.wait, got, tc.ms)
		}
	}
	// Every other outcome has its code and status.
	for err, want := range map[error]string{
		flashsale.ErrSoldOut: "409 sold_out", flashsale.ErrNotStarted: "409 not_started", flashsale.ErrEnded: "409 ended",
		flashsale.ErrPaused: "409 paused", flashsale.ErrNotRegistered: "403 not_registered", flashsale.ErrLimitReached: "429 limit_reached",
		flashsale.ErrRegistrationClosed: "409 registration_closed", flashsale.ErrClaimExpired: "409 claim_expired",
		flashsale.ErrState: "409 invalid_state", flashsale.ErrNotFound: "404 not_found",
	} {
		status, body := classify(fmt.Errorf("wrapped: %w", err))
		if got := fmt.Sprintf("%d %s", status, body.Code); got != want {
			t.Errorf("%v: %s, want %s", err, got, want)
		}
	}
}

// TestOverloadedClaimPage: under overload the storefront shows the sale
// page with the queue message and a refresh that retries the claim, never
// an error page; the retry's ticket is good for that customer only, and
// not for long.
func TestOverloadedClaimPage(t *testing.T) {
	t.Parallel()
	s := newFlashServer(t)
	now := s.catalog.Now()
	sale := &flashsale.Sale{ID: 42, Market: "us", SKU: "MCAB-C1M", Title: "Cable drop", Name: "Cable", Price: money.New(99, "USD"),
		Quantity: 10, PerCustomerLimit: 2, StartsAt: now.Add(-time.Minute), EndsAt: now.Add(time.Hour), Claimed: 10}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/us/flash-sales/42/claim", nil)
	s.claimAnswer(rec, req, sale, 7, 2, nil, &flashsale.BusyError{RetryAfter: 1200 * time.Millisecond})
	body := rec.Body.String()
	if rec.Code != 200 {
		t.Fatalf("queue page: %d", rec.Code)
	}
	for _, want := range []string{
		"Lots of people are claiming right now — you are in the queue; this page retries in 2 seconds",
		`<meta http-equiv="refresh" content="2; url=/us/flash-sales/42/claim?ticket=`,
		"Cable drop", "Ends in",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("queue page lacks %q", want)
		}
	}
	refresh := rec.Header().Get("Refresh")
	_, target, ok := strings.Cut(refresh, "; url=")
	if !strings.HasPrefix(refresh, "2; url=/us/flash-sales/42/claim?ticket=") || !ok {
		t.Fatalf("Refresh %q", refresh)
	}
	u, _ := url.Parse(target)
	ticket := u.Query().Get("ticket")
	ctx := context.Background()
	if qty, ok := s.checkQueueTicket(ctx, ticket, 42, 7, now); !ok || qty != 2 {
		t.Errorf("the ticket does not hold: %d %v", qty, ok)
	}
	if _, ok := s.checkQueueTicket(ctx, ticket, 42, 8, now); ok {
		t.Error("another customer's ticket holds")
	}
	if _, ok := s.checkQueueTicket(ctx, ticket, 43, 7, now); ok {
		t.Error("the ticket holds for another sale")
	}
	if _, ok := s.checkQueueTicket(ctx, ticket, 42, 7, now.Add(queueTicketTTL+time.Second)); ok {
		t.Error("an old ticket holds")
	}
	if _, ok := s.checkQueueTicket(ctx, strings.Replace(ticket, ".2.", ".9.", 1), 42, 7, now); ok {
		t.Error("a ticket with another quantity holds")
	}

	// A claim that timed out waiting is a queue too; a store failure is
	// the error page it is.
	rec = httptest.NewRecorder()
	s.claimAnswer(rec, req, sale, 7, 1, nil, fmt.Errorf("claim: %w", context.DeadlineExceeded))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "you are in the queue") {
		t.Errorf("timed-out claim: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	s.claimAnswer(rec, req, sale, 7, 1, nil, flashsale.ErrSoldOut)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/us/flash-sales/42" {
		t.Errorf("sold out: %d %v", rec.Code, rec.Header())
	}
}
