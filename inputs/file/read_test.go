package file

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logpipe/logpipe/pipeline"
)

func TestBasicRead(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "access_log")
	writeFile(t, p, "one\ntwo\nthree\n")
	s := &sink{}
	h := start(t, testConfig(p), t.TempDir(), s)
	waitLines(t, s, "one", "two", "three")
	appendFile(t, p, "four\n")
	waitLines(t, s, "one", "two", "three", "four")
	evs := s.events()
	wantOff := []int64{0, 4, 8, 14}
	for i, e := range evs {
		if e.Offset != wantOff[i] {
			t.Errorf("event %d offset %d, want %d", i, e.Offset, wantOff[i])
		}
		if e.File == nil || e.File.Path != p || e.ID == "" || e.File.Inode == 0 {
			t.Errorf("event %d origin %+v", i, e.File)
		}
		if e.Partition != -1 || e.Timestamp.IsZero() || e.Timestamp.Location() != time.UTC || e.Flags != 0 {
			t.Errorf("event %d: %+v", i, e)
		}
	}
	if evs[0].File != evs[1].File {
		t.Error("events of one read do not share one FileOrigin")
	}
	h.waitLog("file opened")
	h.stop()
	reg := registryOf(t, h.in.stage.DataDir)
	if len(reg) != 1 || reg[0].Offset != 19 || reg[0].Path != p {
		t.Fatalf("registry %+v", reg)
	}
}

func TestPartialLineHeldThenCompleted(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.log")
	writeFile(t, p, "first\nsec")
	s := &sink{}
	start(t, testConfig(p), t.TempDir(), s)
	waitLines(t, s, "first")
	appendFile(t, p, "ond\nthird\n")
	waitLines(t, s, "first", "second", "third")
	if off := s.events()[1].Offset; off != 6 {
		t.Fatalf("offset of the completed line %d, want 6", off)
	}
}

func TestCRLF(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.log")
	writeFile(t, p, "a\r\nb\r\n\r\nc\rd\n\n")
	s := &sink{}
	start(t, testConfig(p), t.TempDir(), s)
	waitLines(t, s, "a", "b", "", "c\rd", "")
}

func TestInvalidUTF8PassesThrough(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.log")
	bad := "caf\xe9 \xff\xfe \xc3\x28"
	writeFile(t, p, bad+"\nok\n")
	s := &sink{}
	start(t, testConfig(p), t.TempDir(), s)
	waitLines(t, s, bad, "ok")
	if s.events()[0].Flags != pipeline.FlagInvalidUTF8 || s.events()[1].Flags != 0 {
		t.Fatalf("flags %v %v", s.events()[0].Flags, s.events()[1].Flags)
	}
}

func TestEmptyFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.log")
	writeFile(t, p, "")
	s := &sink{}
	h := start(t, testConfig(p), t.TempDir(), s)
	h.waitLog("file has no complete first line yet") // no identity yet: not opened
	appendFile(t, p, "x")
	h.waitScans(2)
	if n := h.logs.FilterMessageSnippet("file opened").Len(); n != 0 {
		t.Fatalf("a file without a complete line was opened (%d)", n)
	}
	appendFile(t, p, "y\n")
	waitLines(t, s, "xy")
}

func TestLongLineCutFlaggedRestSkipped(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.log")
	long := strings.Repeat("x", 100)
	// A line longer than the read buffer too, so the skip spans reads.
	huge := strings.Repeat("y", readBufSize*2+17)
	writeFile(t, p, "before\n"+long+"\nmid\n"+huge+"\nafter\n"+strings.Repeat("z", 10)+"\r\n")
	c := testConfig(p)
	c.MaxLineBytes = "10"
	s := &sink{}
	start(t, c, t.TempDir(), s)
	waitLines(t, s, "before", "xxxxxxxxxx", "mid", "yyyyyyyyyy", "after", "zzzzzzzzzz")
	evs := s.events()
	for i, want := range []pipeline.Flags{0, pipeline.FlagTruncated, 0, pipeline.FlagTruncated, 0, 0} {
		if evs[i].Flags != want {
			t.Errorf("event %d (%q) flags %v, want %v", i, evs[i].Message, evs[i].Flags, want)
		}
	}
	if off := evs[4].Offset; off != int64(7+101+4+len(huge)+1) {
		t.Errorf("offset after the skipped line %d", off)
	}
}

