package web_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// phone is the demo product that is not sold in the US: its US page still
// has comments and reviews.
const phone = "/api/v1/markets/us/products/mistore-phone-14"

// customerID returns the id of the customer with token.
func (s *shop) customerID(token string) int64 {
	s.t.Helper()
	_, b, _ := s.do("GET", "/api/v1/me", "", "Authorization", "Bearer "+token)
	var me struct {
		ID int64 `json:"id"`
	}
	json.Unmarshal([]byte(b), &me)
	if me.ID == 0 {
		s.t.Fatalf("me: %s", b)
	}
	return me.ID
}

// as is the Authorization header of token.
func as(token string) []string { return []string{"Authorization", "Bearer " + token} }

func TestCommunityAPIContract(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		ada, bob := s.customerToken("ada@example.com"), s.customerToken("bob@example.com")

		if st, b, _ := s.do("GET", phone+"/comments", ""); st != 200 || !strings.Contains(b, `"comments":[]`) {
			t.Fatalf("empty thread: %d %s", st, b)
		}
		if st, b, _ := s.do("POST", phone+"/comments", `{"body":"hi"}`); st != 401 || apiCode(t, b) != "unauthorized" {
			t.Errorf("anonymous post: %d %s", st, b)
		}
		if st, _, _ := s.do("GET", "/api/v1/markets/us/products/no-such-thing/comments", ""); st != 404 {
			t.Errorf("unknown product: %d", st)
		}
		st, b, _ := s.do("POST", phone+"/comments", `{"body":"Will it come to the US?"}`, as(ada)...)
		if st != 201 {
			t.Fatalf("post: %d %s", st, b)
		}
		var first struct {
			ID     int64 `json:"id"`
			Number int   `json:"number"`
		}
		json.Unmarshal([]byte(b), &first)
		if first.Number != 1 {
			t.Errorf("first comment number %d", first.Number)
		}
		st, b, _ = s.do("POST", phone+"/comments", `{"body":"It needs its FCC certificate first.","reply_to":1}`, as(bob)...)
		if st != 201 {
			t.Fatalf("reply: %d %s", st, b)
		}
		var list struct {
			Comments []json.RawMessage `json:"comments"`
		}
		_, b, _ = s.do("GET", phone+"/comments", "")
		json.Unmarshal([]byte(b), &list)
		if len(list.Comments) != 2 {
			t.Fatalf("thread: %s", b)
		}
		for _, k := range []string{"author", "body", "created_at", "id", "number"} {
			if !slices.Contains(keys(t, list.Comments[1]), k) {
				t.Errorf("comment lacks %q: %s", k, list.Comments[1])
			}
		}
		var reply struct {
			Number int `json:"number"`
			Author struct {
				Name        string `json:"name"`
				Posts       int    `json:"posts"`
				MemberSince string `json:"member_since"`
			} `json:"author"`
			Quote struct {
				Number int `json:"number"`
			} `json:"quote"`
		}
		json.Unmarshal(list.Comments[1], &reply)
		if reply.Number != 2 || reply.Quote.Number != 1 || reply.Author.Posts != 1 || reply.Author.MemberSince == "" || reply.Author.Name == "" {
			t.Errorf("reply: %s", list.Comments[1])
		}

		path := fmt.Sprintf("%s/comments/%d", phone, first.ID)
		if st, b, _ := s.do("PATCH", path, `{"body":"Not mine"}`, as(bob)...); st != 403 || apiCode(t, b) != "not_author" {
			t.Errorf("edit another's: %d %s", st, b)
		}
		if st, b, _ := s.do("PATCH", path, `{"body":"Will it come to the US soon?"}`, as(ada)...); st != 200 || !strings.Contains(b, "soon?") {
			t.Errorf("edit own: %d %s", st, b)
		}
		if st, b, _ := s.do("POST", path+"/reports", `{"reason":"off topic"}`, as(bob)...); st != 202 {
			t.Errorf("report: %d %s", st, b)
		}
		if st, b, _ := s.do("DELETE", path, "", as(bob)...); st != 403 {
			t.Errorf("delete another's: %d %s", st, b)
		}
		if st, b, _ := s.do("DELETE", path, "", as(ada)...); st != 204 {
			t.Errorf("delete own: %d %s", st, b)
		}
		if st, b, _ := s.do("GET", "/api/v1/markets/in/products/mistore-phone-14/comments", ""); st != 200 || !strings.Contains(b, `"deleted":true`) {
			t.Errorf("the thread in another market: %d %s", st, b)
		}

		// Reviews: the rating is a whole number of stars from 1 to 5.
		for _, bad := range []string{`0`, `6`, `3.5`, `"4"`, `null`} {
			st, b, _ := s.do("POST", phone+"/reviews", `{"rating":`+bad+`,"title":"Nice","body":"Good phone."}`, as(ada)...)
			code, field := errCode(b)
			if st != 422 || code != "invalid_field" || field != "rating" {
				t.Errorf("rating %s: %d %s", bad, st, b)
			}
		}
		st, b, _ = s.do("POST", phone+"/reviews", `{"rating":4,"title":"Nice","body":"Good phone."}`, as(ada)...)
		if st != 201 {
			t.Fatalf("review: %d %s", st, b)
		}
		var rv struct {
			ID       int64 `json:"id"`
			Verified bool  `json:"verified"`
		}
		json.Unmarshal([]byte(b), &rv)
		if rv.Verified {
			t.Error("a review without an order is verified")
		}
		if st, b, _ := s.do("POST", phone+"/reviews", `{"rating":5,"title":"Again","body":"Twice."}`, as(ada)...); st != 409 || apiCode(t, b) != "already_reviewed" {
			t.Errorf("second review: %d %s", st, b)
		}
		vote := fmt.Sprintf("%s/reviews/%d/votes", phone, rv.ID)
		if st, b, _ := s.do("POST", vote, "", as(ada)...); st != 409 || apiCode(t, b) != "own_review" {
			t.Errorf("own vote: %d %s", st, b)
		}
		if st, b, _ := s.do("POST", vote, "", as(bob)...); st != 200 || !strings.Contains(b, `"helpful":1`) {
			t.Errorf("vote: %d %s", st, b)
		}
		st, b, _ = s.do("GET", phone+"/reviews?sort=helpful", "")
		var reviews struct {
			Reviews      []json.RawMessage `json:"reviews"`
			Average      *float64          `json:"average"`
			Count        int               `json:"count"`
			Distribution map[string]int    `json:"distribution"`
		}
		json.Unmarshal([]byte(b), &reviews)
		if st != 200 || len(reviews.Reviews) != 1 || reviews.Count != 1 || reviews.Average == nil || *reviews.Average != 4 || reviews.Distribution["4"] != 1 {
			t.Errorf("reviews: %d %s", st, b)
		}
		if st, _, _ := s.do("GET", phone+"/reviews?sort=best", ""); st != 400 {
			t.Errorf("unknown sort: %d", st)
		}

		// A ban is a 403 that says so.
		key := s.adminKey("support")
		if st, b, _ := s.do("POST", fmt.Sprintf("/api/v1/admin/members/%d/ban", s.customerID(bob)), `{"reason":"spam"}`, bearer(key)...); st != 200 {
			t.Fatalf("ban: %d %s", st, b)
		}
		if st, b, _ := s.do("POST", phone+"/comments", `{"body":"Let me in"}`, as(bob)...); st != 403 || apiCode(t, b) != "banned" || !strings.Contains(b, "moderator") {
			t.Errorf("banned post: %d %s", st, b)
		}

		// Posting too fast: a 429 that says so, with Retry-After.
		limited := false
		for i := range 6 {
			st, b, h := s.do("POST", phone+"/comments", fmt.Sprintf(`{"body":"Comment %d"}`, i), as(ada)...)
			if st == 429 {
				limited = true
				if !strings.Contains(b, "posting too fast") || h.Get("Retry-After") == "" {
					t.Errorf("limit: %s %v", b, h)
				}
				break
			}
			if st != 201 {
				t.Fatalf("post %d: %d %s", i, st, b)
			}
		}
		if !limited {
			t.Error("no posting limit")
		}
	})
}

