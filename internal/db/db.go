// Package db opens the store's database, SQLite or PostgreSQL, applies its
// migrations and runs transactions. Domain packages write their own SQL with
// $1-style placeholders, which both engines understand.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

// Dialect names a database engine.
type Dialect string

// The engines the store runs on.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is an open store database. Reads go to a pool; writes go to Write,
// which on SQLite is a single connection so that writers queue in Go
// instead of fighting over the file lock.
type DB struct {
	Dialect Dialect
	// Read is the pool for queries that do not write.
	Read *sql.DB
	// Write is the pool for transactions that write; on SQLite it holds one
	// connection.
	Write *sql.DB
	// Relaxed is PostgreSQL's pool for TxRelaxed, whose connections commit
	// with synchronous_commit = off; nil on SQLite.
	Relaxed *sql.DB
	// Target is where the database lives, without any password, for logs.
	Target string

	// stmts and readStmts are the pools' prepared statements, reused by
	// every query: compiling SQL again on each call was a fifth of the
	// store's time under load.
	stmts        *stmtCache
	readStmts    *stmtCache
	relaxedStmts *stmtCache
	// batch is SQLite's group commit; nil on PostgreSQL, whose own commits
	// already share WAL flushes.
	batch *batcher
	// checkpoints copies SQLite's WAL back into the database file off the
	// writer's path; nil on PostgreSQL.
	checkpoints *checkpointer
}

// Reader is the read pool for queries, with their statements prepared once.
func (d *DB) Reader() Querier { return pooled{pool: d.Read, stmts: d.readStmts} }

// Exec runs one writing statement as a transaction of its own.
func (d *DB) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return d.exec(ctx, commitDefault, query, args)
}

// exec runs one statement as a transaction of its own: on PostgreSQL
// straight on its pool, unless a FirstWrite must go in front of it.
func (d *DB) exec(ctx context.Context, mode commitMode, query string, args []any) (sql.Result, error) {
	if d.batch == nil && pendingFirstWrite(ctx) == nil {
		pool, stmts := d.writePool(mode)
		return pooled{pool: pool, stmts: stmts}.ExecContext(ctx, query, args...)
	}
	var res sql.Result
	err := d.tx(ctx, mode, func(tx Querier) error {
		var err error
		res, err = tx.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}

// WriterStats is what SQLite's group commit has done since Open.
type WriterStats struct {
	// Commits counts commits, each of one or more transactions.
	Commits uint64
	// Transactions counts the transactions committed.
	Transactions uint64
	// Busy is the time the writer spent running transactions.
	Busy time.Duration
	// Checkpoints counts background checkpoints, and CheckpointedFrames
	// adds up the WAL frames each found copied back into the database
	// file when it ended.
	Checkpoints, CheckpointedFrames uint64
}

// WriterStats reports what SQLite's group commit has done; it is all zero
// on PostgreSQL.
func (d *DB) WriterStats() WriterStats {
	if d.batch == nil {
		return WriterStats{}
	}
	return WriterStats{
		Commits: d.batch.batches.Load(), Transactions: d.batch.txs.Load(), Busy: time.Duration(d.batch.busy.Load()),
		Checkpoints: d.checkpoints.runs.Load(), CheckpointedFrames: d.checkpoints.frames.Load(),
	}
}

// IsPostgres reports whether dsn names a PostgreSQL database rather than a
// SQLite file.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Options tunes Open.
type Options struct {
	// MaxReaders bounds the read pool; 0 picks a default.
	MaxReaders int
}

// Open connects to dsn, a SQLite path or a postgres:// URL, and checks that
// the database answers. It does not migrate.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	if IsPostgres(dsn) {
		return openPostgres(ctx, dsn, opts)
	}
	return openSQLite(ctx, dsn, opts)
}

