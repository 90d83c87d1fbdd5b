package demo

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"mistore/internal/community"
	"mistore/internal/customer"
	"mistore/internal/db"
)

// member is a long-standing member of the demo store's community.
type member struct {
	email, name string
	since       time.Time
}

// members talk about the products; nobody can sign in as them (their
// password is random and thrown away).
var members = []member{
	{"mei.lin@example.com", "Mei Lin", time.Date(2015, time.January, 15, 9, 30, 0, 0, time.UTC)},
	{"raj.patel@example.com", "Raj Patel", time.Date(2018, time.June, 2, 18, 5, 0, 0, time.UTC)},
	{"sam.okafor@example.com", "Sam Okafor", time.Date(2022, time.March, 10, 12, 0, 0, 0, time.UTC)},
}

// post is a demo comment: by members[author], answering comment replyTo
// (0: none).
type post struct {
	author  int
	replyTo int
	body    string
}

// phoneThread is the talk under the phone the US does not sell yet.
var phoneThread = []post{
	{0, 0, "Been using the Phone 14 in Shanghai for a month: the camera is great in low light and the battery easily lasts a day and a half."},
	{1, 0, "Any news on a US launch? I would buy one tomorrow. Until then I have joined the waitlist on this page."},
	{2, 2, "Same here. The FCC certificate is what is missing; the resellers listed above ship from Europe in the meantime."},
	{0, 3, "Good to know. If enough of us join the waitlist the shop says it will certify it for the US."},
}

// SeedCommunity gives the demo store's community its members and a few
// posts: a thread under the phone that is not sold in the US, and reviews
// of the Band 8. Posts go through c (with its limits off), so they are
// numbered, counted and filtered as members' posts are.
func SeedCommunity(ctx context.Context, d *db.DB, c *community.Service) error {
	ids := make([]int64, len(members))
	for i, m := range members {
		hash, err := customer.HashPassword(rand.Text(), customer.DefaultParams)
		if err != nil {
			return err
		}
		if err := d.Tx(ctx, func(tx db.Querier) error {
			return tx.QueryRowContext(ctx, `INSERT INTO customers (email, email_key, name, password_hash, email_verified_at, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $5, $5) RETURNING id`, m.email, customer.EmailKey(m.email), m.name, hash, m.since).Scan(&ids[i])
		}); err != nil {
			return fmt.Errorf("demo member %s: %w", m.email, err)
		}
	}
	for _, p := range phoneThread {
		if _, err := c.PostComment(ctx, community.NewComment{ProductSlug: "mistore-phone-14", CustomerID: ids[p.author], ReplyTo: p.replyTo, Body: p.body}); err != nil {
			return fmt.Errorf("demo comment: %w", err)
		}
	}
	for i, r := range []community.NewReview{
		{Rating: 5, Title: "Light, bright and lasts", Body: "Two weeks between charges, and the screen is easy to read in the sun."},
		{Rating: 4, Title: "Great value", Body: "Does everything I need. The strap could be softer."},
	} {
		r.ProductSlug, r.CustomerID = "mistore-band-8", ids[i]
		if _, err := c.PostReview(ctx, r); err != nil {
			return fmt.Errorf("demo review: %w", err)
		}
	}
	return nil
}
