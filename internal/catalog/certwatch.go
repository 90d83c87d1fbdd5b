package catalog

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"mistore/internal/audit"
	"mistore/internal/db"
	"mistore/internal/jobs"
	"mistore/internal/notify"
)

// JobCertificateWatch is the kind of the daily job that warns staff of
// certificates about to expire.
const JobCertificateWatch = "catalog.certificate_watch"

// KindCertificateExpiry is the kind of the warning email.
const KindCertificateExpiry = "certificate_expiry"

// watchHour is the hour (UTC) of the daily run: before the working day in
// the store's markets.
const watchHour = 6

// CertWatch warns staff of certificates that end within
// CertificateWarningWindow while their product is listed in the market:
// once per certificate, by email to every enabled owner and manager. The
// moment one ends, the availability rule stops the sale on its own; the
// warning is there so that it does not come to that.
type CertWatch struct {
	db        *db.DB
	mailer    *notify.Mailer
	publicURL string
	now       func() time.Time
	log       *slog.Logger
}

// NewCertWatch returns the watch on d, mailing through mailer with links to
// the back office at publicURL. A nil now means time.Now.
func NewCertWatch(d *db.DB, mailer *notify.Mailer, publicURL string, now func() time.Time, log *slog.Logger) *CertWatch {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &CertWatch{db: d, mailer: mailer, publicURL: strings.TrimRight(publicURL, "/"), now: now, log: log}
}

// Register makes r run the daily watch.
func (w *CertWatch) Register(r *jobs.Runner) { r.Handle(JobCertificateWatch, w.handle) }

// Schedule queues today's run, due now. Call it at start-up: the runs
// chain themselves from then on (each queues the next day's), and a run
// queued twice, or a day run twice, warns of nothing twice.
func (w *CertWatch) Schedule(ctx context.Context) error {
	now := w.now().UTC()
	return w.db.Tx(ctx, func(tx db.Querier) error {
		return enqueueWatch(ctx, tx, JobCertificateWatch+":"+now.Format(time.DateOnly), now)
	})
}

// enqueueWatch queues a run at at, once per key.
func enqueueWatch(ctx context.Context, tx db.Querier, key string, at time.Time) error {
	return jobs.Enqueue(ctx, tx, JobCertificateWatch, struct{}{}, jobs.Options{RunAt: at, UniqueKey: key})
}

func (w *CertWatch) handle(ctx context.Context, _ jobs.Job) error {
	_, err := w.Run(ctx)
	return err
}

// ExpiringCertificate is a certificate whose end staff were warned of.
type ExpiringCertificate struct {
	Slug        string
	ProductName string
	Market      string
	Scheme      string
	Reference   string
	ValidUntil  time.Time
}

func (c ExpiringCertificate) key(productID int64) string {
	return strings.Join([]string{strconv.FormatInt(productID, 10), c.Market, c.Scheme, c.Reference, c.ValidUntil.UTC().Format(time.RFC3339)}, "/")
}

