package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// WriterStats is what the store's SQLite writer did during a run, read
// from the counters its /metrics page exports before and after the load:
// the serial part of every write, and so the first thing to look at when
// a run's rate is not what was hoped.
type WriterStats struct {
	// Commits counts the writer's group commits; Transactions the write
	// transactions they carried.
	Commits, Transactions uint64
	// Busy is the time the writer spent running them; Elapsed the time
	// between the two readings.
	Busy, Elapsed time.Duration
}

// storeMetrics names the counters a run reads off each target's
// /metrics page before and after the load: the SQLite writer's three,
// which WriterStats is made of, then the process's CPU time, which
// Prometheus's process collector exports.
var storeMetrics = [...]string{
	"mistore_db_group_commits_total",
	"mistore_db_group_committed_transactions_total",
	"mistore_db_writer_busy_seconds_total",
	"process_cpu_seconds_total",
}

// The counters' places in storeMetrics: the writer's first, then the CPU.
const (
	writerCounters = 3
	cpuCounter     = 3
)

// storeReading is one reading of storeMetrics, each added up over the
// targets that export it.
type storeReading struct {
	values [len(storeMetrics)]float64
	at     time.Time
	// writer is false when no target exports all the writer's counters: a
	// store on PostgreSQL, or one whose metrics cannot be read; cpu when
	// none exports its CPU time.
	writer, cpu bool
}

// readStore reads the counters of every target, sending token as a
// bearer token when it is set. A target without them (or that refuses
// the token) adds nothing; the reading is only informative, so it never
// fails the run.
func readStore(ctx context.Context, client *http.Client, targets []string, token string) storeReading {
	r := storeReading{at: time.Now()}
	for _, t := range targets {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		values, found := scrapeStore(ctx, client, strings.TrimSuffix(t, "/")+"/metrics", token)
		cancel()
		if complete(found, 0, writerCounters) {
			r.writer = true
			for i := range writerCounters {
				r.values[i] += values[i]
			}
		}
		if complete(found, cpuCounter, cpuCounter+1) {
			r.cpu = true
			r.values[cpuCounter] += values[cpuCounter]
		}
	}
	return r
}

// complete reports whether found has every counter from..to-1.
func complete(found uint, from, to int) bool {
	mask := uint(1)<<to - uint(1)<<from
	return found&mask == mask
}

// scrapeStore reads storeMetrics off a Prometheus text page.
func scrapeStore(ctx context.Context, client *http.Client, url, token string) (values [len(storeMetrics)]float64, found uint) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return values, 0
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return values, 0
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return values, 0
	}
	return parseStore(bufio.NewScanner(resp.Body))
}

// parseStore finds storeMetrics among the lines of a Prometheus text page
// ("name value", comments starting with #). found has bit i set for each
// storeMetrics[i] found; a value that is not a number, or a page that
// cannot be read to its end, finds nothing.
func parseStore(sc *bufio.Scanner) (values [len(storeMetrics)]float64, found uint) {
	for sc.Scan() {
		name, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		for i, m := range storeMetrics {
			if name != m {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			if err != nil {
				return values, 0
			}
			values[i] = v
			found |= 1 << i
		}
	}
	if sc.Err() != nil {
		return values, 0
	}
	return values, found
}

// writerStats is what happened between two readings; nil unless both
// found the counters.
func writerStats(before, after storeReading) *WriterStats {
	if !before.writer || !after.writer {
		return nil
	}
	delta := func(i int) float64 { return max(after.values[i]-before.values[i], 0) }
	return &WriterStats{
		Commits:      uint64(delta(0)),
		Transactions: uint64(delta(1)),
		Busy:         time.Duration(delta(2) * float64(time.Second)),
		Elapsed:      after.at.Sub(before.at),
	}
}

// writeWriter reports ws; checkouts, when above zero, are the run's
// complete checkouts, to give the transactions each cost.
func writeWriter(b *strings.Builder, ws *WriterStats, checkouts uint64) {
	secs := ws.Elapsed.Seconds()
	if secs <= 0 {
		return
	}
	fmt.Fprintf(b, "SQLite writer: %.0f write transactions/s in %.0f commits/s", float64(ws.Transactions)/secs, float64(ws.Commits)/secs)
	if ws.Commits > 0 {
		fmt.Fprintf(b, " (%.1f a commit)", float64(ws.Transactions)/float64(ws.Commits))
	}
	fmt.Fprintf(b, ", busy %.0f%% of the time", 100*ws.Busy.Seconds()/secs)
	if checkouts > 0 {
		fmt.Fprintf(b, "; %.1f write transactions a complete checkout", float64(ws.Transactions)/float64(checkouts))
	}
	b.WriteString("\n")
}
