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

// writerMetrics names the counters WriterStats is made of.
var writerMetrics = [...]string{
	"mistore_db_group_commits_total",
	"mistore_db_group_committed_transactions_total",
	"mistore_db_writer_busy_seconds_total",
}

// writerReading is one reading of writerMetrics, added up over targets.
type writerReading struct {
	values [len(writerMetrics)]float64
	at     time.Time
	// found is false when no target exports the counters: a store on
	// PostgreSQL, or one whose metrics cannot be read.
	found bool
}

// readWriter reads the writer's counters of every target. A target
// without them adds nothing; the reading is only informative, so it
// never fails the run.
func readWriter(ctx context.Context, client *http.Client, targets []string) writerReading {
	r := writerReading{at: time.Now()}
	for _, t := range targets {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		values, ok := scrapeWriter(ctx, client, strings.TrimSuffix(t, "/")+"/metrics")
		cancel()
		if !ok {
			continue
		}
		r.found = true
		for i, v := range values {
			r.values[i] += v
		}
	}
	return r
}

// scrapeWriter reads writerMetrics off a Prometheus text page.
func scrapeWriter(ctx context.Context, client *http.Client, url string) (values [len(writerMetrics)]float64, ok bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return values, false
	}
	resp, err := client.Do(req)
	if err != nil {
		return values, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return values, false
	}
	return parseWriter(bufio.NewScanner(resp.Body))
}

// parseWriter finds writerMetrics among the lines of a Prometheus text
// page ("name value", comments starting with #); ok only if all are there.
func parseWriter(sc *bufio.Scanner) (values [len(writerMetrics)]float64, ok bool) {
	seen := 0
	for sc.Scan() {
		name, value, found := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if !found || strings.HasPrefix(name, "#") {
			continue
		}
		for i, m := range writerMetrics {
			if name != m {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			if err != nil {
				return values, false
			}
			values[i] = v
			seen |= 1 << i
		}
	}
	return values, sc.Err() == nil && seen == 1<<len(writerMetrics)-1
}

// writerStats is what happened between two readings; nil unless both
// found the counters.
func writerStats(before, after writerReading) *WriterStats {
	if !before.found || !after.found {
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
	fmt.Fprintf(b, "\nSQLite writer: %.0f write transactions/s in %.0f commits/s", float64(ws.Transactions)/secs, float64(ws.Commits)/secs)
	if ws.Commits > 0 {
		fmt.Fprintf(b, " (%.1f a commit)", float64(ws.Transactions)/float64(ws.Commits))
	}
	fmt.Fprintf(b, ", busy %.0f%% of the time", 100*ws.Busy.Seconds()/secs)
	if checkouts > 0 {
		fmt.Fprintf(b, "; %.1f write transactions a complete checkout", float64(ws.Transactions)/float64(checkouts))
	}
	b.WriteString("\n")
}
