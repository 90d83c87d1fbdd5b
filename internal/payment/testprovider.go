package payment

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
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"mistore/internal/db"
	"mistore/internal/jobs"
	"mistore/internal/money"
)

// Test cards of the built-in provider (API.md).
const (
	TestCardSucceeds = "4242424242424242"
	TestCardDeclined = "4000000000000002"
)

// Outcomes of paying on the test provider's hosted page.
var (
	// ErrDeclined: the card was declined; the shopper may try another.
	ErrDeclined = errors.New("the card was declined")
	// ErrInvalidCard: the card details are not well formed.
	ErrInvalidCard = errors.New("the card details are not valid")
	// ErrSessionClosed: the session is paid or expired.
	ErrSessionClosed = errors.New("this payment session is closed")
)

// CardError says what is wrong with the card details, in a sentence for
// the shopper.
type CardError struct {
	// Field is the form input at fault: card_number, expiry or cvc.
	Field string
	Msg   string
}

func (e *CardError) Error() string { return "the card details are not valid: " + e.Msg }

// Unwrap makes errors.Is(err, ErrInvalidCard) hold.
func (e *CardError) Unwrap() error { return ErrInvalidCard }

// SignatureHeader carries the test provider's webhook signature:
// "t=UNIX,v1=HEX".
const SignatureHeader = "Mistore-Signature"

// webhookJob is the job kind that delivers the test provider's webhooks.
const webhookJob = "testprovider.webhook"

// TestProvider imitates a real payment provider offline: its sessions and
// charges live in tables of their own, its hosted page takes the card, and
// it tells the store the outcome by a signed webhook over HTTP, retried
// until the store answers 2xx, exactly as a real provider would.
type TestProvider struct {
	db     *db.DB
	secret []byte
	// baseURL is the store's public address: the hosted page lives under
	// it and webhooks are posted to it.
	baseURL string
	client  *http.Client
	now     func() time.Time
	// delivered gathers the jobs of webhooks delivered at once, to cancel.
	delivered cancels
}

// cancels cancels the redelivery jobs of delivered webhooks in bulk: one
// caller at a time deletes every key gathered so far while the others
// only add theirs, so that under load one statement cancels many jobs,
// and when the store is quiet each is cancelled at once. A key left behind
// (the process stopped first, or the statement failed) only makes its job
// deliver the webhook again after redeliverAfter, which the store takes as
// a replay and ignores.
type cancels struct {
	mu      sync.Mutex
	pending []string
	running bool
}

// add queues key and, unless another caller is cancelling, cancels what
// is queued until nothing is.
func (c *cancels) add(ctx context.Context, d *db.DB, key string) {
	c.mu.Lock()
	c.pending = append(c.pending, key)
	if c.running {
		c.mu.Unlock()
		return
	}
	c.running = true
	for len(c.pending) > 0 {
		keys := c.pending
		c.pending = nil
		c.mu.Unlock()
		_ = jobs.Cancel(ctx, d, keys...)
		c.mu.Lock()
	}
	c.running = false
	c.mu.Unlock()
}

// NewTestProvider returns the test provider. secret signs webhooks;
// baseURL is the store's public address, e.g. http://127.0.0.1:8080.
func NewTestProvider(d *db.DB, secret []byte, baseURL string, now func() time.Time) *TestProvider {
	if now == nil {
		now = time.Now
	}
	// Webhooks go to one host, the store, from as many shoppers at once as
	// are paying: keep that many connections open instead of the default
	// two, or each webhook beyond them dials anew.
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return &TestProvider{db: d, secret: secret, baseURL: strings.TrimSuffix(baseURL, "/"),
		client: &http.Client{Timeout: 10 * time.Second, Transport: t}, now: now}
}

// Name is "test".
func (p *TestProvider) Name() string { return "test" }

// randomID is a new id of a session, charge or event: time-ordered (see
// db.NewKey), as a real provider's ids often are, so that the rows the
// store and this provider key by them share index pages.
func randomID(prefix string) string {
	return prefix + db.NewKey()
}

// PageURL is the hosted payment page of session id.
func (p *TestProvider) PageURL(id string) string { return p.baseURL + "/pay/test/" + id }

// CreateSession opens a session; the same idempotency key returns the
// session it opened before.
func (p *TestProvider) CreateSession(ctx context.Context, req SessionRequest) (Session, error) {
	var out Session
	err := p.db.Tx(ctx, func(tx db.Querier) error {
		var err error
		out, err = p.CreateSessionTx(ctx, tx, req)
		return err
	})
	return out, err
}

