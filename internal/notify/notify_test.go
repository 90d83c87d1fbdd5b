package notify_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/jobs"
	"mistore/internal/money"
	"mistore/internal/notify"
)

const testFrom = "Mistore <orders@mistore.test>"

// sampleOrder is a US order of two lines with a discount.
func sampleOrder() notify.OrderEmail {
	usd := func(a int64) money.Money { return money.New(a, "USD") }
	return notify.OrderEmail{
		Number:       "US-100001",
		MarketName:   "United States",
		Email:        "ada@example.com",
		CustomerName: "Ada Lovelace",
		Lines: []notify.OrderEmailLine{
			{Name: "Mi Smart Band 9", Variant: "Midnight Black", Quantity: 2, UnitPrice: usd(3999), Total: usd(7998)},
			{Name: "Power Bank 20000mAh", Quantity: 1, UnitPrice: usd(2999), Total: usd(2999)},
		},
		Subtotal:        usd(10997),
		Discount:        usd(1000),
		Shipping:        usd(599),
		Tax:             usd(880),
		Total:           usd(11476),
		ShippingAddress: []string{"Ada Lovelace", "1 Main Street", "Springfield, IL 62701", "United States"},
		ShippingMethod:  "Standard (3-5 business days)",
		URL:             "https://shop.example/us/orders/US-100001?token=abc123",
		CreatedAt:       time.Date(2026, 11, 27, 12, 30, 0, 0, time.UTC),
	}
}

