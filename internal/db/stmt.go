package db

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStmts bounds the cache: the store's SQL is a fixed set of
// strings, and a query built from data (an IN list of any length) should
// not fill memory.
const maxCachedStmts = 512

// stmtCache holds prepared statements of one pool by their SQL. A
// *sql.Stmt is safe for concurrent use and database/sql prepares it once
// per connection, so a transaction on a connection that has seen the query
// runs it without compiling it again.
//
// A statement is prepared in the background the first time its query is
// seen: the query runs as it is that once. Preparing there and then would
// need a second connection, and SQLite's write pool has one, held by the
// transaction asking.
type stmtCache struct {
	pool    *sql.DB
	ctx     context.Context
	stop    context.CancelFunc
	mu      sync.RWMutex
	m       map[string]*sql.Stmt
	pending map[string]bool
	wg      sync.WaitGroup
}

func newStmtCache(pool *sql.DB) *stmtCache {
	ctx, stop := context.WithCancel(context.Background())
	return &stmtCache{pool: pool, ctx: ctx, stop: stop, m: map[string]*sql.Stmt{}, pending: map[string]bool{}}
}

// get returns the prepared statement of query, or nil when it is not
// prepared (yet): the caller then runs the query as it is.
func (c *stmtCache) get(query string) *sql.Stmt {
	c.mu.RLock()
	st := c.m[query]
	c.mu.RUnlock()
	if st != nil {
		return st
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.m[query]; st != nil || c.pending[query] || len(c.m)+len(c.pending) >= maxCachedStmts || c.ctx.Err() != nil {
		return st
	}
	c.pending[query] = true
	c.wg.Add(1)
	go c.prepare(query)
	return nil
}

func (c *stmtCache) prepare(query string) {
	defer c.wg.Done()
	st, err := c.pool.PrepareContext(c.ctx, query)
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pending, query)
	if err != nil {
		return // it keeps running unprepared; its own call reports errors
	}
	if c.ctx.Err() != nil {
		st.Close()
		return
	}
	c.m[query] = st
}

func (c *stmtCache) close() {
	c.stop()
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.m {
		st.Close()
		delete(c.m, q)
	}
}

// preparedTx runs a transaction's queries through the cache's statements.
type preparedTx struct {
	tx    *sql.Tx
	stmts *stmtCache
}

func (p preparedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := p.stmts.get(query); st != nil {
		return p.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return p.tx.ExecContext(ctx, query, args...)
}

func (p preparedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := p.stmts.get(query); st != nil {
		return p.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return p.tx.QueryContext(ctx, query, args...)
}

func (p preparedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := p.stmts.get(query); st != nil {
		return p.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return p.tx.QueryRowContext(ctx, query, args...)
}

// pooled runs a pool's queries through its cache's statements.
type pooled struct {
	pool  *sql.DB
	stmts *stmtCache
}

func (p pooled) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := p.stmts.get(query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return p.pool.ExecContext(ctx, query, args...)
}

func (p pooled) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := p.stmts.get(query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return p.pool.QueryContext(ctx, query, args...)
}

func (p pooled) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := p.stmts.get(query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return p.pool.QueryRowContext(ctx, query, args...)
}
