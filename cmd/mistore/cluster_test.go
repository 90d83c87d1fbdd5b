package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mistore/internal/db"
	"mistore/internal/db/pgtest"
	"mistore/internal/loadtest"
)

// The multi-instance harness (issue 8): three serve processes on loopback
// ports share one PostgreSQL server that the test owns, so that it can
// SIGTERM an instance or kill -9 the database in the middle of the load.
// The instances are this test binary acting as the mistore command (see
// TestMain), so they run the same code, race detector included, without a
// second build.

const (
	// clusterSize is how many instances share the database.
	clusterSize = 3
	// instanceStart bounds an instance's start: migrating and seeding a
	// new database under the race detector on a busy 2-core machine.
	instanceStart = 90 * time.Second
	// faultWait bounds how long the harness waits for an instance to
	// notice a fault or to recover from it.
	faultWait = 60 * time.Second
	// clusterSKU is what the harness's own shoppers buy, one unit an
	// order; its stock is raised so that it never runs out.
	clusterSKU = "MB8-BLK"
	// checkoutRetry is how long a shopper retries a checkout with its
	// Idempotency-Key: longer than the database is down in the crash
	// scenario, so that most cut-off checkouts learn their outcome.
	checkoutRetry = 6 * time.Second
	// shopperEmail marks the harness shoppers' orders.
	shopperEmail = "cluster-shopper@example.com"
)

// instance is one serve process of the cluster.
type instance struct {
	n    int
	addr string
	base string
	dsn  string

	cmd    *exec.Cmd
	done   chan struct{} // closed once cmd has been waited for
	stderr *lockedBuffer
}

// start runs the instance's serve process and returns once it printed its
// banner, i.e. migrated, seeded and listens.
func (in *instance) start() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{"serve", "--addr", in.addr, "--db", in.dsn, "--demo=true", "--log-level", "warn", "--shutdown-timeout", "20s"}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "MISTORE_CHILD_ARGS="+strings.Join(args, "\x1f"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if in.stderr == nil {
		in.stderr = &lockedBuffer{}
	}
	fmt.Fprintf(in.stderr, "--- start %s\n", time.Now().Format(time.RFC3339Nano))
	cmd.Stderr = in.stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start instance %d: %w", in.n, err)
	}
	done := make(chan struct{})
	banner := make(chan error, 1)
	go func() {
		r := bufio.NewReader(out)
		_, err := r.ReadString('\n')
		banner <- err
		io.Copy(io.Discard, r)
		cmd.Wait()
		close(done)
	}()
	in.cmd, in.done = cmd, done
	select {
	case err := <-banner:
		if err != nil {
			return fmt.Errorf("instance %d did not start: %w\n%s", in.n, err, in.stderr)
		}
	case <-time.After(instanceStart):
		in.kill()
		return fmt.Errorf("instance %d printed no banner within %s\n%s", in.n, instanceStart, in.stderr)
	}
	return nil
}

// kill ends the process at once, if it runs.
func (in *instance) kill() {
	if in.cmd == nil {
		return
	}
	in.cmd.Process.Signal(syscall.SIGKILL)
	<-in.done
}

// cluster is the instances and their database.
type cluster struct {
	pg        *pgtest.Server
	dsn       string
	instances []*instance
}

// bases returns the instances' base URLs.
func (c *cluster) bases() []string {
	var out []string
	for _, in := range c.instances {
		out = append(out, in.base)
	}
	return out
}

// startCluster starts the instances all at once on a new, empty database:
// one migrates and seeds while the others wait for it.
func startCluster(t *testing.T, pg *pgtest.Server, dsn string) *cluster {
	t.Helper()
	c := &cluster{pg: pg, dsn: dsn}
	for i := range clusterSize {
		addr := freeAddr(t)
		c.instances = append(c.instances, &instance{n: i + 1, addr: addr, base: "http://" + addr, dsn: dsn})
	}
	t.Cleanup(func() {
		for _, in := range c.instances {
			in.kill()
		}
		for _, in := range c.instances {
			if in.stderr == nil {
				continue
			}
			log := in.stderr.String()
			if strings.Contains(log, "WARNING: DATA RACE") {
				t.Errorf("instance %d found a data race:\n%s", in.n, log)
			} else if t.Failed() {
				t.Logf("instance %d stderr:\n%s", in.n, tail(log, 6000))
			}
		}
		if t.Failed() {
			t.Logf("postgres log:\n%s", pg.Log())
		}
	})
	errs := make(chan error, clusterSize)
	for _, in := range c.instances {
		go func() { errs <- in.start() }()
	}
	var failed error
	for range clusterSize {
		failed = errors.Join(failed, <-errs)
	}
	if failed != nil {
		t.Fatal(failed)
	}
	for _, in := range c.instances {
		waitReady(t, in, true)
	}
	return c
}

