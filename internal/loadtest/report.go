package loadtest

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Stats summarises the requests of one kind, or of all kinds for the total.
type Stats struct {
	Name string // the kind's name, or "total"
	// Requests counts every request that finished during the run: responses
	// of any status plus transport errors. Requests cut off because the
	// caller cancelled the context are not counted.
	Requests uint64
	// Errors counts requests that got no complete response (connection
	// refused, reset, timeout, truncated body) or, in the checkout
	// scenario, whose success answer could not be decoded. For paid-wait it
	// counts the orders not seen paid in time.
	Errors uint64
	// Non2xx counts complete responses by status code outside 200-299;
	// nil when there were none. For the pay step, whose success answer is
	// a 303 redirect, it counts every status but 303.
	Non2xx map[int]uint64
	// Duration is the wall time of the load phase, the same for every kind.
	Duration time.Duration
	// RPS is Requests divided by Duration.
	RPS float64
	// Latency percentiles of complete responses, measured from sending the
	// request to reading the last body byte. Transport errors are excluded
	// so a refused connection does not pass for a fast response.
	P50, P95, P99, Max, Mean time.Duration
	// BytesRead counts response body bytes as received, so compressed
	// bytes when Options.Gzip is set.
	BytesRead int64
}

// Non2xxTotal returns the number of responses with a status outside 200-299.
func (s Stats) Non2xxTotal() uint64 {
	var n uint64
	for _, c := range s.Non2xx {
		n += c
	}
	return n
}

// Report is the result of a load test run.
type Report struct {
	Scenario string
	Market   string
	Targets  []string
	Workers  int
	// Duration is the wall time of the load phase, from the first request
	// until every worker stopped; requests in flight at the configured
	// duration are allowed to finish, so it can be slightly longer.
	Duration time.Duration
	// Interrupted reports that the caller's context ended the run before
	// the configured duration.
	Interrupted bool
	// Products, Categories and SearchTerms count what discovery found.
	Products, Categories, SearchTerms int
	// Kinds has one entry per kind the scenario issues, in Kind order, even
	// for kinds that happened to get no requests.
	Kinds []Stats
	// Total merges all kinds, latencies included, except spans such as
	// paid-wait, which are not requests.
	Total Stats
	// Checkout sums up the checkout scenario; nil for other scenarios.
	Checkout *CheckoutStats
	// FlashSale sums up the flashsale scenario; nil for other scenarios.
	FlashSale *FlashSaleStats
	// Writer is what the store's SQLite writer did during the load, from
	// its /metrics page; nil when no target exports its counters (a store
	// on PostgreSQL) and for the flashsale scenario.
	Writer *WriterStats
	// CPU is the processor time the store and the load generator used
	// during the load; nil when neither is known, and for the flashsale
	// scenario.
	CPU *CPUStats

	// flashClaimIDs carries the ids of the claims answered 201 from the
	// run to the database check.
	flashClaimIDs []string
}

// CheckoutStats counts what the checkout scenario's shoppers achieved.
type CheckoutStats struct {
	// SKUs are the SKUs the run bought, one unit per order.
	SKUs []string
	// Placed counts checkouts answered 201: orders placed.
	Placed uint64
	// Paid counts placed orders that were seen paid within PaidWait of
	// paying: complete checkouts.
	Paid uint64
	// Unpaid counts placed orders not seen paid in time, or whose pay step
	// or polling failed.
	Unpaid uint64
	// OutOfStock counts 409 out_of_stock answers, to adding to the cart or
	// to checking out.
	OutOfStock uint64
	// PerSecond is Paid divided by the run's duration.
	PerSecond float64
	// PaidWait is how long shoppers polled an order for paid.
	PaidWait time.Duration
	// Stock holds the results of the stock check against the store's
	// database, when Options.StockDB was given.
	Stock []Check
}

// Check is the outcome of one consistency check.
type Check struct {
	OK bool
	// Name says what was checked; Detail gives the numbers.
	Name, Detail string
}

// Failed reports whether any check of the run failed.
func (r *Report) Failed() bool {
	var checks []Check
	if r.Checkout != nil {
		checks = append(checks, r.Checkout.Stock...)
	}
	if r.FlashSale != nil {
		checks = append(checks, r.FlashSale.Checks...)
	}
	for _, c := range checks {
		if !c.OK {
			return true
		}
	}
	return false
}

// Kind returns the statistics of kind k and whether the scenario issued it.
func (r *Report) Kind(k Kind) (Stats, bool) {
	for _, s := range r.Kinds {
		if s.Name == k.String() {
			return s, true
		}
	}
	return Stats{}, false
}

