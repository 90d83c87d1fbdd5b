// Package checkout turns a cart into an order: it checks the email and
// address, prices shipping, tax and coupons on the server (a client never
// sends a price), and places the order in one transaction with its stock
// reserved and its coupon redeemed.
package checkout

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"mistore/internal/catalog"
	"mistore/internal/db"
	"mistore/internal/flashsale"
	"mistore/internal/inventory"
	"mistore/internal/locale"
	"mistore/internal/market"
	"mistore/internal/money"
	"mistore/internal/notify"
	"mistore/internal/order"
)

// Domain outcomes of a checkout.
var (
	ErrEmptyCart   = errors.New("the cart is empty")
	ErrNotSold     = errors.New("not sold in this market")
	ErrCoupon      = errors.New("coupon cannot be used")
	ErrUnknownCart = errors.New("cart not found")
)

// NotSoldError names the cart line that cannot be bought, and why.
type NotSoldError struct {
	SKU    string
	Reason string
	// Why is Reason as a message, for pages to say in their language.
	Why locale.Msg
}

func notSold(sku string, why locale.Msg) *NotSoldError {
	return &NotSoldError{SKU: sku, Reason: why.String(), Why: why}
}

func (e *NotSoldError) Error() string { return e.Reason }

// Unwrap makes errors.Is(err, ErrNotSold) hold.
func (e *NotSoldError) Unwrap() error { return ErrNotSold }

// CouponError says why a coupon cannot be used.
type CouponError struct {
	Msg string
	// Why is Msg as a message, for pages to say in their language.
	Why locale.Msg
}

func couponError(format string, args ...any) *CouponError {
	why := locale.M(format, args...)
	return &CouponError{Msg: why.String(), Why: why}
}

func (e *CouponError) Error() string { return e.Msg }

// Unwrap makes errors.Is(err, ErrCoupon) hold.
func (e *CouponError) Unwrap() error { return ErrCoupon }

// Carts is what checkout needs of carts.
type Carts interface {
	// Check returns the market of cart id if token opens it, else an
	// error wrapping ErrUnknownCart.
	Check(ctx context.Context, id, token string) (string, error)
	// Authorize checks token against cart id without reading the cart,
	// for callers that read it themselves; an error wraps ErrUnknownCart.
	Authorize(ctx context.Context, id, token string) error
	// LinesTx returns a cart's lines inside tx.
	LinesTx(ctx context.Context, tx db.Querier, id string) ([]inventory.Line, error)
}

// Claims is what checkout needs of flash sales (flashsale.Service): the
// claim a cart holds, and handing its units to the order.
type Claims interface {
	// ForCart returns the claim cart id holds, read through q, or nil.
	ForCart(ctx context.Context, q db.Querier, cartID string) (*flashsale.Hold, error)
	// Take moves the claim's units to the order inside tx; an error
	// wrapping flashsale.ErrClaimExpired once the claim ran out.
	Take(ctx context.Context, tx db.Querier, cartID, orderNumber, owner string, expires time.Time) error
}

// Service checks out carts.
type Service struct {
	db       *db.DB
	catalog  *catalog.Service
	carts    Carts
	orders   *order.Service
	claims   Claims
	provider string
	now      func() time.Time
	// placed counts the orders this process placed, for metrics.
	placed atomic.Uint64
	// rules are the markets' shipping methods and tax rates, in memory.
	rules *rules
}

// SetClaims lets checkout sell flash-sale claim carts. Without it (a store
// with no flash sales) every cart is an ordinary cart. Call it before the
// service is used; c must not be a nil pointer in a non-nil interface.
func (s *Service) SetClaims(c Claims) { s.claims = c }

// NewService returns a checkout service that takes payment with the
// provider named provider.
func NewService(d *db.DB, c *catalog.Service, carts Carts, orders *order.Service, provider string, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: d, catalog: c, carts: carts, orders: orders, provider: provider, now: now, rules: newRules(d, now)}
}

