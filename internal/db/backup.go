package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// BackupTo writes a consistent copy of a SQLite store to path, a file that
// must not exist yet, while the store keeps serving. It runs VACUUM INTO,
// which only reads the store: a read transaction in WAL mode, so the copy
// is the database as of one moment and the writer goes on committing
// meanwhile (only checkpoints wait for it to finish). The copy is compact
// and has no WAL of its own.
func (d *DB) BackupTo(ctx context.Context, path string) error {
	if d.Dialect != SQLite {
		return errors.New("backup: only a SQLite store is backed up this way; use pg_dump for PostgreSQL")
	}
	// A connection of its own rather than one of the read pool: SQLite
	// counts writing the new file against query_only, the read pool's
	// guard, and lifting that guard on a pooled connection could leave it
	// lifted.
	dsn := "file:" + (&url.URL{Path: d.Target}).EscapedPath() + "?_pragma=busy_timeout(10000)"
	conn, err := openSQLitePool(dsn)
	if err != nil {
		return fmt.Errorf("backup %s: %w", d.Target, err)
	}
	defer conn.Close()
	conn.SetMaxOpenConns(1)
	if _, err := conn.ExecContext(ctx, "VACUUM INTO $1", path); err != nil {
		return fmt.Errorf("backup %s to %s: %w", d.Target, path, err)
	}
	return nil
}

// SQLiteInfo describes a SQLite store file checked by InspectSQLite.
type SQLiteInfo struct {
	// Version is the last migration applied.
	Version int
	// Orders, Products and Customers are row counts, for a person to
	// recognise the store.
	Orders, Products, Customers int64
}

// InspectSQLite checks that path is a sound mistore database, without
// changing it: SQLite's integrity_check passes and it has the migrations
// table. A store written by a newer mistore (a migration this one does
// not know) is an error too.
func InspectSQLite(ctx context.Context, path string) (SQLiteInfo, error) {
	var info SQLiteInfo
	fi, err := os.Stat(path)
	if err != nil {
		return info, err
	}
	if fi.IsDir() {
		return info, fmt.Errorf("%s is a directory", path)
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=ro&_pragma=query_only(1)&_pragma=busy_timeout(10000)"
	conn, err := openSQLitePool(dsn)
	if err != nil {
		return info, fmt.Errorf("open %s: %w", path, err)
	}
	defer conn.Close()
	conn.SetMaxOpenConns(1)
	var check string
	rows, err := conn.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return info, fmt.Errorf("%s is not a SQLite database: %w", path, err)
	}
	var problems []string
	for rows.Next() {
		if err := rows.Scan(&check); err != nil {
			rows.Close()
			return info, fmt.Errorf("%s: integrity check: %w", path, err)
		}
		if check != "ok" {
			problems = append(problems, check)
		}
	}
	if err := rows.Close(); err != nil {
		return info, fmt.Errorf("%s: integrity check: %w", path, err)
	}
	if err := rows.Err(); err != nil {
		return info, fmt.Errorf("%s is not a sound SQLite database: %w", path, err)
	}
	if len(problems) > 0 {
		if len(problems) > 3 {
			problems = append(problems[:3], "…")
		}
		return info, fmt.Errorf("%s fails SQLite's integrity check: %s", path, strings.Join(problems, "; "))
	}
	var v sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v); err != nil {
		return info, fmt.Errorf("%s is not a mistore database (no migrations table): %w", path, err)
	}
	info.Version = int(v.Int64)
	all, err := Migrations(SQLite)
	if err != nil {
		return info, err
	}
	if info.Version > len(all) {
		return info, fmt.Errorf("%s is at migration %d, newer than this mistore (%d): use the mistore that wrote it", path, info.Version, len(all))
	}
	for table, n := range map[string]*int64{"orders": &info.Orders, "products": &info.Products, "customers": &info.Customers} {
		// A table a very old store does not have yet counts as empty.
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(n); err != nil && !strings.Contains(err.Error(), "no such table") {
			return info, fmt.Errorf("%s: count %s: %w", path, table, err)
		}
	}
	return info, nil
}

// ErrInUse says a SQLite store file is open in some process (a running
// mistore, most likely), so it must not be replaced.
var ErrInUse = errors.New("the database is open in another process")

// QuiesceSQLite makes sure no connection anywhere has the SQLite store at
// path open, and folds its WAL into the main file so that nothing of the
// store lives in the -wal file any more. It takes SQLite's exclusive lock
// without waiting (locking_mode=EXCLUSIVE, busy_timeout 0): every open
// connection in WAL mode, in this process or another, holds a shared lock
// that makes this fail at once with ErrInUse. A server that starts after
// QuiesceSQLite returns is not stopped by it.
func QuiesceSQLite(ctx context.Context, path string) error {
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=busy_timeout(0)&_pragma=locking_mode(EXCLUSIVE)"
	conn, err := openSQLitePool(dsn)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer conn.Close()
	conn.SetMaxOpenConns(1)
	busy := func(err error) bool {
		return err != nil && (strings.Contains(err.Error(), "SQLITE_BUSY") || strings.Contains(err.Error(), "database is locked"))
	}
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); busy(err) {
		return fmt.Errorf("%s: %w", path, ErrInUse)
	} else if err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); busy(err) {
		return fmt.Errorf("%s: %w", path, ErrInUse)
	} else if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return nil
}
