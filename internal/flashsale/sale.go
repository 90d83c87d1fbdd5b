package flashsale

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"mistore/internal/audit"
	"mistore/internal/catalog"
	"mistore/internal/changefeed"
	"mistore/internal/db"
	"mistore/internal/input"
	"mistore/internal/market"
	"mistore/internal/money"
)

var (
	// ErrInvalid is what every *input.FieldError about a sale's fields
	// wraps (422 invalid_field).
	ErrInvalid = errors.New("invalid flash sale")
	// ErrNotSellable: the product may not be sold in the sale's market for
	// a reason other than stock (not listed, not certified, not priced).
	// It comes as an *input.FieldError on "sku" whose sentence says why.
	ErrNotSellable = errors.New("the product is not sold in that market")
)

// Limits of what staff may set.
const (
	// MaxQuantity is the most units one sale may offer.
	MaxQuantity = 1_000_000
	// MaxPerCustomer is the highest per-customer limit: one claim's units
	// sit on one cart line, which holds at most 1000.
	MaxPerCustomer = 1000
	// MaxPrice bounds a sale price, in minor units.
	MaxPrice    = catalog.MaxPrice
	maxTitleLen = 200
	// listEnded is how long an ended sale stays on the shoppers' list.
	listEnded = 7 * 24 * time.Hour
)

// NewSale is what staff give to create a sale.
type NewSale struct {
	Market           string
	SKU              string
	Title            string
	Price            int64 // minor units, in the market's currency
	Quantity         int
	PerCustomerLimit int
	StartsAt         time.Time
	EndsAt           time.Time
	// RegistrationClosesAt zero: no registration needed.
	RegistrationClosesAt time.Time
}

func invalid(field, format string, args ...any) error {
	return &input.FieldError{Field: field, Msg: fmt.Sprintf(format, args...), Err: ErrInvalid}
}

// checkTimes validates a sale's window and registration deadline.
func checkTimes(starts, ends, regCloses time.Time) error {
	switch {
	case starts.IsZero():
		return invalid("starts_at", "The start time is required.")
	case ends.IsZero():
		return invalid("ends_at", "The end time is required.")
	case !ends.After(starts):
		return invalid("ends_at", "The sale must end after it starts.")
	case !regCloses.IsZero() && regCloses.After(starts):
		return invalid("registration_closes_at", "Registration must close no later than the sale starts.")
	}
	return nil
}

