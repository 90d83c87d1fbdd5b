package order

import "context"

// LineTexts names an order line's product and variant in a language, from
// the catalog (catalog.Service.LineText); an empty name means there is
// none in that language.
type LineTexts func(ctx context.Context, sku, lang string) (name, variant string, err error)

// LocalizeLines returns lines as a reader of language lang reads them:
// each name the catalog has in lang, the stored English one where it has
// none. lines itself is not changed. With no lang (English) or no texts
// the lines are returned as they are; a catalog that cannot answer leaves
// the English names, which are still right, only not translated.
func LocalizeLines(ctx context.Context, lines []Line, lang string, texts LineTexts) []Line {
	if lang == "" || texts == nil || len(lines) == 0 {
		return lines
	}
	out := make([]Line, len(lines))
	for i, l := range lines {
		name, variant, err := texts(ctx, l.SKU, lang)
		if err != nil {
			return lines
		}
		if name != "" {
			l.Name = name
		}
		if variant != "" {
			l.VariantName = variant
		}
		out[i] = l
	}
	return out
}
