package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"mistore/internal/audit"
	"mistore/internal/changefeed"
	"mistore/internal/db"
	"mistore/internal/input"
)

// Back-office outcomes of stock changes, besides ErrConflict (the stock
// moved since the editor read it) and ErrUnknownStock.
var (
	// ErrBelowReserved means an adjustment would leave fewer units on
	// hand than are promised to unpaid orders and claims.
	ErrBelowReserved = errors.New("stock cannot go below the reserved units")
	// ErrUnknownSKU means no variant has the SKU.
	ErrUnknownSKU = errors.New("no such SKU")
)

// FieldError is a back-office input the store cannot accept, naming the
// field at fault. Its Error is the sentence shown to the editor; its Err
// is ErrNegativeStock for a negative quantity, so that errors.Is holds.
// It is every back-office write's input.FieldError, so the web layer
// answers them all alike.
type FieldError = input.FieldError

// Reason is why staff changed a stock level: an enumeration, so that
// the history can be counted by cause, with a free-text note beside it.
type Reason string

// The reasons for an adjustment.
const (
	// ReasonReceived is goods arriving from a supplier.
	ReasonReceived Reason = "received"
	// ReasonDamaged is units written off as damaged or lost.
	ReasonDamaged Reason = "damaged"
	// ReasonCountCorrection is a stock-take that found another number.
	ReasonCountCorrection Reason = "count_correction"
)

// Reasons returns every reason, in the order forms list them.
func Reasons() []Reason { return []Reason{ReasonReceived, ReasonDamaged, ReasonCountCorrection} }

// ParseReason returns the reason named s, or a *FieldError for "reason".
func ParseReason(s string) (Reason, error) {
	for _, r := range Reasons() {
		if string(r) == s {
			return r, nil
		}
	}
	if s == "" {
		return "", &FieldError{Field: "reason", Msg: "A reason is required: received, damaged or count_correction."}
	}
	return "", &FieldError{Field: "reason", Msg: fmt.Sprintf("The reason %q is not one of received, damaged or count_correction.", s)}
}

// MaxNoteLen is the longest note on an adjustment, in characters.
const MaxNoteLen = 500

// Adjustment is a staff change of one stock level.
type Adjustment struct {
	SKU       string
	Warehouse string
	// OnHand is the new number of units in the warehouse.
	OnHand int
	// Expected, when set, is the on-hand quantity the change was based on:
	// if the stock moved since, the change is refused with ErrConflict.
	// Without it the change applies to whatever the stock is now.
	Expected *int
	Reason   Reason
	Note     string
}

// stockAudit is a stock row as the audit log shows it.
type stockAudit struct {
	OnHand   int    `json:"on_hand"`
	Reserved int    `json:"reserved"`
	Reason   Reason `json:"reason,omitempty"`
	Note     string `json:"note,omitempty"`
}

// StockSubject is the audit log's subject for a SKU in a warehouse.
func StockSubject(sku, warehouse string) string { return "stock:" + sku + "@" + warehouse }

// check validates a's fields, returning a *FieldError.
func (a *Adjustment) check() error {
	if a.OnHand < 0 {
		return &FieldError{Field: "on_hand", Msg: "Stock cannot be negative.", Err: ErrNegativeStock}
	}
	if a.OnHand > MaxOnHand {
		return &FieldError{Field: "on_hand", Msg: fmt.Sprintf("A stock level is at most %d units.", MaxOnHand)}
	}
	if a.Expected != nil && (*a.Expected < 0 || *a.Expected > MaxOnHand) {
		return &FieldError{Field: "expected_on_hand", Msg: fmt.Sprintf("The expected stock must be between 0 and %d.", MaxOnHand)}
	}
	if a.Warehouse == "" {
		return &FieldError{Field: "warehouse", Msg: "A warehouse is required."}
	}
	if _, err := ParseReason(string(a.Reason)); err != nil {
		return err
	}
	a.Note = strings.TrimSpace(a.Note)
	if utf8.RuneCountInString(a.Note) > MaxNoteLen || !utf8.ValidString(a.Note) {
		return &FieldError{Field: "note", Msg: fmt.Sprintf("The note is at most %d characters of text.", MaxNoteLen)}
	}
	if strings.ContainsFunc(a.Note, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) {
		return &FieldError{Field: "note", Msg: "The note must not contain control characters."}
	}
	return nil
}