// Create validates ns, sets the sale's units aside in one warehouse of the
// market and writes the sale, audited (the actor comes from ctx). A
// product the market may not sell (apart from stock) is refused with an
// ErrNotSellable field error; a market with no warehouse holding all the
// units available with an error wrapping inventory.ErrOutOfStock.
func (s *Service) Create(ctx context.Context, ns NewSale) (*Sale, error) {
	ns.Title = strings.TrimSpace(ns.Title)
	ns.SKU = strings.TrimSpace(ns.SKU)
	ns.Market = strings.TrimSpace(ns.Market)
	now := db.Time(s.now())
	set, err := s.catalog.Markets(ctx)
	if err != nil {
		return nil, fmt.Errorf("create flash sale: markets: %w", err)
	}
	m, err := set.Get(ns.Market)
	if errors.Is(err, market.ErrNotFound) {
		return nil, invalid("market", "There is no market %q.", ns.Market)
	}
	if err != nil {
		return nil, fmt.Errorf("create flash sale: %w", err)
	}
	if ns.SKU == "" {
		return nil, invalid("sku", "The SKU is required.")
	}
	it, err := s.catalog.Item(ctx, m.Code, ns.SKU)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, invalid("sku", "There is no product with SKU %q.", ns.SKU)
	}
	if err != nil {
		return nil, fmt.Errorf("create flash sale: catalog item %s: %w", ns.SKU, err)
	}
	if err := sellable(it, m, ns.Quantity, now); err != nil {
		return nil, err
	}
	switch {
	case utf8.RuneCountInString(ns.Title) > maxTitleLen:
		return nil, invalid("title", "The title may be at most %d characters.", maxTitleLen)
	case ns.Price <= 0 || ns.Price >= MaxPrice:
		return nil, invalid("price", "The price must be more than 0 and less than %s.", money.New(MaxPrice, m.Currency).Format())
	case ns.Quantity < 1 || ns.Quantity > MaxQuantity:
		return nil, invalid("quantity", "The quantity must be between 1 and %d.", MaxQuantity)
	case ns.PerCustomerLimit < 1 || ns.PerCustomerLimit > min(ns.Quantity, MaxPerCustomer):
		return nil, invalid("per_customer_limit", "The per-customer limit must be between 1 and %d.", min(ns.Quantity, MaxPerCustomer))
	}
	if err := checkTimes(ns.StartsAt, ns.EndsAt, ns.RegistrationClosesAt); err != nil {
		return nil, err
	}
	if !ns.EndsAt.After(now) {
		return nil, invalid("ends_at", "The sale must end in the future.")
	}
	var id int64
	err = s.db.Tx(ctx, func(tx db.Querier) error {
		wh, err := poolSetAside(ctx, tx, m.Code, ns.SKU, ns.Quantity)
		if err != nil {
			return err
		}
		var reg any
		if !ns.RegistrationClosesAt.IsZero() {
			reg = db.Time(ns.RegistrationClosesAt)
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO flash_sales (market, sku, warehouse, title, price, currency, quantity,
				per_customer_limit, starts_at, ends_at, registration_closes_at, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id`,
			m.Code, ns.SKU, wh, ns.Title, ns.Price, m.Currency, ns.Quantity, ns.PerCustomerLimit,
			db.Time(ns.StartsAt), db.Time(ns.EndsAt), reg, now).Scan(&id); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		if err := poolCreate(ctx, tx, id, ns.SKU, wh, ns.Quantity, poolExpiry(ns.EndsAt), now); err != nil {
			return err
		}
		sl, err := saleForUpdate(ctx, tx, s.db.Dialect, id)
		if err != nil {
			return err
		}
		if err := changefeed.Publish(ctx, s.db, tx, changefeed.FlashSale, strconv.FormatInt(id, 10)); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "flashsale.create", subject(id), nil, recordOf(sl))
	})
	if err != nil {
		return nil, fmt.Errorf("create flash sale of %s in %s: %w", ns.SKU, ns.Market, err)
	}
	s.engine.invalidate(id)
	return s.Get(ctx, id)
}

// sellable checks that the market may sell it apart from stock: listed,
// launched or launching (a sale may open a launch), certified and priced.
func sellable(it *catalog.Item, m market.Market, qty int, now time.Time) error {
	a := it.Decide(max(qty, 1), max(qty, 1), now)
	switch {
	case a.State == catalog.NotSold:
		return &input.FieldError{Field: "sku", Msg: a.Reason, Err: ErrNotSellable}
	case !it.HasPrice:
		return &input.FieldError{Field: "sku", Msg: fmt.Sprintf("The %s is not priced for %s yet.", it.Product.Name, m.Place()), Err: ErrNotSellable}
	}
	return nil
}

// saleRecord is a sale as the audit log keeps it.
type saleRecord struct {
	Market               string      `json:"market"`
	SKU                  string      `json:"sku"`
	Warehouse            string      `json:"warehouse"`
	Title                string      `json:"title"`
	Price                money.Money `json:"price"`
	Quantity             int         `json:"quantity"`
	PerCustomerLimit     int         `json:"per_customer_limit"`
	StartsAt             time.Time   `json:"starts_at"`
	EndsAt               time.Time   `json:"ends_at"`
	RegistrationClosesAt *time.Time  `json:"registration_closes_at,omitempty"`
	Paused               bool        `json:"paused"`
	EndedAt              *time.Time  `json:"ended_at,omitempty"`
}

func recordOf(sl *Sale) saleRecord {
	r := saleRecord{
		Market: sl.Market, SKU: sl.SKU, Warehouse: sl.Warehouse, Title: sl.Title, Price: sl.Price, Quantity: sl.Quantity,
		PerCustomerLimit: sl.PerCustomerLimit, StartsAt: sl.StartsAt, EndsAt: sl.EndsAt, Paused: sl.Paused,
	}
	if !sl.RegistrationClosesAt.IsZero() {
		t := sl.RegistrationClosesAt
		r.RegistrationClosesAt = &t
	}
	if !sl.EndedAt.IsZero() {
		t := sl.EndedAt
		r.EndedAt = &t
	}
	return r
}

func subject(id int64) string { return fmt.Sprintf("flashsale:%d", id) }

// saleCols are flash_sales' columns as scanSale reads them.
const saleCols = `f.id, f.market, f.sku, f.warehouse, f.title, f.price, f.currency, f.quantity, f.per_customer_limit,
	f.starts_at, f.ends_at, f.registration_closes_at, f.paused, f.ended_at, f.claimed, f.paid, f.released, f.created_at, f.updated_at`

// namedCols adds the catalog's names to saleCols.
const namedCols = saleCols + `, p.name, v.name, p.slug, (SELECT count(*) FROM variants v2 WHERE v2.product_id = p.id)`

const namedFrom = ` FROM flash_sales f JOIN variants v ON v.sku = f.sku JOIN products p ON p.id = v.product_id`

type rowScanner interface{ Scan(dest ...any) error }

func scanSale(r rowScanner, named bool) (*Sale, error) {
	var sl Sale
	var price int64
	var currency string
	var reg, ended sql.NullTime
	dest := []any{&sl.ID, &sl.Market, &sl.SKU, &sl.Warehouse, &sl.Title, &price, &currency, &sl.Quantity, &sl.PerCustomerLimit,
		&sl.StartsAt, &sl.EndsAt, &reg, &sl.Paused, &ended, &sl.Claimed, &sl.Paid, &sl.Released, &sl.CreatedAt, &sl.UpdatedAt}
	var product, variant string
	var variants int
	if named {
		dest = append(dest, &product, &variant, &sl.ProductSlug, &variants)
	}
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	sl.Price = money.New(price, currency)
	sl.StartsAt, sl.EndsAt = sl.StartsAt.UTC(), sl.EndsAt.UTC()
	sl.CreatedAt, sl.UpdatedAt = sl.CreatedAt.UTC(), sl.UpdatedAt.UTC()
	if reg.Valid {
		sl.RegistrationClosesAt = reg.Time.UTC()
	}
	if ended.Valid {
		sl.EndedAt = ended.Time.UTC()
	}
	sl.Name = product
	if variant != "" && variants > 1 {
		sl.Name = product + " (" + variant + ")"
	}
	return &sl, nil
}

// saleForUpdate reads sale id and locks its row for the transaction: the
// first step of every transaction that changes the sale, its holders or
// its claims (the lock order). SQLite has one writer, so it needs no lock
// clause.
func saleForUpdate(ctx context.Context, tx db.Querier, dialect db.Dialect, id int64) (*Sale, error) {
	q := "SELECT " + saleCols + " FROM flash_sales f WHERE f.id = $1"
	if dialect == db.Postgres {
		q += " FOR UPDATE"
	}
	sl, err := scanSale(tx.QueryRowContext(ctx, q, id), false)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sale %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sale %d: %w", id, err)
	}
	return sl, nil
}

// Get returns sale id with its counters.
func (s *Service) Get(ctx context.Context, id int64) (*Sale, error) {
	sl, err := scanSale(s.db.Reader().QueryRowContext(ctx, "SELECT "+namedCols+namedFrom+" WHERE f.id = $1", id), true)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sale %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sale %d: %w", id, err)
	}
	return sl, nil
}

func (s *Service) list(ctx context.Context, query string, args ...any) ([]*Sale, error) {
	rows, err := s.db.Reader().QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("flash sales: %w", err)
	}
	defer rows.Close()
	out := []*Sale{}
	for rows.Next() {
		sl, err := scanSale(rows, true)
		if err != nil {
			return nil, fmt.Errorf("flash sales: %w", err)
		}
		out = append(out, sl)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("flash sales: %w", err)
	}
	return out, nil
}

// List returns the sales shoppers of market see at now: the scheduled and
// live ones, and those that ended within the last week, soonest first.
func (s *Service) List(ctx context.Context, market string) ([]*Sale, error) {
	since := s.now().Add(-listEnded)
	all, err := s.list(ctx, "SELECT "+namedCols+namedFrom+" WHERE f.market = $1 AND f.ends_at > $2 ORDER BY f.starts_at, f.id",
		market, db.Time(since))
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, sl := range all {
		if sl.Closes().After(since) {
			out = append(out, sl)
		}
	}
	return out, nil
}

// AdminFilter narrows the back office's list.
type AdminFilter struct {
	Market string
}

// maxAdminList bounds the back office's list.
const maxAdminList = 500

// ListAll returns every sale for the back office, newest first (at most
// the last 500).
func (s *Service) ListAll(ctx context.Context, f AdminFilter) ([]*Sale, error) {
	if f.Market != "" {
		return s.list(ctx, "SELECT "+namedCols+namedFrom+" WHERE f.market = $1 ORDER BY f.created_at DESC, f.id DESC LIMIT $2", f.Market, maxAdminList)
	}
	return s.list(ctx, "SELECT "+namedCols+namedFrom+" ORDER BY f.created_at DESC, f.id DESC LIMIT $1", maxAdminList)
}

// change runs fn on sale id locked in a transaction, audits the result
// as action and tells the claim engine.
func (s *Service) change(ctx context.Context, id int64, action string, fn func(tx db.Querier, sl *Sale, now time.Time) error) (*Sale, error) {
	err := s.db.Tx(ctx, func(tx db.Querier) error {
		now := db.Time(s.now())
		sl, err := saleForUpdate(ctx, tx, s.db.Dialect, id)
		if err != nil {
			return err
		}
		before := recordOf(sl)
		if err := fn(tx, sl, now); err != nil {
			return err
		}
		after, err := saleForUpdate(ctx, tx, s.db.Dialect, id)
		if err != nil {
			return err
		}
		if err := changefeed.Publish(ctx, s.db, tx, changefeed.FlashSale, strconv.FormatInt(id, 10)); err != nil {
			return err
		}
		return audit.Record(ctx, tx, action, subject(id), before, recordOf(after))
	})
	if err != nil {
		return nil, fmt.Errorf("%s %d: %w", action, id, err)
	}
	s.engine.invalidate(id)
	return s.Get(ctx, id)
}

// Schedule changes when a sale that has not started runs; once it has
// started (or staff ended it) it is ErrState.
func (s *Service) Schedule(ctx context.Context, id int64, starts, ends, registrationCloses time.Time) (*Sale, error) {
	if err := checkTimes(starts, ends, registrationCloses); err != nil {
		return nil, err
	}
	return s.change(ctx, id, "flashsale.schedule", func(tx db.Querier, sl *Sale, now time.Time) error {
		if !now.Before(sl.StartsAt) || !sl.EndedAt.IsZero() {
			return fmt.Errorf("%w: the sale has started", ErrState)
		}
		if !ends.After(now) {
			return invalid("ends_at", "The sale must end in the future.")
		}
		var reg any
		if !registrationCloses.IsZero() {
			reg = db.Time(registrationCloses)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE flash_sales SET starts_at = $2, ends_at = $3, registration_closes_at = $4, updated_at = $5
			WHERE id = $1`, id, db.Time(starts), db.Time(ends), reg, now); err != nil {
			return err
		}
		return poolMoveExpiry(ctx, tx, id, poolExpiry(ends), now)
	})
}

