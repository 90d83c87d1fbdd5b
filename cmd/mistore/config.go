package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"mistore/internal/db"
	"mistore/internal/notify"
	"mistore/internal/payment"
)

// Config is everything a mistore command can be told, from flags or
// MISTORE_* environment variables (a flag wins over the environment).
type Config struct {
	// Addr is where serve listens, host:port; port 0 picks a free one.
	Addr string
	// DB is a SQLite file path or a postgres:// URL.
	DB string
	// Demo loads the demo catalog into an empty store on start.
	Demo bool
	// LogLevel is debug, info, warn or error.
	LogLevel string
	// LogFormat is text or json.
	LogFormat string
	// ShutdownTimeout bounds how long serve waits for requests in flight.
	ShutdownTimeout time.Duration
	// DebugAddr, when set, serves Go's pprof profiles on a separate
	// listener, never on the public address.
	DebugAddr string
	// PublicURL is the store's address as shoppers and payment providers
	// reach it; empty means http:// and the listening address.
	PublicURL string
	// SMTPURL is the mail server the store's email goes through, an
	// smtp:// or smtps:// URL; empty keeps every email in the outbox.
	SMTPURL string
	// MailFrom is the From address of the store's email.
	MailFrom string
	// StripeSecretKey is the Stripe API secret key (sk_…); with
	// StripeWebhookSecret it enables the Stripe payment provider.
	StripeSecretKey string
	// StripeWebhookSecret is the signing secret (whsec_…) of the Stripe
	// webhook endpoint that posts to the store.
	StripeWebhookSecret string
	// MetricsToken, when set, is the bearer token /metrics asks for;
	// empty leaves /metrics open, as the demo store has it.
	MetricsToken string
}

// defaultConfig is the demo store on embedded SQLite.
func defaultConfig() Config {
	return Config{
		Addr:            "127.0.0.1:8080",
		DB:              "data/mistore.db",
		Demo:            true,
		LogLevel:        "info",
		LogFormat:       "text",
		ShutdownTimeout: 15 * time.Second,
		MailFrom:        "Mistore <orders@mistore.invalid>",
	}
}

// flagSpec ties a flag to its environment variable.
type flagSpec struct {
	name, env, usage string
}

