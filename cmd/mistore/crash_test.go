package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/jobs"
	"mistore/internal/payment"
)

// child is a serve process the test can kill -9.
type child struct {
	cmd  *exec.Cmd
	base string
}

// startChild runs serve on addr against dsn in a child process.
func startChild(t *testing.T, dsn, addr string) *child {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"serve", "--addr", addr, "--db", dsn, "--log-level", "warn"}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "MISTORE_CHILD_ARGS="+strings.Join(args, "\x1f"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatalf("serve did not start: %v", err)
	}
	go io.Copy(io.Discard, out)
	return &child{cmd: cmd, base: "http://" + addr}
}

// kill9 ends the child at once: no shutdown, no flush.
func (c *child) kill9(t *testing.T) {
	t.Helper()
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func call(t *testing.T, method, u, body string, hdr ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// placeOrder buys two Band 8 and returns the order number, its token and
// its payment page.
func placeOrder(t *testing.T, base string) (number, token, payURL string) {
	t.Helper()
	_, c := call(t, "POST", base+"/api/v1/markets/us/carts", "")
	id, tok := c["id"].(string), c["token"].(string)
	if st, b := call(t, "POST", base+"/api/v1/carts/"+id+"/items", `{"sku":"MB8-BLK","quantity":2}`, "X-Cart-Token", tok); st != 200 {
		t.Fatalf("add: %d %v", st, b)
	}
	st, o := call(t, "POST", base+"/api/v1/carts/"+id+"/checkout",
		`{"email":"k@example.com","shipping_address":{"name":"K","line1":"1 Main St","city":"Newark","region":"NJ","postal_code":"07102","country":"US"},"shipping_method":"standard"}`,
		"X-Cart-Token", tok)
	if st != 201 {
		t.Fatalf("checkout: %d %v", st, o)
	}
	return o["number"].(string), o["token"].(string), o["payment"].(map[string]any)["redirect_url"].(string)
}

func stockOf(t *testing.T, dsn, sku string) (onHand, reserved int) {
	t.Helper()
	d, err := db.Open(context.Background(), dsn, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.Read.QueryRow("SELECT sum(on_hand), sum(reserved) FROM stock WHERE sku = $1 AND warehouse LIKE 'us-%'", sku).Scan(&onHand, &reserved)
	return onHand, reserved
}

func waitStatus(t *testing.T, base, number, token, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got any
	for time.Now().Before(deadline) {
		_, o := call(t, "GET", base+"/api/v1/orders/"+number, "", "X-Order-Token", token)
		if got = o["status"]; got == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("order %s is %v, want %s", number, got, want)
}

// TestKillMidCheckout kills the server with SIGKILL at the worst moments
// of a purchase and restarts it: every order ends paid or cancelled with
// its stock released, nothing lost, nothing twice.
func TestKillMidCheckout(t *testing.T) {
	for _, dialect := range []db.Dialect{db.SQLite, db.Postgres} {
		t.Run(string(dialect), func(t *testing.T) {
			dsn := dbtest.DSN(t, dialect)
			addr := freeAddr(t)
			srv := startChild(t, dsn, addr)
			before, _ := stockOf(t, dsn, "MB8-BLK")

			// 1. Killed with an order placed; the shopper pays at the
			// provider while the store is down, so the provider's webhook
			// cannot get through. After the restart the redelivered
			// webhook pays the order, once.
			paidNo, paidTok, payURL := placeOrder(t, srv.base)
			srv.kill9(t)
			d, err := db.Open(context.Background(), dsn, db.Options{})
			if err != nil {
				t.Fatal(err)
			}
			key, err := d.Secret(context.Background(), "test-provider-webhook")
			if err != nil {
				t.Fatal(err)
			}
			provider := payment.NewTestProvider(d, key, srv.base, nil)
			sessionID := payURL[strings.LastIndex(payURL, "/")+1:]
			if _, err := provider.Pay(context.Background(), sessionID, payment.Card{Number: "4242424242424242", Expiry: "12/30", CVC: "123"}); err != nil {
				t.Fatal(err)
			}
			// The provider tries to deliver now and fails: the store is down.
			r := jobs.NewRunner(d, nil)
			provider.Register(r)
			r.RunDue(context.Background())
			d.Close()

			// 2. Killed with an order placed and never paid: after the
			// restart its payment window closes and its stock comes back.
			// (Its window is shortened while the store is down.)
			srv = startChild(t, dsn, addr)
			lateNo, lateTok, _ := placeOrder(t, srv.base)
			srv.kill9(t)
			d, err = db.Open(context.Background(), dsn, db.Options{})
			if err != nil {
				t.Fatal(err)
			}
			past := db.Now().Add(-time.Second)
			// The failed delivery waits for its backoff, or, when the
			// store just killed had claimed it meanwhile (a slow machine
			// lets the backoff end before the kill), for that claim's lease
			// to run out: a minute. Make it due as if that time had passed.
			d.Write.Exec("UPDATE jobs SET run_at = $1, locked_until = $1 WHERE kind = 'testprovider.webhook'", past)
			d.Write.Exec("UPDATE orders SET expires_at = $2 WHERE number = $1", lateNo, past)
			d.Close()

			srv = startChild(t, dsn, addr)
			waitStatus(t, srv.base, paidNo, paidTok, "paid")
			waitStatus(t, srv.base, lateNo, lateTok, "cancelled")
			after, reserved := stockOf(t, dsn, "MB8-BLK")
			if after != before-2 || reserved != 0 {
				t.Errorf("stock: on hand %d -> %d (want -2 for the one paid order), reserved %d (want 0)", before, after, reserved)
			}
			d, _ = db.Open(context.Background(), dsn, db.Options{})
			defer d.Close()
			var charges, orders int
			d.Read.QueryRow("SELECT count(*) FROM payments WHERE kind = 'charge'").Scan(&charges)
			d.Read.QueryRow("SELECT count(*) FROM orders").Scan(&orders)
			if charges != 1 || orders != 2 {
				t.Errorf("%d charges, %d orders; want 1 and 2", charges, orders)
			}
		})
	}
}
