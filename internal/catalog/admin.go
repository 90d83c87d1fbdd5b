package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"mistore/internal/audit"
	"mistore/internal/db"
	"mistore/internal/input"
	"mistore/internal/market"
	"mistore/internal/money"
	"mistore/internal/notify"
)

// The back office's writes: products, variants, prices, certifications,
// listings and resellers. Each runs in one transaction that also records
// the change in the audit log and bumps the catalog revision, so every
// process's snapshot picks it up; the writing process refreshes its own at
// once.

var (
	// ErrInvalid is what every FieldError the catalog returns wraps:
	// input a write refuses.
	ErrInvalid = errors.New("invalid catalog input")
	// ErrSlugTaken: another product already has the slug.
	ErrSlugTaken = errors.New("another product already has this slug")
	// ErrSKUTaken: another product already has a variant with the SKU.
	ErrSKUTaken = errors.New("another product already has this SKU")
	// ErrCertificationNotFound: the product holds no such certification.
	ErrCertificationNotFound = errors.New("certification not found")
)

// FieldError is input a catalog write refuses, naming the field at fault;
// its message is a sentence staff can act on. It is every back-office
// write's input.FieldError, so the web layer answers them all alike.
type FieldError = input.FieldError

// invalid is the catalog's FieldError: every one it returns is an
// ErrInvalid.
func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...), Err: ErrInvalid}
}

// Limits of the values staff may write; the CSV import applies the same.
const (
	maxNameLen        = 200
	maxDescriptionLen = 5000
	maxPairs          = 50
	maxResellers      = 20
	maxURLLen         = 500
	// MaxPrice is the largest price of one item in minor units.
	MaxPrice = 1_000_000_000
)

// ProductInput is a new product with its first variants.
type ProductInput struct {
	Slug        string
	Name        string
	Category    string
	Description string
	Specs       []Spec
	Image       string
	Featured    bool
	// PurchaseLimit is the most units of one SKU per cart; 0 is the store
	// default.
	PurchaseLimit int
	Variants      []VariantInput
}

// ProductPatch changes some fields of a product; nil fields stay as they are.
type ProductPatch struct {
	Name          *string
	Category      *string
	Description   *string
	Specs         *[]Spec
	Image         *string
	Featured      *bool
	PurchaseLimit *int
}

// VariantInput is a variant to create or change, matched by SKU.
type VariantInput struct {
	SKU     string
	Name    string
	Options []Spec
	WeightG int
}

// productRecord is a product's own fields as the audit log keeps them.
type productRecord struct {
	Slug          string `json:"slug"`
	Name          string `json:"name"`
	Category      string `json:"category"`
	Description   string `json:"description"`
	Specs         []Spec `json:"specs"`
	Image         string `json:"image"`
	Featured      bool   `json:"featured"`
	PurchaseLimit int    `json:"purchase_limit"`
}

func recordOf(p *Product) productRecord {
	return productRecord{p.Slug, p.Name, p.Category, p.Description, nonNil(p.Specs), p.Image, p.Featured, p.PurchaseLimit}
}

type variantRecord struct {
	SKU     string `json:"sku"`
	Name    string `json:"name"`
	Options []Spec `json:"options"`
	WeightG int    `json:"weight_g"`
}

type priceRecord struct {
	SKU    string      `json:"sku"`
	Market string      `json:"market"`
	Price  money.Money `json:"price"`
}

type listingRecord struct {
	Market   string     `json:"market"`
	Listed   bool       `json:"listed"`
	LaunchAt *time.Time `json:"launch_at,omitempty"`
}

type certRecord struct {
	Market      string     `json:"market"`
	Scheme      string     `json:"scheme"`
	Reference   string     `json:"reference"`
	ValidFrom   time.Time  `json:"valid_from"`
	ValidUntil  *time.Time `json:"valid_until,omitempty"`
	DocumentURL string     `json:"document_url,omitempty"`
}

func certRecordOf(mk string, c Certification) certRecord {
	r := certRecord{Market: mk, Scheme: c.Scheme, Reference: c.Reference, ValidFrom: c.ValidFrom, DocumentURL: c.DocumentURL}
	if !c.ValidUntil.IsZero() {
		u := c.ValidUntil
		r.ValidUntil = &u
	}
	return r
}

