// Command mistore runs a brand's own multi-market online store: the shop,
// its JSON API and its back office, on embedded SQLite or PostgreSQL.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `mistore runs a multi-market online store.

Usage:
  mistore serve   [--addr 127.0.0.1:8080] [--db PATH_OR_URL] [--demo=true]
  mistore migrate [--db ...]          apply schema migrations and exit
  mistore seed    [--db ...]          load the demo catalog (idempotent)
  mistore import products FILE.csv [--db ...]
  mistore export products [--market us] [--db ...]   (CSV on stdout)
  mistore export orders [--market us] [--status paid] [--since 2026-11-01] [--db ...]   (CSV on stdout)
  mistore staff create --email E --role owner|manager|support|viewer   (password on stdin)
  mistore staff reset-two-step --email E   turn a member's two-step sign-in off
  mistore apikey create --role owner|manager|support|viewer --name NAME (prints the key once)
  mistore loadtest URL [URL...] [--scenario browse|checkout|flashsale] [--duration 30s] [--workers N]
                   [--db PATH_OR_URL] [--customers N] [--units K] [--limit L] [--sku SKU] [--lead 3s]
  mistore copy    --from data/mistore.db --to postgres://... [--sessions] [--force]
                                      move a SQLite store into an empty PostgreSQL database
  mistore backup  FILE [--db ...]     consistent online backup of a SQLite store
  mistore restore FILE [--db ...] [--force]   put a backup in place (store stopped)
  mistore version

Every flag also reads an environment variable: MISTORE_ADDR, MISTORE_DB,
MISTORE_DEMO, MISTORE_LOG_LEVEL, MISTORE_LOG_FORMAT. Run 'mistore COMMAND -h'
for a command's flags.
`

func main() {
	os.Exit(runProcess(os.Args[1:]))
}

// runProcess runs the command line as the whole process: SIGINT and
// SIGTERM cancel the command's context, so serve shuts down gracefully.
func runProcess(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
}

// errUsage marks an error whose message is already written with usage.
var errUsage = errors.New("usage")

// run is the whole program behind main, with its world passed in, so
// tests run commands in-process. It returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		err = cmdServe(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		err = cmdMigrate(ctx, rest, getenv, stdout, stderr)
	case "seed":
		err = cmdSeed(ctx, rest, getenv, stdout, stderr)
	case "import":
		err = cmdImport(ctx, rest, getenv, stdout, stderr)
	case "export":
		err = cmdExport(ctx, rest, getenv, stdout, stderr)
	case "loadtest":
		err = cmdLoadtest(ctx, rest, getenv, stdout, stderr)
	case "staff":
		err = cmdStaff(ctx, rest, getenv, stdin, stdout, stderr)
	case "apikey":
		err = cmdAPIKey(ctx, rest, getenv, stdout, stderr)
	case "copy":
		err = cmdCopy(ctx, rest, getenv, stdout, stderr)
	case "backup":
		err = cmdBackup(ctx, rest, getenv, stdout, stderr)
	case "restore":
		err = cmdRestore(ctx, rest, getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "mistore", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "mistore: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	// One line, no stack: what went wrong and, where it helps, what to do.
	fmt.Fprintln(stderr, "mistore: "+strings.ReplaceAll(err.Error(), "\n", "\n  "))
	return 1
}

// newFlagSet returns a flag set that reports its errors to stderr once.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("mistore "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args and turns flag errors into errUsage, since the
// flag package has already printed them.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}
