package db

import (
	"context"
	"sync/atomic"
)

// FirstWrite is a statement that must commit with the first write a
// request makes, neither before it nor without it: an Idempotency-Key's
// claim, which then commits or rolls back with the change it guards, in
// one transaction instead of one of its own before it.
//
// Every write on a context that carries it (Tx, TxDurable, TxRelaxed,
// Exec, ExecRelaxed) runs it first, until one of them commits; after that
// the context's writes run as usual. A write whose context lost the value
// (one made on context.Background, say) does not carry it, so only code
// whose writes all run on the request's context may use it. A request's
// writes must run one after another, as a handler's do: two at once would
// both run it.
type FirstWrite struct {
	fn        func(ctx context.Context, tx Querier) error
	committed atomic.Bool
}

type firstWriteKey struct{}

// WithFirstWrite returns a copy of ctx whose first committed write runs fn
// at its start, in its transaction. If fn fails, that write fails with
// fn's error and nothing of it is committed.
func WithFirstWrite(ctx context.Context, fn func(ctx context.Context, tx Querier) error) (context.Context, *FirstWrite) {
	f := &FirstWrite{fn: fn}
	return context.WithValue(ctx, firstWriteKey{}, f), f
}

// Committed reports whether the first write has committed.
func (f *FirstWrite) Committed() bool { return f.committed.Load() }

// pendingFirstWrite returns ctx's FirstWrite if it has not committed yet.
func pendingFirstWrite(ctx context.Context) *FirstWrite {
	f, _ := ctx.Value(firstWriteKey{}).(*FirstWrite)
	if f == nil || f.Committed() {
		return nil
	}
	return f
}

// before returns fn with f's statement in front of it, in its
// transaction; DB.tx marks f committed when that transaction commits.
func (f *FirstWrite) before(ctx context.Context, fn func(Querier) error) func(Querier) error {
	return func(tx Querier) error {
		if err := f.fn(ctx, tx); err != nil {
			return err
		}
		return fn(tx)
	}
}
