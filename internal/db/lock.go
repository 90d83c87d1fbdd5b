package db

import (
	"context"
	"fmt"
)

// Exclusively runs fn while holding the store-wide lock id. On PostgreSQL
// that is a transaction-level advisory lock in a transaction of its own,
// so instances starting at once take turns (fn should check again what it
// found before waiting), and the lock goes with the transaction whatever
// happens to it or its connection; on SQLite, where one process writes the
// file, fn just runs.
func (d *DB) Exclusively(ctx context.Context, id int64, fn func() error) error {
	if d.Dialect != Postgres {
		return fn()
	}
	tx, err := d.Read.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("lock %d: %w", id, err)
	}
	// Nothing is written through tx: rolling it back releases the lock.
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", id); err != nil {
		return fmt.Errorf("lock %d: %w", id, err)
	}
	return fn()
}
