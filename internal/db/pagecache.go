package db

import (
	"database/sql"
	"encoding/binary"
	"fmt"
	"sync"

	"modernc.org/libc"
	"modernc.org/libc/sys/types"
	sqlite3 "modernc.org/sqlite/lib"
)

// pageCacheSlots is how many database pages the page cache slab holds,
// for all SQLite connections of the process together: the writer's cache
// (cache_size, 4 MB) and what the readers hold between resets. At most
// 1,744 were in use under the checkout load test at 32 workers. When the
// slab runs out, SQLite takes further pages from the C allocator, as it
// does without a slab. The slab is about 9 MB of address space; a freshly
// started store is 2.5 MB larger in memory than without it, and slots
// become resident as they are first used.
const pageCacheSlots = 2048

// pageCachePageSize is the largest database page the slab's slots hold:
// SQLite's default page size, which the store never changes. Pages of a
// larger size would simply come from the C allocator.
const pageCachePageSize = 4096

// sqliteLibrary is SQLite's process-wide configuration. It belongs to the
// C library, not to a *DB, and can only be set before the library's first
// connection opens, which is why it is done once, here.
var sqliteLibrary struct {
	once sync.Once
	err  error
}

// openSQLitePool opens a pool on dsn with the driver registered as "sqlite",
// after configuring the library once.
func openSQLitePool(dsn string) (*sql.DB, error) {
	sqliteLibrary.once.Do(func() { sqliteLibrary.err = configurePageCache() })
	return sql.Open("sqlite", dsn)
}

// configurePageCache gives SQLite's page cache a slab of pageCacheSlots
// slots to take pages from (SQLITE_CONFIG_PAGECACHE), instead of the C
// allocator.
//
// Why: modernc.org/sqlite builds SQLite with
// SQLITE_ENABLE_MEMORY_MANAGEMENT, so every connection's page cache is
// one group behind one mutex. A reader that starts a transaction after a
// commit empties its cache (SQLite's rule in WAL mode) and frees each page
// while holding that mutex, and each free also took the C allocator's
// lock. The writer waited for that mutex on most of its page fetches.
// Freeing a slot is a push onto a list. Under the checkout load test at
// 32 workers, the writer's time spent waiting to run after such waits
// fell from 343 ms to 219 ms in a 3 s trace, and checkouts/s rose in
// seven of ten alternating pairs (docs/performance.md, eighth round).
//
// A process that opened a SQLite connection some other way before (the
// library is then initialised) keeps SQLite's default; the error says so
// and nothing else changes.
func configurePageCache() error {
	tls := libc.NewTLS()
	defer tls.Close()
	va := libc.Xmalloc(tls, 32)
	if va == 0 {
		return fmt.Errorf("sqlite page cache: out of memory")
	}
	defer libc.Xfree(tls, va)
	// C memory for what SQLite writes back: it must not move, as a Go
	// variable might.
	out := libc.Xcalloc(tls, 2, 8)
	if out == 0 {
		return fmt.Errorf("sqlite page cache: out of memory")
	}
	defer libc.Xfree(tls, out)
	// Each slot holds a page and SQLite's header for it, whose size only
	// the library knows.
	if rc := sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_PCACHE_HDRSZ, libc.VaList(va, out)); rc != sqlite3.SQLITE_OK {
		return fmt.Errorf("sqlite page cache: header size: code %d", rc)
	}
	hdr := int32(binary.NativeEndian.Uint32(libc.GoBytes(out, 4)))
	slot := (pageCachePageSize + int(hdr) + 7) &^ 7
	// The slab lives as long as the process: SQLite keeps using it.
	mem := libc.Xmalloc(tls, types.Size_t(slot*pageCacheSlots))
	if mem == 0 {
		return fmt.Errorf("sqlite page cache: out of memory for %d slots", pageCacheSlots)
	}
	if rc := sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_PAGECACHE, libc.VaList(va, mem, int32(slot), int32(pageCacheSlots))); rc != sqlite3.SQLITE_OK {
		libc.Xfree(tls, mem)
		return fmt.Errorf("sqlite page cache: code %d (SQLite was already in use in this process)", rc)
	}
	return nil
}
