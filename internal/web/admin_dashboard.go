package web

// adminDashboardRoutes registers this back-office surface's pages and API.
func (s *Server) adminDashboardRoutes(a *adminRouter) {}

// adminDashboardSchemas are the OpenAPI schemas of this surface's API bodies.
func adminDashboardSchemas() map[string]any { return map[string]any{} }

// adminDashboardErrors maps this surface's domain errors to API codes.
var adminDashboardErrors = []errorMapping{}
