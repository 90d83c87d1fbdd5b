package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"mistore/internal/notify"
	"mistore/internal/staff"
)

// adminWebhookRoutes registers the outbound webhooks. They need
// PermManageAPIKeys, which only owners hold: an endpoint receives
// customers' names, emails and addresses, so registering one is as
// sensitive as making an API key.
func (s *Server) adminWebhookRoutes(a *adminRouter) {
	perm := staff.PermManageAPIKeys
	a.page("GET /admin/webhooks", perm, s.adminWebhooksPage)
	a.page("POST /admin/webhooks", perm, s.adminWebhookCreate)
	a.page("POST /admin/webhooks/{id}/delete", perm, s.adminWebhookDelete)
	a.page("GET /admin/webhooks/{id}", perm, s.adminWebhookPage)
	a.page("POST /admin/webhooks/deliveries/{id}/resend", perm, s.adminWebhookResend)

	idParam := paramDoc{name: "id", in: "path", typ: "integer", desc: "Id.", required: true}
	a.api("POST /api/v1/admin/webhooks", perm, s.apiAdminWebhookCreate, opDoc{
		summary: "Register an endpoint (https; http only to localhost or 127.0.0.1) for some of the events " +
			strings.Join(notify.WebhookEvents, ", ") + ". The signing secret is in this answer only.",
		request: "WebhookCreateRequest", response: "NewWebhook", status: http.StatusCreated,
	})
	a.api("GET /api/v1/admin/webhooks", perm, s.apiAdminWebhookList, opDoc{
		summary: "The registered endpoints (never their secrets).", response: "WebhookList",
	})
	a.api("DELETE /api/v1/admin/webhooks/{id}", perm, s.apiAdminWebhookDelete, opDoc{
		summary: "Delete an endpoint: it gets no more events; its pending deliveries fail; its log stays.",
		status:  http.StatusNoContent, params: []paramDoc{idParam},
	})
	a.api("GET /api/v1/admin/webhooks/{id}/deliveries", perm, s.apiAdminWebhookDeliveries, opDoc{
		summary:  "An endpoint's newest deliveries (up to 100), newest first: state, attempts, last status and error.",
		response: "WebhookDeliveryList", params: []paramDoc{idParam},
	})
	a.api("POST /api/v1/admin/webhooks/deliveries/{id}/resend", perm, s.apiAdminWebhookResend, opDoc{
		summary:  "Send a delivery again now, whatever its state, with a fresh three-day retry window.",
		response: "WebhookDelivery", status: http.StatusAccepted, params: []paramDoc{idParam},
	})
}

// webhookSchemas are the webhook bodies of the OpenAPI document.
func webhookSchemas(str, integer, ts map[string]any) map[string]any {
	events := schemaArray(map[string]any{"type": "string", "enum": notify.WebhookEvents})
	endpoint := map[string]any{"id": integer, "url": str, "events": events, "created_at": ts}
	withSecret := map[string]any{"secret": map[string]any{"type": "string",
		"description": "Verify each delivery's Mistore-Signature header (t=UNIX,v1=HEX: HMAC-SHA256 under this secret of the Unix time, a dot and the raw body). Shown only here."}}
	for k, v := range endpoint {
		withSecret[k] = v
	}
	return map[string]any{
		"WebhookCreateRequest": schemaObject([]string{"url", "events"}, map[string]any{"url": str, "events": events}),
		"Webhook":              schemaObject([]string{"id", "url", "events", "created_at"}, endpoint),
		"NewWebhook":           schemaObject([]string{"id", "url", "events", "created_at", "secret"}, withSecret),
		"WebhookList":          schemaObject([]string{"webhooks"}, map[string]any{"webhooks": schemaArray(schemaRef("Webhook"))}),
		"WebhookDelivery": schemaObject([]string{"id", "endpoint_id", "event_id", "event", "state", "attempts", "last_status", "last_error", "created_at"}, map[string]any{
			"id": integer, "endpoint_id": integer, "event_id": str, "event": str,
			"state":       map[string]any{"type": "string", "enum": []string{"pending", "delivered", "failed"}},
			"attempts":    integer,
			"last_status": map[string]any{"type": "integer", "description": "HTTP status of the latest attempt; 0 when none came."},
			"last_error":  str, "created_at": ts, "last_attempt_at": ts, "next_attempt_at": ts, "delivered_at": ts,
		}),
		"WebhookDeliveryList": schemaObject([]string{"deliveries"}, map[string]any{"deliveries": schemaArray(schemaRef("WebhookDelivery"))}),
	}
}

// webhookFieldError names the field a webhook validation error is about.
func webhookFieldError(err error) error {
	switch {
	case errors.Is(err, notify.ErrWebhookURL):
		return badField("url", "The URL must start with https:// (http:// only to localhost or 127.0.0.1).")
	case errors.Is(err, notify.ErrWebhookEvents):
		return badField("events", "Choose one or more of: "+strings.Join(notify.WebhookEvents, ", ")+".")
	}
	return err
}

