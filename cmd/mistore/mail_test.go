package main

import (
	"flag"
	"io"
	"strings"
	"testing"
)

// TestMailConfig checks --smtp-url and --mail-from: read from flags or the
// environment, validated, and the SMTP password shown nowhere: not in an
// error, not in -h.
func TestMailConfig(t *testing.T) {
	const secret = "hunter2-smtp"
	parse := func(env map[string]string, args ...string) (Config, error) {
		cfg := defaultConfig()
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		validate, err := configFlags(fs, &cfg, func(k string) string { return env[k] }, "db", "smtp-url", "mail-from")
		if err != nil {
			return cfg, err
		}
		if err := fs.Parse(args); err != nil {
			return cfg, err
		}
		return cfg, validate()
	}

	cfg, err := parse(nil)
	if err != nil || cfg.SMTPURL != "" || cfg.MailFrom != "Mistore <orders@mistore.invalid>" {
		t.Errorf("defaults: %+v, %v", cfg, err)
	}
	cfg, err = parse(map[string]string{"MISTORE_SMTP_URL": "smtps://shop:" + secret + "@mail.example.com", "MISTORE_MAIL_FROM": "Shop <shop@example.com>"})
	if err != nil || cfg.SMTPURL != "smtps://shop:"+secret+"@mail.example.com" || cfg.MailFrom != "Shop <shop@example.com>" {
		t.Errorf("from the environment: %+v, %v", cfg, err)
	}
	cfg, err = parse(map[string]string{"MISTORE_SMTP_URL": "smtps://mail.example.com"}, "--smtp-url", "smtp://relay.example.com:25")
	if err != nil || cfg.SMTPURL != "smtp://relay.example.com:25" {
		t.Errorf("a flag wins: %+v, %v", cfg, err)
	}

	for _, bad := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"MISTORE_SMTP_URL": "http://shop:" + secret + "@mail.example.com"}, "smtp or smtps"},
		{map[string]string{"MISTORE_SMTP_URL": "smtp://shop:" + secret + "@mail.example.com:port"}, "--smtp-url"},
		{map[string]string{"MISTORE_MAIL_FROM": "not an address"}, "--mail-from"},
	} {
		_, err := parse(bad.env)
		if err == nil || !strings.Contains(err.Error(), bad.want) || strings.Contains(err.Error(), secret) {
			t.Errorf("%v: error %v, want one naming %q without the password", bad.env, err, bad.want)
		}
	}

	code, _, errOut := runCLI(t, map[string]string{"MISTORE_SMTP_URL": "smtp://shop:" + secret + "@mail.example.com"}, "serve", "-h")
	if code != 0 || !strings.Contains(errOut, "-smtp-url") || strings.Contains(errOut, secret) {
		t.Errorf("serve -h: exit %d, help shows the password or lacks --smtp-url:\n%s", code, errOut)
	}
	code, _, errOut = runCLI(t, map[string]string{"MISTORE_SMTP_URL": "smtp://shop:" + secret + "@mail.example.com?tls=sometimes"}, "serve", "--addr", "127.0.0.1:0")
	if code != 1 || !strings.Contains(errOut, "tls=") || strings.Contains(errOut, secret) {
		t.Errorf("serve with a bad SMTP URL: exit %d, stderr %s", code, errOut)
	}
}
