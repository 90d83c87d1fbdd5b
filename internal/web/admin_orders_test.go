package web_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// paidOrder buys qty Band 8s over HTTP and pays them; it returns the
// order's number, token and total in cents.
func (s *shop) paidOrder(qty int) (number, token string, total int64) {
	s.t.Helper()
	id, tok := s.cartWith("MB8-BLK", qty)
	o := s.checkout(id, tok)
	if st, loc := s.pay(o.Payment.RedirectURL, "4242 4242 4242 4242"); st != http.StatusSeeOther {
		s.t.Fatalf("pay: %d %s", st, loc)
	}
	s.runJobs()
	if got := s.order(o.Number, o.Token); got.Status != "paid" {
		s.t.Fatalf("order %s is %s", o.Number, got.Status)
	}
	return o.Number, o.Token, o.Total.Amount
}

// adminJSON is an admin order as the tests read it.
type adminJSON struct {
	Number     string `json:"number"`
	Status     string `json:"status"`
	Paid       struct{ Amount int64 }
	Refundable struct{ Amount int64 }
	Refunded   struct{ Amount int64 }
	Shipments  []struct {
		Carrier        string `json:"carrier"`
		TrackingNumber string `json:"tracking_number"`
	} `json:"shipments"`
	Refunds []struct {
		Amount struct{ Amount int64 }
		Status string `json:"status"`
	} `json:"refunds"`
	Returns []struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
	} `json:"returns"`
	Timeline []struct {
		Kind string `json:"kind"`
	} `json:"timeline"`
}

func (s *shop) adminOrder(key, number string) adminJSON {
	s.t.Helper()
	st, body, _ := s.do("GET", "/api/v1/admin/orders/"+number, "", bearer(key)...)
	if st != http.StatusOK {
		s.t.Fatalf("admin order %s: %d %s", number, st, body)
	}
	var o adminJSON
	if err := json.Unmarshal([]byte(body), &o); err != nil {
		s.t.Fatal(err)
	}
	return o
}

