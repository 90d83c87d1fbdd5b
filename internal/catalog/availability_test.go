package catalog

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"mistore/internal/locale"
	"mistore/internal/market"
	"mistore/internal/money"
)

func testMarkets() *market.Set {
	return market.NewSet(
		[]market.Market{
			{Code: "us", Name: "United States", Currency: "USD"},
			{Code: "cn", Name: "China", Currency: "CNY", TaxIncluded: true},
		},
		[]market.Scheme{
			{Code: "FCC", Name: "FCC equipment authorization", Authority: "the Federal Communications Commission"},
			{Code: "SRRC", Name: "SRRC radio type approval", Authority: "the State Radio Regulation of China"},
			{Code: "CCC", Name: "China Compulsory Certification", Authority: "CNCA"},
		},
		map[string]map[string][]string{
			"us": {"phones": {"FCC"}},
			"cn": {"phones": {"SRRC", "CCC"}},
		},
	)
}

var (
	now      = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	lastYear = now.AddDate(-1, 0, 0)
	nextYear = now.AddDate(1, 0, 0)
)

// phone returns a product that is sellable in the US, for each test case
// to break one clause of.
func phone() *Product {
	return &Product{
		Slug: "phone", Name: "Mistore Phone", Category: "phones",
		Variants: []Variant{{SKU: "PH-1", Name: "Black", Prices: map[string]money.Money{
			"us": money.New(49900, "USD"), "cn": money.New(299900, "CNY"),
		}}},
		Listings: map[string]Listing{"us": {Listed: true}, "cn": {Listed: true}},
		Certifications: map[string][]Certification{
			"us": {{Scheme: "FCC", Reference: "2AFZZ-PH1", ValidFrom: lastYear}},
			"cn": {{Scheme: "SRRC", Reference: "S1", ValidFrom: lastYear}, {Scheme: "CCC", Reference: "C1", ValidFrom: lastYear}},
		},
	}
}

