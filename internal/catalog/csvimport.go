package catalog

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"mistore/internal/audit"
	"mistore/internal/changefeed"
	"mistore/internal/db"
	"mistore/internal/inventory"
	"mistore/internal/market"
	"mistore/internal/money"
)

// The product CSV format (docs/catalog-csv.md): one row per variant;
// product-wide columns are filled on a product's first row and left empty
// (or repeated exactly) on the rows of its further variants.
var (
	productColumns = []string{"slug", "name", "category", "description", "specs", "image", "featured", "purchase_limit"}
	variantColumns = []string{"sku", "variant", "options", "weight_g"}
	// Per-market and per-warehouse columns: price_us, listed_us, certs_us,
	// resellers_us, stock_us-east.
	marketPrefixes = []string{"price_", "listed_", "certs_", "resellers_"}
	// Per-language columns: name_zh-Hans and description_zh-Hans
	// (product-wide), variant_zh-Hans (per variant): the product's texts
	// in that language (texts.go).
	textPrefixes = []string{"name_", "description_", "specs_", "variant_"}
)

var (
	slugPattern  = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	skuPattern   = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{0,63}$`)
	imagePattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	refPattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.:/_-]{0,99}$`)
)

// MaxImportRows bounds one import file.
const MaxImportRows = 100_000

// maxReportedErrors bounds the errors one import reports: enough to fix a
// file in one go without drowning the reader.
const maxReportedErrors = 50

// RowError is a problem at a row and column of an import file. Rows count
// from 1, the header.
type RowError struct {
	Row    int
	Column string
	Msg    string
}

func (e RowError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("row %d: %s", e.Row, e.Msg)
	}
	return fmt.Sprintf("row %d, column %s: %s", e.Row, e.Column, e.Msg)
}

// ImportError lists every problem found in a file that was not imported.
type ImportError struct {
	Errors []RowError
	// More counts the problems beyond those listed.
	More int
}

func (e *ImportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "import refused, nothing was changed: %d problem(s)", len(e.Errors)+e.More)
	for _, re := range e.Errors {
		b.WriteString("\n  ")
		b.WriteString(re.Error())
	}
	if e.More > 0 {
		fmt.Fprintf(&b, "\n  ... and %d more", e.More)
	}
	return b.String()
}

// InvalidField names the column of the first problem, so that an API
// caller gets a 422 invalid_field whose message lists every problem by
// row and column.
func (e *ImportError) InvalidField() string {
	if len(e.Errors) == 0 {
		return "file"
	}
	if e.Errors[0].Column == "" {
		return "row " + strconv.Itoa(e.Errors[0].Row)
	}
	return e.Errors[0].Column
}

// ImportResult counts what an import wrote.
type ImportResult struct {
	Products int
	Variants int
}

type importProduct struct {
	row         int
	first       map[string]string // the raw product-wide values of its first row
	slug        string
	name        string
	category    string
	description string
	specs       []Spec
	image       string
	featured    bool
	limit       int // 0: the store default
	listings    map[string]Listing
	certs       map[string][]Certification
	resellers   map[string][]Reseller
	// texts holds the product-wide text columns, by language, that the
	// header has; the variant names are on the variants.
	texts    map[string]ProductText
	variants []importVariant
}

type importVariant struct {
	row     int
	sku     string
	name    string
	options []Spec
	weightG int
	prices  map[string]*money.Money // nil: no price in that market
	stock   map[string]int          // by warehouse; absent: leave as is
	texts   map[string]string       // variant name by language, where the header has variant_{lang}
}

// importer parses one file against the store's reference data.
type importer struct {
	markets    *market.Set
	categories map[string]string // slug -> name
	warehouses map[string]bool
	header     []string
	// textLangs are the languages the header has text columns for.
	textLangs []string
	errs      []RowError
	more      int
}

func (im *importer) fail(row int, col, format string, args ...any) {
	if len(im.errs) >= maxReportedErrors {
		im.more++
		return
	}
	im.errs = append(im.errs, RowError{Row: row, Column: col, Msg: fmt.Sprintf(format, args...)})
}

// Import reads a product CSV and writes it in one transaction: either every
// row is valid and the whole file is applied, or nothing changes and the
// error lists each problem by row and column. Products are matched by slug
// and variants by SKU, so importing the same file twice changes nothing
// the second time.
func (s *Service) Import(ctx context.Context, r io.Reader) (*ImportResult, error) {
	return s.ImportWith(ctx, r, ImportOptions{})
}

