package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/notify"
)

// TestAccountEmailsFollowTheStore checks that the emails a customer's
// account sends (address confirmation, password reset, change notices)
// are written in the language of the store's pages they used and link to
// that store's pages; the API, which has no market, sends the US store's.
func TestAccountEmailsFollowTheStore(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newAccountShop(t, d)
		// newest returns the subject and text of the newest email of kind
		// to address.
		newest := func(kind, to string) (string, string) {
			t.Helper()
			var subject, text string
			if err := d.Read.QueryRow(`SELECT subject, text_body FROM emails WHERE kind = $1 AND to_address = $2 ORDER BY id DESC LIMIT 1`,
				kind, to).Scan(&subject, &text); err != nil {
				t.Fatalf("no %s email to %s: %v", kind, to, err)
			}
			return subject, text
		}
		check := func(kind, to, subject, link string) {
			t.Helper()
			gotSubject, text := newest(kind, to)
			if gotSubject != subject || !strings.Contains(text, s.url+link+"?token=") {
				t.Errorf("%s to %s: %q, want %q with a link to %s:\n%s", kind, to, gotSubject, subject, link, text)
			}
		}

		// The Chinese store's pages.
		if st, b, _ := s.form("/cn/account/register", url.Values{"name": {"李雷"}, "email": {"li@example.com"}, "password": {"correct horse battery"}}); st != http.StatusSeeOther {
			t.Fatalf("register on the cn store: %d %s", st, b)
		}
		check(notify.KindEmailVerification, "li@example.com", "确认您在 Mistore 的邮箱地址", "/cn/account/verify")
		if st, _, _ := s.form("/cn/account/reset", url.Values{"email": {"li@example.com"}}); st != http.StatusOK {
			t.Fatalf("reset on the cn store: %d", st)
		}
		check(notify.KindPasswordReset, "li@example.com", "重置您的 Mistore 密码", "/cn/account/reset")
		if _, text := newest(notify.KindPasswordReset, "li@example.com"); !strings.Contains(text, "李雷，您好：") && !strings.Contains(text, "您好：") {
			t.Errorf("the reset email does not greet in Chinese:\n%s", text)
		}

		// The Chinese store read in English: English, the cn store's
		// pages.
		if st, _, _ := s.form("/cn/account/reset", url.Values{"email": {"li@example.com"}}, "Cookie", "mistore_lang_cn=en-CN"); st != http.StatusOK {
			t.Fatalf("reset on the cn store in English: %d", st)
		}
		check(notify.KindPasswordReset, "li@example.com", "Reset your Mistore password", "/cn/account/reset")

		// The API: the US store's pages, in English.
		s.register("ada@example.com", "correct horse battery", "Ada")
		check(notify.KindEmailVerification, "ada@example.com", "Confirm your email address for Mistore", "/us/account/verify")
		if st, _, _ := s.form("/us/account/reset", url.Values{"email": {"ada@example.com"}}); st != http.StatusOK {
			t.Fatalf("reset on the US store: %d", st)
		}
		check(notify.KindPasswordReset, "ada@example.com", "Reset your Mistore password", "/us/account/reset")
	})
}
