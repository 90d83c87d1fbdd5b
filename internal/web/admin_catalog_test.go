package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// availability returns a product's availability in a market, as the
// storefront API says it.
func (s *shop) availability(market, slug string) string {
	s.t.Helper()
	st, body, _ := s.do("GET", "/api/v1/markets/"+market+"/products/"+slug, "")
	if st != http.StatusOK {
		s.t.Fatalf("product %s in %s: %d %s", slug, market, st, body)
	}
	var p struct {
		Availability string `json:"availability"`
	}
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		s.t.Fatal(err)
	}
	return p.Availability
}

// setStock puts units of sku in a warehouse, as a delivery would.
func setStock(t *testing.T, d *db.DB, sku, warehouse string, n int) {
	t.Helper()
	if _, err := d.Exec(context.Background(), "UPDATE stock SET on_hand = $3 WHERE sku = $1 AND warehouse = $2", sku, warehouse, n); err != nil {
		t.Fatal(err)
	}
}

func auditCount(t *testing.T, d *db.DB, action, subject string) int {
	t.Helper()
	var n int
	if err := d.Read.QueryRow("SELECT count(*) FROM audit_log WHERE action = $1 AND subject = $2", action, subject).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAdminLaunchPhoneInUS is the "done when": an FCC certificate
// (with a price and stock) makes the phone purchasable in the US.
func TestAdminLaunchPhoneInUS(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		manager := bearer(s.adminKey("manager"))
		const slug = "mistore-phone-14"
		if got := s.availability("us", slug); got != "not_sold" {
			t.Fatalf("before: %s", got)
		}
		// Readiness names every blocker.
		st, body, _ := s.do("GET", "/api/v1/admin/markets/us/readiness", "", manager...)
		if st != 200 || !strings.Contains(body, `"slug":"mistore-phone-14"`) {
			t.Fatalf("readiness: %d %s", st, body)
		}
		var rd struct {
			Products []struct {
				Slug     string
				Ready    bool
				Blockers []struct{ Kind string }
			}
		}
		json.Unmarshal([]byte(body), &rd)
		for _, p := range rd.Products {
			if p.Slug == slug {
				var kinds []string
				for _, b := range p.Blockers {
					kinds = append(kinds, b.Kind)
				}
				if p.Ready || !strings.Contains(strings.Join(kinds, " "), "certificate no_price") {
					t.Errorf("phone readiness: %+v", p)
				}
			}
		}
		for _, sku := range []string{"MP14-BLK-256", "MP14-WHT-256", "MP14-BLK-512"} {
			if st, body, _ := s.do("PUT", "/api/v1/admin/products/"+slug+"/prices/us", `{"sku":"`+sku+`","amount":69900}`, manager...); st != 200 {
				t.Fatalf("price %s: %d %s", sku, st, body)
			}
		}
		setStock(t, d, "MP14-BLK-256", "us-east", 10)
		if st, body, _ := s.do("PUT", "/api/v1/admin/products/"+slug+"/listings/us", `{"listed":true,"launch_at":"next week"}`, manager...); st != 422 ||
			!strings.Contains(body, `"field":"launch_at"`) {
			t.Errorf("a launch_at that is no time: %d %s", st, body)
		}
		if st, body, _ := s.do("PUT", "/api/v1/admin/products/"+slug+"/listings/us", `{"listed":true}`, manager...); st != 200 {
			t.Fatalf("listing: %d %s", st, body)
		}
		// A change answers with the product as written: the same time of
		// change as a read of it after.
		var changed, read struct {
			UpdatedAt string `json:"updated_at"`
		}
		st, body, _ = s.do("PATCH", "/api/v1/admin/products/"+slug, `{"description":"Now with more."}`, manager...)
		if err := json.Unmarshal([]byte(body), &changed); st != 200 || err != nil {
			t.Fatalf("PATCH: %d %s", st, body)
		}
		st, body, _ = s.do("GET", "/api/v1/admin/products/"+slug, "", manager...)
		if err := json.Unmarshal([]byte(body), &read); st != 200 || err != nil || read.UpdatedAt != changed.UpdatedAt || changed.UpdatedAt == "" {
			t.Errorf("updated_at: %q in the PATCH's answer, %q read after (%d)", changed.UpdatedAt, read.UpdatedAt, st)
		}
		if got := s.availability("us", slug); got != "not_sold" {
			t.Fatalf("priced and stocked without FCC: %s", got)
		}
		st, body, _ = s.do("POST", "/api/v1/admin/products/"+slug+"/certifications",
			`{"market":"us","scheme":"FCC","reference":"2AFZZ-MP14","valid_from":"2025-01-01","valid_until":"2030-01-01T00:00:00Z","document_url":"https://fccid.example/2AFZZ-MP14"}`, manager...)
		if st != http.StatusCreated || !strings.Contains(body, `"reference":"2AFZZ-MP14"`) {
			t.Fatalf("certification: %d %s", st, body)
		}
		if got := s.availability("us", slug); got != "available" {
			t.Fatalf("with FCC: %s", got)
		}
		for action, n := range map[string]int{"price.set": 3, "listing.set": 1, "certification.add": 1} {
			if got := auditCount(t, d, action, "product:"+slug); got != n {
				t.Errorf("%d %s audit entries, want %d", got, action, n)
			}
		}
		var actor string
		d.Read.QueryRow("SELECT actor_kind FROM audit_log WHERE action = 'certification.add'").Scan(&actor)
		if actor != "apikey" {
			t.Errorf("certification audited as %q", actor)
		}
	})
}

