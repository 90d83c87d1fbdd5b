package flashsale

import (
	"encoding/json"
	"fmt"

	"mistore/internal/db"
)

// claimStatements is the SQL of a batch, per engine. Each text is fixed,
// whatever the batch's size, so that it is prepared once and stays in the
// statement cache: a batch's rows travel as arrays (PostgreSQL) or as one
// JSON document (SQLite) instead of as a list of placeholders.
type claimStatements struct {
	// lock reads the sale row and, on PostgreSQL, locks it: $1 sale.
	lock string
	// registered lists which customers registered: $1 sale, $2 customers.
	registered string
	// holders lists units held: $1 sale, $2 customers.
	holders string
	// take moves the counter: $1 sale, $2 units.
	take string
	// hold adds units to holders: $1 sale, then pairs' arguments.
	hold string
	// insert writes the claims and returns id, cart_id: $1 sale,
	// $2 expires, $3 now, then claimRows' arguments.
	insert string
}

const takeSQL = `UPDATE flash_sales SET claimed = claimed + $2 WHERE id = $1 AND claimed + $2 <= quantity`

var claimSQL = map[db.Dialect]claimStatements{
	db.Postgres: {
		lock:       "SELECT " + snapshotColumns + " FROM flash_sales WHERE id = $1 FOR UPDATE",
		registered: `SELECT customer_id FROM flash_sale_registrations WHERE sale_id = $1 AND customer_id = ANY($2::bigint[])`,
		holders:    `SELECT customer_id, units FROM flash_sale_holders WHERE sale_id = $1 AND customer_id = ANY($2::bigint[])`,
		take:       takeSQL,
		hold: `INSERT INTO flash_sale_holders (sale_id, customer_id, units)
			SELECT $1, c, u FROM unnest($2::bigint[], $3::int[]) AS t(c, u)
			ON CONFLICT (sale_id, customer_id) DO UPDATE SET units = flash_sale_holders.units + excluded.units`,
		insert: `INSERT INTO flash_sale_claims (sale_id, customer_id, quantity, state, cart_id, expires_at, created_at, updated_at)
			SELECT $1, c, q, 'live', cart, $2, $3, $3 FROM unnest($4::bigint[], $5::int[], $6::text[]) AS t(c, q, cart)
			RETURNING id, cart_id`,
	},
	// SQLite runs in process, one writer: FOR UPDATE is neither needed
	// nor understood. "WHERE true" keeps INSERT ... SELECT ... ON CONFLICT
	// from parsing as a join's ON.
	db.SQLite: {
		lock:       "SELECT " + snapshotColumns + " FROM flash_sales WHERE id = $1",
		registered: `SELECT customer_id FROM flash_sale_registrations WHERE sale_id = $1 AND customer_id IN (SELECT value FROM json_each($2))`,
		holders:    `SELECT customer_id, units FROM flash_sale_holders WHERE sale_id = $1 AND customer_id IN (SELECT value FROM json_each($2))`,
		take:       takeSQL,
		hold: `INSERT INTO flash_sale_holders (sale_id, customer_id, units)
			SELECT $1, value ->> 0, value ->> 1 FROM json_each($2) WHERE true
			ON CONFLICT (sale_id, customer_id) DO UPDATE SET units = units + excluded.units`,
		insert: `INSERT INTO flash_sale_claims (sale_id, customer_id, quantity, state, cart_id, expires_at, created_at, updated_at)
			SELECT $1, value ->> 0, value ->> 1, 'live', value ->> 2, $2, $3, $3 FROM json_each($4)
			RETURNING id, cart_id`,
	},
}

// idList is the argument for a list of customers.
func idList(dialect db.Dialect, ids []int64) (any, error) {
	if dialect == db.Postgres {
		return ids, nil
	}
	return jsonArg(ids)
}

// pairs is the argument(s) for customers and the units each one adds.
func pairs(dialect db.Dialect, customers []int64, units []int) ([]any, error) {
	if dialect == db.Postgres {
		return []any{customers, int32s(units)}, nil
	}
	rows := make([][2]int64, len(customers))
	for i := range customers {
		rows[i] = [2]int64{customers[i], int64(units[i])}
	}
	doc, err := jsonArg(rows)
	return []any{doc}, err
}

// claimRows is the argument(s) for the claims' customer, quantity and
// cart.
func claimRows(dialect db.Dialect, customers []int64, qty []int, carts []string) ([]any, error) {
	if dialect == db.Postgres {
		return []any{customers, int32s(qty), carts}, nil
	}
	rows := make([][3]any, len(customers))
	for i := range customers {
		rows[i] = [3]any{customers[i], qty[i], carts[i]}
	}
	doc, err := jsonArg(rows)
	return []any{doc}, err
}

func int32s(v []int) []int32 {
	out := make([]int32, len(v))
	for i, n := range v {
		out[i] = int32(n)
	}
	return out
}

func jsonArg(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode batch: %w", err)
	}
	return string(b), nil
}
