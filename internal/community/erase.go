package community

import (
	"context"
	"fmt"
	"strings"

	"mistore/internal/db"
)

// EraseCustomer removes what the community keeps about customer, in the
// caller's transaction tx (customer.Service.Delete's), so that erasing an
// account erases its posts too: their comments lose their text and show
// as deleted, keeping their numbers so that the threads read on; their
// reviews, votes and reports are deleted, with the counts they added
// taken back; their member row (posts count, ban) goes. The threads
// touched change version, so cached pages do not show the posts again.
func EraseCustomer(ctx context.Context, tx db.Querier, customer int64) error {
	now := db.Now()
	steps := []struct{ what, sql string }{
		{"touch threads", `UPDATE community_threads SET version = version + 1, changed_at = $2 WHERE product_id IN (
			SELECT product_id FROM comments WHERE customer_id = $1
			UNION SELECT product_id FROM reviews WHERE customer_id = $1
			UNION SELECT r.product_id FROM review_votes v JOIN reviews r ON r.id = v.review_id WHERE v.customer_id = $1)`},
		{"take back votes", `UPDATE reviews SET helpful = helpful - 1 WHERE helpful > 0 AND id IN (
			SELECT review_id FROM review_votes WHERE customer_id = $1)`},
		{"delete votes", `DELETE FROM review_votes WHERE customer_id = $1`},
		{"take back reports", `UPDATE comments SET open_reports = open_reports - 1 WHERE open_reports > 0 AND id IN (
			SELECT comment_id FROM comment_reports WHERE customer_id = $1 AND resolved_at IS NULL)`},
		{"delete reports", `DELETE FROM comment_reports WHERE customer_id = $1`},
		{"delete reviews", `DELETE FROM reviews WHERE customer_id = $1`},
		{"erase comments", `UPDATE comments SET body = '', deleted_at = COALESCE(deleted_at, $2), open_reports = 0
			WHERE customer_id = $1`},
		{"delete member", `DELETE FROM community_members WHERE customer_id = $1`},
	}
	for _, st := range steps {
		args := []any{customer}
		if strings.Contains(st.sql, "$2") {
			args = append(args, now)
		}
		if _, err := tx.ExecContext(ctx, st.sql, args...); err != nil {
			return fmt.Errorf("erase community posts of customer %d: %s: %w", customer, st.what, err)
		}
	}
	return nil
}
