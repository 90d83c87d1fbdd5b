package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"mistore/internal/catalog"
	"mistore/internal/flashsale"
	"mistore/internal/input"
	"mistore/internal/locale"
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
	// Countdown is "Starts in %s" or "Ends in %s" cut around the
	// countdown, which the page marks up (see cut).
	Countdown []string
	// Image is the product's art, and Regular its usual price here.
	Image      string
	Regular    string
	URL        string
	Registered bool
	// Name is the product's name in the page's language.
	Name string
}

// Heading is the sale's name for shoppers: its title, else the product's.
func (c saleCard) Heading() string {
	if c.Sale.Title != "" {
		return c.Sale.Title
	}
	return c.Name
}

// card builds the storefront's view of sale at now, in language l.
func (s *Server) card(ctx context.Context, l *locale.Lang, sale *flashsale.Sale, now time.Time) saleCard {
	c := saleCard{Sale: sale, State: sale.StateAt(now), Remaining: max(0, sale.Remaining()), Pending: max(0, sale.Pending()),
		URL: "/" + sale.Market + "/flash-sales/" + strconv.FormatInt(sale.ID, 10), Name: sale.Name}
	switch c.State {
	case flashsale.Scheduled:
		c.Until = sale.StartsAt
		c.Countdown = cut(l.T("Starts in %s", slot), 1)
	case flashsale.Ended:
	default:
		c.Until = sale.Closes()
		c.Countdown = cut(l.T("Ends in %s", slot), 1)
	}
	if !c.Until.IsZero() {
		c.UntilText = countdownText(l, c.Until.Sub(now))
	}
	// The catalog is in memory: the art and the usual price cost nothing.
	if it, err := s.catalog.Item(ctx, sale.Market, sale.SKU); err == nil {
		c.Image = it.Product.CoverFor(sale.SKU)
		c.Name = l.NameOf(catalog.LocalFullName(it.Product, it.Variant))
		if it.HasPrice && it.Price.Currency == sale.Price.Currency && it.Price.Amount > sale.Price.Amount {
			c.Regular = it.Price.Format()
		}
	}
	return c
}

// countdownText says how long d is in l, to the second when it is short:
// "3 days 4 h", "2 h 05 min", "4 min 09 s", "12 s". The keys take their
// numbers as text (%s) so that the sale pages can hand the very same
// keys to flashsale.js with "{1}" and "{2}" in the numbers' places.
func countdownText(l *locale.Lang, d time.Duration) string {
	if d < 0 {
		d = 0
	}
	secs := int64((d + time.Second - 1) / time.Second)
	days, h, m, sec := secs/86400, secs%86400/3600, secs%3600/60, secs%60
	switch {
	case days == 1:
		return l.T("%s day %s h", l.Number(days), l.Number(h))
	case days > 1:
		return l.T("%s days %s h", l.Number(days), l.Number(h))
	case h > 0:
		return l.T("%s h %s min", l.Number(h), fmt.Sprintf("%02d", m))
	case m > 0:
		return l.T("%s min %s s", l.Number(m), fmt.Sprintf("%02d", sec))
	}
	return l.T("%s s", l.Number(sec))
}

// slot stands for a value the page writes in its own markup (a countdown
// the script updates, a <time>) inside a translated sentence: the
// sentence is translated whole, with slot for those values, and cut
// around them, so that no markup goes into a translation and Chinese may
// put words before and after each value. Translations of such keys must
// keep the slots in their order.
const slot = "\x00"

// cut splits a sentence translated with n slots into the n+1 texts
// around them; the page writes part 0, value 1, part 1, and so on.
func cut(sentence string, n int) []string {
	parts := strings.SplitN(sentence, slot, n+1)
	for len(parts) < n+1 {
		parts = append(parts, "")
	}
	return parts
}

// flashSalesContent is the list page's content.
type flashSalesContent struct {
	Now   time.Time
	Sales []saleCard
	// ServerTime is "Server time %s" cut around the time (see cut).
	ServerTime []string
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
	c := flashSalesContent{Now: now, ServerTime: cut(p.Lang.T("Server time %s", slot), 1)}
	for _, sale := range sales {
		c.Sales = append(c.Sales, s.card(r.Context(), p.Lang, sale, now))
	}
	p.Title = p.Lang.T("Flash sales")
	p.Description = p.Lang.T("Limited drops at special prices in the Mistore %s shop.", p.Lang.T(p.Market.Name))
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
	// Text holds the page's sentences that have marked-up values in
	// them, each cut around those values (see cut).
	Text saleTexts
	// Refusals is what flashsale.js says for each API error code of a
	// claim: a JSON object of code to sentence in the page's language,
	// the same sentences the page gives after a refused form post.
	Refusals string
}

