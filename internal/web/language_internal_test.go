package web

import "testing"

// TestMarketReturn checks where the language switch may go back to: a
// page of the market, its query kept, and nothing that leaves the market
// once the path is cleaned or that a browser could read as another host.
func TestMarketReturn(t *testing.T) {
	for back, want := range map[string]string{
		"/cn/":                             "/cn/",
		"/cn/products?q=耳机&sort=price_asc": "/cn/products?q=耳机&sort=price_asc",
		"/cn/products?page=2":              "/cn/products?page=2",
		"/cn/orders/CN-100004?token=ab":    "/cn/orders/CN-100004?token=ab",
		"/cn/products/mistore-band-8":      "/cn/products/mistore-band-8",
		"/cn/../us/":                       "/cn/",
		"/cn/%2e%2e/us/":                   "/cn/",
		"/cn//evil.example/":               "/cn/",
		"//evil.example/cn/":               "/cn/",
		"https://evil.example/cn/":         "/cn/",
		"/cn\\evil":                        "/cn/",
		"/us/products":                     "/cn/",
		"/cn/x\r\nSet-Cookie: a=b":         "/cn/",
		"":                                 "/cn/",
		"/cn/products#top":                 "/cn/",
	} {
		if got := marketReturn(back, "cn"); got != want {
			t.Errorf("marketReturn(%q) = %q, want %q", back, got, want)
		}
	}
}