// xssPayloads are hostile texts; each carries "xss" so that any tag or
// attribute it smuggles into a page can be found.
var xssPayloads = []string{
	`<script>alert("xss1")</script>`,
	`<img src=x onerror=alert('xss2')>`,
	`<a href="javascript:alert('xss3')">click</a> javascript:alert('xss3b')`,
	`"><svg onload=alert('xss4')>`,
	"\u202eevil xss5 \u202dtext\u2066",
	"broken \xff\xfe utf-8 xss6",
	`</textarea><script>xss7</script><textarea>`,
	`https://example.com/"onmouseover="alert('xss8')`,
}

// tagPattern finds the start tags of a page.
var tagPattern = regexp.MustCompile(`<[a-zA-Z][^>]*>`)

// assertInert fails when page carries executable markup from a payload: a
// tag whose text holds "xss", a javascript: link, an RTL override, or
// invalid UTF-8.
func assertInert(t *testing.T, what, page string) {
	t.Helper()
	for _, tag := range tagPattern.FindAllString(page, -1) {
		lower := strings.ToLower(tag)
		if strings.Contains(lower, "xss") && (strings.HasPrefix(lower, "<script") || strings.Contains(lower, " on") ||
			strings.Contains(lower, "javascript:") || strings.HasPrefix(lower, "<img") || strings.HasPrefix(lower, "<svg")) {
			t.Errorf("%s: payload markup %q", what, tag)
		}
		if strings.Contains(lower, "href=\"javascript:") {
			t.Errorf("%s: javascript link %q", what, tag)
		}
	}
	if strings.Contains(page, "<script>alert") || strings.Contains(page, "<script>xss") {
		t.Errorf("%s: a script from a payload", what)
	}
	if strings.ContainsAny(page, "\u202e\u202d\u2066") {
		t.Errorf("%s: a bidirectional override from a payload", what)
	}
	if !utf8.ValidString(page) {
		t.Errorf("%s: invalid UTF-8", what)
	}
}

