package db_test

import (
	"context"
	"errors"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// TestFirstWrite checks that a context's first write carries its
// FirstWrite on every write path of both engines: it commits with the
// first write that commits, rolls back with one that fails, and fails
// the write it is in when it fails itself.
func TestFirstWrite(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if _, err := d.Exec(ctx, "CREATE TABLE fw (k TEXT PRIMARY KEY, n INTEGER NOT NULL CHECK (n >= 0))"); err != nil {
			t.Fatal(err)
		}
		count := func(k string) int {
			t.Helper()
			var n int
			if err := d.Read.QueryRowContext(ctx, "SELECT count(*) FROM fw WHERE k = $1", k).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		// claim inserts its key, failing when it is there already, as an
		// Idempotency-Key's claim does.
		claim := func(key string) func(context.Context, db.Querier) error {
			return func(ctx context.Context, tx db.Querier) error {
				_, err := tx.ExecContext(ctx, "INSERT INTO fw (k, n) VALUES ($1, 0)", key)
				return err
			}
		}
		errFail := errors.New("the write failed")
		writes := map[string]func(ctx context.Context, k string, n int) error{
			"Tx": func(ctx context.Context, k string, n int) error {
				return d.Tx(ctx, func(tx db.Querier) error {
					_, err := tx.ExecContext(ctx, "INSERT INTO fw (k, n) VALUES ($1, $2)", k, n)
					return err
				})
			},
			"TxDurable": func(ctx context.Context, k string, n int) error {
				return d.TxDurable(ctx, func(tx db.Querier) error {
					_, err := tx.ExecContext(ctx, "INSERT INTO fw (k, n) VALUES ($1, $2)", k, n)
					return err
				})
			},
			"TxRelaxed": func(ctx context.Context, k string, n int) error {
				return d.TxRelaxed(ctx, func(tx db.Querier) error {
					_, err := tx.ExecContext(ctx, "INSERT INTO fw (k, n) VALUES ($1, $2)", k, n)
					return err
				})
			},
			"Exec": func(ctx context.Context, k string, n int) error {
				_, err := d.Exec(ctx, "INSERT INTO fw (k, n) VALUES ($1, $2)", k, n)
				return err
			},
			"ExecRelaxed": func(ctx context.Context, k string, n int) error {
				_, err := d.ExecRelaxed(ctx, "INSERT INTO fw (k, n) VALUES ($1, $2)", k, n)
				return err
			},
		}
		for name, write := range writes {
			key := "claim-" + name
			ctx, fw := db.WithFirstWrite(ctx, claim(key))
			// A write that fails (n below 0) takes the claim with it.
			if err := write(ctx, name+"-bad", -1); err == nil {
				t.Fatalf("%s: a write of -1 succeeded", name)
			}
			if fw.Committed() || count(key) != 0 {
				t.Fatalf("%s: the claim committed with a failed write (committed %v, rows %d)", name, fw.Committed(), count(key))
			}
			// The next write carries it and commits it.
			if err := write(ctx, name+"-1", 1); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !fw.Committed() || count(key) != 1 || count(name+"-1") != 1 {
				t.Fatalf("%s: after the first write: committed %v, claim rows %d", name, fw.Committed(), count(key))
			}
			// Later writes run alone: a second claim would fail them.
			if err := write(ctx, name+"-2", 1); err != nil {
				t.Fatalf("%s: second write: %v", name, err)
			}
		}

		// A claim that fails fails its write, which leaves nothing.
		ctx2, fw := db.WithFirstWrite(ctx, func(context.Context, db.Querier) error { return errFail })
		err := d.Tx(ctx2, func(tx db.Querier) error {
			_, err := tx.ExecContext(ctx2, "INSERT INTO fw (k, n) VALUES ('after-failed-claim', 1)")
			return err
		})
		if !errors.Is(err, errFail) || fw.Committed() || count("after-failed-claim") != 0 {
			t.Fatalf("failed claim: err %v, committed %v, rows %d", err, fw.Committed(), count("after-failed-claim"))
		}
	})
}
