package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/idempotency"
)

// TestIdempotencyCartEndToEnd: a retried cart creation, and a retried
// add to that cart, through the real routes, each happen once.
func TestIdempotencyCartEndToEnd(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newStore(t, d)
		const create = "/api/v1/markets/us/carts"
		key := "3f0c5a1e-8d2b-4b7e-9a61-0c2d4e6f8a10"

		first := idemPost(t, s, create, `{}`, "Idempotency-Key", key)
		again := idemPost(t, s, create, `{}`, "Idempotency-Key", key)
		var c1, c2 struct {
			ID    string `json:"id"`
			Token string `json:"token"`
		}
		decode(t, first, &c1)
		decode(t, again, &c2)
		if first.status != 201 || again.status != 201 || c1.ID == "" || c1.ID != c2.ID || c1.Token != c2.Token {
			t.Fatalf("creates: %d %s / %d %s", first.status, first.body, again.status, again.body)
		}
		if again.header.Get("Idempotency-Replayed") != "true" || first.header.Get("Idempotency-Replayed") != "" {
			t.Errorf("Idempotency-Replayed: first %q, again %q", first.header.Get("Idempotency-Replayed"), again.header.Get("Idempotency-Replayed"))
		}
		if n := idemCountRows(t, d, "carts"); n != 1 {
			t.Fatalf("%d carts, want 1", n)
		}
		// Someone else, elsewhere, who sends the same key is not given
		// this cart and its token: an anonymous key is the client's
		// address's.
		req := httptest.NewRequest(http.MethodPost, create, strings.NewReader(`{}`))
		req.RemoteAddr = "198.51.100.7:40000"
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		var other struct {
			ID    string `json:"id"`
			Token string `json:"token"`
		}
		decode(t, response{status: rec.Code, header: rec.Result().Header, body: rec.Body.String()}, &other)
		if rec.Code != 201 || other.ID == c1.ID || other.Token == c1.Token || rec.Result().Header.Get("Idempotency-Replayed") != "" {
			t.Errorf("the same key from another address: %d %s", rec.Code, rec.Body.String())
		}
		if _, err := d.Write.Exec(`DELETE FROM carts WHERE id = $1`, other.ID); err != nil {
			t.Fatal(err)
		}
		if r := idemPost(t, s, create, `{"lines":[]}`, "Idempotency-Key", key); r.status != 422 {
			t.Errorf("same key, other body: %d %s", r.status, r.body)
		}
		idemPost(t, s, create, `{}`, "Idempotency-Key", "another-random-key-4b7e9a61")
		if n := idemCountRows(t, d, "carts"); n != 2 {
			t.Errorf("%d carts after a second key, want 2", n)
		}

		// Adding to the cart twice with one key adds once.
		var product struct {
			Variants []struct {
				SKU       string `json:"sku"`
				Available bool   `json:"available"`
			} `json:"variants"`
		}
		decode(t, get(t, s, "/api/v1/markets/us/products/mistore-band-8"), &product)
		sku := ""
		for _, v := range product.Variants {
			if v.Available {
				sku = v.SKU
				break
			}
		}
		if sku == "" {
			t.Fatal("no available variant of mistore-band-8 in the US")
		}
		items := "/api/v1/carts/" + c1.ID + "/items"
		body := `{"sku":"` + sku + `","quantity":1}`
		for range 2 {
			if r := idemPost(t, s, items, body, "Idempotency-Key", "add-"+key, "X-Cart-Token", c1.Token); r.status != 200 && r.status != 201 {
				t.Fatalf("add: %d %s", r.status, r.body)
			}
		}
		var cart struct {
			Lines []struct {
				SKU      string `json:"sku"`
				Quantity int    `json:"quantity"`
			} `json:"lines"`
		}
		decode(t, get(t, s, "/api/v1/carts/"+c1.ID, "X-Cart-Token", c1.Token), &cart)
		if len(cart.Lines) != 1 || cart.Lines[0].Quantity != 1 {
			t.Errorf("cart after a retried add: %+v, want one line of 1", cart.Lines)
		}
	})
}