// RatesChanged tells the service that shipping methods or tax rates
// changed, here (Admin.SetTaxRate) or in another instance
// (changefeed.Rates): checkouts priced from now on read them afresh. It
// has the shape of a changefeed handler.
func (s *Service) RatesChanged(context.Context, string) { s.rules.forget() }

// Request is what a shopper sends to check out. It has no prices: the
// store computes every amount.
type Request struct {
	Email          string
	Address        order.Address
	ShippingMethod string
	CouponCode     string
}

// Quote is a priced checkout.
type Quote struct {
	Market      market.Market
	Lines       []QuoteLine
	Method      Method
	CouponCode  string
	TaxName     string
	TaxIncluded bool
	Subtotal    money.Money
	Discount    money.Money
	Shipping    money.Money
	Tax         money.Money
	Total       money.Money
}

// QuoteLine is a priced cart line.
type QuoteLine struct {
	SKU, Name, Variant string
	Quantity           int
	UnitPrice, Total   money.Money
	Tax                money.Money
}

// ShippingMethods prices the market's shipping methods for a cart sent
// to region (a US state code; "" when it is not known yet: every method).
func (s *Service) ShippingMethods(ctx context.Context, cartID, token, region string) ([]Method, error) {
	m, lines, h, err := s.openCart(ctx, cartID, token)
	if err != nil {
		return nil, err
	}
	priced, err := s.priceLines(ctx, m, lines, h)
	if err != nil && !errors.Is(err, ErrNotSold) && !errors.Is(err, ErrEmptyCart) && !errors.Is(err, flashsale.ErrClaimExpired) {
		return nil, err
	}
	pr, err := s.rules.current(ctx)
	if err != nil {
		return nil, err
	}
	rules := pr.shippingMethods(m.Code, region)
	var subtotal int64
	weight := 0
	for _, l := range priced {
		subtotal += l.unit * int64(l.quantity)
		weight += l.weightG * l.quantity
	}
	out := make([]Method, len(rules))
	for i, r := range rules {
		out[i] = Method{Code: r.code, Name: r.name, Days: r.days, Price: money.New(r.priceFor(subtotal, weight), m.Currency)}
	}
	return out, nil
}

// openCart checks the cart's token and returns its market, lines and the
// flash-sale claim it holds (nil for an ordinary cart).
func (s *Service) openCart(ctx context.Context, cartID, token string) (market.Market, []inventory.Line, *flashsale.Hold, error) {
	code, err := s.carts.Check(ctx, cartID, token)
	if err != nil {
		return market.Market{}, nil, nil, err
	}
	m, err := s.market(ctx, code)
	if err != nil {
		return market.Market{}, nil, nil, err
	}
	lines, err := s.carts.LinesTx(ctx, s.db.Reader(), cartID)
	if err != nil {
		return market.Market{}, nil, nil, err
	}
	h, err := s.holdOf(ctx, s.db.Reader(), cartID)
	return m, lines, h, err
}

// holdOf returns the claim cart id holds, or nil.
func (s *Service) holdOf(ctx context.Context, q db.Querier, cartID string) (*flashsale.Hold, error) {
	if s.claims == nil {
		return nil, nil
	}
	h, err := s.claims.ForCart(ctx, q, cartID)
	if err != nil {
		return nil, fmt.Errorf("cart %s: %w", cartID, err)
	}
	return h, nil
}

// claimExpired is the error for checking out a claim that ran out.
func claimExpired(h *flashsale.Hold) error {
	return fmt.Errorf("the flash-sale claim on %s ran out at %s: %w", h.SKU, h.ExpiresAt.UTC().Format("15:04 UTC"), flashsale.ErrClaimExpired)
}

func (s *Service) market(ctx context.Context, code string) (market.Market, error) {
	set, err := s.catalog.Markets(ctx)
	if err != nil {
		return market.Market{}, err
	}
	return set.Get(code)
}