// readyz returns the status of the instance's readiness endpoint, 0 when
// it did not answer.
func readyz(base string) int {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(base + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitReady waits until the instance says it is ready (200), or not
// ready (503), and fails t after faultWait.
func waitReady(t *testing.T, in *instance, ready bool) {
	t.Helper()
	want := http.StatusOK
	if !ready {
		want = http.StatusServiceUnavailable
	}
	deadline := time.Now().Add(faultWait)
	last := 0
	for time.Now().Before(deadline) {
		if last = readyz(in.base); last == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("instance %d: /readyz answered %d for %s, want %d", in.n, last, faultWait, want)
}

// TestCluster runs three instances on one PostgreSQL server of its own and
// holds them to what issue 8 promises: shared stock, flash sales and
// sessions, a rolling restart that loses nothing, and recovery from a
// crash of the database.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("the multi-instance harness takes a minute; skipped with -short")
	}
	pg := pgtest.Start(t)
	dsn := pg.CreateDatabase(t, "mistore")
	c := startCluster(t, pg, dsn)
	d := openStockDB(t, dsn)
	checkSeededOnce(t, d)
	// The demo's few hundred units must not sell out during the run.
	if _, err := d.Write.Exec("UPDATE stock SET on_hand = 100000"); err != nil {
		t.Fatal(err)
	}

	t.Run("checkouts round-robin", func(t *testing.T) { clusterCheckout(t, c, d) })
	t.Run("flash sale round-robin", func(t *testing.T) { clusterFlashSale(t, c, d) })
	t.Run("session across instances", func(t *testing.T) { clusterSession(t, c) })
	t.Run("SIGTERM mid-load", func(t *testing.T) { clusterRollingRestart(t, c, d) })
	t.Run("database killed mid-load", func(t *testing.T) { clusterDatabaseCrash(t, c, d) })
	t.Run("catalog change seen by every instance", func(t *testing.T) { clusterCatalogChange(t, c) })
	checkStockInvariant(t, d)
	t.Run("pg_dump restores into a store that serves the same orders", func(t *testing.T) { clusterDumpRestore(t, c) })
}

// clusterDumpRestore follows docs/operations.md's PostgreSQL backup
// recipe: pg_dump of the running store, pg_restore into a new database,
// an instance on it; the restored store serves every order as the
// original does, through the admin API.
func clusterDumpRestore(t *testing.T, c *cluster) {
	dump := filepath.Join(t.TempDir(), "mistore.dump")
	if out, err := exec.Command(c.pg.Tool("pg_dump"), "--format=custom", "--file="+dump, c.dsn).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	restored := c.pg.CreateDatabase(t, "mistore_restored")
	if out, err := exec.Command(c.pg.Tool("pg_restore"), "--no-owner", "--dbname="+restored, dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	var out, errOut strings.Builder
	if code := run(t.Context(), []string{"apikey", "create", "--role", "viewer", "--name", "dump check", "--db", restored},
		func(string) string { return "" }, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("apikey create on the restored store: %s", errOut.String())
	}
	key := regexp.MustCompile(`msk_\S+`).FindString(out.String())
	addr := freeAddr(t)
	in := &instance{n: clusterSize + 1, addr: addr, base: "http://" + addr, dsn: restored}
	if err := in.start(); err != nil {
		t.Fatal(err)
	}
	defer in.kill()
	waitReady(t, in, true)

	restoredDB := openStockDB(t, restored)
	var numbers []string
	if err := db.EachRow(t.Context(), restoredDB.Reader(), "SELECT number FROM orders ORDER BY id", nil, func(rows *sql.Rows) error {
		var n string
		if err := rows.Scan(&n); err != nil {
			return err
		}
		numbers = append(numbers, n)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(numbers) == 0 {
		t.Fatal("the restored store has no orders to compare")
	}
	// The same key on the original store: the keys live in the database,
	// so one made on the restored copy is unknown to the original.
	out.Reset()
	if code := run(t.Context(), []string{"apikey", "create", "--role", "viewer", "--name", "dump check", "--db", c.dsn},
		func(string) string { return "" }, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("apikey create on the original store: %s", errOut.String())
	}
	originalKey := regexp.MustCompile(`msk_\S+`).FindString(out.String())
	get := func(base, key, number string) string {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", base+"/api/v1/admin/orders/"+number, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET order %s from %s: %d %s", number, base, resp.StatusCode, b)
		}
		return string(b)
	}
	differ := 0
	for _, n := range numbers {
		if a, b := get(c.instances[0].base, originalKey, n), get(in.base, key, n); a != b {
			differ++
			if differ <= 3 {
				t.Errorf("order %s differs after pg_dump/pg_restore:\noriginal %s\nrestored %s", n, a, b)
			}
		}
	}
	if differ > 0 {
		t.Errorf("%d of %d orders differ after pg_dump/pg_restore", differ, len(numbers))
	}
}

// checkSeededOnce checks that the three first starts seeded the demo once
// between them: one catalog, one demo flash sale.
func checkSeededOnce(t *testing.T, d *db.DB) {
	t.Helper()
	var products, sales int
	if err := d.Read.QueryRow("SELECT count(*) FROM products").Scan(&products); err != nil {
		t.Fatal(err)
	}
	if err := d.Read.QueryRow("SELECT count(*) FROM flash_sales").Scan(&sales); err != nil {
		t.Fatal(err)
	}
	if products != 25 || sales != 1 {
		t.Errorf("after three first starts at once: %d products, %d flash sales; want the demo's 25 and 1, seeded once", products, sales)
	}
}

// clusterCheckout buys round-robin across the instances with the load
// test's checkout scenario, whose stock check holds the database to what
// was bought.
func clusterCheckout(t *testing.T, c *cluster, d *db.DB) {
	r, err := loadtest.Run(t.Context(), loadtest.Options{
		Targets: c.bases(), Scenario: "checkout", Duration: 3 * time.Second, Workers: 6, StockDB: d,
	})
	if err != nil {
		t.Fatal(err)
	}
	co := r.Checkout
	t.Logf("%d placed, %d paid (%.1f/s) across %d instances, SKUs %q", co.Placed, co.Paid, co.PerSecond, len(c.instances), co.SKUs)
	if co.Placed == 0 || co.Paid != co.Placed || co.Unpaid != 0 || co.OutOfStock != 0 {
		t.Errorf("placed %d, paid %d, unpaid %d, out of stock %d: want every order placed paid", co.Placed, co.Paid, co.Unpaid, co.OutOfStock)
	}
	for _, k := range r.Kinds {
		if k.Errors != 0 || k.Non2xxTotal() != 0 {
			t.Errorf("%s: %d errors, unexpected statuses %v", k.Name, k.Errors, k.Non2xx)
		}
	}
	checkStockPassed(t, r)
	// Each payment's webhook is a job, run by whichever instance claimed
	// it: once.
	var twice int
	if err := d.Read.QueryRow(`SELECT count(*) FROM (SELECT order_id FROM payments WHERE kind = 'charge'
		GROUP BY order_id HAVING count(*) > 1) x`).Scan(&twice); err != nil {
		t.Fatal(err)
	}
	if twice != 0 {
		t.Errorf("%d orders charged more than once", twice)
	}
}

// clusterFlashSale fires a flash sale's crowd round-robin across the
// instances: exactly the sale's units are claimed, whichever instance
// decided each claim.
func clusterFlashSale(t *testing.T, c *cluster, d *db.DB) {
	const customers, units = 2000, 200
	r, err := loadtest.Run(t.Context(), loadtest.Options{
		Targets: c.bases(), Scenario: "flashsale", Duration: 60 * time.Second, Workers: 12,
		FlashSale: loadtest.FlashSaleOptions{DB: d, Customers: customers, Units: units, Lead: 2 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	f := r.FlashSale
	t.Logf("%d decided in %s (%.0f/s), outcomes %v, %d overloaded, %d not started, failed %d %v",
		f.Decided, f.Window, f.PerSecond, f.Outcomes, f.Overloaded, f.NotStarted, f.Failed, f.Unexpected)
	if f.Decided != customers || f.Claimed() != units || f.Outcomes["sold_out"] != customers-units {
		t.Errorf("decided %d, outcomes %v: want %d decided, %d claimed, the rest sold out", f.Decided, f.Outcomes, customers, units)
	}
	checkFlashSalePassed(t, r)
}

// clusterSession signs in on one instance, uses the session on another
// and signs out on the third: the session lives in the database.
func clusterSession(t *testing.T, c *cluster) {
	one, two, three := c.instances[0].base, c.instances[1].base, c.instances[2].base
	const email, password = "roaming@example.com", "correct horse battery"
	if st, b := call(t, "POST", one+"/api/v1/customers", `{"email":"`+email+`","password":"`+password+`","name":"Roaming Shopper"}`); st != 201 {
		t.Fatalf("register on instance 1: %d %v", st, b)
	}
	st, b := call(t, "POST", one+"/api/v1/sessions", `{"email":"`+email+`","password":"`+password+`"}`)
	token, _ := b["token"].(string)
	if st != 200 && st != 201 || token == "" {
		t.Fatalf("sign in on instance 1: %d %v", st, b)
	}
	st, me := call(t, "GET", two+"/api/v1/me", "", "Authorization", "Bearer "+token)
	if st != 200 || me["email"] != email {
		t.Fatalf("GET /api/v1/me on instance 2 with instance 1's token: %d %v", st, me)
	}
	if st, b := call(t, "DELETE", three+"/api/v1/sessions", "", "Authorization", "Bearer "+token); st != 204 {
		t.Fatalf("sign out on instance 3: %d %v", st, b)
	}
	for _, base := range []string{one, two} {
		if st, _ := call(t, "GET", base+"/api/v1/me", "", "Authorization", "Bearer "+token); st != 401 {
			t.Errorf("GET /api/v1/me on %s after signing out on instance 3: %d, want 401", base, st)
		}
	}
}

// outcome is what a harness shopper saw.
type outcome struct {
	mu sync.Mutex
	// placed holds the numbers of orders answered 2xx, with the instance
	// that answered.
	placed map[string]string
	// byTarget counts 2xx checkouts per instance since countFromNow.
	byTarget map[string]int
	// connErrors counts requests without an answer; retryable answers
	// that said to come back (503 or 409 with Retry-After).
	connErrors, retryable int
	// bad lists answers a client cannot act on: any other non-2xx.
	bad []string
	// cartsMayBeLost accepts a cart request's 404 not_found or 422
	// empty_cart, counted in emptyCarts: set where the database crashes.
	cartsMayBeLost bool
	emptyCarts     int
	// stuck lists the carts whose checkout was given up while the store
	// still answered 409 idempotency_key_in_use.
	stuck []string
}

func newOutcome() *outcome {
	return &outcome{placed: map[string]string{}, byTarget: map[string]int{}}
}

func (o *outcome) numbers() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for n := range o.placed {
		out = append(out, n)
	}
	return out
}

// countFromNow restarts the per-instance count of 2xx checkouts.
func (o *outcome) countFromNow() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.byTarget = map[string]int{}
}

func (o *outcome) placedFrom(base string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.byTarget[base]
}

func (o *outcome) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return fmt.Sprintf("%d orders placed, %d connection errors, %d retryable answers, %d carts lost, %d bad answers",
		len(o.placed), o.connErrors, o.retryable, o.emptyCarts, len(o.bad))
}

// checkNoBadAnswers fails t if the shoppers got answers that are neither
// success nor "try again", grouped by status and error code.
func (o *outcome) checkNoBadAnswers(t *testing.T) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.bad) == 0 {
		return
	}
	groups := map[string]int{}
	for _, b := range o.bad {
		groups[badKind.FindString(b)]++
	}
	t.Errorf("%d answers a client cannot retry (want only 2xx, connection errors, or 503 and 409 with Retry-After), by kind %v; the first: %s",
		len(o.bad), groups, o.bad[0])
}

