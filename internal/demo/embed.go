// Package demo holds the demo store's catalog: a small, hand-written set of
// Mistore products, variants, prices, certifications, resellers and stock
// levels used to seed a development or demo store.
package demo

import _ "embed"

// ProductsCSV is the demo catalog in the format of mistore import products.
//
//go:embed products.csv
var ProductsCSV []byte
