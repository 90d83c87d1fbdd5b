// Package loadtest is a bounded HTTP load generator for the store.
//
// It is built to run on the same small machine as the server it measures, so
// the generator itself must cost little: connections are reused, request
// URLs are parsed once before the run, each worker reuses one request value
// and records latencies into its own fixed-layout histogram, and the
// histograms are merged only for the progress line and the final report.
// The checkout scenario builds a request per step, since each carries the
// ids and tokens of its own cart and order; its bodies are built once and
// each worker reads answers into a buffer of its own. The flashsale
// scenario prepares its customers and sale in the store's database before
// the clock starts and then reuses one claim request per worker, swapping
// only the customer's Authorization value (flashsale.go).
package loadtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"mistore/internal/db"
)

// Defaults and limits for Options.
const (
	DefaultScenario = "browse"
	DefaultDuration = 30 * time.Second
	DefaultWorkers  = 64
	DefaultMarket   = "us"
	MaxWorkers      = 10000
	MaxDuration     = 24 * time.Hour
)

const (
	userAgent = "mistore-loadtest/1"
	// drainGrace is how long requests in flight at the end of the duration
	// may take to finish. Letting them finish keeps slow responses in the
	// statistics (cutting them off would bias the tail towards fast ones);
	// the grace bounds the run when the server hangs, and requests cut off
	// by it count as errors.
	drainGrace = 5 * time.Second
	// errorBackoff slows a worker down after a transport error so that a
	// server that is down turns into a steady error count instead of a
	// connect loop that eats the CPU shared with everything else.
	errorBackoff = 10 * time.Millisecond
)

// Options configures a load test run.
type Options struct {
	// Targets are base URLs, e.g. http://127.0.0.1:8080, optionally with a
	// path prefix; each worker sends its requests round-robin across them.
	// Discovery uses the first target, so all should serve the same catalog.
	Targets []string
	// Scenario names the request mix; see Scenarios. Empty means
	// DefaultScenario.
	Scenario string
	// Duration bounds the load phase; zero means DefaultDuration.
	Duration time.Duration
	// Workers is the number of concurrent requests; zero means
	// DefaultWorkers.
	Workers int
	// Market is the market code in the store's URLs; empty means
	// DefaultMarket.
	Market string
	// Gzip sends Accept-Encoding: gzip; bodies are then read, and counted,
	// compressed.
	Gzip bool
	// Progress, if non-nil, receives one line per second: elapsed time,
	// requests per second in the last second, errors, non-2xx and p99 so far.
	Progress io.Writer
	// Client, if non-nil, sends all requests; its settings are used as they
	// are. The default client keeps a connection per worker alive, does not
	// negotiate compression on its own and does not follow redirects, so a
	// redirect shows up as a non-2xx status. The checkout scenario expects
	// the pay step's 303 itself, so a client given for it must not follow
	// redirects either.
	Client *http.Client
	// PaidWait is how long the checkout scenario polls an order for paid
	// after paying; zero means PaidWaitLimit.
	PaidWait time.Duration
	// StockDB, if non-nil, is the store's own database, which the checkout
	// scenario reads before and after the load to check that the units
	// sold and the units left add up to the units there were
	// (Report.Checkout.Stock). It is only read.
	StockDB *db.DB
	// FlashSale configures the flashsale scenario, which needs at least
	// its DB.
	FlashSale FlashSaleOptions
	// MetricsToken is the bearer token of the targets' /metrics, where
	// the report's writer and CPU figures are read; empty sends none.
	MetricsToken string
}

