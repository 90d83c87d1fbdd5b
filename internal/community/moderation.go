package community

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"mistore/internal/audit"
	"mistore/internal/db"
	"mistore/internal/input"
)

// Kind says whether a queue item is a comment or a review.
type Kind string

// The kinds of post.
const (
	KindComment Kind = "comment"
	KindReview  Kind = "review"
)

// Product names the product a post is about, for the back office's lists.
type Product struct {
	ID   int64
	Slug string
	Name string
}

// Report is one member's report of a comment.
type Report struct {
	CustomerID int64
	Name       string
	Reason     string
	At         time.Time
}

// QueueItem is one post waiting for staff: a reported comment with its
// open reports, or a review nobody has looked at yet.
type QueueItem struct {
	Kind    Kind
	Product Product
	// Comment is set for KindComment, Review for KindReview.
	Comment *Comment
	Review  *Review
	Reports []Report
	// At is when the item entered the queue: the first open report, or
	// the review's posting.
	At time.Time
}

// Member is a customer's standing in the community, for the back office.
type Member struct {
	Author
	Email     string
	Banned    bool
	BannedAt  time.Time
	BanReason string
	Disabled  bool
}

// queueLimit is the default and largest number of items Queue returns.
const queueLimit = 50

// Queue returns up to limit items waiting for moderation (0 means 50,
// at most 200), oldest first: comments with open reports, then reviews
// not yet looked at. Hidden and deleted posts are not waiting.
func (s *Service) Queue(ctx context.Context, limit int) ([]QueueItem, error) {
	if limit <= 0 {
		limit = queueLimit
	}
	limit = min(limit, 200)
	q := s.db.Reader()
	out := []QueueItem{}
	rows, err := q.QueryContext(ctx, "SELECT "+commentColumns+", p.slug, p.name, "+
		"(SELECT min(created_at) FROM comment_reports WHERE comment_id = c.id AND resolved_at IS NULL) AS first_report"+
		commentFrom+` JOIN products p ON p.id = c.product_id
		WHERE c.open_reports > 0 AND c.hidden_at IS NULL AND c.deleted_at IS NULL
		ORDER BY first_report, c.id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("moderation queue: %w", err)
	}
	err = func() error {
		defer rows.Close()
		for rows.Next() {
			var it QueueItem
			var first any
			c, err := scanComment(scanTail{rows, []any{&it.Product.Slug, &it.Product.Name, &first}}, true)
			if err != nil {
				return err
			}
			it.Kind, it.Comment, it.Product.ID = KindComment, c, c.ProductID
			out = append(out, it)
		}
		return rows.Err()
	}()
	if err != nil {
		return nil, fmt.Errorf("moderation queue: %w", err)
	}
	for i := range out {
		if out[i].Reports, err = s.reports(ctx, q, out[i].Comment.ID); err != nil {
			return nil, err
		}
		out[i].At = out[i].Reports[0].At
	}
	if len(out) >= limit {
		return out, nil
	}
	rows, err = q.QueryContext(ctx, "SELECT "+reviewColumns+", p.slug, p.name"+reviewFrom+` JOIN products p ON p.id = r.product_id
		WHERE r.moderated_at IS NULL AND r.hidden_at IS NULL ORDER BY r.created_at, r.id LIMIT $2`, 0, limit-len(out))
	if err != nil {
		return nil, fmt.Errorf("moderation queue: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var it QueueItem
		r, err := scanReview(scanTail{rows, []any{&it.Product.Slug, &it.Product.Name}})
		if err != nil {
			return nil, fmt.Errorf("moderation queue: %w", err)
		}
		it.Kind, it.Review, it.Product.ID, it.At = KindReview, r, r.ProductID, r.CreatedAt
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("moderation queue: %w", err)
	}
	return out, nil
}

// scanTail scans a row whose first columns a scan function reads and
// whose last ones go to tail.
type scanTail struct {
	rows *sql.Rows
	tail []any
}

func (t scanTail) Scan(dest ...any) error { return t.rows.Scan(append(dest, t.tail...)...) }

// reports returns comment id's open reports, oldest first.
func (s *Service) reports(ctx context.Context, q db.Querier, id int64) ([]Report, error) {
	rows, err := q.QueryContext(ctx, `SELECT r.customer_id, u.name, r.reason, r.created_at
		FROM comment_reports r LEFT JOIN customers u ON u.id = r.customer_id
		WHERE r.comment_id = $1 AND r.resolved_at IS NULL ORDER BY r.created_at, r.customer_id`, id)
	if err != nil {
		return nil, fmt.Errorf("reports of comment %d: %w", id, err)
	}
	defer rows.Close()
	out := []Report{}
	for rows.Next() {
		var r Report
		var name sql.NullString
		if err := rows.Scan(&r.CustomerID, &name, &r.Reason, &r.At); err != nil {
			return nil, fmt.Errorf("reports of comment %d: %w", id, err)
		}
		r.Name, r.At = formerMember, r.At.UTC()
		if name.Valid {
			r.Name = cleanName(name.String)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reports of comment %d: %w", id, err)
	}
	if len(out) == 0 {
		// open_reports said there were some: keep the item dated.
		out = append(out, Report{Name: formerMember})
	}
	return out, nil
}

// QueueSize counts the items waiting for moderation, for the dashboard.
func (s *Service) QueueSize(ctx context.Context) (int, error) {
	var n int
	err := s.db.Reader().QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM comments WHERE open_reports > 0 AND hidden_at IS NULL AND deleted_at IS NULL) +
		(SELECT count(*) FROM reviews WHERE moderated_at IS NULL AND hidden_at IS NULL)`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("moderation queue size: %w", err)
	}
	return n, nil
}

