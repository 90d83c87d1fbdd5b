package web

import (
	"net/http"
	"strings"

	"mistore/internal/staff"
)

// IdempotentForTest exposes the Idempotency-Key middleware to the tests of
// package web_test.
func (s *Server) IdempotentForTest(h http.HandlerFunc, claimInTx bool) http.HandlerFunc {
	return s.idempotent(h, claimInTx)
}

// APIRouteForTest registers h under pattern the way routes.go registers API
// routes, documenting it in s's OpenAPI document, and returns a handler
// serving just that route behind the usual middleware: a test can so add a
// POST route and see what every POST route gets.
func (s *Server) APIRouteForTest(pattern string, h http.HandlerFunc) http.Handler {
	mux := &recordingMux{ServeMux: http.NewServeMux()}
	s.access[pattern] = accessPublic
	s.api.router(mux, s).handle(pattern, h, opDoc{summary: "A test route.", tag: "test", response: "OpenAPI"})
	return s.middleware(mux)
}

// StaffRouteForTest registers h as an admin API route needing only the
// reports permission, as the back office's routes are, and returns the
// store's handler with it.
func (s *Server) StaffRouteForTest(pattern string, h http.HandlerFunc) http.Handler {
	mux := &recordingMux{ServeMux: http.NewServeMux()}
	a := &adminRouter{s: s, mux: mux, doc: s.api.router(mux, s)}
	a.api(pattern, staff.PermViewReports, h, opDoc{summary: "A staff test route.", response: "OpenAPI"})
	return s.middleware(mux)
}

// AdminOperationsForTest returns every admin API operation the server
// routes, as "METHOD /path" and its permission.
func (s *Server) AdminOperationsForTest() [][2]string {
	var out [][2]string
	for path, ops := range s.api.paths {
		if !strings.HasPrefix(path, "/api/v1/admin/") {
			continue
		}
		for method, op := range ops {
			perm, _ := op.(map[string]any)["x-permission"].(string)
			out = append(out, [2]string{strings.ToUpper(method) + " " + path, perm})
		}
	}
	return out
}
