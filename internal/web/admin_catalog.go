package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"mistore/internal/catalog"
	"mistore/internal/market"
	"mistore/internal/money"
	"mistore/internal/staff"
)

// The back office's products and markets: products, variants, prices per
// market, certifications, listings and resellers; the launch-readiness
// view; CSV import and export. Reads need PermViewReports; writes
// PermEditCatalog, except prices, which need PermEditPrices.

// maxImportUpload bounds a product CSV sent to the back office.
const maxImportUpload = 32 << 20

// adminCatalogRoutes registers this back-office surface's pages and API.
func (s *Server) adminCatalogRoutes(a *adminRouter) {
	view, edit, prices := staff.PermViewReports, staff.PermEditCatalog, staff.PermEditPrices
	a.page("GET /admin/products", view, s.adminProductsPage)
	a.page("POST /admin/products", edit, s.adminProductCreate)
	a.page("GET /admin/products/export.csv", view, s.adminProductsExport)
	a.page("POST /admin/products/import", edit, s.adminProductsImport)
	a.page("GET /admin/products/{slug}", view, s.adminProductPage)
	a.page("POST /admin/products/{slug}", edit, s.adminProductUpdate)
	a.page("POST /admin/products/{slug}/variants", edit, s.adminVariantSave)
	a.page("POST /admin/products/{slug}/prices", prices, s.adminPriceSave)
	a.page("POST /admin/products/{slug}/certifications", edit, s.adminCertAdd)
	a.page("POST /admin/products/{slug}/certifications/remove", edit, s.adminCertRemove)
	a.page("POST /admin/products/{slug}/listings", edit, s.adminListingSave)
	a.page("POST /admin/products/{slug}/resellers", edit, s.adminResellerAdd)
	a.page("POST /admin/products/{slug}/resellers/remove", edit, s.adminResellerRemove)
	a.page("GET /admin/launch", view, s.adminLaunchPage)

	skuParam := paramDoc{name: "sku", in: "path", typ: "string", desc: "Variant SKU.", required: true}
	a.api("GET /api/v1/admin/products", view, s.apiAdminProducts, opDoc{
		summary: "Every product with every market's prices, listings, certifications and resellers.", response: "AdminProductList",
	})
	a.api("POST /api/v1/admin/products", edit, s.apiAdminProductCreate, opDoc{
		summary: "Create a product with at least one variant. It is sold nowhere until listed, priced and certified per market.",
		request: "AdminProductCreate", response: "AdminProduct", status: http.StatusCreated,
	})
	a.api("GET /api/v1/admin/export/products", view, s.apiAdminProductsExport, opDoc{
		summary: "The products as CSV (text/csv), in the format import reads; stock is left out.",
		params:  []paramDoc{{name: "market", in: "query", typ: "string", desc: "Only this market's columns."}},
	})
	a.api("POST /api/v1/admin/import/products", edit, s.apiAdminProductsImport, opDoc{
		summary:  "Import a product CSV (body text/csv) in one transaction: all rows or, on any bad row, nothing (422 naming row and column).",
		response: "AdminImportResult",
	})
	a.api("GET /api/v1/admin/products/{slug}", view, s.apiAdminProduct, opDoc{
		summary: "One product as the back office sees it.", response: "AdminProduct", params: []paramDoc{slugParam},
	})
	a.api("PATCH /api/v1/admin/products/{slug}", edit, s.apiAdminProductUpdate, opDoc{
		summary: "Change a product's own fields; fields left out stay as they are.", request: "AdminProductPatch",
		response: "AdminProduct", params: []paramDoc{slugParam},
	})
	a.api("PUT /api/v1/admin/products/{slug}/variants/{sku}", edit, s.apiAdminVariantSave, opDoc{
		summary: "Create or change a variant of the product.", request: "AdminVariantPut", response: "AdminProduct",
		params: []paramDoc{slugParam, skuParam},
	})
	a.api("PUT /api/v1/admin/products/{slug}/prices/{market}", prices, s.apiAdminPriceSet, opDoc{
		summary: "Set a variant's price in a market, in minor units of the market's currency.", request: "AdminPricePut",
		response: "AdminProduct", params: []paramDoc{slugParam, marketParam},
	})
	a.api("DELETE /api/v1/admin/products/{slug}/prices/{market}/{sku}", prices, s.apiAdminPriceRemove, opDoc{
		summary: "Take a variant's price off a market, which stops its sale there.", response: "AdminProduct",
		params: []paramDoc{slugParam, marketParam, skuParam},
	})
	a.api("POST /api/v1/admin/products/{slug}/certifications", edit, s.apiAdminCertAdd, opDoc{
		summary: "Add a certification for a market (one with the same scheme and reference is replaced: a renewal).",
		request: "AdminCertification", response: "AdminProduct", status: http.StatusCreated, params: []paramDoc{slugParam},
	})
	a.api("DELETE /api/v1/admin/products/{slug}/certifications", edit, s.apiAdminCertRemove, opDoc{
		summary: "Remove a certification.", response: "AdminProduct", params: []paramDoc{slugParam,
			{name: "market", in: "query", typ: "string", desc: "Market code.", required: true},
			{name: "scheme", in: "query", typ: "string", desc: "Scheme, e.g. FCC.", required: true},
			{name: "reference", in: "query", typ: "string", desc: "The certificate's reference.", required: true}},
	})
	a.api("PUT /api/v1/admin/products/{slug}/listings/{market}", edit, s.apiAdminListingSet, opDoc{
		summary: "List or unlist the product in a market, with an optional launch time.", request: "AdminListing",
		response: "AdminProduct", params: []paramDoc{slugParam, marketParam},
	})
	a.api("PUT /api/v1/admin/products/{slug}/resellers/{market}", edit, s.apiAdminResellersSet, opDoc{
		summary: "Replace the product's authorised resellers in a market (http(s) addresses only).", request: "AdminResellers",
		response: "AdminProduct", params: []paramDoc{slugParam, marketParam},
	})
	s.adminTextRoutes(a, slugParam)
	s.adminImageRoutes(a, slugParam)
	a.api("GET /api/v1/admin/markets/{market}/readiness", view, s.apiAdminReadiness, opDoc{
		summary:  "Launch readiness: for each product, what still blocks selling it in the market, and warnings (certificates expiring within 30 days).",
		response: "AdminReadiness", params: []paramDoc{marketParam},
	})
}