// reasonText checks a moderator's reason: required, one line of at most
// MaxReasonLen characters.
func reasonText(reason string) (string, error) {
	r, err := text("reason", "reason", reason, MaxReasonLen, true)
	if err != nil {
		return "", err
	}
	return strings.Join(strings.Fields(r), " "), nil
}

// visibility is a post's moderation state as the audit log records it.
type visibility struct {
	Hidden bool   `json:"hidden"`
	Reason string `json:"reason,omitempty"`
}

func commentSubject(id int64) string { return "comment:" + strconv.FormatInt(id, 10) }
func reviewSubject(id int64) string  { return "review:" + strconv.FormatInt(id, 10) }
func memberSubject(id int64) string  { return "customer:" + strconv.FormatInt(id, 10) }

// HideComment hides comment id from the storefront for reason (required),
// resolves its reports and takes it out of its author's posts count.
// Audited (comment.hide) with the actor from ctx. Hiding a hidden comment
// only updates the reason.
func (s *Service) HideComment(ctx context.Context, id int64, reason string) error {
	reason, err := reasonText(reason)
	if err != nil {
		return err
	}
	now := db.Time(s.now())
	err = s.write(ctx, func(tx db.Querier) error {
		st, err := loadCommentState(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE comments SET hidden_at = COALESCE(hidden_at, $2), hidden_reason = $3,
			open_reports = 0 WHERE id = $1`, id, now, reason); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE comment_reports SET resolved_at = $2 WHERE comment_id = $1 AND resolved_at IS NULL", id, now); err != nil {
			return err
		}
		if !st.hidden && !st.deleted {
			if err := addPosts(ctx, tx, st.author, -1); err != nil {
				return err
			}
		}
		if err := touch(ctx, tx, st.product, now); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "comment.hide", commentSubject(id),
			visibility{st.hidden, st.reason}, visibility{true, reason})
	})
	return wrap(err, "hide comment %d", id)
}

// RestoreComment shows hidden comment id again, for reason (required),
// and counts it in its author's posts again. Audited (comment.restore).
// Restoring a comment that is not hidden does nothing.
func (s *Service) RestoreComment(ctx context.Context, id int64, reason string) error {
	reason, err := reasonText(reason)
	if err != nil {
		return err
	}
	now := db.Time(s.now())
	err = s.write(ctx, func(tx db.Querier) error {
		st, err := loadCommentState(ctx, tx, id)
		if err != nil || !st.hidden {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE comments SET hidden_at = NULL, hidden_reason = '' WHERE id = $1", id); err != nil {
			return err
		}
		if !st.deleted {
			if err := addPosts(ctx, tx, st.author, 1); err != nil {
				return err
			}
		}
		if err := touch(ctx, tx, st.product, now); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "comment.restore", commentSubject(id),
			visibility{true, st.reason}, visibility{false, reason})
	})
	return wrap(err, "restore comment %d", id)
}

// DismissReports resolves comment id's open reports without hiding it,
// taking it out of the queue. Audited (comment.dismiss_reports).
func (s *Service) DismissReports(ctx context.Context, id int64) error {
	now := db.Time(s.now())
	err := s.write(ctx, func(tx db.Querier) error {
		var open int
		err := tx.QueryRowContext(ctx, "SELECT open_reports FROM comments WHERE id = $1", id).Scan(&open)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil || open == 0 {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE comments SET open_reports = 0 WHERE id = $1", id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE comment_reports SET resolved_at = $2 WHERE comment_id = $1 AND resolved_at IS NULL", id, now); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "comment.dismiss_reports", commentSubject(id),
			map[string]int{"open_reports": open}, map[string]int{"open_reports": 0})
	})
	return wrap(err, "dismiss reports of comment %d", id)
}

// reviewState is what a moderation of a review checks first.
func reviewState(ctx context.Context, q db.Querier, id int64) (product, author int64, hidden bool, reason string, err error) {
	err = q.QueryRowContext(ctx, "SELECT product_id, customer_id, hidden_at IS NOT NULL, hidden_reason FROM reviews WHERE id = $1", id).
		Scan(&product, &author, &hidden, &reason)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	return
}

// HideReview hides review id for reason (required): it leaves the
// storefront, the summary and its author's posts count, and the queue.
// Audited (review.hide).
func (s *Service) HideReview(ctx context.Context, id int64, reason string) error {
	reason, err := reasonText(reason)
	if err != nil {
		return err
	}
	now := db.Time(s.now())
	err = s.write(ctx, func(tx db.Querier) error {
		product, author, hidden, before, err := reviewState(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE reviews SET hidden_at = COALESCE(hidden_at, $2), hidden_reason = $3,
			moderated_at = COALESCE(moderated_at, $2) WHERE id = $1`, id, now, reason); err != nil {
			return err
		}
		if !hidden {
			if err := addPosts(ctx, tx, author, -1); err != nil {
				return err
			}
		}
		if err := touch(ctx, tx, product, now); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "review.hide", reviewSubject(id), visibility{hidden, before}, visibility{true, reason})
	})
	return wrap(err, "hide review %d", id)
}

