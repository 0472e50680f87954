package e2e

// Helpers of ship_logrotate_test.go: an access-log writer process that behaves like Apache
// (one write(2) per line on an O_APPEND descriptor, SIGUSR1 = graceful reload = reopen the
// log after a short delay), Debian's logrotate driven with generated configs, the union of
// every line present in the log files at the end (gzip included), and `logpipe index --once`
// into the Elasticsearch test server.

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logpipe/logpipe/e2e/estest"
	"github.com/logpipe/logpipe/e2e/harness"
	"github.com/logpipe/logpipe/e2e/internal/brokerproc"
)

// A traffic spike of the writer (SIGUSR2): burstFactor times the rate for burstLength.
// After reopening its log (SIGUSR1) and after a spike, the writer writes slowStartRate
// lines/s for slowStart: a few lines, under 1 KiB, for longer than the file input's poll
// interval, so that the new (or truncated) log is found, read and shipped while it is
// shorter than a fingerprint, whether fsnotify or the scan finds it. Then its rate again.
const (
	burstFactor   = 5
	burstLength   = 100 * time.Millisecond
	slowStart     = 1200 * time.Millisecond
	slowStartRate = 5
)

// accessWriterArg as the first argument of the test binary makes it the access-log writer
// process instead of running tests (see init).
const accessWriterArg = "-logpipe-e2e-access-writer"

func init() {
	if len(os.Args) > 1 && os.Args[1] == accessWriterArg {
		os.Exit(accessWriterMain(os.Args[2:]))
	}
}

// accessWriterMain is the writer process: args are the log path, the rate in lines per
// second and the reopen delay after SIGUSR1. Line n (from 0) is appendAccessLine(n): each is
// one write(2) on a descriptor opened O_APPEND|O_CREATE, as Apache's own logging does.
// SIGUSR1 is Apache's graceful restart: the log is closed and reopened by path after the
// delay (a graceful reload takes a while; lines written meanwhile land in the renamed file).
// SIGUSR2 starts a traffic spike: burstFactor times the rate for burstLength (sent right
// before a copytruncate, so that lines land between logrotate's copy and its truncate).
// For slowStart after the reopen or the spike it writes only slowStartRate lines/s.
// SIGTERM stops it; it then prints "wrote <n>" (lines 0..n-1 were all written) and exits 0.
func accessWriterMain(args []string) int {
	if len(args) != 3 {
		fmt.Fprintln(os.Stderr, "access writer: want <path> <lines/s> <reopen delay>")
		return 2
	}
	path := args[0]
	rate, err1 := strconv.Atoi(args[1])
	delay, err2 := time.ParseDuration(args[2])
	if err := errors.Join(err1, err2); err != nil || rate <= 0 {
		fmt.Fprintln(os.Stderr, "access writer: bad arguments:", err)
		return 2
	}
	usr1 := make(chan os.Signal, 8)
	signal.Notify(usr1, syscall.SIGUSR1)
	usr2 := make(chan os.Signal, 8)
	signal.Notify(usr2, syscall.SIGUSR2)
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	open := func() *os.File {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, "access writer:", err)
			os.Exit(1)
		}
		return f
	}
	f := open()
	fmt.Println("ready")
	last := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var reopenAt, burstUntil, slowUntil time.Time
	credit := 0.0 // lines owed at the current rate
	buf := make([]byte, 0, 256)
	n := 0
	for {
		select {
		case <-term:
			fmt.Printf("wrote %d\n", n)
			return 0
		case <-usr1:
			reopenAt = time.Now().Add(delay)
			fmt.Printf("graceful reload requested at line %d\n", n)
		case <-usr2:
			burstUntil = time.Now().Add(burstLength)
			slowUntil = burstUntil.Add(slowStart)
			fmt.Printf("burst from line %d\n", n)
		case now := <-tick.C:
			if !reopenAt.IsZero() && !now.Before(reopenAt) {
				if err := f.Close(); err != nil {
					fmt.Fprintln(os.Stderr, "access writer:", err)
					return 1
				}
				f = open()
				reopenAt, slowUntil = time.Time{}, now.Add(slowStart)
				fmt.Printf("reopened at line %d\n", n)
			}
			r := float64(rate)
			switch {
			case now.Before(burstUntil):
				r *= burstFactor
			case now.Before(slowUntil):
				r = slowStartRate
			}
			credit = min(credit+now.Sub(last).Seconds()*r, 64) // at most 64 lines per tick
			last = now
			for ; credit >= 1; credit-- {
				buf = appendAccessLine(buf[:0], n, now)
				if _, err := f.Write(buf); err != nil {
					fmt.Fprintln(os.Stderr, "access writer:", err)
					return 1
				}
				n++
			}
		}
	}
}

