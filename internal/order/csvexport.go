package order

import (
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"mistore/internal/audit"
	"mistore/internal/db"
	"mistore/internal/money"
)

// CSVColumns is the header row of WriteCSV: one row per order, for
// accounting. One row per order (not per line) keeps every amount on one
// row, so a spreadsheet's column sum is the takings; the lines column
// names what was bought for whoever needs to look.
var CSVColumns = []string{
	"number", "market", "status", "created_at", "paid_at", "email", "currency",
	"subtotal", "discount", "shipping", "tax", "tax_included", "total", "paid", "refunded",
	"coupon", "shipping_method", "ship_country", "ship_region", "ship_postal_code",
	"item_count", "lines",
}

// csvPage is how many orders WriteCSV reads at a time: enough that the
// round trips do not dominate, few enough that a page is small in memory.
const csvPage = 500

// csvOrder is what WriteCSV reads of one order.
type csvOrder struct {
	id                                         int64
	number, market, status, email, cur, coupon string
	sub, disc, ship, tax, total, paid, refund  int64
	taxIncluded                                bool
	method, country, region, postal            string
	created                                    time.Time
	paidAt                                     sql.NullTime
	items                                      int
	lines                                      []string
}

// WriteCSV writes every order f selects to w as CSV with a header row
// (CSVColumns), oldest first; f's Page and PerPage are ignored. It reads
// csvPage orders at a time, walking the (created_at, id) index, so the
// whole table never sits in memory and an order placed during the export
// neither shifts a page nor repeats a row. Money is written in major
// units with the currency's decimals ("1999.00"), never through a float;
// times are RFC 3339 in UTC. Every cell goes through audit.SafeCell, so a
// customer-typed email, coupon or postal code starting with "=" is not run
// as a formula by a spreadsheet; amounts are never negative, so no number
// is changed by it. progress, when not nil, is told how many orders are
// written after each one.
func WriteCSV(ctx context.Context, q db.Querier, f Filter, w io.Writer, progress func(done int)) error {
	if err := f.normalise(); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVColumns); err != nil {
		return fmt.Errorf("export orders: %w", err)
	}
	where, args := f.where()
	var (
		after   time.Time
		afterID int64
		done    int
	)
	for {
		page, err := csvReadPage(ctx, q, where, args, after, afterID)
		if err != nil {
			return fmt.Errorf("export orders: %w", err)
		}
		for _, o := range page {
			if err := cw.Write(o.record()); err != nil {
				return fmt.Errorf("export orders: %w", err)
			}
			done++
			if progress != nil {
				progress(done)
			}
		}
		// Flush each page so that a download streams rather than
		// arriving all at the end.
		cw.Flush()
		if err := cw.Error(); err != nil {
			return fmt.Errorf("export orders: %w", err)
		}
		if len(page) < csvPage {
			return nil
		}
		last := page[len(page)-1]
		after, afterID = last.created, last.id
	}
}

// csvReadPage reads the next page of orders after (after, afterID), with
// their lines. The orders' rows are closed before the lines are read, so
// q may be a transaction's single connection.
func csvReadPage(ctx context.Context, q db.Querier, where string, args []any, after time.Time, afterID int64) ([]*csvOrder, error) {
	cond, pageArgs := where, args[:len(args):len(args)]
	if afterID != 0 {
		pageArgs = append(pageArgs, db.Time(after), afterID)
		t, id := len(pageArgs)-1, len(pageArgs)
		keyset := fmt.Sprintf("(created_at > $%d OR (created_at = $%d AND id > $%d))", t, t, id)
		if cond == "" {
			cond = " WHERE " + keyset
		} else {
			cond += " AND " + keyset
		}
	}
	rows, err := q.QueryContext(ctx, `SELECT id, number, market, status, email, currency, subtotal, discount, shipping, tax,
			tax_included, total, paid_amount, refunded_amount, coalesce(coupon_code, ''), shipping_method, ship_country,
			ship_region, ship_postal_code, created_at, paid_at
		FROM orders`+cond+" ORDER BY created_at, id LIMIT "+strconv.Itoa(csvPage), pageArgs...)
	if err != nil {
		return nil, err
	}
	var page []*csvOrder
	byID := map[int64]*csvOrder{}
	for rows.Next() {
		o := &csvOrder{}
		if err := rows.Scan(&o.id, &o.number, &o.market, &o.status, &o.email, &o.cur, &o.sub, &o.disc, &o.ship, &o.tax,
			&o.taxIncluded, &o.total, &o.paid, &o.refund, &o.coupon, &o.method, &o.country,
			&o.region, &o.postal, &o.created, &o.paidAt); err != nil {
			rows.Close()
			return nil, err
		}
		page = append(page, o)
		byID[o.id] = o
	}
	err = rows.Err()
	rows.Close()
	if err != nil || len(page) == 0 {
		return page, err
	}
	// The page's lines in one query rather than one per order.
	ids := make([]string, len(page))
	idArgs := make([]any, len(page))
	for i, o := range page {
		ids[i], idArgs[i] = "$"+strconv.Itoa(i+1), o.id
	}
	lines, err := q.QueryContext(ctx, "SELECT order_id, sku, quantity FROM order_lines WHERE order_id IN ("+
		strings.Join(ids, ", ")+") ORDER BY order_id, position", idArgs...)
	if err != nil {
		return nil, err
	}
	defer lines.Close()
	for lines.Next() {
		var id int64
		var sku string
		var qty int
		if err := lines.Scan(&id, &sku, &qty); err != nil {
			return nil, err
		}
		if o := byID[id]; o != nil {
			o.items += qty
			o.lines = append(o.lines, sku+" x "+strconv.Itoa(qty))
		}
	}
	return page, lines.Err()
}

// record is o as a CSV row in CSVColumns' order.
func (o *csvOrder) record() []string {
	amount := func(minor int64) string { return money.New(minor, o.cur).Decimal() }
	paidAt := ""
	if o.paidAt.Valid {
		paidAt = o.paidAt.Time.UTC().Format(time.RFC3339)
	}
	taxIncluded := "no"
	if o.taxIncluded {
		taxIncluded = "yes"
	}
	rec := []string{
		o.number, o.market, o.status, o.created.UTC().Format(time.RFC3339), paidAt, o.email, o.cur,
		amount(o.sub), amount(o.disc), amount(o.ship), amount(o.tax), taxIncluded, amount(o.total), amount(o.paid), amount(o.refund),
		o.coupon, o.method, o.country, o.region, o.postal,
		strconv.Itoa(o.items), strings.Join(o.lines, "; "),
	}
	for i := range rec {
		rec[i] = audit.SafeCell(rec[i])
	}
	return rec
}
