package db_test

import (
	"context"
	"errors"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/db/dbtest/faultproxy"
)

// TestUnavailableMidTransaction: the connection breaking inside a
// transaction is reported as db.IsUnavailable and nothing of the
// transaction stays; a wrong statement is not "unavailable".
func TestUnavailableMidTransaction(t *testing.T) {
	direct := dbtest.DSN(t, db.Postgres)
	ctx := context.Background()
	check, err := db.Open(ctx, direct, db.Options{MaxReaders: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	if _, err := check.Exec(ctx, "CREATE TABLE halves (name text NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	via, proxy := faultproxy.DSN(t, direct)
	d, err := db.Open(ctx, via, db.Options{MaxReaders: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	_, err = d.Reader().ExecContext(ctx, "SELECT nonsense FROM nowhere")
	if err == nil || db.IsUnavailable(err) {
		t.Errorf("a wrong statement: %v, unavailable %v", err, db.IsUnavailable(err))
	}
	err = d.Tx(ctx, func(tx db.Querier) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO halves (name) VALUES ('half')"); err != nil {
			return err
		}
		proxy.Cut()
		_, err := tx.ExecContext(ctx, "INSERT INTO halves (name) VALUES ('other-half')")
		return err
	})
	if !db.IsUnavailable(err) {
		t.Errorf("connection cut mid-transaction: %v, not unavailable", err)
	}
	if _, err := d.Reader().ExecContext(ctx, "SELECT 1"); !db.IsUnavailable(err) {
		t.Errorf("a query while the database is away: %v, not unavailable", err)
	}
	var n int
	if err := check.Reader().QueryRowContext(ctx, "SELECT count(*) FROM halves").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d rows of the broken transaction committed", n)
	}
	if !db.IsUnavailable(db.ErrUnavailable) || db.IsUnavailable(errors.New("x")) || db.IsUnavailable(nil) {
		t.Error("IsUnavailable of the sentinel, a plain error or nil is wrong")
	}
}
