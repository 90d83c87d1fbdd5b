package catalog_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"mistore/internal/catalog"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// TestProductTexts: a product's Chinese texts come in by CSV and by the
// back office, go out in the export, and show only where asked for; a
// view shared by every reader is never changed by translating it.
func TestProductTexts(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := staffCtx()
		s := newService(t, d, time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
		if _, err := s.Import(ctx, strings.NewReader(testCSV)); err != nil {
			t.Fatal(err)
		}
		texts := "slug,name,category,description,sku,variant,name_zh-Hans,description_zh-Hans,variant_zh-Hans\n" +
			"band-8,Mistore Band 8,wearables,\"A light band, with a bright screen.\",MB8-BLK,Black,Mistore 手环 8,轻巧的手环。,黑色\n" +
			"band-8,,,,MB8-BLU,Blue,,,蓝色\n"
		if _, err := s.Import(ctx, strings.NewReader(texts)); err != nil {
			t.Fatal(err)
		}
		v, err := s.Product(ctx, "cn", "band-8")
		if err != nil {
			t.Fatal(err)
		}
		zh := v.In("zh-Hans")
		if zh.Name != "Mistore 手环 8" || zh.Description != "轻巧的手环。" || zh.Variants[0].Name != "黑色" || zh.Variants[1].Name != "蓝色" {
			t.Errorf("zh view: %q %q %q %q", zh.Name, zh.Description, zh.Variants[0].Name, zh.Variants[1].Name)
		}
		if v.Name != "Mistore Band 8" || v.Variants[0].Name != "Black" || v.In("fr") != v {
			t.Errorf("translating changed the shared view, or a language without texts made a copy: %q %q", v.Name, v.Variants[0].Name)
		}
		// Search finds the product by its Chinese name.
		list, err := s.List(ctx, "cn", catalog.ListQuery{Q: "手环"})
		if err != nil || len(list.Products) != 1 || list.Products[0].Slug != "band-8" {
			t.Errorf("search 手环: %v %+v", err, list)
		}
		// A file with only variant names keeps the Chinese name.
		if _, err := s.Import(ctx, strings.NewReader("slug,name,category,description,sku,variant,variant_zh-Hans\nband-8,Mistore Band 8,wearables,\"A light band, with a bright screen.\",MB8-BLK,Black,墨黑\nband-8,,,,MB8-BLU,Blue,\n")); err != nil {
			t.Fatal(err)
		}
		p, _ := s.AdminProduct(ctx, "band-8")
		if tx := p.Texts["zh-Hans"]; tx.Name != "Mistore 手环 8" || tx.Variants["MB8-BLK"] != "墨黑" || tx.Variants["MB8-BLU"] != "" {
			t.Errorf("after a variant-only import: %+v", tx)
		}
		// The export writes the language's columns and imports back unchanged.
		var buf bytes.Buffer
		if _, err := s.Export(ctx, &buf, catalog.ExportOptions{}); err != nil {
			t.Fatal(err)
		}
		if header := strings.SplitN(buf.String(), "\n", 2)[0]; !strings.HasSuffix(header, ",name_zh-Hans,description_zh-Hans,specs_zh-Hans,variant_zh-Hans") {
			t.Errorf("export header %s", header)
		}
		first := buf.String()
		if _, err := s.Import(ctx, strings.NewReader(first)); err != nil {
			t.Fatal(err)
		}
		buf.Reset()
		s.Export(ctx, &buf, catalog.ExportOptions{})
		if buf.String() != first {
			t.Errorf("export, import, export differs:\n%s\n%s", first, buf.String())
		}
		// The back office sets and clears a language; every change is audited.
		specs := []catalog.Spec{{Key: "屏幕", Value: "6.7 英寸"}}
		if _, err := s.SetText(ctx, "phone-14", "zh-hans", catalog.ProductText{Name: "Mistore 手机 14", Specs: specs, Variants: map[string]string{"PH14-BLK": "黑色"}}); err != nil {
			t.Fatal(err)
		}
		pv, _ := s.Product(ctx, "cn", "phone-14")
		if zh := pv.In("zh-Hans"); zh.Name != "Mistore 手机 14" || zh.Description != "A phone." || len(zh.Specs) != 1 || zh.Specs[0] != specs[0] {
			t.Errorf("phone in Chinese: %q %q %v (an empty field shows English)", zh.Name, zh.Description, zh.Specs)
		}
		if pv.Specs[0].Key != "Display" {
			t.Errorf("the English specs changed: %v", pv.Specs)
		}
		if _, err := s.SetText(ctx, "phone-14", "zh-Hans", catalog.ProductText{}); err != nil {
			t.Fatal(err)
		}
		if pv, _ := s.Product(ctx, "cn", "phone-14"); len(pv.Texts) != 0 {
			t.Errorf("an empty text should remove the language: %+v", pv.Texts)
		}
		if got := auditActions(t, d, "product:phone-14"); strings.Count(strings.Join(got, ","), "product.text") != 2 {
			t.Errorf("audit: %v", got)
		}
		// Refused: English, a tag that is not one, a SKU of another product,
		// an overlong name; nothing changes.
		before := dump(t, d)
		for _, tc := range []struct {
			lang string
			text catalog.ProductText
		}{
			{"en", catalog.ProductText{Name: "x"}},
			{"en-GB", catalog.ProductText{Name: "x"}},
			{"not a tag!", catalog.ProductText{Name: "x"}},
			{"zh-Hans", catalog.ProductText{Variants: map[string]string{"MB8-BLK": "x"}}},
			{"zh-Hans", catalog.ProductText{Name: strings.Repeat("长", 201)}},
			{"zh-Hans", catalog.ProductText{Specs: []catalog.Spec{{Key: "", Value: "x"}}}},
		} {
			if _, err := s.SetText(ctx, "phone-14", tc.lang, tc.text); !errors.Is(err, catalog.ErrInvalid) && !errors.Is(err, catalog.ErrBadLanguage) {
				t.Errorf("SetText(%q, %+v) = %v, want refused", tc.lang, tc.text, err)
			}
		}
		for _, bad := range []string{
			"slug,name,category,sku,name_en\nband-8,Mistore Band 8,wearables,MB8-BLK,x\n",
			"slug,name,category,sku,name_zh-hans\nband-8,Mistore Band 8,wearables,MB8-BLK,x\n",
			"slug,name,category,sku,specs_zh-Hans\nband-8,Mistore Band 8,wearables,MB8-BLK,屏幕\n",
			"slug,name,category,sku,name_zh-Hans\nband-8,Mistore Band 8,wearables,MB8-BLK," + strings.Repeat("长", 201) + "\n",
		} {
			if _, err := s.Import(ctx, strings.NewReader(bad)); err == nil {
				t.Errorf("import accepted %q", bad[:60])
			}
		}
		if dump(t, d) != before {
			t.Error("a refused text changed the catalog")
		}
	})
}