type resellersRecord struct {
	Market    string     `json:"market"`
	Resellers []Reseller `json:"resellers"`
}

// checkProductFields validates what a product's own fields must be.
// MaxPurchaseLimit is the highest purchase limit a product may have: a
// quantity above it is no purchase, whatever the product.
const MaxPurchaseLimit = 1000

func checkProductFields(name, description, image string, specs []Spec, limit int) error {
	if strings.TrimSpace(name) == "" || utf8.RuneCountInString(name) > maxNameLen {
		return invalid("name", "A product needs a name of 1 to %d characters.", maxNameLen)
	}
	if utf8.RuneCountInString(description) > maxDescriptionLen {
		return invalid("description", "The description can be at most %d characters.", maxDescriptionLen)
	}
	if image != "" && !imagePattern.MatchString(image) {
		return invalid("image", "The image must be an image name: lowercase letters, digits and hyphens.")
	}
	if err := checkPairs("specs", specs); err != nil {
		return err
	}
	if limit < 0 || limit > MaxPurchaseLimit {
		return invalid("purchase_limit", "The purchase limit must be from 1 to 1000, or 0 for the store default.")
	}
	return nil
}

func checkPairs(field string, pairs []Spec) error {
	if len(pairs) > maxPairs {
		return invalid(field, "At most %d %s.", maxPairs, field)
	}
	for _, s := range pairs {
		if strings.TrimSpace(s.Key) == "" || strings.TrimSpace(s.Value) == "" {
			return invalid(field, "Every entry of %s needs a name and a value.", field)
		}
		if len(s.Key) > 100 || len(s.Value) > 500 {
			return invalid(field, "The entry %q of %s is too long.", s.Key, field)
		}
		// The CSV format writes pairs as "Key=Value; Key=Value".
		if strings.ContainsAny(s.Key, "=;") || strings.Contains(s.Value, ";") {
			return invalid(field, "The entry %q of %s cannot contain a semicolon (or an equals sign in its name).", s.Key, field)
		}
	}
	return nil
}

func checkVariant(v VariantInput) error {
	if !skuPattern.MatchString(v.SKU) {
		return invalid("sku", "%q is not a SKU: uppercase letters, digits and hyphens, at most 64.", v.SKU)
	}
	if utf8.RuneCountInString(v.Name) > 100 {
		return invalid("variant_name", "A variant name can be at most 100 characters.")
	}
	if v.WeightG < 0 || v.WeightG > 1_000_000 {
		return invalid("weight_g", "The weight must be from 0 to 1000000 grams.")
	}
	return checkPairs("options", v.Options)
}

// checkWebURL accepts only absolute http(s) addresses: a reseller link or
// certificate document is put in an href, where javascript: or data:
// would run in a shopper's or staff member's browser.
func checkWebURL(field, raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(raw) > maxURLLen ||
		strings.ContainsAny(raw, " \t\r\n") {
		return "", invalid(field, "%q is not a web address: it must start with https:// or http://.", raw)
	}
	return u.String(), nil
}

func checkCategory(ctx context.Context, tx db.Querier, category string) error {
	var one int
	err := tx.QueryRowContext(ctx, "SELECT 1 FROM categories WHERE slug = $1", category).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return invalid("category", "There is no category %q.", category)
	}
	if err != nil {
		return fmt.Errorf("check category: %w", err)
	}
	return nil
}

