package community

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"mistore/internal/db"
	"mistore/internal/input"
	"mistore/internal/ratelimit"
)

// Review is one customer's review of a product.
type Review struct {
	ID        int64
	ProductID int64
	Author    Author
	// Rating is 1 to 5 stars.
	Rating int
	Title  string
	// Body is plain text; render it with RenderBody.
	Body string
	// Verified: when the review was posted the customer had a paid order
	// (paid, fulfilled, delivered or partially refunded) containing a
	// variant of the product.
	Verified bool
	// Helpful counts the "helpful" votes of other customers.
	Helpful   int
	CreatedAt time.Time
	// Hidden: staff hid it for HiddenReason; the storefront does not list
	// it and the summary does not count it.
	Hidden       bool
	HiddenReason string
	// Moderated: staff have looked at it (it left the queue).
	Moderated bool
	// Voted: the viewer given to Reviews voted it helpful.
	Voted bool
}

// NewReview is a review to post.
type NewReview struct {
	// ProductID names the product; when it is 0, ProductSlug does.
	ProductID   int64
	ProductSlug string
	CustomerID  int64
	// IP is the request's address for the per-IP limit; "" skips it.
	IP string
	// Rating must be 1 to 5: the JSON layer maps a non-integer (3.5) to
	// the same 422 itself.
	Rating int
	Title  string
	Body   string
}

// Sort orders a product's reviews.
type Sort string

// The review orders.
const (
	// SortNewest lists the latest first.
	SortNewest Sort = "newest"
	// SortHelpful lists the most helpful first, then the latest.
	SortHelpful Sort = "helpful"
)

// ParseSort returns the Sort named by s ("newest", "helpful"); anything
// else is SortNewest.
func ParseSort(s string) Sort {
	if Sort(s) == SortHelpful {
		return SortHelpful
	}
	return SortNewest
}

// ReviewQuery selects a page of a product's reviews.
type ReviewQuery struct {
	Product int64
	Sort    Sort
	// Page is from 1; out of range means the nearest.
	Page int
	// Viewer is the signed-in customer looking, 0 for none: their votes
	// set Review.Voted.
	Viewer int64
}

// ReviewPage is one page of a product's reviews with its summary.
type ReviewPage struct {
	Reviews            []Review
	Page, Pages, Total int
	Summary            Summary
}

// Summary is a product's rating at a glance: the reviews that show on
// the storefront, their average and how many gave each number of stars.
type Summary struct {
	Count int
	// Average is the mean rating rounded to one decimal, 0 when Count is 0.
	Average float64
	// Stars[i] counts the reviews with i+1 stars.
	Stars [5]int
}

// AverageText is Average with one decimal, e.g. "4.3"; "" when there are
// no reviews.
func (s Summary) AverageText() string {
	if s.Count == 0 {
		return ""
	}
	return fmt.Sprintf("%.1f", s.Average)
}

// Percent is the share of reviews with star stars (1 to 5), in whole
// percent, for the width of its bar.
func (s Summary) Percent(star int) int {
	if s.Count == 0 || star < 1 || star > 5 {
		return 0
	}
	return (s.Stars[star-1]*100 + s.Count/2) / s.Count
}

// paidStatuses are the order statuses that mean the customer bought
// what the order holds.
const paidStatuses = "('paid', 'fulfilled', 'delivered', 'partially_refunded')"

// verifiedSQL is true when customer $2 has a paid order with a variant of
// product $1. An order is the customer's when it was placed with their
// email address (any letter case) once that address is verified, as
// their order history and export count it, or when it carries their id.
const verifiedSQL = `SELECT EXISTS (SELECT 1 FROM orders o
	JOIN order_lines l ON l.order_id = o.id
	JOIN variants v ON v.sku = l.sku
	WHERE v.product_id = $1 AND o.status IN ` + paidStatuses + `
	AND (o.customer_id = $2 OR lower(o.email) = (SELECT lower(email) FROM customers
		WHERE id = $2 AND email_verified_at IS NOT NULL)))`

// rating checks a review's stars.
func rating(n int) error {
	if n < 1 || n > 5 {
		return &input.FieldError{Field: "rating", Err: ErrInvalidRating,
			Msg: "The rating must be a whole number of stars from 1 to 5."}
	}
	return nil
}