func TestAdminCatalogPermissions(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		support, viewer := bearer(s.adminKey("support")), bearer(s.adminKey("viewer"))
		const p = "/api/v1/admin/products/mistore-phone-14"
		writes := []struct{ method, path, body string }{
			{"POST", "/api/v1/admin/products", `{"slug":"x-1","name":"X","category":"phones","variants":[{"sku":"X-1","name":"Black"}]}`},
			{"PATCH", p, `{"name":"Renamed"}`},
			{"PUT", p + "/variants/MP14-NEW", `{"name":"New"}`},
			{"PUT", p + "/prices/us", `{"sku":"MP14-BLK-256","amount":100}`},
			{"DELETE", p + "/prices/cn/MP14-BLK-256", ""},
			{"POST", p + "/certifications", `{"market":"us","scheme":"FCC","reference":"R1","valid_from":"2025-01-01"}`},
			{"DELETE", p + "/certifications?market=cn&scheme=CCC&reference=2025011606123456", ""},
			{"PUT", p + "/listings/us", `{"listed":false}`},
			{"PUT", p + "/resellers/us", `{"resellers":[]}`},
			{"POST", "/api/v1/admin/import/products", "slug,name,category,sku\nx-2,X,phones,X-2\n"},
		}
		for _, w := range writes {
			if st, body, _ := s.do(w.method, w.path, w.body, viewer...); st != http.StatusForbidden {
				t.Errorf("viewer %s %s: %d %s", w.method, w.path, st, body)
			}
			if st, _, _ := s.do(w.method, w.path, w.body); st != http.StatusUnauthorized {
				t.Errorf("nobody %s %s: %d", w.method, w.path, st)
			}
		}
		// Support may not edit prices.
		if st, _, _ := s.do("PUT", p+"/prices/us", `{"sku":"MP14-BLK-256","amount":100}`, support...); st != http.StatusForbidden {
			t.Errorf("support price edit: %d", st)
		}
		if st, _, _ := s.do("DELETE", p+"/prices/cn/MP14-BLK-256", "", support...); st != http.StatusForbidden {
			t.Errorf("support price removal: %d", st)
		}
		// Reads are open to every role.
		for _, path := range []string{"/api/v1/admin/products", p, "/api/v1/admin/markets/us/readiness", "/api/v1/admin/export/products"} {
			if st, _, _ := s.do("GET", path, "", viewer...); st != 200 {
				t.Errorf("viewer GET %s: %d", path, st)
			}
		}
		// Pages: viewer sees, cannot post.
		vc := s.adminCookie("viewer")
		for _, path := range []string{"/admin/products", "/admin/products/mistore-phone-14", "/admin/launch?market=us"} {
			if st, body, _ := s.adminGet(vc, path); st != 200 || strings.Contains(body, "Add certification") {
				t.Errorf("viewer page %s: %d (edit forms shown: %v)", path, st, strings.Contains(body, "Add certification"))
			}
		}
		for _, path := range []string{"/admin/products", "/admin/products/mistore-phone-14", "/admin/products/mistore-phone-14/prices",
			"/admin/products/mistore-phone-14/certifications", "/admin/products/mistore-phone-14/listings", "/admin/products/mistore-phone-14/resellers",
			"/admin/products/mistore-phone-14/variants", "/admin/products/mistore-phone-14/certifications/remove", "/admin/products/mistore-phone-14/resellers/remove"} {
			if st, _, _ := s.adminForm(vc, path, url.Values{"market": {"us"}, "name": {"x"}}); st != http.StatusForbidden {
				t.Errorf("viewer POST %s: %d", path, st)
			}
		}
		sc := s.adminCookie("support")
		if st, _, _ := s.adminForm(sc, "/admin/products/mistore-phone-14/prices", url.Values{"market": {"us"}, "sku": {"MP14-BLK-256"}, "amount": {"1.00"}}); st != http.StatusForbidden {
			t.Errorf("support price form: %d", st)
		}
		if n := auditCount(t, d, "price.set", "product:mistore-phone-14"); n != 0 {
			t.Errorf("%d price changes went through", n)
		}
	})
}