func TestCommunityHostileInputIsInert(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		// The authors' names are hostile too.
		var tokens []string
		for i := range 4 {
			email := fmt.Sprintf("x%d@example.com", i)
			name := xssPayloads[i]
			body, _ := json.Marshal(map[string]string{"email": email, "password": "correct horse battery", "name": name})
			if st, _, _ := s.do("POST", "/api/v1/customers", string(body)); st != 201 {
				// A name the accounts refuse is as good: it never reaches a page.
				body, _ = json.Marshal(map[string]string{"email": email, "password": "correct horse battery", "name": "X"})
				if st, b, _ := s.do("POST", "/api/v1/customers", string(body)); st != 201 {
					t.Fatalf("register: %d %s", st, b)
				}
			}
			d.Write.Exec("UPDATE customers SET email_verified_at = created_at")
			_, b, _ := s.do("POST", "/api/v1/sessions", `{"email":"`+email+`","password":"correct horse battery"}`)
			var session struct{ Token string }
			json.Unmarshal([]byte(b), &session)
			tokens = append(tokens, session.Token)
		}
		// Names straight into the table, as an import or an old account
		// might have them.
		d.Write.Exec("UPDATE customers SET name = '<script>alert(\"xss9\")</script>' WHERE email = 'x3@example.com'")
		var ids []int64
		for i, p := range xssPayloads {
			body, _ := json.Marshal(map[string]any{"body": p + "\n\nsecond paragraph https://example.com/ok"})
			st, b, _ := s.do("POST", phone+"/comments", string(body), as(tokens[i%len(tokens)])...)
			if st == 422 {
				continue // refused (invalid UTF-8): it never reaches a page
			}
			if st != 201 {
				t.Fatalf("post %q: %d %s", p, st, b)
			}
			var c struct{ ID int64 }
			json.Unmarshal([]byte(b), &c)
			ids = append(ids, c.ID)
		}
		big := strings.Repeat("<b>xss10</b> ", 100<<10/13)
		body, _ := json.Marshal(map[string]any{"body": big})
		if st, b, _ := s.do("POST", phone+"/comments", string(body), as(tokens[0])...); st != 413 && st != 422 {
			t.Errorf("100 KB comment: %d %.200s", st, b)
		}
		for i, tok := range tokens[:3] {
			body, _ := json.Marshal(map[string]any{"rating": 1 + i, "title": xssPayloads[i+3], "body": xssPayloads[i]})
			if st, b, _ := s.do("POST", phone+"/reviews", string(body), as(tok)...); st != 201 && st != 422 {
				t.Errorf("review: %d %s", st, b)
			}
		}
		for _, id := range ids {
			s.do("POST", fmt.Sprintf("%s/comments/%d/reports", phone, id), `{"reason":"<script>alert('xss11')</script>"}`, as(tokens[3])...)
		}

		st, page, _ := s.do("GET", "/us/products/mistore-phone-14", "")
		if st != 200 {
			t.Fatalf("page: %d", st)
		}
		if !strings.Contains(page, "Posts: ") || !strings.Contains(page, "Member since: ") {
			t.Error("the page lacks the authors' posts and member-since dates")
		}
		if !strings.Contains(page, `rel="nofollow ugc noopener"`) {
			t.Error("the page lacks the comments' links")
		}
		assertInert(t, "product page", page)
		_, page, _ = s.do("GET", "/us/products/mistore-phone-14", "", "Cookie", "mistore_session="+tokens[0])
		assertInert(t, "signed-in product page", page)
		cookie := s.adminCookie("support")
		st, page, _ = s.adminGet(cookie, "/admin/moderation")
		if st != 200 || !strings.Contains(page, "reports") {
			t.Fatalf("moderation page: %d", st)
		}
		assertInert(t, "moderation page", page)
		for _, id := range ids {
			_, page, _ = s.adminGet(cookie, fmt.Sprintf("/admin/moderation/comments/%d", id))
			assertInert(t, "comment page", page)
		}
	})
}