func TestDecide(t *testing.T) {
	set := testMarkets()
	us, _ := set.Get("us")
	cn, _ := set.Get("cn")
	tests := []struct {
		name   string
		market market.Market
		change func(p *Product)
		stock  int
		qty    int
		want   State
		reason string // a piece of the reason
	}{
		{name: "everything holds", market: us, stock: 5, qty: 1, want: Available},
		{name: "exact last unit", market: us, stock: 3, qty: 3, want: Available},
		{name: "not listed", market: us, stock: 5, qty: 1, want: NotSold, reason: "is not sold in the United States",
			change: func(p *Product) { p.Listings["us"] = Listing{Listed: false} }},
		{name: "no listing row at all", market: us, stock: 5, qty: 1, want: NotSold, reason: "not sold",
			change: func(p *Product) { delete(p.Listings, "us") }},
		{name: "launch ahead", market: us, stock: 5, qty: 1, want: ComingSoon, reason: "comes to the United States on November 27, 2027",
			change: func(p *Product) { p.Listings["us"] = Listing{Listed: true, LaunchAt: nextYear} }},
		{name: "launch passed", market: us, stock: 5, qty: 1, want: Available,
			change: func(p *Product) { p.Listings["us"] = Listing{Listed: true, LaunchAt: lastYear} }},
		{name: "launch exactly now", market: us, stock: 5, qty: 1, want: Available,
			change: func(p *Product) { p.Listings["us"] = Listing{Listed: true, LaunchAt: now} }},
		{name: "no certificate", market: us, stock: 5, qty: 1, want: NotSold, reason: "does not have an FCC equipment authorization",
			change: func(p *Product) { delete(p.Certifications, "us") }},
		{name: "expired certificate", market: us, stock: 5, qty: 1, want: NotSold, reason: "expired on",
			change: func(p *Product) {
				p.Certifications["us"] = []Certification{{Scheme: "FCC", Reference: "X", ValidFrom: lastYear, ValidUntil: now.Add(-time.Hour)}}
			}},
		{name: "certificate ends exactly now", market: us, stock: 5, qty: 1, want: NotSold, reason: "expired",
			change: func(p *Product) {
				p.Certifications["us"] = []Certification{{Scheme: "FCC", Reference: "X", ValidFrom: lastYear, ValidUntil: now}}
			}},
		{name: "certificate not yet valid", market: us, stock: 5, qty: 1, want: NotSold, reason: "takes effect on",
			change: func(p *Product) {
				p.Certifications["us"] = []Certification{{Scheme: "FCC", Reference: "X", ValidFrom: nextYear}}
			}},
		{name: "renewed certificate beside an expired one", market: us, stock: 5, qty: 1, want: Available,
			change: func(p *Product) {
				p.Certifications["us"] = []Certification{
					{Scheme: "FCC", Reference: "OLD", ValidFrom: lastYear.AddDate(-5, 0, 0), ValidUntil: lastYear},
					{Scheme: "FCC", Reference: "NEW", ValidFrom: lastYear},
				}
			}},
		{name: "wrong scheme", market: us, stock: 5, qty: 1, want: NotSold, reason: "FCC",
			change: func(p *Product) {
				p.Certifications["us"] = []Certification{{Scheme: "CCC", Reference: "X", ValidFrom: lastYear}}
			}},
		{name: "certificate for another market", market: us, stock: 5, qty: 1, want: NotSold, reason: "FCC",
			change: func(p *Product) {
				p.Certifications["us"] = nil
				p.Certifications["cn"] = append(p.Certifications["cn"], Certification{Scheme: "FCC", Reference: "X", ValidFrom: lastYear})
			}},
		{name: "one of two required schemes missing", market: cn, stock: 5, qty: 1, want: NotSold, reason: "China Compulsory Certification",
			change: func(p *Product) {
				p.Certifications["cn"] = []Certification{{Scheme: "SRRC", Reference: "S1", ValidFrom: lastYear}}
			}},
		{name: "both schemes", market: cn, stock: 5, qty: 1, want: Available},
		{name: "category needs nothing", market: us, stock: 5, qty: 1, want: Available,
			change: func(p *Product) { p.Category = "power-banks"; delete(p.Certifications, "us") }},
		{name: "missing price", market: us, stock: 5, qty: 1, want: NotSold, reason: "not priced for the United States",
			change: func(p *Product) { delete(p.Variants[0].Prices, "us") }},
		{name: "price in the wrong currency", market: us, stock: 5, qty: 1, want: NotSold, reason: "not priced",
			change: func(p *Product) { p.Variants[0].Prices["us"] = money.New(100, "CNY") }},
		{name: "zero stock", market: us, stock: 0, qty: 1, want: OutOfStock, reason: "out of stock in the United States"},
		{name: "less stock than asked", market: us, stock: 2, qty: 3, want: OutOfStock, reason: "Only 2"},
		{name: "uncertified and out of stock says why it is not sold", market: us, stock: 0, qty: 1, want: NotSold, reason: "FCC",
			change: func(p *Product) { delete(p.Certifications, "us") }},
		{name: "launch ahead but uncertified is not sold", market: us, stock: 5, qty: 1, want: NotSold, reason: "FCC",
			change: func(p *Product) {
				delete(p.Certifications, "us")
				p.Listings["us"] = Listing{Listed: true, LaunchAt: nextYear}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := phone()
			if tt.change != nil {
				tt.change(p)
			}
			r := Rules{Market: tt.market, Schemes: set, CategoryName: "Phones"}
			got := Decide(p, &p.Variants[0], r, tt.stock, tt.qty, now)
			if got.State != tt.want {
				t.Fatalf("state = %s (%s), want %s", got.State, got.Reason, tt.want)
			}
			if tt.want == Available && got.Reason != "" {
				t.Errorf("available with a reason: %q", got.Reason)
			}
			if tt.want != Available && !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("reason %q does not contain %q", got.Reason, tt.reason)
			}
		})
	}
}

func TestDecideProduct(t *testing.T) {
	set := testMarkets()
	us, _ := set.Get("us")
	r := Rules{Market: us, Schemes: set, CategoryName: "Phones"}
	p := phone()
	p.Variants = append(p.Variants, Variant{SKU: "PH-2", Name: "Blue", Prices: map[string]money.Money{"us": money.New(49900, "USD")}})

	whole, per := DecideProduct(p, r, map[string]int{"PH-2": 1}, now)
	if whole.State != Available || per[0].State != OutOfStock || per[1].State != Available {
		t.Errorf("one variant in stock: %v %v", whole, per)
	}
	whole, _ = DecideProduct(p, r, map[string]int{}, now)
	if whole.State != OutOfStock || !strings.Contains(whole.Reason, "Mistore Phone is out of stock") {
		t.Errorf("no stock: %+v", whole)
	}
	delete(p.Certifications, "us")
	whole, per = DecideProduct(p, r, map[string]int{"PH-1": 9}, now)
	if whole.State != NotSold || per[0].State != NotSold || !strings.Contains(whole.Reason, "phones") {
		t.Errorf("uncertified: %+v %+v", whole, per)
	}
}

