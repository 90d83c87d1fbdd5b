package cart

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"mistore/internal/catalog"
	"mistore/internal/db"
)

// adoptLockClass is the first key of the PostgreSQL advisory lock that
// serialises Adopt per customer; the second is the customer's id. The
// two-key space of advisory locks does not overlap the one-key space the
// migrations lock in.
const adoptLockClass int32 = 7259_2001

// adoptAttempts bounds how often Adopt starts its transaction again when a
// cart changed between its reads and its locks.
const adoptAttempts = 5

// errAdoptAgain makes Adopt roll back and start again: its transaction met
// a cart line whose limit it had not looked up, or the customer's cart
// stopped being open before it could be locked.
var errAdoptAgain = errors.New("adopt cart: carts changed, start again")

// Adopt gives customer the cart of market: the guest cart (guestID with guestToken) when there is one, merged into
// the customer's own open cart in that market when they have one too. It returns the cart the browser should keep (id and
// token), or "" when the customer has no cart in market and brought none.
//
// A guest cart counts only if the token opens it, it is not checked out,
// it is in market and it belongs to nobody or to customerID; any other is
// ignored and left untouched, with no error, so that signing in never
// fails or tells anything about a cart the browser should not have. The
// customer's own cart is their newest open one in market. When both exist
// the guest's lines are added to the own cart, each SKU capped at its
// product's limit (a line already above it is never lowered), and the
// guest cart is deleted, all in one transaction.
func (s *Service) Adopt(ctx context.Context, customerID int64, market, guestID, guestToken string) (id, token string, err error) {
	if customerID <= 0 {
		return "", "", fmt.Errorf("adopt cart: invalid customer id %d", customerID)
	}
	guest := ""
	if guestID != "" {
		switch err := s.check(ctx, guestID, guestToken); {
		case err == nil:
			guest = guestID
		case !errors.Is(err, ErrNotFound):
			return "", "", fmt.Errorf("adopt cart: %w", err)
		}
	}
	if guest == "" {
		// Nothing to move: a read answers, and signing in without a cart
		// (or with a cookie that opens none) costs no write.
		id, err = ownCart(ctx, s.db.Reader(), customerID, market)
	} else {
		id, err = s.adopt(ctx, customerID, market, guest)
	}
	if err != nil || id == "" {
		return "", "", err
	}
	if token, err = s.token(ctx, id); err != nil {
		return "", "", fmt.Errorf("adopt cart %s: %w", id, err)
	}
	return id, token, nil
}

// ownCart returns the id of customerID's newest open cart in market, or "".
func ownCart(ctx context.Context, q db.Querier, customerID int64, market string) (string, error) {
	var id string
	err := q.QueryRowContext(ctx, `SELECT id FROM carts WHERE customer_id = $1 AND market = $2 AND order_number IS NULL
		ORDER BY updated_at DESC, id DESC LIMIT 1`, customerID, market).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("customer %d: cart in %s: %w", customerID, market, err)
	}
	return id, nil
}

// adopt runs Adopt's transaction for a guest cart whose token is right,
// starting it again when it finds the carts changed under it. Whether the
// guest cart counts is decided only under its lock, so that the rule is in
// one place and holds against a concurrent checkout or Adopt. The limits
// of the guest's SKUs are looked up before the transaction, as AddItem
// does: on PostgreSQL a transaction holding cart locks must not wait for
// a second pooled connection.
func (s *Service) adopt(ctx context.Context, customerID int64, market, guest string) (string, error) {
	skus, err := lineSKUs(ctx, s.db.Reader(), guest)
	if err != nil {
		return "", err
	}
	limits := map[string]int{}
	if err := s.addLimits(ctx, market, skus, limits); err != nil {
		return "", err
	}
	for range adoptAttempts {
		var kept string
		var missing []string
		err := s.db.Tx(ctx, func(tx db.Querier) error {
			var err error
			kept, missing, err = s.adoptTx(ctx, tx, customerID, market, guest, limits)
			return err
		})
		if !errors.Is(err, errAdoptAgain) {
			return kept, err
		}
		if err := s.addLimits(ctx, market, missing, limits); err != nil {
			return "", err
		}
	}
	return "", fmt.Errorf("adopt cart %s for customer %d: %w", guest, customerID, errAdoptAgain)
}