// saleTexts are the sale page's sentences cut around their marked-up
// values.
type saleTexts struct {
	// Clock: "Starts in %s, at %s.", "Ends in %s, at %s." or "This sale
	// ended at %s.": the countdown, then the time.
	Clock []string
	// Runs: the sale's start, its end, and the server's time.
	Runs []string
	// Left: the units left (the quantity and limit are plain text).
	Left []string
	// Held: the time the shopper's claim runs out.
	Held []string
	// Registration: when registration closes or closed.
	Registration []string
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
	// The message was put in the page's language when it was set.
	c.Message, c.Error = readSaleFlash(w, r, sale.Market, sale.ID)
	s.renderSalePage(w, r, sale, c)
}

// renderSalePage fills what the sale page shows the visitor around c
// (the outcome or queue state) and renders it.
func (s *Server) renderSalePage(w http.ResponseWriter, r *http.Request, sale *flashsale.Sale, c flashSaleContent) {
	// A sale is one market's: the other markets' links go to their sales.
	p, err := s.newPage(r, sale.Market, "/flash-sales")
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	p.OneMarket = true
	p.Canonical = "/" + sale.Market + "/flash-sales/" + strconv.FormatInt(sale.ID, 10)
	l := p.Lang
	now := s.catalog.Now()
	c.Now, c.Card = now, s.card(r.Context(), l, sale, now)
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
	c.Text = saleTextsOf(l, c)
	if c.CanClaim {
		c.Refusals = refusalsJSON(l)
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
		s.saleRedirect(w, r, sale, locale.M("The form could not be read; please try again."), true)
		return
	}
	qty := 1
	if raw := strings.TrimSpace(r.PostForm.Get("quantity")); raw != "" {
		if qty, err = strconv.Atoi(raw); err != nil {
			s.saleRedirect(w, r, sale, locale.M("Choose how many units to claim."), true)
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
	sale, who, ok := s.saleShopper(w, r, locale.M("Sign in to claim."))
	if !ok {
		return
	}
	qty, ok := s.checkQueueTicket(r.Context(), r.URL.Query().Get("ticket"), sale.ID, who.customer.ID, s.catalog.Now())
	if !ok {
		// An old or foreign link: show the sale, where the shopper can
		// claim again.
		s.saleRedirectText(w, r, sale, "", false)
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
		s.saleRedirect(w, r, sale, locale.M("Sign in to claim."), true)
		return
	}
	if qty < 1 {
		s.saleRedirect(w, r, sale, locale.M("Choose at least one unit."), true)
		return
	}
	c, err := s.flashsales.Claim(r.Context(), sale.ID, who.customer.ID, qty)
	s.claimAnswer(w, r, sale, who.customer.ID, qty, c, err)
}

// claimAnswer answers a claim from the storefront with its outcome: c, or
// err from the service.
func (s *Server) claimAnswer(w http.ResponseWriter, r *http.Request, sale *flashsale.Sale, customerID int64, qty int, c *flashsale.Claim, err error) {
	if err == nil {
		setClaimCookie(w, r, sale.Market, c.CartID, c.CartToken)
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
		s.saleRedirectText(w, r, sale, s.refusalText(s.saleLang(r, sale.Market), err, body.Message), true)
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
func (s *Server) saleShopper(w http.ResponseWriter, r *http.Request, signIn locale.Msg) (sale *flashsale.Sale, who caller, ok bool) {
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
	sale, who, ok := s.saleShopper(w, r, locale.M("Sign in to register."))
	if !ok {
		return
	}
	if err := s.flashsales.Register(r.Context(), sale.ID, who.customer.ID); err != nil {
		status, body := classify(err)
		if status >= http.StatusInternalServerError {
			s.pageFail(w, r, err)
			return
		}
		s.saleRedirectText(w, r, sale, s.refusalText(s.saleLang(r, sale.Market), err, body.Message), true)
		return
	}
	l := s.saleLang(r, sale.Market)
	// English keeps its short "Jan 2, 15:04" (no year: the sale is near);
	// Chinese writes the day its own way.
	opens := sale.StartsAt.UTC().Format("Jan 2, 15:04")
	if l.Chinese() {
		opens = l.Clock(sale.StartsAt)
	}
	s.saleRedirectText(w, r, sale, l.T("You are registered. Come back when the sale starts: claiming opens at %s UTC.", opens), false)
}

// pageFlashSaleCheckout makes a live claim's cart the shopper's cart in
// the market and goes to checkout: the way back to a claim after shopping
// elsewhere, and where the script lands after a claim through the API.
func (s *Server) pageFlashSaleCheckout(w http.ResponseWriter, r *http.Request) {
	sale, who, ok := s.saleShopper(w, r, locale.M("Sign in to check out your claim."))
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxSaleForm)
	if err := r.ParseForm(); err != nil {
		s.saleRedirect(w, r, sale, locale.M("The form could not be read; please try again."), true)
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
			setClaimCookie(w, r, sale.Market, c.CartID, token)
			localRedirect(w, r, "/"+sale.Market+"/checkout", http.StatusSeeOther)
			return
		}
	}
	s.saleRedirect(w, r, sale, locale.M("That claim has run out or was checked out already."), true)
}

// saleRedirect sends the browser back to the sale's page (303), leaving
// msg, in the page's language, for it to show once; isErr marks a
// refusal.
func (s *Server) saleRedirect(w http.ResponseWriter, r *http.Request, sale *flashsale.Sale, msg locale.Msg, isErr bool) {
	s.saleRedirectText(w, r, sale, s.saleLang(r, sale.Market).Say(msg), isErr)
}

// saleLang is the language the sale pages of market code speak to this
// visitor: the message a redirect leaves is written in it, so that the
// cookie carries the text the page shows.
func (s *Server) saleLang(r *http.Request, code string) *locale.Lang {
	if set, err := s.catalog.Markets(r.Context()); err == nil {
		if m, err := set.Get(code); err == nil {
			l, _ := s.pageLanguage(r, m)
			return l
		}
	}
	return s.locales.Lang("en-US")
}

// saleRedirectText is saleRedirect with msg already in the page's
// language.
func (s *Server) saleRedirectText(w http.ResponseWriter, r *http.Request, sale *flashsale.Sale, msg string, isErr bool) {
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

// saleRefusals are the sentences the sale page gives for a refused claim
// or registration: the API's own (userMessage in errors.go) as messages
// to translate, since the API stays in English. A test keeps the English
// of both the same.
var saleRefusals = []struct {
	err error
	msg locale.Msg
}{
	{flashsale.ErrNotFound, locale.M("There is no such flash sale.")},
	{flashsale.ErrSoldOut, locale.M("Every unit of this sale is claimed. Units that are not paid for in time come back, so look again in a few minutes.")},
	{flashsale.ErrNotStarted, locale.M("The sale has not started yet.")},
	{flashsale.ErrEnded, locale.M("The sale has ended.")},
	{flashsale.ErrPaused, locale.M("The sale is paused for a moment; try again shortly.")},
	{flashsale.ErrNotRegistered, locale.M("This sale is for customers who registered before registration closed.")},
	{flashsale.ErrLimitReached, locale.M("You already hold as many units of this sale as one customer may.")},
	{flashsale.ErrRegistrationClosed, locale.M("Registration for this sale is closed.")},
}

// quantityRefusal is the message for the flash-sale service's refusal of
// a claim's quantity (the sentence the API gives as it is), and false
// for any other error.
func quantityRefusal(err error) (locale.Msg, bool) {
	var fe *input.FieldError
	if !errors.As(err, &fe) || fe.Field != "quantity" {
		return locale.Msg{}, false
	}
	var most int
	fmt.Sscanf(fe.Msg, "You may claim at most %d units of this sale.", &most)
	for _, m := range []locale.Msg{
		locale.M("Claim at least one unit."),
		locale.M("You may claim one unit of this sale."),
		locale.M("You may claim at most %d units of this sale.", most),
	} {
		// Only a sentence known word for word: another is not guessed at.
		if m.String() == fe.Msg {
			return m, true
		}
	}
	return locale.Msg{}, false
}

// refusalText is what the sale page says in l for err, a claim or
// registration the service refused; apiMsg is the API's sentence for it.
func (s *Server) refusalText(l *locale.Lang, err error, apiMsg string) string {
	for _, rf := range saleRefusals {
		if errors.Is(err, rf.err) {
			return l.Say(rf.msg)
		}
	}
	if m, ok := quantityRefusal(err); ok {
		return l.Say(m)
	}
	// A refusal the page has no sentence for: the API's own is English,
	// exact on an English page and no use on a Chinese one.
	if !l.Chinese() {
		return apiMsg
	}
	return l.T("That did not work; please try again.")
}

// refusalsJSON is Refusals of the sale page in l.
func refusalsJSON(l *locale.Lang) string {
	m := map[string]string{}
	for _, rf := range saleRefusals {
		_, body := classify(rf.err)
		m[body.Code] = l.Say(rf.msg)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// saleTextsOf cuts the sale page's marked-up sentences in l.
func saleTextsOf(l *locale.Lang, c flashSaleContent) saleTexts {
	var t saleTexts
	switch c.Card.State {
	case flashsale.Scheduled:
		t.Clock = cut(l.T("Starts in %s, at %s.", slot, slot), 2)
	case flashsale.Ended:
		t.Clock = cut(l.T("This sale ended at %s.", slot), 1)
	default:
		t.Clock = cut(l.T("Ends in %s, at %s.", slot, slot), 2)
	}
	sale := c.Card.Sale
	t.Runs = cut(l.T("Runs %s to %s UTC · server time %s", slot, slot, slot), 3)
	t.Left = cut(l.T("%s of %s left · up to %s per customer", slot, l.Number(int64(sale.Quantity)), l.Number(int64(sale.PerCustomerLimit))), 1)
	if c.HeldUnits == 1 {
		t.Held = cut(l.T("You hold %s unit until %s UTC", l.Number(1), slot), 1)
	} else {
		t.Held = cut(l.T("You hold %s units until %s UTC", l.Number(int64(c.HeldUnits)), slot), 1)
	}
	if c.RegistrationOpen {
		t.Registration = cut(l.T("Registration closes at %s.", slot), 1)
	} else {
		t.Registration = cut(l.T("Registration closed at %s; only registered customers may claim.", slot), 1)
	}
	return t
}