// adminCatalogSchemas are the OpenAPI schemas of this surface's API bodies.
func adminCatalogSchemas() map[string]any {
	str, integer, boolean, ts := schemaString, schemaInteger, schemaBoolean, schemaTime
	pair := schemaObject([]string{"key", "value"}, map[string]any{"key": str, "value": str})
	dateOrTime := map[string]any{"type": "string", "description": "RFC 3339 time, or a date YYYY-MM-DD (midnight UTC)."}
	cert := schemaObject([]string{"market", "scheme", "reference", "valid_from"}, map[string]any{
		"market": str, "scheme": str, "reference": str, "valid_from": dateOrTime, "valid_until": dateOrTime, "document_url": str,
	})
	reseller := schemaObject([]string{"name", "url"}, map[string]any{"name": str, "url": map[string]any{"type": "string", "description": "An absolute http:// or https:// address."}})
	variant := schemaObject([]string{"sku", "name"}, map[string]any{"sku": str, "name": str, "options": schemaArray(pair), "weight_g": integer})
	return map[string]any{
		"AdminProduct": schemaObject([]string{"slug", "name", "category", "variants", "listings", "certifications", "resellers"}, map[string]any{
			"slug": str, "name": str, "category": str, "description": str, "specs": schemaArray(pair), "image": str,
			"featured": boolean, "purchase_limit": integer, "updated_at": ts,
			"variants": schemaArray(schemaObject([]string{"sku", "name", "prices"}, map[string]any{
				"sku": str, "name": str, "options": schemaArray(pair), "weight_g": integer,
				"prices": map[string]any{"type": "object", "description": "By market code.", "additionalProperties": schemaRef("Money")},
			})),
			"listings":       map[string]any{"type": "object", "description": "By market code.", "additionalProperties": schemaRef("AdminListing")},
			"certifications": map[string]any{"type": "object", "description": "By market code.", "additionalProperties": schemaArray(cert)},
			"resellers":      map[string]any{"type": "object", "description": "By market code.", "additionalProperties": schemaArray(reseller)},
			"texts":          map[string]any{"type": "object", "description": "The product's words in other languages, by language tag (zh-Hans).", "additionalProperties": schemaRef("AdminProductText")},
			"images":         schemaArray(schemaRef("AdminImage")),
		}),
		"AdminProductList": schemaObject([]string{"products"}, map[string]any{"products": schemaArray(schemaRef("AdminProduct"))}),
		"AdminProductCreate": schemaObject([]string{"slug", "name", "category", "variants"}, map[string]any{
			"slug": str, "name": str, "category": str, "description": str, "specs": schemaArray(pair), "image": str,
			"featured": boolean, "purchase_limit": integer, "variants": schemaArray(variant),
		}),
		"AdminProductPatch": schemaObject(nil, map[string]any{
			"name": str, "category": str, "description": str, "specs": schemaArray(pair), "image": str,
			"featured": boolean, "purchase_limit": integer,
		}),
		"AdminVariantPut":    schemaObject([]string{"name"}, map[string]any{"name": str, "options": schemaArray(pair), "weight_g": integer}),
		"AdminPricePut":      schemaObject([]string{"sku", "amount"}, map[string]any{"sku": str, "amount": map[string]any{"type": "integer", "minimum": 0, "description": "Minor units of the market's currency."}}),
		"AdminCertification": cert,
		"AdminListing":       schemaObject([]string{"listed"}, map[string]any{"listed": boolean, "launch_at": ts}),
		"AdminResellers":     schemaObject([]string{"resellers"}, map[string]any{"resellers": schemaArray(reseller)}),
		"AdminImportResult":  schemaObject([]string{"products", "variants"}, map[string]any{"products": integer, "variants": integer}),
		"AdminReadiness": schemaObject([]string{"market", "at", "products"}, map[string]any{
			"market": str, "at": ts,
			"products": schemaArray(schemaObject([]string{"slug", "name", "availability", "ready", "blockers"}, map[string]any{
				"slug": str, "name": str, "ready": boolean, "reason": str,
				"availability": map[string]any{"type": "string", "enum": []string{"available", "out_of_stock", "coming_soon", "not_sold"}},
				"blockers": schemaArray(schemaObject([]string{"kind", "message", "warning"}, map[string]any{
					"kind": map[string]any{"type": "string", "enum": []string{catalog.BlockNotListed, catalog.BlockLaunchAhead,
						catalog.BlockCertificate, catalog.BlockCertificateExpires, catalog.BlockNoPrice, catalog.BlockNoStock}},
					"message": str, "warning": boolean, "until": ts,
				})),
			})),
		}),
	}
}

