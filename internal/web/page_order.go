package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"mistore/internal/locale"
	"mistore/internal/order"
	"mistore/internal/payment"
	"mistore/internal/ratelimit"
)

type orderContent struct {
	Order    *order.Order
	Events   []eventLine
	Token    string
	Pending  bool
	Paid     bool
	CanPay   bool
	Declined bool
	// Cancellable: the customer may still cancel (not shipped yet).
	Cancellable bool
	Flash       string
	// Returnable are the lines the customer may still send back (none
	// before the order ships); Returns what they asked back so far.
	Returnable  []order.ReturnableLine
	Returns     []order.Return
	ReturnError string
	// ReturnReason and ReturnQty (by line position) are what was typed,
	// kept when the form comes back with an error.
	ReturnReason string
	ReturnQty    map[int]string
	// Shipments are the parcels sent, each with its carrier's tracking
	// page where the store knows it.
	Shipments []order.Shipment
}

// pageOrder shows an order's status to whoever holds its link.
func (s *Server) pageOrder(w http.ResponseWriter, r *http.Request) {
	s.renderOrderPage(w, r, r.URL.Query().Get("token"), http.StatusOK, orderContent{})
}

// renderOrderPage shows the order of the request's path to whoever holds
// token or owns it, with extra's return form state.
func (s *Server) renderOrderPage(w http.ResponseWriter, r *http.Request, token string, status int, extra orderContent) {
	code := r.PathValue("market")
	o, err := s.openOrder(r, token)
	if err != nil || o.Market != code {
		s.pageFail(w, r, orNotFound(err))
		return
	}
	d, err := s.orders.Detail(r.Context(), o.Number)
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	o, events := d.Order, d.Events
	returnable, err := s.orders.Returnable(r.Context(), o)
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	p, err := s.newPage(r, code, "/orders/"+o.Number)
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	p.Title = p.Lang.T("Order %s", o.Number)
	p.Canonical = ""
	p.NoIndex = true
	// The lines named in the page's language; the order keeps the
	// English names it was placed with.
	shown := *o
	shown.Lines = order.LocalizeLines(r.Context(), o.Lines, p.Lang.Texts, s.catalog.LineText)
	c := orderContent{
		// Whoever sees the page may act on it: a signed-in owner who came
		// without the link's token gets it for the page's forms.
		Order: &shown, Events: s.eventLines(p.Lang, events), Token: s.orders.Tokens().For(o.Number),
		Pending: o.Status == order.PendingPayment, Paid: o.Status == order.Paid,
		CanPay:      o.Status == order.PendingPayment && o.PaymentURL != "",
		Declined:    o.PaymentStatus == "declined",
		Cancellable: o.Status == order.PendingPayment || o.Status == order.Paid,
		Returnable:  returnable, Returns: d.Returns, ReturnError: extra.ReturnError, ReturnReason: extra.ReturnReason, ReturnQty: extra.ReturnQty,
		Shipments: d.Shipments,
	}
	switch r.URL.Query().Get("note") {
	case "cancelled":
		c.Flash = p.Lang.T("Your order is cancelled.")
	case "return":
		c.Flash = p.Lang.T("Your return request is in. How it stands shows on this page.")
	}
	p.Content = c
	s.renderNoStore(w, r, status, "order", p)
}

// pageOrderReturn takes the order page's return form: which units of
// which lines (qty_POSITION), and why. The holder of the order's link or
// its signed-in owner may ask, once the order has shipped.
func (s *Server) pageOrderReturn(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("market")
	token := r.PostFormValue("token")
	o, err := s.openOrder(r, token)
	if err != nil || o.Market != code {
		s.pageFail(w, r, orNotFound(err))
		return
	}
	var items []order.ReturnItem
	typed := map[int]string{}
	for i, l := range o.Lines {
		v := strings.TrimSpace(r.PostFormValue("qty_" + strconv.Itoa(i)))
		if v == "" || v == "0" {
			continue
		}
		typed[i] = v
		n, err := strconv.Atoi(v)
		if err != nil {
			n = -1 // refused below, with the form's sentence
		}
		items = append(items, order.ReturnItem{SKU: l.SKU, Quantity: n})
	}
	reason := r.PostFormValue("reason")
	if _, err := s.orders.RequestReturn(r.Context(), o.Number, items, reason); err != nil {
		status, _ := classify(err)
		if status >= 500 {
			s.pageFail(w, r, err)
			return
		}
		s.renderOrderPage(w, r, token, status, orderContent{ReturnError: s.sayError(s.langOf(r, code), err), ReturnReason: reason, ReturnQty: typed})
		return
	}
	localRedirect(w, r, "/"+code+"/orders/"+o.Number+"?token="+url.QueryEscape(s.orders.Tokens().For(o.Number))+"&note=return#returns", http.StatusSeeOther)
}

