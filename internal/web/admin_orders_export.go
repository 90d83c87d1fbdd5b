package web

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"mistore/internal/order"
	"mistore/internal/staff"
)

// The orders CSV download for accounting: the back office's order list,
// every page of it, one row per order (order.CSVColumns).

// ordersExportWriteTime is how long an orders CSV download may take to
// send. The server's write timeout suits pages, not a year of orders over
// a slow line; a download cut off at that timeout would look complete to
// a spreadsheet.
const ordersExportWriteTime = 15 * time.Minute

// adminOrderExportRoutes registers the orders CSV as a back-office page
// (a download link on the order list) and as an API route.
//
// The page sits at /admin/orders/export, beside /admin/orders/{number}:
// the mux prefers the literal segment, and no order number can be
// "export" (numbers are MARKET-digits). The API route cannot: every API
// path also gets a method-less route answering 405 in JSON, and
// "/api/v1/admin/orders/export" (any method) and "GET
// /api/v1/admin/orders/{number}" are each more specific than the other
// in one way, which the mux refuses as a conflict. So it lives at
// /api/v1/admin/export/orders, beside /api/v1/admin/export/products for
// the same reason.
func (s *Server) adminOrderExportRoutes(a *adminRouter) {
	a.page("GET /admin/orders/export", staff.PermViewOrders, s.adminOrdersExport)
	a.api("GET /api/v1/admin/export/orders", staff.PermViewOrders, s.apiAdminOrdersExport, opDoc{
		summary: "Every order the filters select as CSV (text/csv), oldest first, one row per order: amounts in major units " +
			"(\"1999.00\"), times RFC 3339 UTC, lines as \"SKU x qty; ...\"; cells a spreadsheet would run as formulas start with '. " +
			"Columns in docs/catalog-csv.md.",
		params: orderFilterParams(),
	})
}

func (s *Server) adminOrdersExport(w http.ResponseWriter, r *http.Request) {
	s.exportOrders(w, r, s.adminFail)
}

func (s *Server) apiAdminOrdersExport(w http.ResponseWriter, r *http.Request) {
	s.exportOrders(w, r, s.apiFail)
}

// exportOrders streams the orders the list's filters select (the same
// query string as /admin/orders; page and per_page are ignored) as a CSV
// download. Before the first byte an error is answered with fail; after
// it an error can only cut the file short, so it is logged.
func (s *Server) exportOrders(w http.ResponseWriter, r *http.Request, fail func(http.ResponseWriter, *http.Request, error)) {
	f, err := s.orderFilter(r, r.URL.Query())
	if err != nil {
		fail(w, r, err)
		return
	}
	if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(ordersExportWriteTime)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		s.log.WarnContext(r.Context(), "orders CSV: extend the write deadline", "err", err)
	}
	name := "orders"
	// The market comes from the query string unchecked (an unknown one
	// just selects nothing): only a plain code goes into the header.
	if mk := strings.ToLower(f.Market); mk != "" && len(mk) <= 8 && strings.Trim(mk, "abcdefghijklmnopqrstuvwxyz0123456789") == "" {
		name += "-" + mk
	}
	name += "-" + time.Now().UTC().Format("20060102-150405") + ".csv"
	dw := &csvDownload{w: w, name: name}
	if err := order.WriteCSV(r.Context(), s.db.Reader(), f, dw, nil); err != nil {
		if !dw.started {
			fail(w, r, err)
			return
		}
		s.log.ErrorContext(r.Context(), "orders CSV export", "err", err)
	}
}

// csvDownload sets a CSV download's headers on its first write, so that
// an error found before any row (a bad filter, the database down) can
// still be answered as an error page or JSON instead of a broken file.
type csvDownload struct {
	w       http.ResponseWriter
	name    string
	started bool
}

func (d *csvDownload) Write(p []byte) (int, error) {
	if !d.started {
		d.started = true
		h := d.w.Header()
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", `attachment; filename="`+d.name+`"`)
		// Customers' addresses: no shared cache keeps a copy.
		h.Set("Cache-Control", "no-store")
	}
	return d.w.Write(p)
}
