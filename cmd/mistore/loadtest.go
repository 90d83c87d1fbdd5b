package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"mistore/internal/loadtest"
)

func cmdLoadtest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("loadtest", stderr)
	scenario := fs.String("scenario", loadtest.DefaultScenario, "what to request: "+strings.Join(loadtest.Scenarios(), ", "))
	duration := fs.Duration("duration", loadtest.DefaultDuration, "how long to run")
	workers := fs.Int("workers", loadtest.DefaultWorkers, "concurrent connections")
	market := fs.String("market", loadtest.DefaultMarket, "market code to browse")
	gzip := fs.Bool("gzip", false, "ask for gzip-compressed responses")
	quiet := fs.Bool("quiet", false, "no progress line each second")
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
		fmt.Fprintln(stderr, "usage: mistore loadtest URL [URL...] [--scenario browse] [--duration 30s] [--workers N]")
		return errUsage
	}
	opts := loadtest.Options{
		Targets: urls, Scenario: *scenario, Duration: *duration, Workers: *workers,
		Market: *market, Gzip: *gzip,
	}
	if !*quiet {
		opts.Progress = stderr
	}
	fmt.Fprintf(stderr, "load test: %s for %s with %d workers against %s\n", *scenario, duration.Round(time.Millisecond), *workers, strings.Join(urls, ", "))
	rep, err := loadtest.Run(ctx, opts)
	if err != nil {
		return err
	}
	return rep.WriteText(stdout)
}
