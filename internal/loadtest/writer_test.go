package loadtest

import (
	"bufio"
	"strings"
	"testing"
	"time"
)

func TestParseWriter(t *testing.T) {
	page := `# HELP mistore_db_group_commits_total Commits of SQLite's writer.
# TYPE mistore_db_group_commits_total counter
mistore_db_group_commits_total 564
mistore_db_group_committed_transactions_total 3313
mistore_db_group_commits_total_other 7
mistore_db_writer_busy_seconds_total 9.4
go_goroutines 12
`
	values, ok := parseWriter(bufio.NewScanner(strings.NewReader(page)))
	if !ok || values != [3]float64{564, 3313, 9.4} {
		t.Errorf("parsed %v, %v", values, ok)
	}
	for name, bad := range map[string]string{
		"one missing":  "mistore_db_group_commits_total 1\nmistore_db_writer_busy_seconds_total 2\n",
		"not a number": strings.Replace(page, "3313", "many", 1),
		"empty":        "",
		"postgres":     "go_goroutines 12\nmistore_http_requests_total 5\n",
	} {
		if _, ok := parseWriter(bufio.NewScanner(strings.NewReader(bad))); ok {
			t.Errorf("%s: parsed as complete", name)
		}
	}
}

func TestWriterStatsReport(t *testing.T) {
	at := time.Now()
	before := writerReading{values: [3]float64{100, 500, 1}, at: at, found: true}
	after := writerReading{values: [3]float64{664, 3813, 10.4}, at: at.Add(10 * time.Second), found: true}
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
	if writerStats(before, writerReading{at: at}) != nil || writerStats(writerReading{}, after) != nil {
		t.Error("stats from a reading without the counters")
	}
}

// FuzzParseWriter: any page parses without panicking, and a page is
// complete only if it names every counter.
func FuzzParseWriter(f *testing.F) {
	f.Add("mistore_db_group_commits_total 1\nmistore_db_group_committed_transactions_total 2\nmistore_db_writer_busy_seconds_total 3\n")
	f.Add("# comment\n\n  x 1")
	f.Fuzz(func(t *testing.T, page string) {
		_, ok := parseWriter(bufio.NewScanner(strings.NewReader(page)))
		if !ok {
			return
		}
		for _, m := range writerMetrics {
			if !strings.Contains(page, m) {
				t.Fatalf("complete without %s: %q", m, page)
			}
		}
	})
}
