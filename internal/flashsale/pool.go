package flashsale

// The pool: the reservation that holds a sale's unclaimed and claimed but
// not yet ordered units (owner PoolOwner(id)), in one warehouse. Every
// change here is a conditional UPDATE, and no change moves units between
// reservations and the stock row except setting the pool aside: moving
// units from the pool to an order, or back, leaves stock.reserved as it is,
// so stock.reserved stays the sum of the live reservations' quantities.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"mistore/internal/db"
	"mistore/internal/inventory"
)

// poolExpiry is when a sale's pool reservation runs out: after the last
// claim that can be made before closes has run out, and the jobs that
// settle it have had time to run.
func poolExpiry(closes time.Time) time.Time { return db.Time(closes.Add(ClaimTTL + poolGrace)) }

// poolSetAside reserves k units of sku in one warehouse of market that has
// them all available, and returns the warehouse. The reservation row is
// written by poolCreate once the sale has its id; this takes the units on
// the stock row, conditionally, so no concurrent reservation can take the
// same ones.
func poolSetAside(ctx context.Context, tx db.Querier, market, sku string, k int) (string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT s.warehouse, s.on_hand - s.reserved FROM stock s
		JOIN warehouses w ON w.code = s.warehouse
		WHERE w.market = $1 AND s.sku = $2
		ORDER BY s.on_hand - s.reserved DESC, s.warehouse`, market, sku)
	if err != nil {
		return "", fmt.Errorf("stock of %s in %s: %w", sku, market, err)
	}
	type free struct {
		warehouse string
		n         int
	}
	var list []free
	for rows.Next() {
		var f free
		if err := rows.Scan(&f.warehouse, &f.n); err != nil {
			rows.Close()
			return "", fmt.Errorf("stock of %s in %s: %w", sku, market, err)
		}
		list = append(list, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("stock of %s in %s: %w", sku, market, err)
	}
	most := 0
	for _, f := range list {
		most = max(most, f.n)
		if f.n < k {
			continue
		}
		// The condition decides, against the row as it is now.
		res, err := tx.ExecContext(ctx, `UPDATE stock SET reserved = reserved + $3
			WHERE sku = $1 AND warehouse = $2 AND on_hand - reserved >= $3`, sku, f.warehouse, k)
		if err != nil {
			return "", fmt.Errorf("set aside %d %s in %s: %w", k, sku, f.warehouse, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return f.warehouse, nil
		}
	}
	return "", fmt.Errorf("no warehouse in %s has %d of %s available (at most %d in one): %w",
		market, k, sku, max(most, 0), &inventory.OutOfStockError{SKU: sku, Requested: k, Available: max(most, 0)})
}

// poolCreate writes the pool reservation of sale id for units poolSetAside
// took.
func poolCreate(ctx context.Context, tx db.Querier, id int64, sku, warehouse string, k int, expires, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO reservations (owner, sku, warehouse, quantity, state, expires_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, 'live', $5, $6, $6)`, PoolOwner(id), sku, warehouse, k, db.Time(expires), now); err != nil {
		return fmt.Errorf("pool of sale %d: %w", id, err)
	}
	return nil
}

// poolMoveExpiry sets when sale id's pool runs out, if it is still live.
func poolMoveExpiry(ctx context.Context, tx db.Querier, id int64, expires, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE reservations SET expires_at = $2, updated_at = $3 WHERE owner = $1 AND state = 'live'`,
		PoolOwner(id), db.Time(expires), now); err != nil {
		return fmt.Errorf("pool of sale %d: move expiry: %w", id, err)
	}
	return nil
}

// poolRow is the pool reservation of a sale.
type poolRow struct {
	id        int64
	quantity  int
	state     string
	expiresAt time.Time
}

// poolOf reads sale id's pool reservation; ok is false when it has none.
func poolOf(ctx context.Context, tx db.Querier, id int64) (p poolRow, ok bool, err error) {
	err = tx.QueryRowContext(ctx, `SELECT id, quantity, state, expires_at FROM reservations WHERE owner = $1 ORDER BY id LIMIT 1`,
		PoolOwner(id)).Scan(&p.id, &p.quantity, &p.state, &p.expiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return p, false, nil
	}
	if err != nil {
		return p, false, fmt.Errorf("pool of sale %d: %w", id, err)
	}
	return p, true, nil
}

// poolTake moves q units of sale sl from its pool to a new live
// reservation of owner expiring at expires: the stock row keeps them
// reserved. The pool's quantity never goes below 1 (a reservation holds at
// least one unit): when its last units leave, it is flipped to released
// without a stock change, since the units live on in owner's reservation.
// A pool that lacks the units (it ran out, or units given back never
// reached it) is an *inventory.OutOfStockError: the caller rolls back
// rather than sell units nobody holds.
func poolTake(ctx context.Context, tx db.Querier, sl *Sale, q int, owner string, expires, now time.Time) error {
	p, ok, err := poolOf(ctx, tx, sl.ID)
	if err != nil {
		return err
	}
	short := &inventory.OutOfStockError{SKU: sl.SKU, Requested: q}
	if !ok || p.state != "live" || !p.expiresAt.After(now) {
		return fmt.Errorf("sale %d: its pool has no units left: %w", sl.ID, short)
	}
	var res sql.Result
	if p.quantity == q {
		res, err = tx.ExecContext(ctx, `UPDATE reservations SET state = 'released', updated_at = $3
			WHERE id = $1 AND state = 'live' AND quantity = $2`, p.id, q, now)
	} else {
		res, err = tx.ExecContext(ctx, `UPDATE reservations SET quantity = quantity - $2, updated_at = $3
			WHERE id = $1 AND state = 'live' AND quantity > $2`, p.id, q, now)
	}
	if err != nil {
		return fmt.Errorf("sale %d: take %d from the pool: %w", sl.ID, q, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		short.Available = p.quantity
		return fmt.Errorf("sale %d: its pool has %d units, %d wanted: %w", sl.ID, p.quantity, q, short)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO reservations (owner, sku, warehouse, quantity, state, expires_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, 'live', $5, $6, $6)`, owner, sl.SKU, sl.Warehouse, q, db.Time(expires), now); err != nil {
		return fmt.Errorf("sale %d: reserve %d for %s: %w", sl.ID, q, owner, err)
	}
	return nil
}

