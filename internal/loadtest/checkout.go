package loadtest

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The checkout scenario: every worker is a shopper who makes a cart, adds
// one unit of a cheap SKU, checks out, pays on the test provider's hosted
// page and polls the order until it is paid, then starts again.

const (
	// PaidWaitLimit is how long a shopper polls an order for "paid" after
	// paying, unless Options.PaidWait says otherwise. The store marks it paid on the provider's webhook, a durable
	// job, or when the order is looked at and the provider says it is paid,
	// so it is normally paid by the first poll.
	PaidWaitLimit = 2 * time.Second
	// paidPollInterval is the pause between polls of an order not yet paid:
	// short, since the wait is part of what is measured, but long enough
	// that waiting shoppers do not crowd out the ones buying.
	paidPollInterval = 20 * time.Millisecond
	// maxCheckoutSKUs bounds the SKUs a run buys: enough that orders do not
	// all queue on one stock row, few enough that the stock of each is easy
	// to set by hand for a sell-out test.
	maxCheckoutSKUs = 8
	// maxFlowBody caps how much of an answer a checkout step keeps; the
	// rest is read and counted but not kept.
	maxFlowBody = 1 << 20
	// testCardSucceeds is the test provider's card that is always charged
	// (API.md).
	testCardSucceeds = "4242424242424242"
)

// errMalformed marks a success answer whose body could not be read, such
// as a cart without an id: the flow cannot go on.
var errMalformed = errors.New("malformed answer")

// preferredCategories are bought first: cheap accessories and power banks
// are what a busy store sells most of, and buying them does not depend on
// the few units of flagship products.
func preferredCategories() []string { return []string{"accessories", "power-banks"} }

// productDetail is the part of the product API that choosing SKUs needs.
type productDetail struct {
	Variants []struct {
		SKU   string `json:"sku"`
		Price *struct {
			Amount int64 `json:"amount"`
		} `json:"price"`
		Available bool `json:"available"`
	} `json:"variants"`
}

// chooseSKUs picks up to maxCheckoutSKUs purchasable SKUs: the available
// variants of available products, preferred categories first and cheaper
// products first within them.
func chooseSKUs(ctx context.Context, client *http.Client, target, market string, cat *catalog) ([]string, error) {
	candidates := rankForSale(cat.products)
	base := strings.TrimRight(target, "/") + "/api/v1/markets/" + url.PathEscape(market) + "/products/"
	var skus []string
	for _, p := range candidates {
		if len(skus) >= maxCheckoutSKUs {
			break
		}
		var d productDetail
		if err := fetchJSON(ctx, client, base+url.PathEscape(p.Slug), &d); err != nil {
			return nil, fmt.Errorf("choose SKUs to buy: %w", err)
		}
		for _, v := range d.Variants {
			if v.Available && v.Price != nil && v.SKU != "" && len(skus) < maxCheckoutSKUs && !slices.Contains(skus, v.SKU) {
				skus = append(skus, v.SKU)
			}
		}
	}
	if len(skus) == 0 {
		return nil, fmt.Errorf("choose SKUs to buy: no product in market %q has an available variant with a price", market)
	}
	return skus, nil
}

// checkoutPlan is everything a shopper sends that does not change between
// orders, built once before the run.
type checkoutPlan struct {
	skus []string
	// addBodies[i] adds one unit of skus[i] to a cart.
	addBodies    [][]byte
	checkoutBody []byte
	payBody      []byte
	targets      []checkoutTarget
	// paidWait is how long a shopper polls an order for paid.
	paidWait time.Duration
}

// checkoutTarget holds one target's URLs and URL prefixes.
type checkoutTarget struct {
	newCart string // POST here makes a cart
	carts   string // a cart id follows
	orders  string // an order number follows
}

// newCheckoutPlan prepares the requests of the checkout flow for skus on
// every target; shoppers wait up to paidWait for paid, and now dates the
// test card's expiry.
func newCheckoutPlan(targets []string, market string, skus []string, paidWait time.Duration, now time.Time) (*checkoutPlan, error) {
	p := &checkoutPlan{skus: skus, paidWait: paidWait}
	for _, sku := range skus {
		b, err := json.Marshal(struct {
			SKU      string `json:"sku"`
			Quantity int    `json:"quantity"`
		}{sku, 1})
		if err != nil {
			return nil, fmt.Errorf("checkout plan: %w", err)
		}
		p.addBodies = append(p.addBodies, b)
	}
	// An address the US market accepts; the email is on example.com, so
	// even a store that sends its confirmations reaches nobody.
	type address struct {
		Name       string `json:"name"`
		Line1      string `json:"line1"`
		City       string `json:"city"`
		Region     string `json:"region"`
		PostalCode string `json:"postal_code"`
		Country    string `json:"country"`
	}
	b, err := json.Marshal(struct {
		Email           string  `json:"email"`
		ShippingAddress address `json:"shipping_address"`
		ShippingMethod  string  `json:"shipping_method"`
	}{
		Email:           "loadtest@example.com",
		ShippingAddress: address{Name: "Ada Load", Line1: "1 Main St", City: "Newark", Region: "NJ", PostalCode: "07102", Country: "US"},
		ShippingMethod:  "standard",
	})
	if err != nil {
		return nil, fmt.Errorf("checkout plan: %w", err)
	}
	p.checkoutBody = b
	// A card valid for a few more years, whenever the test runs.
	p.payBody = []byte(url.Values{
		"card_number": {testCardSucceeds},
		"expiry":      {fmt.Sprintf("12/%02d", (now.Year()+3)%100)},
		"cvc":         {"123"},
	}.Encode())
	for _, t := range targets {
		root := strings.TrimRight(t, "/")
		p.targets = append(p.targets, checkoutTarget{
			newCart: root + "/api/v1/markets/" + url.PathEscape(market) + "/carts",
			carts:   root + "/api/v1/carts/",
			orders:  root + "/api/v1/orders/",
		})
	}
	return p, nil
}