func TestCommunityProductPage(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		const page = "/us/products/mistore-band-8"
		ada := s.customerToken("ada@example.com")
		// The anonymous page is cached; a new comment shows at once.
		_, before, _ := s.do("GET", page, "")
		_, again, h := s.do("GET", page, "")
		if before != again || h.Get("ETag") == "" {
			t.Fatal("the anonymous page is not cached")
		}
		if st, b, _ := s.do("POST", "/api/v1/markets/us/products/mistore-band-8/comments", `{"body":"Fresh comment here"}`, as(ada)...); st != 201 {
			t.Fatalf("post: %d %s", st, b)
		}
		_, after, _ := s.do("GET", page, "")
		if !strings.Contains(after, "Fresh comment here") {
			t.Error("the cached page does not show the new comment")
		}
		// Signed in: the page is the shopper's alone, with their forms.
		_, mine, h := s.do("GET", page, "", "Cookie", "mistore_session="+ada)
		if !strings.Contains(h.Get("Cache-Control"), "private") || !strings.Contains(mine, `action="/us/products/mistore-band-8/comments"`) {
			t.Errorf("signed-in page: %s", h.Get("Cache-Control"))
		}
		if !strings.Contains(mine, "?edit=") || !strings.Contains(mine, "/delete") {
			t.Error("the author's page lacks edit and delete")
		}
		if strings.Contains(after, "?edit=") || strings.Contains(after, "Posting as") {
			t.Error("the anonymous page shows a shopper's controls")
		}
		// The forms work without JavaScript: post, reply, review, vote.
		st, _, hd := s.form(page+"/comments", url.Values{"body": {"A reply"}, "reply_to": {"1"}}, "mistore_session="+ada)
		if st != 303 {
			t.Fatalf("form post: %d", st)
		}
		loc := hd.Get("Location")
		_, shown, _ := s.do("GET", loc, "", "Cookie", "mistore_session="+ada+"; mistore_community_flash="+flashOf(hd))
		if !strings.Contains(shown, "In reply to") || !strings.Contains(shown, "is posted") {
			t.Error("the reply lacks its quote or the message")
		}
		st, body, _ := s.form(page+"/reviews", url.Values{"rating": {"5"}, "title": {"Great band"}, "body": {"Love it."}}, "mistore_session="+ada)
		if st != 303 {
			t.Fatalf("review form: %d %s", st, body)
		}
		st, body, _ = s.form(page+"/reviews", url.Values{"rating": {"5"}, "title": {"Again"}, "body": {"Twice."}}, "mistore_session="+ada)
		if st != 409 || !strings.Contains(body, "already reviewed") {
			t.Errorf("second review form: %d", st)
		}
		_, list, _ := s.do("GET", "/us/products", "")
		if !strings.Contains(list, "Rated 5.0 out of 5 from 1 review") {
			t.Error("the list's card lacks the rating")
		}
		_, anon, _ := s.do("GET", page, "")
		if !strings.Contains(anon, "Great band") || !strings.Contains(anon, `<meter`) || !strings.Contains(anon, "1 review") {
			t.Error("the product page lacks the review summary")
		}
	})
}

// flashOf returns the community flash cookie's value a response set.
func flashOf(h map[string][]string) string {
	for _, c := range h["Set-Cookie"] {
		if v, ok := strings.CutPrefix(c, "mistore_community_flash="); ok {
			v, _, _ = strings.Cut(v, ";")
			return v
		}
	}
	return ""
}
