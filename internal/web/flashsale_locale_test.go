package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// createSaleIn makes a sale of flashSKU in market with the given title
// and price in the market's minor units.
func (s *shop) createSaleIn(key, market, title string, amount int64, qty, limit int, starts, ends time.Time) saleResp {
	s.t.Helper()
	body := fmt.Sprintf(`{"market":%q,"sku":%q,"title":%q,"amount":%d,"quantity":%d,"per_customer_limit":%d,"starts_at":%q,"ends_at":%q}`,
		market, flashSKU, title, amount, qty, limit, rfc(starts), rfc(ends))
	st, b, _ := s.do("POST", "/api/v1/admin/flash-sales", body, bearer(key)...)
	if st != http.StatusCreated {
		s.t.Fatalf("create sale in %s: %d %s", market, st, b)
	}
	var sale saleResp
	json.Unmarshal([]byte(b), &sale)
	return sale
}

// flashSaleEnglish is the English of the flash-sale pages' messages: the
// runs of words of each key of flashsale.json between its format verbs,
// those long enough not to turn up by chance, each as a pattern that
// finds it as words (not in a name such as data-t-seconds).
func flashSaleEnglish(t *testing.T) []*regexp.Regexp {
	t.Helper()
	b, err := os.ReadFile("../locale/messages/zh-Hans/flashsale.json")
	if err != nil {
		t.Fatal(err)
	}
	var msgs map[string]string
	if err := json.Unmarshal(b, &msgs); err != nil {
		t.Fatal(err)
	}
	verb := regexp.MustCompile(`%(\[\d+\])?[sd]`)
	var out []*regexp.Regexp
	for k := range msgs {
		for _, part := range verb.Split(k, -1) {
			if part = strings.Trim(part, " .,:;·—…"); len(part) >= 5 && strings.ContainsAny(part, "abcdefghijklmnopqrstuvwxyz") {
				out = append(out, regexp.MustCompile(`(^|[^\w-])`+regexp.QuoteMeta(part)+`($|[^\w-])`))
			}
		}
	}
	return out
}

