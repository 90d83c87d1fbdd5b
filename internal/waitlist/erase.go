package waitlist

import (
	"context"
	"fmt"
	"strings"

	"mistore/internal/db"
)

// EraseEmail deletes every waitlist entry of email, inside tx: what an
// erased account leaves of its address here. The entries go from the
// demand report with it; an address is its owner's, not the shop's.
func EraseEmail(ctx context.Context, tx db.Querier, email string) error {
	key := strings.ToLower(strings.TrimSpace(email))
	if key == "" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM waitlist_entries WHERE email_key = $1", key); err != nil {
		return fmt.Errorf("erase waitlist entries: %w", err)
	}
	return nil
}
