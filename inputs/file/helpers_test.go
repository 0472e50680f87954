package file

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/logpipe/logpipe/pipeline"
)

var testNow = time.Now()

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sink is a tiny emit that records batches and acknowledges them unless told otherwise.
type sink struct {
	mu      sync.Mutex
	batches []*pipeline.Batch
	noAck   bool
	ackOnly int // when > 0 and noAck, acknowledge only the first ackOnly batches
}

func (s *sink) emit(ctx context.Context, b *pipeline.Batch) error {
	s.mu.Lock()
	s.batches = append(s.batches, b)
	n := len(s.batches)
	s.mu.Unlock()
	if !s.noAck || n <= s.ackOnly {
		b.Ack()
	}
	return nil
}

// events returns a copy of every event received, in order.
func (s *sink) events() []pipeline.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []pipeline.Event
	for _, b := range s.batches {
		out = append(out, b.Events...)
	}
	return out
}

func (s *sink) lines() []string {
	var out []string
	for _, e := range s.events() {
		out = append(out, string(e.Message))
	}
	return out
}

// linesOf returns the lines read from files whose path has the given base name.
func (s *sink) linesOf(base string) []string {
	var out []string
	for _, e := range s.events() {
		if filepath.Base(e.File.Path) == base {
			out = append(out, string(e.Message))
		}
	}
	return out
}

// testConfig is the production configuration for paths: the defaults of NewConfig
// (poll_interval 1s, fsnotify on, close_inactive 5m, the registry written every second).
// A test that needs other timings sets them and says why.
func testConfig(paths ...string) *Config {
	c := NewConfig()
	c.Paths = paths
	return c
}

type harness struct {
	t      *testing.T
	in     *Input
	sink   *sink
	logs   *observer.ObservedLogs
	cancel context.CancelFunc
	done   chan error
	// closeMayFail: the test broke registry writes, so the final write in Close fails.
	closeMayFail bool
}

func testStage(dataDir string, once bool) (pipeline.Stage, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.DebugLevel)
	return pipeline.Stage{
		Kind: "input", Type: "file", Name: "t", Log: zap.New(core), DataDir: dataDir, Once: once,
		Agent: pipeline.Agent{Hostname: "web1"},
	}, logs
}

// start builds and runs an input; stop (registered as cleanup too) cancels and closes it.
func start(t *testing.T, c *Config, dataDir string, s *sink) *harness {
	t.Helper()
	stage, logs := testStage(dataDir, false)
	in, err := New(c, stage)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h := run(t, in, s.emit)
	h.sink, h.logs = s, logs
	return h
}

// run runs in with emit until stop (registered as cleanup too).
func run(t *testing.T, in *Input, emit pipeline.Emit) *harness {
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, in: in, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- in.Run(ctx, emit) }()
	t.Cleanup(h.stop)
	return h
}

// stop cancels Run, waits for it and closes the input (idempotent).
func (h *harness) stop() {
	h.t.Helper()
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		h.t.Fatal("Run did not return after cancel")
	}
	if err := h.in.Close(context.Background()); err != nil && !h.closeMayFail {
		h.t.Errorf("Close: %v", err)
	}
}

// waitLog waits for a log message containing msg.
func (h *harness) waitLog(msg string) {
	h.t.Helper()
	waitFor(h.t, "log "+msg, func() bool {
		return h.logs.FilterMessageSnippet(msg).Len() > 0
	})
}

// waitClosed waits for a "file closed" log whose reason contains reason.
func (h *harness) waitClosed(reason string) {
	h.t.Helper()
	waitFor(h.t, "file closed: "+reason, func() bool {
		for _, e := range h.logs.FilterMessage("file closed").All() {
			if r, _ := e.ContextMap()["reason"].(string); strings.Contains(r, reason) {
				return true
			}
		}
		return false
	})
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitLines waits until the sink holds exactly want (in order), failing on a mismatch.
func waitLines(t *testing.T, s *sink, want ...string) {
	t.Helper()
	waitFor(t, "lines "+strings.Join(want, ","), func() bool { return len(s.lines()) >= len(want) })
	if got := s.lines(); !equal(got, want) {
		t.Fatalf("lines:\n got %q\nwant %q", got, want)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// registryOf loads the registry an input with the test stage name keeps in dataDir.
func registryOf(t *testing.T, dataDir string) []regEntry {
	t.Helper()
	e, err := loadRegistry(filepath.Join(dataDir, "input.file.t", "registry.json"), "web1")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// noDup fails if an offset of a file is delivered twice.
func noDup(t *testing.T, evs []pipeline.Event) {
	t.Helper()
	seen := map[string]bool{}
	for _, e := range evs {
		k := e.ID
		if seen[k] {
			t.Fatalf("event %s offset %d delivered twice (%q)", e.File.Path, e.Offset, e.Message)
		}
		seen[k] = true
	}
}

// waitScans waits until the input completed n more discovery scans than when called.
func (h *harness) waitScans(n uint64) {
	h.t.Helper()
	gen := func() uint64 {
		h.in.mu.Lock()
		defer h.in.mu.Unlock()
		return h.in.gen
	}
	target := gen() + n
	waitFor(h.t, "scans", func() bool { return gen() >= target })
}

// idOf is the event id of a line event.
func idOf(e *pipeline.Event) string {
	return e.ID
}
