// Package audit keeps the back office's audit log: every change a staff
// member, an API key or the command line makes, with who, when, what, and
// the thing before and after.
//
// An entry is written by Record inside the transaction of the change it
// describes, so a change and its entry commit together or not at all. Who
// is acting travels in the request's context (WithActor), set once by the
// web layer's staff guard or by the command line, so the domain code that
// makes a change records it without being handed the actor. The table is
// append-only: database triggers refuse every UPDATE and DELETE.
package audit

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"mistore/internal/db"
)

// Kind says what sort of actor made a change.
type Kind string

// The kinds of actor.
const (
	// KindStaff is a staff member signed in to the back office.
	KindStaff Kind = "staff"
	// KindAPIKey is a program using an admin API key.
	KindAPIKey Kind = "apikey"
	// KindCLI is someone at the server's command line (mistore staff
	// create, mistore import, ...).
	KindCLI Kind = "cli"
	// KindSystem is the store itself: a job, such as an expiring
	// certificate's warning.
	KindSystem Kind = "system"
)

// Actor is who made a change.
type Actor struct {
	Kind Kind `json:"kind"`
	// ID is the staff member's or API key's id; 0 for the command line
	// and the system.
	ID int64 `json:"id,omitempty"`
	// Name is how the log shows the actor: a member's email address, a
	// key's name and prefix.
	Name string `json:"name"`
	// IP is the address the request came from, when there was one.
	IP string `json:"ip,omitempty"`
}

// String returns the actor as the log shows it, e.g. "staff:ada@example.com".
func (a Actor) String() string { return string(a.Kind) + ":" + a.Name }

type actorKey struct{}

// WithActor returns ctx carrying a as the one making changes.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor ctx carries, if any.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}

// Entry is one line of the audit log.
type Entry struct {
	ID    int64     `json:"id"`
	At    time.Time `json:"at"`
	Actor Actor     `json:"actor"`
	// Action names what was done, as noun.verb: product.update,
	// inventory.adjust, order.refund, staff.create.
	Action string `json:"action"`
	// Subject names what it was done to, as kind:key: product:band-9,
	// order:US-100001, stock:BAND9-BLK@us-east.
	Subject string `json:"subject"`
	// Before and After are the thing's state as JSON, nil when there was
	// nothing before (a creation) or is nothing after (a deletion).
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
}

// ErrNoActor means a change was recorded with no actor in its context: a
// bug, since every door that changes things (staff guard, command line,
// jobs) names one.
var ErrNoActor = errors.New("audit: no actor in context")

// Record appends an entry for the change being made in tx by the actor in
// ctx: action on subject, from before to after (any values that encode as
// JSON; nil for none). It fails with ErrNoActor when ctx names no actor,
// so an unattributed change rolls back rather than going unlogged.
func Record(ctx context.Context, tx db.Querier, action, subject string, before, after any) error {
	a, ok := ActorFrom(ctx)
	if !ok {
		return fmt.Errorf("record %s %s: %w", action, subject, ErrNoActor)
	}
	return RecordAs(ctx, tx, a, action, subject, before, after)
}

// RecordAs is Record with the actor given instead of taken from ctx.
func RecordAs(ctx context.Context, tx db.Querier, a Actor, action, subject string, before, after any) error {
	b, err := encode(before)
	if err != nil {
		return fmt.Errorf("record %s %s: before: %w", action, subject, err)
	}
	af, err := encode(after)
	if err != nil {
		return fmt.Errorf("record %s %s: after: %w", action, subject, err)
	}
	var id any
	if a.ID != 0 {
		id = a.ID
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO audit_log (at, actor_kind, actor_id, actor_name, action, subject, before, after, ip)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		db.Now(), string(a.Kind), id, a.Name, action, subject, b, af, a.IP)
	if err != nil {
		return fmt.Errorf("record %s %s: %w", action, subject, err)
	}
	return nil
}

