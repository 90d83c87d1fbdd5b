package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

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

func cmdImport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "products" {
		return fmt.Errorf("usage: mistore import products FILE.csv [--db ...]")
	}
	// Accept the file before or after the flags.
	var file string
	rest := args[1:]
	if len(rest) > 0 && len(rest[0]) > 0 && rest[0][0] != '-' {
		file, rest = rest[0], rest[1:]
	}
	d, extra, err := openStore(ctx, "import products", rest, getenv, stderr)
	if err != nil {
		return err
	}
	defer d.Close()
	if file == "" && len(extra) == 1 {
		file = extra[0]
	} else if len(extra) > 0 || file == "" {
		return fmt.Errorf("usage: mistore import products FILE.csv [--db ...]")
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	c := catalog.NewService(d, inventory.NewService(d), catalog.Options{})
	res, err := c.Import(ctx, f)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	fmt.Fprintf(stdout, "%s: imported %d products, %d variants into %s\n", file, res.Products, res.Variants, d.Target)
	return nil
}
