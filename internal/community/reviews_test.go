package community

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

func TestReviews(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, false)
		ctx := context.Background()
		p := e.product(t, "band")
		other := e.product(t, "buds")
		ada, bob, cy := e.customer(t, "Ada"), e.customer(t, "Bob"), e.customer(t, "Cy")
		e.order(t, ada, "delivered", "SKU-band")
		e.order(t, bob, "pending_payment", "SKU-band")
		e.order(t, bob, "paid", "SKU-buds")

		for _, bad := range []int{0, 6, -1} {
			_, err := e.s.PostReview(ctx, NewReview{ProductID: p, CustomerID: ada, Rating: bad, Title: "t"})
			if fe := fieldErr(t, err, "rating"); !errors.Is(fe, ErrInvalidRating) {
				t.Fatalf("rating %d: %v", bad, err)
			}
		}
		fieldErr(t, func() error {
			_, err := e.s.PostReview(ctx, NewReview{ProductID: p, CustomerID: ada, Rating: 4})
			return err
		}(), "title")
		_, err := e.s.PostReview(ctx, NewReview{ProductID: p, CustomerID: ada, Rating: 4, Title: string(make([]rune, MaxTitleLen+1))})
		fieldErr(t, err, "title")

		ra, err := e.s.PostReview(ctx, NewReview{ProductSlug: "band", CustomerID: ada, Rating: 5, Title: " Great\n watch ", Body: "Love it"})
		if err != nil {
			t.Fatal(err)
		}
		if !ra.Verified || ra.Title != "Great watch" || ra.Author.Posts != 1 || ra.Rating != 5 {
			t.Fatalf("review = %+v", ra)
		}
		if _, err := e.s.PostReview(ctx, NewReview{ProductID: p, CustomerID: ada, Rating: 1, Title: "again"}); !errors.Is(err, ErrDuplicateReview) {
			t.Fatalf("second review: %v", err)
		}
		rb, err := e.s.PostReview(ctx, NewReview{ProductID: p, CustomerID: bob, Rating: 4, Title: "Good"})
		if err != nil {
			t.Fatal(err)
		}
		if rb.Verified {
			t.Fatal("an unpaid order, or a paid one for another product, verified the purchase")
		}
		rc, err := e.s.PostReview(ctx, NewReview{ProductID: p, CustomerID: cy, Rating: 4, Title: "Fine"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.PostReview(ctx, NewReview{ProductID: other, CustomerID: bob, Rating: 2, Title: "Meh"}); err != nil {
			t.Fatal(err)
		}

		// Votes: not one's own, one per customer.
		if _, err := e.s.Vote(ctx, rb.ID, bob, ""); !errors.Is(err, ErrOwnReview) {
			t.Fatalf("own vote: %v", err)
		}
		for range 2 {
			if n, err := e.s.Vote(ctx, rb.ID, ada, ""); err != nil || n != 1 {
				t.Fatalf("vote = %d, %v", n, err)
			}
		}
		if n, err := e.s.Vote(ctx, rb.ID, cy, ""); err != nil || n != 2 {
			t.Fatalf("vote = %d, %v", n, err)
		}
		if _, err := e.s.Vote(ctx, 99999, cy, ""); !errors.Is(err, ErrNotFound) {
			t.Fatalf("vote unknown: %v", err)
		}

		newest, err := e.s.Reviews(ctx, ReviewQuery{Product: p, Sort: ParseSort("bogus"), Viewer: ada})
		if err != nil {
			t.Fatal(err)
		}
		if len(newest.Reviews) != 3 || newest.Reviews[0].ID != rc.ID || newest.Reviews[2].ID != ra.ID {
			t.Fatalf("newest order wrong: %+v", newest.Reviews)
		}
		if !newest.Reviews[1].Voted || newest.Reviews[0].Voted {
			t.Fatal("Voted is wrong")
		}
		helpful, err := e.s.Reviews(ctx, ReviewQuery{Product: p, Sort: SortHelpful})
		if err != nil {
			t.Fatal(err)
		}
		if helpful.Reviews[0].ID != rb.ID || helpful.Reviews[0].Helpful != 2 {
			t.Fatalf("most helpful first: %+v", helpful.Reviews[0])
		}
		sum := newest.Summary
		if sum.Count != 3 || sum.Average != 4.3 || sum.AverageText() != "4.3" || sum.Stars != [5]int{0, 0, 0, 2, 1} || sum.Percent(4) != 67 {
			t.Fatalf("summary = %+v", sum)
		}
		all, err := e.s.Summaries(ctx, []int64{p, other, 4242})
		if err != nil {
			t.Fatal(err)
		}
		if all[p] != sum || all[other].Count != 1 || all[other].Average != 2 || all[4242].Count != 0 {
			t.Fatalf("summaries = %+v", all)
		}
		if mine, err := e.s.CustomerReview(ctx, p, ada); err != nil || mine.ID != ra.ID {
			t.Fatalf("customer review = %+v, %v", mine, err)
		}
		if _, err := e.s.CustomerReview(ctx, other, ada); !errors.Is(err, ErrNotFound) {
			t.Fatalf("no review: %v", err)
		}

		// Hiding takes it off the page, out of the summary and the posts count.
		if err := e.s.HideReview(staffCtx(), rb.ID, "off topic"); err != nil {
			t.Fatal(err)
		}
		after, err := e.s.Reviews(ctx, ReviewQuery{Product: p})
		if err != nil {
			t.Fatal(err)
		}
		if after.Total != 2 || after.Summary.Count != 2 || after.Summary.Average != 4.5 {
			t.Fatalf("after hide: %+v", after.Summary)
		}
		if e.posts(t, bob) != 1 {
			t.Fatalf("bob's posts = %d", e.posts(t, bob))
		}
		if _, err := e.s.Vote(ctx, rb.ID, e.customer(t, "Di"), ""); !errors.Is(err, ErrNotFound) {
			t.Fatalf("vote on hidden: %v", err)
		}
		if err := e.s.RestoreReview(staffCtx(), rb.ID, "fine after all"); err != nil {
			t.Fatal(err)
		}
		if e.posts(t, bob) != 2 {
			t.Fatalf("bob's posts after restore = %d", e.posts(t, bob))
		}
		if n := e.count(t, "SELECT count(*) FROM audit_log WHERE subject = $1", fmt.Sprintf("review:%d", rb.ID)); n != 2 {
			t.Fatalf("%d audit rows", n)
		}
	})
}

