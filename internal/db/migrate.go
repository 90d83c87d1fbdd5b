package db

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// migrationFiles holds the schema history. A migration is NNNN_name.sql for
// SQL both engines accept, or NNNN_name.sqlite.sql and
// NNNN_name.postgres.sql where they differ.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one step of the schema history for one engine.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the ordered migrations for dialect d.
func Migrations(d Dialect) ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	byVersion := map[int]Migration{}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".sql")
		dialect := ""
		if base, ext, ok := strings.Cut(name, "."); ok {
			name, dialect = base, ext
		}
		if dialect != "" && dialect != string(d) {
			continue
		}
		num, label, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_label.sql", e.Name())
		}
		if prev, dup := byVersion[v]; dup {
			return nil, fmt.Errorf("migration %d: both %s and %s apply", v, prev.Name, e.Name())
		}
		body, err := fs.ReadFile(migrationFiles, "migrations/"+e.Name())
		if err != nil {
			return nil, err
		}
		byVersion[v] = Migration{Version: v, Name: label, SQL: string(body)}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %d is missing", i+1)
		}
	}
	return out, nil
}

// migrationLockID is the PostgreSQL advisory lock class that keeps two
// instances starting at once from migrating together. The lock's second
// key is the schema's name, hashed: stores in other schemas of the same
// database (tests run hundreds side by side) need not wait for each other.
const migrationLockID = 7259_1001

// migrationLock is the statement that takes (or, with unlock, releases)
// the migration lock of the connection's schema.
const migrationLock = "SELECT pg_advisory_%s($1, hashtext(coalesce(current_schema(), '')))"

// Migrate applies every migration not yet recorded in schema_migrations,
// each in its own transaction, and returns how many it applied.
func (d *DB) Migrate(ctx context.Context) (int, error) {
	all, err := Migrations(d.Dialect)
	if err != nil {
		return 0, err
	}
	conn, err := d.Write.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if d.Dialect == Postgres {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf(migrationLock, "lock"), migrationLockID); err != nil {
			return 0, fmt.Errorf("migrate: lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf(migrationLock, "unlock"), migrationLockID)
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at TEXT NOT NULL)`); err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	applied, err := appliedVersions(ctx, conn)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range all {
		if applied[m.Version] {
			continue
		}
		if err := applyOne(ctx, conn, m); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func appliedVersions(ctx context.Context, conn *sql.Conn) (map[int]bool, error) {
	rows, err := conn.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("migrate: read versions: %w", err)
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		applied[v] = true
	}
	return applied, rows.Err()
}

func applyOne(ctx context.Context, conn *sql.Conn, m Migration) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %d_%s: %w", m.Version, m.Name, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("migration %d_%s: %w", m.Version, m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
		m.Version, m.Name, Now().Format("2006-01-02T15:04:05.000000Z")); err != nil {
		return fmt.Errorf("migration %d_%s: record: %w", m.Version, m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %d_%s: commit: %w", m.Version, m.Name, err)
	}
	return nil
}

// Pending returns how many migrations are not yet applied, for readiness
// checks: a store whose schema is behind its code is not ready.
func (d *DB) Pending(ctx context.Context) (int, error) {
	all, err := Migrations(d.Dialect)
	if err != nil {
		return 0, err
	}
	var have int
	err = d.Read.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&have)
	if err != nil {
		return len(all), fmt.Errorf("read schema version: %w", err)
	}
	return len(all) - have, nil
}
