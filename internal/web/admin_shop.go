package web

// adminShopRoutes registers this back-office surface's pages and API.
func (s *Server) adminShopRoutes(a *adminRouter) {}

// adminShopSchemas are the OpenAPI schemas of this surface's API bodies.
func adminShopSchemas() map[string]any { return map[string]any{} }

// adminShopErrors maps this surface's domain errors to API codes.
var adminShopErrors = []errorMapping{}
