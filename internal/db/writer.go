package db

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// writerConn is the batcher's hold on SQLite's write connection, with the
// statements prepared on it. Only the batcher's goroutine uses it.
//
// The batcher runs its transactions as BEGIN IMMEDIATE … COMMIT on a
// *sql.Conn rather than through *sql.Tx. database/sql gives every *sql.Tx a
// cancellable context of its own, and every query made inside one then
// starts a goroutine to watch it (Rows.initContextClose), plus one per
// transaction (Tx.awaitDone). Under the checkout load test that was
// 5,700 goroutines a second started by the one writer: each is created on
// the writer's processor and woken there again when its rows close, so
// they ran ahead of the writer whenever it paused. On a *sql.Conn, a
// query whose context cannot be cancelled starts none.
type writerConn struct {
	pool *sql.DB
	// conn is nil until the first batch, and again after a failure that
	// may have left the connection unusable.
	conn *sql.Conn
	// stmts are the statements prepared on conn, by their SQL.
	stmts map[string]*sql.Stmt
	// clock adds up the time spent in each statement.
	clock statementClock
}

// acquire returns the held connection, taking one from the pool on first
// use.
func (w *writerConn) acquire(ctx context.Context) (*sql.Conn, error) {
	if w.conn != nil {
		return w.conn, nil
	}
	conn, err := w.pool.Conn(ctx)
	if err != nil {
		return nil, err
	}
	w.conn, w.stmts = conn, map[string]*sql.Stmt{}
	return conn, nil
}

// release closes the prepared statements and gives the connection back to
// the pool.
func (w *writerConn) release() {
	if w.conn == nil {
		return
	}
	for _, st := range w.stmts {
		st.Close()
	}
	w.conn.Close()
	w.conn, w.stmts = nil, nil
}

// stmt returns query prepared on the held connection, preparing it the
// first time, or nil when it cannot be (the cache is full, or the query
// does not compile): the caller then runs the query as it is, and its own
// call reports any error.
func (w *writerConn) stmt(ctx context.Context, query string) *sql.Stmt {
	if st, ok := w.stmts[query]; ok {
		return st
	}
	if len(w.stmts) >= maxCachedStmts {
		return nil
	}
	st, err := w.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	w.stmts[query] = st
	return st
}

// exec runs one of the batcher's own statements (BEGIN, COMMIT, a
// savepoint).
func (w *writerConn) exec(query string) error {
	defer w.clock.add(query, time.Now())
	ctx := context.Background()
	var err error
	if st := w.stmt(ctx, query); st != nil {
		_, err = st.ExecContext(ctx)
	} else {
		_, err = w.conn.ExecContext(ctx, query)
	}
	return err
}

// rollback ends the open transaction, if SQLite has not already ended it
// itself (as it does after some errors, such as a full disk).
func (w *writerConn) rollback() error {
	err := w.exec("ROLLBACK")
	if err != nil && strings.Contains(err.Error(), "no transaction is active") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}

// writerTx runs a batched transaction's statements on the held connection.
// They run without their caller's cancellation: a statement cancelled
// mid-way interrupts the connection, and an interrupted write rolls back
// the whole SQLite transaction, every other request of the batch
// included. Cancellation is honoured before a request starts; once
// started it runs to the end, as a transaction that a client hangs up on
// does anyway.
type writerTx struct{ w *writerConn }

func (t writerTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	defer t.w.clock.add(query, time.Now())
	ctx = context.WithoutCancel(ctx)
	if st := t.w.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.w.conn.ExecContext(ctx, query, args...)
}

func (t writerTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	defer t.w.clock.add(query, time.Now())
	ctx = context.WithoutCancel(ctx)
	if st := t.w.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.w.conn.QueryContext(ctx, query, args...)
}

func (t writerTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	defer t.w.clock.add(query, time.Now())
	ctx = context.WithoutCancel(ctx)
	if st := t.w.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.w.conn.QueryRowContext(ctx, query, args...)
}