// newWebhook is the answer to a creation: the endpoint and, this once,
// its secret.
type newWebhook struct {
	notify.Endpoint
	Secret string `json:"secret"`
}

type webhookCreateBody struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
}

func (s *Server) apiAdminWebhookCreate(w http.ResponseWriter, r *http.Request) {
	var body webhookCreateBody
	if err := decodeJSON(r, &body); err != nil {
		s.apiFail(w, r, err)
		return
	}
	ep, secret, err := notify.CreateEndpoint(r.Context(), s.db, body.URL, body.Events)
	if err != nil {
		s.apiFail(w, r, webhookFieldError(err))
		return
	}
	s.writeJSON(w, r, http.StatusCreated, newWebhook{Endpoint: ep, Secret: secret})
}

func (s *Server) apiAdminWebhookList(w http.ResponseWriter, r *http.Request) {
	eps, err := notify.Endpoints(r.Context(), s.db.Reader())
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"webhooks": eps})
}

func (s *Server) apiAdminWebhookDelete(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		err = notify.DeleteEndpoint(r.Context(), s.db, id)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiAdminWebhookDeliveries(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	dls, err := notify.Deliveries(r.Context(), s.db.Reader(), id, 100)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"deliveries": dls})
}

func (s *Server) apiAdminWebhookResend(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	dl, err := notify.Resend(r.Context(), s.db, id)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.jobs.Notify()
	s.writeJSON(w, r, http.StatusAccepted, dl)
}

// Pages.

// adminWebhooksContent is the webhooks page's content.
type adminWebhooksContent struct {
	Endpoints []notify.Endpoint
	Events    []string
	// NewSecret is the secret of the endpoint just made, shown this once.
	NewSecret string
	NewID     int64
	Error     string
	URL       string
	Checked   map[string]bool
}

func (s *Server) adminWebhooksPage(w http.ResponseWriter, r *http.Request) {
	s.renderWebhooksPage(w, r, http.StatusOK, adminWebhooksContent{})
}

func (s *Server) renderWebhooksPage(w http.ResponseWriter, r *http.Request, status int, c adminWebhooksContent) {
	eps, err := notify.Endpoints(r.Context(), s.db.Reader())
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	c.Endpoints, c.Events = eps, notify.WebhookEvents
	if c.Checked == nil {
		c.Checked = map[string]bool{}
	}
	s.renderAdmin(w, r, status, "admin_webhooks", "webhooks", "Webhooks", c)
}

func (s *Server) adminWebhookCreate(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.adminFail(w, r, badParam("form", "the form could not be read"))
		return
	}
	url, events := strings.TrimSpace(r.PostForm.Get("url")), r.PostForm["events"]
	ep, secret, err := notify.CreateEndpoint(r.Context(), s.db, url, events)
	if err != nil {
		status, body := classify(webhookFieldError(err))
		if status >= 500 {
			s.adminFail(w, r, err)
			return
		}
		checked := map[string]bool{}
		for _, e := range events {
			checked[e] = true
		}
		s.renderWebhooksPage(w, r, status, adminWebhooksContent{Error: body.Message, URL: url, Checked: checked})
		return
	}
	// Like an API key, the secret is in this answer only: no redirect, so
	// it never sits in a URL or a flash cookie.
	s.renderWebhooksPage(w, r, http.StatusCreated, adminWebhooksContent{NewSecret: secret, NewID: ep.ID})
}

func (s *Server) adminWebhookDelete(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		err = notify.DeleteEndpoint(r.Context(), s.db, id)
	}
	if err != nil {
		s.adminFormFail(w, r, err, "/admin/webhooks")
		return
	}
	s.adminRedirect(w, r, "/admin/webhooks", "Endpoint deleted: it gets no more events.")
}

// adminWebhookContent is one endpoint's page: its delivery log.
type adminWebhookContent struct {
	Endpoint   notify.Endpoint
	Deliveries []notify.Delivery
	Now        time.Time
}

func (s *Server) adminWebhookPage(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	ep, err := notify.GetEndpoint(r.Context(), s.db.Reader(), id)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	dls, err := notify.Deliveries(r.Context(), s.db.Reader(), id, 100)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	s.renderAdmin(w, r, http.StatusOK, "admin_webhook", "webhooks", "Webhook "+strconv.FormatInt(id, 10),
		adminWebhookContent{Endpoint: ep, Deliveries: dls, Now: time.Now()})
}

func (s *Server) adminWebhookResend(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	var dl notify.Delivery
	if err == nil {
		dl, err = notify.Resend(r.Context(), s.db, id)
	}
	if err != nil {
		s.adminFormFail(w, r, err, "/admin/webhooks")
		return
	}
	s.jobs.Notify()
	s.adminRedirect(w, r, "/admin/webhooks/"+strconv.FormatInt(dl.EndpointID, 10), "Delivery "+strconv.FormatInt(id, 10)+" will be sent again now.")
}