// ImportOptions tunes ImportWith.
type ImportOptions struct {
	// Progress, when set, is told after each product is written, of total
	// (the file is read and checked whole first). It runs inside the
	// import's transaction: it must be quick and touch no database.
	Progress func(done, total int)
	// KeepStock leaves the stock of a variant in a warehouse that has a
	// level already as it is, setting only levels that are new: the demo
	// seed, run again on a store that sells, must not put back units sold
	// or counted since.
	KeepStock bool
}

// keepStock drops from products the stock levels of variants and
// warehouses that have one already (ImportOptions.KeepStock).
func keepStock(ctx context.Context, tx db.Querier, products []importProduct) error {
	have := map[[2]string]bool{}
	err := db.EachRow(ctx, tx, "SELECT sku, warehouse FROM stock", nil, func(rows *sql.Rows) error {
		var k [2]string
		if err := rows.Scan(&k[0], &k[1]); err != nil {
			return err
		}
		have[k] = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("stock levels kept: %w", err)
	}
	for i := range products {
		for j := range products[i].variants {
			v := &products[i].variants[j]
			for w := range v.stock {
				if have[[2]string{v.sku, w}] {
					delete(v.stock, w)
				}
			}
		}
	}
	return nil
}

// importSummary is an import as the audit log keeps it: how much, and the
// first slugs, which is what someone looking for a change searches by.
type importSummary struct {
	Products int      `json:"products"`
	Variants int      `json:"variants"`
	Slugs    []string `json:"slugs"`
	More     int      `json:"more_slugs,omitempty"`
}

// ImportWith is Import with options. When ctx names an actor (a staff
// member, an API key, the command line) the import is written to the
// audit log in its transaction; the demo seed, which has none, is not.
func (s *Service) ImportWith(ctx context.Context, r io.Reader, opts ImportOptions) (*ImportResult, error) {
	im, err := newImporter(ctx, s.db)
	if err != nil {
		return nil, err
	}
	products, err := im.parse(r)
	if err != nil {
		return nil, err
	}
	res := &ImportResult{}
	err = s.db.Tx(ctx, func(tx db.Querier) error {
		if err := im.checkOwnership(ctx, tx, products); err != nil {
			return err
		}
		if opts.KeepStock {
			if err := keepStock(ctx, tx, products); err != nil {
				return err
			}
		}
		now := s.now().UTC().Truncate(time.Microsecond)
		for i := range products {
			if err := im.write(ctx, tx, &products[i], now); err != nil {
				return err
			}
			res.Products++
			res.Variants += len(products[i].variants)
			if opts.Progress != nil {
				opts.Progress(res.Products, len(products))
			}
		}
		if _, ok := audit.ActorFrom(ctx); ok {
			sum := importSummary{Products: res.Products, Variants: res.Variants, Slugs: []string{}}
			for _, p := range products {
				if len(sum.Slugs) == 100 {
					sum.More++
					continue
				}
				sum.Slugs = append(sum.Slugs, p.slug)
			}
			if err := audit.Record(ctx, tx, "product.import", "catalog:products", nil, sum); err != nil {
				return err
			}
		}
		return bumpRevision(ctx, s.db, tx)
	})
	if err != nil {
		return nil, err
	}
	if _, err := s.Refresh(ctx); err != nil {
		return res, err
	}
	return res, nil
}

// bumpRevision tells every process holding a catalog snapshot to reload:
// those that poll see the new revision, and on PostgreSQL those that
// listen hear of it (changefeed) as soon as tx commits.
func bumpRevision(ctx context.Context, d *db.DB, tx db.Querier) error {
	_, err := tx.ExecContext(ctx, "UPDATE catalog_revision SET revision = revision + 1 WHERE id = 1")
	if err != nil {
		return fmt.Errorf("bump catalog revision: %w", err)
	}
	return changefeed.Publish(ctx, d, tx, changefeed.Catalog, "")
}

func newImporter(ctx context.Context, d *db.DB) (*importer, error) {
	set, err := market.Load(ctx, d.Read)
	if err != nil {
		return nil, err
	}
	im := &importer{markets: set, categories: map[string]string{}, warehouses: map[string]bool{}}
	rows, err := d.Reader().QueryContext(ctx, "SELECT slug, name FROM categories")
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var slug, name string
		if err := rows.Scan(&slug, &name); err != nil {
			return nil, fmt.Errorf("import: %w", err)
		}
		im.categories[slug] = name
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	for _, m := range set.Markets {
		for _, w := range m.Warehouses {
			im.warehouses[w] = true
		}
	}
	return im, nil
}

func (im *importer) parse(r io.Reader) ([]importProduct, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err == io.EOF {
		return nil, &ImportError{Errors: []RowError{{Row: 1, Msg: "the file is empty; it needs a header row"}}}
	}
	if err != nil {
		return nil, &ImportError{Errors: []RowError{{Row: 1, Msg: csvMessage(err)}}}
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	im.header = header
	im.checkHeader()
	if len(im.errs) > 0 {
		return nil, &ImportError{Errors: im.errs, More: im.more}
	}
	var products []importProduct
	seenSKU := map[string]int{}
	seenSlug := map[string]int{}
	rowNum := 1
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		rowNum++
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				rowNum = pe.StartLine
			}
			im.fail(rowNum, "", "%s", csvMessage(err))
			if !errors.Is(err, csv.ErrFieldCount) {
				break
			}
			continue
		}
		if rowNum-1 > MaxImportRows {
			im.fail(rowNum, "", "the file has more than %d rows; split it", MaxImportRows)
			break
		}
		row := map[string]string{}
		for i, v := range rec {
			row[header[i]] = strings.TrimSpace(v)
		}
		products = im.parseRow(rowNum, row, products, seenSKU, seenSlug)
	}
	if rowNum == 1 && len(im.errs) == 0 {
		im.fail(1, "", "the file has a header but no rows")
	}
	if len(im.errs) > 0 {
		return nil, &ImportError{Errors: im.errs, More: im.more}
	}
	return products, nil
}

