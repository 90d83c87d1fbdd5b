package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"mistore/internal/inventory"
	"mistore/internal/staff"
)

// Inventory in the back office: a SKU's stock per warehouse, adjustments
// by compare-and-set (a stale expected count is 409 stale_stock, and on
// the page the form comes back with the current number), the adjustment
// history, and the low-stock alert list.

func (s *Server) adminInventoryRoutes(a *adminRouter) {
	a.page("GET /admin/inventory", permShopRead, s.adminInventoryPage)
	a.page("POST /admin/inventory/adjust", staff.PermEditInventory, s.adminInventoryAdjust)
	a.page("POST /admin/inventory/low-stock", staff.PermEditInventory, s.adminInventoryThreshold)

	skuParam := paramDoc{name: "sku", in: "path", typ: "string", desc: "SKU.", required: true}
	a.api("GET /api/v1/admin/inventory", permShopRead, s.apiAdminLowStock, opDoc{
		summary:  "The low-stock alert list (low=1): stock rows whose available units are at or below their threshold, the worst first.",
		response: "LowStockList",
		params: []paramDoc{{name: "low", in: "query", typ: "integer", desc: "Must be 1: list the rows that are low.", required: true},
			{name: "limit", in: "query", typ: "integer", desc: "At most this many rows, 1 to 1000 (default 200)."}},
	})
	a.api("GET /api/v1/admin/inventory/{sku}", permShopRead, s.apiAdminStock, opDoc{
		summary: "A SKU's stock in every warehouse (0 where it has none).", response: "StockLevels", params: []paramDoc{skuParam},
	})
	a.api("PUT /api/v1/admin/inventory/{sku}", staff.PermEditInventory, s.apiAdminAdjust, opDoc{
		summary: "Set a SKU's on-hand count in a warehouse, with a reason. With expected_on_hand, 409 stale_stock when the stock moved since; " +
			"409 below_reserved when fewer units would remain than are reserved.",
		response: "StockLevels", request: "StockAdjustRequest", params: []paramDoc{skuParam},
	})
	a.api("PUT /api/v1/admin/inventory/{sku}/low-stock", staff.PermEditInventory, s.apiAdminThreshold, opDoc{
		summary:  "Set the low-stock threshold of a SKU in a warehouse (null: no alert).",
		response: "StockLevels", request: "LowStockRequest", params: []paramDoc{skuParam},
	})
	a.api("GET /api/v1/admin/inventory/{sku}/adjustments", permShopRead, s.apiAdminAdjustments, opDoc{
		summary: "A SKU's adjustment history, newest first.", response: "StockAdjustments",
		params: []paramDoc{skuParam, {name: "limit", in: "query", typ: "integer", desc: "At most this many, 1 to 500 (default 50)."}},
	})
}

// stockChanged makes the storefront see a stock change at once: the
// catalog's snapshot and the display cache of stock are reloaded.
func (s *Server) stockChanged(ctx context.Context) {
	if _, err := s.catalog.Refresh(ctx); err != nil {
		s.log.WarnContext(ctx, "refresh the catalog after a stock change", "err", err)
	}
}

func (s *Server) apiAdminLowStock(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("low") != "1" {
		s.apiFail(w, r, badParam("low", "low must be 1: this lists the low-stock rows; GET /api/v1/admin/inventory/{sku} shows one SKU"))
		return
	}
	limit, err := intParam(r, "limit", 200, 1, 1000)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	low, err := s.stock.LowStock(r.Context(), limit)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"low_stock": low})
}

func (s *Server) apiAdminStock(w http.ResponseWriter, r *http.Request) {
	st, err := s.stock.Stock(r.Context(), r.PathValue("sku"))
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, st)
}

// stockAdjustRequest is the body of PUT /api/v1/admin/inventory/{sku}.
type stockAdjustRequest struct {
	Warehouse      string `json:"warehouse"`
	OnHand         *int   `json:"on_hand"`
	ExpectedOnHand *int   `json:"expected_on_hand"`
	Reason         string `json:"reason"`
	Note           string `json:"note"`
}

func (s *Server) apiAdminAdjust(w http.ResponseWriter, r *http.Request) {
	var req stockAdjustRequest
	if err := decodeJSON(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	if req.OnHand == nil {
		s.apiFail(w, r, &inventory.FieldError{Field: "on_hand", Msg: "on_hand is required: the number of units in the warehouse."})
		return
	}
	sku := r.PathValue("sku")
	_, err := s.stock.Adjust(r.Context(), inventory.Adjustment{SKU: sku, Warehouse: req.Warehouse, OnHand: *req.OnHand,
		Expected: req.ExpectedOnHand, Reason: inventory.Reason(req.Reason), Note: req.Note})
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.stockChanged(r.Context())
	s.apiAdminStock(w, r)
}

// lowStockRequest is the body of PUT /api/v1/admin/inventory/{sku}/low-stock.
type lowStockRequest struct {
	Warehouse string `json:"warehouse"`
	Threshold *int   `json:"low_stock_threshold"`
}

func (s *Server) apiAdminThreshold(w http.ResponseWriter, r *http.Request) {
	var req lowStockRequest
	if err := decodeJSON(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	if err := s.stock.SetLowStockThreshold(r.Context(), r.PathValue("sku"), req.Warehouse, req.Threshold); err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.apiAdminStock(w, r)
}

func (s *Server) apiAdminAdjustments(w http.ResponseWriter, r *http.Request) {
	limit, err := intParam(r, "limit", 50, 1, 500)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	inv := s.stock
	sku := r.PathValue("sku")
	if _, err := inv.Stock(r.Context(), sku); err != nil {
		s.apiFail(w, r, err)
		return
	}
	hist, err := inv.History(r.Context(), sku, limit)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"adjustments": hist})
}

