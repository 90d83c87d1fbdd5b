package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// startStore runs a demo store on a free port for the test's lifetime.
func startStore(t *testing.T, dsn string) *Main {
	t.Helper()
	cfg := defaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DB = dsn
	m := NewMain(cfg, nil)
	if err := m.Open(context.Background()); err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// runCLI runs the command line in-process and returns its exit code and
// output.
func runCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	getenv := func(k string) string { return env[k] }
	code := run(context.Background(), args, getenv, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestServeDemoStore(t *testing.T) {
	for _, dialect := range []db.Dialect{db.SQLite, db.Postgres} {
		t.Run(string(dialect), func(t *testing.T) {
			m := startStore(t, dbtest.DSN(t, dialect))
			for path, want := range map[string]string{
				"/us/":                               "Mistore Band 8",
				"/us/products/mistore-phone-14":      "Not sold in the United States",
				"/api/v1/markets/in/products?q=band": `"total":`,
				"/readyz":                            "ready",
			} {
				resp, err := http.Get(m.URL() + path)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
					t.Errorf("GET %s: %d, lacks %q", path, resp.StatusCode, want)
				}
			}
		})
	}
}

func TestSeedIsIdempotent(t *testing.T) {
	for _, dialect := range []db.Dialect{db.SQLite, db.Postgres} {
		t.Run(string(dialect), func(t *testing.T) {
			dsn := dbtest.DSN(t, dialect)
			env := map[string]string{"MISTORE_DB": dsn}
			seed := func(i int) {
				t.Helper()
				code, out, errOut := runCLI(t, env, "seed")
				if code != 0 || !strings.Contains(out, "25 products") {
					t.Fatalf("seed #%d: exit %d, %s %s", i, code, out, errOut)
				}
			}
			seed(1)
			d, err := db.Open(context.Background(), dsn, db.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			// Between the seeds the shop sells and counts: one level
			// changes, another is deleted.
			var sku, gone string
			if err := d.Read.QueryRow("SELECT sku FROM stock WHERE warehouse = 'us-west' ORDER BY sku LIMIT 1").Scan(&sku); err != nil {
				t.Fatal(err)
			}
			if err := d.Read.QueryRow("SELECT sku FROM stock WHERE warehouse = 'us-west' ORDER BY sku DESC LIMIT 1").Scan(&gone); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Write.Exec("UPDATE stock SET on_hand = 7 WHERE sku = $1 AND warehouse = 'us-west'", sku); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Write.Exec("DELETE FROM stock WHERE sku = $1 AND warehouse = 'us-west'", gone); err != nil {
				t.Fatal(err)
			}
			seed(2)
			var kept, back int
			if err := d.Read.QueryRow("SELECT on_hand FROM stock WHERE sku = $1 AND warehouse = 'us-west'", sku).Scan(&kept); err != nil || kept != 7 {
				t.Errorf("seeding again set %s's stock to %d (%v), want the 7 counted since", sku, kept, err)
			}
			if err := d.Read.QueryRow("SELECT on_hand FROM stock WHERE sku = $1 AND warehouse = 'us-west'", gone).Scan(&back); err != nil || back <= 0 {
				t.Errorf("seeding again left %s without stock (%d, %v), want the demo's level", gone, back, err)
			}
			var products, variants, certs, resellers int
			d.Read.QueryRow("SELECT count(*) FROM products").Scan(&products)
			d.Read.QueryRow("SELECT count(*) FROM variants").Scan(&variants)
			d.Read.QueryRow("SELECT count(*) FROM certifications").Scan(&certs)
			d.Read.QueryRow("SELECT count(*) FROM resellers").Scan(&resellers)
			if products != 25 || variants != 54 || certs == 0 || resellers == 0 {
				t.Errorf("after seeding twice: %d products, %d variants, %d certs, %d resellers", products, variants, certs, resellers)
			}
		})
	}
}

func TestImportCommand(t *testing.T) {
	dir := t.TempDir()
	dsn := filepath.Join(dir, "m.db")
	good := filepath.Join(dir, "good.csv")
	os.WriteFile(good, []byte("slug,name,category,sku,price_us,listed_us,stock_us-east\ncable-x,Cable X,accessories,CX-1,9.99,yes,12\n"), 0o600)
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("slug,name,category,sku,price_us\ncable-y,Cable Y,accessories,CY-1,free\n"), 0o600)

	code, out, errOut := runCLI(t, nil, "import", "products", good, "--db", dsn)
	if code != 0 || !strings.Contains(out, "imported 1 products") {
		t.Fatalf("good import: %d %s %s", code, out, errOut)
	}
	code, _, errOut = runCLI(t, nil, "import", "products", "--db", dsn, bad)
	if code != 1 || !strings.Contains(errOut, "row 2, column price_us") || !strings.Contains(errOut, "nothing was changed") {
		t.Fatalf("bad import: exit %d, %s", code, errOut)
	}
	code, _, errOut = runCLI(t, nil, "import", "products", filepath.Join(dir, "missing.csv"), "--db", dsn)
	if code != 1 || !strings.Contains(errOut, "no such file") {
		t.Errorf("missing file: exit %d, %s", code, errOut)
	}
}

// TestStartupErrors checks that each way a start can fail ends in one
// clear line on stderr and exit code 1.
func TestStartupErrors(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.db")
	os.WriteFile(corrupt, bytes.Repeat([]byte("not a database at all "), 400), 0o600)

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"corrupt database", nil, []string{"serve", "--db", corrupt, "--addr", "127.0.0.1:0"}, "not a database"},
		{"unreachable postgres", nil, []string{"serve", "--db", "postgres://u:hunter2@127.0.0.1:1/x?connect_timeout=2", "--addr", "127.0.0.1:0"}, "open postgres"},
		{"port in use", nil, []string{"serve", "--db", filepath.Join(dir, "a.db"), "--addr", busy.Addr().String()}, "address already in use"},
		{"bad address", nil, []string{"serve", "--db", filepath.Join(dir, "b.db"), "--addr", "nonsense"}, "want host:port"},
		{"bad env", map[string]string{"MISTORE_DEMO": "maybe"}, []string{"serve"}, "MISTORE_DEMO"},
		{"mysql url", nil, []string{"migrate", "--db", "mysql://root@localhost/x"}, "only postgres://"},
		{"directory as db", nil, []string{"migrate", "--db", dir}, "open sqlite"},
		{"stripe key without webhook secret", map[string]string{"MISTORE_STRIPE_SECRET_KEY": "sk_test_hunter2"}, []string{"serve", "--db", filepath.Join(dir, "c.db"), "--addr", "127.0.0.1:0"}, "webhook signing secret is empty"},
		{"publishable stripe key", nil, []string{"serve", "--db", filepath.Join(dir, "d.db"), "--addr", "127.0.0.1:0", "--stripe-secret-key", "pk_test_hunter2", "--stripe-webhook-secret", "whsec_hunter2"}, "publishable key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, tt.env, tt.args...)
			if code != 1 {
				t.Errorf("exit %d, want 1; stderr %s", code, errOut)
			}
			if !strings.Contains(errOut, tt.want) {
				t.Errorf("stderr %q lacks %q", errOut, tt.want)
			}
			if strings.Contains(errOut, "goroutine ") || strings.Contains(errOut, "hunter2") {
				t.Errorf("stderr has a stack trace or a password: %s", errOut)
			}
			if lines := strings.Count(strings.TrimSpace(errOut), "\n"); lines > 0 && tt.name != "bad address" {
				t.Errorf("stderr has %d lines, want one: %s", lines+1, errOut)
			}
		})
	}
	if code, _, _ := runCLI(t, nil, "frobnicate"); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
}

