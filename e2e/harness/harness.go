// Package harness holds the helpers of logpipe's end-to-end tests: they run the built
// logpipe binary against real protocol peers (the kfakebroker program, an in-memory Kafka
// speaking the real protocol) and check the result with an independent client (kcat).
//
// Typical use, in a package whose TestMain calls Main:
//
//	func TestMain(m *testing.M) { harness.Main(m) }
//
//	func TestShip(t *testing.T) {
//		b := harness.StartBroker(t, harness.BrokerOptions{Topics: []string{"kafka_test:3"}})
//		dir := t.TempDir()
//		cfg := harness.WriteConfig(t, dir, "ship.hcl", harness.ShipConfig(dir, b.Addr(), "kafka_test", ""))
//		p := harness.StartLogpipe(t, "ship", "-c", cfg)
//		events := harness.WaitForEvents(t, b.Addr(), "kafka_test", 10, 30*time.Second)
//		p.Terminate(t, 30*time.Second) // SIGTERM, wait, want exit code 0
//	}
//
// Every process started here is stopped (SIGKILL if needed) when the test ends; its
// combined stdout and stderr are kept in a file under the test's temporary directory and
// the tail of it is written to the test log when the test failed (or always with -v and
// LOGPIPE_E2E_LOGS=1).
//
// Binaries are built once per test binary into a temporary directory that Main removes:
// logpipe from ./cmd/logpipe and kfakebroker from ./e2e/kfakebroker. LOGPIPE_BIN and
// KFAKEBROKER_BIN name prebuilt binaries instead (for example bin/logpipe from `make build`,
// or a `go build -race` one: a process log holding "WARNING: DATA RACE" fails the test).
// The e2e tests are skipped with -short.
package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	binDir     string
	buildMu    sync.Mutex
	builtPaths = map[string]string{}
	buildErrs  = map[string]string{} // a failed build is not tried again by the next test
)

// Main runs the tests of an e2e package: it prepares the directory the binaries are built
// into, runs m, removes the directory and exits with m's code. Call it from TestMain.
func Main(m *testing.M) {
	dir, err := os.MkdirTemp("", "logpipe-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// RepoRoot returns the directory of the module's go.mod, found upward from the working
// directory (go test runs in the package directory).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("harness: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// build returns the path of the binary built from pkg (relative to the repository root),
// building it on the first call; env names a variable holding a prebuilt binary instead.
func build(t testing.TB, name, pkg, env string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := builtPaths[name]; ok {
		return p
	}
	if msg, failed := buildErrs[name]; failed {
		t.Fatal(msg)
	}
	if binDir == "" {
		t.Fatal("harness: call harness.Main from TestMain")
	}
	out := filepath.Join(binDir, name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = RepoRoot(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		buildErrs[name] = fmt.Sprintf("harness: go build %s: %v\n%s", pkg, err, b)
		t.Fatal(buildErrs[name])
	}
	builtPaths[name] = out
	return out
}

// LogpipeBin returns the path of the logpipe binary (built once per test binary).
func LogpipeBin(t testing.TB) string { return build(t, "logpipe", "./cmd/logpipe", "LOGPIPE_BIN") }

// BrokerBin returns the path of the kfakebroker binary (built once per test binary).
func BrokerBin(t testing.TB) string {
	return build(t, "kfakebroker", "./e2e/kfakebroker", "KFAKEBROKER_BIN")
}

// SkipIfShort skips an end-to-end test under -short, and when kcat is not installed.
func SkipIfShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Skip("kcat is not installed (make deps installs it)")
	}
}

// Process is a child process (logpipe or the broker) whose output goes to a log file.
type Process struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	logFile *os.File
	done    chan struct{}
	err     error // of Wait, valid after done is closed
}

