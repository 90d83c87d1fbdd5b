package web_test

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/notify"
)

// hookSink is an httptest webhook endpoint recording what it receives.
type hookSink struct {
	mu   sync.Mutex
	srv  *httptest.Server
	got  []notify.WebhookBody
	raw  [][]byte
	sigs []string
}

func newHookSink(t *testing.T) *hookSink {
	h := &hookSink{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body notify.WebhookBody
		json.Unmarshal(b, &body)
		h.mu.Lock()
		h.got, h.raw, h.sigs = append(h.got, body), append(h.raw, b), append(h.sigs, r.Header.Get("Mistore-Signature"))
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// registerWebhooks makes the shop's runner deliver webhooks, as serve
// does.
func (s *shop) registerWebhooks() { notify.NewWebhooks(s.d, nil).Register(s.runner) }

func TestAdminWebhooksAPI(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		s.registerWebhooks()
		sink := newHookSink(t)
		owner, viewer, manager := s.adminKey("owner"), s.adminKey("viewer"), s.adminKey("manager")
		body := `{"url":"` + sink.srv.URL + `/in","events":["order.placed","order.paid"]}`

		// Endpoints get customers' data: only owners manage them.
		for _, key := range []string{viewer, manager} {
			if st, b, _ := s.do("POST", "/api/v1/admin/webhooks", body, bearer(key)...); st != http.StatusForbidden {
				t.Errorf("a non-owner registered a webhook: %d %s", st, b)
			}
			if st, _, _ := s.do("DELETE", "/api/v1/admin/webhooks/1", "", bearer(key)...); st != http.StatusForbidden {
				t.Errorf("a non-owner deleted a webhook: %d", st)
			}
			if st, _, _ := s.do("POST", "/api/v1/admin/webhooks/deliveries/1/resend", "", bearer(key)...); st != http.StatusForbidden {
				t.Errorf("a non-owner resent a delivery: %d", st)
			}
		}
		if st, _, _ := s.do("GET", "/api/v1/admin/webhooks", ""); st != http.StatusUnauthorized {
			t.Errorf("anonymous list: %d", st)
		}
		for _, bad := range []string{
			`{"url":"javascript:alert(1)","events":["order.paid"]}`,
			`{"url":"ftp://example.com/x","events":["order.paid"]}`,
			`{"url":"http://example.com/x","events":["order.paid"]}`,
		} {
			st, b, _ := s.do("POST", "/api/v1/admin/webhooks", bad, bearer(owner)...)
			if st != http.StatusUnprocessableEntity || !strings.Contains(b, `"field":"url"`) {
				t.Errorf("%s: %d %s", bad, st, b)
			}
		}
		if st, b, _ := s.do("POST", "/api/v1/admin/webhooks", `{"url":"https://example.com/x","events":["order.shipped"]}`, bearer(owner)...); st != 422 || !strings.Contains(b, `"field":"events"`) {
			t.Errorf("unknown event: %d %s", st, b)
		}

		st, b, _ := s.do("POST", "/api/v1/admin/webhooks", body, bearer(owner)...)
		if st != http.StatusCreated {
			t.Fatalf("create: %d %s", st, b)
		}
		var created struct {
			ID     int64    `json:"id"`
			URL    string   `json:"url"`
			Events []string `json:"events"`
			Secret string   `json:"secret"`
		}
		json.Unmarshal([]byte(b), &created)
		if created.ID == 0 || !strings.HasPrefix(created.Secret, "whsec_") || len(created.Events) != 2 {
			t.Fatalf("created %s", b)
		}
		_, list, _ := s.do("GET", "/api/v1/admin/webhooks", "", bearer(owner)...)
		if !strings.Contains(list, created.URL) || strings.Contains(list, created.Secret) {
			t.Errorf("list shows the secret or not the endpoint: %s", list)
		}

		// A placed and paid order reaches the endpoint, signed.
		id, tok := s.cartWith("MB8-BLK", 1)
		o := s.checkout(id, tok)
		if st, _ := s.pay(o.Payment.RedirectURL, "4242 4242 4242 4242"); st != http.StatusSeeOther {
			t.Fatalf("pay: %d", st)
		}
		s.runJobs()
		sink.mu.Lock()
		got, raw, sigs := sink.got, sink.raw, sink.sigs
		sink.mu.Unlock()
		if len(got) != 2 || got[0].Event != "order.placed" || got[1].Event != "order.paid" {
			t.Fatalf("received %+v", got)
		}
		for i := range got {
			if !notify.VerifyWebhook(created.Secret, raw[i], sigs[i], time.Now(), 5*time.Minute) {
				t.Errorf("%s: signature %q does not verify", got[i].Event, sigs[i])
			}
			var data struct {
				Number string `json:"number"`
				Status string `json:"status"`
				Total  struct{ Amount int64 }
			}
			json.Unmarshal(got[i].Data, &data)
			if data.Number != o.Number || data.Total.Amount != o.Total.Amount {
				t.Errorf("%s data %s", got[i].Event, got[i].Data)
			}
			if want := map[int]string{0: "pending_payment", 1: "paid"}[i]; data.Status != want {
				t.Errorf("%s status %q, want %q", got[i].Event, data.Status, want)
			}
		}

		// The delivery log, and a resend.
		st, b, _ = s.do("GET", "/api/v1/admin/webhooks/"+strconv.FormatInt(created.ID, 10)+"/deliveries", "", bearer(owner)...)
		var log struct {
			Deliveries []notify.Delivery `json:"deliveries"`
		}
		json.Unmarshal([]byte(b), &log)
		if st != 200 || len(log.Deliveries) != 2 || log.Deliveries[0].State != "delivered" || log.Deliveries[0].LastStatus != 200 || log.Deliveries[0].Attempts != 1 {
			t.Fatalf("deliveries: %d %s", st, b)
		}
		paid := log.Deliveries[0]
		st, b, _ = s.do("POST", "/api/v1/admin/webhooks/deliveries/"+strconv.FormatInt(paid.ID, 10)+"/resend", "", bearer(owner)...)
		if st != http.StatusAccepted || !strings.Contains(b, `"state":"pending"`) {
			t.Fatalf("resend: %d %s", st, b)
		}
		s.runJobs()
		sink.mu.Lock()
		n, last := len(sink.got), sink.got[len(sink.got)-1]
		sink.mu.Unlock()
		if n != 3 || last.ID != got[1].ID {
			t.Errorf("after a resend: %d requests, last %s", n, last.ID)
		}
		if st, _, _ := s.do("POST", "/api/v1/admin/webhooks/deliveries/99999/resend", "", bearer(owner)...); st != http.StatusNotFound {
			t.Errorf("resend of nothing: %d", st)
		}

		// Deleting stops events; the log stays; every change is audited.
		if st, _, _ := s.do("DELETE", "/api/v1/admin/webhooks/"+strconv.FormatInt(created.ID, 10), "", bearer(owner)...); st != http.StatusNoContent {
			t.Errorf("delete: %d", st)
		}
		if st, _, _ := s.do("DELETE", "/api/v1/admin/webhooks/"+strconv.FormatInt(created.ID, 10), "", bearer(owner)...); st != http.StatusNotFound {
			t.Errorf("second delete: %d", st)
		}
		if st, _, _ := s.do("GET", "/api/v1/admin/webhooks/"+strconv.FormatInt(created.ID, 10)+"/deliveries", "", bearer(owner)...); st != 200 {
			t.Errorf("log of a deleted endpoint: %d", st)
		}
		var audited int
		d.Reader().QueryRowContext(t.Context(), "SELECT count(*) FROM audit_log WHERE action IN ('webhook.create', 'webhook.delete', 'webhook.resend') AND actor_kind = 'apikey'").Scan(&audited)
		if audited != 3 {
			t.Errorf("%d audited webhook changes, want 3", audited)
		}
	})
}

