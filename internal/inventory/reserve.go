package inventory

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"mistore/internal/db"
)

// ErrOutOfStock is returned when the units asked for are not there.
var ErrOutOfStock = errors.New("out of stock")

// ErrConflict is returned by a compare-and-set stock change whose expected
// quantity is stale: someone else changed the stock first.
var ErrConflict = errors.New("stock changed meanwhile")

// ErrUnknownStock is returned for a SKU and warehouse with no stock row.
var ErrUnknownStock = errors.New("no such stock")

// OutOfStockError says which SKU ran out and how many were left.
type OutOfStockError struct {
	SKU       string
	Requested int
	Available int
}

func (e *OutOfStockError) Error() string {
	return fmt.Sprintf("%s: %d requested, %d available: %v", e.SKU, e.Requested, e.Available, ErrOutOfStock)
}

// Unwrap makes errors.Is(err, ErrOutOfStock) hold.
func (e *OutOfStockError) Unwrap() error { return ErrOutOfStock }

// Line is a quantity of one SKU.
type Line struct {
	SKU      string
	Quantity int
}

// Reserve promises lines to owner (e.g. "order:42") until expires, from
// the market's warehouses, inside the caller's transaction. Each unit is
// taken by one conditional UPDATE that succeeds only while enough stock is
// free, so no interleaving of concurrent reservations can promise a unit
// twice: the database's row lock serialises them and the condition is
// checked against the latest row. On a shortage it returns an
// *OutOfStockError and the caller rolls back.
func Reserve(ctx context.Context, tx db.Querier, market, owner string, lines []Line, expires time.Time) error {
	// A stable order of SKUs, and of warehouses below, means two
	// transactions lock rows in the same order and cannot deadlock.
	sorted := append([]Line(nil), lines...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].SKU < sorted[j].SKU })
	now := db.Now()
	expires = db.Time(expires)
	for _, l := range sorted {
		if l.Quantity <= 0 {
			return fmt.Errorf("reserve %s: quantity %d", l.SKU, l.Quantity)
		}
		if err := reserveLine(ctx, tx, market, owner, l, expires, now); err != nil {
			return err
		}
	}
	return nil
}

