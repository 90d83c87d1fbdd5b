// Package inventory holds stock: how many units of each SKU every warehouse
// has on hand. It is the store's no-oversell core; reservations join it
// with checkout.
package inventory

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"mistore/internal/db"
)

// ErrNegativeStock is returned for an on-hand quantity below zero.
var ErrNegativeStock = errors.New("stock cannot be negative")

// MaxOnHand bounds a stock level, so that a typo cannot claim a billion units.
const MaxOnHand = 10_000_000

// Service reads and writes stock.
type Service struct {
	db *db.DB
}

// NewService returns a Service on d.
func NewService(d *db.DB) *Service { return &Service{db: d} }

// Level is the stock of one SKU in one warehouse.
type Level struct {
	Warehouse string
	OnHand    int
	// Reserved units are promised to live reservations.
	Reserved int
}

// Available is what the warehouse can still sell.
func (l Level) Available() int { return l.OnHand - l.Reserved }

// Available returns, for each of skus, the units the market's warehouses
// can sell now: on hand less live reservations. A SKU with no stock row is
// absent from the map (zero).
func (s *Service) Available(ctx context.Context, market string, skus []string) (map[string]int, error) {
	if len(skus) == 0 {
		return map[string]int{}, nil
	}
	args := make([]any, 0, len(skus)+1)
	args = append(args, market)
	var in strings.Builder
	for i, sku := range skus {
		if i > 0 {
			in.WriteByte(',')
		}
		fmt.Fprintf(&in, "$%d", i+2)
		args = append(args, sku)
	}
	return s.sellable(ctx, market, " AND s.sku IN ("+in.String()+")", args...)
}

// sellable sums on hand less reserved per SKU over the market's
// warehouses, for the SKUs that filter (an SQL condition on s) selects.
func (s *Service) sellable(ctx context.Context, market, filter string, args ...any) (map[string]int, error) {
	rows, err := s.db.Reader().QueryContext(ctx, `SELECT s.sku, SUM(s.on_hand - s.reserved) FROM stock s
		JOIN warehouses w ON w.code = s.warehouse
		WHERE w.market = $1`+filter+` GROUP BY s.sku`, args...)
	if err != nil {
		return nil, fmt.Errorf("stock in %s: %w", market, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var sku string
		var n int
		if err := rows.Scan(&sku, &n); err != nil {
			return nil, fmt.Errorf("stock in %s: %w", market, err)
		}
		out[sku] = n
	}
	return out, rows.Err()
}

// Levels returns the on-hand stock of sku in every warehouse that has a row.
func (s *Service) Levels(ctx context.Context, sku string) ([]Level, error) {
	rows, err := s.db.Reader().QueryContext(ctx, "SELECT warehouse, on_hand, reserved FROM stock WHERE sku = $1 ORDER BY warehouse", sku)
	if err != nil {
		return nil, fmt.Errorf("stock of %s: %w", sku, err)
	}
	defer rows.Close()
	var out []Level
	for rows.Next() {
		var l Level
		if err := rows.Scan(&l.Warehouse, &l.OnHand, &l.Reserved); err != nil {
			return nil, fmt.Errorf("stock of %s: %w", sku, err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// SetOnHand records qty units of sku in warehouse, inside the caller's
// transaction (imports set stock together with the catalog).
func SetOnHand(ctx context.Context, tx db.Querier, sku, warehouse string, qty int) error {
	if qty < 0 {
		return fmt.Errorf("set stock of %s in %s to %d: %w", sku, warehouse, qty, ErrNegativeStock)
	}
	if qty > MaxOnHand {
		return fmt.Errorf("set stock of %s in %s to %d: more than %d units", sku, warehouse, qty, MaxOnHand)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO stock (sku, warehouse, on_hand) VALUES ($1, $2, $3)
		ON CONFLICT (sku, warehouse) DO UPDATE SET on_hand = excluded.on_hand`, sku, warehouse, qty)
	if err != nil {
		return fmt.Errorf("set stock of %s in %s: %w", sku, warehouse, err)
	}
	return nil
}