func TestAdminWebhookPages(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		s.registerWebhooks()
		sink := newHookSink(t)
		owner, viewer := s.adminCookie("owner"), s.adminCookie("viewer")
		form := url.Values{"url": {sink.srv.URL}, "events": {"order.placed"}}
		if st, _, _ := s.adminForm(viewer, "/admin/webhooks", form); st != http.StatusForbidden {
			t.Errorf("viewer create page: %d", st)
		}
		if st, _, _ := s.adminGet(viewer, "/admin/webhooks"); st != http.StatusForbidden {
			t.Errorf("viewer list page: %d", st)
		}
		st, page, _ := s.adminForm(owner, "/admin/webhooks", url.Values{"url": {"ftp://x.example/"}, "events": {"order.placed"}})
		if st != http.StatusUnprocessableEntity || !strings.Contains(page, "https://") || !strings.Contains(page, `value="ftp://x.example/"`) {
			t.Errorf("bad URL page: %d", st)
		}
		st, page, _ = s.adminForm(owner, "/admin/webhooks", form)
		if st != http.StatusCreated || !strings.Contains(page, "whsec_") || !strings.Contains(page, sink.srv.URL) {
			t.Fatalf("create page: %d", st)
		}
		eps, _ := notify.Endpoints(t.Context(), d.Reader())
		epPath := "/admin/webhooks/" + strconv.FormatInt(eps[0].ID, 10)
		if st, page, _ = s.adminGet(owner, "/admin/webhooks"); st != 200 || strings.Contains(page, "whsec_") {
			t.Errorf("the list page shows a secret: %d", st)
		}
		id, tok := s.cartWith("MB8-BLK", 1)
		s.checkout(id, tok)
		s.runJobs()
		st, page, _ = s.adminGet(owner, epPath)
		if st != 200 || !strings.Contains(page, "order.placed") || !strings.Contains(page, "Delivered") || !strings.Contains(page, "HTTP 200") {
			t.Fatalf("delivery log page: %d %s", st, page)
		}
		dls, _ := notify.Deliveries(t.Context(), d.Reader(), eps[0].ID, 0)
		st, _, hdr := s.adminForm(owner, "/admin/webhooks/deliveries/"+strconv.FormatInt(dls[0].ID, 10)+"/resend", nil)
		if st != http.StatusSeeOther || hdr.Get("Location") != epPath {
			t.Errorf("resend: %d %s", st, hdr.Get("Location"))
		}
		s.runJobs()
		sink.mu.Lock()
		n := len(sink.got)
		sink.mu.Unlock()
		if n != 2 {
			t.Errorf("%d requests after a resend, want 2", n)
		}
		if st, _, _ := s.adminForm(owner, epPath+"/delete", nil); st != http.StatusSeeOther {
			t.Errorf("delete: %d", st)
		}
		if eps, _ := notify.Endpoints(t.Context(), d.Reader()); len(eps) != 0 {
			t.Errorf("endpoints after delete: %+v", eps)
		}
	})
}

