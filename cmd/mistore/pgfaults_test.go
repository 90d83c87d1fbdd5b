package main

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"

	"mistore/internal/db/dbtest"
)

// TestPostgresFaults: a PostgreSQL URL that names no database, a port
// nobody listens on, or a role without the rights to connect or to
// create the schema, makes serve and migrate say so in one line and exit
// 1, without the password.
func TestPostgresFaults(t *testing.T) {
	base := dbtest.PostgresURL(t)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var b [4]byte
	rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	noConnect, noCreate := "noconnect_"+suffix, "nocreate_"+suffix
	u, _ := url.Parse(base)
	dbName := strings.TrimPrefix(u.Path, "/")
	for _, stmt := range []string{
		// NOLOGIN rather than revoking CONNECT: the shared test database
		// must stay open to the other tests' roles.
		"CREATE ROLE " + noConnect + " NOLOGIN PASSWORD 'hunter2'",
		"CREATE ROLE " + noCreate + " LOGIN PASSWORD 'hunter2'",
		"GRANT CONNECT ON DATABASE " + dbName + " TO " + noCreate,
		"CREATE SCHEMA s_" + noCreate,
		"GRANT USAGE ON SCHEMA s_" + noCreate + " TO " + noCreate,
	} {
		if _, err := admin.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	t.Cleanup(func() {
		admin.Exec("DROP SCHEMA s_" + noCreate + " CASCADE")
		admin.Exec("DROP ROLE " + noConnect)
		admin.Exec("REVOKE CONNECT ON DATABASE " + dbName + " FROM " + noCreate)
		admin.Exec("DROP ROLE " + noCreate)
	})
	as := func(role, path, query string) string {
		v := *u
		v.User = url.UserPassword(role, "hunter2")
		if path != "" {
			v.Path = path
		}
		q := v.Query()
		for k, val := range map[string]string{"search_path": query} {
			if val != "" {
				q.Set(k, val)
			}
		}
		v.RawQuery = q.Encode()
		return v.String()
	}
	tests := []struct{ name, dsn, want string }{
		{"no such database", as("postgres", "/nodb_"+suffix, ""), "does not exist"},
		{"unreachable port", "postgres://postgres:hunter2@127.0.0.1:1/x?connect_timeout=2", "connection refused"},
		{"no right to connect", as(noConnect, "", ""), "not permitted to log in"},
		{"no create right", as(noCreate, "", "s_"+noCreate), "permission denied"},
	}
	for _, tt := range tests {
		for _, cmd := range []string{"migrate", "serve"} {
			t.Run(tt.name+"/"+cmd, func(t *testing.T) {
				args := []string{cmd, "--db", tt.dsn}
				if cmd == "serve" {
					args = append(args, "--addr", "127.0.0.1:0")
				}
				code, _, errOut := runCLI(t, nil, args...)
				t.Logf("stderr: %s", errOut)
				if code != 1 {
					t.Errorf("exit %d, want 1", code)
				}
				if !strings.Contains(errOut, tt.want) {
					t.Errorf("stderr lacks %q", tt.want)
				}
				if strings.Contains(errOut, "hunter2") || strings.Contains(errOut, "goroutine ") {
					t.Errorf("stderr has a password or a stack trace")
				}
				if n := strings.Count(strings.TrimSpace(errOut), "\n"); n > 0 {
					t.Errorf("stderr has %d lines, want one", n+1)
				}
			})
		}
	}
}