func TestAdminCatalogValidationAndEscaping(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		manager := bearer(s.adminKey("manager"))
		const p = "/api/v1/admin/products/mistore-phone-14"
		bad := []struct{ method, path, body, field string }{
			{"PUT", p + "/resellers/us", `{"resellers":[{"name":"Evil","url":"javascript:alert(1)"}]}`, "url"},
			{"PUT", p + "/resellers/us", `{"resellers":[{"name":"Evil","url":"JaVaScRiPt:alert(1)"}]}`, "url"},
			{"PUT", p + "/prices/us", `{"sku":"MP14-BLK-256","amount":-1}`, "amount"},
			{"PUT", p + "/prices/us", `{"sku":"NOPE","amount":1}`, "sku"},
			{"POST", p + "/certifications", `{"market":"us","scheme":"FCC","reference":"R1","valid_from":"2025-01-01","document_url":"javascript:alert(1)"}`, "document_url"},
			{"POST", p + "/certifications", `{"market":"us","scheme":"NOPE","reference":"R1","valid_from":"2025-01-01"}`, "scheme"},
			{"POST", p + "/certifications", `{"market":"us","scheme":"FCC","reference":"R1","valid_from":"yesterday"}`, "valid_from"},
			{"PATCH", p, `{"name":""}`, "name"},
			{"POST", "/api/v1/admin/products", `{"slug":"Bad Slug","name":"X","category":"phones","variants":[{"sku":"X-1"}]}`, "slug"},
		}
		for _, b := range bad {
			st, body, _ := s.do(b.method, b.path, b.body, manager...)
			if st != http.StatusUnprocessableEntity || !strings.Contains(body, `"code":"invalid_field"`) || !strings.Contains(body, `"field":"`+b.field+`"`) {
				t.Errorf("%s %s %s: %d %s", b.method, b.path, b.body, st, body)
			}
		}
		if st, body, _ := s.do("POST", "/api/v1/admin/products", `{"slug":"mistore-phone-14","name":"X","category":"phones","variants":[{"sku":"X-1"}]}`, manager...); st != http.StatusConflict {
			t.Errorf("slug taken: %d %s", st, body)
		}
		if st, _, _ := s.do("PUT", "/api/v1/admin/products/nope/prices/us", `{"sku":"X","amount":1}`, manager...); st != http.StatusNotFound {
			t.Errorf("unknown product: %d", st)
		}
		if st, _, _ := s.do("PUT", p+"/prices/fr", `{"sku":"MP14-BLK-256","amount":1}`, manager...); st != http.StatusNotFound {
			t.Errorf("unknown market: %d", st)
		}

		// Hostile text is stored as typed and shown escaped everywhere.
		const xss = `<script>alert("x")</script>`
		st, body, _ := s.do("POST", "/api/v1/admin/products", `{"slug":"xss-phone","name":"Phone `+strings.ReplaceAll(xss, `"`, `\"`)+`","category":"accessories",
			"variants":[{"sku":"XSS-1","name":"<img src=x onerror=alert(1)>"}]}`, manager...)
		if st != http.StatusCreated {
			t.Fatalf("create: %d %s", st, body)
		}
		s.do("PUT", "/api/v1/admin/products/xss-phone/prices/us", `{"sku":"XSS-1","amount":999}`, manager...)
		s.do("PUT", "/api/v1/admin/products/xss-phone/listings/us", `{"listed":true}`, manager...)
		st, body, _ = s.do("POST", "/api/v1/admin/products/mistore-phone-14/certifications", `{"market":"us","scheme":"FCC","reference":"R1/<b>","valid_from":"2025-01-01"}`, manager...)
		if st != http.StatusUnprocessableEntity {
			t.Errorf("a reference with markup: %d %s", st, body)
		}
		st, _, _ = s.do("PUT", "/api/v1/admin/products/xss-phone/resellers/us", `{"resellers":[{"name":"<b>Shop</b>\"onmouseover=x","url":"https://shop.example/?q=<script>"}]}`, manager...)
		if st != http.StatusUnprocessableEntity {
			// < and > in a name are refused (the CSV format uses them); the URL is fine.
			t.Errorf("reseller name with markup: %d", st)
		}
		s.do("PUT", "/api/v1/admin/products/xss-phone/resellers/us", `{"resellers":[{"name":"Shop \"quoted\" & co","url":"https://shop.example/?q=<script>"}]}`, manager...)
		owner := s.adminCookie("owner")
		pages := map[string]*http.Cookie{
			"/admin/products": owner, "/admin/products/xss-phone": owner, "/admin/launch?market=us": owner,
			"/us/products/xss-phone": nil, "/us/products?category=accessories": nil,
		}
		for path, c := range pages {
			st, body, _ := s.adminGet(c, path)
			if st != 200 {
				t.Errorf("%s: %d", path, st)
				continue
			}
			if strings.Contains(body, xss) || strings.Contains(body, "<img src=x") || strings.Contains(body, "q=<script>") {
				t.Errorf("%s shows markup unescaped", path)
			}
			if !strings.Contains(body, "Phone &lt;script&gt;") {
				t.Errorf("%s does not show the name escaped", path)
			}
		}
	})
}

