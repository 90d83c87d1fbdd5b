package web

import (
	"net/http"

	"mistore/internal/checkout"
	"mistore/internal/inventory"
	"mistore/internal/staff"
)

// The back office's shop surface: inventory (admin_shop_inventory.go),
// coupons and tax rates (admin_shop_coupons.go) and customers
// (admin_shop_customers.go).
//
// Permissions: reading stock, coupons and tax rates needs PermViewReports
// (every role: it changes nothing); changing stock PermEditInventory,
// coupons PermManageCoupons, and tax rates PermEditPrices (a tax rate is
// part of what a shopper pays, so whoever may not change prices may not
// change it either). Reading customers needs PermViewOrders, like the
// orders they come with; disabling and enabling an account needs
// PermModerate: it is a support task (the person handling an abuse or
// fraud report acts on the account), and support holds PermModerate
// while viewers do not.

// adminShopRoutes registers this back-office surface's pages and API.
func (s *Server) adminShopRoutes(a *adminRouter) {
	s.adminInventoryRoutes(a)
	s.adminCouponRoutes(a)
	s.adminTaxRoutes(a)
	s.adminShippingRoutes(a)
	if s.customers != nil {
		s.adminCustomerRoutes(a)
	}
}

// adminShopErrors maps this surface's domain errors to API codes.
var adminShopErrors = []errorMapping{
	{inventory.ErrConflict, http.StatusConflict, "stale_stock"},
	{inventory.ErrBelowReserved, http.StatusConflict, "below_reserved"},
	{inventory.ErrUnknownSKU, http.StatusNotFound, codeNotFound},
	{inventory.ErrUnknownStock, http.StatusNotFound, codeNotFound},
	{checkout.ErrCouponNotFound, http.StatusNotFound, codeNotFound},
	{checkout.ErrCouponExists, http.StatusConflict, "coupon_exists"},
	{checkout.ErrShippingMethodNotFound, http.StatusNotFound, codeNotFound},
}

// Permissions of the shop surface, named once.
const (
	permShopRead      = staff.PermViewReports
	permCustomerRead  = staff.PermViewOrders
	permCustomerWrite = staff.PermModerate
)

