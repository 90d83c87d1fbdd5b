package loadtest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

const (
	discoveryPerPage = 100
	// discoveryMaxPages bounds discovery against a server whose total or
	// paging is broken, which would otherwise loop forever.
	discoveryMaxPages = 1000
	// discoveryTimeout bounds each discovery request; the load phase has its
	// own deadline, but discovery precedes it.
	discoveryTimeout = 15 * time.Second
	// maxDiscoveryBody caps how much of a page is decoded, so a misdirected
	// target (say a large file) cannot exhaust memory.
	maxDiscoveryBody = 32 << 20
	// maxDerivedTerms keeps the search terms to the most frequent words:
	// they match many products, like real searches do.
	maxDerivedTerms = 20
)

// fixedSearchTerms are always searched for, whatever discovery finds, so
// multi-word and short queries are part of the mix too.
func fixedSearchTerms() []string { return []string{"power bank", "band"} }

// catalog is what discovery learned about the store.
type catalog struct {
	slugs      []string
	categories []string
	terms      []string
	// products are the listed products in listing order, for the checkout
	// scenario to choose what to buy.
	products []productSummary
}

// productSummary is the part of a product list entry that discovery needs.
type productSummary struct {
	Slug         string `json:"slug"`
	Name         string `json:"name"`
	Category     string `json:"category"`
	Availability string `json:"availability"`
	Price        *struct {
		Amount int64 `json:"amount"`
	} `json:"price"`
}

// productPage is the part of the product list API that discovery needs.
type productPage struct {
	Products []productSummary `json:"products"`
	Page     int              `json:"page"`
	PerPage  int              `json:"per_page"`
	Total    int              `json:"total"`
}

// discover pages through the product list API of target and collects slugs,
// categories and search terms.
func discover(ctx context.Context, client *http.Client, target, market string) (*catalog, error) {
	base := strings.TrimRight(target, "/") + "/api/v1/markets/" + url.PathEscape(market) + "/products"
	seenSlug := make(map[string]bool)
	seenCategory := make(map[string]bool)
	wordCount := make(map[string]int)
	cat := &catalog{}
	for page := 1; page <= discoveryMaxPages; page++ {
		raw := base + "?per_page=" + strconv.Itoa(discoveryPerPage) + "&page=" + strconv.Itoa(page)
		p, err := fetchProductPage(ctx, client, raw)
		if err != nil {
			return nil, fmt.Errorf("discover products: %w", err)
		}
		for _, pr := range p.Products {
			if pr.Slug != "" && !seenSlug[pr.Slug] {
				seenSlug[pr.Slug] = true
				cat.slugs = append(cat.slugs, pr.Slug)
				cat.products = append(cat.products, pr)
			}
			if pr.Category != "" && !seenCategory[pr.Category] {
				seenCategory[pr.Category] = true
				cat.categories = append(cat.categories, pr.Category)
			}
			for _, w := range searchWords(pr.Name) {
				wordCount[w]++
			}
		}
		// An empty page ends the walk even if total claims more, so a store
		// whose count and listing disagree still terminates; without a total,
		// a short page is the last one.
		if len(p.Products) == 0 ||
			(p.Total > 0 && len(cat.slugs) >= p.Total) ||
			(p.Total <= 0 && len(p.Products) < discoveryPerPage) {
			break
		}
	}
	if len(cat.slugs) == 0 {
		return nil, fmt.Errorf("discover products: no products found at %s for market %q", base, market)
	}
	slices.Sort(cat.categories)
	cat.terms = searchTerms(wordCount)
	return cat, nil
}

// fetchProductPage fetches and decodes one page of the product list API.
func fetchProductPage(ctx context.Context, client *http.Client, raw string) (*productPage, error) {
	var p productPage
	if err := fetchJSON(ctx, client, raw, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// fetchJSON GETs raw and decodes its JSON answer into v.
func fetchJSON(ctx context.Context, client *http.Client, raw string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return fmt.Errorf("build request %s: %w", raw, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", raw, err)
	}
	defer resp.Body.Close()
	body := io.LimitReader(resp.Body, maxDiscoveryBody)
	if resp.StatusCode != http.StatusOK {
		snippet, _ := io.ReadAll(io.LimitReader(body, 200))
		return fmt.Errorf("GET %s: status %s: %q", raw, resp.Status, strings.TrimSpace(string(snippet)))
	}
	if err := json.NewDecoder(body).Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("GET %s: decode: %w", raw, err)
	}
	// Drain the rest so the connection goes back to the pool for the run.
	_, _ = io.Copy(io.Discard, body)
	return nil
}

// searchWords splits a product name into the lowercase words that make useful
// search terms: letters only and longer than three, so model numbers such as
// "10000mah" and short words such as "usb" are left out.
func searchWords(name string) []string {
	var words []string
	for _, f := range strings.FieldsFunc(strings.ToLower(name), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if len([]rune(f)) <= 3 || strings.IndexFunc(f, func(r rune) bool { return !unicode.IsLetter(r) }) >= 0 {
			continue
		}
		words = append(words, f)
	}
	return words
}

// searchTerms returns the fixed terms plus the most frequent words, most
// frequent first, ties alphabetical so runs are comparable.
func searchTerms(counts map[string]int) []string {
	words := make([]string, 0, len(counts))
	for w := range counts {
		words = append(words, w)
	}
	slices.SortFunc(words, func(a, b string) int {
		if c := cmp.Compare(counts[b], counts[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	terms := fixedSearchTerms()
	for _, w := range words {
		if len(terms) >= maxDerivedTerms+len(fixedSearchTerms()) {
			break
		}
		if !slices.Contains(terms, w) {
			terms = append(terms, w)
		}
	}
	return terms
}