// TestFlashSalePagesChinese: a sale in the China market reads in Chinese
// from the list to a refused claim, with none of the pages' English left;
// the same pages in English (the US, or China with English chosen) read
// as they always have.
func TestFlashSalePagesChinese(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		manager := s.adminKey("manager")
		now := time.Now()
		sale := s.createSaleIn(manager, "cn", "数据线秒杀", 1900, 3, 1, now.Add(-time.Minute), now.Add(2*time.Hour+3*time.Minute))
		s.createSaleIn(manager, "cn", "数据线预告", 1900, 2, 1, now.Add(time.Hour), now.Add(3*time.Hour))
		// A sale without a title goes by the product's Chinese name.
		s.createSaleIn(manager, "cn", "", 1900, 2, 1, now.Add(2*time.Hour), now.Add(3*time.Hour))
		salePath := fmt.Sprintf("/cn/flash-sales/%d", sale.ID)
		english := flashSaleEnglish(t)
		// What the layout and other pages lack is not these pages' to
		// answer for: only what the flash-sale pages add counts.
		s.do("GET", "/cn/cart", "")
		before := map[string]bool{}
		for _, k := range s.srv.MissingTranslations() {
			before[k] = true
		}
		noEnglish := func(what, page string) {
			t.Helper()
			main := pageMain(page)
			for _, e := range english {
				if m := e.FindString(main); m != "" {
					t.Errorf("%s still says %q in English", what, m)
				}
			}
		}

		st, b, _ := s.do("GET", "/cn/flash-sales", "")
		if st != 200 {
			t.Fatalf("cn list page: %d", st)
		}
		for _, want := range []string{`lang="zh-CN"`, "<h1>限时抢购</h1>", "剩余 3 件，共 3 件", "距结束还有 <span data-countdown=", "距开始还有 <span data-countdown=",
			" 小时 ", "抢购中", "即将开始", "服务器时间 <time", `data-t-hours="{1} 小时 {2} 分"`, "¥19.00", salePath} {
			if !strings.Contains(b, want) {
				t.Errorf("cn list page lacks %q:\n%s", want, pageMain(b))
			}
		}
		noEnglish("the cn list page", b)
		if !strings.Contains(b, "Mistore USB-C 转 USB-C 数据线 100W") || strings.Contains(b, "Mistore USB-C to USB-C Cable") {
			t.Error("the untitled sale is not named by the product's Chinese name")
		}

		// Signed out: the countdown, the units, and a sign-in prompt.
		_, b, _ = s.do("GET", salePath, "")
		for _, want := range []string{"剩余 <strong>3</strong> 件，共 3 件 · 每人限购 1 件", "距结束还有 <strong data-countdown=", "，将于 <time",
			"登录后即可抢购", "仅限已登录的顾客抢购，每人限购 1 件。", "抢购时间 <time"} {
			if !strings.Contains(b, want) {
				t.Errorf("signed-out cn sale page lacks %q:\n%s", want, pageMain(b))
			}
		}
		noEnglish("the signed-out cn sale page", b)

		// Signed in: the claim button, and the script's words.
		session := "mistore_session=" + s.customerToken("li@example.com")
		_, b, _ = s.do("GET", salePath, "", "Cookie", session)
		for _, want := range []string{"立即抢购", `data-t-claiming="正在抢购…"`, `data-t-queue="当前抢购人数众多，您正在排队；本页面将在 {1} 秒后自动重试。"`,
			"本次抢购的商品已全部被抢完。"} {
			if !strings.Contains(b, want) {
				t.Errorf("signed-in cn sale page lacks %q:\n%s", want, pageMain(b))
			}
		}
		noEnglish("the signed-in cn sale page", b)

		// A claim goes to checkout; the one after it is refused in Chinese.
		st, _, hdr := s.form(salePath+"/claim", url.Values{"quantity": {"1"}}, session)
		if st != http.StatusSeeOther || hdr.Get("Location") != "/cn/checkout" {
			t.Fatalf("cn claim form: %d %v", st, hdr)
		}
		st, _, hdr = s.form(salePath+"/claim", url.Values{"quantity": {"1"}}, session)
		if st != http.StatusSeeOther || hdr.Get("Location") != salePath {
			t.Fatalf("cn claim over the limit: %d %v", st, hdr)
		}
		flash := ""
		for _, c := range (&http.Response{Header: hdr}).Cookies() {
			if c.Name == "mistore_sale_flash" {
				flash = "; " + c.Name + "=" + c.Value
			}
		}
		_, b, _ = s.do("GET", salePath, "", "Cookie", session+flash)
		for _, want := range []string{"您持有的数量已达到本次抢购的每人限购上限。", "已为您保留 1 件，保留至 <time", "去结账", "1 件可能重新放出"} {
			if !strings.Contains(b, want) {
				t.Errorf("cn sale page after the claims lacks %q:\n%s", want, pageMain(b))
			}
		}
		noEnglish("the cn sale page after the claims", b)

		// China in English: the English page, dates day first.
		_, b, _ = s.do("GET", salePath, "", "Cookie", session+"; mistore_lang_cn=en-CN")
		for _, want := range []string{`lang="en-CN"`, "You hold 1 unit until", "Check out", "<strong>2</strong> of 3 left · up to 1 per customer", "Ends in <strong"} {
			if !strings.Contains(b, want) {
				t.Errorf("en-CN sale page lacks %q:\n%s", want, pageMain(b))
			}
		}

		// The US pages are as they were.
		us := s.createSale(manager, 3, 1, now.Add(-time.Minute), now.Add(time.Hour), "")
		usPath := fmt.Sprintf("/us/flash-sales/%d", us.ID)
		_, b, _ = s.do("GET", usPath, "", "Cookie", session)
		for _, want := range []string{`lang="en-US"`, "Flash sale · ", "<strong>3</strong> of 3 left · up to 1 per customer", "Ends in <strong data-countdown=", ", at <time",
			" min ", "Runs <time", "Claim a unit", `data-t-seconds="{1} s"`, `data-t-claiming="Claiming…"`,
			"You already hold as many units" /* the script's refusals */} {
			if !strings.Contains(b, want) {
				t.Errorf("us sale page lacks %q:\n%s", want, pageMain(b))
			}
		}
		_, b, _ = s.do("GET", "/us/flash-sales", "")
		if !strings.Contains(b, "3 of 3 left") || !strings.Contains(b, "Ends in <span data-countdown=") || strings.Contains(b, "剩余") {
			t.Errorf("us list page:\n%s", pageMain(b))
		}

		for _, k := range s.srv.MissingTranslations() {
			if !before[k] {
				t.Errorf("a cn flash-sale page asked for an untranslated message: %q", k)
			}
		}
	})
}
