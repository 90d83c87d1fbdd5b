package checkout

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"mistore/internal/audit"
	"mistore/internal/changefeed"
	"mistore/internal/db"
	"mistore/internal/input"
	"mistore/internal/money"
)

// Back-office outcomes for coupons and tax rates.
var (
	// ErrCouponNotFound means there is no coupon with the code.
	ErrCouponNotFound = errors.New("no such coupon")
	// ErrCouponExists means a coupon with the code already exists.
	ErrCouponExists = errors.New("a coupon with this code already exists")
)

// InvalidError is back-office input the store cannot accept, naming the
// field at fault; its Error is the sentence shown to the editor. It is
// every back-office write's input.FieldError (checkout's own FieldError
// is the shopper's).
type InvalidError = input.FieldError

// Limits on coupons.
const (
	// MaxCouponCodeLen is the longest coupon code.
	MaxCouponCodeLen = 40
	// MaxCouponAmount bounds a fixed discount or minimum subtotal, in
	// minor units, so that a typo cannot make a coupon worth a fortune.
	MaxCouponAmount = 100_000_000
)

// Coupon kinds.
const (
	CouponPercent = "percent"
	CouponFixed   = "fixed"
)

// CouponRules are the rules of a coupon that staff set: what it takes off
// and when, where and how often it may be used. They are checked at
// checkout by couponFor and redeem.
type CouponRules struct {
	// Kind is CouponPercent or CouponFixed.
	Kind string `json:"kind"`
	// Percent (1 to 100) is taken off the subtotal of a percent coupon.
	Percent int `json:"percent,omitempty"`
	// Amount is taken off the subtotal of a fixed coupon (at most the
	// subtotal), only in carts of its currency.
	Amount *money.Money `json:"amount,omitempty"`
	// Market limits the coupon to one market; "" is every market.
	Market string `json:"market,omitempty"`
	// MinSubtotal is the least subtotal the coupon needs, in the coupon's
	// currency: a fixed amount's or the market's. A coupon with neither
	// cannot have one (it would mean 50 dollars in one market and 50
	// rupees in another).
	MinSubtotal *money.Money `json:"min_subtotal,omitempty"`
	// StartsAt is when the coupon starts to work; EndsAt, if set, when it
	// stops.
	StartsAt time.Time  `json:"starts_at"`
	EndsAt   *time.Time `json:"ends_at,omitempty"`
	// MaxUses bounds the uses in all; MaxUsesPerEmail the uses with one
	// email address. nil is no bound.
	MaxUses         *int `json:"max_uses,omitempty"`
	MaxUsesPerEmail *int `json:"max_uses_per_email,omitempty"`
}

// Coupon states, as the back office shows them.
const (
	CouponScheduled = "scheduled"
	CouponActive    = "active"
	CouponEnded     = "ended"
	CouponUsedUp    = "used_up"
)

