// Package cart holds shopping carts: a market and a few lines of SKUs and
// quantities, plus what the shopper last saw of each line so that every
// look at the cart can say what changed since. A cart keeps no prices and
// reserves no stock: every view decides each line again against the
// catalog and fresh stock, with the same availability rule as the product
// pages and checkout.
//
// A cart is addressed by a random id and opened with a token, the
// HMAC-SHA256 of the id under a key kept in the database. Nothing secret is
// stored with the cart, and a wrong token is indistinguishable from an
// unknown id.
package cart

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"mistore/internal/catalog"
	"mistore/internal/db"
	"mistore/internal/inventory"
	"mistore/internal/locale"
	"mistore/internal/market"
)

// MaxLines is the most distinct SKUs one cart may hold.
const MaxLines = 50

// secretName names the key that signs cart tokens (db.DB.Secret).
const secretName = "cart-token"

// idLen is the length of a cart id. Ids made before they were
// time-ordered (16 random bytes in another base32 alphabet) have the same
// length and still open their carts.
const idLen = db.KeyLen

// Domain outcomes. Errors the Service returns for them carry a sentence
// for the shopper and match these with errors.Is.
var (
	// ErrNotFound means there is no cart with that id, or the token is not
	// its token: the two are deliberately the same answer.
	ErrNotFound = errors.New("cart not found")
	// ErrCheckedOut means the cart was turned into an order and can no
	// longer change.
	ErrCheckedOut = errors.New("cart already checked out")
	// ErrQuantity means a quantity outside 1 to the product's limit, for
	// one request or for the line it would make.
	ErrQuantity = errors.New("invalid quantity")
	// ErrPurchaseLimit means more of a product than one order may hold
	// (its purchase limit, 10 unless staff set another): a purchase limit,
	// not a malformed quantity. It is also ErrQuantity.
	ErrPurchaseLimit = fmt.Errorf("%w: over the purchase limit", ErrQuantity)
	// ErrNotSoldInMarket means the SKU is unknown or may not be sold in the
	// cart's market for a reason other than stock.
	ErrNotSoldInMarket = errors.New("not sold in this market")
	// ErrOutOfStock means the market has fewer units than the line needs.
	ErrOutOfStock = errors.New("out of stock")
	// ErrCartFull means the cart already holds MaxLines distinct SKUs.
	ErrCartFull = errors.New("cart is full")
	// ErrLineNotFound means the cart has no line for the SKU.
	ErrLineNotFound = errors.New("not in the cart")
)

// userError is a domain outcome with the sentence a shopper reads about
// it. Its text is shown as it is, so it is never wrapped with context.
type userError struct {
	kind error
	msg  locale.Msg
}

func (e *userError) Error() string { return e.msg.String() }
func (e *userError) Unwrap() error { return e.kind }

// quantityOverLimit is what a quantity above a product's purchase limit is: the
// purchase limit, unless no product could be bought so many at a time.
func quantityOverLimit(qty int) error {
	if qty > catalog.MaxPurchaseLimit {
		return ErrQuantity
	}
	return ErrPurchaseLimit
}

func fail(kind error, format string, args ...any) error {
	return failMsg(kind, locale.M(format, args...))
}

func failMsg(kind error, m locale.Msg) error {
	return &userError{kind: kind, msg: m}
}

// Message is the sentence a shopper reads about err, to say in a page's
// language, when err is one of the cart's domain outcomes (its Error() is
// the same sentence in English, for the API).
func Message(err error) (locale.Msg, bool) {
	var ue *userError
	if errors.As(err, &ue) {
		return ue.msg, true
	}
	return locale.Msg{}, false
}

// errNotFound is the one answer for an unknown id and a wrong token.
func errNotFound() error {
	return fail(ErrNotFound, "There is no such cart, or its token is wrong.")
}

// Service keeps carts.
type Service struct {
	db      *db.DB
	catalog *catalog.Service
	inv     *inventory.Service
	now     func() time.Time

	keyMu sync.Mutex
	key   []byte // the token key, loaded on first use
}

// NewService returns a Service on d that decides lines with c and fresh
// stock from inv. now is the clock of availability decisions; nil means
// the catalog's clock.
func NewService(d *db.DB, c *catalog.Service, inv *inventory.Service, now func() time.Time) *Service {
	if now == nil {
		now = c.Now
	}
	return &Service{db: d, catalog: c, inv: inv, now: now}
}

// Line is a cart line as checkout needs it: the same type inventory
// reserves, so lines go from cart to reservation unchanged.
type Line = inventory.Line

// Summary is a cart without its lines.
type Summary struct {
	ID     string
	Market string
	// OrderNumber is set once checkout has turned the cart into an order.
	OrderNumber string
}

// CheckedOut reports whether the cart has become an order.
func (c Summary) CheckedOut() bool { return c.OrderNumber != "" }

