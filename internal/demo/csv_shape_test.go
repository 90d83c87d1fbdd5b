package demo

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var columns = []string{
	"slug", "name", "category", "description", "specs", "image", "featured",
	"sku", "variant", "options", "weight_g",
	"price_us", "price_cn", "price_in",
	"listed_us", "listed_cn", "listed_in",
	"certs_us", "certs_cn", "certs_in",
	"resellers_us", "resellers_cn", "resellers_in",
	"stock_us-east", "stock_us-west", "stock_cn-east", "stock_in-south",
	"name_zh-Hans", "description_zh-Hans", "specs_zh-Hans", "variant_zh-Hans",
}

// productLevel are the columns filled only on a product's first row.
var productLevel = []string{
	"name", "category", "description", "specs", "image", "featured",
	"listed_us", "listed_cn", "listed_in",
	"certs_us", "certs_cn", "certs_in",
	"resellers_us", "resellers_cn", "resellers_in",
	"name_zh-Hans", "description_zh-Hans", "specs_zh-Hans",
}

// required lists, per market and category, the certification schemes the
// store demands before a product may be sold there.
var required = map[string]map[string][]string{
	"us": {"wearables": {"FCC"}, "audio": {"FCC"}, "phones": {"FCC"}, "tablets": {"FCC"}},
	"cn": {
		"wearables": {"SRRC"}, "audio": {"SRRC"},
		"phones": {"SRRC", "CCC"}, "tablets": {"SRRC", "CCC"}, "power-banks": {"CCC"},
	},
	"in": {"phones": {"BIS"}, "tablets": {"BIS"}, "power-banks": {"BIS"}, "wearables": {"BIS"}},
}

