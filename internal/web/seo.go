package web

import (
	"mistore/internal/catalog"
)

// schema.org availability of a variant as the market sees it; states that
// cannot be ordered at all (not sold here, coming soon) get no offer.
var ldAvailability = map[catalog.State]string{
	catalog.Available:  "https://schema.org/InStock",
	catalog.OutOfStock: "https://schema.org/OutOfStock",
}

// productLD is a product page's schema.org Product: one Offer per variant
// priced in the page's market, so a search engine shows the US price in the
// US and none where the product is not sold; ratings when it has reviews.
// html/template writes it as JSON inside the ld+json script, escaping "<".
func (s *Server) productLD(p *page, v *catalog.View, box *communityBox) map[string]any {
	url := p.Origin + "/" + p.Market.Code + "/products/" + v.Slug
	var images []string
	for _, ph := range v.Photos {
		images = append(images, p.Origin+mediaPath(ph.File, mediaLarge))
	}
	if len(images) == 0 {
		if art, err := s.assets.imagePath(v.Image, mediaLarge); err == nil {
			images = []string{p.Origin + art}
		}
	}
	ld := map[string]any{
		"@context":    "https://schema.org",
		"@type":       "Product",
		"name":        v.Name,
		"description": v.Description,
		"url":         url,
		"brand":       map[string]any{"@type": "Brand", "name": "Mistore"},
		"category":    v.CategoryName,
	}
	if len(images) > 0 {
		ld["image"] = images
	}
	if len(v.Variants) == 1 {
		ld["sku"] = v.Variants[0].SKU
	}
	var offers []map[string]any
	for _, vv := range v.Variants {
		avail, ok := ldAvailability[vv.Availability.State]
		if !ok || !vv.HasPrice {
			continue
		}
		offers = append(offers, map[string]any{
			"@type":         "Offer",
			"sku":           vv.SKU,
			"name":          vv.Name,
			"price":         vv.Price.Decimal(),
			"priceCurrency": vv.Price.Currency,
			"availability":  avail,
			"itemCondition": "https://schema.org/NewCondition",
			"url":           url + "?variant=" + vv.SKU,
			"eligibleRegion": map[string]any{
				"@type": "Country", "name": firstOr(p.Market.CountryCodes, p.Market.Code),
			},
		})
	}
	if len(offers) > 0 {
		ld["offers"] = offers
	}
	if box != nil && box.Summary.Count > 0 {
		ld["aggregateRating"] = map[string]any{
			"@type":       "AggregateRating",
			"ratingValue": box.Summary.Average,
			"reviewCount": box.Summary.Count,
			"bestRating":  5,
			"worstRating": 1,
		}
	}
	return ld
}

func firstOr(list []string, fallback string) string {
	if len(list) > 0 {
		return list[0]
	}
	return fallback
}
