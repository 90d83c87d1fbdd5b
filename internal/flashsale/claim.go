package flashsale

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"mistore/internal/cart"
	"mistore/internal/db"
	"mistore/internal/input"
	"mistore/internal/money"
)

// The claim engine. A claim is answered in one of two ways:
//
//   - From memory, with no database work, when a cached snapshot of the
//     sale settles it: unknown sale, not started, ended, paused, a bad
//     quantity, or sold out. Under a crowd nearly every answer is of this
//     kind once the units are gone, so the writer is never touched by them.
//   - Otherwise the claim queues on its sale, and one goroutine per sale
//     with claims waiting (it stops when the queue is empty) decides what
//     queued in batches: one durable transaction per batch, with a number
//     of statements that does not depend on the batch's size. The sale row
//     is locked first (see the package's lock order), so two processes on
//     one database decide in turn and never oversell; and the counter
//     moves by one conditional UPDATE, so even a bug here could not take
//     it past the quantity (the CHECK would fail the batch).
//
// A claimed answer is sent only after its batch committed durably; when a
// batch fails, every claim in it gets the error and nothing of it stays.

const (
	// defaultMaxBatch bounds the claims decided in one transaction: big
	// enough that a crowd pays one durable commit per few hundred claims,
	// small enough that one batch stays a few milliseconds.
	defaultMaxBatch = 256
	// inFlightPerBatch derives the default bound on claims in flight:
	// about eight batches queued is the most worth waiting for; beyond
	// that a client is better told to come back.
	inFlightPerBatch = 8
	// maxUnits is the most units one claim can ask for whatever the sale
	// allows: a cart line holds at most 1000 (cart_lines' CHECK).
	maxUnits = 1000

	// snapshotTTL is how long a sale's snapshot is trusted for the
	// answers made from memory. Staff changes in this process invalidate
	// it at once; those made through another process are seen within it.
	snapshotTTL = time.Second
	// soldOutRecheck is how often a sold-out sale's counter is read
	// again: units come back when claims expire, perhaps swept by another
	// process, and shoppers should see them soon. One read of one row by
	// primary key on the read pool, whatever the crowd.
	soldOutRecheck = 150 * time.Millisecond

	// Bounds of the Retry-After given to a shed claim.
	minRetry = 50 * time.Millisecond
	maxRetry = time.Second
	// initialPerClaim is the cost of deciding one claim assumed before
	// any batch has been measured.
	initialPerClaim = 100 * time.Microsecond
)

// errClosed answers claims made after Close.
var errClosed = errors.New("flash sales: service closed")

// engine decides claims: in memory where it can, else in batches.
type engine struct {
	s           *Service
	maxBatch    int
	maxInFlight int64

	// inFlight counts the claims queued or being decided, in every sale.
	inFlight atomic.Int64
	// perClaim is a moving average of what deciding one claim in a batch
	// costs, in nanoseconds: with inFlight it tells a shed claim when the
	// queue will have drained.
	perClaim atomic.Int64
	// batches and batched count the transactions run and the claims
	// decided in them: how well claims share their commits.
	batches, batched atomic.Uint64

	mu     sync.RWMutex
	sales  map[int64]*saleLine
	closed bool
	// wg counts the sales' batch goroutines, for close.
	wg sync.WaitGroup
}

func newEngine(s *Service) *engine {
	e := &engine{s: s, maxBatch: s.opts.MaxBatch, maxInFlight: int64(s.opts.MaxInFlight), sales: map[int64]*saleLine{}}
	if e.maxBatch <= 0 {
		e.maxBatch = defaultMaxBatch
	}
	if e.maxInFlight <= 0 {
		e.maxInFlight = int64(inFlightPerBatch * e.maxBatch)
	}
	e.perClaim.Store(int64(initialPerClaim))
	return e
}

// close refuses new claims and returns once the claims already queued
// are decided.
func (e *engine) close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.wg.Wait()
}

// invalidate drops what the engine remembers of sale id, after staff
// changed it or units came back to it: the next claim reads the sale
// again before anything is answered from memory.
func (e *engine) invalidate(id int64) {
	e.mu.RLock()
	l := e.sales[id]
	e.mu.RUnlock()
	if l != nil {
		l.gen.Add(1)
	}
}

// line returns sale id's state, made on first use.
func (e *engine) line(id int64) (*saleLine, error) {
	e.mu.RLock()
	l, closed := e.sales[id], e.closed
	e.mu.RUnlock()
	if closed {
		return nil, errClosed
	}
	if l != nil {
		return l, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errClosed
	}
	if l = e.sales[id]; l == nil {
		l = &saleLine{e: e, id: id}
		e.sales[id] = l
	}
	return l, nil
}

