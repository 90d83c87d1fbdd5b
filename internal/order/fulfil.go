package order

import (
	"context"
	"fmt"
	"strings"

	"mistore/internal/audit"
	"mistore/internal/db"
	"mistore/internal/input"
	"mistore/internal/notify"
)

// ShippingRenderer renders an order's shipping notice. A Confirmer that
// also implements it (MailConfirmer does) gets the customer told when
// their order ships; the service asks for it by type assertion, so a
// Confirmer made before shipping existed still works.
type ShippingRenderer interface {
	RenderShipped(ctx context.Context, o *Order, sh Shipment) (notify.Message, error)
}

// RenderShipped renders o's shipping notice for shipment sh.
func (c MailConfirmer) RenderShipped(ctx context.Context, o *Order, sh Shipment) (notify.Message, error) {
	b, err := c.mailBasics(ctx, o)
	if err != nil {
		return notify.Message{}, err
	}
	e := notify.ShippingEmail{
		OrderID: o.ID, Number: o.Number, MarketName: b.marketName, Email: o.Email, CustomerName: o.Address.Name,
		Carrier: sh.Carrier, TrackingNumber: sh.TrackingNumber, TrackingURL: sh.TrackingURL(),
		ShippingAddress: b.address, URL: b.url, Lines: b.lines, Lang: b.lang,
	}
	msg, err := notify.OrderShipped(e)
	if err != nil {
		return notify.Message{}, fmt.Errorf("shipping notice of %s: %w", o.Number, err)
	}
	return msg, nil
}

// Limits of what staff type when fulfilling.
const (
	maxCarrier  = 64
	maxTracking = 128
	maxReason   = 500
)

// Fulfil records that order number shipped with carrier under tracking:
// a shipment, the order fulfilled, a timeline entry, the customer's
// shipping email queued and an audit entry, all in one transaction. Only
// a paid order that has not shipped yet (possibly partly refunded) can be
// fulfilled; anything else is ErrState.
func (s *Service) Fulfil(ctx context.Context, number, carrier, tracking string) (*Shipment, error) {
	carrier, err := cleanText("carrier", carrier, maxCarrier, true)
	if err != nil {
		return nil, err
	}
	tracking, err = cleanText("tracking_number", tracking, maxTracking, true)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(carrier+tracking, "\n\t") {
		return nil, input.Invalid("tracking_number", "The carrier and tracking number must be one line each.")
	}
	renderer, _ := s.confirmer.(ShippingRenderer)
	var sh Shipment
	err = s.db.Tx(ctx, func(tx db.Querier) error {
		o, err := lockForChange(ctx, tx, number, Paid, PartiallyRefunded)
		if err != nil {
			return err
		}
		before := stateOf(o)
		now := db.Now()
		res, err := tx.ExecContext(ctx, `UPDATE orders SET status = 'fulfilled', updated_at = $2
			WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM shipments WHERE order_id = $1)`, o.ID, now)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: order %s has shipped already", ErrState, number)
		}
		sh = Shipment{Carrier: carrier, TrackingNumber: tracking, Actor: actorName(ctx), CreatedAt: now}
		if err := tx.QueryRowContext(ctx, `INSERT INTO shipments (order_id, carrier, tracking_number, actor, created_at)
			VALUES ($1, $2, $3, $4, $5) RETURNING id`, o.ID, carrier, tracking, sh.Actor, now).Scan(&sh.ID); err != nil {
			return fmt.Errorf("record shipment: %w", err)
		}
		if err := AddEvent(ctx, tx, o.ID, "shipped", "Shipped with "+carrier+", tracking number "+tracking+"."); err != nil {
			return err
		}
		if err := notify.EmitEvent(ctx, tx, notify.EventOrderFulfilled, WebhookData(o, Fulfilled)); err != nil {
			return err
		}
		if renderer != nil {
			// Rendered here, not retried by a job: a notice that cannot be
			// made (it cannot, for an order that was placed) is a bug to
			// see now, not a shipment the customer never hears of.
			msg, err := renderer.RenderShipped(ctx, o, sh)
			if err != nil {
				return err
			}
			if err := s.confirmer.QueueMessage(ctx, tx, msg); err != nil {
				return err
			}
			if err := AddEvent(ctx, tx, o.ID, "email", "Shipping notice emailed to "+o.Email+"."); err != nil {
				return err
			}
		}
		after := stateOf(o)
		after.Status = Fulfilled
		return audit.Record(ctx, tx, "order.fulfil", subject(o),
			before, struct {
				auditState
				Carrier        string `json:"carrier"`
				TrackingNumber string `json:"tracking_number"`
			}{after, carrier, tracking})
	})
	if err != nil {
		return nil, fmt.Errorf("fulfil %s: %w", number, err)
	}
	return &sh, nil
}

// Deliver records that order number's parcel arrived. A fulfilled order
// becomes delivered; one partly refunded since it shipped keeps that
// status, its shipment marked delivered. Anything not shipped, or
// delivered already, is ErrState.
func (s *Service) Deliver(ctx context.Context, number string) (*Order, error) {
	err := s.db.Tx(ctx, func(tx db.Querier) error {
		o, err := lockForChange(ctx, tx, number, Fulfilled, PartiallyRefunded)
		if err != nil {
			return err
		}
		before := stateOf(o)
		now := db.Now()
		res, err := tx.ExecContext(ctx, "UPDATE shipments SET delivered_at = $2 WHERE order_id = $1 AND delivered_at IS NULL", o.ID, now)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: order %s has no parcel on its way", ErrState, number)
		}
		after := before
		if o.Status == Fulfilled {
			if _, err := tx.ExecContext(ctx, "UPDATE orders SET status = 'delivered', updated_at = $2 WHERE id = $1", o.ID, now); err != nil {
				return err
			}
			after.Status = Delivered
		}
		if err := AddEvent(ctx, tx, o.ID, "delivered", "Delivered."); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "order.deliver", subject(o), before, after)
	})
	if err != nil {
		return nil, fmt.Errorf("deliver %s: %w", number, err)
	}
	return Get(ctx, s.db.Reader(), number)
}