// adoptTx is Adopt's transaction. It takes its locks in one order: on
// PostgreSQL the customer's advisory lock, which makes two sign-ins of the
// same customer (two devices at once) run one after the other, so that
// neither can miss the own cart the other is making; then the carts' rows,
// by id, with the same row lock AddItem and checkout take, so that none of
// them sees half a merge. SQLite runs write transactions one at a time
// and needs neither. It returns the cart kept, or the guest SKUs whose
// limit is not in limits along with errAdoptAgain.
func (s *Service) adoptTx(ctx context.Context, tx db.Querier, customerID int64, market, guest string, limits map[string]int) (string, []string, error) {
	if s.db.Dialect == db.Postgres {
		// The key keeps the id's low 32 bits: customers 2^32 apart would
		// only wait for each other, never conflict.
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1, $2)", adoptLockClass, int32(customerID)); err != nil {
			return "", nil, fmt.Errorf("adopt cart: lock customer %d: %w", customerID, err)
		}
	}
	own, err := ownCart(ctx, tx, customerID, market)
	if err != nil {
		return "", nil, err
	}
	now := s.now()
	ids := []string{guest}
	if own != "" && own != guest {
		ids = append(ids, own)
		slices.Sort(ids)
	}
	guestOK := false
	for _, id := range ids {
		ok, err := lockAdoptable(ctx, tx, id, customerID, market, now)
		if err != nil {
			return "", nil, err
		}
		switch {
		case id == guest:
			// Checked out, in another market, another customer's or
			// gone: ignored, and not written to.
			guestOK = ok
		case !ok:
			// The own cart was checked out or swept since it was found;
			// another may be the newest now.
			return "", nil, errAdoptAgain
		}
	}
	switch {
	case !guestOK:
		return own, nil, nil
	case own == guest:
		return own, nil, nil
	case own == "":
		if _, err := tx.ExecContext(ctx, "UPDATE carts SET customer_id = $2 WHERE id = $1", guest, customerID); err != nil {
			return "", nil, fmt.Errorf("adopt cart %s for customer %d: %w", guest, customerID, err)
		}
		return guest, nil, nil
	}
	missing, err := mergeLines(ctx, tx, own, guest, limits)
	if err != nil {
		return "", missing, err
	}
	return own, nil, nil
}

