package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os/user"
	"strings"

	"mistore/internal/audit"
	"mistore/internal/db"
	"mistore/internal/staff"
)

// openStoreWith is openStore for commands with flags of their own: extra
// adds them to the flag set before parsing.
func openStoreWith(ctx context.Context, name string, args []string, getenv func(string) string, stderr io.Writer, extra func(*flag.FlagSet)) (*db.DB, []string, error) {
	d, _, rest, err := openStoreConfig(ctx, name, args, getenv, stderr, extra)
	return d, rest, err
}

// openStoreConfig is openStoreWith that also takes the configuration
// flags named (beside --db, with their environment variables) and
// returns the configuration they give.
func openStoreConfig(ctx context.Context, name string, args []string, getenv func(string) string, stderr io.Writer, extra func(*flag.FlagSet), names ...string) (*db.DB, Config, []string, error) {
	cfg := defaultConfig()
	fs := newFlagSet(name, stderr)
	validate, err := configFlags(fs, &cfg, getenv, append([]string{"db"}, names...)...)
	if err != nil {
		return nil, cfg, nil, err
	}
	extra(fs)
	if err := parseFlags(fs, args); err != nil {
		return nil, cfg, nil, err
	}
	if err := validate(); err != nil {
		return nil, cfg, nil, err
	}
	d, err := db.Open(ctx, cfg.DB, db.Options{})
	if err != nil {
		return nil, cfg, nil, err
	}
	if _, err := d.Migrate(ctx); err != nil {
		d.Close()
		return nil, cfg, nil, err
	}
	return d, cfg, fs.Args(), nil
}

const staffUsage = `usage: mistore staff create --email EMAIL --role owner|manager|support|viewer [--name NAME] [--db ...]
       mistore staff reset-two-step --email EMAIL [--db ...]
The password is read from standard input (its first line), never from a flag,
so it stays out of the shell history and the process list:
  read -rs PW && printf '%s\n' "$PW" | mistore staff create --email ada@example.com --role owner
reset-two-step turns a member's two-step sign-in off, for one who lost both
their phone and their recovery codes when no other owner can do it on the
Staff page; they then sign in with their password alone.
`

// cmdStaff creates a staff member of the back office, or turns a
// member's two-step sign-in off.
func cmdStaff(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "reset-two-step" {
		return cmdStaffResetTwoStep(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) == 0 || args[0] != "create" {
		io.WriteString(stderr, staffUsage)
		return errUsage
	}
	var email, role, name *string
	d, rest, err := openStoreWith(ctx, "staff create", args[1:], getenv, stderr, func(fs *flag.FlagSet) {
		email = fs.String("email", "", "the staff member's email address (required)")
		role = fs.String("role", "", "owner, manager, support or viewer (required)")
		name = fs.String("name", "", "their name (default: the part of the email before the @)")
	})
	if err != nil {
		return err
	}
	defer d.Close()
	if len(rest) > 0 {
		return fmt.Errorf("staff create takes no arguments, got %q (the password goes on standard input)", rest)
	}
	r, err := staff.ParseRole(*role)
	if err != nil {
		return fmt.Errorf("--role %q: give owner, manager, support or viewer", *role)
	}
	if *email == "" {
		return errors.New("--email is required")
	}
	if *name == "" {
		*name, _, _ = strings.Cut(*email, "@")
	}
	password, err := readSecret(stdin)
	if err != nil {
		return err
	}
	m, err := staff.NewService(d, nil).Create(cliActor(ctx, getenv), *email, *name, r, password)
	if err != nil {
		return fmt.Errorf("staff create: %w", err)
	}
	fmt.Fprintf(stdout, "%s: staff member %s created with role %s\n", d.Target, m.Email, m.Role)
	return nil
}

// cmdStaffResetTwoStep turns the two-step sign-in of the member with
// --email off.
func cmdStaffResetTwoStep(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var email *string
	// The member is told by email, as when an owner does it on the Staff
	// page: through the store's mail server if one is configured (the
	// running store sends it), else into the outbox.
	d, cfg, rest, err := openStoreConfig(ctx, "staff reset-two-step", args, getenv, stderr, func(fs *flag.FlagSet) {
		email = fs.String("email", "", "the staff member's email address (required)")
	}, "smtp-url", "mail-from")
	if err != nil {
		return err
	}
	defer d.Close()
	if len(rest) > 0 {
		return fmt.Errorf("staff reset-two-step takes no arguments, got %q", rest)
	}
	if *email == "" {
		return errors.New("--email is required")
	}
	members := staff.NewService(d, nil)
	if members.Mailer, err = newMailer(cfg, d, slog.New(slog.DiscardHandler)); err != nil {
		return fmt.Errorf("staff reset-two-step: %w", err)
	}
	m, err := members.ByEmail(ctx, *email)
	if err != nil {
		return fmt.Errorf("staff reset-two-step: %w", err)
	}
	on, err := members.TwoStepOn(ctx, m.ID)
	if err != nil {
		return fmt.Errorf("staff reset-two-step: %w", err)
	}
	if err := members.TurnOffTwoStep(cliActor(ctx, getenv), m.ID, "staff.two_step_reset"); err != nil {
		return fmt.Errorf("staff reset-two-step: %w", err)
	}
	if !on {
		fmt.Fprintf(stdout, "%s: two-step sign-in was not on for %s; nothing changed\n", d.Target, m.Email)
		return nil
	}
	fmt.Fprintf(stdout, "%s: two-step sign-in turned off for %s; their password alone signs them in\n", d.Target, m.Email)
	return nil
}

// readSecret reads a password from the first line of r.
func readSecret(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 1<<20)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from standard input: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on standard input: pipe it in, e.g. printf '%s\\n' \"$PW\" | mistore staff create --email E --role R")
	}
	return line, nil
}

