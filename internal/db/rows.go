package db

import (
	"context"
	"database/sql"
)

// EachRow runs query through q and calls fn on each row, stopping at the
// first error; it closes the rows whatever happens.
func EachRow(ctx context.Context, q Querier, query string, args []any, fn func(*sql.Rows) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