func openSQLite(ctx context.Context, path string, opts Options) (*DB, error) {
	if path == "" {
		return nil, errors.New("open sqlite: empty path")
	}
	if strings.Contains(path, "?") {
		return nil, fmt.Errorf("open sqlite %s: give a plain file path, without options", path)
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
	}
	// Pragmas go in the DSN so every pooled connection gets them. WAL lets
	// readers run beside the one writer; synchronous=NORMAL is durable
	// against process crashes in WAL mode, and transactions that must
	// survive power loss ask for FULL themselves.
	//
	// The page cache is 4 MB per connection, not more: every commit scans
	// the writer's cache, and every read after a WAL reset empties a
	// reader's, at a cost that grows with the cache. Measured under the
	// checkout load test, 32 MB spent about 8% of the writer's time on
	// that alone; the operating system's page cache serves the misses.
	base := "file:" + (&url.URL{Path: path}).EscapedPath() + "?_time_format=sqlite" +
		"&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)&_pragma=temp_store(MEMORY)&_pragma=cache_size(-4000)"
	write, err := openSQLitePool(base + "&_txlock=immediate" +
		fmt.Sprintf("&_pragma=wal_autocheckpoint(%d)", writerAutoCheckpoint))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// The batcher holds one write connection for good (see writerConn);
	// the other serves what runs outside it, such as migrations, and
	// waits for SQLite's write lock like any second writer.
	keepOpen(write, 2)
	read, err := openSQLitePool(base + "&_pragma=query_only(1)")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	n := opts.MaxReaders
	if n <= 0 {
		n = 8
	}
	keepOpen(read, n)
	ckpt, err := openSQLitePool(base)
	if err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	keepOpen(ckpt, 1)
	d := &DB{Dialect: SQLite, Read: read, Write: write, Target: path, stmts: newStmtCache(write), readStmts: newStmtCache(read)}
	d.checkpoints = newCheckpointer(ckpt)
	d.batch = newBatcher(write, d.checkpoints)
	// A corrupt or non-database file fails here, on the first real read,
	// rather than on a shopper's request.
	var mode string
	if err := write.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		d.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	var n2 int
	if err := read.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n2); err != nil {
		d.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return d, nil
}

// keepOpen makes pool hold n SQLite connections for good: opening one
// costs a file open and the schema read, and its page cache is kept.
func keepOpen(pool *sql.DB, n int) {
	pool.SetMaxOpenConns(n)
	pool.SetMaxIdleConns(n)
	pool.SetConnMaxIdleTime(0)
	pool.SetConnMaxLifetime(0)
}

func openPostgres(ctx context.Context, dsn string, opts Options) (*DB, error) {
	target := redact(dsn)
	pool, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", target, err)
	}
	n := opts.MaxReaders
	if n <= 0 {
		n = 16
	}
	pool.SetMaxOpenConns(n)
	pool.SetMaxIdleConns(n)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.PingContext(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres %s: %w", target, oneLine{err})
	}
	// Relaxed transactions (see TxRelaxed) get connections of their own
	// that commit without waiting for the disk, set once per connection
	// rather than by a statement in every transaction.
	u, err := url.Parse(dsn)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres %s: %w", target, err)
	}
	q := u.Query()
	q.Set("synchronous_commit", "off")
	u.RawQuery = q.Encode()
	relaxed, err := sql.Open("pgx", u.String())
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres %s: %w", target, err)
	}
	relaxed.SetMaxOpenConns(max(n/2, 2))
	relaxed.SetMaxIdleConns(max(n/2, 2))
	relaxed.SetConnMaxIdleTime(5 * time.Minute)
	stmts := newStmtCache(pool)
	return &DB{Dialect: Postgres, Read: pool, Write: pool, Target: target, stmts: stmts, readStmts: stmts,
		Relaxed: relaxed, relaxedStmts: newStmtCache(relaxed)}, nil
}

// redact drops the password from a database URL.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	return u.Redacted()
}

// Close closes both pools, after the transactions already queued.
func (d *DB) Close() error {
	if d.batch != nil {
		d.batch.close()
	}
	if d.checkpoints != nil {
		d.checkpoints.close()
	}
	d.stmts.close()
	if d.readStmts != d.stmts {
		d.readStmts.close()
	}
	if d.relaxedStmts != nil {
		d.relaxedStmts.close()
	}
	err := d.Read.Close()
	if d.Write != d.Read {
		err = errors.Join(err, d.Write.Close())
	}
	if d.Relaxed != nil {
		err = errors.Join(err, d.Relaxed.Close())
	}
	return err
}

// Ping checks that the database answers, for readiness probes.
func (d *DB) Ping(ctx context.Context) error {
	return d.Read.PingContext(ctx)
}