// adminCatalogErrors maps this surface's domain errors to API codes.
// catalog.FieldError and catalog.ImportError name their field and map to
// 422 invalid_field through classify.
var adminCatalogErrors = []errorMapping{
	{catalog.ErrSlugTaken, http.StatusConflict, "slug_taken"},
	{catalog.ErrSKUTaken, http.StatusConflict, "sku_taken"},
	{catalog.ErrCertificationNotFound, http.StatusNotFound, codeNotFound},
}

// --- JSON shapes ---

type adminProductJSON struct {
	Slug           string                        `json:"slug"`
	Name           string                        `json:"name"`
	Category       string                        `json:"category"`
	Description    string                        `json:"description"`
	Specs          []catalog.Spec                `json:"specs"`
	Image          string                        `json:"image"`
	Featured       bool                          `json:"featured"`
	PurchaseLimit  int                           `json:"purchase_limit"`
	UpdatedAt      time.Time                     `json:"updated_at"`
	Variants       []adminVariantJSON            `json:"variants"`
	Listings       map[string]adminListingJSON   `json:"listings"`
	Certifications map[string][]adminCertJSON    `json:"certifications"`
	Resellers      map[string][]catalog.Reseller `json:"resellers"`
	// Texts are the product's words in other languages, by language tag.
	Texts map[string]catalog.ProductText `json:"texts"`
	// Images are the photos staff uploaded, the cover first.
	Images []adminImageJSON `json:"images"`
}

type adminVariantJSON struct {
	SKU     string                 `json:"sku"`
	Name    string                 `json:"name"`
	Options []catalog.Spec         `json:"options"`
	WeightG int                    `json:"weight_g"`
	Prices  map[string]money.Money `json:"prices"`
}

type adminListingJSON struct {
	Listed   bool       `json:"listed"`
	LaunchAt *time.Time `json:"launch_at,omitempty"`
}

type adminCertJSON struct {
	Market      string     `json:"market"`
	Scheme      string     `json:"scheme"`
	Reference   string     `json:"reference"`
	ValidFrom   time.Time  `json:"valid_from"`
	ValidUntil  *time.Time `json:"valid_until,omitempty"`
	DocumentURL string     `json:"document_url,omitempty"`
}

func pairs(s []catalog.Spec) []catalog.Spec {
	if s == nil {
		return []catalog.Spec{}
	}
	return s
}

func adminProductOut(p *catalog.Product) adminProductJSON {
	out := adminProductJSON{
		Slug: p.Slug, Name: p.Name, Category: p.Category, Description: p.Description, Specs: pairs(p.Specs),
		Image: p.Image, Featured: p.Featured, PurchaseLimit: p.PurchaseLimit, UpdatedAt: p.UpdatedAt.UTC(),
		Variants: make([]adminVariantJSON, len(p.Variants)), Listings: map[string]adminListingJSON{},
		Certifications: map[string][]adminCertJSON{}, Resellers: map[string][]catalog.Reseller{},
		Texts: map[string]catalog.ProductText{}, Images: adminImagesOut(p),
	}
	for lang, t := range p.Texts {
		out.Texts[lang] = t
	}
	for i, v := range p.Variants {
		prices := map[string]money.Money{}
		for mk, m := range v.Prices {
			prices[mk] = m
		}
		out.Variants[i] = adminVariantJSON{SKU: v.SKU, Name: v.Name, Options: pairs(v.Options), WeightG: v.WeightG, Prices: prices}
	}
	for mk, l := range p.Listings {
		lj := adminListingJSON{Listed: l.Listed}
		if !l.LaunchAt.IsZero() {
			t := l.LaunchAt.UTC()
			lj.LaunchAt = &t
		}
		out.Listings[mk] = lj
	}
	for mk, cs := range p.Certifications {
		for _, c := range cs {
			cj := adminCertJSON{Market: mk, Scheme: c.Scheme, Reference: c.Reference, ValidFrom: c.ValidFrom.UTC(), DocumentURL: c.DocumentURL}
			if !c.ValidUntil.IsZero() {
				t := c.ValidUntil.UTC()
				cj.ValidUntil = &t
			}
			out.Certifications[mk] = append(out.Certifications[mk], cj)
		}
	}
	for mk, rs := range p.Resellers {
		out.Resellers[mk] = append([]catalog.Reseller{}, rs...)
	}
	return out
}

// --- API handlers ---

func (s *Server) apiAdminProducts(w http.ResponseWriter, r *http.Request) {
	ps, err := s.catalog.AdminProducts(r.Context())
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	out := make([]adminProductJSON, 0, len(ps))
	for _, p := range ps {
		out = append(out, adminProductOut(p))
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"products": out})
}

func (s *Server) apiAdminProduct(w http.ResponseWriter, r *http.Request) {
	p, err := s.catalog.AdminProduct(r.Context(), r.PathValue("slug"))
	s.answerProduct(w, r, http.StatusOK, p, err)
}

func (s *Server) answerProduct(w http.ResponseWriter, r *http.Request, status int, p *catalog.Product, err error) {
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, status, adminProductOut(p))
}

type adminVariantIn struct {
	SKU     string         `json:"sku"`
	Name    string         `json:"name"`
	Options []catalog.Spec `json:"options"`
	WeightG int            `json:"weight_g"`
}