func TestAdminDashboard(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		// Two paid orders and one waiting for payment.
		var total int64
		for range 2 {
			id, tok := s.cartWith("MB8-BLK", 2)
			o := s.checkout(id, tok)
			if st, _ := s.pay(o.Payment.RedirectURL, "4242 4242 4242 4242"); st != http.StatusSeeOther {
				t.Fatalf("pay: %d", st)
			}
			total += o.Total.Amount
		}
		id, tok := s.cartWith("MB8-BLK", 1)
		s.checkout(id, tok)
		s.runJobs()

		viewer := s.adminKey("viewer")
		st, b, _ := s.do("GET", "/api/v1/admin/reports/sales?days=7", "", bearer(viewer)...)
		if st != 200 {
			t.Fatalf("report: %d %s", st, b)
		}
		var rep struct {
			Days    []time.Time `json:"days"`
			Markets []struct {
				Market  string `json:"market"`
				Orders  int    `json:"orders"`
				Total   struct{ Amount int64 }
				Average struct{ Amount int64 } `json:"average_order_value"`
			} `json:"markets"`
			ByStatus []struct {
				Status string `json:"status"`
				Orders int    `json:"orders"`
			} `json:"orders_by_status"`
			TopProducts []struct {
				SKU   string `json:"sku"`
				Units int    `json:"units"`
			} `json:"top_products"`
		}
		json.Unmarshal([]byte(b), &rep)
		if len(rep.Days) != 7 || len(rep.Markets) != 1 || rep.Markets[0].Market != "us" || rep.Markets[0].Orders != 2 ||
			rep.Markets[0].Total.Amount != total || rep.Markets[0].Average.Amount != total/2 {
			t.Errorf("report %s", b)
		}
		if len(rep.TopProducts) != 1 || rep.TopProducts[0].SKU != "MB8-BLK" || rep.TopProducts[0].Units != 4 {
			t.Errorf("top products %+v", rep.TopProducts)
		}
		for _, sc := range rep.ByStatus {
			if want := map[string]int{"paid": 2, "pending_payment": 1}[sc.Status]; sc.Orders != want {
				t.Errorf("%s: %d orders, want %d", sc.Status, sc.Orders, want)
			}
		}
		for _, bad := range []string{"0", "367", "x"} {
			if st, b, _ := s.do("GET", "/api/v1/admin/reports/sales?days="+bad, "", bearer(viewer)...); st != 400 || !strings.Contains(b, `"field":"days"`) {
				t.Errorf("days=%s: %d %s", bad, st, b)
			}
		}
		if st, _, _ := s.do("GET", "/api/v1/admin/reports/sales", ""); st != http.StatusUnauthorized {
			t.Errorf("anonymous report: %d", st)
		}

		cookie := s.adminCookie("viewer")
		st, page, _ := s.adminGet(cookie, "/admin/")
		if st != 200 {
			t.Fatalf("dashboard: %d %s", st, page)
		}
		money := func(minor int64) string {
			return "$" + strconv.FormatInt(minor/100, 10) + "." + strconv.FormatInt(minor%100+100, 10)[1:]
		}
		for _, want := range []string{"Dashboard", money(total), money(total / 2), "MB8-BLK", `role="img"`, "aria-labelledby=", "Orders by status",
			"Waitlist demand", "Nobody is waiting.", "Waiting for payment"} {
			if !strings.Contains(page, want) {
				t.Errorf("dashboard lacks %q", want)
			}
		}
		// Each chart is well-formed XML with its bars.
		charts := 0
		for rest := page; ; {
			i := strings.Index(rest, "<svg xmlns")
			if i < 0 {
				break
			}
			j := strings.Index(rest[i:], "</svg>")
			svg := rest[i : i+j+len("</svg>")]
			rest = rest[i+j:]
			charts++
			dec := xml.NewDecoder(strings.NewReader(svg))
			for {
				_, err := dec.Token()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("chart %d is not well-formed: %v", charts, err)
				}
			}
			if !strings.Contains(svg, `class="bar"`) {
				t.Errorf("chart %d has no bars", charts)
			}
		}
		if charts != 2 {
			t.Errorf("%d charts, want 2 (sales in the US, orders by status)", charts)
		}
		if st, _, _ := s.adminGet(cookie, "/admin/?days=900"); st != http.StatusBadRequest {
			t.Errorf("days=900 page: %d", st)
		}
	})
}
