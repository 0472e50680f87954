package file

import (
	"context"
	"time"

	"fmt"
	"github.com/logpipe/logpipe/pipeline"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func numbered(prefix string, from, to int) (string, []string) {
	var b strings.Builder
	var lines []string
	for i := from; i < to; i++ {
		l := fmt.Sprintf("%s %04d %s", prefix, i, strings.Repeat("p", 40))
		b.WriteString(l + "\n")
		lines = append(lines, l)
	}
	return b.String(), lines
}

// TestRenameRotation: the writer keeps appending to the renamed file for a while, and a
// new file appears at the path; both are read completely, once.
func TestRenameRotation(t *testing.T) {
	for _, notify := range []bool{true, false} {
		t.Run(fmt.Sprintf("fsnotify=%v", notify), func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "access_log")
			data1, want1 := numbered("old", 0, 100)
			writeFile(t, p, data1)
			c := testConfig(p) // only the live name is matched
			c.noNotify = !notify
			// The renamed file's unterminated last line is emitted when the file is let
			// go, close_inactive after its last change: 5m by default, too long here.
			c.CloseInactive = "300ms"
			s := &sink{}
			h := start(t, c, t.TempDir(), s)
			waitFor(t, "first 100", func() bool { return len(s.lines()) == 100 })

			w, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if err := os.Rename(p, p+".1"); err != nil {
				t.Fatal(err)
			}
			data2, want2 := numbered("old", 100, 150)
			data3, want3 := numbered("new", 0, 30)
			writeFile(t, p, data3)
			w.WriteString(data2 + "unterminated")
			w.Close()

			want := append(append(append(want1, want2...), "unterminated"), want3...)
			waitFor(t, "all lines", func() bool { return len(s.lines()) >= len(want) })
			h.waitClosed("renamed away, read to its end")
			if got := sorted(s.lines()); !equal(got, sorted(want)) {
				t.Fatalf("got %d lines, want %d\n%q", len(got), len(want), got)
			}
			noDup(t, s.events())
			// Order within each file is kept.
			var old []string
			for _, e := range s.events() {
				if strings.HasPrefix(string(e.Message), "old") || string(e.Message) == "unterminated" {
					old = append(old, string(e.Message))
				}
			}
			if !equal(old, append(append(want1, want2...), "unterminated")) {
				t.Fatal("lines of the rotated file out of order")
			}
		})
	}
}

// TestRenameWithinGlob: a rotated name that the glob also matches keeps its identity and
// is not read again.
func TestRenameWithinGlob(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.log")
	data1, want1 := numbered("a", 0, 50) // > 1024 bytes: fingerprinted
	writeFile(t, p, data1)
	s := &sink{}
	h := start(t, testConfig(filepath.Join(dir, "app.log*")), t.TempDir(), s)
	waitFor(t, "first", func() bool { return len(s.lines()) == 50 })
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, p+".1", "late\n")
	data2, want2 := numbered("b", 0, 3)
	writeFile(t, p, data2)
	want := append(append(want1, "late"), want2...)
	waitFor(t, "all", func() bool { return len(s.lines()) >= len(want) })
	h.waitLog("file renamed")
	if got := sorted(s.lines()); !equal(got, sorted(want)) {
		t.Fatalf("got %q", got)
	}
}

func TestCopyTruncate(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "access_log")
	data1, want1 := numbered("before", 0, 60)
	writeFile(t, p, data1)
	s := &sink{}
	h := start(t, testConfig(p), t.TempDir(), s)
	waitFor(t, "first", func() bool { return len(s.lines()) == 60 })
	// logrotate copytruncate: copy away, truncate in place; the writer (O_APPEND) goes on.
	if err := os.WriteFile(p+".1", []byte(data1), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	h.waitLog("file truncated")
	data2, want2 := numbered("after", 0, 5)
	appendFile(t, p, data2)
	want := append(want1, want2...)
	waitLines(t, s, want...)
	if off := s.events()[60].Offset; off != 0 {
		t.Fatalf("after truncation, first offset %d", off)
	}
	if key := func(e pipeline.Event) string { return strings.TrimSuffix(e.ID, "-0") }; key(s.events()[60]) == key(s.events()[0]) {
		t.Fatal("a truncated file must get new event ids")
	}
}

// TestTruncateAndRegrow: truncated and rewritten past the old offset between two scans;
// the changed first bytes reveal it.
func TestTruncateAndRegrow(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "access_log")
	data1, want1 := numbered("before", 0, 30)
	writeFile(t, p, data1)
	c := testConfig(p)
	c.noNotify = true
	s := &sink{}
	h := start(t, c, t.TempDir(), s)
	waitFor(t, "first", func() bool { return len(s.lines()) == 30 })
	data2, want2 := numbered("rewritten", 0, 40)
	tmp := p + ".tmp"
	writeFile(t, tmp, data2)
	// Overwrite in place (same inode), longer than before.
	if err := os.WriteFile(p, []byte(data2), 0o644); err != nil {
		t.Fatal(err)
	}
	h.waitLog("file truncated")
	waitLines(t, s, append(want1, want2...)...)
}

