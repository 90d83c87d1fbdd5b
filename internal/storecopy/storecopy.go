// Package storecopy moves a whole store from its SQLite file into a
// PostgreSQL database, the step a shop takes when it outgrows one machine
// (`mistore copy`). The source is read in one snapshot and the target is
// written in one transaction, so the target ends up with all of the store
// or, after any failure or interruption, with none of it; the copy is
// checked (row counts per table, money totals per currency) before it
// commits.
package storecopy

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"mistore/internal/db"
)

// SessionTables hold signed-in browsers and API clients, and sign-ins
// waiting for their second step. They are copied
// only when asked: without them every customer and staff member signs in
// again on the new database, which is the safe default for a move.
var SessionTables = []string{"customer_sessions", "staff_sessions", "staff_challenges"}

// housekeepingTables are written by a store on its own, with no shop data
// in it (its signing secrets on first start, periodic jobs, abuse
// counters): a target that holds only these is still empty, and the
// source's rows replace them.
var housekeepingTables = map[string]bool{"secrets": true, "jobs": true, "rate_limits": true, "idempotency_keys": true}

// Options tunes Copy.
type Options struct {
	// Sessions copies the sign-in sessions too (see SessionTables).
	Sessions bool
	// Force replaces whatever store data the target holds. The old
	// contents are deleted in the copy's own transaction, so they are
	// gone only if the copy commits.
	Force bool
	// Progress, when set, is told how many rows of total have been
	// written, now and then and once at the end.
	Progress func(done, total int64)
}

// TableCount is one table's rows on both sides.
type TableCount struct {
	Table          string
	Source, Target int64
	// Skipped is set for a table left out on purpose (sessions).
	Skipped bool
}

// Total is one money total on both sides, e.g. the sum of orders.total in
// USD.
type Total struct {
	// What names the sum: "orders.total", "payments charge succeeded".
	What string
	// Currency is its ISO 4217 code.
	Currency       string
	Source, Target int64
}

// Report is what a copy did and what its check found.
type Report struct {
	Tables []TableCount
	Totals []Total
	// Rows is how many rows were written.
	Rows int64
	// Checked is set once the target side has been counted: until then
	// the report says nothing about the target.
	Checked bool
	Elapsed time.Duration
}

// Mismatches lists, one line each, every count and total that differs
// between the two sides; a good copy has none.
func (r *Report) Mismatches() []string {
	var out []string
	for _, t := range r.Tables {
		if !t.Skipped && t.Source != t.Target {
			out = append(out, fmt.Sprintf("%s: %d rows in the source, %d in the target", t.Table, t.Source, t.Target))
		}
	}
	for _, t := range r.Totals {
		if t.Source != t.Target {
			out = append(out, fmt.Sprintf("%s %s: %d in the source, %d in the target", t.What, t.Currency, t.Source, t.Target))
		}
	}
	return out
}

// NotEmptyError is Copy's refusal of a target that already holds store
// data, naming the tables that do.
type NotEmptyError struct {
	// Tables are "name (N rows)", sorted.
	Tables []string
}

func (e *NotEmptyError) Error() string {
	return "the target already holds store data (" + strings.Join(e.Tables, ", ") +
		"); copy fills only an empty database: give a new database, or --force to replace everything in it"
}

// ErrMismatch is returned when the copied rows do not add up to the
// source's; nothing is committed then.
var ErrMismatch = errors.New("the copy does not match the source; nothing was committed")

// table is one table to copy, with the target's view of its columns.
type table struct {
	name string
	cols []column
	// identity is the column whose sequence must follow the copied ids.
	identity string
	// seeded tables get rows from the migrations themselves.
	seeded bool
}

type column struct {
	name string
	// kind is the target's type: bool, time, int, text, bytes or other.
	kind string
}

