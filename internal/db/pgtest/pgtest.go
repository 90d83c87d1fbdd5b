// Package pgtest runs a private PostgreSQL server for a test: a cluster
// made with the installed initdb in a temporary directory and a postgres
// process on a free loopback port, owned by the test so that it can be
// killed with SIGKILL and started again on the same data, as a crash of
// the database machine would leave it.
//
// The shared server of MISTORE_TEST_POSTGRES (see dbtest) cannot be killed
// by a test without taking every other test down with it; this one can.
package pgtest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// startTimeout bounds how long a start (including crash recovery) may take
// before the test is failed: long enough for a busy 2-core machine.
const startTimeout = 60 * time.Second

// Server is a private PostgreSQL server. Its methods fail the test they
// were given on any error, so a test reads as a list of steps.
type Server struct {
	// Port is the loopback TCP port the server listens on, the same
	// across restarts.
	Port int
	// Started is how long the last start took until the server accepted
	// connections, crash recovery included.
	Started time.Duration

	bin  string // directory of initdb and postgres
	dir  string // the temporary directory: data/ and postgres.log
	data string
	cred *syscall.Credential // nil unless the test runs as root

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
}

// Start makes a new cluster and starts its server; it is stopped and
// removed when the test ends. It skips t when the PostgreSQL server
// programs are not installed (and fails it under MISTORE_REQUIRE_ALL=1).
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := findBin()
	if err != nil {
		if os.Getenv("MISTORE_REQUIRE_ALL") == "1" {
			t.Fatalf("MISTORE_REQUIRE_ALL=1 needs a PostgreSQL server to start: %v", err)
		}
		t.Skipf("no private PostgreSQL server: %v", err)
	}
	s := &Server{bin: bin}
	// initdb and postgres refuse to run as root, so as root the server
	// runs as nobody, in a directory nobody may enter.
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			t.Fatalf("running as root, PostgreSQL needs an unprivileged user: %v", err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	// Not t.TempDir: its parents are private to root.
	if s.dir, err = os.MkdirTemp("", "mistore-pg-"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(s.dir) })
	if err := os.Chmod(s.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s.data = filepath.Join(s.dir, "data")
	if err := os.Mkdir(s.data, 0o700); err != nil {
		t.Fatal(err)
	}
	if s.cred != nil {
		if err := os.Chown(s.data, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", s.data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--no-locale", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	initdb.Env = append(os.Environ(), "HOME="+s.dir)
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	t.Cleanup(func() { s.stop() })
	for attempt := 0; ; attempt++ {
		s.Port = freePort(t)
		err := s.start()
		if err == nil {
			break
		}
		// Another process may have taken the port between choosing it
		// and the server binding it.
		if attempt == 2 {
			t.Fatalf("start postgres: %v\n%s", err, s.Log())
		}
	}
	return s
}

// findBin returns the directory of the installed initdb and postgres.
func findBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.Reverse(dirs) // the newest version first
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("initdb and postgres are neither on PATH nor in /usr/lib/postgresql/*/bin")
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Tool returns the path of one of the installed PostgreSQL programs
// (pg_dump, pg_restore, ...): beside the server's own, else the newest
// packaged version's, else the one on PATH.
func (s *Server) Tool(name string) string {
	if p := filepath.Join(s.bin, name); fileExists(p) {
		return p
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.Reverse(dirs)
	for _, dir := range dirs {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return name
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// URL returns the address of database name on the server, as the store
// takes it.
func (s *Server) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, name)
}

// CreateDatabase creates an empty database and returns its URL.
func (s *Server) CreateDatabase(t testing.TB, name string) string {
	t.Helper()
	admin, err := sql.Open("pgx", s.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	return s.URL(name)
}

// start runs postgres and waits until it accepts connections, or fails.
func (s *Server) start() error {
	logf, err := os.OpenFile(filepath.Join(s.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	// fsync stays on: the point of killing this server is to see what a
	// commit promised survive. No Unix socket: the data directory is the
	// only place nobody may write, and TCP is what the store uses.
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), "-D", s.data, "-p", strconv.Itoa(s.Port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
		"-c", "max_connections=300", "-c", "fsync=on", "-c", "shared_buffers=64MB")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-done:
			return fmt.Errorf("postgres exited: %v", cmd.ProcessState)
		default:
		}
		if err := s.ping(); err == nil {
			s.Started = time.Since(deadline.Add(-startTimeout))
			return nil
		} else if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("postgres did not accept connections within %s: %w", startTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ping connects once and runs a query.
func (s *Server) ping() error {
	c, err := sql.Open("pgx", s.URL("postgres")+"&connect_timeout=2")
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return c.PingContext(ctx)
}

// Kill ends the server and all its backends with SIGKILL, without a
// checkpoint: the next Restart recovers from the write-ahead log.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	if !s.kill() {
		t.Fatal("postgres is not running")
	}
}

func (s *Server) kill() bool {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return false
	}
	// Every backend is a child of the postmaster in a session of its own
	// (PostgreSQL calls setsid), so a process group does not hold them.
	// Stopped, the postmaster forks no more; then its children and it
	// die together, as in a crash of the machine.
	pid := cmd.Process.Pid
	syscall.Kill(pid, syscall.SIGSTOP)
	for _, child := range children(pid) {
		syscall.Kill(child, syscall.SIGKILL)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	<-done
	return true
}

// children returns the processes whose parent is pid, from /proc.
func children(pid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // it ended meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses,
		// so the fields are counted from the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(b[i+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(pid) {
			continue
		}
		if child, err := strconv.Atoi(filepath.Base(filepath.Dir(path))); err == nil {
			out = append(out, child)
		}
	}
	return out
}

// Restart starts the server again on the same data and port, after Kill.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	// After a kill the old backends may hold the port or shared memory
	// for a moment: try again before giving up.
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("restart postgres: %v\n%s", err, s.Log())
}

// stop shuts the server down fast (SIGINT: roll back, then exit), and
// kills it if that takes too long.
func (s *Server) stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.mu.Lock()
		s.cmd = cmd
		s.mu.Unlock()
		s.kill()
	}
}

// Log returns the server's log so far, for a failing test to show.
func (s *Server) Log() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
	if err != nil {
		return "(no postgres log: " + err.Error() + ")"
	}
	const keep = 8 << 10
	if len(b) > keep {
		b = append([]byte("..."), b[len(b)-keep:]...)
	}
	return string(bytes.TrimSpace(b))
}
