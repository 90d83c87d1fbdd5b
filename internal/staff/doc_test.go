package staff_test

import (
	"os"
	"strings"
	"testing"

	"mistore/internal/staff"
)

// TestAdminDocMatrix keeps the permission table in docs/admin.md equal to
// the one the code enforces.
func TestAdminDocMatrix(t *testing.T) {
	doc, err := os.ReadFile("../../docs/admin.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "<!-- matrix:start -->\n")
	table, _, ok2 := strings.Cut(rest, "<!-- matrix:end -->")
	if !ok || !ok2 {
		t.Fatal("docs/admin.md has no matrix markers")
	}
	var b strings.Builder
	b.WriteString("| permission | what it allows | owner | manager | support | viewer |\n")
	b.WriteString("| --- | --- | :-: | :-: | :-: | :-: |\n")
	for _, row := range staff.Matrix() {
		b.WriteString("| `" + string(row.Permission) + "` | " + row.Description + " |")
		for _, role := range staff.Roles() {
			mark := " – |"
			for _, held := range row.Roles {
				if held == role {
					mark = " ✓ |"
				}
			}
			b.WriteString(mark)
		}
		b.WriteString("\n")
	}
	if table != b.String() {
		t.Errorf("docs/admin.md's permission table differs from staff.Matrix(); it should read:\n%s", b.String())
	}
}