// accessTimeLayout is Apache's %t layout (inside the brackets).
const accessTimeLayout = "02/Jan/2006:15:04:05 -0700"

// appendAccessLine appends line n of the writer, an Apache combined-format access line whose
// number appears three times (client address, path, user agent), so that a fragment of a
// line cannot pass for a line.
func appendAccessLine(b []byte, n int, ts time.Time) []byte {
	return appendAccessLineTS(b, n, ts.UTC().Format(accessTimeLayout))
}

func appendAccessLineTS(b []byte, n int, ts string) []byte {
	return fmt.Appendf(b, "10.%d.%d.%d - - [%s] \"GET /e2e/%08d HTTP/1.1\" 200 %d \"-\" \"logrotate-e2e/%08d\"\n",
		n>>16&255, n>>8&255, n&255, ts, n, 100+n%9000, n)
}

// accessLineNo returns the number of a whole line written by the writer (without its "\n"),
// or false for anything else (a fragment, two lines glued together, garbage): the line is
// rebuilt from its number and timestamp and must be equal.
func accessLineNo(s string) (int, bool) {
	i := strings.Index(s, "\"GET /e2e/")
	lb, rb := strings.IndexByte(s, '['), strings.IndexByte(s, ']')
	if i < 0 || len(s) < i+18 || lb < 0 || rb != lb+len(accessTimeLayout)+1 {
		return 0, false
	}
	n, err := strconv.Atoi(s[i+10 : i+18])
	if err != nil || n < 0 {
		return 0, false
	}
	var buf [256]byte
	want := appendAccessLineTS(buf[:0], n, s[lb+1:rb])
	if string(want[:len(want)-1]) != s {
		return 0, false
	}
	if _, err := time.Parse(accessTimeLayout, s[lb+1:rb]); err != nil {
		return 0, false
	}
	return n, true
}

// accessWriter is the running writer process.
type accessWriter struct {
	proc *harness.Process
}

// startAccessWriter starts the writer process on path and waits until it handles signals.
func startAccessWriter(t *testing.T, path string, rate int, reopenDelay time.Duration) *accessWriter {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := harness.Start(t, "access-writer", self, accessWriterArg, path, strconv.Itoa(rate), reopenDelay.String())
	p.WaitForLog(t, "ready", 30*time.Second)
	return &accessWriter{proc: p}
}

// stop stops the writer with SIGTERM and returns how many lines it wrote.
func (w *accessWriter) stop(t *testing.T) int {
	t.Helper()
	w.proc.Terminate(t, 30*time.Second)
	for _, l := range strings.Split(w.proc.Log(), "\n") {
		if s, ok := strings.CutPrefix(l, "wrote "); ok {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				t.Fatalf("access writer: %q", l)
			}
			return n
		}
	}
	t.Fatalf("access writer did not report its count:\n%s", w.proc.Log())
	return 0
}

// logrotateBin returns the path of Debian's logrotate (in /usr/sbin, often not in PATH),
// skipping the test when it is not installed.
func logrotateBin(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("logrotate"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/logrotate"); err == nil {
		return "/usr/sbin/logrotate"
	}
	t.Skip("logrotate is not installed (make deps installs it)")
	return ""
}

// rotator runs the real logrotate on one log with a state file and generated configs, one
// per mode, forced (-f) at each call.
type rotator struct {
	bin   string
	state string
	confs map[string]string // "create" | "copytruncate" -> config path
}

// newRotator writes the two configs for log into dir. Both keep every rotation (rotate 1000,
// so no line leaves the disk), compress them with gzip one rotation late (delaycompress, as
// Debian's and RHEL's httpd configs do). "create" makes a new empty log after the rename and
// then sends SIGUSR1 (Apache's graceful restart) to writerPid; "copytruncate" copies the log
// to .1 and truncates it in place while the writer keeps its descriptor.
func newRotator(t *testing.T, dir, log string, writerPid int) *rotator {
	t.Helper()
	r := &rotator{bin: logrotateBin(t), state: filepath.Join(dir, "logrotate.state"), confs: map[string]string{}}
	common := "  rotate 1000\n  compress\n  delaycompress\n  missingok\n"
	r.confs["create"] = harness.WriteConfig(t, dir, "logrotate-create.conf", fmt.Sprintf(
		"%s {\n%s  create 0644\n  postrotate\n    kill -USR1 %d\n  endscript\n}\n", log, common, writerPid))
	r.confs["copytruncate"] = harness.WriteConfig(t, dir, "logrotate-copytruncate.conf", fmt.Sprintf(
		"%s {\n%s  copytruncate\n}\n", log, common))
	return r
}

// start starts `logrotate -f` in mode; the caller waits for it with finish.
func (r *rotator) start(t *testing.T, mode string) *exec.Cmd {
	t.Helper()
	conf, ok := r.confs[mode]
	if !ok {
		t.Fatalf("no logrotate mode %q", mode)
	}
	cmd := exec.Command(r.bin, "-f", "-s", r.state, conf)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("logrotate: %v", err)
	}
	return cmd
}