func TestVerifiedPurchaseStatuses(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, false)
		for _, tc := range []struct {
			status   string
			verified bool
		}{{"paid", true}, {"fulfilled", true}, {"delivered", true}, {"partially_refunded", true},
			{"pending_payment", false}, {"cancelled", false}, {"refunded", false}} {
			p := e.product(t, "p-"+tc.status)
			c := e.customer(t, tc.status)
			e.order(t, c, tc.status, "SKU-p-"+tc.status)
			r, err := e.s.PostReview(context.Background(), NewReview{ProductID: p, CustomerID: c, Rating: 3, Title: "t"})
			if err != nil {
				t.Fatal(err)
			}
			if r.Verified != tc.verified {
				t.Errorf("%s: verified = %v", tc.status, r.Verified)
			}
		}
		// An unverified email address does not make someone else's order theirs.
		p := e.product(t, "band")
		c := e.customer(t, "Unverified")
		e.order(t, c, "paid", "SKU-band")
		e.exec(t, "UPDATE customers SET email_verified_at = NULL WHERE id = $1", c)
		r, err := e.s.PostReview(context.Background(), NewReview{ProductID: p, CustomerID: c, Rating: 3, Title: "t"})
		if err != nil || r.Verified {
			t.Fatalf("unverified email: %+v, %v", r, err)
		}
	})
}
