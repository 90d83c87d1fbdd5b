package web

import (
	"errors"
	"net"
	"net/http"
	"strings"

	"mistore/internal/checkout"
	"mistore/internal/customer"
	"mistore/internal/ratelimit"
)

// Session cookie names. Over TLS (or behind a proxy that says the client
// used https) the cookie is __Host- prefixed, which browsers accept only
// with Secure, Path=/ and no Domain: it cannot be set or shadowed by a
// subdomain or a plain-http page. A store served over plain http, such as
// the demo on 127.0.0.1, cannot use the prefix and names it without.
const (
	sessionCookieTLS   = "__Host-mistore_session"
	sessionCookiePlain = "mistore_session"
)

// errSignInRequired is a request that needs a signed-in customer and has
// none (or an expired or unknown session).
var errSignInRequired = errors.New("sign-in required")

// caller is who made a request.
type caller struct {
	customer customer.Customer
	session  customer.Session
	// token is the session's secret as the client sent it.
	token string
}

// credentials returns the session token a request carries: a Bearer token
// in Authorization, else the session cookie.
func credentials(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(token)
		}
		return ""
	}
	for _, name := range []string{sessionCookieTLS, sessionCookiePlain} {
		if c, err := r.Cookie(name); err == nil && c.Value != "" {
			return c.Value
		}
	}
	return ""
}

// signedIn returns the customer a request is signed in as, or
// errSignInRequired.
func (s *Server) signedIn(r *http.Request) (caller, error) {
	if who, ok := r.Context().Value(callerKey{}).(caller); ok {
		return who, nil
	}
	if s.customers == nil {
		return caller{}, errSignInRequired
	}
	token := credentials(r)
	if token == "" {
		return caller{}, errSignInRequired
	}
	sess, c, err := s.customers.Session(r.Context(), token)
	if errors.Is(err, customer.ErrNoSession) {
		return caller{}, errSignInRequired
	}
	if err != nil {
		return caller{}, err
	}
	return caller{customer: c, session: sess, token: token}, nil
}

// setSessionCookie hands the browser its session. It lives as long as
// the session can at most; the server ends it sooner when it idles.
func setSessionCookie(w http.ResponseWriter, r *http.Request, token string, kind customer.SessionKind) {
	name := sessionCookiePlain
	if overTLS(r) {
		name = sessionCookieTLS
	}
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: token, Path: "/", MaxAge: int(customer.AbsoluteTimeout(kind).Seconds()),
		HttpOnly: true, Secure: overTLS(r), SameSite: http.SameSiteLaxMode,
	})
}

// clearSessionCookie removes the session cookie, under either name.
func clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	for _, name := range []string{sessionCookieTLS, sessionCookiePlain} {
		if _, err := r.Cookie(name); err == nil {
			http.SetCookie(w, &http.Cookie{Name: name, Path: "/", MaxAge: -1, HttpOnly: true,
				Secure: name == sessionCookieTLS || overTLS(r), SameSite: http.SameSiteLaxMode})
		}
	}
}

// clientIP is the address limits count by: the peer's, not a header a
// client could set. Behind a load balancer every request would share its
// address; trusting a forwarded-for header needs configuring which proxy
// to believe, which the store does not do yet.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limit counts one event against rule for key and returns a
// *ratelimit.LimitedError when it is over the limit.
func (s *Server) limit(r *http.Request, rule ratelimit.Rule, key string) error {
	if s.limits == nil {
		return nil
	}
	d, err := s.limits.Allow(r.Context(), rule, key)
	if err != nil {
		return err
	}
	return d.Err(rule)
}

// overLimit reports, without counting, whether key is over rule's limit.
func (s *Server) overLimit(r *http.Request, rule ratelimit.Rule, key string) error {
	return s.overLimits(r, ratelimit.Check{Rule: rule, Key: key})
}

// overLimits is overLimit for several limits at once, read in one query;
// the error is the first limit's, in the order given, that is reached.
func (s *Server) overLimits(r *http.Request, checks ...ratelimit.Check) error {
	if s.limits == nil {
		return nil
	}
	rule, d, err := s.limits.PeekAll(r.Context(), checks...)
	if err != nil {
		return err
	}
	return d.Err(rule)
}

