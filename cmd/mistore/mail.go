package main

import (
	"log/slog"

	"mistore/internal/db"
	"mistore/internal/notify"
)

// newMailer builds the store's mailer: sending through cfg.SMTPURL, or,
// without one, keeping every email in the outbox (the demo shows it at
// /admin/outbox).
func newMailer(cfg Config, d *db.DB, log *slog.Logger) (*notify.Mailer, error) {
	if cfg.SMTPURL == "" {
		log.Info("email is kept in the outbox: no --smtp-url")
		return notify.NewMailer(d, nil, cfg.MailFrom, log), nil
	}
	sender, err := notify.NewSMTPSender(cfg.SMTPURL)
	if err != nil {
		return nil, err
	}
	// sender logs as its URL without the password.
	log.Info("email is sent through SMTP", "smtp", sender, "from", cfg.MailFrom)
	return notify.NewMailer(d, sender, cfg.MailFrom, log), nil
}
