package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logpipe/logpipe/pipeline"
)

// These tests hold the file input to its promise about event ids: a line's id is a pure
// function of the host, the content of its stream and its offset (or of state made durable
// before the first event using it left), so that bytes already read are never sent again
// under another id. They run at production timings (NewConfig: poll_interval 1s, fsnotify
// on, registry written every second), where the races the promise is about happen.

// linesOnce fails unless every line in want was delivered exactly once (by text: the
// lines of these tests are unique), whatever its id.
func linesOnce(t *testing.T, s *sink, want []string) {
	t.Helper()
	count := map[string]int{}
	for _, l := range s.lines() {
		count[l]++
	}
	for _, l := range want {
		if count[l] != 1 {
			t.Fatalf("line %q delivered %d times, want once", l, count[l])
		}
		delete(count, l)
	}
	for l, n := range count {
		t.Fatalf("unexpected line %q delivered %d times (a fragment, or a line never written)", l, n)
	}
}

// idsOf maps each delivered line to its event id.
func idsOf(s *sink) map[string]string {
	out := map[string]string{}
	for _, e := range s.events() {
		out[string(e.Message)] = idOf(&e)
	}
	return out
}

// TestCopytruncateCopyBehindReadOffset: logrotate copies access_log to access_log.1 (which
// the glob matches), the writer appends more lines, which are read, then logrotate
// truncates access_log. The copy holds fewer bytes than were read: it is the same stream,
// not a truncated file, and nothing of it is read again.
func TestCopytruncateCopyBehindReadOffset(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines int
	}{
		{"fingerprinted", 60}, // > 1 KiB before the copy
		{"short", 3},          // the copy is under 1 KiB
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "access_log")
			before, want := numbered("before", 0, tc.lines)
			writeFile(t, p, before)
			s := &sink{}
			h := start(t, testConfig(filepath.Join(dir, "access_log*")), t.TempDir(), s)
			waitFor(t, "first lines", func() bool { return len(s.lines()) == len(want) })

			writeFile(t, p+".1", before) // the copy
			between, w2 := numbered("between", 0, 4)
			appendFile(t, p, between)
			want = append(want, w2...)
			waitFor(t, "lines written between copy and truncate", func() bool { return len(s.lines()) == len(want) })
			if err := os.Truncate(p, 0); err != nil {
				t.Fatal(err)
			}
			after, w3 := numbered("after", 0, 5)
			appendFile(t, p, after)
			want = append(want, w3...)
			waitFor(t, "lines after the truncation", func() bool { return len(s.lines()) >= len(want) })
			// A copy mistaken for a truncated file is read again at a later scan.
			h.waitScans(2)
			linesOnce(t, s, want)
		})
	}
}

// TestShortFileIDsWithoutRegistry: a file shorter than 1 KiB (every freshly rotated
// access_log) is killed right after its first line left, before the registry was written:
// after the restart its lines carry the same ids. Losing the registry is simulated by
// removing it, which is what a kill -9 before the first registry write leaves.
func TestShortFileIDsWithoutRegistry(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	p := filepath.Join(dir, "access_log")
	writeFile(t, p, "first line\n")
	s1 := &sink{noAck: true} // nothing acknowledged: nothing may be committed
	h1 := start(t, testConfig(p), data, s1)
	waitLines(t, s1, "first line")
	h1.stop()
	if err := os.RemoveAll(filepath.Join(data, "input.file.t")); err != nil {
		t.Fatal(err)
	}
	appendFile(t, p, "second line\n")
	s2 := &sink{}
	start(t, testConfig(p), data, s2)
	waitLines(t, s2, "first line", "second line")
	if a, b := idOf(&s1.events()[0]), idOf(&s2.events()[0]); a != b {
		t.Fatalf("the first line was sent as %s, then as %s after the restart", a, b)
	}
}

// TestTruncateRegrowBetweenScans: at production timings (fsnotify on, 1s poll), the file
// is truncated and rewritten past the old read offset in one go; the wake-up from
// fsnotify reads it before any scan. The reader must notice that the file changed under
// it: no fragment of a line is emitted, and every new line is delivered once.
func TestTruncateRegrowBetweenScans(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "access_log")
	old, want := numbered("old", 0, 30)
	writeFile(t, p, old)
	s := &sink{}
	h := start(t, testConfig(p), t.TempDir(), s)
	waitFor(t, "old lines", func() bool { return len(s.lines()) == len(want) })
	// Truncate and write 40 longer lines at once (O_TRUNC: one step for the watcher).
	fresh, w2 := numbered("new-and-longer-line", 0, 40)
	writeFile(t, p, fresh)
	want = append(want, w2...)
	waitFor(t, "new lines", func() bool { return len(s.lines()) >= len(want) })
	h.waitScans(2)
	linesOnce(t, s, want)
}

