package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// disputeJSON is a dispute as the admin API shows it.
type disputeJSON struct {
	ProviderRef string `json:"provider_ref"`
	Status      string `json:"status"`
	Reason      string `json:"reason"`
	DueBy       string `json:"due_by"`
	Amount      struct{ Amount int64 }
}

// TestAdminDisputes follows a chargeback from the payment provider's
// webhooks to the back office: the dashboard lists it while it is open,
// the order's page and the admin API show it, and a lost one counts as
// money given back.
func TestAdminDisputes(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		s.registerWebhooks()
		sink := newHookSink(t)
		owner := s.adminKey("owner")
		if st, b, _ := s.do("POST", "/api/v1/admin/webhooks", `{"url":"`+sink.srv.URL+`/in","events":["order.disputed"]}`, bearer(owner)...); st != http.StatusCreated {
			t.Fatalf("register a webhook: %d %s", st, b)
		}
		ctx := context.Background()
		number, _, total := s.paidOrder(1)
		var session string
		if err := d.Read.QueryRow("SELECT payment_session FROM orders WHERE number = $1", number).Scan(&session); err != nil {
			t.Fatal(err)
		}
		id, err := s.testPay.OpenDispute(ctx, session, "product not received")
		if err != nil {
			t.Fatal(err)
		}
		s.runJobs() // the provider's webhook, over HTTP

		support := s.adminKey("support")
		disputes := func() []disputeJSON {
			t.Helper()
			st, body, _ := s.do("GET", "/api/v1/admin/orders/"+number, "", bearer(support)...)
			if st != http.StatusOK {
				t.Fatalf("admin order: %d %s", st, body)
			}
			var o struct {
				Disputes []disputeJSON `json:"disputes"`
			}
			if err := json.Unmarshal([]byte(body), &o); err != nil {
				t.Fatal(err)
			}
			return o.Disputes
		}
		if got := disputes(); len(got) != 1 || got[0].ProviderRef != id || got[0].Status != "open" || got[0].Reason != "product not received" ||
			got[0].DueBy == "" || got[0].Amount.Amount != total {
			t.Fatalf("disputes after the opening: %+v", got)
		}
		cookie := s.adminCookie("viewer")
		if st, page, _ := s.adminGet(cookie, "/admin/"); st != http.StatusOK || !strings.Contains(page, "Payment disputes to answer") ||
			!strings.Contains(page, `href="/admin/orders/`+number+`"`) {
			t.Errorf("the dashboard does not list the open dispute: %d", st)
		}
		if st, page, _ := s.adminGet(cookie, "/admin/orders/"+number); st != http.StatusOK || !strings.Contains(page, "dispute-open") || !strings.Contains(page, id) {
			t.Errorf("the order page does not show the open dispute: %d", st)
		}

		// Lost: the money went back to the customer.
		if err := s.testPay.CloseDispute(ctx, session, id, false); err != nil {
			t.Fatal(err)
		}
		s.runJobs()
		if got := disputes(); len(got) != 1 || got[0].Status != "lost" {
			t.Errorf("disputes after losing: %+v", got)
		}
		if o := s.adminOrder(support, number); o.Status != "refunded" || o.Refunded.Amount != total {
			t.Errorf("after losing the dispute the order is %s, %d refunded of %d", o.Status, o.Refunded.Amount, total)
		}
		if st, page, _ := s.adminGet(cookie, "/admin/"); st != http.StatusOK || strings.Contains(page, "Payment disputes to answer") {
			t.Errorf("the dashboard still lists a dispute that ended: %d", st)
		}

		// The integrations heard of the opening and of the loss.
		s.runJobs()
		sink.mu.Lock()
		raw := sink.raw
		sink.mu.Unlock()
		var statuses []string
		for _, b := range raw {
			var body struct {
				Event string `json:"event"`
				Data  struct {
					Number  string `json:"number"`
					Dispute struct {
						Dispute string `json:"dispute"`
						Status  string `json:"status"`
					} `json:"dispute"`
				} `json:"data"`
			}
			if err := json.Unmarshal(b, &body); err != nil || body.Event != "order.disputed" || body.Data.Number != number || body.Data.Dispute.Dispute != id {
				t.Errorf("webhook %s (%v)", b, err)
			}
			statuses = append(statuses, body.Data.Dispute.Status)
		}
		if strings.Join(statuses, " ") != "open lost" {
			t.Errorf("order.disputed webhooks said %v, want open then lost", statuses)
		}
	})
}