// priceLines fixes each line's price from the catalog and checks that the
// market may sell it (all but stock, which the reservation decides). The
// line of a flash-sale claim h (nil for none) is priced at the sale's
// price and is not held to stock or the product's limit: the claim holds
// its units, within the sale's own limit.
func (s *Service) priceLines(ctx context.Context, m market.Market, lines []inventory.Line, h *flashsale.Hold) ([]pricedLine, error) {
	if len(lines) == 0 {
		return nil, ErrEmptyCart
	}
	now := s.now()
	out := make([]pricedLine, 0, len(lines))
	for _, l := range lines {
		it, err := s.catalog.Item(ctx, m.Code, l.SKU)
		if errors.Is(err, catalog.ErrNotFound) {
			return nil, notSold(l.SKU, locale.M("%s is no longer sold.", l.SKU))
		}
		if err != nil {
			return nil, err
		}
		if h != nil && l.SKU == h.SKU {
			p, err := heldLine(m, it, l, h, now)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
			continue
		}
		// Stock is the reservation's to decide, atomically; here the other
		// clauses of the rule: listed, launched, certified, priced.
		if a := it.Decide(l.Quantity, l.Quantity, now); !a.Purchasable() {
			return nil, &NotSoldError{SKU: l.SKU, Reason: a.Reason, Why: a.Why}
		}
		if l.Quantity > it.Product.Limit() {
			return nil, notSold(l.SKU, locale.M("At most %d of %s per order.", it.Product.Limit(), it.Product.Name))
		}
		out = append(out, pricedLine{
			sku: l.SKU, name: it.Product.Name, variant: it.Variant.Name, quantity: l.Quantity,
			unit: it.Price.Amount, weightG: it.Variant.WeightG,
		})
	}
	return out, nil
}

// heldLine prices the line of claim h at the sale's price. The market must
// still sell the product apart from stock and price (listed, certified;
// a sale may run before the launch date), as when the sale was created.
func heldLine(m market.Market, it *catalog.Item, l inventory.Line, h *flashsale.Hold, now time.Time) (pricedLine, error) {
	if h.State != "live" || !now.Before(h.ExpiresAt) {
		return pricedLine{}, claimExpired(h)
	}
	if l.Quantity != h.Quantity || h.Market != m.Code || h.UnitPrice.Currency != m.Currency {
		return pricedLine{}, fmt.Errorf("cart line %s does not match its flash-sale claim %d", l.SKU, h.ClaimID)
	}
	v := *it.Variant
	v.Prices = map[string]money.Money{m.Code: h.UnitPrice}
	if a := catalog.Decide(it.Product, &v, it.Rules, l.Quantity, l.Quantity, now); a.State == catalog.NotSold {
		return pricedLine{}, &NotSoldError{SKU: l.SKU, Reason: a.Reason, Why: a.Why}
	}
	return pricedLine{
		sku: l.SKU, name: it.Product.Name, variant: it.Variant.Name, quantity: l.Quantity,
		unit: h.UnitPrice.Amount, weightG: it.Variant.WeightG,
	}, nil
}

