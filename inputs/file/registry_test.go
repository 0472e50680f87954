package file

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/logpipe/logpipe/pipeline"
)

// TestRestartResumesFromCommitted: only acknowledged batches move the registry; a restart
// reads again from the committed offset, with the same event ids.
func TestRestartResumesFromCommitted(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	p := filepath.Join(dir, "a.log")
	content, want := numbered("l", 0, 10) // > 1024 bytes: fingerprinted
	writeFile(t, p, content)
	c := testConfig(p)
	c.BatchEvents = 2
	s1 := &sink{noAck: true, ackOnly: 2} // acknowledge the first two batches only
	h1 := start(t, c, data, s1)
	waitFor(t, "10 lines", func() bool { return len(s1.lines()) == 10 })
	committed := s1.events()[4].Offset // end of the second batch = start of line 4
	waitFor(t, "registry at the committed offset", func() bool {
		r := registryOf(t, data)
		return len(r) == 1 && r[0].Offset == committed
	})
	h1.stop()
	if r := registryOf(t, data); r[0].Offset != committed {
		t.Fatalf("registry offset %d after Close, want %d (unacked batches must not commit)", r[0].Offset, committed)
	}

	s2 := &sink{}
	c2 := testConfig(p)
	start(t, c2, data, s2)
	waitLines(t, s2, want[4:]...)
	first, again := s1.events(), s2.events()
	for i, e := range again {
		if e.Offset != first[4+i].Offset || e.ID != first[4+i].ID {
			t.Fatalf("re-sent line %d: offset %d id %s, first run %d %s", i, e.Offset, e.ID, first[4+i].Offset, first[4+i].ID)
		}
	}
}

// TestRestartShortFileThenGrows: a file shorter than the fingerprint keeps its entry and its
// event ids over a restart, and as it grows its head is learnt, without reading it again.
func TestRestartShortFileThenGrows(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	p := filepath.Join(dir, "a.log")
	writeFile(t, p, "short\n")
	s1 := &sink{}
	h1 := start(t, testConfig(p), data, s1)
	waitLines(t, s1, "short")
	h1.stop()
	reg := registryOf(t, data)
	if len(reg) != 1 || string(reg[0].Head) != "short\n" || reg[0].Offset != 6 {
		t.Fatalf("registry %+v", reg)
	}
	key := reg[0].Key
	more, want := numbered("m", 0, 40)
	appendFile(t, p, more)
	s2 := &sink{}
	h2 := start(t, testConfig(p), data, s2)
	waitLines(t, s2, want...)
	if s2.events()[0].ID != string(pipeline.AppendEventID(nil, key, 6)) {
		t.Fatalf("id %s after the restart, want the stream's key %s", s2.events()[0].ID, key)
	}
	h2.stop()
	reg = registryOf(t, data)
	if len(reg) != 1 || reg[0].Key != key || len(reg[0].Head) != fingerprintBytes || reg[0].Offset != int64(6+len(more)) {
		t.Fatalf("registry after growth %+v", reg)
	}
	// A third run reads nothing again.
	s3 := &sink{}
	h3 := start(t, testConfig(p), data, s3)
	h3.waitLog("file opened")
	appendFile(t, p, "last\n")
	waitLines(t, s3, "last")
}

// TestGrowWhileRunning: the head is learnt as the file grows; the ids keep their key and
// events carry the fingerprint once the file has 1 KiB.
func TestGrowWhileRunning(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	p := filepath.Join(dir, "a.log")
	writeFile(t, p, "x\n")
	s := &sink{}
	h := start(t, testConfig(p), data, s)
	waitLines(t, s, "x")
	more, want := numbered("m", 0, 40)
	appendFile(t, p, more)
	waitLines(t, s, append([]string{"x"}, want...)...)
	appendFile(t, p, "after\n")
	waitFor(t, "after", func() bool { return len(s.lines()) == 42 })
	last := s.events()[41]
	key := strings.TrimSuffix(s.events()[0].ID, "-0")
	if last.File.Fingerprint == "" || last.ID != string(pipeline.AppendEventID(nil, key, last.Offset)) {
		t.Fatalf("event after growth %+v %+v", last, last.File)
	}
	h.stop()
	if r := registryOf(t, data); len(r) != 1 || r[0].Key != key || len(r[0].Head) != fingerprintBytes {
		t.Fatalf("registry %+v", r)
	}
}

