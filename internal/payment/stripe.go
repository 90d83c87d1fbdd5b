package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"mistore/internal/money"
)

// Stripe Checkout limits on a session's expires_at, measured from its
// creation. The margins keep a request that takes a while, or a clock a
// little off Stripe's, from falling outside the window.
const (
	stripeMinExpiry = 30*time.Minute + time.Minute
	stripeMaxExpiry = 24*time.Hour - time.Minute
)

// stripeSignatureHeader is the header Stripe signs webhooks in.
const stripeSignatureHeader = "Stripe-Signature"

// StripeConfig configures the Stripe provider.
type StripeConfig struct {
	// SecretKey is the account's secret (sk_…) or restricted (rk_…) API key.
	SecretKey string
	// WebhookSecret is the signing secret (whsec_…) of the webhook
	// endpoint that posts to the store.
	WebhookSecret string
	// BaseURL replaces https://api.stripe.com, e.g. with a stripe-mock
	// server's address in tests. Empty means Stripe itself.
	BaseURL string
	// HTTPClient makes the calls; nil means stripe-go's default client
	// (80 s timeout).
	HTTPClient *http.Client
	// Retries is how often stripe-go repeats, with the same idempotency
	// key, a call that failed on the network or got an answer that is not
	// Stripe's (a proxy's 502 page) before the call reports
	// ErrUnavailable. Zero keeps stripe-go's default (2); a negative number
	// turns retries off.
	Retries int
}

// Stripe is the Provider for Stripe Checkout: the shopper pays on a
// Stripe-hosted Checkout Session, and Stripe reports the outcome by signed
// webhook. It holds no package-level state, so several can coexist (e.g. one
// per account, or one against stripe-mock in tests).
type Stripe struct {
	client        *stripe.Client
	webhookSecret string
	// now is the clock for expires_at; tests replace it.
	now func() time.Time
}

// NewStripe returns a Stripe provider for the account of cfg.SecretKey.
func NewStripe(cfg StripeConfig) (*Stripe, error) {
	key := strings.TrimSpace(cfg.SecretKey)
	switch {
	case key == "":
		return nil, errors.New("stripe: the secret key is empty")
	case strings.HasPrefix(key, "pk_"):
		// A publishable key is the usual mix-up; Stripe would answer
		// every call with a 401 that is harder to read.
		return nil, errors.New("stripe: the secret key is a publishable key (pk_…); give the secret key (sk_…) or a restricted key (rk_…)")
	}
	if strings.TrimSpace(cfg.WebhookSecret) == "" {
		return nil, errors.New("stripe: the webhook signing secret is empty")
	}
	backendCfg := &stripe.BackendConfig{
		HTTPClient: cfg.HTTPClient,
		// Errors are returned, wrapped, to the caller, who logs them;
		// stripe-go's default logger would print to stderr on its own.
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
	}
	switch {
	case cfg.Retries < 0:
		backendCfg.MaxNetworkRetries = stripe.Int64(0)
	case cfg.Retries > 0:
		backendCfg.MaxNetworkRetries = stripe.Int64(int64(cfg.Retries))
	}
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("stripe: base URL %q: want http(s)://host[:port]", cfg.BaseURL)
		}
		backendCfg.URL = stripe.String(strings.TrimRight(cfg.BaseURL, "/"))
	}
	client := stripe.NewClient(key, stripe.WithBackends(stripe.NewBackendsWithConfig(backendCfg)))
	return &Stripe{client: client, webhookSecret: cfg.WebhookSecret, now: time.Now}, nil
}

// Name returns "stripe".
func (s *Stripe) Name() string { return "stripe" }