func (s *shop) count(query string, args ...any) int {
	s.t.Helper()
	var n int
	if err := s.d.Read.QueryRow(query, args...).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

// post sends a JSON POST without failing the test from another goroutine.
func (s *shop) post(path, body, key string) (int, string, error) {
	req, err := http.NewRequest("POST", s.url+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestAdminOrdersAccess(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		number, _, _ := s.paidOrder(1)
		viewer := s.adminKey("viewer")
		base := "/api/v1/admin/orders/" + number
		// Reads are open to a viewer.
		if st, body, _ := s.do("GET", "/api/v1/admin/orders?q="+number, "", bearer(viewer)...); st != 200 || !strings.Contains(body, number) {
			t.Errorf("viewer list: %d %s", st, body)
		}
		if st, _, _ := s.do("GET", base, "", bearer(viewer)...); st != 200 {
			t.Errorf("viewer detail: %d", st)
		}
		// Every change is closed to a viewer, API and pages alike.
		posts := map[string]string{
			base + "/fulfilments":       `{"carrier":"UPS","tracking_number":"1Z"}`,
			base + "/refunds":           `{"amount":{"amount":100,"currency":"USD"}}`,
			base + "/cancel":            ``,
			base + "/deliver":           ``,
			base + "/returns/1/approve": ``,
			base + "/returns/1/reject":  ``,
			base + "/returns/1/receive": `{"restock":true}`,
			base + "/returns/1/refund":  ``,
		}
		for path, body := range posts {
			if st, b, _ := s.do("POST", path, body, bearer(viewer)...); st != http.StatusForbidden || apiCode(t, b) != "forbidden" {
				t.Errorf("viewer POST %s: %d %s", path, st, b)
			}
		}
		vc := s.adminCookie("viewer")
		for _, p := range []string{"fulfil", "deliver", "refund", "cancel", "returns/1/approve", "returns/1/receive", "returns/1/refund"} {
			if st, _, _ := s.adminForm(vc, "/admin/orders/"+number+"/"+p, url.Values{"carrier": {"UPS"}, "tracking_number": {"1"}, "amount": {"1.00"}}); st != http.StatusForbidden {
				t.Errorf("viewer page POST %s: %d", p, st)
			}
		}
		if got := s.adminOrder(viewer, number); got.Status != "paid" || len(got.Refunds) != 0 || len(got.Shipments) != 0 {
			t.Errorf("the viewer changed the order: %+v", got)
		}

		// No credentials, or a customer's: nothing under /api/v1/admin.
		s.do("POST", "/api/v1/customers", `{"email":"eve@example.com","password":"correct horse battery","name":"Eve"}`)
		st, body, hdr := s.do("POST", "/api/v1/sessions", `{"email":"eve@example.com","password":"correct horse battery"}`)
		if st != 200 {
			t.Fatalf("customer sign-in: %d %s", st, body)
		}
		var sess struct{ Token string }
		json.Unmarshal([]byte(body), &sess)
		var cookie string
		for _, c := range (&http.Response{Header: hdr}).Cookies() {
			cookie = c.Name + "=" + c.Value
		}
		for _, who := range [][]string{nil, bearer(sess.Token), {"Cookie", cookie}, bearer("msk_not_a_real_key")} {
			for _, req := range [][2]string{{"GET", "/api/v1/admin/orders"}, {"GET", base}, {"POST", base + "/refunds"}, {"POST", base + "/cancel"}} {
				st, b, _ := s.do(req[0], req[1], "", who...)
				if st != http.StatusUnauthorized && st != http.StatusForbidden {
					t.Errorf("%v %s %s: %d %s", who, req[0], req[1], st, b)
				}
			}
		}
		if st, _, _ := s.do("GET", "/admin/orders", "", "Cookie", cookie); st != http.StatusSeeOther {
			t.Errorf("customer cookie on the orders page: %d, want the sign-in redirect", st)
		}
		if got := s.adminOrder(viewer, number); got.Status != "paid" {
			t.Errorf("outsiders changed the order: %+v", got)
		}
	})
}

func TestAdminFulfilAndRefund(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		number, _, total := s.paidOrder(1)
		support := s.adminKey("support")
		base := "/api/v1/admin/orders/" + number

		// Filters.
		for q, want := range map[string]bool{
			"?status=paid": true, "?status=cancelled": false, "?market=us&q=" + number: true, "?email=ADA@example.com": true,
			"?q=nobody": false, "?from=2000-01-01&to=2999-01-01": true, "?to=2000-01-01": false, "?per_page=1&page=2": false,
		} {
			st, body, _ := s.do("GET", "/api/v1/admin/orders"+q, "", bearer(support)...)
			if st != 200 || strings.Contains(body, number) != want {
				t.Errorf("list %s: %d %s", q, st, body)
			}
		}
		for _, q := range []string{"?status=lost", "?from=yesterday", "?per_page=0", "?per_page=201", "?page=x", "?market=xx"} {
			if st, body, _ := s.do("GET", "/api/v1/admin/orders"+q, "", bearer(support)...); st != 400 || apiCode(t, body) != "invalid_parameter" {
				t.Errorf("list %s: %d %s", q, st, body)
			}
		}
		if st, body, _ := s.do("GET", "/api/v1/admin/orders/US-999999", "", bearer(support)...); st != 404 {
			t.Errorf("unknown order: %d %s", st, body)
		}

		// Fulfil, with markup in the tracking number.
		evil := `<script>alert(1)</script>`
		if st, body, _ := s.do("POST", base+"/fulfilments", `{"carrier":"UPS"}`, bearer(support)...); st != 422 || apiCode(t, body) != "invalid_field" {
			t.Errorf("no tracking number: %d %s", st, body)
		}
		st, body, _ := s.do("POST", base+"/fulfilments", fmt.Sprintf(`{"carrier":"UPS","tracking_number":%q}`, evil), bearer(support)...)
		if st != http.StatusCreated || !strings.Contains(body, `"status":"fulfilled"`) {
			t.Fatalf("fulfil: %d %s", st, body)
		}
		if st, body, _ := s.do("POST", base+"/fulfilments", `{"carrier":"UPS","tracking_number":"2"}`, bearer(support)...); st != 409 || apiCode(t, body) != "invalid_state" {
			t.Errorf("fulfil twice: %d %s", st, body)
		}
		if n := s.count("SELECT count(*) FROM emails WHERE kind = 'order_shipped' AND to_address = 'ada@example.com'"); n != 1 {
			t.Errorf("%d shipping emails", n)
		}
		s.runJobs()
		if st, outbox, _ := s.do("GET", "/admin/outbox", ""); st != 200 || !strings.Contains(outbox, "Your Mistore order "+number+" is on its way") {
			t.Errorf("outbox: %d, lacks the shipping notice", st)
		}
		if n := s.count("SELECT count(*) FROM audit_log WHERE action = 'order.fulfil' AND subject = $1 AND actor_kind = 'apikey'", "order:"+number); n != 1 {
			t.Errorf("%d order.fulfil audit entries", n)
		}

		// Refunds: bad amounts are 422; of concurrent refunds of 60% of
		// the capture, one succeeds and the others are 409.
		for _, b := range []string{
			`{"amount":{"amount":0,"currency":"USD"}}`,
			`{"amount":{"amount":-100,"currency":"USD"}}`,
			`{"amount":{"amount":100,"currency":"EUR"}}`,
			`{"reason":"no amount"}`,
		} {
			if st, body, _ := s.do("POST", base+"/refunds", b, bearer(support)...); st != 422 || apiCode(t, body) != "invalid_field" {
				t.Errorf("refund %s: %d %s", b, st, body)
			}
		}
		share := total * 6 / 10
		reason := `<img src=x onerror=alert(2)>`
		var mu sync.Mutex
		codes := map[int]int{}
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, body, err := s.post(base+"/refunds", fmt.Sprintf(`{"amount":{"amount":%d,"currency":"USD"},"reason":%q}`, share, reason), support)
				if err != nil {
					t.Error(err)
					return
				}
				if st == 409 && (!strings.Contains(body, `"refund_exceeds_captured"`) || !strings.Contains(body, `"message":"A refund of $`) ||
					strings.Contains(body, number)) {
					t.Errorf("409 %s", body)
				}
				mu.Lock()
				codes[st]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if codes[201] != 1 || codes[409] != 7 {
			t.Fatalf("concurrent refunds: %v", codes)
		}
		got := s.adminOrder(support, number)
		if got.Status != "partially_refunded" || got.Refunded.Amount != share || got.Refundable.Amount != total-share || len(got.Refunds) != 1 {
			t.Errorf("after the refunds: %+v", got)
		}
		if n := s.count("SELECT count(*) FROM audit_log WHERE action = 'order.refund' AND subject = $1", "order:"+number); n != 1 {
			t.Errorf("%d order.refund audit entries", n)
		}
		s.runJobs()
		if got := s.adminOrder(support, number); got.Refunds[0].Status != "succeeded" {
			t.Errorf("refund after the job: %+v", got.Refunds)
		}
		// Shipped: no cancelling now.
		if st, body, _ := s.do("POST", base+"/cancel", "", bearer(support)...); st != 409 {
			t.Errorf("cancel shipped: %d %s", st, body)
		}

		// The back-office page shows what staff typed as text.
		sc := s.adminCookie("support")
		st, page, _ := s.adminGet(sc, "/admin/orders/"+number)
		if st != 200 || strings.Contains(page, evil) || strings.Contains(page, reason) ||
			!strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(page, "&lt;img src=x onerror=alert(2)&gt;") {
			t.Errorf("order page: %d, markup not escaped", st)
		}
		if st, list, _ := s.adminGet(sc, "/admin/orders?status=partially_refunded"); st != 200 || !strings.Contains(list, number) {
			t.Errorf("orders page: %d", st)
		}
		if st, _, _ := s.adminGet(sc, "/admin/orders?status=lost"); st != 400 {
			t.Errorf("orders page with a bad filter: %d", st)
		}
		// The rest, refunded from the page; more than is left is refused.
		st, page, _ = s.adminForm(sc, "/admin/orders/"+number+"/refund", url.Values{"amount": {fmt.Sprintf("%d.00", total)}})
		if st != 409 || !strings.Contains(page, "order-error") {
			t.Errorf("too big a refund from the page: %d", st)
		}
		left := total - share
		if st, _, hdr := s.adminForm(sc, "/admin/orders/"+number+"/refund", url.Values{"amount": {fmt.Sprintf("%d.%02d", left/100, left%100)}}); st != 303 {
			t.Errorf("refund the rest from the page: %d", st)
		} else if _, page, _ := s.adminGet(sc, hdr.Get("Location"), hdr); !strings.Contains(page, "is being refunded") {
			t.Error("no flash after the refund")
		}
		if got := s.adminOrder(support, number); got.Status != "refunded" || got.Refunded.Amount != total {
			t.Errorf("after refunding the rest: %+v", got)
		}
	})
}

