package main

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMShutsDownCleanly starts serve in a child process and sends it
// SIGTERM: it must stop listening and exit 0. (TestGracefulShutdown shows
// that requests in flight finish during that shutdown.)
func TestSIGTERMShutsDownCleanly(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "m.db"), "--log-level", "warn"}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "MISTORE_CHILD_ARGS="+strings.Join(args, "\x1f"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the serve banner: %v", err)
	}
	addr := regexp.MustCompile(`http://(127\.0\.0\.1:\d+)/`).FindStringSubmatch(line)
	if addr == nil {
		t.Fatalf("no address in %q", line)
	}
	resp, err := http.Get("http://" + addr[1] + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz before SIGTERM: %v %v", resp, err)
	}
	resp.Body.Close()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM, want exit 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not exit after SIGTERM")
	}
	if c, err := net.DialTimeout("tcp", addr[1], time.Second); err == nil {
		c.Close()
		t.Error("the port still accepts connections after exit")
	}
}