func (s *Server) apiAdminProductCreate(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Slug          string           `json:"slug"`
		Name          string           `json:"name"`
		Category      string           `json:"category"`
		Description   string           `json:"description"`
		Specs         []catalog.Spec   `json:"specs"`
		Image         string           `json:"image"`
		Featured      bool             `json:"featured"`
		PurchaseLimit int              `json:"purchase_limit"`
		Variants      []adminVariantIn `json:"variants"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.apiFail(w, r, err)
		return
	}
	pi := catalog.ProductInput{Slug: in.Slug, Name: in.Name, Category: in.Category, Description: in.Description, Specs: in.Specs,
		Image: in.Image, Featured: in.Featured, PurchaseLimit: in.PurchaseLimit}
	for _, v := range in.Variants {
		pi.Variants = append(pi.Variants, catalog.VariantInput(v))
	}
	p, err := s.catalog.CreateProduct(r.Context(), pi)
	s.answerProduct(w, r, http.StatusCreated, p, err)
}

func (s *Server) apiAdminProductUpdate(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name          *string         `json:"name"`
		Category      *string         `json:"category"`
		Description   *string         `json:"description"`
		Specs         *[]catalog.Spec `json:"specs"`
		Image         *string         `json:"image"`
		Featured      *bool           `json:"featured"`
		PurchaseLimit *int            `json:"purchase_limit"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.apiFail(w, r, err)
		return
	}
	p, err := s.catalog.UpdateProduct(r.Context(), r.PathValue("slug"), catalog.ProductPatch(in))
	s.answerProduct(w, r, http.StatusOK, p, err)
}

func (s *Server) apiAdminVariantSave(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name    string         `json:"name"`
		Options []catalog.Spec `json:"options"`
		WeightG int            `json:"weight_g"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.apiFail(w, r, err)
		return
	}
	p, err := s.catalog.SaveVariant(r.Context(), r.PathValue("slug"), catalog.VariantInput{SKU: r.PathValue("sku"), Name: in.Name, Options: in.Options, WeightG: in.WeightG})
	s.answerProduct(w, r, http.StatusOK, p, err)
}

func (s *Server) apiAdminPriceSet(w http.ResponseWriter, r *http.Request) {
	var in struct {
		SKU    string `json:"sku"`
		Amount *int64 `json:"amount"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.apiFail(w, r, err)
		return
	}
	if in.Amount == nil {
		s.apiFail(w, r, &catalog.FieldError{Field: "amount", Msg: "Give the price as amount, in minor units of the market's currency."})
		return
	}
	p, err := s.catalog.SetPrice(r.Context(), r.PathValue("slug"), r.PathValue("market"), in.SKU, *in.Amount)
	s.answerProduct(w, r, http.StatusOK, p, err)
}

func (s *Server) apiAdminPriceRemove(w http.ResponseWriter, r *http.Request) {
	p, err := s.catalog.RemovePrice(r.Context(), r.PathValue("slug"), r.PathValue("market"), r.PathValue("sku"))
	s.answerProduct(w, r, http.StatusOK, p, err)
}

// parseAdminTime reads an RFC 3339 time or a date (midnight UTC).
func parseAdminTime(field, raw string) (time.Time, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, raw); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, raw); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, &catalog.FieldError{Field: field, Msg: fmt.Sprintf("%q is not a date (2026-03-01) or an RFC 3339 time.", raw)}
}

func (s *Server) apiAdminCertAdd(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Market      string `json:"market"`
		Scheme      string `json:"scheme"`
		Reference   string `json:"reference"`
		ValidFrom   string `json:"valid_from"`
		ValidUntil  string `json:"valid_until"`
		DocumentURL string `json:"document_url"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.apiFail(w, r, err)
		return
	}
	p, err := s.addCert(r, in.Market, in.Scheme, in.Reference, in.ValidFrom, in.ValidUntil, in.DocumentURL)
	s.answerProduct(w, r, http.StatusCreated, p, err)
}

func (s *Server) addCert(r *http.Request, mk, scheme, ref, from, until, doc string) (*catalog.Product, error) {
	vf, err := parseAdminTime("valid_from", from)
	if err != nil {
		return nil, err
	}
	vu, err := parseAdminTime("valid_until", until)
	if err != nil {
		return nil, err
	}
	c := catalog.Certification{Scheme: strings.TrimSpace(scheme), Reference: strings.TrimSpace(ref), ValidFrom: vf, ValidUntil: vu, DocumentURL: strings.TrimSpace(doc)}
	return s.catalog.AddCertification(r.Context(), r.PathValue("slug"), strings.TrimSpace(mk), c)
}

func (s *Server) apiAdminCertRemove(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, err := s.catalog.RemoveCertification(r.Context(), r.PathValue("slug"), q.Get("market"), q.Get("scheme"), q.Get("reference"))
	s.answerProduct(w, r, http.StatusOK, p, err)
}

func (s *Server) apiAdminListingSet(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Listed   *bool  `json:"listed"`
		LaunchAt string `json:"launch_at"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.apiFail(w, r, err)
		return
	}
	if in.Listed == nil {
		s.apiFail(w, r, &catalog.FieldError{Field: "listed", Msg: "Say whether the product is listed: \"listed\": true or false."})
		return
	}
	l := catalog.Listing{Listed: *in.Listed}
	launch, err := parseAdminTime("launch_at", in.LaunchAt)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	l.LaunchAt = launch
	p, err := s.catalog.SetListing(r.Context(), r.PathValue("slug"), r.PathValue("market"), l)
	s.answerProduct(w, r, http.StatusOK, p, err)
}

