package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// maxBatch bounds how many transactions share one commit. A batch forms
// from whatever queued while the previous one ran, so at low load every
// transaction commits alone and at high load a few dozen share a commit;
// the bound keeps one batch's latency from growing without end.
const maxBatch = 128

// yieldBelow is the number of queued transactions below which the writer
// yields before it takes a batch (see loop). Under the checkout load test
// at 32 workers, skipping the yield from 6 queued on gave more checkouts
// a second in six of seven alternating pairs (-10% to +26%, median +13%;
// 567.2/s at best, p99 of all requests 37 ms); at 16 workers, where so
// many are rarely queued, the difference was within the noise.
const yieldBelow = 6

// ErrClosed is returned for a transaction submitted after Close.
var ErrClosed = errors.New("database closed")

// batcher is SQLite's group commit. SQLite has one writer at a time; a
// store under load spends a large share of that writer's time committing
// (writing WAL frames and, under synchronous=FULL, syncing them), and the
// rest handing the one connection from goroutine to goroutine. The batcher
// owns the connection: transactions are queued to it, and it runs all the
// queued ones back to back inside one SQLite transaction, each in its own
// savepoint, then commits once and answers them all.
//
// Each transaction keeps its own all-or-nothing meaning: one that fails
// is rolled back to its savepoint and the others in the batch commit
// without it. One that succeeds is answered only after the shared commit,
// so "nil" still means "durable as the pragmas say". Transactions in a
// batch run one after another and see each other's writes, exactly as if
// they had run alone in that order.
type batcher struct {
	// w is the write connection; only the loop's goroutine uses it.
	w writerConn
	// ckpt is told of every commit, to copy the WAL back in the background.
	ckpt  *checkpointer
	queue chan *writeReq
	stop  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
	// mu orders submissions before close: once closed is set, nothing
	// more enters the queue, so the loop answers everything in it.
	mu     sync.RWMutex
	closed bool

	// batches and txs count commits and the transactions in them, so that
	// how much the batching saves can be read off the metrics.
	batches, txs atomic.Uint64
	// busy is the time the writer spent running batches, in nanoseconds:
	// how close to saturation the one writer is.
	busy atomic.Int64
}

// writeReq is one queued transaction.
type writeReq struct {
	ctx context.Context
	fn  func(Querier) error
	// durable asks for the batch's commit to reach the disk (see TxDurable).
	durable bool
	// Set by the batcher before done is closed.
	err      error
	panicked any
	ok       bool // fn returned nil and its savepoint was kept
	done     chan struct{}
}

func newBatcher(pool *sql.DB, ckpt *checkpointer) *batcher {
	b := &batcher{w: writerConn{pool: pool}, ckpt: ckpt, queue: make(chan *writeReq, maxBatch), stop: make(chan struct{})}
	b.wg.Add(1)
	go b.loop()
	return b
}

// do runs fn in a write transaction through the batcher and returns once
// that transaction is committed or rolled back. A fn that panicked panics
// again here, in its caller's goroutine.
func (b *batcher) do(ctx context.Context, durable bool, fn func(Querier) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &writeReq{ctx: ctx, fn: fn, durable: durable, done: make(chan struct{})}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return ErrClosed
	}
	select {
	case b.queue <- r:
		b.mu.RUnlock()
	case <-ctx.Done():
		b.mu.RUnlock()
		return ctx.Err()
	}
	// Once queued the request is the batcher's: it answers every request
	// it takes, and one already running cannot be abandoned half-way.
	<-r.done
	if r.panicked != nil {
		panic(r.panicked)
	}
	return r.err
}

// close stops the batcher after the transactions already queued.
func (b *batcher) close() {
	b.once.Do(func() {
		b.mu.Lock()
		b.closed = true
		close(b.stop)
		b.mu.Unlock()
	})
	b.wg.Wait()
}