// TestRegistryVersion1Upgrade: a registry written by the previous version (identities by
// fingerprint and by device:inode, id prefixes beside) is read: its files resume where they
// were, with the ids they had.
func TestRegistryVersion1Upgrade(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	long, short := filepath.Join(dir, "long.log"), filepath.Join(dir, "short.log")
	content, lines := numbered("l", 0, 30)
	writeFile(t, long, content)
	writeFile(t, short, "one\n")
	fp := sha256.Sum256([]byte(content[:fingerprintBytes]))
	oneSum := sha256.Sum256([]byte("one\n"))
	entries := []regEntry{
		{Key: hex.EncodeToString(fp[:]), Offset: int64(len(lines[0]) + 1), Path: long, IDPrefix: "aaaaaaaaaaaaaaaaaaaa"},
		{Key: "1:2", Offset: 4, Path: short, IDPrefix: "bbbbbbbbbbbbbbbbbbbb", HeadLen: 4, HeadSHA: hex.EncodeToString(oneSum[:])},
	}
	raw, _ := json.Marshal(entries)
	sum := sha256.Sum256(raw)
	file, _ := json.Marshal(regFile{Version: 1, Checksum: hex.EncodeToString(sum[:]), Entries: raw})
	if err := os.MkdirAll(filepath.Join(data, "input.file.t"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(data, "input.file.t", "registry.json"), string(file))
	appendFile(t, short, "two\n")
	s := &sink{}
	h := start(t, testConfig(filepath.Join(dir, "*.log")), data, s)
	waitFor(t, "lines", func() bool { return len(s.lines()) == 30 })
	ids := idsOf(s)
	if ids[lines[1]] != string(pipeline.AppendEventID(nil, "aaaaaaaaaaaaaaaaaaaa", int64(len(lines[0])+1))) || ids["two"] != "bbbbbbbbbbbbbbbbbbbb-4" {
		t.Fatalf("ids after the upgrade: %v", ids)
	}
	if _, again := ids[lines[0]]; again {
		t.Fatal("a committed line was read again")
	}
	h.stop()
	for _, e := range registryOf(t, data) {
		if len(e.Head) == 0 || e.HeadSHA != "" {
			t.Fatalf("entry not upgraded: %+v", e)
		}
	}
}

func TestCorruptRegistryReported(t *testing.T) {
	good := func(t *testing.T) []byte {
		data := t.TempDir()
		p := filepath.Join(data, "reg.json")
		if err := saveRegistry(p, []regEntry{{Key: "1:2", Offset: 5, Path: "/x", IDPrefix: "ab", HeadLen: 0, HeadSHA: strings.Repeat("0", 64)}}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}(t)
	cases := map[string][]byte{
		"garbage":     []byte("not json at all"),
		"half":        good[:len(good)/2],
		"checksum":    []byte(strings.Replace(string(good), `"offset":5`, `"offset":6`, 1)),
		"version":     []byte(strings.Replace(string(good), `"version":2`, `"version":9`, 1)),
		"empty":       {},
		"trailing":    append(append([]byte{}, good...), []byte("{}")...),
		"nul-filled":  make([]byte, 64),
		"wrong shape": []byte(`{"version":1,"checksum":"x","entries":{}}`),
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			data := t.TempDir()
			reg := filepath.Join(data, "input.file.t", "registry.json")
			if err := os.MkdirAll(filepath.Dir(reg), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(reg, content, 0o644); err != nil {
				t.Fatal(err)
			}
			stage, _ := testStage(data, false)
			_, err := New(testConfig("/nonexistent/*.log"), stage)
			var ce *CorruptRegistryError
			if !errors.As(err, &ce) || !pipeline.IsPermanent(err) {
				t.Fatalf("err = %v, want a permanent CorruptRegistryError", err)
			}
			if !strings.Contains(err.Error(), reg) || !strings.Contains(err.Error(), "move it away") {
				t.Fatalf("message does not say which file and what to do: %v", err)
			}
			if b, _ := os.ReadFile(reg); string(b) != string(content) {
				t.Fatal("the corrupt registry was changed")
			}
		})
	}
}

func TestRegistryRoundTripAndAtomicWrite(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "registry.json")
	in := []regEntry{{Key: strings.Repeat("a", 20), Offset: 42, Path: "/var/log/x", Device: 1, Inode: 2, Head: []byte("first\n"), LastSeen: time.Unix(100, 0).UTC()}}
	if err := saveRegistry(p, in); err != nil {
		t.Fatal(err)
	}
	out, err := loadRegistry(p, "web1")
	if err != nil || len(out) != 1 || !reflect.DeepEqual(out[0], in[0]) {
		t.Fatalf("round trip: %+v %v", out, err)
	}
	if _, err := os.Stat(p + ".tmp"); !os.IsNotExist(err) {
		t.Fatal("temporary file left behind")
	}
}