func csvMessage(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("not valid CSV at line %d, column %d: %v", pe.Line, pe.Column, pe.Err)
	}
	return "not valid CSV: " + err.Error()
}

func (im *importer) checkHeader() {
	seen := map[string]bool{}
	for _, col := range im.header {
		if seen[col] {
			im.fail(1, col, "the column appears twice")
		}
		seen[col] = true
		if im.knownColumn(col) {
			continue
		}
		im.fail(1, col, "unknown column (known: %s, price_/listed_/certs_/resellers_ + a market code, stock_ + a warehouse code, name_/description_/variant_ + a language such as zh-Hans)",
			strings.Join(append(append([]string{}, productColumns...), variantColumns...), ", "))
	}
	for _, col := range im.header {
		for _, p := range textPrefixes {
			if lang, ok := strings.CutPrefix(col, p); ok && im.knownColumn(col) && !slices.Contains(im.textLangs, lang) {
				im.textLangs = append(im.textLangs, lang)
			}
		}
	}
	for _, need := range []string{"slug", "name", "category", "sku"} {
		if !seen[need] {
			im.fail(1, need, "the column is required")
		}
	}
}

func (im *importer) knownColumn(col string) bool {
	for _, c := range productColumns {
		if col == c {
			return true
		}
	}
	for _, c := range variantColumns {
		if col == c {
			return true
		}
	}
	for _, p := range marketPrefixes {
		if code, ok := strings.CutPrefix(col, p); ok {
			_, err := im.markets.Get(code)
			return err == nil
		}
	}
	if w, ok := strings.CutPrefix(col, "stock_"); ok {
		return im.warehouses[w]
	}
	for _, p := range textPrefixes {
		if lang, ok := strings.CutPrefix(col, p); ok {
			// Only the canonical spelling, so that one language cannot
			// come in under two columns.
			canon, err := TextLanguage(lang)
			return err == nil && canon == lang
		}
	}
	return false
}

