package web_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// TestPrivacyCoversCommunityAndWaitlist: a customer's data export lists
// their comments, reviews and waitlist entries, and erasing the account
// empties the comments (their numbers stay), deletes the review and the
// waitlist entry, and leaves other people's alone.
func TestPrivacyCoversCommunityAndWaitlist(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		ada := s.customerToken("ada@example.com")
		bob := s.customerToken("bob@example.com")
		auth := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
		const phone = "/api/v1/markets/us/products/mistore-phone-14"
		for _, c := range []struct{ tok, path, body string }{
			{ada, phone + "/comments", `{"body":"Any news on a US launch?"}`},
			{bob, phone + "/comments", `{"body":"Same question.","reply_to":1}`},
			{ada, "/api/v1/markets/us/products/mistore-band-8/reviews", `{"rating":4,"title":"Good band","body":"Light."}`},
		} {
			if st, b, _ := s.do("POST", c.path, c.body, auth(c.tok)...); st != http.StatusCreated {
				t.Fatalf("POST %s: %d %s", c.path, st, b)
			}
		}
		for _, addr := range []string{"ada@example.com", "bob@example.com"} {
			if st, b, _ := s.do("POST", phone+"/waitlist", `{"email":"`+addr+`"}`); st != http.StatusAccepted {
				t.Fatalf("waitlist %s: %d %s", addr, st, b)
			}
		}

		st, b, _ := s.do("GET", "/api/v1/me/export", "", auth(ada)...)
		if st != http.StatusOK {
			t.Fatalf("export: %d %s", st, b)
		}
		var e struct {
			Comments []struct {
				Product string
				Number  int
				Body    string
			}
			Reviews []struct {
				Product string
				Rating  int
			}
			Waitlist []struct {
				Product, Market string
			}
		}
		if err := json.Unmarshal([]byte(b), &e); err != nil {
			t.Fatal(err)
		}
		if len(e.Comments) != 1 || e.Comments[0].Product != "mistore-phone-14" || e.Comments[0].Number != 1 || e.Comments[0].Body != "Any news on a US launch?" ||
			len(e.Reviews) != 1 || e.Reviews[0].Rating != 4 || len(e.Waitlist) != 1 || e.Waitlist[0].Market != "us" {
			t.Errorf("export: %+v", e)
		}

		if st, b, _ := s.do("DELETE", "/api/v1/me", `{"password":"correct horse battery"}`, auth(ada)...); st/100 != 2 {
			t.Fatalf("delete account: %d %s", st, b)
		}
		if n := s.countRows("SELECT count(*) FROM comments WHERE body = 'Any news on a US launch?'"); n != 0 {
			t.Errorf("the erased account's comment text is still stored")
		}
		st, b, _ = s.do("GET", phone+"/comments", "")
		var list struct {
			Comments []struct {
				Number int
				Body   string
			}
		}
		json.Unmarshal([]byte(b), &list)
		if st != http.StatusOK || len(list.Comments) != 2 || list.Comments[0].Number != 1 || list.Comments[0].Body != "" ||
			list.Comments[1].Number != 2 || list.Comments[1].Body != "Same question." {
			t.Errorf("the thread after the erasure: %d %s", st, b)
		}
		if n := s.countRows("SELECT count(*) FROM reviews"); n != 0 {
			t.Errorf("%d reviews left, want 0", n)
		}
		if n := s.countRows("SELECT count(*) FROM waitlist_entries WHERE email_key = 'ada@example.com'"); n != 0 {
			t.Errorf("the erased address still waits")
		}
		if n := s.countRows("SELECT count(*) FROM waitlist_entries WHERE email_key = 'bob@example.com'"); n != 1 {
			t.Errorf("someone else's waitlist entry went with it")
		}
	})
}