// finish waits for a logrotate started by start and fails the test if it failed.
func (r *rotator) finish(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("logrotate %v: %v\n%s", cmd.Args, err, cmd.Stdout)
	}
}

// logFileLines is what one log file holds at the end.
type logFileLines struct {
	name  string // base name: access_log, access_log.1, access_log.2.gz, ...
	lines []int  // line numbers in file order
}

// readLogFiles reads every access_log* file in dir (gunzipping .gz) and returns them in
// chronological order (oldest rotation first, the live log last). Every line must be a whole
// line of the writer.
func readLogFiles(t *testing.T, dir string) []logFileLines {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "access_log*"))
	if err != nil {
		t.Fatal(err)
	}
	type numbered struct {
		k int
		f logFileLines
	}
	var all []numbered
	for _, p := range names {
		base := filepath.Base(p)
		k := 0
		if base != "access_log" {
			s := strings.TrimSuffix(strings.TrimPrefix(base, "access_log."), ".gz")
			if k, err = strconv.Atoi(s); err != nil || k < 1 {
				t.Fatalf("unexpected file %s in the log directory", base)
			}
		}
		lines, err := readAccessFile(p)
		if err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		all = append(all, numbered{k, logFileLines{base, lines}})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].k > all[j].k })
	out := make([]logFileLines, len(all))
	for i, a := range all {
		if want := len(all) - 1 - i; a.k != want {
			t.Fatalf("log files %v: rotation numbers are not 1..%d", names, len(all)-1)
		}
		out[i] = a.f
	}
	return out
}

func readAccessFile(path string) ([]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		z, err := gzip.NewReader(f)
		if err != nil {
			return nil, err
		}
		defer z.Close()
		r = z
	}
	var out []int
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		n, ok := accessLineNo(sc.Text())
		if !ok {
			return nil, fmt.Errorf("line %d is not a whole access line: %.200q", len(out)+1, sc.Text())
		}
		out = append(out, n)
	}
	return out, sc.Err()
}

// shipConfigAtDefaults is a ship.hcl at production defaults (poll_interval, fsnotify,
// registry flush, batch and linger of the Kafka output all at their defaults): only paths,
// exclude, data_dir and the Kafka address are set.
func shipConfigAtDefaults(dir, addr string, paths, exclude []string) string {
	list := func(ss []string) string {
		q := make([]string, len(ss))
		for i, s := range ss {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	ex := ""
	if len(exclude) > 0 {
		ex = "  exclude = " + list(exclude) + "\n"
	}
	return fmt.Sprintf(`data_dir = %q

input "file" "access" {
  paths   = %s
%s}

output "kafka" "main" {
  brokers = [%q]
  topic   = %q
}
`, filepath.Join(dir, "data"), list(paths), ex, addr, topic)
}

// indexOnceIntoES runs `logpipe index --once` from the topic at addr into a fresh
// Elasticsearch test server and returns the server. The indexer's timings are those of
// the index e2e tests (newIndexEnv): what is under test here is the id the shipper gave.
func indexOnceIntoES(t *testing.T, dir, addr string) *estest.Server {
	t.Helper()
	es := estest.New(estest.Options{})
	if err := es.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(es.Close)
	cfg := writeIndexConfig(t, filepath.Join(dir, "index"), addr, es.URL(), "", "", "")
	p := harness.StartLogpipe(t, "index", "-c", cfg, "--once")
	if code := p.Wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("logpipe index --once exited %d", code)
	}
	return es
}

// topicTail consumes the topic continuously with franz-go, a client independent of
// logpipe's (no group, every partition from the start), so that waiting for lines costs no
// full read of the topic per poll, and the final check does not parse the whole topic again
// at the end (slow under -race). It keeps every event, the messages seen (line numbers for
// the writer's access lines), and the numbers of the access lines read from one path at
// offset 0: the first line of each new file (or regrown truncated file) there, once it is in
// Kafka.
type topicTail struct {
	path    string
	mu      sync.Mutex
	records int
	events  []harness.Event // without Raw
	nums    map[int]bool
	msgs    map[string]bool // messages that are not access lines
	starts  []int
}

// startTopicTail starts the consumer; it stops when the test ends. path may be "".
func startTopicTail(t *testing.T, addr, path string) *topicTail {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	tt := &topicTail{path: path, nums: map[int]bool{}, msgs: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(tt.add)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		cl.Close()
	})
	return tt
}