// pageOrderPay settles the order's payment with its provider (a payment
// made but not reported yet is applied; a missing payment page is opened)
// and sends the shopper on: to pay, or back to the order.
func (s *Server) pageOrderPay(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("market")
	o, err := s.openOrder(r, r.PostFormValue("token"))
	if err != nil || o.Market != code {
		s.pageFail(w, r, orNotFound(err))
		return
	}
	o = s.settlePayment(r, o)
	if o.Status == order.PendingPayment && o.PaymentURL != "" {
		http.Redirect(w, r, o.PaymentURL, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, s.orderURL(o, s.orders.Tokens().For(o.Number)), http.StatusSeeOther)
}

// pageOrderCancel cancels an order from its page.
func (s *Server) pageOrderCancel(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("market")
	token := r.PostFormValue("token")
	o, err := s.orders.Open(r.Context(), r.PathValue("number"), token)
	if err != nil || o.Market != code {
		s.pageFail(w, r, orNotFound(err))
		return
	}
	if _, err := s.orders.Cancel(r.Context(), o.Number); err != nil {
		s.pageFail(w, r, err)
		return
	}
	s.jobs.Notify()
	localRedirect(w, r, "/"+code+"/orders/"+o.Number+"?token="+url.QueryEscape(token)+"&note=cancelled", http.StatusSeeOther)
}

func orNotFound(err error) error {
	if err == nil {
		return order.ErrNotFound
	}
	return err
}

type payContent struct {
	Session payment.PageSession
	Error   string
	// Field is the input the error is about; a decline is about the card.
	Field  string
	Expiry string
}

// pagePay is the built-in test provider's hosted payment page. In
// production this page belongs to the provider; here it imitates one so
// the whole flow runs offline. It is not a market page of its own: it
// wears the frame, and speaks the language, of its order's market (the
// US store's when the order cannot be found).
func (s *Server) pagePay(w http.ResponseWriter, r *http.Request) {
	sess, err := s.testPay.Page(r.Context(), r.PathValue("session"))
	if err != nil {
		s.pageFail(w, r, payNotFound(err))
		return
	}
	s.renderPay(w, r, http.StatusOK, sess, "", "")
}

func (s *Server) renderPay(w http.ResponseWriter, r *http.Request, status int, sess payment.PageSession, msg, field string) {
	p, err := s.newPage(r, s.payMarket(r, sess), "/")
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	p.Title = p.Lang.T("Pay %s", sess.Amount.Format())
	p.Canonical = ""
	p.NoIndex = true
	// The card number typed is not shown again: only the expiry, so a
	// shopper fixing a typo there need not retype it.
	p.Content = payContent{Session: sess, Error: msg, Field: field, Expiry: r.PostFormValue("expiry")}
	s.renderNoStore(w, r, status, "pay", p)
}

// payMarket is the market of the order a payment session is for.
func (s *Server) payMarket(r *http.Request, sess payment.PageSession) string {
	if o, err := s.orders.Open(r.Context(), sess.Reference, s.orders.Tokens().For(sess.Reference)); err == nil && o.Market != "" {
		return o.Market
	}
	return "us"
}

// payLang is the language of the payment page of session sess.
func (s *Server) payLang(r *http.Request, sess payment.PageSession) *locale.Lang {
	return s.langOf(r, s.payMarket(r, sess))
}

// pagePaySubmit takes the card form. The card number lives only in this
// request: it is not logged (request logs carry the path, never the body)
// and not stored.
func (s *Server) pagePaySubmit(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("session")
	card := payment.Card{Number: r.PostFormValue("card_number"), Expiry: r.PostFormValue("expiry"), CVC: r.PostFormValue("cvc")}
	// Card testing: declined cards are limited per order and per address,
	// so the page cannot be used to try stolen numbers one by one.
	ip := clientIP(r)
	customerKey := ""
	if who, err := s.signedIn(r); err == nil {
		customerKey = strconv.FormatInt(who.customer.ID, 10)
	}
	checks := []ratelimit.Check{{Rule: ratelimit.PaymentFailuresPerOrder, Key: id}, {Rule: ratelimit.PaymentFailuresPerIP, Key: ip}}
	if customerKey != "" {
		checks = append(checks, ratelimit.Check{Rule: ratelimit.PaymentFailuresPerCustomer, Key: customerKey})
	}
	err := s.overLimits(r, checks...)
	if err != nil {
		page, perr := s.testPay.Page(r.Context(), id)
		if perr != nil {
			s.pageFail(w, r, payNotFound(perr))
			return
		}
		retryAfter(w, err)
		l := s.payLang(r, page)
		s.renderPay(w, r, http.StatusTooManyRequests, page, l.T("Too many declined cards. %s", s.sayError(l, err)), "card_number")
		return
	}
	paid, err := s.testPay.Pay(r.Context(), id, card)
	if errors.Is(err, payment.ErrDeclined) {
		s.countFailure(r, ratelimit.PaymentFailuresPerOrder, id)
		s.countFailure(r, ratelimit.PaymentFailuresPerIP, ip)
		if customerKey != "" {
			s.countFailure(r, ratelimit.PaymentFailuresPerCustomer, customerKey)
		}
	}
	if err == nil {
		http.Redirect(w, r, paid.ReturnURL, http.StatusSeeOther)
		return
	}
	page, perr := s.testPay.Page(r.Context(), id)
	if perr != nil {
		s.pageFail(w, r, payNotFound(perr))
		return
	}
	switch {
	case errors.Is(err, payment.ErrDeclined):
		s.renderPay(w, r, http.StatusPaymentRequired, page, s.payLang(r, page).T("Your card was declined. Check the details or try another card."), "card_number")
	case errors.Is(err, payment.ErrInvalidCard):
		msg, field := cardProblem(err)
		s.renderPay(w, r, http.StatusUnprocessableEntity, page, s.sayOr(s.payLang(r, page), locale.Msg{}, msg), field)
	case errors.Is(err, payment.ErrSessionClosed):
		// Paid already, or too late: the order page says which.
		http.Redirect(w, r, page.ReturnURL, http.StatusSeeOther)
	default:
		s.pageFail(w, r, err)
	}
}

// cardProblem is what to tell the shopper about bad card details, and
// which input it is about.
func cardProblem(err error) (string, string) {
	var ce *payment.CardError
	if errors.As(err, &ce) {
		return ce.Msg, ce.Field
	}
	return "Check the card details.", "card_number"
}

func payNotFound(err error) error {
	if errors.Is(err, payment.ErrUnknownSession) {
		return order.ErrNotFound
	}
	return err
}
