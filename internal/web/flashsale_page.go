package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"mistore/internal/flashsale"
)

// The storefront's flash-sale pages. Everything works without
// JavaScript: the countdown is rendered on the server (the server's time
// and the sale's start and end, as text and <time datetime>), the claim
// button is a form, and a claim shed under overload renders the sale page
// with a queue message and a <meta http-equiv="refresh"> that retries
// the claim by itself. static/js/flashsale.js only enhances: a live
// countdown, and claims through the JSON API that retry after
// retry_after_ms without reloading.

const (
	// saleFlashCookie carries the outcome of the last form post on a
	// sale's page to the page it redirects to, read once.
	saleFlashCookie = "mistore_sale_flash"
	// queueTicketTTL bounds how long a queue page's retry link claims:
	// long enough for a few slow retries, short enough that an old tab
	// does not claim an hour later.
	queueTicketTTL = 2 * time.Minute
	// queueRetryDefault is the wait of a claim that timed out rather
	// than being shed with a wait of its own.
	queueRetryDefault = 2 * time.Second
	maxSaleForm       = 4 << 10
)

// flashSalePageRoutes registers the storefront's flash-sale pages. The
// POST forms are protected against cross-site requests by the store's
// http.CrossOriginProtection, like every form.
func (s *Server) flashSalePageRoutes(store *http.ServeMux) {
	store.HandleFunc("GET /{market}/flash-sales", s.pageFlashSales)
	store.HandleFunc("GET /{market}/flash-sales/{id}", s.pageFlashSale)
	store.HandleFunc("POST /{market}/flash-sales/{id}/claim", s.pageFlashSaleClaim)
	// The queue page's retry: see pageFlashSaleRetry.
	store.HandleFunc("GET /{market}/flash-sales/{id}/claim", s.pageFlashSaleRetry)
	store.HandleFunc("POST /{market}/flash-sales/{id}/register", s.pageFlashSaleRegister)
	store.HandleFunc("POST /{market}/flash-sales/{id}/checkout", s.pageFlashSaleCheckout)
}

// saleCard is a sale as the storefront shows it.
type saleCard struct {
	Sale  *flashsale.Sale
	State flashsale.State
	// Remaining and Pending are never below 0.
	Remaining, Pending int
	// Until is what the countdown counts down to: the start of a
	// scheduled sale, the end of one that runs; zero for an ended one.
	Until time.Time
	// UntilText is the countdown as the server renders it ("2 h 05 min").
	UntilText string
	// Image is the product's art, and Regular its usual price here.
	Image      string
	Regular    string
	URL        string
	Registered bool
}

// Heading is the sale's name for shoppers: its title, else the product's.
func (c saleCard) Heading() string {
	if c.Sale.Title != "" {
		return c.Sale.Title
	}
	return c.Sale.Name
}

// card builds the storefront's view of sale at now.
func (s *Server) card(ctx context.Context, sale *flashsale.Sale, now time.Time) saleCard {
	c := saleCard{Sale: sale, State: sale.StateAt(now), Remaining: max(0, sale.Remaining()), Pending: max(0, sale.Pending()),
		URL: "/" + sale.Market + "/flash-sales/" + strconv.FormatInt(sale.ID, 10)}
	switch c.State {
	case flashsale.Scheduled:
		c.Until = sale.StartsAt
	case flashsale.Ended:
	default:
		c.Until = sale.Closes()
	}
	if !c.Until.IsZero() {
		c.UntilText = countdownText(c.Until.Sub(now))
	}
	// The catalog is in memory: the art and the usual price cost nothing.
	if it, err := s.catalog.Item(ctx, sale.Market, sale.SKU); err == nil {
		c.Image = it.Product.Image
		if it.HasPrice && it.Price.Currency == sale.Price.Currency && it.Price.Amount > sale.Price.Amount {
			c.Regular = it.Price.Format()
		}
	}
	return c
}

