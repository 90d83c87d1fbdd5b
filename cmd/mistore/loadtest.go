package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"mistore/internal/db"
	"mistore/internal/loadtest"
)

const loadtestUsage = "usage: mistore loadtest URL [URL...] [--scenario browse|checkout|flashsale] [--duration 30s] [--workers N] [--db PATH_OR_URL]\n" +
	"       flashsale: [--customers 100000] [--units 10000] [--limit 1] [--sku SKU] [--lead 3s]"

// cmdLoadtest is the loadtest command; getenv supplies MISTORE_DB, the
// flashsale scenario's default database, as for serve.
func cmdLoadtest(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("loadtest", stderr)
	scenario := fs.String("scenario", loadtest.DefaultScenario, "what to request: "+strings.Join(loadtest.Scenarios(), ", "))
	duration := fs.Duration("duration", loadtest.DefaultDuration, "how long to run")
	workers := fs.Int("workers", loadtest.DefaultWorkers, "concurrent connections")
	market := fs.String("market", loadtest.DefaultMarket, "market code to browse")
	gzip := fs.Bool("gzip", false, "ask for gzip-compressed responses")
	quiet := fs.Bool("quiet", false, "no progress line each second")
	dsn := fs.String("db", "", "the store's database (SQLite path or postgres:// URL). checkout: optional, read before and after the run to check that stock sold + stock left = stock before. "+
		"flashsale: where the customers and the sale are prepared and the outcome is checked; default $MISTORE_DB, else "+defaultConfig().DB)
	customers := fs.Int("customers", loadtest.DefaultFlashCustomers, "flashsale: customers prepared, each claiming one unit")
	units := fs.Int("units", loadtest.DefaultFlashUnits, "flashsale: units the sale sells")
	limit := fs.Int("limit", loadtest.DefaultFlashLimit, "flashsale: units one customer may hold")
	sku := fs.String("sku", "", "flashsale: SKU to sell (default: an available variant of a cheap accessory)")
	lead := fs.Duration("lead", loadtest.DefaultFlashLead, "flashsale: time from creating the sale to its start")
	// A secret is never a flag's default, which -h would print.
	metricsToken := fs.String("metrics-token", "", "bearer token of the store's /metrics, read for the writer's and the CPU figures (env MISTORE_METRICS_TOKEN)")
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
		Market: *market, Gzip: *gzip, MetricsToken: orDefault(*metricsToken, getenv("MISTORE_METRICS_TOKEN")),
	}
	if !*quiet {
		opts.Progress = stderr
	}
	flash := *scenario == "flashsale"
	if flash && *dsn == "" {
		*dsn = getenv("MISTORE_DB")
		if *dsn == "" {
			*dsn = defaultConfig().DB
		}
	}
	if *dsn != "" {
		// A load test never makes a database: a SQLite path that names
		// nothing is a mistake, not a store.
		if !db.IsPostgres(*dsn) {
			if _, err := os.Stat(*dsn); err != nil {
				return fmt.Errorf("load test database: %w (give the store's own --db)", err)
			}
		}
		// Two readers are all the checks need; the store keeps the rest.
		d, err := db.Open(ctx, *dsn, db.Options{MaxReaders: 2})
		if err != nil {
			return fmt.Errorf("load test database: %w", err)
		}
		defer d.Close()
		if flash {
			opts.FlashSale = loadtest.FlashSaleOptions{
				DB: d, Customers: *customers, Units: *units, Limit: *limit, SKU: *sku, Lead: *lead,
			}
		} else {
			opts.StockDB = d
		}
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
		if flash {
			return errors.New("load test: a flash-sale check failed")
		}
		return errors.New("load test: a stock check failed")
	}
	return nil
}
