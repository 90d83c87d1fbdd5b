package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mistore/internal/db"
	"mistore/internal/flashsale"
)

// The flashsale scenario is one flash sale, start to finish. Before the
// clock starts it writes N customers with a session each straight into
// the store's database, tops up the stock of one SKU and creates a sale of
// K units through flashsale.Service, starting a few seconds later. The
// workers open their connections, wait for the start, and then fire every
// customer's claim, one customer after another, retrying answers that say
// "not yet" (503 overloaded after its Retry-After-Ms, 409 not_started) and
// counting them apart from the answers that decide a claim. Afterwards the
// database is checked (flashsale_verify.go).

// Defaults and limits of FlashSaleOptions.
const (
	DefaultFlashCustomers = 100_000
	DefaultFlashUnits     = 10_000
	DefaultFlashLimit     = 1
	// DefaultFlashLead is how long after its creation the sale starts:
	// time to open the workers' connections and let the store see the
	// sale before the crowd arrives.
	DefaultFlashLead  = 3 * time.Second
	MaxFlashCustomers = 5_000_000
	MaxFlashUnits     = 10_000_000
)

const (
	// claimQuantity is what every customer claims.
	claimQuantity = 1
	// notStartedRetry is the pause before claiming again after a
	// not_started answer: the two clocks may differ by a little.
	notStartedRetry = 5 * time.Millisecond
	// defaultRetryAfter is the pause after a 503 that names none.
	defaultRetryAfter = 50 * time.Millisecond
	// maxRetryAfter caps the pause a 503 may ask for, so a confused
	// server cannot stall the run.
	maxRetryAfter = 5 * time.Second
	// maxClaimBody caps how much of a claim's answer is kept.
	maxClaimBody = 64 << 10
)

// FlashSaleOptions configures the flashsale scenario.
type FlashSaleOptions struct {
	// DB is the store's own database, which the scenario writes its
	// customers and sale into and checks afterwards. Required.
	DB *db.DB
	// Customers is how many customers claim, one unit each; zero means
	// DefaultFlashCustomers.
	Customers int
	// Units is the sale's quantity; zero means DefaultFlashUnits.
	Units int
	// Limit is the sale's per-customer limit; zero means
	// DefaultFlashLimit.
	Limit int
	// SKU is what the sale sells; empty picks an available variant of a
	// cheap accessory, as the checkout scenario does. Either way its stock
	// in the market is topped up to Units if short.
	SKU string
	// Lead is how long after its creation the sale starts; zero means
	// DefaultFlashLead.
	Lead time.Duration
}

// normalize fills in defaults and validates.
func (f FlashSaleOptions) normalize() (FlashSaleOptions, error) {
	if f.DB == nil {
		return f, errors.New("the flashsale scenario needs the store's database (--db)")
	}
	if f.Customers == 0 {
		f.Customers = DefaultFlashCustomers
	}
	if f.Units == 0 {
		f.Units = DefaultFlashUnits
	}
	if f.Limit == 0 {
		f.Limit = DefaultFlashLimit
	}
	if f.Lead == 0 {
		f.Lead = DefaultFlashLead
	}
	switch {
	case f.Customers < 1 || f.Customers > MaxFlashCustomers:
		return f, fmt.Errorf("%d customers out of range: must be 1 to %d", f.Customers, MaxFlashCustomers)
	case f.Units < 1 || f.Units > MaxFlashUnits:
		return f, fmt.Errorf("%d units out of range: must be 1 to %d", f.Units, MaxFlashUnits)
	case f.Limit < 1 || f.Limit > f.Units:
		return f, fmt.Errorf("per-customer limit %d out of range: must be 1 to the units (%d)", f.Limit, f.Units)
	case f.Lead < 0 || f.Lead > time.Hour:
		return f, fmt.Errorf("lead %s out of range: must be above 0 and at most 1h", f.Lead)
	}
	return f, nil
}

