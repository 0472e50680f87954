package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/logpipe/logpipe/e2e/harness"
)

// SIGHUP reloads the configuration while lines flow: a valid new file replaces the pipeline
// (the old one drains and commits, the new one reads on from the committed offsets), an
// invalid one is refused and logged while the running pipeline goes on. Every line written
// during all of this is in the topic exactly once (read back with kcat). Production
// defaults throughout (poll interval, drain timeout, batch sizes).
func TestSIGHUPReloadWhileLinesFlow(t *testing.T) {
	harness.SkipIfShort(t)
	b := harness.StartBroker(t, harness.BrokerOptions{Topics: []string{"kafka_test:2"}})
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	cfgPath := filepath.Join(dir, "ship.hcl")
	config := func(outputExtra string) string {
		return fmt.Sprintf(`data_dir = %q
input "file" "access" {
  paths          = [%q]
  start_position = "beginning"
}
output "kafka" "main" {
  brokers = [%q]
  topic   = "kafka_test"
%s
}
`, filepath.Join(dir, "data"), filepath.Join(logs, "*.log"), b.Addr(), outputExtra)
	}
	harness.WriteFile(t, cfgPath, config(""))
	harness.WriteFile(t, filepath.Join(logs, "access.log"), "")
	p := harness.StartLogpipe(t, "ship", "-c", cfgPath)
	p.WaitForLog(t, `"msg":"pipeline started"`, 30*time.Second)

	// One writer appends lines at a steady pace (about 2,000 a second) for the whole test,
	// like a web server; each reload happens while it writes.
	const total = 30000
	lines := harness.Lines("reload", 0, total)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var written atomic.Int64
	wg.Go(func() {
		for i := 0; i < total; i += 100 {
			select {
			case <-stop:
				return
			default:
			}
			harness.AppendFile(t, filepath.Join(logs, "access.log"), harness.Text(lines[i:i+100]))
			written.Store(int64(i + 100))
			time.Sleep(50 * time.Millisecond) // pacing of the writer, not synchronisation
		}
	})
	defer func() { close(stop); wg.Wait() }()
	flowing := func(what string) {
		if n := written.Load(); n >= total {
			t.Fatalf("%s after the writer finished: the test did not reload while lines flow", what)
		}
	}
	waitWritten := func(n int64) {
		harness.WaitFor(t, 60*time.Second, fmt.Sprintf("%d lines written", n), func() bool { return written.Load() >= n })
	}
	waitWritten(5000)

	// A valid new configuration: the kafka output with other batching.
	harness.WriteFile(t, cfgPath, config(`  linger      = "20ms"
  compression = "gzip"`))
	p.Signal(t, syscall.SIGHUP)
	p.WaitForLog(t, `"msg":"reloaded"`, 60*time.Second)
	flowing("first reload")
	if strings.Count(p.Log(), `"msg":"pipeline drained"`) != 1 {
		t.Errorf("the old pipeline did not drain exactly once before the reload")
	}
	waitWritten(12000)

	// An invalid one: refused, logged with its position, the pipeline keeps running.
	harness.WriteFile(t, cfgPath, strings.Replace(config(""), b.Addr(), "kafka://"+b.Addr(), 1))
	p.Signal(t, syscall.SIGHUP)
	p.WaitForLog(t, `"msg":"reload refused: the new configuration has errors; the current pipeline keeps running"`, 30*time.Second)
	flowing("refused reload")
	if !strings.Contains(p.Log(), cfgPath+`:7:13: Invalid brokers: \"kafka://`) {
		t.Errorf("the refusal does not name the problem at its file:line:col")
	}
	waitWritten(19000)

	// And a valid one again, to show the process still reloads after a refusal.
	harness.WriteFile(t, cfgPath, config(""))
	p.Signal(t, syscall.SIGHUP)
	WaitForNth(t, p, `"msg":"reloaded"`, 2, 60*time.Second)
	flowing("second reload")

	wg.Wait()
	if n := written.Load(); n != total {
		t.Fatalf("wrote %d of %d lines", n, total)
	}
	evs := harness.WaitForLines(t, b.Addr(), "kafka_test", lines, 90*time.Second)
	p.Terminate(t, 60*time.Second)
	harness.RequireAllOnce(t, lines, harness.ReadEvents(t, b.Addr(), "kafka_test"))
	t.Logf("%d lines, %d events, 2 reloads and 1 refused reload", total, len(evs))
	if _, err := os.Stat(filepath.Join(dir, "data")); err != nil {
		t.Fatal(err)
	}
}

