package cart

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"mistore/internal/catalog"
	"mistore/internal/locale"
	"mistore/internal/market"
	"mistore/internal/money"
)

// View is a cart as the shopper sees it now: every line decided against
// the catalog and fresh stock.
type View struct {
	ID       string
	Market   string
	Currency string
	Lines    []LineView
	// Subtotal sums the lines that can be bought now; lines that cannot
	// are shown but not counted.
	Subtotal money.Money
	// Count is the number of units in all lines.
	Count int
	// Notices say what changed since the shopper last looked: prices,
	// availability, stock running short. Each is told once.
	Notices []string
	// NoticeMsgs are the same notices, to be said in the page's language
	// (Notices is what the API answers, in English).
	NoticeMsgs []locale.Msg
	// CheckedOut is set once the cart has become an order.
	CheckedOut bool
	// Claim is set when the cart holds a flash-sale claim's units, and
	// ClaimLive while the claim still holds them, until ClaimExpiresAt.
	Claim, ClaimLive bool
	ClaimExpiresAt   time.Time
}

// Purchasable reports whether at least one line can be bought now.
func (v *View) Purchasable() bool {
	for i := range v.Lines {
		if v.Lines[i].Purchasable {
			return true
		}
	}
	return false
}

// LineView is one cart line as the shopper sees it.
type LineView struct {
	SKU         string
	Name        string // the product's name
	Slug        string
	VariantName string
	// FullName tells the variant apart: "Mistore Band 8 (Black)".
	FullName string
	Image    string
	Quantity int
	// UnitPrice is the price in the cart's market now; HasPrice is false
	// when the variant has none there.
	UnitPrice money.Money
	HasPrice  bool
	// Total is UnitPrice times Quantity (zero without a price).
	Total money.Money
	// State and Reason are the availability decision for the whole line.
	State  catalog.State
	Reason string
	// ReasonMsg is Reason to translate; zero when the reason came as
	// English text only, which pages then show as it is.
	ReasonMsg   locale.Msg
	Purchasable bool
	// Limit is the most units of the SKU the cart may hold.
	Limit int
	// HeldUntil is set on the line of a flash-sale claim: when the claim
	// lets its units go unless the cart is checked out.
	HeldUntil time.Time
}

func emptyView(id string, m market.Market) *View {
	return &View{ID: id, Market: m.Code, Currency: m.Currency, Lines: []LineView{}, Subtotal: money.New(0, m.Currency)}
}

// seenLine is a line as stored, with what the shopper last saw of it.
type seenLine struct {
	sku       string
	quantity  int
	seenPrice sql.NullInt64
	seenState string
}

