package cart

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"mistore/internal/catalog"
	"mistore/internal/db"
	"mistore/internal/locale"
)

// AddItem puts qty more units of sku in the cart: a line merges by SKU, so
// adding 2 and then 3 makes one line of 5. The units must be sellable in
// the cart's market now, the line may not exceed the product's limit, and
// the market must have the stock for the whole line. Get shows the result.
func (s *Service) AddItem(ctx context.Context, id, token, sku string, qty int) error {
	c, err := s.open(ctx, id, token)
	if err != nil {
		return err
	}
	if qty < 1 {
		return fail(ErrQuantity, "The quantity must be at least 1.")
	}
	it, stock, err := s.lookup(ctx, c.Market, sku)
	if err != nil {
		return err
	}
	if it == nil {
		return fail(ErrNotSoldInMarket, "There is no product with SKU %q.", sku)
	}
	name, limit := catalog.LocalFullName(it.Product, it.Variant), it.Product.Limit()
	if qty > limit {
		return fail(quantityOverLimit(qty), "You can buy at most %d of %s at a time.", limit, name)
	}
	now := s.now()
	if err := refuse(it.Decide(stock, qty, now), name, stock, 0); err != nil {
		return err
	}
	err = s.db.TxRelaxed(ctx, func(tx db.Querier) error {
		if err := lock(ctx, tx, id, now); err != nil {
			return err
		}
		// One read for the line's quantity and, should it be new, the
		// cart's count of lines and last position.
		var have, n, last int
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(max(position), 0),
				count(CASE WHEN sku = $2 THEN 1 END) > 0, coalesce(max(CASE WHEN sku = $2 THEN quantity END), 0)
			FROM cart_lines WHERE cart_id = $1`, id, sku).Scan(&n, &last, &exists, &have); err != nil {
			return fmt.Errorf("cart %s: lines: %w", id, err)
		}
		total := have + qty
		if total > limit {
			return fail(ErrPurchaseLimit, "You can buy at most %d of %s at a time, and your cart already has %d.", limit, name, have)
		}
		// The stock read before the transaction is fresh to the millisecond;
		// carts reserve nothing, so checkout checks again under its lock.
		a := it.Decide(stock, total, now)
		if err := refuse(a, name, stock, have); err != nil {
			return err
		}
		if exists {
			return setLine(ctx, tx, id, sku, total, stateKey(a, stock))
		}
		if n >= MaxLines {
			return fail(ErrCartFull, "A cart holds at most %d different products; remove one to add %s.", MaxLines, name)
		}
		// What the shopper adds is what they saw: the price and state now,
		// so the next view only tells of later changes.
		var price any
		if it.HasPrice {
			price = it.Price.Amount
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO cart_lines (cart_id, sku, quantity, seen_price, seen_state, position)
			VALUES ($1, $2, $3, $4, $5, $6)`, id, sku, total, price, stateKey(a, stock), last+1); err != nil {
			return fmt.Errorf("cart %s: add %s: %w", id, sku, err)
		}
		return nil
	})
	return err
}

// SetQuantity makes the cart's line of sku qty units; 0 removes it. A
// larger quantity must be sellable and in stock; a smaller one is always
// allowed, so a shopper can bring a line down to what is left.
func (s *Service) SetQuantity(ctx context.Context, id, token, sku string, qty int) error {
	c, err := s.open(ctx, id, token)
	if err != nil {
		return err
	}
	if qty == 0 {
		return s.remove(ctx, id, sku, true)
	}
	if qty < 0 {
		return fail(ErrQuantity, "The quantity must be at least 1, or 0 to remove the product.")
	}
	it, stock, err := s.lookup(ctx, c.Market, sku)
	if err != nil {
		return err
	}
	if it == nil {
		// A SKU the catalog does not know cannot be in a cart.
		return lineNotFound(sku)
	}
	name, limit := catalog.LocalFullName(it.Product, it.Variant), it.Product.Limit()
	if qty > limit {
		return fail(quantityOverLimit(qty), "You can buy at most %d of %s at a time.", limit, name)
	}
	now := s.now()
	a := it.Decide(stock, qty, now)
	return s.db.TxRelaxed(ctx, func(tx db.Querier) error {
		if err := lock(ctx, tx, id, now); err != nil {
			return err
		}
		have, exists, err := lineQuantity(ctx, tx, id, sku)
		if err != nil {
			return err
		}
		if !exists {
			return lineNotFound(sku)
		}
		if qty > have {
			if err := refuse(a, name, stock, 0); err != nil {
				return err
			}
		}
		// The shopper chose this quantity knowing the line's state: record
		// it as seen, so the next view does not announce their own change.
		return setLine(ctx, tx, id, sku, qty, stateKey(a, stock))
	})
}

// RemoveItem takes sku's line out of the cart. Removing a SKU the cart
// does not hold changes nothing and is not an error, so a retried DELETE
// succeeds.
func (s *Service) RemoveItem(ctx context.Context, id, token, sku string) error {
	if _, err := s.open(ctx, id, token); err != nil {
		return err
	}
	return s.remove(ctx, id, sku, false)
}

