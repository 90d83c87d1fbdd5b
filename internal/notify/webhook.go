package notify

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"mistore/internal/audit"
	"mistore/internal/db"
	"mistore/internal/jobs"
)

// Events an endpoint can subscribe to. Each is emitted, with EmitEvent, in
// the transaction of the change it reports.
const (
	EventOrderPlaced                = "order.placed"
	EventOrderPaid                  = "order.paid"
	EventOrderFulfilled             = "order.fulfilled"
	EventOrderRefunded              = "order.refunded"
	EventOrderDisputed              = "order.disputed"
	EventProductAvailabilityChanged = "product.availability_changed"
)

// WebhookEvents lists every event an endpoint may subscribe to.
var WebhookEvents = []string{EventOrderPlaced, EventOrderPaid, EventOrderFulfilled, EventOrderRefunded, EventOrderDisputed, EventProductAvailabilityChanged}

// JobWebhook is the kind of the job that makes one attempt at delivering
// one webhook.
const JobWebhook = "webhook.deliver"

// RetryWindow is how long a delivery is retried before it is failed: long
// enough for a receiver to be down over a weekend.
const RetryWindow = 72 * time.Hour

// Outcomes of the webhook calls.
var (
	// ErrWebhookURL: the endpoint URL is not https (or plain http to this
	// machine, for development).
	ErrWebhookURL = errors.New("the webhook URL must be https (http only to localhost or 127.0.0.1), and not to a link-local, multicast or unspecified address")
	// ErrWebhookEvents: the event list is empty or names an unknown event.
	ErrWebhookEvents = errors.New("the webhook events must be a non-empty subset of the known events")
	// ErrEndpointNotFound: no such webhook endpoint (or it was deleted).
	ErrEndpointNotFound = errors.New("webhook endpoint not found")
	// ErrDeliveryNotFound: no such webhook delivery.
	ErrDeliveryNotFound = errors.New("webhook delivery not found")
)

// Endpoint is a URL that receives events.
type Endpoint struct {
	ID        int64     `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	CreatedAt time.Time `json:"created_at"`
}

// Delivery is one event sent (or being sent) to one endpoint: the
// delivery log.
type Delivery struct {
	ID         int64  `json:"id"`
	EndpointID int64  `json:"endpoint_id"`
	EventID    string `json:"event_id"`
	Event      string `json:"event"`
	// State is pending (waiting for an attempt), delivered (the endpoint
	// answered 2xx) or failed (retries ran out).
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
	// LastStatus is the HTTP status of the latest attempt, 0 when none or
	// when it got no answer.
	LastStatus    int        `json:"last_status"`
	LastError     string     `json:"last_error"`
	CreatedAt     time.Time  `json:"created_at"`
	LastAttemptAt *time.Time `json:"last_attempt_at"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	DeliveredAt   *time.Time `json:"delivered_at"`
	// Body is the JSON posted; filled by Delivery, not by lists.
	Body string `json:"-"`
}

// WebhookBody is the JSON every delivery posts.
type WebhookBody struct {
	// ID is the event's id, the same for every endpoint and every attempt:
	// receivers de-duplicate by it.
	ID        string          `json:"id"`
	Event     string          `json:"event"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// deliverPayload is the payload of a JobWebhook job.
type deliverPayload struct {
	DeliveryID int64 `json:"delivery_id"`
	Generation int   `json:"generation"`
	Attempt    int   `json:"attempt"`
}

func deliverKey(p deliverPayload) string {
	return "webhook:" + strconv.FormatInt(p.DeliveryID, 10) + ":" + strconv.Itoa(p.Generation) + ":" + strconv.Itoa(p.Attempt)
}

// EmitEvent reports event, with data (any value that encodes as JSON), to
// every endpoint subscribed to it: it writes one delivery each and queues
// its first attempt inside the caller's transaction tx, so a change that
// rolls back is never announced and one that commits always is. With no
// endpoint subscribed it writes nothing.
func EmitEvent(ctx context.Context, tx db.Querier, event string, data any) error {
	if !slices.Contains(WebhookEvents, event) {
		return fmt.Errorf("emit %s: unknown event", event)
	}
	eps, err := subscribers(ctx, tx, event)
	if err != nil || len(eps) == 0 {
		return err
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("emit %s: %w", event, err)
	}
	now := db.Now()
	id := randomToken("evt_", 12)
	body, err := json.Marshal(WebhookBody{ID: id, Event: event, CreatedAt: now, Data: raw})
	if err != nil {
		return fmt.Errorf("emit %s: %w", event, err)
	}
	for _, ep := range eps {
		var did int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO webhook_deliveries (endpoint_id, event_id, event, body, state, deadline, next_attempt_at, created_at, updated_at)
			VALUES ($1, $2, $3, $4, 'pending', $5, $6, $6, $6) RETURNING id`,
			ep, id, event, string(body), now.Add(RetryWindow), now).Scan(&did); err != nil {
			return fmt.Errorf("emit %s to endpoint %d: %w", event, ep, err)
		}
		p := deliverPayload{DeliveryID: did, Generation: 1, Attempt: 1}
		if err := jobs.Enqueue(ctx, tx, JobWebhook, p, jobs.Options{UniqueKey: deliverKey(p), MaxAttempts: 3}); err != nil {
			return fmt.Errorf("emit %s: %w", event, err)
		}
	}
	return nil
}