// Start runs bin with args, logging its stdout and stderr to a file in the test's temporary
// directory. The process is killed, if still running, when the test ends, and the tail of its
// log is written to the test log when the test failed.
func Start(t testing.TB, name, bin string, args ...string) *Process {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), name+"-*.log")
	if err != nil {
		t.Fatal(err)
	}
	p := &Process{Name: name, LogPath: f.Name(), logFile: f, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.Env = os.Environ()
	if err := p.cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("harness: start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.Exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if strings.Contains(p.Log(), "WARNING: DATA RACE") {
			t.Errorf("harness: %s reported a data race (binary built with -race)", name)
		}
		if t.Failed() || os.Getenv("LOGPIPE_E2E_LOGS") != "" {
			t.Logf("--- log of %s (%s), last 60 lines:\n%s", name, p.LogPath, tail(p.Log(), 60))
		}
	})
	return p
}

// Pid returns the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the process.
func (p *Process) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil && !p.Exited() {
		t.Fatalf("harness: signal %v to %s: %v", sig, p.Name, err)
	}
}

// Kill sends SIGKILL (kill -9) and waits for the process to be gone.
func (p *Process) Kill(t testing.TB) {
	t.Helper()
	p.Signal(t, syscall.SIGKILL)
	<-p.done
}

// Wait waits up to timeout for the process to exit and returns its exit code (-1 when it
// was killed by a signal). It fails the test at the timeout.
func (p *Process) Wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("harness: %s still running after %s", p.Name, timeout)
	}
	return p.ExitCode()
}

// ExitCode returns the exit code of an exited process (-1 when killed by a signal).
func (p *Process) ExitCode() int { return p.cmd.ProcessState.ExitCode() }

// Terminate sends SIGTERM, waits up to timeout and fails the test unless the exit code is 0.
func (p *Process) Terminate(t testing.TB, timeout time.Duration) {
	t.Helper()
	p.Signal(t, syscall.SIGTERM)
	if code := p.Wait(t, timeout); code != 0 {
		t.Fatalf("harness: %s exited with code %d after SIGTERM, want 0", p.Name, code)
	}
}

// Log returns what the process wrote so far (stdout and stderr).
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

// WaitForLog waits until the process log contains substr.
func (p *Process) WaitForLog(t testing.TB, substr string, timeout time.Duration) {
	t.Helper()
	WaitFor(t, timeout, fmt.Sprintf("%s to log %q", p.Name, substr), func() bool {
		return strings.Contains(p.Log(), substr)
	})
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// StartLogpipe starts the logpipe binary with args (for example "ship", "-c", cfg).
func StartLogpipe(t testing.TB, args ...string) *Process {
	t.Helper()
	return Start(t, "logpipe-"+firstOr(args, "run"), LogpipeBin(t), args...)
}

// RunLogpipe runs logpipe to its end (at most timeout) and returns its exit code and output.
func RunLogpipe(t testing.TB, timeout time.Duration, args ...string) (int, string) {
	t.Helper()
	p := StartLogpipe(t, args...)
	code := p.Wait(t, timeout)
	return code, p.Log()
}

func firstOr(s []string, d string) string {
	if len(s) > 0 {
		return s[0]
	}
	return d
}

// WaitFor polls cond every 20ms until it holds, failing the test with what after timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	WaitEvery(t, timeout, 20*time.Millisecond, what, cond)
}

// WaitEvery is WaitFor with a poll interval, for conditions that are costly to check (a
// kcat run per poll).
func WaitEvery(t testing.TB, timeout, every time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(every)
	}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WriteFile writes content to path, creating its directory.
func WriteFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// AppendFile appends content to path (creating it), as a logging web server does.
func AppendFile(t testing.TB, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// WriteConfig writes an HCL configuration file named name into dir and returns its path.
func WriteConfig(t testing.TB, dir, name, hcl string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	WriteFile(t, path, hcl)
	return path
}

// ShipConfig returns a ship configuration: data_dir <dir>/data, an input "file" "access"
// reading the glob <dir>/logs/*.log from the beginning with a 100ms poll interval plus the
// extra input attributes inputExtra (HCL lines, may be ""), and an output "kafka" "main" to
// topic at broker addr.
func ShipConfig(dir, addr, topic, inputExtra string) string {
	return fmt.Sprintf(`data_dir = %q

input "file" "access" {
  paths          = [%q]
  start_position = "beginning"
  poll_interval  = "100ms"
%s
}

output "kafka" "main" {
  brokers = [%q]
  topic   = %q
}
`, filepath.Join(dir, "data"), filepath.Join(dir, "logs", "*.log"), inputExtra, addr, topic)
}

// ---- Kafka (kfakebroker + kcat) ----

// BrokerOptions configure StartBroker.
type BrokerOptions struct {
	// Topics to create, "name" or "name:partitions".
	Topics []string
	// Port of the first broker; 0 picks a free one (kept across Restart).
	Port int
	// DataDir persists the cluster so it survives Restart; "" uses a fresh directory under
	// the test's temporary directory. Set NoDataDir for a memory-only broker.
	DataDir   string
	NoDataDir bool
	// Brokers is the number of brokers (default 1), on consecutive ports.
	Brokers int
}

// Broker is a running kfakebroker process.
type Broker struct {
	t     testing.TB
	opts  BrokerOptions
	addrs []string
	Proc  *Process
}

// StartBroker starts the kfakebroker program and waits for its "ready" line.
func StartBroker(t testing.TB, opts BrokerOptions) *Broker {
	t.Helper()
	pinned := opts.Port != 0
	if !pinned {
		opts.Port = FreePort(t)
	}
	if opts.DataDir == "" && !opts.NoDataDir {
		opts.DataDir = filepath.Join(t.TempDir(), "kafka-data")
	}
	if opts.Brokers == 0 {
		opts.Brokers = 1
	}
	b := &Broker{t: t, opts: opts}
	b.start(t, !pinned)
	return b
}

// start runs the broker; newPort allows moving to another free port when the chosen one
// turns out to be taken (never on Restart, which must keep the address).
func (b *Broker) start(t testing.TB, newPort bool) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		if b.startOnce(t, attempt >= 10 || !newPort) {
			return
		}
		b.opts.Port = FreePort(t)
	}
}

