package community

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/ratelimit"
)

func TestCommentsNumberedListedAndQuoted(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, false)
		ctx := context.Background()
		p := e.product(t, "band-9")
		other := e.product(t, "buds")
		ada := e.customer(t, "Ada \u202eLovelace")
		bob := e.customer(t, "Bob")

		c1 := e.comment(t, p, ada, "  First!\r\nline two  \n\n\n\nafter\x00 gap ")
		if c1.Number != 1 || c1.Body != "First!\nline two\n\nafter gap" {
			t.Fatalf("c1 = %d %q", c1.Number, c1.Body)
		}
		if c1.Author.Name != "Ada Lovelace" || !c1.Author.MemberSince.Equal(time.Date(2015, 1, 15, 9, 0, 0, 0, time.UTC)) || c1.Author.Posts != 1 {
			t.Fatalf("author = %+v", c1.Author)
		}
		if e.comment(t, other, bob, "elsewhere").Number != 1 {
			t.Fatal("numbers are per product")
		}
		c2, err := e.s.PostComment(ctx, NewComment{ProductSlug: "band-9", CustomerID: bob, Body: "reply", ReplyTo: 1, IP: "192.0.2.1"})
		if err != nil {
			t.Fatal(err)
		}
		if c2.Number != 2 || c2.Quote == nil || c2.Quote.Number != 1 || c2.Quote.AuthorName != "Ada Lovelace" || !strings.HasPrefix(c2.Quote.Body, "First!") {
			t.Fatalf("c2 = %+v quote %+v", c2, c2.Quote)
		}
		_, err = e.s.PostComment(ctx, NewComment{ProductID: p, CustomerID: bob, Body: "x", ReplyTo: 9})
		fieldErr(t, err, "reply_to")
		if _, err := e.s.PostComment(ctx, NewComment{ProductSlug: "nope", CustomerID: bob, Body: "x"}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown product: %v", err)
		}
		if _, err := e.s.PostComment(ctx, NewComment{ProductID: 999999, CustomerID: bob, Body: "x"}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown product id: %v", err)
		}
		fieldErr(t, func() error {
			_, err := e.s.PostComment(ctx, NewComment{ProductID: p, CustomerID: bob, Body: " \n\t "})
			return err
		}(), "body")

		for i := 3; i <= 45; i++ {
			e.comment(t, p, ada, fmt.Sprintf("comment %d", i))
		}
		if err := e.s.DeleteComment(ctx, c1.ID, ada); err != nil {
			t.Fatal(err)
		}
		pg, err := e.s.Comments(ctx, p, 1)
		if err != nil {
			t.Fatal(err)
		}
		if pg.Total != 45 || pg.Pages != 3 || pg.Page != 1 || len(pg.Comments) != PageSize {
			t.Fatalf("page 1: total %d pages %d page %d len %d", pg.Total, pg.Pages, pg.Page, len(pg.Comments))
		}
		first := pg.Comments[0]
		if !first.Deleted || first.Body != "" || first.Number != 1 {
			t.Fatalf("deleted comment shows %+v", first)
		}
		if q := pg.Comments[1].Quote; q == nil || !q.Gone || q.Body != "" {
			t.Fatalf("quote of a deleted comment = %+v", q)
		}
		if pg.Comments[2].Author.Posts != 43 { // 44 comments on p, one deleted
			t.Fatalf("posts = %d", pg.Comments[2].Author.Posts)
		}
		last, err := e.s.Comments(ctx, p, 99)
		if err != nil {
			t.Fatal(err)
		}
		if last.Page != 3 || len(last.Comments) != 5 || last.Comments[4].Number != 45 {
			t.Fatalf("last page: %d, %d comments", last.Page, len(last.Comments))
		}
		st, err := e.s.Thread(ctx, p)
		if err != nil || st.Comments != 45 || st.Version < 46 {
			t.Fatalf("thread = %+v, %v", st, err)
		}
		empty, err := e.s.Comments(ctx, e.product(t, "empty"), 0)
		if err != nil || empty.Total != 0 || empty.Pages != 1 || empty.Page != 1 || empty.Comments == nil {
			t.Fatalf("empty thread = %+v, %v", empty, err)
		}
	})
}