func TestAdminCancelAndPagesFulfil(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		manager := s.adminKey("manager")
		// Cancel a paid order: refunded in full, stock back.
		a, _, total := s.paidOrder(2)
		st, body, _ := s.do("POST", "/api/v1/admin/orders/"+a+"/cancel", `{"reason":"out of business"}`, bearer(manager)...)
		if st != 200 || !strings.Contains(body, `"status":"cancelled"`) {
			t.Fatalf("cancel: %d %s", st, body)
		}
		s.runJobs()
		if got := s.adminOrder(manager, a); got.Refunded.Amount != total || len(got.Refunds) != 1 || got.Refunds[0].Status != "succeeded" {
			t.Errorf("after cancel: %+v", got)
		}
		if n := s.count("SELECT count(*) FROM audit_log WHERE action = 'order.cancel' AND subject = $1", "order:"+a); n != 1 {
			t.Errorf("%d order.cancel audit entries", n)
		}

		// Fulfil and deliver from the pages.
		b, _, _ := s.paidOrder(1)
		sc := s.adminCookie("support")
		if st, page, _ := s.adminForm(sc, "/admin/orders/"+b+"/fulfil", url.Values{"carrier": {"DHL"}, "tracking_number": {" "}}); st != 422 || !strings.Contains(page, "tracking number is required") {
			t.Errorf("fulfil without a tracking number: %d", st)
		}
		if st, _, _ := s.adminForm(sc, "/admin/orders/"+b+"/fulfil", url.Values{"carrier": {"DHL"}, "tracking_number": {"JD0001"}}); st != 303 {
			t.Fatalf("fulfil from the page: %d", st)
		}
		if st, _, _ := s.adminForm(sc, "/admin/orders/"+b+"/deliver", nil); st != 303 {
			t.Fatalf("deliver from the page: %d", st)
		}
		if got := s.adminOrder(manager, b); got.Status != "delivered" || len(got.Shipments) != 1 || got.Shipments[0].Carrier != "DHL" {
			t.Errorf("after the pages: %+v", got)
		}
		if n := s.count("SELECT count(*) FROM audit_log WHERE action IN ('order.fulfil', 'order.deliver') AND subject = $1 AND actor_kind = 'staff'", "order:"+b); n != 2 {
			t.Errorf("%d audit entries for the page actions", n)
		}
	})
}