// view builds cart id's view and records what it showed, one UPDATE per
// line whose price or state changed and none when nothing did.
func (s *Service) view(ctx context.Context, id string) (*View, error) {
	c, h, err := s.withHold(ctx, id)
	if err != nil {
		return nil, err
	}
	m, err := s.market(ctx, c.Market)
	if err != nil {
		return nil, fmt.Errorf("cart %s: %w", id, err)
	}
	rows, err := s.db.Reader().QueryContext(ctx, `SELECT sku, quantity, seen_price, seen_state FROM cart_lines
		WHERE cart_id = $1 ORDER BY position, sku`, id)
	if err != nil {
		return nil, fmt.Errorf("cart %s: lines: %w", id, err)
	}
	var lines []seenLine
	for rows.Next() {
		var l seenLine
		if err := rows.Scan(&l.sku, &l.quantity, &l.seenPrice, &l.seenState); err != nil {
			rows.Close()
			return nil, fmt.Errorf("cart %s: lines: %w", id, err)
		}
		lines = append(lines, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cart %s: lines: %w", id, err)
	}
	skus := make([]string, len(lines))
	for i, l := range lines {
		skus[i] = l.sku
	}
	stock, err := s.inv.Available(ctx, m.Code, skus)
	if err != nil {
		return nil, fmt.Errorf("cart %s: stock: %w", id, err)
	}
	v := emptyView(id, m)
	v.CheckedOut = c.CheckedOut()
	now := s.now()
	if h != nil {
		v.Claim, v.ClaimLive, v.ClaimExpiresAt = true, h.live(now), h.expiresAt
	}
	for _, l := range lines {
		lv, state, err := s.decideLine(ctx, m, l, stock[l.sku], now)
		if err != nil {
			return nil, fmt.Errorf("cart %s: %w", id, err)
		}
		held := h != nil && h.sku == l.sku
		if held {
			if lv, state, err = s.decideHeld(ctx, m, lv, h, now); err != nil {
				return nil, fmt.Errorf("cart %s: %w", id, err)
			}
		}
		if lv.HasPrice {
			if lv.Total, err = lv.UnitPrice.Mul(int64(lv.Quantity)); err != nil {
				return nil, fmt.Errorf("cart %s: line %s: %w", id, l.sku, err)
			}
		} else {
			lv.Total = money.New(0, m.Currency)
		}
		if lv.Purchasable {
			if v.Subtotal, err = v.Subtotal.Add(lv.Total); err != nil {
				return nil, fmt.Errorf("cart %s: subtotal: %w", id, err)
			}
		}
		v.Count += lv.Quantity
		v.Lines = append(v.Lines, lv)

		price := sql.NullInt64{Int64: lv.UnitPrice.Amount, Valid: lv.HasPrice}
		if price == l.seenPrice && state == l.seenState {
			continue
		}
		told, err := s.markSeen(ctx, id, l, price, state)
		if err != nil {
			return nil, err
		}
		// Another view of the same cart got there first and told it.
		if !told {
			continue
		}
		if held {
			// The price is the sale's and cannot change; only the hold
			// running out is news.
			if l.seenState != "" && state != l.seenState && (state == seenHoldExpired || state == string(catalog.NotSold)) {
				v.tell(lv.reason())
			}
			continue
		}
		for _, n := range notices(m, lv, l, price, state, stock[l.sku]) {
			v.tell(n)
		}
	}
	return v, nil
}

// decideLine applies the availability rule to a whole line and returns it
// with the state to record as seen (stateKey).
func (s *Service) decideLine(ctx context.Context, m market.Market, l seenLine, stock int, now time.Time) (LineView, string, error) {
	lv := LineView{SKU: l.sku, Name: l.sku, FullName: l.sku, Quantity: l.quantity, Limit: catalog.DefaultPurchaseLimit}
	it, err := s.catalog.Item(ctx, m.Code, l.sku)
	if errors.Is(err, catalog.ErrNotFound) {
		// Only a catalog snapshot older than the line can lack its SKU
		// (cart lines reference variants); say so rather than fail.
		lv.State = catalog.NotSold
		lv.setReason(locale.M("This product is no longer sold."))
		return lv, string(lv.State), nil
	}
	if err != nil {
		return LineView{}, "", fmt.Errorf("catalog item %s: %w", l.sku, err)
	}
	a := it.Decide(stock, l.quantity, now)
	lv.Name, lv.Slug, lv.VariantName, lv.Image = it.Product.Name, it.Product.Slug, it.Variant.Name, it.Product.CoverFor(it.Variant.SKU)
	lv.FullName = catalog.FullName(it.Product, it.Variant)
	lv.UnitPrice, lv.HasPrice = it.Price, it.HasPrice
	lv.State, lv.Reason, lv.ReasonMsg, lv.Purchasable = a.State, a.Reason, a.Why, a.Purchasable()
	lv.Limit = it.Product.Limit()
	if lv.Purchasable && lv.Quantity > lv.Limit {
		// Staff lowered the limit after the line was made: the line stays,
		// but cannot be ordered as it is.
		lv.Purchasable = false
		lv.setReason(locale.M("You can buy at most %d of %s at a time; lower the quantity to order it.", lv.Limit, lv.FullName))
		return lv, overLimit, nil
	}
	return lv, stateKey(a, stock), nil
}

// overLimit is the seen state of a line above its product's limit.
const overLimit = "over_limit"

// markSeen records what a view showed of line l, only if nobody else has
// recorded something newer since l was read, and reports whether it did:
// so each change is told once even to two views at the same instant.
func (s *Service) markSeen(ctx context.Context, id string, l seenLine, price sql.NullInt64, state string) (bool, error) {
	oldPrice := int64(-1)
	if l.seenPrice.Valid {
		oldPrice = l.seenPrice.Int64
	}
	var newPrice any
	if price.Valid {
		newPrice = price.Int64
	}
	res, err := s.db.ExecRelaxed(ctx, `UPDATE cart_lines SET seen_price = $3, seen_state = $4
		WHERE cart_id = $1 AND sku = $2 AND coalesce(seen_price, -1) = $5 AND seen_state = $6`,
		id, l.sku, newPrice, state, oldPrice, l.seenState)
	if err != nil {
		return false, fmt.Errorf("cart %s: mark %s seen: %w", id, l.sku, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("cart %s: mark %s seen: %w", id, l.sku, err)
	}
	return n == 1, nil
}

// stateKey is what a line's seen_state records: the state, and for a line
// short of stock how many units are left, so that "only 3 left" becoming
// "only 1 left" is news too.
func stateKey(a catalog.Availability, stock int) string {
	if a.State == catalog.OutOfStock && stock > 0 {
		return string(a.State) + ":" + strconv.Itoa(stock)
	}
	return string(a.State)
}

// tell adds notice n, in English for the API and as a message for pages.
func (v *View) tell(n locale.Msg) {
	v.Notices = append(v.Notices, n.String())
	v.NoticeMsgs = append(v.NoticeMsgs, n)
}

// setReason sets the line's reason, in English and as a message.
func (lv *LineView) setReason(m locale.Msg) {
	lv.Reason, lv.ReasonMsg = m.String(), m
}

// reason is the line's reason as a message: an English-only reason is
// passed through as a message of its own, so that a notice quoting it
// reads the same as before in English.
func (lv *LineView) reason() locale.Msg {
	if !lv.ReasonMsg.IsZero() {
		return lv.ReasonMsg
	}
	return locale.Msg{Key: lv.Reason}
}

// notices says in words how line lv changed from what the shopper saw (l)
// to what they see now (price, state).
func notices(m market.Market, lv LineView, l seenLine, price sql.NullInt64, state string, stock int) []locale.Msg {
	var out []locale.Msg
	if l.seenPrice.Valid && price.Valid && l.seenPrice.Int64 != price.Int64 {
		out = append(out, locale.M("The price of %s changed from %s to %s.", lv.FullName,
			money.New(l.seenPrice.Int64, m.Currency).Format(), money.New(price.Int64, m.Currency).Format()))
	}
	// A line nobody has seen yet (made by another part of the store) has
	// no state to compare with.
	if l.seenState == "" || state == l.seenState {
		return out
	}
	switch {
	case state == overLimit:
		out = append(out, lv.reason())
	case lv.State == catalog.Available:
		out = append(out, locale.M("%s is available again.", lv.FullName))
	case lv.State == catalog.OutOfStock && stock == 1:
		out = append(out, locale.M("Only 1 of %s is left; lower the quantity to 1 to order it.", lv.FullName))
	case lv.State == catalog.OutOfStock && stock > 0:
		out = append(out, locale.M("Only %d of %s are left; lower the quantity to %d to order it.", stock, lv.FullName, stock))
	case lv.State == catalog.OutOfStock:
		out = append(out, locale.M("%s is now out of stock; it stays in your cart but cannot be ordered until it is back.", lv.FullName))
	default:
		why := lv.reason()
		if lv.ReasonMsg.IsZero() {
			why.Key = strings.TrimSpace(why.Key)
		}
		out = append(out, locale.M("%s is no longer available in %s: %s", lv.FullName, locale.M(m.Place()), why))
	}
	return out
}
