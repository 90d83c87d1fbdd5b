package catalog

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"mistore/internal/bounded"
	"mistore/internal/db"
	"mistore/internal/market"
	"mistore/internal/money"
)

// StockReader tells how many units of each SKU a market can sell.
type StockReader interface {
	Available(ctx context.Context, market string, skus []string) (map[string]int, error)
}

// Service answers catalog questions for the storefront and the API.
type Service struct {
	db    *db.DB
	stock StockReader
	now   func() time.Time
	// recheck is how often a reader asks the database whether another
	// process changed the catalog.
	recheck time.Duration

	// searches keeps search results by catalog revision and query: a
	// result changes only with the catalog, and shoppers search for the
	// same few things again and again.
	searches *bounded.Map[string, []int64]

	snap      atomic.Pointer[snapshot]
	checkedAt atomic.Int64 // unix nanoseconds of the last revision check
	reload    sync.Mutex
}

// Options configures a Service.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Recheck is how often to look for catalog changes made by other
	// processes; zero means every second.
	Recheck time.Duration
}

// NewService returns a catalog Service on d that reads stock from stock.
func NewService(d *db.DB, stock StockReader, opts Options) *Service {
	s := &Service{db: d, stock: stock, now: opts.Now, recheck: opts.Recheck}
	s.searches = bounded.New[string, []int64](4096)
	if s.now == nil {
		s.now = time.Now
	}
	if s.recheck <= 0 {
		s.recheck = time.Second
	}
	return s
}

// current returns a catalog snapshot no older than the last revision check.
// At most one caller at a time checks the revision; the others carry on
// with the snapshot they have, so a slow check never queues readers.
func (s *Service) current(ctx context.Context) (*snapshot, error) {
	snap := s.snap.Load()
	if snap == nil {
		return s.Refresh(ctx)
	}
	now := time.Now().UnixNano()
	if now-s.checkedAt.Load() < int64(s.recheck) || !s.reload.TryLock() {
		return snap, nil
	}
	defer s.reload.Unlock()
	s.checkedAt.Store(now)
	var rev int64
	if err := s.db.Reader().QueryRowContext(ctx, "SELECT revision FROM catalog_revision WHERE id = 1").Scan(&rev); err != nil {
		// The catalog in memory is still right as of its revision; serve it
		// and let readiness checks report the database.
		return snap, nil
	}
	if rev == snap.revision {
		return snap, nil
	}
	fresh, err := loadSnapshot(ctx, s.db)
	if err != nil {
		return snap, nil
	}
	s.snap.Store(fresh)
	return fresh, nil
}

// StockMaxAge is how old the stock its views are decided on may be: 0
// when they read it fresh. Whatever keeps views for that long shows
// nothing older than the views themselves may.
func (s *Service) StockMaxAge() time.Duration {
	if c, ok := s.stock.(interface{ MaxAge() time.Duration }); ok {
		return c.MaxAge()
	}
	return 0
}

// Refresh reloads the catalog from the database now. Writers call it after
// they commit.
func (s *Service) Refresh(ctx context.Context) (*snapshot, error) {
	fresh, err := loadSnapshot(ctx, s.db)
	if err != nil {
		return nil, err
	}
	// A catalog write may have set stock too (imports do): let a caching
	// stock reader forget what it had.
	if inv, ok := s.stock.(interface{ Invalidate() }); ok {
		inv.Invalidate()
	}
	s.snap.Store(fresh)
	s.checkedAt.Store(time.Now().UnixNano())
	return fresh, nil
}

// Now returns the service's clock reading, so that carts decide with the
// same clock as the catalog.
func (s *Service) Now() time.Time { return s.now() }

// Markets returns every market the store serves.
func (s *Service) Markets(ctx context.Context) (*market.Set, error) {
	snap, err := s.current(ctx)
	if err != nil {
		return nil, err
	}
	return snap.markets, nil
}

// Categories returns the product categories in display order.
func (s *Service) Categories(ctx context.Context) ([]Category, error) {
	snap, err := s.current(ctx)
	if err != nil {
		return nil, err
	}
	return snap.categories, nil
}

