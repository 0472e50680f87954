package file

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logpipe/logpipe/codecs"
	"github.com/logpipe/logpipe/pipeline"
)

var agent = pipeline.Agent{Hostname: "web1", ID: "id-1", EphemeralID: "eph-1", Version: "0.1.0"}

func stage() pipeline.Stage {
	r := pipeline.NewRegistry()
	codecs.Register(r)
	return pipeline.Stage{Kind: "output", Type: "file", Name: "archive", Agent: agent, Codecs: r}
}

func config(t *testing.T, path string, mod func(*Config)) *Config {
	t.Helper()
	c := Defaults()
	c.Path = path
	if mod != nil {
		mod(c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

var (
	day1 = time.Date(2026, 11, 20, 23, 59, 59, 999000000, time.UTC)
	day2 = time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
)

func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v: %q", path, err, sc.Text())
		}
		out = append(out, m)
	}
	return out
}

// TestDailyFiles: events on two UTC days go to two files, and every event is on disk when
// the batch's acknowledgement arrives.
func TestDailyFiles(t *testing.T) {
	dir := t.TempDir()
	var syncs atomic.Int32
	o, err := New(config(t, filepath.Join(dir, "sub", "dir", "access-%{+YYYY.MM.dd}.log"), nil), stage(),
		Options{NoJanitor: true, Sync: func(f *os.File) error { syncs.Add(1); return f.Sync() }})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close(context.Background())
	file1 := filepath.Join(dir, "sub", "dir", "access-2026.11.20.log")
	file2 := filepath.Join(dir, "sub", "dir", "access-2026.11.21.log")
	var atAck [2]int
	b := pipeline.NewBatch("d", []pipeline.Event{
		{Timestamp: day1, Message: []byte("one")},
		{Timestamp: day2, Message: []byte("two")},
		{Timestamp: day1, Doc: []byte(`{"message":"three"}`)},
	}, func() {
		// runs inside Write, after the data was written: read it back from disk now
		atAck[0] = len(readLines(t, file1))
		atAck[1] = len(readLines(t, file2))
	})
	if err := o.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if !b.Acked() {
		t.Fatal("batch not acknowledged")
	}
	if atAck != [2]int{2, 1} {
		t.Errorf("lines on disk at ack time: %v, want [2 1]", atAck)
	}
	if n := syncs.Load(); n != 2 {
		t.Errorf("%d fsyncs, want 2 (one per file written)", n)
	}
	l1 := readLines(t, file1)
	if l1[0]["message"] != "one" || l1[1]["message"] != "three" || l1[0]["@timestamp"] != "2026-11-20T23:59:59.999Z" {
		t.Errorf("file1: %v", l1)
	}
	if l2 := readLines(t, file2); l2[0]["message"] != "two" {
		t.Errorf("file2: %v", l2)
	}
	for _, p := range []string{file1, file2} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v, want 0640", p, st.Mode().Perm())
		}
	}
	// a second batch appends to the open files
	b2 := pipeline.NewBatch("d", []pipeline.Event{{Timestamp: day2, Message: []byte("four")}}, nil)
	if err := o.Write(context.Background(), b2); err != nil {
		t.Fatal(err)
	}
	if l2 := readLines(t, file2); len(l2) != 2 || l2[1]["message"] != "four" {
		t.Errorf("file2 after second batch: %v", l2)
	}
}

