package checkout_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"mistore/internal/catalog"
	"mistore/internal/checkout"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/demo"
	"mistore/internal/inventory"
	"mistore/internal/jobs"
	"mistore/internal/order"
	"mistore/internal/payment"
)

// testCarts is a minimal Carts over the carts tables, with one token for
// every cart: checkout's own tests do not need the cart package.
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
		rows.Scan(&l.SKU, &l.Quantity)
		out = append(out, l)
	}
	return out, rows.Err()
}

type store struct {
	d        *db.DB
	catalog  *catalog.Service
	orders   *order.Service
	checkout *checkout.Service
	provider *payment.TestProvider
	runner   *jobs.Runner
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
	orders := order.NewService(d, order.NewTokens(secret), []payment.Provider{tp}, nil, nil, nil)
	co := checkout.NewService(d, c, testCarts{d}, orders, "test", nil)
	r := jobs.NewRunner(d, nil)
	orders.Register(r)
	return &store{d: d, catalog: c, orders: orders, checkout: co, provider: tp, runner: r}
}

var cartSeq struct {
	sync.Mutex
	n int
}

func (s *store) cart(t testing.TB, mk string, lines ...inventory.Line) string {
	t.Helper()
	cartSeq.Lock()
	cartSeq.n++
	id := fmt.Sprintf("cart-%d-%d", time.Now().UnixNano(), cartSeq.n)
	cartSeq.Unlock()
	now := db.Now()
	err := s.d.Tx(context.Background(), func(tx db.Querier) error {
		if _, err := tx.ExecContext(context.Background(), "INSERT INTO carts (id, market, created_at, updated_at) VALUES ($1, $2, $3, $3)", id, mk, now); err != nil {
			return err
		}
		for i, l := range lines {
			if _, err := tx.ExecContext(context.Background(), "INSERT INTO cart_lines (cart_id, sku, quantity, position) VALUES ($1, $2, $3, $4)", id, l.SKU, l.Quantity, i); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// placeBand places an order for one Band 8 (black) for email.
func (s *store) placeBand(t testing.TB, email string) *order.Order {
	t.Helper()
	o, _, err := s.checkout.Place(context.Background(), s.cart(t, "us", inventory.Line{SKU: "MB8-BLK", Quantity: 1}), cartToken, usRequest(email), returnURL)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// pay pays o's session at the provider with the good test card.
func (s *store) pay(t testing.TB, o *order.Order) payment.Session {
	t.Helper()
	sess, err := s.provider.Pay(context.Background(), o.PaymentSession, payment.Card{Number: "4242424242424242", Expiry: "01/40", CVC: "999"})
	if err != nil {
		t.Fatal(err)
	}
	return sess.Session
}

func usRequest(email string) checkout.Request {
	return checkout.Request{
		Email: email, ShippingMethod: "standard",
		Address: order.Address{Name: "Ada Lovelace", Line1: "1 Main St", City: "Newark", Region: "nj", PostalCode: "07102", Country: "US"},
	}
}

func returnURL(o *order.Order, token string) string {
	return "http://store/" + o.Market + "/orders/" + o.Number + "?token=" + token
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

func (s *store) stock(t testing.TB, sku string) (onHand, reserved int) {
	t.Helper()
	s.d.Read.QueryRow("SELECT sum(on_hand), sum(reserved) FROM stock WHERE sku = $1 AND warehouse LIKE 'us-%'", sku).Scan(&onHand, &reserved)
	return
}

func TestPlaceAndPay(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newStore(t, d)
		s.setStock(t, "MB8-BLK", 5)
		id := s.cart(t, "us", inventory.Line{SKU: "MB8-BLK", Quantity: 2})
		o, _, err := s.checkout.Place(ctx, id, cartToken, usRequest("ada@example.com"), returnURL)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(o.Number, "US-1000") || o.Status != order.PendingPayment {
			t.Errorf("order %s %s", o.Number, o.Status)
		}
		// 2 x 39.99 = 79.98, free shipping, NJ 6.625% = 5.30
		if o.Subtotal.Amount != 7998 || o.Shipping.Amount != 0 || o.Tax.Amount != 530 || o.Total.Amount != 8528 {
			t.Errorf("totals %v %v %v %v", o.Subtotal, o.Shipping, o.Tax, o.Total)
		}
		if o.PaymentURL == "" || o.PaymentSession == "" {
			t.Errorf("no payment session: %+v", o)
		}
		if on, res := s.stock(t, "MB8-BLK"); on != 5 || res != 2 {
			t.Errorf("stock after placing: on hand %d, reserved %d", on, res)
		}
		// Checking out the same cart again returns the same order.
		again, created, err := s.checkout.Place(ctx, id, cartToken, usRequest("ada@example.com"), returnURL)
		if err != nil || again.Number != o.Number || created {
			t.Fatalf("second checkout: %v, %v, created %v", again, err, created)
		}

		if _, err := s.provider.Pay(ctx, o.PaymentSession, payment.Card{Number: "4000 0000 0000 0002", Expiry: "12/30", CVC: "123"}); !errors.Is(err, payment.ErrDeclined) {
			t.Fatalf("declined card: %v", err)
		}
		sess, err := s.provider.Pay(ctx, o.PaymentSession, payment.Card{Number: "4242 4242 4242 4242", Expiry: "12/30", CVC: "123"})
		if err != nil {
			t.Fatal(err)
		}
		// The shopper's return and five deliveries of the webhook race:
		// one payment, one state change.
		var wg sync.WaitGroup
		for range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.orders.ApplyPayment(ctx, "test", o.Number, sess.ID, sess.ChargeID, sess.Amount); err != nil {
					t.Errorf("apply payment: %v", err)
				}
			}()
		}
		wg.Wait()
		paid, _ := order.Get(ctx, d.Read, o.Number)
		if paid.Status != order.Paid || paid.PaidAmount != o.Total {
			t.Errorf("after payment: %s, paid %v", paid.Status, paid.PaidAmount)
		}
		if on, res := s.stock(t, "MB8-BLK"); on != 3 || res != 0 {
			t.Errorf("stock after the sale: on hand %d, reserved %d", on, res)
		}
		var charges, paidEvents int
		d.Read.QueryRow("SELECT count(*) FROM payments WHERE kind = 'charge'").Scan(&charges)
		d.Read.QueryRow("SELECT count(*) FROM order_events WHERE kind = 'paid'").Scan(&paidEvents)
		if charges != 1 || paidEvents != 1 {
			t.Errorf("%d charges, %d paid events; want 1 and 1", charges, paidEvents)
		}
		if did, err := s.orders.Expire(ctx, o.Number); err != nil || did {
			t.Errorf("expire a paid order: %v %v", did, err)
		}
	})
}

func TestCheckoutRejects(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newStore(t, d)
		good := s.cart(t, "us", inventory.Line{SKU: "MB8-BLK", Quantity: 1})
		bad := func(name string, id, token string, req checkout.Request, want error, field string) {
			t.Helper()
			_, _, err := s.checkout.Place(ctx, id, token, req, returnURL)
			var fe *checkout.FieldError
			switch {
			case field != "":
				if !errors.As(err, &fe) || fe.Field != field {
					t.Errorf("%s: %v, want a problem with %s", name, err, field)
				}
			case !errors.Is(err, want):
				t.Errorf("%s: %v, want %v", name, err, want)
			}
		}
		r := usRequest("a@example.com")
		bad("wrong token", good, "nope", r, checkout.ErrUnknownCart, "")
		bad("unknown cart", "nope", cartToken, r, checkout.ErrUnknownCart, "")
		bad("empty cart", s.cart(t, "us"), cartToken, r, checkout.ErrEmptyCart, "")
		bad("phone in the US", s.cart(t, "us", inventory.Line{SKU: "MP14-BLK-256", Quantity: 1}), cartToken, r, checkout.ErrNotSold, "")
		x := r
		x.Email = "not an email"
		bad("bad email", good, cartToken, x, nil, "email")
		x = r
		x.Address.PostalCode = "1234"
		bad("bad ZIP", good, cartToken, x, nil, "shipping_address.postal_code")
		x = r
		x.Address.Region = "XX"
		bad("bad state", good, cartToken, x, nil, "shipping_address.region")
		x = r
		x.Address.Country = "CN"
		bad("wrong country", good, cartToken, x, nil, "shipping_address.country")
		x = r
		x.ShippingMethod = "teleport"
		bad("unknown method", good, cartToken, x, nil, "shipping_method")
		x = r
		x.CouponCode = "NOSUCH"
		bad("unknown coupon", good, cartToken, x, checkout.ErrCoupon, "")
		// None of it changed anything.
		var orders, reserved int
		d.Read.QueryRow("SELECT count(*) FROM orders").Scan(&orders)
		d.Read.QueryRow("SELECT coalesce(sum(reserved), 0) FROM stock").Scan(&reserved)
		if orders != 0 || reserved != 0 {
			t.Errorf("refused checkouts left %d orders, %d reserved units", orders, reserved)
		}
		// ZIP+4 and a lower-case state are fine.
		x = r
		x.Address.PostalCode = "07102-1234"
		if _, _, err := s.checkout.Place(ctx, good, cartToken, x, returnURL); err != nil {
			t.Errorf("ZIP+4: %v", err)
		}
	})
}