// adminInventoryContent is the inventory page's content.
type adminInventoryContent struct {
	// SKU is the one searched for; Stock and History are its, when found.
	SKU     string
	Stock   *inventory.SKUStock
	History []inventory.AdjustmentRecord
	Low     []inventory.LowStock
	Reasons []inventory.Reason
	CanEdit bool
	// Error is why the last change was refused; Warehouse the row it was
	// for, and Form what was typed (kept when the form comes back).
	Error     string
	Warehouse string
	Form      adminAdjustForm
}

// adminAdjustForm is what was typed into an adjustment form.
type adminAdjustForm struct {
	OnHand, Reason, Note string
}

func (s *Server) adminInventoryPage(w http.ResponseWriter, r *http.Request) {
	s.renderInventoryPage(w, r, http.StatusOK, strings.TrimSpace(r.URL.Query().Get("sku")), adminInventoryContent{})
}

// renderInventoryPage shows the inventory page for sku ("" for none),
// with c's error and form, read fresh from the database.
func (s *Server) renderInventoryPage(w http.ResponseWriter, r *http.Request, status int, sku string, c adminInventoryContent) {
	inv := s.stock
	ctx := r.Context()
	c.SKU, c.Reasons, c.CanEdit = sku, inventory.Reasons(), s.staffCaller(r).Can(staff.PermEditInventory)
	if sku != "" {
		st, err := inv.Stock(ctx, sku)
		switch {
		case errors.Is(err, inventory.ErrUnknownSKU):
			if status == http.StatusOK {
				status = http.StatusNotFound
			}
			if c.Error == "" {
				c.Error = fmt.Sprintf("There is no SKU %q.", sku)
			}
		case err != nil:
			s.adminFail(w, r, err)
			return
		default:
			c.Stock = &st
			if c.History, err = inv.History(ctx, sku, 50); err != nil {
				s.adminFail(w, r, err)
				return
			}
		}
	}
	low, err := inv.LowStock(ctx, 200)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	c.Low = low
	s.renderAdmin(w, r, status, "admin_inventory", "inventory", "Inventory", c)
}

// formInt reads an optional whole number from a form field: nil when it
// is empty, a field error when it is not a number.
func formInt(r *http.Request, field string) (*int, error) {
	raw := strings.TrimSpace(r.PostFormValue(field))
	if raw == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		return nil, &inventory.FieldError{Field: field, Msg: fmt.Sprintf("%q is not a whole number.", raw)}
	}
	return &n, nil
}

func (s *Server) adminInventoryAdjust(w http.ResponseWriter, r *http.Request) {
	sku := strings.TrimSpace(r.PostFormValue("sku"))
	wh := r.PostFormValue("warehouse")
	form := adminAdjustForm{OnHand: r.PostFormValue("on_hand"), Reason: r.PostFormValue("reason"), Note: r.PostFormValue("note")}
	onHand, err := formInt(r, "on_hand")
	if err == nil && onHand == nil {
		err = &inventory.FieldError{Field: "on_hand", Msg: "Type the number of units now in the warehouse."}
	}
	var expected *int
	if err == nil {
		expected, err = formInt(r, "expected_on_hand")
	}
	if err == nil {
		_, err = s.stock.Adjust(r.Context(), inventory.Adjustment{SKU: sku, Warehouse: wh, OnHand: *onHand, Expected: expected,
			Reason: inventory.Reason(form.Reason), Note: form.Note})
	}
	if err != nil {
		status, body := classify(err)
		if status >= 500 {
			s.adminFail(w, r, err)
			return
		}
		msg := body.Message
		switch {
		case errors.Is(err, inventory.ErrConflict):
			msg = "Someone changed this stock while you were editing it, so nothing was saved. The numbers below are the current ones: check them and submit again."
		case errors.Is(err, inventory.ErrBelowReserved):
			msg = "Nothing was saved: more units than that are reserved for unpaid orders in this warehouse."
		}
		s.renderInventoryPage(w, r, status, sku, adminInventoryContent{Error: msg, Warehouse: wh, Form: form})
		return
	}
	s.stockChanged(r.Context())
	s.adminRedirect(w, r, "/admin/inventory?sku="+url.QueryEscape(sku), fmt.Sprintf("Stock of %s in %s is now %d.", sku, wh, *onHand))
}

func (s *Server) adminInventoryThreshold(w http.ResponseWriter, r *http.Request) {
	sku := strings.TrimSpace(r.PostFormValue("sku"))
	wh := r.PostFormValue("warehouse")
	threshold, err := formInt(r, "low_stock_threshold")
	if err == nil {
		err = s.stock.SetLowStockThreshold(r.Context(), sku, wh, threshold)
	}
	if err != nil {
		status, body := classify(err)
		if status >= 500 {
			s.adminFail(w, r, err)
			return
		}
		s.renderInventoryPage(w, r, status, sku, adminInventoryContent{Error: body.Message, Warehouse: wh})
		return
	}
	flash := fmt.Sprintf("Low-stock alert for %s in %s turned off.", sku, wh)
	if threshold != nil {
		flash = fmt.Sprintf("Low-stock alert for %s in %s at %d or fewer available.", sku, wh, *threshold)
	}
	s.adminRedirect(w, r, "/admin/inventory?sku="+url.QueryEscape(sku), flash)
}