// feed runs the line parser over chunks, as successive reads would deliver them.
func feed(t *testing.T, maxLine, batchEvents int, final bool, chunks ...string) []pipeline.Event {
	t.Helper()
	c := testConfig("unused")
	c.MaxLineBytes = strconv.Itoa(maxLine)
	c.BatchEvents = batchEvents
	stage, _ := testStage(t.TempDir(), false)
	in, err := New(c, stage)
	if err != nil {
		t.Fatal(err)
	}
	st := &state{tracker: pipeline.NewTracker(0), origin: &pipeline.FileOrigin{}}
	s := &sink{}
	ctx := context.Background()
	for _, ch := range chunks {
		p := []byte(ch)
		for len(p) > 0 {
			used, full := in.consume(st, p, testNow)
			p = p[used:]
			if full {
				if err := in.flush(ctx, st, s.emit, false); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := in.flush(ctx, st, s.emit, false); err != nil {
			t.Fatal(err)
		}
	}
	if final {
		if err := in.flush(ctx, st, s.emit, true); err != nil {
			t.Fatal(err)
		}
	}
	// Every batch ends where its successor's first line starts.
	var total int64
	for _, ch := range chunks {
		total += int64(len(ch))
	}
	if want := st.tracker.Committed(); final && want != total {
		t.Errorf("committed %d after the final flush, want %d", want, total)
	}
	return s.events()
}

func TestParserChunkBoundaries(t *testing.T) {
	type ev struct {
		msg  string
		off  int64
		flag pipeline.Flags
	}
	cases := []struct {
		name    string
		max     int
		final   bool
		chunks  []string
		want    []ev
		batchEv int
	}{
		{"crlf split", 100, false, []string{"abc\r", "\ndef\n"}, []ev{{"abc", 0, 0}, {"def", 5, 0}}, 10},
		{"line over reads", 100, false, []string{"ab", "cd", "e\nf\n"}, []ev{{"abcde", 0, 0}, {"f", 6, 0}}, 10},
		{"exact max", 3, false, []string{"abc\nabcd\n"}, []ev{{"abc", 0, 0}, {"abc", 4, pipeline.FlagTruncated}}, 10},
		{"exact max crlf", 3, false, []string{"abc\r\n"}, []ev{{"abc", 0, 0}}, 10},
		{"max+1 no cr split", 3, false, []string{"abcd", "\nx\n"}, []ev{{"abc", 0, pipeline.FlagTruncated}, {"x", 5, 0}}, 10},
		{"cut over reads", 3, false, []string{"ok\nabcdef", "ghi", "jk\nz\n"}, []ev{{"ok", 0, 0}, {"abc", 3, pipeline.FlagTruncated}, {"z", 15, 0}}, 10},
		{"cut mid cr", 3, false, []string{"ab\rcd\n"}, []ev{{"ab\r", 0, pipeline.FlagTruncated}}, 10},
		{"final partial", 100, true, []string{"a\nbc"}, []ev{{"a", 0, 0}, {"bc", 2, 0}}, 10},
		{"final while skipping", 3, true, []string{"a\nbcdefg"}, []ev{{"a", 0, 0}, {"bcd", 2, pipeline.FlagTruncated}}, 10},
		{"batch of one", 100, false, []string{"a\nb\nc\n"}, []ev{{"a", 0, 0}, {"b", 2, 0}, {"c", 4, 0}}, 1},
		{"cut keeps whole runes", 4, false, []string{"ab\u00e9\u00e9\n"}, []ev{{"ab\u00e9", 0, pipeline.FlagTruncated}}, 10},
		{"cut after rune", 4, false, []string{"abc\u00e9\u00e9\n"}, []ev{{"abc", 0, pipeline.FlagTruncated}}, 10},
		{"invalid utf8", 100, false, []string{"a\xffb\n"}, []ev{{"a\xffb", 0, pipeline.FlagInvalidUTF8}}, 10},
		{"empty lines", 100, false, []string{"\n\n", "\n"}, []ev{{"", 0, 0}, {"", 1, 0}, {"", 2, 0}}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := feed(t, tc.max, tc.batchEv, tc.final, tc.chunks...)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d events %v, want %v", len(got), got, tc.want)
			}
			for i, w := range tc.want {
				if string(got[i].Message) != w.msg || got[i].Offset != w.off || got[i].Flags != w.flag {
					t.Errorf("event %d = %q@%d flags %v, want %q@%d flags %v", i, got[i].Message, got[i].Offset, got[i].Flags, w.msg, w.off, w.flag)
				}
			}
			// Messages must not alias: appending to one must not clobber the next.
			for i := range got {
				if cap(got[i].Message) != len(got[i].Message) {
					t.Errorf("event %d message has spare capacity", i)
				}
			}
		})
	}
}

func TestBatchLimits(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.log")
	var buf bytes.Buffer
	for i := range 1000 {
		buf.WriteString("line " + strconv.Itoa(i) + "\n")
	}
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	c := testConfig(p)
	c.BatchEvents = 100
	c.BatchBytes = "512"
	s := &sink{}
	start(t, c, t.TempDir(), s)
	waitFor(t, "1000 lines", func() bool { return len(s.lines()) == 1000 })
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, b := range s.batches {
		n := 0
		for _, e := range b.Events {
			n += len(e.Message)
		}
		if b.Len() > 100 || n > 512+20 {
			t.Fatalf("batch %d: %d events, %d bytes", i, b.Len(), n)
		}
	}
}