// TestInodeReuse: a file is deleted and a new one created at once, typically on the same
// inode; the new file is a new stream: read from its start, under ids of its own.
func TestInodeReuse(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.log")
	a, want := numbered("a", 0, 5)
	writeFile(t, p, a)
	s := &sink{}
	h := start(t, testConfig(p), t.TempDir(), s)
	waitFor(t, "first file", func() bool { return len(s.lines()) == len(want) })
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	b, w2 := numbered("b", 0, 7)
	writeFile(t, p, b)
	want = append(want, w2...)
	waitFor(t, "second file", func() bool { return len(s.lines()) >= len(want) })
	h.waitScans(2)
	linesOnce(t, s, want)
	ids := idsOf(s)
	if ids[w2[0]] == ids[want[0]] {
		t.Fatalf("the new file's first line has the id of the old one's: %s", ids[w2[0]])
	}
}

// TestNewFilesWhileRegistryUnwritable: files that appear while the registry cannot be
// written keep their ids once it can be written again and after a restart.
func TestNewFilesWhileRegistryUnwritable(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	p1 := filepath.Join(dir, "a.log")
	writeFile(t, p1, "a first\n")
	s1 := &sink{}
	h1 := start(t, testConfig(filepath.Join(dir, "*.log")), data, s1)
	waitLines(t, s1, "a first")
	waitFor(t, "registry written", func() bool { return len(registryOf(t, data)) == 1 })
	tmp := filepath.Join(data, "input.file.t", "registry.json.tmp")
	if err := os.MkdirAll(filepath.Join(tmp, "block"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "b.log"), "b first\n")
	waitFor(t, "b's line", func() bool { return len(s1.lines()) == 2 })
	h1.waitLog("cannot write the registry")
	h1.closeMayFail = true
	h1.stop() // Close cannot write the registry either: b is not in it
	if err := os.RemoveAll(tmp); err != nil {
		t.Fatal(err)
	}
	if r := registryOf(t, data); len(r) != 1 {
		t.Fatalf("registry has %d entries, want only a's", len(r))
	}
	appendFile(t, filepath.Join(dir, "b.log"), "b second\n")
	s2 := &sink{}
	start(t, testConfig(filepath.Join(dir, "*.log")), data, s2)
	waitFor(t, "b again", func() bool { return len(s2.lines()) >= 2 })
	first, again := idsOf(s1), idsOf(s2)
	if first["b first"] == "" || first["b first"] != again["b first"] {
		t.Fatalf("b's first line was sent as %q and again as %q", first["b first"], again["b first"])
	}
}

// TestFilesBehindHoldOnlyPartialLines: with many files behind (each read for a turn, more
// of it waiting), a file waiting for its next turn holds only its partial line, not a
// batch-sized buffer: memory does not grow with the number of files behind.
func TestFilesBehindHoldOnlyPartialLines(t *testing.T) {
	const files = 48
	dir := t.TempDir()
	line := strings.Repeat("x", 70) // 71 bytes with its '\n': turns end mid-line
	var content strings.Builder
	for content.Len() < 1<<20 {
		fmt.Fprintf(&content, "%08d %s\n", content.Len(), line)
	}
	for i := range files { // distinct first lines: distinct streams
		writeFile(t, filepath.Join(dir, fmt.Sprintf("f%02d.log", i)), fmt.Sprintf("file %d\n", i)+content.String())
	}
	c := testConfig(filepath.Join(dir, "*.log"))
	// One read (256 KiB) per turn and one batch per turn, so that after `files` batches
	// every file had exactly one turn and waits with most of it unread.
	c.readBudget = 1
	c.BatchEvents = 1 << 20
	c.BatchBytes = "4MiB"
	reg := prometheus.NewRegistry()
	stage, _ := testStage(t.TempDir(), false)
	stage.Metrics = prometheus.WrapRegistererWith(prometheus.Labels{"stage": stage.ID()}, reg)
	in, err := New(c, stage)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	blocked := make(chan struct{})
	emit := func(ctx context.Context, b *pipeline.Batch) error {
		b.Ack()
		if n.Add(1) == files+1 { // the first file's second turn: all files were read once
			close(blocked)
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}
	run(t, in, emit)
	select {
	case <-blocked:
	case <-time.After(time.Minute):
		t.Fatalf("only %d batches emitted", n.Load())
	}
	v := metricValues(t, reg, stage.ID())
	held := v["logpipe_file_buffered_bytes"]
	if bound := float64(files * 1024); held > bound {
		t.Fatalf("files waiting for their turn hold %.0f bytes (%.0f each), want at most %.0f (their partial lines)",
			held, held/files, bound)
	}
	t.Logf("%d files behind hold %.0f bytes of partial lines", files, held)
}