// Copy copies the store in src, a SQLite database, into dst, a PostgreSQL
// one. Both must be migrated to the same version. The target is written
// in one transaction: it holds the whole store afterwards, or, when Copy
// fails or ctx ends, exactly what it held before. The report is returned
// with ErrMismatch too, to say what differed.
func Copy(ctx context.Context, src, dst *db.DB, opts Options) (*Report, error) {
	start := time.Now()
	if src.Dialect != db.SQLite || dst.Dialect != db.Postgres {
		return nil, fmt.Errorf("copy: from SQLite to PostgreSQL only, not from %s to %s", src.Dialect, dst.Dialect)
	}
	// One read transaction on SQLite is one snapshot (WAL): a store that
	// keeps serving while it is copied is copied as it was at this moment.
	stx, err := src.Read.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("copy: read source: %w", err)
	}
	defer stx.Rollback()
	srcVersion, err := schemaVersion(ctx, stx)
	if err != nil {
		return nil, fmt.Errorf("copy: source: %w", err)
	}
	dstVersion, err := schemaVersion(ctx, dst.Read)
	if err != nil {
		return nil, fmt.Errorf("copy: target: %w", err)
	}
	if srcVersion != dstVersion {
		return nil, fmt.Errorf("copy: the source's schema is at migration %d and the target's at %d: migrate both with this mistore first", srcVersion, dstVersion)
	}
	tables, err := targetTables(ctx, dst.Read)
	if err != nil {
		return nil, err
	}
	if err := checkSourceTables(ctx, stx, tables); err != nil {
		return nil, err
	}
	rep := &Report{}
	var total int64
	for _, t := range tables {
		var n int64
		if err := stx.QueryRowContext(ctx, "SELECT count(*) FROM "+quote(t.name)).Scan(&n); err != nil {
			return nil, fmt.Errorf("copy: count source %s: %w", t.name, err)
		}
		skip := !opts.Sessions && slices.Contains(SessionTables, t.name)
		rep.Tables = append(rep.Tables, TableCount{Table: t.name, Source: n, Skipped: skip})
		if !skip {
			total += n
		}
	}
	if rep.Totals, err = moneyTotals(ctx, sqlQuerier{stx}, nil); err != nil {
		return nil, fmt.Errorf("copy: source: %w", err)
	}

	conn, err := dst.Write.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("copy: target: %w", err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		pc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("copy: target connection is a %T, not pgx", dc)
		}
		return write(ctx, pc.Conn(), stx, tables, rep, total, opts)
	})
	if err != nil {
		return rep, err
	}
	// Fresh statistics, so the first queries on the new store plan well;
	// only the store's tables, not every schema of the database.
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = quote(t.name)
	}
	if _, err := dst.Write.ExecContext(ctx, "ANALYZE "+strings.Join(names, ", ")); err != nil {
		return rep, fmt.Errorf("copy: committed, but ANALYZE failed: %w", err)
	}
	// The check again, on the committed target through another
	// connection: what the report shows is what the store will serve.
	if err := targetCounts(ctx, sqlQuerier{dst.Read}, rep); err != nil {
		return rep, fmt.Errorf("copy: committed, but the check failed: %w", err)
	}
	if rep.Elapsed = time.Since(start); len(rep.Mismatches()) > 0 {
		return rep, errors.New("the committed copy does not match the source")
	}
	return rep, nil
}

// write fills the target in one transaction and commits it only when the
// counts and totals match the source's.
func write(ctx context.Context, pc *pgx.Conn, stx *sql.Tx, tables []table, rep *Report, total int64, opts Options) error {
	tx, err := pc.Begin(ctx)
	if err != nil {
		return fmt.Errorf("copy: begin on the target: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := checkEmpty(ctx, tx, tables, opts.Force); err != nil {
		return err
	}
	if err := clearTarget(ctx, tx, tables); err != nil {
		return err
	}
	var done int64
	progress := func() {
		if opts.Progress != nil {
			opts.Progress(done, total)
		}
	}
	for i, t := range tables {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("copy: %w", err)
		}
		if rep.Tables[i].Skipped || rep.Tables[i].Source == 0 {
			continue
		}
		n, err := copyTable(ctx, tx, stx, t, func(n int64) { done += n; progress() })
		if err != nil {
			return err
		}
		if n != rep.Tables[i].Source {
			return fmt.Errorf("copy %s: wrote %d rows of %d", t.name, n, rep.Tables[i].Source)
		}
		rep.Rows += n
	}
	progress()
	for _, t := range tables {
		if t.identity == "" {
			continue
		}
		// The next id follows the copied ones: an explicit id does not
		// move an identity's sequence.
		q := fmt.Sprintf("SELECT setval(pg_get_serial_sequence($1, $2), COALESCE((SELECT max(%s) FROM %s), 0) + 1, false)",
			quote(t.identity), quote(t.name))
		if _, err := tx.Exec(ctx, q, quote(t.name), t.identity); err != nil {
			return fmt.Errorf("copy: set the sequence of %s.%s: %w", t.name, t.identity, err)
		}
	}
	if err := targetCounts(ctx, pgxQuerier{tx}, rep); err != nil {
		return fmt.Errorf("copy: check: %w", err)
	}
	rep.Checked = true
	if len(rep.Mismatches()) > 0 {
		return ErrMismatch
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("copy: commit: %w", err)
	}
	return nil
}

