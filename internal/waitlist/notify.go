package waitlist

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"mistore/internal/catalog"
	"mistore/internal/db"
	"mistore/internal/market"
)

// pair is a product and market with confirmed entries still waiting.
type pair struct {
	productID int64
	slug      string
	market    string
}

// Notify tells every confirmed, waiting entry whose product has become
// purchasable in its market, and returns how many were told. Run it
// periodically (every half minute is cheap: it only looks at the pairs
// that have waiting entries, through an index of exactly those rows).
//
// Whatever made the product purchasable — a certificate added, a listing
// opened, its launch time reached, a restock — the question is the
// catalog's own availability rule, asked with live stock. Each batch of
// entries is marked notified and gets its emails queued in one
// transaction, each email under the outbox key AvailableKey: a crash
// before a commit leaves the whole batch for the next run, a crash after
// it sends nothing again, so every entry is mailed exactly once (the
// delivery from the outbox is the mailer's job, at least once with a
// stable Message-ID). Instances may run it at the same time: an entry is
// taken by the UPDATE that finds it still un-notified.
func (s *Service) Notify(ctx context.Context) (int, error) {
	var pairs []pair
	err := db.EachRow(ctx, s.db.Reader(), `SELECT DISTINCT e.product_id, p.slug, e.market FROM waitlist_entries e
		JOIN products p ON p.id = e.product_id
		WHERE e.confirmed_at IS NOT NULL AND e.notified_at IS NULL AND e.unsubscribed_at IS NULL
		ORDER BY e.product_id, e.market`, nil, func(rows *sql.Rows) error {
		var p pair
		if err := rows.Scan(&p.productID, &p.slug, &p.market); err != nil {
			return err
		}
		pairs = append(pairs, p)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("waitlist: notify: %w", err)
	}
	total := 0
	var errs []error
	for _, p := range pairs {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		ok, place, err := s.purchasable(ctx, p)
		if err != nil {
			// One product's trouble must not hold up the others.
			errs = append(errs, err)
			continue
		}
		if !ok {
			continue
		}
		n, err := s.notifyPair(ctx, p, place)
		total += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	if total > 0 {
		s.log.InfoContext(ctx, "told waitlist entries their product is available", "count", total)
	}
	return total, errors.Join(errs...)
}

// purchasable decides the product of p in its market with live stock,
// and returns its market, whose language and place name the email uses.
func (s *Service) purchasable(ctx context.Context, p pair) (bool, market.Market, error) {
	v, err := s.catalog.Product(ctx, p.market, p.slug)
	if errors.Is(err, catalog.ErrNotFound) {
		return false, market.Market{}, nil // renamed or removed since: nothing to sell
	}
	if err != nil {
		return false, market.Market{}, fmt.Errorf("waitlist: notify %s in %s: %w", p.slug, p.market, err)
	}
	if v.ID != p.productID {
		return false, market.Market{}, nil // the slug is another product's now
	}
	if s.stock == nil {
		return v.Availability.Purchasable(), v.Market, nil
	}
	skus := make([]string, len(v.Variants))
	for i, vv := range v.Variants {
		skus[i] = vv.SKU
	}
	stock, err := s.stock.Available(ctx, p.market, skus)
	if err != nil {
		return false, market.Market{}, fmt.Errorf("waitlist: notify %s in %s: stock: %w", p.slug, p.market, err)
	}
	set, err := s.catalog.Markets(ctx)
	if err != nil {
		return false, market.Market{}, fmt.Errorf("waitlist: notify: %w", err)
	}
	a, _ := catalog.DecideProduct(v.Product, catalog.Rules{Market: v.Market, Schemes: set, CategoryName: v.CategoryName}, stock, s.catalog.Now())
	return a.Purchasable(), v.Market, nil
}

// notifyPair tells the waiting entries of p, a batch per transaction.
func (s *Service) notifyPair(ctx context.Context, p pair, place market.Market) (int, error) {
	key, err := s.secret(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for batch := 1; ; batch++ {
		n := 0
		err := s.db.Tx(ctx, func(tx db.Querier) error {
			n = 0
			var entries []*Entry
			err := db.EachRow(ctx, tx, `SELECT `+entryColumns+` FROM waitlist_entries e JOIN products p ON p.id = e.product_id
				WHERE e.product_id = $1 AND e.market = $2 AND e.confirmed_at IS NOT NULL AND e.notified_at IS NULL AND e.unsubscribed_at IS NULL
				ORDER BY e.id LIMIT $3`, []any{p.productID, p.market, s.batch}, func(rows *sql.Rows) error {
				e, err := scanEntry(rows)
				if err != nil {
					return err
				}
				entries = append(entries, e)
				return nil
			})
			if err != nil {
				return fmt.Errorf("waitlist: notify: %w", err)
			}
			now := db.Time(s.now())
			for _, e := range entries {
				// Taken only if still waiting: another instance may have
				// told it since the SELECT.
				res, err := tx.ExecContext(ctx, `UPDATE waitlist_entries SET notified_at = $2, updated_at = $2
					WHERE id = $1 AND round = $3 AND confirmed_at IS NOT NULL AND notified_at IS NULL AND unsubscribed_at IS NULL`, e.ID, now, e.Round)
				if err != nil {
					return fmt.Errorf("waitlist: notify entry %d: %w", e.ID, err)
				}
				if k, _ := res.RowsAffected(); k != 1 {
					continue
				}
				msg, err := s.availableMessage(ctx, key, e, place)
				if err != nil {
					return err
				}
				if err := s.mailer.Queue(ctx, tx, msg); err != nil {
					return fmt.Errorf("waitlist: notify entry %d: %w", e.ID, err)
				}
				n++
			}
			if len(entries) == 0 {
				return nil
			}
			if s.beforeCommit != nil {
				if err := s.beforeCommit(batch); err != nil {
					return err
				}
			}
			if n == 0 {
				// Every row was taken by someone else: stop rather than
				// read the same rows again.
				n = -1
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		if n <= 0 {
			return total, nil
		}
		total += n
		if n < s.batch {
			return total, nil
		}
	}
}