func confirmation(t *testing.T, o notify.OrderEmail) notify.Message {
	t.Helper()
	msg, err := notify.OrderConfirmation(o)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func queue(t *testing.T, d *db.DB, m *notify.Mailer, msg notify.Message) {
	t.Helper()
	ctx := context.Background()
	if err := d.Tx(ctx, func(tx db.Querier) error { return m.Queue(ctx, tx, msg) }); err != nil {
		t.Fatal(err)
	}
}

// smtpSender returns a sender for a plain-text loopback server.
func smtpSender(t *testing.T, addr, query string) *notify.SMTPSender {
	t.Helper()
	s, err := notify.NewSMTPSender("smtp://" + addr + "?tls=none" + query)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func runDue(t *testing.T, r *jobs.Runner, want int) {
	t.Helper()
	n, err := r.RunDue(context.Background())
	if err != nil || n != want {
		t.Fatalf("RunDue = %d, %v; want %d jobs", n, err, want)
	}
}

type jobRow struct {
	State     string
	Attempts  int
	LastError string
}

func sendJobs(t *testing.T, d *db.DB) []jobRow {
	t.Helper()
	rows, err := d.Read.Query("SELECT state, attempts, last_error FROM jobs WHERE kind = $1 ORDER BY id", notify.JobSend)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []jobRow
	for rows.Next() {
		var j jobRow
		if err := rows.Scan(&j.State, &j.Attempts, &j.LastError); err != nil {
			t.Fatal(err)
		}
		out = append(out, j)
	}
	return out
}

func outbox(t *testing.T, m *notify.Mailer) []notify.Email {
	t.Helper()
	list, err := m.Outbox(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// parsed is a received message taken apart.
type parsed struct {
	Header      mail.Header
	Subject     string
	ContentType string
	Text, HTML  string
}

func parseMessage(t *testing.T, data []byte) parsed {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("read message: %v\n%s", err, data)
	}
	p := parsed{Header: msg.Header}
	if p.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type: %v", err)
	}
	p.ContentType = mt
	if mt != "multipart/alternative" {
		return p
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		// Quoted-printable parts are decoded by the reader; base64 is not.
		var r io.Reader = part
		if strings.EqualFold(part.Header.Get("Content-Transfer-Encoding"), "base64") {
			r = base64.NewDecoder(base64.StdEncoding, part)
		}
		body, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		pt, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		switch pt {
		case "text/plain":
			p.Text = string(body)
		case "text/html":
			p.HTML = string(body)
		default:
			t.Errorf("unexpected part %s", pt)
		}
	}
	return p
}

func TestSendOrderConfirmation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		srv, m, r := smtpMailer(t, d, smtpOptions{})

		queue(t, d, m, confirmation(t, sampleOrder()))
		runDue(t, r, 1)

		got := srv.Messages()
		if len(got) != 1 {
			t.Fatalf("server received %d messages, want 1", len(got))
		}
		if got[0].From != "orders@mistore.test" || len(got[0].To) != 1 || got[0].To[0] != "ada@example.com" {
			t.Errorf("envelope from %q to %q", got[0].From, got[0].To)
		}
		p := parseMessage(t, got[0].Data)
		if to := p.Header.Get("To"); !strings.Contains(to, "ada@example.com") {
			t.Errorf("To: %q", to)
		}
		if from := p.Header.Get("From"); !strings.Contains(from, "orders@mistore.test") {
			t.Errorf("From: %q", from)
		}
		if p.Subject != "Your Mistore order US-100001" {
			t.Errorf("Subject: %q", p.Subject)
		}
		if id := p.Header.Get("Message-Id"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@mistore.test>") {
			t.Errorf("Message-ID: %q", id)
		}
		if p.ContentType != "multipart/alternative" {
			t.Fatalf("Content-Type %s", p.ContentType)
		}
		if !strings.Contains(p.Text, "Order US-100001") || !strings.Contains(p.Text, "$114.76") {
			t.Errorf("text part:\n%s", p.Text)
		}
		if !strings.Contains(p.HTML, "<html") || !strings.Contains(p.HTML, "Mi Smart Band 9") || !strings.Contains(p.HTML, `href="https://shop.example/us/orders/US-100001?token=abc123"`) {
			t.Errorf("HTML part:\n%s", p.HTML)
		}

		list := outbox(t, m)
		if len(list) != 1 || !list[0].Sent() || list[0].LastError != "" {
			t.Fatalf("outbox %+v", list)
		}
		if list[0].Kind != notify.KindOrderConfirmation || list[0].To != "ada@example.com" || list[0].UniqueKey != "order-confirmation:US-100001" {
			t.Errorf("outbox row %+v", list[0])
		}

		// The job is done: running again finds nothing, and the handler run
		// again on the same email (a retried job) sends nothing.
		runDue(t, r, 0)
		payload := fmt.Sprintf(`{"email_id":%d}`, list[0].ID)
		if err := m.HandleSend(ctx, jobs.Job{ID: 1, Kind: notify.JobSend, Payload: []byte(payload), Attempts: 2}); err != nil {
			t.Fatal(err)
		}
		if n := len(srv.Messages()); n != 1 {
			t.Errorf("server received %d messages after a rerun, want 1", n)
		}
		if j := sendJobs(t, d); len(j) != 0 {
			t.Errorf("a finished send job left %+v", j)
		}

		// A crash after the server took the message but before sent_at was
		// written: the retry sends it again, with the same Message-ID, so
		// the receiver can tell it is the same message.
		if _, err := d.Write.Exec("UPDATE emails SET sent_at = NULL WHERE id = $1", list[0].ID); err != nil {
			t.Fatal(err)
		}
		if err := m.HandleSend(ctx, jobs.Job{ID: 1, Kind: notify.JobSend, Payload: []byte(payload), Attempts: 3}); err != nil {
			t.Fatal(err)
		}
		got = srv.Messages()
		if len(got) != 2 {
			t.Fatalf("server received %d messages, want the resend too", len(got))
		}
		if first, again := p.Header.Get("Message-Id"), parseMessage(t, got[1].Data).Header.Get("Message-Id"); first != again {
			t.Errorf("the resend has Message-ID %s, the first %s", again, first)
		}
	})
}

func TestQueueIsIdempotentAndTransactional(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		// A sender (never reached here), so that queueing also queues a send job.
		m := notify.NewMailer(d, smtpSender(t, "127.0.0.1:1", ""), testFrom, nil)
		msg := confirmation(t, sampleOrder())
		queue(t, d, m, msg)
		queue(t, d, m, msg)
		// Both in one transaction too.
		if err := d.Tx(ctx, func(tx db.Querier) error {
			if err := m.Queue(ctx, tx, msg); err != nil {
				return err
			}
			return m.Queue(ctx, tx, msg)
		}); err != nil {
			t.Fatal(err)
		}
		if list := outbox(t, m); len(list) != 1 {
			t.Errorf("outbox has %d emails, want 1", len(list))
		}
		if j := sendJobs(t, d); len(j) != 1 {
			t.Errorf("%d send jobs, want 1", len(j))
		}

		// A rolled-back transaction leaves neither email nor job.
		other := msg
		other.UniqueKey = "order-confirmation:US-100002"
		err := d.Tx(ctx, func(tx db.Querier) error {
			if err := m.Queue(ctx, tx, other); err != nil {
				return err
			}
			return errors.New("payment failed")
		})
		if err == nil {
			t.Fatal("rollback expected")
		}
		if list := outbox(t, m); len(list) != 1 {
			t.Errorf("outbox has %d emails after a rollback, want 1", len(list))
		}
		if j := sendJobs(t, d); len(j) != 1 {
			t.Errorf("%d send jobs after a rollback, want 1", len(j))
		}

		// Messages that could never be sent are refused at the door.
		for _, bad := range []func(*notify.Message){
			func(m *notify.Message) { m.To = "not an address" },
			func(m *notify.Message) { m.Subject = "two\r\nBcc: evil@example.com" },
			func(m *notify.Message) { m.UniqueKey = "" },
			func(m *notify.Message) { m.Text = "" },
		} {
			b := msg
			b.UniqueKey = "bad"
			bad(&b)
			if err := d.Tx(ctx, func(tx db.Querier) error { return m.Queue(ctx, tx, b) }); err == nil {
				t.Errorf("Queue(%+v) succeeded", b)
			}
		}
	})
}