// TestLastUnitCheckout: stock 1 and 50 concurrent checkouts of different
// carts -> exactly one order, 49 out of stock; stock K with 10K buyers ->
// exactly K orders.
func TestLastUnitCheckout(t *testing.T) {
	for _, tc := range []struct{ stock, buyers int }{{1, 50}, {5, 50}} {
		t.Run(fmt.Sprintf("stock%d", tc.stock), func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, d *db.DB) {
				ctx := context.Background()
				s := newStore(t, d)
				s.setStock(t, "MB8-BLK", tc.stock)
				carts := make([]string, tc.buyers)
				for i := range carts {
					carts[i] = s.cart(t, "us", inventory.Line{SKU: "MB8-BLK", Quantity: 1})
				}
				var wg sync.WaitGroup
				var mu sync.Mutex
				placed, oos := 0, 0
				start := make(chan struct{})
				for i := range carts {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						_, _, err := s.checkout.Place(ctx, carts[i], cartToken, usRequest(fmt.Sprintf("b%d@example.com", i)), returnURL)
						mu.Lock()
						defer mu.Unlock()
						switch {
						case err == nil:
							placed++
						case errors.Is(err, inventory.ErrOutOfStock):
							oos++
						default:
							t.Errorf("checkout: %v", err)
						}
					}()
				}
				close(start)
				wg.Wait()
				if placed != tc.stock || oos != tc.buyers-tc.stock {
					t.Errorf("%d orders, %d out of stock; want %d and %d", placed, oos, tc.stock, tc.buyers-tc.stock)
				}
				if on, res := s.stock(t, "MB8-BLK"); on != tc.stock || res != tc.stock {
					t.Errorf("on hand %d, reserved %d", on, res)
				}
			})
		})
	}
}

func TestSameCartTwiceAtOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newStore(t, d)
		id := s.cart(t, "us", inventory.Line{SKU: "MB8-BLK", Quantity: 1})
		numbers := make([]string, 8)
		var wg sync.WaitGroup
		for i := range numbers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o, _, err := s.checkout.Place(ctx, id, cartToken, usRequest("ada@example.com"), returnURL)
				if err != nil {
					t.Errorf("checkout: %v", err)
					return
				}
				numbers[i] = o.Number
			}()
		}
		wg.Wait()
		for _, n := range numbers {
			if n != numbers[0] {
				t.Fatalf("one cart became several orders: %v", numbers)
			}
		}
		var orders int
		d.Read.QueryRow("SELECT count(*) FROM orders").Scan(&orders)
		if orders != 1 {
			t.Errorf("%d orders", orders)
		}
	})
}

func TestSingleUseCouponRace(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newStore(t, d)
		if _, err := d.Write.Exec(`INSERT INTO coupons (code, kind, percent, starts_at, max_uses, created_at) VALUES ('ONCE', 'percent', 20, $1, 1, $1)`, db.Now().Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		discounted, refused := 0, 0
		for i := range 20 {
			id := s.cart(t, "us", inventory.Line{SKU: "MB8-BLK", Quantity: 1})
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := usRequest(fmt.Sprintf("c%d@example.com", i))
				r.CouponCode = "once"
				o, _, err := s.checkout.Place(ctx, id, cartToken, r, returnURL)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && o.Discount.Amount > 0:
					discounted++
				case errors.Is(err, checkout.ErrCoupon):
					refused++
				default:
					t.Errorf("checkout: %v", err)
				}
			}()
		}
		wg.Wait()
		var used int
		d.Read.QueryRow("SELECT used FROM coupons WHERE code = 'ONCE'").Scan(&used)
		if discounted != 1 || refused != 19 || used != 1 {
			t.Errorf("%d discounted, %d refused, used %d; want 1, 19, 1", discounted, refused, used)
		}
	})
}

