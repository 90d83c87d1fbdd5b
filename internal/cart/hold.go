package cart

// Claim carts: a flash-sale claim puts its units in a cart of their own,
// at the sale's price, for as long as the claim lives. The cart reads the
// claim straight from the flash-sale tables (this package must not import
// flashsale, which imports it).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"mistore/internal/catalog"
	"mistore/internal/db"
	"mistore/internal/locale"
	"mistore/internal/market"
	"mistore/internal/money"
)

// ErrClaimCart means a change to a cart that holds a flash-sale claim:
// its line is the claim, and only checkout (or the claim running out)
// changes it.
var ErrClaimCart = errors.New("the cart holds a flash-sale claim")

// Seen states of a claim's line.
const (
	seenHeld        = "held"
	seenHoldExpired = "hold_expired"
	seenHoldOrdered = "hold_ordered"
)

// hold is the claim a cart holds.
type hold struct {
	sku       string
	quantity  int
	price     money.Money
	state     string // live, ordered, paid, released
	expiresAt time.Time
}

// holdOf returns the claim cart id holds, read through q, or nil.
func holdOf(ctx context.Context, q db.Querier, id string) (*hold, error) {
	var h hold
	var price int64
	var currency string
	err := q.QueryRowContext(ctx, `SELECT f.sku, c.quantity, f.price, f.currency, c.state, c.expires_at
		FROM flash_sale_claims c JOIN flash_sales f ON f.id = c.sale_id WHERE c.cart_id = $1`, id).
		Scan(&h.sku, &h.quantity, &price, &currency, &h.state, &h.expiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cart %s: claim: %w", id, err)
	}
	h.price = money.New(price, currency)
	h.expiresAt = h.expiresAt.UTC()
	return &h, nil
}

// live reports whether the claim still holds its units at now.
func (h *hold) live(now time.Time) bool { return h.state == "live" && now.Before(h.expiresAt) }

// refuseClaimCart is the answer to a change of a claim cart.
func (s *Service) refuseClaimCart(ctx context.Context, id string) error {
	h, err := holdOf(ctx, s.db.Reader(), id)
	if err != nil {
		return err
	}
	if h != nil {
		return fail(ErrClaimCart, "This cart holds your flash-sale claim and cannot be changed; check it out as it is, or shop in your own cart.")
	}
	return nil
}

// decideHeld decides the line of a claim cart that holds the claim: priced
// at the sale's price, and purchasable while the claim lives whatever the
// stock says (the sale's units are reserved, so stock would say none) and
// while the market may still sell the product apart from stock and price,
// the test checkout applies too. It returns the line and the state to
// record as seen.
func (s *Service) decideHeld(ctx context.Context, m market.Market, lv LineView, h *hold, now time.Time) (LineView, string, error) {
	lv.UnitPrice, lv.HasPrice = h.price, true
	lv.Limit = h.quantity
	lv.HeldUntil = h.expiresAt
	switch {
	case h.live(now):
		it, err := s.catalog.Item(ctx, m.Code, h.sku)
		if err != nil && !errors.Is(err, catalog.ErrNotFound) {
			return lv, "", fmt.Errorf("catalog item %s: %w", h.sku, err)
		}
		if it != nil {
			v := *it.Variant
			v.Prices = map[string]money.Money{m.Code: h.price}
			if a := catalog.Decide(it.Product, &v, it.Rules, h.quantity, h.quantity, now); a.State == catalog.NotSold {
				lv.State, lv.Reason, lv.ReasonMsg, lv.Purchasable = a.State, a.Reason, a.Why, false
				return lv, string(a.State), nil
			}
		}
		lv.State, lv.Purchasable = catalog.Available, true
		lv.setReason(locale.M("Held for you until %s UTC.", h.expiresAt.Format("15:04")))
		return lv, seenHeld, nil
	case h.state == "ordered" || h.state == "paid":
		lv.State, lv.Purchasable = catalog.Available, false
		lv.setReason(locale.M("Checked out."))
		return lv, seenHoldOrdered, nil
	}
	lv.State, lv.Purchasable = catalog.OutOfStock, false
	lv.setReason(locale.M("Your hold on %s ran out at %s UTC and the units went back to the sale; claim again if any are left.",
		lv.FullName, h.expiresAt.Format("15:04")))
	return lv, seenHoldExpired, nil
}
