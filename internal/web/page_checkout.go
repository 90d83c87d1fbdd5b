package web

import (
	"errors"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"mistore/internal/cart"
	"mistore/internal/checkout"
	"mistore/internal/customer"
	"mistore/internal/order"
)

type stateOption struct{ Code, Name string }

type checkoutContent struct {
	Form     checkoutForm
	Methods  []checkout.Method
	Quote    *checkout.Quote
	Errors   map[string]string
	Message  string
	States   []stateOption
	Country  string
	Currency string
	// Cart is what is being bought, shown before a quote exists.
	Cart *cart.View
	// ErrorField is the input the message at the top is about, to link
	// to it.
	ErrorField string
	// SignedIn: the shopper may save the address; Saved are the addresses
	// they saved before, in this market's countries.
	SignedIn bool
	Saved    []customer.Address
}

// checkoutForm is the checkout form as typed, to show it again.
type checkoutForm struct {
	Email, Name, Line1, Line2, City, Region, PostalCode, Method, Coupon string
	// Save asks to keep the address in the signed-in customer's account.
	Save bool
}

func (f checkoutForm) request(country string) checkout.Request {
	return checkout.Request{
		Email:          f.Email,
		ShippingMethod: f.Method,
		CouponCode:     f.Coupon,
		Address: order.Address{Name: f.Name, Line1: f.Line1, Line2: f.Line2, City: f.City,
			Region: f.Region, PostalCode: f.PostalCode, Country: country},
	}
}

// pageCheckout shows the empty form; for a signed-in customer, with their
// email, and with a saved address when ?address= names one of theirs.
func (s *Server) pageCheckout(w http.ResponseWriter, r *http.Request) {
	f := checkoutForm{Method: "standard"}
	if who, err := s.signedIn(r); err == nil {
		f.Email = who.customer.Email
		if pick := r.URL.Query().Get("address"); pick != "" {
			saved, err := s.customers.Addresses(r.Context(), who.customer.ID)
			if err != nil {
				s.pageFail(w, r, err)
				return
			}
			for _, a := range saved {
				if strconv.FormatInt(a.ID, 10) == pick {
					f.Name, f.Line1, f.Line2, f.City, f.Region, f.PostalCode = a.Name, a.Line1, a.Line2, a.City, a.Region, a.PostalCode
				}
			}
		}
	}
	s.checkoutPage(w, r, f, http.StatusOK, nil, "")
}

// checkoutPage renders the one-page checkout; quote is shown when set.
func (s *Server) checkoutPage(w http.ResponseWriter, r *http.Request, f checkoutForm, status int, quote *checkout.Quote, message string, fieldErrs ...map[string]string) {
	code := r.PathValue("market")
	id, token, ok, handled := s.checkoutCart(w, r, code)
	if handled {
		return
	}
	if !ok {
		localRedirect(w, r, "/"+code+"/cart", http.StatusSeeOther)
		return
	}
	methods, err := s.checkout.ShippingMethods(r.Context(), id, token, f.Region)
	if err != nil {
		if errors.Is(err, checkout.ErrUnknownCart) {
			localRedirect(w, r, "/"+code+"/cart", http.StatusSeeOther)
			return
		}
		s.pageFail(w, r, err)
		return
	}
	view, err := s.cart.Get(r.Context(), id, token)
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	if len(view.Lines) == 0 {
		localRedirect(w, r, "/"+code+"/cart", http.StatusSeeOther)
		return
	}
	p, err := s.newPage(r, code, "/checkout")
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	p.Title = p.Lang.T("Checkout")
	p.Canonical = ""
	if err := s.localizeCart(r.Context(), p.Lang, view); err != nil {
		s.pageFail(w, r, err)
		return
	}
	p.NoIndex = true
	c := checkoutContent{Form: f, Methods: methods, Quote: quote, Message: message, Errors: map[string]string{},
		Country: p.Market.CountryCodes[0], Currency: p.Market.Currency, Cart: view}
	if who, err := s.signedIn(r); err == nil {
		c.SignedIn = true
		saved, err := s.customers.Addresses(r.Context(), who.customer.ID)
		if err != nil {
			s.pageFail(w, r, err)
			return
		}
		for _, a := range saved {
			if slices.Contains(p.Market.CountryCodes, a.Country) {
				c.Saved = append(c.Saved, a)
			}
		}
	}
	if len(fieldErrs) > 0 {
		c.Errors = fieldErrs[0]
		c.ErrorField = firstField(c.Errors)
	}
	if c.Country == "US" {
		for code, name := range checkout.USStates() {
			c.States = append(c.States, stateOption{Code: code, Name: name})
		}
		sort.Slice(c.States, func(i, j int) bool { return c.States[i].Name < c.States[j].Name })
	}
	p.Content = c
	s.renderNoStore(w, r, status, "checkout", p)
}

