package order

import (
	"context"
	"sync/atomic"

	"mistore/internal/db"
)

// paymentStats counts what this process's payment transactions did once
// they committed: orders paid and payment failures noted.
type paymentStats struct {
	paid, failed atomic.Uint64
}

// tally is what one payment transaction did, counted only if it commits.
type tally struct{ paid, failed uint64 }

type tallyKey struct{}

// tallyOf returns the tally of the payment transaction ctx belongs to;
// outside one it returns a scratch tally that nobody reads.
func tallyOf(ctx context.Context) *tally {
	if t, ok := ctx.Value(tallyKey{}).(*tally); ok {
		return t
	}
	return &tally{}
}

// payTx runs fn in a transaction and, once it commits, counts the orders
// it paid and the payment failures it noted. The tally starts again each
// time fn runs, so a transaction retried is counted once.
func (s *Service) payTx(ctx context.Context, fn func(ctx context.Context, tx db.Querier) error) error {
	t := &tally{}
	ctx = context.WithValue(ctx, tallyKey{}, t)
	err := s.db.Tx(ctx, func(tx db.Querier) error {
		*t = tally{}
		return fn(ctx, tx)
	})
	if err == nil {
		s.stats.paid.Add(t.paid)
		s.stats.failed.Add(t.failed)
	}
	return err
}

// PaymentStats returns how many orders this process marked paid, and how
// many failed payment attempts it noted, since it started.
func (s *Service) PaymentStats() (paid, failed uint64) {
	return s.stats.paid.Load(), s.stats.failed.Load()
}
