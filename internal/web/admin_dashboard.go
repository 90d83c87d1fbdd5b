package web

import (
	"html/template"
	"net/http"
	"time"

	"mistore/internal/jobs"
	"mistore/internal/notify"
	"mistore/internal/order"
	"mistore/internal/report"
	"mistore/internal/staff"
)

// adminDashboardRoutes registers the dashboard (the back office's home
// page) and the sales report API, for every role (PermViewReports), and
// the outbound webhooks (admin_webhooks.go).
func (s *Server) adminDashboardRoutes(a *adminRouter) {
	a.page("GET /admin/{$}", staff.PermViewReports, s.adminDashboardPage)
	a.api("GET /api/v1/admin/reports/sales", staff.PermViewReports, s.apiAdminSalesReport, opDoc{
		summary: "Sales of the last days (UTC, today included): paid sales per day and market in each market's currency " +
			"(amounts of different currencies are never added), orders by status, top products, average order value.",
		response: "SalesReport",
		params:   []paramDoc{{name: "days", in: "query", typ: "integer", desc: "Length of the period in days, 1 to 366 (default 30)."}},
	})
	s.adminWebhookRoutes(a)
	s.adminJobRoutes(a)
}

// adminDashboardSchemas are the OpenAPI schemas of the report and
// webhook bodies.
func adminDashboardSchemas() map[string]any {
	str, integer, ts := schemaString, schemaInteger, schemaTime
	money := schemaRef("Money")
	out := map[string]any{
		"SalesReport": schemaObject([]string{"from", "to", "days", "markets", "orders_by_status", "top_products", "waitlist_tracked", "waitlist"}, map[string]any{
			"from": ts, "to": ts, "days": schemaArray(ts),
			"markets": schemaArray(schemaObject([]string{"market", "currency", "daily", "daily_orders", "total", "orders", "average_order_value"}, map[string]any{
				"market": str, "currency": str, "daily": schemaArray(money), "daily_orders": schemaArray(integer),
				"total": money, "orders": integer, "average_order_value": money,
			})),
			"orders_by_status": schemaArray(schemaObject([]string{"status", "orders"}, map[string]any{"status": str, "orders": integer})),
			"top_products": schemaArray(schemaObject([]string{"sku", "name", "units", "revenue"}, map[string]any{
				"sku": str, "name": str, "units": integer, "revenue": schemaArray(money),
			})),
			"waitlist_tracked": map[string]any{"type": "boolean", "description": "false when the report has no waitlist source; waitlist is then empty."},
			"waitlist": schemaArray(schemaObject([]string{"product", "name", "market", "confirmed", "unconfirmed"}, map[string]any{
				"product": str, "name": str, "market": str, "confirmed": integer, "unconfirmed": integer,
			})),
		}),
	}
	for k, v := range webhookSchemas(str, integer, ts) {
		out[k] = v
	}
	for k, v := range jobSchemas(str, integer, ts) {
		out[k] = v
	}
	return out
}

// adminDashboardErrors maps the webhook outcomes (the report's are
// parameter errors, answered by the handler).
var adminDashboardErrors = []errorMapping{
	{notify.ErrEndpointNotFound, http.StatusNotFound, codeNotFound},
	{notify.ErrDeliveryNotFound, http.StatusNotFound, codeNotFound},
	{notify.ErrWebhookURL, http.StatusUnprocessableEntity, "invalid_field"},
	{notify.ErrWebhookEvents, http.StatusUnprocessableEntity, "invalid_field"},
	{jobs.ErrNotFound, http.StatusNotFound, codeNotFound},
}

// salesReport reads the report of the days the request asks for.
func (s *Server) salesReport(r *http.Request) (*report.Report, error) {
	days, err := wholeParam("days", r.URL.Query().Get("days"), 30, 1, report.MaxDays)
	if err != nil {
		return nil, err
	}
	return report.Sales(r.Context(), s.db.Reader(), s.db.Dialect, report.Options{Now: time.Now(), Days: int(days), Waitlist: s.dashboardWaitlist})
}

func (s *Server) apiAdminSalesReport(w http.ResponseWriter, r *http.Request) {
	rep, err := s.salesReport(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, rep)
}

// dashboardChart is a chart with the table of its numbers.
type dashboardChart struct {
	ID    string
	Title string
	SVG   template.HTML
	Rows  []dashboardRow
}

type dashboardRow struct {
	Label  string
	Value  string
	Orders int
}

// adminDashboardContent is the dashboard's content.
type adminDashboardContent struct {
	Report *report.Report
	Sales  []dashboardChart
	Status dashboardChart
	// Periods are the choices of period length.
	Periods []int
	Days    int
	// Disputes are the chargebacks waiting for the shop's answer at the
	// payment provider, the soonest due first.
	Disputes []order.OpenDispute
	// FailedJobs counts the background jobs that failed for good: a
	// refund not made, an email not sent.
	FailedJobs int
}

func (s *Server) adminDashboardPage(w http.ResponseWriter, r *http.Request) {
	rep, err := s.salesReport(r)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	c := adminDashboardContent{Report: rep, Periods: []int{7, 30, 90}, Days: len(rep.Days)}
	if c.Disputes, err = s.orders.OpenDisputes(r.Context()); err != nil {
		s.adminFail(w, r, err)
		return
	}
	if c.FailedJobs, err = jobs.CountFailed(r.Context(), s.db.Reader()); err != nil {
		s.adminFail(w, r, err)
		return
	}
	for i, ch := range rep.SalesCharts() {
		m := rep.Markets[i]
		dc := dashboardChart{ID: ch.ID, Title: ch.Title, SVG: ch.SVG()}
		// The table lists the days with sales, newest first: thirty rows
		// of zeros would bury them.
		for j := len(rep.Days) - 1; j >= 0; j-- {
			if m.DailyOrders[j] > 0 {
				dc.Rows = append(dc.Rows, dashboardRow{Label: rep.Days[j].Format("Mon, Jan 2"), Value: m.Daily[j].Format(), Orders: m.DailyOrders[j]})
			}
		}
		c.Sales = append(c.Sales, dc)
	}
	st := rep.StatusChart(func(status string) string { return orderStatusText(order.Status(status)) })
	c.Status = dashboardChart{ID: st.ID, Title: st.Title, SVG: st.SVG()}
	for _, sc := range rep.ByStatus {
		c.Status.Rows = append(c.Status.Rows, dashboardRow{Label: orderStatusText(order.Status(sc.Status)), Orders: sc.Orders})
	}
	s.renderAdmin(w, r, http.StatusOK, "admin_dashboard", "dashboard", "Dashboard", c)
}