// CreateSessionTx is CreateSession inside tx.
func (p *TestProvider) CreateSessionTx(ctx context.Context, tx db.Querier, req SessionRequest) (Session, error) {
	if req.IdempotencyKey == "" {
		return Session{}, errors.New("test provider: an idempotency key is required")
	}
	if req.Amount.Amount <= 0 {
		return Session{}, fmt.Errorf("test provider: amount %s must be positive", req.Amount)
	}
	now := db.Time(p.now())
	id := randomID("ts_")
	var created string
	err := tx.QueryRowContext(ctx, `INSERT INTO test_provider_sessions (id, reference, amount, currency, status, return_url,
			expires_at, idempotency_key, created_at, updated_at)
		VALUES ($1, $2, $3, $4, 'open', $5, $6, $7, $8, $8) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`,
		id, req.Reference, req.Amount.Amount, req.Amount.Currency, req.ReturnURL, db.Time(req.ExpiresAt), req.IdempotencyKey, now).Scan(&created)
	if errors.Is(err, sql.ErrNoRows) {
		// The key opened a session before: that one, as it is now.
		return p.sessionWhere(ctx, tx, "idempotency_key = $1", req.IdempotencyKey)
	}
	if err != nil {
		return Session{}, fmt.Errorf("test provider: create session: %w", err)
	}
	return Session{ID: id, URL: p.PageURL(id), Status: p.effectiveStatus(SessionOpen, req.ExpiresAt), Reference: req.Reference, Amount: req.Amount}, nil
}

