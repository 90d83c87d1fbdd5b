package order

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"mistore/internal/audit"
	"mistore/internal/db"
	"mistore/internal/input"
	"mistore/internal/money"
)

// ReturnStatus is where a return stands: requested by the customer,
// approved or rejected by staff, received (restocked or not), refunded.
type ReturnStatus string

// Return states.
const (
	ReturnRequested ReturnStatus = "requested"
	ReturnApproved  ReturnStatus = "approved"
	ReturnRejected  ReturnStatus = "rejected"
	ReturnReceived  ReturnStatus = "received"
	ReturnRefunded  ReturnStatus = "refunded"
)

// returnable are the order states a return may be asked for in: shipped
// (the order must also have a shipment), whether delivered or partly
// refunded since.
var returnable = []Status{Fulfilled, Delivered, PartiallyRefunded}

// Return is a customer's request to send units back.
type Return struct {
	ID     int64
	Status ReturnStatus
	Reason string
	// Note is staff's word on it, e.g. why it was rejected.
	Note      string
	Restocked bool
	Lines     []ReturnLine
	// Value is what the returned units were paid, the default refund.
	Value     money.Money
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ReturnLine is a quantity of one order line sent back.
type ReturnLine struct {
	// Position is the order line's.
	Position int
	SKU      string
	Name     string
	Quantity int
}

// ReturnItem is a line of a return request: units of a SKU on the order.
type ReturnItem struct {
	SKU      string
	Quantity int
}

// ReturnableLine is an order line with how many of its units may still
// be asked back.
type ReturnableLine struct {
	Line
	Position int
	Left     int
}

// Returnable returns the lines of o that may still be returned, with how
// many units each, or none when o cannot be returned (not shipped yet,
// cancelled, refunded in full).
func (s *Service) Returnable(ctx context.Context, o *Order) ([]ReturnableLine, error) {
	return returnableLines(ctx, s.db.Reader(), o)
}

func returnableLines(ctx context.Context, q db.Querier, o *Order) ([]ReturnableLine, error) {
	ok := false
	for _, st := range returnable {
		ok = ok || o.Status == st
	}
	if !ok {
		return nil, nil
	}
	var shipped int
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM shipments WHERE order_id = $1", o.ID).Scan(&shipped); err != nil {
		return nil, fmt.Errorf("order %s shipments: %w", o.Number, err)
	}
	if shipped == 0 {
		return nil, nil
	}
	taken := map[int]int{}
	rows, err := q.QueryContext(ctx, `SELECT rl.position, sum(rl.quantity) FROM return_lines rl JOIN returns r ON r.id = rl.return_id
		WHERE r.order_id = $1 AND r.status <> 'rejected' GROUP BY rl.position`, o.ID)
	if err != nil {
		return nil, fmt.Errorf("order %s returned units: %w", o.Number, err)
	}
	defer rows.Close()
	for rows.Next() {
		var pos, n int
		if err := rows.Scan(&pos, &n); err != nil {
			return nil, err
		}
		taken[pos] = n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []ReturnableLine
	for i, l := range o.Lines {
		if left := l.Quantity - taken[i]; left > 0 {
			out = append(out, ReturnableLine{Line: l, Position: i, Left: left})
		}
	}
	return out, nil
}

// maxReturnReason bounds a customer's reason.
const maxReturnReason = 1000

// RequestReturn records a customer's request to return units of order
// number, for reason. The order must have shipped; each SKU must be on it,
// and no more units may be asked back than were bought less those in
// returns not rejected. Concurrent requests for one order run one after
// the other (the order's row is taken first), so together they cannot
// exceed that either.
func (s *Service) RequestReturn(ctx context.Context, number string, items []ReturnItem, reason string) (*Return, error) {
	reason, err := cleanText("reason", reason, maxReturnReason, true)
	if err != nil {
		return nil, err
	}
	want := map[string]int{}
	var order []string
	for _, it := range items {
		if it.Quantity < 0 || it.Quantity > 1000 {
			return nil, input.Invalid("quantity", "A quantity to return must be between 0 and the number bought.")
		}
		if it.Quantity == 0 {
			continue
		}
		if _, seen := want[it.SKU]; !seen {
			order = append(order, it.SKU)
		}
		want[it.SKU] += it.Quantity
	}
	if len(want) == 0 {
		return nil, input.Invalid("lines", "Choose at least one item to return.")
	}
	var ret *Return
	err = s.db.Tx(ctx, func(tx db.Querier) error {
		o, err := lockForChange(ctx, tx, number, returnable...)
		if err != nil {
			return err
		}
		lines, err := returnableLines(ctx, tx, o)
		if err != nil {
			return err
		}
		if lines == nil {
			return fmt.Errorf("%w: order %s has not shipped, or has nothing left to return", ErrState, number)
		}
		ret = &Return{Status: ReturnRequested, Reason: reason}
		for _, sku := range order {
			n := want[sku]
			var found *ReturnableLine
			for i := range lines {
				if lines[i].SKU == sku {
					found = &lines[i]
					break
				}
			}
			if found == nil {
				return input.Invalid("lines", "%s is not on this order, or all of it is being returned already.", sku)
			}
			if n > found.Left {
				return input.Invalid("quantity", "Only %d of %s can be returned.", found.Left, found.Name)
			}
			ret.Lines = append(ret.Lines, ReturnLine{Position: found.Position, SKU: sku, Name: found.Name, Quantity: n})
		}
		now := db.Now()
		ret.CreatedAt, ret.UpdatedAt = now, now
		if err := tx.QueryRowContext(ctx, `INSERT INTO returns (order_id, status, reason, created_at, updated_at)
			VALUES ($1, 'requested', $2, $3, $3) RETURNING id`, o.ID, reason, now).Scan(&ret.ID); err != nil {
			return fmt.Errorf("record return: %w", err)
		}
		var what []string
		for _, l := range ret.Lines {
			if _, err := tx.ExecContext(ctx, "INSERT INTO return_lines (return_id, position, sku, quantity) VALUES ($1, $2, $3, $4)",
				ret.ID, l.Position, l.SKU, l.Quantity); err != nil {
				return fmt.Errorf("record return line: %w", err)
			}
			what = append(what, strconv.Itoa(l.Quantity)+" × "+l.Name)
		}
		ret.Value = returnValue(o, ret.Lines)
		return AddEvent(ctx, tx, o.ID, "return_requested", fmt.Sprintf("Return #%d requested: %s.", ret.ID, strings.Join(what, ", ")))
	})
	if err != nil {
		return nil, fmt.Errorf("return from %s: %w", number, err)
	}
	return ret, nil
}

// returnValue is what the customer paid for lines of o: each line's share
// of its total, less its share of the order's discount, plus its tax
// where tax was added on top.
func returnValue(o *Order, lines []ReturnLine) money.Money {
	var v int64
	for _, rl := range lines {
		if rl.Position < 0 || rl.Position >= len(o.Lines) {
			continue
		}
		l := o.Lines[rl.Position]
		if l.Quantity <= 0 {
			continue
		}
		q := int64(rl.Quantity)
		gross := l.Total.Amount * q / int64(l.Quantity)
		part := gross
		if o.Subtotal.Amount > 0 && o.Discount.Amount > 0 {
			part -= o.Discount.Amount * gross / o.Subtotal.Amount
		}
		if !o.TaxIncluded {
			part += l.Tax.Amount * q / int64(l.Quantity)
		}
		v += part
	}
	return money.New(v, o.Currency)
}

// returns reads o's returns with their lines.
func returns(ctx context.Context, q db.Querier, o *Order) ([]Return, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, status, reason, note, restocked, created_at, updated_at
		FROM returns WHERE order_id = $1 ORDER BY id`, o.ID)
	if err != nil {
		return nil, fmt.Errorf("order %s returns: %w", o.Number, err)
	}
	var out []Return
	byID := map[int64]int{}
	for rows.Next() {
		var r Return
		var st string
		if err := rows.Scan(&r.ID, &st, &r.Reason, &r.Note, &r.Restocked, &r.CreatedAt, &r.UpdatedAt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("order %s returns: %w", o.Number, err)
		}
		r.Status, r.CreatedAt, r.UpdatedAt = ReturnStatus(st), r.CreatedAt.UTC(), r.UpdatedAt.UTC()
		byID[r.ID] = len(out)
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil
	}
	lines, err := q.QueryContext(ctx, `SELECT rl.return_id, rl.position, rl.sku, rl.quantity FROM return_lines rl
		JOIN returns r ON r.id = rl.return_id WHERE r.order_id = $1 ORDER BY rl.return_id, rl.position`, o.ID)
	if err != nil {
		return nil, fmt.Errorf("order %s return lines: %w", o.Number, err)
	}
	defer lines.Close()
	for lines.Next() {
		var id int64
		var l ReturnLine
		if err := lines.Scan(&id, &l.Position, &l.SKU, &l.Quantity); err != nil {
			return nil, err
		}
		if l.Position >= 0 && l.Position < len(o.Lines) {
			l.Name = o.Lines[l.Position].Name
		}
		if i, ok := byID[id]; ok {
			out[i].Lines = append(out[i].Lines, l)
		}
	}
	if err := lines.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Value = returnValue(o, out[i].Lines)
	}
	return out, nil
}

// getReturn reads return id of o inside q.
func getReturn(ctx context.Context, q db.Querier, o *Order, id int64) (*Return, error) {
	all, err := returns(ctx, q, o)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].ID == id {
			return &all[i], nil
		}
	}
	return nil, fmt.Errorf("%w: order %s has no return #%d", ErrReturnNotFound, o.Number, id)
}

// moveReturn moves return id of o from state from to state to, by a
// conditional update, so two staff acting on one return at once cannot
// both move it: the second is ErrState. set adds assignments ($3 on).
func moveReturn(ctx context.Context, tx db.Querier, o *Order, id int64, from, to ReturnStatus, set string, args ...any) (*Return, error) {
	r, err := getReturn(ctx, tx, o, id)
	if err != nil {
		return nil, err
	}
	q := "UPDATE returns SET status = '" + string(to) + "', updated_at = $2" + set +
		" WHERE id = $1 AND status = '" + string(from) + "'"
	res, err := tx.ExecContext(ctx, q, append([]any{id, db.Now()}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("return #%d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, fmt.Errorf("%w: return #%d is %s, not %s", ErrState, id, r.Status, from)
	}
	r.Status = to
	return r, nil
}

// returnAudit is a return as the audit log keeps it.
type returnAudit struct {
	ID        int64        `json:"id"`
	Status    ReturnStatus `json:"status"`
	Note      string       `json:"note,omitempty"`
	Restocked bool         `json:"restocked,omitempty"`
	Refund    *money.Money `json:"refund,omitempty"`
}

// ApproveReturn lets the customer send return id of order number back.
func (s *Service) ApproveReturn(ctx context.Context, number string, id int64) (*Return, error) {
	return s.decideReturn(ctx, number, id, ReturnApproved, "")
}

// RejectReturn refuses return id of order number, for note (shown to
// staff; the customer sees that it was rejected). Its units may be asked
// back again.
func (s *Service) RejectReturn(ctx context.Context, number string, id int64, note string) (*Return, error) {
	note, err := cleanText("note", note, maxReason, false)
	if err != nil {
		return nil, err
	}
	return s.decideReturn(ctx, number, id, ReturnRejected, note)
}

func (s *Service) decideReturn(ctx context.Context, number string, id int64, to ReturnStatus, note string) (*Return, error) {
	var r *Return
	err := s.db.Tx(ctx, func(tx db.Querier) error {
		o, err := Get(ctx, tx, number)
		if err != nil {
			return err
		}
		if r, err = moveReturn(ctx, tx, o, id, ReturnRequested, to, ", note = $3", note); err != nil {
			return err
		}
		r.Note = note
		detail := fmt.Sprintf("Return #%d approved: send the items back.", id)
		action := "return.approve"
		if to == ReturnRejected {
			detail, action = fmt.Sprintf("Return #%d was not accepted.", id), "return.reject"
		}
		if err := AddEvent(ctx, tx, o.ID, "return_"+string(to), detail); err != nil {
			return err
		}
		return audit.Record(ctx, tx, action, subject(o), returnAudit{ID: id, Status: ReturnRequested},
			returnAudit{ID: id, Status: to, Note: note})
	})
	if err != nil {
		verb := "approve"
		if to == ReturnRejected {
			verb = "reject"
		}
		return nil, fmt.Errorf("%s return #%d of %s: %w", verb, id, number, err)
	}
	return r, nil
}

// ReceiveReturn records that the units of return id of order number
// arrived. With restock they go back on hand in the order's market: in
// the warehouse they were sold from when it is there, else the market's
// first; without (damaged, say) they do not.
func (s *Service) ReceiveReturn(ctx context.Context, number string, id int64, restock bool) (*Return, error) {
	var r *Return
	err := s.db.Tx(ctx, func(tx db.Querier) error {
		o, err := Get(ctx, tx, number)
		if err != nil {
			return err
		}
		if r, err = moveReturn(ctx, tx, o, id, ReturnApproved, ReturnReceived, ", restocked = $3", restock); err != nil {
			return err
		}
		r.Restocked = restock
		detail := fmt.Sprintf("Return #%d received.", id)
		if restock {
			for _, l := range r.Lines {
				if err := restockReturned(ctx, tx, o, l, id); err != nil {
					return err
				}
			}
			detail = fmt.Sprintf("Return #%d received and restocked.", id)
		}
		if err := AddEvent(ctx, tx, o.ID, "return_received", detail); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "return.receive", subject(o), returnAudit{ID: id, Status: ReturnApproved},
			returnAudit{ID: id, Status: ReturnReceived, Restocked: restock})
	})
	if err != nil {
		return nil, fmt.Errorf("receive return #%d of %s: %w", id, number, err)
	}
	return r, nil
}

// restockReturned puts the units of returned line l back on hand, and
// writes the stock change down in stock_adjustments like any other.
func restockReturned(ctx context.Context, tx db.Querier, o *Order, l ReturnLine, returnID int64) error {
	var wh string
	err := tx.QueryRowContext(ctx, `SELECT r.warehouse FROM reservations r JOIN warehouses w ON w.code = r.warehouse
		WHERE r.owner = $1 AND r.sku = $2 AND w.market = $3 ORDER BY r.id LIMIT 1`, o.Owner(), l.SKU, o.Market).Scan(&wh)
	if errors.Is(err, sql.ErrNoRows) {
		err = tx.QueryRowContext(ctx, "SELECT code FROM warehouses WHERE market = $1 ORDER BY code LIMIT 1", o.Market).Scan(&wh)
	}
	if err != nil {
		return fmt.Errorf("restock %s: no warehouse in %s: %w", l.SKU, o.Market, err)
	}
	var after int
	err = tx.QueryRowContext(ctx, "UPDATE stock SET on_hand = on_hand + $3 WHERE sku = $1 AND warehouse = $2 RETURNING on_hand",
		l.SKU, wh, l.Quantity).Scan(&after)
	if errors.Is(err, sql.ErrNoRows) {
		after = l.Quantity
		_, err = tx.ExecContext(ctx, "INSERT INTO stock (sku, warehouse, on_hand) VALUES ($1, $2, $3)", l.SKU, wh, l.Quantity)
	}
	if err != nil {
		return fmt.Errorf("restock %d × %s in %s: %w", l.Quantity, l.SKU, wh, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO stock_adjustments (sku, warehouse, before, after, reason, actor, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, l.SKU, wh, after-l.Quantity, after,
		fmt.Sprintf("returned: order %s, return #%d", o.Number, returnID), actorName(ctx), db.Now()); err != nil {
		return fmt.Errorf("restock %s: %w", l.SKU, err)
	}
	return nil
}

// RefundReturn refunds received return id of order number through the
// provider, by the same path as any refund (so it too can never exceed
// the capture). amount nil refunds what the units were paid (or what is
// left of the capture, if less); an amount given may be less, never more.
func (s *Service) RefundReturn(ctx context.Context, number string, id int64, amount *money.Money) (*RefundEntry, error) {
	var entry *RefundEntry
	err := s.db.Tx(ctx, func(tx db.Querier) error {
		o, err := Get(ctx, tx, number)
		if err != nil {
			return err
		}
		r, err := moveReturn(ctx, tx, o, id, ReturnReceived, ReturnRefunded, "")
		if err != nil {
			return err
		}
		// Read again now that the return's row is ours: on PostgreSQL a
		// refund that committed meanwhile shows.
		if o, err = Get(ctx, tx, number); err != nil {
			return err
		}
		before := stateOf(o)
		pay := r.Value
		if amount != nil {
			if err := checkAmount(o, *amount); err != nil {
				return err
			}
			if amount.Amount > r.Value.Amount {
				return input.Invalid("amount.amount", "The returned items were paid %s; refund at most that.", r.Value.Format())
			}
			pay = *amount
		} else if left := o.PaidAmount.Sub0(o.RefundedAmount); left.Amount < pay.Amount {
			pay = left
		}
		if pay.Amount <= 0 {
			return &RefundExceedsError{Asked: pay, Left: money.New(0, o.Currency), Captured: o.PaidAmount}
		}
		if entry, err = s.reserveRefund(ctx, tx, o, pay, fmt.Sprintf("return #%d", id), id, refundable...); err != nil {
			return err
		}
		if err := AddEvent(ctx, tx, o.ID, "return_refunded", fmt.Sprintf("Return #%d: a refund of %s is on its way.", id, pay.Format())); err != nil {
			return err
		}
		after, err := Get(ctx, tx, number)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, "return.refund", subject(o), struct {
			auditState
			Return returnAudit `json:"return"`
		}{before, returnAudit{ID: id, Status: ReturnReceived}}, struct {
			auditState
			Return returnAudit `json:"return"`
		}{stateOf(after), returnAudit{ID: id, Status: ReturnRefunded, Refund: &pay}})
	})
	if err != nil {
		return nil, fmt.Errorf("refund return #%d of %s: %w", id, number, err)
	}
	return entry, nil
}
