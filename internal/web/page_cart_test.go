package web_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// cartBrowser is a browser without JavaScript: a cookie jar that follows
// redirects.
type cartBrowser struct {
	t      *testing.T
	srv    *httptest.Server
	client *http.Client
}

func newCartBrowser(t *testing.T, h http.Handler) *cartBrowser {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &cartBrowser{t: t, srv: srv, client: &http.Client{Jar: jar}}
}

// visit GETs path and returns the final response and its body.
func (b *cartBrowser) visit(path string) (*http.Response, string) {
	b.t.Helper()
	return b.read(b.client.Get(b.srv.URL + path))
}

// submit posts a form as a same-origin browser does and follows the
// redirect.
func (b *cartBrowser) submit(path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest("POST", b.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.read(b.client.Do(req))
}

func (b *cartBrowser) read(res *http.Response, err error) (*http.Response, string) {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return res, string(body)
}

func (b *cartBrowser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.srv.URL + "/us/cart")
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestCartPage(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newStore(t, d)
		b := newCartBrowser(t, s)

		res, body := b.visit("/us/cart")
		if res.StatusCode != 200 || !strings.Contains(body, "Your cart is empty") || res.Header.Get("Cache-Control") != "private, no-store" || res.Header.Get("ETag") != "" {
			t.Errorf("empty cart: %d %v", res.StatusCode, res.Header)
		}
		if !strings.Contains(body, `class="cart-link" href="/us/cart"`) || !strings.Contains(body, `name="robots" content="noindex`) {
			t.Error("cart page lacks the header link or noindex")
		}

		// The product page offers the selected variant, up to its limit.
		_, product := b.visit("/us/products/mistore-band-8")
		for _, want := range []string{`action="/us/cart/items"`, `name="sku" value="MB8-BLK"`, `max="10"`, "Add to cart"} {
			if !strings.Contains(product, want) {
				t.Errorf("product page lacks %s", want)
			}
		}
		for _, path := range []string{"/us/products/mistore-phone-14", "/us/products/mistore-power-bank-20000", "/us/products/mistore-watch-s4"} {
			if _, page := b.visit(path); strings.Contains(page, "Add to cart") {
				t.Errorf("%s offers to add to cart", path)
			}
		}

		// The first add makes the cart and its cookie.
		res, body = b.submit("/us/cart/items", url.Values{"sku": {"MB8-BLK"}, "quantity": {"2"}})
		if res.Request.URL.Path != "/us/cart" || res.StatusCode != 200 {
			t.Fatalf("after adding: %d at %s", res.StatusCode, res.Request.URL)
		}
		for _, want := range []string{"Mistore Band 8", "Black", "$39.99", "$79.98", `value="2"`, `href="/us/checkout"`, "2 items",
			`action="/us/cart/items/MB8-BLK"`, `name="quantity" value="0"`} {
			if !strings.Contains(body, want) {
				t.Errorf("cart page lacks %s", want)
			}
		}
		c := b.cookie("mistore_cart_us")
		if c == nil || strings.Count(c.Value, ".") != 1 {
			t.Fatalf("cart cookie %v", c)
		}
		id, token, _ := strings.Cut(c.Value, ".")
		if r := get(t, s, "/api/v1/carts/"+id, "X-Cart-Token", token); r.status != 200 || !strings.Contains(r.body, `"quantity":2`) {
			t.Errorf("the cookie's cart through the API: %d %s", r.status, r.body)
		}

		// Adding again merges; changing and removing work from the page.
		if _, body = b.submit("/us/cart/items", url.Values{"sku": {"MB8-BLK"}, "quantity": {"3"}}); !strings.Contains(body, `value="5"`) {
			t.Error("adding 3 more did not make 5")
		}
		if b.cookie("mistore_cart_us").Value != c.Value {
			t.Error("a second add made a second cart")
		}
		if _, body = b.submit("/us/cart/items/MB8-BLK", url.Values{"quantity": {"1"}}); !strings.Contains(body, `value="1"`) || !strings.Contains(body, "1 item<") {
			t.Error("setting 1 did not show 1")
		}

		// Refusals are shown, once, and change nothing.
		_, body = b.submit("/us/cart/items", url.Values{"sku": {"MP14-BLK-256"}, "quantity": {"1"}})
		if !strings.Contains(body, "That change was not made") || !strings.Contains(body, "FCC") || !strings.Contains(body, `role="alert"`) {
			t.Error("a phone in the US: no error shown")
		}
		if _, body = b.visit("/us/cart"); strings.Contains(body, "That change was not made") {
			t.Error("the error is shown again on reload")
		}
		_, body = b.submit("/us/cart/items/MB8-BLK", url.Values{"quantity": {"11"}})
		if !strings.Contains(body, "at most 10") || !strings.Contains(body, "cart-line-error") || !strings.Contains(body, `value="1"`) {
			t.Error("11 of the band: no error by the line")
		}
		if _, body = b.submit("/us/cart/items/MB8-BLK", url.Values{"quantity": {"two"}}); !strings.Contains(body, "whole number") {
			t.Error("a quantity that is not a number: no error")
		}
		if _, body = b.submit("/us/cart/items", url.Values{"sku": {"MPB20-GRY"}}); !strings.Contains(body, "out of stock") {
			t.Error("a sold-out power bank: no error")
		}

		// A market's cart is its own (China's page is in Chinese).
		if _, body = b.visit("/cn/cart"); !strings.Contains(body, "购物车是空的") {
			t.Error("the US cart shows in China")
		}

		// Quantity 0 removes.
		if _, body = b.submit("/us/cart/items/MB8-BLK", url.Values{"quantity": {"0"}}); !strings.Contains(body, "Your cart is empty") {
			t.Error("quantity 0 did not remove the line")
		}

		// A cookie for a cart that is gone starts a new cart.
		u, _ := url.Parse(b.srv.URL + "/")
		b.client.Jar.SetCookies(u, []*http.Cookie{{Name: "mistore_cart_us", Value: id + "." + token + "x", Path: "/"}})
		if _, body = b.visit("/us/cart"); !strings.Contains(body, "Your cart is empty") {
			t.Error("a forged cookie")
		}
		if _, body = b.submit("/us/cart/items", url.Values{"sku": {"MB8-BLU"}, "quantity": {"1"}}); !strings.Contains(body, "Blue") {
			t.Error("adding with a stale cookie did not make a new cart")
		}
		if b.cookie("mistore_cart_us").Value == c.Value {
			t.Error("the stale cookie was kept")
		}
	})
}

