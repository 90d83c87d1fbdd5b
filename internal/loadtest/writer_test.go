package loadtest

import (
	"bufio"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestParseStore(t *testing.T) {
	page := `# HELP mistore_db_group_commits_total Commits of SQLite's writer.
# TYPE mistore_db_group_commits_total counter
mistore_db_group_commits_total 564
mistore_db_group_committed_transactions_total 3313
mistore_db_group_commits_total_other 7
mistore_db_writer_busy_seconds_total 9.4
process_cpu_seconds_total 27.5
go_goroutines 12
`
	values, found := parseStore(bufio.NewScanner(strings.NewReader(page)))
	if found != 0b1111 || values != [4]float64{564, 3313, 9.4, 27.5} {
		t.Errorf("parsed %v, found %b", values, found)
	}
	for name, c := range map[string]struct {
		page         string
		writer, cpus bool
	}{
		"one missing":  {"mistore_db_group_commits_total 1\nmistore_db_writer_busy_seconds_total 2\nprocess_cpu_seconds_total 3\n", false, true},
		"not a number": {strings.Replace(page, "3313", "many", 1), false, false},
		"empty":        {"", false, false},
		"postgres":     {"go_goroutines 12\nprocess_cpu_seconds_total 1.5\nmistore_http_requests_total 5\n", false, true},
		"no process":   {strings.Replace(page, "process_cpu_seconds_total 27.5\n", "", 1), true, false},
	} {
		_, found := parseStore(bufio.NewScanner(strings.NewReader(c.page)))
		if complete(found, 0, writerCounters) != c.writer || complete(found, cpuCounter, cpuCounter+1) != c.cpus {
			t.Errorf("%s: found %b, want writer %v, CPU %v", name, found, c.writer, c.cpus)
		}
	}
}

func TestWriterStatsReport(t *testing.T) {
	at := time.Now()
	before := storeReading{values: [4]float64{100, 500, 1, 0}, at: at, writer: true}
	after := storeReading{values: [4]float64{664, 3813, 10.4, 0}, at: at.Add(10 * time.Second), writer: true}
	ws := writerStats(before, after)
	if ws == nil || ws.Commits != 564 || ws.Transactions != 3313 || ws.Busy != 9400*time.Millisecond || ws.Elapsed != 10*time.Second {
		t.Fatalf("stats %+v", ws)
	}
	var b strings.Builder
	writeWriter(&b, ws, 385)
	want := "SQLite writer: 331 write transactions/s in 56 commits/s (5.9 a commit), busy 94% of the time; 8.6 write transactions a complete checkout"
	if !strings.Contains(b.String(), want) {
		t.Errorf("report %q lacks %q", b.String(), want)
	}
	if writerStats(before, storeReading{at: at}) != nil || writerStats(storeReading{}, after) != nil {
		t.Error("stats from a reading without the counters")
	}
}

func TestCPUStatsReport(t *testing.T) {
	at := time.Now()
	before := storeReading{values: [4]float64{0, 0, 0, 12.5}, at: at, cpu: true}
	after := storeReading{values: [4]float64{0, 0, 0, 39.5}, at: at.Add(20 * time.Second), cpu: true}
	gen0 := generatorReading{cpu: 3 * time.Second, known: true}
	gen1 := generatorReading{cpu: 8400 * time.Millisecond, known: true}
	m0 := machineReading{busy: 10000, total: 40000, known: true}
	m1 := machineReading{busy: 13300, total: 44000, known: true}
	c := cpuStats(before, after, gen0, gen1, m0, m1)
	if c == nil || !c.StoreKnown || c.Store != 27*time.Second || !c.GeneratorKnown || c.Generator != 5400*time.Millisecond || c.Elapsed != 20*time.Second ||
		!c.MachineKnown || c.Machine != 33*time.Second || c.MachineShare != 33.0/40 || math.Abs(c.MachineCores()-2) > 1e-9 {
		t.Fatalf("stats %+v", c)
	}
	for _, tc := range []struct {
		withDB bool
		want   string
	}{
		{true, "CPU in 20.0 s: store 27.00 s (1.35 cores), load generator 5.40 s (0.27 cores), this machine 82% busy; a complete checkout took 1.80 ms of the store's, 0.36 ms of the generator's and 2.20 ms of this machine's; at that cost its 2 cores, all busy, would make at most 909 complete checkouts/s\n"},
		{false, "CPU in 20.0 s: store (its database server not counted) 27.00 s (1.35 cores), load generator 5.40 s (0.27 cores), this machine 82% busy; a complete checkout took 1.80 ms of the store's, 0.36 ms of the generator's and 2.20 ms of this machine's; at that cost its 2 cores, all busy, would make at most 909 complete checkouts/s\n"},
	} {
		var b strings.Builder
		writeCPU(&b, c, 15000, tc.withDB)
		if b.String() != tc.want {
			t.Errorf("report\n%q, want\n%q", b.String(), tc.want)
		}
	}
	if cpuStats(storeReading{at: at}, storeReading{at: at.Add(time.Second)}, generatorReading{}, gen1, machineReading{}, m1) != nil {
		t.Error("stats with nothing known")
	}
	if c := cpuStats(storeReading{at: at}, storeReading{at: at.Add(time.Second)}, gen0, gen1, m0, machineReading{}); c == nil || c.StoreKnown || !c.GeneratorKnown || c.MachineKnown {
		t.Errorf("generator only: %+v", c)
	}
	if g := readGenerator(); !g.known || g.cpu <= 0 {
		t.Errorf("this process's CPU time: %+v", g)
	}
}

// FuzzParseStore: any page parses without panicking, and a counter is
// found only if the page names it.
func FuzzParseStore(f *testing.F) {
	f.Add("mistore_db_group_commits_total 1\nmistore_db_group_committed_transactions_total 2\nmistore_db_writer_busy_seconds_total 3\nprocess_cpu_seconds_total 4\n")
	f.Add("# comment\n\n  x 1")
	f.Fuzz(func(t *testing.T, page string) {
		_, found := parseStore(bufio.NewScanner(strings.NewReader(page)))
		for i, m := range storeMetrics {
			if found&(1<<i) != 0 && !strings.Contains(page, m) {
				t.Fatalf("found %s in %q", m, page)
			}
		}
	})
}

func TestParseProcStat(t *testing.T) {
	page := "cpu  1000 20 300 5000 40 5 6 7 0 0\ncpu0 500 10 150 2500 20 2 3 3 0 0\nintr 12345\n"
	m := parseProcStat(strings.NewReader(page))
	// busy: user 1000 + nice 20 + system 300 + irq 5 + softirq 6; total
	// adds idle 5000, iowait 40 and steal 7; in hundredths of a second.
	if !m.known || m.busy != 1331 || m.total != 6378 {
		t.Errorf("parsed %+v", m)
	}
	for name, bad := range map[string]string{
		"empty":     "",
		"cpus only": "cpu0 1 2 3 4 5 6 7 8\n",
		"short":     "cpu 1 2 3\n",
		"negative":  "cpu 1 2 3 4 5 6 7 -8\n",
		"text":      "cpu 1 2 x 4 5 6 7 8\n",
	} {
		if m := parseProcStat(strings.NewReader(bad)); m.known {
			t.Errorf("%s: parsed as %+v", name, m)
		}
	}
	if m := readMachine(); runtime.GOOS == "linux" && (!m.known || m.total <= 0) {
		t.Errorf("this machine's /proc/stat: %+v", m)
	}
	earlier := machineReading{busy: 100, total: 400, known: true}
	for _, c := range []struct {
		later machineReading
		ok    bool
	}{
		{machineReading{busy: 150, total: 500, known: true}, true},
		{machineReading{busy: 150, total: 400, known: true}, false}, // no time passed
		{machineReading{busy: 150, total: 500}, false},
		{machineReading{busy: 1 << 53, total: 1 << 54, known: true}, false},
	} {
		busy, share, ok := c.later.since(earlier)
		if ok != c.ok || (ok && (busy != 500*time.Millisecond || share != 0.5)) {
			t.Errorf("%+v since %+v = %v, %v, %v", c.later, earlier, busy, share, ok)
		}
	}
}

// FuzzParseProcStat: any text parses without panicking; what it finds is
// never negative, nor busier than the total, and the time since a
// reading of nothing is never negative either.
func FuzzParseProcStat(f *testing.F) {
	f.Add("cpu  1000 20 300 5000 40 5 6 7 0 0\n")
	f.Add("cpu 9223372036854775807 1 1 1 1 1 1 1\n")
	f.Fuzz(func(t *testing.T, page string) {
		m := parseProcStat(strings.NewReader(page))
		if m.known && (m.busy < 0 || m.total < m.busy) {
			t.Fatalf("%q: %+v", page, m)
		}
		if busy, share, ok := m.since(machineReading{known: true}); ok && (busy < 0 || share < 0 || share > 1) {
			t.Fatalf("%q: %v, %v since nothing", page, busy, share)
		}
	})
}

// TestReadStoreSendsToken: a store whose /metrics wants a token is read
// with it, and one read without it adds nothing rather than failing.
func TestReadStoreSendsToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "process_cpu_seconds_total 4.5\n")
	}))
	defer srv.Close()
	if r := readStore(t.Context(), srv.Client(), []string{srv.URL}, "tok"); !r.cpu || r.values[cpuCounter] != 4.5 {
		t.Errorf("with the token: %+v", r)
	}
	if r := readStore(t.Context(), srv.Client(), []string{srv.URL + "/"}, ""); r.cpu || r.writer {
		t.Errorf("without the token: %+v", r)
	}
}
