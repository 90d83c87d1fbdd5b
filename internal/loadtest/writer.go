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

// readStore reads the counters of every target. A target without them
// adds nothing; the reading is only informative, so it never fails the
// run.
func readStore(ctx context.Context, client *http.Client, targets []string) storeReading {
	r := storeReading{at: time.Now()}
	for _, t := range targets {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		values, found := scrapeStore(ctx, client, strings.TrimSuffix(t, "/")+"/metrics")
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
func scrapeStore(ctx context.Context, client *http.Client, url string) (values [len(storeMetrics)]float64, found uint) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return values, 0
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

// CPUStats is the processor time the run's two sides used during the
// load. Per complete checkout it says what a machine must give for a
// rate, which a rate measured on a shared machine does not.
type CPUStats struct {
	// Store adds up the targets' processes (not a database server running
	// in processes of its own, such as PostgreSQL); StoreKnown is false
	// when no target exports process_cpu_seconds_total.
	Store      time.Duration
	StoreKnown bool
	// Generator is this process, the load generator; GeneratorKnown is
	// false where the system does not tell.
	Generator      time.Duration
	GeneratorKnown bool
	// Machine is the busy processor time of the machine the load
	// generator runs on, every process and the kernel included, and
	// MachineShare its share of all that machine's processor time;
	// MachineKnown is false off Linux. When the store and its database
	// server share the machine, it is what the whole run cost, with
	// whatever else ran there.
	Machine      time.Duration
	MachineShare float64
	MachineKnown bool
	// Elapsed is the time the figures cover.
	Elapsed time.Duration
}

// generatorReading is the load generator's own CPU time at a moment.
type generatorReading struct {
	cpu   time.Duration
	known bool
}

func readGenerator() generatorReading {
	cpu, ok := processCPU()
	return generatorReading{cpu: cpu, known: ok}
}

// cpuStats is the CPU used between two readings of each side and of the
// machine; nil when none is known.
func cpuStats(before, after storeReading, genBefore, genAfter generatorReading, mBefore, mAfter machineReading) *CPUStats {
	c := &CPUStats{Elapsed: after.at.Sub(before.at)}
	c.Machine, c.MachineShare, c.MachineKnown = mAfter.since(mBefore)
	if before.cpu && after.cpu {
		c.StoreKnown = true
		c.Store = time.Duration(max(after.values[cpuCounter]-before.values[cpuCounter], 0) * float64(time.Second))
	}
	if genBefore.known && genAfter.known {
		c.GeneratorKnown = true
		c.Generator = max(genAfter.cpu-genBefore.cpu, 0)
	}
	if !c.StoreKnown && !c.GeneratorKnown && !c.MachineKnown {
		return nil
	}
	return c
}

// writeCPU reports c; checkouts, when above zero, are the run's complete
// checkouts, to give what each cost. withDatabase says that the store
// keeps its data inside its own process (SQLite), so that its figure is
// the whole server side.
func writeCPU(b *strings.Builder, c *CPUStats, checkouts uint64, withDatabase bool) {
	secs := c.Elapsed.Seconds()
	if secs <= 0 {
		return
	}
	var parts, each []string
	if c.StoreKnown {
		who := "store"
		if !withDatabase {
			who = "store (its database server not counted)"
		}
		parts = append(parts, fmt.Sprintf("%s %.2f s (%.2f cores)", who, c.Store.Seconds(), c.Store.Seconds()/secs))
		if checkouts > 0 {
			each = append(each, fmt.Sprintf("%.2f ms of the store's", ms(c.Store)/float64(checkouts)))
		}
	}
	if c.GeneratorKnown {
		parts = append(parts, fmt.Sprintf("load generator %.2f s (%.2f cores)", c.Generator.Seconds(), c.Generator.Seconds()/secs))
		if checkouts > 0 {
			each = append(each, fmt.Sprintf("%.2f ms of the generator's", ms(c.Generator)/float64(checkouts)))
		}
	}
	if c.MachineKnown {
		parts = append(parts, fmt.Sprintf("this machine %.0f%% busy", 100*c.MachineShare))
		if checkouts > 0 {
			each = append(each, fmt.Sprintf("%.2f ms of this machine's", ms(c.Machine)/float64(checkouts)))
		}
	}
	fmt.Fprintf(b, "CPU in %.1f s: %s", secs, strings.Join(parts, ", "))
	if len(each) > 0 {
		fmt.Fprintf(b, "; a complete checkout took %s", joinList(each))
	}
	b.WriteString("\n")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// joinList joins items as a sentence lists them: "a", "a and b", "a, b
// and c".
func joinList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
