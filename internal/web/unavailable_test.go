package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/db/dbtest/faultproxy"
)

// TestDatabaseGoesAway: while the database is out of reach a request
// that needs it is answered 503 service_unavailable with Retry-After and
// writes nothing, readiness says not ready; once the database is back
// both recover without anyone restarting anything.
func TestDatabaseGoesAway(t *testing.T) {
	t.Parallel()
	direct := dbtest.DSN(t, db.Postgres)
	via, proxy := faultproxy.DSN(t, direct)
	ctx := context.Background()
	d, err := db.Open(ctx, via, db.Options{MaxReaders: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, d)
	check, err := db.Open(ctx, direct, db.Options{MaxReaders: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { check.Close() })
	carts := func() int {
		var n int
		if err := check.Reader().QueryRowContext(ctx, "SELECT count(*) FROM carts").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if r := get(t, s, "/readyz"); r.status != 200 {
		t.Fatalf("readyz before: %d %s", r.status, r.body)
	}
	before := carts()

	proxy.Cut()
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/markets/us/carts", strings.NewReader("{}")))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" ||
		!strings.Contains(rec.Body.String(), `"service_unavailable"`) {
		t.Errorf("create a cart without the database: %d Retry-After %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if r := get(t, s, "/readyz"); r.status != 503 {
		t.Errorf("readyz without the database: %d %s", r.status, r.body)
	}
	if n := carts(); n != before {
		t.Errorf("%d carts after a refused request, want %d", n, before)
	}

	proxy.Restore()
	deadline := time.Now().Add(10 * time.Second)
	for get(t, s, "/readyz").status != 200 {
		if time.Now().After(deadline) {
			t.Fatal("not ready again 10s after the database came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/markets/us/carts", strings.NewReader("{}")))
	if rec.Code != http.StatusCreated && rec.Code != http.StatusOK {
		t.Errorf("create a cart after the database came back: %d %s", rec.Code, rec.Body)
	}
}
