package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"mistore/internal/audit"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/staff"
)

// runCLIStdin is runCLI with stdin.
func runCLIStdin(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, func(string) string { return "" }, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestStaffAndAPIKeyCommands: staff members are created with the password
// from stdin and never from a flag; an API key is printed once and kept
// only as a hash; bad input stops with one line and changes nothing.
func TestStaffAndAPIKeyCommands(t *testing.T) {
	for _, dialect := range []db.Dialect{db.SQLite, db.Postgres} {
		t.Run(string(dialect), func(t *testing.T) {
			dsn := dbtest.DSN(t, dialect)
			code, out, errOut := runCLIStdin(t, "a long staff password\n", "staff", "create", "--db", dsn, "--email", "Owner@Example.com", "--role", "owner")
			if code != 0 || !strings.Contains(out, "Owner@Example.com") {
				t.Fatalf("staff create: %d %q %q", code, out, errOut)
			}
			for _, c := range []struct {
				stdin string
				args  []string
				want  string
			}{
				{"", []string{"--email", "b@example.com", "--role", "manager"}, "no password on standard input"},
				{"a long staff password\n", []string{"--email", "c@example.com", "--role", "admin"}, "--role"},
				{"a long staff password\n", []string{"--email", "owner@example.com", "--role", "viewer"}, "staff create"},
				{"short\n", []string{"--email", "d@example.com", "--role", "viewer"}, "staff create"},
				{"a long staff password\n", []string{"--role", "viewer"}, "--email"},
			} {
				code, _, errOut := runCLIStdin(t, c.stdin, append([]string{"staff", "create", "--db", dsn}, c.args...)...)
				if code == 0 || !strings.Contains(errOut, c.want) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
					t.Errorf("staff create %v with stdin %q: %d %q, want one line about %q", c.args, c.stdin, code, errOut, c.want)
				}
			}
			if code, _, _ := runCLIStdin(t, "", "staff", "create", "--db", dsn, "--email", "e@example.com", "--role", "viewer", "--password", "x"); code == 0 {
				t.Error("a --password flag was accepted")
			}

			code, out, errOut = runCLIStdin(t, "", "apikey", "create", "--db", dsn, "--role", "support", "--name", "warehouse sync")
			key := strings.TrimSpace(out)
			if code != 0 || !strings.HasPrefix(key, "msk_") || !strings.Contains(errOut, "shown only now") {
				t.Fatalf("apikey create: %d %q %q", code, out, errOut)
			}
			d, err := db.Open(context.Background(), dsn, db.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			var members, clear int
			d.Read.QueryRow("SELECT count(*) FROM staff").Scan(&members)
			d.Read.QueryRow("SELECT count(*) FROM api_keys WHERE key_hash = $1 OR prefix = $1", key).Scan(&clear)
			if members != 1 || clear != 0 {
				t.Errorf("%d staff members (want 1), key stored in clear: %d", members, clear)
			}
			svc := staff.NewService(d, nil)
			if m, err := svc.Authenticate(context.Background(), "owner@example.com", "a long staff password"); err != nil || m.Role != staff.RoleOwner {
				t.Errorf("the created owner signs in: %+v %v", m, err)
			}
			if k, err := svc.APIKey(context.Background(), key); err != nil || k.Role != staff.RoleSupport || k.Name != "warehouse sync" {
				t.Errorf("the printed key opens: %+v %v", k, err)
			}

			// reset-two-step turns a locked-out member's second step off.
			m, _ := svc.ByEmail(context.Background(), "OWNER@example.com")
			actor := audit.WithActor(context.Background(), audit.Actor{Kind: audit.KindCLI, Name: "test"})
			setup, err := svc.SetUpTwoStep(actor, m.ID, "test")
			if err != nil {
				t.Fatal(err)
			}
			totp, _ := staff.TOTPCode(setup.Key, time.Now())
			if _, err := svc.ConfirmTwoStep(actor, m.ID, totp); err != nil {
				t.Fatal(err)
			}
			if code, _, errOut := runCLIStdin(t, "", "staff", "reset-two-step", "--db", dsn, "--email", "nobody@example.com"); code == 0 || !strings.Contains(errOut, "not found") {
				t.Errorf("reset-two-step of nobody: %d %q", code, errOut)
			}
			if code, _, errOut := runCLIStdin(t, "", "staff", "reset-two-step", "--db", dsn); code == 0 || !strings.Contains(errOut, "--email") {
				t.Errorf("reset-two-step without --email: %d %q", code, errOut)
			}
			code, out, errOut = runCLIStdin(t, "", "staff", "reset-two-step", "--db", dsn, "--email", "owner@EXAMPLE.com")
			if code != 0 || !strings.Contains(out, "turned off for Owner@Example.com") {
				t.Fatalf("reset-two-step: %d %q %q", code, out, errOut)
			}
			if on, err := svc.TwoStepOn(context.Background(), m.ID); err != nil || on {
				t.Errorf("still on after reset-two-step: %v %v", on, err)
			}
			if code, out, _ := runCLIStdin(t, "", "staff", "reset-two-step", "--db", dsn, "--email", "owner@example.com"); code != 0 || !strings.Contains(out, "nothing changed") {
				t.Errorf("reset-two-step when off: %d %q", code, out)
			}
			entries, _ := audit.List(context.Background(), d.Read, audit.Filter{})
			if len(entries) == 0 || entries[0].Action != "staff.two_step_reset" || entries[0].Actor.Kind != audit.KindCLI {
				t.Errorf("last audit entry: %+v", entries)
			}
			// The member is told, through the outbox (no mail server here).
			var told int
			d.Read.QueryRow("SELECT count(*) FROM emails WHERE kind = 'staff_security' AND to_address = 'Owner@Example.com' AND text_body LIKE '%owner of the shop (or on%'").Scan(&told)
			if told != 1 {
				t.Errorf("%d notices of the reset in the outbox, want 1", told)
			}
		})
	}
}