// parseRow validates one row and adds it to products: a new product when
// its slug starts, otherwise a further variant of the last product.
func (im *importer) parseRow(row int, rec map[string]string, products []importProduct, seenSKU, seenSlug map[string]int) []importProduct {
	slug := rec["slug"]
	if !slugPattern.MatchString(slug) || len(slug) > 100 {
		im.fail(row, "slug", "%q is not a slug (lowercase letters, digits and single hyphens, at most 100)", slug)
		return products
	}
	var p *importProduct
	if n := len(products); n > 0 && products[n-1].slug == slug {
		p = &products[n-1]
		im.checkRepeated(row, rec, p)
	} else {
		if first, dup := seenSlug[slug]; dup {
			im.fail(row, "slug", "the rows of %s must be together; it already appeared at row %d", slug, first)
			return products
		}
		seenSlug[slug] = row
		products = append(products, im.parseProduct(row, rec))
		p = &products[len(products)-1]
	}
	v := im.parseVariant(row, rec)
	if first, dup := seenSKU[v.sku]; dup && v.sku != "" {
		im.fail(row, "sku", "SKU %s already appeared at row %d", v.sku, first)
	}
	seenSKU[v.sku] = row
	p.variants = append(p.variants, v)
	return products
}

func (im *importer) parseProduct(row int, rec map[string]string) importProduct {
	p := importProduct{
		row: row, first: rec, slug: rec["slug"], name: rec["name"], category: rec["category"],
		description: rec["description"], image: rec["image"],
		listings: map[string]Listing{}, certs: map[string][]Certification{}, resellers: map[string][]Reseller{},
		texts: map[string]ProductText{},
	}
	for _, lang := range im.textLangs {
		t := ProductText{Name: strings.TrimSpace(rec["name_"+lang]), Description: strings.TrimSpace(rec["description_"+lang])}
		if utf8.RuneCountInString(t.Name) > maxNameLen {
			im.fail(row, "name_"+lang, "at most %d characters", maxNameLen)
		}
		if utf8.RuneCountInString(t.Description) > maxDescriptionLen {
			im.fail(row, "description_"+lang, "at most %d characters", maxDescriptionLen)
		}
		var err error
		if t.Specs, err = parsePairs(rec["specs_"+lang]); err != nil {
			im.fail(row, "specs_"+lang, "%v", err)
		}
		p.texts[lang] = t
	}
	if p.name == "" || len(p.name) > 200 {
		im.fail(row, "name", "a product needs a name of 1 to 200 characters")
	}
	if _, ok := im.categories[p.category]; !ok {
		im.fail(row, "category", "unknown category %q", p.category)
	}
	if len(p.description) > 5000 {
		im.fail(row, "description", "at most 5000 characters")
	}
	if p.image != "" && !imagePattern.MatchString(p.image) {
		im.fail(row, "image", "%q is not an image name (lowercase letters, digits, hyphens)", p.image)
	}
	var err error
	if p.specs, err = parsePairs(rec["specs"]); err != nil {
		im.fail(row, "specs", "%v", err)
	}
	if p.featured, err = parseYesNo(rec["featured"]); err != nil {
		im.fail(row, "featured", "%v", err)
	}
	if v := rec["purchase_limit"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			im.fail(row, "purchase_limit", "%q is not a limit from 1 to 1000", v)
		}
		p.limit = n
	}
	for _, m := range im.markets.Markets {
		if col := "listed_" + m.Code; im.has(col) {
			l, err := parseListing(rec[col])
			if err != nil {
				im.fail(row, col, "%v", err)
			}
			p.listings[m.Code] = l
		}
		if col := "certs_" + m.Code; im.has(col) {
			certs, err := im.parseCerts(rec[col])
			if err != nil {
				im.fail(row, col, "%v", err)
			}
			p.certs[m.Code] = certs
		}
		if col := "resellers_" + m.Code; im.has(col) {
			rs, err := parseResellers(rec[col])
			if err != nil {
				im.fail(row, col, "%v", err)
			}
			p.resellers[m.Code] = rs
		}
	}
	return p
}

// checkRepeated makes sure a further variant row leaves the product-wide
// columns empty or repeats them exactly.
func (im *importer) checkRepeated(row int, rec map[string]string, p *importProduct) {
	for _, col := range im.header {
		if !im.productWide(col) || col == "slug" {
			continue
		}
		if v := rec[col]; v != "" && v != p.first[col] {
			im.fail(row, col, "differs from the product's first row (row %d); leave it empty on further variants", p.row)
		}
	}
}

func (im *importer) productWide(col string) bool {
	for _, c := range productColumns {
		if c == col {
			return true
		}
	}
	return strings.HasPrefix(col, "listed_") || strings.HasPrefix(col, "certs_") || strings.HasPrefix(col, "resellers_") ||
		strings.HasPrefix(col, "name_") || strings.HasPrefix(col, "description_") || strings.HasPrefix(col, "specs_")
}