// FlashSaleStats sums up a flashsale run.
type FlashSaleStats struct {
	SaleID    int64
	SKU       string
	Warehouse string
	// Price is the sale price in minor units: half the everyday price.
	Price int64
	Units int
	Limit int
	// Customers is how many were prepared; StockAdded how many units the
	// preparation added to the warehouse so that it could hold the sale.
	Customers  int
	StockAdded int
	// Prepare is how long writing the customers and their sessions took.
	Prepare  time.Duration
	StartsAt time.Time
	// Fired counts customers whose claim was sent; Decided those whose
	// claim got a deciding answer, by API outcome in Outcomes ("claimed",
	// "sold_out", "limit_reached", ...).
	Fired, Decided uint64
	Outcomes       map[string]uint64
	// Overloaded counts 503 answers, NotStarted 409 not_started answers:
	// both were retried and neither is a decision.
	Overloaded, NotStarted uint64
	// Failed counts customers given up after an answer that is neither a
	// decision nor a retry, or none; Unexpected those answers by "status
	// code". CutOff counts customers still retrying when the sale's
	// window closed.
	Failed     uint64
	Unexpected map[string]uint64
	CutOff     uint64
	// Window is the time from the start to the last decision; PerSecond
	// is Decided divided by it.
	Window    time.Duration
	PerSecond float64
	// SoldOutIn is the time from the start to the last claimed answer.
	SoldOutIn time.Duration
	// Checks are the database checks after the run.
	Checks []Check
}

// Claimed is the number of claims answered 201.
func (f *FlashSaleStats) Claimed() uint64 { return f.Outcomes[outcomeClaimed] }

// outcomeClaimed names a 201 answer among the outcomes.
const outcomeClaimed = "claimed"

// claimCounts counts one worker's customers, or all workers'.
type claimCounts struct {
	fired, decided, failed, cutOff uint64
	overloaded, notStarted         uint64
	outcomes                       map[string]uint64
	unexpected                     map[string]uint64
	// claimIDs are the ids of the claims answered 201, to find in the
	// database afterwards.
	claimIDs                  []string
	lastDecision, lastClaimed time.Time
}

// add adds o into c.
func (c *claimCounts) add(o *claimCounts) {
	c.fired += o.fired
	c.decided += o.decided
	c.failed += o.failed
	c.cutOff += o.cutOff
	c.overloaded += o.overloaded
	c.notStarted += o.notStarted
	c.outcomes = addCounts(c.outcomes, o.outcomes)
	c.unexpected = addCounts(c.unexpected, o.unexpected)
	c.claimIDs = append(c.claimIDs, o.claimIDs...)
	if o.lastDecision.After(c.lastDecision) {
		c.lastDecision = o.lastDecision
	}
	if o.lastClaimed.After(c.lastClaimed) {
		c.lastClaimed = o.lastClaimed
	}
}

// addCounts adds the counts of src into dst, allocating it if needed.
func addCounts(dst, src map[string]uint64) map[string]uint64 {
	for k, n := range src {
		if dst == nil {
			dst = make(map[string]uint64)
		}
		dst[k] += n
	}
	return dst
}

// flashRun is what all workers of a flashsale run share.
type flashRun struct {
	customers []claimant
	// next is the index of the next customer to fire.
	next atomic.Int64
	// targets are the claim URL of each target.
	targets []*url.URL
	body    []byte
	// decided counts decisions as they happen, for the progress line.
	decided, claimed atomic.Uint64
}

// claimRequest is a worker's reusable claim request: one per target, with
// one header map whose Authorization value is swapped per customer and one
// body reader rewound per request.
type claimRequest struct {
	reqs   []*http.Request
	header http.Header
	auth   []string // header["Authorization"]
	body   *claimBody
}

// claimBody is the claim's JSON body, rewound for every request.
type claimBody struct{ bytes.Reader }

// Close implements io.Closer; there is nothing to release.
func (*claimBody) Close() error { return nil }

