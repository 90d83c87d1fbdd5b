package db

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// The store's SQLite connections take their pages from the slab: opening
// one configured the library, and pages read since sit in its slots.
func TestPageCacheSlab(t *testing.T) {
	d := openBatchDB(t)
	if sqliteLibrary.err != nil {
		t.Fatalf("page cache slab not in place: %v", sqliteLibrary.err)
	}
	ctx := context.Background()
	if _, err := d.Exec(ctx, "CREATE TABLE pages (k INTEGER PRIMARY KEY, v TEXT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(ctx, "WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 200) INSERT INTO pages (k, v) SELECT k, $1 FROM n", strings.Repeat("x", 1000)); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := d.Read.QueryRowContext(ctx, "SELECT count(*) FROM pages WHERE length(v) = 1000").Scan(&n); err != nil || n != 200 {
		t.Fatalf("count = %d, %v", n, err)
	}
	used, err := pageCacheSlotsInUse()
	if err != nil {
		t.Fatal(err)
	}
	// 200 rows of 1 KB fill about 50 pages, cached by the writer.
	if used < 50 {
		t.Fatalf("%d slab slots in use, want at least the table's 50 pages", used)
	}
}

// pageCacheSlotsInUse is how many slots of the slab hold a page now.
func pageCacheSlotsInUse() (int64, error) {
	tls := libc.NewTLS()
	defer tls.Close()
	out := libc.Xcalloc(tls, 2, 8)
	if out == 0 {
		return 0, fmt.Errorf("out of memory")
	}
	defer libc.Xfree(tls, out)
	if rc := sqlite3.Xsqlite3_status64(tls, sqlite3.SQLITE_STATUS_PAGECACHE_USED, out, out+8, 0); rc != sqlite3.SQLITE_OK {
		return 0, fmt.Errorf("sqlite3_status64: code %d", rc)
	}
	return int64(binary.NativeEndian.Uint64(libc.GoBytes(out, 8))), nil
}