var (
	slugRE  = regexp.MustCompile(`^[a-z0-9-]+$`)
	skuRE   = regexp.MustCompile(`^[A-Z0-9-]+$`)
	certRE  = regexp.MustCompile(`^([A-Z]+) (\S+) (\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})?$`)
	resRE   = regexp.MustCompile(`^[^<>;]+ <https://[^<>\s]+>$`)
	priceRE = regexp.MustCompile(`^\d+(\.\d{2})?$`)
	timeRE  = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$`)
)

var categories = map[string]bool{
	"wearables": true, "power-banks": true, "audio": true,
	"accessories": true, "phones": true, "tablets": true,
}

// readCatalog parses ProductsCSV into the header index and the data rows.
func readCatalog(t *testing.T) (map[string]int, [][]string) {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(ProductsCSV))
	r.FieldsPerRecord = 0 // every record must have as many fields as the header
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("parse products.csv: %v", err)
	}
	if len(recs) < 2 {
		t.Fatalf("products.csv has %d records, want a header and rows", len(recs))
	}
	col := make(map[string]int, len(recs[0]))
	for i, h := range recs[0] {
		if _, dup := col[h]; dup {
			t.Errorf("duplicate column %q", h)
		}
		col[h] = i
	}
	for _, c := range columns {
		if _, ok := col[c]; !ok {
			t.Errorf("header lacks column %q", c)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return col, recs[1:]
}

type product struct {
	first []string // the product's first row
	rows  [][]string
}

func TestCatalogShape(t *testing.T) {
	col, rows := readCatalog(t)
	get := func(row []string, c string) string { return row[col[c]] }

	skus := map[string]bool{}
	seen := map[string]bool{}
	var order []string
	products := map[string]*product{}
	prev := ""
	for i, row := range rows {
		line := i + 2
		slug, sku := get(row, "slug"), get(row, "sku")
		if !slugRE.MatchString(slug) {
			t.Errorf("line %d: bad slug %q", line, slug)
		}
		if !skuRE.MatchString(sku) {
			t.Errorf("line %d: bad sku %q", line, sku)
		}
		if skus[sku] {
			t.Errorf("line %d: duplicate sku %q", line, sku)
		}
		skus[sku] = true
		if get(row, "variant") == "" {
			t.Errorf("line %d: empty variant", line)
		}
		if get(row, "variant_zh-Hans") == "" {
			t.Errorf("line %d: empty variant_zh-Hans", line)
		}
		if n, err := strconv.Atoi(get(row, "weight_g")); err != nil || n <= 0 {
			t.Errorf("line %d: bad weight_g %q", line, get(row, "weight_g"))
		}
		for _, m := range []string{"us", "cn", "in"} {
			if p := get(row, "price_"+m); p != "" && !priceRE.MatchString(p) {
				t.Errorf("line %d: bad price_%s %q", line, m, p)
			}
		}
		for _, wh := range []string{"us-east", "us-west", "cn-east", "in-south"} {
			if n, err := strconv.Atoi(get(row, "stock_"+wh)); err != nil || n < 0 {
				t.Errorf("line %d: bad stock_%s %q", line, wh, get(row, "stock_"+wh))
			}
		}
		if slug != prev {
			if seen[slug] {
				t.Errorf("line %d: rows of %q are not consecutive", line, slug)
			}
			seen[slug] = true
			order = append(order, slug)
			products[slug] = &product{first: row}
			for _, c := range []string{"name", "name_zh-Hans", "description_zh-Hans", "specs_zh-Hans"} {
				if get(row, c) == "" {
					t.Errorf("line %d: first row of %q has no %s", line, slug, c)
				}
			}
			en, zh := specPairs(get(row, "specs")), specPairs(get(row, "specs_zh-Hans"))
			if len(en) != len(zh) {
				t.Errorf("line %d: %q has %d specs but %d specs_zh-Hans", line, slug, len(en), len(zh))
			}
			for _, kv := range zh {
				if k, v, ok := strings.Cut(kv, "="); !ok || strings.TrimSpace(k) == "" || strings.TrimSpace(v) == "" || strings.Contains(v, "=") {
					t.Errorf("line %d: %q specs_zh-Hans entry %q is not Key=Value", line, slug, kv)
				}
			}
		} else {
			for _, c := range productLevel {
				if v := get(row, c); v != "" {
					t.Errorf("line %d: %s set on a further variant row of %q: %q", line, c, slug, v)
				}
			}
		}
		products[slug].rows = append(products[slug].rows, row)
		prev = slug
	}

	for _, slug := range order {
		p := products[slug]
		first := p.first
		cat := get(first, "category")
		if !categories[cat] {
			t.Errorf("%s: unknown category %q", slug, cat)
		}
		img := get(first, "image")
		if img == "" {
			t.Errorf("%s: no image", slug)
		} else if _, err := os.Stat(filepath.Join("..", "web", "static", "art", img+".svg")); err != nil {
			t.Errorf("%s: image %q: %v", slug, img, err)
		}
		if f := get(first, "featured"); f != "" && f != "yes" {
			t.Errorf("%s: featured = %q, want yes or empty", slug, f)
		}
		for _, m := range []string{"us", "cn", "in"} {
			checkListed(t, slug, m, get(first, "listed_"+m))
			schemes := checkCerts(t, slug, m, get(first, "certs_"+m))
			checkResellers(t, slug, m, get(first, "resellers_"+m))
			if m == "us" && (cat == "phones" || cat == "tablets") {
				continue // not sold in the US: checked below
			}
			for _, s := range required[m][cat] {
				if !schemes[s] {
					t.Errorf("%s: %s market needs %s for %s", slug, m, s, cat)
				}
			}
		}
		if cat == "phones" || cat == "tablets" {
			if v := get(first, "certs_us"); v != "" {
				t.Errorf("%s: %s must have no certs_us, got %q", slug, cat, v)
			}
			if get(first, "resellers_us") == "" {
				t.Errorf("%s: %s need resellers_us", slug, cat)
			}
			for _, row := range p.rows {
				if v := get(row, "price_us"); v != "" {
					t.Errorf("%s: %s must have no price_us, got %q", slug, get(row, "sku"), v)
				}
			}
		}
	}
}

// specPairs splits a Key=Value; Key=Value cell into its non-empty entries.
func specPairs(v string) []string {
	var out []string
	for _, e := range strings.Split(v, ";") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

func checkListed(t *testing.T, slug, market, v string) {
	t.Helper()
	switch v {
	case "", "no", "yes":
		return
	}
	if !timeRE.MatchString(v) {
		t.Errorf("%s: listed_%s = %q, want empty, no, yes or an RFC 3339 UTC time", slug, market, v)
	}
}

// checkCerts validates a certs_* cell and returns the schemes it names.
func checkCerts(t *testing.T, slug, market, v string) map[string]bool {
	t.Helper()
	schemes := map[string]bool{}
	if v == "" {
		return schemes
	}
	for _, e := range strings.Split(v, ";") {
		m := certRE.FindStringSubmatch(strings.TrimSpace(e))
		if m == nil {
			t.Errorf("%s: certs_%s entry %q is not SCHEME REFERENCE FROM..UNTIL", slug, market, e)
			continue
		}
		if m[4] != "" && m[4] <= m[3] {
			t.Errorf("%s: certs_%s entry %q ends before it starts", slug, market, e)
		}
		schemes[m[1]] = true
	}
	return schemes
}

func checkResellers(t *testing.T, slug, market, v string) {
	t.Helper()
	if v == "" {
		return
	}
	for _, e := range strings.Split(v, ";") {
		if !resRE.MatchString(strings.TrimSpace(e)) {
			t.Errorf("%s: resellers_%s entry %q is not Name <https://url>", slug, market, e)
		}
	}
}

// TestCatalogStory checks the demo story: exactly one product launching
// later in the US and exactly one sold out there.
func TestCatalogStory(t *testing.T) {
	col, rows := readCatalog(t)
	get := func(row []string, c string) string { return row[col[c]] }

	var comingSoon []string
	usStock := map[string]int{}
	var cat = map[string]string{}
	var order []string
	for _, row := range rows {
		slug := get(row, "slug")
		if get(row, "name") != "" {
			order = append(order, slug)
			cat[slug] = get(row, "category")
			if l := get(row, "listed_us"); l != "" && l != "yes" && l != "no" {
				comingSoon = append(comingSoon, slug)
			}
		}
		for _, wh := range []string{"stock_us-east", "stock_us-west"} {
			n, _ := strconv.Atoi(get(row, wh))
			usStock[slug] += n
		}
	}
	if len(comingSoon) != 1 {
		t.Errorf("coming soon in the US: %v, want exactly one", comingSoon)
	}
	var soldOut []string
	for _, slug := range order {
		if cat[slug] != "phones" && cat[slug] != "tablets" && usStock[slug] == 0 {
			soldOut = append(soldOut, slug)
		}
	}
	if len(soldOut) != 1 {
		t.Errorf("out of stock in the US: %v, want exactly one", soldOut)
	}
}
