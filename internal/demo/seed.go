package demo

import (
	"bytes"
	"context"
	"fmt"

	"mistore/internal/catalog"
)

// Seed loads the demo catalog into the store. It is an import of
// ProductsCSV, so running it again changes nothing new: products and
// variants are matched by slug and SKU, and demo stock levels are set back
// to the file's numbers.
func Seed(ctx context.Context, c *catalog.Service) (*catalog.ImportResult, error) {
	res, err := c.Import(ctx, bytes.NewReader(ProductsCSV))
	if err != nil {
		return nil, fmt.Errorf("seed demo catalog: %w", err)
	}
	return res, nil
}
