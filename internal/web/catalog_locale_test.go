package web_test

import (
	"net/url"
	"strings"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// TestCatalogPagesInChinese walks the catalog's pages of the Chinese
// store, anonymous and signed in: each reads in Chinese, availability
// reasons and the community's one-time messages too, and asks for no
// message the catalog lacks.
func TestCatalogPagesInChinese(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		get := func(path string, status int, want ...string) string {
			t.Helper()
			st, body, _ := s.do("GET", path, "")
			if st != status {
				t.Fatalf("GET %s: %d, want %d", path, st, status)
			}
			for _, w := range want {
				if !strings.Contains(body, w) {
					t.Errorf("GET %s lacks %q", path, w)
				}
			}
			return body
		}
		get("/cn/", 200, "智能好物", "按品类选购", "精选推荐", "智能穿戴", "起")
		get("/cn/products", 200, "全部商品", "件商品", "按品类筛选")
		get("/cn/products?q=zzzz", 200, "没有找到相关商品", "“zzzz”")
		get("/cn/products?category=zzz", 400, "无法处理该请求", "参数 category 无效")
		get("/cn/products/mistore-band-8", 200, "规格参数", "评价", "暂无评论。")
		get("/cn/nope", 404, "页面不存在", "返回首页")
		get("/cn/products/nope", 404, "商品不存在", "没有这件商品。")
		get("/cn/waitlist/sent?product=mistore-band-8", 200, "请查收邮件", "Mistore 手环 8 在中国可以购买时")
		get("/cn/waitlist/confirm?t=x", 404, "此链接无效")

		// Not sold and coming soon: the reason and the waitlist box.
		manager := bearer(s.adminKey("manager"))
		if st, b, _ := s.do("PUT", "/api/v1/admin/products/mistore-band-8/listings/cn", `{"listed":false}`, manager...); st != 200 {
			t.Fatalf("unlist: %d %s", st, b)
		}
		get("/cn/products/mistore-band-8", 200, "不在中国销售", "Mistore 手环 8 不在中国销售。", "在中国可以购买时通知我")
		if st, b, _ := s.do("PUT", "/api/v1/admin/products/mistore-band-8/listings/cn", `{"listed":true,"launch_at":"2099-03-01T16:00:00Z"}`, manager...); st != 200 {
			t.Fatalf("launch ahead: %d %s", st, b)
		}
		get("/cn/products/mistore-band-8", 200, "即将上市", "Mistore 手环 8 将于2099年3月1日在中国上市。")
		if st, body, _ := s.do("GET", "/api/v1/markets/cn/products/mistore-band-8", ""); st != 200 ||
			!strings.Contains(body, "The Mistore Band 8 comes to China on March 1, 2099.") {
			t.Errorf("the API's reason is not the English sentence: %d %s", st, body)
		}

		// Signed in: the forms, and the messages after posting.
		const page = "/cn/products/mistore-watch-lite-2"
		ada := s.customerToken("ada@example.com")
		_, mine, _ := s.do("GET", page, "", "Cookie", "mistore_session="+ada)
		for _, w := range []string{"写评价", "发表评论", "将以 Shopper 的身份发表"} {
			if !strings.Contains(mine, w) {
				t.Errorf("the signed-in page lacks %q", w)
			}
		}
		st, _, hd := s.form(page+"/comments", url.Values{"body": {"Nice watch"}}, "mistore_session="+ada)
		if st != 303 {
			t.Fatalf("comment form: %d", st)
		}
		_, shown, _ := s.do("GET", hd.Get("Location"), "", "Cookie", "mistore_session="+ada+"; mistore_community_flash="+flashOf(hd))
		if !strings.Contains(shown, "您的评论 #1 已发表。") || !strings.Contains(shown, "发帖数：1；注册于：") {
			t.Error("the posted comment's message or its author line is not in Chinese")
		}
		review := url.Values{"rating": {"5"}, "title": {"好"}, "body": {"很好。"}}
		if st, _, _ := s.form(page+"/reviews", review, "mistore_session="+ada); st != 303 {
			t.Fatalf("review form: %d", st)
		}
		if st, body, _ := s.form(page+"/reviews", review, "mistore_session="+ada); st != 409 || !strings.Contains(body, "您已经评价过此商品") {
			t.Errorf("second review: %d, not refused in Chinese", st)
		}
		if m := s.srv.MissingTranslations(); len(m) > 0 {
			t.Errorf("untranslated: %q", m)
		}
	})
}