// Coupon is a coupon as the back office shows it.
type Coupon struct {
	Code string `json:"code"`
	CouponRules
	// Used counts the orders placed with it, less those cancelled unpaid.
	Used      int       `json:"used"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
}

// Admin is the back office's side of checkout: coupons and tax rates.
// Every change is recorded in the audit log, in its transaction, with the
// actor the context carries.
type Admin struct {
	db  *db.DB
	now func() time.Time
	// ratesChanged is told of every tax rate set, after it commits.
	ratesChanged changefeed.Handler
}

// OnRatesChanged makes SetTaxRate tell h, after each change commits, so
// that this process's checkout prices with the new rate at once (other
// instances hear of it through the changefeed). Call it before the
// service is used.
func (a *Admin) OnRatesChanged(h changefeed.Handler) { a.ratesChanged = h }

// NewAdmin returns the back-office service on d; now is its clock (nil
// means time.Now).
func NewAdmin(d *db.DB, now func() time.Time) *Admin {
	if now == nil {
		now = time.Now
	}
	return &Admin{db: d, now: now}
}

// CheckCouponCode returns code as stored (trimmed, upper case), or an
// *InvalidError: codes are typed by shoppers and printed on flyers, so
// they are letters, digits, '-' and '_' only.
func CheckCouponCode(code string) (string, error) {
	code = NormalizeCoupon(code)
	if code == "" {
		return "", input.Invalid("code", "A coupon code is required.")
	}
	if len(code) > MaxCouponCodeLen {
		return "", input.Invalid("code", "A coupon code is at most %d characters.", MaxCouponCodeLen)
	}
	for _, r := range code {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return "", input.Invalid("code", "A coupon code may only hold letters A to Z, digits, '-' and '_'.")
		}
	}
	return code, nil
}

// couponCurrency returns the currency a coupon's amounts are in: its
// fixed amount's, else its market's, else "".
func couponCurrency(ctx context.Context, q db.Querier, r *CouponRules) (string, error) {
	if r.Kind == CouponFixed && r.Amount != nil {
		return r.Amount.Currency, nil
	}
	if r.Market == "" {
		return "", nil
	}
	var cur string
	err := q.QueryRowContext(ctx, "SELECT currency FROM markets WHERE code = $1", r.Market).Scan(&cur)
	if errors.Is(err, sql.ErrNoRows) {
		return "", input.Invalid("market", "There is no market %q.", r.Market)
	}
	return cur, err
}

// check validates and normalises r, used times so far, as of now.
func (r *CouponRules) check(ctx context.Context, q db.Querier, used int, now time.Time) error {
	r.Market = strings.ToLower(strings.TrimSpace(r.Market))
	if r.Market != "" {
		var mcur string
		err := q.QueryRowContext(ctx, "SELECT currency FROM markets WHERE code = $1", r.Market).Scan(&mcur)
		if errors.Is(err, sql.ErrNoRows) {
			return input.Invalid("market", "There is no market %q.", r.Market)
		}
		if err != nil {
			return fmt.Errorf("market %s: %w", r.Market, err)
		}
		if r.Kind == CouponFixed && r.Amount != nil && r.Amount.Currency != "" && r.Amount.Currency != mcur {
			return input.Invalid("amount", "A coupon for %s takes its amount in %s.", r.Market, mcur)
		}
	}
	switch r.Kind {
	case CouponPercent:
		r.Amount = nil
		if r.Percent < 1 || r.Percent > 100 {
			return input.Invalid("percent", "A percent coupon takes 1 to 100 percent off.")
		}
	case CouponFixed:
		r.Percent = 0
		if r.Amount == nil || r.Amount.Amount <= 0 || r.Amount.Amount > MaxCouponAmount {
			return input.Invalid("amount", "A fixed coupon takes an amount between 1 and %d minor units off.", MaxCouponAmount)
		}
		if _, err := money.LookupCurrency(r.Amount.Currency); err != nil {
			return input.Invalid("amount", "The amount's currency %q is not one the store knows.", r.Amount.Currency)
		}
	default:
		return input.Invalid("kind", "The kind of a coupon is percent or fixed.")
	}
	cur, err := couponCurrency(ctx, q, r)
	if err != nil {
		return err
	}
	if r.MinSubtotal != nil && r.MinSubtotal.Amount == 0 {
		r.MinSubtotal = nil
	}
	if m := r.MinSubtotal; m != nil {
		switch {
		case m.Amount < 0 || m.Amount > MaxCouponAmount:
			return input.Invalid("min_subtotal", "The minimum subtotal must be between 0 and %d minor units.", MaxCouponAmount)
		case cur == "":
			return input.Invalid("min_subtotal", "A minimum subtotal needs a market or a fixed amount, to give it a currency.")
		case m.Currency != "" && m.Currency != cur:
			return input.Invalid("min_subtotal", "The minimum subtotal must be in %s, the coupon's currency.", cur)
		}
		m.Currency = cur
	}
	if r.StartsAt.IsZero() {
		r.StartsAt = now
	}
	r.StartsAt = db.Time(r.StartsAt)
	if r.EndsAt != nil {
		end := db.Time(*r.EndsAt)
		r.EndsAt = &end
		if !end.After(r.StartsAt) {
			return input.Invalid("ends_at", "A coupon must end after it starts.")
		}
	}
	if r.MaxUses != nil && (*r.MaxUses < 1 || *r.MaxUses < used) {
		return input.Invalid("max_uses", "The total number of uses must be at least 1 and at least the %d uses so far.", used)
	}
	if r.MaxUsesPerEmail != nil && *r.MaxUsesPerEmail < 1 {
		return input.Invalid("max_uses_per_email", "The uses per email address must be at least 1.")
	}
	return nil
}

const couponColumns = `code, kind, percent, amount, currency, market, min_subtotal, starts_at, ends_at, max_uses, max_uses_per_email, used, created_at`

// scanCoupon reads couponColumns, computing the state as of now. The
// minimum subtotal's currency is filled in by the caller (it may need the
// market's).
func scanCoupon(row interface{ Scan(...any) error }, now time.Time) (Coupon, error) {
	var (
		c                                  Coupon
		percent, amount, maxUses, perEmail sql.NullInt64
		currency, mk                       sql.NullString
		minSub                             int64
		ends                               sql.NullTime
	)
	if err := row.Scan(&c.Code, &c.Kind, &percent, &amount, &currency, &mk, &minSub, &c.StartsAt, &ends, &maxUses, &perEmail, &c.Used, &c.CreatedAt); err != nil {
		return Coupon{}, err
	}
	c.Percent = int(percent.Int64)
	if amount.Valid {
		c.Amount = &money.Money{Amount: amount.Int64, Currency: currency.String}
	}
	c.Market = mk.String
	if minSub > 0 {
		c.MinSubtotal = &money.Money{Amount: minSub}
	}
	c.StartsAt, c.CreatedAt = c.StartsAt.UTC(), c.CreatedAt.UTC()
	if ends.Valid {
		t := ends.Time.UTC()
		c.EndsAt = &t
	}
	if maxUses.Valid {
		n := int(maxUses.Int64)
		c.MaxUses = &n
	}
	if perEmail.Valid {
		n := int(perEmail.Int64)
		c.MaxUsesPerEmail = &n
	}
	c.State = couponState(c, now)
	return c, nil
}

// couponState says whether c works at now, as checkout would decide it.
func couponState(c Coupon, now time.Time) string {
	switch {
	case c.EndsAt != nil && !now.Before(*c.EndsAt):
		return CouponEnded
	case c.MaxUses != nil && c.Used >= *c.MaxUses:
		return CouponUsedUp
	case now.Before(c.StartsAt):
		return CouponScheduled
	}
	return CouponActive
}

// fillCurrency sets the currency of c's minimum subtotal.
func fillCurrency(ctx context.Context, q db.Querier, c *Coupon) error {
	if c.MinSubtotal == nil {
		return nil
	}
	cur, err := couponCurrency(ctx, q, &c.CouponRules)
	if err != nil {
		return err
	}
	c.MinSubtotal.Currency = cur
	return nil
}

// lockCoupon takes coupon code's row lock in tx before it is read for a
// change, so that of two concurrent edits the second reads the first's
// result instead of overwriting it (PostgreSQL's READ COMMITTED would let
// both read the same row; SQLite transactions already run one at a time).
// A no-op UPDATE locks on both engines, where SELECT ... FOR UPDATE is
// PostgreSQL's only.
func lockCoupon(ctx context.Context, tx db.Querier, code string) error {
	if _, err := tx.ExecContext(ctx, "UPDATE coupons SET code = code WHERE code = $1", code); err != nil {
		return fmt.Errorf("lock coupon %s: %w", code, err)
	}
	return nil
}

// lockedCoupon takes coupon code's row lock in tx (lockCoupon) and reads
// the coupon as it is under the lock: what every change starts from.
func (a *Admin) lockedCoupon(ctx context.Context, tx db.Querier, code string) (Coupon, error) {
	if err := lockCoupon(ctx, tx, code); err != nil {
		return Coupon{}, err
	}
	return a.getCoupon(ctx, tx, code)
}

// getCoupon reads coupon code in q.
func (a *Admin) getCoupon(ctx context.Context, q db.Querier, code string) (Coupon, error) {
	c, err := scanCoupon(q.QueryRowContext(ctx, "SELECT "+couponColumns+" FROM coupons WHERE code = $1", code), a.now())
	if errors.Is(err, sql.ErrNoRows) {
		return Coupon{}, fmt.Errorf("coupon %s: %w", code, ErrCouponNotFound)
	}
	if err != nil {
		return Coupon{}, fmt.Errorf("coupon %s: %w", code, err)
	}
	return c, fillCurrency(ctx, q, &c)
}

// Coupon returns the coupon with code (in any case), or ErrCouponNotFound.
func (a *Admin) Coupon(ctx context.Context, code string) (Coupon, error) {
	return a.getCoupon(ctx, a.db.Reader(), NormalizeCoupon(code))
}

// Coupons returns every coupon, newest first.
func (a *Admin) Coupons(ctx context.Context) ([]Coupon, error) {
	q := a.db.Reader()
	rows, err := q.QueryContext(ctx, "SELECT "+couponColumns+" FROM coupons ORDER BY created_at DESC, code")
	if err != nil {
		return nil, fmt.Errorf("coupons: %w", err)
	}
	now := a.now()
	out := []Coupon{}
	for rows.Next() {
		c, err := scanCoupon(rows, now)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("coupons: %w", err)
		}
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("coupons: %w", err)
	}
	for i := range out {
		if err := fillCurrency(ctx, q, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// writeArgs are the rules as the coupons table's columns, from kind on.
func (r *CouponRules) writeArgs() []any {
	var percent, amount, currency, mk, ends, maxUses, perEmail any
	if r.Kind == CouponPercent {
		percent = r.Percent
	} else {
		amount, currency = r.Amount.Amount, r.Amount.Currency
	}
	if r.Market != "" {
		mk = r.Market
	}
	var minSub int64
	if r.MinSubtotal != nil {
		minSub = r.MinSubtotal.Amount
	}
	if r.EndsAt != nil {
		ends = *r.EndsAt
	}
	if r.MaxUses != nil {
		maxUses = *r.MaxUses
	}
	if r.MaxUsesPerEmail != nil {
		perEmail = *r.MaxUsesPerEmail
	}
	return []any{r.Kind, percent, amount, currency, mk, minSub, r.StartsAt, ends, maxUses, perEmail}
}

// CreateCoupon creates coupon code with rules: ErrCouponExists when the
// code is taken, an *InvalidError for rules that cannot work. A zero
// StartsAt means now.
func (a *Admin) CreateCoupon(ctx context.Context, code string, rules CouponRules) (Coupon, error) {
	code, err := CheckCouponCode(code)
	if err != nil {
		return Coupon{}, err
	}
	var c Coupon
	err = a.db.Tx(ctx, func(tx db.Querier) error {
		now := db.Time(a.now())
		if err := rules.check(ctx, tx, 0, now); err != nil {
			return err
		}
		args := append([]any{code}, rules.writeArgs()...)
		args = append(args, now)
		_, err := tx.ExecContext(ctx, `INSERT INTO coupons (code, kind, percent, amount, currency, market, min_subtotal, starts_at, ends_at, max_uses, max_uses_per_email, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, args...)
		if db.IsUniqueViolation(err) {
			return fmt.Errorf("coupon %s: %w", code, ErrCouponExists)
		}
		if err != nil {
			return fmt.Errorf("create coupon %s: %w", code, err)
		}
		if c, err = a.getCoupon(ctx, tx, code); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "coupon.create", "coupon:"+code, nil, c.CouponRules)
	})
	return c, err
}