func TestAdminProductPagesAndCSV(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		owner := s.adminCookie("owner")
		const p = "/admin/products/mistore-phone-14"
		// The launch journey through the pages.
		st, _, hdr := s.adminForm(owner, p+"/prices", url.Values{"market": {"us"}, "sku": {"MP14-BLK-256"}, "amount": {"699.00"}})
		if st != http.StatusSeeOther {
			t.Fatalf("price form: %d", st)
		}
		if st, body, _ := s.adminGet(owner, p, hdr); st != 200 || !strings.Contains(body, "set to $699.00") || !strings.Contains(body, `value="699.00"`) {
			t.Errorf("after the price: %d %s", st, body[:min(len(body), 200)])
		}
		setStock(t, d, "MP14-BLK-256", "us-west", 3)
		if st, _, _ := s.adminForm(owner, p+"/certifications", url.Values{"market": {"us"}, "scheme": {"FCC"}, "reference": {"2AFZZ-MP14"}, "valid_from": {"2025-01-01"}}); st != http.StatusSeeOther {
			t.Fatalf("certification form: %d", st)
		}
		if st, _, _ := s.adminForm(owner, p+"/listings", url.Values{"market": {"us"}, "listed": {"1"}}); st != http.StatusSeeOther {
			t.Fatalf("listing form: %d", st)
		}
		if got := s.availability("us", "mistore-phone-14"); got != "available" {
			t.Errorf("after the forms: %s", got)
		}
		// A refused input re-shows the page with the reason.
		st, body, _ := s.adminForm(owner, p+"/resellers", url.Values{"market": {"us"}, "name": {"Evil"}, "url": {"javascript:alert(1)"}})
		if st != http.StatusUnprocessableEntity || !strings.Contains(body, "must start with https://") {
			t.Errorf("javascript reseller form: %d", st)
		}
		st, _, _ = s.adminForm(owner, "/admin/products", url.Values{"name": {"Pad 7"}, "slug": {"mistore-pad-7"}, "category": {"tablets"}, "sku": {"MPAD7-GRY"}, "variant": {"Grey"}})
		if st != http.StatusSeeOther {
			t.Errorf("new product form: %d", st)
		}
		if st, body, _ := s.adminGet(owner, "/admin/launch?market=us&blocked=1"); st != 200 || !strings.Contains(body, "Pad 7") || !strings.Contains(body, "Not listed in the United States.") {
			t.Errorf("launch page: %d", st)
		}

		// Export, then a bad import that changes nothing and names row and column.
		st, csvBody, hdr := s.adminGet(owner, "/admin/products/export.csv?market=us")
		if st != 200 || hdr.Get("Content-Type") != "text/csv; charset=utf-8" || !strings.HasPrefix(csvBody, "slug,name,") || !strings.Contains(csvBody, "mistore-pad-7") {
			t.Fatalf("export: %d %s", st, hdr)
		}
		lines := strings.Split(csvBody, "\n")
		lines[3] = strings.Replace(lines[3], ",39.99,", ",-39.99,", 1)
		var revBefore int
		d.Read.QueryRow("SELECT revision FROM catalog_revision").Scan(&revBefore)
		st, body, _ = s.upload(owner, "/admin/products/import", strings.Join(lines, "\n"))
		if st != http.StatusUnprocessableEntity || !strings.Contains(body, "row 4, column price_us") || !strings.Contains(body, "Nothing was imported") {
			t.Errorf("bad import page: %d %s", st, body)
		}
		var revAfter int
		d.Read.QueryRow("SELECT revision FROM catalog_revision").Scan(&revAfter)
		if revAfter != revBefore {
			t.Error("a refused import changed the catalog")
		}
		// The API says the same, as a 422 naming the column.
		st, body, _ = s.do("POST", "/api/v1/admin/import/products", strings.Join(lines, "\n"), append(bearer(s.adminKey("manager")), "Content-Type", "text/csv")...)
		if st != http.StatusUnprocessableEntity || !strings.Contains(body, `"field":"price_us"`) || !strings.Contains(body, "row 4, column price_us") {
			t.Errorf("bad import API: %d %s", st, body)
		}
		// The good file goes in.
		st, body, hdr = s.upload(owner, "/admin/products/import", csvBody)
		if st != http.StatusSeeOther {
			t.Fatalf("good import: %d %s", st, body)
		}
		if _, body, _ := s.adminGet(owner, "/admin/products", hdr); !strings.Contains(body, "Imported ") {
			t.Errorf("no flash after the import")
		}
		if n := auditCount(t, d, "product.import", "catalog:products"); n != 1 {
			t.Errorf("%d import audit entries", n)
		}
	})
}

