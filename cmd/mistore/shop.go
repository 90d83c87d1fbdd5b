package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"mistore/internal/cart"
	"mistore/internal/catalog"
	"mistore/internal/checkout"
	"mistore/internal/db"
	"mistore/internal/idempotency"
	"mistore/internal/inventory"
	"mistore/internal/jobs"
	"mistore/internal/notify"
	"mistore/internal/order"
	"mistore/internal/payment"
)

// shop is the money path wired together: carts, checkout, orders, payment
// providers, email and the job runner that drives what happens after a
// response.
type shop struct {
	carts    *cart.Service
	orders   *order.Service
	checkout *checkout.Service
	testPay  *payment.TestProvider
	mailer   *notify.Mailer
	runner   *jobs.Runner
	inv      *inventory.Service
	idem     *idempotency.Store

	stop context.CancelFunc
	done sync.WaitGroup
}

// openShop builds the money path on d. publicURL is where shoppers and
// providers reach the store.
func openShop(ctx context.Context, cfg Config, d *db.DB, c *catalog.Service, inv *inventory.Service, mailer *notify.Mailer, publicURL string, log *slog.Logger) (*shop, error) {
	tokenKey, err := d.Secret(ctx, "order-token")
	if err != nil {
		return nil, err
	}
	webhookKey, err := d.Secret(ctx, "test-provider-webhook")
	if err != nil {
		return nil, err
	}
	s := &shop{inv: inv, mailer: mailer, idem: idempotency.NewStore(d, nil)}
	s.testPay = payment.NewTestProvider(d, webhookKey, publicURL, nil)
	providers := []payment.Provider{s.testPay}
	provider := "test"
	if cfg.StripeSecretKey != "" {
		st, err := payment.NewStripe(payment.StripeConfig{SecretKey: cfg.StripeSecretKey, WebhookSecret: cfg.StripeWebhookSecret})
		if err != nil {
			return nil, err
		}
		providers = append(providers, st)
		provider = st.Name()
	}
	tokens := order.NewTokens(tokenKey)
	conf := confirmer{mailer: mailer, tokens: tokens, publicURL: publicURL, catalog: c}
	s.orders = order.NewService(d, tokens, providers, conf, log, nil)
	s.carts = cart.NewService(d, c, inv, nil)
	s.checkout = checkout.NewService(d, c, checkoutCarts{s.carts}, s.orders, provider, nil)
	s.runner = jobs.NewRunner(d, log)
	s.orders.Register(s.runner)
	s.testPay.Register(s.runner)
	mailer.Register(s.runner)
	return s, nil
}

// start runs the job runner and the periodic sweeps until stop.
func (s *shop) start(log *slog.Logger) {
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	s.done.Add(2)
	go func() {
		defer s.done.Done()
		s.runner.Run(ctx)
	}()
	go func() {
		defer s.done.Done()
		t := time.NewTicker(15 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			// Reservations whose owner never settled them (an order's
			// expiry job is the usual path) come back here.
			if n, err := s.inv.ReleaseExpired(ctx, time.Now(), 500); err != nil {
				log.Warn("release expired reservations", "err", err)
			} else if n > 0 {
				log.Info("released expired reservations", "count", n)
			}
			if _, err := s.idem.Sweep(ctx); err != nil {
				log.Warn("sweep idempotency keys", "err", err)
			}
		}
	}()
}

// close stops the runner and waits for the jobs in hand.
func (s *shop) close() {
	if s.stop != nil {
		s.stop()
		s.done.Wait()
	}
}

// checkoutCarts lets checkout open carts.
type checkoutCarts struct{ *cart.Service }

// Check returns the market of cart id if token opens it.
func (c checkoutCarts) Check(ctx context.Context, id, token string) (string, error) {
	sum, err := c.Verify(ctx, id, token)
	if err != nil {
		return "", err
	}
	return sum.Market, nil
}

// confirmer queues the order confirmation email of a paid order.
type confirmer struct {
	mailer    *notify.Mailer
	tokens    order.Tokens
	publicURL string
	catalog   *catalog.Service
}

// QueueConfirmation renders o's confirmation and queues it in tx.
func (c confirmer) QueueConfirmation(ctx context.Context, tx db.Querier, o *order.Order) error {
	set, err := c.catalog.Markets(ctx)
	if err != nil {
		return err
	}
	m, err := set.Get(o.Market)
	if err != nil {
		return err
	}
	a := o.Address
	e := notify.OrderEmail{
		OrderID: o.ID, Number: o.Number, MarketName: m.Name, Email: o.Email, CustomerName: a.Name,
		Subtotal: o.Subtotal, Discount: o.Discount, Shipping: o.Shipping, Tax: o.Tax, TaxIncluded: o.TaxIncluded, Total: o.Total,
		ShippingAddress: nonEmpty(a.Name, a.Line1, a.Line2, strings.TrimSpace(a.City+", "+a.Region+" "+a.PostalCode), m.Name),
		ShippingMethod:  o.ShippingName,
		URL:             c.publicURL + "/" + o.Market + "/orders/" + o.Number + "?token=" + c.tokens.For(o.Number),
		CreatedAt:       o.CreatedAt,
	}
	for _, l := range o.Lines {
		e.Lines = append(e.Lines, notify.OrderEmailLine{Name: l.Name, Variant: l.VariantName, Quantity: l.Quantity, UnitPrice: l.UnitPrice, Total: l.Total})
	}
	msg, err := notify.OrderConfirmation(e)
	if err != nil {
		return fmt.Errorf("confirmation of %s: %w", o.Number, err)
	}
	return c.mailer.Queue(ctx, tx, msg)
}

func nonEmpty(parts ...string) []string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}
