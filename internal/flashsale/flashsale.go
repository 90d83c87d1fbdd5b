// Package flashsale holds flash sales: a fixed quantity of one SKU at a
// special price in one market, opened at a set second to a crowd far
// larger than the stock. Signed-in customers claim units; a claim puts the
// units in a cart of their own at the sale price for ClaimTTL, and unpaid
// claims give their units back to the sale.
//
// Stock: a sale's units are set aside when it is created, as one
// reservation owned by "flashsale:ID" (the pool) in one warehouse, so the
// rest of the store cannot sell them. A claim only moves the sale's
// counter (flash_sales.claimed); checkout moves the claimed units from the
// pool to the order's own reservation, so payment, cancellation and
// refunds treat them like any other order's stock; an order that is never
// paid gives them back to the pool (Unpaid). When the sale is over the
// pool reservation expires and what is left returns to the warehouse.
//
// The claim path (claim.go) is the hottest code in the store: decisions
// that need no database (not started, ended, sold out) are made in memory,
// the rest queue per sale and are decided in batches, one durable
// transaction per batch, under a bound on claims in flight.
package flashsale

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"mistore/internal/catalog"
	"mistore/internal/db"
	"mistore/internal/money"
)

// ClaimTTL is how long a claim holds its units for its customer to check
// out and pay.
const ClaimTTL = 5 * time.Minute

// poolGrace is how long after the last claim can run out the pool
// reservation lives: time for the jobs that settle claims and orders.
const poolGrace = 2 * time.Minute

// Domain outcomes. The web layer maps each to one API error code.
var (
	ErrNotFound      = errors.New("no such flash sale")
	ErrSoldOut       = errors.New("sold out")
	ErrNotStarted    = errors.New("the sale has not started")
	ErrEnded         = errors.New("the sale has ended")
	ErrPaused        = errors.New("the sale is paused")
	ErrNotRegistered = errors.New("not registered for the sale")
	ErrLimitReached  = errors.New("per-customer limit reached")
	// ErrRegistrationClosed: registering after the registration closed,
	// or for a sale that takes no registrations.
	ErrRegistrationClosed = errors.New("registration is closed")
	// ErrClaimExpired: checking out a claim's cart after the claim ran out.
	ErrClaimExpired = errors.New("the claim has expired")
	// ErrState: a change the sale's state does not allow (rescheduling a
	// sale that started, resuming an ended one).
	ErrState = errors.New("not allowed in the sale's state")
	// ErrBusy: too many claims in flight; try again after RetryAfter.
	ErrBusy = errors.New("too many claims at once")
)

// BusyError is the answer to a claim shed under overload.
type BusyError struct {
	// RetryAfter is when a retry has a fair chance, with jitter applied.
	RetryAfter time.Duration
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("%v: retry in %d ms", ErrBusy, e.RetryAfter.Milliseconds())
}

// Unwrap makes errors.Is(err, ErrBusy) hold.
func (e *BusyError) Unwrap() error { return ErrBusy }

// State is where a sale stands at a moment, as shoppers see it.
type State string

// The states of a sale.
const (
	Scheduled State = "scheduled"
	Live      State = "live"
	SoldOut   State = "sold_out"
	Paused    State = "paused"
	Ended     State = "ended"
)

// Sale is a flash sale with its counters.
type Sale struct {
	ID        int64
	Market    string
	SKU       string
	Warehouse string
	// Title is the staff's name for the sale; Name the product's (and
	// variant's) name, read from the catalog.
	Title       string
	Name        string
	ProductSlug string
	Price       money.Money
	Quantity    int
	// PerCustomerLimit bounds the units one customer may hold and buy in
	// this sale, over all their claims and orders.
	PerCustomerLimit int
	StartsAt, EndsAt time.Time
	// RegistrationClosesAt is zero for a sale anyone signed in may claim;
	// else only customers who registered before it may.
	RegistrationClosesAt time.Time
	Paused               bool
	// EndedAt is set when staff ended the sale early.
	EndedAt time.Time
	// Claimed units are out of the pool now: held by live claims, in
	// unpaid orders, or paid. Paid are sold; Released were given back
	// (cumulative).
	Claimed, Paid, Released int
	CreatedAt, UpdatedAt    time.Time
}

// Remaining is how many units can be claimed now.
func (s *Sale) Remaining() int { return s.Quantity - s.Claimed }

// Pending is how many claimed units are not paid yet: they may come back.
func (s *Sale) Pending() int { return s.Claimed - s.Paid }

// RegistrationRequired reports whether only registered customers may claim.
func (s *Sale) RegistrationRequired() bool { return !s.RegistrationClosesAt.IsZero() }

// RegistrationOpen reports whether a customer may register at now.
func (s *Sale) RegistrationOpen(now time.Time) bool {
	return s.RegistrationRequired() && now.Before(s.RegistrationClosesAt) && s.StateAt(now) != Ended
}

// Closes is when claiming ends: the end of the window, or earlier when
// staff ended the sale.
func (s *Sale) Closes() time.Time {
	if !s.EndedAt.IsZero() && s.EndedAt.Before(s.EndsAt) {
		return s.EndedAt
	}
	return s.EndsAt
}

// StateAt is the sale's state at now. A sale is live from StartsAt
// (inclusive) until Closes (exclusive).
func (s *Sale) StateAt(now time.Time) State {
	switch {
	case !now.Before(s.Closes()):
		return Ended
	case now.Before(s.StartsAt):
		return Scheduled
	case s.Paused:
		return Paused
	case s.Remaining() <= 0:
		return SoldOut
	}
	return Live
}

// PoolOwner is the owner of the sale's stock reservation.
func PoolOwner(saleID int64) string { return "flashsale:" + strconv.FormatInt(saleID, 10) }

// Claim is a customer's claim on units of a sale.
type Claim struct {
	ID         int64
	SaleID     int64
	CustomerID int64
	Quantity   int
	// State is live, ordered, paid or released.
	State       string
	UnitPrice   money.Money
	CartID      string
	CartToken   string
	OrderNumber string
	ExpiresAt   time.Time
	CreatedAt   time.Time
}

// Hold is what checkout needs of the claim a cart holds: the units, the
// price they are sold at, and until when.
type Hold struct {
	ClaimID   int64
	SaleID    int64
	Market    string
	SKU       string
	Quantity  int
	UnitPrice money.Money
	State     string
	ExpiresAt time.Time
}

// Carts is what the sales need of carts: the token that opens a claim's
// cart (cart.Service).
type Carts interface {
	Token(ctx context.Context, id string) (string, error)
}

// Options tunes a Service; zero values pick defaults.
type Options struct {
	// Now is the clock of every decision; nil means time.Now.
	Now func() time.Time
	// MaxInFlight bounds the claims being decided at once in this
	// process; the rest are shed with a BusyError.
	MaxInFlight int
	// MaxBatch bounds the claims decided in one transaction.
	MaxBatch int
	Log      *slog.Logger
}

// Service runs flash sales.
type Service struct {
	db      *db.DB
	catalog *catalog.Service
	carts   Carts
	now     func() time.Time
	log     *slog.Logger
	opts    Options
	engine  *engine
	// claims counts the claims decided, by outcome (stats.go).
	claims claimStats
}

// NewService returns a Service on d. Close stops its claim batchers.
func NewService(d *db.DB, c *catalog.Service, carts Carts, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &Service{db: d, catalog: c, carts: carts, now: opts.Now, log: opts.Log, opts: opts}
	s.engine = newEngine(s)
	return s
}

// Close stops the claim batchers after the claims they hold.
func (s *Service) Close() { s.engine.close() }
