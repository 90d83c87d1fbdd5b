package db

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// Secret returns the store's secret called name: 32 random bytes made on
// first use and kept in the database, so every instance signs and checks
// tokens with the same key and none needs configuring.
func (d *DB) Secret(ctx context.Context, name string) ([]byte, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	// Two instances starting at once may both try: the first insert wins
	// and both read its value back.
	var v string
	err := d.Tx(ctx, func(tx Querier) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO NOTHING`, name, hex.EncodeToString(b[:]), Now()); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, "SELECT value FROM secrets WHERE name = $1", name).Scan(&v)
	})
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	key, err := hex.DecodeString(v)
	if err != nil || len(key) < 16 {
		return nil, fmt.Errorf("secret %s: stored value is not a key", name)
	}
	return key, nil
}
