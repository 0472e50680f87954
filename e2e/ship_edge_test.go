package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/logpipe/logpipe/e2e/harness"
)

// A glob matching 1,000 files: every line of every file arrives once.
func TestShipThousandFiles(t *testing.T) {
	t.Parallel()
	e := newShipEnv(t, "")
	var lines []string
	for i := range 1000 {
		ls := harness.Lines(fmt.Sprintf("file%04d", i), 0, 5)
		harness.WriteFile(t, e.path(fmt.Sprintf("app%04d.log", i)), harness.Text(ls))
		lines = append(lines, ls...)
	}
	p := e.ship()
	e.waitEvents(len(lines), 90*time.Second)
	p.Terminate(t, 30*time.Second)
	harness.RequireAllOnce(t, lines, e.events())
}

// Awkward inputs in one run, none of which may crash logpipe or stop other files:
//   - a line far longer than max_line_bytes (64KiB here, 3 MiB line): one event whose message
//     is the first 64 KiB, with log.flags ["truncated"]; the rest of the line is skipped and
//     the next line is intact;
//   - invalid UTF-8: the event is valid JSON, the bad bytes replaced by U+FFFD;
//   - an empty file: no event; lines appended later are shipped;
//   - a file replaced by a symlink (follow_symlinks is off by default): the lines read from
//     the file before are shipped once, the symlink and its target are not followed.
func TestShipAwkwardInputs(t *testing.T) {
	t.Parallel()
	e := newShipEnv(t, `  max_line_bytes = "64KiB"`)
	// Over-long line.
	long := strings.Repeat("0123456789abcdef", 3<<20/16)
	harness.WriteFile(t, e.path("long.log"), "before-long\n"+long+"\nafter-long\n")
	// Invalid UTF-8.
	harness.WriteFile(t, e.path("bad.log"), "ok-1\nbad \xff\xfe utf8 \xc3\x28 here\nok-2\n")
	// Empty file.
	harness.WriteFile(t, e.path("empty.log"), "")
	// A file that will be replaced by a symlink.
	sym := harness.Lines("sym", 0, 20)
	harness.WriteFile(t, e.path("sym.log"), harness.Text(sym))
	target := filepath.Join(e.dir, "elsewhere.txt")
	harness.WriteFile(t, target, harness.Text(harness.Lines("target", 0, 20)))

	p := e.ship()
	want := 3 + 3 + len(sym) // long.log (3 events), bad.log (3), sym.log
	e.waitEvents(want, 60*time.Second)

	// Replace sym.log by a symlink; append to the empty file.
	if err := os.Remove(e.path("sym.log")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, e.path("sym.log")); err != nil {
		t.Fatal(err)
	}
	harness.AppendFile(t, e.path("empty.log"), "no-longer-empty\n")
	harness.AppendFile(t, target, "target-appended\n")
	e.waitEvents(want+1, 30*time.Second)
	// A new file is found by a re-glob, which also sees the symlink: once its line arrived,
	// the symlink had its chance to be (wrongly) read.
	marker := harness.Lines("marker", 0, 1)
	harness.WriteFile(t, e.path("new-after-symlink.log"), harness.Text(marker))
	e.waitEvents(want+2, 30*time.Second)
	if p.Exited() {
		t.Fatalf("logpipe exited: %d", p.ExitCode())
	}
	p.Terminate(t, 30*time.Second)
	evs := e.events()

	byMsg := map[string][]harness.Event{}
	for _, ev := range evs {
		byMsg[ev.Message] = append(byMsg[ev.Message], ev)
	}
	var cut *harness.Event
	for i := range evs {
		if strings.HasPrefix(evs[i].Message, "0123456789abcdef") {
			if cut != nil {
				t.Fatal("the long line produced more than one event")
			}
			cut = &evs[i]
		}
	}
	switch {
	case cut == nil:
		t.Fatal("no event for the long line")
	case len(cut.Message) != 64<<10:
		t.Errorf("long line cut to %d bytes, want %d", len(cut.Message), 64<<10)
	case !slices.Contains(cut.Log.Flags, "truncated"):
		t.Errorf("long line event has log.flags %v, want truncated", cut.Log.Flags)
	}
	for _, m := range []string{"before-long", "after-long", "ok-1", "ok-2", "no-longer-empty", marker[0]} {
		if len(byMsg[m]) != 1 {
			t.Errorf("%q arrived %d times, want once", m, len(byMsg[m]))
		}
	}
	var bad []harness.Event
	for _, ev := range evs {
		if strings.HasPrefix(ev.Message, "bad ") {
			bad = append(bad, ev)
		}
	}
	if len(bad) != 1 || !utf8.ValidString(bad[0].Message) || !strings.Contains(bad[0].Message, "\uFFFD") {
		t.Errorf("invalid UTF-8 line: %d events: %v", len(bad), bad)
	}
	for _, s := range sym {
		if len(byMsg[s]) != 1 {
			t.Errorf("%q (read before the symlink replaced its file) arrived %d times", s, len(byMsg[s]))
		}
	}
	for m := range byMsg {
		if strings.HasPrefix(m, "target") {
			t.Errorf("the symlink target was read (%q) although follow_symlinks is off", m)
		}
	}
}
