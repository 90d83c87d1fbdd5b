package web_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// TestWebhooksFollowFulfilmentAndRefunds: staff shipping and refunding an
// order reach a subscribed endpoint as order.fulfilled and order.refunded,
// the refund with its amount and the order's status after it.
func TestWebhooksFollowFulfilmentAndRefunds(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		s.registerWebhooks()
		sink := newHookSink(t)
		owner, support := s.adminKey("owner"), s.adminKey("support")
		if st, b, _ := s.do("POST", "/api/v1/admin/webhooks", `{"url":"`+sink.srv.URL+`/in","events":["order.fulfilled","order.refunded"]}`, bearer(owner)...); st != http.StatusCreated {
			t.Fatalf("create endpoint: %d %s", st, b)
		}
		id, tok := s.cartWith("MB8-BLK", 1)
		o := s.checkout(id, tok)
		if st, _ := s.pay(o.Payment.RedirectURL, "4242 4242 4242 4242"); st != http.StatusSeeOther {
			t.Fatalf("pay: %d", st)
		}
		s.runJobs()
		if st, b, _ := s.do("POST", "/api/v1/admin/orders/"+o.Number+"/fulfilments", `{"carrier":"UPS","tracking_number":"1Z999"}`, bearer(support)...); st != http.StatusCreated && st != http.StatusOK {
			t.Fatalf("fulfil: %d %s", st, b)
		}
		refund := `{"amount":{"amount":500,"currency":"USD"},"reason":"scratched box"}`
		if st, b, _ := s.do("POST", "/api/v1/admin/orders/"+o.Number+"/refunds", refund, bearer(support)...); st != http.StatusCreated && st != http.StatusAccepted && st != http.StatusOK {
			t.Fatalf("refund: %d %s", st, b)
		}
		s.runJobs()
		sink.mu.Lock()
		got := sink.got
		sink.mu.Unlock()
		if len(got) != 2 || got[0].Event != "order.fulfilled" || got[1].Event != "order.refunded" {
			t.Fatalf("received %+v", got)
		}
		var data struct {
			Number string
			Status string
			Refund struct {
				Amount   int64
				Currency string
			}
			RefundedAmount struct{ Amount int64 } `json:"refunded_amount"`
		}
		if err := json.Unmarshal(got[1].Data, &data); err != nil {
			t.Fatal(err)
		}
		if data.Number != o.Number || data.Refund.Amount != 500 || data.Refund.Currency != "USD" || data.RefundedAmount.Amount != 500 {
			t.Errorf("order.refunded data %s", got[1].Data)
		}
	})
}