// couponFor checks a coupon for a cart and returns it for pricing.
func couponFor(ctx context.Context, q db.Querier, code string, m market.Market, subtotal int64, email string, now time.Time) (*coupon, error) {
	var kind string
	var percent, amount, minSub sql.NullInt64
	var currency, mk sql.NullString
	var starts time.Time
	var ends sql.NullTime
	var maxUses, perEmail sql.NullInt64
	var used int64
	err := q.QueryRowContext(ctx, `SELECT kind, percent, amount, currency, market, min_subtotal, starts_at, ends_at, max_uses, max_uses_per_email, used
		FROM coupons WHERE code = $1`, code).Scan(&kind, &percent, &amount, &currency, &mk, &minSub, &starts, &ends, &maxUses, &perEmail, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, couponError("There is no coupon %s.", code)
	}
	if err != nil {
		return nil, fmt.Errorf("coupon %s: %w", code, err)
	}
	switch {
	case now.Before(starts):
		return nil, couponError("Coupon %s is not valid yet.", code)
	case ends.Valid && !now.Before(ends.Time):
		return nil, couponError("Coupon %s has expired.", code)
	case mk.Valid && mk.String != m.Code:
		return nil, couponError("Coupon %s is not valid in %s.", code, locale.M(m.Place()))
	case kind == "fixed" && currency.String != m.Currency:
		return nil, couponError("Coupon %s is not valid in %s.", code, m.Currency)
	case maxUses.Valid && used >= maxUses.Int64:
		return nil, couponError("Coupon %s has been used up.", code)
	case subtotal < minSub.Int64:
		return nil, couponError("Coupon %s needs a subtotal of at least %s.", code, money.New(minSub.Int64, m.Currency).Format())
	}
	if perEmail.Valid && email != "" {
		var n int64
		if err := q.QueryRowContext(ctx, "SELECT count(*) FROM coupon_redemptions WHERE code = $1 AND email = $2", code, strings.ToLower(email)).Scan(&n); err != nil {
			return nil, err
		}
		if n >= perEmail.Int64 {
			return nil, couponError("Coupon %s has already been used with this email address.", code)
		}
	}
	c := &coupon{code: code}
	if kind == "percent" {
		c.percent = percent.Int64
	} else {
		c.amount = amount.Int64
	}
	return c, nil
}

// NormalizeCoupon is a coupon code as stored: trimmed, upper case.
func NormalizeCoupon(code string) string { return strings.ToUpper(strings.TrimSpace(code)) }

// quote prices a checkout against q (a pool, or the placing transaction).
func (s *Service) quote(ctx context.Context, q db.Querier, pr *pricingRules, m market.Market, lines []inventory.Line, h *flashsale.Hold, req *Request) (*Quote, []pricedLine, error) {
	email, err := NormalizeEmail(req.Email)
	if err != nil {
		return nil, nil, err
	}
	req.Email = email
	addr, err := NormalizeAddress(req.Address, m.CountryCodes)
	if err != nil {
		return nil, nil, err
	}
	req.Address = addr
	priced, err := s.priceLines(ctx, m, lines, h)
	if err != nil {
		return nil, nil, err
	}
	rules := pr.shippingMethods(m.Code, "")
	var ship *methodRule
	for i := range rules {
		if rules[i].code == req.ShippingMethod {
			ship = &rules[i]
		}
	}
	if ship == nil {
		return nil, nil, fieldError("shipping_method", "There is no shipping method %q in %s.", req.ShippingMethod, locale.M(m.Place()))
	}
	if !ship.offeredTo(req.Address.Region) {
		return nil, nil, fieldError("shipping_method", "Is not offered to %s: %s ships to %s only.", req.Address.Region, ship.name, strings.Join(ship.regions, ", "))
	}
	var subtotal int64
	for _, l := range priced {
		subtotal += l.unit * int64(l.quantity)
	}
	var c *coupon
	req.CouponCode = NormalizeCoupon(req.CouponCode)
	if req.CouponCode != "" {
		if c, err = couponFor(ctx, q, req.CouponCode, m, subtotal, email, s.now()); err != nil {
			return nil, nil, err
		}
	}
	tax := pr.taxFor(m, addr.Region)
	t, priced, err := computeTotals(priced, c, *ship, tax)
	if err != nil {
		return nil, nil, err
	}
	cur := m.Currency
	qt := &Quote{
		Market: m, CouponCode: req.CouponCode, TaxName: tax.name, TaxIncluded: m.TaxIncluded,
		Method:   Method{Code: ship.code, Name: ship.name, Days: ship.days, Price: money.New(t.Shipping, cur)},
		Subtotal: money.New(t.Subtotal, cur), Discount: money.New(t.Discount, cur), Shipping: money.New(t.Shipping, cur),
		Tax: money.New(t.Tax, cur), Total: money.New(t.Total, cur),
	}
	for _, l := range priced {
		qt.Lines = append(qt.Lines, QuoteLine{
			SKU: l.sku, Name: l.name, Variant: l.variant, Quantity: l.quantity,
			UnitPrice: money.New(l.unit, cur), Total: money.New(l.total, cur), Tax: money.New(l.tax, cur),
		})
	}
	return qt, priced, nil
}