func (s *Server) apiAdminResellersSet(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Resellers []catalog.Reseller `json:"resellers"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.apiFail(w, r, err)
		return
	}
	p, err := s.catalog.SetResellers(r.Context(), r.PathValue("slug"), r.PathValue("market"), in.Resellers)
	s.answerProduct(w, r, http.StatusOK, p, err)
}

type readinessJSON struct {
	Market   string             `json:"market"`
	At       time.Time          `json:"at"`
	Products []readinessRowJSON `json:"products"`
}

type readinessRowJSON struct {
	Slug         string        `json:"slug"`
	Name         string        `json:"name"`
	Availability catalog.State `json:"availability"`
	Reason       string        `json:"reason,omitempty"`
	Ready        bool          `json:"ready"`
	Blockers     []blockerJSON `json:"blockers"`
}

type blockerJSON struct {
	Kind    string     `json:"kind"`
	Message string     `json:"message"`
	Warning bool       `json:"warning"`
	Until   *time.Time `json:"until,omitempty"`
}

func (s *Server) apiAdminReadiness(w http.ResponseWriter, r *http.Request) {
	rd, err := s.catalog.Readiness(r.Context(), r.PathValue("market"))
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	out := readinessJSON{Market: rd.Market.Code, At: rd.At.UTC(), Products: make([]readinessRowJSON, len(rd.Rows))}
	for i, row := range rd.Rows {
		rj := readinessRowJSON{Slug: row.Product.Slug, Name: row.Product.Name, Availability: row.Availability.State,
			Reason: row.Availability.Reason, Ready: row.Ready, Blockers: []blockerJSON{}}
		for _, b := range row.Blockers {
			bj := blockerJSON{Kind: b.Kind, Message: b.Message, Warning: b.Warning}
			if !b.Until.IsZero() {
				t := b.Until.UTC()
				bj.Until = &t
			}
			rj.Blockers = append(rj.Blockers, bj)
		}
		out.Products[i] = rj
	}
	s.writeJSON(w, r, http.StatusOK, out)
}

func (s *Server) apiAdminProductsExport(w http.ResponseWriter, r *http.Request) {
	s.exportProducts(w, r, s.apiFail)
}

func (s *Server) exportProducts(w http.ResponseWriter, r *http.Request, fail func(http.ResponseWriter, *http.Request, error)) {
	mk := strings.ToLower(r.URL.Query().Get("market"))
	var buf bytes.Buffer
	if _, err := s.catalog.Export(r.Context(), &buf, catalog.ExportOptions{Market: mk}); err != nil {
		fail(w, r, err)
		return
	}
	name := "products.csv"
	if mk != "" {
		name = "products-" + mk + ".csv"
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}

func (s *Server) apiAdminProductsImport(w http.ResponseWriter, r *http.Request) {
	body := http.MaxBytesReader(w, r.Body, maxImportUpload)
	res, err := s.catalog.Import(r.Context(), body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			err = &bodyError{kind: errBodyTooLarge, msg: fmt.Sprintf("The file is larger than %d MB; split it.", maxImportUpload>>20)}
		}
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, map[string]int{"products": res.Products, "variants": res.Variants})
}

// --- pages ---

// adminProductsContent is the products page.
type adminProductsContent struct {
	Products  []*catalog.Product
	Markets   []market.Market
	Category  []catalog.Category
	CanEdit   bool
	Form      adminNewProductForm
	ImportErr []string
}

type adminNewProductForm struct {
	Slug, Name, Category, SKU, Variant string
	Error                              string
}

// catalogChoices returns what the product forms offer to choose from: the
// markets and the categories.
func (s *Server) catalogChoices(ctx context.Context) (*market.Set, []catalog.Category, error) {
	set, err := s.catalog.Markets(ctx)
	if err != nil {
		return nil, nil, err
	}
	cats, err := s.catalog.Categories(ctx)
	if err != nil {
		return nil, nil, err
	}
	return set, cats, nil
}

func (s *Server) renderProducts(w http.ResponseWriter, r *http.Request, status int, c adminProductsContent) {
	ctx := r.Context()
	ps, err := s.catalog.AdminProducts(ctx)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	set, cats, err := s.catalogChoices(ctx)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	c.Products, c.Markets, c.Category = ps, set.Markets, cats
	c.CanEdit = s.staffCaller(r).Can(staff.PermEditCatalog)
	s.renderAdmin(w, r, status, "admin_products", "products", "Products", c)
}

func (s *Server) adminProductsPage(w http.ResponseWriter, r *http.Request) {
	s.renderProducts(w, r, http.StatusOK, adminProductsContent{})
}

func (s *Server) adminProductCreate(w http.ResponseWriter, r *http.Request) {
	f := adminNewProductForm{
		Slug: strings.TrimSpace(r.PostFormValue("slug")), Name: strings.TrimSpace(r.PostFormValue("name")),
		Category: r.PostFormValue("category"), SKU: strings.TrimSpace(r.PostFormValue("sku")), Variant: strings.TrimSpace(r.PostFormValue("variant")),
	}
	p, err := s.catalog.CreateProduct(r.Context(), catalog.ProductInput{
		Slug: f.Slug, Name: f.Name, Category: f.Category,
		Variants: []catalog.VariantInput{{SKU: f.SKU, Name: f.Variant}},
	})
	if err != nil {
		if msg, ok := formMessage(err); ok {
			f.Error = msg
			s.renderProducts(w, r, http.StatusUnprocessableEntity, adminProductsContent{Form: f})
			return
		}
		s.adminFail(w, r, err)
		return
	}
	s.adminRedirect(w, r, "/admin/products/"+p.Slug, "Product "+p.Name+" created. It is sold nowhere until it is listed, priced and certified.")
}

// formMessage returns the sentence a form shows for a refused input, or
// false for errors that are not the input's fault.
func formMessage(err error) (string, bool) {
	var ie *catalog.ImportError
	if errors.As(err, &ie) {
		return ie.Error(), true
	}
	var fe *catalog.FieldError
	switch {
	case errors.As(err, &fe):
		return fe.Msg, true
	case errors.Is(err, catalog.ErrSlugTaken):
		return "Another product already has this slug.", true
	case errors.Is(err, catalog.ErrSKUTaken):
		return "Another product already has this SKU.", true
	case errors.Is(err, catalog.ErrCertificationNotFound):
		return "That certification is not there any more.", true
	}
	return "", false
}

func (s *Server) adminProductsExport(w http.ResponseWriter, r *http.Request) {
	s.exportProducts(w, r, s.adminFail)
}

func (s *Server) adminProductsImport(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxImportUpload)
	file, _, err := r.FormFile("file")
	if err != nil {
		s.renderProducts(w, r, http.StatusUnprocessableEntity, adminProductsContent{ImportErr: []string{"Choose a CSV file (at most 32 MB) to import."}})
		return
	}
	defer file.Close()
	res, err := s.catalog.Import(r.Context(), io.Reader(file))
	if err != nil {
		var ie *catalog.ImportError
		if errors.As(err, &ie) {
			lines := []string{fmt.Sprintf("Nothing was imported: %d problem(s).", len(ie.Errors)+ie.More)}
			for _, e := range ie.Errors {
				lines = append(lines, e.Error())
			}
			if ie.More > 0 {
				lines = append(lines, fmt.Sprintf("… and %d more.", ie.More))
			}
			s.renderProducts(w, r, http.StatusUnprocessableEntity, adminProductsContent{ImportErr: lines})
			return
		}
		s.adminFail(w, r, err)
		return
	}
	s.adminRedirect(w, r, "/admin/products", fmt.Sprintf("Imported %d products, %d variants.", res.Products, res.Variants))
}

// adminProductContent is the product edit page.
type adminProductContent struct {
	P          *catalog.Product
	Markets    []adminMarketView
	Categories []catalog.Category
	Schemes    []market.Scheme
	SpecsText  string
	Variants   []adminVariantView
	// Texts are the product's words in the storefront's other languages.
	Texts    []adminTextView
	CanEdit  bool
	CanPrice bool
	Error    string
	// LimitText is the purchase limit as the form shows it: empty for
	// the store's default, or what staff typed when it was refused.
	LimitText string
}

type adminVariantView struct {
	SKU, Name, OptionsText string
	WeightG                int
}

// adminMarketView is one market's block of the product page.
type adminMarketView struct {
	Code, Name, Currency string
	Listed               bool
	LaunchAt             string // datetime-local value, UTC
	Availability         catalog.Availability
	Prices               []adminPriceView
	Certs                []adminCertView
	Resellers            []catalog.Reseller
	Required             string
	// Scheme is the scheme the certification form starts on: the first
	// one the market requires for the product's category.
	Scheme string
	// CertForm is what the certification form shows: empty, or what staff
	// typed when it was refused.
	CertForm adminCertView
}

type adminPriceView struct {
	SKU, Name, Amount string
	Has               bool
}

type adminCertView struct {
	Scheme, Reference, From, Until, DocumentURL string
	InForce                                     bool
}

func (s *Server) renderProduct(w http.ResponseWriter, r *http.Request, status int, slug, errMsg string) {
	ctx := r.Context()
	p, err := s.catalog.AdminProduct(ctx, slug)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	set, cats, err := s.catalogChoices(ctx)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	caller := s.staffCaller(r)
	c := adminProductContent{P: p, Categories: cats, SpecsText: pairsText(p.Specs), Error: errMsg,
		CanEdit: caller.Can(staff.PermEditCatalog), CanPrice: caller.Can(staff.PermEditPrices)}
	for _, code := range sortedSchemes(set) {
		c.Schemes = append(c.Schemes, set.Schemes[code])
	}
	for _, v := range p.Variants {
		c.Variants = append(c.Variants, adminVariantView{SKU: v.SKU, Name: v.Name, OptionsText: pairsText(v.Options), WeightG: v.WeightG})
	}
	c.Texts = s.productTextViews(p)
	now := s.catalog.Now()
	for _, m := range set.Markets {
		mv := adminMarketView{Code: m.Code, Name: m.Name, Currency: m.Currency, Resellers: p.Resellers[m.Code],
			Required: strings.Join(m.RequiredSchemes(p.Category), ", ")}
		if req := m.RequiredSchemes(p.Category); len(req) > 0 {
			mv.Scheme = req[0]
		}
		if l, ok := p.Listings[m.Code]; ok {
			mv.Listed = l.Listed
			if !l.LaunchAt.IsZero() {
				mv.LaunchAt = l.LaunchAt.UTC().Format("2006-01-02T15:04")
			}
		}
		if v, err := s.catalog.Product(ctx, m.Code, p.Slug); err == nil {
			mv.Availability = v.Availability
		}
		for _, v := range p.Variants {
			pv := adminPriceView{SKU: v.SKU, Name: v.Name}
			if pr, ok := v.Prices[m.Code]; ok {
				pv.Amount, pv.Has = pr.Decimal(), true
			}
			mv.Prices = append(mv.Prices, pv)
		}
		for _, cert := range p.Certifications[m.Code] {
			cv := adminCertView{Scheme: cert.Scheme, Reference: cert.Reference, From: certDate(cert.ValidFrom), DocumentURL: cert.DocumentURL, InForce: cert.ValidAt(now)}
			if !cert.ValidUntil.IsZero() {
				cv.Until = certDate(cert.ValidUntil)
			}
			mv.Certs = append(mv.Certs, cv)
		}
		c.Markets = append(c.Markets, mv)
	}
	if p.PurchaseLimit > 0 {
		c.LimitText = strconv.Itoa(p.PurchaseLimit)
	}
	title := p.Name
	if errMsg != "" && r.Method == http.MethodPost {
		keepProductForm(r, slug, &c)
	}
	s.renderAdmin(w, r, status, "admin_product", "products", title, c)
}

// keepProductForm puts what staff typed into the form they sent back in
// c, the product page shown again with why it was refused, so that
// nothing typed is lost: the details, a price, a certification.
func keepProductForm(r *http.Request, slug string, c *adminProductContent) {
	f := r.PostForm
	base := "/admin/products/" + slug
	switch r.URL.Path {
	case base:
		p := *c.P
		p.Name, p.Category, p.Description, p.Image = f.Get("name"), f.Get("category"), f.Get("description"), f.Get("image")
		p.Featured = f.Get("featured") != ""
		c.P, c.SpecsText, c.LimitText = &p, f.Get("specs"), f.Get("purchase_limit")
	case base + "/prices":
		for i := range c.Markets {
			if c.Markets[i].Code != f.Get("market") {
				continue
			}
			for j := range c.Markets[i].Prices {
				if pv := &c.Markets[i].Prices[j]; pv.SKU == f.Get("sku") {
					pv.Amount = f.Get("amount")
				}
			}
		}
	case base + "/certifications":
		for i := range c.Markets {
			if m := &c.Markets[i]; m.Code == f.Get("market") {
				m.Scheme = f.Get("scheme")
				m.CertForm = adminCertView{Scheme: f.Get("scheme"), Reference: f.Get("reference"), From: f.Get("valid_from"),
					Until: f.Get("valid_until"), DocumentURL: f.Get("document_url")}
			}
		}
	}
}

func sortedSchemes(set *market.Set) []string {
	return slices.Sorted(maps.Keys(set.Schemes))
}

func certDate(t time.Time) string {
	t = t.UTC()
	if t.Equal(t.Truncate(24 * time.Hour)) {
		return t.Format(time.DateOnly)
	}
	return t.Format("2006-01-02 15:04 UTC")
}

// pairsText writes pairs one "Key=Value" a line, as the forms take them.
func pairsText(ps []catalog.Spec) string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Key + "=" + p.Value
	}
	return strings.Join(lines, "\n")
}

// parsePairsText reads what pairsText writes; field names the form field.
func parsePairsText(field, text string) ([]catalog.Spec, error) {
	out := []catalog.Spec{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, &catalog.FieldError{Field: field, Msg: fmt.Sprintf("%q is not Name=Value.", line)}
		}
		out = append(out, catalog.Spec{Key: strings.TrimSpace(k), Value: strings.TrimSpace(v)})
	}
	return out, nil
}

func (s *Server) adminProductPage(w http.ResponseWriter, r *http.Request) {
	s.renderProduct(w, r, http.StatusOK, r.PathValue("slug"), "")
}

// productWrite answers a product page's form: back to the page with flash
// when it worked, the page with the error (422) when the input was
// refused.
func (s *Server) productWrite(w http.ResponseWriter, r *http.Request, flash string, err error) {
	slug := r.PathValue("slug")
	if err != nil {
		if msg, ok := formMessage(err); ok {
			s.renderProduct(w, r, http.StatusUnprocessableEntity, slug, msg)
			return
		}
		s.adminFail(w, r, err)
		return
	}
	s.adminRedirect(w, r, "/admin/products/"+url.PathEscape(slug), flash)
}

func (s *Server) adminProductUpdate(w http.ResponseWriter, r *http.Request) {
	specs, err := parsePairsText("specs", r.PostFormValue("specs"))
	if err != nil {
		s.productWrite(w, r, "", err)
		return
	}
	name, cat, desc, img := r.PostFormValue("name"), r.PostFormValue("category"), r.PostFormValue("description"), strings.TrimSpace(r.PostFormValue("image"))
	featured := r.PostFormValue("featured") != ""
	limit := 0
	if raw := strings.TrimSpace(r.PostFormValue("purchase_limit")); raw != "" {
		if limit, err = strconv.Atoi(raw); err != nil {
			s.productWrite(w, r, "", &catalog.FieldError{Field: "purchase_limit", Msg: "The purchase limit must be a whole number."})
			return
		}
	}
	_, err = s.catalog.UpdateProduct(r.Context(), r.PathValue("slug"), catalog.ProductPatch{
		Name: &name, Category: &cat, Description: &desc, Specs: &specs, Image: &img, Featured: &featured, PurchaseLimit: &limit,
	})
	s.productWrite(w, r, "Product saved.", err)
}

func (s *Server) adminVariantSave(w http.ResponseWriter, r *http.Request) {
	opts, err := parsePairsText("options", r.PostFormValue("options"))
	if err != nil {
		s.productWrite(w, r, "", err)
		return
	}
	weight := 0
	if raw := strings.TrimSpace(r.PostFormValue("weight_g")); raw != "" {
		if weight, err = strconv.Atoi(raw); err != nil {
			s.productWrite(w, r, "", &catalog.FieldError{Field: "weight_g", Msg: "The weight must be a whole number of grams."})
			return
		}
	}
	sku := strings.TrimSpace(r.PostFormValue("sku"))
	_, err = s.catalog.SaveVariant(r.Context(), r.PathValue("slug"), catalog.VariantInput{SKU: sku, Name: strings.TrimSpace(r.PostFormValue("name")), Options: opts, WeightG: weight})
	s.productWrite(w, r, "Variant "+sku+" saved.", err)
}

func (s *Server) adminPriceSave(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	slug, mk, sku := r.PathValue("slug"), r.PostFormValue("market"), r.PostFormValue("sku")
	raw := strings.TrimSpace(r.PostFormValue("amount"))
	if raw == "" {
		_, err := s.catalog.RemovePrice(ctx, slug, mk, sku)
		s.productWrite(w, r, "Price of "+sku+" in "+strings.ToUpper(mk)+" removed.", err)
		return
	}
	set, err := s.catalog.Markets(ctx)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	m, err := set.Get(mk)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	price, err := money.Parse(raw, m.Currency)
	if err != nil {
		s.productWrite(w, r, "", &catalog.FieldError{Field: "amount", Msg: fmt.Sprintf("%q is not a price in %s, such as 699.00.", raw, m.Currency)})
		return
	}
	_, err = s.catalog.SetPrice(ctx, slug, m.Code, sku, price.Amount)
	s.productWrite(w, r, "Price of "+sku+" in "+strings.ToUpper(m.Code)+" set to "+price.Format()+".", err)
}

func (s *Server) adminCertAdd(w http.ResponseWriter, r *http.Request) {
	_, err := s.addCert(r, r.PostFormValue("market"), r.PostFormValue("scheme"), r.PostFormValue("reference"),
		r.PostFormValue("valid_from"), r.PostFormValue("valid_until"), r.PostFormValue("document_url"))
	s.productWrite(w, r, "Certification "+r.PostFormValue("scheme")+" added for "+strings.ToUpper(r.PostFormValue("market"))+".", err)
}

func (s *Server) adminCertRemove(w http.ResponseWriter, r *http.Request) {
	_, err := s.catalog.RemoveCertification(r.Context(), r.PathValue("slug"), r.PostFormValue("market"), r.PostFormValue("scheme"), r.PostFormValue("reference"))
	s.productWrite(w, r, "Certification removed.", err)
}

func (s *Server) adminListingSave(w http.ResponseWriter, r *http.Request) {
	l := catalog.Listing{Listed: r.PostFormValue("listed") != ""}
	if raw := strings.TrimSpace(r.PostFormValue("launch_at")); raw != "" {
		t, err := time.Parse("2006-01-02T15:04", raw)
		if err != nil {
			s.productWrite(w, r, "", &catalog.FieldError{Field: "launch_at", Msg: fmt.Sprintf("%q is not a launch time (UTC).", raw)})
			return
		}
		l.LaunchAt = t
	}
	mk := r.PostFormValue("market")
	_, err := s.catalog.SetListing(r.Context(), r.PathValue("slug"), mk, l)
	what := "unlisted from"
	if l.Listed {
		what = "listed in"
	}
	s.productWrite(w, r, "Product "+what+" "+strings.ToUpper(mk)+".", err)
}

func (s *Server) adminResellerAdd(w http.ResponseWriter, r *http.Request) {
	ctx, slug, mk := r.Context(), r.PathValue("slug"), r.PostFormValue("market")
	p, err := s.catalog.AdminProduct(ctx, slug)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	rs := append(append([]catalog.Reseller{}, p.Resellers[mk]...), catalog.Reseller{Name: r.PostFormValue("name"), URL: r.PostFormValue("url")})
	_, err = s.catalog.SetResellers(ctx, slug, mk, rs)
	s.productWrite(w, r, "Reseller added.", err)
}

func (s *Server) adminResellerRemove(w http.ResponseWriter, r *http.Request) {
	ctx, slug, mk := r.Context(), r.PathValue("slug"), r.PostFormValue("market")
	p, err := s.catalog.AdminProduct(ctx, slug)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	i, err := strconv.Atoi(r.PostFormValue("index"))
	cur := p.Resellers[mk]
	if err != nil || i < 0 || i >= len(cur) {
		s.productWrite(w, r, "", &catalog.FieldError{Field: "index", Msg: "That reseller is not there any more."})
		return
	}
	rs := append(append([]catalog.Reseller{}, cur[:i]...), cur[i+1:]...)
	_, err = s.catalog.SetResellers(ctx, slug, mk, rs)
	s.productWrite(w, r, "Reseller removed.", err)
}

// adminLaunchContent is the launch-readiness page.
type adminLaunchContent struct {
	Markets   []market.Market
	Market    string
	Readiness *catalog.Readiness
	Blocked   bool // only products with something to fix
	Ready     int
	Expiring  []adminExpiring
}

type adminExpiring struct {
	Slug, Name, Message string
}

func (s *Server) adminLaunchPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	set, err := s.catalog.Markets(ctx)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	code := r.URL.Query().Get("market")
	if code == "" && len(set.Markets) > 0 {
		code = set.Markets[0].Code
	}
	rd, err := s.catalog.Readiness(ctx, code)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	c := adminLaunchContent{Markets: set.Markets, Market: rd.Market.Code, Blocked: r.URL.Query().Get("blocked") != ""}
	all := rd.Rows
	shown := *rd
	shown.Rows = nil
	for _, row := range all {
		if row.Ready {
			c.Ready++
		}
		for _, b := range row.Blockers {
			if b.Kind == catalog.BlockCertificateExpires {
				c.Expiring = append(c.Expiring, adminExpiring{Slug: row.Product.Slug, Name: row.Product.Name, Message: b.Message})
			}
		}
		if !c.Blocked || len(row.Blockers) > 0 {
			shown.Rows = append(shown.Rows, row)
		}
	}
	c.Readiness = &shown
	s.renderAdmin(w, r, http.StatusOK, "admin_launch", "launch", "Launch readiness: "+rd.Market.Name, c)
}