// RestoreReview shows hidden review id again, for reason (required).
// Audited (review.restore). Restoring a review that is not hidden does
// nothing.
func (s *Service) RestoreReview(ctx context.Context, id int64, reason string) error {
	reason, err := reasonText(reason)
	if err != nil {
		return err
	}
	now := db.Time(s.now())
	err = s.write(ctx, func(tx db.Querier) error {
		product, author, hidden, before, err := reviewState(ctx, tx, id)
		if err != nil || !hidden {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE reviews SET hidden_at = NULL, hidden_reason = '',
			moderated_at = COALESCE(moderated_at, $2) WHERE id = $1`, id, now); err != nil {
			return err
		}
		if err := addPosts(ctx, tx, author, 1); err != nil {
			return err
		}
		if err := touch(ctx, tx, product, now); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "review.restore", reviewSubject(id), visibility{true, before}, visibility{false, reason})
	})
	return wrap(err, "restore review %d", id)
}

// ApproveReview marks review id as looked at, taking it out of the queue
// and leaving it shown. Audited (review.approve). Approving a review
// already looked at does nothing.
func (s *Service) ApproveReview(ctx context.Context, id int64) error {
	now := db.Time(s.now())
	err := s.write(ctx, func(tx db.Querier) error {
		var moderated bool
		err := tx.QueryRowContext(ctx, "SELECT moderated_at IS NOT NULL FROM reviews WHERE id = $1", id).Scan(&moderated)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil || moderated {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE reviews SET moderated_at = $2 WHERE id = $1", id, now); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "review.approve", reviewSubject(id), nil, map[string]bool{"approved": true})
	})
	return wrap(err, "approve review %d", id)
}

// ban is a member's ban state as the audit log records it.
type ban struct {
	Banned bool   `json:"banned"`
	Reason string `json:"reason,omitempty"`
}

// Ban stops customer from posting, voting and reporting, for reason
// (required). Their existing posts stay (hide them one by one). Audited
// (member.ban). It fails with ErrNotFound for an unknown customer.
// Banning a banned member updates the reason.
func (s *Service) Ban(ctx context.Context, customer int64, reason string) error {
	return s.setBan(ctx, customer, true, reason)
}

// Unban lets customer post again, for reason (required). Audited
// (member.unban). Unbanning a member who is not banned does nothing.
func (s *Service) Unban(ctx context.Context, customer int64, reason string) error {
	return s.setBan(ctx, customer, false, reason)
}

func (s *Service) setBan(ctx context.Context, customer int64, banned bool, reason string) error {
	reason, err := reasonText(reason)
	if err != nil {
		return err
	}
	now := db.Time(s.now())
	err = s.write(ctx, func(tx db.Querier) error {
		var was bool
		var before string
		err := tx.QueryRowContext(ctx, `SELECT m.banned_at IS NOT NULL, COALESCE(m.ban_reason, '')
			FROM customers c LEFT JOIN community_members m ON m.customer_id = c.id WHERE c.id = $1`, customer).Scan(&was, &before)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		action := "member.ban"
		if banned {
			_, err = tx.ExecContext(ctx, `INSERT INTO community_members (customer_id, banned_at, ban_reason) VALUES ($1, $2, $3)
				ON CONFLICT (customer_id) DO UPDATE SET banned_at = COALESCE(community_members.banned_at, $2), ban_reason = $3`,
				customer, now, reason)
		} else {
			if !was {
				return nil
			}
			action = "member.unban"
			_, err = tx.ExecContext(ctx, "UPDATE community_members SET banned_at = NULL, ban_reason = '' WHERE customer_id = $1", customer)
		}
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, action, memberSubject(customer), ban{was, before}, ban{banned, reason})
	})
	return wrap(err, "ban customer %d", customer)
}

const memberColumns = `c.id, c.name, c.email, c.created_at, c.disabled_at IS NOT NULL,
	COALESCE(m.posts, 0), m.banned_at, COALESCE(m.ban_reason, '')`

func scanMember(row interface{ Scan(...any) error }) (*Member, error) {
	var m Member
	var banned sql.NullTime
	if err := row.Scan(&m.ID, &m.Name, &m.Email, &m.MemberSince, &m.Disabled, &m.Posts, &banned, &m.BanReason); err != nil {
		return nil, err
	}
	m.Name, m.MemberSince = cleanName(m.Name), m.MemberSince.UTC()
	if banned.Valid {
		m.Banned, m.BannedAt = true, banned.Time.UTC()
	}
	return &m, nil
}

// Member returns customer's standing, or ErrNotFound.
func (s *Service) Member(ctx context.Context, customer int64) (*Member, error) {
	m, err := scanMember(s.db.Reader().QueryRowContext(ctx, "SELECT "+memberColumns+
		" FROM customers c LEFT JOIN community_members m ON m.customer_id = c.id WHERE c.id = $1", customer))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("member %d: %w", customer, err)
	}
	return m, nil
}

// Banned lists the banned members, most recent ban first.
func (s *Service) Banned(ctx context.Context) ([]Member, error) {
	rows, err := s.db.Reader().QueryContext(ctx, "SELECT "+memberColumns+
		" FROM community_members m JOIN customers c ON c.id = m.customer_id WHERE m.banned_at IS NOT NULL ORDER BY m.banned_at DESC, c.id")
	if err != nil {
		return nil, fmt.Errorf("banned members: %w", err)
	}
	defer rows.Close()
	out := []Member{}
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, fmt.Errorf("banned members: %w", err)
		}
		out = append(out, *m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("banned members: %w", err)
	}
	return out, nil
}

// Words returns the word filter, sorted.
func (s *Service) Words(ctx context.Context) ([]string, error) {
	return loadWords(ctx, s.db.Reader())
}

// MaxWords bounds the word filter's length.
const MaxWords = 1000

// SetWords replaces the word filter with words (one word or phrase each;
// blank entries and duplicates dropped, case and punctuation ignored:
// "Foo-Bar" is the phrase "foo bar"). A post containing any of them as
// whole words is refused with ErrFiltered. Audited (community.words).
func (s *Service) SetWords(ctx context.Context, words []string) error {
	set := map[string]bool{}
	for _, w := range words {
		if !utf8.ValidString(w) {
			return &input.FieldError{Field: "words", Err: ErrInvalidText, Msg: "The word list contains bytes that are not text (invalid UTF-8)."}
		}
		n := normWord(w)
		if n == "" {
			continue
		}
		if len([]rune(n)) > MaxWordLen {
			return &input.FieldError{Field: "words", Err: ErrInvalidText,
				Msg: fmt.Sprintf("Each entry of the word list may have at most %d characters.", MaxWordLen)}
		}
		set[n] = true
	}
	if len(set) > MaxWords {
		return &input.FieldError{Field: "words", Err: ErrInvalidText,
			Msg: fmt.Sprintf("The word list may have at most %d entries.", MaxWords)}
	}
	list := make([]string, 0, len(set))
	for w := range set {
		list = append(list, w)
	}
	sort.Strings(list)
	now := db.Time(s.now())
	err := s.write(ctx, func(tx db.Querier) error {
		before, err := loadWords(ctx, tx)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM community_words"); err != nil {
			return err
		}
		for _, w := range list {
			if _, err := tx.ExecContext(ctx, "INSERT INTO community_words (word, created_at) VALUES ($1, $2)", w, now); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, "community.words", "community:words", before, list)
	})
	return wrap(err, "set word filter")
}