// subscribers returns the ids of the live endpoints subscribed to event.
func subscribers(ctx context.Context, q db.Querier, event string) ([]int64, error) {
	rows, err := q.QueryContext(ctx, "SELECT id, events FROM webhook_endpoints WHERE deleted_at IS NULL ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("webhook endpoints: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		var events string
		if err := rows.Scan(&id, &events); err != nil {
			return nil, fmt.Errorf("webhook endpoints: %w", err)
		}
		if slices.Contains(strings.Fields(events), event) {
			out = append(out, id)
		}
	}
	return out, rows.Err()
}

func randomToken(prefix string, n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// CheckWebhookURL validates an endpoint URL: absolute https, or http to
// localhost or 127.0.0.1 for development; no user info, since a password
// in a URL ends up in logs.
func CheckWebhookURL(raw string) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || u.User != nil || u.Opaque != "" || len(raw) > 2000 {
		return ErrWebhookURL
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && unreachableAddr(ip) {
		return ErrWebhookURL
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if h := u.Hostname(); h == "localhost" || h == "127.0.0.1" {
			return nil
		}
	}
	return ErrWebhookURL
}

// unreachableAddr reports whether the store refuses to send webhooks to
// ip: link-local addresses (among them the cloud metadata services at
// 169.254.169.254 and fd00:ec2::254, which hand out credentials to any
// process that asks), multicast and unspecified ones. An owner registers
// endpoints, but a webhook must not be a way to make the store's server
// fetch from its own host's private services. Private and loopback
// addresses stay allowed: an integration on the shop's own network is a
// normal thing to send to.
func unreachableAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() ||
		ip.IsUnspecified() || ip == awsMetadataV6
}

// awsMetadataV6 is the IPv6 address of EC2's instance metadata service.
var awsMetadataV6 = netip.MustParseAddr("fd00:ec2::254")

// checkEvents validates and normalises a subscription: known events, each
// once, in the canonical order.
func checkEvents(events []string) ([]string, error) {
	if len(events) == 0 {
		return nil, ErrWebhookEvents
	}
	var out []string
	for _, e := range WebhookEvents {
		if slices.Contains(events, e) {
			out = append(out, e)
		}
	}
	for _, e := range events {
		if !slices.Contains(WebhookEvents, e) {
			return nil, fmt.Errorf("%w: %q", ErrWebhookEvents, e)
		}
	}
	return out, nil
}

// endpointAudit is what the audit log keeps of an endpoint: never its
// secret.
type endpointAudit struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
}