func (b *batcher) loop() {
	defer b.wg.Done()
	defer b.w.release()
	batch := make([]*writeReq, 0, maxBatch)
	for {
		var first *writeReq
		select {
		case first = <-b.queue:
		case <-b.stop:
			// Requests that made it into the queue are still answered.
			for {
				select {
				case r := <-b.queue:
					b.run([]*writeReq{r})
				default:
					return
				}
			}
		}
		start := time.Now()
		batch = append(batch[:0], first)
		// Let the goroutines that are ready to run (on two cores, often
		// handlers a moment away from submitting their writes) run first,
		// so that they join this batch rather than wait for the next
		// commit. Measured under the checkout load test: 6-10% more
		// checkouts a second and a lower p99, for one scheduler yield per
		// commit. Unless enough are queued already: a yield puts the
		// writer at the back of the scheduler's global queue, where it
		// waited 300-400 µs a batch, and with yieldBelow waiting the
		// commit is shared well enough without it.
		if len(b.queue) < yieldBelow {
			runtime.Gosched()
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-b.queue:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		b.run(batch)
		if b.w.conn != nil {
			b.ckpt.finish(context.Background(), b.w.conn)
		}
		b.busy.Add(int64(time.Since(start)))
		clear(batch)
	}
}

// run executes one batch and answers every request in it.
func (b *batcher) run(batch []*writeReq) {
	defer func() {
		for _, r := range batch {
			close(r.done)
		}
	}()
	// A batch with a durable transaction in it commits under
	// synchronous=FULL: the WAL is synced before anyone in it is answered.
	// The others ride along for free; the one sync is shared.
	durable := false
	for _, r := range batch {
		durable = durable || r.durable
	}
	if _, err := b.w.acquire(context.Background()); err != nil {
		for _, r := range batch {
			r.err = fmt.Errorf("write connection: %w", err)
		}
		return
	}
	if durable {
		if err := b.w.exec("PRAGMA synchronous = FULL"); err != nil {
			for _, r := range batch {
				r.err = fmt.Errorf("durable commit: %w", err)
			}
			return
		}
		defer func() {
			// The connection is the writer's own; back to the default.
			if b.w.conn != nil {
				_ = b.w.exec("PRAGMA synchronous = NORMAL")
			}
		}()
	}
	// When the shared transaction itself is lost (a failed commit, or a
	// statement error that rolls back the whole transaction, such as a
	// full disk), nothing of it was written: the requests that had
	// succeeded are told so. They are not run again, since a caller's fn
	// may not be safe to run twice.
	lost, err := b.runTx(batch)
	for _, r := range lost {
		r.ok, r.err = false, err
	}
}

// runTx runs batch in one transaction. When the transaction itself fails,
// it returns the error and the requests that had succeeded until then,
// whose work is lost with it; every other request has its own outcome.
func (b *batcher) runTx(batch []*writeReq) (lost []*writeReq, err error) {
	if err := b.w.exec("BEGIN IMMEDIATE"); err != nil {
		err = fmt.Errorf("begin: %w", err)
		for _, r := range batch {
			r.err = err
		}
		// A connection that cannot begin is given back; the next batch
		// takes one afresh.
		b.w.release()
		return nil, err
	}
	q := writerTx{&b.w}
	alone := len(batch) == 1
	kept := 0
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		if !alone {
			if err := b.w.exec("SAVEPOINT batch_tx"); err != nil {
				return b.abort(batch[:i], batch[i:], fmt.Errorf("savepoint: %w", err))
			}
		}
		r.panicked, r.err = call(r.fn, q)
		if r.err != nil || r.panicked != nil {
			if alone {
				if rerr := b.w.rollback(); rerr != nil && r.err != nil {
					r.err = errors.Join(r.err, rerr)
				}
				return nil, nil
			}
			if rerr := b.w.exec("ROLLBACK TO batch_tx"); rerr != nil {
				// SQLite ended the whole transaction itself (a full disk
				// does that): the others of the batch are told which
				// failure took their work with it.
				failure := r.err
				if failure == nil {
					failure = fmt.Errorf("panic: %v", r.panicked)
				}
				return b.abort(batch[:i], batch[i+1:], fmt.Errorf("transaction shared with one that failed (%v), rolled back: %w", failure, rerr))
			}
		} else {
			r.ok = true
			kept++
		}
		if !alone {
			if err := b.w.exec("RELEASE batch_tx"); err != nil {
				return b.abort(batch[:i+1], batch[i+1:], fmt.Errorf("release savepoint: %w", err))
			}
		}
	}
	if kept == 0 {
		return nil, b.w.rollback()
	}
	if err := b.w.exec("COMMIT"); err != nil {
		// A COMMIT that fails may leave the transaction open (SQLite
		// keeps it after a busy or locked error): end it, so that the
		// next batch does not run inside it.
		err = fmt.Errorf("commit: %w", err)
		if rerr := b.w.rollback(); rerr != nil {
			err = errors.Join(err, rerr)
		}
		var lost []*writeReq
		for _, r := range batch {
			if r.ok {
				lost = append(lost, r)
			}
		}
		return lost, err
	}
	b.batches.Add(1)
	b.txs.Add(uint64(kept))
	b.ckpt.committed()
	return nil, nil
}

// abort rolls back a batch whose transaction broke: the requests in done
// that had succeeded lost their work, and those in notRun never ran. Both
// are returned, to be told.
func (b *batcher) abort(done, notRun []*writeReq, cause error) ([]*writeReq, error) {
	if err := b.w.rollback(); err != nil {
		cause = errors.Join(cause, err)
	}
	var lost []*writeReq
	for _, r := range done {
		if r.ok {
			lost = append(lost, r)
		}
	}
	return append(lost, notRun...), cause
}

// call runs fn, turning a panic into a value to re-raise in the caller.
func call(fn func(Querier) error, q Querier) (panicked any, err error) {
	defer func() {
		if v := recover(); v != nil {
			panicked = v
		}
	}()
	return nil, fn(q)
}
