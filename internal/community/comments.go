package community

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"mistore/internal/db"
	"mistore/internal/input"
	"mistore/internal/ratelimit"
)

// ProductID resolves a product's slug to its id, or ErrNotFound.
func (s *Service) ProductID(ctx context.Context, slug string) (int64, error) {
	var id int64
	err := s.db.Reader().QueryRowContext(ctx, "SELECT id FROM products WHERE slug = $1", slug).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("product %q: %w", slug, err)
	}
	return id, nil
}

// product returns the id of the product named by id or, when id is 0,
// by slug.
func (s *Service) product(ctx context.Context, id int64, slug string) (int64, error) {
	if id != 0 {
		return id, nil
	}
	if slug == "" {
		return 0, ErrNotFound
	}
	return s.ProductID(ctx, slug)
}

// allow counts one event for each (rule, key) pair with a non-empty key
// and returns the first refusal as a *ratelimit.LimitedError.
func (s *Service) allow(ctx context.Context, pairs ...any) error {
	if s.noLimits {
		return nil
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		r, key := pairs[i].(ratelimit.Rule), pairs[i+1].(string)
		if key == "" {
			continue
		}
		d, err := s.limiter.Allow(ctx, r, key)
		if err != nil {
			return err
		}
		if err := d.Err(r); err != nil {
			return err
		}
	}
	return nil
}

// memberKey is a customer's key for the per-member limits.
func memberKey(customer int64) string { return fmt.Sprintf("customer:%d", customer) }

// canPost fails with ErrDisabled when customer has no enabled account and
// ErrBanned when they are banned from the community.
func canPost(ctx context.Context, q db.Querier, customer int64) error {
	var disabled, banned bool
	err := q.QueryRowContext(ctx, `SELECT c.disabled_at IS NOT NULL, m.banned_at IS NOT NULL
		FROM customers c LEFT JOIN community_members m ON m.customer_id = c.id WHERE c.id = $1`, customer).
		Scan(&disabled, &banned)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrDisabled
	}
	if err != nil {
		return fmt.Errorf("check member %d: %w", customer, err)
	}
	if disabled {
		return ErrDisabled
	}
	if banned {
		return ErrBanned
	}
	return nil
}

// addPosts changes customer's posts count by delta (+1 or -1), creating
// their member row on the first post. The count never goes below zero.
func addPosts(ctx context.Context, q db.Querier, customer int64, delta int) error {
	var err error
	if delta > 0 {
		_, err = q.ExecContext(ctx, `INSERT INTO community_members (customer_id, posts) VALUES ($1, $2)
			ON CONFLICT (customer_id) DO UPDATE SET posts = community_members.posts + $2`, customer, delta)
	} else {
		_, err = q.ExecContext(ctx, `UPDATE community_members SET posts = posts + $2
			WHERE customer_id = $1 AND posts + $2 >= 0`, customer, delta)
	}
	if err != nil {
		return fmt.Errorf("count posts of %d: %w", customer, err)
	}
	return nil
}