func TestExpiryReleasesStockAndCoupon(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newStore(t, d)
		s.setStock(t, "MB8-BLK", 3)
		d.Write.Exec(`INSERT INTO coupons (code, kind, amount, currency, starts_at, max_uses, created_at) VALUES ('FIVE', 'fixed', 500, 'USD', $1, 10, $1)`, db.Now().Add(-time.Hour))
		r := usRequest("late@example.com")
		r.CouponCode = "FIVE"
		o, _, err := s.checkout.Place(ctx, s.cart(t, "us", inventory.Line{SKU: "MB8-BLK", Quantity: 2}), cartToken, r, returnURL)
		if err != nil {
			t.Fatal(err)
		}
		if o.Discount.Amount != 500 {
			t.Errorf("discount %v", o.Discount)
		}
		// An order placed later, still inside its window, stays as it is.
		other, _, err := s.checkout.Place(ctx, s.cart(t, "us", inventory.Line{SKU: "MB8-BLK", Quantity: 1}), cartToken, usRequest("prompt@example.com"), returnURL)
		if err != nil {
			t.Fatal(err)
		}
		// Not yet due: nothing happens.
		if did, _ := s.orders.Expire(ctx, o.Number); did {
			t.Fatal("expired before its time")
		}
		if n, err := s.orders.ExpireDue(ctx, 100); err != nil || n != 0 {
			t.Fatalf("sweep before any window closed: %d cancelled, %v", n, err)
		}
		d.Write.Exec("UPDATE orders SET expires_at = $2 WHERE number = $1", o.Number, db.Now().Add(-time.Second))
		if n, err := s.orders.ExpireDue(ctx, 100); err != nil || n != 1 {
			t.Fatalf("sweep: %d cancelled, %v; want 1", n, err)
		}
		if n, err := s.orders.ExpireDue(ctx, 100); err != nil || n != 0 {
			t.Fatalf("second sweep: %d cancelled, %v; want 0", n, err)
		}
		if got, _ := order.Get(ctx, d.Read, other.Number); got.Status != order.PendingPayment {
			t.Errorf("the order inside its window is %s", got.Status)
		}
		// The other order holds its one unit.
		if _, err := s.orders.Cancel(ctx, other.Number); err != nil {
			t.Fatal(err)
		}
		got, _ := order.Get(ctx, d.Read, o.Number)
		var used int
		d.Read.QueryRow("SELECT used FROM coupons WHERE code = 'FIVE'").Scan(&used)
		if on, res := s.stock(t, "MB8-BLK"); got.Status != order.Cancelled || on != 3 || res != 0 || used != 0 {
			t.Errorf("after expiry: %s, on hand %d, reserved %d, coupon used %d", got.Status, on, res, used)
		}
		// The money arrives late but the stock is still there: sold.
		sess, err := s.provider.GetSession(ctx, o.PaymentSession)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.orders.ApplyPayment(ctx, "test", o.Number, sess.ID, "ch_late", o.Total); err != nil {
			t.Fatal(err)
		}
		got, _ = order.Get(ctx, d.Read, o.Number)
		if on, res := s.stock(t, "MB8-BLK"); got.Status != order.Paid || on != 1 || res != 0 {
			t.Errorf("late payment with stock left: %s, on hand %d, reserved %d", got.Status, on, res)
		}
	})
}

func TestLatePaymentWithoutStockIsRefunded(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newStore(t, d)
		s.setStock(t, "MB8-BLK", 1)
		o := s.placeBand(t, "x@example.com")
		sess := s.pay(t, o)
		d.Write.Exec("UPDATE orders SET expires_at = $2 WHERE number = $1", o.Number, db.Now().Add(-time.Second))
		s.orders.Expire(ctx, o.Number)
		// Someone else buys the last unit meanwhile.
		other := s.placeBand(t, "y@example.com")
		if err := s.orders.ApplyPayment(ctx, "test", o.Number, sess.ID, sess.ChargeID, sess.Amount); err != nil {
			t.Fatal(err)
		}
		if _, err := s.runner.RunDue(ctx); err != nil {
			t.Fatal(err)
		}
		got, _ := order.Get(ctx, d.Read, o.Number)
		if got.Status != order.Cancelled || got.PaidAmount.Amount != sess.Amount.Amount || got.RefundedAmount.Amount != sess.Amount.Amount {
			t.Errorf("late payment without stock: %s, refunded %v", got.Status, got.RefundedAmount)
		}
		var refunded int64
		d.Read.QueryRow("SELECT refunded FROM test_provider_sessions WHERE id = $1", sess.ID).Scan(&refunded)
		if refunded != sess.Amount.Amount {
			t.Errorf("the provider refunded %d of %d", refunded, sess.Amount.Amount)
		}
		if on, res := s.stock(t, "MB8-BLK"); on != 1 || res != 1 || other.Status != order.PendingPayment {
			t.Errorf("stock: on hand %d, reserved %d (the other order holds it)", on, res)
		}
	})
}

