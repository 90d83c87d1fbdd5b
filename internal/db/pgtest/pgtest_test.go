package pgtest

import (
	"database/sql"
	"testing"
)

// TestKillAndRestart commits a row, kills the server with SIGKILL and
// starts it again: the row is there, recovered from the write-ahead log.
func TestKillAndRestart(t *testing.T) {
	s := Start(t)
	dsn := s.CreateDatabase(t, "kill")
	c, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Exec("CREATE TABLE t (n int); INSERT INTO t VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	s.Kill(t)
	if err := c.Ping(); err == nil {
		t.Error("the server answers after Kill")
	}
	s.Restart(t)
	var n int
	// The pool's old connections are dead; database/sql retries on a new one.
	for range 3 {
		if err = c.QueryRow("SELECT n FROM t").Scan(&n); err == nil {
			break
		}
	}
	if err != nil || n != 42 {
		t.Fatalf("after restart: n = %d, %v; want the committed 42\n%s", n, err, s.Log())
	}
}
