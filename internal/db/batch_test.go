package db

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func openBatchDB(t *testing.T) *DB {
	t.Helper()
	d, err := Open(context.Background(), filepath.Join(t.TempDir(), "b.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Exec(context.Background(), "CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER NOT NULL CHECK (v >= 0))"); err != nil {
		t.Fatal(err)
	}
	return d
}

// holdWriter runs a transaction that holds the writer until release is
// called and n more transactions are queued behind it, so that those n are
// sure to share one batch. release returns once the holder committed.
func holdWriter(t *testing.T, d *DB, n int) (release func()) {
	t.Helper()
	started := make(chan struct{})
	proceed := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- d.Tx(context.Background(), func(Querier) error {
			close(started)
			<-proceed
			deadline := time.Now().Add(10 * time.Second)
			for len(d.batch.queue) < n && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			return nil
		})
	}()
	<-started
	return func() {
		close(proceed)
		if err := <-done; err != nil {
			t.Errorf("holding transaction: %v", err)
		}
	}
}

// TestBatchKeepsEachTransactionAtomic: of transactions sharing a commit,
// the ones that fail (an error, a constraint, a panic) leave nothing and
// the others commit, in order, each seeing the ones before it.
func TestBatchKeepsEachTransactionAtomic(t *testing.T) {
	d := openBatchDB(t)
	ctx := context.Background()
	const n = 60
	wait := holdWriter(t, d, n)
	before := d.WriterStats()

	var wg sync.WaitGroup
	errs := make([]error, n)
	panics := make([]any, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { panics[i] = recover() }()
			errs[i] = d.Tx(ctx, func(tx Querier) error {
				// Every transaction writes first, then fails or not.
				if _, err := tx.ExecContext(ctx, "INSERT INTO t (k, v) VALUES ($1, 1)", i); err != nil {
					return err
				}
				switch i % 4 {
				case 1:
					return fmt.Errorf("tx %d: %w", i, errBoom)
				case 2:
					_, err := tx.ExecContext(ctx, "UPDATE t SET v = -1 WHERE k = $1", i) // breaks the CHECK
					return err
				case 3:
					panic(fmt.Sprintf("tx %d panics", i))
				}
				return nil
			})
		}()
	}
	// Only once all n are queued does the holding transaction let go.
	wait()
	wg.Wait()

	for i := range n {
		switch i % 4 {
		case 0:
			if errs[i] != nil || panics[i] != nil {
				t.Errorf("tx %d: err %v, panic %v; want success", i, errs[i], panics[i])
			}
		case 1:
			if !errors.Is(errs[i], errBoom) {
				t.Errorf("tx %d: err %v, want its own error", i, errs[i])
			}
		case 2:
			if errs[i] == nil {
				t.Errorf("tx %d broke a constraint and succeeded", i)
			}
		case 3:
			if panics[i] != fmt.Sprintf("tx %d panics", i) {
				t.Errorf("tx %d: panic %v in the caller, want its own", i, panics[i])
			}
		}
	}
	rows, err := d.Read.QueryContext(ctx, "SELECT k FROM t ORDER BY k")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []int
	for rows.Next() {
		var k int
		rows.Scan(&k)
		got = append(got, k)
	}
	if len(got) != n/4 {
		t.Fatalf("rows %v, want the %d successful transactions' only", got, n/4)
	}
	for _, k := range got {
		if k%4 != 0 {
			t.Errorf("row %d of a failed transaction was committed", k)
		}
	}
	after := d.WriterStats()
	if commits, txs := after.Commits-before.Commits, after.Transactions-before.Transactions; commits >= txs {
		t.Errorf("%d transactions took %d commits; queued together they should share", txs, commits)
	}
}

var errBoom = errors.New("boom")

// TestBatchSeesEarlierWrites: transactions in one batch run in turn, so a
// counter incremented by each ends exact, and a conditional update gives
// out a limited stock exactly once per unit.
func TestBatchSeesEarlierWrites(t *testing.T) {
	d := openBatchDB(t)
	ctx := context.Background()
	if _, err := d.Exec(ctx, "INSERT INTO t (k, v) VALUES (1, 10)"); err != nil {
		t.Fatal(err)
	}
	const n = 200
	wait := holdWriter(t, d, 50)
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := 0
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := d.Tx(ctx, func(tx Querier) error {
				res, err := tx.ExecContext(ctx, "UPDATE t SET v = v - 1 WHERE k = 1 AND v > 0")
				if err != nil {
					return err
				}
				if n, _ := res.RowsAffected(); n == 0 {
					return errSoldOut
				}
				return nil
			})
			if err == nil {
				mu.Lock()
				got++
				mu.Unlock()
			} else if !errors.Is(err, errSoldOut) {
				t.Error(err)
			}
		}()
	}
	wait()
	wg.Wait()
	var left int
	d.Read.QueryRowContext(ctx, "SELECT v FROM t WHERE k = 1").Scan(&left)
	if got != 10 || left != 0 {
		t.Errorf("%d units taken, %d left; want 10 and 0", got, left)
	}
}