// CreateSession creates a Stripe Checkout Session in payment mode with one
// line item for the whole order.
//
// Stripe requires expires_at between 30 minutes and 24 hours after
// creation, so an ExpiresAt sooner than that is moved to 31 minutes from
// now (later than 24 hours: to just under 24 hours). The session may
// therefore still take a payment after the order's own reservation has
// lapsed; the caller must handle a payment for an expired order (accept it
// if stock allows, or refund it). A zero ExpiresAt leaves Stripe's default
// of 24 hours.
func (s *Stripe) CreateSession(ctx context.Context, req SessionRequest) (Session, error) {
	if err := checkSessionRequest(req); err != nil {
		return Session{}, err
	}
	name := req.Description
	if name == "" {
		name = "Order " + req.Reference
	}
	params := &stripe.CheckoutSessionCreateParams{
		Mode: stripe.String(string(stripe.CheckoutSessionModePayment)),
		LineItems: []*stripe.CheckoutSessionCreateLineItemParams{{
			PriceData: &stripe.CheckoutSessionCreateLineItemPriceDataParams{
				// Stripe's minor units match ISO 4217's for every currency
				// the store sells in (USD, CNY, INR, EUR, GBP, JPY).
				Currency:   stripe.String(strings.ToLower(req.Amount.Currency)),
				UnitAmount: stripe.Int64(req.Amount.Amount),
				ProductData: &stripe.CheckoutSessionCreateLineItemPriceDataProductDataParams{
					Name: stripe.String(name),
				},
			},
			Quantity: stripe.Int64(1),
		}},
		ClientReferenceID: stripe.String(req.Reference),
		// Stripe puts {CHECKOUT_SESSION_ID} in place on success_url only;
		// the cancel URL stays plain and the return handler finds the
		// session through the order.
		SuccessURL: stripe.String(withSessionID(req.ReturnURL)),
		CancelURL:  stripe.String(req.ReturnURL),
		// The reference also goes on the PaymentIntent, so that a charge
		// or refund seen on its own in the dashboard names its order.
		PaymentIntentData: &stripe.CheckoutSessionCreatePaymentIntentDataParams{
			Metadata: map[string]string{"order": req.Reference},
		},
	}
	params.AddMetadata("order", req.Reference)
	if req.Email != "" {
		params.CustomerEmail = stripe.String(req.Email)
	}
	if !req.ExpiresAt.IsZero() {
		params.ExpiresAt = stripe.Int64(clampExpiry(req.ExpiresAt, s.now()).Unix())
	}
	params.SetIdempotencyKey(req.IdempotencyKey)
	cs, err := s.client.V1CheckoutSessions.Create(ctx, params)
	if err != nil {
		return Session{}, stripeError("create checkout session for order "+req.Reference, err, nil)
	}
	return sessionFromStripe(cs), nil
}

// CloseSession expires Checkout Session id, so that it takes no payment.
// A session Stripe will not expire (complete already, or expired) is
// left as it is.
func (s *Stripe) CloseSession(ctx context.Context, id string) error {
	_, err := s.client.V1CheckoutSessions.Expire(ctx, id, nil)
	var se *stripe.Error
	if errors.As(err, &se) && (se.HTTPStatusCode == http.StatusBadRequest || se.HTTPStatusCode == http.StatusNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stripe: expire session %s: %w", id, err)
	}
	return nil
}

// GetSession retrieves a Checkout Session; an id Stripe does not know is
// ErrUnknownSession.
func (s *Stripe) GetSession(ctx context.Context, id string) (Session, error) {
	if id == "" {
		return Session{}, fmt.Errorf("stripe get checkout session: %w: empty id", ErrUnknownSession)
	}
	cs, err := s.client.V1CheckoutSessions.Retrieve(ctx, id, nil)
	if err != nil {
		return Session{}, stripeError("get checkout session "+id, err, ErrUnknownSession)
	}
	return sessionFromStripe(cs), nil
}

