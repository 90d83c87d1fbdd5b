package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"mistore/internal/jobs"
	"mistore/internal/staff"
)

// adminJobRoutes registers the background work: what waits and what
// failed for good, for anyone who sees orders (a failed job is most often
// an order's refund, email or payment event), and retrying or dismissing a
// failure for those who hold PermRetryJobs.
func (s *Server) adminJobRoutes(a *adminRouter) {
	a.page("GET /admin/jobs", staff.PermViewOrders, s.adminJobsPage)
	a.page("POST /admin/jobs/{id}/retry", staff.PermRetryJobs, s.adminJobRetry)
	a.page("POST /admin/jobs/{id}/dismiss", staff.PermRetryJobs, s.adminJobDismiss)

	idParam := paramDoc{name: "id", in: "path", typ: "integer", desc: "Id of a failed job.", required: true}
	a.api("GET /api/v1/admin/jobs", staff.PermViewOrders, s.apiAdminJobs, opDoc{
		summary: "Background work: per kind, the jobs waiting and failed (with when the longest-waiting was due), " +
			"and the latest 100 jobs to fail for good, their last error and payload.",
		response: "JobReport",
	})
	a.api("POST /api/v1/admin/jobs/{id}/retry", staff.PermRetryJobs, s.apiAdminJobRetry, opDoc{
		summary: "Queue a failed job again, due now, with all its attempts before it. Jobs are idempotent " +
			"(a refund carries its idempotency key to the provider), so work done before the failure is not done twice.",
		response: "Job", status: http.StatusAccepted, params: []paramDoc{idParam},
	})
	a.api("DELETE /api/v1/admin/jobs/{id}", staff.PermRetryJobs, s.apiAdminJobDismiss, opDoc{
		summary: "Dismiss a failed job, for work settled another way; the audit log keeps it (job.dismiss).",
		status:  http.StatusNoContent, params: []paramDoc{idParam},
	})
}

// jobSchemas are the OpenAPI schemas of the background work.
func jobSchemas(str, integer, ts map[string]any) map[string]any {
	job := schemaObject([]string{"id", "kind", "attempts", "last_error", "payload", "created_at", "failed_at"}, map[string]any{
		"id": integer, "kind": str, "attempts": integer, "last_error": str,
		"payload":    map[string]any{"type": "object", "description": "What the job was given: an order's number, an email's id..."},
		"created_at": ts, "failed_at": ts,
	})
	return map[string]any{
		"Job": job,
		"JobReport": schemaObject([]string{"kinds", "failed"}, map[string]any{
			"kinds": schemaArray(schemaObject([]string{"kind", "waiting", "failed"}, map[string]any{
				"kind": str, "waiting": integer, "failed": integer, "oldest_due": ts,
			})),
			"failed": schemaArray(schemaRef("Job")),
		}),
	}
}

// maxFailedJobs bounds the failures a page or an answer lists.
const maxFailedJobs = 100

// jobKindText says what each kind of job does, for the back office.
var jobKindText = map[string]string{
	"order.refund":              "Refund through the payment provider",
	"order.confirmation":        "Order confirmation email",
	"payment.event":             "Payment provider's event",
	"email.send":                "Email",
	"webhook.deliver":           "Webhook delivery",
	"testprovider.webhook":      "Test payment provider's webhook",
	"catalog.certificate_watch": "Certificate expiry watch",
}

// jobSubject is what a job is about, with the back-office page that shows
// it; Link is empty when there is none.
type jobSubject struct {
	Label, Link string
}

// jobSubject reads what job f is about from its payload: an order, an email,
// a webhook delivery; zero when its payload names none of them.
func (s *Server) jobSubject(f jobs.Failure) jobSubject {
	var p struct {
		Number     string `json:"number"`
		EmailID    int64  `json:"email_id"`
		DeliveryID int64  `json:"delivery_id"`
		Event      struct {
			Reference string
		} `json:"event"`
	}
	if err := json.Unmarshal(f.Payload, &p); err != nil {
		return jobSubject{}
	}
	if p.Number == "" {
		p.Number = p.Event.Reference
	}
	switch {
	case p.Number != "":
		return jobSubject{"Order " + p.Number, "/admin/orders/" + url.PathEscape(p.Number)}
	case p.EmailID != 0:
		sub := jobSubject{Label: "Email " + strconv.FormatInt(p.EmailID, 10)}
		if s.outboxOn() {
			sub.Link = "/admin/outbox/" + strconv.FormatInt(p.EmailID, 10)
		}
		return sub
	case p.DeliveryID != 0:
		return jobSubject{Label: "Webhook delivery " + strconv.FormatInt(p.DeliveryID, 10)}
	}
	return jobSubject{}
}

// adminJobsContent is the background work page's content.
type adminJobsContent struct {
	Kinds  []jobs.KindCount
	Failed []adminFailedJob
	Names  map[string]string
}

type adminFailedJob struct {
	jobs.Failure
	About jobSubject
}

// jobReport reads what the jobs page and its API show: the counts per
// kind and the latest failures.
func (s *Server) jobReport(r *http.Request) ([]jobs.KindCount, []jobs.Failure, error) {
	kinds, err := jobs.Counts(r.Context(), s.db.Reader())
	if err != nil {
		return nil, nil, err
	}
	failed, err := jobs.Failures(r.Context(), s.db.Reader(), maxFailedJobs)
	if err != nil {
		return nil, nil, err
	}
	return kinds, failed, nil
}

func (s *Server) adminJobsPage(w http.ResponseWriter, r *http.Request) {
	kinds, failed, err := s.jobReport(r)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	c := adminJobsContent{Kinds: kinds, Names: jobKindText}
	for _, f := range failed {
		c.Failed = append(c.Failed, adminFailedJob{f, s.jobSubject(f)})
	}
	s.renderAdmin(w, r, http.StatusOK, "admin_jobs", "jobs", "Background jobs", c)
}

func (s *Server) adminJobRetry(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		_, err = jobs.Retry(r.Context(), s.db, id)
	}
	if err != nil {
		s.adminFormFail(w, r, err, "/admin/jobs")
		return
	}
	s.jobs.Notify()
	s.adminRedirect(w, r, "/admin/jobs", "Job "+strconv.FormatInt(id, 10)+" will run again now.")
}

func (s *Server) adminJobDismiss(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		_, err = jobs.Dismiss(r.Context(), s.db, id)
	}
	if err != nil {
		s.adminFormFail(w, r, err, "/admin/jobs")
		return
	}
	s.adminRedirect(w, r, "/admin/jobs", "Job "+strconv.FormatInt(id, 10)+" dismissed.")
}

func (s *Server) apiAdminJobs(w http.ResponseWriter, r *http.Request) {
	kinds, failed, err := s.jobReport(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"kinds": kinds, "failed": failed})
}

func (s *Server) apiAdminJobRetry(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	var f jobs.Failure
	if err == nil {
		f, err = jobs.Retry(r.Context(), s.db, id)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.jobs.Notify()
	s.writeJSON(w, r, http.StatusAccepted, f)
}

func (s *Server) apiAdminJobDismiss(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		_, err = jobs.Dismiss(r.Context(), s.db, id)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
