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
