package web_test

import (
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

// langBrowser is a cookie-keeping client of a shop that posts forms as a
// same-origin page does and does not follow redirects, so tests see them.
type langBrowser struct {
	t      *testing.T
	s      *shop
	client *http.Client
}

func newLangBrowser(t *testing.T, s *shop) *langBrowser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &langBrowser{t: t, s: s, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *langBrowser) do(method, path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	if !strings.HasPrefix(path, "http") {
		path = b.s.url + path
	}
	req, err := http.NewRequest(method, path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.s.url)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	text, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return res, string(text)
}

var htmlLang = regexp.MustCompile(`<html lang="([^"]+)">`)

func pageLang(body string) string {
	if m := htmlLang.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

// TestChinaReadsInChinese walks the cn storefront as a shopper does, from
// the home page to a paid order, and fails on any message a page asked for
// in Chinese that has no translation.
func TestChinaReadsInChinese(t *testing.T) {
	t.Parallel()
	s := newShop(t, dbtest.Open(t, db.SQLite))
	b := newLangBrowser(t, s)
	get := func(path string, want int) string {
		t.Helper()
		res, body := b.do("GET", path, nil)
		if res.StatusCode != want {
			t.Fatalf("GET %s = %d, want %d: %s\n%s", path, res.StatusCode, want, body, tail(b.s.logs.String(), 2000))
		}
		if lang := pageLang(body); !strings.HasPrefix(path, "http") && lang != "zh-CN" {
			t.Errorf("GET %s: <html lang=%q>, want zh-CN", path, lang)
		}
		return body
	}
	home := get("/cn/", 200)
	for _, want := range []string{"全部商品", "购物车", "搜索商品"} {
		if !strings.Contains(home, want) {
			t.Errorf("the cn home page lacks %q", want)
		}
	}
	get("/cn/products", 200)
	get("/cn/products?q=band", 200)
	// The demo catalog's own Chinese: names, descriptions, variants.
	band := get("/cn/products/mistore-band-8", 200)
	for _, want := range []string{"Mistore 手环 8", "黑色", "有货"} {
		if !strings.Contains(band, want) {
			t.Errorf("the cn band page lacks %q", want)
		}
	}
	get("/cn/products/mistore-phone-14", 200)
	get("/cn/flash-sales", 200)
	get("/cn/account", 200)
	get("/cn/account/register", 200)
	get("/cn/no-such-page", 404)
	if res, _ := b.do("POST", "/cn/cart/items", url.Values{"sku": {"MB8-BLK"}, "quantity": {"2"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add to cart: %d", res.StatusCode)
	}
	if cart := get("/cn/cart", 200); !strings.Contains(cart, "Mistore 手环 8") {
		t.Error("the cn cart does not name the band in Chinese")
	}
	// A refusal names the band in Chinese too, not as the English catalog does.
	if res, _ := b.do("POST", "/cn/cart/items", url.Values{"sku": {"MB8-BLK"}, "quantity": {"11"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add eleven: %d", res.StatusCode)
	}
	if cart := get("/cn/cart", 200); !strings.Contains(cart, "每次最多可购买") || strings.Contains(cart, "Mistore Band 8 (Black)") {
		t.Errorf("the purchase limit's message on the cn cart: %s", between(cart, `role="alert"`, "</div>"))
	}
	get("/cn/checkout", 200)
	// An empty form comes back with every field's error, in Chinese.
	res, body := b.do("POST", "/cn/checkout", url.Values{"shipping_method": {"standard"}})
	if res.StatusCode != http.StatusUnprocessableEntity && res.StatusCode != http.StatusBadRequest {
		t.Fatalf("empty checkout: %d", res.StatusCode)
	}
	if pageLang(body) != "zh-CN" {
		t.Errorf("the checkout's error page is not in Chinese")
	}
	res, _ = b.do("POST", "/cn/checkout", url.Values{
		"email": {"li@example.com"}, "name": {"李雷"}, "line1": {"南京路 1 号"}, "city": {"上海"},
		"region": {"上海"}, "postal_code": {"200000"}, "shipping_method": {"standard"},
	})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("checkout: %d", res.StatusCode)
	}
	payURL := res.Header.Get("Location")
	get(payURL, 200)
	res, _ = b.do("POST", payURL, url.Values{"card_number": {"4000 0000 0000 0002"}, "expiry": {"12/30"}, "cvc": {"123"}})
	declined := res.Header.Get("Location")
	if declined == "" {
		res, declinedPage := b.do("GET", payURL, nil)
		_ = res
		if pageLang(declinedPage) != "zh-CN" {
			t.Errorf("the declined payment page is not in Chinese")
		}
	} else {
		get(declined, 200)
	}
	res, _ = b.do("POST", payURL, url.Values{"card_number": {"4242 4242 4242 4242"}, "expiry": {"12/30"}, "cvc": {"123"}})
	if loc := res.Header.Get("Location"); loc != "" {
		s.runJobs()
		get(loc, 200)
	}
	if missing := s.srv.MissingTranslations(); len(missing) > 0 {
		t.Errorf("%d messages on cn pages have no Chinese translation:\n%s", len(missing), strings.Join(missing, "\n"))
	}
}

// TestLanguageSwitch: China reads in Chinese unless the visitor picks
// English; the choice is a cookie of the cn pages only, and the switch
// returns only to a page of the same market.
func TestLanguageSwitch(t *testing.T) {
	t.Parallel()
	s := newShop(t, dbtest.Open(t, db.SQLite))
	b := newLangBrowser(t, s)
	res, body := b.do("GET", "/cn/products", nil)
	if pageLang(body) != "zh-CN" || !strings.Contains(res.Header.Values("Vary")[0]+strings.Join(res.Header.Values("Vary"), ","), "Cookie") {
		t.Errorf("cn default: lang %q, Vary %v", pageLang(body), res.Header.Values("Vary"))
	}
	if !strings.Contains(body, `name="lang" value="en-CN"`) {
		t.Errorf("the cn page has no switch to English")
	}
	// The switch comes back to the page as it was, its search and page
	// number kept.
	if _, body := b.do("GET", "/cn/products?q=band&page=1&utm_source=x", nil); !strings.Contains(body, `name="return" value="/cn/products?page=1&amp;q=band"`) {
		t.Errorf("the switch on a search loses it, or keeps more than the page shows: %q", between(body, `name="return"`, ">"))
	}
	res, _ = b.do("POST", "/cn/language", url.Values{"lang": {"en-CN"}, "return": {"/cn/products"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/cn/products" {
		t.Fatalf("switch: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	_, body = b.do("GET", "/cn/products", nil)
	if pageLang(body) != "en-CN" || !strings.Contains(body, "All products") {
		t.Errorf("after choosing English: lang %q", pageLang(body))
	}
	// The cookie is the cn store's: the US store is unaffected and offers no switch.
	res, body = b.do("GET", "/us/products", nil)
	if pageLang(body) != "en-US" || strings.Contains(body, `name="lang"`) || strings.Contains(strings.Join(res.Header.Values("Vary"), ","), "Cookie") {
		t.Errorf("us page: lang %q, Vary %v", pageLang(body), res.Header.Values("Vary"))
	}
	for _, back := range []string{"//evil.example/", "https://evil.example/", "/us/products", "/cn/\\evil", "", "/cn/../us/"} {
		res, _ := b.do("POST", "/cn/language", url.Values{"lang": {"zh-CN"}, "return": {back}})
		if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || loc != "/cn/" {
			t.Errorf("return %q: %d to %q, want 303 to /cn/", back, res.StatusCode, loc)
		}
	}
	for _, lang := range []string{"fr-FR", "zh-CN<script>", "en-US"} {
		if res, _ := b.do("POST", "/cn/language", url.Values{"lang": {lang}, "return": {"/cn/"}}); res.StatusCode != http.StatusBadRequest {
			t.Errorf("lang %q: %d, want 400", lang, res.StatusCode)
		}
	}
	if res, _ := b.do("POST", "/us/language", url.Values{"lang": {"zh-CN"}, "return": {"/us/"}}); res.StatusCode != http.StatusBadRequest {
		t.Errorf("Chinese in the US store: %d, want 400", res.StatusCode)
	}
	_, body = b.do("GET", "/cn/", nil)
	if pageLang(body) != "zh-CN" {
		t.Errorf("after switching back: lang %q", pageLang(body))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
