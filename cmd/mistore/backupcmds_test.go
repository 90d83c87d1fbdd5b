package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// tryOrder places an order through the API, for a goroutine that must
// not call t.Fatal: it returns an error instead.
func tryOrder(base string) error {
	client := &http.Client{Timeout: 10 * time.Second}
	post := func(u, body string, hdr ...string) (*http.Response, error) {
		req, _ := http.NewRequest("POST", u, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		return client.Do(req)
	}
	resp, err := post(base+"/api/v1/markets/us/carts", "")
	if err != nil {
		return err
	}
	var c struct{ ID, Token string }
	err = json.NewDecoder(resp.Body).Decode(&c)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 201 {
		return fmt.Errorf("new cart: %d %v", resp.StatusCode, err)
	}
	resp, err = post(base+"/api/v1/carts/"+c.ID+"/items", `{"sku":"MB8-BLK","quantity":1}`, "X-Cart-Token", c.Token)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("add: %d", resp.StatusCode)
	}
	resp, err = post(base+"/api/v1/carts/"+c.ID+"/checkout",
		`{"email":"k@example.com","shipping_address":{"name":"K","line1":"1 Main St","city":"Newark","region":"NJ","postal_code":"07102","country":"US"},"shipping_method":"standard"}`,
		"X-Cart-Token", c.Token)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		return fmt.Errorf("checkout: %d", resp.StatusCode)
	}
	return nil
}

// checkBackupConsistent opens a backup and checks what one snapshot must
// hold: every order has its lines and its placed event, and the stock
// promised to live reservations is what stock.reserved says.
func checkBackupConsistent(t *testing.T, path string) (orders int) {
	t.Helper()
	info, err := db.InspectSQLite(context.Background(), path)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	d, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var bare, reservedStock, reservedLive int
	if err := d.QueryRow(`SELECT count(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id)
		OR NOT EXISTS (SELECT 1 FROM order_events e WHERE e.order_id = o.id)`).Scan(&bare); err != nil {
		t.Fatal(err)
	}
	if err := d.QueryRow("SELECT COALESCE(sum(reserved), 0) FROM stock").Scan(&reservedStock); err != nil {
		t.Fatal(err)
	}
	if err := d.QueryRow("SELECT COALESCE(sum(quantity), 0) FROM reservations WHERE state = 'live'").Scan(&reservedLive); err != nil {
		t.Fatal(err)
	}
	if bare != 0 || reservedStock != reservedLive {
		t.Errorf("backup is not one snapshot: %d orders without lines or events; stock.reserved %d, live reservations %d", bare, reservedStock, reservedLive)
	}
	return int(info.Orders)
}

func TestBackupWhileServing(t *testing.T) {
	src := dbtest.DSN(t, db.SQLite)
	m := startStore(t, src)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		placed  int
		lastErr error
	)
	stop := make(chan struct{})
	started := make(chan struct{})
	var once sync.Once
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// 4 x 40 units stays inside the demo's 235 Band 8 in the US.
			for i := range 40 {
				select {
				case <-stop:
					return
				default:
				}
				err := tryOrder(m.URL())
				mu.Lock()
				if err != nil {
					lastErr = err
				} else {
					placed++
				}
				mu.Unlock()
				if i == 2 || err != nil {
					once.Do(func() { close(started) })
				}
				if err != nil {
					return
				}
			}
		}()
	}
	<-started
	file := filepath.Join(t.TempDir(), "backup.db")
	code, out, errOut := runCLI(t, nil, "backup", file, "--db", src)
	close(stop)
	wg.Wait()
	if code != 0 || !strings.Contains(out, "integrity ok") {
		t.Fatalf("backup: exit %d\n%s%s", code, out, errOut)
	}
	if lastErr != nil {
		t.Fatalf("orders while backing up: %v", lastErr)
	}
	n := checkBackupConsistent(t, file)
	t.Logf("%d orders placed, %d in the backup: %s", placed, n, out)
	if n < 3 || n > placed {
		t.Errorf("backup holds %d orders; %d were placed, at least 3 before it began", n, placed)
	}
	// A second backup to the same file is refused; the first is intact.
	if code, _, errOut := runCLI(t, nil, "backup", file, "--db", src); code != 1 || !strings.Contains(errOut, "already exists") {
		t.Errorf("backup over an existing file: exit %d %s", code, errOut)
	}
	checkBackupConsistent(t, file)
}

func TestRestoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "store", "mistore.db")
	m := startStore(t, src)
	tokens := map[string]string{}
	for range 2 {
		n, tok, _ := placeOrder(t, m.URL())
		tokens[n] = tok
	}
	want := map[string]string{}
	for n, tok := range tokens {
		want[n] = getBody(t, m.URL()+"/api/v1/orders/"+n, "X-Order-Token", tok)
	}
	file := filepath.Join(dir, "backup.db")
	if code, out, errOut := runCLI(t, nil, "backup", "--db", src, file); code != 0 {
		t.Fatalf("backup: exit %d\n%s%s", code, out, errOut)
	}
	// The running store cannot be replaced under it.
	code, _, errOut := runCLI(t, nil, "restore", file, "--db", src, "--force")
	if code != 1 || !strings.Contains(errOut, "open in another process") {
		t.Fatalf("restore over a running store: exit %d %s", code, errOut)
	}
	later, _, _ := placeOrder(t, m.URL())
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, nil, "restore", file, "--db", src); code != 1 || !strings.Contains(errOut, "--force") {
		t.Fatalf("restore over an existing store without --force: exit %d %s", code, errOut)
	}
	code, out, errOut := runCLI(t, nil, "restore", file, "--db", src, "--force")
	if code != 0 || !strings.Contains(out, "kept as") {
		t.Fatalf("restore: exit %d\n%s%s", code, out, errOut)
	}
	kept, _ := filepath.Glob(src + ".replaced-*")
	if len(kept) != 1 {
		t.Errorf("replaced database kept as %v", kept)
	}
	// The restored store serves the orders of the backup, and not the
	// one placed after it.
	m = startStore(t, src)
	for n, body := range want {
		if got := getBody(t, m.URL()+"/api/v1/orders/"+n, "X-Order-Token", tokens[n]); got != body {
			t.Errorf("order %s after restore:\n%s\nwant\n%s", n, got, body)
		}
	}
	if st, _ := call(t, "GET", m.URL()+"/api/v1/orders/"+later, ""); st != 404 && st != 401 && st != 403 {
		t.Errorf("order placed after the backup: %d after restore", st)
	}
	if countRows(t, src, "orders") != 2 {
		t.Errorf("restored store has %d orders, want 2", countRows(t, src, "orders"))
	}
	m.Close()
	// Restoring into a new place needs no --force.
	fresh := filepath.Join(dir, "elsewhere", "mistore.db")
	if code, out, errOut := runCLI(t, nil, "restore", file, "--db", fresh); code != 0 {
		t.Fatalf("restore to a new path: exit %d\n%s%s", code, out, errOut)
	}
	if countRows(t, fresh, "orders") != 2 {
		t.Error("restore to a new path lost orders")
	}
}

func TestBackupRestoreRefusals(t *testing.T) {
	dir := t.TempDir()
	src := dbtest.DSN(t, db.SQLite)
	if code, out, errOut := runCLI(t, nil, "backup", filepath.Join(dir, "b.db"), "--db", filepath.Join(dir, "missing.db")); code != 1 || !strings.Contains(errOut, "does not exist") {
		t.Errorf("backup of a missing store: exit %d %s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); err == nil {
		t.Error("backup made the missing store")
	}
	garbage := filepath.Join(dir, "garbage.db")
	os.WriteFile(garbage, []byte(strings.Repeat("not a database\n", 500)), 0o600)
	plain := filepath.Join(dir, "plain.db")
	p, err := sql.Open("sqlite", plain)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Exec("CREATE TABLE t (x)"); err != nil {
		t.Fatal(err)
	}
	p.Close()
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no file", []string{"backup", "--db", src}, 2, "usage"},
		{"postgres backup", []string{"backup", "x.dump", "--db", "postgres://u@h/db"}, 2, "pg_dump"},
		{"postgres restore", []string{"restore", "x.dump", "--db", "postgres://u@h/db"}, 2, "pg_restore"},
		{"missing backup", []string{"restore", filepath.Join(dir, "nope.db"), "--db", filepath.Join(dir, "r1.db")}, 1, "does not exist"},
		{"not a database", []string{"restore", garbage, "--db", filepath.Join(dir, "r2.db")}, 1, "not a SQLite database"},
		{"not a mistore database", []string{"restore", plain, "--db", filepath.Join(dir, "r3.db")}, 1, "not a mistore database"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, nil, c.args...)
			if code != c.code || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, want %d; stderr lacks %q:\n%s%s", code, c.code, c.want, out, errOut)
			}
			if c.code == 1 && strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("want one line:\n%s", errOut)
			}
		})
	}
	for _, r := range []string{"r1.db", "r2.db", "r3.db"} {
		if _, err := os.Stat(filepath.Join(dir, r)); err == nil {
			t.Errorf("a refused restore made %s", r)
		}
	}
}