func BenchmarkDecideProduct(b *testing.B) {
	set := testMarkets()
	us, _ := set.Get("us")
	r := Rules{Market: us, Schemes: set, CategoryName: "Phones"}
	p := phone()
	stock := map[string]int{"PH-1": 10}
	b.ReportAllocs()
	for b.Loop() {
		DecideProduct(p, r, stock, now)
	}
}

func TestSearchTermsNeutraliseSyntax(t *testing.T) {
	tests := map[string]string{
		`power bank`:                 `"power" AND "bank"*`,
		`"power`:                     `"power"*`,
		`band*`:                      `"band"*`,
		`band OR phone`:              `"band" AND "or" AND "phone"*`,
		`'; DROP TABLE products; --`: `"drop" AND "table" AND "products"*`,
		`NEAR(a b)`:                  `"near" AND "a" AND "b"*`,
		`-x ^y :z`:                   `"x" AND "y" AND "z"*`,
	}
	for in, want := range tests {
		if got := ftsQuery(searchTerms(in)); got != want {
			t.Errorf("ftsQuery(%q) = %s, want %s", in, got, want)
		}
	}
	if got := tsQuery(searchTerms(`a & b | !c:*`)); got != "a & b & c:*" {
		t.Errorf("tsQuery = %s", got)
	}
	if got := searchTerms(strings.Repeat("word ", 100)); len(got) != maxSearchTerms {
		t.Errorf("%d terms, want %d", len(got), maxSearchTerms)
	}
}

func FuzzSearchTerms(f *testing.F) {
	for _, s := range []string{"power bank", `"*()`, "手环 band", "'; DROP"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words := searchTerms(s)
		for _, w := range words {
			if w == "" || strings.ContainsAny(w, "\"*:&|!()'^- ") {
				t.Fatalf("term %q from %q carries syntax", w, s)
			}
		}
		// Splitting off the CJK runs loses no character and mixes no
		// script into the other side.
		indexed, runs := splitCJK(words)
		for _, w := range indexed {
			if w == "" || strings.ContainsFunc(w, isCJK) {
				t.Fatalf("indexed word %q from %q", w, s)
			}
		}
		n := 0
		for _, r := range runs {
			if r == "" || strings.ContainsFunc(r, func(c rune) bool { return !isCJK(c) }) {
				t.Fatalf("run %q from %q", r, s)
			}
			n += len(r)
		}
		for _, w := range indexed {
			n += len(w)
		}
		if want := len(strings.Join(words, "")); n != want {
			t.Fatalf("split of %q keeps %d bytes of %d", s, n, want)
		}
	})
}

func TestSplitCJK(t *testing.T) {
	for in, want := range map[string][2]string{
		"耳机":               {"", "耳机"},
		"mistore 头戴式耳机 h1": {"mistore h1", "头戴式耳机"},
		"手环8腕带":            {"8", "手环 腕带"},
		"usb-c 数据线":        {"usb c", "数据线"},
		"power bank":       {"power bank", ""},
	} {
		indexed, runs := splitCJK(searchTerms(in))
		if got := [2]string{strings.Join(indexed, " "), strings.Join(runs, " ")}; got != want {
			t.Errorf("splitCJK(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLocalFullNameIndexed checks that the names worked out when texts
// are loaded say the same as those worked out on the spot.
func TestLocalFullNameIndexed(t *testing.T) {
	p := &Product{Name: "Band 8", Variants: []Variant{{SKU: "B-BLK", Name: "Black"}, {SKU: "B-PNK", Name: "Pink"}},
		Texts: map[string]ProductText{"zh-Hans": {Name: "手环 8", Variants: map[string]string{"B-BLK": "黑色"}}}}
	fresh := []any{LocalFullName(p, nil), LocalFullName(p, &p.Variants[0]), LocalFullName(p, &p.Variants[1])}
	p.indexNames()
	if p.names == nil {
		t.Fatal("no index")
	}
	for i, v := range []*Variant{nil, &p.Variants[0], &p.Variants[1]} {
		if got := LocalFullName(p, v); fmt.Sprint(got) != fmt.Sprint(fresh[i]) || fmt.Sprint(got.In) != fmt.Sprint(fresh[i].(locale.Name).In) {
			t.Errorf("%d: indexed %+v, on the spot %+v", i, got, fresh[i])
		}
	}
	if got := LocalFullName(p, &p.Variants[1]).In["zh-Hans"]; got != "手环 8 (Pink)" {
		t.Errorf("a variant without a Chinese name: %q", got)
	}
}