// startOnce starts the broker on b.opts.Port and waits for its ready line. It reports false
// when the process exited without getting ready (typically: the port is taken) and last is
// false; otherwise it fails the test.
func (b *Broker) startOnce(t testing.TB, last bool) bool {
	t.Helper()
	args := []string{"-listen", fmt.Sprintf("127.0.0.1:%d", b.opts.Port), "-brokers", fmt.Sprint(b.opts.Brokers)}
	if b.opts.DataDir != "" {
		args = append(args, "-data-dir", b.opts.DataDir)
	}
	for _, tp := range b.opts.Topics {
		args = append(args, "-topic", tp)
	}
	// On Restart the port may still be held briefly by the previous process: retry.
	for attempt := 0; ; attempt++ {
		p := Start(t, "kfakebroker", BrokerBin(t), args...)
		deadline := time.Now().Add(20 * time.Second)
		for !p.Exited() && !strings.Contains(p.Log(), "ready ") && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if line, ok := findLine(p.Log(), "ready "); ok {
			b.addrs = strings.Split(strings.TrimPrefix(line, "ready "), ",")
			b.Proc = p
			return true
		}
		if !p.Exited() {
			t.Fatalf("harness: kfakebroker did not get ready within 20s:\n%s", p.Log())
		}
		if !last {
			return false
		}
		if attempt >= 10 {
			t.Fatalf("harness: kfakebroker did not start:\n%s", p.Log())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func findLine(s, prefix string) (string, bool) {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return strings.TrimSpace(l), true
		}
	}
	return "", false
}

// Addr returns the address of the first broker (host:port).
func (b *Broker) Addr() string { return b.addrs[0] }

// Addrs returns the addresses of every broker.
func (b *Broker) Addrs() []string { return b.addrs }

// Kill kills the broker with SIGKILL.
func (b *Broker) Kill(t testing.TB) { t.Helper(); b.Proc.Kill(t) }

// Restart starts the broker again on the same port with the same data dir (after Kill).
// Topics are created again only if they are missing.
func (b *Broker) Restart(t testing.TB) {
	t.Helper()
	if !b.Proc.Exited() {
		t.Fatal("harness: Restart of a running broker")
	}
	b.start(t, false)
}

// AddTopics adds topics ("name" or "name:partitions") to create at the next Restart, as
// an operator creating a missing topic would.
func (b *Broker) AddTopics(topics ...string) { b.opts.Topics = append(b.opts.Topics, topics...) }

// Message is one record read from a topic.
type Message struct {
	Partition int
	Offset    int64
	Value     []byte
}

// ReadTopic reads every record of topic from the beginning to its current end with kcat
// (kcat -C -e -o beginning), an independent client. Values must not contain newlines (JSON
// events never do).
func ReadTopic(t testing.TB, addr, topic string) []Message {
	t.Helper()
	var msgs []Message
	err := kcat(addr, topic, func(line []byte) error {
		var m Message
		var rest []byte
		p, r1, ok1 := bytes.Cut(line, []byte{' '})
		o, r2, ok2 := bytes.Cut(r1, []byte{' '})
		if !ok1 || !ok2 {
			return fmt.Errorf("kcat line %q", line)
		}
		rest = r2
		if _, err := fmt.Sscan(string(p), &m.Partition); err != nil {
			return err
		}
		if _, err := fmt.Sscan(string(o), &m.Offset); err != nil {
			return err
		}
		m.Value = append([]byte(nil), rest...)
		msgs = append(msgs, m)
		return nil
	})
	if err != nil {
		t.Fatalf("harness: reading topic %s: %v", topic, err)
	}
	return msgs
}

// CountTopic counts the records of topic with kcat, without keeping them (for big topics).
func CountTopic(t testing.TB, addr, topic string) int {
	t.Helper()
	n := 0
	if err := kcat(addr, topic, func([]byte) error { n++; return nil }); err != nil {
		t.Fatalf("harness: counting topic %s: %v", topic, err)
	}
	return n
}

// kcat runs kcat over the topic and calls fn with each "partition offset value" line.
func kcat(addr, topic string, fn func(line []byte) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kcat", "-C", "-b", addr, "-t", topic, "-e", "-q", "-o", "beginning",
		"-f", `%p %o %s\n`)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	var ferr error
	for sc.Scan() {
		if ferr == nil {
			ferr = fn(sc.Bytes())
		}
	}
	serr := sc.Err()
	if serr != nil {
		_, _ = io.Copy(io.Discard, out)
	}
	werr := cmd.Wait()
	switch {
	case ferr != nil:
		return ferr
	case serr != nil:
		return serr
	case werr != nil:
		return fmt.Errorf("kcat: %v: %s", werr, stderr.String())
	}
	return nil
}

// Event is the part of a shipped event (DESIGN.md section 3) the tests look at.
type Event struct {
	Timestamp string `json:"@timestamp"`
	Metadata  struct {
		Beat string `json:"beat"`
		ID   string `json:"_id"`
	} `json:"@metadata"`
	Message string `json:"message"`
	Log     struct {
		Offset int64    `json:"offset"`
		Flags  []string `json:"flags"`
		File   struct {
			Path        string `json:"path"`
			Inode       string `json:"inode"`
			DeviceID    string `json:"device_id"`
			Fingerprint string `json:"fingerprint"`
		} `json:"file"`
	} `json:"log"`
	Host struct {
		Name string `json:"name"`
	} `json:"host"`
	// Partition and Offset locate the record in Kafka.
	Partition int   `json:"-"`
	KOffset   int64 `json:"-"`
	// Raw is the record value.
	Raw []byte `json:"-"`
}

// ReadEvents reads the topic with ReadTopic and parses every record as an Event; a record
// that is not valid JSON fails the test.
func ReadEvents(t testing.TB, addr, topic string) []Event {
	t.Helper()
	msgs := ReadTopic(t, addr, topic)
	evs := make([]Event, len(msgs))
	for i, m := range msgs {
		if err := json.Unmarshal(m.Value, &evs[i]); err != nil {
			t.Fatalf("harness: record %d/%d of %s is not a JSON event: %v: %.200q", m.Partition, m.Offset, topic, err, m.Value)
		}
		evs[i].Partition, evs[i].KOffset, evs[i].Raw = m.Partition, m.Offset, m.Value
	}
	return evs
}