// View is a product as a shopper in one market sees it.
type View struct {
	*Product
	// Revision is the catalog revision the view was decided on, for
	// caches keyed by what a page shows.
	Revision     int64
	Market       market.Market
	CategoryName string
	Availability Availability
	Variants     []VariantView
	// Resellers are the market's authorised resellers, shown when the
	// product is not sold here.
	Resellers []Reseller
}

// VariantView is a variant in one market: its price there, if any, and
// whether it can be bought.
type VariantView struct {
	*Variant
	Price        money.Money
	HasPrice     bool
	Availability Availability
	Stock        int
}

// inMarket returns the current snapshot and the market with code.
func (s *Service) inMarket(ctx context.Context, code string) (*snapshot, market.Market, error) {
	snap, err := s.current(ctx)
	if err != nil {
		return nil, market.Market{}, err
	}
	m, err := snap.markets.Get(code)
	return snap, m, err
}

// Product returns the product with slug as market code sees it.
func (s *Service) Product(ctx context.Context, code, slug string) (*View, error) {
	snap, m, err := s.inMarket(ctx, code)
	if err != nil {
		return nil, err
	}
	p := snap.bySlug[slug]
	if p == nil {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, slug)
	}
	views, err := s.views(ctx, snap, m, []*Product{p})
	if err != nil {
		return nil, err
	}
	return &views[0], nil
}

// views decides availability for products in market m with one stock query.
func (s *Service) views(ctx context.Context, snap *snapshot, m market.Market, products []*Product) ([]View, error) {
	var skus []string
	for _, p := range products {
		for _, v := range p.Variants {
			skus = append(skus, v.SKU)
		}
	}
	stock, err := s.stock.Available(ctx, m.Code, skus)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := make([]View, len(products))
	for i, p := range products {
		r := Rules{Market: m, Schemes: snap.markets, CategoryName: snap.categoryName(p.Category)}
		whole, perVariant := DecideProduct(p, r, stock, now)
		vv := make([]VariantView, len(p.Variants))
		for j := range p.Variants {
			v := &p.Variants[j]
			price, ok := v.Prices[m.Code]
			vv[j] = VariantView{Variant: v, Price: price, HasPrice: ok, Availability: perVariant[j], Stock: stock[v.SKU]}
		}
		out[i] = View{Product: p, Revision: snap.revision, Market: m, CategoryName: r.CategoryName, Availability: whole, Variants: vv}
		if whole.State == NotSold {
			out[i].Resellers = p.Resellers[m.Code]
		}
	}
	return out, nil
}

func (s *snapshot) categoryName(slug string) string {
	for _, c := range s.categories {
		if c.Slug == slug {
			return c.Name
		}
	}
	return slug
}

// ListQuery selects a page of products.
type ListQuery struct {
	Q        string // full-text search; empty lists everything
	Category string // category slug; empty means all
	Featured bool   // only featured products
	// Sort is the order: SortDefault (featured first, or by relevance to
	// Q), SortPriceAsc or SortPriceDesc.
	Sort string
	// Available keeps only the products a shopper can buy in the market
	// now (State Available): in stock, priced, listed and certified.
	Available bool
	Page      int // from 1
	PerPage   int
}

// The orders a list can be sorted in. By price means by the lowest price
// of a product's variants in the market ("from $24.99"); products without
// one there come last either way.
const (
	SortDefault   = ""
	SortPriceAsc  = "price_asc"
	SortPriceDesc = "price_desc"
)

// sortByPrice orders ps by their lowest price in market, cheapest first
// or dearest first, keeping the default order among equal prices.
func sortByPrice(ps []*Product, market string, desc bool) {
	type keyed struct {
		p     *Product
		price int64
		has   bool
	}
	ks := make([]keyed, len(ps))
	for i, p := range ps {
		ks[i].p = p
		for _, v := range p.Variants {
			if m, ok := v.Prices[market]; ok && (!ks[i].has || m.Amount < ks[i].price) {
				ks[i].price, ks[i].has = m.Amount, true
			}
		}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int {
		switch {
		case a.has != b.has:
			if a.has {
				return -1
			}
			return 1
		case desc:
			return cmp.Compare(b.price, a.price)
		}
		return cmp.Compare(a.price, b.price)
	})
	for i := range ks {
		ps[i] = ks[i].p
	}
}

