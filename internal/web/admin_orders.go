package web

// adminOrderRoutes registers this back-office surface's pages and API.
func (s *Server) adminOrderRoutes(a *adminRouter) {}

// adminOrderSchemas are the OpenAPI schemas of this surface's API bodies.
func adminOrderSchemas() map[string]any { return map[string]any{} }

// adminOrderErrors maps this surface's domain errors to API codes.
var adminOrderErrors = []errorMapping{}