// adminShopSchemas are the OpenAPI schemas of this surface's API bodies.
func adminShopSchemas() map[string]any {
	str, integer, boolean, ts := schemaString, schemaInteger, schemaBoolean, schemaTime
	ref, arr, obj := schemaRef, schemaArray, schemaObject
	nullableInt := map[string]any{"type": "integer", "nullable": true, "minimum": 0}
	reason := map[string]any{"type": "string", "enum": []string{"received", "damaged", "count_correction"}}
	couponRules := map[string]any{
		"kind":               map[string]any{"type": "string", "enum": []string{"percent", "fixed"}},
		"percent":            map[string]any{"type": "integer", "minimum": 1, "maximum": 100, "description": "Percent off, for kind percent."},
		"amount":             map[string]any{"$ref": "#/components/schemas/Money", "description": "Amount off, for kind fixed; only in carts of its currency."},
		"market":             map[string]any{"type": "string", "description": "The one market it works in; absent or \"\" for every market."},
		"min_subtotal":       map[string]any{"$ref": "#/components/schemas/Money", "description": "Least subtotal, in the coupon's currency (a fixed amount's or the market's)."},
		"starts_at":          ts,
		"ends_at":            map[string]any{"type": "string", "format": "date-time", "nullable": true},
		"max_uses":           map[string]any{"type": "integer", "minimum": 1, "nullable": true},
		"max_uses_per_email": map[string]any{"type": "integer", "minimum": 1, "nullable": true},
	}
	coupon := map[string]any{"code": str, "used": integer, "created_at": ts,
		"state": map[string]any{"type": "string", "enum": []string{"scheduled", "active", "ended", "used_up"}}}
	createCoupon := map[string]any{"code": map[string]any{"type": "string", "description": "Letters, digits, - and _; stored in upper case."}}
	for k, v := range couponRules {
		coupon[k], createCoupon[k] = v, v
	}
	account := map[string]any{"id": integer, "email": str, "name": str, "email_verified": boolean, "created_at": ts,
		"disabled_at": map[string]any{"type": "string", "format": "date-time", "description": "When staff disabled the account; absent while it works."}}
	detail := map[string]any{"sessions": integer, "orders": arr(obj([]string{"number", "market", "status", "total", "created_at"}, map[string]any{
		"number": str, "market": str, "email": str, "status": str, "total": ref("Money"), "created_at": ts,
	}))}
	for k, v := range account {
		detail[k] = v
	}
	usage := obj([]string{"code", "state", "used", "orders", "pending", "discount", "revenue"}, map[string]any{
		"code": str, "state": str, "used": integer, "max_uses": integer,
		"orders":   map[string]any{"type": "integer", "description": "Paid orders placed with it (refunded ones included)."},
		"pending":  map[string]any{"type": "integer", "description": "Orders placed with it still waiting for payment."},
		"discount": map[string]any{"type": "array", "items": ref("Money"), "description": "Discount the paid orders were given, per currency."},
		"revenue":  map[string]any{"type": "array", "items": ref("Money"), "description": "What the paid orders brought in, per currency."},
		"recent_orders": arr(obj(nil, map[string]any{"number": str, "market": str, "email": str, "status": str,
			"discount": ref("Money"), "total": ref("Money"), "created_at": ts})),
	})
	taxRate := obj([]string{"market", "region", "name", "rate_pcm", "tax_shipping"}, map[string]any{
		"market": str, "region": map[string]any{"type": "string", "description": "A US state code such as NJ, or \"\" for the whole market."},
		"name": str, "rate_pcm": map[string]any{"type": "integer", "minimum": 0, "maximum": 100000, "description": "Thousandths of a percent: 6625 is 6.625%."},
		"tax_shipping": boolean,
	})
	return map[string]any{
		"StockLevels": obj([]string{"sku", "warehouses"}, map[string]any{
			"sku": str, "product": str, "product_slug": str, "variant": str,
			"warehouses": arr(obj([]string{"code", "on_hand", "reserved", "available"}, map[string]any{
				"code": str, "market": str, "on_hand": integer, "reserved": integer, "available": integer,
				"low_stock_threshold": map[string]any{"type": "integer", "nullable": true, "description": "Alert while available is at or below it; null: no alert."},
				"low":                 boolean, "stocked": map[string]any{"type": "boolean", "description": "false: the warehouse has no stock row for the SKU (shown as 0)."},
			})),
		}),
		"StockAdjustRequest": obj([]string{"warehouse", "on_hand", "reason"}, map[string]any{
			"warehouse": str, "on_hand": map[string]any{"type": "integer", "minimum": 0},
			"expected_on_hand": map[string]any{"type": "integer", "description": "The on-hand count the change is based on; 409 stale_stock if the stock moved since."},
			"reason":           reason, "note": map[string]any{"type": "string", "maxLength": 500},
		}),
		"LowStockRequest": obj([]string{"warehouse", "low_stock_threshold"}, map[string]any{"warehouse": str, "low_stock_threshold": nullableInt}),
		"StockAdjustments": obj([]string{"adjustments"}, map[string]any{"adjustments": arr(obj(nil, map[string]any{
			"id": integer, "sku": str, "warehouse": str, "before": integer, "after": integer, "reason": str, "note": str, "actor": str, "at": ts,
		}))}),
		"LowStockList": obj([]string{"low_stock"}, map[string]any{"low_stock": arr(obj(nil, map[string]any{
			"sku": str, "product": str, "variant": str, "warehouse": str, "market": str,
			"on_hand": integer, "reserved": integer, "available": integer, "low_stock_threshold": integer,
		}))}),
		"Coupon":              obj([]string{"code", "kind", "starts_at", "used", "state", "created_at"}, coupon),
		"CouponList":          obj([]string{"coupons"}, map[string]any{"coupons": arr(ref("Coupon"))}),
		"CouponCreateRequest": obj([]string{"code", "kind"}, createCoupon),
		"CouponUpdateRequest": obj(nil, couponRules),
		"CouponUsage":         usage,
		"CouponUsageList":     obj([]string{"coupons"}, map[string]any{"coupons": arr(ref("CouponUsage"))}),
		"TaxRate":             taxRate,
		"TaxRateList":         obj([]string{"tax_rates"}, map[string]any{"tax_rates": arr(ref("TaxRate"))}),
		"CustomerAccount":     obj([]string{"id", "email", "name", "email_verified", "created_at"}, account),
		"CustomerAccountList": obj([]string{"customers", "total", "page", "per_page"}, map[string]any{
			"customers": arr(ref("CustomerAccount")), "total": integer, "page": integer, "per_page": integer,
		}),
		"CustomerDetail":         obj([]string{"id", "email", "name", "orders", "sessions"}, detail),
		"CustomerDisableRequest": obj(nil, map[string]any{"reason": map[string]any{"type": "string", "maxLength": 500}}),
	}
}