func TestNoSenderKeepsEmailInOutbox(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		m := notify.NewMailer(d, nil, testFrom, nil)
		if m.Delivers() {
			t.Error("a mailer without a sender says it delivers")
		}
		r := jobs.NewRunner(d, nil)
		m.Register(r)
		queue(t, d, m, confirmation(t, sampleOrder()))
		// Without a sender nothing is queued to send: the email just waits
		// in the outbox.
		runDue(t, r, 0)
		if j := sendJobs(t, d); len(j) != 0 {
			t.Errorf("jobs %+v", j)
		}
		list := outbox(t, m)
		if len(list) != 1 || list[0].Sent() {
			t.Fatalf("outbox %+v", list)
		}
		e, err := m.Email(ctx, list[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(e.Text, "US-100001") || !strings.Contains(e.HTML, "US-100001") || list[0].Text != "" {
			t.Errorf("bodies: the list should have none, Email both; got list %q, email %q", list[0].Text, e.Text)
		}
		if _, err := m.Email(ctx, e.ID+1000); !errors.Is(err, notify.ErrNotFound) {
			t.Errorf("Email(unknown) = %v, want ErrNotFound", err)
		}
	})
}

func TestOutboxNewestFirst(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		m := notify.NewMailer(d, nil, testFrom, nil)
		for i := range 3 {
			o := sampleOrder()
			o.Number = fmt.Sprintf("US-10000%d", i+1)
			queue(t, d, m, confirmation(t, o))
		}
		list := outbox(t, m)
		if len(list) != 3 || list[0].Subject != "Your Mistore order US-100003" || list[2].Subject != "Your Mistore order US-100001" {
			t.Errorf("outbox order: %+v", list)
		}
		if l, err := m.Outbox(context.Background(), 2); err != nil || len(l) != 2 {
			t.Errorf("Outbox(2) = %d, %v", len(l), err)
		}
	})
}

func TestSMTPServerDownIsRetried(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		// A port nobody listens on.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		m := notify.NewMailer(d, smtpSender(t, addr, ""), testFrom, nil)
		r := jobs.NewRunner(d, nil)
		m.Register(r)
		queue(t, d, m, confirmation(t, sampleOrder()))
		runDue(t, r, 1)
		j := sendJobs(t, d)
		if len(j) != 1 || j[0].State != "pending" || j[0].Attempts != 1 || j[0].LastError == "" {
			t.Fatalf("jobs %+v, want one pending with an error", j)
		}
		list := outbox(t, m)
		if len(list) != 1 || list[0].Sent() || list[0].LastError == "" {
			t.Errorf("outbox %+v, want unsent with the error", list)
		}
	})
}

func TestRecipientRejectedIsNotRetried(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		_, m, r := smtpMailer(t, d, smtpOptions{rejectRcpt: &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}})
		queue(t, d, m, confirmation(t, sampleOrder()))
		runDue(t, r, 1)
		if j := sendJobs(t, d); len(j) != 1 || j[0].State != "failed" || !strings.Contains(j[0].LastError, "No such user") {
			t.Errorf("jobs %+v, want one failed for good", j)
		}
		if list := outbox(t, m); len(list) != 1 || list[0].Sent() || !strings.Contains(list[0].LastError, "No such user") {
			t.Errorf("outbox %+v", list)
		}
	})
}

