package idempotency_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"mistore/internal/clocktest"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/idempotency"
)

func newClock() *clocktest.Clock {
	return clocktest.New(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
}

func begin(t *testing.T, s *idempotency.Store, scope, key, fp string) (idempotency.Outcome, error) {
	t.Helper()
	return s.Begin(context.Background(), scope, key, fp)
}

func mustProceed(t *testing.T, s *idempotency.Store, scope, key, fp string) {
	t.Helper()
	out, err := begin(t, s, scope, key, fp)
	if err != nil || !out.Proceed {
		t.Fatalf("Begin(%s, %s) = %+v, %v; want Proceed", scope, key, out, err)
	}
}

func countKeys(t *testing.T, d *db.DB) int {
	t.Helper()
	var n int
	if err := d.Read.QueryRow("SELECT count(*) FROM idempotency_keys").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCheckKey(t *testing.T) {
	good := []string{"a", "550e8400-e29b-41d4-a716-446655440000", strings.Repeat("k", 255), "with space", "~!@#$%^&*()"}
	for _, k := range good {
		if err := idempotency.CheckKey(k); err != nil {
			t.Errorf("CheckKey(%q) = %v", k, err)
		}
	}
	bad := []string{"", strings.Repeat("k", 256), strings.Repeat("k", 300), "tab\there", "new\nline", "nul\x00", "del\x7f", "café", "\x1b[31m"}
	for _, k := range bad {
		if err := idempotency.CheckKey(k); !errors.Is(err, idempotency.ErrInvalidKey) {
			t.Errorf("CheckKey(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
}

func TestFingerprint(t *testing.T) {
	base := idempotency.Fingerprint("POST", "/api/v1/carts", []byte(`{"a":1}`))
	if base != idempotency.Fingerprint("POST", "/api/v1/carts", []byte(`{"a":1}`)) {
		t.Fatal("fingerprint is not deterministic")
	}
	if len(base) != 64 {
		t.Errorf("fingerprint %q is not hex SHA-256", base)
	}
	differ := map[string]string{
		"method":        idempotency.Fingerprint("PUT", "/api/v1/carts", []byte(`{"a":1}`)),
		"path":          idempotency.Fingerprint("POST", "/api/v1/cart", []byte(`{"a":1}`)),
		"query":         idempotency.Fingerprint("POST", "/api/v1/carts?x=1", []byte(`{"a":1}`)),
		"body":          idempotency.Fingerprint("POST", "/api/v1/carts", []byte(`{"a":2}`)),
		"whitespace":    idempotency.Fingerprint("POST", "/api/v1/carts", []byte(`{"a": 1}`)),
		"trailing \\n":  idempotency.Fingerprint("POST", "/api/v1/carts", []byte("{\"a\":1}\n")),
		"path and body": idempotency.Fingerprint("POST", "/api/v1/carts{", []byte(`"a":1}`)),
	}
	for what, fp := range differ {
		if fp == base {
			t.Errorf("a different %s gives the same fingerprint", what)
		}
	}
}

func TestStorable(t *testing.T) {
	for status, want := range map[int]bool{
		200: true, 201: true, 202: true, 204: true,
		400: true, 401: true, 403: true, 404: true, 422: true,
		408: false, 409: false, 423: false, 425: false, 429: false,
		0: false, 101: false, 302: false, 500: false, 502: false, 503: false,
	} {
		if got := idempotency.Storable(status); got != want {
			t.Errorf("Storable(%d) = %v, want %v", status, got, want)
		}
	}
}

func TestBeginFinishReplay(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := idempotency.NewStore(d, newClock().Now)
		const scope, key, fp = "auth:abc", "key-1", "fp-1"

		mustProceed(t, s, scope, key, fp)
		// While it runs: the same request waits, a different one is refused.
		if _, err := begin(t, s, scope, key, fp); !errors.Is(err, idempotency.ErrInProgress) {
			t.Errorf("duplicate while running: %v, want ErrInProgress", err)
		}
		if _, err := begin(t, s, scope, key, "fp-2"); !errors.Is(err, idempotency.ErrKeyReused) {
			t.Errorf("other request while running: %v, want ErrKeyReused", err)
		}

		body := []byte(`{"id":"c_1","note":"naïve 🛒"}` + "\n")
		if err := s.Finish(ctx, scope, key, 201, "application/json; charset=utf-8", body); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			out, err := begin(t, s, scope, key, fp)
			if err != nil || out.Proceed {
				t.Fatalf("replay: %+v, %v", out, err)
			}
			if out.Replay.Status != 201 || out.Replay.ContentType != "application/json; charset=utf-8" || string(out.Replay.Body) != string(body) {
				t.Errorf("replay %d %q %q", out.Replay.Status, out.Replay.ContentType, out.Replay.Body)
			}
		}
		if _, err := begin(t, s, scope, key, "fp-2"); !errors.Is(err, idempotency.ErrKeyReused) {
			t.Errorf("other request after answer: %v, want ErrKeyReused", err)
		}
		// A stored answer is not released by Abandon, nor finished twice.
		if err := s.Abandon(ctx, scope, key); err != nil {
			t.Fatal(err)
		}
		if out, err := begin(t, s, scope, key, fp); err != nil || out.Proceed {
			t.Errorf("after Abandon of a done key: %+v, %v; want the replay", out, err)
		}
		if err := s.Finish(ctx, scope, key, 200, "text/plain", nil); err == nil {
			t.Error("Finish of a done key succeeded")
		}

		// Keys are per scope: the same key elsewhere is a new request.
		mustProceed(t, s, "auth:other", key, "fp-2")
		mustProceed(t, s, "anon:/api/v1/markets/us/carts", key, fp)
		if _, err := begin(t, s, scope, "", fp); !errors.Is(err, idempotency.ErrInvalidKey) {
			t.Errorf("empty key: %v", err)
		}
		if n := countKeys(t, d); n != 3 {
			t.Errorf("%d keys stored, want 3", n)
		}
	})
}

func TestFinishRefusesWhatCannotBeReplayed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := idempotency.NewStore(d, nil)
		mustProceed(t, s, "s", "k", "fp")
		for _, tt := range []struct {
			status int
			body   []byte
		}{
			{500, []byte(`{}`)},
			{409, []byte(`{}`)},
			{201, []byte("\xff\xfe not text")},
			{201, []byte("nul\x00")},
			{201, make([]byte, idempotency.MaxBody+1)},
		} {
			if err := s.Finish(ctx, "s", "k", tt.status, "application/json", tt.body); err == nil {
				t.Errorf("Finish(%d, %.20q) succeeded", tt.status, tt.body)
			}
		}
		// None of those touched the key: it is still running.
		if _, err := begin(t, s, "s", "k", "fp"); !errors.Is(err, idempotency.ErrInProgress) {
			t.Errorf("after refused Finish: %v, want ErrInProgress", err)
		}
		if err := s.Finish(ctx, "s", "unknown", 201, "application/json", nil); err == nil {
			t.Error("Finish of a key never begun succeeded")
		}
		// An empty answer (a 204) is fine.
		if err := s.Finish(ctx, "s", "k", 204, "", nil); err != nil {
			t.Fatal(err)
		}
		out, err := begin(t, s, "s", "k", "fp")
		if err != nil || out.Replay.Status != 204 || len(out.Replay.Body) != 0 {
			t.Errorf("replay of 204: %+v, %v", out, err)
		}
	})
}

