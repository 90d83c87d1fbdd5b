package order_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mistore/internal/audit"
	"mistore/internal/catalog"
	"mistore/internal/checkout"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/demo"
	"mistore/internal/inventory"
	"mistore/internal/jobs"
	"mistore/internal/locale"
	"mistore/internal/money"
	"mistore/internal/notify"
	"mistore/internal/order"
	"mistore/internal/payment"
)

// testCarts is a minimal checkout.Carts over the carts tables: these
// tests need orders, not the cart package.
type testCarts struct{ d *db.DB }

const cartToken = "tok"

func (c testCarts) Check(ctx context.Context, id, token string) (string, error) {
	var m string
	if err := c.d.Read.QueryRowContext(ctx, "SELECT market FROM carts WHERE id = $1", id).Scan(&m); err != nil || token != cartToken {
		return "", checkout.ErrUnknownCart
	}
	return m, nil
}

func (c testCarts) Authorize(ctx context.Context, id, token string) error {
	if token != cartToken {
		return checkout.ErrUnknownCart
	}
	return nil
}

func (c testCarts) LinesTx(ctx context.Context, tx db.Querier, id string) ([]inventory.Line, error) {
	rows, err := tx.QueryContext(ctx, "SELECT sku, quantity FROM cart_lines WHERE cart_id = $1 ORDER BY position", id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []inventory.Line
	for rows.Next() {
		var l inventory.Line
		if err := rows.Scan(&l.SKU, &l.Quantity); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// sentMail counts what the mailer hands to its "server".
type sentMail struct {
	mu   sync.Mutex
	sent []notify.Envelope
}

func (s *sentMail) Send(_ context.Context, e notify.Envelope) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, e)
	return nil
}

type store struct {
	d        *db.DB
	orders   *order.Service
	checkout *checkout.Service
	provider *payment.TestProvider
	runner   *jobs.Runner
	mail     *sentMail
	seq      atomic.Int64
	// locales writes the emails in each order's market's language.
	locales *locale.Catalog
	// secret signs the test provider's webhooks.
	secret []byte
}

func newStore(t testing.TB, d *db.DB) *store {
	t.Helper()
	ctx := context.Background()
	inv := inventory.NewService(d)
	c := catalog.NewService(d, inv, catalog.Options{})
	if _, err := demo.Seed(ctx, c); err != nil {
		t.Fatal(err)
	}
	secret, err := d.Secret(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	tp := payment.NewTestProvider(d, secret, "http://127.0.0.1:1", nil)
	mail := &sentMail{}
	mailer := notify.NewMailer(d, mail, "Mistore <orders@shop.example>", nil)
	tokens := order.NewTokens(secret)
	locales, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	conf := order.MailConfirmer{Mailer: mailer, Tokens: tokens, PublicURL: "https://shop.example", Markets: c.Markets, Locales: locales, Texts: c.LineText}
	orders := order.NewService(d, tokens, []payment.Provider{tp}, conf, nil, nil)
	co := checkout.NewService(d, c, testCarts{d}, orders, "test", nil)
	r := jobs.NewRunner(d, nil)
	orders.Register(r)
	mailer.Register(r)
	return &store{d: d, orders: orders, checkout: co, provider: tp, runner: r, mail: mail, locales: locales, secret: secret}
}

// staffCtx is a context acting as a staff member, as the web layer's
// guard makes it.
func staffCtx() context.Context {
	return audit.WithActor(context.Background(), audit.Actor{Kind: audit.KindStaff, ID: 1, Name: "ada@shop.example"})
}

func (s *store) setStock(t testing.TB, sku string, n int) {
	t.Helper()
	if _, err := s.d.Write.Exec("UPDATE stock SET on_hand = $2, reserved = 0 WHERE sku = $1 AND warehouse = 'us-east'", sku, n); err != nil {
		t.Fatal(err)
	}
	if _, err := s.d.Write.Exec("UPDATE stock SET on_hand = 0, reserved = 0 WHERE sku = $1 AND warehouse <> 'us-east'", sku); err != nil {
		t.Fatal(err)
	}
}

func (s *store) onHand(t testing.TB, sku string) (onHand, reserved int) {
	t.Helper()
	if err := s.d.Read.QueryRow("SELECT sum(on_hand), sum(reserved) FROM stock WHERE sku = $1 AND warehouse LIKE 'us-%'", sku).Scan(&onHand, &reserved); err != nil {
		t.Fatal(err)
	}
	return
}

// place places an order of lines for email, unpaid.
func (s *store) place(t testing.TB, email string, lines ...inventory.Line) *order.Order {
	t.Helper()
	ctx := context.Background()
	id := fmt.Sprintf("cart-%d-%d", time.Now().UnixNano(), s.seq.Add(1))
	now := db.Now()
	err := s.d.Tx(ctx, func(tx db.Querier) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO carts (id, market, created_at, updated_at) VALUES ($1, 'us', $2, $2)", id, now); err != nil {
			return err
		}
		for i, l := range lines {
			if _, err := tx.ExecContext(ctx, "INSERT INTO cart_lines (cart_id, sku, quantity, position) VALUES ($1, $2, $3, $4)", id, l.SKU, l.Quantity, i); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	req := checkout.Request{
		Email: email, ShippingMethod: "standard",
		Address: order.Address{Name: "Ada Lovelace", Line1: "1 Main St", City: "Newark", Region: "nj", PostalCode: "07102", Country: "US"},
	}
	o, _, err := s.checkout.Place(ctx, id, cartToken, req, func(o *order.Order, token string) string {
		return "https://shop.example/us/orders/" + o.Number + "?token=" + token
	})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// paid places an order and pays it with the good test card.
func (s *store) paid(t testing.TB, email string, lines ...inventory.Line) *order.Order {
	t.Helper()
	ctx := context.Background()
	o := s.place(t, email, lines...)
	sess, err := s.provider.Pay(ctx, o.PaymentSession, payment.Card{Number: "4242424242424242", Expiry: "01/40", CVC: "999"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.orders.ApplyPayment(ctx, "test", o.Number, sess.ID, sess.ChargeID, sess.Amount); err != nil {
		t.Fatal(err)
	}
	got, err := order.Get(ctx, s.d.Read, o.Number)
	if err != nil || got.Status != order.Paid {
		t.Fatalf("paid order %s: %v %v", o.Number, got, err)
	}
	return got
}

func (s *store) get(t testing.TB, number string) *order.Order {
	t.Helper()
	o, err := order.Get(context.Background(), s.d.Read, number)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func (s *store) runJobs(t testing.TB) {
	t.Helper()
	if _, err := s.runner.RunDue(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (s *store) auditCount(t testing.TB, action, subject string) int {
	t.Helper()
	var n int
	if err := s.d.Read.QueryRow("SELECT count(*) FROM audit_log WHERE action = $1 AND subject = $2", action, subject).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func band(n int) inventory.Line { return inventory.Line{SKU: "MB8-BLK", Quantity: n} }

func hasEvent(events []order.Event, kind string) bool {
	for _, e := range events {
		if e.Kind == kind {
			return true
		}
	}
	return false
}

func TestListFilters(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newStore(t, d)
		s.setStock(t, "MB8-BLK", 100)
		a := s.paid(t, "ada@example.com", band(1))
		b := s.place(t, "bob@example.com", band(2))
		c := s.paid(t, "Carol_100%@example.com", band(1))

		all, err := s.orders.List(ctx, order.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if all.Total != 3 || len(all.Orders) != 3 || all.Orders[0].Number != c.Number || all.Orders[2].Number != a.Number {
			t.Fatalf("all orders, newest first: %+v", all)
		}
		if all.Orders[1].Items != 2 || all.Orders[1].Total != b.Total || all.Orders[1].Status != order.PendingPayment {
			t.Errorf("summary of %s: %+v", b.Number, all.Orders[1])
		}
		for name, c := range map[string]struct {
			f    order.Filter
			want []string
		}{
			"status":         {order.Filter{Status: order.Paid}, []string{c.Number, a.Number}},
			"market":         {order.Filter{Market: "US"}, []string{c.Number, b.Number, a.Number}},
			"other market":   {order.Filter{Market: "cn"}, nil},
			"email any case": {order.Filter{Email: "ADA@example.com"}, []string{a.Number}},
			"q number":       {order.Filter{Q: b.Number}, []string{b.Number}},
			"q number lower": {order.Filter{Q: " " + b.Number[:2] + "-" + b.Number[3:] + " "}, []string{b.Number}},
			"q email part":   {order.Filter{Q: "bob@"}, []string{b.Number}},
			"q like chars":   {order.Filter{Q: "_100%"}, []string{c.Number}},
			"q wildcard":     {order.Filter{Q: "%"}, []string{c.Number}},
			"q name":         {order.Filter{Q: "lovelace", Status: order.PendingPayment}, []string{b.Number}},
			"future":         {order.Filter{From: time.Now().Add(time.Hour)}, nil},
			"past":           {order.Filter{To: time.Now().Add(-time.Hour)}, nil},
			"window":         {order.Filter{From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour), Status: order.PendingPayment}, []string{b.Number}},
		} {
			p, err := s.orders.List(ctx, c.f)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			var got []string
			for _, o := range p.Orders {
				got = append(got, o.Number)
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) || p.Total != len(c.want) {
				t.Errorf("%s: %v (total %d), want %v", name, got, p.Total, c.want)
			}
		}

		p1, _ := s.orders.List(ctx, order.Filter{PerPage: 2})
		p2, _ := s.orders.List(ctx, order.Filter{PerPage: 2, Page: 2})
		if len(p1.Orders) != 2 || len(p2.Orders) != 1 || p1.Total != 3 || p1.Pages() != 2 || p2.Orders[0].Number != a.Number {
			t.Errorf("pages: %+v / %+v", p1, p2)
		}
		big, _ := s.orders.List(ctx, order.Filter{PerPage: 100000})
		if big.PerPage != order.MaxPerPage {
			t.Errorf("per page %d", big.PerPage)
		}
		var fe *order.FieldError
		if _, err := s.orders.List(ctx, order.Filter{Status: "lost"}); !errors.As(err, &fe) || fe.Field != "status" {
			t.Errorf("unknown status: %v", err)
		}
		if _, err := s.orders.List(ctx, order.Filter{From: time.Now(), To: time.Now().Add(-time.Hour)}); !errors.As(err, &fe) {
			t.Errorf("backwards range: %v", err)
		}
	})
}

func TestFulfilAndDeliver(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := staffCtx()
		s := newStore(t, d)
		s.setStock(t, "MB8-BLK", 10)
		o := s.paid(t, "ada@example.com", band(1))
		pending := s.place(t, "bob@example.com", band(1))
		s.runJobs(t) // the confirmation goes out
		s.mail.sent = nil

		var fe *order.FieldError
		if _, err := s.orders.Fulfil(ctx, o.Number, " ", "1Z"); !errors.As(err, &fe) || fe.Field != "carrier" {
			t.Errorf("no carrier: %v", err)
		}
		if _, err := s.orders.Fulfil(ctx, o.Number, "UPS", "1Z\n2"); !errors.As(err, &fe) {
			t.Errorf("two-line tracking number: %v", err)
		}
		if _, err := s.orders.Fulfil(ctx, pending.Number, "UPS", "1Z"); !errors.Is(err, order.ErrState) {
			t.Errorf("fulfil unpaid: %v", err)
		}
		if _, err := s.orders.Fulfil(ctx, "US-999999", "UPS", "1Z"); !errors.Is(err, order.ErrNotFound) {
			t.Errorf("fulfil unknown: %v", err)
		}
		// Without an actor nothing changes: the change would go unlogged.
		if _, err := s.orders.Fulfil(context.Background(), o.Number, "UPS", "1Z"); !errors.Is(err, audit.ErrNoActor) {
			t.Errorf("fulfil with no actor: %v", err)
		}
		if got := s.get(t, o.Number); got.Status != order.Paid {
			t.Fatalf("after refused fulfilments: %s", got.Status)
		}

		sh, err := s.orders.Fulfil(ctx, o.Number, "UPS", "1Z<b>999</b>")
		if err != nil {
			t.Fatal(err)
		}
		if sh.ID == 0 || sh.Carrier != "UPS" || sh.Actor != "staff:ada@shop.example" {
			t.Errorf("shipment %+v", sh)
		}
		if _, err := s.orders.Fulfil(ctx, o.Number, "DHL", "2"); !errors.Is(err, order.ErrState) {
			t.Errorf("fulfil twice: %v", err)
		}
		det, err := s.orders.Detail(ctx, o.Number)
		if err != nil {
			t.Fatal(err)
		}
		if det.Order.Status != order.Fulfilled || len(det.Shipments) != 1 || det.Shipments[0].TrackingNumber != "1Z<b>999</b>" ||
			!hasEvent(det.Events, "shipped") || !hasEvent(det.Events, "email") {
			t.Errorf("detail after fulfil: %+v", det)
		}
		var kind, to string
		if err := d.Read.QueryRow("SELECT kind, to_address FROM emails WHERE unique_key = $1", notify.OrderShippedKey(o.Number)).Scan(&kind, &to); err != nil || kind != notify.KindOrderShipped || to != "ada@example.com" {
			t.Errorf("shipping email: %q %q %v", kind, to, err)
		}
		s.runJobs(t)
		if len(s.mail.sent) != 1 || s.mail.sent[0].To != "ada@example.com" {
			t.Errorf("sent %+v", s.mail.sent)
		}
		if n := s.auditCount(t, "order.fulfil", "order:"+o.Number); n != 1 {
			t.Errorf("%d order.fulfil audit entries", n)
		}

		if _, err := s.orders.Deliver(ctx, pending.Number); !errors.Is(err, order.ErrState) {
			t.Errorf("deliver unpaid: %v", err)
		}
		got, err := s.orders.Deliver(ctx, o.Number)
		if err != nil || got.Status != order.Delivered {
			t.Fatalf("deliver: %v %v", got, err)
		}
		if _, err := s.orders.Deliver(ctx, o.Number); !errors.Is(err, order.ErrState) {
			t.Errorf("deliver twice: %v", err)
		}
		if n := s.auditCount(t, "order.deliver", "order:"+o.Number); n != 1 {
			t.Errorf("%d order.deliver audit entries", n)
		}
	})
}

// TestConcurrentRefunds: many staff refunding one order at once never
// give back more than was captured. Of refunds of 60% each, exactly one
// succeeds; of refunds of a third each, exactly three.
func TestConcurrentRefunds(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := staffCtx()
		s := newStore(t, d)
		s.setStock(t, "MB8-BLK", 10)
		for _, c := range []struct {
			share func(int64) int64
			want  int
		}{
			{func(total int64) int64 { return total * 6 / 10 }, 1},
			{func(total int64) int64 { return total / 3 }, 3},
		} {
			o := s.paid(t, "ada@example.com", band(1))
			amount := money.New(c.share(o.PaidAmount.Amount), o.Currency)
			const workers = 60
			var ok, exceeded atomic.Int32
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, err := s.orders.Refund(ctx, o.Number, amount, "goodwill")
					switch {
					case err == nil:
						ok.Add(1)
					case errors.Is(err, order.ErrRefundExceedsCaptured):
						exceeded.Add(1)
					default:
						t.Errorf("refund: %v", err)
					}
				}()
			}
			close(start)
			wg.Wait()
			if int(ok.Load()) != c.want || int(exceeded.Load()) != workers-c.want {
				t.Fatalf("%v each of %v: %d succeeded, %d exceeded; want %d", amount, o.PaidAmount, ok.Load(), exceeded.Load(), c.want)
			}
			got := s.get(t, o.Number)
			if got.RefundedAmount.Amount != int64(c.want)*amount.Amount || got.Status != order.PartiallyRefunded {
				t.Errorf("after the race: %s, refunded %v", got.Status, got.RefundedAmount)
			}
			s.runJobs(t)
			var atProvider int64
			d.Read.QueryRow("SELECT refunded FROM test_provider_sessions WHERE id = $1", o.PaymentSession).Scan(&atProvider)
			if atProvider != got.RefundedAmount.Amount {
				t.Errorf("provider refunded %d, order says %d", atProvider, got.RefundedAmount.Amount)
			}
			var pending int
			d.Read.QueryRow("SELECT count(*) FROM order_refunds WHERE order_id = $1 AND status <> 'succeeded'", o.ID).Scan(&pending)
			if pending != 0 {
				t.Errorf("%d refunds not succeeded after the jobs ran", pending)
			}
			if n := s.auditCount(t, "order.refund", "order:"+o.Number); n != c.want {
				t.Errorf("%d order.refund audit entries, want %d", n, c.want)
			}
			after := s.get(t, o.Number)
			if after.RefundedAmount != got.RefundedAmount {
				t.Errorf("the jobs counted the refunds again: %v then %v", got.RefundedAmount, after.RefundedAmount)
			}
		}
	})
}

func TestRefundRules(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := staffCtx()
		s := newStore(t, d)
		s.setStock(t, "MB8-BLK", 10)
		o := s.paid(t, "ada@example.com", band(1))
		pending := s.place(t, "bob@example.com", band(1))
		var fe *order.FieldError
		for name, m := range map[string]money.Money{
			"zero":           money.New(0, o.Currency),
			"negative":       money.New(-5, o.Currency),
			"other currency": money.New(100, "EUR"),
		} {
			if _, err := s.orders.Refund(ctx, o.Number, m, ""); !errors.As(err, &fe) {
				t.Errorf("%s: %v", name, err)
			}
		}
		if _, err := s.orders.Refund(ctx, pending.Number, money.New(100, o.Currency), ""); !errors.Is(err, order.ErrState) {
			t.Errorf("refund unpaid: %v", err)
		}
		if _, err := s.orders.Refund(ctx, o.Number, o.PaidAmount, "x"); err != nil {
			t.Fatal(err)
		}
		if got := s.get(t, o.Number); got.Status != order.Refunded || got.RefundedAmount != o.PaidAmount {
			t.Errorf("full refund: %s %v", got.Status, got.RefundedAmount)
		}
		if _, err := s.orders.Refund(ctx, o.Number, money.New(1, o.Currency), ""); !errors.Is(err, order.ErrState) {
			t.Errorf("refund a refunded order: %v", err)
		}
		if _, err := s.orders.Fulfil(ctx, o.Number, "UPS", "1"); !errors.Is(err, order.ErrState) {
			t.Errorf("fulfil a refunded order: %v", err)
		}
		// A partly refunded order ships, and can be refunded the rest.
		p := s.paid(t, "carol@example.com", band(1))
		if _, err := s.orders.Refund(ctx, p.Number, money.New(500, p.Currency), ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.orders.Fulfil(ctx, p.Number, "UPS", "1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.orders.Refund(ctx, p.Number, p.PaidAmount.Sub0(money.New(499, p.Currency)), ""); !errors.Is(err, order.ErrRefundExceedsCaptured) {
			t.Errorf("one cent too many: %v", err)
		}
		if _, err := s.orders.Refund(ctx, p.Number, p.PaidAmount.Sub0(money.New(500, p.Currency)), ""); err != nil {
			t.Fatal(err)
		}
		if got := s.get(t, p.Number); got.Status != order.Refunded {
			t.Errorf("refunded the rest: %s", got.Status)
		}
	})
}

func TestStaffCancel(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := staffCtx()
		s := newStore(t, d)
		s.setStock(t, "MB8-BLK", 10)
		o := s.paid(t, "ada@example.com", band(2))
		if _, err := s.orders.Refund(ctx, o.Number, money.New(300, o.Currency), ""); err != nil {
			t.Fatal(err)
		}
		if on, res := s.onHand(t, "MB8-BLK"); on != 8 || res != 0 {
			t.Fatalf("sold: on hand %d, reserved %d", on, res)
		}
		got, err := s.orders.StaffCancel(ctx, o.Number, "customer called")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != order.Cancelled || got.RefundedAmount != o.PaidAmount {
			t.Errorf("cancelled: %s, refunded %v of %v", got.Status, got.RefundedAmount, o.PaidAmount)
		}
		if on, res := s.onHand(t, "MB8-BLK"); on != 10 || res != 0 {
			t.Errorf("restocked: on hand %d, reserved %d", on, res)
		}
		if _, err := s.orders.StaffCancel(ctx, o.Number, ""); !errors.Is(err, order.ErrState) {
			t.Errorf("cancel twice: %v", err)
		}
		s.runJobs(t)
		var atProvider int64
		d.Read.QueryRow("SELECT refunded FROM test_provider_sessions WHERE id = $1", o.PaymentSession).Scan(&atProvider)
		if atProvider != o.PaidAmount.Amount {
			t.Errorf("provider refunded %d of %d", atProvider, o.PaidAmount.Amount)
		}
		if got := s.get(t, o.Number); got.RefundedAmount != o.PaidAmount {
			t.Errorf("after the jobs: refunded %v", got.RefundedAmount)
		}
		if n := s.auditCount(t, "order.cancel", "order:"+o.Number); n != 1 {
			t.Errorf("%d order.cancel audit entries", n)
		}

		// Unpaid: the reservation goes back, nothing is refunded.
		p := s.place(t, "bob@example.com", band(3))
		if _, res := s.onHand(t, "MB8-BLK"); res != 3 {
			t.Fatalf("reserved %d", res)
		}
		if got, err := s.orders.StaffCancel(ctx, p.Number, ""); err != nil || got.Status != order.Cancelled || got.RefundedAmount.Amount != 0 {
			t.Fatalf("cancel unpaid: %v %v", got, err)
		}
		if on, res := s.onHand(t, "MB8-BLK"); on != 10 || res != 0 {
			t.Errorf("released: on hand %d, reserved %d", on, res)
		}

		// Shipped: too late.
		q := s.paid(t, "carol@example.com", band(1))
		if _, err := s.orders.Fulfil(ctx, q.Number, "UPS", "1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.orders.StaffCancel(ctx, q.Number, ""); !errors.Is(err, order.ErrState) {
			t.Errorf("cancel shipped: %v", err)
		}
	})
}

