package loadtest

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"mistore/internal/audit"
	catsvc "mistore/internal/catalog"
	"mistore/internal/customer"
	"mistore/internal/db"
	"mistore/internal/flashsale"
	"mistore/internal/inventory"
)

// The flashsale scenario's preparation writes straight into the store's
// database before the clock starts: signing a hundred thousand customers
// up through the API would measure argon2id, not claims.

const (
	// customerRowsPerStatement keeps a multi-row INSERT well under both
	// engines' bound on parameters (32,766 on SQLite, 65,535 on
	// PostgreSQL) while making a statement carry enough rows that the
	// per-statement cost disappears.
	customerRowsPerStatement = 1000
	// customerStatementsPerTx bounds each transaction, so that the
	// store's own writer, which may be serving traffic on SQLite, never
	// waits long for the file lock.
	customerStatementsPerTx = 5
	// loadtestActorName is who the audit log says topped up the stock and
	// created the sale.
	loadtestActorName = "mistore loadtest"
)

// claimant is a prepared customer: an id and the Authorization header
// value that opens their session.
type claimant struct {
	id   int64
	auth string // "Bearer " + token
}

// prepareCustomers inserts n customers, each with one API session, and
// returns them with their session tokens. Their email addresses carry tag,
// so runs against the same database never collide. Every customer has the
// same password hash, of a random password thrown away: nobody can sign
// in as them, and no hash is computed per customer.
func prepareCustomers(ctx context.Context, d *db.DB, n int, tag string) ([]claimant, error) {
	password, err := customer.NewToken()
	if err != nil {
		return nil, fmt.Errorf("prepare customers: %w", err)
	}
	hash, err := customer.HashPassword(password, customer.DefaultParams)
	if err != nil {
		return nil, fmt.Errorf("prepare customers: %w", err)
	}
	out := make([]claimant, n)
	// Tokens are made as customer.NewSession makes them: the client
	// holds the token, the table its SHA-256.
	hashes := make([]string, n)
	for i := range out {
		token, err := customer.NewToken()
		if err != nil {
			return nil, fmt.Errorf("prepare customers: %w", err)
		}
		out[i].auth = "Bearer " + token
		hashes[i] = customer.HashToken(token)
	}
	perTx := customerRowsPerStatement * customerStatementsPerTx
	for lo := 0; lo < n; lo += perTx {
		hi := min(lo+perTx, n)
		// Stamped per transaction: a session seen now is not touched
		// (written) by the store for customer.TouchInterval.
		now := db.Now()
		err := d.Tx(ctx, func(tx db.Querier) error {
			for s := lo; s < hi; s += customerRowsPerStatement {
				e := min(s+customerRowsPerStatement, hi)
				if err := insertCustomers(ctx, tx, out[s:e], s, tag, hash, now); err != nil {
					return err
				}
				if err := insertSessions(ctx, tx, out[s:e], hashes[s:e], now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("prepare customers %d to %d of %d: %w", lo+1, hi, n, err)
		}
	}
	return out, nil
}

// customerEmail is the address of the i-th customer of the run tagged tag,
// on a domain that reaches nobody.
func customerEmail(tag string, i int) string {
	return "lt-" + tag + "-" + strconv.Itoa(i) + "@example.com"
}

// insertCustomers inserts one customer per element of cs, the first being
// number first of the run, and fills in their ids. Which id belongs to whom
// is read from RETURNING by email: neither engine promises to return rows
// in the order of VALUES.
func insertCustomers(ctx context.Context, tx db.Querier, cs []claimant, first int, tag, hash string, now time.Time) error {
	var q strings.Builder
	q.WriteString("INSERT INTO customers (email, email_key, name, password_hash, created_at, updated_at) VALUES ")
	args := make([]any, 0, 2+2*len(cs))
	args = append(args, hash, now)
	index := make(map[string]int, len(cs))
	for i := range cs {
		if i > 0 {
			q.WriteByte(',')
		}
		n := len(args)
		fmt.Fprintf(&q, "($%d, $%d, 'Load Test', $1, $2, $2)", n+1, n+2)
		email := customerEmail(tag, first+i)
		key := customer.EmailKey(email)
		args = append(args, email, key)
		index[key] = i
	}
	q.WriteString(" RETURNING id, email_key")
	rows, err := tx.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return fmt.Errorf("insert customers: %w", err)
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var id int64
		var key string
		if err := rows.Scan(&id, &key); err != nil {
			return fmt.Errorf("insert customers: %w", err)
		}
		i, ok := index[key]
		if !ok {
			return fmt.Errorf("insert customers: unexpected row for %q", key)
		}
		cs[i].id = id
		seen++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("insert customers: %w", err)
	}
	if seen != len(cs) {
		return fmt.Errorf("insert customers: %d rows returned for %d inserted", seen, len(cs))
	}
	return nil
}

// insertSessions inserts one API session per customer of cs, stored under
// the token hashes, as customer.NewSession would have: created and last
// seen now, ending after customer.APILifetime.
func insertSessions(ctx context.Context, tx db.Querier, cs []claimant, hashes []string, now time.Time) error {
	var q strings.Builder
	q.WriteString("INSERT INTO customer_sessions (id, customer_id, kind, created_at, last_seen_at, expires_at) VALUES ")
	args := make([]any, 0, 3+2*len(cs))
	args = append(args, string(customer.SessionAPI), now, now.Add(customer.APILifetime))
	for i, c := range cs {
		if i > 0 {
			q.WriteByte(',')
		}
		n := len(args)
		fmt.Fprintf(&q, "($%d, $%d, $1, $2, $2, $3)", n+1, n+2)
		args = append(args, hashes[i], c.id)
	}
	if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
		return fmt.Errorf("insert sessions: %w", err)
	}
	return nil
}

// runTag returns a short random tag that names one run's customers and
// sale.
func runTag() (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// saleItem is the SKU a flash sale sells and its everyday price.
type saleItem struct {
	sku   string
	price int64 // minor units
}

// chooseSaleItem picks what the sale sells: sku if given, which must be a
// variant with a price in the market, else the first SKU the checkout
// scenario would buy (an available, priced variant of a cheap accessory).
func chooseSaleItem(ctx context.Context, client *http.Client, cat *catalog, target, market, sku string) (saleItem, error) {
	base := strings.TrimRight(target, "/") + "/api/v1/markets/" + url.PathEscape(market) + "/products/"
	products := cat.products
	if sku == "" {
		products = rankForSale(cat.products)
	}
	// With a SKU given, any listed product may have it, in stock or not:
	// the sale brings its own stock.
	for _, p := range products {
		var d productDetail
		if err := fetchJSON(ctx, client, base+url.PathEscape(p.Slug), &d); err != nil {
			return saleItem{}, fmt.Errorf("choose the SKU to sell: %w", err)
		}
		for _, v := range d.Variants {
			if v.Price == nil || v.Price.Amount <= 0 || v.SKU == "" {
				continue
			}
			if sku == "" && v.Available || v.SKU == sku {
				return saleItem{sku: v.SKU, price: v.Price.Amount}, nil
			}
		}
	}
	if sku != "" {
		return saleItem{}, fmt.Errorf("choose the SKU to sell: no product listed in market %q has SKU %q with a price", market, sku)
	}
	return saleItem{}, fmt.Errorf("choose the SKU to sell: no product in market %q has an available variant with a price", market)
}

// rankForSale orders the available products as the checkout and flash
// sale scenarios prefer them: cheap accessories and power banks first,
// cheaper first.
func rankForSale(products []productSummary) []productSummary {
	var out []productSummary
	for _, p := range products {
		if p.Availability == "available" {
			out = append(out, p)
		}
	}
	rank := func(p productSummary) int {
		if slices.Contains(preferredCategories(), p.Category) {
			return 0
		}
		return 1
	}
	price := func(p productSummary) int64 {
		if p.Price == nil {
			return 1<<63 - 1
		}
		return p.Price.Amount
	}
	slices.SortStableFunc(out, func(a, b productSummary) int {
		if c := cmp.Compare(rank(a), rank(b)); c != 0 {
			return c
		}
		return cmp.Compare(price(a), price(b))
	})
	return out
}

// topUpStock makes sure one warehouse of market has at least units of sku
// available (on hand less reserved), which a sale of that many units needs:
// the warehouse with the most available gets what it lacks, recorded as an
// audited adjustment ("received") by the load test. It returns the
// warehouse and how many units it added.
func topUpStock(ctx context.Context, d *db.DB, market, sku string, units int) (string, int, error) {
	var warehouse string
	var onHand, reserved int
	err := d.Reader().QueryRowContext(ctx, `SELECT s.warehouse, s.on_hand, s.reserved FROM stock s
		JOIN warehouses w ON w.code = s.warehouse
		WHERE w.market = $1 AND s.sku = $2 ORDER BY s.on_hand - s.reserved DESC, s.warehouse LIMIT 1`,
		market, sku).Scan(&warehouse, &onHand, &reserved)
	if errors.Is(err, sql.ErrNoRows) {
		// No stock row in the market yet: the adjustment makes one.
		err = d.Reader().QueryRowContext(ctx, "SELECT code FROM warehouses WHERE market = $1 ORDER BY code LIMIT 1", market).Scan(&warehouse)
		if errors.Is(err, sql.ErrNoRows) {
			return "", 0, fmt.Errorf("stock of %s: market %q has no warehouse", sku, market)
		}
	}
	if err != nil {
		return "", 0, fmt.Errorf("stock of %s in %s: %w", sku, market, err)
	}
	lack := units - (onHand - reserved)
	if lack <= 0 {
		return warehouse, 0, nil
	}
	svc := inventory.NewService(d)
	_, err = svc.Adjust(withLoadtestActor(ctx), inventory.Adjustment{
		SKU: sku, Warehouse: warehouse, OnHand: onHand + lack, Expected: &onHand,
		Reason: inventory.ReasonReceived, Note: "stock for a flash-sale load test",
	})
	if err != nil {
		return "", 0, fmt.Errorf("top up stock of %s in %s by %d: %w", sku, warehouse, lack, err)
	}
	return warehouse, lack, nil
}

// withLoadtestActor names the load test as the actor of the changes it
// makes, for the audit log.
func withLoadtestActor(ctx context.Context) context.Context {
	return audit.WithActor(ctx, audit.Actor{Kind: audit.KindCLI, Name: loadtestActorName})
}

// createSale creates the run's flash sale through flashsale.Service.Create,
// as the back office would: its units are set aside in the pool
// reservation there and then.
func createSale(ctx context.Context, d *db.DB, ns flashsale.NewSale) (*flashsale.Sale, error) {
	inv := inventory.NewService(d)
	cat := catsvc.NewService(d, inventory.NewDisplayCache(inv, time.Second), catsvc.Options{})
	svc := flashsale.NewService(d, cat, nil, flashsale.Options{})
	defer svc.Close()
	s, err := svc.Create(withLoadtestActor(ctx), ns)
	if err != nil {
		return nil, fmt.Errorf("create the flash sale: %w", err)
	}
	if s == nil {
		return nil, errors.New("create the flash sale: no sale returned")
	}
	return s, nil
}