// syncBuffer is a log destination safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestSMTPPasswordNeverShown(t *testing.T) {
	const secret = "s3cret-Pa55word"
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		var logs syncBuffer
		log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		srv := startSMTP(t, smtpOptions{user: "shop", pass: "the-right-one"})

		wrong, err := notify.NewSMTPSender("smtp://shop:" + secret + "@" + srv.Addr + "?tls=none&auth=plain")
		if err != nil {
			t.Fatal(err)
		}
		log.Info("mail server", "sender", wrong)
		shown := []string{fmt.Sprint(wrong), fmt.Sprintf("%+v", wrong), fmt.Sprintf("%#v", wrong)}

		m := notify.NewMailer(d, wrong, testFrom, log)
		r := jobs.NewRunner(d, log)
		m.Register(r)
		queue(t, d, m, confirmation(t, sampleOrder()))
		runDue(t, r, 1)
		if len(srv.Messages()) != 0 {
			t.Fatal("a wrong password delivered mail")
		}
		j := sendJobs(t, d)
		if len(j) != 1 || j[0].State != "pending" || !strings.Contains(j[0].LastError, "535") {
			t.Errorf("jobs %+v, want pending after an authentication failure", j)
		}
		list := outbox(t, m)
		shown = append(shown, j[0].LastError, list[0].LastError)
		err = m.HandleSend(ctx, jobs.Job{ID: 1, Kind: notify.JobSend, Payload: fmt.Appendf(nil, `{"email_id":%d}`, list[0].ID), Attempts: 2})
		if err == nil {
			t.Fatal("HandleSend with a wrong password succeeded")
		}
		shown = append(shown, err.Error())

		// Bad URLs holding a password say what is wrong without it.
		for _, u := range []string{
			"smtp://shop:" + secret + "@mail.example.com:notaport",
			"smtp://shop:" + secret + "@mail.example.com:99999",
			"ftp://shop:" + secret + "@mail.example.com",
			"smtp://shop:" + secret + "@mail.example.com/path",
			"smtp://shop:" + secret + "@mail.example.com?tls=maybe",
			"smtp://shop:" + secret + "@mail.example.com?bogus=1",
			"smtp://shop:" + secret + "@mail.example.com?from=nobody",
			"smtps://shop:" + secret + "@mail.example.com?tls=none",
			"smtp://:" + secret + "@mail.example.com",
			"smtp://shop:" + secret + "@[::1",
			"smtp://shop:" + secret + "@mail.example.com?auth=magic",
		} {
			_, err := notify.NewSMTPSender(u)
			if err == nil {
				t.Errorf("NewSMTPSender(%q) accepted it", u)
				continue
			}
			shown = append(shown, err.Error())
		}
		shown = append(shown, logs.String())
		for _, s := range shown {
			if strings.Contains(s, secret) {
				t.Errorf("the password shows in %q", s)
			}
		}
		if !strings.Contains(logs.String(), "job will be retried") {
			t.Errorf("the failure was not logged:\n%s", logs.String())
		}

		// With the right password the same email goes out.
		right, err := notify.NewSMTPSender("smtp://shop:the-right-one@" + srv.Addr + "?tls=none&auth=plain")
		if err != nil {
			t.Fatal(err)
		}
		m = notify.NewMailer(d, right, testFrom, log)
		if err := m.HandleSend(ctx, jobs.Job{ID: 1, Kind: notify.JobSend, Payload: fmt.Appendf(nil, `{"email_id":%d}`, list[0].ID), Attempts: 3}); err != nil {
			t.Fatal(err)
		}
		if got := srv.Messages(); len(got) != 1 || got[0].User != "shop" {
			t.Errorf("server received %+v", got)
		}
	})
}

// testTLS returns a server certificate for 127.0.0.1 and a client
// configuration that trusts it.
func testTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	ts := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(ts.Close)
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	return &tls.Config{Certificates: ts.TLS.Certificates}, &tls.Config{RootCAs: pool}
}

