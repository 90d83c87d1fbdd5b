package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"mistore/internal/audit"
	"mistore/internal/staff"
)

// adminAuditRoutes registers the audit log: a filterable page, its CSV
// export, and the API.
func (s *Server) adminAuditRoutes(a *adminRouter) {
	a.page("GET /admin/audit", staff.PermViewAudit, s.adminAuditPage)
	a.page("GET /admin/audit/export", staff.PermViewAudit, s.adminAuditCSV)
	a.api("GET /api/v1/admin/audit", staff.PermViewAudit, s.apiAdminAudit, opDoc{
		summary: "The audit log, newest first: every change by staff, API keys and the command line, with before and after. " +
			"Add format=csv for every matching entry as CSV, oldest first.",
		response: "AuditLog",
		params: []paramDoc{
			{name: "actor", in: "query", typ: "string", desc: "A member's email or key's name as logged, or kind:name (staff:ada@example.com)."},
			{name: "action", in: "query", typ: "string", desc: "An action (order.refund), or a prefix ending in a dot (order.)."},
			{name: "subject", in: "query", typ: "string", desc: "A subject (order:US-100001), or a prefix ending in a colon (order:)."},
			{name: "since", in: "query", typ: "string", desc: "RFC 3339 time or YYYY-MM-DD (UTC): entries at or after it."},
			{name: "until", in: "query", typ: "string", desc: "RFC 3339 time or YYYY-MM-DD (UTC): entries before it."},
			{name: "before", in: "query", typ: "integer", desc: "Entries older than this id (paging)."},
			{name: "limit", in: "query", typ: "integer", desc: "1 to 1000 entries (default 50)."},
			{name: "format", in: "query", typ: "string", desc: "csv for a CSV download of every matching entry."},
		},
	})
}

// auditFilter reads the audit log's filters from a query.
func auditFilter(q url.Values) (audit.Filter, error) {
	f := audit.Filter{
		Actor:   strings.TrimSpace(q.Get("actor")),
		Action:  strings.TrimSpace(q.Get("action")),
		Subject: strings.TrimSpace(q.Get("subject")),
	}
	var err error
	if f.Since, err = timeParam(q, "since", false); err != nil {
		return f, err
	}
	if f.Until, err = timeParam(q, "until", false); err != nil {
		return f, err
	}
	if f.Before, err = wholeParam("before", q.Get("before"), 0, 1, 1<<62); err != nil {
		return f, err
	}
	limit, err := wholeParam("limit", q.Get("limit"), 0, 1, audit.MaxLimit)
	if err != nil {
		return f, err
	}
	f.Limit = int(limit)
	return f, nil
}

// auditPageSize is how many entries one page of the log shows.
const auditPageSize = 50

// adminAuditContent is the audit page's content.
type adminAuditContent struct {
	Entries []audit.Entry
	Query   url.Values
	// Export is the CSV link for the same filters.
	Export string
	// Older links to the next page of older entries; "" on the last.
	Older string
	Error string
}

func (s *Server) adminAuditPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c := adminAuditContent{Query: q}
	f, err := auditFilter(q)
	status := http.StatusOK
	if err != nil {
		_, body := classify(err)
		c.Error, status = body.Message, http.StatusBadRequest
	} else {
		f.Limit = auditPageSize + 1
		if c.Entries, err = audit.List(r.Context(), s.db.Reader(), f); err != nil {
			s.adminFail(w, r, err)
			return
		}
		if len(c.Entries) > auditPageSize {
			c.Entries = c.Entries[:auditPageSize]
			older := cloneValues(q)
			older.Set("before", strconv.FormatInt(c.Entries[auditPageSize-1].ID, 10))
			c.Older = "/admin/audit?" + older.Encode()
		}
	}
	export := cloneValues(q)
	export.Del("before")
	c.Export = "/admin/audit/export?" + export.Encode()
	s.renderAdmin(w, r, status, "admin_audit", "audit", "Audit log", c)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func (s *Server) adminAuditCSV(w http.ResponseWriter, r *http.Request) {
	f, err := auditFilter(r.URL.Query())
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	s.writeAuditCSV(w, r, f)
}

// writeAuditCSV streams the log as a CSV download. Once the first byte
// is out an error can only cut the file short; it is logged.
func (s *Server) writeAuditCSV(w http.ResponseWriter, r *http.Request, f audit.Filter) {
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="audit-`+time.Now().UTC().Format("20060102-150405")+`.csv"`)
	h.Set("Cache-Control", "no-store")
	if err := audit.WriteCSV(r.Context(), s.db.Reader(), f, w); err != nil {
		s.log.ErrorContext(r.Context(), "audit CSV export", "err", err)
	}
}

func (s *Server) apiAdminAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, err := auditFilter(q)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	switch q.Get("format") {
	case "csv":
		s.writeAuditCSV(w, r, f)
		return
	case "", "json":
	default:
		s.apiFail(w, r, badParam("format", "format must be json or csv"))
		return
	}
	limit := f.Limit
	if limit == 0 {
		limit = auditPageSize
	}
	f.Limit = limit + 1
	entries, err := audit.List(r.Context(), s.db.Reader(), f)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	out := map[string]any{"entries": entries}
	if len(entries) > limit {
		out["entries"] = entries[:limit]
		out["next_before"] = entries[limit-1].ID
	}
	s.writeJSON(w, r, http.StatusOK, out)
}