// flowCounts counts one worker's orders, or all workers'.
type flowCounts struct {
	placed, paid, unpaid, outOfStock uint64
}

// add adds o into f.
func (f *flowCounts) add(o flowCounts) {
	f.placed += o.placed
	f.paid += o.paid
	f.unpaid += o.unpaid
	f.outOfStock += o.outOfStock
}

// summarize turns the counts of a run that took elapsed into their
// reported form.
func (f flowCounts) summarize(elapsed time.Duration) *CheckoutStats {
	c := &CheckoutStats{Placed: f.placed, Paid: f.paid, Unpaid: f.unpaid, OutOfStock: f.outOfStock}
	if elapsed > 0 {
		c.PerSecond = float64(f.paid) / elapsed.Seconds()
	}
	return c
}

// count applies change to the worker's order counts.
func (w *worker) count(change func(*flowCounts)) {
	w.mu.Lock()
	change(&w.flow)
	w.mu.Unlock()
}

// runCheckout buys again and again until softDeadline passes or loadCtx
// ends. A purchase under way at the deadline is finished (loadCtx bounds
// it), so that no order is left unpaid by the generator's own stop.
func (w *worker) runCheckout(parent, loadCtx context.Context, softDeadline time.Time) {
	done := loadCtx.Done()
	for {
		select {
		case <-done:
			return
		default:
		}
		if !time.Now().Before(softDeadline) {
			return
		}
		t := &w.plan.targets[w.next]
		if w.next++; w.next == len(w.plan.targets) {
			w.next = 0
		}
		if err := w.buy(parent, loadCtx, t); err != nil {
			if loadCtx.Err() != nil {
				return
			}
			// As in the browse loop: a server that is down becomes a
			// steady error count, not a busy loop.
			w.pause(done)
		}
	}
}

// buy walks the checkout flow once on target t. It returns an error only
// when a request got no usable answer; an answer that ends the flow, such
// as out_of_stock, is counted and is not an error.
func (w *worker) buy(parent, ctx context.Context, t *checkoutTarget) error {
	i := w.rng.IntN(len(w.plan.skus))

	var cart struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	req, err := w.flowRequest(ctx, http.MethodPost, t.newCart, nil, "")
	if err != nil {
		return err
	}
	req.Header.Set("Idempotency-Key", w.idempotencyKey())
	status, err := w.exchange(parent, req, KindCart, http.StatusCreated, &cart)
	if err != nil || status != http.StatusCreated {
		return err
	}

	cartURL := t.carts + url.PathEscape(cart.ID)
	if req, err = w.flowRequest(ctx, http.MethodPost, cartURL+"/items", w.plan.addBodies[i], "application/json"); err != nil {
		return err
	}
	req.Header.Set("X-Cart-Token", cart.Token)
	req.Header.Set("Idempotency-Key", w.idempotencyKey())
	if status, err = w.exchange(parent, req, KindAdd, http.StatusOK, nil); err != nil {
		return err
	}
	if status != http.StatusOK {
		w.noteRefusal(status)
		return nil
	}

	var placed struct {
		Number  string `json:"number"`
		Token   string `json:"token"`
		Payment struct {
			RedirectURL string `json:"redirect_url"`
		} `json:"payment"`
	}
	if req, err = w.flowRequest(ctx, http.MethodPost, cartURL+"/checkout", w.plan.checkoutBody, "application/json"); err != nil {
		return err
	}
	req.Header.Set("X-Cart-Token", cart.Token)
	req.Header.Set("Idempotency-Key", w.idempotencyKey())
	if status, err = w.exchange(parent, req, KindCheckout, http.StatusCreated, &placed); err != nil {
		return err
	}
	if status != http.StatusCreated {
		w.noteRefusal(status)
		return nil
	}
	w.count(func(f *flowCounts) { f.placed++ })
	// From here on an order exists: every way out counts it as paid or
	// unpaid, unless the user stopped the run.
	unpaid := func() {
		if parent.Err() == nil {
			w.count(func(f *flowCounts) { f.unpaid++ })
		}
	}

	// The hosted page is where the shopper's browser goes; it posts its
	// form back to itself, so the Origin is the page's own.
	pay, err := url.Parse(placed.Payment.RedirectURL)
	if err != nil || !pay.IsAbs() || placed.Number == "" || placed.Token == "" {
		unpaid()
		return nil
	}
	if req, err = w.flowRequest(ctx, http.MethodPost, pay.String(), w.plan.payBody, "application/x-www-form-urlencoded"); err != nil {
		unpaid()
		return err
	}
	req.Header.Set("Origin", pay.Scheme+"://"+pay.Host)
	if status, err = w.exchange(parent, req, KindPay, http.StatusSeeOther, nil); err != nil || status != http.StatusSeeOther {
		unpaid()
		return err
	}
	return w.awaitPaid(parent, ctx, t.orders+url.PathEscape(placed.Number), placed.Token, unpaid)
}

