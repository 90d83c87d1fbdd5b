package flashsale

// The hooks checkout and orders call inside their own transactions. Each
// follows the lock order: the sale row first, then its claims, holders and
// pool, then stock.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"mistore/internal/db"
	"mistore/internal/money"
)

// ForCart returns the claim cart id holds, read through q, or nil when the
// cart holds none.
func (s *Service) ForCart(ctx context.Context, q db.Querier, cartID string) (*Hold, error) {
	var h Hold
	var price int64
	var currency string
	err := q.QueryRowContext(ctx, `SELECT c.id, c.sale_id, f.market, f.sku, c.quantity, f.price, f.currency, c.state, c.expires_at
		FROM flash_sale_claims c JOIN flash_sales f ON f.id = c.sale_id WHERE c.cart_id = $1`, cartID).
		Scan(&h.ClaimID, &h.SaleID, &h.Market, &h.SKU, &h.Quantity, &price, &currency, &h.State, &h.ExpiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("claim of cart %s: %w", cartID, err)
	}
	h.UnitPrice = money.New(price, currency)
	h.ExpiresAt = h.ExpiresAt.UTC()
	return &h, nil
}

// Take moves the units of the claim cart id holds to the order
// orderNumber, inside the checkout's transaction: the claim becomes
// ordered and its units move from the sale's pool to a reservation of
// owner expiring at expires. ErrClaimExpired when the claim is no longer
// live; an error wrapping inventory.ErrOutOfStock when the pool lacks the
// units (which only units lost on the way back to it can cause).
func (s *Service) Take(ctx context.Context, tx db.Querier, cartID, orderNumber, owner string, expires time.Time) error {
	var saleID int64
	var q int
	err := tx.QueryRowContext(ctx, "SELECT sale_id, quantity FROM flash_sale_claims WHERE cart_id = $1", cartID).Scan(&saleID, &q)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("cart %s holds no claim: %w", cartID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("claim of cart %s: %w", cartID, err)
	}
	sl, err := saleForUpdate(ctx, tx, s.db.Dialect, saleID)
	if err != nil {
		return err
	}
	now := db.Time(s.now())
	res, err := tx.ExecContext(ctx, `UPDATE flash_sale_claims SET state = 'ordered', order_number = $2, updated_at = $3
		WHERE cart_id = $1 AND state = 'live' AND expires_at > $3`, cartID, orderNumber, now)
	if err != nil {
		return fmt.Errorf("claim of cart %s: order: %w", cartID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("claim of cart %s: %w", cartID, ErrClaimExpired)
	}
	return poolTake(ctx, tx, sl, q, owner, expires, now)
}

// orderClaim is a claim as the order hooks see it.
type orderClaim struct {
	id, saleID, customerID int64
	quantity               int
	state                  string
}

// claimsOfOrder returns the claims checked out as order number, by sale
// (the order sale rows are locked in).
func claimsOfOrder(ctx context.Context, tx db.Querier, number string) ([]orderClaim, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, sale_id, customer_id, quantity, state FROM flash_sale_claims
		WHERE order_number = $1 ORDER BY sale_id, id`, number)
	if err != nil {
		return nil, fmt.Errorf("claims of order %s: %w", number, err)
	}
	defer rows.Close()
	var out []orderClaim
	for rows.Next() {
		var c orderClaim
		if err := rows.Scan(&c.id, &c.saleID, &c.customerID, &c.quantity, &c.state); err != nil {
			return nil, fmt.Errorf("claims of order %s: %w", number, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claims of order %s: %w", number, err)
	}
	return out, nil
}

// lockSales locks the rows of the sales of claims, in id order, and
// returns them by id.
func (s *Service) lockSales(ctx context.Context, tx db.Querier, claims []orderClaim) (map[int64]*Sale, error) {
	sales := map[int64]*Sale{}
	for _, c := range claims {
		if sales[c.saleID] != nil {
			continue
		}
		sl, err := saleForUpdate(ctx, tx, s.db.Dialect, c.saleID)
		if err != nil {
			return nil, err
		}
		sales[c.saleID] = sl
	}
	return sales, nil
}

// Paid marks the claims of order orderNumber paid, inside the payment's
// transaction and before owner's reservations are committed. ok is false
// when the order holds a claim that was given back meanwhile, or whose
// units owner no longer holds (its reservation ran out): the payment must
// not sell its units, and nothing is changed. An order without claims is
// ok.
func (s *Service) Paid(ctx context.Context, tx db.Querier, orderNumber, owner string) (ok bool, err error) {
	claims, err := claimsOfOrder(ctx, tx, orderNumber)
	if err != nil || len(claims) == 0 {
		return err == nil, err
	}
	sales, err := s.lockSales(ctx, tx, claims)
	if err != nil {
		return false, err
	}
	// Read again under the locks: a sweep or an expiry may have moved them.
	if claims, err = claimsOfOrder(ctx, tx, orderNumber); err != nil {
		return false, err
	}
	for _, c := range claims {
		switch c.state {
		case "paid":
			continue
		case "ordered":
		default:
			return false, nil
		}
		sl := sales[c.saleID]
		var held int
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(sum(quantity), 0) FROM reservations
			WHERE owner = $1 AND sku = $2 AND warehouse = $3 AND state = 'live'`, owner, sl.SKU, sl.Warehouse).Scan(&held); err != nil {
			return false, fmt.Errorf("reservations of %s: %w", owner, err)
		}
		if held < c.quantity {
			return false, nil
		}
	}
	now := db.Time(s.now())
	for _, c := range claims {
		if c.state != "ordered" {
			continue
		}
		res, err := tx.ExecContext(ctx, `UPDATE flash_sale_claims SET state = 'paid', updated_at = $2 WHERE id = $1 AND state = 'ordered'`, c.id, now)
		if err != nil {
			return false, fmt.Errorf("claim %d: paid: %w", c.id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return false, fmt.Errorf("claim %d changed under the sale's lock", c.id)
		}
		res, err = tx.ExecContext(ctx, `UPDATE flash_sales SET paid = paid + $2, updated_at = $3 WHERE id = $1 AND paid + $2 <= claimed`,
			c.saleID, c.quantity, now)
		if err != nil {
			return false, fmt.Errorf("sale %d: paid: %w", c.saleID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return false, fmt.Errorf("sale %d: paid would exceed claimed", c.saleID)
		}
	}
	return true, nil
}

// Unpaid gives the claims of an order cancelled unpaid back to their
// sales, inside the cancelling transaction and before owner's stock is
// released: the units go back to the sale's pool while the sale runs.
func (s *Service) Unpaid(ctx context.Context, tx db.Querier, orderNumber, owner string) error {
	claims, err := claimsOfOrder(ctx, tx, orderNumber)
	if err != nil || len(claims) == 0 {
		return err
	}
	sales, err := s.lockSales(ctx, tx, claims)
	if err != nil {
		return err
	}
	now := db.Time(s.now())
	for _, c := range claims {
		res, err := tx.ExecContext(ctx, `UPDATE flash_sale_claims SET state = 'released', updated_at = $2 WHERE id = $1 AND state = 'ordered'`, c.id, now)
		if err != nil {
			return fmt.Errorf("claim %d: release: %w", c.id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			continue // paid, or given back already
		}
		sl := sales[c.saleID]
		back, err := poolGiveBack(ctx, tx, sl, c.quantity, owner, now)
		if err != nil {
			return err
		}
		// Units that could not reach the pool of a running sale are gone
		// (the warehouse sold them after the order's reservation ran out):
		// the sale offers that many fewer, so no claim is promised a unit
		// the pool does not hold.
		lost := !back && now.Before(sl.Closes()) && sl.Quantity > c.quantity
		if err := s.giveBack(ctx, tx, sl, c.customerID, c.quantity, lost, now); err != nil {
			return err
		}
		if lost {
			sl.Quantity -= c.quantity
		}
	}
	for id := range sales {
		// Before the commit: should the engine read the sale in between,
		// its snapshot ages out within a second anyway (snapshotTTL).
		s.engine.invalidate(id)
	}
	return nil
}

// giveBack counts q units of customerID's claim in sale sl as released:
// out of claimed and the customer's holding; lost also takes them out of
// the sale's quantity.
func (s *Service) giveBack(ctx context.Context, tx db.Querier, sl *Sale, customerID int64, q int, lost bool, now time.Time) error {
	shrink := 0
	if lost {
		shrink = q
	}
	res, err := tx.ExecContext(ctx, `UPDATE flash_sales SET claimed = claimed - $2, released = released + $2, quantity = quantity - $3, updated_at = $4
		WHERE id = $1 AND claimed >= $2`, sl.ID, q, shrink, now)
	if err != nil {
		return fmt.Errorf("sale %d: give back %d: %w", sl.ID, q, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sale %d: giving back %d would take claimed below zero", sl.ID, q)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE flash_sale_holders SET units = units - $3 WHERE sale_id = $1 AND customer_id = $2 AND units >= $3`,
		sl.ID, customerID, q); err != nil {
		return fmt.Errorf("sale %d: holder %d: %w", sl.ID, customerID, err)
	}
	return nil
}