// forget drops the state of a sale that does not exist, so that claims
// for made-up ids cannot grow the map.
func (e *engine) forget(l *saleLine) {
	e.mu.Lock()
	defer e.mu.Unlock()
	l.mu.Lock()
	idle := !l.running && len(l.queue) == 0
	l.mu.Unlock()
	if idle && e.sales[l.id] == l {
		delete(e.sales, l.id)
	}
}

// busy is the answer to a claim shed with n claims in flight: come back
// when the queue ahead has likely drained, give or take a quarter so that
// the shed crowd does not return all at once.
func (e *engine) busy(n int64) *BusyError {
	wait := time.Duration(n * e.perClaim.Load())
	wait = min(max(wait, minRetry), maxRetry)
	wait = time.Duration(float64(wait) * (0.75 + rand.Float64()/2))
	return &BusyError{RetryAfter: min(max(wait, minRetry), maxRetry)}
}

// measure folds the cost of a batch of n claims into perClaim.
func (e *engine) measure(d time.Duration, n int) {
	if n == 0 {
		return
	}
	per := int64(d) / int64(n)
	old := e.perClaim.Load()
	e.perClaim.Store(old + (per-old)/8)
}

// Claim claims qty units of sale id for customerID and returns the claim
// with its cart, or a domain error: ErrNotFound, ErrNotStarted, ErrEnded,
// ErrPaused, ErrSoldOut, ErrNotRegistered, ErrLimitReached, an
// *input.FieldError for a bad quantity, or a *BusyError under overload.
func (s *Service) Claim(ctx context.Context, id, customerID int64, qty int) (*Claim, error) {
	c, err := s.engine.claim(ctx, id, customerID, qty)
	s.claims.count(err)
	return c, err
}

func (e *engine) claim(ctx context.Context, id, customerID int64, qty int) (*Claim, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := e.s.now()
	l, err := e.line(id)
	if err != nil {
		return nil, err
	}
	sn, err := l.current(ctx)
	if err != nil {
		return nil, err
	}
	if sn == nil {
		e.forget(l)
		return nil, ErrNotFound
	}
	if err := sn.refuse(now, qty); err != nil {
		return nil, err
	}
	if n := e.inFlight.Add(1); n > e.maxInFlight {
		e.inFlight.Add(-1)
		return nil, e.busy(n)
	}
	r, err := e.newRequest(ctx, customerID, qty, now)
	if err != nil {
		e.inFlight.Add(-1)
		return nil, err
	}
	if !l.enqueue(r) {
		e.inFlight.Add(-1)
		return nil, errClosed
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		// Withdrawn before a batch took it: decided nothing.
		if r.state.CompareAndSwap(queued, withdrawn) {
			e.inFlight.Add(-1)
			return nil, ctx.Err()
		}
		<-r.done
	}
	return r.claim, r.err
}