// pageCheckoutSubmit quotes (action=quote) or places (action=place) the
// order from the form. Placing sends the shopper on to the payment page.
func (s *Server) pageCheckoutSubmit(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("market")
	id, token, ok, handled := s.checkoutCart(w, r, code)
	if handled {
		return
	}
	if !ok {
		localRedirect(w, r, "/"+code+"/cart", http.StatusSeeOther)
		return
	}
	set, err := s.catalog.Markets(r.Context())
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	m, err := set.Get(code)
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	f := checkoutForm{
		Email: r.PostFormValue("email"), Name: r.PostFormValue("name"), Line1: r.PostFormValue("line1"),
		Line2: r.PostFormValue("line2"), City: r.PostFormValue("city"), Region: r.PostFormValue("region"),
		PostalCode: r.PostFormValue("postal_code"), Method: r.PostFormValue("shipping_method"), Coupon: r.PostFormValue("coupon_code"),
		Save: r.PostFormValue("save_address") != "",
	}
	req := f.request(m.CountryCodes[0])
	if r.PostFormValue("action") == "quote" {
		var q *checkout.Quote
		err := s.guardCoupon(r, id, req.CouponCode, func() (err error) {
			q, err = s.checkout.Quote(r.Context(), id, token, req)
			return err
		})
		if err != nil {
			s.checkoutFailed(w, r, f, err)
			return
		}
		s.checkoutPage(w, r, f, http.StatusOK, q, "")
		return
	}
	var o *order.Order
	err = s.guardCoupon(r, id, req.CouponCode, func() (err error) {
		o, _, err = s.checkout.Place(r.Context(), id, token, req, s.orderURL)
		return err
	})
	if err != nil {
		s.checkoutFailed(w, r, f, err)
		return
	}
	if f.Save {
		s.saveAddress(r, o.Address)
	}
	// The cart is an order now: the next visit starts a new one. A
	// claim's cart was a cart of its own: the shopper's stays.
	if claimID, _, ok := claimCookie(r, code); ok && claimID == id {
		clearClaimCookie(w, r, code)
	} else {
		clearCartCookie(w, r, code)
	}
	target := o.PaymentURL
	if target == "" || o.Status != order.PendingPayment {
		target = s.orderURL(o, s.orders.Tokens().For(o.Number))
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// checkoutFailed shows the form again with what is wrong next to its field
// or, for the cart as a whole, at the top.
func (s *Server) checkoutFailed(w http.ResponseWriter, r *http.Request, f checkoutForm, err error) {
	l := s.langOf(r, r.PathValue("market"))
	var fe *checkout.FieldError
	if errors.As(err, &fe) {
		// Every field that needs changing is marked at once, not one per
		// submission: the email and the address are checked whole here.
		problems := []*checkout.FieldError{fe}
		if _, eerr := checkout.NormalizeEmail(f.Email); eerr != nil {
			var efe *checkout.FieldError
			if errors.As(eerr, &efe) {
				problems = append(problems, efe)
			}
		}
		if m, merr := s.marketOf(r, r.PathValue("market")); merr == nil {
			_, more := checkout.AddressProblems(f.request(m.CountryCodes[0]).Address, m.CountryCodes)
			problems = append(problems, more...)
		}
		errs := map[string]string{}
		for _, p := range problems {
			name := strings.TrimPrefix(p.Field, "shipping_address.")
			if _, seen := errs[name]; !seen {
				errs[name] = s.sayOr(l, p.Why, capitalize(p.Msg)+".")
			}
		}
		first := firstField(errs)
		msg := l.T("%s: %s", l.T(fieldLabel(first)), errs[first])
		if len(errs) > 1 {
			msg += " " + l.T("%d fields need changing; each is marked below.", len(errs))
		}
		s.checkoutPage(w, r, f, http.StatusUnprocessableEntity, nil, msg, errs)
		return
	}
	status, _ := classify(err)
	if status >= 500 {
		s.pageFail(w, r, err)
		return
	}
	retryAfter(w, err)
	msg := s.sayStockError(r, l, r.PathValue("market"), err)
	errs := map[string]string{}
	if errors.Is(err, checkout.ErrCoupon) {
		errs["coupon_code"] = msg
	}
	s.checkoutPage(w, r, f, status, nil, msg, errs)
}

// checkoutFields are the checkout form's fields in the order it asks
// for them.
var checkoutFields = []string{"email", "name", "line1", "line2", "city", "region", "postal_code", "country", "shipping_method", "coupon_code"}

// firstField is the field of errs the form asks for first.
func firstField(errs map[string]string) string {
	for _, name := range checkoutFields {
		if _, ok := errs[name]; ok {
			return name
		}
	}
	for name := range errs {
		return name
	}
	return ""
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// fieldLabel is how the checkout form labels an input, in English: the
// page translates it.
func fieldLabel(name string) string {
	switch name {
	case "email":
		return "Email"
	case "name":
		return "Full name"
	case "line1", "line2":
		return "Address"
	case "city":
		return "City"
	case "region":
		return "State or province"
	case "postal_code":
		return "Postal code"
	case "country":
		return "Country"
	case "shipping_method":
		return "Shipping"
	case "coupon_code":
		return "Coupon code"
	}
	return capitalize(strings.ReplaceAll(name, "_", " "))
}

// saveAddress keeps an address the signed-in shopper just ordered to, as
// checked by the checkout, in their account. The order is placed either
// way: an address book that is full or a failure here is logged, not
// shown.
func (s *Server) saveAddress(r *http.Request, a order.Address) {
	who, err := s.signedIn(r)
	if err != nil {
		return
	}
	saved, err := s.customers.Addresses(r.Context(), who.customer.ID)
	if err == nil {
		for _, old := range saved {
			if old.Name == a.Name && old.Line1 == a.Line1 && old.Line2 == a.Line2 && old.City == a.City &&
				old.Region == a.Region && old.PostalCode == a.PostalCode && old.Country == a.Country {
				return // saved already
			}
		}
		_, err = s.customers.AddAddress(r.Context(), who.customer.ID, customer.Address{Name: a.Name, Line1: a.Line1, Line2: a.Line2,
			City: a.City, Region: a.Region, PostalCode: a.PostalCode, Country: a.Country})
	}
	if err != nil {
		s.log.WarnContext(r.Context(), "save address", "err", err)
	}
}