// CloseSessionTx expires session id inside tx if it is still open: its
// hosted page then takes no payment.
func (p *TestProvider) CloseSessionTx(ctx context.Context, tx db.Querier, id string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE test_provider_sessions SET status = 'expired', updated_at = $2 WHERE id = $1 AND status = 'open'`,
		id, db.Time(p.now())); err != nil {
		return fmt.Errorf("test provider: close session %s: %w", id, err)
	}
	return nil
}

// GetSession returns a session as the provider sees it now.
func (p *TestProvider) GetSession(ctx context.Context, id string) (Session, error) {
	return p.sessionWhere(ctx, p.db.Reader(), "id = $1", id)
}

// PageSession is what the hosted page shows.
type PageSession struct {
	Session
	ReturnURL string
	ExpiresAt time.Time
	Declines  int
}

// Page returns the session behind the hosted page.
func (p *TestProvider) Page(ctx context.Context, id string) (PageSession, error) {
	var ps PageSession
	var status, cur string
	var amount int64
	err := p.db.Reader().QueryRowContext(ctx, `SELECT id, reference, amount, currency, status, charge_id, return_url, expires_at, declines
		FROM test_provider_sessions WHERE id = $1`, id).Scan(&ps.ID, &ps.Reference, &amount, &cur, &status, &ps.ChargeID, &ps.ReturnURL, &ps.ExpiresAt, &ps.Declines)
	if errors.Is(err, sql.ErrNoRows) {
		return PageSession{}, ErrUnknownSession
	}
	if err != nil {
		return PageSession{}, fmt.Errorf("test provider: session %s: %w", id, err)
	}
	ps.Status, ps.Amount, ps.URL = p.effectiveStatus(SessionStatus(status), ps.ExpiresAt), money.New(amount, cur), p.PageURL(ps.ID)
	return ps, nil
}

func (p *TestProvider) effectiveStatus(s SessionStatus, expires time.Time) SessionStatus {
	if s == SessionOpen && !p.now().Before(expires) {
		return SessionExpired
	}
	return s
}

func (p *TestProvider) sessionWhere(ctx context.Context, q db.Querier, where string, arg any) (Session, error) {
	var s Session
	var status, cur string
	var amount int64
	var expires time.Time
	err := q.QueryRowContext(ctx, `SELECT id, reference, amount, currency, status, charge_id, expires_at
		FROM test_provider_sessions WHERE `+where, arg).Scan(&s.ID, &s.Reference, &amount, &cur, &status, &s.ChargeID, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, ErrUnknownSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("test provider: session: %w", err)
	}
	s.Status = p.effectiveStatus(SessionStatus(status), expires)
	s.Amount = money.New(amount, cur)
	s.URL = p.PageURL(s.ID)
	return s, nil
}

// Card is what the hosted page's form posts. It lives only for the call:
// it is never stored or logged.
type Card struct {
	Number string
	Expiry string // MM/YY
	CVC    string
}

// Pay charges a card on session id, as the hosted page's form does, and
// returns the session paid, with the address to send the shopper back to.
// The outcome is sent to the store by webhook before Pay returns, so the
// shopper sent back to the store finds the order moved; a webhook that
// cannot be delivered at once is redelivered by a durable job queued with
// the charge, as a real provider retries.
func (p *TestProvider) Pay(ctx context.Context, id string, card Card) (PageSession, error) {
	number, err := checkCard(card, p.now())
	if err != nil {
		return PageSession{}, err
	}
	var out PageSession
	var hook []byte
	declined := false
	err = p.db.Tx(ctx, func(tx db.Querier) error {
		now := db.Time(p.now())
		if number == TestCardSucceeds {
			var err error
			out, hook, err = p.charge(ctx, tx, id, now)
			return err
		}
		var status, ref, cur string
		var amount int64
		var expires time.Time
		err := tx.QueryRowContext(ctx, `SELECT status, reference, amount, currency, expires_at FROM test_provider_sessions WHERE id = $1`, id).
			Scan(&status, &ref, &amount, &cur, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrUnknownSession
		}
		if err != nil {
			return err
		}
		if p.effectiveStatus(SessionStatus(status), expires) != SessionOpen {
			return ErrSessionClosed
		}
		if _, err := tx.ExecContext(ctx, `UPDATE test_provider_sessions SET declines = declines + 1, updated_at = $2 WHERE id = $1`, id, now); err != nil {
			return err
		}
		ev := Event{ID: randomID("evt_"), Type: EventPaymentFailed, SessionID: id, Reference: ref, Amount: money.New(amount, cur), Created: now,
			Message: "Your card was declined."}
		if number != TestCardDeclined {
			ev.Message = "Your card was declined. In test mode, use 4242 4242 4242 4242."
		}
		// The decline is recorded and its webhook queued: commit, then
		// tell the shopper.
		declined = true
		hook, err = p.queueWebhook(ctx, tx, ev)
		return err
	})
	if err != nil {
		return PageSession{}, fmt.Errorf("test provider: pay %s: %w", id, err)
	}
	p.deliverNow(ctx, hook)
	if declined {
		return PageSession{}, ErrDeclined
	}
	return out, nil
}

// charge captures session id if it is open, in tx, and queues the
// webhook that tells the store. One conditional UPDATE both decides and
// captures, so two payments of the same session at once charge once.
func (p *TestProvider) charge(ctx context.Context, tx db.Querier, id string, now time.Time) (PageSession, []byte, error) {
	ps := PageSession{Session: Session{ID: id, URL: p.PageURL(id), Status: SessionSucceeded, ChargeID: randomID("ch_")}}
	var amount int64
	var cur string
	err := tx.QueryRowContext(ctx, `UPDATE test_provider_sessions SET status = 'succeeded', charge_id = $2, updated_at = $3
		WHERE id = $1 AND status = 'open' AND expires_at > $3
		RETURNING reference, amount, currency, return_url, expires_at, declines`, id, ps.ChargeID, now).
		Scan(&ps.Reference, &amount, &cur, &ps.ReturnURL, &ps.ExpiresAt, &ps.Declines)
	if errors.Is(err, sql.ErrNoRows) {
		// Not open (paid, expired) or not there: say which.
		if _, err := p.sessionWhere(ctx, tx, "id = $1", id); err != nil {
			return PageSession{}, nil, err
		}
		return PageSession{}, nil, ErrSessionClosed
	}
	if err != nil {
		return PageSession{}, nil, err
	}
	ps.Amount, ps.ExpiresAt = money.New(amount, cur), ps.ExpiresAt.UTC()
	ev := Event{ID: randomID("evt_"), Type: EventPaymentSucceeded, SessionID: id, ChargeID: ps.ChargeID, Reference: ps.Reference,
		Amount: ps.Amount, Created: now}
	hook, err := p.queueWebhook(ctx, tx, ev)
	return ps, hook, err
}

// checkCard validates the form and returns the bare card number.
func checkCard(c Card, now time.Time) (string, error) {
	number := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, c.Number)
	if len(number) < 13 || len(number) > 19 || !allDigits(number) || !luhn(number) {
		return "", &CardError{Field: "card_number", Msg: "The card number is not valid."}
	}
	mm, yy, ok := strings.Cut(strings.TrimSpace(c.Expiry), "/")
	month, err1 := strconv.Atoi(strings.TrimSpace(mm))
	year, err2 := strconv.Atoi(strings.TrimSpace(yy))
	if !ok || err1 != nil || err2 != nil || month < 1 || month > 12 || year < 0 || year > 99 {
		return "", &CardError{Field: "expiry", Msg: "The expiry date must be MM/YY."}
	}
	// A card is valid to the end of its expiry month.
	end := time.Date(2000+year, time.Month(month)+1, 1, 0, 0, 0, 0, time.UTC)
	if !now.Before(end) {
		return "", &CardError{Field: "expiry", Msg: "The card has expired."}
	}
	if cvc := strings.TrimSpace(c.CVC); len(cvc) < 3 || len(cvc) > 4 || !allDigits(cvc) {
		return "", &CardError{Field: "cvc", Msg: "The security code is 3 or 4 digits."}
	}
	return number, nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// luhn reports whether a card number's check digit is right.
func luhn(number string) bool {
	sum := 0
	double := false
	for i := len(number) - 1; i >= 0; i-- {
		d := int(number[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// Refund returns money of a session's charge, once per idempotency key,
// never more than was charged.
func (p *TestProvider) Refund(ctx context.Context, req RefundRequest) (Refund, error) {
	if req.IdempotencyKey == "" || req.Amount.Amount <= 0 {
		return Refund{}, errors.New("test provider: a refund needs an idempotency key and a positive amount")
	}
	var out Refund
	err := p.db.Tx(ctx, func(tx db.Querier) error {
		var id string
		var amount int64
		err := tx.QueryRowContext(ctx, "SELECT id, amount FROM test_provider_refunds r WHERE idempotency_key = $1", req.IdempotencyKey).Scan(&id, &amount)
		if err == nil {
			out = Refund{ID: "re_" + id, Amount: money.New(amount, req.Amount.Currency), Status: "succeeded"}
			return nil
		}
		var status, cur string
		var charged, refunded int64
		err = tx.QueryRowContext(ctx, `SELECT status, amount, currency, refunded FROM test_provider_sessions WHERE id = $1`, req.SessionID).
			Scan(&status, &charged, &cur, &refunded)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %w", ErrRefundRefused, ErrUnknownSession)
		}
		if err != nil {
			return err
		}
		if status != string(SessionSucceeded) || cur != req.Amount.Currency {
			return fmt.Errorf("%w: session %s has no %s charge to refund", ErrRefundRefused, req.SessionID, req.Amount.Currency)
		}
		res, err := tx.ExecContext(ctx, `UPDATE test_provider_sessions SET refunded = refunded + $2, updated_at = $3
			WHERE id = $1 AND refunded + $2 <= amount`, req.SessionID, req.Amount.Amount, db.Time(p.now()))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: %s is more than is left of the charge", ErrRefundRefused, req.Amount)
		}
		var rid int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO test_provider_refunds (session_id, amount, idempotency_key, created_at)
			VALUES ($1, $2, $3, $4) RETURNING id`, req.SessionID, req.Amount.Amount, req.IdempotencyKey, db.Time(p.now())).Scan(&rid); err != nil {
			return err
		}
		out = Refund{ID: "re_" + strconv.FormatInt(rid, 10), Amount: req.Amount, Status: "succeeded"}
		return nil
	})
	if err != nil {
		return Refund{}, fmt.Errorf("test provider: refund: %w", err)
	}
	return out, nil
}