func idemCountRows(t testing.TB, d *db.DB, table string) int {
	t.Helper()
	var n int
	if err := d.Read.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestIdempotencyCheckoutRace: twenty retries of one checkout, with one
// key, at once: the key is claimed in the transaction that places the
// order, so exactly one order is placed, every other retry is told to
// wait or given that order, and its stock is reserved once.
func TestIdempotencyCheckoutRace(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		id, tok := s.cartWith("MB8-BLK", 2)
		const n = 20
		var (
			wg     sync.WaitGroup
			start  = make(chan struct{})
			status [n]int
			bodies [n]string
			hdrs   [n]http.Header
		)
		for i := range n {
			wg.Go(func() {
				<-start
				status[i], bodies[i], hdrs[i] = s.do("POST", "/api/v1/carts/"+id+"/checkout", checkoutJSON,
					"X-Cart-Token", tok, "Idempotency-Key", "7d1e4c9a-checkout-race")
			})
		}
		close(start)
		wg.Wait()
		placed, replayed, wait := 0, 0, 0
		numbers := map[string]bool{}
		for i := range n {
			switch {
			case status[i] == 201 && hdrs[i].Get("Idempotency-Replayed") == "":
				placed++
			case status[i] == 201:
				replayed++
			case status[i] == 409 && strings.Contains(bodies[i], "idempotency_key_in_use"):
				wait++
				continue
			default:
				t.Errorf("answer %d: %s", status[i], bodies[i])
				continue
			}
			var o orderResp
			json.Unmarshal([]byte(bodies[i]), &o)
			numbers[o.Number] = true
		}
		if placed != 1 || replayed+wait != n-1 || len(numbers) != 1 {
			t.Errorf("%d placed, %d replayed, %d told to wait, orders %v", placed, replayed, wait, numbers)
		}
		var orders, reserved int
		d.Read.QueryRow("SELECT count(*) FROM orders").Scan(&orders)
		d.Read.QueryRow("SELECT coalesce(sum(quantity), 0) FROM reservations WHERE sku = 'MB8-BLK'").Scan(&reserved)
		if orders != 1 || reserved != 2 {
			t.Errorf("%d orders, %d units reserved; want 1 and 2", orders, reserved)
		}
		// Once answered, a retry is given the order.
		if st, body, h := s.do("POST", "/api/v1/carts/"+id+"/checkout", checkoutJSON, "X-Cart-Token", tok, "Idempotency-Key", "7d1e4c9a-checkout-race"); st != 201 || h.Get("Idempotency-Replayed") != "true" || !strings.Contains(body, `"number"`) {
			t.Errorf("retry: %d %s", st, body)
		}
	})
}

// TestIdempotencyInterruptedCheckout: a checkout whose process stopped
// after it claimed its key (the key still running) is "in progress" for
// a while, with Retry-After, and then "interrupted", without: a client
// stops waiting for an answer that will never come. Neither runs the
// checkout again.
func TestIdempotencyInterruptedCheckout(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		id, tok := s.cartWith("MB8-BLK", 1)
		path := "/api/v1/carts/" + id + "/checkout"
		sum := sha256.Sum256([]byte(tok))
		scope := "cart:" + hex.EncodeToString(sum[:])
		fp := idempotency.Fingerprint("POST", path, []byte(checkoutJSON))
		now := time.Now().UTC()
		for key, claimed := range map[string]time.Time{"k-recent": now.Add(-time.Minute), "k-interrupted": now.Add(-idempotency.InterruptedAfter - time.Minute)} {
			if _, err := d.Exec(context.Background(), `INSERT INTO idempotency_keys (scope, key, fingerprint, state, status, content_type, body, created_at, expires_at)
				VALUES ($1, $2, $3, 'running', 0, '', '', $4, $5)`, scope, key, fp, claimed, claimed.Add(idempotency.TTL)); err != nil {
				t.Fatal(err)
			}
		}
		st, body, h := s.do("POST", path, checkoutJSON, "X-Cart-Token", tok, "Idempotency-Key", "k-recent")
		if st != http.StatusConflict || apiCode(t, body) != "idempotency_key_in_use" || h.Get("Retry-After") != "1" {
			t.Fatalf("a key claimed a minute ago: %d %q %s", st, h.Get("Retry-After"), body)
		}
		st, body, h = s.do("POST", path, checkoutJSON, "X-Cart-Token", tok, "Idempotency-Key", "k-interrupted")
		if st != http.StatusConflict || apiCode(t, body) != "idempotency_key_in_use" || h.Get("Retry-After") != "" || !strings.Contains(body, "interrupted") {
			t.Fatalf("a key claimed %s ago: %d %q %s", idempotency.InterruptedAfter+time.Minute, st, h.Get("Retry-After"), body)
		}
		var orders int
		if err := d.Read.QueryRow("SELECT count(*) FROM orders").Scan(&orders); err != nil || orders != 0 {
			t.Fatalf("%d orders placed by held keys (%v)", orders, err)
		}
		// A new key checks out as usual.
		if st, body, _ := s.do("POST", path, checkoutJSON, "X-Cart-Token", tok, "Idempotency-Key", "k-new"); st != http.StatusCreated {
			t.Fatalf("checkout with a new key: %d %s", st, body)
		}
	})
}