// encode turns v into the JSON the log keeps; nil (or a nil pointer's JSON
// null) is "".
func encode(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	if raw, ok := v.(json.RawMessage); ok {
		return string(raw), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	if string(b) == "null" {
		return "", nil
	}
	return string(b), nil
}

// Filter narrows a listing of the log. Zero fields do not filter.
type Filter struct {
	// Actor matches the actor's name exactly, or "kind:name" as
	// Actor.String gives it; an API key's name matches without the
	// start of the key recorded after it.
	Actor string
	// Action matches exactly, or by prefix when it ends in "." (e.g.
	// "order." for every order action).
	Action string
	// Subject matches exactly, or by prefix when it ends in ":".
	Subject string
	// Since and Until bound the time: Since <= at < Until.
	Since, Until time.Time
	// Before lists entries older than this id, for paging backwards
	// from newest; 0 starts at the newest.
	Before int64
	// Limit is the most entries returned; 0 means 50, at most 1000.
	Limit int
}

// MaxLimit is the most entries one List call returns.
const MaxLimit = 1000

// where builds the SQL condition and arguments for f.
func (f Filter) where() (string, []any) {
	var conds []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Actor != "" {
		// An API key's name is recorded with the start of the key after
		// it ("nightly sync (msk_Ab12…)"): the name alone finds it too.
		name := func(n string) string {
			return "(actor_name = " + arg(n) + " OR substr(actor_name, 1, " + strconv.Itoa(utf8.RuneCountInString(n)+2) + ") = " + arg(n+" (") + ")"
		}
		if kind, n, ok := strings.Cut(f.Actor, ":"); ok && isKind(kind) {
			conds = append(conds, "actor_kind = "+arg(kind)+" AND "+name(n))
		} else {
			conds = append(conds, name(f.Actor))
		}
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, ".") {
			conds = append(conds, "substr(action, 1, "+strconv.Itoa(len(f.Action))+") = "+arg(f.Action))
		} else {
			conds = append(conds, "action = "+arg(f.Action))
		}
	}
	if f.Subject != "" {
		if strings.HasSuffix(f.Subject, ":") {
			conds = append(conds, "substr(subject, 1, "+strconv.Itoa(len(f.Subject))+") = "+arg(f.Subject))
		} else {
			conds = append(conds, "subject = "+arg(f.Subject))
		}
	}
	if !f.Since.IsZero() {
		conds = append(conds, "at >= "+arg(db.Time(f.Since)))
	}
	if !f.Until.IsZero() {
		conds = append(conds, "at < "+arg(db.Time(f.Until)))
	}
	if f.Before > 0 {
		conds = append(conds, "id < "+arg(f.Before))
	}
	if len(conds) == 0 {
		return "", args
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func isKind(s string) bool {
	switch Kind(s) {
	case KindStaff, KindAPIKey, KindCLI, KindSystem:
		return true
	}
	return false
}

const columns = "id, at, actor_kind, actor_id, actor_name, action, subject, before, after, ip"

// List returns the entries f selects, newest first.
func List(ctx context.Context, q db.Querier, f Filter) ([]Entry, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, MaxLimit)
	where, args := f.where()
	rows, err := q.QueryContext(ctx, "SELECT "+columns+" FROM audit_log"+where+" ORDER BY id DESC LIMIT "+strconv.Itoa(limit), args...)
	if err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	defer rows.Close()
	out := []Entry{}
	for rows.Next() {
		e, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	return out, nil
}

func scan(row interface{ Scan(...any) error }) (Entry, error) {
	var e Entry
	var kind, before, after string
	var id sql.NullInt64
	if err := row.Scan(&e.ID, &e.At, &kind, &id, &e.Actor.Name, &e.Action, &e.Subject, &before, &after, &e.Actor.IP); err != nil {
		return e, fmt.Errorf("scan audit entry: %w", err)
	}
	e.At = e.At.UTC()
	e.Actor.Kind, e.Actor.ID = Kind(kind), id.Int64
	if before != "" {
		e.Before = json.RawMessage(before)
	}
	if after != "" {
		e.After = json.RawMessage(after)
	}
	return e, nil
}

// WriteCSV writes every entry f selects (Limit and Before are ignored) to
// w as CSV with a header row, oldest first, reading in pages so the whole
// log never sits in memory. Cells that a spreadsheet would run as a
// formula are prefixed with a quote.
func WriteCSV(ctx context.Context, q db.Querier, f Filter, w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"id", "at", "actor_kind", "actor_id", "actor", "ip", "action", "subject", "before", "after"}); err != nil {
		return err
	}
	where, args := f.where()
	var after int64
	for {
		cond := where
		pageArgs := append(args[:len(args):len(args)], after)
		p := "$" + strconv.Itoa(len(pageArgs))
		if cond == "" {
			cond = " WHERE id > " + p
		} else {
			cond += " AND id > " + p
		}
		rows, err := q.QueryContext(ctx, "SELECT "+columns+" FROM audit_log"+cond+" ORDER BY id LIMIT 500", pageArgs...)
		if err != nil {
			return fmt.Errorf("export audit log: %w", err)
		}
		n := 0
		for rows.Next() {
			e, err := scan(rows)
			if err != nil {
				rows.Close()
				return err
			}
			n++
			after = e.ID
			actorID := ""
			if e.Actor.ID != 0 {
				actorID = strconv.FormatInt(e.Actor.ID, 10)
			}
			rec := []string{strconv.FormatInt(e.ID, 10), e.At.Format(time.RFC3339Nano), string(e.Actor.Kind), actorID,
				e.Actor.Name, e.Actor.IP, e.Action, e.Subject, string(e.Before), string(e.After)}
			for i := range rec {
				rec[i] = SafeCell(rec[i])
			}
			if err := cw.Write(rec); err != nil {
				rows.Close()
				return err
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("export audit log: %w", err)
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		if n < 500 {
			return nil
		}
	}
}

// SafeCell defuses a CSV cell a spreadsheet would evaluate as a formula
// (OWASP "CSV injection"): one starting with =, +, -, @, tab or carriage
// return gets a leading apostrophe.
func SafeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