// Concurrent posts on one product get distinct, consecutive numbers.
func TestCommentNumbersUnderConcurrency(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, false)
		p := e.product(t, "hot")
		const n = 40
		authors := make([]int64, 8)
		for i := range authors {
			authors[i] = e.customer(t, fmt.Sprintf("M%d", i))
		}
		var wg sync.WaitGroup
		nums := make([]int, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				c, err := e.s.PostComment(context.Background(), NewComment{ProductID: p, CustomerID: authors[i%len(authors)], Body: fmt.Sprintf("post %d", i)})
				errs[i] = err
				if err == nil {
					nums[i] = c.Number
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		sort.Ints(nums)
		for i, got := range nums {
			if got != i+1 {
				t.Fatalf("numbers = %v, want 1..%d", nums, n)
			}
		}
		if got := e.count(t, "SELECT sum(posts) FROM community_members"); got != n {
			t.Fatalf("posts total = %d, want %d", got, n)
		}
	})
}

func TestEditDeleteReport(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, false)
		ctx := context.Background()
		p := e.product(t, "band")
		ada, bob := e.customer(t, "Ada"), e.customer(t, "Bob")
		c := e.comment(t, p, ada, "helo")
		if !c.Editable(ada, e.clock.Now()) || c.Editable(bob, e.clock.Now()) {
			t.Fatal("Editable")
		}
		if _, err := e.s.EditComment(ctx, c.ID, bob, "hacked"); !errors.Is(err, ErrNotAuthor) {
			t.Fatalf("edit by another: %v", err)
		}
		e.clock.Add(14 * time.Minute)
		ed, err := e.s.EditComment(ctx, c.ID, ada, "hello")
		if err != nil {
			t.Fatal(err)
		}
		if ed.Body != "hello" || !ed.EditedAt.Equal(e.clock.Now()) {
			t.Fatalf("edited = %+v", ed)
		}
		e.clock.Add(time.Minute)
		if _, err := e.s.EditComment(ctx, c.ID, ada, "too late"); !errors.Is(err, ErrEditWindow) {
			t.Fatalf("edit after 15 minutes: %v", err)
		}
		if ed.Editable(ada, e.clock.Now()) {
			t.Fatal("Editable after the window")
		}
		fieldErr(t, func() error { _, err := e.s.EditComment(ctx, c.ID, ada, ""); return err }(), "body")

		// Reports: one per member; the queue shows them.
		if err := e.s.ReportComment(ctx, c.ID, bob, "spam", ""); err != nil {
			t.Fatal(err)
		}
		if err := e.s.ReportComment(ctx, c.ID, bob, "spam again", ""); err != nil {
			t.Fatal(err)
		}
		if n := e.count(t, "SELECT count(*) FROM comment_reports"); n != 1 {
			t.Fatalf("%d reports, want 1", n)
		}
		q, err := e.s.Queue(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(q) != 1 || q[0].Kind != KindComment || q[0].Comment.ID != c.ID || len(q[0].Reports) != 1 ||
			q[0].Reports[0].Reason != "spam" || q[0].Reports[0].Name != "Bob" || q[0].Product.Slug != "band" {
			t.Fatalf("queue = %+v", q)
		}
		if n, err := e.s.QueueSize(ctx); err != nil || n != 1 {
			t.Fatalf("queue size = %d, %v", n, err)
		}

		if err := e.s.DeleteComment(ctx, c.ID, bob); !errors.Is(err, ErrNotAuthor) {
			t.Fatalf("delete by another: %v", err)
		}
		if err := e.s.DeleteComment(ctx, c.ID, ada); err != nil {
			t.Fatal(err)
		}
		if err := e.s.DeleteComment(ctx, c.ID, ada); err != nil {
			t.Fatalf("second delete: %v", err)
		}
		if e.posts(t, ada) != 0 {
			t.Fatalf("posts after delete = %d", e.posts(t, ada))
		}
		if _, err := e.s.EditComment(ctx, c.ID, ada, "back"); !errors.Is(err, ErrDeleted) && !errors.Is(err, ErrEditWindow) {
			t.Fatalf("edit deleted: %v", err)
		}
		if n, _ := e.s.QueueSize(ctx); n != 0 {
			t.Fatalf("a deleted comment stays queued")
		}
		if err := e.s.ReportComment(ctx, c.ID, e.customer(t, "Cy"), "", ""); !errors.Is(err, ErrNotFound) {
			t.Fatalf("report deleted: %v", err)
		}
		if _, err := e.s.EditComment(ctx, 99999, ada, "x"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("edit unknown: %v", err)
		}
	})
}

