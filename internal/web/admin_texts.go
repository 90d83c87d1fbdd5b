package web

import (
	"net/http"
	"slices"

	"mistore/internal/catalog"
	"mistore/internal/staff"
)

// A product's texts in the storefront's other languages (Chinese for the
// cn store): its name, description and variant names, edited on the
// product page and through the API. English is the product itself.

// adminTextRoutes registers the product-text page action and API.
func (s *Server) adminTextRoutes(a *adminRouter, slugParam paramDoc) {
	edit := staff.PermEditCatalog
	a.page("POST /admin/products/{slug}/texts", edit, s.adminTextSave)
	a.api("PUT /api/v1/admin/products/{slug}/texts/{language}", edit, s.apiAdminTextSet, opDoc{
		summary: "Set the product's name, description and variant names in a language other than English " +
			"(a BCP 47 tag such as zh-Hans); empty fields show the English text, and an empty body removes the language.",
		request: "AdminProductText", response: "AdminProduct",
		params: []paramDoc{slugParam, {name: "language", in: "path", typ: "string", desc: "BCP 47 language tag, e.g. zh-Hans.", required: true}},
	})
}

// adminTextSchemas are the OpenAPI schemas of the product-text API.
func adminTextSchemas() map[string]any {
	return map[string]any{
		"AdminProductText": schemaObject(nil, map[string]any{
			"name":        schemaString,
			"description": schemaString,
			"specs": map[string]any{"type": "array", "description": "Replace the English specifications as a whole; empty shows them.",
				"items": schemaObject([]string{"key", "value"}, map[string]any{"key": schemaString, "value": schemaString})},
			"variants": map[string]any{"type": "object", "description": "Variant name by SKU.", "additionalProperties": schemaString},
		}),
	}
}

func (s *Server) apiAdminTextSet(w http.ResponseWriter, r *http.Request) {
	var in catalog.ProductText
	if err := decodeJSON(r, &in); err != nil {
		s.apiFail(w, r, err)
		return
	}
	p, err := s.catalog.SetText(r.Context(), r.PathValue("slug"), r.PathValue("language"), in)
	s.answerProduct(w, r, http.StatusOK, p, err)
}

// adminTextSave is the product page's form for one language: name,
// description and a variant_SKU field per variant.
func (s *Server) adminTextSave(w http.ResponseWriter, r *http.Request) {
	ctx, slug := r.Context(), r.PathValue("slug")
	p, err := s.catalog.AdminProduct(ctx, slug)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	specs, err := parsePairsText("specs", r.PostFormValue("specs"))
	if err != nil {
		s.productWrite(w, r, "", err)
		return
	}
	t := catalog.ProductText{Name: r.PostFormValue("name"), Description: r.PostFormValue("description"), Specs: specs, Variants: map[string]string{}}
	for _, v := range p.Variants {
		t.Variants[v.SKU] = r.PostFormValue("variant_" + v.SKU)
	}
	lang := r.PostFormValue("language")
	_, err = s.catalog.SetText(ctx, slug, lang, t)
	s.productWrite(w, r, "Texts in "+lang+" saved.", err)
}

// adminTextView is one language's block of the product page.
type adminTextView struct {
	Tag, Name string
	Text      catalog.ProductText
	// SpecsText is Text.Specs as the form's textarea holds them.
	SpecsText string
	Variants  []adminTextVariant
}

type adminTextVariant struct {
	SKU, English, Name string
}

// productTextViews lists a block for every language the storefront is
// translated into, and any other language the product has texts in.
func (s *Server) productTextViews(p *catalog.Product) []adminTextView {
	tags := s.locales.Languages()
	for tag := range p.Texts {
		if !slices.Contains(tags, tag) {
			tags = append(tags, tag)
		}
	}
	out := make([]adminTextView, 0, len(tags))
	for _, tag := range tags {
		t := p.Texts[tag]
		tv := adminTextView{Tag: tag, Name: s.locales.Lang(tag).Name, Text: t, SpecsText: pairsText(t.Specs)}
		for _, v := range p.Variants {
			tv.Variants = append(tv.Variants, adminTextVariant{SKU: v.SKU, English: v.Name, Name: t.Variants[v.SKU]})
		}
		out = append(out, tv)
	}
	return out
}