func TestCleanRemoved(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	writeFile(t, a, "a\n")
	writeFile(t, b, "b\n")
	c := testConfig(filepath.Join(dir, "*.log"))
	c.CleanRemoved = "100ms"
	c.CloseInactive = "50ms"
	s := &sink{}
	h := start(t, c, data, s)
	waitFor(t, "lines", func() bool { return len(s.lines()) == 2 })
	waitFor(t, "2 entries", func() bool { return len(registryOf(t, data)) == 2 })
	if err := os.Remove(a); err != nil {
		t.Fatal(err)
	}
	h.waitLog("registry entry removed")
	waitFor(t, "1 entry", func() bool {
		r := registryOf(t, data)
		return len(r) == 1 && r[0].Path == b
	})
}

// TestUnackedHoldsEntry: an entry with batches in flight is not cleaned.
func TestUnackedHoldsEntry(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	a := filepath.Join(dir, "a.log")
	writeFile(t, a, "a\n")
	c := testConfig(a)
	c.CleanRemoved = "10ms"
	s := &sink{noAck: true}
	h := start(t, c, data, s)
	waitLines(t, s, "a")
	os.Remove(a)
	h.waitClosed("deleted")
	waitFor(t, "a few scans", func() bool { return h.logs.FilterMessage("file closed").Len() > 0 })
	h.stop()
	r := registryOf(t, data)
	if len(r) != 1 || r[0].Offset != 0 {
		t.Fatalf("registry %+v", r)
	}
}

func TestOnceMode(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	var want []string
	for i, content := range []string{"a1\na2\na3", "b1\n", ""} {
		name := filepath.Join(dir, string(rune('a'+i))+".log")
		writeFile(t, name, content)
	}
	want = []string{"a1", "a2", "a3", "b1"}
	c := testConfig(filepath.Join(dir, "*.log"))
	c.MaxOpenFiles = 1
	stage, _ := testStage(data, true)
	in, err := New(c, stage)
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := in.Run(ctx, s.emit); err != nil {
		t.Fatal(err)
	}
	if err := in.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := sorted(s.lines()); !equal(got, want) {
		t.Fatalf("got %q", got)
	}
	for _, e := range registryOf(t, data) {
		if want := map[string]int64{"a.log": 8, "b.log": 3, "c.log": 0}[filepath.Base(e.Path)]; e.Offset != want {
			t.Errorf("%s committed %d, want %d", e.Path, e.Offset, want)
		}
	}
}

// TestPollingOnly: without fsnotify, new files and appends are found by polling.
func TestPollingOnly(t *testing.T) {
	dir := t.TempDir()
	c := testConfig(filepath.Join(dir, "*.log"))
	c.noNotify = true
	s := &sink{}
	start(t, c, t.TempDir(), s)
	writeFile(t, filepath.Join(dir, "new.log"), "hello\n")
	waitLines(t, s, "hello")
	appendFile(t, filepath.Join(dir, "new.log"), "again\n")
	waitLines(t, s, "hello", "again")
}

