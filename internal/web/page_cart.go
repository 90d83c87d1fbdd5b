package web

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"mistore/internal/cart"
	"mistore/internal/locale"
	"mistore/internal/money"
)

// The storefront keeps a visitor's cart per market in a cookie holding
// "id.token" (the token is base64url, which has no dots), and the outcome
// of the last cart form post in a flash cookie read once by the cart page.
const (
	cartCookiePrefix = "mistore_cart_"
	cartFlashCookie  = "mistore_cart_flash"
	cartCookieAge    = 30 * 24 * 60 * 60 // seconds
	// A claim holds its units for minutes; its cookie is forgotten once
	// the claim is seen over, or after an hour at the latest.
	claimCookiePrefix = "mistore_claim_"
	claimCookieAge    = 60 * 60
	cartFlashAge      = 60 // seconds: it only spans a redirect
	maxCartForm       = 64 << 10
)

// cartContent is what cart.html shows.
type cartContent struct {
	View *cart.View
	// Error is why the last change was refused; ErrorSKU names its line.
	Error    string
	ErrorSKU string
	// Partial is set when some lines cannot be ordered now.
	Partial bool
	// Notices and Reasons (why a line cannot be ordered, by SKU) are the
	// view's, said in the page's language.
	Notices []string
	Reasons map[string]string
	// Claim is the cart of the visitor's flash-sale claim while it holds
	// its units, waiting at checkout; nil for none.
	Claim *cart.View
}

// pageCart shows the visitor's cart in a market. Everything on it is the
// visitor's own, so it is rendered for each request and never kept.
func (s *Server) pageCart(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("market")
	m, err := s.marketOf(r, code)
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	var v *cart.View
	if id, token, ok := cartCookie(r, code); ok {
		v, err = s.cart.Get(r.Context(), id, token)
		switch {
		case errors.Is(err, cart.ErrNotFound):
			// Gone (or a forged cookie): start afresh on the next add.
			clearCartCookie(w, r, code)
			v = nil
		case err != nil:
			s.pageFail(w, r, err)
			return
		case v.CheckedOut || v.Market != code:
			// That cart became an order; the next add starts a new one.
			clearCartCookie(w, r, code)
			v = nil
		case v.Claim:
			// A claim's cart in the cart's cookie (set before claims had
			// a cookie of their own): moved to its own, if still held.
			if v.ClaimLive {
				setClaimCookie(w, r, code, id, token)
			}
			clearCartCookie(w, r, code)
			v = nil
		}
	}
	claim, _, expired, err := s.liveClaim(w, r, code)
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	if v == nil {
		v = &cart.View{Market: m.Code, Currency: m.Currency, Subtotal: money.New(0, m.Currency)}
	}
	c := cartContent{View: v, Claim: claim}
	c.ErrorSKU, c.Error = readCartFlash(w, r, code)
	for i := range v.Lines {
		c.Partial = c.Partial || !v.Lines[i].Purchasable
	}
	p, err := s.newPage(r, code, "/cart")
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	p.Title = p.Lang.T("Your cart")
	p.NoIndex = true
	if err := s.localizeCart(r.Context(), p.Lang, v); err != nil {
		s.pageFail(w, r, err)
		return
	}
	for _, n := range v.NoticeMsgs {
		c.Notices = append(c.Notices, p.Lang.Say(n))
	}
	if expired {
		c.Notices = append(c.Notices, p.Lang.Say(locale.M("Your hold on the flash-sale units ran out and they went back to the sale; claim again if any are left.")))
	}
	c.Reasons = map[string]string{}
	for _, l := range v.Lines {
		if !l.Purchasable {
			c.Reasons[l.SKU] = s.sayOr(p.Lang, l.ReasonMsg, l.Reason)
		}
	}
	p.Content = c
	s.renderNoStore(w, r, http.StatusOK, "cart", p)
}