// countdownText says how long d is, to the second when it is short:
// "3 days 4 h", "2 h 05 min", "4 min 09 s", "12 s".
func countdownText(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	secs := int64((d + time.Second - 1) / time.Second)
	days, h, m, sec := secs/86400, secs%86400/3600, secs%3600/60, secs%60
	switch {
	case days > 0:
		return fmt.Sprintf("%d %s %d h", days, plural(days, "day", "days"), h)
	case h > 0:
		return fmt.Sprintf("%d h %02d min", h, m)
	case m > 0:
		return fmt.Sprintf("%d min %02d s", m, sec)
	}
	return fmt.Sprintf("%d s", sec)
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// flashSalesContent is the list page's content.
type flashSalesContent struct {
	Now   time.Time
	Sales []saleCard
}

func (s *Server) pageFlashSales(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("market")
	p, err := s.newPage(r, code, "/flash-sales")
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	sales, err := s.flashsales.List(r.Context(), code)
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	now := s.catalog.Now()
	c := flashSalesContent{Now: now}
	for _, sale := range sales {
		c.Sales = append(c.Sales, s.card(r.Context(), sale, now))
	}
	p.Title = "Flash sales"
	p.Description = "Limited drops at special prices in the Mistore " + p.Market.Name + " shop."
	p.Content = c
	// The counts and the countdown move every second: rendered afresh.
	s.renderNoStore(w, r, http.StatusOK, "flashsale_list", p)
}

// flashSaleContent is a sale page's content.
type flashSaleContent struct {
	Card saleCard
	Now  time.Time
	// SignedIn: the shopper may register and claim.
	SignedIn bool
	// RegistrationOpen: the sale takes registrations now.
	RegistrationOpen bool
	// CanClaim: the sale runs and this shopper may claim it.
	CanClaim bool
	// Quantities are what the claim form offers: 1 up to the limit.
	Quantities []int
	Quantity   int
	// Held is the shopper's live claim, if any, and HeldUnits all the
	// units their live claims hold.
	Held      *flashsale.Claim
	HeldUnits int
	// HeldUntil is when the held claim runs out, as HH:MM (UTC).
	HeldUntil string
	// Message is the outcome of the last form post; Error marks a refusal.
	Message string
	Error   bool
	// Queue is set when the claim was shed under overload: the page says
	// so and retries at RetryURL after RetrySeconds.
	Queue        bool
	RetrySeconds int
	RetryURL     string
}

// saleInMarket returns sale id of the path if it is sold in market code;
// any other is not found here.
func (s *Server) saleInMarket(r *http.Request, code string) (*flashsale.Sale, error) {
	id, err := saleIDParam(r)
	if err != nil {
		return nil, err
	}
	sale, err := s.flashsales.Get(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if sale.Market != code {
		return nil, flashsale.ErrNotFound
	}
	return sale, nil
}

func (s *Server) pageFlashSale(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("market")
	sale, err := s.saleInMarket(r, code)
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	c := flashSaleContent{}
	c.Message, c.Error = readSaleFlash(w, r, sale.Market, sale.ID)
	s.renderSalePage(w, r, sale, c)
}

// renderSalePage fills what the sale page shows the visitor around c
// (the outcome or queue state) and renders it.
func (s *Server) renderSalePage(w http.ResponseWriter, r *http.Request, sale *flashsale.Sale, c flashSaleContent) {
	now := s.catalog.Now()
	c.Now, c.Card = now, s.card(r.Context(), sale, now)
	c.RegistrationOpen = sale.RegistrationOpen(now)
	if c.Quantity == 0 {
		c.Quantity = 1
	}
	for q := 1; q <= sale.PerCustomerLimit && q <= 10; q++ {
		c.Quantities = append(c.Quantities, q)
	}
	if who, err := s.signedIn(r); err == nil {
		c.SignedIn = true
		ctx := r.Context()
		if sale.RegistrationRequired() {
			if c.Card.Registered, err = s.flashsales.Registered(ctx, sale.ID, who.customer.ID); err != nil {
				s.pageFail(w, r, err)
				return
			}
		}
		claims, err := s.flashsales.ClaimsOf(ctx, sale.ID, who.customer.ID)
		if err != nil {
			s.pageFail(w, r, err)
			return
		}
		for _, cl := range claims {
			if cl.State == "live" && cl.ExpiresAt.After(now) {
				c.HeldUnits += cl.Quantity
				if c.Held == nil || cl.ExpiresAt.Before(c.Held.ExpiresAt) {
					c.Held = cl
					c.HeldUntil = cl.ExpiresAt.UTC().Format("15:04")
				}
			}
		}
		c.CanClaim = c.Card.State == flashsale.Live && (!sale.RegistrationRequired() || c.Card.Registered)
	}
	p, err := s.newPage(r, sale.Market, "/flash-sales/"+strconv.FormatInt(sale.ID, 10))
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	p.Title = c.Card.Heading()
	p.NoIndex = c.Queue
	p.Content = c
	s.renderNoStore(w, r, http.StatusOK, "flashsale", p)
}

// pageFlashSaleClaim claims from the sale page's form: on success the
// claim's cart becomes the shopper's cart in the market and the browser
// goes straight to checkout.
func (s *Server) pageFlashSaleClaim(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("market")
	sale, err := s.saleInMarket(r, code)
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxSaleForm)
	if err := r.ParseForm(); err != nil {
		s.saleRedirect(w, r, sale, "The form could not be read; please try again.", true)
		return
	}
	qty := 1
	if raw := strings.TrimSpace(r.PostForm.Get("quantity")); raw != "" {
		if qty, err = strconv.Atoi(raw); err != nil {
			s.saleRedirect(w, r, sale, "Choose how many units to claim.", true)
			return
		}
	}
	s.claimFromPage(w, r, sale, qty)
}

// pageFlashSaleRetry is the queue page's retry. A page cannot post a form
// by itself without JavaScript, so the queue page's refresh comes back
// here with a GET carrying a ticket: the claim the shopper asked for, the
// customer who asked, and until when, signed with the store's key. A
// crafted link cannot claim for anyone, since no one else can sign a
// ticket for their account, and a ticket is good for queueTicketTTL.
func (s *Server) pageFlashSaleRetry(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Robots-Tag", "noindex, nofollow")
	sale, who, ok := s.saleShopper(w, r, "Sign in to claim.")
	if !ok {
		return
	}
	qty, ok := s.checkQueueTicket(r.Context(), r.URL.Query().Get("ticket"), sale.ID, who.customer.ID, s.catalog.Now())
	if !ok {
		// An old or foreign link: show the sale, where the shopper can
		// claim again.
		localRedirect(w, r, s.card(r.Context(), sale, s.catalog.Now()).URL, http.StatusSeeOther)
		return
	}
	s.claimFromPage(w, r, sale, qty)
}

// claimFromPage runs a claim for the signed-in shopper and answers as the
// storefront does: checkout on success, the queue page under overload, the
// sale page with the reason otherwise. Never an error page for a refusal
// or overload.
func (s *Server) claimFromPage(w http.ResponseWriter, r *http.Request, sale *flashsale.Sale, qty int) {
	who, err := s.signedIn(r)
	if err != nil {
		s.saleRedirect(w, r, sale, "Sign in to claim.", true)
		return
	}
	if qty < 1 {
		s.saleRedirect(w, r, sale, "Choose at least one unit.", true)
		return
	}
	c, err := s.flashsales.Claim(r.Context(), sale.ID, who.customer.ID, qty)
	s.claimAnswer(w, r, sale, who.customer.ID, qty, c, err)
}

// claimAnswer answers a claim from the storefront with its outcome: c, or
// err from the service.
func (s *Server) claimAnswer(w http.ResponseWriter, r *http.Request, sale *flashsale.Sale, customerID int64, qty int, c *flashsale.Claim, err error) {
	if err == nil {
		setCartCookie(w, r, sale.Market, c.CartID, c.CartToken)
		localRedirect(w, r, "/"+sale.Market+"/checkout", http.StatusSeeOther)
		return
	}
	var busy *flashsale.BusyError
	wait := queueRetryDefault
	switch {
	case errors.As(err, &busy):
		wait = busy.RetryAfter
	case errors.Is(err, context.DeadlineExceeded):
	default:
		status, body := classify(err)
		if status >= http.StatusInternalServerError {
			s.pageFail(w, r, err)
			return
		}
		s.saleRedirect(w, r, sale, body.Message, true)
		return
	}
	ticket, terr := s.queueTicket(r.Context(), sale.ID, customerID, qty, s.catalog.Now().Add(queueTicketTTL))
	if terr != nil {
		s.pageFail(w, r, terr)
		return
	}
	secs := retrySeconds(wait)
	// The Refresh header does what the page's meta refresh does, for a
	// browser that acts on the header first.
	retryURL := "/" + sale.Market + "/flash-sales/" + strconv.FormatInt(sale.ID, 10) + "/claim?ticket=" + url.QueryEscape(ticket)
	w.Header().Set("Refresh", strconv.Itoa(secs)+"; url="+retryURL)
	// 200, not 503: this is the page the shopper waits on, and a proxy in
	// front of the store may replace a 5xx's body with its own error page.
	s.renderSalePage(w, r, sale, flashSaleContent{Queue: true, RetrySeconds: secs, RetryURL: retryURL, Quantity: qty})
}

// saleShopper opens the sale a storefront action is about and the
// signed-in shopper taking it. When either is missing it has answered
// (an error page for an unknown sale, the sale page saying signIn for a
// shopper who is not signed in) and ok is false.
func (s *Server) saleShopper(w http.ResponseWriter, r *http.Request, signIn string) (sale *flashsale.Sale, who caller, ok bool) {
	sale, err := s.saleInMarket(r, r.PathValue("market"))
	if err != nil {
		s.pageFail(w, r, err)
		return nil, caller{}, false
	}
	if who, err = s.signedIn(r); err != nil {
		s.saleRedirect(w, r, sale, signIn, true)
		return nil, caller{}, false
	}
	return sale, who, true
}

// pageFlashSaleRegister registers the signed-in shopper for a sale.
func (s *Server) pageFlashSaleRegister(w http.ResponseWriter, r *http.Request) {
	sale, who, ok := s.saleShopper(w, r, "Sign in to register.")
	if !ok {
		return
	}
	if err := s.flashsales.Register(r.Context(), sale.ID, who.customer.ID); err != nil {
		status, body := classify(err)
		if status >= http.StatusInternalServerError {
			s.pageFail(w, r, err)
			return
		}
		s.saleRedirect(w, r, sale, body.Message, true)
		return
	}
	s.saleRedirect(w, r, sale, "You are registered. Come back when the sale starts: claiming opens at "+
		sale.StartsAt.UTC().Format("Jan 2, 15:04")+" UTC.", false)
}

// pageFlashSaleCheckout makes a live claim's cart the shopper's cart in
// the market and goes to checkout: the way back to a claim after shopping
// elsewhere, and where the script lands after a claim through the API.
func (s *Server) pageFlashSaleCheckout(w http.ResponseWriter, r *http.Request) {
	sale, who, ok := s.saleShopper(w, r, "Sign in to check out your claim.")
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxSaleForm)
	if err := r.ParseForm(); err != nil {
		s.saleRedirect(w, r, sale, "The form could not be read; please try again.", true)
		return
	}
	claimID, _ := strconv.ParseInt(r.PostForm.Get("claim_id"), 10, 64)
	claims, err := s.flashsales.ClaimsOf(r.Context(), sale.ID, who.customer.ID)
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	now := s.catalog.Now()
	for _, c := range claims {
		if c.ID != claimID || c.State != "live" || !c.ExpiresAt.After(now) {
			continue
		}
		// The claim's own token, else the one the script got with the
		// claim; either must open the claim's cart.
		token := c.CartToken
		if token == "" {
			token = r.PostForm.Get("cart_token")
		}
		if sum, err := s.cart.Verify(r.Context(), c.CartID, token); err == nil && sum.Market == sale.Market {
			setCartCookie(w, r, sale.Market, c.CartID, token)
			localRedirect(w, r, "/"+sale.Market+"/checkout", http.StatusSeeOther)
			return
		}
	}
	s.saleRedirect(w, r, sale, "That claim has run out or was checked out already.", true)
}

