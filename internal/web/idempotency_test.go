package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/idempotency"
	"mistore/internal/web"
)

// idemPost sends a POST with body and header pairs to h.
func idemPost(t testing.TB, h http.Handler, path, body string, hdr ...string) response {
	t.Helper()
	return idemPostCtx(t, context.Background(), h, path, body, hdr...)
}

func idemPostCtx(t testing.TB, ctx context.Context, h http.Handler, path, body string, hdr ...string) response {
	t.Helper()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Result().Header, body: rec.Body.String()}
}

// idemErrorOf decodes an API error answer, which must carry a message.
func idemErrorOf(t testing.TB, r response) (code, field string) {
	t.Helper()
	code, field, msg := apiErrorOf(t, r)
	if msg == "" {
		t.Errorf("error without a message: %s", r.body)
	}
	return code, field
}

// idemModes are the two ways the middleware claims a key: before the
// handler runs, and in the handler's first write transaction.
var idemModes = []struct {
	name      string
	claimInTx bool
}{{"claim first", false}, {"claim in tx", true}}

// eachIdemMode runs fn on both engines in both idemModes, with a store
// whose database has the idem_things table idemWrite writes to.
func eachIdemMode(t *testing.T, fn func(t *testing.T, d *db.DB, s *web.Server, claimInTx bool)) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		if _, err := d.Exec(context.Background(), "CREATE TABLE idem_things (id INTEGER)"); err != nil {
			t.Fatal(err)
		}
		s := newStore(t, d)
		for _, m := range idemModes {
			// Each mode starts with no keys.
			if _, err := d.Exec(context.Background(), "DELETE FROM idempotency_keys"); err != nil {
				t.Fatal(err)
			}
			t.Run(m.name, func(t *testing.T) { fn(t, d, s, m.claimInTx) })
		}
	})
}

// idemWrite is a handler's change: a row in idem_things, written on the
// request's context as every handler's writes are. With the key claimed
// in the transaction, it fails when an earlier request holds the key.
func idemWrite(r *http.Request, d *db.DB) error {
	_, err := d.Exec(r.Context(), "INSERT INTO idem_things (id) VALUES (1)")
	return err
}

// idemCreator is a fake creating handler: it makes its change (when it has
// a database), counts the runs that made it and answers 201 with its run
// number and the body it read, so a replay is recognisable.
type idemCreator struct {
	d     *db.DB
	runs  atomic.Int32
	delay time.Duration
}

func (c *idemCreator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	time.Sleep(c.delay)
	if c.d != nil {
		if err := idemWrite(r, c.d); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	n := c.runs.Add(1)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Location", fmt.Sprintf("/things/%d", n))
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{"run": n, "got": string(body)})
}

func TestIdempotencyReplay(t *testing.T) {
	t.Parallel()
	eachIdemMode(t, func(t *testing.T, d *db.DB, s *web.Server, claimInTx bool) {
		c := &idemCreator{d: d}
		h := s.IdempotentForTest(c.ServeHTTP, claimInTx)
		const path, body = "/api/v1/markets/us/things", `{"sku":"BAND-8","quantity":1}`

		first := idemPost(t, h, path, body, "Idempotency-Key", "k1")
		if first.status != 201 || first.header.Get("Idempotency-Replayed") != "" {
			t.Fatalf("first: %d %v %s", first.status, first.header, first.body)
		}
		if want := `{"got":"{\"sku\":\"BAND-8\",\"quantity\":1}","run":1}` + "\n"; first.body != want {
			t.Errorf("the handler did not read the whole body: %s", first.body)
		}
		again := idemPost(t, h, path, body, "Idempotency-Key", "k1")
		if again.status != first.status || again.body != first.body ||
			again.header.Get("Content-Type") != first.header.Get("Content-Type") ||
			again.header.Get("Idempotency-Replayed") != "true" {
			t.Errorf("replay: %d %v %s\nfirst: %d %v %s", again.status, again.header, again.body, first.status, first.header, first.body)
		}

		// The same bytes only: different JSON for the same object is a
		// different request.
		for _, other := range []string{`{"sku":"BAND-8","quantity":2}`, `{"quantity":1,"sku":"BAND-8"}`, body + "\n", ""} {
			r := idemPost(t, h, path, other, "Idempotency-Key", "k1")
			if code, field := idemErrorOf(t, r); r.status != 422 || code != "idempotency_key_reused" || field != "Idempotency-Key" {
				t.Errorf("other body %q: %d %s", other, r.status, r.body)
			}
		}
		if r := idemPost(t, h, path+"?x=1", body, "Idempotency-Key", "k1"); r.status != 422 {
			t.Errorf("other query: %d %s", r.status, r.body)
		}
		if n := c.runs.Load(); n != 1 {
			t.Fatalf("handler ran %d times, want 1", n)
		}

		// Without a key nothing is remembered.
		idemPost(t, h, path, body)
		idemPost(t, h, path, body)
		if n := c.runs.Load(); n != 3 {
			t.Errorf("handler ran %d times, want 3", n)
		}
	})
}

