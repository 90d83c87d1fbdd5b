package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"mistore/internal/catalog"
	"mistore/internal/db"
	"mistore/internal/demo"
	"mistore/internal/inventory"
)

// openStore opens and migrates the database of a one-shot command.
func openStore(ctx context.Context, name string, args []string, getenv func(string) string, stderr io.Writer) (*db.DB, []string, error) {
	return openStoreWith(ctx, name, args, getenv, stderr, func(*flag.FlagSet) {})
}

func cmdMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg := defaultConfig()
	fs := newFlagSet("migrate", stderr)
	validate, err := configFlags(fs, &cfg, getenv, "db")
	if err != nil {
		return err
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := validate(); err != nil {
		return err
	}
	d, err := db.Open(ctx, cfg.DB, db.Options{})
	if err != nil {
		return err
	}
	defer d.Close()
	n, err := d.Migrate(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: applied %d migration(s); the schema is current\n", d.Target, n)
	return nil
}

func cmdSeed(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	d, rest, err := openStore(ctx, "seed", args, getenv, stderr)
	if err != nil {
		return err
	}
	defer d.Close()
	if len(rest) > 0 {
		return fmt.Errorf("seed takes no arguments, got %q", rest)
	}
	c := catalog.NewService(d, inventory.NewService(d), catalog.Options{})
	res, err := demo.Seed(ctx, c)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: demo catalog loaded: %d products, %d variants\n", d.Target, res.Products, res.Variants)
	return nil
}
