package web_test

import (
	"os"
	"sort"
	"strings"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// TestAdminDocListsEveryRoute keeps docs/admin.md's table of admin API
// routes, with their permissions, equal to what the server serves.
func TestAdminDocListsEveryRoute(t *testing.T) {
	t.Parallel()
	s := newShop(t, dbtest.Open(t, db.SQLite))
	doc, err := os.ReadFile("../../docs/admin.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "<!-- routes:start -->\n")
	table, _, ok2 := strings.Cut(rest, "<!-- routes:end -->")
	if !ok || !ok2 {
		t.Fatal("docs/admin.md has no routes markers")
	}
	ops := s.srv.AdminOperationsForTest()
	// By path, then method: a resource's operations stay together.
	sort.Slice(ops, func(i, j int) bool {
		mi, pi, _ := strings.Cut(ops[i][0], " ")
		mj, pj, _ := strings.Cut(ops[j][0], " ")
		return pi < pj || pi == pj && mi < mj
	})
	var rows []string
	for _, op := range ops {
		rows = append(rows, "| `"+op[0]+"` | `"+op[1]+"` |")
	}
	want := "| route | permission |\n| --- | --- |\n" + strings.Join(rows, "\n") + "\n"
	if table != want {
		t.Errorf("docs/admin.md's route table differs from the routes served; it should read:\n%s", want)
	}
}