// RefundOutside gives amount of session id's charge back as if someone
// did it in the provider's own dashboard, not through the store: the
// store hears of it only from the charge.refunded webhook that follows,
// which says how much of the charge has been given back in all.
func (p *TestProvider) RefundOutside(ctx context.Context, id string, amount money.Money) error {
	if amount.Amount <= 0 {
		return errors.New("test provider: a refund needs a positive amount")
	}
	err := p.db.Tx(ctx, func(tx db.Querier) error {
		now := db.Time(p.now())
		var ref, cur, charge string
		var total int64
		err := tx.QueryRowContext(ctx, `UPDATE test_provider_sessions SET refunded = refunded + $2, updated_at = $4
			WHERE id = $1 AND status = 'succeeded' AND currency = $3 AND refunded + $2 <= amount
			RETURNING reference, currency, charge_id, refunded`, id, amount.Amount, amount.Currency, now).Scan(&ref, &cur, &charge, &total)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("session %s has no %s charge with %s left to refund", id, amount.Currency, amount.Format())
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO test_provider_refunds (session_id, amount, idempotency_key, created_at)
			VALUES ($1, $2, $3, $4)`, id, amount.Amount, randomID("outside_"), now); err != nil {
			return err
		}
		_, err = p.queueWebhookAt(ctx, tx, Event{ID: randomID("evt_"), Type: EventRefunded, SessionID: id, ChargeID: charge,
			Reference: ref, Amount: money.New(total, cur), Created: now}, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("test provider: refund %s outside the store: %w", id, err)
	}
	return nil
}

// webhookBody is the JSON the test provider posts.
type webhookBody struct {
	ID      string    `json:"id"`
	Type    EventType `json:"type"`
	Created int64     `json:"created"`
	Data    struct {
		SessionID string      `json:"session_id"`
		ChargeID  string      `json:"charge_id,omitempty"`
		Reference string      `json:"reference"`
		Amount    money.Money `json:"amount"`
		Message   string      `json:"message,omitempty"`
		DisputeID string      `json:"dispute_id,omitempty"`
		DueBy     int64       `json:"due_by,omitempty"`
		Outcome   string      `json:"outcome,omitempty"`
	} `json:"data"`
}

// DisputeAnswerTime is how long the test provider gives a shop to answer
// a dispute, as card networks give about a week.
const DisputeAnswerTime = 7 * 24 * time.Hour

// OpenDispute opens a dispute of all of session id's charge, as a
// customer's bank does when the customer asks it to take a payment back,
// for reason, and returns its id. The store hears of it from the webhook
// that follows.
func (p *TestProvider) OpenDispute(ctx context.Context, id, reason string) (string, error) {
	dispute := randomID("dp_")
	err := p.disputeEvent(ctx, id, Event{Type: EventDisputeOpened, DisputeID: dispute, Message: reason})
	return dispute, err
}

// CloseDispute ends dispute of session id's charge, won or lost, as the
// customer's bank decides; the webhook that follows tells the store.
func (p *TestProvider) CloseDispute(ctx context.Context, id, dispute string, won bool) error {
	ev := Event{Type: EventDisputeClosed, DisputeID: dispute, Outcome: DisputeLost}
	if won {
		ev.Outcome = DisputeWon
	}
	return p.disputeEvent(ctx, id, ev)
}

// disputeEvent queues ev, a dispute of session id's charge, with the
// charge's details filled in.
func (p *TestProvider) disputeEvent(ctx context.Context, id string, ev Event) error {
	err := p.db.Tx(ctx, func(tx db.Querier) error {
		now := db.Time(p.now())
		var amount int64
		var cur string
		err := tx.QueryRowContext(ctx, `SELECT reference, amount, currency, charge_id FROM test_provider_sessions WHERE id = $1 AND status = 'succeeded'`, id).
			Scan(&ev.Reference, &amount, &cur, &ev.ChargeID)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("session %s has no charge to dispute", id)
		}
		if err != nil {
			return err
		}
		ev.ID, ev.SessionID, ev.Amount, ev.Created = randomID("evt_"), id, money.New(amount, cur), now
		if ev.Type == EventDisputeOpened {
			ev.DueBy = now.Add(DisputeAnswerTime)
		}
		_, err = p.queueWebhookAt(ctx, tx, ev, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("test provider: dispute %s: %w", id, err)
	}
	return nil
}

// queueWebhook queues the delivery of ev's webhook in tx and returns its
// body, for Pay to deliver at once; the job delivers it only if that
// fails.
func (p *TestProvider) queueWebhook(ctx context.Context, tx db.Querier, ev Event) ([]byte, error) {
	return p.queueWebhookAt(ctx, tx, ev, p.now().Add(redeliverAfter))
}

// queueWebhookAt queues the delivery of ev's webhook in tx, due at, and
// returns its body.
func (p *TestProvider) queueWebhookAt(ctx context.Context, tx db.Querier, ev Event, at time.Time) ([]byte, error) {
	var b webhookBody
	b.ID, b.Type, b.Created = ev.ID, ev.Type, ev.Created.Unix()
	b.Data.SessionID, b.Data.ChargeID, b.Data.Reference, b.Data.Amount, b.Data.Message = ev.SessionID, ev.ChargeID, ev.Reference, ev.Amount, ev.Message
	b.Data.DisputeID, b.Data.Outcome = ev.DisputeID, ev.Outcome
	if !ev.DueBy.IsZero() {
		b.Data.DueBy = ev.DueBy.Unix()
	}
	body, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	return body, jobs.Enqueue(ctx, tx, webhookJob, json.RawMessage(body), jobs.Options{
		UniqueKey: webhookKey(b.ID), MaxAttempts: 20, RunAt: at,
	})
}

// redeliverAfter is when the job queued with a webhook delivers it, should
// Pay's own delivery not have happened by then (the process died, say).
// Until then the job waits, so that the runner does not deliver a second
// time what Pay is delivering.
const redeliverAfter = 30 * time.Second

func webhookKey(eventID string) string { return "testprovider:" + eventID }

// deliverNowTimeout bounds the webhook Pay posts before answering; a
// slower store gets it again from the job.
const deliverNowTimeout = 5 * time.Second

// deliverNow posts a webhook queued by Pay at once and, once the store has
// taken it, drops its job; should the store not take it, the job is made
// due now, to redeliver it with the runner's back-off.
func (p *TestProvider) deliverNow(ctx context.Context, body []byte) {
	var b webhookBody
	if json.Unmarshal(body, &b) != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deliverNowTimeout)
	defer cancel()
	if p.post(ctx, body) != nil {
		jobs.Expedite(ctx, p.db, webhookKey(b.ID))
		return
	}
	p.delivered.add(ctx, p.db, webhookKey(b.ID))
}

// Register adds the webhook delivery job to a runner.
func (p *TestProvider) Register(r *jobs.Runner) { r.Handle(webhookJob, p.deliver) }

// deliver posts one webhook, signed now, to the store; a non-2xx answer
// retries it later, as a provider redelivers.
func (p *TestProvider) deliver(ctx context.Context, j jobs.Job) error {
	return p.post(ctx, []byte(j.Payload))
}

// post signs body now and posts it to the store's webhook endpoint.
func (p *TestProvider) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.baseURL+"/api/v1/payments/test/webhook", bytes.NewReader(body))
	if err != nil {
		return jobs.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, Sign(p.secret, body, p.now()))
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("deliver webhook: %w", err)
	}
	// Read to the end, so the connection goes back to the pool: closed
	// unread, it is dropped, and the next webhook dials again.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("deliver webhook: store answered %s", resp.Status)
	}
	return nil
}

// Sign makes a Mistore-Signature header value for payload at time t: the
// HMAC-SHA256, under secret, of the Unix time, a dot and the raw body. The
// time is signed too, so a replayer cannot freshen an old webhook.
func Sign(secret, payload []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, payload))
}

func mac(secret []byte, ts string, payload []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(payload)
	return m.Sum(nil)
}

// ParseWebhook verifies a test provider webhook: the signature in constant
// time, its age within WebhookTolerance, and the body's shape.
func (p *TestProvider) ParseWebhook(payload []byte, header http.Header, now time.Time) (Event, error) {
	ts, sigs, err := parseSignature(header.Get(SignatureHeader))
	if err != nil {
		return Event{}, err
	}
	want := mac(p.secret, ts, payload)
	ok := false
	for _, s := range sigs {
		got, err := hex.DecodeString(s)
		if err == nil && hmac.Equal(got, want) {
			ok = true
		}
	}
	if !ok {
		return Event{}, ErrInvalidSignature
	}
	sec, _ := strconv.ParseInt(ts, 10, 64)
	signed := time.Unix(sec, 0)
	if now.Sub(signed) > WebhookTolerance || signed.Sub(now) > WebhookTolerance {
		return Event{}, ErrStaleWebhook
	}
	var b webhookBody
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || b.ID == "" || b.Type == "" || b.Data.SessionID == "" {
		return Event{}, ErrMalformedWebhook
	}
	ev := Event{
		ID: b.ID, Type: b.Type, SessionID: b.Data.SessionID, ChargeID: b.Data.ChargeID, Reference: b.Data.Reference,
		Amount: b.Data.Amount, Created: time.Unix(b.Created, 0).UTC(), Message: b.Data.Message,
		DisputeID: b.Data.DisputeID, Outcome: b.Data.Outcome,
	}
	if b.Data.DueBy != 0 {
		ev.DueBy = time.Unix(b.Data.DueBy, 0).UTC()
	}
	return ev, nil
}

// parseSignature splits "t=UNIX,v1=HEX[,v1=HEX]".
func parseSignature(h string) (string, []string, error) {
	var ts string
	var sigs []string
	for _, part := range strings.Split(h, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	if _, err := strconv.ParseInt(ts, 10, 64); err != nil || len(sigs) == 0 {
		return "", nil, ErrInvalidSignature
	}
	return ts, sigs, nil
}