func (im *importer) has(col string) bool {
	for _, c := range im.header {
		if c == col {
			return true
		}
	}
	return false
}

func (im *importer) parseVariant(row int, rec map[string]string) importVariant {
	v := importVariant{row: row, sku: rec["sku"], name: rec["variant"], prices: map[string]*money.Money{}, stock: map[string]int{}, texts: map[string]string{}}
	for _, lang := range im.textLangs {
		if !im.has("variant_" + lang) {
			continue
		}
		name := strings.TrimSpace(rec["variant_"+lang])
		if utf8.RuneCountInString(name) > 100 {
			im.fail(row, "variant_"+lang, "at most 100 characters")
		}
		v.texts[lang] = name
	}
	if !skuPattern.MatchString(v.sku) {
		im.fail(row, "sku", "%q is not a SKU (uppercase letters, digits and hyphens, at most 64)", v.sku)
	}
	if len(v.name) > 100 {
		im.fail(row, "variant", "at most 100 characters")
	}
	var err error
	if v.options, err = parsePairs(rec["options"]); err != nil {
		im.fail(row, "options", "%v", err)
	}
	if w := rec["weight_g"]; w != "" {
		n, err := strconv.Atoi(w)
		if err != nil || n < 0 || n > 1_000_000 {
			im.fail(row, "weight_g", "%q is not a weight in grams (0 to 1000000)", w)
		}
		v.weightG = n
	}
	for _, m := range im.markets.Markets {
		col := "price_" + m.Code
		if !im.has(col) {
			continue
		}
		if s := rec[col]; s != "" {
			price, err := money.Parse(s, m.Currency)
			switch {
			case err != nil:
				im.fail(row, col, "%q is not a %s price: %v", s, m.Currency, err)
			case price.Amount < 0:
				im.fail(row, col, "a price cannot be negative")
			case price.Amount > 1_000_000_000:
				im.fail(row, col, "%s is more than the store accepts for one item", price)
			}
			v.prices[m.Code] = &price
		} else {
			v.prices[m.Code] = nil
		}
	}
	for _, col := range im.header {
		w, ok := strings.CutPrefix(col, "stock_")
		if !ok || rec[col] == "" {
			continue
		}
		n, err := strconv.Atoi(rec[col])
		if err != nil || n < 0 || n > inventory.MaxOnHand {
			im.fail(row, col, "%q is not a stock quantity (0 to %d)", rec[col], inventory.MaxOnHand)
			continue
		}
		v.stock[w] = n
	}
	return v
}

// parsePairs reads "Key=Value; Key=Value".
func parsePairs(s string) ([]Spec, error) {
	if s == "" {
		return nil, nil
	}
	var out []Spec
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("%q is not Key=Value", part)
		}
		if len(k) > 100 || len(v) > 500 {
			return nil, fmt.Errorf("%q is too long", part)
		}
		out = append(out, Spec{Key: k, Value: v})
	}
	if len(out) > 50 {
		return nil, errors.New("at most 50 pairs")
	}
	return out, nil
}

func parseYesNo(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "", "no", "false", "0":
		return false, nil
	case "yes", "true", "1":
		return true, nil
	}
	return false, fmt.Errorf("%q is not yes or no", s)
}

// parseListing reads empty/no (not listed), yes (listed now) or an RFC 3339
// launch time.
func parseListing(s string) (Listing, error) {
	listed, err := parseYesNo(s)
	if err == nil {
		return Listing{Listed: listed}, nil
	}
	t, terr := time.Parse(time.RFC3339, s)
	if terr != nil {
		return Listing{}, fmt.Errorf("%q is not yes, no or a launch time like 2027-03-01T16:00:00Z", s)
	}
	return Listing{Listed: true, LaunchAt: db.Time(t)}, nil
}

