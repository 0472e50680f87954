package e2e

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logpipe/logpipe/e2e/harness"
)

// The exit codes of the built binary, which the systemd units rely on: only a configuration
// error exits 78 (RestartPreventExitStatus=78); a bad command line exits 64; a runtime
// failure exits 1 (restarted); a second SIGTERM during a drain exits 143.
func TestExitCodes(t *testing.T) {
	harness.SkipIfShort(t)
	dir := t.TempDir()
	bad := harness.WriteConfig(t, dir, "bad.hcl", `input "file" "a" { paths = ["/tmp/x.log"] }
output "kafka" "k" {
  brokers = ["kafka://127.0.0.1:9092"]
  topic   = "t"
}
`)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	logs := filepath.Join(dir, "logs")
	harness.WriteFile(t, filepath.Join(logs, "a.log"), "one\n")
	stdoutCfg := func(name, extra string) string {
		return harness.WriteConfig(t, dir, name, fmt.Sprintf(`data_dir = %q
%s
input "file" "a" { paths = [%q] }
output "stdout" "o" {}
`, filepath.Join(dir, "data-"+name), extra, filepath.Join(logs, "*.log")))
	}
	runtimeFail := stdoutCfg("busy.hcl", fmt.Sprintf(`metrics { address = %q }`, busy.Addr().String()))

	cases := []struct {
		args []string
		want int
		log  string
	}{
		{[]string{"validate", "-c", bad}, 78, bad + `:3:13: Invalid brokers`},
		{[]string{"ship", "-c", bad}, 78, bad + `:3:13: Invalid brokers`},
		{[]string{"index", "-c", bad}, 78, bad + `:3:13: Invalid brokers`},
		{[]string{"ship", "-c", filepath.Join(dir, "missing.hcl")}, 78, "Cannot read configuration file"},
		{[]string{"ship", "--bogus"}, 64, "flag provided but not defined"},
		{[]string{"ship", "-c", bad, "-c", bad}, 64, "given twice"},
		{[]string{"ship", "-c", runtimeFail}, 1, "cannot start the metrics endpoint"},
	}
	for _, c := range cases {
		code, log := harness.RunLogpipe(t, 60*time.Second, c.args...)
		if code != c.want || !strings.Contains(log, c.log) {
			t.Errorf("logpipe %q: exit %d, want %d with %q in:\n%s", c.args, code, c.want, c.log, log)
		}
	}

	// A drain that cannot finish within the test (a batch in flight to a broker that does not
	// exist, drain_timeout 1h), then a second SIGTERM.
	hold := harness.WriteConfig(t, dir, "hold.hcl", fmt.Sprintf(`data_dir = %q
drain_timeout = "1h"
input "file" "a" { paths = [%q] }
output "kafka" "k" {
  brokers = ["127.0.0.1:1"]
  topic   = "t"
}
`, filepath.Join(dir, "data-hold"), filepath.Join(logs, "*.log")))
	p := harness.StartLogpipe(t, "ship", "-c", hold)
	p.WaitForLog(t, `"msg":"starting"`, 30*time.Second)
	p.WaitForLog(t, "produce failed", 30*time.Second) // the kafka output holds a batch
	p.Signal(t, syscall.SIGTERM)
	p.WaitForLog(t, "signal received, draining", 30*time.Second)
	p.Signal(t, syscall.SIGTERM)
	if code := p.Wait(t, 30*time.Second); code != 143 {
		t.Errorf("second SIGTERM: exit %d, want 143", code)
	}
}