// badKind picks the status and error code out of a bad answer.
var badKind = regexp.MustCompile(`: \d{3}( \{"error":\{"code":"[a-z_]+")?`)

// shopper buys one unit of clusterSKU at a time, round-robin across
// targets, until ctx ends. The checkout carries an Idempotency-Key, and a
// checkout without a final answer is retried with it on the next
// instance, as a client behind a load balancer would.
type shopper struct {
	client  *http.Client
	targets []string
	next    int
	out     *outcome
	id      int
	seq     int
}

var retryAfterCodes = regexp.MustCompile(`"code":\s*"(overloaded|idempotency_key_in_use|service_unavailable|unavailable)"`)

// do sends one request and classifies the answer: ok says 2xx; retry says
// the client may try again (no answer, or one with Retry-After).
func (s *shopper) do(ctx context.Context, method, u, body string, hdr ...string) (status int, m map[string]any, ok, retry bool) {
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			s.out.mu.Lock()
			s.out.connErrors++
			s.out.mu.Unlock()
		}
		return 0, nil, false, true
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		s.out.mu.Lock()
		s.out.connErrors++
		s.out.mu.Unlock()
		return resp.StatusCode, nil, false, true
	}
	json.Unmarshal(raw, &m)
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return resp.StatusCode, m, true, false
	}
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	if resp.Header.Get("Retry-After") != "" && (resp.StatusCode == 503 || resp.StatusCode == 409 && retryAfterCodes.Match(raw)) {
		s.out.retryable++
		return resp.StatusCode, m, false, true
	}
	if s.out.cartsMayBeLost && strings.Contains(u, "/api/v1/carts/") &&
		(resp.StatusCode == 422 && bytes.Contains(raw, []byte(`"code":"empty_cart"`)) ||
			resp.StatusCode == 404 && bytes.Contains(raw, []byte(`"code":"not_found"`))) {
		// Carts commit without waiting for the disk (db.TxRelaxed), so a
		// crash of the database may lose a cart or a line that was
		// answered 2xx: the next request says so, and the shopper starts
		// over.
		s.out.emptyCarts++
		return resp.StatusCode, m, false, false
	}
	s.out.bad = append(s.out.bad, fmt.Sprintf("%s %s: %d %s", method, u, resp.StatusCode, tail(string(raw), 300)))
	return resp.StatusCode, m, false, false
}