// saleRedirect sends the browser back to the sale's page (303), leaving
// msg for it to show once; isErr marks a refusal.
func (s *Server) saleRedirect(w http.ResponseWriter, r *http.Request, sale *flashsale.Sale, msg string, isErr bool) {
	path := "/" + sale.Market + "/flash-sales/" + strconv.FormatInt(sale.ID, 10)
	if msg != "" {
		kind := "i"
		if isErr {
			kind = "e"
		}
		http.SetCookie(w, &http.Cookie{
			Name: saleFlashCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(kind + msg)),
			Path: path, MaxAge: cartFlashAge, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: overTLS(r),
		})
	}
	localRedirect(w, r, path, http.StatusSeeOther)
}

// readSaleFlash returns and clears the outcome of the last form post on
// sale id's page. Only the store sets the cookie, so no link can make
// the page say something.
func readSaleFlash(w http.ResponseWriter, r *http.Request, market string, id int64) (msg string, isErr bool) {
	c, err := r.Cookie(saleFlashCookie)
	if err != nil {
		return "", false
	}
	path := "/" + market + "/flash-sales/" + strconv.FormatInt(id, 10)
	http.SetCookie(w, &http.Cookie{Name: saleFlashCookie, Path: path, MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: overTLS(r)})
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(raw) < 2 {
		return "", false
	}
	return string(raw[1:]), raw[0] == 'e'
}

