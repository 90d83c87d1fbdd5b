package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"mistore/internal/audit"
	"mistore/internal/db"
)

// Low-stock alerts.
//
// The threshold is kept per SKU and warehouse (stock.low_stock_threshold),
// not per SKU: each warehouse is restocked on its own, so "running low"
// is a warehouse's state, and a big warehouse runs low at a higher count
// than a small one. A stock row is low while what it can still sell
// (on_hand - reserved) is at or below its threshold; a threshold of nil
// turns the alert off (a warehouse that does not carry the SKU). Rows start
// at DefaultLowStockThreshold.

// DefaultLowStockThreshold is the threshold a stock row starts with (the
// column default in migration 0012).
const DefaultLowStockThreshold = 5

// LowStock is a stock row on the alert list.
type LowStock struct {
	SKU       string `json:"sku"`
	Product   string `json:"product"`
	Variant   string `json:"variant"`
	Warehouse string `json:"warehouse"`
	Market    string `json:"market"`
	OnHand    int    `json:"on_hand"`
	Reserved  int    `json:"reserved"`
	Available int    `json:"available"`
	Threshold int    `json:"low_stock_threshold"`
}

// LowStock returns the stock rows at or below their threshold, the worst
// first (furthest below their threshold), at most limit (1 to 1000;
// anything else means 200).
func (s *Service) LowStock(ctx context.Context, limit int) ([]LowStock, error) {
	if limit <= 0 || limit > 1000 {
		limit = 200
	}
	rows, err := s.db.Reader().QueryContext(ctx, `SELECT s.sku, p.name, v.name, s.warehouse, w.market, s.on_hand, s.reserved, s.low_stock_threshold
		FROM stock s
		JOIN variants v ON v.sku = s.sku
		JOIN products p ON p.id = v.product_id
		JOIN warehouses w ON w.code = s.warehouse
		WHERE s.low_stock_threshold IS NOT NULL AND s.on_hand - s.reserved <= s.low_stock_threshold
		ORDER BY s.on_hand - s.reserved - s.low_stock_threshold, s.sku, s.warehouse
		LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("low stock: %w", err)
	}
	defer rows.Close()
	out := []LowStock{}
	for rows.Next() {
		var l LowStock
		if err := rows.Scan(&l.SKU, &l.Product, &l.Variant, &l.Warehouse, &l.Market, &l.OnHand, &l.Reserved, &l.Threshold); err != nil {
			return nil, fmt.Errorf("low stock: %w", err)
		}
		l.Available = l.OnHand - l.Reserved
		out = append(out, l)
	}
	return out, rows.Err()
}

// thresholdAudit is a threshold as the audit log shows it.
type thresholdAudit struct {
	LowStockThreshold *int `json:"low_stock_threshold"`
}

// SetLowStockThreshold sets the low-stock threshold of sku in warehouse
// (nil turns the alert off), recorded in the audit log with the actor ctx
// carries. A warehouse with no stock row for the SKU gets one with 0 on
// hand, so a threshold can be set before the first delivery.
func (s *Service) SetLowStockThreshold(ctx context.Context, sku, warehouse string, threshold *int) error {
	if threshold != nil && (*threshold < 0 || *threshold > MaxOnHand) {
		return &FieldError{Field: "low_stock_threshold", Msg: fmt.Sprintf("The low-stock threshold must be between 0 and %d, or empty for no alert.", MaxOnHand)}
	}
	if warehouse == "" {
		return &FieldError{Field: "warehouse", Msg: "A warehouse is required."}
	}
	var value any
	if threshold != nil {
		value = *threshold
	}
	return s.db.Tx(ctx, func(tx db.Querier) error {
		// Lock the row before reading it, so that the audit log's
		// "before" is what this change replaced.
		if _, err := tx.ExecContext(ctx, "UPDATE stock SET low_stock_threshold = low_stock_threshold WHERE sku = $1 AND warehouse = $2", sku, warehouse); err != nil {
			return fmt.Errorf("threshold of %s in %s: %w", sku, warehouse, err)
		}
		var old sql.NullInt64
		err := tx.QueryRowContext(ctx, "SELECT low_stock_threshold FROM stock WHERE sku = $1 AND warehouse = $2", sku, warehouse).Scan(&old)
		var before any
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if err := skuAndWarehouseExist(ctx, tx, sku, warehouse); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("threshold of %s in %s: %w", sku, warehouse, err)
		default:
			b := thresholdAudit{}
			if old.Valid {
				n := int(old.Int64)
				b.LowStockThreshold = &n
			}
			before = b
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO stock (sku, warehouse, on_hand, low_stock_threshold) VALUES ($1, $2, 0, $3)
			ON CONFLICT (sku, warehouse) DO UPDATE SET low_stock_threshold = excluded.low_stock_threshold`, sku, warehouse, value); err != nil {
			return fmt.Errorf("threshold of %s in %s: %w", sku, warehouse, err)
		}
		return audit.Record(ctx, tx, "inventory.threshold", StockSubject(sku, warehouse), before, thresholdAudit{LowStockThreshold: threshold})
	})
}