// poolGiveBack returns q units of sale sl held by owner's live
// reservations to the pool, while the sale can still be claimed; it
// reports whether it did. The units leave owner's reservation (its last
// units flip it to released, without a stock change) and join the pool,
// which is revived when it had been emptied. When owner no longer holds
// them (its reservation ran out and was swept), the units are reserved
// again from the sale's warehouse if it has them. Otherwise nothing
// moves: owner's units are released with the rest of its stock.
func poolGiveBack(ctx context.Context, tx db.Querier, sl *Sale, q int, owner string, now time.Time) (bool, error) {
	if !now.Before(sl.Closes()) {
		// Nobody can claim them any more: they go back to the warehouse
		// with the order's other units, not to a pool that is winding up.
		return false, nil
	}
	p, ok, err := poolOf(ctx, tx, sl.ID)
	if err != nil || !ok || !p.expiresAt.After(now) {
		return false, err
	}
	moved, err := leaveReservation(ctx, tx, owner, sl, q, now)
	if err != nil {
		return false, err
	}
	if !moved {
		res, err := tx.ExecContext(ctx, `UPDATE stock SET reserved = reserved + $3
			WHERE sku = $1 AND warehouse = $2 AND on_hand - reserved >= $3`, sl.SKU, sl.Warehouse, q)
		if err != nil {
			return false, fmt.Errorf("sale %d: reserve %d again: %w", sl.ID, q, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return false, nil
		}
	}
	var res sql.Result
	if p.state == "live" {
		res, err = tx.ExecContext(ctx, `UPDATE reservations SET quantity = quantity + $2, updated_at = $3
			WHERE id = $1 AND state = 'live'`, p.id, q, now)
	} else {
		res, err = tx.ExecContext(ctx, `UPDATE reservations SET state = 'live', quantity = $2, updated_at = $3
			WHERE id = $1 AND state = 'released' AND expires_at > $3`, p.id, q, now)
	}
	if err != nil {
		return false, fmt.Errorf("sale %d: give %d back to the pool: %w", sl.ID, q, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		// The pool changed under us: with the sale row locked that is a
		// bug, and committing would leave units reserved by nobody.
		return false, fmt.Errorf("sale %d: the pool changed while giving %d back", sl.ID, q)
	}
	return true, nil
}

// leaveReservation takes q units of sl's SKU in its warehouse out of
// owner's live reservations without touching the stock row, and reports
// whether owner held them.
func leaveReservation(ctx context.Context, tx db.Querier, owner string, sl *Sale, q int, now time.Time) (bool, error) {
	var id int64
	var have int
	err := tx.QueryRowContext(ctx, `SELECT id, quantity FROM reservations
		WHERE owner = $1 AND sku = $2 AND warehouse = $3 AND state = 'live' AND quantity >= $4
		ORDER BY id LIMIT 1`, owner, sl.SKU, sl.Warehouse, q).Scan(&id, &have)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reservation of %s: %w", owner, err)
	}
	var res sql.Result
	if have == q {
		res, err = tx.ExecContext(ctx, `UPDATE reservations SET state = 'released', updated_at = $3
			WHERE id = $1 AND state = 'live' AND quantity = $2`, id, q, now)
	} else {
		res, err = tx.ExecContext(ctx, `UPDATE reservations SET quantity = quantity - $2, updated_at = $3
			WHERE id = $1 AND state = 'live' AND quantity > $2`, id, q, now)
	}
	if err != nil {
		return false, fmt.Errorf("reservation %d of %s: %w", id, owner, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}
