package demo

import (
	"bytes"
	"context"
	"fmt"

	"mistore/internal/catalog"
)

// Seed loads the demo catalog into the store. It is an import of
// ProductsCSV, so running it again changes nothing new: products and
// variants are matched by slug and SKU. Stock is set only where a variant
// has none yet in a warehouse: on a store that has sold, or whose staff
// counted the shelves, seeding again puts back nothing.
func Seed(ctx context.Context, c *catalog.Service) (*catalog.ImportResult, error) {
	res, err := c.ImportWith(ctx, bytes.NewReader(ProductsCSV), catalog.ImportOptions{KeepStock: true})
	if err != nil {
		return nil, fmt.Errorf("seed demo catalog: %w", err)
	}
	return res, nil
}
