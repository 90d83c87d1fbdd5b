package db_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

func TestMigrateIsIdempotent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		n, err := d.Migrate(ctx)
		if err != nil || n != 0 {
			t.Fatalf("second Migrate = %d, %v; want 0, nil", n, err)
		}
		pending, err := d.Pending(ctx)
		if err != nil || pending != 0 {
			t.Fatalf("Pending = %d, %v", pending, err)
		}
		var markets int
		if err := d.Read.QueryRowContext(ctx, "SELECT count(*) FROM markets").Scan(&markets); err != nil || markets < 3 {
			t.Fatalf("markets = %d, %v", markets, err)
		}
	})
}

// TestConcurrentMigrate starts four stores on one empty PostgreSQL schema
// at once, as a rolling deploy does: the migration lock lets one apply
// each migration and the others find it applied.
func TestConcurrentMigrate(t *testing.T) {
	dsn := dbtest.DSN(t, db.Postgres)
	ctx := context.Background()
	all, err := db.Migrations(db.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	const stores = 4
	applied := make(chan int, stores)
	errs := make(chan error, stores)
	for range stores {
		go func() {
			d, err := db.Open(ctx, dsn, db.Options{MaxReaders: 1})
			if err != nil {
				errs <- err
				return
			}
			defer d.Close()
			n, err := d.Migrate(ctx)
			applied <- n
			errs <- err
		}()
	}
	total := 0
	for range stores {
		if err := <-errs; err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		total += <-applied
	}
	if total != len(all) {
		t.Fatalf("%d stores applied %d migrations between them; want each of the %d once", stores, total, len(all))
	}
}

func TestTxRollsBackOnError(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := d.Tx(ctx, func(tx db.Querier) error {
			if _, err := tx.ExecContext(ctx, "UPDATE catalog_revision SET revision = revision + 100"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Tx error = %v", err)
		}
		var rev int
		if err := d.Read.QueryRowContext(ctx, "SELECT revision FROM catalog_revision").Scan(&rev); err != nil || rev != 1 {
			t.Fatalf("revision = %d, %v; the failed transaction leaked", rev, err)
		}
	})
}

func TestOpenRejectsCorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("this is not a database ", 300)), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(context.Background(), path, db.Options{})
	if err == nil {
		d.Close()
		t.Fatal("Open of a corrupt file succeeded")
	}
	if !strings.Contains(err.Error(), "not a database") {
		t.Errorf("error %q does not say what is wrong", err)
	}
}

func TestOpenRejectsBadPostgresURL(t *testing.T) {
	_, err := db.Open(context.Background(), "postgres://nobody:secret@127.0.0.1:1/none?connect_timeout=2", db.Options{})
	if err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error %q leaks the password", err)
	}
}
