package community

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"mistore/internal/audit"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

func TestModerationHideRestore(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, false)
		ctx := context.Background()
		p := e.product(t, "band")
		ada, bob := e.customer(t, "Ada"), e.customer(t, "Bob")
		c1 := e.comment(t, p, ada, "rude words")
		e.comment(t, p, bob, "ok")
		if _, err := e.s.PostReview(ctx, NewReview{ProductID: p, CustomerID: bob, Rating: 3, Title: "ok"}); err != nil {
			t.Fatal(err)
		}
		if err := e.s.ReportComment(ctx, c1.ID, bob, "rude", ""); err != nil {
			t.Fatal(err)
		}
		q, err := e.s.Queue(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(q) != 2 || q[0].Kind != KindComment || q[1].Kind != KindReview || q[1].Review.Author.ID != bob {
			t.Fatalf("queue = %+v", q)
		}
		if e.posts(t, ada) != 1 {
			t.Fatal("posts before hide")
		}
		before, _ := e.s.Thread(ctx, p)
		if err := e.s.HideComment(ctx, c1.ID, "rude"); !errors.Is(err, audit.ErrNoActor) {
			t.Fatalf("hide without actor: %v", err)
		}
		if err := e.s.HideComment(staffCtx(), c1.ID, "Insults another member"); err != nil {
			t.Fatal(err)
		}
		pg, err := e.s.Comments(ctx, p, 1)
		if err != nil {
			t.Fatal(err)
		}
		if pg.Total != 1 || len(pg.Comments) != 1 || pg.Comments[0].Number != 2 {
			t.Fatalf("hidden comment listed: %+v", pg.Comments)
		}
		if e.posts(t, ada) != 0 {
			t.Fatalf("posts after hide = %d", e.posts(t, ada))
		}
		if after, _ := e.s.Thread(ctx, p); after.Version <= before.Version {
			t.Fatal("hiding did not change the thread's version")
		}
		staff, err := e.s.Comment(ctx, c1.ID)
		if err != nil || !staff.Hidden || staff.HiddenReason != "Insults another member" || staff.Body != "rude words" {
			t.Fatalf("staff view = %+v, %v", staff, err)
		}
		if _, err := e.s.EditComment(ctx, c1.ID, ada, "sorry"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("edit hidden: %v", err)
		}
		if err := e.s.HideComment(staffCtx(), c1.ID, "twice"); err != nil {
			t.Fatal(err)
		}
		if e.posts(t, ada) != 0 {
			t.Fatal("hiding twice counted twice")
		}
		if err := e.s.ApproveReview(staffCtx(), q[1].Review.ID); err != nil {
			t.Fatal(err)
		}
		if n, _ := e.s.QueueSize(ctx); n != 0 {
			t.Fatalf("queue size = %d after moderation", n)
		}
		if err := e.s.RestoreComment(staffCtx(), c1.ID, "appeal accepted"); err != nil {
			t.Fatal(err)
		}
		if e.posts(t, ada) != 1 {
			t.Fatalf("posts after restore = %d", e.posts(t, ada))
		}
		if pg, _ := e.s.Comments(ctx, p, 1); pg.Total != 2 {
			t.Fatal("restored comment not listed")
		}
		entries, err := audit.List(ctx, d.Read, audit.Filter{Subject: fmt.Sprintf("comment:%d", c1.ID)})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 3 || entries[0].Action != "comment.restore" || entries[2].Action != "comment.hide" ||
			entries[0].Actor.Name != "sam@example.com" || string(entries[2].After) != `{"hidden":true,"reason":"Insults another member"}` {
			t.Fatalf("audit = %+v", entries)
		}

		// Dismissing reports leaves the comment shown and empties the queue.
		c3 := e.comment(t, p, ada, "fine")
		if err := e.s.ReportComment(ctx, c3.ID, bob, "", ""); err != nil {
			t.Fatal(err)
		}
		if err := e.s.DismissReports(staffCtx(), c3.ID); err != nil {
			t.Fatal(err)
		}
		if n, _ := e.s.QueueSize(ctx); n != 0 {
			t.Fatal("dismissed reports still queued")
		}
		if err := e.s.HideComment(staffCtx(), 99999, "x"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("hide unknown: %v", err)
		}
		fieldErr(t, e.s.HideComment(staffCtx(), c3.ID, ""), "reason")
	})
}