// Tx runs fn in a write transaction and commits it if fn returns nil. On
// SQLite the transaction starts with BEGIN IMMEDIATE, so it holds the write
// lock from its first statement and never fails half-way on a busy upgrade,
// and it may share its commit with others (see batcher): fn must do only
// database work through tx, and once it has started it runs to the end
// whatever ctx says. fn may run after others that were queued before it
// and see their writes, never half of them.
func (d *DB) Tx(ctx context.Context, fn func(tx Querier) error) error {
	return d.tx(ctx, commitDefault, fn)
}

// TxDurable is Tx for a commit whose answer promises something a shopper
// acts on at once (a flash-sale claim): it returns only after the commit
// has reached the disk, so even a power cut cannot take it back. On SQLite
// its batch commits under synchronous=FULL (one WAL sync, shared by the
// batch); on PostgreSQL Tx already waits for the flush (synchronous_commit
// on).
func (d *DB) TxDurable(ctx context.Context, fn func(tx Querier) error) error {
	return d.tx(ctx, commitDurable, fn)
}

// TxRelaxed is Tx for bookkeeping whose loss in a crash of the database
// server itself (not of the store) would cost a shopper a retry, never
// money: cart lines, idempotency keys, job housekeeping. On PostgreSQL it
// commits without waiting for the log to reach the disk
// (synchronous_commit = off): such a commit can be lost only if the
// server crashes within a fraction of a second (three wal_writer_delay),
// and any durable commit after it makes it durable too, so an order placed
// on a cart also keeps the cart. On SQLite every commit already survives a
// crash of the store, and TxRelaxed is Tx.
func (d *DB) TxRelaxed(ctx context.Context, fn func(tx Querier) error) error {
	return d.tx(ctx, commitRelaxed, fn)
}

// ExecRelaxed is Exec as a TxRelaxed.
func (d *DB) ExecRelaxed(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return d.exec(ctx, commitRelaxed, query, args)
}

// commitMode says how a write transaction commits: as Tx, TxDurable or
// TxRelaxed.
type commitMode int

const (
	commitDefault commitMode = iota
	commitDurable
	commitRelaxed
)

// writePool is the PostgreSQL pool, with its statements, that commits as
// mode asks.
func (d *DB) writePool(mode commitMode) (*sql.DB, *stmtCache) {
	if mode == commitRelaxed && d.Relaxed != nil {
		return d.Relaxed, d.relaxedStmts
	}
	return d.Write, d.stmts
}

// tx runs fn in a write transaction that commits as mode asks, with ctx's
// pending FirstWrite in front of it.
func (d *DB) tx(ctx context.Context, mode commitMode, fn func(tx Querier) error) error {
	f := pendingFirstWrite(ctx)
	if f == nil {
		return d.runTx(ctx, mode, fn)
	}
	err := d.runTx(ctx, mode, f.before(ctx, fn))
	if err == nil {
		f.committed.Store(true)
	}
	return err
}

func (d *DB) runTx(ctx context.Context, mode commitMode, fn func(tx Querier) error) error {
	if d.batch != nil {
		return d.batch.do(ctx, mode == commitDurable, fn)
	}
	pool, stmts := d.writePool(mode)
	tx, err := pool.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	q := preparedTx{tx: tx, stmts: stmts}
	if err := fn(q); err != nil {
		if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("rollback: %w", rerr))
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Querier is what both *sql.DB and *sql.Tx offer, so that a domain query can
// run inside a caller's transaction or on its own.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// IsUniqueViolation reports whether err is a unique-constraint failure on
// either engine.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "SQLSTATE 23505")
}

// Now is the database's idea of a timestamp: UTC, microsecond precision, so
// that a time written and read back compares equal on both engines.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Time normalises t the way Now does, for times that come from outside.
func Time(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// oneLine shows a multi-line driver error (pgx lists every address it
// tried) on one line, for a start-up message a person can read.
type oneLine struct{ err error }

func (e oneLine) Error() string {
	var parts []string
	seen := map[string]bool{}
	for _, l := range strings.Split(e.err.Error(), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !seen[l] {
			seen[l] = true
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " ")
}

func (e oneLine) Unwrap() error { return e.err }
