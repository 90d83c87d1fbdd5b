package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// TestAdminJobs follows a refund whose job failed for good (its provider
// unreachable for all its attempts) through the back office: the
// dashboard counts it, the jobs page and the API show it with its order
// and error, only those who may retry it can, and the retry makes the
// refund.
func TestAdminJobs(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		number, _, _ := s.paidOrder(1)
		owner := s.adminKey("owner")
		if st, b, _ := s.do("POST", "/api/v1/admin/orders/"+number+"/refunds", `{"amount":{"amount":500,"currency":"USD"},"reason":"scratch"}`,
			bearer(owner)...); st != http.StatusCreated {
			t.Fatalf("refund: %d %s", st, b)
		}
		// Every attempt failed: the runner's own outcome after the last.
		if _, err := d.Write.Exec(`UPDATE jobs SET state = 'failed', attempts = 20, last_error = 'provider unreachable: dial tcp: i/o timeout'
			WHERE kind = 'order.refund'`); err != nil {
			t.Fatal(err)
		}
		var id int64
		if err := d.Read.QueryRow(`SELECT id FROM jobs WHERE kind = 'order.refund'`).Scan(&id); err != nil {
			t.Fatal(err)
		}
		retryPath := fmt.Sprintf("/admin/jobs/%d/retry", id)

		viewer := s.adminCookie("viewer")
		if st, page, _ := s.adminGet(viewer, "/admin/"); st != http.StatusOK || !strings.Contains(page, "Background jobs failed") ||
			!strings.Contains(page, `href="/admin/jobs"`) {
			t.Errorf("the dashboard does not say a job failed: %d", st)
		}
		st, page, _ := s.adminGet(viewer, "/admin/jobs")
		if st != http.StatusOK || !strings.Contains(page, `href="/admin/orders/`+number+`"`) || !strings.Contains(page, "provider unreachable: dial tcp") ||
			!strings.Contains(page, "Refund through the payment provider") {
			t.Errorf("the jobs page: %d\n%s", st, page)
		}
		if strings.Contains(page, retryPath) {
			t.Error("a viewer is offered a retry")
		}
		for _, role := range []string{"viewer", "support"} {
			if st, _, _ := s.adminForm(s.adminCookie(role), retryPath, nil); st != http.StatusForbidden {
				t.Errorf("%s retried a job: %d, want 403", role, st)
			}
		}

		support := s.adminKey("support")
		st, body, _ := s.do("GET", "/api/v1/admin/jobs", "", bearer(support)...)
		var rep struct {
			Kinds []struct {
				Kind   string `json:"kind"`
				Failed int    `json:"failed"`
			} `json:"kinds"`
			Failed []struct {
				ID        int64           `json:"id"`
				Kind      string          `json:"kind"`
				Attempts  int             `json:"attempts"`
				LastError string          `json:"last_error"`
				Payload   json.RawMessage `json:"payload"`
			} `json:"failed"`
		}
		if st != http.StatusOK {
			t.Fatalf("GET jobs: %d %s", st, body)
		}
		if err := json.Unmarshal([]byte(body), &rep); err != nil {
			t.Fatal(err)
		}
		if len(rep.Failed) != 1 || rep.Failed[0].ID != id || rep.Failed[0].Kind != "order.refund" || rep.Failed[0].Attempts != 20 ||
			!strings.Contains(string(rep.Failed[0].Payload), number) {
			t.Errorf("failed jobs: %s", body)
		}
		if st, _, _ := s.do("DELETE", fmt.Sprintf("/api/v1/admin/jobs/%d", id), "", bearer(support)...); st != http.StatusForbidden {
			t.Errorf("support dismissed a job: %d, want 403", st)
		}
		if got := s.adminOrder(owner, number); len(got.Refunds) != 1 || got.Refunds[0].Status != "pending" {
			t.Fatalf("refunds before the retry: %+v", got.Refunds)
		}

		// A manager retries it; the refund is made.
		manager := s.adminCookie("manager")
		if st, _, hdr := s.adminForm(manager, retryPath, nil); st != http.StatusSeeOther || hdr.Get("Location") != "/admin/jobs" {
			t.Fatalf("retry: %d %v", st, hdr)
		}
		s.runJobs()
		if got := s.adminOrder(owner, number); len(got.Refunds) != 1 || got.Refunds[0].Status != "succeeded" || got.Refunded.Amount != 500 {
			t.Errorf("after the retry: %+v, %d refunded", got.Refunds, got.Refunded.Amount)
		}
		if st, page, _ := s.adminGet(viewer, "/admin/"); st != http.StatusOK || strings.Contains(page, "Background jobs failed") {
			t.Errorf("the dashboard still says a job failed: %d", st)
		}
		if n := s.count(`SELECT count(*) FROM audit_log WHERE action = 'job.retry' AND subject = $1`, fmt.Sprintf("job:%d", id)); n != 1 {
			t.Errorf("%d job.retry records, want 1", n)
		}
		// Gone: neither retried nor dismissed again.
		if st, body, _ := s.do("POST", fmt.Sprintf("/api/v1/admin/jobs/%d/retry", id), "", bearer(owner)...); st != http.StatusNotFound ||
			!strings.Contains(body, `"not_found"`) || !strings.Contains(body, "There is no failed job with that id") {
			t.Errorf("a retry of a job that ran: %d %s", st, body)
		}
		if st, _, _ := s.do("DELETE", "/api/v1/admin/jobs/abc", "", bearer(owner)...); st != http.StatusBadRequest {
			t.Errorf("DELETE a job by a bad id: %d, want 400", st)
		}
	})
}
