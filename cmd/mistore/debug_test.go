package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// TestWriterStatementsPage: the debug listener's /debug/db/writer lists
// the statements SQLite's writer ran, with their calls and time, and says
// plainly that a store on PostgreSQL has no such writer.
func TestWriterStatementsPage(t *testing.T) {
	get := func(t *testing.T, d *db.DB) (int, string) {
		t.Helper()
		rec := httptest.NewRecorder()
		writerStatements(d).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/db/writer", nil))
		body, _ := io.ReadAll(rec.Result().Body)
		return rec.Code, string(body)
	}

	t.Run("sqlite", func(t *testing.T) {
		d := dbtest.Open(t, db.SQLite)
		const insert = "INSERT INTO warehouses (code, market, name) VALUES ($1, 'us', 'Test')"
		for _, code := range []string{"T1", "T2"} {
			if _, err := d.Exec(context.Background(), insert, code); err != nil {
				t.Fatal(err)
			}
		}
		code, body := get(t, d)
		if code != http.StatusOK {
			t.Fatalf("status %d: %s", code, body)
		}
		row := regexp.MustCompile(`(?m)^ +\S+ +2 +\S+ +\d+\.\d% +` + regexp.QuoteMeta(insert) + `$`)
		if !row.MatchString(body) {
			t.Errorf("no row with 2 calls of the insert in:\n%s", body)
		}
		if !strings.Contains(body, "COMMIT") || !strings.HasPrefix(body, "SQLite writer: ") {
			t.Errorf("page without its total or the writer's commits:\n%s", body)
		}
	})

	t.Run("postgres", func(t *testing.T) {
		d := dbtest.Open(t, db.Postgres)
		code, body := get(t, d)
		if code != http.StatusNotFound || !strings.Contains(body, "PostgreSQL") {
			t.Errorf("status %d, body %q; want 404 saying the store runs on PostgreSQL", code, body)
		}
	})
}
