package notify_test

import (
	"crypto/tls"
	"io"
	"log"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"mistore/internal/db"
	"mistore/internal/jobs"
	"mistore/internal/notify"
)

// received is one message a test SMTP server accepted.
type received struct {
	From string
	To   []string
	Data []byte
	// TLS: the message came over an encrypted connection.
	TLS bool
	// User is who authenticated, if anyone did.
	User string
}

// smtpServer is a real SMTP server on loopback that keeps what it is sent.
type smtpServer struct {
	Addr string
	// User and Pass, when set, are required (AUTH PLAIN) before MAIL FROM.
	User, Pass string
	// RejectRcpt, when set, is the answer to every RCPT TO.
	RejectRcpt *smtp.SMTPError

	mu   sync.Mutex
	msgs []received
}

// Messages returns what the server has accepted so far.
func (s *smtpServer) Messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

// smtpOptions configure startSMTP.
type smtpOptions struct {
	user, pass string
	// tls: offer STARTTLS with this configuration.
	tls *tls.Config
	// implicitTLS: serve TLS from the first byte (smtps).
	implicitTLS bool
	rejectRcpt  *smtp.SMTPError
}

// startSMTP serves SMTP on a free loopback port until the test ends.
// smtpMailer starts a loopback SMTP server with opts and returns it with a
// mailer on d that sends through it and a job runner that delivers.
func smtpMailer(t *testing.T, d *db.DB, opts smtpOptions) (*smtpServer, *notify.Mailer, *jobs.Runner) {
	t.Helper()
	srv := startSMTP(t, opts)
	m := notify.NewMailer(d, smtpSender(t, srv.Addr, ""), testFrom, nil)
	r := jobs.NewRunner(d, nil)
	m.Register(r)
	return srv, m, r
}

func startSMTP(t *testing.T, opts smtpOptions) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if opts.implicitTLS {
		ln = tls.NewListener(ln, opts.tls)
	}
	rec := &smtpServer{Addr: ln.Addr().String(), User: opts.user, Pass: opts.pass, RejectRcpt: opts.rejectRcpt}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: rec, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	// Failed handshakes are what some tests are about: not news.
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	if !opts.implicitTLS {
		srv.TLSConfig = opts.tls
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return rec
}

// session is one client connection of smtpServer.
type session struct {
	srv  *smtpServer
	conn *smtp.Conn
	user string
	from string
	to   []string
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != s.srv.User || password != s.srv.Pass {
			return smtp.ErrAuthFailed
		}
		s.user = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.srv.User != "" && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.srv.RejectRcpt != nil {
		return s.srv.RejectRcpt
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.srv.mu.Lock()
	s.srv.msgs = append(s.srv.msgs, received{From: s.from, To: s.to, Data: b, TLS: isTLS, User: s.user})
	s.srv.mu.Unlock()
	return nil
}

func (s *session) Reset() { s.from, s.to = "", nil }

func (s *session) Logout() error { return nil }