// normalize fills in defaults, validates the options and resolves the
// scenario.
func (o Options) normalize() (Options, scenario, error) {
	if len(o.Targets) == 0 {
		return o, scenario{}, errors.New("loadtest: no targets given")
	}
	for _, t := range o.Targets {
		u, err := url.Parse(t)
		if err != nil {
			return o, scenario{}, fmt.Errorf("loadtest: target %q: %w", t, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return o, scenario{}, fmt.Errorf("loadtest: target %q: scheme must be http or https", t)
		}
		if u.Host == "" {
			return o, scenario{}, fmt.Errorf("loadtest: target %q: missing host", t)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return o, scenario{}, fmt.Errorf("loadtest: target %q: must be a base URL without query or fragment", t)
		}
	}
	if o.Scenario == "" {
		o.Scenario = DefaultScenario
	}
	sc, err := lookupScenario(o.Scenario)
	if err != nil {
		return o, scenario{}, fmt.Errorf("loadtest: %w", err)
	}
	if o.Duration == 0 {
		o.Duration = DefaultDuration
	}
	if o.Duration < 0 || o.Duration > MaxDuration {
		return o, scenario{}, fmt.Errorf("loadtest: duration %s out of range: must be above 0 and at most %s", o.Duration, MaxDuration)
	}
	if o.Workers == 0 {
		o.Workers = DefaultWorkers
	}
	if o.Workers < 1 || o.Workers > MaxWorkers {
		return o, scenario{}, fmt.Errorf("loadtest: %d workers out of range: must be 1 to %d", o.Workers, MaxWorkers)
	}
	if o.Market == "" {
		o.Market = DefaultMarket
	}
	if !validMarket(o.Market) {
		return o, scenario{}, fmt.Errorf("loadtest: market %q: must be letters, digits, '-' or '_'", o.Market)
	}
	if o.PaidWait == 0 {
		o.PaidWait = PaidWaitLimit
	}
	if o.PaidWait < 0 || o.PaidWait > time.Minute {
		return o, scenario{}, fmt.Errorf("loadtest: paid wait %s out of range: must be above 0 and at most 1m", o.PaidWait)
	}
	if o.StockDB != nil && !sc.checkout {
		return o, scenario{}, fmt.Errorf("loadtest: the stock check applies to the checkout scenario, not %q", o.Scenario)
	}
	if sc.flashsale {
		if o.FlashSale, err = o.FlashSale.normalize(); err != nil {
			return o, scenario{}, fmt.Errorf("loadtest: %w", err)
		}
	} else if o.FlashSale.DB != nil {
		return o, scenario{}, fmt.Errorf("loadtest: the flash-sale database applies to the flashsale scenario, not %q", o.Scenario)
	}
	return o, sc, nil
}

// validMarket rejects codes that would change the shape of the URLs, such as
// ones containing a slash.
func validMarket(m string) bool {
	for _, r := range m {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return m != ""
}

// newTransport returns a transport that can keep one idle connection per
// worker and per target, so that steady-state requests never dial.
func newTransport(workers int) *http.Transport {
	return &http.Transport{
		// No proxy from the environment: the point is to measure the
		// target, and loopback targets bypass proxies anyway.
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          0, // no overall limit; the per-host one applies
		MaxIdleConnsPerHost:   workers,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		// Compression is what the server does when asked; the generator
		// asks explicitly (Options.Gzip) and never spends CPU inflating.
		DisableCompression: true,
	}
}

// Run discovers the store's catalog through the first target, then sends the
// scenario's requests from opts.Workers workers until opts.Duration has passed
// or ctx is done, whichever comes first. All goroutines it starts have ended
// when it returns.
//
// When ctx ends the load phase early, Run still returns the report of what
// completed, with Interrupted set, and a nil error: a stopped load test is
// still a measurement. Invalid options and failed discovery are errors.
func Run(ctx context.Context, opts Options) (*Report, error) {
	o, sc, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	client := o.Client
	// send issues the load requests. With our own transport it bypasses
	// http.Client, whose redirect bookkeeping (a header copy, a cloned URL,
	// a slice) costs allocations per request and is not wanted: a redirect
	// is reported as a non-2xx status, not followed.
	var send sendFunc
	if client == nil {
		tr := newTransport(o.Workers)
		defer tr.CloseIdleConnections()
		client = &http.Client{
			Transport: tr,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
		send = tr.RoundTrip
	} else {
		send = client.Do
	}
	cat, err := discover(ctx, client, o.Targets[0], o.Market)
	if err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	if sc.flashsale {
		return runFlashSale(ctx, o, sc, client, send, cat)
	}
	eps := make([]*endpoints, len(o.Targets))
	for i, t := range o.Targets {
		if eps[i], err = buildEndpoints(t, o.Market, cat); err != nil {
			return nil, fmt.Errorf("loadtest: %w", err)
		}
	}
	var plan *checkoutPlan
	var before stockSnapshot
	if sc.checkout {
		skus, err := chooseSKUs(ctx, client, o.Targets[0], o.Market, cat)
		if err != nil {
			return nil, fmt.Errorf("loadtest: %w", err)
		}
		if plan, err = newCheckoutPlan(o.Targets, o.Market, skus, o.PaidWait, time.Now()); err != nil {
			return nil, fmt.Errorf("loadtest: %w", err)
		}
		if o.StockDB != nil {
			if before, err = readStockBefore(ctx, o.StockDB, skus); err != nil {
				return nil, fmt.Errorf("loadtest: stock check: %w", err)
			}
		}
	}
	storeBefore, genBefore, machineBefore := readStore(ctx, client, o.Targets, o.MetricsToken), readGenerator(), readMachine()
	r := runLoad(ctx, o, sc, send, eps, plan)
	genAfter, machineAfter := readGenerator(), readMachine()
	storeAfter := readStore(context.WithoutCancel(ctx), client, o.Targets, o.MetricsToken)
	r.Writer = writerStats(storeBefore, storeAfter)
	r.CPU = cpuStats(storeBefore, storeAfter, genBefore, genAfter, machineBefore, machineAfter)
	r.Products, r.Categories, r.SearchTerms = len(cat.slugs), len(cat.categories), len(cat.terms)
	if plan != nil && o.StockDB != nil {
		// The run's own context may be cancelled (an interrupted run still
		// gets its check), so the check reads on one of its own.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), discoveryTimeout)
		defer cancel()
		after, err := readStockAfter(actx, o.StockDB, plan.skus, before.maxOrderID)
		if err != nil {
			return r, fmt.Errorf("loadtest: stock check: %w", err)
		}
		r.Checkout.Stock = checkStock(plan.skus, before, after, r.Checkout, r.Interrupted)
	}
	return r, nil
}

// sendFunc sends one request, the signature of both http.Client.Do and
// http.Transport.RoundTrip.
type sendFunc func(*http.Request) (*http.Response, error)

// runLoad runs the workers and the progress printer and assembles the report.
// plan is nil unless the scenario is checkout.
func runLoad(ctx context.Context, o Options, sc scenario, send sendFunc, eps []*endpoints, plan *checkoutPlan) *Report {
	header := http.Header{"User-Agent": {userAgent}}
	if o.Gzip {
		header.Set("Accept-Encoding", "gzip")
	}
	start := time.Now()
	softDeadline := start.Add(o.Duration)
	loadCtx, cancel := context.WithDeadline(ctx, softDeadline.Add(drainGrace))
	defer cancel()

	seed := rand.Uint64()
	workers := make([]*worker, o.Workers)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{
			send:   send,
			header: header,
			pick:   sc.pick,
			eps:    eps,
			next:   i % len(eps),
			rng:    rand.New(rand.NewPCG(seed, uint64(i))),
			plan:   plan,
		}
		workers[i] = w
		if plan != nil {
			wg.Go(func() { w.runCheckout(ctx, loadCtx, softDeadline) })
		} else {
			wg.Go(func() { w.run(ctx, loadCtx, softDeadline) })
		}
	}

	var progressDone chan struct{}
	stopProgress := make(chan struct{})
	if o.Progress != nil {
		progressDone = make(chan struct{})
		go func() {
			defer close(progressDone)
			printProgress(o.Progress, stopProgress, start, workers, plan != nil)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stopProgress)
	if progressDone != nil {
		<-progressDone
	}

	r := buildReport(o, sc, elapsed, ctx.Err() != nil, workers)
	if plan != nil {
		r.Checkout.SKUs = slices.Clone(plan.skus)
		r.Checkout.PaidWait = plan.paidWait
	}
	return r
}

// kindStats accumulates one worker's results for one kind.
type kindStats struct {
	requests    uint64
	errors      uint64
	non2xxTotal uint64
	non2xx      map[int]uint64 // allocated on the first non-2xx response
	bytes       int64
	hist        histogram
}

// merge adds o into s.
func (s *kindStats) merge(o *kindStats) {
	s.requests += o.requests
	s.errors += o.errors
	s.non2xxTotal += o.non2xxTotal
	s.bytes += o.bytes
	for code, n := range o.non2xx {
		if s.non2xx == nil {
			s.non2xx = make(map[int]uint64)
		}
		s.non2xx[code] += n
	}
	s.hist.merge(&o.hist)
}

// worker sends one request at a time and records the outcome in its own
// statistics, so workers never contend with each other.
type worker struct {
	send   sendFunc
	header http.Header // shared by all workers; only read by net/http
	pick   pickFunc
	eps    []*endpoints
	next   int // index into eps (or plan.targets) of the next target
	rng    *rand.Rand
	// plan is what the checkout scenario buys and where; nil otherwise.
	plan *checkoutPlan
	// flash is the flashsale scenario's run; nil otherwise. claim holds
	// the worker's own reusable parts of a claim request.
	flash *flashRun
	claim claimRequest
	// body holds the answer of the checkout step in hand, reused so that
	// reading answers does not allocate a buffer each time.
	body bytes.Buffer

	// mu guards stats and flow against the progress printer; the worker
	// is their only writer, so locking is uncontended except once a
	// second.
	mu     sync.Mutex
	stats  [numKinds]kindStats
	flow   flowCounts
	claims claimCounts
}

// newRequest returns the request value the worker reuses for every request,
// swapping only its URL: net/http allows reusing a request once the response
// body is closed, and it saves building a request per call.
func (w *worker) newRequest(ctx context.Context) *http.Request {
	u := w.eps[0].home
	r := &http.Request{
		Method:     http.MethodGet,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     w.header,
		Host:       u.Host,
	}
	return r.WithContext(ctx)
}

// run sends requests until softDeadline passes or loadCtx ends. Requests cut
// off because parent ended are not counted: the user stopped the run, the
// server did not fail.
func (w *worker) run(parent, loadCtx context.Context, softDeadline time.Time) {
	req := w.newRequest(loadCtx)
	done := loadCtx.Done()
	for {
		select {
		case <-done:
			return
		default:
		}
		start := time.Now()
		if !start.Before(softDeadline) {
			return
		}
		kind := w.pick(w.rng)
		u := w.eps[w.next].url(kind, w.rng)
		if w.next++; w.next == len(w.eps) {
			w.next = 0
		}
		req.URL, req.Host = u, u.Host

		resp, err := w.send(req)
		var n int64
		status := 0
		if err == nil {
			status = resp.StatusCode
			n, err = io.Copy(io.Discard, resp.Body)
			if cerr := resp.Body.Close(); err == nil {
				err = cerr
			}
		}
		latency := time.Since(start)
		if err != nil {
			if parent.Err() != nil {
				return
			}
			w.recordError(kind)
			if loadCtx.Err() != nil {
				return
			}
			// After an error the transport may still be writing the old
			// request, so it must not be touched again.
			req = w.newRequest(loadCtx)
			w.pause(done)
			continue
		}
		w.record(kind, status, status >= 200 && status <= 299, n, latency)
	}
}

// record counts a complete answer of kind: its status, whether that status
// is the kind's success answer (2xx, or the pay step's 303), its body size
// and its latency.
func (w *worker) record(kind Kind, status int, ok bool, n int64, latency time.Duration) {
	w.mu.Lock()
	s := &w.stats[kind]
	s.requests++
	s.bytes += n
	if !ok {
		if s.non2xx == nil {
			s.non2xx = make(map[int]uint64)
		}
		s.non2xx[status]++
		s.non2xxTotal++
	}
	s.hist.record(latency)
	w.mu.Unlock()
}

// recordError counts a request of kind that got no complete answer.
func (w *worker) recordError(kind Kind) {
	w.mu.Lock()
	w.stats[kind].requests++
	w.stats[kind].errors++
	w.mu.Unlock()
}

// pause waits errorBackoff or until done is closed.
func (w *worker) pause(done <-chan struct{}) {
	t := time.NewTimer(errorBackoff)
	defer t.Stop()
	select {
	case <-t.C:
	case <-done:
	}
}

// printProgress writes one line per second until stop is closed; with
// checkout set the line also counts the orders paid so far.
func printProgress(out io.Writer, stop <-chan struct{}, start time.Time, workers []*worker, checkout bool) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var (
		all      kindStats
		lastReqs uint64
		lastTime = start
	)
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			all.requests, all.errors, all.non2xxTotal = 0, 0, 0
			all.hist.reset()
			var paid uint64
			for _, w := range workers {
				w.mu.Lock()
				paid += w.flow.paid
				for k := range w.stats {
					if Kind(k).isSpan() {
						continue
					}
					s := &w.stats[k]
					all.requests += s.requests
					all.errors += s.errors
					all.non2xxTotal += s.non2xxTotal
					all.hist.merge(&s.hist)
				}
				w.mu.Unlock()
			}
			rate := float64(all.requests-lastReqs) / now.Sub(lastTime).Seconds()
			lastReqs, lastTime = all.requests, now
			paidNote := ""
			if checkout {
				paidNote = "  paid " + strconv.FormatUint(paid, 10)
			}
			// A failing writer (say a closed terminal) must not stop the
			// measurement, so write errors are ignored.
			_, _ = fmt.Fprintf(out, "%4.0fs %9.0f req/s  requests %d  errors %d  non-2xx %d  p99 %s%s\n",
				now.Sub(start).Seconds(), rate, all.requests, all.errors, all.non2xxTotal, formatLatency(all.hist.quantile(0.99)), paidNote)
		}
	}
}

