package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/language"

	"mistore/internal/db"
)

// ErrBadLanguage is returned for a language tag the catalog cannot hold
// texts in: not a BCP 47 tag, or English, which is the catalog's own.
var ErrBadLanguage = errors.New("not a language for product texts")

// TextLanguage checks a language tag for product texts and returns it in
// its canonical form ("zh-hans" -> "zh-Hans").
func TextLanguage(tag string) (string, error) {
	t, err := language.Parse(strings.TrimSpace(tag))
	if err != nil || tag == "" || len(tag) > 35 {
		return "", &FieldError{Field: "language", Msg: fmt.Sprintf("%q is not a language tag such as zh-Hans.", tag), Err: ErrBadLanguage}
	}
	if base, _ := t.Base(); base.String() == "en" || base.String() == "und" {
		return "", &FieldError{Field: "language", Msg: "English is the product's own text: change the product itself.", Err: ErrBadLanguage}
	}
	return t.String(), nil
}

// checkText refuses a text the product's own fields would refuse.
func checkText(p *Product, t ProductText) error {
	switch {
	case utf8.RuneCountInString(t.Name) > maxNameLen:
		return invalid("name", "The name is at most %d characters.", maxNameLen)
	case utf8.RuneCountInString(t.Description) > maxDescriptionLen:
		return invalid("description", "The description is at most %d characters.", maxDescriptionLen)
	case len(t.Specs) > maxPairs:
		return invalid("specs", "At most %d specifications.", maxPairs)
	}
	for _, sp := range t.Specs {
		if strings.TrimSpace(sp.Key) == "" || utf8.RuneCountInString(sp.Key) > 100 || utf8.RuneCountInString(sp.Value) > 500 {
			return invalid("specs", "Each specification needs a name of at most 100 characters and a value of at most 500.")
		}
	}
	for sku, name := range t.Variants {
		if _, ok := p.Variant(sku); !ok {
			return invalid("variants", "%s is not a variant of %s.", sku, p.Slug)
		}
		if utf8.RuneCountInString(name) > maxNameLen {
			return invalid("variants", "The name of %s is at most %d characters.", sku, maxNameLen)
		}
	}
	return nil
}