// touch records a change the storefront shows on product's community
// box, for the page cache's key.
func touch(ctx context.Context, q db.Querier, product int64, now time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO community_threads (product_id, last_number, version, changed_at)
		VALUES ($1, 0, 1, $2)
		ON CONFLICT (product_id) DO UPDATE SET version = community_threads.version + 1, changed_at = $2`, product, now)
	if err != nil {
		return fmt.Errorf("touch thread of product %d: %w", product, err)
	}
	return nil
}

// productExists fails with ErrNotFound for an unknown product.
func productExists(ctx context.Context, q db.Querier, product int64) error {
	var one int
	err := q.QueryRowContext(ctx, "SELECT 1 FROM products WHERE id = $1", product).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("product %d: %w", product, err)
	}
	return nil
}

// PostComment posts c and returns it with its number. It fails with a
// *input.FieldError (body, reply_to), ErrNotFound (product), ErrBanned,
// ErrDisabled or a *ratelimit.LimitedError.
//
// The number is taken in the posting transaction from the product's
// thread row (last_number + 1 by one upsert ... RETURNING): concurrent
// posts queue on that row, so they get distinct, consecutive numbers, and
// a post that fails rolls its number back with it.
func (s *Service) PostComment(ctx context.Context, c NewComment) (*Comment, error) {
	body, err := text("body", "comment", c.Body, MaxBodyLen, true)
	if err != nil {
		return nil, err
	}
	if c.ReplyTo < 0 {
		return nil, input.Invalid("reply_to", "The comment answered does not exist.")
	}
	if err := s.checkFilter(ctx, "body", "comment", body); err != nil {
		return nil, err
	}
	product, err := s.product(ctx, c.ProductID, c.ProductSlug)
	if err != nil {
		return nil, err
	}
	// A banned or disabled member is told so rather than rate limited.
	if err := canPost(ctx, s.db.Reader(), c.CustomerID); err != nil {
		return nil, err
	}
	if err := s.allow(ctx, ratelimit.CommentsPerMember, memberKey(c.CustomerID), ratelimit.CommentsPerIP, c.IP); err != nil {
		return nil, err
	}
	now := db.Time(s.now())
	var id int64
	err = s.write(ctx, func(tx db.Querier) error {
		if err := canPost(ctx, tx, c.CustomerID); err != nil {
			return err
		}
		if err := productExists(ctx, tx, product); err != nil {
			return err
		}
		var reply any
		if c.ReplyTo > 0 {
			var one int
			err := tx.QueryRowContext(ctx, "SELECT 1 FROM comments WHERE product_id = $1 AND number = $2", product, c.ReplyTo).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return input.Invalid("reply_to", "Comment %d does not exist.", c.ReplyTo)
			}
			if err != nil {
				return err
			}
			reply = c.ReplyTo
		}
		var number int
		if err := tx.QueryRowContext(ctx, `INSERT INTO community_threads (product_id, last_number, version, changed_at)
			VALUES ($1, 1, 1, $2)
			ON CONFLICT (product_id) DO UPDATE SET last_number = community_threads.last_number + 1,
				version = community_threads.version + 1, changed_at = $2
			RETURNING last_number`, product, now).Scan(&number); err != nil {
			return fmt.Errorf("number: %w", err)
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO comments (product_id, number, customer_id, body, reply_to, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, product, number, c.CustomerID, body, reply, now).Scan(&id); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		return addPosts(ctx, tx, c.CustomerID, 1)
	})
	if err != nil {
		return nil, wrap(err, "post comment on product %d", product)
	}
	return s.Comment(ctx, id)
}

// wrap adds context to an unexpected error and passes domain outcomes
// through unchanged, so the web layer's errors.Is and errors.As still
// see them while a log line says where a database failure happened.
func wrap(err error, format string, args ...any) error {
	var fe *input.FieldError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe), errors.Is(err, ErrNotFound), errors.Is(err, ErrNotAuthor),
		errors.Is(err, ErrEditWindow), errors.Is(err, ErrDeleted), errors.Is(err, ErrDuplicateReview),
		errors.Is(err, ErrOwnReview), errors.Is(err, ErrBanned), errors.Is(err, ErrDisabled):
		return err
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// commentColumns and commentFrom read a comment with its author and the
// comment it answers.
const commentColumns = `c.id, c.product_id, c.number, c.customer_id, c.body, COALESCE(c.reply_to, 0), c.created_at,
	c.edited_at, c.deleted_at IS NOT NULL, c.hidden_at IS NOT NULL, c.hidden_reason, c.open_reports,
	u.name, u.created_at, COALESCE(m.posts, 0),
	q.body, q.deleted_at IS NOT NULL OR q.hidden_at IS NOT NULL, qu.name`

const commentFrom = ` FROM comments c
	LEFT JOIN customers u ON u.id = c.customer_id
	LEFT JOIN community_members m ON m.customer_id = c.customer_id
	LEFT JOIN comments q ON q.product_id = c.product_id AND q.number = c.reply_to
	LEFT JOIN customers qu ON qu.id = q.customer_id`

// quoteLen is how many characters of the answered comment a reply quotes.
const quoteLen = 300

// formerMember is the name shown for an author whose account is gone.
const formerMember = "Former member"

func scanComment(row interface{ Scan(...any) error }, staff bool) (*Comment, error) {
	var c Comment
	var edited sql.NullTime
	var name, qBody, qName sql.NullString
	var since sql.NullTime
	var qGone sql.NullBool
	if err := row.Scan(&c.ID, &c.ProductID, &c.Number, &c.Author.ID, &c.Body, &c.ReplyTo, &c.CreatedAt,
		&edited, &c.Deleted, &c.Hidden, &c.HiddenReason, &c.OpenReports,
		&name, &since, &c.Author.Posts, &qBody, &qGone, &qName); err != nil {
		return nil, err
	}
	c.CreatedAt = c.CreatedAt.UTC()
	if edited.Valid {
		c.EditedAt = edited.Time.UTC()
	}
	c.Author.Name = formerMember
	if name.Valid {
		c.Author.Name = cleanName(name.String)
		c.Author.MemberSince = since.Time.UTC()
	}
	if !staff && (c.Deleted || c.Hidden) {
		c.Body = ""
	}
	if c.ReplyTo > 0 {
		q := &Quote{Number: c.ReplyTo, AuthorName: formerMember, Gone: qGone.Bool || !qBody.Valid}
		if qName.Valid {
			q.AuthorName = cleanName(qName.String)
		}
		if !q.Gone {
			q.Body = cut(qBody.String, quoteLen)
		}
		c.Quote = q
	}
	return &c, nil
}

// Comments returns page page (from 1; out of range means the nearest) of
// product's thread as the storefront shows it: in number order, hidden
// comments left out, deleted ones with an empty body.
func (s *Service) Comments(ctx context.Context, product int64, page int) (*CommentPage, error) {
	q := s.db.Reader()
	out := &CommentPage{Comments: []Comment{}}
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM comments WHERE product_id = $1 AND hidden_at IS NULL",
		product).Scan(&out.Total); err != nil {
		return nil, fmt.Errorf("count comments of product %d: %w", product, err)
	}
	out.Page, out.Pages = clampPage(page, out.Total)
	rows, err := q.QueryContext(ctx, "SELECT "+commentColumns+commentFrom+`
		WHERE c.product_id = $1 AND c.hidden_at IS NULL ORDER BY c.number LIMIT $2 OFFSET $3`,
		product, PageSize, (out.Page-1)*PageSize)
	if err != nil {
		return nil, fmt.Errorf("list comments of product %d: %w", product, err)
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanComment(rows, false)
		if err != nil {
			return nil, fmt.Errorf("list comments of product %d: %w", product, err)
		}
		out.Comments = append(out.Comments, *c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list comments of product %d: %w", product, err)
	}
	return out, nil
}

// clampPage returns the page to show of total items (page out of range
// means the nearest) and how many pages there are, at least one.
func clampPage(page, total int) (int, int) {
	pages := max(1, (total+PageSize-1)/PageSize)
	return min(max(page, 1), pages), pages
}

// Comment returns one comment by id, as staff see it (hidden and deleted
// bodies included), or ErrNotFound.
func (s *Service) Comment(ctx context.Context, id int64) (*Comment, error) {
	return s.comment(ctx, s.db.Reader(), id)
}

func (s *Service) comment(ctx context.Context, q db.Querier, id int64) (*Comment, error) {
	c, err := scanComment(q.QueryRowContext(ctx, "SELECT "+commentColumns+commentFrom+" WHERE c.id = $1", id), true)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("comment %d: %w", id, err)
	}
	return c, nil
}

// commentState is what a change to a comment checks first.
type commentState struct {
	product, author int64
	created         time.Time
	deleted, hidden bool
	reason          string
}

func loadCommentState(ctx context.Context, q db.Querier, id int64) (commentState, error) {
	var st commentState
	err := q.QueryRowContext(ctx, `SELECT product_id, customer_id, created_at, deleted_at IS NOT NULL,
		hidden_at IS NOT NULL, hidden_reason FROM comments WHERE id = $1`, id).
		Scan(&st.product, &st.author, &st.created, &st.deleted, &st.hidden, &st.reason)
	if errors.Is(err, sql.ErrNoRows) {
		return st, ErrNotFound
	}
	if err != nil {
		return st, fmt.Errorf("comment %d: %w", id, err)
	}
	return st, nil
}

// EditComment replaces the body of comment id by its author customer,
// within EditWindow of posting. It fails with ErrNotFound (also for a
// comment staff hid), ErrNotAuthor, ErrEditWindow, ErrDeleted, ErrBanned,
// ErrDisabled or a *input.FieldError.
func (s *Service) EditComment(ctx context.Context, id, customer int64, body string) (*Comment, error) {
	body, err := text("body", "comment", body, MaxBodyLen, true)
	if err != nil {
		return nil, err
	}
	if err := s.checkFilter(ctx, "body", "comment", body); err != nil {
		return nil, err
	}
	now := db.Time(s.now())
	err = s.write(ctx, func(tx db.Querier) error {
		st, err := loadCommentState(ctx, tx, id)
		if err != nil {
			return err
		}
		switch {
		case st.author != customer:
			return ErrNotAuthor
		case st.hidden:
			return ErrNotFound
		case st.deleted:
			return ErrDeleted
		case now.Sub(st.created) >= EditWindow:
			return ErrEditWindow
		}
		if err := canPost(ctx, tx, customer); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE comments SET body = $2, edited_at = $3 WHERE id = $1", id, body, now); err != nil {
			return err
		}
		return touch(ctx, tx, st.product, now)
	})
	if err != nil {
		return nil, wrap(err, "edit comment %d", id)
	}
	return s.Comment(ctx, id)
}

// DeleteComment deletes comment id by its author customer: it keeps its
// number and shows as deleted, and no longer counts in the author's posts;
// its open reports are resolved, since it no longer shows. Deleting an
// already deleted comment does nothing. It fails with ErrNotFound or
// ErrNotAuthor. A banned member may still delete their comments.
func (s *Service) DeleteComment(ctx context.Context, id, customer int64) error {
	now := db.Time(s.now())
	err := s.write(ctx, func(tx db.Querier) error {
		st, err := loadCommentState(ctx, tx, id)
		if err != nil {
			return err
		}
		if st.author != customer {
			return ErrNotAuthor
		}
		if st.deleted {
			return nil
		}
		if _, err := tx.ExecContext(ctx, "UPDATE comments SET deleted_at = $2, open_reports = 0 WHERE id = $1", id, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE comment_reports SET resolved_at = $2 WHERE comment_id = $1 AND resolved_at IS NULL", id, now); err != nil {
			return err
		}
		if !st.hidden {
			if err := addPosts(ctx, tx, customer, -1); err != nil {
				return err
			}
		}
		return touch(ctx, tx, st.product, now)
	})
	return wrap(err, "delete comment %d", id)
}

// ReportComment records customer's report of comment id, with an
// optional reason, and puts the comment in the moderation queue. A
// member reports a comment once: a second report by the same member does
// nothing and returns nil. It fails with ErrNotFound (also for a hidden
// or deleted comment), ErrBanned, ErrDisabled, a *input.FieldError
// (reason) or a *ratelimit.LimitedError.
func (s *Service) ReportComment(ctx context.Context, id, customer int64, reason, ip string) error {
	reason, err := text("reason", "reason", reason, MaxReasonLen, false)
	if err != nil {
		return err
	}
	if err := canPost(ctx, s.db.Reader(), customer); err != nil {
		return err
	}
	if err := s.allow(ctx, ratelimit.ReportsPerMember, memberKey(customer)); err != nil {
		return err
	}
	now := db.Time(s.now())
	err = s.write(ctx, func(tx db.Querier) error {
		if err := canPost(ctx, tx, customer); err != nil {
			return err
		}
		st, err := loadCommentState(ctx, tx, id)
		if err != nil {
			return err
		}
		if st.deleted || st.hidden {
			return ErrNotFound
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO comment_reports (comment_id, customer_id, reason, created_at)
			VALUES ($1, $2, $3, $4) ON CONFLICT (comment_id, customer_id) DO NOTHING`, id, customer, reason, now)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		_, err = tx.ExecContext(ctx, "UPDATE comments SET open_reports = open_reports + 1 WHERE id = $1", id)
		return err
	})
	return wrap(err, "report comment %d", id)
}

// Thread returns product's ThreadState.
func (s *Service) Thread(ctx context.Context, product int64) (ThreadState, error) {
	// The generation is read before the database: a write that commits
	// meanwhile leaves what is read here stale at once.
	gen, now := s.gen.Load(), time.Now()
	if st, ok := s.cachedThread(product, gen, now); ok {
		return st, nil
	}
	var st ThreadState
	err := s.db.Reader().QueryRowContext(ctx, `SELECT last_number, version, changed_at FROM community_threads
		WHERE product_id = $1`, product).Scan(&st.Comments, &st.Version, &st.Changed)
	if errors.Is(err, sql.ErrNoRows) {
		s.keepThread(product, ThreadState{}, gen, now)
		return ThreadState{}, nil
	}
	if err != nil {
		return st, fmt.Errorf("thread of product %d: %w", product, err)
	}
	st.Changed = st.Changed.UTC()
	s.keepThread(product, st, gen, now)
	return st, nil
}