// runFlashSale prepares the sale and its crowd, runs the claims and checks
// the database.
func runFlashSale(ctx context.Context, o Options, sc scenario, client *http.Client, send sendFunc, cat *catalog) (*Report, error) {
	f := o.FlashSale
	item, err := chooseSaleItem(ctx, client, cat, o.Targets[0], o.Market, f.SKU)
	if err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	tag, err := runTag()
	if err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	progress := func(format string, args ...any) {
		if o.Progress != nil {
			_, _ = fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}
	prepStart := time.Now()
	customers, err := prepareCustomers(ctx, f.DB, f.Customers, tag)
	if err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	prep := time.Since(prepStart)
	progress("prepared %d customers with a session each in %s", len(customers), prep.Round(time.Millisecond))
	warehouse, added, err := topUpStock(ctx, f.DB, o.Market, item.sku, f.Units)
	if err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	// The start is on a whole second, as a sale announced to the public
	// would be, at least Lead from now.
	starts := time.Now().Add(f.Lead + time.Second - 1).Truncate(time.Second)
	sale, err := createSale(ctx, f.DB, flashsale.NewSale{
		Market: o.Market, SKU: item.sku, Title: "Load test " + tag,
		Price: max(item.price/2, 1), Quantity: f.Units, PerCustomerLimit: f.Limit,
		StartsAt: starts, EndsAt: starts.Add(o.Duration),
	})
	if err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	progress("flash sale %d: %d units of %s (%d added to %s) at %d, limit %d, starts %s",
		sale.ID, f.Units, item.sku, added, warehouse, max(item.price/2, 1), f.Limit, starts.Format(time.TimeOnly))

	run := &flashRun{customers: customers}
	if run.body, err = json.Marshal(map[string]int{"quantity": claimQuantity}); err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	var warm []*url.URL
	for _, t := range o.Targets {
		root := strings.TrimRight(t, "/")
		c, err := url.Parse(root + "/api/v1/flash-sales/" + strconv.FormatInt(sale.ID, 10) + "/claims")
		if err != nil {
			return nil, fmt.Errorf("loadtest: %w", err)
		}
		w, err := url.Parse(root + "/api/v1/markets/" + url.PathEscape(o.Market) + "/flash-sales")
		if err != nil {
			return nil, fmt.Errorf("loadtest: %w", err)
		}
		run.targets = append(run.targets, c)
		warm = append(warm, w)
	}

	r, err := runClaims(ctx, o, sc, send, run, warm, starts, starts.Add(o.Duration))
	if err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	r.Products, r.Categories, r.SearchTerms = len(cat.slugs), len(cat.categories), len(cat.terms)
	fs := r.FlashSale
	fs.SaleID, fs.SKU, fs.Warehouse, fs.Price = sale.ID, item.sku, warehouse, max(item.price/2, 1)
	fs.Units, fs.Limit, fs.Customers, fs.StockAdded = f.Units, f.Limit, f.Customers, added
	fs.Prepare, fs.StartsAt = prep, starts

	// An interrupted run still gets its check, on a context of its own.
	vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	checks, err := verifySale(vctx, f.DB, fs, r.flashClaimIDs)
	r.flashClaimIDs = nil
	if err != nil {
		return r, fmt.Errorf("loadtest: flash-sale check: %w", err)
	}
	fs.Checks = checks
	return r, nil
}

// runClaims opens the workers' connections, waits for starts and fires
// every customer's claim, until all are decided or closes passes.
func runClaims(ctx context.Context, o Options, sc scenario, send sendFunc, run *flashRun, warm []*url.URL, starts, closes time.Time) (*Report, error) {
	header := http.Header{"User-Agent": {userAgent}, "Accept": {"application/json"}}
	workers := make([]*worker, o.Workers)
	for i := range workers {
		workers[i] = &worker{send: send, header: header, next: i % len(run.targets), flash: run}
		workers[i].claim.init(run, header)
	}
	if err := warmUp(ctx, workers, warm); err != nil {
		return nil, err
	}

	loadCtx, cancel := context.WithDeadline(ctx, closes.Add(drainGrace))
	defer cancel()
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { w.runClaims(ctx, loadCtx, start, closes) })
	}
	// Everyone is released at once, as a crowd pressing the button the
	// second the countdown ends.
	wait := time.NewTimer(time.Until(starts))
	select {
	case <-wait.C:
	case <-ctx.Done():
		wait.Stop()
	}
	began := time.Now()
	close(start)

	var progressDone chan struct{}
	stopProgress := make(chan struct{})
	if o.Progress != nil && ctx.Err() == nil {
		progressDone = make(chan struct{})
		go func() {
			defer close(progressDone)
			printClaimProgress(o.Progress, stopProgress, began, run, workers)
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	close(stopProgress)
	if progressDone != nil {
		<-progressDone
	}

	r := buildReport(o, sc, elapsed, ctx.Err() != nil, workers)
	var all claimCounts
	for _, w := range workers {
		all.add(&w.claims)
	}
	fs := &FlashSaleStats{
		Fired: all.fired, Decided: all.decided, Outcomes: all.outcomes,
		Overloaded: all.overloaded, NotStarted: all.notStarted,
		Failed: all.failed, Unexpected: all.unexpected, CutOff: all.cutOff,
	}
	if !all.lastDecision.IsZero() {
		fs.Window = all.lastDecision.Sub(began)
		if fs.Window > 0 {
			fs.PerSecond = float64(all.decided) / fs.Window.Seconds()
		}
	}
	if !all.lastClaimed.IsZero() {
		fs.SoldOutIn = all.lastClaimed.Sub(began)
	}
	r.FlashSale = fs
	r.flashClaimIDs = all.claimIDs
	return r, nil
}

// warmUp has every worker send one GET of the sale list at once, so that
// each has a connection open before the start, and fails unless every one
// is answered 200: a store that does not serve flash sales stops the run
// here rather than at the start.
func warmUp(ctx context.Context, workers []*worker, warm []*url.URL) error {
	ctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	errs := make([]error, len(workers))
	var wg sync.WaitGroup
	for i, w := range workers {
		wg.Go(func() {
			u := warm[w.next]
			req := &http.Request{Method: http.MethodGet, URL: u, Host: u.Host, Header: w.header,
				Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
			resp, err := w.send(req.WithContext(ctx))
			if err != nil {
				errs[i] = fmt.Errorf("GET %s: %w", u, err)
				return
			}
			_, err = io.Copy(io.Discard, resp.Body)
			if cerr := resp.Body.Close(); err == nil {
				err = cerr
			}
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %s", resp.Status)
			}
			if err != nil {
				errs[i] = fmt.Errorf("GET %s: %w", u, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		// One worker's error says it; a thousand identical ones do not
		// say more.
		return fmt.Errorf("warm up connections: %w", slices.DeleteFunc(errs, func(e error) bool { return e == nil })[0])
	}
	return nil
}

// init prepares the worker's claim requests for run, with the run's common
// headers.
func (c *claimRequest) init(run *flashRun, common http.Header) {
	c.header = http.Header{"Content-Type": {"application/json"}}
	for k, v := range common {
		c.header[k] = v
	}
	c.auth = []string{""}
	c.header["Authorization"] = c.auth
	c.reqs = make([]*http.Request, len(run.targets))
	c.body = new(claimBody)
}

// request returns the claim request for target i, ready to send with
// auth, making it if the last use failed.
func (c *claimRequest) request(ctx context.Context, run *flashRun, i int, auth string) *http.Request {
	req := c.reqs[i]
	if req == nil {
		u := run.targets[i]
		req = (&http.Request{
			Method: http.MethodPost, URL: u, Host: u.Host, Header: c.header,
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			ContentLength: int64(len(run.body)),
			GetBody: func() (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader(run.body)), nil
			},
		}).WithContext(ctx)
		c.reqs[i] = req
	}
	c.auth[0] = auth
	c.body.Reset(run.body)
	req.Body = c.body
	return req
}

// forget drops the worker's requests after a transport error: the
// transport may still be writing the one that failed, with its header and
// body, so none of them may be touched again. The requests of the other
// targets share that header, so they go too.
func (c *claimRequest) forget() {
	clear(c.reqs)
	c.header = c.header.Clone()
	c.auth = c.header["Authorization"]
	c.body = new(claimBody)
}

// claimAnswer is what one claim request got.
type claimAnswer struct {
	status     int
	code       string        // the API error code, "" for a 201
	claimID    string        // for a 201
	retryAfter time.Duration // for a 503
	n          int64         // body bytes read
}

// runClaims fires customers' claims, one customer at a time, from start
// until none are left or closes passes.
func (w *worker) runClaims(parent, loadCtx context.Context, start <-chan struct{}, closes time.Time) {
	select {
	case <-start:
	case <-loadCtx.Done():
		return
	}
	run := w.flash
	for {
		if loadCtx.Err() != nil {
			return
		}
		if !time.Now().Before(closes) {
			return
		}
		i := run.next.Add(1) - 1
		if i >= int64(len(run.customers)) {
			return
		}
		w.noteClaim(func(c *claimCounts) { c.fired++ })
		if !w.claimFor(parent, loadCtx, &run.customers[i], closes) {
			return
		}
	}
}

// claimFor claims for customer c until a deciding answer, a failure or the
// sale's close, retrying what asks to be retried. It returns false when
// the run is over for this worker.
func (w *worker) claimFor(parent, loadCtx context.Context, c *claimant, closes time.Time) bool {
	run := w.flash
	first := time.Now()
	for {
		t := w.next
		if w.next++; w.next == len(run.targets) {
			w.next = 0
		}
		req := w.claim.request(loadCtx, run, t, c.auth)
		sent := time.Now()
		a, err := w.sendClaim(req)
		now := time.Now()
		latency := now.Sub(sent)
		if err != nil {
			w.claim.forget()
			if parent.Err() != nil {
				return false
			}
			w.recordError(KindClaimFailed)
			w.noteClaim(func(cc *claimCounts) {
				cc.failed++
				cc.unexpected = addCounts(cc.unexpected, map[string]uint64{"no answer": 1})
			})
			if loadCtx.Err() != nil {
				return false
			}
			w.pause(loadCtx.Done())
			return true
		}
		switch kind, name := classifyClaim(a.status, a.code); kind {
		case KindClaim:
			w.record(KindClaim, a.status, a.status == http.StatusCreated, a.n, latency)
			w.record(KindClaimWait, 0, true, 0, now.Sub(first))
			run.decided.Add(1)
			if name == outcomeClaimed {
				run.claimed.Add(1)
			}
			w.noteClaim(func(cc *claimCounts) {
				cc.decided++
				if cc.outcomes == nil {
					cc.outcomes = make(map[string]uint64)
				}
				cc.outcomes[name]++
				cc.lastDecision = now
				if name == outcomeClaimed {
					cc.claimIDs = append(cc.claimIDs, a.claimID)
					cc.lastClaimed = now
				}
			})
			return true
		case KindClaimRetry:
			w.record(KindClaimRetry, a.status, false, a.n, latency)
			wait := notStartedRetry
			if a.status == http.StatusServiceUnavailable {
				wait = a.retryAfter
				w.noteClaim(func(cc *claimCounts) { cc.overloaded++ })
			} else {
				w.noteClaim(func(cc *claimCounts) { cc.notStarted++ })
			}
			if !now.Add(wait).Before(closes) {
				w.noteClaim(func(cc *claimCounts) { cc.cutOff++ })
				return false
			}
			if !sleepCtx(loadCtx, wait) {
				if parent.Err() == nil {
					w.noteClaim(func(cc *claimCounts) { cc.cutOff++ })
				}
				return false
			}
		default:
			w.record(KindClaimFailed, a.status, false, a.n, latency)
			w.noteClaim(func(cc *claimCounts) {
				cc.failed++
				cc.unexpected = addCounts(cc.unexpected, map[string]uint64{name: 1})
			})
			return true
		}
	}
}

// sendClaim sends req and reads what the answer says.
func (w *worker) sendClaim(req *http.Request) (claimAnswer, error) {
	resp, err := w.send(req)
	if err != nil {
		return claimAnswer{}, err
	}
	a := claimAnswer{status: resp.StatusCode}
	w.body.Reset()
	a.n, err = w.body.ReadFrom(io.LimitReader(resp.Body, maxClaimBody))
	if err == nil {
		var rest int64
		rest, err = io.Copy(io.Discard, resp.Body)
		a.n += rest
	}
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return claimAnswer{}, err
	}
	body := w.body.Bytes()
	switch a.status {
	case http.StatusCreated:
		var c struct {
			ClaimID json.RawMessage `json:"claim_id"`
		}
		if json.Unmarshal(body, &c) == nil {
			a.claimID = strings.Trim(string(c.ClaimID), `"`)
		}
	case http.StatusServiceUnavailable:
		a.code = errorCode(body)
		a.retryAfter = retryAfter(resp.Header, body)
	default:
		a.code = errorCode(body)
	}
	return a, nil
}

// classifyClaim sorts a claim's answer: KindClaim for a decision, named by
// its outcome; KindClaimRetry for an answer to try again after; anything
// else KindClaimFailed, named "status code".
func classifyClaim(status int, code string) (Kind, string) {
	switch {
	case status == http.StatusCreated:
		return KindClaim, outcomeClaimed
	case status == http.StatusConflict && (code == "sold_out" || code == "ended" || code == "paused"),
		status == http.StatusTooManyRequests && code == "limit_reached",
		status == http.StatusForbidden && code == "not_registered":
		return KindClaim, code
	case status == http.StatusConflict && code == "not_started",
		status == http.StatusServiceUnavailable && code == "overloaded":
		return KindClaimRetry, code
	}
	name := strconv.Itoa(status)
	if code != "" {
		name += " " + code
	}
	return KindClaimFailed, name
}

// errorCode returns the code of an API error answer,
// {"error":{"code":"sold_out",...}}, or "". The store's encoder writes no
// spaces, so the code is found without decoding the whole answer; anything
// else is decoded.
func errorCode(body []byte) string {
	const marker = `"code":"`
	if i := bytes.Index(body, []byte(marker)); i >= 0 {
		rest := body[i+len(marker):]
		if j := bytes.IndexByte(rest, '"'); j >= 0 && bytes.IndexByte(rest[:j], '\\') < 0 {
			return string(rest[:j])
		}
	}
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil {
		return e.Error.Code
	}
	return ""
}

// retryAfter reads how long a 503 asks to wait: Retry-After-Ms, else the
// body's retry_after_ms, else Retry-After in seconds, else
// defaultRetryAfter; capped at maxRetryAfter.
func retryAfter(h http.Header, body []byte) time.Duration {
	d := time.Duration(-1)
	if ms, err := strconv.ParseInt(h.Get("Retry-After-Ms"), 10, 64); err == nil && ms >= 0 {
		d = time.Duration(ms) * time.Millisecond
	} else {
		var b struct {
			RetryAfterMs *int64 `json:"retry_after_ms"`
			Error        struct {
				RetryAfterMs *int64 `json:"retry_after_ms"`
			} `json:"error"`
		}
		if json.Unmarshal(body, &b) == nil {
			switch {
			case b.RetryAfterMs != nil && *b.RetryAfterMs >= 0:
				d = time.Duration(*b.RetryAfterMs) * time.Millisecond
			case b.Error.RetryAfterMs != nil && *b.Error.RetryAfterMs >= 0:
				d = time.Duration(*b.Error.RetryAfterMs) * time.Millisecond
			}
		}
		if d < 0 {
			if s, err := strconv.ParseInt(h.Get("Retry-After"), 10, 64); err == nil && s >= 0 {
				d = time.Duration(s) * time.Second
			}
		}
	}
	if d < 0 {
		d = defaultRetryAfter
	}
	return min(d, maxRetryAfter)
}

// sleepCtx waits d, or returns false if ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// noteClaim applies change to the worker's claim counts.
func (w *worker) noteClaim(change func(*claimCounts)) {
	w.mu.Lock()
	change(&w.claims)
	w.mu.Unlock()
}

// printClaimProgress writes one line per second until stop is closed:
// decisions in the last second and so far, claims, retries and the p99 of
// decided claims so far.
func printClaimProgress(out io.Writer, stop <-chan struct{}, start time.Time, run *flashRun, workers []*worker) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var (
		hist     histogram
		last     uint64
		lastTime = start
	)
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			hist.reset()
			var retries, failed uint64
			for _, w := range workers {
				w.mu.Lock()
				hist.merge(&w.stats[KindClaim].hist)
				retries += w.claims.overloaded + w.claims.notStarted
				failed += w.claims.failed
				w.mu.Unlock()
			}
			decided := run.decided.Load()
			rate := float64(decided-last) / now.Sub(lastTime).Seconds()
			last, lastTime = decided, now
			_, _ = fmt.Fprintf(out, "%4.0fs %9.0f decided/s  decided %d of %d  claimed %d  retries %d  failed %d  p99 %s\n",
				now.Sub(start).Seconds(), rate, decided, len(run.customers), run.claimed.Load(), retries, failed,
				formatLatency(hist.quantile(0.99)))
		}
	}
}
