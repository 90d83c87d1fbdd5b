package catalog

import (
	"context"

	"mistore/internal/db"
)

// SearchIDs runs a search on the database, bypassing the result cache, for
// benchmarks.
func SearchIDs(ctx context.Context, d *db.DB, q string) ([]int64, error) {
	return searchDB(ctx, d, searchTerms(q))
}