var errSoldOut = errors.New("sold out")

// TestBatchCancelledBeforeRunning: a transaction whose context ends while
// it waits never runs; one submitted after Close is refused.
func TestBatchCancelledBeforeRunning(t *testing.T) {
	d := openBatchDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	wait := holdWriter(t, d, 1)
	ran := make(chan struct{}, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- d.Tx(ctx, func(Querier) error { ran <- struct{}{}; return nil })
	}()
	// The holder keeps the writer until released, so the queued
	// transaction waits until then.
	for len(d.batch.queue) < 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	wait()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled transaction: %v", err)
	}
	select {
	case <-ran:
		t.Error("a transaction cancelled while queued ran")
	default:
	}
	d.Close()
	if err := d.Tx(context.Background(), func(Querier) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}

// TestTxDurableCommitsUnderFullSync: a durable transaction, alone or in a
// batch with ordinary ones, runs under synchronous=FULL (2), and the
// writer is back to NORMAL (1) for the transactions after it.
func TestTxDurableCommitsUnderFullSync(t *testing.T) {
	d := openBatchDB(t)
	ctx := context.Background()
	// SQLite compiles a pragma's value into the statement, and the writer
	// caches prepared statements by their text: each read gets a text of
	// its own, so that it is compiled when it runs.
	var reads atomic.Int64
	level := func(q Querier) int {
		var n int
		if err := q.QueryRowContext(ctx, fmt.Sprintf("PRAGMA synchronous -- read %d", reads.Add(1))).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	var inside int
	if err := d.TxDurable(ctx, func(q Querier) error {
		inside = level(q)
		_, err := q.ExecContext(ctx, "INSERT INTO t (k, v) VALUES (1, 1)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if inside != 2 {
		t.Errorf("synchronous inside a durable transaction = %d, want 2 (FULL)", inside)
	}
	var after int
	if err := d.Tx(ctx, func(q Querier) error { after = level(q); return nil }); err != nil {
		t.Fatal(err)
	}
	if after != 1 {
		t.Errorf("synchronous after a durable transaction = %d, want 1 (NORMAL)", after)
	}

	// Queued behind a holder, a durable and an ordinary transaction share
	// one batch: both see FULL, both commit.
	release := holdWriter(t, d, 2)
	var wg sync.WaitGroup
	levels := make([]int, 2)
	for i, tx := range []func(context.Context, func(Querier) error) error{d.TxDurable, d.Tx} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := tx(ctx, func(q Querier) error {
				levels[i] = level(q)
				_, err := q.ExecContext(ctx, "INSERT INTO t (k, v) VALUES ($1, 1)", 10+i)
				return err
			}); err != nil {
				t.Error(err)
			}
		}()
		for len(d.batch.queue) < i+1 {
			time.Sleep(time.Millisecond)
		}
	}
	release()
	wg.Wait()
	if levels[0] != 2 || levels[1] != 2 {
		t.Errorf("synchronous in a shared durable batch = %v, want [2 2]", levels)
	}
	var rows int
	if err := d.Reader().QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&rows); err != nil || rows != 3 {
		t.Errorf("rows = %d (%v), want 3", rows, err)
	}
}

