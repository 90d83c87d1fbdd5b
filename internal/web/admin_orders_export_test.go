package web_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// csvRows reads a CSV download, header first.
func csvRows(t *testing.T, body string) [][]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(recs) == 0 || recs[0][0] != "number" {
		t.Fatalf("not the orders CSV (%v):\n%s", err, body)
	}
	return recs
}

func TestAdminOrdersExport(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		paid, _, total := s.paidOrder(2)
		id, tok := s.cartWith("MB8-BLK", 1)
		pending := s.checkout(id, tok).Number
		viewer := s.adminKey("viewer")

		// A viewer's key downloads every order, oldest first.
		st, body, hdr := s.do("GET", "/api/v1/admin/export/orders", "", bearer(viewer)...)
		if st != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") ||
			!strings.HasPrefix(hdr.Get("Content-Disposition"), `attachment; filename="orders-`) || hdr.Get("Cache-Control") != "no-store" {
			t.Fatalf("viewer export: %d %v\n%s", st, hdr, body)
		}
		recs := csvRows(t, body)
		if len(recs) != 3 || recs[1][0] != paid || recs[2][0] != pending {
			t.Fatalf("rows %v, want %s then %s", recs, paid, pending)
		}
		row := map[string]string{}
		for i, c := range recs[0] {
			row[c] = recs[1][i]
		}
		want := fmt.Sprintf("%d.%02d", total/100, total%100)
		if row["status"] != "paid" || row["currency"] != "USD" || row["total"] != want || row["paid"] != want ||
			row["lines"] != "MB8-BLK x 2" || row["item_count"] != "2" || row["paid_at"] == "" {
			t.Errorf("paid row %v, want total %s", row, want)
		}

		// The list's filters, the list's errors.
		for q, want := range map[string]string{"status=paid": paid, "status=pending_payment": pending, "q=" + pending: pending, "market=cn": ""} {
			st, body, _ := s.do("GET", "/api/v1/admin/export/orders?"+q, "", bearer(viewer)...)
			recs := csvRows(t, body)
			got := ""
			if len(recs) > 1 {
				got = recs[1][0]
			}
			if st != http.StatusOK || len(recs) > 2 || got != want {
				t.Errorf("?%s: %d %v, want %q", q, st, recs, want)
			}
		}
		st, body, hdr = s.do("GET", "/api/v1/admin/export/orders?status=lost", "", bearer(viewer)...)
		if st != http.StatusBadRequest || apiCode(t, body) != "invalid_parameter" || hdr.Get("Content-Disposition") != "" {
			t.Errorf("bad filter: %d %v %s", st, hdr, body)
		}

		// Other methods get the API's JSON 405; the orders' own routes
		// are untouched.
		if st, body, hdr := s.do("POST", "/api/v1/admin/export/orders", "", bearer(viewer)...); st != http.StatusMethodNotAllowed || hdr.Get("Allow") != "GET" {
			t.Errorf("POST export: %d %v %s", st, hdr, body)
		}
		if got := s.adminOrder(viewer, paid); got.Number != paid {
			t.Errorf("the order route: %+v", got)
		}
		if st, body, _ := s.do("GET", "/api/v1/admin/orders/export", "", bearer(viewer)...); st != http.StatusNotFound || apiCode(t, body) != "not_found" {
			t.Errorf("no order is called export: %d %s", st, body)
		}

		// The page sits beside the order pages, the literal segment
		// winning over {number}; the order page still works.
		vc := s.adminCookie("viewer")
		if st, page, _ := s.adminGet(vc, "/admin/orders/"+paid); st != http.StatusOK || !strings.Contains(page, paid) || strings.HasPrefix(page, "number,") {
			t.Errorf("order page: %d", st)
		}

		// A customer's token, a customer's cookie, or nothing: 401.
		s.do("POST", "/api/v1/customers", `{"email":"eve@example.com","password":"correct horse battery","name":"Eve"}`)
		st, body, hdr = s.do("POST", "/api/v1/sessions", `{"email":"eve@example.com","password":"correct horse battery"}`)
		if st != http.StatusOK {
			t.Fatalf("customer sign-in: %d %s", st, body)
		}
		var sess struct{ Token string }
		json.Unmarshal([]byte(body), &sess)
		var cookie string
		for _, c := range (&http.Response{Header: hdr}).Cookies() {
			cookie = c.Name + "=" + c.Value
		}
		for _, who := range [][]string{nil, bearer(sess.Token), {"Cookie", cookie}} {
			if st, body, _ := s.do("GET", "/api/v1/admin/export/orders", "", who...); st != http.StatusUnauthorized || strings.Contains(body, paid) {
				t.Errorf("%v: %d %s", who, st, body)
			}
		}
		if st, _, _ := s.do("GET", "/admin/orders/export", "", "Cookie", cookie); st != http.StatusSeeOther {
			t.Errorf("customer cookie on the export page: %d, want the sign-in redirect", st)
		}

		// The page: a link on the list that carries its filters, and the
		// download behind it for a signed-in viewer.
		st, page, _ := s.adminGet(vc, "/admin/orders?status=paid&market=us")
		if st != http.StatusOK || !strings.Contains(page, `href="/admin/orders/export?market=us&amp;status=paid" download>Export CSV</a>`) {
			t.Errorf("orders page link: %d\n%s", st, page)
		}
		st, body, hdr = s.adminGet(vc, "/admin/orders/export?market=us&status=paid")
		if recs := csvRows(t, body); st != http.StatusOK || len(recs) != 2 || recs[1][0] != paid ||
			!strings.HasPrefix(hdr.Get("Content-Disposition"), `attachment; filename="orders-us-`) {
			t.Errorf("page export: %d %v %v", st, hdr, recs)
		}
		if st, body, _ := s.adminGet(vc, "/admin/orders/export?from=yesterday"); st != http.StatusBadRequest || !strings.Contains(body, "from must be") {
			t.Errorf("page bad filter: %d\n%s", st, body)
		}
		if st, _, _ := s.adminGet(nil, "/admin/orders/export"); st != http.StatusSeeOther {
			t.Errorf("signed out: %d", st)
		}
	})
}
