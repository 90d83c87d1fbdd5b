package waitlist

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"mistore/internal/db"
)

// ExportEntry is one waitlist entry of an address, in its owner's data
// export.
type ExportEntry struct {
	Product        string     `json:"product"`
	Market         string     `json:"market"`
	CreatedAt      time.Time  `json:"created_at"`
	ConfirmedAt    *time.Time `json:"confirmed_at"`
	NotifiedAt     *time.Time `json:"notified_at"`
	UnsubscribedAt *time.Time `json:"unsubscribed_at"`
}

// ExportEmail returns the waitlist entries of email, read through q,
// oldest first.
func ExportEmail(ctx context.Context, q db.Querier, email string) ([]ExportEntry, error) {
	out := []ExportEntry{}
	err := db.EachRow(ctx, q, `SELECT p.slug, e.market, e.created_at, e.confirmed_at, e.notified_at, e.unsubscribed_at
		FROM waitlist_entries e JOIN products p ON p.id = e.product_id WHERE e.email_key = $1 ORDER BY e.created_at, e.id`,
		[]any{strings.ToLower(strings.TrimSpace(email))}, func(rows *sql.Rows) error {
			var e ExportEntry
			var confirmed, notified, unsubscribed sql.NullTime
			if err := rows.Scan(&e.Product, &e.Market, &e.CreatedAt, &confirmed, &notified, &unsubscribed); err != nil {
				return err
			}
			e.CreatedAt = e.CreatedAt.UTC()
			e.ConfirmedAt, e.NotifiedAt, e.UnsubscribedAt = utcPtr(confirmed), utcPtr(notified), utcPtr(unsubscribed)
			out = append(out, e)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("export waitlist entries: %w", err)
	}
	return out, nil
}

func utcPtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}