// Refund refunds Amount of a session's payment. ChargeID is the
// PaymentIntent id that Session.ChargeID reports (a ch_… charge id works
// too); without it the session's PaymentIntent is looked up. Reason is
// free text and goes into the refund's metadata, since Stripe's own reason
// field takes only a few fixed words.
func (s *Stripe) Refund(ctx context.Context, req RefundRequest) (Refund, error) {
	if req.Amount.Amount <= 0 {
		return Refund{}, fmt.Errorf("stripe refund: amount %s is not positive", req.Amount)
	}
	if req.IdempotencyKey == "" {
		return Refund{}, errors.New("stripe refund: an idempotency key is required, so that a retry cannot refund twice")
	}
	target := req.ChargeID
	if target == "" {
		if req.SessionID == "" {
			return Refund{}, errors.New("stripe refund: neither a charge nor a session to refund")
		}
		sess, err := s.GetSession(ctx, req.SessionID)
		if err != nil {
			return Refund{}, fmt.Errorf("stripe refund: %w", err)
		}
		if sess.ChargeID == "" {
			return Refund{}, fmt.Errorf("stripe refund: session %s has no payment to refund", req.SessionID)
		}
		target = sess.ChargeID
	}
	params := &stripe.RefundCreateParams{Amount: stripe.Int64(req.Amount.Amount)}
	if strings.HasPrefix(target, "ch_") || strings.HasPrefix(target, "py_") {
		params.Charge = stripe.String(target)
	} else {
		params.PaymentIntent = stripe.String(target)
	}
	switch req.Reason {
	case "duplicate", "fraudulent", "requested_by_customer":
		params.Reason = stripe.String(req.Reason)
	}
	if req.Reason != "" {
		params.AddMetadata("reason", req.Reason)
	}
	if req.SessionID != "" {
		params.AddMetadata("session", req.SessionID)
	}
	params.SetIdempotencyKey(req.IdempotencyKey)
	r, err := s.client.V1Refunds.Create(ctx, params)
	if err != nil {
		if refusedRefund(err) {
			return Refund{}, fmt.Errorf("%w: %w", ErrRefundRefused, stripeError("refund "+target, err, nil))
		}
		return Refund{}, stripeError("refund "+target, err, nil)
	}
	out := Refund{ID: r.ID, Amount: money.New(r.Amount, strings.ToUpper(string(r.Currency)))}
	switch r.Status {
	case stripe.RefundStatusSucceeded:
		out.Status = "succeeded"
	case stripe.RefundStatusPending, stripe.RefundStatusRequiresAction, "":
		out.Status = "pending"
	default: // failed, canceled
		return Refund{}, fmt.Errorf("stripe refund %s of %s: %s (%s)", r.ID, target, r.Status, r.FailureReason)
	}
	return out, nil
}

// ParseWebhook verifies a Stripe webhook and maps its event.
//
// The signature is checked by stripe-go (HMAC-SHA256, compared in constant
// time). Its age is checked here, against now rather than stripe-go's
// wall clock, and only once the signature holds, so that a forgery is
// always ErrInvalidSignature and ErrStaleWebhook means a genuine but
// replayed or long-delayed delivery. A timestamp more than
// WebhookTolerance in the future is refused too.
//
// Events the store does not act on come back with Type set to Stripe's
// own type (e.g. "payment_intent.created") for the caller to ignore. The
// event's API version is not held against stripe-go's, unlike in
// webhook.ConstructEvent: only fields that every recent version shares are
// read, so an endpoint on another version still works.
func (s *Stripe) ParseWebhook(payload []byte, header http.Header, now time.Time) (Event, error) {
	sig := header.Get(stripeSignatureHeader)
	if err := webhook.ValidatePayloadIgnoringTolerance(payload, sig, s.webhookSecret); err != nil {
		return Event{}, fmt.Errorf("stripe webhook: %w: %w", ErrInvalidSignature, err)
	}
	signed, err := signatureTime(sig)
	if err != nil {
		return Event{}, fmt.Errorf("stripe webhook: %w: %w", ErrInvalidSignature, err)
	}
	if age := now.Sub(signed); age > WebhookTolerance || age < -WebhookTolerance {
		return Event{}, fmt.Errorf("stripe webhook: %w: signed at %s, %s from now", ErrStaleWebhook,
			signed.UTC().Format(time.RFC3339), age.Round(time.Second))
	}
	var se stripe.Event
	if err := json.Unmarshal(payload, &se); err != nil {
		return Event{}, fmt.Errorf("stripe webhook: %w: %w", ErrMalformedWebhook, err)
	}
	if se.ID == "" || se.Type == "" || se.Data == nil || len(se.Data.Raw) == 0 {
		return Event{}, fmt.Errorf("stripe webhook: %w: no id, type or data.object", ErrMalformedWebhook)
	}
	ev, err := mapStripeEvent(se)
	if err != nil {
		return Event{}, fmt.Errorf("stripe webhook %s (%s): %w: %w", se.ID, se.Type, ErrMalformedWebhook, err)
	}
	return ev, nil
}