func TestReturnsFromTheOrderPage(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		number, token, _ := s.paidOrder(2)
		page := "/us/orders/" + number
		ask := url.Values{"token": {token}, "qty_0": {"1"}, "reason": {"Too <b>big</b>"}}
		// Not shipped yet: no form, and a request is refused.
		if st, body, _ := s.do("GET", page+"?token="+url.QueryEscape(token), ""); st != 200 || strings.Contains(body, "Request a return") {
			t.Errorf("order page before shipping: %d", st)
		}
		if st, _, _ := s.adminForm(nil, page+"/returns", ask); st != 409 {
			t.Errorf("return before shipping: %d", st)
		}
		manager := s.adminKey("manager")
		if st, body, _ := s.do("POST", "/api/v1/admin/orders/"+number+"/fulfilments", `{"carrier":"UPS","tracking_number":"1Z"}`, bearer(manager)...); st != 201 {
			t.Fatalf("fulfil: %d %s", st, body)
		}
		if st, body, _ := s.do("GET", page+"?token="+url.QueryEscape(token), ""); st != 200 || !strings.Contains(body, "Request a return") {
			t.Errorf("order page after shipping: %d", st)
		}
		// A wrong token is not the order's holder.
		bad := url.Values{"token": {"nope"}, "qty_0": {"1"}, "reason": {"x"}}
		if st, _, _ := s.adminForm(nil, page+"/returns", bad); st != 404 {
			t.Errorf("return with a wrong token: %d", st)
		}
		tooMany := url.Values{"token": {token}, "qty_0": {"3"}, "reason": {"x"}}
		if st, body, _ := s.adminForm(nil, page+"/returns", tooMany); st != 422 || !strings.Contains(body, "can be returned") ||
			!strings.Contains(body, `name="qty_0" type="number" inputmode="numeric" min="0" max="2" value="3"`) {
			t.Errorf("three of two: %d, or the quantity typed is lost", st)
		}
		st, _, hdr := s.adminForm(nil, page+"/returns", ask)
		if st != 303 {
			t.Fatalf("request a return: %d", st)
		}
		if st, body, _ := s.do("GET", hdr.Get("Location"), ""); st != 200 || !strings.Contains(body, "Return #") || !strings.Contains(body, "waiting for our answer") {
			t.Errorf("order page after the request: %d", st)
		}
		got := s.adminOrder(manager, number)
		if len(got.Returns) != 1 || got.Returns[0].Status != "requested" {
			t.Fatalf("returns: %+v", got.Returns)
		}
		rbase := fmt.Sprintf("/api/v1/admin/orders/%s/returns/%d", number, got.Returns[0].ID)
		// Staff see it through; the reason shows escaped on their page.
		sc := s.adminCookie("support")
		if st, body, _ := s.adminGet(sc, "/admin/orders/"+number); st != 200 || strings.Contains(body, "Too <b>big</b>") || !strings.Contains(body, "Too &lt;b&gt;big&lt;/b&gt;") {
			t.Errorf("admin page shows the reason unescaped: %d", st)
		}
		if st, _, _ := s.adminForm(sc, fmt.Sprintf("/admin/orders/%s/returns/%d/approve", number, got.Returns[0].ID), nil); st != 303 {
			t.Errorf("approve from the page: %d", st)
		}
		if st, body, _ := s.do("POST", rbase+"/receive", `{}`, bearer(manager)...); st != 422 {
			t.Errorf("receive without saying restock: %d %s", st, body)
		}
		onHand := s.count("SELECT sum(on_hand) FROM stock WHERE sku = 'MB8-BLK'")
		if st, body, _ := s.do("POST", rbase+"/receive", `{"restock":true}`, bearer(manager)...); st != 200 || !strings.Contains(body, `"status":"received"`) {
			t.Errorf("receive: %d %s", st, body)
		}
		if n := s.count("SELECT sum(on_hand) FROM stock WHERE sku = 'MB8-BLK'"); n != onHand+1 {
			t.Errorf("restock: on hand %d then %d", onHand, n)
		}
		if st, body, _ := s.adminGet(sc, "/admin/orders/"+number); st != 200 || !strings.Contains(body, fmt.Sprintf("/returns/%d/refund", got.Returns[0].ID)) {
			t.Errorf("admin page of a received return: %d, no refund form", st)
		}
		st, body, _ := s.do("POST", rbase+"/refund", ``, bearer(manager)...)
		if st != 201 || !strings.Contains(body, `"status":"refunded"`) || !strings.Contains(body, `"refund":{`) {
			t.Fatalf("refund the return: %d %s", st, body)
		}
		if st, body, _ := s.do("POST", rbase+"/refund", ``, bearer(manager)...); st != 409 {
			t.Errorf("refund the return twice: %d %s", st, body)
		}
		s.runJobs()
		got = s.adminOrder(manager, number)
		if got.Status != "partially_refunded" || got.Refunded.Amount == 0 || got.Refunds[0].Status != "succeeded" {
			t.Errorf("after the return: %+v", got)
		}
		for _, a := range []string{"return.approve", "return.receive", "return.refund"} {
			if n := s.count("SELECT count(*) FROM audit_log WHERE action = $1 AND subject = $2", a, "order:"+number); n != 1 {
				t.Errorf("%d %s audit entries", n, a)
			}
		}
	})
}
