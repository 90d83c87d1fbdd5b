package web

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"mistore/internal/catalog"
	"mistore/internal/locale"
)

// The product page's "More wearables": other products of the same
// category, the ones that can be bought in the market first.

// relatedCount is how many other products of its category the product
// page suggests.
const relatedCount = 4

// relatedMemoMax bounds the suggestions kept (relatedMemo): past it they
// are all dropped, to be decided afresh.
const relatedMemoMax = 4096

// relatedMemo keeps each product's suggestions, by market, language and
// product, for as long as the stock they were decided on may be kept
// (catalog.Service.StockMaxAge, a second in serve). Deciding the
// availability of a category's products again for every view of the
// page served 7-17% fewer cached product pages a second, for an answer
// that changes only with that stock (and, in its ratings, with a review,
// which the suggestions show as much later).
type relatedMemo struct {
	mu sync.Mutex
	m  map[relatedKey]relatedEntry
}

type relatedKey struct {
	market, lang string
	product      int64
}

type relatedEntry struct {
	revision int64
	until    time.Time
	related
}

// related is a product page's suggestions: the cards, and the part of the
// page's cache key they decide (their availability and ratings).
type related struct {
	cards []productCard
	key   string
}

// related returns up to relatedCount other products of v's category in
// v's market, in the page's language: those that can be bought there
// first, each group in the list's own order (featured first). A product
// not sold here thus points to what is.
func (s *Server) related(ctx context.Context, l *locale.Lang, v *catalog.View) (related, error) {
	k := relatedKey{market: v.Market.Code, lang: l.Texts, product: v.ID}
	now, ttl := time.Now(), s.catalog.StockMaxAge()
	if ttl > 0 {
		s.relatedMemo.mu.Lock()
		e, ok := s.relatedMemo.m[k]
		s.relatedMemo.mu.Unlock()
		if ok && e.revision == v.Revision && now.Before(e.until) {
			return e.related, nil
		}
	}

	list, err := s.catalog.List(ctx, v.Market.Code, catalog.ListQuery{Category: v.Category, PerPage: catalog.MaxPerPage})
	if err != nil {
		return related{}, fmt.Errorf("products related to %s: %w", v.Slug, err)
	}
	var buyable, other []catalog.View
	for _, o := range list.Products {
		switch {
		case o.ID == v.ID:
		case o.Availability.Purchasable():
			buyable = append(buyable, o)
		default:
			other = append(other, o)
		}
	}
	views := append(buyable, other...)
	views = localize(l, views[:min(len(views), relatedCount)])
	cards, ratings, err := s.productCards(ctx, views)
	if err != nil {
		return related{}, fmt.Errorf("products related to %s: %w", v.Slug, err)
	}
	var b strings.Builder
	b.WriteString(ratings)
	b.WriteString("|rel:")
	viewKey(&b, views...)
	out := related{cards: cards, key: b.String()}

	if ttl > 0 {
		s.relatedMemo.mu.Lock()
		if s.relatedMemo.m == nil || len(s.relatedMemo.m) >= relatedMemoMax {
			s.relatedMemo.m = map[relatedKey]relatedEntry{}
		}
		s.relatedMemo.m[k] = relatedEntry{revision: list.Revision, until: now.Add(ttl), related: out}
		s.relatedMemo.mu.Unlock()
	}
	return out, nil
}
