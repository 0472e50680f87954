package file

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
)

// Sockets, dangling symlinks and symlink loops among the matched paths: each is logged with
// its path and reason, the regular file next to them is read, nothing crashes.
func TestSocketDanglingAndLoopingSymlinksSkipped(t *testing.T) {
	dir, err := os.MkdirTemp("", "lp") // short: unix socket paths are limited to ~100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ln, err := net.Listen("unix", filepath.Join(dir, "s.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := os.Symlink(filepath.Join(dir, "gone"), filepath.Join(dir, "dangling.log")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "loop2.log"), filepath.Join(dir, "loop1.log")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "loop1.log"), filepath.Join(dir, "loop2.log")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "r.log"), "regular\n")
	c := testConfig(filepath.Join(dir, "*.log"))
	c.FollowSymlinks = true
	s := &sink{}
	h := start(t, c, t.TempDir(), s)
	waitLines(t, s, "regular")
	reasons := map[string]string{}
	waitFor(t, "skip notes", func() bool {
		for _, e := range h.logs.FilterMessageSnippet("skipping path").All() {
			m := e.ContextMap()
			reasons[filepath.Base(m["path"].(string))] = m["reason"].(string)
		}
		return len(reasons) >= 4
	})
	for path, want := range map[string]string{
		"s.log":        "socket",
		"dangling.log": "no such file",
		"loop1.log":    "too many levels of symbolic links",
		"loop2.log":    "too many levels of symbolic links",
	} {
		if !strings.Contains(reasons[path], want) {
			t.Errorf("%s: reason %q, want it to mention %q", path, reasons[path], want)
		}
	}
	// A dangling symlink whose target appears is read at a later scan.
	writeFile(t, filepath.Join(dir, "gone"), "late\n")
	waitFor(t, "the target that appeared", func() bool { return len(s.lines()) == 2 })
}

// Files that appear and vanish while the input scans (between glob, stat and open): never
// an error or a crash; a file that stays is read completely, exactly once.
func TestFilesVanishingDuringScans(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "keep.log")
	content, want := numbered("k", 0, 50)
	writeFile(t, keep, content)
	s := &sink{}
	c := testConfig(filepath.Join(dir, "*.log"))
	c.PollInterval = "1ms"
	h := start(t, c, t.TempDir(), s)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			p := filepath.Join(dir, fmt.Sprintf("flicker%d.log", i%8))
			_ = os.WriteFile(p, []byte("x\n"), 0o644)
			_ = os.Remove(p)
		}
	}()
	waitFor(t, "the stable file", func() bool { return len(s.linesOf("keep.log")) == len(want) })
	// Let churn and scans overlap a little longer (a condition cannot be polled here: the
	// point is that nothing happens).
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	h.stop()
	if got := s.linesOf("keep.log"); !equal(got, want) {
		t.Fatalf("keep.log lines %q", got)
	}
	noDup(t, s.events())
	for _, e := range h.logs.All() {
		if e.Level >= zapcore.ErrorLevel {
			t.Errorf("error logged: %s %v", e.Message, e.ContextMap())
		}
	}
}

// NUL bytes, binary garbage, lone \r and invalid UTF-8: lines are split at \n only,
// delivered byte for byte (the encoder replaces what JSON cannot hold), with exact offsets.
func TestBinaryGarbageAndNULs(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bin.log")
	rng := rand.New(rand.NewPCG(1, 2))
	var buf bytes.Buffer
	buf.WriteString("\x00\x00\x00\n")
	buf.WriteString("a\x00b\rc\xff\xfe\n")
	for range 200 {
		n := rng.IntN(300)
		for range n {
			b := byte(rng.IntN(256))
			if b == '\n' {
				b = 0
			}
			buf.WriteByte(b)
		}
		buf.WriteByte('\n')
	}
	data := buf.Bytes()
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	start(t, testConfig(p), t.TempDir(), s)
	lines := bytes.Split(data[:len(data)-1], []byte("\n"))
	waitFor(t, "every line", func() bool { return len(s.events()) == len(lines) })
	off := int64(0)
	for i, e := range s.events() {
		want := bytes.TrimSuffix(lines[i], []byte("\r")) // a final \r belongs to the line ending (CRLF)
		if !bytes.Equal(e.Message, want) {
			t.Fatalf("line %d: got %q, want %q", i, e.Message, want)
		}
		if e.Offset != off {
			t.Fatalf("line %d: offset %d, want %d", i, e.Offset, off)
		}
		off += int64(len(lines[i])) + 1
	}
}

// The registry cannot be written (disk full, read-only: simulated by a directory where its
// temporary file goes, which stops root too): the input keeps shipping, the registry on
// disk keeps its last good positions, the failure is logged at error level, and when writes
// work again the positions are committed; a restart then sends nothing twice.
func TestRegistryWriteFailureKeepsShipping(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	p := filepath.Join(dir, "a.log")
	content, first := numbered("a", 0, 20)
	writeFile(t, p, content)
	s := &sink{}
	h := start(t, testConfig(p), data, s)
	waitLines(t, s, first...)
	end1 := int64(len(content))
	waitFor(t, "registry at the end of the file", func() bool {
		r := registryOf(t, data)
		return len(r) == 1 && r[0].Offset == end1
	})

	// Break registry writes: a non-empty directory at the temporary file's path.
	tmp := filepath.Join(data, "input.file.t", "registry.json.tmp")
	if err := os.MkdirAll(filepath.Join(tmp, "block"), 0o755); err != nil {
		t.Fatal(err)
	}
	more, second := numbered("b", 0, 20)
	appendFile(t, p, more)
	waitLines(t, s, append(append([]string{}, first...), second...)...) // shipping goes on
	h.waitLog("cannot write the registry")
	e := h.logs.FilterMessageSnippet("cannot write the registry").All()[0]
	if e.Level != zapcore.ErrorLevel || !strings.Contains(fmt.Sprint(e.ContextMap()["registry"]), "registry.json") {
		t.Fatalf("first failure logged as %v %v, want an error naming the registry", e.Level, e.ContextMap())
	}
	if r := registryOf(t, data); len(r) != 1 || r[0].Offset != end1 {
		t.Fatalf("registry %v, want the last good offset %d", r, end1)
	}

	// Writes work again: the positions are committed.
	if err := os.RemoveAll(tmp); err != nil {
		t.Fatal(err)
	}
	end2 := end1 + int64(len(more))
	waitFor(t, "registry committed again", func() bool {
		r := registryOf(t, data)
		return len(r) == 1 && r[0].Offset == end2
	})
	h.waitLog("the registry is written again")
	h.stop()

	// A restart sends nothing already committed.
	third, tail := numbered("c", 0, 3)
	appendFile(t, p, third)
	s2 := &sink{}
	start(t, testConfig(p), data, s2)
	waitLines(t, s2, tail...)
}
