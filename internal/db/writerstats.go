package db

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"
)

// StatementStats is the time SQLite's writer has spent on one statement
// since Open, like a row of PostgreSQL's pg_stat_statements.
type StatementStats struct {
	// SQL is the statement's text, its runs of white space made one
	// space; "BEGIN IMMEDIATE", "COMMIT" and the savepoints are the
	// writer's own.
	SQL string
	// Calls counts the times it ran.
	Calls int64
	// Total is the wall time the writer spent in it, from the call to
	// its first row (a query's further rows are read after), waiting
	// for the CPU included: the writer's time is what bounds the rate
	// of writes, whatever it is spent on.
	Total time.Duration
}

// otherStatements is where statements beyond maxCachedStmts distinct
// texts are counted, so that SQL built from data cannot grow the table
// without end.
const otherStatements = "(other statements)"

// statementClock adds up the writer's time by statement. Only the
// writer's goroutine adds; mu is for the readers of a snapshot, and is
// never contended on the writer's path but by them.
type statementClock struct {
	mu sync.Mutex
	m  map[string]*StatementStats
}

// add counts one run of query that began at start.
func (c *statementClock) add(query string, start time.Time) {
	d := time.Since(start)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*StatementStats{}
	}
	s := c.m[query]
	if s == nil {
		if len(c.m) >= maxCachedStmts {
			query = otherStatements
			s = c.m[query]
		}
		if s == nil {
			s = &StatementStats{SQL: strings.Join(strings.Fields(query), " ")}
			c.m[query] = s
		}
	}
	s.Calls++
	s.Total += d
}

// snapshot returns every statement's figures, the most time first.
func (c *statementClock) snapshot() []StatementStats {
	c.mu.Lock()
	out := make([]StatementStats, 0, len(c.m))
	for _, s := range c.m {
		out = append(out, *s)
	}
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b StatementStats) int {
		return cmp.Or(cmp.Compare(b.Total, a.Total), strings.Compare(a.SQL, b.SQL))
	})
	return out
}

// WriterStatements reports where SQLite's one writer has spent its time
// since Open, statement by statement, the most time first; nil on
// PostgreSQL, which has pg_stat_statements.
func (d *DB) WriterStatements() []StatementStats {
	if d.batch == nil {
		return nil
	}
	return d.batch.w.clock.snapshot()
}