// signIn checks a customer's email and password under the sign-in limits:
// per address (every attempt) and per account (failures only, forgotten
// on success, so a customer who finally gets it right starts afresh).
func (s *Server) signIn(r *http.Request, email, password string) (customer.Customer, error) {
	if err := s.limit(r, ratelimit.SignInPerIP, clientIP(r)); err != nil {
		return customer.Customer{}, err
	}
	account := strings.ToLower(strings.TrimSpace(email))
	if account == "" {
		// No account to count failures against, and none to find.
		return customer.Customer{}, customer.ErrInvalidCredentials
	}
	if err := s.overLimit(r, ratelimit.SignInPerAccount, account); err != nil {
		return customer.Customer{}, err
	}
	c, err := s.customers.Authenticate(r.Context(), email, password)
	if errors.Is(err, customer.ErrInvalidCredentials) {
		if lerr := s.limit(r, ratelimit.SignInPerAccount, account); lerr != nil && !errors.Is(lerr, ratelimit.ErrLimited) {
			return customer.Customer{}, lerr
		}
		return customer.Customer{}, err
	}
	if err != nil {
		return customer.Customer{}, err
	}
	if s.limits != nil {
		if err := s.limits.Reset(r.Context(), ratelimit.SignInPerAccount, account); err != nil {
			s.log.WarnContext(r.Context(), "reset sign-in failures", "err", err)
		}
	}
	return c, nil
}

// startSession begins a new session for c (a new id at every sign-in, so
// a session id planted before it is worth nothing), ends the one the
// request came with, and sets the cookie.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, c customer.Customer, kind customer.SessionKind) (string, error) {
	if old := credentials(r); old != "" {
		if err := s.customers.EndSession(r.Context(), old); err != nil {
			return "", err
		}
	}
	token, err := s.customers.NewSession(r.Context(), c.ID, kind)
	if err != nil {
		return "", err
	}
	setSessionCookie(w, r, token, kind)
	return token, nil
}

// guardCoupon runs a checkout step that may carry a coupon code under the
// coupon-guessing limits: a cart, or an address, that keeps trying codes
// that do not work is stopped before it finds one that does. Only codes
// that fail count.
func (s *Server) guardCoupon(r *http.Request, cartID, code string, step func() error) error {
	if strings.TrimSpace(code) == "" {
		return step()
	}
	ip := clientIP(r)
	if err := s.overLimits(r, ratelimit.Check{Rule: ratelimit.CouponGuessPerCart, Key: cartID},
		ratelimit.Check{Rule: ratelimit.CouponGuessPerIP, Key: ip}); err != nil {
		return err
	}
	err := step()
	if errors.Is(err, checkout.ErrCoupon) {
		s.countFailure(r, ratelimit.CouponGuessPerCart, cartID)
		s.countFailure(r, ratelimit.CouponGuessPerIP, ip)
	}
	return err
}

// countFailure counts a failed attempt against rule; the attempt has
// already been answered, so a limit reached here only shows on the next.
func (s *Server) countFailure(r *http.Request, rule ratelimit.Rule, key string) {
	if err := s.limit(r, rule, key); err != nil && !errors.Is(err, ratelimit.ErrLimited) {
		s.log.WarnContext(r.Context(), "count a failed attempt", "rule", rule.Name, "err", err)
	}
}

// localRedirect redirects within the store to path, built from the
// request's own URL segments. A segment can smuggle in what a browser
// reads as another host ("/%2Fevil.example/account" makes the path
// "//evil.example/account"); such a path goes to the home page instead.
func localRedirect(w http.ResponseWriter, r *http.Request, path string, status int) {
	if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") || strings.HasPrefix(path, "/\\") {
		path = "/"
	}
	http.Redirect(w, r, path, status)
}

// reauthenticated runs a change that asks for the customer's password
// again under the same per-account failure limit as signing in: a stolen
// session must not be a way to guess the password without limit.
func (s *Server) reauthenticated(r *http.Request, who caller, change func() error) error {
	account := strings.ToLower(who.customer.Email)
	if err := s.overLimit(r, ratelimit.SignInPerAccount, account); err != nil {
		return err
	}
	err := change()
	if errors.Is(err, customer.ErrInvalidCredentials) {
		s.countFailure(r, ratelimit.SignInPerAccount, account)
	}
	return err
}
