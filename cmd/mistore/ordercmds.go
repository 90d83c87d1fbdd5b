package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"mistore/internal/market"
	"mistore/internal/order"
)

const exportOrdersUsage = "usage: mistore export orders [--market us] [--status paid] [--since 2026-11-01] [--db ...]   (CSV on standard output)"

// cmdExportOrders writes the orders as CSV to stdout, oldest first, one
// row per order (order.CSVColumns), for accounting. The export pages
// through the orders outside any transaction, so it can run against a
// live shop without holding up checkouts. Its filters also come from
// MISTORE_MARKET, MISTORE_STATUS and MISTORE_SINCE, like every other
// flag; the summary on stderr names the filters used, so one set in the
// environment and forgotten does not go unnoticed.
func cmdExportOrders(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var mk, status, since *string
	d, extra, err := openStoreWith(ctx, "export orders", args, getenv, stderr, func(fs *flag.FlagSet) {
		mk = fs.String("market", getenv("MISTORE_MARKET"), "only this market's orders, e.g. us (env MISTORE_MARKET)")
		status = fs.String("status", getenv("MISTORE_STATUS"), "only orders with this status, e.g. paid (env MISTORE_STATUS)")
		since = fs.String("since", getenv("MISTORE_SINCE"), "only orders placed at or after this date (2026-11-01, UTC) or RFC 3339 time (env MISTORE_SINCE)")
	})
	if err != nil {
		return err
	}
	defer d.Close()
	if len(extra) > 0 {
		return errors.New(exportOrdersUsage)
	}
	f := order.Filter{Market: strings.ToLower(strings.TrimSpace(*mk)), Status: order.Status(strings.TrimSpace(*status))}
	if f.Market != "" {
		// A typo must not pass for a market with no orders.
		set, err := market.Load(ctx, d.Reader())
		if err != nil {
			return err
		}
		if _, err := set.Get(f.Market); err != nil {
			return fmt.Errorf("--market %q: %w", *mk, err)
		}
	}
	if f.Status != "" && !order.ValidStatus(f.Status) {
		names := make([]string, len(order.Statuses))
		for i, s := range order.Statuses {
			names[i] = string(s)
		}
		return fmt.Errorf("--status %q: give one of %s", *status, strings.Join(names, ", "))
	}
	if f.From, err = parseSince(*since); err != nil {
		return err
	}
	// The count is only for the progress bar: orders placed while the
	// export runs may make it a little short, and the bar stops at 100%.
	first, err := order.List(ctx, d.Reader(), order.Filter{Market: f.Market, Status: f.Status, From: f.From, PerPage: 1})
	if err != nil {
		return err
	}
	p := newProgress(stderr, "exporting", int64(first.Total), "orders")
	if first.Total >= progressMinItems {
		p.show = true
	}
	n := 0
	err = order.WriteCSV(ctx, d.Reader(), f, stdout, func(done int) {
		n = done
		p.set(int64(done))
	})
	p.finish()
	if err != nil {
		return err
	}
	var used []string
	for _, u := range [][2]string{{"market", f.Market}, {"status", string(f.Status)}, {"since", strings.TrimSpace(*since)}} {
		if u[1] != "" {
			used = append(used, u[0]+" "+u[1])
		}
	}
	filters := ""
	if len(used) > 0 {
		filters = " (" + strings.Join(used, ", ") + ")"
	}
	fmt.Fprintf(stderr, "exported %d orders%s from %s\n", n, filters, d.Target)
	return nil
}

// parseSince reads --since: a date, meaning its midnight UTC as the order
// list's filter does, or a full RFC 3339 time.
func parseSince(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--since %q: give a date (2026-11-01) or an RFC 3339 time (2026-11-01T09:00:00Z)", s)
	}
	return t, nil
}