func (s *shopper) target() string {
	base := s.targets[s.next]
	s.next = (s.next + 1) % len(s.targets)
	return base
}

// run shops until ctx ends.
func (s *shopper) run(ctx context.Context) {
	for ctx.Err() == nil {
		if !s.buy(ctx) {
			// Whatever failed, do not spin while the store is down.
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// buy places one order and reports whether it did.
func (s *shopper) buy(ctx context.Context) bool {
	base := s.target()
	_, cart, ok, _ := s.do(ctx, "POST", base+"/api/v1/markets/us/carts", "")
	if !ok {
		return false
	}
	id, _ := cart["id"].(string)
	tok, _ := cart["token"].(string)
	if _, _, ok, _ := s.do(ctx, "POST", base+"/api/v1/carts/"+id+"/items", `{"sku":"`+clusterSKU+`","quantity":1}`, "X-Cart-Token", tok); !ok {
		return false
	}
	s.seq++
	key := fmt.Sprintf("cluster-%d-%d-%d", s.id, s.seq, time.Now().UnixNano())
	body := `{"email":"` + shopperEmail + `","shipping_address":{"name":"K","line1":"1 Main St","city":"Newark","region":"NJ","postal_code":"07102","country":"US"},"shipping_method":"standard"}`
	// The checkout is retried with its key for a while, on context of its
	// own: a client that gave up on the load still wants to know whether
	// it bought.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkoutRetry)
	defer cancel()
	lastStatus := 0
	for {
		status, o, ok, retry := s.do(rctx, "POST", base+"/api/v1/carts/"+id+"/checkout", body, "X-Cart-Token", tok, "Idempotency-Key", key)
		if status != 0 {
			lastStatus = status
		}
		if rctx.Err() != nil && lastStatus == http.StatusConflict {
			// Given up while the key was still "in use": its first
			// request never finished.
			s.out.mu.Lock()
			s.out.stuck = append(s.out.stuck, id)
			s.out.mu.Unlock()
			return false
		}
		if ok {
			number, _ := o["number"].(string)
			s.out.mu.Lock()
			defer s.out.mu.Unlock()
			if number == "" {
				s.out.bad = append(s.out.bad, fmt.Sprintf("checkout on %s answered 2xx without a number: %v", base, o))
				return false
			}
			s.out.placed[number] = base
			s.out.byTarget[base]++
			return true
		}
		if !retry || rctx.Err() != nil {
			return false
		}
		time.Sleep(100 * time.Millisecond)
		base = s.target()
	}
}

// load runs n shoppers across targets until the returned stop is called.
func load(targets []string, n int, cartsMayBeLost bool) (*outcome, func()) {
	out := newOutcome()
	out.cartsMayBeLost = cartsMayBeLost
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range n {
		s := &shopper{
			client:  &http.Client{Timeout: 20 * time.Second},
			targets: targets,
			next:    i % len(targets),
			out:     out,
			id:      i,
		}
		wg.Go(func() { s.run(ctx) })
	}
	return out, func() { cancel(); wg.Wait() }
}

// waitPlaced waits until the shoppers placed at least n orders more than
// they had.
func waitPlaced(t *testing.T, o *outcome, n int) {
	t.Helper()
	start := len(o.numbers())
	deadline := time.Now().Add(faultWait)
	for len(o.numbers()) < start+n {
		if time.Now().After(deadline) {
			t.Fatalf("shoppers placed %d orders in %s, want %d: %s", len(o.numbers())-start, faultWait, n, o)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkOrders holds the database to what the shoppers were told: every
// order answered 2xx exists, and no order is half made (lines without
// their reservation, or an order without lines).
func checkOrders(t *testing.T, d *db.DB, o *outcome) {
	t.Helper()
	numbers := o.numbers()
	found := map[string]bool{}
	rows, err := d.Read.Query("SELECT number FROM orders WHERE email = $1", shopperEmail)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		found[n] = true
	}
	rows.Close()
	var lost []string
	for _, n := range numbers {
		if !found[n] {
			lost = append(lost, n)
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d of %d orders answered 2xx are not in the database: %q", len(lost), len(numbers), lost)
	}
	var noLines, unreserved int
	if err := d.Read.QueryRow(`SELECT count(*) FROM orders o WHERE o.email = $1
		AND NOT EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id)`, shopperEmail).Scan(&noLines); err != nil {
		t.Fatal(err)
	}
	if err := d.Read.QueryRow(`SELECT count(*) FROM orders o WHERE o.email = $1 AND o.status = 'pending_payment'
		AND (SELECT coalesce(sum(quantity), 0) FROM order_lines l WHERE l.order_id = o.id) <>
		    (SELECT coalesce(sum(quantity), 0) FROM reservations r WHERE r.owner = 'order:' || o.id AND r.state = 'live')`,
		shopperEmail).Scan(&unreserved); err != nil {
		t.Fatal(err)
	}
	if noLines != 0 || unreserved != 0 {
		t.Errorf("half-made orders: %d without lines, %d whose lines are not all reserved", noLines, unreserved)
	}
	t.Logf("%d orders answered 2xx, all in the database (%d orders of the shoppers there)", len(numbers), len(found))
	checkStockInvariant(t, d)
}

// checkStockInvariant checks that every stock row's reserved units are
// exactly its live reservations.
func checkStockInvariant(t *testing.T, d *db.DB) {
	t.Helper()
	var off int
	if err := d.Read.QueryRow(`SELECT count(*) FROM stock s WHERE s.reserved <>
		(SELECT coalesce(sum(quantity), 0) FROM reservations r WHERE r.sku = s.sku AND r.warehouse = s.warehouse AND r.state = 'live')`).Scan(&off); err != nil {
		t.Fatal(err)
	}
	if off != 0 {
		t.Errorf("%d stock rows whose reserved units differ from their live reservations", off)
	}
}

// clusterRollingRestart SIGTERMs one instance while shoppers buy from all
// three, then starts it again: every order answered 2xx is in the
// database, whole, and the shoppers saw nothing worse than connection
// errors and answers that said to retry.
func clusterRollingRestart(t *testing.T, c *cluster, d *db.DB) {
	victim := c.instances[1]
	out, stop := load(c.bases(), 6, false)
	defer stop()
	waitPlaced(t, out, 20)
	if err := victim.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-victim.done:
	case <-time.After(faultWait):
		t.Fatalf("instance %d did not exit within %s of SIGTERM", victim.n, faultWait)
	}
	if code := victim.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("instance %d exited %d after SIGTERM, want 0", victim.n, code)
	}
	// The others go on selling while it is down.
	waitPlaced(t, out, 20)
	if err := victim.start(); err != nil {
		t.Fatal(err)
	}
	waitReady(t, victim, true)
	out.countFromNow()
	deadline := time.Now().Add(faultWait)
	for out.placedFrom(victim.base) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the restarted instance placed no order in %s: %s", faultWait, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	t.Logf("rolling restart: %s", out)
	out.checkNoBadAnswers(t)
	checkOrders(t, d, out)
}

// clusterDatabaseCrash kills the PostgreSQL server with SIGKILL while
// shoppers buy, and starts it again on the same data: the instances say
// they are not ready while it is down and ready again after, by
// themselves, and every order answered 2xx before the crash survived it.
func clusterDatabaseCrash(t *testing.T, c *cluster, d *db.DB) {
	out, stop := load(c.bases(), 6, true)
	defer stop()
	waitPlaced(t, out, 20)
	c.pg.Kill(t)
	killed := time.Now()
	before := out.numbers()
	for _, in := range c.instances {
		waitReady(t, in, false)
	}
	notReady := time.Since(killed)
	// A moment of shoppers against a store without its database.
	time.Sleep(time.Second)
	restarted := time.Now()
	c.pg.Restart(t)
	for _, in := range c.instances {
		waitReady(t, in, true)
	}
	t.Logf("all instances not ready %s after the kill; database restarted in %s, all instances ready %s after",
		notReady.Round(time.Millisecond), c.pg.Started.Round(time.Millisecond), time.Since(restarted).Round(time.Millisecond))
	out.countFromNow()
	deadline := time.Now().Add(faultWait)
	for _, in := range c.instances {
		for out.placedFrom(in.base) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("instance %d placed no order in %s after the database came back: %s", in.n, faultWait, out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	stop()
	t.Logf("database crash: %s; %d placed before the kill", out, len(before))
	logStuckKeys(t, d, out)
	out.checkNoBadAnswers(t)
	checkOrders(t, d, out)
}

// logStuckKeys says what became of the checkouts given up on 409
// idempotency_key_in_use: a key whose first request the crash cut off
// stays running until it expires, so its retries cannot learn whether
// they bought. (Logged, not failed: that is the idempotency package's
// documented choice; see the report of issue 8.)
func logStuckKeys(t *testing.T, d *db.DB, o *outcome) {
	t.Helper()
	o.mu.Lock()
	stuck := append([]string(nil), o.stuck...)
	o.mu.Unlock()
	var ordered int
	for _, id := range stuck {
		var n int
		if err := d.Read.QueryRow("SELECT count(*) FROM orders WHERE cart_id = $1", id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		ordered += n
	}
	var running int
	if err := d.Read.QueryRow("SELECT count(*) FROM idempotency_keys WHERE state = 'running' AND key LIKE 'cluster-%'").Scan(&running); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d checkouts given up on 409 idempotency_key_in_use (%d of them did place their order, unknown to the client); %d harness keys still running",
		len(stuck), ordered, running)
}

// clusterCatalogChange imports a product, then renames it, from outside
// the instances (as `mistore import` on another machine would): every
// instance's cached catalog shows each change without a restart. How
// long each took is logged, not held to a bound.
func clusterCatalogChange(t *testing.T, c *cluster) {
	const slug = "cluster-cable"
	path := "/api/v1/markets/us/products/" + slug
	for _, in := range c.instances {
		// Every instance has its catalog loaded, without the product.
		if st, _ := call(t, "GET", in.base+path, ""); st != 404 {
			t.Fatalf("instance %d: GET %s before the import: %d, want 404", in.n, path, st)
		}
	}
	csv := filepath.Join(t.TempDir(), "products.csv")
	for _, name := range []string{"Cluster Cable", "Cluster Cable Renamed"} {
		body := "slug,name,category,sku,price_us,listed_us,stock_us-east\n" + slug + "," + name + ",accessories,CLC-1,9.99,yes,12\n"
		if err := os.WriteFile(csv, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if code, out, errOut := runCLI(t, nil, "import", "products", csv, "--db", c.dsn); code != 0 {
			t.Fatalf("import: exit %d: %s %s", code, out, errOut)
		}
		imported := time.Now()
		for _, in := range c.instances {
			deadline := imported.Add(faultWait)
			for {
				st, p := call(t, "GET", in.base+path, "")
				if st == 200 && p["name"] == name {
					t.Logf("instance %d shows %q %s after the import", in.n, name, time.Since(imported).Round(time.Millisecond))
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("instance %d: GET %s is %d %v %s after the import, want the name %q", in.n, path, st, p["name"], faultWait, name)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
}