// TestCustomerCancelRacesRefund: a customer's cancel and staff refunds at
// the same time still never give back more than was captured.
func TestCustomerCancelRacesRefund(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := staffCtx()
		s := newStore(t, d)
		s.setStock(t, "MB8-BLK", 10)
		o := s.paid(t, "ada@example.com", band(1))
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i == 10 {
					s.orders.Cancel(context.Background(), o.Number)
					return
				}
				s.orders.Refund(ctx, o.Number, money.New(100, o.Currency), "")
			}()
		}
		wg.Wait()
		s.runJobs(t)
		got := s.get(t, o.Number)
		var atProvider int64
		d.Read.QueryRow("SELECT refunded FROM test_provider_sessions WHERE id = $1", o.PaymentSession).Scan(&atProvider)
		if got.RefundedAmount.Amount > got.PaidAmount.Amount || atProvider != got.RefundedAmount.Amount {
			t.Errorf("refunded %v of %v, provider %d", got.RefundedAmount, got.PaidAmount, atProvider)
		}
		if got.Status == order.Cancelled && got.RefundedAmount != got.PaidAmount {
			t.Errorf("cancelled but refunded %v of %v", got.RefundedAmount, got.PaidAmount)
		}
	})
}

func TestReturns(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := staffCtx()
		s := newStore(t, d)
		s.setStock(t, "MB8-BLK", 10)
		s.setStock(t, "MB8-BLU", 10)
		o := s.paid(t, "ada@example.com", band(2), inventory.Line{SKU: "MB8-BLU", Quantity: 1})
		items := []order.ReturnItem{{SKU: "MB8-BLK", Quantity: 1}}
		if _, err := s.orders.RequestReturn(context.Background(), o.Number, items, "too small"); !errors.Is(err, order.ErrState) {
			t.Errorf("return before shipping: %v", err)
		}
		if _, err := s.orders.Fulfil(ctx, o.Number, "UPS", "1Z"); err != nil {
			t.Fatal(err)
		}
		var fe *order.FieldError
		for name, c := range map[string]struct {
			items  []order.ReturnItem
			reason string
		}{
			"no reason":     {items, " "},
			"nothing":       {[]order.ReturnItem{{SKU: "MB8-BLK", Quantity: 0}}, "x"},
			"too many":      {[]order.ReturnItem{{SKU: "MB8-BLK", Quantity: 3}}, "x"},
			"too many sum":  {[]order.ReturnItem{{SKU: "MB8-BLK", Quantity: 2}, {SKU: "MB8-BLK", Quantity: 1}}, "x"},
			"not on order":  {[]order.ReturnItem{{SKU: "MB8-PNK", Quantity: 1}}, "x"},
			"negative":      {[]order.ReturnItem{{SKU: "MB8-BLK", Quantity: -1}}, "x"},
			"control chars": {items, "a\x00b"},
		} {
			if _, err := s.orders.RequestReturn(context.Background(), o.Number, c.items, c.reason); !errors.As(err, &fe) {
				t.Errorf("%s: %v", name, err)
			}
		}

		// Many requests at once for the two black bands: two succeed.
		var ok atomic.Int32
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.orders.RequestReturn(context.Background(), o.Number, items, "changed my mind")
				if err == nil {
					ok.Add(1)
				} else if !errors.As(err, new(*order.FieldError)) {
					t.Errorf("request: %v", err)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 2 {
			t.Fatalf("%d of 20 requests for one of two units succeeded, want 2", ok.Load())
		}
		det, _ := s.orders.Detail(ctx, o.Number)
		first, second := det.Returns[0], det.Returns[1]
		if first.Status != order.ReturnRequested || len(first.Lines) != 1 || first.Lines[0].Quantity != 1 || first.Lines[0].Name == "" {
			t.Fatalf("return %+v", first)
		}
		left, _ := s.orders.Returnable(ctx, det.Order)
		if len(left) != 1 || left[0].SKU != "MB8-BLU" || left[0].Left != 1 {
			t.Errorf("returnable left: %+v", left)
		}

		// The second is rejected: its unit may be asked back again.
		if _, err := s.orders.RejectReturn(ctx, o.Number, second.ID, "<i>worn</i>"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.orders.ApproveReturn(ctx, o.Number, second.ID); !errors.Is(err, order.ErrState) {
			t.Errorf("approve a rejected return: %v", err)
		}
		if left, _ := s.orders.Returnable(ctx, det.Order); len(left) != 2 {
			t.Errorf("after a rejection: %+v", left)
		}

		// The first goes all the way.
		if _, err := s.orders.ReceiveReturn(ctx, o.Number, first.ID, true); !errors.Is(err, order.ErrState) {
			t.Errorf("receive before approval: %v", err)
		}
		if _, err := s.orders.RefundReturn(ctx, o.Number, first.ID, nil); !errors.Is(err, order.ErrState) {
			t.Errorf("refund before receipt: %v", err)
		}
		if _, err := s.orders.ApproveReturn(ctx, o.Number, 9999); !errors.Is(err, order.ErrReturnNotFound) {
			t.Errorf("approve unknown: %v", err)
		}
		if _, err := s.orders.ApproveReturn(ctx, o.Number, first.ID); err != nil {
			t.Fatal(err)
		}
		before, _ := s.onHand(t, "MB8-BLK")
		if _, err := s.orders.ReceiveReturn(ctx, o.Number, first.ID, true); err != nil {
			t.Fatal(err)
		}
		if after, _ := s.onHand(t, "MB8-BLK"); after != before+1 {
			t.Errorf("restock: on hand %d then %d", before, after)
		}
		var adj int
		d.Read.QueryRow("SELECT count(*) FROM stock_adjustments WHERE sku = 'MB8-BLK' AND reason LIKE 'returned:%'").Scan(&adj)
		if adj != 1 {
			t.Errorf("%d stock adjustments for the restock", adj)
		}
		tooMuch := first.Value
		tooMuch.Amount++
		if _, err := s.orders.RefundReturn(ctx, o.Number, first.ID, &tooMuch); !errors.As(err, &fe) {
			t.Errorf("refund more than the return's value: %v", err)
		}
		r, err := s.orders.RefundReturn(ctx, o.Number, first.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		line := o.Lines[0]
		if r.Amount != first.Value || r.ReturnID != first.ID || first.Value.Amount < line.Total.Amount/2 {
			t.Errorf("return refund %+v, value %v, line %v", r, first.Value, line.Total)
		}
		if _, err := s.orders.RefundReturn(ctx, o.Number, first.ID, nil); !errors.Is(err, order.ErrState) {
			t.Errorf("refund a return twice: %v", err)
		}
		det, _ = s.orders.Detail(ctx, o.Number)
		if det.Order.Status != order.PartiallyRefunded || det.Order.RefundedAmount != first.Value || det.Returns[0].Status != order.ReturnRefunded ||
			!det.Returns[0].Restocked || det.Returns[1].Note != "<i>worn</i>" || len(det.Refunds) != 1 {
			t.Errorf("detail after the return: %+v", det)
		}
		for _, k := range []string{"return_requested", "return_approved", "return_rejected", "return_received", "return_refunded"} {
			if !hasEvent(det.Events, k) {
				t.Errorf("no %s event", k)
			}
		}
		for _, a := range []string{"return.approve", "return.reject", "return.receive", "return.refund"} {
			if n := s.auditCount(t, a, "order:"+o.Number); n != 1 {
				t.Errorf("%d %s audit entries", n, a)
			}
		}
		s.runJobs(t)
		var atProvider int64
		d.Read.QueryRow("SELECT refunded FROM test_provider_sessions WHERE id = $1", o.PaymentSession).Scan(&atProvider)
		if atProvider != first.Value.Amount {
			t.Errorf("provider refunded %d, want %d", atProvider, first.Value.Amount)
		}
		// A partly refunded, shipped order can still be delivered.
		if got, err := s.orders.Deliver(ctx, o.Number); err != nil || got.Status != order.PartiallyRefunded {
			t.Errorf("deliver: %v %v", got, err)
		}
	})
}