// WriteText writes the report as a table with one line per request kind and
// a total line.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "scenario %s, market %s, %d workers, %s, %d target(s): %s\n",
		r.Scenario, r.Market, r.Workers, r.Duration.Round(time.Millisecond), len(r.Targets), strings.Join(r.Targets, " "))
	fmt.Fprintf(&b, "discovered %d products, %d categories, %d search terms\n", r.Products, r.Categories, r.SearchTerms)
	if r.Interrupted {
		b.WriteString("interrupted: the run stopped before its duration\n")
	}
	b.WriteString("\n")
	const row = "%-12s %10s %10s %9s %9s %9s %9s %8s  %s\n"
	fmt.Fprintf(&b, row, "kind", "requests", "req/s", "p50", "p95", "p99", "max", "errors", "non-2xx")
	for _, s := range r.Kinds {
		writeStatsRow(&b, row, s)
	}
	writeStatsRow(&b, row, r.Total)
	if c := r.Checkout; c != nil {
		fmt.Fprintf(&b, "\ncheckout: %d orders placed, %d paid: %.1f complete checkouts/s; %d not seen paid within %s; %d out of stock\n",
			c.Placed, c.Paid, c.PerSecond, c.Unpaid, c.PaidWait, c.OutOfStock)
		fmt.Fprintf(&b, "bought %d SKU(s): %s\n", len(c.SKUs), strings.Join(c.SKUs, " "))
		writeChecks(&b, c.Stock)
	}
	if f := r.FlashSale; f != nil {
		writeFlashSale(&b, f)
	}
	var checkouts uint64
	if r.Checkout != nil {
		checkouts = r.Checkout.Paid
	}
	if r.Writer != nil || r.CPU != nil {
		b.WriteString("\n")
	}
	if r.Writer != nil {
		writeWriter(&b, r.Writer, checkouts)
	}
	if r.CPU != nil {
		writeCPU(&b, r.CPU, checkouts, r.Writer != nil)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write load test report: %w", err)
	}
	return nil
}

// writeChecks writes one PASS or FAIL line per check.
func writeChecks(b *strings.Builder, checks []Check) {
	for _, ch := range checks {
		verdict := "PASS"
		if !ch.OK {
			verdict = "FAIL"
		}
		fmt.Fprintf(b, "%s  %s: %s\n", verdict, ch.Name, ch.Detail)
	}
}

// writeFlashSale writes the flashsale scenario's summary and checks.
func writeFlashSale(b *strings.Builder, f *FlashSaleStats) {
	fmt.Fprintf(b, "\nflash sale %d: %d units of %s in %s at %d, limit %d per customer, %d customers (prepared in %s), started %s\n",
		f.SaleID, f.Units, f.SKU, f.Warehouse, f.Price, f.Limit, f.Customers,
		f.Prepare.Round(time.Millisecond), f.StartsAt.Format(time.TimeOnly))
	fmt.Fprintf(b, "claims: %d of %d customers decided in %s: %.1f decided/s",
		f.Decided, f.Fired, f.Window.Round(time.Millisecond), f.PerSecond)
	if f.Claimed() > 0 {
		fmt.Fprintf(b, "; last unit claimed after %s", f.SoldOutIn.Round(time.Millisecond))
	}
	b.WriteString("\n")
	fmt.Fprintf(b, "outcomes: %s\n", formatCounts(f.Outcomes))
	fmt.Fprintf(b, "retried: %d overloaded (503), %d not_started; failed: %d", f.Overloaded, f.NotStarted, f.Failed)
	if len(f.Unexpected) > 0 {
		fmt.Fprintf(b, " (%s)", formatCounts(f.Unexpected))
	}
	if f.CutOff > 0 {
		fmt.Fprintf(b, "; %d still retrying when the sale closed", f.CutOff)
	}
	if left := uint64(f.Customers) - f.Fired; f.Fired < uint64(f.Customers) {
		fmt.Fprintf(b, "; %d never fired", left)
	}
	b.WriteString("\n")
	writeChecks(b, f.Checks)
}

// formatCounts lists counts as "claimed 10000, sold_out 90000", largest
// first, ties by name.
func formatCounts(m map[string]uint64) string {
	if len(m) == 0 {
		return "none"
	}
	names := slices.Collect(maps.Keys(m))
	slices.SortFunc(names, func(a, b string) int {
		if m[a] != m[b] {
			if m[a] > m[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + " " + strconv.FormatUint(m[n], 10)
	}
	return strings.Join(parts, ", ")
}

// writeStatsRow formats one table line.
func writeStatsRow(b *strings.Builder, row string, s Stats) {
	fmt.Fprintf(b, row, s.Name,
		strconv.FormatUint(s.Requests, 10),
		strconv.FormatFloat(s.RPS, 'f', 1, 64),
		formatLatency(s.P50), formatLatency(s.P95), formatLatency(s.P99), formatLatency(s.Max),
		strconv.FormatUint(s.Errors, 10),
		formatStatuses(s.Non2xx))
}

// formatLatency prints three significant digits at most, which is all the
// histogram's precision supports and keeps the columns narrow.
func formatLatency(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Microsecond:
		return strconv.FormatInt(int64(d), 10) + "ns"
	case d < time.Millisecond:
		return trimFloat(float64(d)/float64(time.Microsecond)) + "µs"
	case d < time.Second:
		return trimFloat(float64(d)/float64(time.Millisecond)) + "ms"
	default:
		return trimFloat(d.Seconds()) + "s"
	}
}

// trimFloat formats v, which is in [1, 1000) except for seconds, with three
// significant digits.
func trimFloat(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// formatStatuses lists status counts as "404:3 500:12", by code.
func formatStatuses(m map[int]uint64) string {
	if len(m) == 0 {
		return "-"
	}
	parts := make([]string, 0, len(m))
	for _, code := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, strconv.Itoa(code)+":"+strconv.FormatUint(m[code], 10))
	}
	return strings.Join(parts, " ")
}
