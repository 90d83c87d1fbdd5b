package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

func TestAdminChangePassword(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		here := s.adminCookie("manager")
		there := s.adminCookie("manager")
		email := s.adminMember("manager")
		const next = "a new and longer passphrase"
		for _, c := range []struct {
			current, next string
			status        int
			says          string
		}{
			{"not the password", next, http.StatusUnauthorized, "current password is not right"},
			{staffPassword, "short", http.StatusUnprocessableEntity, "12 to 128 characters"},
			{staffPassword, strings.Repeat("x", 200), http.StatusUnprocessableEntity, "12 to 128 characters"},
		} {
			st, body, _ := s.adminForm(here, "/admin/account/password", url.Values{"current_password": {c.current}, "new_password": {c.next}})
			if st != c.status || !strings.Contains(body, c.says) || !strings.Contains(body, "Nothing was changed") {
				t.Fatalf("change %q to %.10q: %d", c.current, c.next, st)
			}
		}
		if st, _, _ := s.adminGet(there, "/admin/orders"); st != 200 {
			t.Fatalf("the other session after refused changes: %d", st)
		}
		st, _, hdr := s.adminForm(here, "/admin/account/password", url.Values{"current_password": {staffPassword}, "new_password": {next}})
		if st != http.StatusSeeOther || hdr.Get("Location") != "/admin/account" {
			t.Fatalf("change password: %d", st)
		}
		if _, body, _ := s.adminGet(here, "/admin/account", hdr); !strings.Contains(body, "Password changed") {
			t.Fatal("no word that the password changed")
		}
		if st, _, _ := s.adminGet(there, "/admin/orders"); st != http.StatusSeeOther {
			t.Fatalf("the other session after the change: %d, want the sign-in redirect", st)
		}
		if st, _, _ := s.adminForm(nil, "/admin/sign-in", url.Values{"email": {email}, "password": {staffPassword}}); st != http.StatusUnauthorized {
			t.Fatalf("the old password signs in: %d", st)
		}
		if st, _, _ := s.adminForm(nil, "/admin/sign-in", url.Values{"email": {email}, "password": {next}}); st != http.StatusSeeOther {
			t.Fatalf("the new password: %d", st)
		}
		// Wrong current passwords count as failed sign-ins of the account:
		// after five, the right one is refused too. (The address's own
		// limit, ten attempts, starts afresh so as not to be the one hit.)
		if _, err := d.Exec(cliCtx(), "DELETE FROM rate_limits"); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			s.adminForm(here, "/admin/account/password", url.Values{"current_password": {"wrong wrong wrong"}, "new_password": {next}})
		}
		if st, _, hdr := s.adminForm(here, "/admin/account/password", url.Values{"current_password": {next}, "new_password": {staffPassword}}); st != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" {
			t.Fatalf("change past the limit: %d", st)
		}
	})
}

func TestAdminEndOtherSessions(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		here := s.adminCookie("support")
		there := s.adminCookie("support")
		owner := s.adminCookie("owner")
		_, body, _ := s.adminGet(here, "/admin/account")
		if strings.Count(body, "<tr><td class=\"nowrap\">") != 2 || strings.Count(body, `status-on">This browser`) != 1 ||
			!strings.Contains(body, `action="/admin/account/sessions/end-others"`) {
			t.Fatalf("sessions on the account page:\n%s", body)
		}
		st, _, hdr := s.adminForm(here, "/admin/account/sessions/end-others", nil)
		if st != http.StatusSeeOther {
			t.Fatalf("end others: %d", st)
		}
		if _, body, _ := s.adminGet(here, "/admin/account", hdr); !strings.Contains(body, "Signed out of 1 other session.") ||
			strings.Contains(body, `action="/admin/account/sessions/end-others"`) {
			t.Fatal("no word of the session ended, or still a button to end others")
		}
		if st, _, _ := s.adminGet(there, "/admin/orders"); st != http.StatusSeeOther {
			t.Fatalf("the other session: %d, want the sign-in redirect", st)
		}
		for name, c := range map[string]*http.Cookie{"this one": here, "another member's": owner} {
			if st, _, _ := s.adminGet(c, "/admin/orders"); st != 200 {
				t.Fatalf("%s session: %d", name, st)
			}
		}
	})
}