// clearTarget empties the target's tables that hold rows: the migrations'
// reference rows (which the shop may have edited in the source), a fresh
// store's housekeeping, and with Force the store it held. The target
// becomes the source's exact copy. TRUNCATE is transactional in
// PostgreSQL: a rollback brings it all back.
func clearTarget(ctx context.Context, tx pgx.Tx, tables []table) error {
	var full []string
	for _, t := range tables {
		var has bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+quote(t.name)+")").Scan(&has); err != nil {
			return fmt.Errorf("copy: read the target's %s: %w", t.name, err)
		}
		if has {
			full = append(full, t.name)
		}
	}
	if len(full) == 0 {
		return nil
	}
	// The audit log's trigger refuses TRUNCATE, so that the store itself
	// can never rewrite history. Replacing a whole store (--force) is the
	// one time it must go, with everything else: its triggers are off for
	// this statement only, inside the transaction.
	var guarded []string
	err := func() error {
		rows, err := tx.Query(ctx, `SELECT DISTINCT c.relname FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
			WHERE NOT g.tgisinternal AND c.relnamespace = current_schema()::regnamespace`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				return err
			}
			guarded = append(guarded, n)
		}
		return rows.Err()
	}()
	if err != nil {
		return fmt.Errorf("copy: read the target's triggers: %w", err)
	}
	for _, n := range guarded {
		if _, err := tx.Exec(ctx, "ALTER TABLE "+quote(n)+" DISABLE TRIGGER USER"); err != nil {
			return fmt.Errorf("copy: clear the target's %s: %w", n, err)
		}
	}
	names := make([]string, len(full))
	for i, n := range full {
		names[i] = quote(n)
	}
	// CASCADE takes along the empty tables that refer to these, which
	// PostgreSQL will not leave behind a TRUNCATE.
	if _, err := tx.Exec(ctx, "TRUNCATE "+strings.Join(names, ", ")+" CASCADE"); err != nil {
		return fmt.Errorf("copy: clear the target: %w", err)
	}
	for _, n := range guarded {
		if _, err := tx.Exec(ctx, "ALTER TABLE "+quote(n)+" ENABLE TRIGGER USER"); err != nil {
			return fmt.Errorf("copy: clear the target's %s: %w", n, err)
		}
	}
	return nil
}

// progressEvery is how many rows pass between progress reports.
const progressEvery = 2000

// copyTable streams one table from the snapshot into the target with
// COPY, converting each value to the target column's type.
func copyTable(ctx context.Context, tx pgx.Tx, stx *sql.Tx, t table, progress func(int64)) (int64, error) {
	names := make([]string, len(t.cols))
	quoted := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i], quoted[i] = c.name, quote(c.name)
	}
	rows, err := stx.QueryContext(ctx, "SELECT "+strings.Join(quoted, ", ")+" FROM "+quote(t.name))
	if err != nil {
		return 0, fmt.Errorf("copy: read %s: %w", t.name, err)
	}
	defer rows.Close()
	s := &rowSource{rows: rows, t: t, raw: make([]any, len(t.cols)), ptrs: make([]any, len(t.cols)), progress: progress}
	for i := range s.raw {
		s.ptrs[i] = &s.raw[i]
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, names, s)
	if err != nil {
		if s.err != nil {
			err = s.err
		}
		return n, fmt.Errorf("copy: write %s: %w", t.name, err)
	}
	progress(s.pending)
	return n, nil
}

