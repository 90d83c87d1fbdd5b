package notify_test

import (
	"strings"
	"testing"
	"time"

	"mistore/internal/locale"
	"mistore/internal/notify"
)

// TestAccountEmailsInChinese checks that a customer's account emails are
// written in the language of the store they used, and that English ones
// read as they always have.
func TestAccountEmailsInChinese(t *testing.T) {
	cat, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 27, 12, 30, 0, 0, time.UTC)
	base := notify.AccountEmail{To: "li@example.com", Name: "李雷", URL: "https://shop.example/cn/account/reset?token=t&x=1",
		ValidFor: 30 * time.Minute, ID: "id", At: at}
	render := func(l *locale.Lang) []notify.Message {
		t.Helper()
		e := base
		e.Lang = l
		var out []notify.Message
		add := func(m notify.Message, err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
		add(notify.PasswordReset(e))
		week := e
		week.ValidFor = 7 * 24 * time.Hour
		add(notify.EmailVerification(week))
		add(notify.AccountChanged(e, notify.PasswordChanged))
		noLink := e
		noLink.URL = ""
		add(notify.AccountChanged(noLink, notify.EmailChanged))
		return out
	}

	zh := render(cat.Lang("zh-CN"))
	want := []struct {
		subject string
		text    []string
		html    []string
	}{
		{"重置您的 Mistore 密码", []string{"李雷，您好：", "请求重置 Mistore 账户 li@example.com 的密码", "有效期为 30 分钟"},
			[]string{`<html lang="zh-CN">`, "<title>重置密码</title>", ">设置新密码</a>", "或打开以下链接："}},
		{"确认您在 Mistore 的邮箱地址", []string{"确认 li@example.com 是您 Mistore 账户的邮箱地址", "有效期为 7 天"},
			[]string{">验证我的邮箱地址</a>", "有效期为 7 天"}},
		{"您的 Mistore 密码已更改", []string{"密码已于 2026年11月27日 12:30 UTC 更改", "请立即通过 https://shop.example/cn/account/reset?token=t&x=1 重置密码"},
			[]string{`请立即通过 <a href="https://shop.example/cn/account/reset?token=t&amp;x=1" style="color:#14161a">https://shop.example/cn/account/reset?token=t&amp;x=1</a> 重置密码`}},
		{"您的 Mistore 账户邮箱地址已更改", []string{"邮箱地址（原为 li@example.com）已于 2026年11月27日 12:30 UTC 更改", "请立即重置密码并联系我们"},
			[]string{"<title>您的邮箱地址已更改</title>"}},
	}
	for i, m := range zh {
		if m.Subject != want[i].subject {
			t.Errorf("%s: subject %q, want %q", m.Kind, m.Subject, want[i].subject)
		}
		for _, w := range want[i].text {
			if !strings.Contains(m.Text, w) {
				t.Errorf("%s: text lacks %q:\n%s", m.Kind, w, m.Text)
			}
		}
		for _, w := range want[i].html {
			if !strings.Contains(m.HTML, w) {
				t.Errorf("%s: HTML lacks %q:\n%s", m.Kind, w, m.HTML)
			}
		}
		for _, english := range []string{"Hello", "password", "link ", "Mistore account", "minutes"} {
			if strings.Contains(m.Subject+m.Text+m.HTML, english) {
				t.Errorf("%s: English %q in the Chinese email:\n%s\n%s", m.Kind, english, m.Text, m.HTML)
			}
		}
	}
	if miss := cat.Missing(); len(miss) > 0 {
		t.Errorf("untranslated: %q", miss)
	}

	// An English language is the email as it was before it could be
	// anything else; and a back-office email stays English whatever it
	// is given.
	en, none := render(cat.Lang("en-US")), render(nil)
	for i := range en {
		if en[i].Subject != none[i].Subject || en[i].Text != none[i].Text || en[i].HTML != none[i].HTML {
			t.Errorf("%s: en-US differs from English:\n%s\n%s", en[i].Kind, en[i].Text, none[i].Text)
		}
	}
	if !strings.Contains(none[0].Text, "The link works once, for 30 minutes.") || !strings.Contains(none[1].Text, "for 7 days.") {
		t.Errorf("English durations:\n%s\n%s", none[0].Text, none[1].Text)
	}
	staff := base
	staff.Lang = cat.Lang("zh-CN")
	m, err := notify.StaffSecurity(staff, notify.StaffTwoStepOn)
	if err != nil || !strings.Contains(m.Text, "Two-step sign-in was turned on") || !strings.Contains(m.HTML, `<html lang="en">`) {
		t.Errorf("staff email: %v\n%s", err, m.Text)
	}
}