// WaitForNth waits until the process log holds substr at least n times.
func WaitForNth(t *testing.T, p *harness.Process, substr string, n int, timeout time.Duration) {
	t.Helper()
	harness.WaitFor(t, timeout, fmt.Sprintf("%s to log %q %d times", p.Name, substr, n), func() bool {
		return strings.Count(p.Log(), substr) >= n
	})
}

// The same in the index role: SIGHUP while records flow into the topic; the kafka input
// drains, commits its group offsets, and the new pipeline's consumer resumes from them.
// Every record reaches the file output exactly once.
func TestSIGHUPReloadIndexWhileRecordsFlow(t *testing.T) {
	harness.SkipIfShort(t)
	b := harness.StartBroker(t, harness.BrokerOptions{Topics: []string{"kafka_test:2"}})
	dir := t.TempDir()
	out := filepath.Join(dir, "out.ndjson")
	cfgPath := filepath.Join(dir, "index.hcl")
	config := func(inputExtra string) string {
		return fmt.Sprintf(`data_dir = %q
input "kafka" "main" {
  brokers  = [%q]
  topics   = ["kafka_test"]
  group_id = "test123"
%s
}
output "file" "out" {
  path = %q
}
`, filepath.Join(dir, "data"), b.Addr(), inputExtra, out)
	}
	harness.WriteFile(t, cfgPath, config(""))
	p := harness.StartLogpipe(t, "index", "-c", cfgPath)
	p.WaitForLog(t, `"msg":"pipeline started"`, 30*time.Second)

	const total, chunk = 20000, 500
	var produced atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 0; i < total; i += chunk {
			select {
			case <-stop: // the test failed: do not log after it ended
				return
			default:
			}
			var in strings.Builder
			for j := i; j < i+chunk; j++ {
				fmt.Fprintf(&in, `{"message":"idx record %06d"}`+"\n", j)
			}
			cmd := exec.Command("kcat", "-P", "-b", b.Addr(), "-t", "kafka_test", "-X", "acks=all")
			cmd.Stdin = strings.NewReader(in.String())
			if o, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("kcat -P: %v\n%s", err, o)
				return
			}
			produced.Store(int64(i + chunk))
			time.Sleep(100 * time.Millisecond) // pacing of the producer, not synchronisation
		}
	})
	defer func() { close(stop); wg.Wait() }()
	waitProduced := func(n int64) {
		harness.WaitFor(t, 60*time.Second, fmt.Sprintf("%d records produced", n), func() bool { return produced.Load() >= n })
	}
	flowing := func(what string) {
		if produced.Load() >= total {
			t.Fatalf("%s after the producer finished: the test did not reload while records flow", what)
		}
	}
	waitProduced(4000)
	harness.WriteFile(t, cfgPath, config(`  commit_interval = "2s"`))
	p.Signal(t, syscall.SIGHUP)
	p.WaitForLog(t, `"msg":"reloaded"`, 60*time.Second)
	flowing("reload")
	waitProduced(9000)
	harness.WriteFile(t, cfgPath, strings.Replace(config(""), `group_id = "test123"`, `group_id = ""`, 1))
	p.Signal(t, syscall.SIGHUP)
	p.WaitForLog(t, "reload refused", 30*time.Second)
	flowing("refused reload")
	waitProduced(13000)
	harness.WriteFile(t, cfgPath, config(""))
	p.Signal(t, syscall.SIGHUP)
	WaitForNth(t, p, `"msg":"reloaded"`, 2, 60*time.Second)
	flowing("second reload")
	wg.Wait()

	count := func() map[string]int {
		data, _ := os.ReadFile(out)
		got := map[string]int{}
		for _, l := range strings.Split(string(data), "\n") {
			if i := strings.Index(l, `"message":"idx record `); i >= 0 {
				got[l[i+len(`"message":"`):i+len(`"message":"idx record 000000`)]]++
			}
		}
		return got
	}
	harness.WaitFor(t, 90*time.Second, "every record in the output file", func() bool { return len(count()) == total })
	p.Terminate(t, 60*time.Second)
	got := count()
	for j := 0; j < total; j++ {
		if n := got[fmt.Sprintf("idx record %06d", j)]; n != 1 {
			t.Fatalf("record %d is in the output %d times, want once", j, n)
		}
	}
}
