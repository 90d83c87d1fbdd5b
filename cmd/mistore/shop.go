package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"mistore/internal/cart"
	"mistore/internal/catalog"
	"mistore/internal/checkout"
	"mistore/internal/community"
	"mistore/internal/customer"
	"mistore/internal/db"
	"mistore/internal/flashsale"
	"mistore/internal/idempotency"
	"mistore/internal/inventory"
	"mistore/internal/jobs"
	"mistore/internal/locale"
	"mistore/internal/notify"
	"mistore/internal/order"
	"mistore/internal/payment"
	"mistore/internal/ratelimit"
	"mistore/internal/staff"
	"mistore/internal/waitlist"
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
	// customers keeps accounts and sessions; limits the abuse limits.
	customers *customer.Service
	limits    *ratelimit.Limiter
	// staff keeps the back office's members, sessions and API keys.
	staff *staff.Service
	// flash runs flash sales and decides their claims.
	flash *flashsale.Service
	// community keeps the members' comments and reviews.
	community *community.Service
	// waitlist keeps who waits for a product in a market, and tells them.
	waitlist *waitlist.Service

	stop context.CancelFunc
	done sync.WaitGroup
}

// openShop builds the money path on d. publicURL is where shoppers and
// providers reach the store.
func openShop(ctx context.Context, cfg Config, d *db.DB, c *catalog.Service, inv *inventory.Service, mailer *notify.Mailer, locales *locale.Catalog, publicURL string, log *slog.Logger) (*shop, error) {
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
	// An order's emails are written in its market's language (locales).
	conf := order.MailConfirmer{Mailer: mailer, Tokens: tokens, PublicURL: publicURL, Markets: c.Markets, Locales: locales, Texts: c.LineText}
	s.orders = order.NewService(d, tokens, providers, conf, log, nil)
	s.carts = cart.NewService(d, c, inv, nil)
	s.checkout = checkout.NewService(d, c, s.carts, s.orders, provider, nil)
	s.customers = customer.NewService(d, mailer, publicURL, nil)
	s.limits = ratelimit.New(d, nil)
	s.staff = staff.NewService(d, nil)
	s.staff.Mailer = mailer // notices of changes to how a member signs in
	s.flash = flashsale.NewService(d, c, s.carts, flashsale.Options{Log: log})
	s.checkout.SetClaims(s.flash)
	s.orders.SetClaims(s.flash)
	s.community = community.New(d, community.Options{Limiter: s.limits})
	// Live stock (inv), not the display cache: a restock must be seen.
	s.waitlist = waitlist.NewService(d, c, mailer, waitlist.Options{Stock: inv, PublicURL: publicURL, Log: log, Locales: locales})
	s.runner = jobs.NewRunner(d, log)
	s.orders.Register(s.runner)
	s.testPay.Register(s.runner)
	mailer.Register(s.runner)
	// The daily warning of certificates that expire within 30 days.
	certs := catalog.NewCertWatch(d, mailer, publicURL, nil, log)
	certs.Register(s.runner)
	if err := certs.Schedule(ctx); err != nil {
		return nil, err
	}
	notify.NewWebhooks(d, log).Register(s.runner)
	return s, nil
}

// start runs the job runner and the periodic sweeps until stop.
func (s *shop) start(log *slog.Logger) {
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	s.done.Add(5)
	go func() {
		defer s.done.Done()
		s.runner.Run(ctx)
	}()
	// Claims run out after five minutes; their units should be claimable
	// again within seconds, not at the next slow sweep.
	go s.every(ctx, 2*time.Second, func() {
		if n, err := s.flash.Sweep(ctx, time.Now(), 1000); err != nil {
			log.Warn("release expired flash-sale claims", "err", err)
		} else if n > 0 {
			log.Info("released expired flash-sale claims", "count", n)
		}
	})
	// An unpaid order's stock comes back within seconds of the end of
	// its payment window.
	go s.every(ctx, 2*time.Second, func() {
		if n, err := s.orders.ExpireDue(ctx, 500); err != nil {
			log.Warn("expire unpaid orders", "err", err)
		} else if n > 0 {
			log.Info("expired unpaid orders", "count", n)
		}
	})
	// A product that became available (a certificate, a listing, its
	// launch time, a restock) is told to its waitlist within half a minute.
	go s.every(ctx, 30*time.Second, func() {
		if n, err := s.waitlist.Notify(ctx); err != nil {
			log.Warn("tell waitlists their product is available", "err", err)
		} else if n > 0 {
			s.runner.Notify()
		}
	})
	go s.every(ctx, 15*time.Second, func() {
		// Reservations whose owner never settled them come back here,
		// after a minute's grace: the sweep of unpaid orders above
		// normally settles an order's reservation first, cancelling the
		// order with it.
		if n, err := s.inv.ReleaseExpired(ctx, time.Now().Add(-time.Minute), 500); err != nil {
			log.Warn("release expired reservations", "err", err)
		} else if n > 0 {
			log.Info("released expired reservations", "count", n)
		}
		if _, err := s.idem.Sweep(ctx); err != nil {
			log.Warn("sweep idempotency keys", "err", err)
		}
		if _, err := s.carts.Sweep(ctx, time.Now().Add(-30*24*time.Hour)); err != nil {
			log.Warn("sweep abandoned carts", "err", err)
		}
		if _, err := s.customers.Sweep(ctx); err != nil {
			log.Warn("sweep ended sessions and used links", "err", err)
		}
		if _, err := s.limits.Sweep(ctx); err != nil {
			log.Warn("sweep rate-limit windows", "err", err)
		}
		if _, err := s.staff.Sweep(ctx); err != nil {
			log.Warn("sweep ended staff sessions", "err", err)
		}
	})
}

// every runs fn each period until ctx ends; it counts in s.done.
func (s *shop) every(ctx context.Context, period time.Duration, fn func()) {
	defer s.done.Done()
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fn()
	}
}

// close stops the runner and waits for the jobs in hand.
func (s *shop) close() {
	if s.stop != nil {
		s.stop()
		s.done.Wait()
	}
	if s.flash != nil {
		s.flash.Close()
	}
}
