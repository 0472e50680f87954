package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/logpipe/logpipe/e2e/harness"
)

// writeApacheLines writes n Apache combined-format lines (each unique) to path.
func writeApacheLines(t *testing.T, path string, n int) int64 {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	base := time.Date(2026, 11, 21, 7, 0, 0, 0, time.UTC)
	paths := []string{"/index.html", "/images/logo.png", "/api/v1/items?page=2", "/login", "/static/app.js"}
	agents := []string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
		"curl/8.5.0",
	}
	for i := range n {
		ts := base.Add(time.Duration(i) * time.Millisecond).Format("02/Jan/2006:15:04:05 -0700")
		fmt.Fprintf(w, "10.%d.%d.%d - - [%s] \"GET %s HTTP/1.1\" %d %d \"https://example.com/ref/%d\" \"%s\"\n",
			i>>16&255, i>>8&255, i&255, ts, paths[i%len(paths)], []int{200, 200, 304, 404, 500}[i%5], 100+i%9000, i, agents[i%len(agents)])
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return fileSize(t, path)
}

// `logpipe ship --once` on a 1,000,000-line file exits 0 with exactly 1,000,000 messages.
func TestShipOnceMillionLines(t *testing.T) {
	harness.SkipIfShort(t)
	dir := t.TempDir()
	const n = 1_000_000
	size := writeApacheLines(t, filepath.Join(dir, "logs", "access.log"), n)
	b := harness.StartBroker(t, harness.BrokerOptions{Topics: []string{topic + ":3"}, NoDataDir: true})
	cfg := harness.WriteConfig(t, dir, "ship.hcl", harness.ShipConfig(dir, b.Addr(), topic, ""))
	start := time.Now()
	code, log := harness.RunLogpipe(t, 3*time.Minute, "ship", "-c", cfg, "--once")
	took := time.Since(start)
	if code != 0 {
		t.Fatalf("logpipe ship --once exited %d:\n%s", code, log)
	}
	got := harness.CountTopic(t, b.Addr(), topic)
	if got != n {
		t.Fatalf("%d messages in the topic, want exactly %d", got, n)
	}
	t.Logf("shipped %d lines (%d MB) in %s: %.0f lines/s (built binary, kfake broker, 2-core box shared)",
		n, size>>20, took.Round(time.Millisecond), float64(n)/took.Seconds())
}