// TestCartCookie checks the cookie's attributes and that other sites
// cannot post to the cart.
func TestCartCookie(t *testing.T) {
	t.Parallel()
	d := dbtest.Open(t, db.SQLite)
	s := newStore(t, d)
	req := httptest.NewRequest("POST", "/us/cart/items", strings.NewReader("sku=MB8-BLK&quantity=1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/us/cart" {
		t.Fatalf("form post: %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	set := rec.Header().Get("Set-Cookie")
	for _, want := range []string{"mistore_cart_us=", "Path=/", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(set, want) {
			t.Errorf("Set-Cookie %q lacks %s", set, want)
		}
	}
	if strings.Contains(set, "Secure") {
		t.Errorf("Set-Cookie %q is Secure over plain HTTP", set)
	}

	req = httptest.NewRequest("POST", "https://shop.example/us/cart/items", strings.NewReader("sku=MB8-BLK&quantity=1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if set := rec.Header().Get("Set-Cookie"); !strings.Contains(set, "Secure") {
		t.Errorf("Set-Cookie %q over TLS is not Secure", set)
	}

	// Another site's form.
	req = httptest.NewRequest("POST", "/us/cart/items", strings.NewReader("sku=MB8-BLK&quantity=1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://evil.example")
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || rec.Header().Get("Set-Cookie") != "" {
		t.Errorf("cross-site post: %d, Set-Cookie %q", rec.Code, rec.Header().Get("Set-Cookie"))
	}
	var n int
	d.Read.QueryRow("SELECT count(*) FROM carts").Scan(&n)
	if n != 2 {
		t.Errorf("%d carts, want 2", n)
	}

	// Product pages stay shared: nothing on them is one visitor's.
	a := get(t, s, "/us/products/mistore-band-8")
	b := get(t, s, "/us/products/mistore-band-8", "Cookie", "mistore_cart_us=whatever")
	if a.header.Get("ETag") == "" || a.header.Get("ETag") != b.header.Get("ETag") || strings.Contains(a.body, "mistore_cart") {
		t.Errorf("product page varies by visitor: %q / %q", a.header.Get("ETag"), b.header.Get("ETag"))
	}
}
