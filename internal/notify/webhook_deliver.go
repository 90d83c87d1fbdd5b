package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	"mistore/internal/db"
	"mistore/internal/jobs"
	"mistore/internal/payment"
)

// WebhookSignatureHeader carries a delivery's signature, in the same form
// as the payment webhooks: "t=UNIX,v1=HEX", the HMAC-SHA256 under the
// endpoint's secret of the Unix time, a dot and the raw body.
const WebhookSignatureHeader = payment.SignatureHeader

// Webhooks delivers queued webhook deliveries from jobs.
type Webhooks struct {
	db     *db.DB
	log    *slog.Logger
	client *http.Client
	// Now is the clock that signs and schedules; time.Now by default.
	Now func() time.Time
	// Backoff is the wait before attempt n+1 after attempt n failed;
	// WebhookBackoff by default.
	Backoff func(attempt int) time.Duration
}

// NewWebhooks returns the delivery service on d.
func NewWebhooks(d *db.DB, log *slog.Logger) *Webhooks {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Webhooks{db: d, log: log, client: webhookClient(), Now: time.Now, Backoff: WebhookBackoff}
}

// webhookClient bounds every stage of a delivery, so a receiver that
// accepts the connection and never answers cannot hold a worker, and
// follows a redirect only to the same scheme and host: an endpoint must
// not be able to bounce the store's signed request elsewhere.
func webhookClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// Checked when connecting, after the name is resolved, so that a
	// name pointing at a refused address (or changing to one) gets
	// nothing either.
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: refuseUnreachable}).DialContext
	t.ResponseHeaderTimeout = 15 * time.Second
	t.TLSHandshakeTimeout = 10 * time.Second
	return &http.Client{
		Timeout:   20 * time.Second,
		Transport: t,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return http.ErrUseLastResponse
			}
			first := via[0].URL
			if req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
}

// refuseUnreachable is a dialer's Control: it refuses a connection to an
// address unreachableAddr rules out.
func refuseUnreachable(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook: connect to %s: %w", address, err)
	}
	if unreachableAddr(ap.Addr()) {
		return fmt.Errorf("webhook: %s is a link-local, multicast or unspecified address; webhooks are not sent there", ap.Addr())
	}
	return nil
}

// WebhookBackoff doubles from 30 seconds and is capped at 6 hours, which
// makes about 20 attempts over the three days a delivery is retried.
func WebhookBackoff(attempt int) time.Duration {
	d := 30 * time.Second << min(max(attempt-1, 0), 10)
	return min(d, 6*time.Hour)
}

// Register makes r deliver webhooks.
func (w *Webhooks) Register(r *jobs.Runner) { r.Handle(JobWebhook, w.HandleDeliver) }

// HandleDeliver is the JobWebhook handler: one attempt at one delivery.
// It does nothing for a delivery already delivered or failed, or resent
// since the job was queued, so a job run twice (its runner died after the
// attempt was recorded) does not deliver twice. A failed attempt queues
// the next one after Backoff, until the delivery's deadline.
//
// A crash between the endpoint's 2xx and the record of it makes the job
// run again and deliver a second time: at least once. The event id in the
// body is the same on every attempt, for receivers to de-duplicate.
func (w *Webhooks) HandleDeliver(ctx context.Context, j jobs.Job) error {
	var p deliverPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil || p.DeliveryID == 0 {
		return jobs.Permanent(fmt.Errorf("deliver webhook: bad payload %s", j.Payload))
	}
	var state, body, target, secret string
	var gen int
	var deleted sql.NullTime
	err := w.db.Reader().QueryRowContext(ctx, `SELECT d.state, d.generation, d.body, e.url, e.secret, e.deleted_at
		FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = $1`, p.DeliveryID).
		Scan(&state, &gen, &body, &target, &secret, &deleted)
	if errors.Is(err, sql.ErrNoRows) {
		return jobs.Permanent(fmt.Errorf("deliver webhook %d: %w", p.DeliveryID, ErrDeliveryNotFound))
	}
	if err != nil {
		return fmt.Errorf("deliver webhook %d: %w", p.DeliveryID, err)
	}
	if state != "pending" || gen != p.Generation {
		return nil
	}
	if deleted.Valid {
		return w.record(ctx, p, 0, "the endpoint was deleted", true)
	}
	status, perr := w.post(ctx, target, secret, []byte(body))
	if perr == nil && status/100 == 2 {
		return w.record(ctx, p, status, "", false)
	}
	msg := ""
	if perr != nil {
		msg = perr.Error()
	} else {
		msg = "the endpoint answered " + strconv.Itoa(status) + " " + http.StatusText(status)
	}
	return w.record(ctx, p, status, msg, false)
}

