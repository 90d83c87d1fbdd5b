package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

func TestExportImportCommands(t *testing.T) {
	for _, dialect := range []db.Dialect{db.SQLite, db.Postgres} {
		t.Run(string(dialect), func(t *testing.T) {
			dsn := dbtest.DSN(t, dialect)
			env := map[string]string{"USER": "ops"}
			if code, _, errOut := runCLI(t, env, "seed", "--db", dsn); code != 0 {
				t.Fatalf("seed: %s", errOut)
			}
			code, out, errOut := runCLI(t, env, "export", "products", "--db", dsn)
			if code != 0 || !strings.HasPrefix(out, "slug,name,category,") || !strings.Contains(out, "mistore-band-8,Mistore Band 8") {
				t.Fatalf("export: %d %s %s", code, out[:min(len(out), 300)], errOut)
			}
			code, us, _ := runCLI(t, env, "export", "products", "--market", "us", "--db", dsn)
			header := strings.SplitN(us, "\n", 2)[0]
			// One market's columns, then the product texts, which belong to
			// languages, not markets.
			if code != 0 || !strings.HasSuffix(header, "price_us,listed_us,certs_us,resellers_us,name_zh-Hans,description_zh-Hans,specs_zh-Hans,variant_zh-Hans") || strings.Contains(header, "_cn") {
				t.Errorf("export --market us header: %s", header)
			}
			if code, _, errOut := runCLI(t, env, "export", "products", "--market", "fr", "--db", dsn); code != 1 || !strings.Contains(errOut, "market not found") {
				t.Errorf("unknown market: %d %s", code, errOut)
			}
			// The export imports back, as ops, into the audit log.
			file := filepath.Join(t.TempDir(), "products.csv")
			os.WriteFile(file, []byte(out), 0o600)
			if code, got, errOut := runCLI(t, env, "import", "products", file, "--db", dsn); code != 0 || !strings.Contains(got, "imported") {
				t.Fatalf("import the export: %d %s %s", code, got, errOut)
			}
			d, err := db.Open(t.Context(), dsn, db.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			var n int
			d.Read.QueryRow("SELECT count(*) FROM audit_log WHERE action = 'product.import' AND actor_kind = 'cli' AND actor_name = 'ops'").Scan(&n)
			if n != 1 {
				t.Errorf("%d import audit entries", n)
			}
			if code, _, _ := runCLI(t, env, "export", "orders-and-more", "--db", dsn); code != 1 {
				t.Errorf("unknown export: %d", code)
			}
		})
	}
}

func TestProgressBar(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b, "writing", 200, "products")
	p.show = true
	for i := int64(1); i <= 200; i++ {
		p.set(i)
	}
	p.finish()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	// Not a terminal: a line at the start and one per tenth, none with a
	// carriage return.
	if len(lines) != 11 || strings.Contains(b.String(), "\r") {
		t.Fatalf("%d lines:\n%s", len(lines), b.String())
	}
	if !strings.Contains(lines[10], "100%") || !strings.Contains(lines[10], "200/200 products") || !strings.Contains(lines[1], " 10%") {
		t.Errorf("lines:\n%s", b.String())
	}
	// A small file shows nothing.
	b.Reset()
	q := newProgress(&b, "reading", 1000, bytesUnit)
	q.set(1000)
	q.finish()
	if b.Len() != 0 {
		t.Errorf("small file: %q", b.String())
	}
	// A big one does, in MB.
	big := newProgress(&b, "reading", 3<<20, bytesUnit)
	big.set(3 << 20)
	big.finish()
	if !strings.Contains(b.String(), "3.0/3.0 MB") {
		t.Errorf("big file: %q", b.String())
	}
}

func TestImportProgressOnBigFile(t *testing.T) {
	dir := t.TempDir()
	dsn := filepath.Join(dir, "m.db")
	var csv strings.Builder
	csv.WriteString("slug,name,category,description,sku,price_us\n")
	pad := strings.Repeat("x", 900)
	for i := range 1500 {
		fmt.Fprintf(&csv, "cable-%d,Cable %d,accessories,%s,C-%d,9.99\n", i, i, pad, i)
	}
	file := filepath.Join(dir, "big.csv")
	os.WriteFile(file, []byte(csv.String()), 0o600)
	code, out, errOut := runCLI(t, map[string]string{"USER": "ops"}, "import", "products", file, "--db", dsn)
	if code != 0 || !strings.Contains(out, "imported 1500 products") {
		t.Fatalf("%d %s %s", code, out, errOut)
	}
	if !strings.Contains(errOut, "reading   [") || !strings.Contains(errOut, "100%") || !strings.Contains(errOut, "1500/1500 products") {
		t.Errorf("progress:\n%s", errOut)
	}
}