// Adjust sets a stock level by compare-and-set and records why, in the
// adjustment history and in the audit log, with the actor ctx carries
// (audit.ErrNoActor without one: no stock change goes unattributed).
//
// A stale Expected is ErrConflict, and so is losing a race: the UPDATE
// repeats the on-hand value it read as its condition, so of two editors
// who read the same number exactly one writes, on either engine, and the
// other is told rather than silently overwritten. Going below the units
// reserved for unpaid orders is ErrBelowReserved. A SKU the warehouse has
// no row for gets one, as if it had been 0.
func (s *Service) Adjust(ctx context.Context, a Adjustment) (Level, error) {
	if err := a.check(); err != nil {
		return Level{}, err
	}
	actor, ok := audit.ActorFrom(ctx)
	if !ok {
		return Level{}, fmt.Errorf("adjust %s in %s: %w", a.SKU, a.Warehouse, audit.ErrNoActor)
	}
	var lvl Level
	err := s.db.Tx(ctx, func(tx db.Querier) error {
		var before, reserved int
		err := tx.QueryRowContext(ctx, "SELECT on_hand, reserved FROM stock WHERE sku = $1 AND warehouse = $2", a.SKU, a.Warehouse).Scan(&before, &reserved)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if err := createRow(ctx, tx, a); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("adjust %s in %s: %w", a.SKU, a.Warehouse, err)
		default:
			if a.Expected != nil && *a.Expected != before {
				return fmt.Errorf("adjust %s in %s: expected %d on hand, found %d: %w", a.SKU, a.Warehouse, *a.Expected, before, ErrConflict)
			}
			if a.OnHand < reserved {
				return fmt.Errorf("adjust %s in %s: %d units are promised to unpaid orders, cannot go down to %d: %w", a.SKU, a.Warehouse, reserved, a.OnHand, ErrBelowReserved)
			}
			// The condition repeats the read: on PostgreSQL a concurrent
			// adjustment between the two fails here instead of being lost.
			res, err := tx.ExecContext(ctx, `UPDATE stock SET on_hand = $3 WHERE sku = $1 AND warehouse = $2 AND on_hand = $4 AND reserved <= $3`,
				a.SKU, a.Warehouse, a.OnHand, before)
			if err != nil {
				return fmt.Errorf("adjust %s in %s: %w", a.SKU, a.Warehouse, err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return fmt.Errorf("adjust %s in %s: %w", a.SKU, a.Warehouse, ErrConflict)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO stock_adjustments (sku, warehouse, before, after, reason, note, actor, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, a.SKU, a.Warehouse, before, a.OnHand, string(a.Reason), a.Note, actor.String(), db.Now()); err != nil {
			return fmt.Errorf("adjust %s in %s: %w", a.SKU, a.Warehouse, err)
		}
		if err := audit.Record(ctx, tx, "inventory.adjust", StockSubject(a.SKU, a.Warehouse),
			stockAudit{OnHand: before, Reserved: reserved},
			stockAudit{OnHand: a.OnHand, Reserved: reserved, Reason: a.Reason, Note: a.Note}); err != nil {
			return err
		}
		lvl = Level{Warehouse: a.Warehouse, OnHand: a.OnHand, Reserved: reserved}
		// Other instances drop their display copies of stock on commit.
		return changefeed.Publish(ctx, s.db, tx, changefeed.Stock, a.SKU)
	})
	return lvl, err
}

// createRow inserts the first stock row of a.SKU in a.Warehouse, for an
// adjustment that found none: as if the stock had been 0.
func createRow(ctx context.Context, tx db.Querier, a Adjustment) error {
	if a.Expected != nil && *a.Expected != 0 {
		return fmt.Errorf("adjust %s in %s: expected %d on hand, found none: %w", a.SKU, a.Warehouse, *a.Expected, ErrConflict)
	}
	if err := skuAndWarehouseExist(ctx, tx, a.SKU, a.Warehouse); err != nil {
		return err
	}
	// DO NOTHING, not an error: a concurrent first adjustment that got
	// there first makes this one stale.
	res, err := tx.ExecContext(ctx, `INSERT INTO stock (sku, warehouse, on_hand) VALUES ($1, $2, $3)
		ON CONFLICT (sku, warehouse) DO NOTHING`, a.SKU, a.Warehouse, a.OnHand)
	if err != nil {
		return fmt.Errorf("adjust %s in %s: %w", a.SKU, a.Warehouse, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("adjust %s in %s: %w", a.SKU, a.Warehouse, ErrConflict)
	}
	return nil
}

// skuAndWarehouseExist returns ErrUnknownSKU or ErrUnknownStock (for the
// warehouse) unless both exist.
func skuAndWarehouseExist(ctx context.Context, q db.Querier, sku, warehouse string) error {
	var one int
	err := q.QueryRowContext(ctx, "SELECT 1 FROM variants WHERE sku = $1", sku).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", sku, ErrUnknownSKU)
	}
	if err != nil {
		return fmt.Errorf("variant %s: %w", sku, err)
	}
	err = q.QueryRowContext(ctx, "SELECT 1 FROM warehouses WHERE code = $1", warehouse).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return &FieldError{Field: "warehouse", Msg: fmt.Sprintf("There is no warehouse %q.", warehouse), Err: ErrUnknownStock}
	}
	if err != nil {
		return fmt.Errorf("warehouse %s: %w", warehouse, err)
	}
	return nil
}

// WarehouseStock is one warehouse's stock of a SKU, as the back office
// shows it.
type WarehouseStock struct {
	Code      string `json:"code"`
	Market    string `json:"market"`
	OnHand    int    `json:"on_hand"`
	Reserved  int    `json:"reserved"`
	Available int    `json:"available"`
	// LowStockThreshold is nil when the alert is off.
	LowStockThreshold *int `json:"low_stock_threshold"`
	// Low is true while Available is at or below the threshold.
	Low bool `json:"low"`
	// Stocked is false for a warehouse with no stock row for the SKU
	// (shown as 0, so that staff can receive the first units there).
	Stocked bool `json:"stocked"`
}

// SKUStock is a SKU's stock in every warehouse.
type SKUStock struct {
	SKU        string           `json:"sku"`
	Product    string           `json:"product"`
	Slug       string           `json:"product_slug"`
	Variant    string           `json:"variant"`
	Warehouses []WarehouseStock `json:"warehouses"`
}

// Stock returns sku's stock in every warehouse the store has, or
// ErrUnknownSKU.
func (s *Service) Stock(ctx context.Context, sku string) (SKUStock, error) {
	q := s.db.Reader()
	out := SKUStock{SKU: sku, Warehouses: []WarehouseStock{}}
	err := q.QueryRowContext(ctx, `SELECT p.name, p.slug, v.name FROM variants v JOIN products p ON p.id = v.product_id WHERE v.sku = $1`, sku).
		Scan(&out.Product, &out.Slug, &out.Variant)
	if errors.Is(err, sql.ErrNoRows) {
		return SKUStock{}, fmt.Errorf("%s: %w", sku, ErrUnknownSKU)
	}
	if err != nil {
		return SKUStock{}, fmt.Errorf("stock of %s: %w", sku, err)
	}
	rows, err := q.QueryContext(ctx, `SELECT w.code, w.market, s.sku IS NOT NULL, coalesce(s.on_hand, 0), coalesce(s.reserved, 0), s.low_stock_threshold
		FROM warehouses w LEFT JOIN stock s ON s.warehouse = w.code AND s.sku = $1
		ORDER BY w.market, w.code`, sku)
	if err != nil {
		return SKUStock{}, fmt.Errorf("stock of %s: %w", sku, err)
	}
	defer rows.Close()
	for rows.Next() {
		var w WarehouseStock
		var threshold sql.NullInt64
		if err := rows.Scan(&w.Code, &w.Market, &w.Stocked, &w.OnHand, &w.Reserved, &threshold); err != nil {
			return SKUStock{}, fmt.Errorf("stock of %s: %w", sku, err)
		}
		w.Available = w.OnHand - w.Reserved
		if threshold.Valid && w.Stocked {
			t := int(threshold.Int64)
			w.LowStockThreshold = &t
			w.Low = w.Available <= t
		}
		out.Warehouses = append(out.Warehouses, w)
	}
	if err := rows.Err(); err != nil {
		return SKUStock{}, fmt.Errorf("stock of %s: %w", sku, err)
	}
	return out, nil
}

// AdjustmentRecord is one line of a SKU's adjustment history.
type AdjustmentRecord struct {
	ID        int64     `json:"id"`
	SKU       string    `json:"sku"`
	Warehouse string    `json:"warehouse"`
	Before    int       `json:"before"`
	After     int       `json:"after"`
	Reason    string    `json:"reason"`
	Note      string    `json:"note,omitempty"`
	Actor     string    `json:"actor"`
	At        time.Time `json:"at"`
}

// History returns sku's adjustments, newest first, at most limit (1 to
// 500; anything else means 50).
func (s *Service) History(ctx context.Context, sku string, limit int) ([]AdjustmentRecord, error) {
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	rows, err := s.db.Reader().QueryContext(ctx, `SELECT id, sku, warehouse, before, after, reason, note, actor, created_at
		FROM stock_adjustments WHERE sku = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, sku, limit)
	if err != nil {
		return nil, fmt.Errorf("adjustments of %s: %w", sku, err)
	}
	defer rows.Close()
	out := []AdjustmentRecord{}
	for rows.Next() {
		var r AdjustmentRecord
		if err := rows.Scan(&r.ID, &r.SKU, &r.Warehouse, &r.Before, &r.After, &r.Reason, &r.Note, &r.Actor, &r.At); err != nil {
			return nil, fmt.Errorf("adjustments of %s: %w", sku, err)
		}
		r.At = r.At.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}