func reserveLine(ctx context.Context, tx db.Querier, market, owner string, l Line, expires, now time.Time) error {
	type free struct {
		warehouse string
		n         int
	}
	rows, err := tx.QueryContext(ctx, `SELECT s.warehouse, s.on_hand - s.reserved FROM stock s
		JOIN warehouses w ON w.code = s.warehouse
		WHERE w.market = $1 AND s.sku = $2 AND s.on_hand > s.reserved
		ORDER BY s.warehouse`, market, l.SKU)
	if err != nil {
		return fmt.Errorf("reserve %s: %w", l.SKU, err)
	}
	var stock []free
	total := 0
	for rows.Next() {
		var f free
		if err := rows.Scan(&f.warehouse, &f.n); err != nil {
			rows.Close()
			return fmt.Errorf("reserve %s: %w", l.SKU, err)
		}
		stock = append(stock, f)
		total += f.n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reserve %s: %w", l.SKU, err)
	}
	need := l.Quantity
	for _, f := range stock {
		if need == 0 {
			break
		}
		take := min(need, f.n)
		// The condition, not the read above, decides: it sees the row as
		// it is now, after any concurrent reservation committed.
		res, err := tx.ExecContext(ctx, `UPDATE stock SET reserved = reserved + $3
			WHERE sku = $1 AND warehouse = $2 AND on_hand - reserved >= $3`, l.SKU, f.warehouse, take)
		if err != nil {
			return fmt.Errorf("reserve %s in %s: %w", l.SKU, f.warehouse, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			continue // taken meanwhile by someone else
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO reservations (owner, sku, warehouse, quantity, state, expires_at, created_at, updated_at)
			VALUES ($1, $2, $3, $4, 'live', $5, $6, $6)`, owner, l.SKU, f.warehouse, take, expires, now); err != nil {
			return fmt.Errorf("reserve %s in %s: %w", l.SKU, f.warehouse, err)
		}
		need -= take
	}
	if need > 0 {
		return &OutOfStockError{SKU: l.SKU, Requested: l.Quantity, Available: total}
	}
	return nil
}

// Commit turns owner's live reservations into sales: the units leave
// on_hand and reserved together. It returns how many reservations it
// committed; committing twice commits nothing the second time.
func Commit(ctx context.Context, tx db.Querier, owner string) (int, error) {
	n, st, err := CommitLater(ctx, tx, owner)
	if err != nil {
		return n, err
	}
	return n, st.Apply(ctx, tx)
}

// CommitLater is Commit with the change to the stock rows left to the
// caller, who applies it with Settlement.Apply as the last statement of
// its transaction: a best-selling SKU's stock row is a hot spot every
// order for it takes in turn, and the later a transaction takes it, the
// shorter it holds it (on PostgreSQL, until its commit is flushed).
func CommitLater(ctx context.Context, tx db.Querier, owner string) (int, Settlement, error) {
	return flip(ctx, tx, owner, resLive, resCommitted, "on_hand = on_hand - $3, reserved = reserved - $3", time.Time{})
}

// Settlement is the change to stock rows of settled reservations, not yet
// applied.
type Settlement struct {
	owner, state, set string
	changes           []stockChange
}

type stockChange struct {
	id       int64
	sku, wh  string
	quantity int
}

// Apply makes the change to the stock rows, in a fixed order (by SKU and
// warehouse) so that transactions taking several rows cannot deadlock.
func (s Settlement) Apply(ctx context.Context, tx db.Querier) error {
	for _, c := range s.changes {
		if _, err := tx.ExecContext(ctx, "UPDATE stock SET "+s.set+" WHERE sku = $1 AND warehouse = $2", c.sku, c.wh, c.quantity); err != nil {
			return fmt.Errorf("%s reservation %d of %s: %w", s.state, c.id, s.owner, err)
		}
	}
	return nil
}

// Release gives owner's live reservations back to the pool.
func Release(ctx context.Context, tx db.Querier, owner string) (int, error) {
	return settle(ctx, tx, owner, resLive, resReleased, "reserved = reserved - $3", time.Time{})
}

// Restock puts the units of owner's committed sales back on hand, for a
// paid order that is cancelled before it ships.
func Restock(ctx context.Context, tx db.Querier, owner string) (int, error) {
	return settle(ctx, tx, owner, resCommitted, resReleased, "on_hand = on_hand + $3", time.Time{})
}

// settle moves owner's reservations from state from (only those expired
// before expiredBefore, when it is set) to state, applying set to their
// stock rows with the reservation's quantity as $3. Each reservation is
// flipped by a conditional UPDATE first, so a concurrent settle of the
// same owner cannot apply the stock change twice.
func settle(ctx context.Context, tx db.Querier, owner string, from, state resState, set string, expiredBefore time.Time) (int, error) {
	n, st, err := flip(ctx, tx, owner, from, state, set, expiredBefore)
	if err != nil {
		return n, err
	}
	return n, st.Apply(ctx, tx)
}

// resState is a reservation's state. States are written into statements
// as literals, never bound: a parameter compared with the column of a
// partial index (reservations_live_expiry) makes SQLite plan the statement
// again for every new value, which cost more than running it.
type resState string

const (
	resLive      resState = "live"
	resCommitted resState = "committed"
	resReleased  resState = "released"
)

// flip is settle without touching the stock rows: it flips the
// reservations and returns the stock change they call for. One conditional
// UPDATE flips them all and returns what it flipped, so a concurrent flip
// of the same owner (which waits on the rows, then finds their state
// changed) cannot take the same reservation: its stock change is applied
// once.
func flip(ctx context.Context, tx db.Querier, owner string, from, state resState, set string, expiredBefore time.Time) (int, Settlement, error) {
	query := `UPDATE reservations SET state = '` + string(state) + `', updated_at = $2 WHERE owner = $1 AND state = '` + string(from) + `'`
	args := []any{owner, db.Now()}
	if !expiredBefore.IsZero() {
		query += " AND expires_at < $3"
		args = append(args, db.Time(expiredBefore))
	}
	rows, err := tx.QueryContext(ctx, query+" RETURNING id, sku, warehouse, quantity", args...)
	if err != nil {
		return 0, Settlement{}, fmt.Errorf("%s reservations of %s: %w", state, owner, err)
	}
	var list []stockChange
	for rows.Next() {
		var r stockChange
		if err := rows.Scan(&r.id, &r.sku, &r.wh, &r.quantity); err != nil {
			rows.Close()
			return 0, Settlement{}, fmt.Errorf("%s reservations of %s: %w", state, owner, err)
		}
		list = append(list, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, Settlement{}, fmt.Errorf("%s reservations of %s: %w", state, owner, err)
	}
	// RETURNING has no order; Apply's fixed order is what keeps two
	// transactions taking several stock rows from deadlocking.
	slices.SortFunc(list, func(a, b stockChange) int {
		return cmp.Or(cmp.Compare(a.sku, b.sku), cmp.Compare(a.wh, b.wh), cmp.Compare(a.id, b.id))
	})
	return len(list), Settlement{owner: owner, state: string(state), set: set, changes: list}, nil
}

// ReleaseExpired gives back the live reservations whose time ran out, of
// up to limit owners, each owner in its own short transaction, and returns
// how many it freed. Owners that must react (an unpaid order becomes
// cancelled) do so in their own sweeps; this one only guarantees that
// stock comes back.
func (s *Service) ReleaseExpired(ctx context.Context, now time.Time, limit int) (int, error) {
	rows, err := s.db.Reader().QueryContext(ctx, `SELECT DISTINCT owner FROM reservations
		WHERE state = 'live' AND expires_at < $1 LIMIT $2`, db.Time(now), limit)
	if err != nil {
		return 0, fmt.Errorf("expired reservations: %w", err)
	}
	var owners []string
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			rows.Close()
			return 0, err
		}
		owners = append(owners, o)
	}
	rows.Close()
	freed := 0
	for _, o := range owners {
		err := s.db.Tx(ctx, func(tx db.Querier) error {
			n, err := settle(ctx, tx, o, resLive, resReleased, "reserved = reserved - $3", now)
			freed += n
			return err
		})
		if err != nil {
			return freed, err
		}
	}
	return freed, nil
}
