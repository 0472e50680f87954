package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// With a metrics block, `ship` serves /metrics, /healthz and /readyz while it runs, and the
// counters reflect the lines it shipped.
func TestShipServesMetrics(t *testing.T) {
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o750); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, "ship.hcl", `data_dir = "${env("DIR")}/data"
logging { level = "warn" }
metrics { address = "`+addr+`" }
input "file" "access" {
  paths         = ["${env("DIR")}/logs/access_log"]
  poll_interval = "50ms"
}
output "stdout" "out" {}
`)
	appendLines(t, filepath.Join(dir, "logs", "access_log"), "one", "two", "three")
	var out, errOut syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- run([]string{"ship", "-c", cfg}, &out, &errOut,
			func(k string) (string, bool) { return dir, k == "DIR" })
	}()
	get := func(path string) (int, string) {
		res, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	waitFor(t, "three acked events in /metrics", func() bool {
		status, body := get("/metrics")
		return status == 200 && strings.Contains(body, "logpipe_pipeline_acked_events_total 3") &&
			strings.Contains(body, `logpipe_stage_events_out_total{kind="input",stage="input.file.access"} 3`)
	})
	// The build is named, and the output's counter is what it acknowledged.
	if _, body := get("/metrics"); !strings.Contains(body, `logpipe_build_info{goversion="`+runtime.Version()+`",version="`+version+`"} 1`) ||
		!strings.Contains(body, `logpipe_stage_events_acked_total{kind="output",stage="output.stdout.out"} 3`) {
		t.Errorf("/metrics lacks logpipe_build_info or the acknowledged events:\n%s", body)
	}
	if status, body := get("/healthz"); status != 200 {
		t.Errorf("/healthz: %d %s", status, body)
	}
	if status, body := get("/readyz"); status != 200 {
		t.Errorf("/readyz: %d %s", status, body)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if c := <-code; c != 0 {
		t.Fatalf("exit %d after SIGTERM, stderr:\n%s", c, errOut.String())
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("the metrics endpoint still answers after exit")
	}
}