// writeText replaces the product's text in lang; an empty text deletes it.
func writeText(ctx context.Context, tx db.Querier, productID int64, lang string, t ProductText) error {
	if t.IsZero() {
		_, err := tx.ExecContext(ctx, "DELETE FROM product_texts WHERE product_id = $1 AND language = $2", productID, lang)
		return err
	}
	variants := map[string]string{}
	for sku, name := range t.Variants {
		if name = strings.TrimSpace(name); name != "" {
			variants[sku] = name
		}
	}
	vj, err := json.Marshal(variants)
	if err != nil {
		return err
	}
	sj, err := json.Marshal(nonNil(t.Specs))
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO product_texts (product_id, language, name, description, specs, variants)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (product_id, language) DO UPDATE SET name = excluded.name, description = excluded.description,
			specs = excluded.specs, variants = excluded.variants`,
		productID, lang, strings.TrimSpace(t.Name), strings.TrimSpace(t.Description), string(sj), string(vj))
	return err
}

// scanText reads one product_texts row's text.
func scanText(rows *sql.Rows, pid *int64) (string, ProductText, error) {
	var lang, specs, variants string
	var t ProductText
	if err := rows.Scan(pid, &lang, &t.Name, &t.Description, &specs, &variants); err != nil {
		return "", t, err
	}
	if err := json.Unmarshal([]byte(specs), &t.Specs); err != nil {
		return "", t, fmt.Errorf("product texts %s: specs: %w", lang, err)
	}
	if err := json.Unmarshal([]byte(variants), &t.Variants); err != nil {
		return "", t, fmt.Errorf("product texts %s: variants: %w", lang, err)
	}
	return lang, t, nil
}

const textsQuery = "SELECT product_id, language, name, description, specs, variants FROM product_texts"

func (s *snapshot) loadTexts(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, textsQuery+" ORDER BY product_id, language")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var pid int64
		lang, t, err := scanText(rows, &pid)
		if err != nil {
			return err
		}
		if p := s.byID[pid]; p != nil {
			if p.Texts == nil {
				p.Texts = map[string]ProductText{}
			}
			p.Texts[lang] = t
		}
	}
	return rows.Err()
}

func loadTextsOf(ctx context.Context, q db.Querier, p *Product) error {
	return db.EachRow(ctx, q, textsQuery+" WHERE product_id = $1 ORDER BY language", []any{p.ID}, func(rows *sql.Rows) error {
		var pid int64
		lang, t, err := scanText(rows, &pid)
		if err != nil {
			return err
		}
		if p.Texts == nil {
			p.Texts = map[string]ProductText{}
		}
		p.Texts[lang] = t
		return nil
	})
}

// SetText sets the product's name, description and variant names in
// language lang (a BCP 47 tag other than English); an empty text removes
// the language, so the storefront shows English again. Audited as
// product.text.
func (s *Service) SetText(ctx context.Context, slug, lang string, t ProductText) (*Product, error) {
	lang, err := TextLanguage(lang)
	if err != nil {
		return nil, err
	}
	return s.edit(ctx, slug, func(tx db.Querier, p *Product) (string, any, any, error) {
		if err := checkText(p, t); err != nil {
			return "", nil, nil, err
		}
		before := p.Texts[lang]
		if err := writeText(ctx, tx, p.ID, lang, t); err != nil {
			return "", nil, nil, fmt.Errorf("set %s text of %s: %w", lang, slug, err)
		}
		return "product.text", map[string]any{"language": lang, "text": before}, map[string]any{"language": lang, "text": t}, nil
	})
}

// In returns the view as a storefront in language lang shows it: name,
// description and variant names from the product's text in lang where
// it has them. The view itself, shared by every reader of the snapshot,
// is never changed: a translated view is a copy.
func (v *View) In(lang string) *View {
	t, ok := v.Texts[lang]
	if !ok || v.Product == nil {
		return v
	}
	p := *v.Product
	if t.Name != "" {
		p.Name = t.Name
	}
	if t.Description != "" {
		p.Description = t.Description
	}
	if len(t.Specs) > 0 {
		p.Specs = t.Specs
	}
	out := *v
	out.Product = &p
	if len(t.Variants) > 0 {
		out.Variants = make([]VariantView, len(v.Variants))
		for i, vv := range v.Variants {
			if name := t.Variants[vv.SKU]; name != "" && vv.Variant != nil {
				variant := *vv.Variant
				variant.Name = name
				vv.Variant = &variant
			}
			out.Variants[i] = vv
		}
	}
	return &out
}

// textWords are the words of a product's texts that search finds it by:
// a shopper of the cn store types the Chinese name.
func textWords(texts map[string]ProductText) []string {
	var words []string
	for _, t := range texts {
		words = append(words, t.Name)
		for _, name := range t.Variants {
			words = append(words, name)
		}
	}
	return words
}

// TextOf returns the product's words in language lang (zero when it has
// none there), for pages that name a product outside a View: cart lines.
func (s *Service) TextOf(ctx context.Context, slug, lang string) (ProductText, error) {
	snap, err := s.current(ctx)
	if err != nil {
		return ProductText{}, err
	}
	if p := snap.bySlug[slug]; p != nil {
		return p.Texts[lang], nil
	}
	return ProductText{}, nil
}

// LineText returns what an order line for sku is called in language lang:
// the product's and the variant's names there, each empty where the
// product has no such text or the SKU is not in the catalog. An order
// keeps the English names it was placed with; a shopper of the cn store
// reads the Chinese ones beside its prices.
func (s *Service) LineText(ctx context.Context, sku, lang string) (name, variant string, err error) {
	snap, err := s.current(ctx)
	if err != nil {
		return "", "", err
	}
	p := snap.bySKU[sku]
	if p == nil {
		return "", "", nil
	}
	t := p.Texts[lang]
	return t.Name, t.Variants[sku], nil
}