// rowSource feeds COPY from the source's rows.
type rowSource struct {
	rows     *sql.Rows
	t        table
	raw      []any
	ptrs     []any
	err      error
	pending  int64
	progress func(int64)
}

func (s *rowSource) Next() bool {
	if s.err != nil || !s.rows.Next() {
		return false
	}
	if s.pending++; s.pending == progressEvery {
		s.progress(s.pending)
		s.pending = 0
	}
	return true
}

func (s *rowSource) Values() ([]any, error) {
	if err := s.rows.Scan(s.ptrs...); err != nil {
		s.err = fmt.Errorf("read %s: %w", s.t.name, err)
		return nil, s.err
	}
	out := make([]any, len(s.raw))
	for i, v := range s.raw {
		c := s.t.cols[i]
		cv, err := convert(v, c.kind)
		if err != nil {
			s.err = fmt.Errorf("%s.%s: %w", s.t.name, c.name, err)
			return nil, s.err
		}
		out[i] = cv
	}
	return out, nil
}

func (s *rowSource) Err() error {
	if s.err != nil {
		return s.err
	}
	return s.rows.Err()
}

// timeLayouts are the ways a time can sit in a SQLite text column: the
// driver's own format (_time_format=sqlite), RFC 3339, and bare dates and
// times, which are UTC.
var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999-07:00",
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// convert turns a value read from SQLite into what the PostgreSQL column
// of kind takes: SQLite keeps booleans as 0 and 1 and times as text or
// numbers, where PostgreSQL has boolean and timestamptz (always UTC here).
func convert(v any, kind string) (any, error) {
	if v == nil {
		return nil, nil
	}
	if b, ok := v.([]byte); ok {
		if kind == "bytes" {
			// A BLOB stays bytes: as a string PostgreSQL would read it
			// as bytea's escaped text form.
			return bytes.Clone(b), nil
		}
		v = string(b)
	}
	switch kind {
	case "bool":
		switch x := v.(type) {
		case bool:
			return x, nil
		case int64:
			return x != 0, nil
		case float64:
			return x != 0, nil
		case string:
			b, err := strconv.ParseBool(x)
			if err != nil {
				return nil, fmt.Errorf("%q is not a boolean", x)
			}
			return b, nil
		}
	case "time":
		switch x := v.(type) {
		case time.Time:
			return x.UTC(), nil
		case int64:
			return time.Unix(x, 0).UTC(), nil
		case string:
			for _, l := range timeLayouts {
				if t, err := time.Parse(l, strings.TrimSpace(x)); err == nil {
					return t.UTC(), nil
				}
			}
			return nil, fmt.Errorf("%q is not a time", x)
		}
	case "int":
		switch x := v.(type) {
		case int64:
			return x, nil
		case float64:
			if x != float64(int64(x)) {
				return nil, fmt.Errorf("%v is not a whole number", x)
			}
			return int64(x), nil
		case string:
			n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not a whole number", x)
			}
			return n, nil
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		}
	case "text":
		switch x := v.(type) {
		case string:
			return x, nil
		case int64:
			return strconv.FormatInt(x, 10), nil
		case float64:
			return strconv.FormatFloat(x, 'g', -1, 64), nil
		case time.Time:
			return x.UTC().Format(time.RFC3339Nano), nil
		}
	default:
		return v, nil
	}
	return nil, fmt.Errorf("cannot store a %T as %s", v, kind)
}

// schemaVersion is the highest migration applied.
func schemaVersion(ctx context.Context, q db.Querier) (int, error) {
	var v sql.NullInt64
	if err := q.QueryRowContext(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("read the schema version (is it a mistore database?): %w", err)
	}
	return int(v.Int64), nil
}