// pageCartAdd adds to the visitor's cart from a product page's form,
// making the cart on the first add, and goes to the cart page.
func (s *Server) pageCartAdd(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("market")
	if _, err := s.marketOf(r, code); err != nil {
		s.pageFail(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxCartForm)
	if err := r.ParseForm(); err != nil {
		s.cartRedirect(w, r, code, "", locale.M("The form could not be read; please try again."))
		return
	}
	sku := strings.TrimSpace(r.PostForm.Get("sku"))
	raw := strings.TrimSpace(r.PostForm.Get("quantity"))
	if raw == "" {
		raw = "1"
	}
	qty, err := strconv.Atoi(raw)
	if err != nil {
		s.cartRedirect(w, r, code, sku, locale.M("Enter the quantity as a whole number."))
		return
	}
	id, token, ok := cartCookie(r, code)
	if !ok {
		// A signed-in customer without a cart here carries on with the one
		// they left on another device.
		if own, ownToken, found := s.customerCart(r, code); found {
			id, token, ok = own, ownToken, true
			setCartCookie(w, r, code, id, token)
		}
	}
	if ok {
		err = s.cart.AddItem(r.Context(), id, token, sku, qty)
		// A cart that is gone, became an order or is a claim's (set
		// before claims had a cookie of their own) is replaced by a new
		// one.
		ok = !errors.Is(err, cart.ErrNotFound) && !errors.Is(err, cart.ErrCheckedOut) && !errors.Is(err, cart.ErrClaimCart)
	}
	if !ok {
		var v *cart.View
		if v, token, err = s.cart.Create(r.Context(), code); err != nil {
			s.pageFail(w, r, err)
			return
		}
		id = v.ID
		// A signed-in customer's new cart is theirs from the start.
		if who, serr := s.signedIn(r); serr == nil && s.customers != nil {
			if _, _, aerr := s.cart.Adopt(r.Context(), who.customer.ID, code, id, token); aerr != nil {
				s.pageFail(w, r, aerr)
				return
			}
		}
		setCartCookie(w, r, code, id, token)
		err = s.cart.AddItem(r.Context(), id, token, sku, qty)
	}
	s.cartOutcome(w, r, code, sku, err)
}

// pageCartSet changes a line's quantity from the cart page; 0 removes it.
func (s *Server) pageCartSet(w http.ResponseWriter, r *http.Request) {
	code, sku := r.PathValue("market"), r.PathValue("sku")
	if _, err := s.marketOf(r, code); err != nil {
		s.pageFail(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxCartForm)
	if err := r.ParseForm(); err != nil {
		s.cartRedirect(w, r, code, sku, locale.M("The form could not be read; please try again."))
		return
	}
	qty, err := strconv.Atoi(strings.TrimSpace(r.PostForm.Get("quantity")))
	if err != nil {
		s.cartRedirect(w, r, code, sku, locale.M("Enter the quantity as a whole number, or 0 to remove the item."))
		return
	}
	id, token, ok := cartCookie(r, code)
	if !ok {
		s.cartRedirect(w, r, code, "", locale.M("Your cart could not be found; it may have expired."))
		return
	}
	err = s.cart.SetQuantity(r.Context(), id, token, sku, qty)
	if errors.Is(err, cart.ErrNotFound) {
		clearCartCookie(w, r, code)
		s.cartRedirect(w, r, code, "", locale.M("Your cart could not be found; it may have expired."))
		return
	}
	s.cartOutcome(w, r, code, sku, err)
}

// cartOutcome goes back to the cart page after a change: with the reason
// when the store refused it, or an error page when the store failed.
func (s *Server) cartOutcome(w http.ResponseWriter, r *http.Request, code, sku string, err error) {
	if err != nil {
		status, _ := classify(err)
		if status >= http.StatusInternalServerError {
			s.pageFail(w, r, err)
			return
		}
		s.cartRedirectText(w, r, code, sku, s.sayError(s.langOf(r, code), err))
		return
	}
	s.cartRedirectText(w, r, code, "", "")
}

// cartRedirect sends the browser to the cart page, leaving msg for it to
// show once in the shopper's language (the cookie keeps it as it reads:
// it only spans the redirect).
func (s *Server) cartRedirect(w http.ResponseWriter, r *http.Request, code, sku string, msg locale.Msg) {
	s.cartRedirectText(w, r, code, sku, s.langOf(r, code).Say(msg))
}

// cartRedirectText sends the browser to the cart page (303: the next
// request is a GET), leaving msg for it to show once.
func (s *Server) cartRedirectText(w http.ResponseWriter, r *http.Request, code, sku, msg string) {
	if msg != "" {
		http.SetCookie(w, &http.Cookie{
			Name: cartFlashCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(sku + "\n" + msg)),
			Path: "/" + code + "/cart", MaxAge: cartFlashAge, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: overTLS(r),
		})
	}
	localRedirect(w, r, "/"+code+"/cart", http.StatusSeeOther)
}

// readCartFlash returns and clears the message of the last change. The
// cookie can only have been set by the store, so no one can make the page
// say something by a crafted link.
func readCartFlash(w http.ResponseWriter, r *http.Request, code string) (sku, msg string) {
	c, err := r.Cookie(cartFlashCookie)
	if err != nil {
		return "", ""
	}
	http.SetCookie(w, &http.Cookie{Name: cartFlashCookie, Path: "/" + code + "/cart", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: overTLS(r)})
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return "", ""
	}
	sku, msg, _ = strings.Cut(string(raw), "\n")
	return sku, msg
}

