package web

import (
	"strings"
	"testing"
	"time"

	"mistore/internal/catalog"
	"mistore/internal/locale"
	"mistore/internal/market"
	"mistore/internal/money"
)

// TestAvailabilityReasonsTranslated: every availability reason reads, on
// an English page, exactly as the API's Reason, and in Chinese without
// an untranslated word, its date written the Chinese way.
func TestAvailabilityReasonsTranslated(t *testing.T) {
	t.Parallel()
	cat, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	en, in, zh := cat.Lang("en-US"), cat.Lang("en-IN"), cat.Lang("zh-CN")
	set := market.NewSet(
		[]market.Market{{Code: "us", Name: "United States", Currency: "USD"}, {Code: "cn", Name: "China", Currency: "CNY"}},
		[]market.Scheme{
			{Code: "FCC", Name: "FCC equipment authorization", Authority: "the Federal Communications Commission"},
			{Code: "CCC", Name: "China Compulsory Certification", Authority: "the Certification and Accreditation Administration of China"},
		},
		map[string]map[string][]string{"us": {"phones": {"FCC"}}, "cn": {"phones": {"CCC"}}},
	)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	launch := time.Date(2027, 3, 1, 16, 0, 0, 0, time.UTC)
	phone := func() *catalog.Product {
		return &catalog.Product{Name: "Mistore Phone 14", Category: "phones",
			Variants: []catalog.Variant{{SKU: "P", Prices: map[string]money.Money{"us": money.New(100, "USD"), "cn": money.New(100, "CNY")}}},
			Listings: map[string]catalog.Listing{"us": {Listed: true}, "cn": {Listed: true}},
			Certifications: map[string][]catalog.Certification{
				"us": {{Scheme: "FCC", Reference: "F1", ValidFrom: now.AddDate(-1, 0, 0)}},
				"cn": {{Scheme: "CCC", Reference: "C1", ValidFrom: now.AddDate(-1, 0, 0)}},
			}}
	}
	for _, tc := range []struct {
		name, market string
		change       func(p *catalog.Product)
		stock        int
		zh           string
	}{
		{"unlisted", "us", func(p *catalog.Product) { p.Listings["us"] = catalog.Listing{} }, 5, "Mistore Phone 14 不在美国销售。"},
		{"coming", "cn", func(p *catalog.Product) { p.Listings["cn"] = catalog.Listing{Listed: true, LaunchAt: launch} }, 5,
			"Mistore Phone 14 将于2027年3月1日在中国上市。"},
		{"uncertified", "cn", func(p *catalog.Product) { delete(p.Certifications, "cn") }, 5,
			"Mistore Phone 14 不在中国销售：该商品尚未取得国家认证认可监督管理委员会颁发的中国强制性产品认证（CCC），而中国要求手机必须具备此认证。"},
		{"certificate ahead", "us", func(p *catalog.Product) {
			p.Certifications["us"] = []catalog.Certification{{Scheme: "FCC", Reference: "F2", ValidFrom: launch}}
		}, 5, "Mistore Phone 14 暂未在美国销售：其FCC 设备认证（F2）将于2027年3月1日生效。"},
		{"unpriced", "cn", func(p *catalog.Product) { delete(p.Variants[0].Prices, "cn") }, 5, "Mistore Phone 14 暂未在中国定价。"},
		{"sold out", "cn", nil, 0, "Mistore Phone 14 在中国暂时缺货。"},
	} {
		p := phone()
		if tc.change != nil {
			tc.change(p)
		}
		m, _ := set.Get(tc.market)
		a := catalog.Decide(p, &p.Variants[0], catalog.Rules{Market: m, Schemes: set, CategoryName: "Phones"}, tc.stock, 1, now)
		if got := en.Say(a.Why); got != a.Reason || a.Why.String() != a.Reason {
			t.Errorf("%s: the English page says %q, the API %q", tc.name, got, a.Reason)
		}
		if got := zh.Say(a.Why); got != tc.zh {
			t.Errorf("%s in Chinese: %q, want %q", tc.name, got, tc.zh)
		}
		if tc.name == "coming" {
			if got := in.Say(a.Why); !strings.Contains(got, "on 1 March 2027") {
				t.Errorf("in India the date reads day first: %q", got)
			}
		}
	}
	if m := cat.Missing(); len(m) > 0 {
		t.Errorf("untranslated: %q", m)
	}
}

// TestPageErrorText: a refusal's sentence on a page is the API's in
// English and translated in Chinese; a sentence that holds what a visitor
// typed is never read as a format.
func TestPageErrorText(t *testing.T) {
	t.Parallel()
	cat, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	en, zh := cat.Lang("en-US"), cat.Lang("zh-CN")
	for _, d := range []time.Duration{time.Second, 30 * time.Second, 5 * time.Minute} {
		if got, want := waitWords(en, d), waitText(d); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
	if got := waitWords(zh, 30*time.Second); got != "30 秒" {
		t.Errorf("30s in Chinese: %q", got)
	}
	if got := pageErrorText(zh, catalog.ErrNotFound); got != "没有这件商品。" {
		t.Errorf("not found in Chinese: %q", got)
	}
	if got := pageErrorText(en, catalog.ErrNotFound); got != "There is no such product." {
		t.Errorf("not found in English: %q", got)
	}
	if got := pageText(zh, `there is no category "100%s"`); got != `there is no category "100%s"` {
		t.Errorf("a typed %%: %q", got)
	}
	if m := cat.Missing(); len(m) > 0 {
		t.Errorf("untranslated: %q", m)
	}
}