func TestAppendsToExistingFileAndMode(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.log")
	if err := os.WriteFile(p, []byte("existing\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := New(config(t, p, func(c *Config) { c.Codec = "line"; c.FileMode = "0604"; c.Fsync = false }), stage(),
		Options{NoJanitor: true, Sync: func(*os.File) error { t.Error("fsync with fsync = false"); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	b := pipeline.NewBatch("d", []pipeline.Event{{Timestamp: day1, Message: []byte("new")}}, nil)
	if err := o.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if string(got) != "existing\nnew\n" {
		t.Errorf("got %q", got)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("existing file's mode changed to %v", st.Mode().Perm())
	}
	// a new file gets file_mode exactly, whatever the umask
	p2 := filepath.Join(dir, "new.log")
	o2, err := New(config(t, p2, func(c *Config) { c.FileMode = "0666" }), stage(), Options{NoJanitor: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := o2.Write(context.Background(), pipeline.NewBatch("d", []pipeline.Event{{Timestamp: day1, Message: []byte("x")}}, nil)); err != nil {
		t.Fatal(err)
	}
	o2.Close(context.Background())
	if st, _ := os.Stat(p2); st.Mode().Perm() != 0o666 {
		t.Errorf("new file mode %v, want 0666", st.Mode().Perm())
	}
}

func TestFieldPathAndCloseIdle(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	o, err := New(config(t, filepath.Join(dir, "%{[host][name]}.log"), func(c *Config) { c.CloseIdle = "30s" }), stage(),
		Options{NoJanitor: true, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close(context.Background())
	write := func(events ...pipeline.Event) {
		t.Helper()
		if err := o.Write(context.Background(), pipeline.NewBatch("d", events, nil)); err != nil {
			t.Fatal(err)
		}
	}
	write(pipeline.Event{Timestamp: day1, Message: []byte("line event")},
		pipeline.Event{Timestamp: day1, Doc: []byte(`{"host":{"name":"web2"}}`)})
	open := o.OpenFiles()
	slices.Sort(open)
	want := []string{filepath.Join(dir, "web1.log"), filepath.Join(dir, "web2.log")}
	if !slices.Equal(open, want) {
		t.Fatalf("open files %v, want %v", open, want)
	}
	now = now.Add(20 * time.Second)
	write(pipeline.Event{Timestamp: day1, Message: []byte("again")})
	now = now.Add(15 * time.Second) // web2 idle 35s, web1 idle 15s
	o.CloseIdle()
	if got := o.OpenFiles(); !slices.Equal(got, want[:1]) {
		t.Errorf("after CloseIdle: %v, want %v", got, want[:1])
	}
	// a closed file is reopened on demand
	write(pipeline.Event{Timestamp: day1, Doc: []byte(`{"host":{"name":"web2"}}`)})
	if n := len(readLines(t, want[1])); n != 2 {
		t.Errorf("web2.log has %d lines, want 2", n)
	}
}

func TestRetryThenSucceed(t *testing.T) {
	dir := t.TempDir()
	var fail atomic.Bool
	fail.Store(true)
	o, err := New(config(t, filepath.Join(dir, "out.log"), nil), stage(), Options{NoJanitor: true,
		Backoff: pipeline.Backoff{Initial: time.Millisecond, Max: time.Millisecond},
		Sync: func(f *os.File) error {
			if fail.Swap(false) {
				return errors.New("injected fsync failure")
			}
			return f.Sync()
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close(context.Background())
	b := pipeline.NewBatch("d", []pipeline.Event{{Timestamp: day1, Message: []byte("x")}}, nil)
	if err := o.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if !b.Acked() {
		t.Fatal("not acked")
	}
	// at-least-once: the failed attempt's bytes may be on disk, the retry's certainly are
	lines := readLines(t, filepath.Join(dir, "out.log"))
	if len(lines) < 1 || len(lines) > 2 || lines[len(lines)-1]["message"] != "x" {
		t.Errorf("lines %v", lines)
	}
}

func TestCancelledWhileFailingDoesNotAck(t *testing.T) {
	dir := t.TempDir()
	// the parent "directory" is a file: opening always fails
	blocker := filepath.Join(dir, "blocker")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := New(config(t, filepath.Join(blocker, "out.log"), nil), stage(), Options{NoJanitor: true,
		Backoff: pipeline.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	b := pipeline.NewBatch("d", []pipeline.Event{{Timestamp: day1, Message: []byte("x")}}, nil)
	if err := o.Write(ctx, b); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if b.Acked() {
		t.Fatal("acked a batch that was never written")
	}
}

func TestValidate(t *testing.T) {
	for _, mod := range []func(*Config){
		func(c *Config) { c.Path = "" },
		func(c *Config) { c.Path = "/x/%{+YYYY" },
		func(c *Config) { c.FileMode = "rw-r-----" },
		func(c *Config) { c.FileMode = "1777" },
		func(c *Config) { c.CloseIdle = "soon" },
		func(c *Config) { c.CloseIdle = "0s" },
		func(c *Config) { c.Codec = "" },
	} {
		c := Defaults()
		c.Path = "/tmp/x.log"
		mod(c)
		err := c.Validate()
		var ae *pipeline.AttrError
		if !errors.As(err, &ae) {
			t.Errorf("%+v: err = %v, want an AttrError", c, err)
		}
	}
	if _, err := New(config(t, "/tmp/x", func(c *Config) { c.Codec = "nope" }), stage(), Options{NoJanitor: true}); err == nil ||
		!strings.Contains(err.Error(), "unknown codec") {
		t.Errorf("unknown codec: %v", err)
	}
}

func TestJanitorStopsOnClose(t *testing.T) {
	o, err := New(config(t, filepath.Join(t.TempDir(), "x.log"), nil), stage(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-o.done:
	default:
		t.Fatal("janitor still running")
	}
}

func TestRegister(t *testing.T) {
	r := pipeline.NewRegistry()
	Register(r)
	if _, ok := r.Output("file"); !ok {
		t.Fatal("not registered")
	}
}

// TestHCL: the attributes as an operator writes them, through the real loader.
func TestHCL(t *testing.T) {
	r := pipeline.NewRegistry()
	codecs.Register(r)
	Register(r)
	// the loader wants an input; a config-only type is enough here (never built)
	r.AddInput(pipeline.Typed[pipeline.Input]("null", func() *struct{} { return &struct{}{} },
		func(*struct{}, pipeline.Stage) (pipeline.Input, error) { return nil, errors.New("not built") }))
	src := `
data_dir = "/tmp/x"
input "null" "x" {}
output "file" "archive" {
  path       = "/var/log/logpipe/%{[host][name]}-%{+YYYY.MM.dd}.log"
  codec      = "line"
  file_mode  = "0600"
  fsync      = false
  close_idle = "5m"
}
output "file" "defaults" {
  path = "/tmp/x.log"
}
`
	cfg, diags := pipeline.Load("test.hcl", []byte(src), r, func(string) (string, bool) { return "", false })
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	c := cfg.Outputs[0].Config.(*Config)
	if c.Codec != "line" || c.mode != 0o600 || c.Fsync || c.closeIdle != 5*time.Minute || c.tpl == nil {
		t.Errorf("decoded %+v", c)
	}
	d := cfg.Outputs[1].Config.(*Config)
	if d.Codec != "json" || d.mode != 0o640 || !d.Fsync || d.closeIdle != time.Minute {
		t.Errorf("defaults %+v", d)
	}
	_, diags = pipeline.Load("bad.hcl", []byte(`input "null" "x" {}
output "file" "x" {
  path = "/tmp/x-%{+YYYY"
}`), r, func(string) (string, bool) { return "", false })
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "bad.hcl:3") {
		t.Errorf("bad path: %v", diags)
	} else {
		t.Log(diags.Error())
	}
}
