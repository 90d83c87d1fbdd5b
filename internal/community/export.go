package community

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"mistore/internal/db"
)

// ExportComment is one of a customer's comments, in their data export.
type ExportComment struct {
	Product   string     `json:"product"`
	Number    int        `json:"number"`
	Body      string     `json:"body"`
	ReplyTo   *int       `json:"reply_to"`
	CreatedAt time.Time  `json:"created_at"`
	EditedAt  *time.Time `json:"edited_at"`
	DeletedAt *time.Time `json:"deleted_at"`
	// Hidden says a moderator took the comment off the storefront.
	Hidden       bool   `json:"hidden"`
	HiddenReason string `json:"hidden_reason,omitempty"`
}

// ExportReview is one of a customer's reviews, in their data export.
type ExportReview struct {
	Product      string    `json:"product"`
	Rating       int       `json:"rating"`
	Title        string    `json:"title"`
	Body         string    `json:"body"`
	Verified     bool      `json:"verified"`
	Helpful      int       `json:"helpful"`
	CreatedAt    time.Time `json:"created_at"`
	Hidden       bool      `json:"hidden"`
	HiddenReason string    `json:"hidden_reason,omitempty"`
}

// ExportCustomer returns what the community keeps of customer, read
// through q, for their right of access: their comments and reviews,
// hidden ones included (a moderator's reason too), oldest first.
func ExportCustomer(ctx context.Context, q db.Querier, customer int64) ([]ExportComment, []ExportReview, error) {
	comments := []ExportComment{}
	err := db.EachRow(ctx, q, `SELECT p.slug, c.number, c.body, c.reply_to, c.created_at, c.edited_at, c.deleted_at, c.hidden_at, c.hidden_reason
		FROM comments c JOIN products p ON p.id = c.product_id WHERE c.customer_id = $1 ORDER BY c.created_at, c.id`, []any{customer},
		func(rows *sql.Rows) error {
			var c ExportComment
			var reply sql.NullInt64
			var edited, deleted, hidden sql.NullTime
			if err := rows.Scan(&c.Product, &c.Number, &c.Body, &reply, &c.CreatedAt, &edited, &deleted, &hidden, &c.HiddenReason); err != nil {
				return err
			}
			if reply.Valid {
				n := int(reply.Int64)
				c.ReplyTo = &n
			}
			c.CreatedAt = c.CreatedAt.UTC()
			c.EditedAt, c.DeletedAt, c.Hidden = utcPtr(edited), utcPtr(deleted), hidden.Valid
			comments = append(comments, c)
			return nil
		})
	if err != nil {
		return nil, nil, fmt.Errorf("export comments of %d: %w", customer, err)
	}
	reviews := []ExportReview{}
	err = db.EachRow(ctx, q, `SELECT p.slug, r.rating, r.title, r.body, r.verified, r.helpful, r.created_at, r.hidden_at, r.hidden_reason
		FROM reviews r JOIN products p ON p.id = r.product_id WHERE r.customer_id = $1 ORDER BY r.created_at, r.id`, []any{customer},
		func(rows *sql.Rows) error {
			var r ExportReview
			var hidden sql.NullTime
			if err := rows.Scan(&r.Product, &r.Rating, &r.Title, &r.Body, &r.Verified, &r.Helpful, &r.CreatedAt, &hidden, &r.HiddenReason); err != nil {
				return err
			}
			r.CreatedAt, r.Hidden = r.CreatedAt.UTC(), hidden.Valid
			reviews = append(reviews, r)
			return nil
		})
	if err != nil {
		return nil, nil, fmt.Errorf("export reviews of %d: %w", customer, err)
	}
	return comments, reviews, nil
}

func utcPtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}