// Pause stops claims until Resume; ErrState once the sale has ended.
func (s *Service) Pause(ctx context.Context, id int64) (*Sale, error) {
	return s.setPaused(ctx, id, true, "flashsale.pause")
}

// Resume lets claims in again; ErrState once the sale has ended.
func (s *Service) Resume(ctx context.Context, id int64) (*Sale, error) {
	return s.setPaused(ctx, id, false, "flashsale.resume")
}

func (s *Service) setPaused(ctx context.Context, id int64, paused bool, action string) (*Sale, error) {
	return s.change(ctx, id, action, func(tx db.Querier, sl *Sale, now time.Time) error {
		if sl.StateAt(now) == Ended {
			return fmt.Errorf("%w: the sale has ended", ErrState)
		}
		_, err := tx.ExecContext(ctx, "UPDATE flash_sales SET paused = $2, updated_at = $3 WHERE id = $1", id, paused, now)
		return err
	})
}

// End ends the sale now: no more claims. Claims already made may still be
// checked out until they run out, so the pool lives ClaimTTL (and a
// grace) longer; then what is left goes back to the warehouse. Ending an
// ended sale is ErrState.
func (s *Service) End(ctx context.Context, id int64) (*Sale, error) {
	return s.change(ctx, id, "flashsale.end", func(tx db.Querier, sl *Sale, now time.Time) error {
		if sl.StateAt(now) == Ended {
			return fmt.Errorf("%w: the sale has ended already", ErrState)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE flash_sales SET ended_at = $2, updated_at = $2 WHERE id = $1", id, now); err != nil {
			return err
		}
		return poolMoveExpiry(ctx, tx, id, poolExpiry(now), now)
	})
}