func TestAbandon(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := idempotency.NewStore(d, nil)
		mustProceed(t, s, "s", "k", "fp")
		if err := s.Abandon(ctx, "s", "k"); err != nil {
			t.Fatal(err)
		}
		// Released: the retry runs, even with another body, since nothing
		// was kept for the first.
		mustProceed(t, s, "s", "k", "fp-2")
		if err := s.Abandon(ctx, "s", "never-begun"); err != nil {
			t.Errorf("Abandon of an unknown key: %v", err)
		}
	})
}

func TestExpiry(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		c := newClock()
		s := idempotency.NewStore(d, c.Now)

		mustProceed(t, s, "s", "done", "fp")
		if err := s.Finish(ctx, "s", "done", 201, "application/json", []byte(`{"n":1}`)); err != nil {
			t.Fatal(err)
		}
		mustProceed(t, s, "s", "stuck", "fp") // its process "died": never finished

		c.Add(idempotency.TTL - time.Second)
		if out, err := begin(t, s, "s", "done", "fp"); err != nil || out.Proceed {
			t.Errorf("just before expiry: %+v, %v; want the replay", out, err)
		}
		if _, err := begin(t, s, "s", "stuck", "fp"); !errors.Is(err, idempotency.ErrInterrupted) {
			t.Errorf("stuck key before expiry: %v, want ErrInterrupted", err)
		}
		if n, err := s.Sweep(ctx); err != nil || n != 0 {
			t.Errorf("Sweep before expiry = %d, %v", n, err)
		}

		c.Add(time.Second)
		// Expired keys are taken over, whatever request they were for.
		mustProceed(t, s, "s", "done", "another-fp")
		mustProceed(t, s, "s", "stuck", "fp")
		if _, err := begin(t, s, "s", "done", "another-fp"); !errors.Is(err, idempotency.ErrInProgress) {
			t.Errorf("taken-over key: %v, want ErrInProgress", err)
		}

		mustProceed(t, s, "s", "fresh", "fp")
		c.Add(idempotency.TTL)
		if n, err := s.Sweep(ctx); err != nil || n != 3 {
			t.Errorf("Sweep = %d, %v; want 3", n, err)
		}
		if n := countKeys(t, d); n != 0 {
			t.Errorf("%d keys left after Sweep", n)
		}
	})
}

