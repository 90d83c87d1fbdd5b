package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"mistore/internal/db"
	"mistore/internal/market"
	"mistore/internal/money"
)

// snapshot is the whole catalog in memory, read-only once built. The
// catalog is small (hundreds of products) and read thousands of times a
// second, so reads never go to the database; writes build a new snapshot.
type snapshot struct {
	revision   int64
	markets    *market.Set
	categories []Category
	products   []*Product // in display order: featured first, then by name
	bySlug     map[string]*Product
	byID       map[int64]*Product
	bySKU      map[string]*Product
	// photoFiles are the files of every product's photos.
	photoFiles map[string]bool
	loadedAt   time.Time
}

func loadSnapshot(ctx context.Context, d *db.DB) (*snapshot, error) {
	// One read transaction, so the snapshot is consistent even while an
	// import commits.
	tx, err := d.Read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("load catalog: %w", err)
	}
	defer tx.Rollback()
	s := &snapshot{bySlug: map[string]*Product{}, byID: map[int64]*Product{}, bySKU: map[string]*Product{}, photoFiles: map[string]bool{}}
	if err := tx.QueryRowContext(ctx, "SELECT revision FROM catalog_revision WHERE id = 1").Scan(&s.revision); err != nil {
		return nil, fmt.Errorf("load catalog revision: %w", err)
	}
	if s.markets, err = market.Load(ctx, tx); err != nil {
		return nil, err
	}
	steps := []func(context.Context, *sql.Tx) error{
		s.loadCategories, s.loadProducts, s.loadVariants, s.loadPrices,
		s.loadListings, s.loadCertifications, s.loadResellers, s.loadTexts, s.loadPhotos,
	}
	for _, step := range steps {
		if err := step(ctx, tx); err != nil {
			return nil, fmt.Errorf("load catalog: %w", err)
		}
	}
	for _, p := range s.products {
		p.indexNames()
	}
	sort.SliceStable(s.products, func(i, j int) bool {
		a, b := s.products[i], s.products[j]
		if a.Featured != b.Featured {
			return a.Featured
		}
		return a.Name < b.Name
	})
	s.loadedAt = time.Now()
	return s, nil
}

func (s *snapshot) loadCategories(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "SELECT slug, name, radio FROM categories ORDER BY position, slug")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var c Category
		if err := rows.Scan(&c.Slug, &c.Name, &c.Radio); err != nil {
			return err
		}
		s.categories = append(s.categories, c)
	}
	return rows.Err()
}

func (s *snapshot) loadProducts(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, slug, name, category, description, specs, image, featured,
		coalesce(purchase_limit, 0), updated_at FROM products ORDER BY id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		p := &Product{
			Listings:       map[string]Listing{},
			Certifications: map[string][]Certification{},
			Resellers:      map[string][]Reseller{},
		}
		var specs string
		if err := rows.Scan(&p.ID, &p.Slug, &p.Name, &p.Category, &p.Description, &specs, &p.Image, &p.Featured, &p.PurchaseLimit, &p.UpdatedAt); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(specs), &p.Specs); err != nil {
			return fmt.Errorf("product %s: specs: %w", p.Slug, err)
		}
		s.products = append(s.products, p)
		s.bySlug[p.Slug] = p
		s.byID[p.ID] = p
	}
	return rows.Err()
}

func (s *snapshot) loadPhotos(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, photosQuery+" ORDER BY i.product_id, i.position, i.id, r.width")
	if err != nil {
		return err
	}
	defer rows.Close()
	byID := func(id int64) *Product { return s.byID[id] }
	for rows.Next() {
		if err := scanPhotos(rows, byID); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, p := range s.products {
		for _, ph := range p.Photos {
			s.photoFiles[ph.File] = true
		}
	}
	return nil
}

func (s *snapshot) loadVariants(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "SELECT id, product_id, sku, name, options, weight_g FROM variants ORDER BY product_id, position, id")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var v Variant
		var pid int64
		var options string
		if err := rows.Scan(&v.ID, &pid, &v.SKU, &v.Name, &options, &v.WeightG); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(options), &v.Options); err != nil {
			return fmt.Errorf("variant %s: options: %w", v.SKU, err)
		}
		v.Prices = map[string]money.Money{}
		if p := s.byID[pid]; p != nil {
			p.Variants = append(p.Variants, v)
			s.bySKU[v.SKU] = p
		}
	}
	return rows.Err()
}

func (s *snapshot) loadPrices(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "SELECT sku, market, amount, currency FROM prices")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var sku, mk string
		var m money.Money
		if err := rows.Scan(&sku, &mk, &m.Amount, &m.Currency); err != nil {
			return err
		}
		if p := s.bySKU[sku]; p != nil {
			if v, ok := p.Variant(sku); ok {
				v.Prices[mk] = m
			}
		}
	}
	return rows.Err()
}

func (s *snapshot) loadListings(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "SELECT product_id, market, listed, launch_at FROM listings")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var pid int64
		var mk string
		var l Listing
		var launch sql.NullTime
		if err := rows.Scan(&pid, &mk, &l.Listed, &launch); err != nil {
			return err
		}
		if launch.Valid {
			l.LaunchAt = launch.Time.UTC()
		}
		if p := s.byID[pid]; p != nil {
			p.Listings[mk] = l
		}
	}
	return rows.Err()
}

func (s *snapshot) loadCertifications(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT product_id, market, scheme, reference, valid_from, valid_until, document_url
		FROM certifications ORDER BY product_id, market, scheme, valid_from`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var pid int64
		var mk string
		var c Certification
		var until sql.NullTime
		if err := rows.Scan(&pid, &mk, &c.Scheme, &c.Reference, &c.ValidFrom, &until, &c.DocumentURL); err != nil {
			return err
		}
		c.ValidFrom = c.ValidFrom.UTC()
		if until.Valid {
			c.ValidUntil = until.Time.UTC()
		}
		if p := s.byID[pid]; p != nil {
			p.Certifications[mk] = append(p.Certifications[mk], c)
		}
	}
	return rows.Err()
}

func (s *snapshot) loadResellers(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "SELECT product_id, market, name, url FROM resellers ORDER BY product_id, market, position, id")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var pid int64
		var mk string
		var r Reseller
		if err := rows.Scan(&pid, &mk, &r.Name, &r.URL); err != nil {
			return err
		}
		if p := s.byID[pid]; p != nil {
			p.Resellers[mk] = append(p.Resellers[mk], r)
		}
	}
	return rows.Err()
}