// upload posts a file as the import form does.
func (s *shop) upload(cookie *http.Cookie, path, content string) (int, string, http.Header) {
	s.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "products.csv")
	fw.Write([]byte(content))
	mw.Close()
	req, err := http.NewRequest("POST", s.url+path, &buf)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.AddCookie(cookie)
	return s.send(req)
}

// TestAdminFormsKeepWhatWasTyped: a back-office form refused for one bad
// field comes back with everything staff typed in it, not the stored
// values: product details, a certification, a price, a shipping method.
func TestAdminFormsKeepWhatWasTyped(t *testing.T) {
	t.Parallel()
	s := newShop(t, dbtest.Open(t, db.SQLite))
	owner := s.adminCookie("owner")
	const page = "/admin/products/mistore-phone-14"
	st, body, _ := s.adminForm(owner, page, url.Values{"name": {"Phone Fourteen"}, "category": {"phones"}, "description": {"Typed anew."},
		"specs": {"Bad spec line"}, "purchase_limit": {"abc"}})
	if st != 422 || !strings.Contains(body, `value="Phone Fourteen"`) || !strings.Contains(body, "Typed anew.") || !strings.Contains(body, "Bad spec line") {
		t.Errorf("product details refused: %d, typed values lost", st)
	}
	st, body, _ = s.adminForm(owner, page+"/certifications", url.Values{"market": {"us"}, "scheme": {"FCC"}, "reference": {"2A-MP14"},
		"valid_from": {"2026-01-01"}, "valid_until": {"2025-01-01"}, "document_url": {"https://fccid.example/x"}})
	if st != 422 || !strings.Contains(body, `value="2A-MP14"`) || !strings.Contains(body, `value="2025-01-01"`) || !strings.Contains(body, `value="https://fccid.example/x"`) {
		t.Errorf("certification refused: %d, typed values lost", st)
	}
	st, body, _ = s.adminForm(owner, page+"/prices", url.Values{"market": {"us"}, "sku": {"MP14-BLK-256"}, "amount": {"699.999"}})
	if st != 422 || !strings.Contains(body, `value="699.999"`) {
		t.Errorf("price refused: %d, typed value lost", st)
	}
	st, body, _ = s.adminForm(owner, "/admin/shipping", url.Values{"market": {"us"}, "code": {"standard"}, "name": {"Standard, renamed"},
		"kind": {"flat"}, "amount": {"abc"}})
	if st != 422 || !strings.Contains(body, `id="sn-us-standard" name="name" maxlength="100" required value="Standard, renamed"`) ||
		!strings.Contains(body, `id="sa-us-standard" name="amount" inputmode="decimal" size="8" required value="abc"`) {
		t.Errorf("shipping method refused: %d, the row does not show what was typed", st)
	}
}
