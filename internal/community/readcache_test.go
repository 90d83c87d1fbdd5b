package community

import (
	"context"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// TestReadsSeeOwnWrites: the thread state and ratings the storefront keys
// its cached pages on are reused between writes, and a write through the
// service shows in the very next read.
func TestReadsSeeOwnWrites(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, false)
		ctx := context.Background()
		p := e.product(t, "band")
		ada, bob := e.customer(t, "Ada"), e.customer(t, "Bob")
		before, err := e.s.Thread(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		e.comment(t, p, ada, "first")
		after, err := e.s.Thread(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if after.Comments != before.Comments+1 || after.Version == before.Version {
			t.Errorf("thread after a comment = %+v, before %+v: the cached state was served", after, before)
		}
		sums, err := e.s.Summaries(ctx, []int64{p})
		if err != nil || sums[p].Count != 0 {
			t.Fatalf("summaries before a review: %+v, %v", sums, err)
		}
		if _, err := e.s.PostReview(ctx, NewReview{ProductID: p, CustomerID: bob, Rating: 4, Title: "ok"}); err != nil {
			t.Fatal(err)
		}
		if sums, err = e.s.Summaries(ctx, []int64{p}); err != nil || sums[p].Count != 1 || sums[p].Average != 4 {
			t.Errorf("summaries after a review: %+v, %v", sums, err)
		}
	})
}