func TestDeleteWhileOpen(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.log")
	writeFile(t, p, "one\n")
	s := &sink{}
	h := start(t, testConfig(p), t.TempDir(), s)
	waitLines(t, s, "one")
	w, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	w.WriteString("two\nthree")
	w.Close()
	waitLines(t, s, "one", "two", "three")
	h.waitClosed("deleted, read to its end")
	if n := h.logs.FilterMessage("file closed").Len(); n != 1 {
		t.Fatalf("file closed %d times", n)
	}
}

func TestCloseInactiveAndReopen(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.log")
	writeFile(t, p, "one\npart")
	c := testConfig(p)
	c.CloseInactive = "50ms"
	s := &sink{}
	h := start(t, c, t.TempDir(), s)
	waitLines(t, s, "one")
	h.waitLog("file closed")
	appendFile(t, p, "ial\ntwo\n")
	waitLines(t, s, "one", "partial", "two")
}

func TestStartPositionEnd(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.log")
	writeFile(t, p, "old1\nold2\npart")
	c := testConfig(filepath.Join(dir, "*.log"))
	c.StartPosition = "end"
	s := &sink{}
	h := start(t, c, t.TempDir(), s)
	h.waitLog("file opened")
	appendFile(t, p, "ial\nnew\n")
	waitLines(t, s, "new")
	// A file that appears later is read from its start.
	writeFile(t, filepath.Join(dir, "b.log"), "b1\nb2\n")
	waitLines(t, s, "new", "b1", "b2")
}

func TestSymlinkReplacingFile(t *testing.T) {
	for _, follow := range []bool{false, true} {
		t.Run(fmt.Sprintf("follow=%v", follow), func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "a.log")
			target := filepath.Join(t.TempDir(), "elsewhere.log")
			writeFile(t, p, "one\n")
			writeFile(t, target, "target1\n")
			c := testConfig(p)
			c.FollowSymlinks = follow
			s := &sink{}
			h := start(t, c, t.TempDir(), s)
			waitLines(t, s, "one")
			appendFile(t, p, "two\n") // written before the swap: must not be lost
			link := p + ".new"
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(link, p); err != nil {
				t.Fatal(err)
			}
			if follow {
				waitFor(t, "target read", func() bool { return len(s.lines()) == 3 })
				if got := sorted(s.lines()); !equal(got, []string{"one", "target1", "two"}) {
					t.Fatalf("got %q", got)
				}
				return
			}
			h.waitLog("skipping path")
			waitLines(t, s, "one", "two")
			if r := h.logs.FilterMessageSnippet("skipping path").All()[0].ContextMap()["reason"]; !strings.Contains(r.(string), "symlink") {
				t.Fatalf("reason %v", r)
			}
		})
	}
}

func TestDirectoryAndFIFOSkipped(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "d.log"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "f.log"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "r.log"), "regular\n")
	noPerm := filepath.Join(dir, "x.log")
	writeFile(t, noPerm, "secret\n")
	if err := os.Chmod(noPerm, 0); err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	h := start(t, testConfig(filepath.Join(dir, "*.log")), t.TempDir(), s)
	if os.Geteuid() == 0 {
		waitFor(t, "lines", func() bool { return len(s.lines()) == 2 }) // root reads anything
	} else {
		waitLines(t, s, "regular")
	}
	waitFor(t, "skip notes", func() bool { return h.logs.FilterMessageSnippet("skipping path").Len() >= 2 })
	reasons := ""
	for _, e := range h.logs.FilterMessageSnippet("skipping path").All() {
		reasons += e.ContextMap()["reason"].(string) + ";"
	}
	if !strings.Contains(reasons, "directory") || !strings.Contains(reasons, "FIFO") {
		t.Fatalf("reasons %s", reasons)
	}
	if os.Geteuid() != 0 && !strings.Contains(reasons, "permission denied") {
		t.Fatalf("reasons %s", reasons)
	}
}