// Create makes an empty cart in market code and returns it with the token
// that opens it.
func (s *Service) Create(ctx context.Context, code string) (*View, string, error) {
	m, err := s.market(ctx, code)
	if err != nil {
		return nil, "", err
	}
	id, err := NewID()
	if err != nil {
		return nil, "", fmt.Errorf("create cart: %w", err)
	}
	token, err := s.token(ctx, id)
	if err != nil {
		return nil, "", fmt.Errorf("create cart: %w", err)
	}
	now := db.Time(s.now())
	if _, err := s.db.ExecRelaxed(ctx, `INSERT INTO carts (id, market, created_at, updated_at) VALUES ($1, $2, $3, $3)`,
		id, m.Code, now); err != nil {
		return nil, "", fmt.Errorf("create cart in %s: %w", m.Code, err)
	}
	return emptyView(id, m), token, nil
}

// Verify checks id and token and returns the cart without its lines.
func (s *Service) Verify(ctx context.Context, id, token string) (Summary, error) {
	if err := s.check(ctx, id, token); err != nil {
		return Summary{}, err
	}
	return s.summary(ctx, id)
}

// Check returns the market of cart id if token opens it: what checkout
// needs to know before it reads the lines.
func (s *Service) Check(ctx context.Context, id, token string) (string, error) {
	sum, err := s.Verify(ctx, id, token)
	if err != nil {
		return "", err
	}
	return sum.Market, nil
}

// Authorize checks token against cart id without reading the cart: for a
// caller that reads the cart's row itself, such as checkout claiming it.
func (s *Service) Authorize(ctx context.Context, id, token string) error {
	return s.check(ctx, id, token)
}

// Get returns the cart as the shopper sees it now, with notices of what
// changed since they last looked.
func (s *Service) Get(ctx context.Context, id, token string) (*View, error) {
	if err := s.check(ctx, id, token); err != nil {
		return nil, err
	}
	return s.view(ctx, id)
}

// LinesTx returns the cart's lines in the order they were added, read
// through q, so that checkout can read them inside the transaction that
// claims the cart (by updating its row, which also makes any change to the
// cart wait for that transaction). It does not check a token: checkout
// calls it after Check.
func (s *Service) LinesTx(ctx context.Context, q db.Querier, id string) ([]Line, error) {
	rows, err := q.QueryContext(ctx, "SELECT sku, quantity FROM cart_lines WHERE cart_id = $1 ORDER BY position, sku", id)
	if err != nil {
		return nil, fmt.Errorf("cart %s: lines: %w", id, err)
	}
	defer rows.Close()
	var out []Line
	for rows.Next() {
		var l Line
		if err := rows.Scan(&l.SKU, &l.Quantity); err != nil {
			return nil, fmt.Errorf("cart %s: lines: %w", id, err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cart %s: lines: %w", id, err)
	}
	return out, nil
}

// token is the token of cart id: base64url of HMAC-SHA256(key, id).
func (s *Service) token(ctx context.Context, id string) (string, error) {
	key, err := s.secret(ctx)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sign(key, id)), nil
}

func sign(key []byte, id string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	return mac.Sum(nil)
}

// check verifies token against id in constant time. It answers an unknown
// id only later, from the database, and both failures read the same.
func (s *Service) check(ctx context.Context, id, token string) error {
	key, err := s.secret(ctx)
	if err != nil {
		return err
	}
	got, derr := base64.RawURLEncoding.DecodeString(token)
	ok := hmac.Equal(sign(key, id), got)
	if derr != nil || !ok || len(id) != idLen {
		return errNotFound()
	}
	return nil
}

// secret returns the token key, reading it from the database once. A
// failed read is retried by the next caller rather than remembered.
func (s *Service) secret(ctx context.Context) ([]byte, error) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if s.key != nil {
		return s.key, nil
	}
	key, err := s.db.Secret(ctx, secretName)
	if err != nil {
		return nil, fmt.Errorf("cart token key: %w", err)
	}
	s.key = key
	return key, nil
}

// market returns the market of code, or market.ErrNotFound.
func (s *Service) market(ctx context.Context, code string) (market.Market, error) {
	set, err := s.catalog.Markets(ctx)
	if err != nil {
		return market.Market{}, fmt.Errorf("markets: %w", err)
	}
	return set.Get(code)
}

// summary reads cart id's own row.
func (s *Service) summary(ctx context.Context, id string) (Summary, error) {
	c := Summary{ID: id}
	var order sql.NullString
	err := s.db.Reader().QueryRowContext(ctx, "SELECT market, order_number FROM carts WHERE id = $1", id).Scan(&c.Market, &order)
	if errors.Is(err, sql.ErrNoRows) {
		return Summary{}, errNotFound()
	}
	if err != nil {
		return Summary{}, fmt.Errorf("cart %s: %w", id, err)
	}
	c.OrderNumber = order.String
	return c, nil
}

// Sweep deletes carts that were never checked out and have not changed
// since before, with their lines: abandoned carts, and the empty ones
// visitors and bots create, would otherwise pile up for ever.
func (s *Service) Sweep(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecRelaxed(ctx, `DELETE FROM carts WHERE order_number IS NULL AND updated_at < $1`, db.Time(before))
	if err != nil {
		return 0, fmt.Errorf("sweep carts: %w", err)
	}
	return res.RowsAffected()
}