// Register signs customerID up for a sale that takes registrations, while
// registration is open (ErrRegistrationClosed otherwise). Registering
// twice is not an error.
func (s *Service) Register(ctx context.Context, id, customerID int64) error {
	sl, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	now := s.now()
	if !sl.RegistrationOpen(now) {
		return fmt.Errorf("register for sale %d: %w", id, ErrRegistrationClosed)
	}
	if _, err := s.db.Exec(ctx, `INSERT INTO flash_sale_registrations (sale_id, customer_id, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (sale_id, customer_id) DO NOTHING`, id, customerID, db.Time(now)); err != nil {
		return fmt.Errorf("register for sale %d: %w", id, err)
	}
	return nil
}

// Registered reports whether customerID registered for sale id.
func (s *Service) Registered(ctx context.Context, id, customerID int64) (bool, error) {
	var n int
	err := s.db.Reader().QueryRowContext(ctx, "SELECT count(*) FROM flash_sale_registrations WHERE sale_id = $1 AND customer_id = $2",
		id, customerID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("registration for sale %d: %w", id, err)
	}
	return n > 0, nil
}

// ClaimsOf returns customerID's claims in sale id, newest first, each with
// the token that opens its cart.
func (s *Service) ClaimsOf(ctx context.Context, id, customerID int64) ([]*Claim, error) {
	rows, err := s.db.Reader().QueryContext(ctx, `SELECT c.id, c.sale_id, c.customer_id, c.quantity, c.state, f.price, f.currency,
			c.cart_id, coalesce(c.order_number, ''), c.expires_at, c.created_at
		FROM flash_sale_claims c JOIN flash_sales f ON f.id = c.sale_id
		WHERE c.sale_id = $1 AND c.customer_id = $2 ORDER BY c.created_at DESC, c.id DESC`, id, customerID)
	if err != nil {
		return nil, fmt.Errorf("claims in sale %d: %w", id, err)
	}
	var out []*Claim
	for rows.Next() {
		var c Claim
		var price int64
		var currency string
		if err := rows.Scan(&c.ID, &c.SaleID, &c.CustomerID, &c.Quantity, &c.State, &price, &currency,
			&c.CartID, &c.OrderNumber, &c.ExpiresAt, &c.CreatedAt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("claims in sale %d: %w", id, err)
		}
		c.UnitPrice = money.New(price, currency)
		c.ExpiresAt, c.CreatedAt = c.ExpiresAt.UTC(), c.CreatedAt.UTC()
		out = append(out, &c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claims in sale %d: %w", id, err)
	}
	if s.carts != nil {
		for _, c := range out {
			if c.CartToken, err = s.carts.Token(ctx, c.CartID); err != nil {
				return nil, fmt.Errorf("claims in sale %d: cart token: %w", id, err)
			}
		}
	}
	return out, nil
}