// TestNotifyWakesBeforePoll: with a long poll interval, fsnotify makes new data show up
// early; it is only a hint, so this is the one place it is checked.
func TestNotifyWakesBeforePoll(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.log")
	writeFile(t, p, "one\n")
	c := testConfig(filepath.Join(dir, "*.log"))
	c.PollInterval = "1h"
	s := &sink{}
	start(t, c, t.TempDir(), s)
	waitLines(t, s, "one")
	appendFile(t, p, "two\n")
	waitLines(t, s, "one", "two")
	writeFile(t, filepath.Join(dir, "b.log"), "three\n")
	waitLines(t, s, "one", "two", "three")
}

// TestBackpressure: while emit blocks, nothing more is read; the input stops cleanly.
func TestBackpressure(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.log")
	content, _ := numbered("l", 0, 100)
	writeFile(t, p, content)
	c := testConfig(p)
	c.BatchEvents = 10
	stage, _ := testStage(t.TempDir(), false)
	in, err := New(c, stage)
	if err != nil {
		t.Fatal(err)
	}
	gate := make(chan *pipeline.Batch)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- in.Run(ctx, func(ctx context.Context, b *pipeline.Batch) error {
			select {
			case gate <- b:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	b1 := <-gate
	b2 := <-gate
	if b1.Events[0].Offset != 0 || b2.Events[0].Offset <= b1.Events[9].Offset {
		t.Fatal("batches out of order")
	}
	b1.Ack()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := in.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Only the acknowledged batch is committed, although a third was being emitted.
	r := registryOf(t, stage.DataDir)
	if len(r) != 1 || r[0].Offset != b2.Events[0].Offset {
		t.Fatalf("registry %+v, want offset %d", r, b2.Events[0].Offset)
	}
}

func TestConfigValidate(t *testing.T) {
	c := NewConfig()
	c.Paths = []string{"/var/log/*.log"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.maxLine != 1<<20 || c.batchBytes != 1<<20 || c.closeInactive != 5*time.Minute || c.poll != time.Second ||
		c.cleanRemoved != 24*time.Hour || c.startEnd || c.MaxOpenFiles != 1024 || c.BatchEvents != 2048 {
		t.Fatalf("defaults %+v", c)
	}
	bad := NewConfig()
	bad.Paths = []string{"[", ""}
	bad.Exclude = []string{"["}
	bad.StartPosition = "middle"
	bad.MaxLineBytes = "lots"
	bad.CloseInactive = "-1s"
	bad.PollInterval = "0s"
	bad.BatchEvents = 0
	bad.BatchBytes = "1XB"
	bad.CleanRemoved = "x"
	bad.MaxOpenFiles = 0
	err := bad.Validate()
	for _, attr := range []string{"paths", "exclude", "start_position", "max_line_bytes", "close_inactive", "poll_interval",
		"batch_events", "batch_bytes", "clean_removed", "max_open_files"} {
		found := false
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var ae *pipeline.AttrError
			if errors.As(e, &ae) && ae.Attr == attr {
				found = true
			}
		}
		if !found {
			t.Errorf("no error for %s in %v", attr, err)
		}
	}
	if err := (&Config{}).Validate(); err == nil {
		t.Error("paths is required")
	}
}

func TestRegisterAndExclude(t *testing.T) {
	r := pipeline.NewRegistry()
	Register(r)
	st, ok := r.Input("file")
	if !ok {
		t.Fatal("file not registered")
	}
	cfg := st.NewConfig().(*Config)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.log"), "a\n")
	writeFile(t, filepath.Join(dir, "a.log.gz"), "zipped\n")
	cfg.Paths = []string{filepath.Join(dir, "a.log*")}
	cfg.Exclude = []string{"*.gz"}
	cfg.PollInterval = "20ms"
	stage, _ := testStage(t.TempDir(), true)
	in, err := st.Build(cfg, stage)
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	if err := in.Run(context.Background(), s.emit); err != nil {
		t.Fatal(err)
	}
	in.Close(context.Background())
	if got := s.lines(); !equal(got, []string{"a"}) {
		t.Fatalf("got %q", got)
	}
}

// TestCrashRestart simulates kill -9: the registry as it is on disk at some moment while
// lines are being read and acknowledged is all a restart gets. Nothing is lost, and a line
// delivered twice carries the same offset and id prefix.
func TestCrashRestart(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	p := filepath.Join(dir, "a.log")
	content, want := numbered("l", 0, 3000)
	half := len(content) / 2
	writeFile(t, p, content[:half])
	c := testConfig(p)
	c.BatchEvents = 50
	s1 := &sink{}
	h1 := start(t, c, data, s1)
	reg := filepath.Join(data, "input.file.t", "registry.json")
	var snapshot []byte
	waitFor(t, "a registry mid-way", func() bool {
		b, err := os.ReadFile(reg)
		if err != nil {
			return false
		}
		snapshot = b
		r, err := loadRegistry(reg, "web1")
		if err != nil {
			t.Fatalf("a reader saw a torn registry: %v", err)
		}
		return len(r) == 1 && r[0].Offset > 0
	})
	appendFile(t, p, content[half:])
	waitFor(t, "all lines", func() bool { return len(s1.lines()) == 3000 })
	h1.stop()
	// "kill -9": the process died when the registry held snapshot.
	data2 := t.TempDir()
	if err := os.MkdirAll(filepath.Join(data2, "input.file.t"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data2, "input.file.t", "registry.json"), snapshot, 0o644); err != nil {
		t.Fatal(err)
	}
	r, _ := loadRegistry(filepath.Join(data2, "input.file.t", "registry.json"), "web1")
	s2 := &sink{}
	start(t, testConfig(p), data2, s2)
	waitFor(t, "re-read", func() bool {
		e := s2.events()
		return len(e) > 0 && e[len(e)-1].Offset == s1.events()[2999].Offset
	})
	byOff := map[int64]string{}
	for _, e := range s1.events() {
		byOff[e.Offset] = e.ID
	}
	for _, e := range s2.events() {
		if e.Offset < r[0].Offset {
			t.Fatalf("re-read below the committed offset %d: %d", r[0].Offset, e.Offset)
		}
		if byOff[e.Offset] != e.ID {
			t.Fatalf("line at %d re-sent with another id prefix", e.Offset)
		}
	}
	union := map[string]bool{}
	for _, l := range append(s1.lines(), s2.lines()...) {
		union[l] = true
	}
	for _, l := range want {
		if !union[l] {
			t.Fatalf("line %q lost", l)
		}
	}
}

// TestCancelDuringBacklog: Run returns soon after ctx ends even when emit never blocks.
func TestCancelDuringBacklog(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "big.log")
	line := strings.Repeat("x", 99) + "\n"
	writeFile(t, p, strings.Repeat(line, 200_000)) // 20 MB
	stage, _ := testStage(t.TempDir(), false)
	in, err := New(testConfig(p), stage)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var n int
	err = in.Run(ctx, func(ctx context.Context, b *pipeline.Batch) error {
		n += b.Len()
		b.Ack()
		cancel() // emit keeps accepting: the input must notice ctx itself
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	in.Close(context.Background())
	if n >= 200_000 {
		t.Fatalf("read all %d lines after cancel", n)
	}
}

// TestDirectoryRecreated: the watched directory goes away and comes back.
func TestDirectoryRecreated(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "logs")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(sub, "a.log"), "first\n")
	c := testConfig(filepath.Join(sub, "*.log"))
	c.PollInterval = "50ms"
	s := &sink{}
	start(t, c, t.TempDir(), s)
	waitLines(t, s, "first")
	if err := os.RemoveAll(sub); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(sub, "b.log"), "second\n")
	waitLines(t, s, "first", "second")
}
