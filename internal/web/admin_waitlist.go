package web

import (
	"bytes"
	"context"
	"encoding/csv"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"mistore/internal/audit"
	"mistore/internal/db"
	"mistore/internal/market"
	"mistore/internal/report"
	"mistore/internal/staff"
	"mistore/internal/waitlist"
)

// The demand report: waitlist entries per product and market, confirmed
// or not, their growth per week, and a CSV of it — the numbers that
// decide whether to certify a product for a market. It reads what
// reports read (PermViewReports, every role), and it names no address.

// adminWaitlistRoutes registers the report's page and API.
func (s *Server) adminWaitlistRoutes(a *adminRouter) {
	a.page("GET /admin/waitlist", staff.PermViewReports, s.adminWaitlistPage)
	a.api("GET /api/v1/admin/waitlist", staff.PermViewReports, s.apiAdminWaitlist, opDoc{
		summary: "Waitlist demand per product and market, most wanted first: entries waiting (confirmed and not), told, unsubscribed, " +
			"and sign-ups per week. format=csv answers the products as CSV (text/csv); cells a spreadsheet would run as formulas start with '.",
		response: "WaitlistDemand",
		params: []paramDoc{
			{name: "market", in: "query", typ: "string", desc: "Only this market (a code such as us); absent: every market."},
			{name: "weeks", in: "query", typ: "integer", desc: "Weeks of growth, 1 to 104 (default 12)."},
			{name: "format", in: "query", typ: "string", desc: "json (default) or csv."},
		},
	})
}

// waitlistDemand reads the report the request asks for.
func (s *Server) waitlistDemand(r *http.Request) (*waitlist.Demand, []market.Market, error) {
	q := r.URL.Query()
	set, err := s.catalog.Markets(r.Context())
	if err != nil {
		return nil, nil, err
	}
	mk := q.Get("market")
	if mk != "" {
		if _, err := set.Get(mk); err != nil {
			return nil, nil, badParam("market", "there is no market %q", mk)
		}
	}
	weeks, err := wholeParam("weeks", q.Get("weeks"), 12, 1, waitlist.MaxWeeks)
	if err != nil {
		return nil, nil, err
	}
	switch q.Get("format") {
	case "", "json", "csv":
	default:
		return nil, nil, badParam("format", "format must be json or csv")
	}
	d, err := s.waitlist.Demand(r.Context(), waitlist.DemandQuery{Market: mk, Weeks: int(weeks), Now: time.Now()})
	return d, set.Markets, err
}

func (s *Server) apiAdminWaitlist(w http.ResponseWriter, r *http.Request) {
	d, _, err := s.waitlistDemand(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if r.URL.Query().Get("format") == "csv" {
		s.writeDemandCSV(w, r, d)
		return
	}
	s.writeJSON(w, r, http.StatusOK, d)
}

// demandCSVHeader is the CSV's first row.
var demandCSVHeader = []string{"product", "name", "market", "waiting", "confirmed", "unconfirmed", "notified", "unsubscribed"}

// writeDemandCSV answers the report's products as a CSV download. It is
// built in memory first (one row per product and market: small), so an
// error is a clean error answer, never a cut file.
func (s *Server) writeDemandCSV(w http.ResponseWriter, r *http.Request, d *waitlist.Demand) {
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	cw.Write(demandCSVHeader)
	for _, row := range d.Rows {
		rec := []string{row.ProductSlug, row.ProductName, row.Market, strconv.Itoa(row.Waiting()), strconv.Itoa(row.Confirmed),
			strconv.Itoa(row.Unconfirmed), strconv.Itoa(row.Notified), strconv.Itoa(row.Unsubscribed)}
		for i := range rec {
			rec[i] = audit.SafeCell(rec[i])
		}
		cw.Write(rec)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		s.apiFail(w, r, err)
		return
	}
	name := "waitlist"
	if d.Market != "" {
		name += "-" + d.Market // checked against the markets
	}
	name += "-" + time.Now().UTC().Format("20060102") + ".csv"
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}

// adminWaitlistContent is the report page's content.
type adminWaitlistContent struct {
	Demand  *waitlist.Demand
	Markets []market.Market
	Market  string
	Weeks   int
	Chart   template.HTML
	// CSV is the download link of what the page shows.
	CSV string
}

func (s *Server) adminWaitlistPage(w http.ResponseWriter, r *http.Request) {
	d, markets, err := s.waitlistDemand(r)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	if r.URL.Query().Get("format") == "csv" {
		s.writeDemandCSV(w, r, d)
		return
	}
	c := adminWaitlistContent{Demand: d, Markets: markets, Market: d.Market, Weeks: len(d.Weeks), Chart: growthChart(d).SVG(),
		CSV: "/admin/waitlist?format=csv"}
	if d.Market != "" {
		c.CSV += "&market=" + d.Market
	}
	s.renderAdmin(w, r, http.StatusOK, "admin_waitlist", "waitlist", "Waitlist demand", c)
}

// growthChart draws the sign-ups of each week of d.
func growthChart(d *waitlist.Demand) report.Chart {
	where := "every market"
	if d.Market != "" {
		where = "market " + strings.ToUpper(d.Market)
	}
	total, confirmed := 0, 0
	c := report.Chart{ID: "waitlist-growth", Title: "Waitlist sign-ups per week, " + where}
	for _, wk := range d.Weeks {
		total += wk.Entries
		confirmed += wk.Confirmed
		c.Bars = append(c.Bars, report.Bar{Label: wk.Start.Format("Jan 2"), Value: int64(wk.Entries),
			Text: strconv.Itoa(wk.Entries) + " (" + strconv.Itoa(wk.Confirmed) + " confirmed)"})
	}
	c.Desc = "Waitlist entries created each week (Monday to Sunday, UTC) in " + where + ": " + strconv.Itoa(total) +
		" in " + strconv.Itoa(len(d.Weeks)) + " weeks, " + strconv.Itoa(confirmed) + " of them confirmed."
	return c
}

// dashboardWaitlist is the sales report's waitlist source: the ten
// products and markets most waited for (the whole list, not only the
// period's sign-ups: the demand is what is waiting now).
func (s *Server) dashboardWaitlist(ctx context.Context, q db.Querier, _ time.Time) ([]report.WaitlistDemand, error) {
	rows, err := s.waitlist.DemandRows(ctx, q, "", 10)
	if err != nil {
		return nil, err
	}
	out := make([]report.WaitlistDemand, len(rows))
	for i, r := range rows {
		out[i] = report.WaitlistDemand{Product: r.ProductSlug, Name: r.ProductName, Market: r.Market, Confirmed: r.Confirmed, Unconfirmed: r.Unconfirmed}
	}
	return out, nil
}