// UpdateCoupon changes coupon code's rules: edit is called, inside the
// transaction, with the rules as they are and changes them (the web layer
// lays a PATCH body over them); the result is checked like a new coupon's
// and must allow at least the uses already made. Checkouts placed before
// keep the discount they were given.
func (a *Admin) UpdateCoupon(ctx context.Context, code string, edit func(*CouponRules) error) (Coupon, error) {
	code = NormalizeCoupon(code)
	var c Coupon
	err := a.db.Tx(ctx, func(tx db.Querier) error {
		old, err := a.lockedCoupon(ctx, tx, code)
		if err != nil {
			return err
		}
		rules := old.CouponRules
		// Copies, so that edit cannot reach into old through pointers.
		rules.Amount, rules.MinSubtotal = copyPtr(old.Amount), copyPtr(old.MinSubtotal)
		rules.EndsAt, rules.MaxUses, rules.MaxUsesPerEmail = copyPtr(old.EndsAt), copyPtr(old.MaxUses), copyPtr(old.MaxUsesPerEmail)
		if err := edit(&rules); err != nil {
			return err
		}
		if err := rules.check(ctx, tx, old.Used, a.now()); err != nil {
			return err
		}
		args := append([]any{code}, rules.writeArgs()...)
		// The use condition is the CHECK's, said first: a checkout that
		// redeemed meanwhile may have raised used past a new MaxUses.
		res, err := tx.ExecContext(ctx, `UPDATE coupons SET kind = $2, percent = $3, amount = $4, currency = $5, market = $6, min_subtotal = $7,
			starts_at = $8, ends_at = $9, max_uses = $10, max_uses_per_email = $11
			WHERE code = $1 AND (CAST($10 AS INTEGER) IS NULL OR used <= $10)`, args...)
		if err != nil {
			return fmt.Errorf("update coupon %s: %w", code, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return input.Invalid("max_uses", "The coupon has been used more often than that meanwhile.")
		}
		if c, err = a.getCoupon(ctx, tx, code); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "coupon.update", "coupon:"+code, old.CouponRules, c.CouponRules)
	})
	return c, err
}

func copyPtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// EndCoupon stops coupon code from working from now on: its end becomes
// now (a scheduled coupon also starts now, so it never runs). Checkout
// already refuses a coupon past its end, so nothing else needs to know.
// Ending an ended coupon changes nothing.
func (a *Admin) EndCoupon(ctx context.Context, code string) (Coupon, error) {
	code = NormalizeCoupon(code)
	var c Coupon
	err := a.db.Tx(ctx, func(tx db.Querier) error {
		old, err := a.lockedCoupon(ctx, tx, code)
		if err != nil {
			return err
		}
		now := db.Time(a.now())
		if old.EndsAt != nil && !old.EndsAt.After(now) {
			c = old
			return nil
		}
		starts := old.StartsAt
		if starts.After(now) {
			starts = now
		}
		if _, err := tx.ExecContext(ctx, "UPDATE coupons SET starts_at = $2, ends_at = $3 WHERE code = $1", code, starts, now); err != nil {
			return fmt.Errorf("end coupon %s: %w", code, err)
		}
		if c, err = a.getCoupon(ctx, tx, code); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "coupon.end", "coupon:"+code, old.CouponRules, c.CouponRules)
	})
	return c, err
}

// CouponUsage is what a coupon has done: how often it was used and what it
// gave away.
type CouponUsage struct {
	Code  string `json:"code"`
	State string `json:"state"`
	// Used is the coupon's use count, as its limit counts it: orders
	// placed with it, less those cancelled unpaid.
	Used    int  `json:"used"`
	MaxUses *int `json:"max_uses,omitempty"`
	// Orders counts the orders placed with it that were paid (refunded
	// ones included); Pending those still waiting for payment.
	Orders  int `json:"orders"`
	Pending int `json:"pending"`
	// Discount is what the paid orders were given, per currency (a coupon
	// for every market is used in several).
	Discount []money.Money `json:"discount"`
	// Revenue is what the paid orders brought in, per currency.
	Revenue []money.Money `json:"revenue"`
	// Recent are its latest orders, only in the one-coupon report.
	Recent []CouponOrder `json:"recent_orders,omitempty"`
}