func TestBannedAndDisabledCannotPost(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, false)
		ctx := context.Background()
		p := e.product(t, "band")
		ada, bob := e.customer(t, "Ada"), e.customer(t, "Bob")
		r := e.comment(t, p, bob, "a comment")
		if err := e.s.Ban(context.Background(), ada, "spam"); err == nil {
			t.Fatal("ban without an actor in the context was allowed")
		}
		if err := e.s.Ban(staffCtx(), ada, "spam links"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.PostComment(ctx, NewComment{ProductID: p, CustomerID: ada, Body: "hi"}); !errors.Is(err, ErrBanned) {
			t.Fatalf("banned post: %v", err)
		}
		if _, err := e.s.PostReview(ctx, NewReview{ProductID: p, CustomerID: ada, Rating: 5, Title: "t"}); !errors.Is(err, ErrBanned) {
			t.Fatalf("banned review: %v", err)
		}
		if err := e.s.ReportComment(ctx, r.ID, ada, "", ""); !errors.Is(err, ErrBanned) {
			t.Fatalf("banned report: %v", err)
		}
		m, err := e.s.Member(ctx, ada)
		if err != nil || !m.Banned || m.BanReason != "spam links" {
			t.Fatalf("member = %+v, %v", m, err)
		}
		if list, err := e.s.Banned(ctx); err != nil || len(list) != 1 || list[0].ID != ada {
			t.Fatalf("banned = %+v, %v", list, err)
		}
		if err := e.s.Unban(staffCtx(), ada, "appealed"); err != nil {
			t.Fatal(err)
		}
		e.comment(t, p, ada, "back")
		if n := e.count(t, "SELECT count(*) FROM audit_log WHERE action IN ('member.ban', 'member.unban') AND subject = $1",
			fmt.Sprintf("customer:%d", ada)); n != 2 {
			t.Fatalf("%d audit rows, want 2", n)
		}
		if err := e.s.Ban(staffCtx(), 99999, "x"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("ban unknown: %v", err)
		}
		fieldErr(t, e.s.Ban(staffCtx(), ada, " "), "reason")

		e.exec(t, "UPDATE customers SET disabled_at = $1 WHERE id = $2", db.Now(), bob)
		if _, err := e.s.PostComment(ctx, NewComment{ProductID: p, CustomerID: bob, Body: "hi"}); !errors.Is(err, ErrDisabled) {
			t.Fatalf("disabled post: %v", err)
		}
		if _, err := e.s.PostComment(ctx, NewComment{ProductID: p, CustomerID: 424242, Body: "hi"}); !errors.Is(err, ErrDisabled) {
			t.Fatalf("unknown customer post: %v", err)
		}
	})
}

func TestPostingLimits(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, true)
		ctx := context.Background()
		p := e.product(t, "band")
		ada := e.customer(t, "Ada")
		for i := range ratelimit.CommentsPerMember.Limit {
			if _, err := e.s.PostComment(ctx, NewComment{ProductID: p, CustomerID: ada, Body: fmt.Sprint("c", i), IP: "198.51.100.7"}); err != nil {
				t.Fatal(err)
			}
		}
		_, err := e.s.PostComment(ctx, NewComment{ProductID: p, CustomerID: ada, Body: "one too many", IP: "198.51.100.7"})
		var le *ratelimit.LimitedError
		if !errors.As(err, &le) || !errors.Is(err, ratelimit.ErrLimited) || le.Rule != ratelimit.CommentsPerMember.Name || le.RetryAfter <= 0 {
			t.Fatalf("sixth comment in a minute: %v", err)
		}
		// Another member behind the same address still may, up to the IP's limit.
		bob := e.customer(t, "Bob")
		if _, err := e.s.PostComment(ctx, NewComment{ProductID: p, CustomerID: bob, Body: "hi", IP: "198.51.100.7"}); err != nil {
			t.Fatal(err)
		}
		// Invalid input does not count against the limit.
		e.clock.Add(3 * time.Minute)
		for range 10 {
			_, err := e.s.PostComment(ctx, NewComment{ProductID: p, CustomerID: bob, Body: ""})
			fieldErr(t, err, "body")
		}
		if _, err := e.s.PostComment(ctx, NewComment{ProductID: p, CustomerID: bob, Body: "still fine"}); err != nil {
			t.Fatal(err)
		}
	})
}
