package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"mistore/internal/db"
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
		"addr":             {"addr", "MISTORE_ADDR", "address to listen on, host:port"},
		"db":               {"db", "MISTORE_DB", "SQLite file path, or postgres:// URL"},
		"demo":             {"demo", "MISTORE_DEMO", "load the demo catalog into an empty store"},
		"log-level":        {"log-level", "MISTORE_LOG_LEVEL", "debug, info, warn or error"},
		"log-format":       {"log-format", "MISTORE_LOG_FORMAT", "text or json"},
		"shutdown-timeout": {"shutdown-timeout", "MISTORE_SHUTDOWN_TIMEOUT", "how long to let requests finish on shutdown"},
		"debug-addr":       {"debug-addr", "MISTORE_DEBUG_ADDR", "serve pprof profiles on this host:port (empty: off)"},
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