// buildReport merges the workers' statistics; the workers have stopped.
func buildReport(o Options, sc scenario, elapsed time.Duration, interrupted bool, workers []*worker) *Report {
	var perKind [numKinds]kindStats
	var flow flowCounts
	for _, w := range workers {
		for k := range w.stats {
			perKind[k].merge(&w.stats[k])
		}
		flow.add(w.flow)
	}
	r := &Report{
		Scenario:    o.Scenario,
		Market:      o.Market,
		Targets:     append([]string(nil), o.Targets...),
		Workers:     o.Workers,
		Duration:    elapsed,
		Interrupted: interrupted,
	}
	var total kindStats
	for _, k := range sc.kinds {
		r.Kinds = append(r.Kinds, summarize(k.String(), &perKind[k], elapsed))
		if !k.isSpan() {
			total.merge(&perKind[k])
		}
	}
	r.Total = summarize("total", &total, elapsed)
	if sc.checkout {
		r.Checkout = flow.summarize(elapsed)
	}
	return r
}

// summarize turns accumulated statistics into their reported form.
func summarize(name string, s *kindStats, elapsed time.Duration) Stats {
	st := Stats{
		Name:      name,
		Requests:  s.requests,
		Errors:    s.errors,
		Duration:  elapsed,
		P50:       s.hist.quantile(0.50),
		P95:       s.hist.quantile(0.95),
		P99:       s.hist.quantile(0.99),
		Max:       time.Duration(s.hist.max),
		Mean:      s.hist.mean(),
		BytesRead: s.bytes,
	}
	if len(s.non2xx) > 0 {
		st.Non2xx = s.non2xx
	}
	if elapsed > 0 {
		st.RPS = float64(s.requests) / elapsed.Seconds()
	}
	return st
}
