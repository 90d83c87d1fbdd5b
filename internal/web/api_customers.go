package web

import (
	"net/http"
	"time"

	"mistore/internal/customer"
	"mistore/internal/money"
	"mistore/internal/order"
	"mistore/internal/ratelimit"
)

// apiCustomer is API.md's Customer.
type apiCustomer struct {
	ID            int64     `json:"id"`
	Email         string    `json:"email"`
	Name          string    `json:"name"`
	EmailVerified bool      `json:"email_verified"`
	CreatedAt     time.Time `json:"created_at"`
}

func customerJSON(c customer.Customer) apiCustomer {
	return apiCustomer{ID: c.ID, Email: c.Email, Name: c.Name, EmailVerified: c.EmailVerified, CreatedAt: c.CreatedAt}
}

// registerBody is what registering takes. It has nothing else: a body
// that also sets "role" or "email_verified" is refused by decodeJSON as
// an unknown field, never half-applied.
type registerBody struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

func (s *Server) apiRegister(w http.ResponseWriter, r *http.Request) {
	var body registerBody
	if err := decodeJSON(r, &body); err != nil {
		s.apiFail(w, r, err)
		return
	}
	if err := s.limit(r, ratelimit.RegisterPerIP, clientIP(r)); err != nil {
		s.apiFail(w, r, err)
		return
	}
	c, err := s.customers.Register(r.Context(), body.Email, body.Password, body.Name)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.jobs.Notify() // the verification email
	noStore(w)
	s.writeJSON(w, r, http.StatusCreated, customerJSON(c))
}

type signInBody struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	// CartID names the guest cart to bring into the account; its token
	// comes in X-Cart-Token, as for every cart request.
	CartID string `json:"cart_id"`
}

// apiSignIn answers a token for API clients and sets the session cookie
// for browsers: both name the same new session.
func (s *Server) apiSignIn(w http.ResponseWriter, r *http.Request) {
	var body signInBody
	if err := decodeJSON(r, &body); err != nil {
		s.apiFail(w, r, err)
		return
	}
	c, err := s.signIn(r, body.Email, body.Password)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	token, err := s.startSession(w, r, c, customer.SessionAPI)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	out := map[string]any{"token": token, "customer": customerJSON(c)}
	// A guest cart brought along is merged into the customer's cart of its
	// market; a cart that does not open with its token is left alone.
	if body.CartID != "" {
		guestToken := r.Header.Get("X-Cart-Token")
		if code, err := s.cart.Check(r.Context(), body.CartID, guestToken); err == nil {
			id, cartToken, err := s.cart.Adopt(r.Context(), c.ID, code, body.CartID, guestToken)
			if err != nil {
				s.apiFail(w, r, err)
				return
			}
			if id != "" {
				out["cart"] = map[string]string{"id": id, "token": cartToken}
			}
		}
	}
	noStore(w)
	s.writeJSON(w, r, http.StatusOK, out)
}

// apiSignOut ends the session the request carries, on the server, so a
// copy of its token or cookie is worthless from now on.
func (s *Server) apiSignOut(w http.ResponseWriter, r *http.Request) {
	if token := credentials(r); token != "" && s.customers != nil {
		if err := s.customers.EndSession(r.Context(), token); err != nil {
			s.apiFail(w, r, err)
			return
		}
	}
	clearSessionCookie(w, r)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiMe(w http.ResponseWriter, r *http.Request) {
	who, err := s.signedIn(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	noStore(w)
	s.writeJSON(w, r, http.StatusOK, customerJSON(who.customer))
}

// apiOrderSummary is one order in a customer's history.
type apiOrderSummary struct {
	Number    string      `json:"number"`
	Market    string      `json:"market"`
	Status    string      `json:"status"`
	Total     money.Money `json:"total"`
	ItemCount int         `json:"item_count"`
	CreatedAt time.Time   `json:"created_at"`
}

// customerOrders reads the orders of c, newest first.
func (s *Server) customerOrders(r *http.Request, c customer.Customer) ([]*order.Order, error) {
	numbers, err := s.customers.OrderNumbers(r.Context(), c.ID)
	if err != nil {
		return nil, err
	}
	out := make([]*order.Order, 0, len(numbers))
	for _, n := range numbers {
		o, err := order.Get(r.Context(), s.db.Reader(), n)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

func (s *Server) apiMyOrders(w http.ResponseWriter, r *http.Request) {
	who, err := s.signedIn(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	orders, err := s.customerOrders(r, who.customer)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	out := make([]apiOrderSummary, len(orders))
	for i, o := range orders {
		n := 0
		for _, l := range o.Lines {
			n += l.Quantity
		}
		out[i] = apiOrderSummary{Number: o.Number, Market: o.Market, Status: string(o.Status), Total: o.Total, ItemCount: n, CreatedAt: o.CreatedAt}
	}
	noStore(w)
	s.writeJSON(w, r, http.StatusOK, map[string]any{"orders": out})
}

// apiMyExport answers everything the store holds about the customer, as
// a download (CCPA's right to know).
func (s *Server) apiMyExport(w http.ResponseWriter, r *http.Request) {
	who, err := s.signedIn(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	ex, err := s.customers.Export(r.Context(), who.customer.ID)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	noStore(w)
	w.Header().Set("Content-Disposition", `attachment; filename="mistore-data.json"`)
	s.writeJSON(w, r, http.StatusOK, ex)
}

// noStore keeps one customer's answer out of every cache.
func noStore(w http.ResponseWriter) { w.Header().Set("Cache-Control", "no-store") }

type deleteMeBody struct {
	Password string `json:"password"`
}

// apiDeleteMe deletes the account (CCPA's right to delete). The password
// is asked again: a session left open on a shared computer must not be
// enough to erase an account.
func (s *Server) apiDeleteMe(w http.ResponseWriter, r *http.Request) {
	who, err := s.signedIn(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	var body deleteMeBody
	if err := decodeJSON(r, &body); err != nil {
		s.apiFail(w, r, err)
		return
	}
	if _, err := s.signIn(r, who.customer.Email, body.Password); err != nil {
		s.apiFail(w, r, err)
		return
	}
	if err := s.customers.Delete(r.Context(), who.customer.ID); err != nil {
		s.apiFail(w, r, err)
		return
	}
	clearSessionCookie(w, r)
	w.WriteHeader(http.StatusNoContent)
}
