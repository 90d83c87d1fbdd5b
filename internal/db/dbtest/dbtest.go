// Package dbtest gives tests fresh, migrated databases on every engine the
// store supports: SQLite always, and PostgreSQL when MISTORE_TEST_POSTGRES
// holds a URL. Each database is private to its test, so tests run in
// parallel.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"mistore/internal/db"
)

// PostgresURL returns the PostgreSQL server tests may use, or skips t
// (fails it under MISTORE_REQUIRE_ALL=1) when there is none.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("MISTORE_TEST_POSTGRES")
	if u == "" {
		if os.Getenv("MISTORE_REQUIRE_ALL") == "1" {
			t.Fatal("MISTORE_TEST_POSTGRES is not set but MISTORE_REQUIRE_ALL=1 requires the PostgreSQL tests")
		}
		t.Skip("MISTORE_TEST_POSTGRES is not set: PostgreSQL tests skipped")
	}
	return u
}

// Each runs fn as a subtest on a fresh database of each engine.
func Each(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	for _, dialect := range []db.Dialect{db.SQLite, db.Postgres} {
		t.Run(string(dialect), func(t *testing.T) {
			fn(t, Open(t, dialect))
		})
	}
}

// Open returns a fresh migrated database of the given engine, removed when
// the test ends.
func Open(t testing.TB, dialect db.Dialect) *db.DB {
	t.Helper()
	dsn := DSN(t, dialect)
	ctx := context.Background()
	d, err := db.Open(ctx, dsn, db.Options{MaxReaders: 4})
	if err != nil {
		t.Fatalf("open %s: %v", dialect, err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatalf("migrate %s: %v", dialect, err)
	}
	return d
}

// DSN returns the address of a new empty database of the given engine: a
// file in the test's temporary directory, or a new PostgreSQL schema that
// is dropped when the test ends.
func DSN(t testing.TB, dialect db.Dialect) string {
	t.Helper()
	if dialect == db.SQLite {
		return filepath.Join(t.TempDir(), "mistore.db")
	}
	base := PostgresURL(t)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "test_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		t.Fatalf("postgres %s: create schema: %v", base, err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		// Packages' tests drop their schemas side by side, and PostgreSQL
		// now and then picks one of two such drops as a deadlock victim
		// (seen once in CI): that drop is tried again.
		var err error
		for try := 1; try <= 5; try++ {
			if _, err = admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err == nil {
				return
			}
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != "40P01" { // deadlock_detected
				break
			}
			time.Sleep(time.Duration(try) * 50 * time.Millisecond)
		}
		t.Errorf("drop schema %s: %v", schema, err)
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("MISTORE_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
