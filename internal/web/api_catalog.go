package web

import (
	"fmt"
	"net/http"
	"time"

	"mistore/internal/catalog"
	"mistore/internal/market"
	"mistore/internal/money"
)

// apiMarket is a market in the API (API.md).
type apiMarket struct {
	Code         string   `json:"code"`
	Name         string   `json:"name"`
	Currency     string   `json:"currency"`
	CountryCodes []string `json:"country_codes"`
	TaxIncluded  bool     `json:"tax_included"`
	Locale       string   `json:"locale"`
}

func (s *Server) apiMarkets(w http.ResponseWriter, r *http.Request) {
	set, err := s.catalog.Markets(r.Context())
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	out := make([]apiMarket, len(set.Markets))
	for i, m := range set.Markets {
		out[i] = apiMarket{Code: m.Code, Name: m.Name, Currency: m.Currency, CountryCodes: m.CountryCodes, TaxIncluded: m.TaxIncluded, Locale: m.Locale}
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"markets": out})
}

// apiProductSummary is a product in a list (API.md's ProductSummary).
type apiProductSummary struct {
	Slug         string       `json:"slug"`
	Name         string       `json:"name"`
	Category     string       `json:"category"`
	Image        string       `json:"image"`
	Availability string       `json:"availability"`
	Reason       string       `json:"reason,omitempty"`
	Price        *money.Money `json:"price,omitempty"`
	URL          string       `json:"url"`
}

// apiProduct is one product in a market (API.md's Product).
type apiProduct struct {
	Slug         string             `json:"slug"`
	Name         string             `json:"name"`
	Category     string             `json:"category"`
	Description  string             `json:"description"`
	Images       []string           `json:"images"`
	Specs        []catalog.Spec     `json:"specs"`
	Availability string             `json:"availability"`
	Reason       string             `json:"reason,omitempty"`
	LaunchAt     *time.Time         `json:"launch_at,omitempty"`
	Resellers    []catalog.Reseller `json:"resellers"`
	Variants     []apiVariant       `json:"variants"`
	URL          string             `json:"url"`
}

type apiVariant struct {
	SKU       string         `json:"sku"`
	Name      string         `json:"name"`
	Options   []catalog.Spec `json:"options"`
	Price     *money.Money   `json:"price,omitempty"`
	Available bool           `json:"available"`
}

func (s *Server) apiProducts(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("market")
	cats, err := s.catalog.Categories(r.Context())
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if _, err := s.marketOf(r, code); err != nil {
		s.apiFail(w, r, err)
		return
	}
	q, err := listQuery(r, cats)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	list, err := s.catalog.List(r.Context(), code, q)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	params := fmt.Sprintf("%q|%s|%d|%d|%d", q.Q, q.Category, q.Page, q.PerPage, list.Total)
	s.writeJSONCached(w, r, pageKey("api-products", code, list.Revision, params, list.Products...), func() any {
		out := make([]apiProductSummary, len(list.Products))
		for i := range list.Products {
			v := &list.Products[i]
			out[i] = apiProductSummary{
				Slug: v.Slug, Name: v.Name, Category: v.Category,
				Image: s.imageURL(v.Cover()), Availability: string(v.Availability.State), Reason: v.Availability.Reason,
				Price: fromPrice(v), URL: "/" + code + "/products/" + v.Slug,
			}
		}
		return map[string]any{"products": out, "page": list.Page, "per_page": list.PerPage, "total": list.Total}
	})
}

// fromPrice is the lowest price of the product's variants in the market,
// the "from" price of a product card.
func fromPrice(v *catalog.View) *money.Money {
	var low *money.Money
	for i := range v.Variants {
		vv := &v.Variants[i]
		if vv.HasPrice && (low == nil || vv.Price.Amount < low.Amount) {
			p := vv.Price
			low = &p
		}
	}
	return low
}

func (s *Server) apiProduct(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("market")
	v, err := s.catalog.Product(r.Context(), code, r.PathValue("slug"))
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSONCached(w, r, pageKey("api-product", code, v.Revision, "", *v), func() any { return s.productJSON(code, v) })
}

// productJSON is API.md's Product for a view.
func (s *Server) productJSON(code string, v *catalog.View) apiProduct {
	out := apiProduct{
		Slug: v.Slug, Name: v.Name, Category: v.Category, Description: v.Description,
		Images: s.imageURLs(v.Product), Specs: v.Specs,
		Availability: string(v.Availability.State), Reason: v.Availability.Reason,
		Resellers: v.Resellers, Variants: make([]apiVariant, len(v.Variants)),
		URL: "/" + code + "/products/" + v.Slug,
	}
	if out.Specs == nil {
		out.Specs = []catalog.Spec{}
	}
	if out.Resellers == nil {
		out.Resellers = []catalog.Reseller{}
	}
	if !v.Availability.LaunchAt.IsZero() {
		t := v.Availability.LaunchAt.UTC()
		out.LaunchAt = &t
	}
	for i := range v.Variants {
		vv := &v.Variants[i]
		av := apiVariant{SKU: vv.SKU, Name: vv.Name, Options: vv.Options, Available: vv.Availability.Purchasable()}
		if av.Options == nil {
			av.Options = []catalog.Spec{}
		}
		if vv.HasPrice {
			p := vv.Price
			av.Price = &p
		}
		out.Variants[i] = av
	}
	return out
}

func (s *Server) marketOf(r *http.Request, code string) (market.Market, error) {
	set, err := s.catalog.Markets(r.Context())
	if err != nil {
		return market.Market{}, err
	}
	return set.Get(code)
}

// imageURL is the address of a product's art.
func (s *Server) imageURL(image string) string {
	u, err := s.assets.imagePath(image, mediaLarge)
	if err != nil {
		u, _ = s.assets.URL("art/placeholder.svg")
	}
	return u
}

func (s *Server) apiNotFound(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, r, http.StatusNotFound, map[string]apiError{"error": {
		Code: codeNotFound, Message: "There is no API endpoint " + r.Method + " " + r.URL.Path + "; see /api/v1/openapi.json.",
	}})
}

// imageURLs are the addresses of a product's photos, the cover first, or
// of its built-in art when it has none.
func (s *Server) imageURLs(p *catalog.Product) []string {
	if len(p.Photos) == 0 {
		return []string{s.imageURL(p.Image)}
	}
	out := make([]string, len(p.Photos))
	for i, ph := range p.Photos {
		out[i] = mediaPath(ph.File, mediaLarge)
	}
	return out
}