// TestReadOnlyDatabase runs a migration as an unprivileged user against a
// database file that user may not write, in a child process: root could
// write it whatever its mode.
func TestReadOnlyDatabase(t *testing.T) {
	if os.Getenv("MISTORE_READONLY_CHILD") == "1" {
		return
	}
	dir, err := os.MkdirTemp("", "mistore-ro-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755); os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	path := filepath.Join(dir, "ro.db")
	if code, out, errOut := runCLI(t, nil, "migrate", "--db", path); code != 0 {
		t.Fatalf("migrate: %s %s", out, errOut)
	}
	// A new migration-less store file that cannot be written: drop the
	// schema table so that migrate must write.
	d, err := db.Open(context.Background(), path, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d.Write.Exec("DELETE FROM schema_migrations WHERE version = 2")
	d.Write.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	d.Close()
	os.Chmod(path, 0o444)
	os.Chmod(dir, 0o555)

	code, errOut := runAsNobody(t, "migrate", "--db", path)
	t.Logf("stderr: %s", errOut)
	if code != 1 || !strings.Contains(errOut, "read") {
		t.Errorf("read-only database: exit %d, stderr %q", code, errOut)
	}
	if strings.Contains(errOut, "goroutine ") {
		t.Errorf("stack trace: %s", errOut)
	}
}

func TestGracefulShutdown(t *testing.T) {
	cfg := defaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DB = filepath.Join(t.TempDir(), "m.db")
	m := NewMain(cfg, nil)
	entered := make(chan struct{}, 1)
	m.Wrap = func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/us/products/mistore-band-8" {
				entered <- struct{}{}
				time.Sleep(500 * time.Millisecond)
			}
			h.ServeHTTP(w, r)
		})
	}
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	type result struct {
		status int
		err    error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get(m.URL() + "/us/products/mistore-band-8")
		if err != nil {
			got <- result{err: err}
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got <- result{status: resp.StatusCode}
	}()
	<-entered
	closed := make(chan error, 1)
	go func() { closed <- m.Close() }()
	time.Sleep(100 * time.Millisecond)
	if _, err := http.Get(m.URL() + "/healthz"); err == nil {
		t.Error("new connections are still accepted after shutdown began")
	}
	if r := <-got; r.err != nil || r.status != 200 {
		t.Errorf("the request in flight got %d, %v", r.status, r.err)
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("shutdown did not finish")
	}
}

func TestOpenAPIIsServed(t *testing.T) {
	m := startStore(t, filepath.Join(t.TempDir(), "m.db"))
	resp, err := http.Get(m.URL() + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || doc["openapi"] == nil {
		t.Fatalf("openapi.json: %v %v", err, doc)
	}
}

// TestOpenMetricsWarned: a store that is not the demo and leaves /metrics
// without a token says so when it starts; with a token, or as the demo,
// it does not.
func TestOpenMetricsWarned(t *testing.T) {
	for _, c := range []struct {
		demo  bool
		token string
		warn  bool
	}{{false, "", true}, {false, "s3cret-token", false}, {true, "", false}} {
		var logs bytes.Buffer
		cfg := defaultConfig()
		cfg.Addr, cfg.DB, cfg.Demo, cfg.MetricsToken = "127.0.0.1:0", dbtest.DSN(t, db.SQLite), c.demo, c.token
		m := NewMain(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
		if err := m.Open(context.Background()); err != nil {
			t.Fatalf("open store: %v", err)
		}
		m.Close()
		if got := strings.Contains(logs.String(), "/metrics is open"); got != c.warn {
			t.Errorf("demo %v, token %q: warned %v, want %v\n%s", c.demo, c.token, got, c.warn, logs.String())
		}
	}
}