func cartCookieName(code string) string { return cartCookiePrefix + code }

// claimCookieName names the cookie of the cart a flash-sale claim holds
// in market code: a cart of its own beside the visitor's, so that the
// claim neither takes the visitor's cart's place nor outlives itself.
func claimCookieName(code string) string { return claimCookiePrefix + code }

// cartCookie returns the id and token of the visitor's cart in a market.
func cartCookie(r *http.Request, code string) (id, token string, ok bool) {
	return cartPair(r, cartCookieName(code))
}

// claimCookie returns the id and token of the cart of the visitor's
// flash-sale claim in a market.
func claimCookie(r *http.Request, code string) (id, token string, ok bool) {
	return cartPair(r, claimCookieName(code))
}

func cartPair(r *http.Request, name string) (id, token string, ok bool) {
	c, err := r.Cookie(name)
	if err != nil {
		return "", "", false
	}
	id, token, ok = strings.Cut(c.Value, ".")
	return id, token, ok && id != "" && token != ""
}

func setCartCookie(w http.ResponseWriter, r *http.Request, code, id, token string) {
	setCartPair(w, r, cartCookieName(code), id, token, cartCookieAge)
}

func setClaimCookie(w http.ResponseWriter, r *http.Request, code, id, token string) {
	setCartPair(w, r, claimCookieName(code), id, token, claimCookieAge)
}

func setCartPair(w http.ResponseWriter, r *http.Request, name, id, token string, age int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: id + "." + token, Path: "/", MaxAge: age,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: overTLS(r),
	})
}

func clearCartCookie(w http.ResponseWriter, r *http.Request, code string) {
	clearCookie(w, r, cartCookieName(code))
}

func clearClaimCookie(w http.ResponseWriter, r *http.Request, code string) {
	clearCookie(w, r, claimCookieName(code))
}

func clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: overTLS(r)})
}

// liveClaim returns the view of the visitor's flash-sale claim's cart in
// market code while the claim holds its units, else nil, forgetting a
// claim that ran out, became an order or is gone. expired is set when it
// ran out unbought, for the shopper to be told.
func (s *Server) liveClaim(w http.ResponseWriter, r *http.Request, code string) (v *cart.View, token string, expired bool, err error) {
	id, token, ok := claimCookie(r, code)
	if !ok {
		return nil, "", false, nil
	}
	v, err = s.cart.Get(r.Context(), id, token)
	if errors.Is(err, cart.ErrNotFound) {
		clearClaimCookie(w, r, code)
		return nil, "", false, nil
	}
	if err != nil {
		return nil, "", false, err
	}
	if v.ClaimLive && !v.CheckedOut && v.Market == code {
		return v, token, false, nil
	}
	clearClaimCookie(w, r, code)
	return nil, "", v.Claim && !v.CheckedOut, nil
}

// checkoutCart is the cart the checkout pages work on: the visitor's
// flash-sale claim's while it holds its units, else the visitor's own.
// When the claim ran out it has sent the shopper to their cart with word
// of it, and handled is set.
func (s *Server) checkoutCart(w http.ResponseWriter, r *http.Request, code string) (id, token string, ok, handled bool) {
	v, claimToken, expired, err := s.liveClaim(w, r, code)
	switch {
	case err != nil:
		s.pageFail(w, r, err)
		return "", "", false, true
	case v != nil:
		return v.ID, claimToken, true, false
	case expired:
		s.cartRedirect(w, r, code, "", locale.M("Your hold on the flash-sale units ran out and they went back to the sale; claim again if any are left."))
		return "", "", false, true
	}
	id, token, ok = cartCookie(r, code)
	return id, token, ok, false
}

// overTLS reports whether the visitor reached the store over HTTPS, so
// that its cookies are then never sent in the clear. A proxy's
// X-Forwarded-Proto counts too: it can only make a cookie stricter.
func overTLS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// renderNoStore renders a page that shows one shopper's data: private,
// never stored by any cache.
func (s *Server) renderNoStore(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	p.Private = true
	s.render(w, r, status, name, "", p)
}

// customerCart is the signed-in customer's open cart in market code, if
// they have one.
func (s *Server) customerCart(r *http.Request, code string) (id, token string, ok bool) {
	who, err := s.signedIn(r)
	if err != nil {
		return "", "", false
	}
	id, token, err = s.cart.Adopt(r.Context(), who.customer.ID, code, "", "")
	return id, token, err == nil && id != ""
}
