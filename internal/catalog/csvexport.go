package catalog

import (
	"cmp"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"mistore/internal/market"
)

// ExportOptions tunes Export.
type ExportOptions struct {
	// Market limits the per-market columns to one market; empty exports
	// every market's.
	Market string
	// Progress, when set, is told after each product is written.
	Progress func(done, total int)
}

// Export writes every product as the CSV Import reads, so a file exported,
// edited and imported changes only what was edited. Stock is left out on
// purpose: it moves with every sale, and importing an old count back
// would undo the sales since. Certificate document links are not part of
// the format either; they are kept on import.
func (s *Service) Export(ctx context.Context, w io.Writer, opts ExportOptions) (int, error) {
	snap, err := s.current(ctx)
	if err != nil {
		return 0, err
	}
	markets := snap.markets.Markets
	if opts.Market != "" {
		m, err := snap.markets.Get(opts.Market)
		if err != nil {
			return 0, err
		}
		markets = []market.Market{m}
	}
	header := append(append([]string{}, productColumns...), variantColumns...)
	for _, p := range marketPrefixes {
		for _, m := range markets {
			header = append(header, p+m.Code)
		}
	}
	// The languages any product has texts in, each with its three columns.
	var langs []string
	for _, p := range snap.products {
		for lang := range p.Texts {
			if !slices.Contains(langs, lang) {
				langs = append(langs, lang)
			}
		}
	}
	slices.Sort(langs)
	for _, lang := range langs {
		for _, prefix := range textPrefixes {
			header = append(header, prefix+lang)
		}
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return 0, fmt.Errorf("export products: %w", err)
	}
	// By id, the order products were made in: a stable file to diff.
	products := slices.Clone(snap.products)
	slices.SortFunc(products, func(a, b *Product) int { return cmp.Compare(a.ID, b.ID) })
	for n, p := range products {
		for i, v := range p.Variants {
			rec := make([]string, 0, len(header))
			if i == 0 {
				limit := ""
				if p.PurchaseLimit > 0 {
					limit = strconv.Itoa(p.PurchaseLimit)
				}
				rec = append(rec, p.Slug, p.Name, p.Category, p.Description, formatPairs(p.Specs), p.Image, yesNo(p.Featured), limit)
			} else {
				rec = append(rec, p.Slug, "", "", "", "", "", "", "")
			}
			weight := ""
			if v.WeightG > 0 {
				weight = strconv.Itoa(v.WeightG)
			}
			rec = append(rec, v.SKU, v.Name, formatPairs(v.Options), weight)
			for _, m := range markets {
				price := ""
				if pr, ok := v.Prices[m.Code]; ok {
					price = pr.Decimal()
				}
				rec = append(rec, price)
			}
			for _, prefix := range marketPrefixes[1:] {
				for _, m := range markets {
					if i > 0 {
						rec = append(rec, "")
						continue
					}
					switch prefix {
					case "listed_":
						rec = append(rec, formatListing(p.Listings, m.Code))
					case "certs_":
						rec = append(rec, formatCerts(p.Certifications[m.Code]))
					case "resellers_":
						rec = append(rec, formatResellers(p.Resellers[m.Code]))
					}
				}
			}
			for _, lang := range langs {
				t := p.Texts[lang]
				if i == 0 {
					rec = append(rec, t.Name, t.Description, formatPairs(t.Specs))
				} else {
					rec = append(rec, "", "", "")
				}
				rec = append(rec, t.Variants[v.SKU])
			}
			if err := cw.Write(rec); err != nil {
				return n, fmt.Errorf("export products: %w", err)
			}
		}
		if opts.Progress != nil {
			opts.Progress(n+1, len(products))
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return len(products), fmt.Errorf("export products: %w", err)
	}
	return len(products), nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return ""
}

func formatPairs(ps []Spec) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Key + "=" + p.Value
	}
	return strings.Join(parts, "; ")
}

func formatListing(ls map[string]Listing, code string) string {
	// No listing and an unlisted one mean the same; "no" for both keeps a
	// re-export of an import identical.
	l := ls[code]
	switch {
	case !l.Listed:
		return "no"
	case l.LaunchAt.IsZero():
		return "yes"
	}
	return l.LaunchAt.UTC().Format(time.RFC3339)
}

func formatCerts(cs []Certification) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		until := ""
		if !c.ValidUntil.IsZero() {
			until = certTime(c.ValidUntil)
		}
		parts[i] = c.Scheme + " " + c.Reference + " " + certTime(c.ValidFrom) + ".." + until
	}
	return strings.Join(parts, "; ")
}

func formatResellers(rs []Reseller) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Name + " <" + strings.ReplaceAll(r.URL, ";", "%3B") + ">"
	}
	return strings.Join(parts, "; ")
}

// certTime writes a certificate's date, or its full time when it is not
// at midnight UTC, so that an export imports back to the same instant.
func certTime(t time.Time) string {
	t = t.UTC()
	if t.Equal(t.Truncate(24 * time.Hour)) {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339)
}