const apikeyUsage = `usage: mistore apikey create --role owner|manager|support|viewer --name NAME [--db ...]
Prints the new key once; only its hash is kept. Send it as Authorization: Bearer KEY.
`

// cmdAPIKey creates an API key of the back office's API.
func cmdAPIKey(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		io.WriteString(stderr, apikeyUsage)
		return errUsage
	}
	var role, name *string
	d, rest, err := openStoreWith(ctx, "apikey create", args[1:], getenv, stderr, func(fs *flag.FlagSet) {
		role = fs.String("role", "", "owner, manager, support or viewer (required)")
		name = fs.String("name", "", "what the key is for, e.g. \"warehouse sync\" (required)")
	})
	if err != nil {
		return err
	}
	defer d.Close()
	if len(rest) > 0 {
		return fmt.Errorf("apikey create takes no arguments, got %q", rest)
	}
	r, err := staff.ParseRole(*role)
	if err != nil {
		return fmt.Errorf("--role %q: give owner, manager, support or viewer", *role)
	}
	if strings.TrimSpace(*name) == "" {
		return errors.New("--name is required: say what the key is for")
	}
	key, info, err := staff.NewService(d, nil).CreateAPIKey(cliActor(ctx, getenv), *name, r, 0)
	if err != nil {
		return fmt.Errorf("apikey create: %w", err)
	}
	fmt.Fprintf(stderr, "%s: API key %q (%s, role %s) created; it is shown only now:\n", d.Target, info.Name, info.Prefix, info.Role)
	fmt.Fprintln(stdout, key)
	return nil
}

// cliActor returns ctx naming the person at the command line as the one
// making changes, for the audit log: the operating system's user, as
// $USER (or $LOGNAME, or else the process's account) says, since that is
// all a command line knows.
func cliActor(ctx context.Context, getenv func(string) string) context.Context {
	name := getenv("USER")
	if name == "" {
		name = getenv("LOGNAME")
	}
	if name == "" {
		// Containers and service managers often leave both unset; the
		// account the process runs as is still known.
		if u, err := user.Current(); err == nil && u.Username != "" {
			name = u.Username
		} else {
			name = "unknown"
		}
	}
	return audit.WithActor(ctx, audit.Actor{Kind: audit.KindCLI, Name: name})
}