// newRequest makes a queued claim with its cart's id and token ready, so
// that the batch that decides it does no per-claim work but its rows.
func (e *engine) newRequest(ctx context.Context, customerID int64, qty int, now time.Time) (*request, error) {
	id, err := cart.NewID()
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	token, err := e.s.carts.Token(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	return &request{ctx: ctx, customer: customerID, qty: qty, arrived: now, cartID: id, token: token, done: make(chan struct{})}, nil
}

// The states of a queued request: a batch takes it, or its caller gives
// up first and withdraws it; never both.
const (
	queued int32 = iota
	taken
	withdrawn
)

// request is one claim waiting for its batch.
type request struct {
	ctx      context.Context
	customer int64
	qty      int
	// arrived is when the claim was made: the sale's window is judged at
	// that moment, not when its batch runs.
	arrived       time.Time
	cartID, token string
	state         atomic.Int32

	// Set before done is closed.
	claim *Claim
	err   error
	done  chan struct{}
}

// snapshot is what the engine knows of a sale: enough to answer claims
// from memory. It is never changed once published.
type snapshot struct {
	market, sku, currency string
	price                 int64
	quantity, limit       int
	claimed               int
	startsAt, closes      time.Time
	paused                bool
	registration          bool
	// gen is the sale's invalidation count the snapshot was read under;
	// one read before the last invalidate is not trusted.
	gen uint64
	// read is when it was read (the process's clock, for its age only).
	read time.Time
}

func (sn *snapshot) remaining() int { return sn.quantity - sn.claimed }

// refuse answers from memory a claim the snapshot settles, in the order
// the API documents; nil means the claim must be decided in a batch.
func (sn *snapshot) refuse(now time.Time, qty int) error {
	switch {
	case now.Before(sn.startsAt):
		return ErrNotStarted
	case !now.Before(sn.closes):
		return ErrEnded
	case sn.paused:
		return ErrPaused
	}
	if err := checkQuantity(qty, sn.limit); err != nil {
		return err
	}
	if sn.remaining() < qty {
		return ErrSoldOut
	}
	return nil
}

// checkQuantity refuses a quantity no claim of the sale can have.
func checkQuantity(qty, limit int) error {
	most := min(limit, maxUnits)
	switch {
	case qty < 1:
		return &input.FieldError{Field: "quantity", Msg: "Claim at least one unit."}
	case qty > limit:
		return &OverLimitError{Limit: limit}
	case qty > most:
		return &input.FieldError{Field: "quantity", Msg: fmt.Sprintf("A claim holds at most %d units.", most)}
	}
	return nil
}

// OverLimitError is a claim for more units than one customer may hold of
// the sale: it is ErrLimitReached, told with the limit.
type OverLimitError struct {
	Limit int
}

func (e *OverLimitError) Error() string {
	if e.Limit == 1 {
		return "You may claim one unit of this sale."
	}
	return fmt.Sprintf("You may claim at most %d units of this sale.", e.Limit)
}

// Is makes an OverLimitError ErrLimitReached.
func (e *OverLimitError) Is(target error) bool { return target == ErrLimitReached }

// saleLine is one sale's state in the engine: its snapshot and its queue
// of claims.
type saleLine struct {
	e  *engine
	id int64

	// gen counts invalidations; snap is the latest snapshot, loadMu lets
	// one caller at a time read the sale.
	gen    atomic.Uint64
	snap   atomic.Pointer[snapshot]
	loadMu sync.Mutex

	mu      sync.Mutex
	queue   []*request
	running bool // a batch goroutine is on the queue
}

// current returns the sale's snapshot, read again when it was invalidated
// (everyone waits for that read) or has aged (one caller reads, the
// others go on with what is known). nil means there is no such sale.
func (l *saleLine) current(ctx context.Context) (*snapshot, error) {
	if sn := l.snap.Load(); sn != nil && sn.gen == l.gen.Load() {
		ttl := snapshotTTL
		if sn.remaining() <= 0 {
			ttl = soldOutRecheck
		}
		if time.Since(sn.read) < ttl || !l.loadMu.TryLock() {
			return sn, nil
		}
		defer l.loadMu.Unlock()
		fresh, err := l.load(ctx)
		if err != nil {
			// What is known still decides nothing for good: a claim it
			// lets through is decided against the locked row.
			l.e.s.log.Warn("flash sale: reading the sale again", "sale", l.id, "err", err)
			return sn, nil
		}
		return fresh, nil
	}
	l.loadMu.Lock()
	defer l.loadMu.Unlock()
	if sn := l.snap.Load(); sn != nil && sn.gen == l.gen.Load() {
		return sn, nil
	}
	return l.load(ctx)
}

// load reads the sale from the read pool and publishes the snapshot.
func (l *saleLine) load(ctx context.Context) (*snapshot, error) {
	gen := l.gen.Load()
	sn, err := scanSnapshot(l.e.s.db.Reader().QueryRowContext(ctx, "SELECT "+snapshotColumns+" FROM flash_sales WHERE id = $1", l.id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("flash sale %d: %w", l.id, err)
	}
	sn.gen, sn.read = gen, time.Now()
	l.snap.Store(sn)
	return sn, nil
}

const snapshotColumns = `market, sku, price, currency, quantity, per_customer_limit, claimed,
	starts_at, ends_at, ended_at, paused, registration_closes_at`

func scanSnapshot(row *sql.Row) (*snapshot, error) {
	var sn snapshot
	var ends time.Time
	var ended, regCloses sql.NullTime
	if err := row.Scan(&sn.market, &sn.sku, &sn.price, &sn.currency, &sn.quantity, &sn.limit, &sn.claimed,
		&sn.startsAt, &ends, &ended, &sn.paused, &regCloses); err != nil {
		return nil, err
	}
	sale := Sale{EndsAt: ends, EndedAt: ended.Time}
	sn.closes = sale.Closes()
	sn.registration = regCloses.Valid
	return &sn, nil
}

// enqueue queues r and makes sure a batch goroutine is on the queue. It
// reports false after close.
func (l *saleLine) enqueue(r *request) bool {
	l.e.mu.RLock()
	defer l.e.mu.RUnlock()
	if l.e.closed {
		return false
	}
	l.mu.Lock()
	l.queue = append(l.queue, r)
	start := !l.running
	l.running = true
	l.mu.Unlock()
	if start {
		l.e.wg.Add(1)
		go l.run()
	}
	return true
}

// run decides the sale's queue batch after batch and stops when it is
// empty: an idle sale costs no goroutine.
func (l *saleLine) run() {
	defer l.e.wg.Done()
	batch := make([]*request, 0, l.e.maxBatch)
	for {
		batch = batch[:0]
		l.mu.Lock()
		i := 0
		for ; i < len(l.queue) && len(batch) < l.e.maxBatch; i++ {
			if r := l.queue[i]; r.state.CompareAndSwap(queued, taken) {
				batch = append(batch, r)
			}
		}
		n := copy(l.queue, l.queue[i:])
		clear(l.queue[n:])
		l.queue = l.queue[:n]
		if len(batch) == 0 && n == 0 {
			l.running = false
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		if len(batch) > 0 {
			l.decide(batch)
		}
	}
}

// answer gives r its outcome.
func (l *saleLine) answer(r *request, c *Claim, err error) {
	r.claim, r.err = c, err
	close(r.done)
	l.e.inFlight.Add(-1)
}

// decide decides one batch: what memory settles (sold out since the
// claims queued), then the rest in one durable transaction.
func (l *saleLine) decide(batch []*request) {
	start := time.Now()
	sn, err := l.current(context.Background())
	if err != nil || sn == nil {
		if err == nil {
			err = ErrNotFound
		}
		for _, r := range batch {
			l.answer(r, nil, err)
		}
		return
	}
	pending := batch[:0:0]
	for _, r := range batch {
		if sn.remaining() < r.qty {
			l.answer(r, nil, ErrSoldOut)
			continue
		}
		pending = append(pending, r)
	}
	if len(pending) == 0 {
		return
	}
	gen := l.gen.Load()
	var out batchOutcome
	d := l.e.s.db
	err = d.TxDurable(context.Background(), func(tx db.Querier) error {
		out = batchOutcome{}
		return l.decideTx(tx, d.Dialect, pending, &out)
	})
	if err != nil {
		err = fmt.Errorf("claim in flash sale %d: %w", l.id, err)
		for _, r := range pending {
			l.answer(r, nil, err)
		}
		return
	}
	if out.sale != nil {
		out.sale.gen, out.sale.read = gen, time.Now()
		l.snap.Store(out.sale)
	}
	for i, r := range pending {
		l.answer(r, out.claims[i], out.errs[i])
	}
	l.e.measure(time.Since(start), len(pending))
	l.e.batches.Add(1)
	l.e.batched.Add(uint64(len(pending)))
}

// batchOutcome is what a batch's transaction decided, published only
// once it committed.
type batchOutcome struct {
	// sale is the locked row as the batch left it; nil when the sale is
	// gone.
	sale   *snapshot
	claims []*Claim
	errs   []error
}

// decideTx decides reqs in tx: lock the sale row, read the
// registrations and holdings of the batch's customers, decide each claim
// in order, then write the claims that were granted, with a number of
// statements that does not depend on how many.
func (l *saleLine) decideTx(tx db.Querier, dialect db.Dialect, reqs []*request, out *batchOutcome) error {
	ctx := context.Background()
	out.claims = make([]*Claim, len(reqs))
	out.errs = make([]error, len(reqs))
	q := claimSQL[dialect]

	// A claim whose caller gave up before its batch started decides
	// nothing.
	live := 0
	for i, r := range reqs {
		if err := r.ctx.Err(); err != nil {
			out.errs[i] = err
			continue
		}
		live++
	}
	if live == 0 {
		return nil
	}

	sale, err := scanSnapshot(tx.QueryRowContext(ctx, q.lock, l.id))
	if errors.Is(err, sql.ErrNoRows) {
		for i := range reqs {
			if out.errs[i] == nil {
				out.errs[i] = ErrNotFound
			}
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("lock sale: %w", err)
	}
	out.sale = sale

	customers := make([]int64, 0, live)
	seen := make(map[int64]int, live) // customer -> units held, as decided so far
	for i, r := range reqs {
		if out.errs[i] != nil {
			continue
		}
		if _, ok := seen[r.customer]; !ok {
			seen[r.customer] = 0
			customers = append(customers, r.customer)
		}
	}
	ids, err := idList(dialect, customers)
	if err != nil {
		return err
	}
	var registered map[int64]bool
	if sale.registration {
		registered = make(map[int64]bool, len(customers))
		if err := db.EachRow(ctx, tx, q.registered, []any{l.id, ids}, func(rows *sql.Rows) error {
			var c int64
			if err := rows.Scan(&c); err != nil {
				return err
			}
			registered[c] = true
			return nil
		}); err != nil {
			return fmt.Errorf("registrations: %w", err)
		}
	}
	if err := db.EachRow(ctx, tx, q.holders, []any{l.id, ids}, func(rows *sql.Rows) error {
		var c int64
		var units int
		if err := rows.Scan(&c, &units); err != nil {
			return err
		}
		seen[c] = units
		return nil
	}); err != nil {
		return fmt.Errorf("holders: %w", err)
	}

	remaining := sale.remaining()
	granted := make([]int, 0, live)
	adds := make(map[int64]int, live)
	total := 0
	for i, r := range reqs {
		if out.errs[i] != nil {
			continue
		}
		switch {
		case r.arrived.Before(sale.startsAt):
			out.errs[i] = ErrNotStarted
		case !r.arrived.Before(sale.closes):
			out.errs[i] = ErrEnded
		case sale.paused:
			out.errs[i] = ErrPaused
		default:
			out.errs[i] = checkQuantity(r.qty, sale.limit)
		}
		if out.errs[i] != nil {
			continue
		}
		switch {
		case sale.registration && !registered[r.customer]:
			out.errs[i] = ErrNotRegistered
		case seen[r.customer]+r.qty > sale.limit:
			out.errs[i] = ErrLimitReached
		case remaining < r.qty:
			out.errs[i] = ErrSoldOut
		default:
			remaining -= r.qty
			seen[r.customer] += r.qty
			adds[r.customer] += r.qty
			total += r.qty
			granted = append(granted, i)
		}
	}
	if total == 0 {
		return nil
	}

	res, err := tx.ExecContext(ctx, q.take, l.id, total)
	if err != nil {
		return fmt.Errorf("take %d units: %w", total, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		// The row is locked: this cannot happen unless the lock order is
		// broken somewhere. Refuse the whole batch rather than oversell.
		return fmt.Errorf("take %d units: the sale's counter moved under its lock (%d rows, %v)", total, n, err)
	}
	sale.claimed += total

	holders := make([]int64, 0, len(adds))
	units := make([]int, 0, len(adds))
	for _, c := range customers {
		if u := adds[c]; u > 0 {
			holders, units = append(holders, c), append(units, u)
		}
	}
	hs, err := pairs(dialect, holders, units)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, q.hold, append([]any{l.id}, hs...)...); err != nil {
		return fmt.Errorf("holders: %w", err)
	}

	now := db.Time(l.e.s.now())
	expires := now.Add(ClaimTTL)
	carts := make([]cart.ClaimCart, len(granted))
	cs := make([]int64, len(granted))
	qs := make([]int, len(granted))
	cartIDs := make([]string, len(granted))
	byCart := make(map[string]int, len(granted))
	for j, i := range granted {
		r := reqs[i]
		carts[j] = cart.ClaimCart{ID: r.cartID, Quantity: r.qty}
		cs[j], qs[j], cartIDs[j] = r.customer, r.qty, r.cartID
		byCart[r.cartID] = i
	}
	if err := cart.InsertClaimCarts(ctx, tx, dialect, cart.ClaimLines{Market: sale.market, SKU: sale.sku, Price: sale.price, Now: now}, carts); err != nil {
		return err
	}
	args, err := claimRows(dialect, cs, qs, cartIDs)
	if err != nil {
		return err
	}
	price := money.New(sale.price, sale.currency)
	if err := db.EachRow(ctx, tx, q.insert, append([]any{l.id, expires, now}, args...), func(rows *sql.Rows) error {
		var id int64
		var cartID string
		if err := rows.Scan(&id, &cartID); err != nil {
			return err
		}
		i, ok := byCart[cartID]
		if !ok {
			return fmt.Errorf("unexpected cart %q", cartID)
		}
		r := reqs[i]
		out.claims[i] = &Claim{ID: id, SaleID: l.id, CustomerID: r.customer, Quantity: r.qty, State: "live",
			UnitPrice: price, CartID: r.cartID, CartToken: r.token, ExpiresAt: expires, CreatedAt: now}
		return nil
	}); err != nil {
		return fmt.Errorf("insert claims: %w", err)
	}
	for _, i := range granted {
		if out.claims[i] == nil {
			return fmt.Errorf("insert claims: no row for cart %s", reqs[i].cartID)
		}
	}
	return nil
}