func TestIdempotencyScopes(t *testing.T) {
	t.Parallel()
	eachIdemMode(t, func(t *testing.T, d *db.DB, s *web.Server, claimInTx bool) {
		c := &idemCreator{d: d}
		h := s.IdempotentForTest(c.ServeHTTP, claimInTx)
		const path, body, key = "/api/v1/things", `{}`, "shared-key"
		callers := [][]string{
			{"Idempotency-Key", key, "Authorization", "Bearer alice"},
			{"Idempotency-Key", key, "Authorization", "Bearer bob"},
			{"Idempotency-Key", key, "X-Cart-Token", "cart-token-1"},
			{"Idempotency-Key", key, "X-Cart-Token", "cart-token-2"},
			{"Idempotency-Key", key}, // anonymous
		}
		runs := map[string]bool{}
		for _, hdr := range callers {
			r := idemPost(t, h, path, body, hdr...)
			if r.status != 201 || r.header.Get("Idempotency-Replayed") != "" {
				t.Errorf("%v: %d replayed=%q %s", hdr, r.status, r.header.Get("Idempotency-Replayed"), r.body)
			}
			runs[r.body] = true
		}
		if n := c.runs.Load(); n != int32(len(callers)) || len(runs) != len(callers) {
			t.Fatalf("handler ran %d times for %d callers", n, len(callers))
		}
		// Each caller's key replays its own answer, never another's.
		for i, hdr := range callers {
			r := idemPost(t, h, path, body, hdr...)
			if r.header.Get("Idempotency-Replayed") != "true" || !strings.Contains(r.body, fmt.Sprintf(`"run":%d`, i+1)) {
				t.Errorf("%v: replayed=%q %s, want run %d", hdr, r.header.Get("Idempotency-Replayed"), r.body, i+1)
			}
		}
		// Authorization wins over a cart token; anonymous keys are per path.
		if r := idemPost(t, h, path, body, "Idempotency-Key", key, "Authorization", "Bearer alice", "X-Cart-Token", "cart-token-1"); !strings.Contains(r.body, `"run":1`) {
			t.Errorf("Authorization and cart token: %s, want alice's run 1", r.body)
		}
		if r := idemPost(t, h, "/api/v1/other-things", body, "Idempotency-Key", key); r.header.Get("Idempotency-Replayed") != "" {
			t.Errorf("anonymous key on another path was replayed: %s", r.body)
		}
	})
}

func TestIdempotencyConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	eachIdemMode(t, func(t *testing.T, d *db.DB, s *web.Server, claimInTx bool) {
		c := &idemCreator{d: d, delay: 200 * time.Millisecond}
		h := s.IdempotentForTest(c.ServeHTTP, claimInTx)
		const n = 10
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			answers [n]response
		)
		for i := range n {
			wg.Go(func() {
				<-start
				answers[i] = idemPost(t, h, "/api/v1/things", `{"x":1}`, "Idempotency-Key", "race", "Authorization", "Bearer alice")
			})
		}
		close(start)
		wg.Wait()
		if runs := c.runs.Load(); runs != 1 {
			t.Fatalf("handler ran %d times, want 1", runs)
		}
		var first response
		created, replayed, busy := 0, 0, 0
		for _, r := range answers {
			switch {
			case r.status == 201 && r.header.Get("Idempotency-Replayed") == "":
				created++
				first = r
			case r.status == 201:
				replayed++
			case r.status == 409:
				busy++
				if code, field := idemErrorOf(t, r); code != "idempotency_key_in_use" || field != "Idempotency-Key" || r.header.Get("Retry-After") != "1" {
					t.Errorf("409: %s %s Retry-After %q", code, field, r.header.Get("Retry-After"))
				}
			default:
				t.Errorf("unexpected answer %d %s", r.status, r.body)
			}
		}
		if created != 1 || replayed+busy != n-1 {
			t.Errorf("%d created, %d replayed, %d told to wait", created, replayed, busy)
		}
		for _, r := range answers {
			if r.status == 201 && r.body != first.body {
				t.Errorf("replay %s differs from %s", r.body, first.body)
			}
		}
		// Once the first has answered, a retry gets its answer.
		if r := idemPost(t, h, "/api/v1/things", `{"x":1}`, "Idempotency-Key", "race", "Authorization", "Bearer alice"); r.status != 201 || r.body != first.body || r.header.Get("Idempotency-Replayed") != "true" {
			t.Errorf("retry after the race: %d %s", r.status, r.body)
		}
	})
}

