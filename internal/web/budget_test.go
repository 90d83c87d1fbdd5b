package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// pageBudget is the most a page may weigh on the wire: its HTML and every
// stylesheet and script it loads, compressed as served.
const pageBudget = 60 << 10

var (
	linkedCSS = regexp.MustCompile(`<link rel="stylesheet" href="([^"]+)"`)
	linkedJS  = regexp.MustCompile(`<script[^>]* src="([^"]+)"`)
	// loaded are the URLs a page makes the browser fetch as it renders
	// (links to other pages, canonical and hreflang are not fetched).
	loaded = regexp.MustCompile(`<(?:script|img|iframe|source|video|audio)[^>]* src="([^"]+)"|<link[^>]* rel="(?:stylesheet|preload|modulepreload|icon)"[^>]* href="([^"]+)"`)
)

// TestPageBudget weighs the key pages as a first visit sees them (nothing
// cached): HTML + CSS + JS under 60 KB compressed, gzip actually used, and
// nothing loaded from another origin (no render-blocking third party).
func TestPageBudget(t *testing.T) {
	t.Parallel()
	s := newShop(t, dbtest.Open(t, db.SQLite))
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar}
	// fetch asks for gzip itself, so the client hands back the bytes as
	// they crossed the wire instead of decompressing them.
	fetch := func(method, path string, form url.Values) (int, string, int) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, s.url+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept-Encoding", "gzip")
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", s.url)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		text := raw
		if res.Header.Get("Content-Encoding") == "gzip" {
			text = gunzip(t, raw)
		} else if len(raw) > 1024 {
			t.Errorf("%s %s: %d bytes sent uncompressed to a client that takes gzip", method, path, len(raw))
		}
		return res.StatusCode, string(text), len(raw)
	}
	weigh := func(name, path string, want ...int) {
		t.Helper()
		status, html, size := fetch("GET", path, nil)
		if wantStatus := append(want, http.StatusOK)[0]; status != wantStatus {
			t.Fatalf("%s: GET %s = %d", name, path, status)
		}
		total := size
		parts := []string{}
		for _, re := range []*regexp.Regexp{linkedCSS, linkedJS} {
			for _, m := range re.FindAllStringSubmatch(html, -1) {
				st, _, n := fetch("GET", m[1], nil)
				if st != http.StatusOK {
					t.Errorf("%s: %s = %d", name, m[1], st)
				}
				total += n
				parts = append(parts, m[1])
			}
		}
		for _, m := range loaded.FindAllStringSubmatch(html, -1) {
			u, err := url.Parse(m[1] + m[2])
			if err != nil || (u.Host != "" && s.url != u.Scheme+"://"+u.Host) {
				t.Errorf("%s loads %q from another origin", name, m[1]+m[2])
			}
		}
		t.Logf("%-16s %6d bytes compressed (HTML %d + %d assets)", name, total, size, len(parts))
		if total > pageBudget {
			t.Errorf("%s weighs %d bytes compressed, over the budget of %d", name, total, pageBudget)
		}
	}
	weigh("home", "/us/")
	weigh("product list", "/us/products")
	weigh("search", "/us/products?q=power+bank")
	weigh("product", "/us/products/mistore-band-8")
	weigh("not sold here", "/us/products/mistore-phone-14")
	weigh("home cn", "/cn/")
	weigh("product in", "/in/products/mistore-band-8")
	weigh("flash sales", "/us/flash-sales")
	if st, _, _ := fetch("POST", "/us/cart/items", url.Values{"sku": {"MB8-BLK"}, "quantity": {"1"}}); st != http.StatusOK {
		t.Fatalf("add to cart: %d", st)
	}
	weigh("cart", "/us/cart")
	weigh("checkout", "/us/checkout")
	id, token := s.cartWith("MB8-BLK", 1)
	o := s.checkout(id, token)
	redirect := strings.TrimPrefix(o.Payment.RedirectURL, s.url)
	weigh("payment", redirect)
	weigh("order", "/us/orders/"+o.Number+"?token="+url.QueryEscape(o.Token))
	weigh("not found", "/us/no-such-page-x", http.StatusNotFound)
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
