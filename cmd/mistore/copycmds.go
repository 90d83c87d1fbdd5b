package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"mistore/internal/db"
	"mistore/internal/money"
	"mistore/internal/storecopy"
)

const copyUsage = `usage: mistore copy --from data/mistore.db --to postgres://USER@HOST/DB [--sessions] [--force]
Copies a whole store from its SQLite file into an empty PostgreSQL database,
in one snapshot of the source and one transaction on the target, and checks
row counts and money totals before committing. Stop the SQLite store first:
what it writes after the snapshot is not copied.
  --sessions  copy sign-in sessions too (without it customers and staff sign in again)
  --force     replace whatever store data the target already holds, its audit log
              included (in the same transaction: it is gone only if the copy commits)
`

// cmdCopy copies a SQLite store into PostgreSQL (see storecopy.Copy).
func cmdCopy(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("copy", stderr)
	fs.Usage = func() { io.WriteString(stderr, copyUsage); fs.PrintDefaults() }
	from := fs.String("from", orDefault(getenv("MISTORE_DB"), defaultConfig().DB), "the store's SQLite file (env MISTORE_DB)")
	to := fs.String("to", "", "the PostgreSQL database to fill, postgres://… (required)")
	sessions := fs.Bool("sessions", false, "copy sign-in sessions too, so nobody has to sign in again")
	force := fs.Bool("force", false, "replace any store data the target already holds")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mistore copy: unexpected argument %q\n%s", fs.Arg(0), copyUsage)
		return errUsage
	}
	if *to == "" || !db.IsPostgres(*to) {
		fmt.Fprintf(stderr, "mistore copy: --to must be a postgres:// URL\n%s", copyUsage)
		return errUsage
	}
	if strings.Contains(*from, "://") {
		fmt.Fprintf(stderr, "mistore copy: --from must be the store's SQLite file; the copy goes from SQLite to PostgreSQL\n%s", copyUsage)
		return errUsage
	}
	src, err := openCopySource(ctx, *from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := openCopyTarget(ctx, *to)
	if err != nil {
		return err
	}
	defer dst.Close()

	bar := newProgress(stderr, "copying", 0, "rows")
	rep, err := storecopy.Copy(ctx, src, dst, storecopy.Options{Sessions: *sessions, Force: *force, Progress: func(done, total int64) {
		bar.total = total
		if total >= progressMinItems {
			bar.show = true
		}
		bar.set(done)
	}})
	bar.finish()
	if rep != nil && rep.Checked {
		printCopyReport(stdout, src.Target, dst.Target, rep, *sessions)
	}
	var notEmpty *storecopy.NotEmptyError
	switch {
	case errors.As(err, &notEmpty):
		return fmt.Errorf("copy to %s: %w", dst.Target, err)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("copy to %s: interrupted; nothing was committed, the target is as it was", dst.Target)
	case err != nil:
		return fmt.Errorf("copy to %s: %w", dst.Target, err)
	}
	return nil
}

// openCopySource opens the SQLite store to copy, which must exist: Open
// would make an empty one.
func openCopySource(ctx context.Context, path string) (*db.DB, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("copy: the source %s does not exist: give the store's SQLite file with --from", path)
	}
	if err != nil {
		return nil, fmt.Errorf("copy: source: %w", err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("copy: the source %s is a directory: give the store's SQLite file with --from", path)
	}
	src, err := db.Open(ctx, path, db.Options{})
	if err != nil {
		return nil, fmt.Errorf("copy: source: %w", err)
	}
	// A store from an older mistore is brought up to date first, as
	// serve would on its next start, so both sides have one schema.
	if pending, err := src.Pending(ctx); err != nil {
		src.Close()
		return nil, fmt.Errorf("copy: the source %s is not a mistore database: %w", path, err)
	} else if pending < 0 {
		src.Close()
		return nil, fmt.Errorf("copy: the source %s was written by a newer mistore: copy it with that version", path)
	}
	if _, err := src.Migrate(ctx); err != nil {
		src.Close()
		return nil, fmt.Errorf("copy: migrate the source: %w", err)
	}
	return src, nil
}

// openCopyTarget connects to the PostgreSQL database and migrates it, with
// one line saying what to do when it cannot.
func openCopyTarget(ctx context.Context, url string) (*db.DB, error) {
	dst, err := db.Open(ctx, url, db.Options{MaxReaders: 4})
	if err != nil {
		return nil, fmt.Errorf("copy: target: %w", err)
	}
	if _, err := dst.Migrate(ctx); err != nil {
		dst.Close()
		if strings.Contains(err.Error(), "SQLSTATE 42501") {
			return nil, fmt.Errorf("copy: target %s: %w: the user needs the right to create tables there (make it the database's owner, or GRANT CREATE ON SCHEMA public)", dst.Target, err)
		}
		return nil, fmt.Errorf("copy: target %s: %w", dst.Target, err)
	}
	return dst, nil
}

// printCopyReport writes what was copied and how the check came out.
func printCopyReport(w io.Writer, from, to string, rep *storecopy.Report, sessions bool) {
	tables := 0
	for _, t := range rep.Tables {
		if t.Source > 0 && !t.Skipped {
			tables++
		}
	}
	fmt.Fprintf(w, "copied %s to %s: %d rows in %d tables in %s\n", from, to, rep.Rows, tables, rep.Elapsed.Round(10_000_000))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  table\tsource\ttarget\t\t")
	sorted := slices.Clone(rep.Tables)
	slices.SortFunc(sorted, func(a, b storecopy.TableCount) int { return strings.Compare(a.Table, b.Table) })
	for _, t := range sorted {
		if t.Source == 0 && t.Target == 0 {
			continue
		}
		mark := "ok"
		switch {
		case t.Skipped:
			mark = "not copied"
		case t.Source != t.Target:
			mark = "MISMATCH"
		}
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\t\n", t.Table, t.Source, t.Target, mark)
	}
	tw.Flush()
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  money\tsource\ttarget\t\t")
	for _, t := range rep.Totals {
		mark := "ok"
		if t.Source != t.Target {
			mark = "MISMATCH"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t\n", t.What, money.New(t.Source, t.Currency), money.New(t.Target, t.Currency), mark)
	}
	tw.Flush()
	var skipped int64
	for _, t := range rep.Tables {
		if t.Skipped {
			skipped += t.Source
		}
	}
	if !sessions && skipped > 0 {
		fmt.Fprintf(w, "sessions not copied (%d): customers and staff sign in again on the new database (--sessions keeps them)\n", skipped)
	}
	if m := rep.Mismatches(); len(m) > 0 {
		fmt.Fprintf(w, "check FAILED: %s\n", strings.Join(m, "; "))
		return
	}
	fmt.Fprintln(w, "check passed: every table's row count and every money total match")
}