// post signs body now and posts it to target, returning the status, if
// any answer came.
func (w *Webhooks) post(ctx context.Context, target, secret string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Mistore-Webhooks/1")
	req.Header.Set(WebhookSignatureHeader, payment.Sign([]byte(secret), body, w.Now()))
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, errors.Unwrap(err) // the *url.Error repeats the URL, which the log shows already
	}
	// Drain a little so the connection can be reused; the answer's body
	// means nothing.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// record writes the outcome of attempt p: delivered on a 2xx (msg ""),
// else the next attempt is queued, or the delivery failed when it is past
// its deadline (or giveUp). Only the generation the attempt belongs to is
// changed.
func (w *Webhooks) record(ctx context.Context, p deliverPayload, status int, msg string, giveUp bool) error {
	now := db.Time(w.Now())
	err := w.db.Tx(ctx, func(tx db.Querier) error {
		if msg == "" {
			_, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, last_status = $3,
					last_error = '', last_attempt_at = $4, delivered_at = $4, next_attempt_at = NULL, updated_at = $4
				WHERE id = $1 AND generation = $2 AND state = 'pending'`, p.DeliveryID, p.Generation, status, now)
			return err
		}
		var deadline time.Time
		err := tx.QueryRowContext(ctx, "SELECT deadline FROM webhook_deliveries WHERE id = $1 AND generation = $2 AND state = 'pending'",
			p.DeliveryID, p.Generation).Scan(&deadline)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // resent or settled meanwhile
		}
		if err != nil {
			return err
		}
		next := now.Add(w.Backoff(p.Attempt))
		if giveUp {
			_, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET state = 'failed', last_error = $3, next_attempt_at = NULL, updated_at = $4
				WHERE id = $1 AND generation = $2`, p.DeliveryID, p.Generation, msg, now)
			return err
		}
		if !next.Before(deadline) {
			_, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET state = 'failed', attempts = attempts + 1, last_status = $3,
					last_error = $4, last_attempt_at = $5, next_attempt_at = NULL, updated_at = $5
				WHERE id = $1 AND generation = $2`, p.DeliveryID, p.Generation, status, truncate(msg, 500), now)
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = $3, last_error = $4,
				last_attempt_at = $5, next_attempt_at = $6, updated_at = $5
			WHERE id = $1 AND generation = $2`, p.DeliveryID, p.Generation, status, truncate(msg, 500), now, next); err != nil {
			return err
		}
		np := deliverPayload{DeliveryID: p.DeliveryID, Generation: p.Generation, Attempt: p.Attempt + 1}
		return jobs.Enqueue(ctx, tx, JobWebhook, np, jobs.Options{UniqueKey: deliverKey(np), RunAt: next, MaxAttempts: 3})
	})
	if err != nil {
		return fmt.Errorf("record webhook delivery %d: %w", p.DeliveryID, err)
	}
	if msg != "" {
		w.log.WarnContext(ctx, "webhook not delivered", "delivery", p.DeliveryID, "attempt", p.Attempt, "status", status, "err", msg)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// VerifyWebhook checks a delivery as a receiver should: the signature in
// header (WebhookSignatureHeader) against secret, in constant time, and
// the signing time within tolerance of now. It is for receivers written
// in Go and for tests.
func VerifyWebhook(secret string, body []byte, header string, now time.Time, tolerance time.Duration) bool {
	var ts string
	var sigs []string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || -d > tolerance {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	want := m.Sum(nil)
	for _, s := range sigs {
		if got, err := hex.DecodeString(s); err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}
