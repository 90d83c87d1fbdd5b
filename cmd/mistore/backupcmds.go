package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mistore/internal/db"
)

const backupUsage = `usage: mistore backup FILE [--db data/mistore.db]
Writes a consistent copy of the SQLite store to FILE while it keeps serving,
and checks it. FILE must not exist: a backup never overwrites one.
`

const restoreUsage = `usage: mistore restore FILE [--db data/mistore.db] [--force]
Puts the backup FILE in place as the store's database, after checking it.
Stop the store first: restore refuses while any process has the database open.
  --force  replace an existing database (it is kept beside it, as DB.replaced-TIME)
`

// pgBackupRecipe is what backup and restore say for a PostgreSQL store,
// whose own tools do the job better than mistore could.
const pgBackupRecipe = `mistore backs up only its SQLite file; a PostgreSQL store is backed up with PostgreSQL's tools:
  pg_dump --format=custom --file=mistore.dump "$MISTORE_DB"       # online, one consistent snapshot
  createdb mistore_restored && pg_restore --no-owner --dbname=postgres://…/mistore_restored mistore.dump
then start mistore with --db set to the restored database.
`

// splitFileArg takes the one FILE argument, before or after the flags.
func splitFileArg(args []string) (string, []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return "", args
}

// cmdBackup backs up a SQLite store with VACUUM INTO (see db.BackupTo).
func cmdBackup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	file, rest := splitFileArg(args)
	cfg := defaultConfig()
	fs := newFlagSet("backup", stderr)
	fs.Usage = func() { io.WriteString(stderr, backupUsage); fs.PrintDefaults() }
	if _, err := configFlags(fs, &cfg, getenv, "db"); err != nil {
		return err
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	} else if file == "" || fs.NArg() > 0 {
		io.WriteString(stderr, backupUsage)
		return errUsage
	}
	if db.IsPostgres(cfg.DB) {
		io.WriteString(stderr, pgBackupRecipe)
		return errUsage
	}
	if _, err := os.Lstat(file); err == nil {
		return fmt.Errorf("backup: %s already exists: a backup never overwrites a file, give a new name", file)
	}
	if err := mustExist("backup", cfg.DB); err != nil {
		return err
	}
	d, err := db.Open(ctx, cfg.DB, db.Options{MaxReaders: 2})
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer d.Close()
	// The backup is written under a temporary name beside FILE and only
	// then linked to FILE, so FILE is either absent or a whole backup,
	// and a FILE made meanwhile by someone else is not overwritten.
	tmp := filepath.Join(filepath.Dir(file), fmt.Sprintf(".%s.partial-%d", filepath.Base(file), os.Getpid()))
	os.Remove(tmp)
	defer os.Remove(tmp)
	start := time.Now()
	if err := d.BackupTo(ctx, tmp); err != nil {
		return err
	}
	if err := syncFile(tmp); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	info, err := db.InspectSQLite(ctx, tmp)
	if err != nil {
		return fmt.Errorf("backup: the copy fails its check, nothing was written to %s: %w", file, err)
	}
	if err := os.Link(tmp, file); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("backup: %s already exists: a backup never overwrites a file, give a new name", file)
		}
		return fmt.Errorf("backup: %w", err)
	}
	syncDir(filepath.Dir(file))
	size := int64(0)
	if fi, err := os.Stat(file); err == nil {
		size = fi.Size()
	}
	fmt.Fprintf(stdout, "backed up %s to %s in %s: %.1f MB, schema %d, %d orders, %d products, %d customers; integrity ok\n",
		d.Target, file, time.Since(start).Round(time.Millisecond), float64(size)/(1<<20), info.Version, info.Orders, info.Products, info.Customers)
	return nil
}

// cmdRestore puts a backup in place of a SQLite store that is not running.
func cmdRestore(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	file, rest := splitFileArg(args)
	cfg := defaultConfig()
	fs := newFlagSet("restore", stderr)
	fs.Usage = func() { io.WriteString(stderr, restoreUsage); fs.PrintDefaults() }
	if _, err := configFlags(fs, &cfg, getenv, "db"); err != nil {
		return err
	}
	force := fs.Bool("force", false, "replace an existing database (kept beside it as DB.replaced-TIME)")
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	} else if file == "" || fs.NArg() > 0 {
		io.WriteString(stderr, restoreUsage)
		return errUsage
	}
	if db.IsPostgres(cfg.DB) {
		io.WriteString(stderr, pgBackupRecipe)
		return errUsage
	}
	if err := mustExist("restore", file); err != nil {
		return err
	}
	info, err := db.InspectSQLite(ctx, file)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	target := cfg.DB
	_, statErr := os.Stat(target)
	exists := statErr == nil
	if exists && !*force {
		return fmt.Errorf("restore: %s already exists: stop the store and add --force to replace it (the old database is kept beside it)", target)
	}
	if exists {
		if err := db.QuiesceSQLite(ctx, target); errors.Is(err, db.ErrInUse) {
			return fmt.Errorf("restore: %s is open in another process: stop the store (every instance) first", target)
		} else if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	tmp := filepath.Join(filepath.Dir(target), fmt.Sprintf(".%s.restoring-%d", filepath.Base(target), os.Getpid()))
	defer os.Remove(tmp)
	if err := copyFileSync(file, tmp); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	kept := ""
	if exists {
		// The old database stays reachable under a new name (a hard link:
		// no copy, no moment without a database at target).
		kept = target + ".replaced-" + time.Now().UTC().Format("20060102T150405Z")
		if err := os.Link(target, kept); err != nil {
			return fmt.Errorf("restore: keep the old database: %w", err)
		}
	}
	// rename is atomic: the store's path names the old database or the
	// restored one, never a half-written file.
	if err := os.Rename(tmp, target); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	// The old database's WAL and shared-memory index were emptied by
	// QuiesceSQLite; left behind they would be read as the new one's.
	for _, ext := range []string{"-wal", "-shm"} {
		if err := os.Remove(target + ext); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("restore: remove the old %s: %w", target+ext, err)
		}
	}
	syncDir(filepath.Dir(target))
	fmt.Fprintf(stdout, "restored %s to %s: schema %d, %d orders, %d products, %d customers\n",
		file, target, info.Version, info.Orders, info.Products, info.Customers)
	if kept != "" {
		fmt.Fprintf(stdout, "the replaced database is kept as %s\n", kept)
	}
	return nil
}

// mustExist refuses a missing SQLite file before Open could make an empty
// one in its place.
func mustExist(cmd, path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: %s does not exist", cmd, path)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("%s: %s is a directory, not a database file", cmd, path)
	}
	return nil
}

// copyFileSync copies from to a new file to and flushes it to the disk.
func copyFileSync(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// syncDir makes a rename or link in dir durable; where directories cannot
// be synced, the rename is still atomic, only less certain to survive a
// power cut.
func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
}