// TestInterrupted: a key whose request never finished is "in progress"
// for as long as a request could run, then "interrupted" until it
// expires; a request that was only slow still stores its answer.
func TestInterrupted(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		c := newClock()
		s := idempotency.NewStore(d, c.Now)
		mustProceed(t, s, "s", "k", "fp")
		mustProceed(t, s, "s", "slow", "fp")
		c.Add(idempotency.InterruptedAfter - time.Second)
		if _, err := begin(t, s, "s", "k", "fp"); !errors.Is(err, idempotency.ErrInProgress) {
			t.Fatalf("a second before: %v, want ErrInProgress", err)
		}
		c.Add(time.Second)
		if _, err := begin(t, s, "s", "k", "fp"); !errors.Is(err, idempotency.ErrInterrupted) {
			t.Fatalf("at InterruptedAfter: %v, want ErrInterrupted", err)
		}
		if _, err := s.Lookup(ctx, "s", "k", "fp"); !errors.Is(err, idempotency.ErrInterrupted) {
			t.Fatalf("Lookup: %v, want ErrInterrupted", err)
		}
		// A different request with the key is still told it reused it.
		if _, err := begin(t, s, "s", "k", "other"); !errors.Is(err, idempotency.ErrKeyReused) {
			t.Fatalf("another request: %v, want ErrKeyReused", err)
		}
		if err := s.Finish(ctx, "s", "slow", 201, "application/json", []byte(`{"late":true}`)); err != nil {
			t.Fatal(err)
		}
		if out, err := begin(t, s, "s", "slow", "fp"); err != nil || string(out.Replay.Body) != `{"late":true}` {
			t.Fatalf("a slow request's answer: %+v, %v", out, err)
		}
	})
}

// TestConcurrentBegin: however many requests race for one key, exactly one
// runs; once it has answered, all of them replay that answer.
func TestConcurrentBegin(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := idempotency.NewStore(d, nil)
		const n = 20
		race := func() (proceed, inProgress, replay int) {
			var (
				mu    sync.Mutex
				wg    sync.WaitGroup
				start = make(chan struct{})
			)
			for range n {
				wg.Go(func() {
					<-start
					out, err := s.Begin(ctx, "s", "k", "fp")
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil && out.Proceed:
						proceed++
					case err == nil:
						replay++
					case errors.Is(err, idempotency.ErrInProgress):
						inProgress++
					default:
						t.Errorf("Begin: %v", err)
					}
				})
			}
			close(start)
			wg.Wait()
			return
		}
		if p, ip, r := race(); p != 1 || ip != n-1 || r != 0 {
			t.Fatalf("%d proceeded, %d in progress, %d replayed; want 1, %d, 0", p, ip, r, n-1)
		}
		if err := s.Finish(ctx, "s", "k", 201, "application/json", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		if p, ip, r := race(); p != 0 || ip != 0 || r != n {
			t.Fatalf("after Finish: %d proceeded, %d in progress, %d replayed; want 0, 0, %d", p, ip, r, n)
		}
	})
}