func (s *Service) remove(ctx context.Context, id, sku string, mustExist bool) error {
	return s.db.TxRelaxed(ctx, func(tx db.Querier) error {
		if err := lock(ctx, tx, id, s.now()); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM cart_lines WHERE cart_id = $1 AND sku = $2", id, sku)
		if err != nil {
			return fmt.Errorf("cart %s: remove %s: %w", id, sku, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("cart %s: remove %s: %w", id, sku, err)
		}
		if n == 0 && mustExist {
			return lineNotFound(sku)
		}
		return nil
	})
}

// open checks the token and that the cart may still change. The check is
// repeated under the row lock; this one spares a checked-out cart the
// catalog and stock reads. A claim cart is born with its claim, so a
// check before the transaction cannot miss one.
func (s *Service) open(ctx context.Context, id, token string) (Summary, error) {
	if err := s.check(ctx, id, token); err != nil {
		return Summary{}, err
	}
	c, h, err := s.withHold(ctx, id)
	if err != nil {
		return Summary{}, err
	}
	if c.CheckedOut() {
		return Summary{}, checkedOut()
	}
	if h != nil {
		return Summary{}, claimCart()
	}
	return c, nil
}

// lookup returns sku's catalog item in market and its fresh stock; a nil
// item means the catalog has no such SKU. Both reads happen before the
// caller's transaction: on PostgreSQL a transaction waiting for the cart's
// lock must not need a second pooled connection to finish.
func (s *Service) lookup(ctx context.Context, market, sku string) (*catalog.Item, int, error) {
	if sku == "" {
		return nil, 0, nil
	}
	it, err := s.catalog.Item(ctx, market, sku)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("cart: catalog item %s in %s: %w", sku, market, err)
	}
	stock, err := s.inv.Available(ctx, market, []string{sku})
	if err != nil {
		return nil, 0, fmt.Errorf("cart: stock of %s: %w", sku, err)
	}
	return it, stock[sku], nil
}

// lock takes the cart's row lock for the transaction by touching the row,
// which works the same on both engines (SQLite has no SELECT ... FOR
// UPDATE, and its writers are serialised anyway). Changes to one cart thus
// run one after another, so two requests cannot both pass the limit check.
func lock(ctx context.Context, tx db.Querier, id string, now time.Time) error {
	var order sql.NullString
	err := tx.QueryRowContext(ctx, "UPDATE carts SET updated_at = $2 WHERE id = $1 RETURNING order_number", id, db.Time(now)).Scan(&order)
	if errors.Is(err, sql.ErrNoRows) {
		return errNotFound()
	}
	if err != nil {
		return fmt.Errorf("cart %s: lock: %w", id, err)
	}
	if order.Valid {
		return checkedOut()
	}
	return nil
}

// lineQuantity returns the quantity of sku's line and whether there is one.
func lineQuantity(ctx context.Context, tx db.Querier, id, sku string) (int, bool, error) {
	var n int
	err := tx.QueryRowContext(ctx, "SELECT quantity FROM cart_lines WHERE cart_id = $1 AND sku = $2", id, sku).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("cart %s: line %s: %w", id, sku, err)
	}
	return n, true, nil
}

func setLine(ctx context.Context, tx db.Querier, id, sku string, qty int, state string) error {
	if _, err := tx.ExecContext(ctx, "UPDATE cart_lines SET quantity = $3, seen_state = $4 WHERE cart_id = $1 AND sku = $2",
		id, sku, qty, state); err != nil {
		return fmt.Errorf("cart %s: set %s to %d: %w", id, sku, qty, err)
	}
	return nil
}

// refuse turns a decision that does not allow the sale into the error the
// shopper reads; have is what the cart already holds of the SKU.
func refuse(a catalog.Availability, name locale.Name, stock, have int) error {
	switch a.State {
	case catalog.Available:
		return nil
	case catalog.OutOfStock:
		switch {
		case stock <= 0 && have > 0:
			return fail(ErrOutOfStock, "%s is out of stock. Your cart already has %d.", name, have)
		case stock <= 0:
			return fail(ErrOutOfStock, "%s is out of stock.", name)
		case stock == 1 && have > 0:
			return fail(ErrOutOfStock, "Only 1 of %s is left. Your cart already has %d.", name, have)
		case stock == 1:
			return fail(ErrOutOfStock, "Only 1 of %s is left.", name)
		case have > 0:
			return fail(ErrOutOfStock, "Only %d of %s are left. Your cart already has %d.", stock, name, have)
		}
		return fail(ErrOutOfStock, "Only %d of %s are left.", stock, name)
	}
	if a.Why.IsZero() {
		return fail(ErrNotSoldInMarket, "%s", a.Reason)
	}
	return failMsg(ErrNotSoldInMarket, a.Why)
}

func checkedOut() error {
	return fail(ErrCheckedOut, "This cart has already been checked out; start a new one.")
}

func lineNotFound(sku string) error {
	return fail(ErrLineNotFound, "The cart has no line for SKU %q.", sku)
}