// PostReview posts r and returns it. It fails with a *input.FieldError
// (rating, title, body), ErrDuplicateReview, ErrNotFound (product),
// ErrBanned, ErrDisabled or a *ratelimit.LimitedError. The title is
// required, the body may be empty. Whether the purchase is verified is
// decided now and kept.
func (s *Service) PostReview(ctx context.Context, r NewReview) (*Review, error) {
	if err := rating(r.Rating); err != nil {
		return nil, err
	}
	title, err := text("title", "title", r.Title, MaxTitleLen, true)
	if err != nil {
		return nil, err
	}
	title = strings.Join(strings.Fields(title), " ")
	body, err := text("body", "review", r.Body, MaxBodyLen, false)
	if err != nil {
		return nil, err
	}
	if err := s.checkFilter(ctx, "title", "title", title, "body", "review", body); err != nil {
		return nil, err
	}
	product, err := s.product(ctx, r.ProductID, r.ProductSlug)
	if err != nil {
		return nil, err
	}
	if err := canPost(ctx, s.db.Reader(), r.CustomerID); err != nil {
		return nil, err
	}
	// A second review is refused before it counts against the limits.
	if _, err := s.CustomerReview(ctx, product, r.CustomerID); err == nil {
		return nil, ErrDuplicateReview
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if err := s.allow(ctx, ratelimit.ReviewsPerMember, memberKey(r.CustomerID), ratelimit.ReviewsPerIP, r.IP); err != nil {
		return nil, err
	}
	now := db.Time(s.now())
	var id int64
	err = s.write(ctx, func(tx db.Querier) error {
		if err := canPost(ctx, tx, r.CustomerID); err != nil {
			return err
		}
		if err := productExists(ctx, tx, product); err != nil {
			return err
		}
		var dup int
		err := tx.QueryRowContext(ctx, "SELECT 1 FROM reviews WHERE product_id = $1 AND customer_id = $2", product, r.CustomerID).Scan(&dup)
		if err == nil {
			return ErrDuplicateReview
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var verified bool
		if err := tx.QueryRowContext(ctx, verifiedSQL, product, r.CustomerID).Scan(&verified); err != nil {
			return fmt.Errorf("verified purchase: %w", err)
		}
		err = tx.QueryRowContext(ctx, `INSERT INTO reviews (product_id, customer_id, rating, title, body, verified, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, product, r.CustomerID, r.Rating, title, body, verified, now).Scan(&id)
		if db.IsUniqueViolation(err) {
			return ErrDuplicateReview
		}
		if err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		if err := addPosts(ctx, tx, r.CustomerID, 1); err != nil {
			return err
		}
		return touch(ctx, tx, product, now)
	})
	if err != nil {
		return nil, wrap(err, "post review of product %d", product)
	}
	return s.Review(ctx, id)
}

// reviewColumns and reviewFrom read a review with its author; $1 is the
// viewer whose vote sets Voted (0 for none).
const reviewColumns = `r.id, r.product_id, r.customer_id, r.rating, r.title, r.body, r.verified, r.helpful,
	r.created_at, r.hidden_at IS NOT NULL, r.hidden_reason, r.moderated_at IS NOT NULL, v.customer_id IS NOT NULL,
	u.name, u.created_at, COALESCE(m.posts, 0)`

const reviewFrom = ` FROM reviews r
	LEFT JOIN customers u ON u.id = r.customer_id
	LEFT JOIN community_members m ON m.customer_id = r.customer_id
	LEFT JOIN review_votes v ON v.review_id = r.id AND v.customer_id = $1`

func scanReview(row interface{ Scan(...any) error }) (*Review, error) {
	var r Review
	var name sql.NullString
	var since sql.NullTime
	if err := row.Scan(&r.ID, &r.ProductID, &r.Author.ID, &r.Rating, &r.Title, &r.Body, &r.Verified, &r.Helpful,
		&r.CreatedAt, &r.Hidden, &r.HiddenReason, &r.Moderated, &r.Voted, &name, &since, &r.Author.Posts); err != nil {
		return nil, err
	}
	r.CreatedAt = r.CreatedAt.UTC()
	r.Author.Name = formerMember
	if name.Valid {
		r.Author.Name = cleanName(name.String)
		r.Author.MemberSince = since.Time.UTC()
	}
	return &r, nil
}

// Reviews returns a page of q.Product's reviews as the storefront shows
// them (hidden ones left out), with the product's summary.
func (s *Service) Reviews(ctx context.Context, q ReviewQuery) (*ReviewPage, error) {
	sum, err := s.Summary(ctx, q.Product)
	if err != nil {
		return nil, err
	}
	out := &ReviewPage{Reviews: []Review{}, Summary: sum, Total: sum.Count}
	out.Page, out.Pages = clampPage(q.Page, out.Total)
	order := "r.created_at DESC, r.id DESC"
	if q.Sort == SortHelpful {
		order = "r.helpful DESC, r.created_at DESC, r.id DESC"
	}
	rows, err := s.db.Reader().QueryContext(ctx, "SELECT "+reviewColumns+reviewFrom+`
		WHERE r.product_id = $2 AND r.hidden_at IS NULL ORDER BY `+order+` LIMIT $3 OFFSET $4`,
		q.Viewer, q.Product, PageSize, (out.Page-1)*PageSize)
	if err != nil {
		return nil, fmt.Errorf("list reviews of product %d: %w", q.Product, err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanReview(rows)
		if err != nil {
			return nil, fmt.Errorf("list reviews of product %d: %w", q.Product, err)
		}
		out.Reviews = append(out.Reviews, *r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list reviews of product %d: %w", q.Product, err)
	}
	return out, nil
}

// Review returns one review by id, as staff see it, or ErrNotFound.
func (s *Service) Review(ctx context.Context, id int64) (*Review, error) {
	r, err := scanReview(s.db.Reader().QueryRowContext(ctx, "SELECT "+reviewColumns+reviewFrom+" WHERE r.id = $2", 0, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("review %d: %w", id, err)
	}
	return r, nil
}

// CustomerReview returns customer's review of product (hidden or not),
// or ErrNotFound when they have not reviewed it: the page offers the form
// only then.
func (s *Service) CustomerReview(ctx context.Context, product, customer int64) (*Review, error) {
	r, err := scanReview(s.db.Reader().QueryRowContext(ctx, "SELECT "+reviewColumns+reviewFrom+`
		WHERE r.product_id = $2 AND r.customer_id = $3`, customer, product, customer))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("review of product %d by %d: %w", product, customer, err)
	}
	return r, nil
}

// Vote records customer's "helpful" vote on review id and returns its
// new count. A customer votes once: a second vote changes nothing and
// returns the count. It fails with ErrNotFound (also for a hidden
// review), ErrOwnReview, ErrBanned, ErrDisabled or a
// *ratelimit.LimitedError.
func (s *Service) Vote(ctx context.Context, id, customer int64, ip string) (int, error) {
	var author int64
	var hidden bool
	err := s.db.Reader().QueryRowContext(ctx, "SELECT customer_id, hidden_at IS NOT NULL FROM reviews WHERE id = $1", id).Scan(&author, &hidden)
	if errors.Is(err, sql.ErrNoRows) || err == nil && hidden {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("vote on review %d: %w", id, err)
	}
	if author == customer {
		return 0, ErrOwnReview
	}
	if err := canPost(ctx, s.db.Reader(), customer); err != nil {
		return 0, err
	}
	if err := s.allow(ctx, ratelimit.VotesPerMember, memberKey(customer), ratelimit.VotesPerIP, ip); err != nil {
		return 0, err
	}
	now := db.Time(s.now())
	var helpful int
	err = s.write(ctx, func(tx db.Querier) error {
		if err := canPost(ctx, tx, customer); err != nil {
			return err
		}
		var product int64
		res, err := tx.ExecContext(ctx, `INSERT INTO review_votes (review_id, customer_id, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (review_id, customer_id) DO NOTHING`, id, customer, now)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return tx.QueryRowContext(ctx, "SELECT helpful FROM reviews WHERE id = $1", id).Scan(&helpful)
		}
		if err := tx.QueryRowContext(ctx, "UPDATE reviews SET helpful = helpful + 1 WHERE id = $1 RETURNING helpful, product_id",
			id).Scan(&helpful, &product); err != nil {
			return err
		}
		return touch(ctx, tx, product, now)
	})
	if err != nil {
		return 0, wrap(err, "vote on review %d", id)
	}
	return helpful, nil
}

// Summary returns product's rating summary.
func (s *Service) Summary(ctx context.Context, product int64) (Summary, error) {
	m, err := s.Summaries(ctx, []int64{product})
	if err != nil {
		return Summary{}, err
	}
	return m[product], nil
}

// summaryChunk bounds the ids in one query's IN list.
const summaryChunk = 500

// Summaries returns the rating summaries of many products at once, for a
// list's cards; a product without reviews has a zero Summary (and may be
// missing from the map).
func (s *Service) Summaries(ctx context.Context, products []int64) (map[int64]Summary, error) {
	gen, now := s.gen.Load(), time.Now()
	cached, missing := s.cachedSummaries(products, gen, now)
	if len(missing) == 0 {
		return cached, nil
	}
	read, err := s.readSummaries(ctx, missing)
	if err != nil {
		return nil, err
	}
	s.keepSummaries(missing, read, gen, now)
	for id, sm := range read {
		cached[id] = sm
	}
	return cached, nil
}

// readSummaries reads the summaries of products from the database.
func (s *Service) readSummaries(ctx context.Context, products []int64) (map[int64]Summary, error) {
	out := make(map[int64]Summary, len(products))
	for len(products) > 0 {
		chunk := products[:min(len(products), summaryChunk)]
		products = products[len(chunk):]
		marks := make([]string, len(chunk))
		args := make([]any, len(chunk))
		for i, id := range chunk {
			marks[i] = "$" + strconv.Itoa(i+1)
			args[i] = id
		}
		rows, err := s.db.Reader().QueryContext(ctx, `SELECT product_id, rating, count(*) FROM reviews
			WHERE product_id IN (`+strings.Join(marks, ", ")+`) AND hidden_at IS NULL GROUP BY product_id, rating`, args...)
		if err != nil {
			return nil, fmt.Errorf("review summaries: %w", err)
		}
		for rows.Next() {
			var id int64
			var stars, n int
			if err := rows.Scan(&id, &stars, &n); err != nil {
				rows.Close()
				return nil, fmt.Errorf("review summaries: %w", err)
			}
			sm := out[id]
			if stars >= 1 && stars <= 5 {
				sm.Stars[stars-1] += n
			}
			out[id] = sm
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("review summaries: %w", err)
		}
	}
	for id, sm := range out {
		total := 0
		for i, n := range sm.Stars {
			sm.Count += n
			total += (i + 1) * n
		}
		if sm.Count > 0 {
			sm.Average = math.Round(float64(total)*10/float64(sm.Count)) / 10
		}
		out[id] = sm
	}
	return out, nil
}
