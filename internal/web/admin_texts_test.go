package web_test

import (
	"net/http"
	"strings"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// TestProductTextsInChinese: a manager gives a product its Chinese words
// through the API; the cn store shows them (and finds the product by
// them), the US store and the English cn pages keep the English, and
// refused input changes nothing.
func TestProductTextsInChinese(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		manager := bearer(s.adminKey("manager"))
		const path = "/api/v1/admin/products/mistore-band-8/texts/zh-Hans"
		body := `{"name":"Mistore 手环 8","description":"轻巧的健身手环。","specs":[{"key":"续航","value":"最长 16 天"}],"variants":{"MB8-BLK":"曜石黑"}}`
		st, out, _ := s.do("PUT", path, body, manager...)
		if st != http.StatusOK || !strings.Contains(out, `"texts":{"zh-Hans":{"name":"Mistore 手环 8"`) {
			t.Fatalf("PUT texts: %d %s", st, out)
		}
		if auditCount(t, d, "product.text", "product:mistore-band-8") != 1 {
			t.Error("setting texts was not audited")
		}
		page := func(path string, hdr ...string) string {
			t.Helper()
			st, body, _ := s.do("GET", path, "", hdr...)
			if st != http.StatusOK {
				t.Fatalf("GET %s: %d", path, st)
			}
			return body
		}
		cn := page("/cn/products/mistore-band-8")
		for _, want := range []string{"<h1", "Mistore 手环 8", "轻巧的健身手环。", "曜石黑", "最长 16 天", `"name":"Mistore 手环 8"`} {
			if !strings.Contains(cn, want) {
				t.Errorf("the cn product page lacks %q", want)
			}
		}
		if list := page("/cn/products?q=手环"); !strings.Contains(list, "Mistore 手环 8") {
			t.Error("the cn search does not find the band by its Chinese name")
		}
		if us := page("/us/products/mistore-band-8"); strings.Contains(us, "手环") || !strings.Contains(us, "Mistore Band 8") {
			t.Error("the US page shows the Chinese text")
		}
		if en := page("/cn/products/mistore-band-8", "Cookie", "mistore_lang_cn=en-CN"); strings.Contains(en, "手环") {
			t.Error("the cn page in English shows the Chinese text")
		}
		// Refused: English, not a tag, a SKU of another product, malformed
		// JSON, a viewer's key; the texts stay as they were.
		for _, tc := range []struct {
			path, body string
			hdr        []string
			status     int
		}{
			{"/api/v1/admin/products/mistore-band-8/texts/en", `{"name":"x"}`, manager, 422},
			{"/api/v1/admin/products/mistore-band-8/texts/no_such%20tag", `{"name":"x"}`, manager, 422},
			{path, `{"variants":{"PB20-GRY":"灰色"}}`, manager, 422},
			{path, `{"name":`, manager, 400},
			{path, `{"name":3}`, manager, 400},
			{path, `{"name":"x"}`, bearer(s.adminKey("viewer")), 403},
			{"/api/v1/admin/products/no-such-product/texts/zh-Hans", `{"name":"x"}`, manager, 404},
		} {
			if st, out, _ := s.do("PUT", tc.path, tc.body, tc.hdr...); st != tc.status {
				t.Errorf("PUT %s %s: %d %s, want %d", tc.path, tc.body, st, out, tc.status)
			}
		}
		// The heading: other bands, suggested on the page, keep their
		// Chinese names.
		if cn := page("/cn/products/mistore-band-8"); !strings.Contains(cn, "<h1>Mistore 手环 8</h1>") {
			t.Error("a refused request changed the texts")
		}
		// An empty body removes the language: English again.
		if st, out, _ := s.do("PUT", path, `{}`, manager...); st != http.StatusOK || strings.Contains(out, "手环") {
			t.Fatalf("clear texts: %d %s", st, out)
		}
		if cn := page("/cn/products/mistore-band-8"); !strings.Contains(cn, "<h1>Mistore Band 8</h1>") || strings.Contains(cn, "轻巧的健身手环。") {
			t.Error("the cleared texts still show")
		}
	})
}