func TestCancelPaidOrderRefundsAndRestocks(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newStore(t, d)
		s.setStock(t, "MB8-BLK", 4)
		o := s.placeBand(t, "z@example.com")
		sess := s.pay(t, o)
		if err := s.orders.ApplyPayment(ctx, "test", o.Number, sess.ID, sess.ChargeID, sess.Amount); err != nil {
			t.Fatal(err)
		}
		if _, err := s.orders.Cancel(ctx, o.Number); err != nil {
			t.Fatal(err)
		}
		// A second cancel is refused: it is no longer cancellable.
		if _, err := s.orders.Cancel(ctx, o.Number); !errors.Is(err, order.ErrState) {
			t.Errorf("cancel twice: %v", err)
		}
		for range 2 { // a rerun of the refund job refunds nothing more
			if _, err := s.runner.RunDue(ctx); err != nil {
				t.Fatal(err)
			}
			d.Write.Exec("UPDATE jobs SET state = 'pending', run_at = $1 WHERE kind = 'order.refund'", db.Now())
		}
		got, _ := order.Get(ctx, d.Read, o.Number)
		if got.Status != order.Cancelled || got.RefundedAmount != o.Total {
			t.Errorf("after cancel: %s, refunded %v of %v", got.Status, got.RefundedAmount, o.Total)
		}
		if on, res := s.stock(t, "MB8-BLK"); on != 4 || res != 0 {
			t.Errorf("restocked: on hand %d, reserved %d", on, res)
		}
		var refunds int
		d.Read.QueryRow("SELECT count(*) FROM test_provider_refunds").Scan(&refunds)
		if refunds != 1 {
			t.Errorf("%d refunds at the provider, want 1", refunds)
		}
	})
}

// TestPaymentAfterReservationSwept: the sweeper released a pending order's
// reservation before its expiry job ran, then the money came. The order
// must take its stock again (or be refunded), never be paid without it.
func TestPaymentAfterReservationSwept(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newStore(t, d)
		s.setStock(t, "MB8-BLK", 2)
		o := s.placeBand(t, "s@example.com")
		if err := d.Tx(ctx, func(tx db.Querier) error { _, err := inventory.Release(ctx, tx, o.Owner()); return err }); err != nil {
			t.Fatal(err)
		}
		sess := s.pay(t, o)
		if err := s.orders.ApplyPayment(ctx, "test", o.Number, sess.ID, sess.ChargeID, sess.Amount); err != nil {
			t.Fatal(err)
		}
		got, _ := order.Get(ctx, d.Read, o.Number)
		if on, res := s.stock(t, "MB8-BLK"); got.Status != order.Paid || on != 1 || res != 0 {
			t.Errorf("paid after the sweep: %s, on hand %d (want 1), reserved %d", got.Status, on, res)
		}

		// The same with no stock left: cancelled and refunded, not paid.
		o2 := s.placeBand(t, "t@example.com")
		d.Tx(ctx, func(tx db.Querier) error { _, err := inventory.Release(ctx, tx, o2.Owner()); return err })
		s.setStock(t, "MB8-BLK", 0)
		sess2 := s.pay(t, o2)
		if err := s.orders.ApplyPayment(ctx, "test", o2.Number, sess2.ID, sess2.ChargeID, sess2.Amount); err != nil {
			t.Fatal(err)
		}
		s.runner.RunDue(ctx)
		got2, _ := order.Get(ctx, d.Read, o2.Number)
		if got2.Status != order.Cancelled || got2.PaidAmount.Amount != sess2.Amount.Amount || got2.RefundedAmount.Amount != sess2.Amount.Amount {
			t.Errorf("paid after the sweep with no stock: %s, refunded %v", got2.Status, got2.RefundedAmount)
		}
		var refunded int64
		d.Read.QueryRow("SELECT refunded FROM test_provider_sessions WHERE id = $1", sess2.ID).Scan(&refunded)
		if refunded != sess2.Amount.Amount {
			t.Errorf("provider refunded %d of %d", refunded, sess2.Amount.Amount)
		}
	})
}