// CreateEndpoint registers an endpoint for events and returns it with its
// signing secret, which is shown to the caller this once. The actor in
// ctx is audited as webhook.create.
func CreateEndpoint(ctx context.Context, d *db.DB, rawURL string, events []string) (Endpoint, string, error) {
	if err := CheckWebhookURL(rawURL); err != nil {
		return Endpoint{}, "", err
	}
	evs, err := checkEvents(events)
	if err != nil {
		return Endpoint{}, "", err
	}
	ep := Endpoint{URL: strings.TrimSpace(rawURL), Events: evs, CreatedAt: db.Now()}
	secret := randomToken("whsec_", 24)
	err = d.Tx(ctx, func(tx db.Querier) error {
		if err := tx.QueryRowContext(ctx, `INSERT INTO webhook_endpoints (url, events, secret, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
			ep.URL, strings.Join(evs, " "), secret, ep.CreatedAt).Scan(&ep.ID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "webhook.create", endpointSubject(ep.ID), nil, endpointAudit{ep.URL, ep.Events})
	})
	if err != nil {
		return Endpoint{}, "", fmt.Errorf("create webhook endpoint: %w", err)
	}
	return ep, secret, nil
}

func endpointSubject(id int64) string { return "webhook:" + strconv.FormatInt(id, 10) }

// Endpoints lists the live endpoints, oldest first.
func Endpoints(ctx context.Context, q db.Querier) ([]Endpoint, error) {
	rows, err := q.QueryContext(ctx, "SELECT id, url, events, created_at FROM webhook_endpoints WHERE deleted_at IS NULL ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("webhook endpoints: %w", err)
	}
	defer rows.Close()
	out := []Endpoint{}
	for rows.Next() {
		var ep Endpoint
		var events string
		if err := rows.Scan(&ep.ID, &ep.URL, &events, &ep.CreatedAt); err != nil {
			return nil, fmt.Errorf("webhook endpoints: %w", err)
		}
		ep.Events, ep.CreatedAt = strings.Fields(events), ep.CreatedAt.UTC()
		out = append(out, ep)
	}
	return out, rows.Err()
}

// GetEndpoint returns a live endpoint.
func GetEndpoint(ctx context.Context, q db.Querier, id int64) (Endpoint, error) {
	var ep Endpoint
	var events string
	err := q.QueryRowContext(ctx, "SELECT id, url, events, created_at FROM webhook_endpoints WHERE id = $1 AND deleted_at IS NULL", id).
		Scan(&ep.ID, &ep.URL, &events, &ep.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return Endpoint{}, ErrEndpointNotFound
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("webhook endpoint %d: %w", id, err)
	}
	ep.Events, ep.CreatedAt = strings.Fields(events), ep.CreatedAt.UTC()
	return ep, nil
}

// DeleteEndpoint stops an endpoint: it gets no new events, its pending
// deliveries fail at their next attempt, and its log stays. Audited as
// webhook.delete.
func DeleteEndpoint(ctx context.Context, d *db.DB, id int64) error {
	err := d.Tx(ctx, func(tx db.Querier) error {
		ep, err := GetEndpoint(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE webhook_endpoints SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL", id, db.Now()); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "webhook.delete", endpointSubject(id), endpointAudit{ep.URL, ep.Events}, nil)
	})
	if err != nil {
		return fmt.Errorf("delete webhook endpoint %d: %w", id, err)
	}
	return nil
}

const deliveryColumns = `id, endpoint_id, event_id, event, state, attempts, last_status, last_error, created_at,
	last_attempt_at, next_attempt_at, delivered_at`

func scanDelivery(row interface{ Scan(...any) error }, extra ...any) (Delivery, error) {
	var dl Delivery
	var last, next, delivered sql.NullTime
	dest := append([]any{&dl.ID, &dl.EndpointID, &dl.EventID, &dl.Event, &dl.State, &dl.Attempts, &dl.LastStatus, &dl.LastError,
		&dl.CreatedAt, &last, &next, &delivered}, extra...)
	if err := row.Scan(dest...); err != nil {
		return Delivery{}, err
	}
	dl.CreatedAt = dl.CreatedAt.UTC()
	opt := func(t sql.NullTime) *time.Time {
		if !t.Valid {
			return nil
		}
		u := t.Time.UTC()
		return &u
	}
	dl.LastAttemptAt, dl.NextAttemptAt, dl.DeliveredAt = opt(last), opt(next), opt(delivered)
	if dl.State != "pending" {
		dl.NextAttemptAt = nil
	}
	return dl, nil
}

// Deliveries returns an endpoint's newest limit deliveries, newest first.
// A deleted endpoint's log is still there.
func Deliveries(ctx context.Context, q db.Querier, endpointID int64, limit int) ([]Delivery, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	var one int
	err := q.QueryRowContext(ctx, "SELECT 1 FROM webhook_endpoints WHERE id = $1", endpointID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrEndpointNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("webhook deliveries: %w", err)
	}
	rows, err := q.QueryContext(ctx, "SELECT "+deliveryColumns+" FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY id DESC LIMIT $2", endpointID, limit)
	if err != nil {
		return nil, fmt.Errorf("webhook deliveries: %w", err)
	}
	defer rows.Close()
	out := []Delivery{}
	for rows.Next() {
		dl, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("webhook deliveries: %w", err)
		}
		out = append(out, dl)
	}
	return out, rows.Err()
}

// GetDelivery returns one delivery with its body.
func GetDelivery(ctx context.Context, q db.Querier, id int64) (Delivery, error) {
	var body string
	dl, err := scanDelivery(q.QueryRowContext(ctx, "SELECT "+deliveryColumns+", body FROM webhook_deliveries WHERE id = $1", id), &body)
	if errors.Is(err, sql.ErrNoRows) {
		return Delivery{}, ErrDeliveryNotFound
	}
	if err != nil {
		return Delivery{}, fmt.Errorf("webhook delivery %d: %w", id, err)
	}
	dl.Body = body
	return dl, nil
}

// Resend sends a delivery again, whatever its state: a new attempt now and
// a fresh retry window. Whatever attempt was waiting is superseded, so
// the endpoint gets it once more, not twice. Audited as webhook.resend.
func Resend(ctx context.Context, d *db.DB, id int64) (Delivery, error) {
	err := d.Tx(ctx, func(tx db.Querier) error {
		before, err := GetDelivery(ctx, tx, id)
		if err != nil {
			return err
		}
		now := db.Now()
		var gen int
		if err := tx.QueryRowContext(ctx, `UPDATE webhook_deliveries SET state = 'pending', generation = generation + 1, deadline = $2,
				next_attempt_at = $3, updated_at = $3 WHERE id = $1 RETURNING generation`, id, now.Add(RetryWindow), now).Scan(&gen); err != nil {
			return err
		}
		p := deliverPayload{DeliveryID: id, Generation: gen, Attempt: 1}
		if err := jobs.Enqueue(ctx, tx, JobWebhook, p, jobs.Options{UniqueKey: deliverKey(p), MaxAttempts: 3}); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "webhook.resend", "webhook_delivery:"+strconv.FormatInt(id, 10),
			map[string]any{"state": before.State, "attempts": before.Attempts}, map[string]any{"state": "pending", "event_id": before.EventID})
	})
	if err != nil {
		return Delivery{}, fmt.Errorf("resend webhook delivery %d: %w", id, err)
	}
	return GetDelivery(ctx, d.Reader(), id)
}
