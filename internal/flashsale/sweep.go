package flashsale

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"mistore/internal/db"
)

// Sweep gives the units of live claims that ran out before now back to
// their sales, up to limit claims, and returns how many it released. Each
// sale is settled in a transaction of its own, after which the claim
// engine is told that units came back.
func (s *Service) Sweep(ctx context.Context, now time.Time, limit int) (int, error) {
	now = db.Time(now)
	rows, err := s.db.Reader().QueryContext(ctx, `SELECT id, sale_id FROM flash_sale_claims
		WHERE state = 'live' AND expires_at < $1 ORDER BY expires_at LIMIT $2`, now, limit)
	if err != nil {
		return 0, fmt.Errorf("sweep claims: %w", err)
	}
	bySale := map[int64][]int64{}
	var order []int64
	for rows.Next() {
		var id, sale int64
		if err := rows.Scan(&id, &sale); err != nil {
			rows.Close()
			return 0, fmt.Errorf("sweep claims: %w", err)
		}
		if bySale[sale] == nil {
			order = append(order, sale)
		}
		bySale[sale] = append(bySale[sale], id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("sweep claims: %w", err)
	}
	released := 0
	for _, sale := range order {
		n := 0
		err := s.db.Tx(ctx, func(tx db.Querier) error {
			n = 0
			sl, err := saleForUpdate(ctx, tx, s.db.Dialect, sale)
			if err != nil {
				return err
			}
			for _, id := range bySale[sale] {
				var customer int64
				var q int
				// The condition decides: a checkout may have taken the
				// claim since it was read.
				err := tx.QueryRowContext(ctx, `UPDATE flash_sale_claims SET state = 'released', updated_at = $2
					WHERE id = $1 AND state = 'live' AND expires_at < $2 RETURNING customer_id, quantity`, id, now).Scan(&customer, &q)
				if err != nil {
					if errors.Is(err, sql.ErrNoRows) {
						continue
					}
					return fmt.Errorf("release claim %d: %w", id, err)
				}
				if err := s.giveBack(ctx, tx, sl, customer, q, false, now); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return released, fmt.Errorf("sweep claims of sale %d: %w", sale, err)
		}
		released += n
		s.engine.invalidate(sale)
	}
	return released, nil
}