// TestClaimCommitsWithTheChange: a claim made in the transaction of the
// change it guards commits and rolls back with it, and of many requests
// racing with one key exactly one makes its change.
func TestClaimCommitsWithTheChange(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := idempotency.NewStore(d, nil)
		errChange := errors.New("the change failed")
		// A change that fails takes its claim with it: the key is free.
		err := d.Tx(ctx, func(tx db.Querier) error {
			if err := s.Claim(ctx, tx, "s", "k", "fp"); err != nil {
				return err
			}
			return errChange
		})
		if !errors.Is(err, errChange) {
			t.Fatalf("failed change: %v", err)
		}
		if _, err := s.Lookup(ctx, "s", "k", "fp"); !errors.Is(err, idempotency.ErrUnknownKey) {
			t.Fatalf("after a failed change: %v, want ErrUnknownKey", err)
		}

		// Many requests at once, each claiming in the transaction that
		// records its change (a row of its own in the same table).
		const n = 20
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			mu      sync.Mutex
			taken   int
			changes int
		)
		for i := range n {
			wg.Go(func() {
				<-start
				err := d.Tx(ctx, func(tx db.Querier) error {
					if err := s.Claim(ctx, tx, "s", "k", "fp"); err != nil {
						return err
					}
					_, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (scope, key, fingerprint, state, created_at, expires_at)
						VALUES ('change', $1, '', 'done', $2, $2)`, strings.Repeat("c", i+1), db.Now())
					return err
				})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					changes++
				case errors.Is(err, idempotency.ErrTaken):
					taken++
				default:
					t.Errorf("claim: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		var rows int
		d.Read.QueryRow("SELECT count(*) FROM idempotency_keys WHERE scope = 'change'").Scan(&rows)
		if changes != 1 || taken != n-1 || rows != 1 {
			t.Fatalf("%d changes (%d rows), %d taken; want 1 (1), %d", changes, rows, taken, n-1)
		}
		if _, err := s.Lookup(ctx, "s", "k", "fp"); !errors.Is(err, idempotency.ErrInProgress) {
			t.Errorf("while its request runs: %v, want ErrInProgress", err)
		}
		if _, err := s.Lookup(ctx, "s", "k", "other-fp"); !errors.Is(err, idempotency.ErrKeyReused) {
			t.Errorf("another request with the key: %v, want ErrKeyReused", err)
		}
		if err := s.Finish(ctx, "s", "k", 201, "application/json", []byte(`{"id":1}`)); err != nil {
			t.Fatal(err)
		}
		if out, err := s.Lookup(ctx, "s", "k", "fp"); err != nil || out.Replay.Status != 201 || string(out.Replay.Body) != `{"id":1}` {
			t.Errorf("replay: %+v, %v", out, err)
		}
	})
}

// TestRecord: the answer to a request that wrote nothing is kept unless
// another request holds the key, and an expired key is taken over.
func TestRecord(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		c := newClock()
		s := idempotency.NewStore(d, c.Now)
		if _, err := s.Lookup(ctx, "s", "k", "fp"); !errors.Is(err, idempotency.ErrUnknownKey) {
			t.Fatalf("unknown key: %v", err)
		}
		if err := s.Record(ctx, "s", "k", "fp", 500, "application/json", []byte(`{}`)); err == nil {
			t.Error("Record kept a 500")
		}
		if err := s.Record(ctx, "s", "k", "fp", 422, "application/json", []byte(`{"error":1}`)); err != nil {
			t.Fatal(err)
		}
		if err := s.Record(ctx, "s", "k", "fp", 201, "application/json", []byte(`{}`)); !errors.Is(err, idempotency.ErrTaken) {
			t.Errorf("second Record: %v, want ErrTaken", err)
		}
		out, err := s.Lookup(ctx, "s", "k", "fp")
		if err != nil || out.Replay.Status != 422 || string(out.Replay.Body) != `{"error":1}` {
			t.Errorf("replay: %+v, %v", out, err)
		}
		// A key claimed by a running request is not overwritten.
		mustProceed(t, s, "s", "running", "fp")
		if err := s.Record(ctx, "s", "running", "fp", 201, "", nil); !errors.Is(err, idempotency.ErrTaken) {
			t.Errorf("Record over a running key: %v, want ErrTaken", err)
		}
		c.Add(idempotency.TTL)
		if _, err := s.Lookup(ctx, "s", "k", "fp"); !errors.Is(err, idempotency.ErrUnknownKey) {
			t.Errorf("expired key: %v, want ErrUnknownKey", err)
		}
		if err := s.Record(ctx, "s", "k", "fp-2", 201, "application/json", []byte(`{"n":2}`)); err != nil {
			t.Fatalf("Record over an expired key: %v", err)
		}
		if out, err := s.Lookup(ctx, "s", "k", "fp-2"); err != nil || out.Replay.Status != 201 {
			t.Errorf("replay after take-over: %+v, %v", out, err)
		}
	})
}
