package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// shipConfig writes a config that tails dir/logs/access_log into the stdout output.
func shipConfig(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o750); err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "ship.hcl", `data_dir = "${env("DIR")}/data"
logging { level = "warn" }
input "file" "access" {
  paths         = ["${env("DIR")}/logs/access_log"]
  poll_interval = "50ms"
}
output "stdout" "out" {
  codec = "json"
}
`)
}

func appendLines(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := fmt.Fprintln(f, l); err != nil {
			t.Fatal(err)
		}
	}
}

// `ship --once` runs the real stages: it reads the file to its end, writes every line,
// commits the offsets in data_dir and exits 0; a second run finds nothing new.
func TestShipOnceInProcess(t *testing.T) {
	dir := t.TempDir()
	cfg := shipConfig(t, dir)
	env := map[string]string{"DIR": dir}
	log := filepath.Join(dir, "logs", "access_log")
	appendLines(t, log, "line one", "line two", "line three")

	code, out, errOut := runCLI(t, env, "ship", "-c", cfg, "--once")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	id, err := os.ReadFile(filepath.Join(dir, "data", agentIDFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 events, got:\n%s", out)
	}
	for i, want := range []string{"line one", "line two", "line three"} {
		var ev struct {
			Message string `json:"message"`
		}
		if err := json.Unmarshal([]byte(lines[i]), &ev); err != nil {
			t.Fatalf("event %d: %v: %s", i, err, lines[i])
		}
		if ev.Message != want || !strings.Contains(lines[i], `"id":"`+strings.TrimSpace(string(id))+`"`) ||
			!strings.Contains(lines[i], `"version":"`+version+`"`) {
			t.Errorf("event %d: %s", i, lines[i])
		}
	}

	appendLines(t, log, "line four")
	code, out, errOut = runCLI(t, env, "ship", "-c", cfg, "--once")
	if code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(out, `"message":"line four"`) {
		t.Fatalf("second run: exit %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's writes and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A real SIGTERM sent to the process stops `ship`, which drains and exits 0.
func TestShipStopsOnSIGTERM(t *testing.T) {
	dir := t.TempDir()
	cfg := shipConfig(t, dir)
	appendLines(t, filepath.Join(dir, "logs", "access_log"), "only line")
	var out, errOut syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- run([]string{"ship", "-c", cfg, "--log-level", "info"}, &out, &errOut,
			func(k string) (string, bool) { return dir, k == "DIR" })
	}()
	// "starting" is logged after the signal handler is installed.
	waitFor(t, "ship to start", func() bool { return strings.Contains(errOut.String(), `"msg":"starting"`) })
	waitFor(t, "the line to be shipped", func() bool { return strings.Contains(out.String(), "only line") })
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if c := <-code; c != 0 {
		t.Fatalf("exit %d after SIGTERM, stderr:\n%s", c, errOut.String())
	}
	if !strings.Contains(errOut.String(), "signal received, draining") {
		t.Errorf("no drain logged:\n%s", errOut.String())
	}
}
