package loadtest

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"mistore/internal/db"
)

// The stock check reads the store's database before and after a checkout
// run and holds the run's sales against it: every unit the run sold left
// on_hand, every unit of an order still waiting for payment is reserved,
// and nothing else moved. It assumes the run is the only shopper of its
// SKUs, as on a store set up for a load test.

// stockLevel is one SKU's stock summed over its warehouses.
type stockLevel struct {
	onHand, reserved int64
}

// stockSnapshot is what the check reads at one moment, in one read
// transaction so that stock and orders agree with each other.
type stockSnapshot struct {
	levels map[string]stockLevel
	// maxOrderID is the newest order's id: the run's orders are the ones
	// after it in the snapshot before the run.
	maxOrderID int64
	// The run's orders in the snapshot after it: counted by status, and
	// their units per SKU when paid and when still waiting for payment.
	statuses map[string]int64
	sold     map[string]int64
	pending  map[string]int64
}

// readStockBefore reads the stock of skus and the newest order's id.
func readStockBefore(ctx context.Context, d *db.DB, skus []string) (stockSnapshot, error) {
	return readSnapshot(ctx, d, skus, 0, false)
}

// readStockAfter reads the stock of skus and the orders placed after the
// order with id since.
func readStockAfter(ctx context.Context, d *db.DB, skus []string, since int64) (stockSnapshot, error) {
	return readSnapshot(ctx, d, skus, since, true)
}

func readSnapshot(ctx context.Context, d *db.DB, skus []string, since int64, orders bool) (stockSnapshot, error) {
	snap := stockSnapshot{
		levels:   map[string]stockLevel{},
		statuses: map[string]int64{},
		sold:     map[string]int64{},
		pending:  map[string]int64{},
	}
	// PostgreSQL's default isolation gives each statement its own
	// snapshot; SQLite's read transactions see one snapshot from their
	// first read on, whatever is asked for.
	opts := &sql.TxOptions{ReadOnly: true}
	if d.Dialect == db.Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := d.Read.BeginTx(ctx, opts)
	if err != nil {
		return snap, fmt.Errorf("begin: %w", err)
	}
	// Read-only: ending it only lets go of the snapshot.
	defer tx.Rollback()

	in, args := placeholders(skus, 1)
	// The sums are cast because PostgreSQL sums into numeric.
	rows, err := tx.QueryContext(ctx, `SELECT sku, CAST(sum(on_hand) AS BIGINT), CAST(sum(reserved) AS BIGINT)
		FROM stock WHERE sku IN (`+in+`) GROUP BY sku`, args...)
	if err != nil {
		return snap, fmt.Errorf("read stock: %w", err)
	}
	for rows.Next() {
		var sku string
		var l stockLevel
		if err := rows.Scan(&sku, &l.onHand, &l.reserved); err != nil {
			rows.Close()
			return snap, fmt.Errorf("read stock: %w", err)
		}
		snap.levels[sku] = l
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return snap, fmt.Errorf("read stock: %w", err)
	}
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) FROM orders").Scan(&snap.maxOrderID); err != nil {
		return snap, fmt.Errorf("read newest order: %w", err)
	}
	if !orders {
		return snap, nil
	}

	rows, err = tx.QueryContext(ctx, "SELECT status, count(*) FROM orders WHERE id > $1 GROUP BY status", since)
	if err != nil {
		return snap, fmt.Errorf("count orders: %w", err)
	}
	for rows.Next() {
		var status string
		var n int64
		if err := rows.Scan(&status, &n); err != nil {
			rows.Close()
			return snap, fmt.Errorf("count orders: %w", err)
		}
		snap.statuses[status] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return snap, fmt.Errorf("count orders: %w", err)
	}

	in, args = placeholders(skus, 2)
	rows, err = tx.QueryContext(ctx, `SELECT o.status, l.sku, CAST(sum(l.quantity) AS BIGINT)
		FROM orders o JOIN order_lines l ON l.order_id = o.id
		WHERE o.id > $1 AND l.sku IN (`+in+`) GROUP BY o.status, l.sku`, append([]any{since}, args...)...)
	if err != nil {
		return snap, fmt.Errorf("sum order lines: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var status, sku string
		var n int64
		if err := rows.Scan(&status, &sku, &n); err != nil {
			return snap, fmt.Errorf("sum order lines: %w", err)
		}
		switch status {
		case "paid":
			snap.sold[sku] += n
		case "pending_payment":
			snap.pending[sku] += n
		}
	}
	if err := rows.Err(); err != nil {
		return snap, fmt.Errorf("sum order lines: %w", err)
	}
	return snap, nil
}

// placeholders returns "$first, $first+1, ..." for values and the values
// as query arguments.
func placeholders(values []string, first int) (string, []any) {
	marks := make([]string, len(values))
	args := make([]any, len(values))
	for i, v := range values {
		marks[i] = "$" + strconv.Itoa(first+i)
		args[i] = v
	}
	return strings.Join(marks, ", "), args
}

// checkStock holds the run's sales against the snapshots before and after
// it. Orders placed by a request the user cut off may exist without a 201
// the run counted, so an interrupted run skips the order count.
func checkStock(skus []string, before, after stockSnapshot, c *CheckoutStats, interrupted bool) []Check {
	var sold, left, had, reservedBefore, reservedAfter, pending int64
	var unitsOff, reservedOff []string
	for _, sku := range skus {
		b, a := before.levels[sku], after.levels[sku]
		sold += after.sold[sku]
		left += a.onHand
		had += b.onHand
		reservedBefore += b.reserved
		reservedAfter += a.reserved
		pending += after.pending[sku]
		if after.sold[sku]+a.onHand != b.onHand {
			unitsOff = append(unitsOff, fmt.Sprintf("%s sold %d + left %d != %d before", sku, after.sold[sku], a.onHand, b.onHand))
		}
		if a.reserved-b.reserved != after.pending[sku] {
			reservedOff = append(reservedOff, fmt.Sprintf("%s reserved %d after, %d before, %d pending", sku, a.reserved, b.reserved, after.pending[sku]))
		}
	}
	checks := []Check{
		{
			OK:   len(unitsOff) == 0,
			Name: "stock sold + stock left = stock before",
			Detail: fmt.Sprintf("%d sold (paid orders of the run) + %d on hand after = %d, on hand before %d, over %d SKU(s)",
				sold, left, sold+left, had, len(skus)),
		},
		{
			OK:   len(reservedOff) == 0,
			Name: "reserved = units of orders still pending",
			Detail: fmt.Sprintf("%d reserved after - %d before = %d, units in the run's orders still pending payment %d",
				reservedAfter, reservedBefore, reservedAfter-reservedBefore, pending),
		},
	}
	if len(unitsOff) > 0 {
		checks[0].Detail += "; " + strings.Join(unitsOff, "; ")
	}
	if len(reservedOff) > 0 {
		checks[1].Detail += "; " + strings.Join(reservedOff, "; ")
	}
	if !interrupted {
		var inDB int64
		var parts []string
		for _, status := range slices.Sorted(maps.Keys(after.statuses)) {
			inDB += after.statuses[status]
			parts = append(parts, fmt.Sprintf("%d %s", after.statuses[status], status))
		}
		detail := fmt.Sprintf("%d orders in the database", inDB)
		if len(parts) > 0 {
			detail += " (" + strings.Join(parts, ", ") + ")"
		}
		checks = append(checks, Check{
			OK:     uint64(inDB) == c.Placed,
			Name:   "orders placed = checkouts answered 201",
			Detail: fmt.Sprintf("%s, %d checkouts answered 201", detail, c.Placed),
		})
	}
	return checks
}