// parseCerts reads "SCHEME REFERENCE FROM..UNTIL; ...", UNTIL optional.
func (im *importer) parseCerts(s string) ([]Certification, error) {
	var out []Certification
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		f := strings.Fields(part)
		if len(f) != 3 {
			return nil, fmt.Errorf("%q is not SCHEME REFERENCE FROM..UNTIL", part)
		}
		if _, ok := im.markets.Schemes[f[0]]; !ok {
			return nil, fmt.Errorf("unknown certification scheme %q", f[0])
		}
		if !refPattern.MatchString(f[1]) {
			return nil, fmt.Errorf("%q is not a certificate reference", f[1])
		}
		from, until, ok := strings.Cut(f[2], "..")
		if !ok {
			return nil, fmt.Errorf("%q is not FROM..UNTIL (dates as YYYY-MM-DD; UNTIL may be empty)", f[2])
		}
		c := Certification{Scheme: f[0], Reference: f[1]}
		var err error
		if c.ValidFrom, err = parseCertTime(from); err != nil {
			return nil, fmt.Errorf("%q is not a date like 2024-03-01", from)
		}
		if until != "" {
			if c.ValidUntil, err = parseCertTime(until); err != nil {
				return nil, fmt.Errorf("%q is not a date like 2029-03-01", until)
			}
			if !c.ValidUntil.After(c.ValidFrom) {
				return nil, fmt.Errorf("%s %s ends before it starts", f[0], f[1])
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// parseCertTime reads a date (midnight UTC), or an RFC 3339 time for a
// certificate entered to the minute in the back office.
func parseCertTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	return db.Time(t), err
}

// parseResellers reads "Name <https://url>; Name <https://url>".
func parseResellers(s string) ([]Reseller, error) {
	var out []Reseller
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, rest, ok := strings.Cut(part, "<")
		name = strings.TrimSpace(name)
		raw, closed := strings.CutSuffix(strings.TrimSpace(rest), ">")
		if !ok || !closed || name == "" || len(name) > 100 {
			return nil, fmt.Errorf("%q is not Name <https://address>", part)
		}
		u, err := checkWebURL("", raw)
		if err != nil {
			return nil, fmt.Errorf("%q is not an http(s) address", raw)
		}
		out = append(out, Reseller{Name: name, URL: u})
	}
	return out, nil
}

// checkOwnership refuses to move a SKU from one product to another: that
// would silently change what existing orders refer to.
func (im *importer) checkOwnership(ctx context.Context, tx db.Querier, products []importProduct) error {
	for _, p := range products {
		for _, v := range p.variants {
			var owner string
			err := tx.QueryRowContext(ctx, `SELECT p.slug FROM variants v JOIN products p ON p.id = v.product_id WHERE v.sku = $1`, v.sku).Scan(&owner)
			if err == nil && owner != p.slug {
				im.fail(v.row, "sku", "SKU %s belongs to product %s", v.sku, owner)
			}
		}
	}
	if len(im.errs) > 0 {
		return &ImportError{Errors: im.errs, More: im.more}
	}
	return nil
}

func (im *importer) write(ctx context.Context, tx db.Querier, p *importProduct, now time.Time) error {
	if err := im.keepAbsent(ctx, tx, p); err != nil {
		return fmt.Errorf("import %s: %w", p.slug, err)
	}
	specs, _ := json.Marshal(nonNil(p.specs))
	var id int64
	var limit any
	if p.limit > 0 {
		limit = p.limit
	}
	err := tx.QueryRowContext(ctx, `INSERT INTO products (slug, name, category, description, specs, image, featured, purchase_limit, search_text, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
		ON CONFLICT (slug) DO UPDATE SET name = excluded.name, category = excluded.category,
			description = excluded.description, specs = excluded.specs, image = excluded.image,
			featured = excluded.featured, purchase_limit = excluded.purchase_limit,
			search_text = excluded.search_text, updated_at = excluded.updated_at
		RETURNING id`,
		p.slug, p.name, p.category, p.description, string(specs), p.image, p.featured, limit, im.searchText(p), now).Scan(&id)
	if err != nil {
		return fmt.Errorf("import %s: %w", p.slug, err)
	}
	for pos, v := range p.variants {
		if err := writeVariant(ctx, tx, id, pos, v); err != nil {
			return fmt.Errorf("import %s: %w", p.slug, err)
		}
	}
	for mk, l := range p.listings {
		var launch any
		if !l.LaunchAt.IsZero() {
			launch = l.LaunchAt
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO listings (product_id, market, listed, launch_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (product_id, market) DO UPDATE SET listed = excluded.listed, launch_at = excluded.launch_at`,
			id, mk, l.Listed, launch); err != nil {
			return fmt.Errorf("import %s: listing in %s: %w", p.slug, mk, err)
		}
	}
	for mk, certs := range p.certs {
		if err := replaceCerts(ctx, tx, id, mk, certs); err != nil {
			return fmt.Errorf("import %s: certifications in %s: %w", p.slug, mk, err)
		}
	}
	for _, lang := range im.textLangs {
		if err := im.writeTexts(ctx, tx, id, lang, p); err != nil {
			return fmt.Errorf("import %s: texts in %s: %w", p.slug, lang, err)
		}
	}
	for mk, rs := range p.resellers {
		if _, err := tx.ExecContext(ctx, "DELETE FROM resellers WHERE product_id = $1 AND market = $2", id, mk); err != nil {
			return fmt.Errorf("import %s: resellers in %s: %w", p.slug, mk, err)
		}
		for pos, r := range rs {
			if _, err := tx.ExecContext(ctx, "INSERT INTO resellers (product_id, market, name, url, position) VALUES ($1, $2, $3, $4, $5)",
				id, mk, r.Name, r.URL, pos); err != nil {
				return fmt.Errorf("import %s: reseller %s in %s: %w", p.slug, r.Name, mk, err)
			}
		}
	}
	return nil
}

// keepAbsent gives p and its variants what the store has for every
// optional column the header lacks, so that, as the format promises, only
// a column the file has replaces what the store had: a file of slugs, SKUs
// and prices changes prices and keeps every description. A product or
// variant the store does not have yet keeps the empty value.
func (im *importer) keepAbsent(ctx context.Context, tx db.Querier, p *importProduct) error {
	if !im.has("description") || !im.has("specs") || !im.has("image") || !im.has("featured") || !im.has("purchase_limit") {
		var description, specs, image string
		var featured bool
		var limit int
		err := tx.QueryRowContext(ctx, `SELECT description, specs, image, featured, coalesce(purchase_limit, 0)
			FROM products WHERE slug = $1`, p.slug).Scan(&description, &specs, &image, &featured, &limit)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			if !im.has("description") {
				p.description = description
			}
			if !im.has("specs") {
				if err := json.Unmarshal([]byte(specs), &p.specs); err != nil {
					return fmt.Errorf("stored specs: %w", err)
				}
			}
			if !im.has("image") {
				p.image = image
			}
			if !im.has("featured") {
				p.featured = featured
			}
			if !im.has("purchase_limit") {
				p.limit = limit
			}
		}
	}
	if im.has("variant") && im.has("options") && im.has("weight_g") {
		return nil
	}
	// One read for the product's stored variants, not one per row: a SKU
	// never moves to another product (checkOwnership), so a row's SKU is
	// either among them or new.
	type stored struct {
		name, options string
		weight        int
	}
	have := map[string]stored{}
	err := db.EachRow(ctx, tx, `SELECT v.sku, v.name, v.options, v.weight_g FROM variants v
		JOIN products p ON p.id = v.product_id WHERE p.slug = $1`, []any{p.slug}, func(rows *sql.Rows) error {
		var sku string
		var st stored
		if err := rows.Scan(&sku, &st.name, &st.options, &st.weight); err != nil {
			return err
		}
		have[sku] = st
		return nil
	})
	if err != nil {
		return fmt.Errorf("stored variants: %w", err)
	}
	for i := range p.variants {
		v := &p.variants[i]
		st, ok := have[v.sku]
		if !ok {
			continue
		}
		if !im.has("variant") {
			v.name = st.name
		}
		if !im.has("options") {
			if err := json.Unmarshal([]byte(st.options), &v.options); err != nil {
				return fmt.Errorf("variant %s: stored options: %w", v.sku, err)
			}
		}
		if !im.has("weight_g") {
			v.weightG = st.weight
		}
	}
	return nil
}

// writeTexts applies the file's text columns in lang to the product:
// like every column, one the header has replaces what the store had, and
// one it lacks leaves it as it is (a file with only variant_zh-Hans keeps
// the Chinese name).
func (im *importer) writeTexts(ctx context.Context, tx db.Querier, id int64, lang string, p *importProduct) error {
	var t ProductText
	err := db.EachRow(ctx, tx, textsQuery+" WHERE product_id = $1 AND language = $2", []any{id, lang}, func(rows *sql.Rows) error {
		var pid int64
		_, old, err := scanText(rows, &pid)
		t = old
		return err
	})
	if err != nil {
		return err
	}
	if im.has("name_" + lang) {
		t.Name = p.texts[lang].Name
	}
	if im.has("description_" + lang) {
		t.Description = p.texts[lang].Description
	}
	if im.has("specs_" + lang) {
		t.Specs = p.texts[lang].Specs
	}
	if im.has("variant_" + lang) {
		if t.Variants == nil {
			t.Variants = map[string]string{}
		}
		for _, v := range p.variants {
			t.Variants[v.sku] = v.texts[lang]
		}
	}
	return writeText(ctx, tx, id, lang, t)
}

// replaceCerts makes certs the product's certifications in market mk.
// Those the file still names are updated in place, so what the file
// format has no column for (the document link) is kept.
func replaceCerts(ctx context.Context, tx db.Querier, productID int64, mk string, certs []Certification) error {
	keep := map[[2]string]bool{}
	for _, c := range certs {
		keep[[2]string{c.Scheme, c.Reference}] = true
	}
	var drop [][2]string
	err := db.EachRow(ctx, tx, "SELECT scheme, reference FROM certifications WHERE product_id = $1 AND market = $2", []any{productID, mk},
		func(rows *sql.Rows) error {
			var k [2]string
			if err := rows.Scan(&k[0], &k[1]); err != nil {
				return err
			}
			if !keep[k] {
				drop = append(drop, k)
			}
			return nil
		})
	if err != nil {
		return err
	}
	for _, k := range drop {
		if _, err := tx.ExecContext(ctx, "DELETE FROM certifications WHERE product_id = $1 AND market = $2 AND scheme = $3 AND reference = $4",
			productID, mk, k[0], k[1]); err != nil {
			return err
		}
	}
	for _, c := range certs {
		var until any
		if !c.ValidUntil.IsZero() {
			until = c.ValidUntil
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO certifications (product_id, market, scheme, reference, valid_from, valid_until)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (product_id, market, scheme, reference) DO UPDATE SET valid_from = excluded.valid_from, valid_until = excluded.valid_until`,
			productID, mk, c.Scheme, c.Reference, c.ValidFrom, until); err != nil {
			return fmt.Errorf("certification %s: %w", c.Reference, err)
		}
	}
	return nil
}

func writeVariant(ctx context.Context, tx db.Querier, productID int64, pos int, v importVariant) error {
	options, _ := json.Marshal(nonNil(v.options))
	if _, err := tx.ExecContext(ctx, `INSERT INTO variants (product_id, sku, name, options, weight_g, position)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (sku) DO UPDATE SET name = excluded.name, options = excluded.options,
			weight_g = excluded.weight_g, position = excluded.position`,
		productID, v.sku, v.name, string(options), v.weightG, pos); err != nil {
		return fmt.Errorf("variant %s: %w", v.sku, err)
	}
	for mk, price := range v.prices {
		var err error
		if price == nil {
			_, err = tx.ExecContext(ctx, "DELETE FROM prices WHERE sku = $1 AND market = $2", v.sku, mk)
		} else {
			_, err = tx.ExecContext(ctx, `INSERT INTO prices (sku, market, amount, currency) VALUES ($1, $2, $3, $4)
				ON CONFLICT (sku, market) DO UPDATE SET amount = excluded.amount, currency = excluded.currency`,
				v.sku, mk, price.Amount, price.Currency)
		}
		if err != nil {
			return fmt.Errorf("price of %s in %s: %w", v.sku, mk, err)
		}
	}
	for w, n := range v.stock {
		if err := inventory.SetOnHand(ctx, tx, v.sku, w, n); err != nil {
			return err
		}
	}
	return nil
}

// searchText gathers the words a shopper may search a product by, besides
// its name.
func (im *importer) searchText(p *importProduct) string {
	words := []string{im.categories[p.category], p.category, p.description}
	for _, s := range p.specs {
		words = append(words, s.Value)
	}
	for _, v := range p.variants {
		words = append(words, v.name, v.sku)
		for _, o := range v.options {
			words = append(words, o.Value)
		}
		for _, name := range v.texts {
			words = append(words, name)
		}
	}
	words = append(words, textWords(p.texts)...)
	return strings.Join(words, " ")
}

func nonNil(s []Spec) []Spec {
	if s == nil {
		return []Spec{}
	}
	return s
}