func TestManyFiles(t *testing.T) {
	dir := t.TempDir()
	var want []string
	for i := range 1000 {
		name := fmt.Sprintf("f%04d.log", i)
		writeFile(t, filepath.Join(dir, name), name+" a\n"+name+" b\n")
		want = append(want, name+" a", name+" b")
	}
	c := testConfig(filepath.Join(dir, "*.log"))
	c.MaxOpenFiles = 100
	c.noNotify = true
	s := &sink{}
	h := start(t, c, t.TempDir(), s)
	waitFor(t, "2000 lines", func() bool { return len(s.lines()) >= 2000 })
	if got := sorted(s.lines()); !equal(got, want) {
		t.Fatalf("got %d lines", len(got))
	}
	noDup(t, s.events())
	h.stop()
	if n := len(registryOf(t, h.in.stage.DataDir)); n != 1000 {
		t.Fatalf("registry has %d entries", n)
	}
	capped := 0
	for _, e := range h.logs.FilterMessage("file closed").All() {
		if e.ContextMap()["reason"] == "max_open_files reached" {
			capped++
		}
	}
	if capped < 900 {
		t.Fatalf("only %d files closed to stay within max_open_files", capped)
	}
}

// TestCopyTruncateWhileBehind: the reader is behind when logrotate copies and truncates;
// the copy (matched by the glob) has the same fingerprint, so the old identity continues
// in it from where reading stopped: nothing lost, nothing read twice.
func TestCopyTruncateWhileBehind(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "access_log")
	data1, want1 := numbered("before", 0, 8000) // ~400 KB, more than one read
	writeFile(t, p, data1)
	c := testConfig(filepath.Join(dir, "access_log*"))
	c.BatchEvents = 100
	stage, logs := testStage(t.TempDir(), false)
	in, err := New(c, stage)
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	first, release := make(chan struct{}), make(chan struct{})
	var once bool
	emit := func(ctx context.Context, b *pipeline.Batch) error {
		if !once {
			once = true
			close(first)
			<-release
		}
		return s.emit(ctx, b)
	}
	run(t, in, emit)
	<-first
	if err := os.WriteFile(p+".1", []byte(data1), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	data2, want2 := numbered("after", 0, 20)
	appendFile(t, p, data2)
	close(release)
	want := append(want1, want2...)
	waitFor(t, "all lines", func() bool { return len(s.lines()) >= len(want) })
	if got := sorted(s.lines()); !equal(got, sorted(want)) {
		t.Fatalf("got %d lines, want %d", len(got), len(want))
	}
	noDup(t, s.events())
	if logs.FilterMessageSnippet("file truncated").Len() == 0 {
		t.Fatal("truncation not noticed")
	}
	resumed := false
	for _, e := range logs.FilterMessage("file opened").All() {
		m := e.ContextMap()
		if m["path"] == p+".1" && m["offset"].(int64) > 0 {
			resumed = true
		}
	}
	if !resumed {
		t.Fatal("the copy was not continued from the old read offset")
	}
}

// TestStartPositionEndBeyondOpenCap: start_position applies to every file of the first
// scan, also to those opened later because of max_open_files.
func TestStartPositionEndBeyondOpenCap(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a", "b", "c"} {
		writeFile(t, filepath.Join(dir, n+".log"), "old "+n+"\n")
	}
	c := testConfig(filepath.Join(dir, "*.log"))
	c.StartPosition = "end"
	c.MaxOpenFiles = 1
	c.CloseInactive = "1h"
	s := &sink{}
	h := start(t, c, t.TempDir(), s)
	waitFor(t, "all three opened", func() bool { return h.logs.FilterMessage("file opened (new stream)").Len() == 3 })
	for _, n := range []string{"a", "b", "c"} {
		appendFile(t, filepath.Join(dir, n+".log"), "new "+n+"\n")
	}
	waitFor(t, "3 lines", func() bool { return len(s.lines()) >= 3 })
	if got := sorted(s.lines()); !equal(got, []string{"new a", "new b", "new c"}) {
		t.Fatalf("got %q", got)
	}
}

// TestClosedWithUnreadData: a file closed (max_open_files, close_inactive) after data was
// appended but before it was read is reopened and read by the next scan.
func TestClosedWithUnreadData(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.log")
	writeFile(t, p, "one\n")
	stage, _ := testStage(t.TempDir(), false)
	in, err := New(testConfig(p), stage)
	if err != nil {
		t.Fatal(err)
	}
	in.buf = make([]byte, readBufSize)
	defer in.Close(context.Background())
	s := &sink{}
	ctx := context.Background()
	step := func() {
		in.lockedScan(time.Now())
		for {
			progress, err := in.readRound(ctx, s.emit)
			if err != nil {
				t.Fatal(err)
			}
			if !progress {
				break
			}
		}
	}
	step()
	appendFile(t, p, "two\n")
	for _, st := range in.open {
		in.closeFile(st, "test")
	}
	step()
	if got := s.lines(); !equal(got, []string{"one", "two"}) {
		t.Fatalf("got %q", got)
	}
}