func (tt *topicTail) add(r *kgo.Record) {
	var ev harness.Event
	err := json.Unmarshal(r.Value, &ev)
	ev.Partition, ev.KOffset = int(r.Partition), r.Offset
	if err != nil {
		ev.Message = fmt.Sprintf("record %d/%d is not a JSON event: %v: %.200q", r.Partition, r.Offset, err, r.Value)
	}
	tt.mu.Lock()
	defer tt.mu.Unlock()
	tt.records++
	tt.events = append(tt.events, ev)
	n, ok := accessLineNo(ev.Message)
	if !ok {
		tt.msgs[ev.Message] = true
		return
	}
	tt.nums[n] = true
	if ev.Log.Offset == 0 && ev.Log.File.Path == tt.path {
		tt.starts = append(tt.starts, n)
	}
}

// waitEnd waits until the tail has consumed every record up to the end offsets of the
// topic (read with kafka-go's ListOffsets) and returns every event, in no particular order
// across partitions. Call it once nothing produces any more.
func (tt *topicTail) waitEnd(t *testing.T, addr string) []harness.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	end, _, err := brokerproc.GroupOffsets(ctx, addr, topic, "logrotate-e2e-no-group")
	if err != nil {
		t.Fatalf("end offsets: %v", err)
	}
	want := 0
	for _, o := range end {
		want += int(o)
	}
	harness.WaitFor(t, 60*time.Second, fmt.Sprintf("the tail to consume all %d records", want), func() bool {
		tt.mu.Lock()
		defer tt.mu.Unlock()
		return tt.records >= want
	})
	tt.mu.Lock()
	defer tt.mu.Unlock()
	if tt.records != want {
		t.Fatalf("the tail consumed %d records, the topic ends at %d", tt.records, want)
	}
	return append([]harness.Event(nil), tt.events...)
}

// shippedStartAfter reports whether an access line at offset 0 of the path with a number
// above after is in Kafka.
func (tt *topicTail) shippedStartAfter(after int) bool {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	for _, n := range tt.starts {
		if n > after {
			return true
		}
	}
	return false
}

// hasAll reports whether every access line in nums and every message in msgs was consumed.
func (tt *topicTail) hasAll(nums map[int]bool, msgs []string) bool {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	for n := range nums {
		if !tt.nums[n] {
			return false
		}
	}
	for _, m := range msgs {
		if !tt.msgs[m] {
			return false
		}
	}
	return true
}

// waitAll waits until hasAll(nums, msgs) holds; at the timeout it fails the test.
func (tt *topicTail) waitAll(t *testing.T, timeout time.Duration, nums map[int]bool, msgs []string) {
	t.Helper()
	harness.WaitEvery(t, timeout, 50*time.Millisecond, "the lines in the topic", func() bool { return tt.hasAll(nums, msgs) })
}

// waitSettled waits until hasAll(nums, msgs) holds and then until the record count has not
// changed for settle. settle is longer than the file input's poll interval plus its registry
// flush, so that a file re-read by the next scan (a copy taken for a truncated file, say)
// would show up before it ends. At the timeout it reports an error (not fatal: the caller's
// accounting then says what is missing) and returns.
func (tt *topicTail) waitSettled(t *testing.T, settle, timeout time.Duration, nums map[int]bool, msgs []string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last, since := -1, time.Time{}
	for {
		tt.mu.Lock()
		records := tt.records
		tt.mu.Unlock()
		switch {
		case !tt.hasAll(nums, msgs):
			last = -1
		case records != last:
			last, since = records, time.Now()
		case time.Since(since) >= settle:
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("after %s the topic still lacks lines it must hold, or keeps growing", timeout)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// firstLineNo returns the number of the first line of the file at path.
func firstLineNo(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		t.Fatalf("%s: first line: %v", path, err)
	}
	n, ok := accessLineNo(strings.TrimSuffix(l, "\n"))
	if !ok {
		t.Fatalf("%s: first line %q is not an access line", path, l)
	}
	return n
}

// The line check of the rotation tests accepts every line the writer writes and no part of
// one, nor two glued together.
func TestAccessLineNo(t *testing.T) {
	ts := time.Date(2026, 12, 4, 18, 30, 0, 0, time.UTC)
	for _, n := range []int{0, 1, 255, 256, 65537, 12345678} {
		l := strings.TrimSuffix(string(appendAccessLine(nil, n, ts)), "\n")
		if got, ok := accessLineNo(l); !ok || got != n {
			t.Fatalf("line %d %q: got %d, %v", n, l, got, ok)
		}
		for k := 1; k < len(l); k++ {
			if _, ok := accessLineNo(l[k:]); ok {
				t.Fatalf("suffix %q accepted", l[k:])
			}
			if _, ok := accessLineNo(l[:k]); ok {
				t.Fatalf("prefix %q accepted", l[:k])
			}
		}
		if _, ok := accessLineNo(l + l); ok {
			t.Fatalf("two lines glued together accepted")
		}
	}
}
