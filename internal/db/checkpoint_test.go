package db

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestCheckpointerKeepsWALBounded writes far more than the WAL may hold
// while readers keep reading. The background checkpoints must copy frames
// back, and the WAL must stay near its bound rather than hold every write:
// a checkpointer that never ran, or a writer that never checkpointed,
// would leave a WAL as large as everything written.
func TestCheckpointerKeepsWALBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	ctx := context.Background()
	d, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Exec(ctx, "CREATE TABLE blobs (id INTEGER PRIMARY KEY, b BLOB NOT NULL)"); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				var n int
				if err := d.Reader().QueryRowContext(ctx, "SELECT count(*) FROM blobs").Scan(&n); err != nil {
					t.Error(err)
					return
				}
				// Readers that never pause starve every checkpoint, SQLite's
				// own included; a store's readers come and go.
				time.Sleep(time.Millisecond)
			}
		})
	}

	// 2,500 transactions of 32 KB: over 20,000 pages written, five times
	// the WAL's bound.
	const txs, size = 2500, 32 << 10
	blob := make([]byte, size)
	var maxWAL int64
	for i := range txs {
		blob[0] = byte(i)
		if _, err := d.Exec(ctx, "INSERT INTO blobs (b) VALUES ($1)", blob); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > maxWAL {
				maxWAL = fi.Size()
			}
		}
	}
	close(stop)
	readers.Wait()

	written := int64(txs * size)
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > maxWAL {
		maxWAL = fi.Size()
	}
	// Between two background passes only the writer's automatic
	// checkpoint bounds the WAL, at writerAutoCheckpoint pages; readers
	// holding older snapshots let it grow past that for a while, so allow
	// twice as much, still far below what was written.
	if limit := int64(2 * writerAutoCheckpoint * 4096); maxWAL > limit {
		t.Errorf("WAL grew to %d bytes with %d written; want at most %d", maxWAL, written, limit)
	}
	deadline := time.Now().Add(10 * time.Second)
	for d.WriterStats().CheckpointedFrames == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	st := d.WriterStats()
	if st.Checkpoints == 0 || st.CheckpointedFrames == 0 {
		t.Errorf("background checkpoints = %d, frames copied = %d; want both above 0", st.Checkpoints, st.CheckpointedFrames)
	}
	t.Logf("%d bytes written, WAL at most %d bytes, %d background checkpoints copied %d frames",
		written, maxWAL, st.Checkpoints, st.CheckpointedFrames)
}