func TestWordFilter(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, false)
		ctx := context.Background()
		p := e.product(t, "band")
		ada := e.customer(t, "Ada")
		if err := e.s.SetWords(staffCtx(), []string{"Darn", "  ", "darn", "heck-it", "\xff"}); err == nil {
			t.Fatal("invalid UTF-8 accepted in the word list")
		}
		if err := e.s.SetWords(staffCtx(), []string{"Darn", "  ", "darn", "heck-it"}); err != nil {
			t.Fatal(err)
		}
		if w, err := e.s.Words(ctx); err != nil || fmt.Sprint(w) != "[darn heck it]" {
			t.Fatalf("words = %q, %v", w, err)
		}
		for _, body := range []string{"DARN this", "oh, d\u200barn!", "well heck   it", "x darn"} {
			_, err := e.s.PostComment(ctx, NewComment{ProductID: p, CustomerID: ada, Body: body})
			fe := fieldErr(t, err, "body")
			if !errors.Is(err, ErrFiltered) || fe.Msg != "Your comment contains a word this shop does not allow. Please rephrase it." {
				t.Fatalf("%q: %v", body, err)
			}
		}
		for _, body := range []string{"darned good", "heck no, it works; heckit"} {
			if _, err := e.s.PostComment(ctx, NewComment{ProductID: p, CustomerID: ada, Body: body}); err != nil {
				t.Fatalf("%q refused: %v", body, err)
			}
		}
		_, err := e.s.PostReview(ctx, NewReview{ProductID: p, CustomerID: ada, Rating: 3, Title: "Darn"})
		if !errors.Is(err, ErrFiltered) {
			t.Fatalf("filtered title: %v", err)
		}
		fieldErr(t, err, "title")
		if n := e.count(t, "SELECT count(*) FROM audit_log WHERE action = 'community.words'"); n != 1 {
			t.Fatalf("%d audit rows", n)
		}
	})
}

func TestEraseCustomer(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, false)
		ctx := context.Background()
		p := e.product(t, "band")
		ada, bob := e.customer(t, "Ada"), e.customer(t, "Bob")
		c := e.comment(t, p, ada, "my words")
		e.comment(t, p, bob, "reply")
		rb, err := e.s.PostReview(ctx, NewReview{ProductID: p, CustomerID: bob, Rating: 4, Title: "t"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.PostReview(ctx, NewReview{ProductID: p, CustomerID: ada, Rating: 1, Title: "t"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.Vote(ctx, rb.ID, ada, ""); err != nil {
			t.Fatal(err)
		}
		if err := d.Tx(ctx, func(tx db.Querier) error {
			if err := EraseCustomer(ctx, tx, ada); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "DELETE FROM customers WHERE id = $1", ada)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		got, err := e.s.Comment(ctx, c.ID)
		if err != nil || got.Body != "" || !got.Deleted || got.Author.Name != formerMember {
			t.Fatalf("erased comment = %+v, %v", got, err)
		}
		if r, _ := e.s.Review(ctx, rb.ID); r.Helpful != 0 {
			t.Fatal("erased vote still counted")
		}
		if s, _ := e.s.Summary(ctx, p); s.Count != 1 {
			t.Fatal("erased review still counted")
		}
		if pg, _ := e.s.Comments(ctx, p, 1); pg.Total != 2 || pg.Comments[1].Number != 2 {
			t.Fatal("erasure renumbered the thread")
		}
	})
}