// lockAdoptable takes cart id's row lock, as lock does, if the cart is
// open, in market, belongs to nobody or to customerID and holds no
// flash-sale claim (a claim's cart sells at the sale price and must stay
// as it is), and reports whether it did. A cart that fails the test is not written to. On
// PostgreSQL a row another transaction holds is tested again once that
// transaction ends, so the answer is about the cart as it is now.
func lockAdoptable(ctx context.Context, tx db.Querier, id string, customerID int64, market string, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE carts SET updated_at = $2
		WHERE id = $1 AND market = $3 AND order_number IS NULL AND (customer_id IS NULL OR customer_id = $4)
			AND NOT EXISTS (SELECT 1 FROM flash_sale_claims WHERE cart_id = $1)`,
		id, db.Time(now), market, customerID)
	if err != nil {
		return false, fmt.Errorf("cart %s: lock: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("cart %s: lock: %w", id, err)
	}
	return n == 1, nil
}

// adoptLine is a guest cart line being moved.
type adoptLine struct {
	sku       string
	quantity  int
	seenPrice sql.NullInt64
	seenState string
}

// mergeLines adds guest's lines to own's and deletes guest. A SKU in both
// sums to at most its limit, or stays as own has it when already above;
// a SKU only the guest has comes after own's lines, in the guest's order,
// as the guest last saw it, capped at its limit, while the cart has room
// for it (MaxLines). A guest SKU the catalog no longer knows is dropped.
// Limits come from limits; a guest SKU missing there is returned with
// errAdoptAgain.
func mergeLines(ctx context.Context, tx db.Querier, own, guest string, limits map[string]int) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT sku, quantity, seen_price, seen_state FROM cart_lines
		WHERE cart_id = $1 ORDER BY position, sku`, guest)
	if err != nil {
		return nil, fmt.Errorf("cart %s: lines: %w", guest, err)
	}
	var lines []adoptLine
	var missing []string
	for rows.Next() {
		var l adoptLine
		if err := rows.Scan(&l.sku, &l.quantity, &l.seenPrice, &l.seenState); err != nil {
			rows.Close()
			return nil, fmt.Errorf("cart %s: lines: %w", guest, err)
		}
		if _, ok := limits[l.sku]; !ok {
			missing = append(missing, l.sku)
		}
		lines = append(lines, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cart %s: lines: %w", guest, err)
	}
	if len(missing) > 0 {
		// Added after the limits were looked up; they cannot be looked up
		// here, with the carts locked.
		return missing, errAdoptAgain
	}
	var n, last int
	if err := tx.QueryRowContext(ctx, "SELECT count(*), coalesce(max(position), 0) FROM cart_lines WHERE cart_id = $1", own).Scan(&n, &last); err != nil {
		return nil, fmt.Errorf("cart %s: count lines: %w", own, err)
	}
	for _, l := range lines {
		limit := limits[l.sku]
		if limit == 0 {
			continue
		}
		have, exists, err := lineQuantity(ctx, tx, own, l.sku)
		if err != nil {
			return nil, err
		}
		if exists {
			total := max(have, min(have+l.quantity, limit))
			if total == have {
				continue
			}
			// What the own cart's shopper last saw of the line stays, so
			// the next view tells of any change the larger line brings.
			if _, err := tx.ExecContext(ctx, "UPDATE cart_lines SET quantity = $3 WHERE cart_id = $1 AND sku = $2", own, l.sku, total); err != nil {
				return nil, fmt.Errorf("cart %s: merge %s: %w", own, l.sku, err)
			}
			continue
		}
		if n >= MaxLines {
			continue
		}
		var price any
		if l.seenPrice.Valid {
			price = l.seenPrice.Int64
		}
		last++
		if _, err := tx.ExecContext(ctx, `INSERT INTO cart_lines (cart_id, sku, quantity, seen_price, seen_state, position)
			VALUES ($1, $2, $3, $4, $5, $6)`, own, l.sku, min(l.quantity, limit), price, l.seenState, last); err != nil {
			return nil, fmt.Errorf("cart %s: merge %s: %w", own, l.sku, err)
		}
		n++
	}
	// The lines first: the schema cascades, but the merge should not
	// depend on SQLite's foreign_keys pragma being on.
	if _, err := tx.ExecContext(ctx, "DELETE FROM cart_lines WHERE cart_id = $1", guest); err != nil {
		return nil, fmt.Errorf("cart %s: delete merged lines: %w", guest, err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM carts WHERE id = $1", guest); err != nil {
		return nil, fmt.Errorf("cart %s: delete merged cart: %w", guest, err)
	}
	return nil, nil
}

// lineSKUs returns the SKUs of cart id's lines.
func lineSKUs(ctx context.Context, q db.Querier, id string) ([]string, error) {
	rows, err := q.QueryContext(ctx, "SELECT sku FROM cart_lines WHERE cart_id = $1", id)
	if err != nil {
		return nil, fmt.Errorf("cart %s: lines: %w", id, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var sku string
		if err := rows.Scan(&sku); err != nil {
			return nil, fmt.Errorf("cart %s: lines: %w", id, err)
		}
		out = append(out, sku)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cart %s: lines: %w", id, err)
	}
	return out, nil
}

// addLimits records in limits the per-cart limit of each of skus in
// market, as AddItem finds it, or 0 for a SKU the catalog does not know.
func (s *Service) addLimits(ctx context.Context, market string, skus []string, limits map[string]int) error {
	for _, sku := range skus {
		if _, ok := limits[sku]; ok {
			continue
		}
		it, err := s.catalog.Item(ctx, market, sku)
		switch {
		case errors.Is(err, catalog.ErrNotFound):
			limits[sku] = 0
		case err != nil:
			return fmt.Errorf("adopt cart: catalog item %s in %s: %w", sku, market, err)
		default:
			limits[sku] = it.Product.Limit()
		}
	}
	return nil
}