// queueKey is the key queue tickets are signed with, kept in the
// database so that every instance of the store accepts the others'.
func (s *Server) queueKey(ctx context.Context) ([]byte, error) {
	s.queueKeyMu.Lock()
	defer s.queueKeyMu.Unlock()
	if s.queueKeyBytes == nil {
		k, err := s.db.Secret(ctx, "flashsale-queue")
		if err != nil {
			return nil, err
		}
		s.queueKeyBytes = k
	}
	return s.queueKeyBytes, nil
}

// queueTicket signs "sale.customer.quantity.expiry" for a queue page's
// retry.
func (s *Server) queueTicket(ctx context.Context, saleID, customerID int64, qty int, expires time.Time) (string, error) {
	key, err := s.queueKey(ctx)
	if err != nil {
		return "", err
	}
	body := fmt.Sprintf("%d.%d.%d.%d", saleID, customerID, qty, expires.Unix())
	return body + "." + queueMAC(key, body), nil
}

// checkQueueTicket returns the quantity of a ticket for this sale and
// customer that has not run out.
func (s *Server) checkQueueTicket(ctx context.Context, ticket string, saleID, customerID int64, now time.Time) (int, bool) {
	i := strings.LastIndexByte(ticket, '.')
	if i < 0 {
		return 0, false
	}
	body, mac := ticket[:i], ticket[i+1:]
	key, err := s.queueKey(ctx)
	if err != nil || !hmac.Equal([]byte(mac), []byte(queueMAC(key, body))) {
		return 0, false
	}
	parts := strings.Split(body, ".")
	if len(parts) != 4 || parts[0] != strconv.FormatInt(saleID, 10) || parts[1] != strconv.FormatInt(customerID, 10) {
		return 0, false
	}
	qty, err := strconv.Atoi(parts[2])
	exp, err2 := strconv.ParseInt(parts[3], 10, 64)
	if err != nil || err2 != nil || qty < 1 || !now.Before(time.Unix(exp, 0)) {
		return 0, false
	}
	return qty, true
}

func queueMAC(key []byte, body string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("flashsale-queue\x00" + body))
	return hex.EncodeToString(m.Sum(nil)[:16])
}
