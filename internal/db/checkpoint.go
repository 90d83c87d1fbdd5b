package db

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// restartFrames is the WAL size, in frames (pages), past which the
// writer is asked to finish a checkpoint between two batches, so that the
// WAL starts again from its beginning. It is SQLite's own default for
// automatic checkpoints, so the WAL stays as small as it always was.
const restartFrames = 1000

// writerAutoCheckpoint is the WAL size, in frames, past which the writer
// checkpoints after every commit by SQLite's own automatic checkpoint.
// Only a burst of writes faster than the background passes can copy back
// gets there (nobody looks at the WAL between two passes): it bounds the
// WAL, for the price of the pauses this design otherwise avoids.
const writerAutoCheckpoint = 4 * restartFrames

// checkpointInterval is the least time between two background
// checkpoints. Every commit rewrites the same hot pages (the right edge of
// each index), so a longer interval copies each of them back once for
// many commits, at the price of a larger WAL for readers to search.
const checkpointInterval = 200 * time.Millisecond

// checkpointer copies SQLite's write-ahead log back into the database
// file from a connection of its own, off the writer's path.
//
// By SQLite's default the connection that commits checkpoints whenever
// the WAL passes 1,000 pages: the one writer stops several times a second
// to sync the WAL, copy the pages back and sync the database file, and
// every transaction queued behind it waits. Under the checkout load test,
// taking those pauses off the writer gave 7-20% more checkouts a second
// in alternating runs. Here a passive checkpoint, which
// takes no lock the writer needs, copies the pages back while the writer
// goes on, and the writer's automatic checkpoint waits for a WAL four
// times as large (writerAutoCheckpoint).
//
// A checkpoint made beside a busy writer never catches up with it, and
// the WAL can only start again from its beginning when it was copied back
// whole before a write begins. So once the WAL passes restartFrames the
// writer finishes the job itself between two batches (finish): by then
// only the frames written since the last background pass are left to
// copy.
type checkpointer struct {
	conn *sql.DB
	// kick is signalled after each commit; one pending signal is enough.
	kick chan struct{}
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
	// mu is held by whoever checkpoints: SQLite lets one checkpoint run
	// at a time and fails the others, so the writer only tries when the
	// background pass is not running, and never waits for it.
	mu sync.Mutex
	// full is set when the WAL has grown past restartFrames and the writer
	// should finish a checkpoint.
	full atomic.Bool

	// runs counts background checkpoints, and frames adds up the WAL
	// frames each found copied back when it ended, for WriterStats.
	runs, frames atomic.Uint64
}

func newCheckpointer(conn *sql.DB) *checkpointer {
	c := &checkpointer{conn: conn, kick: make(chan struct{}, 1), stop: make(chan struct{})}
	c.wg.Add(1)
	go c.loop()
	return c
}

// committed tells the checkpointer that the WAL grew. It never blocks.
func (c *checkpointer) committed() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) loop() {
	defer c.wg.Done()
	pause := time.NewTimer(0)
	defer pause.Stop()
	for {
		select {
		case <-c.kick:
		case <-c.stop:
			return
		}
		c.mu.Lock()
		logged, copied, err := walCheckpoint(context.Background(), c.conn)
		c.mu.Unlock()
		if err != nil {
			slog.Warn("background checkpoint", "err", err)
		} else {
			c.runs.Add(1)
			c.frames.Add(uint64(max(copied, 0)))
			if logged >= restartFrames {
				c.full.Store(true)
			}
		}
		pause.Reset(checkpointInterval)
		select {
		case <-pause.C:
		case <-c.stop:
			return
		}
	}
}

// finish runs on the writer's connection between two batches, while the
// WAL is past restartFrames and no background pass is running. If it
// copies the WAL back whole (readers with older snapshots can prevent
// that), the next write starts the WAL again from its beginning.
func (c *checkpointer) finish(ctx context.Context, writer rowQuerier) {
	if !c.full.Load() || !c.mu.TryLock() {
		return
	}
	defer c.mu.Unlock()
	logged, copied, err := walCheckpoint(ctx, writer)
	if err != nil {
		slog.Warn("writer checkpoint", "err", err)
		return
	}
	// The WAL starts again only at the first write after it was copied
	// back whole, and only if no reader is still using it then; until a
	// checkpoint finds it small again, the writer keeps trying after each
	// batch, as SQLite's automatic checkpoint does after each commit.
	if logged < restartFrames && copied >= logged {
		c.full.Store(false)
	}
}

// walCheckpoint copies back what it can of the WAL without waiting for
// readers or the writer (SQLite's PASSIVE mode), and returns the frames
// in the WAL and those copied back.
func walCheckpoint(ctx context.Context, conn rowQuerier) (logged, copied int64, err error) {
	var busy int64
	if err := conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logged, &copied); err != nil {
		return 0, 0, fmt.Errorf("wal_checkpoint: %w", err)
	}
	return logged, copied, nil
}

// rowQuerier is the one method walCheckpoint needs, of a pool or of a
// connection.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// close stops the checkpointer, once a checkpoint under way has
// finished, and closes its connection.
func (c *checkpointer) close() {
	c.once.Do(func() { close(c.stop) })
	c.wg.Wait()
	c.conn.Close()
}
