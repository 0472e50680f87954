package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/logpipe/logpipe/e2e/harness"
)

const topic = "kafka_test"

// shipEnv is one ship scenario: a broker with topic kafka_test (3 partitions), a directory
// with logs/ and the config, and helpers to start logpipe on it.
type shipEnv struct {
	t      *testing.T
	dir    string
	logs   string
	broker *harness.Broker
	config string
}

func newShipEnv(t *testing.T, inputExtra string) *shipEnv {
	t.Helper()
	harness.SkipIfShort(t)
	e := &shipEnv{t: t, dir: t.TempDir()}
	e.logs = filepath.Join(e.dir, "logs")
	if err := os.MkdirAll(e.logs, 0o755); err != nil {
		t.Fatal(err)
	}
	e.broker = harness.StartBroker(t, harness.BrokerOptions{Topics: []string{topic + ":3"}})
	e.config = harness.WriteConfig(t, e.dir, "ship.hcl", harness.ShipConfig(e.dir, e.broker.Addr(), topic, inputExtra))
	return e
}

// path returns the path of a file in the logs directory.
func (e *shipEnv) path(name string) string { return filepath.Join(e.logs, name) }

// ship starts `logpipe ship -c ship.hcl`.
func (e *shipEnv) ship() *harness.Process {
	return harness.StartLogpipe(e.t, "ship", "-c", e.config)
}

// waitEvents waits until the topic holds at least n events.
func (e *shipEnv) waitEvents(n int, timeout time.Duration) []harness.Event {
	e.t.Helper()
	return harness.WaitForEvents(e.t, e.broker.Addr(), topic, n, timeout)
}

// waitLines waits until every one of lines is in the topic.
func (e *shipEnv) waitLines(lines []string, timeout time.Duration) []harness.Event {
	e.t.Helper()
	return harness.WaitForLines(e.t, e.broker.Addr(), topic, lines, timeout)
}

// events reads the whole topic.
func (e *shipEnv) events() []harness.Event {
	e.t.Helper()
	return harness.ReadEvents(e.t, e.broker.Addr(), topic)
}

// registryOffsets reads the file input's registry (<data_dir>/input.file.access/registry.json)
// and returns the committed offset per path.
func (e *shipEnv) registryOffsets() map[string]int64 {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.dir, "data", "input.file.access", "registry.json"))
	if err != nil {
		e.t.Fatalf("registry: %v", err)
	}
	var reg struct {
		Entries []struct {
			Path   string `json:"path"`
			Offset int64  `json:"offset"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(b, &reg); err != nil {
		e.t.Fatalf("registry is not the expected JSON: %v\n%s", err, b)
	}
	out := map[string]int64{}
	for _, en := range reg.Entries {
		out[en.Path] = en.Offset
	}
	return out
}

// registryOffset is the committed offset of path in the registry; 0 when the registry or
// the entry does not exist yet.
func (e *shipEnv) registryOffset(path string) int64 {
	e.t.Helper()
	if _, err := os.Stat(filepath.Join(e.dir, "data", "input.file.access", "registry.json")); err != nil {
		return 0
	}
	return e.registryOffsets()[path]
}

// writer appends lines to a path in small chunks, like a web server, and remembers them.
type writer struct {
	t     *testing.T
	mu    sync.Mutex
	lines []string
	next  int
}

// write appends n new lines "<prefix> line <i> ..." to path.
func (w *writer) write(path, prefix string, n int) {
	w.t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	ls := harness.Lines(prefix, w.next, n)
	w.next += n
	harness.AppendFile(w.t, path, harness.Text(ls))
	w.lines = append(w.lines, ls...)
}

// shipWritten writes n "before" lines to path with w, starts logpipe ship and waits until
// the topic holds them.
func (e *shipEnv) shipWritten(w *writer, path string, n int) *harness.Process {
	e.t.Helper()
	w.write(path, "before", n)
	p := e.ship()
	e.waitEvents(n, 30*time.Second)
	return p
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