// TestWriterStatements: the writer counts each statement it runs, its
// own BEGIN and COMMIT included, and folds texts past its bound into one
// row rather than growing without end.
func TestWriterStatements(t *testing.T) {
	d := openBatchDB(t)
	ctx := context.Background()
	const insert = "INSERT INTO t (k, v) VALUES ($1, 1)"
	for i := range 3 {
		if _, err := d.Exec(ctx, insert, 100+i); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Tx(ctx, func(q Querier) error {
		var n int
		return q.QueryRowContext(ctx, "SELECT   count(*)\n\tFROM t").Scan(&n)
	}); err != nil {
		t.Fatal(err)
	}
	byText := map[string]StatementStats{}
	stats := d.WriterStatements()
	for i, s := range stats {
		byText[s.SQL] = s
		if i > 0 && s.Total > stats[i-1].Total {
			t.Errorf("statement %d (%v) after one of less time (%v)", i, s.Total, stats[i-1].Total)
		}
	}
	if s := byText[insert]; s.Calls != 3 || s.Total <= 0 {
		t.Errorf("insert: %+v, want 3 calls and some time", s)
	}
	if s := byText["SELECT count(*) FROM t"]; s.Calls != 1 {
		t.Errorf("select, its white space folded: %+v, want 1 call", s)
	}
	// The table's creation, three inserts and the select: five
	// transactions, each alone in its batch here.
	if s := byText["BEGIN IMMEDIATE"]; s.Calls < 5 {
		t.Errorf("BEGIN IMMEDIATE: %+v, want at least 5 calls", s)
	}
	if s := byText["COMMIT"]; s.Calls < 4 {
		t.Errorf("COMMIT: %+v, want at least 4 calls", s)
	}

	if err := d.Tx(ctx, func(q Querier) error {
		for i := range maxCachedStmts + 10 {
			var n int
			if err := q.QueryRowContext(ctx, fmt.Sprintf("SELECT %d", i)).Scan(&n); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	stats = d.WriterStatements()
	if len(stats) > maxCachedStmts+1 {
		t.Errorf("%d statements kept, want at most %d", len(stats), maxCachedStmts+1)
	}
	var other int64
	for _, s := range stats {
		if s.SQL == otherStatements {
			other = s.Calls
		}
	}
	if other == 0 {
		t.Errorf("no %q row past %d texts", otherStatements, maxCachedStmts)
	}

}

// TestBatchSurvivesFullDatabase: a transaction that fills the database
// fails alone or takes its batch with it, but every caller is told the
// truth (what was answered nil is there, what got an error is not), and
// the writer goes on with the next batch, not stuck inside the broken
// transaction.
func TestBatchSurvivesFullDatabase(t *testing.T) {
	d := openBatchDB(t)
	ctx := context.Background()
	if _, err := d.Exec(ctx, "CREATE TABLE big (b BLOB NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	// max_page_count belongs to the connection: set it on the writer's.
	if err := d.Tx(ctx, func(q Querier) error {
		var pages int
		if err := q.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
			return err
		}
		_, err := q.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages+4))
		return err
	}); err != nil {
		t.Fatal(err)
	}

	release := holdWriter(t, d, 3)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.Tx(ctx, func(q Querier) error {
				if i == 1 {
					_, err := q.ExecContext(ctx, "INSERT INTO big (b) VALUES (zeroblob(1000000))")
					return err
				}
				_, err := q.ExecContext(ctx, "INSERT INTO t (k, v) VALUES ($1, 1)", i)
				return err
			})
		}()
		for len(d.batch.queue) < i+1 {
			time.Sleep(time.Millisecond)
		}
	}
	release()
	wg.Wait()
	if errs[1] == nil || !strings.Contains(errs[1].Error(), "full") {
		t.Errorf("the transaction that filled the database: %v, want a full-database error", errs[1])
	}
	for _, i := range []int{0, 2} {
		var n int
		if err := d.Reader().QueryRowContext(ctx, "SELECT count(*) FROM t WHERE k = $1", i).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if (errs[i] == nil) != (n == 1) {
			t.Errorf("transaction %d answered %v, and its row is there %d times", i, errs[i], n)
		}
		if errs[i] != nil && !strings.Contains(errs[i].Error(), "full") {
			t.Errorf("transaction %d lost its work without saying why: %v", i, errs[i])
		}
	}
	var n int
	if err := d.Reader().QueryRowContext(ctx, "SELECT count(*) FROM big").Scan(&n); err != nil || n != 0 {
		t.Errorf("big rows = %d (%v), want none", n, err)
	}

	// The writer is not left inside a transaction: the next ones work.
	if err := d.Tx(ctx, func(q Querier) error {
		_, err := q.ExecContext(ctx, "PRAGMA max_page_count = 1000000")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(ctx, "INSERT INTO t (k, v) VALUES (9, 1)"); err != nil {
		t.Fatalf("write after the full database: %v", err)
	}
	if err := d.Reader().QueryRowContext(ctx, "SELECT count(*) FROM t WHERE k = 9").Scan(&n); err != nil || n != 1 {
		t.Errorf("row 9 = %d (%v), want 1", n, err)
	}
}