// configFlags registers the config flags a command uses on fs, with
// defaults taken from the environment. It returns a function that
// validates the parsed result.
func configFlags(fs *flag.FlagSet, cfg *Config, getenv func(string) string, names ...string) (func() error, error) {
	specs := map[string]flagSpec{
		"addr":                  {"addr", "MISTORE_ADDR", "address to listen on, host:port"},
		"db":                    {"db", "MISTORE_DB", "SQLite file path, or postgres:// URL"},
		"demo":                  {"demo", "MISTORE_DEMO", "load the demo catalog into an empty store"},
		"log-level":             {"log-level", "MISTORE_LOG_LEVEL", "debug, info, warn or error"},
		"log-format":            {"log-format", "MISTORE_LOG_FORMAT", "text or json"},
		"shutdown-timeout":      {"shutdown-timeout", "MISTORE_SHUTDOWN_TIMEOUT", "how long to let requests finish on shutdown"},
		"debug-addr":            {"debug-addr", "MISTORE_DEBUG_ADDR", "serve pprof profiles and the SQLite writer's statements on this host:port (empty: off)"},
		"public-url":            {"public-url", "MISTORE_PUBLIC_URL", "the store's address as shoppers reach it, e.g. https://shop.example (empty: http:// and --addr)"},
		"smtp-url":              {"smtp-url", "MISTORE_SMTP_URL", "send email through this smtp:// or smtps:// server (empty: keep it in the outbox)"},
		"mail-from":             {"mail-from", "MISTORE_MAIL_FROM", "the From address of the store's email"},
		"stripe-secret-key":     {"stripe-secret-key", "MISTORE_STRIPE_SECRET_KEY", "Stripe API secret key, sk_… (empty: no Stripe)"},
		"stripe-webhook-secret": {"stripe-webhook-secret", "MISTORE_STRIPE_WEBHOOK_SECRET", "signing secret of the Stripe webhook endpoint, whsec_…"},
		"metrics-token":         {"metrics-token", "MISTORE_METRICS_TOKEN", "bearer token /metrics asks for (empty: /metrics is open)"},
	}
	var errs []error
	for _, n := range names {
		sp := specs[n]
		env := getenv(sp.env)
		usage := sp.usage + " (env " + sp.env + ")"
		switch n {
		case "addr":
			fs.StringVar(&cfg.Addr, n, orDefault(env, cfg.Addr), usage)
		case "db":
			fs.StringVar(&cfg.DB, n, orDefault(env, cfg.DB), usage)
		case "log-level":
			fs.StringVar(&cfg.LogLevel, n, orDefault(env, cfg.LogLevel), usage)
		case "log-format":
			fs.StringVar(&cfg.LogFormat, n, orDefault(env, cfg.LogFormat), usage)
		case "debug-addr":
			fs.StringVar(&cfg.DebugAddr, n, orDefault(env, cfg.DebugAddr), usage)
		case "smtp-url":
			// The URL may hold a password: it is never the flag's default,
			// which -h would print.
			fs.StringVar(&cfg.SMTPURL, n, cfg.SMTPURL, usage)
			cfg.SMTPURL = orDefault(env, cfg.SMTPURL)
		case "stripe-secret-key", "stripe-webhook-secret", "metrics-token":
			// Secrets are never a flag's default, which -h would print.
			target := &cfg.StripeSecretKey
			switch n {
			case "stripe-webhook-secret":
				target = &cfg.StripeWebhookSecret
			case "metrics-token":
				target = &cfg.MetricsToken
			}
			fs.StringVar(target, n, *target, usage)
			*target = orDefault(env, *target)
		case "public-url":
			fs.StringVar(&cfg.PublicURL, n, orDefault(env, cfg.PublicURL), usage)
		case "mail-from":
			fs.StringVar(&cfg.MailFrom, n, orDefault(env, cfg.MailFrom), usage)
		case "demo":
			def := cfg.Demo
			if env != "" {
				b, err := strconv.ParseBool(env)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s=%q: want true or false", sp.env, env))
				}
				def = b
			}
			fs.BoolVar(&cfg.Demo, n, def, usage)
		case "shutdown-timeout":
			def := cfg.ShutdownTimeout
			if env != "" {
				d, err := time.ParseDuration(env)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s=%q: want a duration such as 15s", sp.env, env))
				}
				def = d
			}
			fs.DurationVar(&cfg.ShutdownTimeout, n, def, usage)
		}
	}
	validate := func() error {
		var verrs []error
		if cfg.Addr != "" {
			if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
				verrs = append(verrs, fmt.Errorf("--addr %q: want host:port, e.g. 127.0.0.1:8080", cfg.Addr))
			}
		}
		if cfg.DebugAddr != "" {
			if _, _, err := net.SplitHostPort(cfg.DebugAddr); err != nil {
				verrs = append(verrs, fmt.Errorf("--debug-addr %q: want host:port, e.g. 127.0.0.1:6060", cfg.DebugAddr))
			}
		}
		if strings.TrimSpace(cfg.DB) == "" {
			verrs = append(verrs, errors.New("--db is empty: give a SQLite file path or a postgres:// URL"))
		} else if strings.Contains(cfg.DB, "://") && !db.IsPostgres(cfg.DB) {
			verrs = append(verrs, fmt.Errorf("--db %q: only postgres:// and postgresql:// URLs are supported, or a file path", redactURL(cfg.DB)))
		}
		if cfg.PublicURL != "" {
			if u, err := url.Parse(cfg.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
				verrs = append(verrs, fmt.Errorf("--public-url %q: want http(s)://host[:port], without a path", cfg.PublicURL))
			}
		}
		if cfg.SMTPURL != "" {
			// NewSMTPSender's errors never show the password.
			if _, err := notify.NewSMTPSender(cfg.SMTPURL); err != nil {
				verrs = append(verrs, fmt.Errorf("--smtp-url: %w", err))
			}
		}
		if cfg.StripeSecretKey != "" || cfg.StripeWebhookSecret != "" {
			// Both or neither: a key without the webhook secret could take
			// payments the store never hears of. NewStripe's errors never
			// show the secrets.
			if _, err := payment.NewStripe(payment.StripeConfig{SecretKey: cfg.StripeSecretKey, WebhookSecret: cfg.StripeWebhookSecret}); err != nil {
				verrs = append(verrs, fmt.Errorf("--stripe-secret-key/--stripe-webhook-secret: %w", err))
			}
		}
		if _, err := mail.ParseAddress(cfg.MailFrom); err != nil {
			verrs = append(verrs, fmt.Errorf("--mail-from %q: want an address such as \"Mistore <orders@example.com>\"", cfg.MailFrom))
		}
		if _, err := parseLevel(cfg.LogLevel); err != nil {
			verrs = append(verrs, err)
		}
		if cfg.LogFormat != "text" && cfg.LogFormat != "json" {
			verrs = append(verrs, fmt.Errorf("--log-format %q: want text or json", cfg.LogFormat))
		}
		if cfg.ShutdownTimeout < 0 || cfg.ShutdownTimeout > 10*time.Minute {
			verrs = append(verrs, fmt.Errorf("--shutdown-timeout %s: want 0 to 10m", cfg.ShutdownTimeout))
		}
		return errors.Join(verrs...)
	}
	return validate, errors.Join(errs...)
}

func orDefault(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// redactURL hides everything after the scheme of a URL that may hold a
// password.
func redactURL(s string) string {
	scheme, _, _ := strings.Cut(s, "://")
	return scheme + "://…"
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// newLogger builds the process logger from cfg.
func newLogger(cfg Config, w io.Writer) *slog.Logger {
	level, _ := parseLevel(cfg.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