// CreateProduct adds a product and its variants. It fails with a
// FieldError for invalid input, ErrSlugTaken or ErrSKUTaken.
func (s *Service) CreateProduct(ctx context.Context, in ProductInput) (*Product, error) {
	if !slugPattern.MatchString(in.Slug) || len(in.Slug) > 100 {
		return nil, invalid("slug", "%q is not a slug: lowercase letters, digits and single hyphens, at most 100.", in.Slug)
	}
	if err := checkProductFields(in.Name, in.Description, in.Image, in.Specs, in.PurchaseLimit); err != nil {
		return nil, err
	}
	if len(in.Variants) == 0 {
		return nil, invalid("variants", "A product needs at least one variant (a SKU) to be sold.")
	}
	seen := map[string]bool{}
	for _, v := range in.Variants {
		if err := checkVariant(v); err != nil {
			return nil, err
		}
		if seen[v.SKU] {
			return nil, invalid("sku", "The SKU %s appears twice.", v.SKU)
		}
		seen[v.SKU] = true
	}
	cats, err := s.categoryNames(ctx)
	if err != nil {
		return nil, err
	}
	var created *Product
	err = s.db.Tx(ctx, func(tx db.Querier) error {
		if err := checkCategory(ctx, tx, in.Category); err != nil {
			return err
		}
		var exists int
		err := tx.QueryRowContext(ctx, "SELECT 1 FROM products WHERE slug = $1", in.Slug).Scan(&exists)
		if err == nil {
			return fmt.Errorf("%w: %s", ErrSlugTaken, in.Slug)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("create product: %w", err)
		}
		specs, _ := json.Marshal(nonNil(in.Specs))
		now := s.dbNow()
		var id int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO products (slug, name, category, description, specs, image, featured, purchase_limit, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id`,
			in.Slug, in.Name, in.Category, in.Description, string(specs), in.Image, in.Featured, limitArg(in.PurchaseLimit), now).Scan(&id); err != nil {
			return fmt.Errorf("create product %s: %w", in.Slug, err)
		}
		for pos, v := range in.Variants {
			if err := saveVariant(ctx, tx, id, in.Slug, pos, v); err != nil {
				return err
			}
		}
		p, err := loadProduct(ctx, tx, in.Slug)
		if err != nil {
			return err
		}
		if err := updateSearchText(ctx, tx, p, cats[p.Category], now); err != nil {
			return err
		}
		after := struct {
			productRecord
			Variants []variantRecord `json:"variants"`
		}{recordOf(p), variantRecords(p)}
		if err := audit.Record(ctx, tx, "product.create", "product:"+p.Slug, nil, after); err != nil {
			return err
		}
		created = p
		return bumpRevision(ctx, s.db, tx)
	})
	if err != nil {
		return nil, err
	}
	s.refreshAfterWrite(ctx)
	return created, nil
}

func variantRecords(p *Product) []variantRecord {
	out := make([]variantRecord, len(p.Variants))
	for i, v := range p.Variants {
		out[i] = variantRecord{v.SKU, v.Name, nonNil(v.Options), v.WeightG}
	}
	return out
}

func limitArg(n int) any {
	if n > 0 {
		return n
	}
	return nil
}

// UpdateProduct changes the fields of the product slug that patch sets.
func (s *Service) UpdateProduct(ctx context.Context, slug string, patch ProductPatch) (*Product, error) {
	return s.edit(ctx, slug, func(tx db.Querier, p *Product) (string, any, any, error) {
		before := recordOf(p)
		next := before
		if patch.Name != nil {
			next.Name = strings.TrimSpace(*patch.Name)
		}
		if patch.Category != nil {
			next.Category = *patch.Category
		}
		if patch.Description != nil {
			next.Description = *patch.Description
		}
		if patch.Specs != nil {
			next.Specs = nonNil(*patch.Specs)
		}
		if patch.Image != nil {
			next.Image = *patch.Image
		}
		if patch.Featured != nil {
			next.Featured = *patch.Featured
		}
		if patch.PurchaseLimit != nil {
			next.PurchaseLimit = *patch.PurchaseLimit
		}
		if err := checkProductFields(next.Name, next.Description, next.Image, next.Specs, next.PurchaseLimit); err != nil {
			return "", nil, nil, err
		}
		if next.Category != before.Category {
			if err := checkCategory(ctx, tx, next.Category); err != nil {
				return "", nil, nil, err
			}
		}
		specs, _ := json.Marshal(next.Specs)
		if _, err := tx.ExecContext(ctx, `UPDATE products SET name = $2, category = $3, description = $4, specs = $5,
			image = $6, featured = $7, purchase_limit = $8 WHERE id = $1`,
			p.ID, next.Name, next.Category, next.Description, string(specs), next.Image, next.Featured, limitArg(next.PurchaseLimit)); err != nil {
			return "", nil, nil, fmt.Errorf("update product %s: %w", slug, err)
		}
		return "product.update", before, next, nil
	})
}

// SaveVariant creates the variant in.SKU of product slug, or changes it
// when the product already has it. A SKU of another product is
// ErrSKUTaken: moving it would change what past orders refer to.
func (s *Service) SaveVariant(ctx context.Context, slug string, in VariantInput) (*Product, error) {
	if err := checkVariant(in); err != nil {
		return nil, err
	}
	return s.edit(ctx, slug, func(tx db.Querier, p *Product) (string, any, any, error) {
		var before any
		pos := len(p.Variants)
		for i, v := range p.Variants {
			if v.SKU == in.SKU {
				before, pos = variantRecord{v.SKU, v.Name, nonNil(v.Options), v.WeightG}, i
			}
		}
		if err := saveVariant(ctx, tx, p.ID, slug, pos, in); err != nil {
			return "", nil, nil, err
		}
		return "variant.save", before, variantRecord{in.SKU, in.Name, nonNil(in.Options), in.WeightG}, nil
	})
}

func saveVariant(ctx context.Context, tx db.Querier, productID int64, slug string, pos int, v VariantInput) error {
	var owner string
	err := tx.QueryRowContext(ctx, `SELECT p.slug FROM variants v JOIN products p ON p.id = v.product_id WHERE v.sku = $1`, v.SKU).Scan(&owner)
	if err == nil && owner != slug {
		return fmt.Errorf("%w: %s belongs to %s", ErrSKUTaken, v.SKU, owner)
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("save variant %s: %w", v.SKU, err)
	}
	return writeVariant(ctx, tx, productID, pos, importVariant{sku: v.SKU, name: v.Name, options: v.Options, weightG: v.WeightG})
}

// SetPrice sets the price of the product's variant sku in market code, in
// the market's currency. Prices need their own permission at the door.
func (s *Service) SetPrice(ctx context.Context, slug, code, sku string, amount int64) (*Product, error) {
	m, err := s.market(ctx, code)
	if err != nil {
		return nil, err
	}
	if amount < 0 {
		return nil, invalid("amount", "A price cannot be negative.")
	}
	if amount > MaxPrice {
		return nil, invalid("amount", "%s is more than the store accepts for one item.", money.New(amount, m.Currency))
	}
	return s.edit(ctx, slug, func(tx db.Querier, p *Product) (string, any, any, error) {
		v, ok := p.Variant(sku)
		if !ok {
			return "", nil, nil, invalid("sku", "The %s has no variant %q.", p.Name, sku)
		}
		var before any
		if old, ok := v.Prices[m.Code]; ok {
			before = priceRecord{sku, m.Code, old}
		}
		price := money.New(amount, m.Currency)
		if _, err := tx.ExecContext(ctx, `INSERT INTO prices (sku, market, amount, currency) VALUES ($1, $2, $3, $4)
			ON CONFLICT (sku, market) DO UPDATE SET amount = excluded.amount, currency = excluded.currency`,
			sku, m.Code, price.Amount, price.Currency); err != nil {
			return "", nil, nil, fmt.Errorf("set price of %s in %s: %w", sku, m.Code, err)
		}
		return "price.set", before, priceRecord{sku, m.Code, price}, nil
	})
}

// RemovePrice takes the price of variant sku off market code, which stops
// its sale there.
func (s *Service) RemovePrice(ctx context.Context, slug, code, sku string) (*Product, error) {
	m, err := s.market(ctx, code)
	if err != nil {
		return nil, err
	}
	return s.edit(ctx, slug, func(tx db.Querier, p *Product) (string, any, any, error) {
		v, ok := p.Variant(sku)
		if !ok {
			return "", nil, nil, invalid("sku", "The %s has no variant %q.", p.Name, sku)
		}
		old, ok := v.Prices[m.Code]
		if !ok {
			return "", nil, nil, nil
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM prices WHERE sku = $1 AND market = $2", sku, m.Code); err != nil {
			return "", nil, nil, fmt.Errorf("remove price of %s in %s: %w", sku, m.Code, err)
		}
		return "price.remove", priceRecord{sku, m.Code, old}, nil, nil
	})
}

// SetListing says whether the product is offered in market code and from
// when (a zero LaunchAt: now).
func (s *Service) SetListing(ctx context.Context, slug, code string, l Listing) (*Product, error) {
	m, err := s.market(ctx, code)
	if err != nil {
		return nil, err
	}
	return s.edit(ctx, slug, func(tx db.Querier, p *Product) (string, any, any, error) {
		var before any
		if old, ok := p.Listings[m.Code]; ok {
			before = listingRecordOf(m.Code, old)
		}
		var launch any
		if !l.LaunchAt.IsZero() {
			l.LaunchAt = db.Time(l.LaunchAt)
			launch = l.LaunchAt
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO listings (product_id, market, listed, launch_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (product_id, market) DO UPDATE SET listed = excluded.listed, launch_at = excluded.launch_at`,
			p.ID, m.Code, l.Listed, launch); err != nil {
			return "", nil, nil, fmt.Errorf("set listing of %s in %s: %w", slug, m.Code, err)
		}
		return "listing.set", before, listingRecordOf(m.Code, l), nil
	})
}

