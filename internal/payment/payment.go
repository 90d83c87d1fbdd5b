// Package payment talks to payment providers: it starts a payment session
// for an order, learns the outcome by signed webhook or by asking, and
// refunds. The store never sees a card number: the provider's hosted page
// takes it. Two providers implement Provider: the built-in test provider,
// which imitates a real one offline, and Stripe.
package payment

import (
	"context"
	"errors"
	"mistore/internal/db"
	"net/http"
	"time"

	"mistore/internal/money"
)

// Domain outcomes of payment calls.
var (
	// ErrInvalidSignature: a webhook whose signature does not verify.
	ErrInvalidSignature = errors.New("webhook signature does not verify")
	// ErrStaleWebhook: a webhook signed too long ago (a replay).
	ErrStaleWebhook = errors.New("webhook timestamp is too old")
	// ErrMalformedWebhook: a webhook body that is not an event.
	ErrMalformedWebhook = errors.New("webhook body is not an event")
	// ErrUnknownSession: no such payment session at the provider.
	ErrUnknownSession = errors.New("unknown payment session")
	// ErrUnavailable: the provider could not be reached or failed; the
	// call may be retried with the same idempotency key.
	ErrUnavailable = errors.New("payment provider unavailable")
	// ErrRefundRefused: the provider will not make the refund as asked
	// (the charge was refunded already, the amount is more than is left
	// of it, the card cannot take it back): asking again will not help.
	ErrRefundRefused = errors.New("the payment provider refused the refund")
)

// WebhookTolerance is how old a webhook's signature may be. Older ones are
// refused as replays.
const WebhookTolerance = 5 * time.Minute

// Provider is a payment service the store sends shoppers to.
type Provider interface {
	// Name is the provider's code in URLs and records, e.g. "test".
	Name() string
	// CreateSession starts a payment and says where to send the shopper.
	// The same IdempotencyKey returns the same session.
	CreateSession(ctx context.Context, req SessionRequest) (Session, error)
	// GetSession asks the provider how a session stands, for a shopper
	// who returns before the webhook arrives.
	GetSession(ctx context.Context, id string) (Session, error)
	// Refund returns money from a session's charge. The same
	// IdempotencyKey refunds once.
	Refund(ctx context.Context, req RefundRequest) (Refund, error)
	// ParseWebhook checks a webhook's signature and age against now and
	// returns the event it carries.
	ParseWebhook(payload []byte, header http.Header, now time.Time) (Event, error)
}

// LocalSessions is a provider whose sessions live in the store's own
// database, such as the test provider: a session can then be opened
// inside the transaction that places the order, instead of in a call and
// a write of its own after it.
type LocalSessions interface {
	// CreateSessionTx is CreateSession inside tx.
	CreateSessionTx(ctx context.Context, tx db.Querier, req SessionRequest) (Session, error)
	// CloseSessionTx closes session id inside tx, if it is still open,
	// so that it takes no payment: its order was cancelled.
	CloseSessionTx(ctx context.Context, tx db.Querier, id string) error
}

// SessionCloser is a provider whose open sessions the store can close, so
// that a shopper cannot pay for an order that was cancelled. Closing a
// session that is complete or closed already does nothing.
type SessionCloser interface {
	CloseSession(ctx context.Context, id string) error
}

// SessionRequest asks for a payment of Amount for an order.
type SessionRequest struct {
	// Reference is the order number, echoed back in events.
	Reference   string
	Amount      money.Money
	Email       string
	Description string
	// ReturnURL is where the shopper goes after paying (or giving up).
	ReturnURL string
	// ExpiresAt is when the session stops taking payments.
	ExpiresAt      time.Time
	IdempotencyKey string
}

// SessionStatus is where a payment session stands.
type SessionStatus string

// Session states.
const (
	SessionOpen      SessionStatus = "open"
	SessionSucceeded SessionStatus = "succeeded"
	SessionExpired   SessionStatus = "expired"
)

// Session is a payment in progress at the provider.
type Session struct {
	ID        string
	URL       string // the hosted payment page
	Status    SessionStatus
	Reference string
	Amount    money.Money
	// ChargeID identifies the captured payment once Status is succeeded.
	ChargeID string
}

// RefundRequest returns Amount of a session's charge.
type RefundRequest struct {
	SessionID      string
	ChargeID       string
	Amount         money.Money
	Reason         string
	IdempotencyKey string
}

// Refund is a refund at the provider.
type Refund struct {
	ID     string
	Amount money.Money
	Status string // "succeeded" or "pending"
}

// EventType is what a webhook reports.
type EventType string

// Webhook events the store acts on.
const (
	EventPaymentSucceeded EventType = "payment.succeeded"
	EventPaymentFailed    EventType = "payment.failed"
	EventSessionExpired   EventType = "session.expired"
	EventRefundSucceeded  EventType = "refund.succeeded"
	// EventRefunded says how much of a charge the provider has given
	// back in all (Amount), whoever asked for it: the store, or someone
	// in the provider's own dashboard. Providers send it after every
	// refund, so a total the store did not count itself is money given
	// back outside the store.
	EventRefunded EventType = "charge.refunded"
	// EventDisputeOpened says the customer's bank disputes Amount of a
	// charge (a chargeback): it takes the money back unless the shop
	// answers at the provider, with evidence, by DueBy.
	EventDisputeOpened EventType = "dispute.opened"
	// EventDisputeClosed says how dispute DisputeID ended: Outcome won
	// (the money stays) or lost (Amount went back to the customer).
	EventDisputeClosed EventType = "dispute.closed"
)

// The outcomes of a dispute (Event.Outcome).
const (
	DisputeWon  = "won"
	DisputeLost = "lost"
)

// Event is a verified webhook event.
type Event struct {
	// ID is the provider's event id, used to process each event once.
	ID        string
	Type      EventType
	SessionID string
	ChargeID  string
	Reference string
	Amount    money.Money
	Created   time.Time
	// Message is the provider's words, e.g. why a card was declined, or
	// the reason the customer's bank gave for a dispute.
	Message string
	// DisputeID, DueBy and Outcome describe a dispute, for the dispute
	// events.
	DisputeID string    `json:",omitempty"`
	DueBy     time.Time `json:",omitzero"`
	Outcome   string    `json:",omitempty"`
}
