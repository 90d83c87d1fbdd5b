package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestMain lets the test binary act as the mistore command in a child
// process, for tests that need another user or a real signal.
func TestMain(m *testing.M) {
	if args := os.Getenv("MISTORE_CHILD_ARGS"); args != "" {
		os.Exit(runProcess(strings.Split(args, "\x1f")))
	}
	os.Exit(m.Run())
}

// runAsNobody runs the command line as an unprivileged user (when the
// tests run as root) in a child process and returns its exit code and
// stderr.
func runAsNobody(t *testing.T, args ...string) (int, string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	if os.Geteuid() == 0 {
		// The child must be able to run the test binary, which lives in a
		// directory only root may enter: copy it somewhere it can.
		dir, err := os.MkdirTemp("", "mistore-child-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		os.Chmod(dir, 0o755)
		copyExe := filepath.Join(dir, "mistore.test")
		if err := copyFile(exe, copyExe); err != nil {
			t.Fatal(err)
		}
		cmd = exec.Command(copyExe)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	cmd.Env = append(os.Environ(), "MISTORE_CHILD_ARGS="+strings.Join(args, "\x1f"), "HOME=/tmp")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), stderr.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, stderr.String()
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
