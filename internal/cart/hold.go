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

// withHold reads cart id's own row and the claim it holds (nil for an
// ordinary cart) in one query.
func (s *Service) withHold(ctx context.Context, id string) (Summary, *hold, error) {
	c := Summary{ID: id}
	var order, sku, currency, state sql.NullString
	var quantity, price sql.NullInt64
	var expires sql.NullTime
	err := s.db.Reader().QueryRowContext(ctx, `SELECT c.market, c.order_number, f.sku, cl.quantity, f.price, f.currency, cl.state, cl.expires_at
		FROM carts c LEFT JOIN flash_sale_claims cl ON cl.cart_id = c.id LEFT JOIN flash_sales f ON f.id = cl.sale_id
		WHERE c.id = $1`, id).Scan(&c.Market, &order, &sku, &quantity, &price, &currency, &state, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return Summary{}, nil, errNotFound()
	}
	if err != nil {
		return Summary{}, nil, fmt.Errorf("cart %s: %w", id, err)
	}
	c.OrderNumber = order.String
	if !sku.Valid {
		return c, nil, nil
	}
	return c, &hold{sku: sku.String, quantity: int(quantity.Int64), price: money.New(price.Int64, currency.String),
		state: state.String, expiresAt: expires.Time.UTC()}, nil
}

// live reports whether the claim still holds its units at now.
func (h *hold) live(now time.Time) bool { return h.state == "live" && now.Before(h.expiresAt) }

// claimCart is the answer to a change of a claim cart.
func claimCart() error {
	return fail(ErrClaimCart, "This cart holds your flash-sale claim and cannot be changed; check it out as it is, or shop in your own cart.")
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