// awaitPaid polls the order at orderURL until it is paid or the plan's
// paid wait has passed since the payment was answered, and records the
// wait.
func (w *worker) awaitPaid(parent, ctx context.Context, orderURL, token string, unpaid func()) error {
	paying := time.Now()
	deadline := paying.Add(w.plan.paidWait)
	gaveUp := func() {
		unpaid()
		if parent.Err() == nil {
			w.recordError(KindPaidWait)
		}
	}
	for {
		var o struct {
			Status string `json:"status"`
		}
		req, err := w.flowRequest(ctx, http.MethodGet, orderURL, nil, "")
		if err != nil {
			gaveUp()
			return err
		}
		req.Header.Set("X-Order-Token", token)
		status, err := w.exchange(parent, req, KindOrder, http.StatusOK, &o)
		if err != nil {
			gaveUp()
			return err
		}
		if status == http.StatusOK && o.Status == "paid" {
			w.record(KindPaidWait, 0, true, 0, time.Since(paying))
			w.count(func(f *flowCounts) { f.paid++ })
			return nil
		}
		// Only an order still waiting for its payment may yet become paid;
		// the last poll is at the deadline.
		left := time.Until(deadline)
		if status != http.StatusOK || o.Status != "pending_payment" || left <= 0 {
			gaveUp()
			return nil
		}
		t := time.NewTimer(min(paidPollInterval, left))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			gaveUp()
			return ctx.Err()
		}
	}
}

// noteRefusal counts a 409 out_of_stock answer, which ends a purchase as
// a sold-out store should; other refusals are already counted by status.
func (w *worker) noteRefusal(status int) {
	if status != http.StatusConflict {
		return
	}
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(w.body.Bytes(), &e) == nil && e.Error.Code == "out_of_stock" {
		w.count(func(f *flowCounts) { f.outOfStock++ })
	}
}

// flowRequest builds one request of the checkout flow with the run's common
// headers and, when body is not nil, that body of type contentType.
func (w *worker) flowRequest(ctx context.Context, method, rawURL string, body []byte, contentType string) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		return nil, fmt.Errorf("build request %s %s: %w", method, rawURL, err)
	}
	for k, v := range w.header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req, nil
}

// exchange sends req, reads its answer into w.body and records it under
// kind, with success as the status that lets the flow go on. When the
// answer has that status and v is not nil, the body is decoded into v; a
// body that does not decode counts as an error. Requests cut off because
// parent ended are not counted, as in the browse loop.
func (w *worker) exchange(parent context.Context, req *http.Request, kind Kind, success int, v any) (int, error) {
	start := time.Now()
	resp, err := w.send(req)
	var n int64
	status := 0
	if err == nil {
		status = resp.StatusCode
		w.body.Reset()
		n, err = w.body.ReadFrom(io.LimitReader(resp.Body, maxFlowBody))
		if err == nil {
			var rest int64
			rest, err = io.Copy(io.Discard, resp.Body)
			n += rest
		}
		if cerr := resp.Body.Close(); err == nil {
			err = cerr
		}
	}
	latency := time.Since(start)
	if err == nil && status == success && v != nil {
		if derr := json.Unmarshal(w.body.Bytes(), v); derr != nil {
			err = fmt.Errorf("%s %s: %w: %w", req.Method, req.URL.Path, errMalformed, derr)
		}
	}
	if err != nil {
		if parent.Err() == nil {
			w.recordError(kind)
		}
		return 0, err
	}
	w.record(kind, status, status == success, n, latency)
	return status, nil
}

// idempotencyKey returns a new random Idempotency-Key. The store scopes
// anonymous keys by path only, so keys must not repeat across workers:
// each worker's generator is its own stream of a randomly seeded PCG.
func (w *worker) idempotencyKey() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], w.rng.Uint64())
	binary.LittleEndian.PutUint64(b[8:], w.rng.Uint64())
	return hex.EncodeToString(b[:])
}