// Quote prices a checkout without placing it, for the checkout page.
func (s *Service) Quote(ctx context.Context, cartID, token string, req Request) (*Quote, error) {
	m, lines, h, err := s.openCart(ctx, cartID, token)
	if err != nil {
		return nil, err
	}
	pr, err := s.rules.current(ctx)
	if err != nil {
		return nil, err
	}
	q, _, err := s.quote(ctx, s.db.Reader(), pr, m, lines, h, &req)
	return q, err
}

// Place turns a cart into an order in one transaction: the cart is marked
// as checked out, the order and its lines are written, the coupon is
// redeemed and the stock reserved for the payment window, or nothing
// happens. Checking out the same cart twice, even at once, gives one
// order: the second call returns the first's. The payment session is
// opened in the same transaction when the provider keeps its sessions in
// the store's database, else after the commit; returnURL gives the page
// the shopper comes back to. created is false when the cart had been
// checked out before.
func (s *Service) Place(ctx context.Context, cartID, token string, req Request, returnURL func(o *order.Order, token string) string) (placed *order.Order, created bool, err error) {
	defer func() {
		if err == nil && created {
			s.placed.Add(1)
		}
	}()
	if err := s.carts.Authorize(ctx, cartID, token); err != nil {
		return nil, false, err
	}
	// Read before the transaction: a write transaction must not wait on
	// the reader pool.
	pr, err := s.rules.current(ctx)
	if err != nil {
		return nil, false, err
	}
	err = s.db.Tx(ctx, func(tx db.Querier) error {
		now := db.Time(s.now())
		// Claim the cart first: on PostgreSQL a concurrent checkout of
		// the same cart waits here on the row and then finds it taken;
		// SQLite's one writer runs them one after the other anyway. The
		// cart's row is written once, at the end, when it is closed.
		lock := ""
		if s.db.Dialect == db.Postgres {
			lock = " FOR UPDATE"
		}
		var code string
		err := tx.QueryRowContext(ctx, "SELECT market FROM carts WHERE id = $1 AND order_number IS NULL"+lock, cartID).Scan(&code)
		if errors.Is(err, sql.ErrNoRows) {
			// Checked out before, or no such cart.
			placed, err = order.ByCart(ctx, tx, cartID)
			if errors.Is(err, order.ErrNotFound) {
				return fmt.Errorf("cart %s: %w", cartID, ErrUnknownCart)
			}
			return err
		}
		if err != nil {
			return fmt.Errorf("claim cart: %w", err)
		}
		m, err := s.market(ctx, code)
		if err != nil {
			return err
		}
		lines, err := s.carts.LinesTx(ctx, tx, cartID)
		if err != nil {
			return err
		}
		h, err := s.holdOf(ctx, tx, cartID)
		if err != nil {
			return err
		}
		q, priced, err := s.quote(ctx, tx, pr, m, lines, h, &req)
		if err != nil {
			return err
		}
		// A claim's order has until the claim runs out to be paid, not
		// longer: its units are the sale's, promised to nobody else only
		// for that long.
		expires := now.Add(order.PaymentWindow)
		if h != nil && h.ExpiresAt.Before(expires) {
			expires = db.Time(h.ExpiresAt)
		}
		o := &order.Order{
			Market: m.Code, CartID: cartID, Email: req.Email, Status: order.PendingPayment, Currency: m.Currency,
			Subtotal: q.Subtotal, Discount: q.Discount, Shipping: q.Shipping, Tax: q.Tax, Total: q.Total,
			TaxIncluded: m.TaxIncluded, CouponCode: q.CouponCode, ShippingMethod: q.Method.Code, ShippingName: q.Method.Name,
			Address: req.Address, PaymentProvider: s.provider, PaymentStatus: "none",
			ExpiresAt: expires, PaidAmount: money.New(0, m.Currency), RefundedAmount: money.New(0, m.Currency),
		}
		for _, l := range priced {
			o.Lines = append(o.Lines, order.Line{
				SKU: l.sku, Name: l.name, VariantName: l.variant, Quantity: l.quantity,
				UnitPrice: money.New(l.unit, m.Currency), Total: money.New(l.total, m.Currency), Tax: money.New(l.tax, m.Currency),
			})
		}
		if err := order.Allocate(ctx, tx, s.db.Dialect, o); err != nil {
			return err
		}
		if _, err := s.orders.StartPaymentTx(ctx, tx, o, returnURL(o, s.orders.Tokens().For(o.Number))); err != nil {
			return err
		}
		if err := order.Insert(ctx, tx, s.db.Dialect, o); err != nil {
			return err
		}
		if err := notify.EmitEvent(ctx, tx, notify.EventOrderPlaced, order.WebhookData(o, o.Status)); err != nil {
			return err
		}
		if q.CouponCode != "" {
			if err := redeem(ctx, tx, q.CouponCode, o, now); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, "UPDATE carts SET order_number = $2, updated_at = $3 WHERE id = $1", cartID, o.Number, now); err != nil {
			return fmt.Errorf("close cart: %w", err)
		}
		// The stock last: its rows are the hot spot every order for the
		// same SKU takes in turn, held from here to the commit. A claim's
		// units are the sale's (its row is as hot): they move from its
		// pool, and are not reserved again.
		rest := lines
		if h != nil {
			if err := s.claims.Take(ctx, tx, cartID, o.Number, o.Owner(), o.ExpiresAt); err != nil {
				return err
			}
			rest = make([]inventory.Line, 0, len(lines))
			for _, l := range lines {
				if l.SKU != h.SKU {
					rest = append(rest, l)
				}
			}
		}
		if len(rest) > 0 {
			if err := inventory.Reserve(ctx, tx, m.Code, o.Owner(), rest, o.ExpiresAt); err != nil {
				return err
			}
		}
		placed, created = o, true
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	if placed.Status == order.PendingPayment && placed.PaymentURL == "" {
		token := s.orders.Tokens().For(placed.Number)
		// A provider that fails now leaves the order waiting: the order
		// page offers to start the payment again.
		if started, err := s.orders.StartPayment(ctx, placed, returnURL(placed, token)); err == nil {
			placed = started
		}
	}
	return placed, created, nil
}

// redeem counts one use of a coupon atomically: the conditional UPDATE
// takes the coupon row, so concurrent redemptions queue on it and a limit
// of N gives exactly N uses; the per-email count that follows is read
// while the row is held.
func redeem(ctx context.Context, tx db.Querier, code string, o *order.Order, now time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE coupons SET used = used + 1
		WHERE code = $1 AND (max_uses IS NULL OR used < max_uses)`, code)
	if err != nil {
		return fmt.Errorf("redeem %s: %w", code, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return couponError("Coupon %s has been used up.", code)
	}
	var perEmail sql.NullInt64
	if err := tx.QueryRowContext(ctx, "SELECT max_uses_per_email FROM coupons WHERE code = $1", code).Scan(&perEmail); err != nil {
		return err
	}
	email := strings.ToLower(o.Email)
	if perEmail.Valid {
		var n int64
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM coupon_redemptions WHERE code = $1 AND email = $2", code, email).Scan(&n); err != nil {
			return err
		}
		if n >= perEmail.Int64 {
			return couponError("Coupon %s has already been used with this email address.", code)
		}
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO coupon_redemptions (code, order_id, email, created_at) VALUES ($1, $2, $3, $4)", code, o.ID, email, now)
	return err
}

// Placed returns how many orders this process placed since it started.
func (s *Service) Placed() uint64 { return s.placed.Load() }