// mapStripeEvent turns a verified Stripe event into the store's Event.
func mapStripeEvent(se stripe.Event) (Event, error) {
	ev := Event{ID: se.ID, Type: EventType(se.Type), Created: time.Unix(se.Created, 0).UTC()}
	raw := se.Data.Raw
	switch se.Type {
	case stripe.EventTypeCheckoutSessionCompleted,
		stripe.EventTypeCheckoutSessionAsyncPaymentSucceeded,
		stripe.EventTypeCheckoutSessionAsyncPaymentFailed,
		stripe.EventTypeCheckoutSessionExpired:
		var cs stripe.CheckoutSession
		if err := json.Unmarshal(raw, &cs); err != nil {
			return Event{}, err
		}
		fillFromSession(&ev, &cs)
		switch se.Type {
		case stripe.EventTypeCheckoutSessionCompleted:
			// A delayed payment method (a bank debit) completes the
			// session unpaid; its async_payment_* event follows.
			if cs.PaymentStatus == stripe.CheckoutSessionPaymentStatusPaid {
				ev.Type = EventPaymentSucceeded
			}
		case stripe.EventTypeCheckoutSessionAsyncPaymentSucceeded:
			ev.Type = EventPaymentSucceeded
		case stripe.EventTypeCheckoutSessionAsyncPaymentFailed:
			ev.Type = EventPaymentFailed
			ev.Message = "the delayed payment failed"
		case stripe.EventTypeCheckoutSessionExpired:
			ev.Type = EventSessionExpired
		}
	case stripe.EventTypeChargeRefunded:
		// charge.refunded also fires for partial refunds; Amount is what
		// has been refunded of the charge so far, all refunds together.
		var ch stripe.Charge
		if err := json.Unmarshal(raw, &ch); err != nil {
			return Event{}, err
		}
		ev.Type = EventRefunded
		ev.ChargeID = ch.ID
		if ch.PaymentIntent != nil && ch.PaymentIntent.ID != "" {
			ev.ChargeID = ch.PaymentIntent.ID
		}
		ev.Reference = ch.Metadata["order"]
		ev.Amount = money.New(ch.AmountRefunded, strings.ToUpper(string(ch.Currency)))
	case stripe.EventTypeChargeDisputeCreated, stripe.EventTypeChargeDisputeClosed:
		var d stripe.Dispute
		if err := json.Unmarshal(raw, &d); err != nil {
			return Event{}, err
		}
		ev.DisputeID = d.ID
		ev.Amount = money.New(d.Amount, strings.ToUpper(string(d.Currency)))
		ev.Message = strings.ReplaceAll(string(d.Reason), "_", " ")
		// The store knows a Checkout payment by its PaymentIntent.
		if d.PaymentIntent != nil && d.PaymentIntent.ID != "" {
			ev.ChargeID = d.PaymentIntent.ID
		} else if d.Charge != nil {
			ev.ChargeID = d.Charge.ID
		}
		if d.EvidenceDetails != nil && d.EvidenceDetails.DueBy > 0 {
			ev.DueBy = time.Unix(d.EvidenceDetails.DueBy, 0).UTC()
		}
		if se.Type == stripe.EventTypeChargeDisputeCreated {
			ev.Type = EventDisputeOpened
			break
		}
		ev.Type, ev.Outcome = EventDisputeClosed, DisputeWon
		// An inquiry closed with a warning took no money either.
		if d.Status == stripe.DisputeStatusLost {
			ev.Outcome = DisputeLost
		}
	case stripe.EventTypeRefundUpdated:
		var r stripe.Refund
		if err := json.Unmarshal(raw, &r); err != nil {
			return Event{}, err
		}
		if r.Status == stripe.RefundStatusSucceeded {
			ev.Type = EventRefundSucceeded
		}
		if r.PaymentIntent != nil {
			ev.ChargeID = r.PaymentIntent.ID
		} else if r.Charge != nil {
			ev.ChargeID = r.Charge.ID
		}
		ev.Amount = money.New(r.Amount, strings.ToUpper(string(r.Currency)))
		if r.FailureReason != "" {
			ev.Message = string(r.FailureReason)
		}
	}
	return ev, nil
}