func TestSMTPTLS(t *testing.T) {
	serverTLS, clientTLS := testTLS(t)
	env := notify.Envelope{From: testFrom, To: "ada@example.com", Subject: "TLS", Text: "hello", HTML: "<p>hello</p>", MessageID: "tls-test@mistore.test"}
	for _, tt := range []struct {
		name   string
		opts   smtpOptions
		url    string
		trust  bool
		tls    bool
		failed bool
	}{
		{name: "smtps", opts: smtpOptions{tls: serverTLS, implicitTLS: true, user: "shop", pass: "pw"}, url: "smtps://shop:pw@%s", trust: true, tls: true},
		{name: "starttls offered", opts: smtpOptions{tls: serverTLS, user: "shop", pass: "pw"}, url: "smtp://shop:pw@%s?auth=plain", trust: true, tls: true},
		{name: "starttls not offered", opts: smtpOptions{}, url: "smtp://%s", tls: false},
		{name: "starttls required but not offered", opts: smtpOptions{}, url: "smtp://%s?tls=required", failed: true},
		{name: "untrusted certificate", opts: smtpOptions{tls: serverTLS, implicitTLS: true}, url: "smtps://%s", failed: true},
		{name: "tls none", opts: smtpOptions{tls: serverTLS}, url: "smtp://%s?tls=none", tls: false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSMTP(t, tt.opts)
			s, err := notify.NewSMTPSender(fmt.Sprintf(tt.url, srv.Addr))
			if err != nil {
				t.Fatal(err)
			}
			if tt.trust {
				s.TLSConfig = clientTLS
			}
			err = s.Send(context.Background(), env)
			if tt.failed {
				if err == nil {
					t.Fatal("Send succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := srv.Messages()
			if len(got) != 1 || got[0].TLS != tt.tls {
				t.Fatalf("received %+v, want one message with TLS %v", got, tt.tls)
			}
			if p := parseMessage(t, got[0].Data); p.Text != "hello" || p.HTML != "<p>hello</p>" || p.Header.Get("Message-Id") != "<tls-test@mistore.test>" {
				t.Errorf("message %+v", p)
			}
		})
	}
}

func TestNewSMTPSender(t *testing.T) {
	for _, u := range []string{
		"smtp://mail.example.com",
		"smtp://mail.example.com:25?tls=required",
		"smtps://user%40example.com:p%40ss@mail.example.com?from=bounces%40example.com",
		"smtp://user:pass@127.0.0.1:2525?tls=none&auth=plain",
		"smtp://user:pass@mail.example.com?auth=scram-sha-256",
	} {
		s, err := notify.NewSMTPSender(u)
		if err != nil {
			t.Errorf("NewSMTPSender(%q): %v", u, err)
			continue
		}
		if strings.Contains(s.String(), "pass") && strings.Contains(u, ":pass@") {
			t.Errorf("String() = %q shows the password", s)
		}
	}
	for _, u := range []string{"", "mail.example.com", "http://mail.example.com", "smtp://", "smtp://mail.example.com?auth=plain"} {
		if _, err := notify.NewSMTPSender(u); err == nil {
			t.Errorf("NewSMTPSender(%q) accepted it", u)
		}
	}
}

// TestListUnsubscribe: an email from a list goes out with List-Unsubscribe
// and one-click unsubscribing (RFC 8058); others go without; an address
// that could break out of the header is refused before anything is
// queued.
func TestListUnsubscribe(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		srv, m, r := smtpMailer(t, d, smtpOptions{})

		listed := notify.Message{Kind: "waitlist_available", To: "ada@example.com", Subject: "The band is available", Text: "It is.",
			UniqueKey: "list-1", Unsubscribe: "https://shop.example/us/waitlist/unsubscribe?t=abc.def"}
		queue(t, d, m, listed)
		queue(t, d, m, notify.Message{Kind: "other", To: "ada@example.com", Subject: "Not from a list", Text: "Hi.", UniqueKey: "plain-1"})
		runDue(t, r, 2)
		got := srv.Messages()
		if len(got) != 2 {
			t.Fatalf("server received %d messages, want 2", len(got))
		}
		for _, g := range got {
			p := parseMessage(t, g.Data)
			lu, post := p.Header.Get("List-Unsubscribe"), p.Header.Get("List-Unsubscribe-Post")
			switch p.Subject {
			case listed.Subject:
				if lu != "<"+listed.Unsubscribe+">" || post != "List-Unsubscribe=One-Click" {
					t.Errorf("list email: List-Unsubscribe %q, List-Unsubscribe-Post %q", lu, post)
				}
			default:
				if lu != "" || post != "" {
					t.Errorf("%q carries List-Unsubscribe %q %q", p.Subject, lu, post)
				}
			}
		}

		for i, bad := range []string{"javascript:alert(1)", "/us/waitlist/unsubscribe", "https://shop.example/x>\r\nBcc: eve@example.com", "https://shop.example/a b", "mailto:x@example.com"} {
			msg := listed
			msg.UniqueKey, msg.Unsubscribe = fmt.Sprintf("bad-%d", i), bad
			err := d.Tx(ctx, func(tx db.Querier) error { return m.Queue(ctx, tx, msg) })
			if err == nil {
				t.Errorf("unsubscribe address %q accepted", bad)
			}
		}
		var n int
		if err := d.Read.QueryRow("SELECT count(*) FROM emails WHERE unique_key LIKE 'bad-%'").Scan(&n); err != nil || n != 0 {
			t.Errorf("%d refused emails in the outbox, %v", n, err)
		}
	})
}