func listingRecordOf(mk string, l Listing) listingRecord {
	r := listingRecord{Market: mk, Listed: l.Listed}
	if !l.LaunchAt.IsZero() {
		t := l.LaunchAt
		r.LaunchAt = &t
	}
	return r
}

// AddCertification records a certification of the product for market
// code. A certification with the same scheme and reference is replaced,
// which is how a renewal with new dates is entered.
func (s *Service) AddCertification(ctx context.Context, slug, code string, c Certification) (*Product, error) {
	m, err := s.market(ctx, code)
	if err != nil {
		return nil, err
	}
	set, err := s.Markets(ctx)
	if err != nil {
		return nil, err
	}
	if _, ok := set.Schemes[c.Scheme]; !ok {
		return nil, invalid("scheme", "There is no certification scheme %q.", c.Scheme)
	}
	if !refPattern.MatchString(c.Reference) {
		return nil, invalid("reference", "The reference must be 1 to 100 letters, digits and . : / _ -, starting with a letter or digit.")
	}
	if c.ValidFrom.IsZero() {
		return nil, invalid("valid_from", "A certification needs the date it takes effect.")
	}
	c.ValidFrom = db.Time(c.ValidFrom)
	if !c.ValidUntil.IsZero() {
		c.ValidUntil = db.Time(c.ValidUntil)
		if !c.ValidUntil.After(c.ValidFrom) {
			return nil, invalid("valid_until", "The certification must end after it starts.")
		}
	}
	if c.DocumentURL != "" {
		if c.DocumentURL, err = checkWebURL("document_url", c.DocumentURL); err != nil {
			return nil, err
		}
	}
	return s.edit(ctx, slug, func(tx db.Querier, p *Product) (string, any, any, error) {
		var before any
		for _, old := range p.Certifications[m.Code] {
			if old.Scheme == c.Scheme && old.Reference == c.Reference {
				before = certRecordOf(m.Code, old)
			}
		}
		var until any
		if !c.ValidUntil.IsZero() {
			until = c.ValidUntil
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO certifications (product_id, market, scheme, reference, valid_from, valid_until, document_url)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (product_id, market, scheme, reference) DO UPDATE SET valid_from = excluded.valid_from,
				valid_until = excluded.valid_until, document_url = excluded.document_url`,
			p.ID, m.Code, c.Scheme, c.Reference, c.ValidFrom, until, c.DocumentURL); err != nil {
			return "", nil, nil, fmt.Errorf("add certification %s %s: %w", c.Scheme, c.Reference, err)
		}
		return "certification.add", before, certRecordOf(m.Code, c), nil
	})
}

// RemoveCertification deletes the product's certification of scheme with
// reference in market code, or fails with ErrCertificationNotFound.
func (s *Service) RemoveCertification(ctx context.Context, slug, code, scheme, reference string) (*Product, error) {
	m, err := s.market(ctx, code)
	if err != nil {
		return nil, err
	}
	return s.edit(ctx, slug, func(tx db.Querier, p *Product) (string, any, any, error) {
		for _, old := range p.Certifications[m.Code] {
			if old.Scheme != scheme || old.Reference != reference {
				continue
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM certifications WHERE product_id = $1 AND market = $2 AND scheme = $3 AND reference = $4",
				p.ID, m.Code, scheme, reference); err != nil {
				return "", nil, nil, fmt.Errorf("remove certification %s %s: %w", scheme, reference, err)
			}
			return "certification.remove", certRecordOf(m.Code, old), nil, nil
		}
		return "", nil, nil, fmt.Errorf("%w: %s %s in %s", ErrCertificationNotFound, scheme, reference, m.Code)
	})
}

// SetResellers replaces the product's authorised resellers in market code
// with rs, in that order.
func (s *Service) SetResellers(ctx context.Context, slug, code string, rs []Reseller) (*Product, error) {
	m, err := s.market(ctx, code)
	if err != nil {
		return nil, err
	}
	if len(rs) > maxResellers {
		return nil, invalid("resellers", "At most %d resellers per market.", maxResellers)
	}
	clean := make([]Reseller, len(rs))
	for i, r := range rs {
		name := strings.TrimSpace(r.Name)
		if name == "" || utf8.RuneCountInString(name) > 100 || strings.ContainsAny(name, ";<>") {
			return nil, invalid("name", "A reseller needs a name of 1 to 100 characters, without ; < or >.")
		}
		u, err := checkWebURL("url", strings.TrimSpace(r.URL))
		if err != nil {
			return nil, err
		}
		clean[i] = Reseller{Name: name, URL: u}
	}
	return s.edit(ctx, slug, func(tx db.Querier, p *Product) (string, any, any, error) {
		if _, err := tx.ExecContext(ctx, "DELETE FROM resellers WHERE product_id = $1 AND market = $2", p.ID, m.Code); err != nil {
			return "", nil, nil, fmt.Errorf("set resellers: %w", err)
		}
		for pos, r := range clean {
			if _, err := tx.ExecContext(ctx, "INSERT INTO resellers (product_id, market, name, url, position) VALUES ($1, $2, $3, $4, $5)",
				p.ID, m.Code, r.Name, r.URL, pos); err != nil {
				return "", nil, nil, fmt.Errorf("set resellers: %w", err)
			}
		}
		before := resellersRecord{m.Code, p.Resellers[m.Code]}
		if before.Resellers == nil {
			before.Resellers = []Reseller{}
		}
		return "resellers.set", before, resellersRecord{m.Code, clean}, nil
	})
}

// AdminProduct returns the product slug as the back office sees it: every
// market's data, straight from the database rather than the snapshot, so a
// page shown right after a write shows that write.
func (s *Service) AdminProduct(ctx context.Context, slug string) (*Product, error) {
	return loadProduct(ctx, s.db.Reader(), slug)
}

// AdminProducts returns every product in the snapshot's display order.
func (s *Service) AdminProducts(ctx context.Context) ([]*Product, error) {
	snap, err := s.current(ctx)
	if err != nil {
		return nil, err
	}
	return snap.products, nil
}

// AvailabilityChange says that a product's availability in a market
// changed with a back-office write: the data of the
// product.availability_changed event.
type AvailabilityChange struct {
	Slug         string `json:"slug"`
	Market       string `json:"market"`
	Availability State  `json:"availability"`
	Previous     State  `json:"previous"`
}

// editFunc makes one change to p inside tx and says what it was for the
// audit log. An empty action means nothing changed.
type editFunc func(tx db.Querier, p *Product) (action string, before, after any, err error)

// edit runs fn on the product slug in one transaction that also records
// the audit entry, refreshes the product's search text, tells who listens
// of availability changes and bumps the catalog revision.
func (s *Service) edit(ctx context.Context, slug string, fn editFunc) (*Product, error) {
	set, err := s.Markets(ctx)
	if err != nil {
		return nil, err
	}
	cats, err := s.categoryNames(ctx)
	if err != nil {
		return nil, err
	}
	// Stock is read before the transaction: a catalog write does not
	// change it, and the transaction should touch nothing but itself.
	stock, err := s.stockOf(ctx, set, slug)
	if err != nil {
		return nil, err
	}
	var result *Product
	err = s.db.Tx(ctx, func(tx db.Querier) error {
		// Edits of one product take turns, so that each starts from the
		// one before it (two new photos must not both take the last
		// place). SQLite's one writer does that already.
		if s.db.Dialect == db.Postgres {
			if _, err := tx.ExecContext(ctx, "SELECT 1 FROM products WHERE slug = $1 FOR UPDATE", slug); err != nil {
				return fmt.Errorf("lock product %s: %w", slug, err)
			}
		}
		p, err := loadProduct(ctx, tx, slug)
		if err != nil {
			return err
		}
		action, before, after, err := fn(tx, p)
		if err != nil {
			return err
		}
		if action == "" {
			result = p
			return nil
		}
		q, err := loadProduct(ctx, tx, slug)
		if err != nil {
			return err
		}
		now := s.dbNow()
		if err := updateSearchText(ctx, tx, q, cats[q.Category], now); err != nil {
			return err
		}
		// The answer is the product as written, its time of change too.
		q.UpdatedAt = now
		if err := audit.Record(ctx, tx, action, "product:"+slug, before, after); err != nil {
			return err
		}
		if err := s.emitChanges(ctx, tx, set, stock, p, q); err != nil {
			return err
		}
		result = q
		return bumpRevision(ctx, s.db, tx)
	})
	if err != nil {
		return nil, err
	}
	s.refreshAfterWrite(ctx)
	return result, nil
}

// emitChanges announces (outbound webhooks) every market where the write moved
// the product from one availability state to another.
func (s *Service) emitChanges(ctx context.Context, tx db.Querier, set *market.Set, stock map[string]map[string]int, before, after *Product) error {
	now := s.now()
	for _, m := range set.Markets {
		r := Rules{Market: m, Schemes: set}
		was, _ := DecideProduct(before, r, stock[m.Code], now)
		is, _ := DecideProduct(after, r, stock[m.Code], now)
		if was.State == is.State {
			continue
		}
		ch := AvailabilityChange{Slug: after.Slug, Market: m.Code, Availability: is.State, Previous: was.State}
		if err := notify.EmitEvent(ctx, tx, EventAvailabilityChanged, ch); err != nil {
			return fmt.Errorf("emit %s: %w", EventAvailabilityChanged, err)
		}
	}
	return nil
}

// EventAvailabilityChanged is the outbound event of AvailabilityChange.
const EventAvailabilityChanged = notify.EventProductAvailabilityChanged

func (s *Service) stockOf(ctx context.Context, set *market.Set, slug string) (map[string]map[string]int, error) {
	out := map[string]map[string]int{}
	snap, err := s.current(ctx)
	if err != nil {
		return nil, err
	}
	p := snap.bySlug[slug]
	if p == nil {
		return out, nil
	}
	skus := make([]string, len(p.Variants))
	for i, v := range p.Variants {
		skus[i] = v.SKU
	}
	for _, m := range set.Markets {
		if out[m.Code], err = s.stock.Available(ctx, m.Code, skus); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Service) market(ctx context.Context, code string) (market.Market, error) {
	set, err := s.Markets(ctx)
	if err != nil {
		return market.Market{}, err
	}
	return set.Get(code)
}

func (s *Service) categoryNames(ctx context.Context) (map[string]string, error) {
	cats, err := s.Categories(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(cats))
	for _, c := range cats {
		out[c.Slug] = c.Name
	}
	return out, nil
}

func (s *Service) dbNow() time.Time { return db.Time(s.now()) }

// refreshAfterWrite reloads this process's snapshot after a committed
// write. The write stands if the reload fails: the next revision check
// picks it up.
func (s *Service) refreshAfterWrite(ctx context.Context) {
	if _, err := s.Refresh(ctx); err != nil {
		s.checkedAt.Store(0)
	}
}

// updateSearchText rewrites the words a product is found by, which come
// from its category, description, specs and variants.
func updateSearchText(ctx context.Context, tx db.Querier, p *Product, categoryName string, now time.Time) error {
	words := []string{categoryName, p.Category, p.Description}
	for _, sp := range p.Specs {
		words = append(words, sp.Value)
	}
	for _, v := range p.Variants {
		words = append(words, v.Name, v.SKU)
		for _, o := range v.Options {
			words = append(words, o.Value)
		}
	}
	words = append(words, textWords(p.Texts)...)
	if _, err := tx.ExecContext(ctx, "UPDATE products SET search_text = $2, updated_at = $3 WHERE id = $1",
		p.ID, strings.Join(words, " "), now); err != nil {
		return fmt.Errorf("update search text of %s: %w", p.Slug, err)
	}
	return nil
}

// loadProduct reads one product with everything about it through q, so a
// write sees the product as its own transaction does.
func loadProduct(ctx context.Context, q db.Querier, slug string) (*Product, error) {
	p := &Product{Listings: map[string]Listing{}, Certifications: map[string][]Certification{}, Resellers: map[string][]Reseller{}}
	var specs string
	err := q.QueryRowContext(ctx, `SELECT id, slug, name, category, description, specs, image, featured,
		coalesce(purchase_limit, 0), updated_at FROM products WHERE slug = $1`, slug).
		Scan(&p.ID, &p.Slug, &p.Name, &p.Category, &p.Description, &specs, &p.Image, &p.Featured, &p.PurchaseLimit, &p.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, slug)
	}
	if err != nil {
		return nil, fmt.Errorf("load product %s: %w", slug, err)
	}
	if err := json.Unmarshal([]byte(specs), &p.Specs); err != nil {
		return nil, fmt.Errorf("product %s: specs: %w", slug, err)
	}
	steps := []func() error{
		func() error {
			return db.EachRow(ctx, q, "SELECT id, sku, name, options, weight_g FROM variants WHERE product_id = $1 ORDER BY position, id",
				[]any{p.ID}, func(rows *sql.Rows) error {
					var v Variant
					var options string
					if err := rows.Scan(&v.ID, &v.SKU, &v.Name, &options, &v.WeightG); err != nil {
						return err
					}
					if err := json.Unmarshal([]byte(options), &v.Options); err != nil {
						return fmt.Errorf("variant %s: options: %w", v.SKU, err)
					}
					v.Prices = map[string]money.Money{}
					p.Variants = append(p.Variants, v)
					return nil
				})
		},
		func() error {
			return db.EachRow(ctx, q, `SELECT pr.sku, pr.market, pr.amount, pr.currency FROM prices pr
				JOIN variants v ON v.sku = pr.sku WHERE v.product_id = $1`, []any{p.ID}, func(rows *sql.Rows) error {
				var sku, mk string
				var m money.Money
				if err := rows.Scan(&sku, &mk, &m.Amount, &m.Currency); err != nil {
					return err
				}
				if v, ok := p.Variant(sku); ok {
					v.Prices[mk] = m
				}
				return nil
			})
		},
		func() error {
			return db.EachRow(ctx, q, "SELECT market, listed, launch_at FROM listings WHERE product_id = $1", []any{p.ID}, func(rows *sql.Rows) error {
				var mk string
				var l Listing
				var launch sql.NullTime
				if err := rows.Scan(&mk, &l.Listed, &launch); err != nil {
					return err
				}
				if launch.Valid {
					l.LaunchAt = launch.Time.UTC()
				}
				p.Listings[mk] = l
				return nil
			})
		},
		func() error {
			return db.EachRow(ctx, q, `SELECT market, scheme, reference, valid_from, valid_until, document_url
				FROM certifications WHERE product_id = $1 ORDER BY market, scheme, valid_from`, []any{p.ID}, func(rows *sql.Rows) error {
				var mk string
				var c Certification
				var until sql.NullTime
				if err := rows.Scan(&mk, &c.Scheme, &c.Reference, &c.ValidFrom, &until, &c.DocumentURL); err != nil {
					return err
				}
				c.ValidFrom = c.ValidFrom.UTC()
				if until.Valid {
					c.ValidUntil = until.Time.UTC()
				}
				p.Certifications[mk] = append(p.Certifications[mk], c)
				return nil
			})
		},
		func() error {
			return db.EachRow(ctx, q, "SELECT market, name, url FROM resellers WHERE product_id = $1 ORDER BY market, position, id", []any{p.ID}, func(rows *sql.Rows) error {
				var mk string
				var r Reseller
				if err := rows.Scan(&mk, &r.Name, &r.URL); err != nil {
					return err
				}
				p.Resellers[mk] = append(p.Resellers[mk], r)
				return nil
			})
		},
		func() error { return loadTextsOf(ctx, q, p) },
		func() error {
			return db.EachRow(ctx, q, photosQuery+" WHERE i.product_id = $1 ORDER BY i.position, i.id, r.width", []any{p.ID},
				func(rows *sql.Rows) error { return scanPhotos(rows, func(int64) *Product { return p }) })
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, fmt.Errorf("load product %s: %w", slug, err)
		}
	}
	p.indexNames()
	return p, nil
}