// CouponOrder is an order placed with a coupon.
type CouponOrder struct {
	Number    string      `json:"number"`
	Market    string      `json:"market"`
	Email     string      `json:"email"`
	Status    string      `json:"status"`
	Discount  money.Money `json:"discount"`
	Total     money.Money `json:"total"`
	CreatedAt time.Time   `json:"created_at"`
}

// CouponReport returns the usage of every coupon, newest coupon first.
func (a *Admin) CouponReport(ctx context.Context) ([]CouponUsage, error) {
	coupons, err := a.Coupons(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]CouponUsage, len(coupons))
	index := map[string]int{}
	for i, c := range coupons {
		out[i] = CouponUsage{Code: c.Code, State: c.State, Used: c.Used, MaxUses: c.MaxUses, Discount: []money.Money{}, Revenue: []money.Money{}}
		index[c.Code] = i
	}
	if err := a.usage(ctx, "", func(code string) *CouponUsage {
		if i, ok := index[code]; ok {
			return &out[i]
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// CouponUsage returns the usage of coupon code with its 50 latest orders.
func (a *Admin) CouponUsage(ctx context.Context, code string) (CouponUsage, error) {
	c, err := a.Coupon(ctx, code)
	if err != nil {
		return CouponUsage{}, err
	}
	u := CouponUsage{Code: c.Code, State: c.State, Used: c.Used, MaxUses: c.MaxUses, Discount: []money.Money{}, Revenue: []money.Money{}, Recent: []CouponOrder{}}
	if err := a.usage(ctx, c.Code, func(string) *CouponUsage { return &u }); err != nil {
		return CouponUsage{}, err
	}
	rows, err := a.db.Reader().QueryContext(ctx, `SELECT number, market, email, status, currency, discount, total, created_at
		FROM orders WHERE coupon_code = $1 ORDER BY created_at DESC, id DESC LIMIT 50`, c.Code)
	if err != nil {
		return CouponUsage{}, fmt.Errorf("orders with coupon %s: %w", c.Code, err)
	}
	defer rows.Close()
	for rows.Next() {
		var o CouponOrder
		var cur string
		if err := rows.Scan(&o.Number, &o.Market, &o.Email, &o.Status, &cur, &o.Discount.Amount, &o.Total.Amount, &o.CreatedAt); err != nil {
			return CouponUsage{}, fmt.Errorf("orders with coupon %s: %w", c.Code, err)
		}
		o.Discount.Currency, o.Total.Currency, o.CreatedAt = cur, cur, o.CreatedAt.UTC()
		u.Recent = append(u.Recent, o)
	}
	return u, rows.Err()
}

// usage adds the order counts and sums of the coupons (one, or all when
// code is "") to the reports of into.
func (a *Admin) usage(ctx context.Context, code string, into func(code string) *CouponUsage) error {
	query := `SELECT coupon_code, currency, paid_at IS NOT NULL, count(*), coalesce(sum(discount), 0), coalesce(sum(total), 0)
		FROM orders WHERE coupon_code IS NOT NULL AND (paid_at IS NOT NULL OR status = 'pending_payment')`
	args := []any{}
	if code != "" {
		query += " AND coupon_code = $1"
		args = append(args, code)
	}
	rows, err := a.db.Reader().QueryContext(ctx, query+" GROUP BY coupon_code, currency, paid_at IS NOT NULL ORDER BY coupon_code, currency", args...)
	if err != nil {
		return fmt.Errorf("coupon usage: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			c, cur           string
			paid             bool
			n                int
			discount, amount int64
		)
		if err := rows.Scan(&c, &cur, &paid, &n, &discount, &amount); err != nil {
			return fmt.Errorf("coupon usage: %w", err)
		}
		u := into(c)
		if u == nil {
			continue
		}
		if !paid {
			u.Pending += n
			continue
		}
		u.Orders += n
		u.Discount = append(u.Discount, money.New(discount, cur))
		u.Revenue = append(u.Revenue, money.New(amount, cur))
	}
	return rows.Err()
}