func fillFromSession(ev *Event, cs *stripe.CheckoutSession) {
	ev.SessionID = cs.ID
	if cs.PaymentIntent != nil {
		ev.ChargeID = cs.PaymentIntent.ID
	}
	ev.Reference = sessionReference(cs)
	ev.Amount = money.New(cs.AmountTotal, strings.ToUpper(string(cs.Currency)))
}

// sessionFromStripe maps a Checkout Session. A session that is complete
// but unpaid (a delayed payment method still in flight) is still open to
// the store: it is not paid yet.
func sessionFromStripe(cs *stripe.CheckoutSession) Session {
	out := Session{
		ID:        cs.ID,
		URL:       cs.URL,
		Status:    SessionOpen,
		Reference: sessionReference(cs),
		Amount:    money.New(cs.AmountTotal, strings.ToUpper(string(cs.Currency))),
	}
	switch cs.Status {
	case stripe.CheckoutSessionStatusComplete:
		if cs.PaymentStatus == stripe.CheckoutSessionPaymentStatusPaid ||
			cs.PaymentStatus == stripe.CheckoutSessionPaymentStatusNoPaymentRequired {
			out.Status = SessionSucceeded
		}
	case stripe.CheckoutSessionStatusExpired:
		out.Status = SessionExpired
	}
	if cs.PaymentIntent != nil {
		out.ChargeID = cs.PaymentIntent.ID
	}
	return out
}

func sessionReference(cs *stripe.CheckoutSession) string {
	if cs.ClientReferenceID != "" {
		return cs.ClientReferenceID
	}
	return cs.Metadata["order"]
}

