package changefeed_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"mistore/internal/changefeed"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/db/dbtest/faultproxy"
)

// heard is a change a handler received.
type heard struct {
	topic changefeed.Topic
	key   string
}

// listen runs a Listener on dsn for the test, reporting every change of
// the given topics on the returned channel.
func listen(t *testing.T, dsn string, topics ...changefeed.Topic) (*changefeed.Listener, <-chan heard) {
	t.Helper()
	l := changefeed.NewListener(dsn, nil)
	l.MinBackoff, l.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
	ch := make(chan heard, 100)
	for _, topic := range topics {
		l.On(topic, func(_ context.Context, key string) { ch <- heard{topic, key} })
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return l, ch
}

// next returns the next change heard that is not a "everything" resync,
// failing the test after a generous wait.
func next(t *testing.T, ch <-chan heard) heard {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case h := <-ch:
			if h.key != "" {
				return h
			}
		case <-timeout:
			t.Fatal("no change heard within 10s")
		}
	}
}

func publish(t *testing.T, d *db.DB, topic changefeed.Topic, key string, commit bool) {
	t.Helper()
	ctx := context.Background()
	errRollback := errors.New("roll back")
	err := d.Tx(ctx, func(tx db.Querier) error {
		if err := changefeed.Publish(ctx, d, tx, topic, key); err != nil {
			return err
		}
		if !commit {
			return errRollback
		}
		return nil
	})
	if commit && err != nil || !commit && !errors.Is(err, errRollback) {
		t.Fatalf("publish %s:%s: %v", topic, key, err)
	}
}

// TestPublishOnCommit: a change is heard once its transaction commits,
// and a rolled-back one never; a listener in another schema hears nothing.
func TestPublishOnCommit(t *testing.T) {
	dsn := dbtest.DSN(t, db.Postgres)
	d, err := db.Open(context.Background(), dsn, db.Options{MaxReaders: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	l, ch := listen(t, dsn, changefeed.Catalog, changefeed.FlashSale)
	other, otherCh := listen(t, dbtest.DSN(t, db.Postgres), changefeed.Catalog, changefeed.FlashSale)
	<-l.Ready()
	<-other.Ready()

	publish(t, d, changefeed.FlashSale, "7", false)
	publish(t, d, changefeed.FlashSale, "8", true)
	publish(t, d, changefeed.Catalog, "x", true)
	if h := next(t, ch); h != (heard{changefeed.FlashSale, "8"}) {
		t.Errorf("first change heard %+v, want flashsale 8 (7 rolled back)", h)
	}
	if h := next(t, ch); h != (heard{changefeed.Catalog, "x"}) {
		t.Errorf("second change heard %+v, want catalog x", h)
	}
	select {
	case h := <-otherCh:
		if h.key != "" {
			t.Errorf("a listener on another schema heard %+v", h)
		}
	default:
	}
}

// TestReconnect: when the connection drops the Listener connects again
// by itself, tells every handler that anything may have changed, and
// hears changes again.
func TestReconnect(t *testing.T) {
	direct := dbtest.DSN(t, db.Postgres)
	d, err := db.Open(context.Background(), direct, db.Options{MaxReaders: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	viaProxy, proxy := faultproxy.DSN(t, direct)
	l, ch := listen(t, viaProxy, changefeed.Catalog, changefeed.Stock)
	<-l.Ready()
	// The first connection already resynced both topics.
	drainResync(t, ch, 2)

	proxy.Cut()
	waitFor(t, func() bool { return !l.Connected() })
	publish(t, d, changefeed.Stock, "missed", true)
	proxy.Restore()
	drainResync(t, ch, 2)
	if !l.Connected() {
		t.Error("not connected after the resync")
	}
	publish(t, d, changefeed.Stock, "SKU-1", true)
	if h := next(t, ch); h != (heard{changefeed.Stock, "SKU-1"}) {
		t.Errorf("after reconnecting heard %+v, want stock SKU-1", h)
	}
}

// drainResync waits for n "everything changed" calls.
func drainResync(t *testing.T, ch <-chan heard, n int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for n > 0 {
		select {
		case h := <-ch:
			if h.key == "" {
				n--
			}
		case <-timeout:
			t.Fatalf("%d resyncs missing after 10s", n)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSQLiteDoesNothing: on SQLite there is one process and nothing to
// tell; Publish must not touch the database.
func TestSQLiteDoesNothing(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	publish(t, d, changefeed.Catalog, "", true)
}