func TestIdempotencyReleasesKeyWithoutFinalAnswer(t *testing.T) {
	t.Parallel()
	eachIdemMode(t, func(t *testing.T, d *db.DB, s *web.Server, claimInTx bool) {
		var runs atomic.Int32
		// The handler makes its change and answers each run with the next
		// status in line.
		var statuses []int
		h := s.IdempotentForTest(func(w http.ResponseWriter, r *http.Request) {
			if err := idemWrite(r, d); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			n := runs.Add(1)
			status := statuses[n-1]
			if status == 0 {
				panic("handler bug")
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"run":%d}`, n)
		}, claimInTx)
		send := func(key string) response {
			t.Helper()
			return idemPost(t, h, "/api/v1/things", `{}`, "Idempotency-Key", key)
		}

		// 500, then 409 (out of stock, say), then a panic, then success:
		// each failure releases the key, so every retry runs.
		statuses = []int{500, 409, 0, 201}
		if r := send("k"); r.status != 500 {
			t.Fatalf("run 1: %d", r.status)
		}
		if r := send("k"); r.status != 409 || r.header.Get("Idempotency-Replayed") != "" {
			t.Fatalf("run 2: %d %v", r.status, r.header)
		}
		func() {
			defer func() {
				if v := recover(); v != "handler bug" {
					t.Errorf("panic %v was not passed on", v)
				}
			}()
			send("k")
			t.Error("no panic")
		}()
		if r := send("k"); r.status != 201 || r.body != `{"run":4}` {
			t.Fatalf("run 4: %d %s", r.status, r.body)
		}
		if r := send("k"); r.status != 201 || r.body != `{"run":4}` || r.header.Get("Idempotency-Replayed") != "true" {
			t.Errorf("after success: %d %s", r.status, r.body)
		}

		// A final 4xx, such as 422 not_sold_in_market, is kept like a 2xx.
		statuses = append(statuses, 422)
		if r := send("k2"); r.status != 422 {
			t.Fatalf("run 5: %d", r.status)
		}
		if r := send("k2"); r.status != 422 || r.body != `{"run":5}` || r.header.Get("Idempotency-Replayed") != "true" {
			t.Errorf("422 replay: %d %s", r.status, r.body)
		}
		if n := runs.Load(); n != 5 {
			t.Errorf("handler ran %d times, want 5", n)
		}
	})
}

// TestIdempotencyKeepsAnswerOfGoneClient: a client that hangs up after
// its change was made must still find the answer when it retries.
func TestIdempotencyKeepsAnswerOfGoneClient(t *testing.T) {
	t.Parallel()
	eachIdemMode(t, func(t *testing.T, d *db.DB, s *web.Server, claimInTx bool) {
		ctx, cancel := context.WithCancel(context.Background())
		var runs atomic.Int32
		h := s.IdempotentForTest(func(w http.ResponseWriter, r *http.Request) {
			if err := idemWrite(r, d); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			runs.Add(1)
			cancel() // the client goes away after the change committed
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, "created")
		}, claimInTx)
		if r := idemPostCtx(t, ctx, h, "/api/v1/things", `{}`, "Idempotency-Key", "k"); r.status != 201 {
			t.Fatalf("first: %d", r.status)
		}
		if r := idemPost(t, h, "/api/v1/things", `{}`, "Idempotency-Key", "k"); r.status != 201 || r.body != "created" || r.header.Get("Idempotency-Replayed") != "true" {
			t.Errorf("retry: %d %q %v", r.status, r.body, r.header)
		}
		if n := runs.Load(); n != 1 {
			t.Errorf("handler ran %d times", n)
		}
	})
}

// TestIdempotencyOversizedAnswer: an answer too large to keep leaves the
// key locked rather than released, since the change it reports was made.
func TestIdempotencyOversizedAnswer(t *testing.T) {
	t.Parallel()
	eachIdemMode(t, func(t *testing.T, d *db.DB, s *web.Server, claimInTx bool) {
		var runs atomic.Int32
		big := strings.Repeat("x", idempotency.MaxBody+1)
		h := s.IdempotentForTest(func(w http.ResponseWriter, r *http.Request) {
			if err := idemWrite(r, d); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			runs.Add(1)
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, big[:10])
			io.WriteString(w, big[10:])
		}, claimInTx)
		if r := idemPost(t, h, "/api/v1/things", `{}`, "Idempotency-Key", "k"); r.status != 201 || len(r.body) != len(big) {
			t.Fatalf("first: %d, %d bytes", r.status, len(r.body))
		}
		if r := idemPost(t, h, "/api/v1/things", `{}`, "Idempotency-Key", "k"); r.status != 409 {
			t.Errorf("retry: %d, want 409", r.status)
		}
		if n := runs.Load(); n != 1 {
			t.Errorf("handler ran %d times", n)
		}
	})
}

func TestIdempotencyBadRequests(t *testing.T) {
	t.Parallel()
	d := dbtest.Open(t, db.SQLite)
	s := newStore(t, d)
	c := &idemCreator{}
	h := s.IdempotentForTest(c.ServeHTTP, false)
	for name, hdr := range map[string][]string{
		"empty":           {"Idempotency-Key", ""},
		"256 characters":  {"Idempotency-Key", strings.Repeat("k", 256)},
		"300 characters":  {"Idempotency-Key", strings.Repeat("k", 300)},
		"control char":    {"Idempotency-Key", "a\x01b"},
		"tab":             {"Idempotency-Key", "a\tb"},
		"DEL":             {"Idempotency-Key", "a\x7f"},
		"not ASCII":       {"Idempotency-Key", "clé"},
		"given twice":     {"Idempotency-Key", "a", "Idempotency-Key", "b"},
		"given twice, eq": {"Idempotency-Key", "a", "Idempotency-Key", "a"},
	} {
		r := idemPost(t, h, "/api/v1/things", `{}`, hdr...)
		if code, field := idemErrorOf(t, r); r.status != 400 || code != "invalid_parameter" || field != "Idempotency-Key" {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	if r := idemPost(t, h, "/api/v1/things", strings.Repeat(" ", idempotency.MaxBody+1), "Idempotency-Key", "k"); r.status != 413 {
		t.Errorf("body over 1 MB: %d %s", r.status, r.body)
	} else if code, _ := idemErrorOf(t, r); code != "request_too_large" {
		t.Errorf("body over 1 MB: %s", r.body)
	}
	if n := c.runs.Load(); n != 0 {
		t.Errorf("handler ran %d times on bad requests", n)
	}
	// 255 printable characters, spaces included, are a good key.
	if r := idemPost(t, h, "/api/v1/things", `{}`, "Idempotency-Key", strings.Repeat("k ~", 85)); r.status != 201 {
		t.Errorf("255-character key: %d %s", r.status, r.body)
	}
}

// TestIdempotencyOnEveryPOSTRoute: a POST route registered like any API
// route gets the middleware and the documented header; a GET gets neither.
func TestIdempotencyOnEveryPOSTRoute(t *testing.T) {
	t.Parallel()
	d := dbtest.Open(t, db.SQLite)
	s := newStore(t, d)
	postRoute, getRoute := &idemCreator{}, &idemCreator{}
	hp := s.APIRouteForTest("POST /api/v1/test/things", postRoute.ServeHTTP)
	hg := s.APIRouteForTest("GET /api/v1/test/others", getRoute.ServeHTTP)
	for range 2 {
		idemPost(t, hp, "/api/v1/test/things", `{}`, "Idempotency-Key", "k")
		get(t, hg, "/api/v1/test/others", "Idempotency-Key", "k")
	}
	if p, g := postRoute.runs.Load(), getRoute.runs.Load(); p != 1 || g != 2 {
		t.Errorf("POST ran %d times (want 1), GET %d (want 2)", p, g)
	}

	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	decode(t, get(t, s, "/api/v1/openapi.json"), &doc)
	posts := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			has := false
			for _, p := range op.Parameters {
				has = has || (p.Name == "Idempotency-Key" && p.In == "header")
			}
			if has != (method == "post") {
				t.Errorf("%s %s: Idempotency-Key documented: %v", method, path, has)
			}
			if method == "post" {
				posts++
			}
		}
	}
	if _, ok := doc.Paths["/api/v1/test/things"]["post"]; !ok || posts == 0 {
		t.Errorf("the test POST route is not documented")
	}
}

// TestIdempotencyClaimInTxWithoutWrites: a handler whose key is to be
// claimed in its first write, and that wrote nothing, claimed nothing. Its
// final answer is recorded and given to its retries, an answer that is
// not final is not, and a request holding the key comes first.
func TestIdempotencyClaimInTxWithoutWrites(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newStore(t, d)
		var runs, status atomic.Int32
		h := s.IdempotentForTest(func(w http.ResponseWriter, r *http.Request) {
			n := runs.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(int(status.Load()))
			fmt.Fprintf(w, `{"run":%d}`, n)
		}, true)
		const path, body = "/api/v1/things", `{"sku":"NOPE"}`
		status.Store(422)
		if r := idemPost(t, h, path, body, "Idempotency-Key", "k"); r.status != 422 || r.body != `{"run":1}` || r.header.Get("Idempotency-Replayed") != "" {
			t.Fatalf("first: %d %s %v", r.status, r.body, r.header)
		}
		// The retry runs, finds the answer kept and gives it instead of
		// its own, whatever its own would have been.
		status.Store(201)
		if r := idemPost(t, h, path, body, "Idempotency-Key", "k"); r.status != 422 || r.body != `{"run":1}` || r.header.Get("Idempotency-Replayed") != "true" {
			t.Errorf("retry: %d %s %v", r.status, r.body, r.header)
		}
		if r := idemPost(t, h, path, `{"sku":"OTHER"}`, "Idempotency-Key", "k"); r.status != 422 || !strings.Contains(r.body, "idempotency_key_reused") {
			t.Errorf("another body: %d %s", r.status, r.body)
		}

		// "Not now" is not kept: each retry gets its own answer.
		status.Store(409)
		for want := 4; want <= 5; want++ {
			if r := idemPost(t, h, path, body, "Idempotency-Key", "k2"); r.status != 409 || r.body != fmt.Sprintf(`{"run":%d}`, want) {
				t.Errorf("409 run %d: %d %s", want, r.status, r.body)
			}
		}

		// A request that holds the key (running, in another instance say)
		// comes first: the answer is to wait, final or not.
		keys := idempotency.NewStore(d, nil)
		if out, err := keys.Begin(context.Background(), "anon:"+path+"@192.0.2.1", "k3", idempotency.Fingerprint("POST", path, []byte(body))); err != nil || !out.Proceed {
			t.Fatalf("Begin: %+v %v", out, err)
		}
		for _, st := range []int32{201, 429} {
			status.Store(st)
			if r := idemPost(t, h, path, body, "Idempotency-Key", "k3"); r.status != 409 || !strings.Contains(r.body, "idempotency_key_in_use") {
				t.Errorf("answer %d while the key is held: %d %s", st, r.status, r.body)
			}
		}
	})
}