func checkSessionRequest(req SessionRequest) error {
	var errs []error
	if req.Reference == "" {
		errs = append(errs, errors.New("no order reference"))
	}
	if req.Amount.Amount <= 0 {
		errs = append(errs, fmt.Errorf("amount %s is not positive", req.Amount))
	}
	if len(req.Amount.Currency) != 3 {
		errs = append(errs, fmt.Errorf("currency %q is not an ISO 4217 code", req.Amount.Currency))
	}
	if u, err := url.Parse(req.ReturnURL); err != nil || !u.IsAbs() {
		errs = append(errs, fmt.Errorf("return URL %q is not absolute", req.ReturnURL))
	}
	if req.IdempotencyKey == "" {
		errs = append(errs, errors.New("no idempotency key, so a retry could open a second session"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stripe create checkout session: %w", err)
	}
	return nil
}

// withSessionID adds session_id={CHECKOUT_SESSION_ID} to u's query, the
// literal template Stripe replaces with the session's id on redirect; it
// must stay unescaped, so the URL is spliced as text.
func withSessionID(u string) string {
	base, frag, hasFrag := strings.Cut(u, "#")
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
		if strings.HasSuffix(base, "?") || strings.HasSuffix(base, "&") {
			sep = ""
		}
	}
	out := base + sep + "session_id={CHECKOUT_SESSION_ID}"
	if hasFrag {
		out += "#" + frag
	}
	return out
}

// clampExpiry keeps want inside Stripe's expires_at window as seen at now.
func clampExpiry(want, now time.Time) time.Time {
	if lo := now.Add(stripeMinExpiry); want.Before(lo) {
		return lo
	}
	if hi := now.Add(stripeMaxExpiry); want.After(hi) {
		return hi
	}
	return want
}

// signatureTime reads the t= timestamp of a Stripe-Signature header the way
// stripe-go does (the last t= wins), so the age checked is the one the
// verified signature covers.
func signatureTime(header string) (time.Time, error) {
	var t time.Time
	found := false
	for pair := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(pair, "=")
		if k != "t" {
			continue
		}
		sec, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("timestamp %q: %w", v, err)
		}
		t, found = time.Unix(sec, 0), true
	}
	if !found {
		return time.Time{}, errors.New("no timestamp in the signature header")
	}
	return t, nil
}

// stripeError says what failed in words the store can act on. Anything
// that may succeed when retried with the same idempotency key (network
// failures, timeouts, 409 conflicts, 429 and 5xx answers, responses that
// are not Stripe's JSON) wraps ErrUnavailable; an object Stripe does not
// have wraps notFound when given; card and request errors carry Stripe's
// message.
func stripeError(op string, err error, notFound error) error {
	var se *stripe.Error
	if !errors.As(err, &se) {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("stripe %s: %w", op, err)
		}
		return fmt.Errorf("stripe %s: %w: %w", op, ErrUnavailable, err)
	}
	detail := se.Msg
	if se.RequestID != "" {
		detail += " (request " + se.RequestID + ")"
	}
	switch {
	case se.HTTPStatusCode >= 500, se.HTTPStatusCode == http.StatusTooManyRequests,
		se.HTTPStatusCode == http.StatusConflict, se.Type == stripe.ErrorTypeAPI:
		return fmt.Errorf("stripe %s: %w: HTTP %d: %s", op, ErrUnavailable, se.HTTPStatusCode, detail)
	case se.HTTPStatusCode == http.StatusNotFound && notFound != nil:
		return fmt.Errorf("stripe %s: %w: %s", op, notFound, detail)
	case se.HTTPStatusCode == http.StatusUnauthorized:
		return fmt.Errorf("stripe %s: the secret key was refused: %s", op, detail)
	case se.Type == stripe.ErrorTypeCard:
		return fmt.Errorf("stripe %s: card declined (%s): %s", op, se.Code, detail)
	case se.Type == stripe.ErrorTypeIdempotency:
		return fmt.Errorf("stripe %s: idempotency key reused with different parameters: %s", op, detail)
	default:
		return fmt.Errorf("stripe %s: invalid request (HTTP %d, %s %s): %s", op, se.HTTPStatusCode, se.Type, se.Code, detail)
	}
}

// refusedRefund reports whether Stripe answered a refund with a refusal
// of the refund itself (a card or request error, such as a charge
// refunded already or an amount larger than is left), not with one that
// a retry or a fixed setting could get past (unavailable, a refused key,
// a reused idempotency key).
func refusedRefund(err error) bool {
	var se *stripe.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.HTTPStatusCode {
	case http.StatusUnauthorized, http.StatusConflict, http.StatusTooManyRequests:
		return false
	}
	return se.HTTPStatusCode < 500 && (se.Type == stripe.ErrorTypeCard || se.Type == stripe.ErrorTypeInvalidRequest)
}

// Stripe is a Provider.
var _ Provider = (*Stripe)(nil)