// targetTables lists the target's tables in foreign-key order (a table
// after those it refers to), with their columns, from PostgreSQL's
// catalog: the migrations are the one description of the schema.
func targetTables(ctx context.Context, q db.Querier) ([]table, error) {
	seeded, err := seededTables()
	if err != nil {
		return nil, err
	}
	byName := map[string]*table{}
	var order []string
	// pg_catalog rather than information_schema: the same answer, many
	// times faster on a database with many schemas.
	err = db.EachRow(ctx, q, `SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
			a.attgenerated <> '', a.attidentity <> ''
		FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
		WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
			AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY c.relname, a.attnum`, nil, func(r *sql.Rows) error {
		var tn, cn, typ string
		var gen, ident bool
		if err := r.Scan(&tn, &cn, &typ, &gen, &ident); err != nil {
			return err
		}
		if tn == "schema_migrations" {
			return nil
		}
		t := byName[tn]
		if t == nil {
			t = &table{name: tn, seeded: seeded[tn]}
			byName[tn] = t
			order = append(order, tn)
		}
		if gen {
			return nil // computed by PostgreSQL (products.search)
		}
		if ident {
			t.identity = cn
		}
		t.cols = append(t.cols, column{name: cn, kind: kindOf(typ)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("copy: read the target's tables: %w", err)
	}
	if len(order) == 0 {
		return nil, errors.New("copy: the target has no tables after migrating: check the search_path of the URL")
	}
	refs := map[string][]string{}
	err = db.EachRow(ctx, q, `SELECT c.relname, p.relname FROM pg_constraint k
		JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid
		WHERE k.contype = 'f' AND c.relnamespace = current_schema()::regnamespace`, nil, func(r *sql.Rows) error {
		var from, to string
		if err := r.Scan(&from, &to); err != nil {
			return err
		}
		if from != to {
			refs[from] = append(refs[from], to)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("copy: read the target's foreign keys: %w", err)
	}
	sorted, err := fkOrder(order, refs)
	if err != nil {
		return nil, err
	}
	out := make([]table, len(sorted))
	for i, n := range sorted {
		out[i] = *byName[n]
	}
	return out, nil
}

// fkOrder sorts names so that every table comes after the tables it
// refers to; ties keep alphabetical order, so the order is stable.
func fkOrder(names []string, refs map[string][]string) ([]string, error) {
	sort.Strings(names)
	placed := map[string]bool{}
	var out []string
	for len(out) < len(names) {
		progressed := false
		for _, n := range names {
			if placed[n] {
				continue
			}
			ready := true
			for _, r := range refs[n] {
				if !placed[r] && slices.Contains(names, r) {
					ready = false
					break
				}
			}
			if ready {
				placed[n] = true
				out = append(out, n)
				progressed = true
			}
		}
		if !progressed {
			return nil, errors.New("copy: the target's foreign keys form a cycle")
		}
	}
	return out, nil
}

func kindOf(pgType string) string {
	switch pgType {
	case "boolean":
		return "bool"
	case "timestamp with time zone", "timestamp without time zone", "date":
		return "time"
	case "bigint", "integer", "smallint":
		return "int"
	case "text", "character varying", "character":
		return "text"
	case "bytea":
		return "bytes"
	}
	return "other"
}

var insertInto = regexp.MustCompile(`(?i)INSERT\s+INTO\s+"?(\w+)`)

// seededTables are the tables the migrations put rows in (markets,
// shipping methods, ...): they hold those rows in an empty store.
func seededTables() (map[string]bool, error) {
	ms, err := db.Migrations(db.Postgres)
	if err != nil {
		return nil, fmt.Errorf("copy: %w", err)
	}
	out := map[string]bool{}
	for _, m := range ms {
		for _, g := range insertInto.FindAllStringSubmatch(m.SQL, -1) {
			out[strings.ToLower(g[1])] = true
		}
	}
	return out, nil
}

// checkSourceTables makes sure the source has every table and column the
// target will be filled with.
func checkSourceTables(ctx context.Context, stx *sql.Tx, tables []table) error {
	for _, t := range tables {
		have := map[string]bool{}
		err := db.EachRow(ctx, stx, "SELECT name FROM pragma_table_info($1)", []any{t.name}, func(r *sql.Rows) error {
			var n string
			if err := r.Scan(&n); err != nil {
				return err
			}
			have[n] = true
			return nil
		})
		if err != nil {
			return fmt.Errorf("copy: read the source's table %s: %w", t.name, err)
		}
		if len(have) == 0 {
			return fmt.Errorf("copy: the source has no table %s", t.name)
		}
		for _, c := range t.cols {
			if !have[c.name] {
				return fmt.Errorf("copy: the source's table %s has no column %s", t.name, c.name)
			}
		}
	}
	return nil
}

// checkEmpty refuses a target with store data in it, unless force.
func checkEmpty(ctx context.Context, tx pgx.Tx, tables []table, force bool) error {
	if force {
		return nil
	}
	var full []string
	for _, t := range tables {
		if t.seeded || housekeepingTables[t.name] {
			continue
		}
		n, err := count(ctx, pgxQuerier{tx}, t.name)
		if err != nil {
			return fmt.Errorf("copy: count target %s: %w", t.name, err)
		}
		if n > 0 {
			full = append(full, fmt.Sprintf("%s (%d rows)", t.name, n))
		}
	}
	if len(full) > 0 {
		return &NotEmptyError{Tables: full}
	}
	return nil
}

// moneySums are the money the check adds up on both sides, by currency.
var moneySums = []struct{ what, query string }{
	{"orders.total", "SELECT currency, '', CAST(sum(total) AS BIGINT) FROM orders GROUP BY currency"},
	{"orders.paid_amount", "SELECT currency, '', CAST(sum(paid_amount) AS BIGINT) FROM orders GROUP BY currency"},
	{"orders.refunded_amount", "SELECT currency, '', CAST(sum(refunded_amount) AS BIGINT) FROM orders GROUP BY currency"},
	{"payments", "SELECT currency, kind || ' ' || status, CAST(sum(amount) AS BIGINT) FROM payments GROUP BY currency, kind, status"},
	{"order_refunds", "SELECT currency, status, CAST(sum(amount) AS BIGINT) FROM order_refunds GROUP BY currency, status"},
	{"order_disputes", "SELECT currency, status, CAST(sum(amount) AS BIGINT) FROM order_disputes GROUP BY currency, status"},
}

// moneyTotals reads the money sums from q; with into set, it fills in the
// target side of into's totals (adding any the source lacks) instead.
func moneyTotals(ctx context.Context, q querier, into []Total) ([]Total, error) {
	idx := map[string]int{}
	for i, t := range into {
		idx[t.What+"\x00"+t.Currency] = i
		into[i].Target = 0
	}
	out := into
	for _, s := range moneySums {
		err := q.each(ctx, s.query, func(scan func(...any) error) error {
			var cur, sub string
			var sum int64
			if err := scan(&cur, &sub, &sum); err != nil {
				return err
			}
			what := s.what
			if sub != "" {
				what += " " + sub
			}
			if into == nil {
				out = append(out, Total{What: what, Currency: cur, Source: sum})
				return nil
			}
			if i, ok := idx[what+"\x00"+cur]; ok {
				out[i].Target = sum
			} else {
				out = append(out, Total{What: what, Currency: cur, Target: sum})
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("sum %s: %w", s.what, err)
		}
	}
	return out, nil
}

// targetCounts fills in the target side of rep.
func targetCounts(ctx context.Context, q querier, rep *Report) error {
	for i, t := range rep.Tables {
		n, err := count(ctx, q, t.Table)
		if err != nil {
			return fmt.Errorf("count %s: %w", t.Table, err)
		}
		rep.Tables[i].Target = n
	}
	totals, err := moneyTotals(ctx, q, rep.Totals)
	if err != nil {
		return err
	}
	rep.Totals = totals
	return nil
}

// quote makes name a SQL identifier.
func quote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// querier is the little the check needs, from database/sql (the
// source's snapshot, the committed target) or from pgx (the copy's own
// transaction, before it commits).
type querier interface {
	each(ctx context.Context, query string, fn func(scan func(...any) error) error) error
}

type sqlQuerier struct{ q db.Querier }

func (s sqlQuerier) each(ctx context.Context, query string, fn func(scan func(...any) error) error) error {
	return db.EachRow(ctx, s.q, query, nil, func(r *sql.Rows) error { return fn(r.Scan) })
}

type pgxQuerier struct{ tx pgx.Tx }

func (p pgxQuerier) each(ctx context.Context, query string, fn func(scan func(...any) error) error) error {
	rows, err := p.tx.Query(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// count returns the rows of table.
func count(ctx context.Context, q querier, table string) (int64, error) {
	var n int64
	err := q.each(ctx, "SELECT count(*) FROM "+quote(table), func(scan func(...any) error) error { return scan(&n) })
	return n, err
}
