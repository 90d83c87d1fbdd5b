package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

// TestAdminCustomerPageBans: the customer's page in the back office bans
// them from the community and lifts the ban, and comes back to itself.
func TestAdminCustomerPageBans(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		id := s.registerCustomer("ada@example.com", "Ada")
		page := "/admin/customers/" + strconv.FormatInt(id, 10)
		support := s.adminCookie("support")
		if st, b, _ := s.adminGet(support, page); st != http.StatusOK || !strings.Contains(b, "Ban from the community") {
			t.Fatalf("customer page: %d, ban form there: %v", st, strings.Contains(b, "Ban from the community"))
		}
		st, _, hdr := s.adminForm(support, "/admin/moderation/members/"+strconv.FormatInt(id, 10)+"/ban",
			url.Values{"reason": {"spam links"}, "back": {page}})
		if st != http.StatusSeeOther || hdr.Get("Location") != page {
			t.Fatalf("ban: %d to %q, want 303 to %s", st, hdr.Get("Location"), page)
		}
		if _, b, _ := s.adminGet(support, page, hdr); !strings.Contains(b, "Banned from posting") || !strings.Contains(b, "spam links") ||
			!strings.Contains(b, "Let them post again") {
			t.Errorf("after the ban the page does not say so:\n%s", b)
		}
		// A back link elsewhere than the back office is not followed.
		st, _, hdr = s.adminForm(support, "/admin/moderation/members/"+strconv.FormatInt(id, 10)+"/unban",
			url.Values{"reason": {"appeal"}, "back": {"https://evil.example/"}})
		if st != http.StatusSeeOther || hdr.Get("Location") != "/admin/moderation" {
			t.Errorf("unban with a foreign back link: %d to %q", st, hdr.Get("Location"))
		}
		if _, b, _ := s.adminGet(support, page); strings.Contains(b, "Banned from posting") {
			t.Errorf("after lifting the ban the page still shows it")
		}
		// A viewer sees the page but no forms that change anything.
		if _, b, _ := s.adminGet(s.adminCookie("viewer"), page); strings.Contains(b, "Ban from the community") {
			t.Errorf("a viewer is offered the ban form")
		}
	})
}