// Page limits for ListQuery.
const (
	DefaultPerPage = 24
	MaxPerPage     = 100
	MaxPage        = 10_000
	MaxQueryLength = 200
)

// ListResult is one page of products.
type ListResult struct {
	// Revision is the catalog revision the list was taken from.
	Revision int64
	Products []View
	Page     int
	PerPage  int
	Total    int
}

// List returns a page of the products of market code that match q.
func (s *Service) List(ctx context.Context, code string, q ListQuery) (*ListResult, error) {
	snap, m, err := s.inMarket(ctx, code)
	if err != nil {
		return nil, err
	}
	if q.Page < 1 {
		q.Page = 1
	}
	if q.PerPage < 1 {
		q.PerPage = DefaultPerPage
	}
	if q.PerPage > MaxPerPage {
		q.PerPage = MaxPerPage
	}
	candidates := snap.products
	if q.Q != "" {
		ids, err := s.search(ctx, snap.revision, q.Q)
		if err != nil {
			return nil, err
		}
		candidates = candidates[:0:0]
		for _, id := range ids {
			if p := snap.byID[id]; p != nil {
				candidates = append(candidates, p)
			}
		}
	}
	var matched []*Product
	for _, p := range candidates {
		if (q.Category == "" || p.Category == q.Category) && (!q.Featured || p.Featured) {
			matched = append(matched, p)
		}
	}
	if q.Sort == SortPriceAsc || q.Sort == SortPriceDesc {
		sortByPrice(matched, m.Code, q.Sort == SortPriceDesc)
	}
	if q.Available {
		// Availability needs stock, so every match is decided before the
		// page is cut from those that can be bought.
		all, err := s.views(ctx, snap, m, matched)
		if err != nil {
			return nil, err
		}
		all = slices.DeleteFunc(all, func(v View) bool { return v.Availability.State != Available })
		res := &ListResult{Revision: snap.revision, Page: q.Page, PerPage: q.PerPage, Total: len(all)}
		if start := (q.Page - 1) * q.PerPage; start < len(all) {
			res.Products = all[start:min(start+q.PerPage, len(all))]
		}
		return res, nil
	}
	res := &ListResult{Revision: snap.revision, Page: q.Page, PerPage: q.PerPage, Total: len(matched)}
	start := (q.Page - 1) * q.PerPage
	if start >= len(matched) {
		return res, nil
	}
	end := min(start+q.PerPage, len(matched))
	res.Products, err = s.views(ctx, snap, m, matched[start:end])
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Item is one variant with everything that decides whether a market may
// sell it: carts and checkout decide with fresh stock through it.
type Item struct {
	Product  *Product
	Variant  *Variant
	Rules    Rules
	Price    money.Money
	HasPrice bool
	// Revision is the catalog revision the item comes from.
	Revision int64
}

// Decide applies the availability rule to qty units with stock available.
func (it *Item) Decide(stock, qty int, now time.Time) Availability {
	return Decide(it.Product, it.Variant, it.Rules, stock, qty, now)
}

// Item returns the variant with SKU sku as market code sees it, or
// ErrNotFound.
func (s *Service) Item(ctx context.Context, code, sku string) (*Item, error) {
	snap, m, err := s.inMarket(ctx, code)
	if err != nil {
		return nil, err
	}
	p := snap.bySKU[sku]
	if p == nil {
		return nil, fmt.Errorf("%w: no SKU %q", ErrNotFound, sku)
	}
	v, _ := p.Variant(sku)
	price, ok := v.Prices[m.Code]
	return &Item{
		Product: p, Variant: v, Price: price, HasPrice: ok && price.Currency == m.Currency, Revision: snap.revision,
		Rules: Rules{Market: m, Schemes: snap.markets, CategoryName: snap.categoryName(p.Category)},
	}, nil
}
