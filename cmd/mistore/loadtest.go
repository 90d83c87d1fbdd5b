package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"mistore/internal/db"
	"mistore/internal/loadtest"
)

const loadtestUsage = "usage: mistore loadtest URL [URL...] [--scenario browse] [--duration 30s] [--workers N] [--db PATH_OR_URL]"

func cmdLoadtest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("loadtest", stderr)
	scenario := fs.String("scenario", loadtest.DefaultScenario, "what to request: "+strings.Join(loadtest.Scenarios(), ", "))
	duration := fs.Duration("duration", loadtest.DefaultDuration, "how long to run")
	workers := fs.Int("workers", loadtest.DefaultWorkers, "concurrent connections")
	market := fs.String("market", loadtest.DefaultMarket, "market code to browse")
	gzip := fs.Bool("gzip", false, "ask for gzip-compressed responses")
	quiet := fs.Bool("quiet", false, "no progress line each second")
	dsn := fs.String("db", "", "checkout only: the store's database (SQLite path or postgres:// URL), read before and after the run to check that stock sold + stock left = stock before")
	// Flags may come before or after the URLs.
	var urls []string
	for len(args) > 0 {
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		urls = append(urls, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(urls) == 0 {
		fmt.Fprintln(stderr, loadtestUsage)
		return errUsage
	}
	opts := loadtest.Options{
		Targets: urls, Scenario: *scenario, Duration: *duration, Workers: *workers,
		Market: *market, Gzip: *gzip,
	}
	if !*quiet {
		opts.Progress = stderr
	}
	if *dsn != "" {
		// Two readers are all the check needs; the store keeps the rest.
		d, err := db.Open(ctx, *dsn, db.Options{MaxReaders: 2})
		if err != nil {
			return fmt.Errorf("load test stock check: %w", err)
		}
		defer d.Close()
		opts.StockDB = d
	}
	fmt.Fprintf(stderr, "load test: %s for %s with %d workers against %s\n", *scenario, duration.Round(time.Millisecond), *workers, strings.Join(urls, ", "))
	rep, err := loadtest.Run(ctx, opts)
	if rep != nil {
		if werr := rep.WriteText(stdout); err == nil {
			err = werr
		}
	}
	if err != nil {
		return err
	}
	if rep.Failed() {
		// The report above says which check failed and by how much.
		return errors.New("load test: a stock check failed")
	}
	return nil
}