// WaitForEvents polls the topic until it holds at least n events and returns them.
func WaitForEvents(t testing.TB, addr, topic string, n int, timeout time.Duration) []Event {
	t.Helper()
	var evs []Event
	WaitEvery(t, timeout, 250*time.Millisecond, fmt.Sprintf("%d events in topic %s", n, topic), func() bool {
		evs = ReadEvents(t, addr, topic)
		return len(evs) >= n
	})
	return evs
}

// WaitForLines polls the topic until every one of lines is the message of some event
// (duplicates do not count twice) and returns the events read last.
func WaitForLines(t testing.TB, addr, topic string, lines []string, timeout time.Duration) []Event {
	t.Helper()
	var evs []Event
	WaitEvery(t, timeout, 250*time.Millisecond, fmt.Sprintf("all %d lines in topic %s", len(lines), topic), func() bool {
		evs = ReadEvents(t, addr, topic)
		return len(CheckDelivery(lines, evs).Missing) == 0
	})
	return evs
}

// ---- checks ----

// Delivery summarises a set of events against the lines that were written.
type Delivery struct {
	Missing    []string // lines written but not in the topic
	Unexpected []string // messages in the topic that were not written
	// Duplicates counts messages seen more than once; DuplicatesSameID is how many of those
	// repeated copies carried the same @metadata._id as the first copy.
	Duplicates       int
	DuplicatesSameID int
}

// CheckDelivery compares events with the lines written (each line must be unique).
func CheckDelivery(lines []string, events []Event) Delivery {
	var d Delivery
	want := make(map[string]bool, len(lines))
	for _, l := range lines {
		want[l] = true
	}
	firstID := make(map[string]string, len(events))
	for _, e := range events {
		if !want[e.Message] {
			d.Unexpected = append(d.Unexpected, e.Message)
			continue
		}
		if id, seen := firstID[e.Message]; seen {
			d.Duplicates++
			if id == e.Metadata.ID {
				d.DuplicatesSameID++
			}
			continue
		}
		firstID[e.Message] = e.Metadata.ID
	}
	for _, l := range lines {
		if _, ok := firstID[l]; !ok {
			d.Missing = append(d.Missing, l)
		}
	}
	return d
}

// RequireAllOnce fails the test unless every line is in events exactly once (no loss, no
// duplicate, nothing unexpected).
func RequireAllOnce(t testing.TB, lines []string, events []Event) {
	t.Helper()
	d := CheckDelivery(lines, events)
	requireComplete(t, d, len(lines), len(events))
	if d.Duplicates > 0 {
		t.Fatalf("%d duplicate events (none expected)", d.Duplicates)
	}
}

// RequireAllAtLeastOnce fails the test unless every line is in events, and every duplicate
// carries the same @metadata._id as its first copy (so Elasticsearch stores it once).
func RequireAllAtLeastOnce(t testing.TB, lines []string, events []Event) Delivery {
	t.Helper()
	d := CheckDelivery(lines, events)
	requireComplete(t, d, len(lines), len(events))
	if d.Duplicates != d.DuplicatesSameID {
		t.Fatalf("%d duplicates, only %d with the same @metadata._id", d.Duplicates, d.DuplicatesSameID)
	}
	return d
}

func requireComplete(t testing.TB, d Delivery, nlines, nevents int) {
	t.Helper()
	if len(d.Missing) > 0 {
		t.Fatalf("%d of %d lines missing from the topic (%d events), first: %.200q", len(d.Missing), nlines, nevents, d.Missing[0])
	}
	if len(d.Unexpected) > 0 {
		t.Fatalf("%d unexpected messages, first: %.200q", len(d.Unexpected), d.Unexpected[0])
	}
}

// Lines returns n unique lines "<prefix> line <i> <padding>" (i from first), each ending
// without a newline; Join them with "\n" (plus a final "\n") to write them.
func Lines(prefix string, first, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s line %06d GET /index.html HTTP/1.1 200 %d", prefix, first+i, 1000+i)
	}
	return out
}

// Text joins lines into file content, each ending with "\n".
func Text(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}