// Run warns of every certificate newly found expiring and returns them.
// The warnings, their emails, their audit entries and the next day's run
// commit together: a crash before the commit leaves it all to the retry,
// and after it nothing is sent again.
func (w *CertWatch) Run(ctx context.Context) ([]ExpiringCertificate, error) {
	now := db.Time(w.now())
	horizon := now.Add(CertificateWarningWindow)
	var warned []ExpiringCertificate
	err := w.db.Tx(ctx, func(tx db.Querier) error {
		warned = nil
		type candidate struct {
			id int64
			c  ExpiringCertificate
		}
		var found []candidate
		// In force now, ends within the window, its product listed there,
		// and no other certificate of the scheme (a renewal) in force at
		// the window's end.
		err := db.EachRow(ctx, tx, `SELECT c.product_id, p.slug, p.name, c.market, c.scheme, c.reference, c.valid_until
			FROM certifications c
			JOIN products p ON p.id = c.product_id
			JOIN listings l ON l.product_id = c.product_id AND l.market = c.market AND l.listed
			WHERE c.valid_until IS NOT NULL AND c.valid_from <= $1 AND c.valid_until > $1 AND c.valid_until <= $2
			  AND NOT EXISTS (SELECT 1 FROM certifications r
				WHERE r.product_id = c.product_id AND r.market = c.market AND r.scheme = c.scheme
				  AND r.valid_from <= $2 AND (r.valid_until IS NULL OR r.valid_until > $2))
			ORDER BY c.valid_until, p.slug, c.market, c.scheme, c.reference`, []any{now, horizon}, func(rows *sql.Rows) error {
			var cand candidate
			if err := rows.Scan(&cand.id, &cand.c.Slug, &cand.c.ProductName, &cand.c.Market, &cand.c.Scheme, &cand.c.Reference, &cand.c.ValidUntil); err != nil {
				return err
			}
			cand.c.ValidUntil = cand.c.ValidUntil.UTC()
			found = append(found, cand)
			return nil
		})
		if err != nil {
			return fmt.Errorf("certificate watch: %w", err)
		}
		var keys []string
		for _, cand := range found {
			key := cand.c.key(cand.id)
			var got string
			err := tx.QueryRowContext(ctx, `INSERT INTO certificate_warnings (cert_key, product_id, market, scheme, reference, valid_until, warned_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (cert_key) DO NOTHING RETURNING cert_key`,
				key, cand.id, cand.c.Market, cand.c.Scheme, cand.c.Reference, cand.c.ValidUntil, now).Scan(&got)
			if errors.Is(err, sql.ErrNoRows) {
				continue // warned before
			}
			if err != nil {
				return fmt.Errorf("certificate watch: record %s: %w", key, err)
			}
			warned = append(warned, cand.c)
			keys = append(keys, key)
		}
		if len(warned) > 0 {
			n, err := w.mail(ctx, tx, warned, keys)
			if err != nil {
				return err
			}
			actor := audit.Actor{Kind: audit.KindSystem, Name: "certificate-watch"}
			for i, c := range warned {
				if _, err := tx.ExecContext(ctx, "UPDATE certificate_warnings SET recipients = $2 WHERE cert_key = $1", keys[i], n); err != nil {
					return fmt.Errorf("certificate watch: %w", err)
				}
				after := struct {
					Market     string    `json:"market"`
					Scheme     string    `json:"scheme"`
					Reference  string    `json:"reference"`
					ValidUntil time.Time `json:"valid_until"`
					Recipients int       `json:"recipients"`
				}{c.Market, c.Scheme, c.Reference, c.ValidUntil, n}
				if err := audit.RecordAs(ctx, tx, actor, "certificate.expiry_warning", "product:"+c.Slug, nil, after); err != nil {
					return err
				}
			}
		}
		// The next watchHour strictly after now: a run just after midnight
		// (a restart) still leaves this morning's run in place. Keyed by
		// the hour, not the day, so it never collides with the day's
		// catch-up run that Schedule queues, which may be this very job.
		next := time.Date(now.Year(), now.Month(), now.Day(), watchHour, 0, 0, 0, time.UTC)
		if !next.After(now) {
			next = next.AddDate(0, 0, 1)
		}
		return enqueueWatch(ctx, tx, JobCertificateWatch+":"+next.Format("2006-01-02T15"), next)
	})
	if err != nil {
		return nil, err
	}
	if len(warned) > 0 {
		w.log.InfoContext(ctx, "warned staff of expiring certificates", "count", len(warned))
	}
	return warned, nil
}

// mail queues one email listing certs to every enabled owner and manager,
// and returns how many were queued.
func (w *CertWatch) mail(ctx context.Context, tx db.Querier, certs []ExpiringCertificate, keys []string) (int, error) {
	type member struct {
		id          int64
		email, name string
	}
	var to []member
	err := db.EachRow(ctx, tx, `SELECT id, email, name FROM staff WHERE disabled_at IS NULL AND role IN ('owner', 'manager') ORDER BY id`, nil,
		func(rows *sql.Rows) error {
			var m member
			if err := rows.Scan(&m.id, &m.email, &m.name); err != nil {
				return err
			}
			to = append(to, m)
			return nil
		})
	if err != nil {
		return 0, fmt.Errorf("certificate watch: staff: %w", err)
	}
	if len(to) == 0 {
		w.log.WarnContext(ctx, "expiring certificates but no owner or manager to warn", "count", len(certs))
		return 0, nil
	}
	sum := sha256.Sum256([]byte(strings.Join(keys, "\n")))
	batch := hex.EncodeToString(sum[:8])
	subject := fmt.Sprintf("%d certificate(s) expire within 30 days", len(certs))
	var b strings.Builder
	b.WriteString("These certificates end within 30 days. When one ends, its product stops selling in that market until a renewal is entered.\n\n")
	markets := map[string]bool{}
	for _, c := range certs {
		fmt.Fprintf(&b, "- %s (%s), %s: %s %s ends on %s\n", c.ProductName, c.Slug, strings.ToUpper(c.Market), c.Scheme, c.Reference, c.ValidUntil.Format("January 2, 2006"))
		markets[c.Market] = true
	}
	if w.publicURL != "" {
		b.WriteString("\nLaunch readiness:\n")
		for _, c := range certs {
			if markets[c.Market] {
				fmt.Fprintf(&b, "  %s/admin/launch?market=%s\n", w.publicURL, c.Market)
				markets[c.Market] = false
			}
		}
	}
	for _, m := range to {
		greeting := "Hello,\n\n"
		if m.name != "" {
			greeting = "Hello " + m.name + ",\n\n"
		}
		msg := notify.Message{
			Kind: KindCertificateExpiry, To: m.email, Subject: subject, Text: greeting + b.String(),
			UniqueKey: "certificate-expiry:" + batch + ":" + strconv.FormatInt(m.id, 10),
		}
		if err := w.mailer.Queue(ctx, tx, msg); err != nil {
			return 0, fmt.Errorf("certificate watch: %w", err)
		}
	}
	return len(to), nil
}
