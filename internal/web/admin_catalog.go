package web

// adminCatalogRoutes registers this back-office surface's pages and API.
func (s *Server) adminCatalogRoutes(a *adminRouter) {}

// adminCatalogSchemas are the OpenAPI schemas of this surface's API bodies.
func adminCatalogSchemas() map[string]any { return map[string]any{} }

// adminCatalogErrors maps this surface's domain errors to API codes.
var adminCatalogErrors = []errorMapping{}
