package cart

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"mistore/internal/db"
)

// NewID returns a new cart id (db.NewKey: time-ordered, so that the carts
// made together share index pages, with 80 random bits). Flash-sale
// claims make their carts' ids before the transaction that writes them,
// so that the batch that decides a claim does no work per cart beyond its
// rows.
func NewID() (string, error) {
	return db.NewKey(), nil
}

// Token returns the token that opens cart id, for a cart made elsewhere
// (a flash-sale claim's). It does not check that the cart exists.
func (s *Service) Token(ctx context.Context, id string) (string, error) {
	t, err := s.token(ctx, id)
	if err != nil {
		return "", fmt.Errorf("token of cart %s: %w", id, err)
	}
	return t, nil
}

// ClaimCart is one cart a flash-sale claim puts its units in: id from
// NewID, and how many units of the sale's SKU its one line holds.
type ClaimCart struct {
	ID       string
	Quantity int
}

// ClaimLines is what every cart of one batch of claims shares: the sale's
// market, its SKU and the sale price the line was seen at.
type ClaimLines struct {
	Market string
	SKU    string
	Price  int64
	Now    time.Time
}

// InsertClaimCarts writes carts, each with its one line of l.SKU, through
// tx: the carts of a batch of flash-sale claims. The carts belong to no
// customer (customer_id stays NULL) so that none becomes a customer's
// everyday cart. It runs two statements whatever the number of carts, with
// SQL text that does not depend on it: array parameters on PostgreSQL,
// one JSON document on SQLite.
func InsertClaimCarts(ctx context.Context, tx db.Querier, dialect db.Dialect, l ClaimLines, carts []ClaimCart) error {
	if len(carts) == 0 {
		return nil
	}
	now := db.Time(l.Now)
	if dialect == db.Postgres {
		ids := make([]string, len(carts))
		qty := make([]int32, len(carts))
		for i, c := range carts {
			ids[i], qty[i] = c.ID, int32(c.Quantity)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO carts (id, market, created_at, updated_at)
			SELECT id, $2, $3, $3 FROM unnest($1::text[]) AS t(id)`, ids, l.Market, now); err != nil {
			return fmt.Errorf("insert claim carts: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO cart_lines (cart_id, sku, quantity, seen_price, seen_state, position)
			SELECT id, $3, q, $4, '', 0 FROM unnest($1::text[], $2::int[]) AS t(id, q)`, ids, qty, l.SKU, l.Price); err != nil {
			return fmt.Errorf("insert claim cart lines: %w", err)
		}
		return nil
	}
	rows := make([][2]any, len(carts))
	for i, c := range carts {
		rows[i] = [2]any{c.ID, c.Quantity}
	}
	doc, err := json.Marshal(rows)
	if err != nil {
		return fmt.Errorf("insert claim carts: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO carts (id, market, created_at, updated_at)
		SELECT value ->> 0, $2, $3, $3 FROM json_each($1)`, string(doc), l.Market, now); err != nil {
		return fmt.Errorf("insert claim carts: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO cart_lines (cart_id, sku, quantity, seen_price, seen_state, position)
		SELECT value ->> 0, $2, value ->> 1, $3, '', 0 FROM json_each($1)`, string(doc), l.SKU, l.Price); err != nil {
		return fmt.Errorf("insert claim cart lines: %w", err)
	}
	return nil
}
