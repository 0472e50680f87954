package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// In-process reloads of `ship` (file -> stdout) by a real SIGHUP: a new data_dir is refused
// (the new pipeline would not find the committed positions) and the running pipeline goes
// on; a new logging.level is applied; every line is written once.
func TestReloadInProcess(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o750); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "ship.hcl")
	write := func(dataDir, level string) {
		t.Helper()
		src := `data_dir = "` + filepath.Join(dir, dataDir) + `"
logging { level = "` + level + `" }
input "file" "access" {
  paths = ["` + filepath.Join(logs, "access_log") + `"]
}
output "stdout" "out" {}
`
		if err := os.WriteFile(cfg, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("data", "info")
	appendLines(t, filepath.Join(logs, "access_log"), "line one")
	var out, errOut syncBuffer
	code := make(chan int, 1)
	go func() { code <- run([]string{"ship", "-c", cfg}, &out, &errOut, nil) }()
	waitFor(t, "the first line", func() bool { return strings.Contains(out.String(), "line one") })

	write("other-data", "info")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the refusal", func() bool {
		return strings.Contains(errOut.String(), "reload refused: data_dir cannot change on reload")
	})

	write("data", "warn")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new level", func() bool {
		return strings.Contains(errOut.String(), `"msg":"reload: log level changed","role":"ship","from":"info","to":"warn"`)
	})
	appendLines(t, filepath.Join(logs, "access_log"), "line two")
	waitFor(t, "the second line", func() bool { return strings.Contains(out.String(), "line two") })
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if c := <-code; c != exitOK {
		t.Fatalf("exit %d\n%s", c, errOut.String())
	}
	if strings.Count(out.String(), "line one") != 1 || strings.Count(out.String(), "line two") != 1 {
		t.Errorf("want each line once:\n%s", out.String())
	}
	// After the level went to warn, the info lines of the shutdown are not logged.
	tail := errOut.String()[strings.Index(errOut.String(), "log level changed"):]
	if strings.Contains(tail, `"msg":"stopped"`) {
		t.Errorf("info lines logged after the level changed to warn:\n%s", tail)
	}
	if _, err := os.Stat(filepath.Join(dir, "other-data")); err == nil {
		t.Errorf("the refused data_dir was created")
	}
}
