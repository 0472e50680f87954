package stdout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/logpipe/logpipe/codecs"
	"github.com/logpipe/logpipe/pipeline"
)

var agent = pipeline.Agent{Hostname: "web1", ID: "id-1", EphemeralID: "eph-1", Version: "0.1.0"}

func stage() pipeline.Stage {
	r := pipeline.NewRegistry()
	codecs.Register(r)
	return pipeline.Stage{Kind: "output", Type: "stdout", Name: "debug", Agent: agent, Codecs: r}
}

func batch(acked *int) *pipeline.Batch {
	ts := time.Date(2026, 11, 21, 7, 16, 26, 746000000, time.UTC)
	f := &pipeline.FileOrigin{Path: "/var/log/a", DeviceID: 1, Inode: 2}
	return pipeline.NewBatch("/var/log/a", []pipeline.Event{
		{Timestamp: ts, Message: []byte("first line"), File: f, Offset: 0, Partition: -1, ID: "p-0"},
		{Timestamp: ts, Doc: []byte(`{"@timestamp":"2026-11-21T07:16:26.746Z","message":"second","host":{"name":"web2"}}`), ID: "k-1"},
	}, func() { *acked++ })
}

// writeBatch writes batch() through a stdout output with cfg, closes it, and returns what
// it wrote; the batch must be acknowledged exactly once.
func writeBatch(t *testing.T, cfg *Config) string {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	o, err := New(cfg, stage(), &out)
	if err != nil {
		t.Fatal(err)
	}
	acked := 0
	if err := o.Write(context.Background(), batch(&acked)); err != nil {
		t.Fatal(err)
	}
	if acked != 1 {
		t.Fatalf("acked %d times", acked)
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestJSON(t *testing.T) {
	out := writeBatch(t, Defaults())
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", out)
	}
	var first, second map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first["message"] != "first line" || first["@metadata"].(map[string]any)["_id"] != "p-0" {
		t.Errorf("first event: %v", first)
	}
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil {
		t.Fatal(err)
	}
	if second["message"] != "second" || second["@metadata"].(map[string]any)["_id"] != "k-1" {
		t.Errorf("second event: %v", second)
	}
}

func TestRubydebug(t *testing.T) {
	out := writeBatch(t, &Config{Codec: "rubydebug"})
	want := `{
    "@timestamp" => 2026-11-21T07:16:26.746Z,
       "message" => "second",
          "host" => {
        "name" => "web2"
    }
}
`
	if !strings.HasSuffix(out, want) {
		t.Errorf("got\n%s\nwant suffix\n%s", out, want)
	}
	if !strings.Contains(out, `       "message" => "first line",`) {
		t.Errorf("line event missing:\n%s", out)
	}
}

func TestLine(t *testing.T) {
	if out := writeBatch(t, &Config{Codec: "line"}); out != "first line\nsecond\n" {
		t.Errorf("got %q", out)
	}
}

func TestUnknownCodec(t *testing.T) {
	_, err := New(&Config{Codec: "jsno"}, stage(), &bytes.Buffer{})
	var ae *pipeline.AttrError
	if !errors.As(err, &ae) || ae.Attr != "codec" {
		t.Fatalf("err = %v", err)
	}
	if err := (&Config{}).Validate(); err == nil {
		t.Error("empty codec accepted")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestWriteErrorDoesNotAck(t *testing.T) {
	o, err := New(Defaults(), stage(), failingWriter{})
	if err != nil {
		t.Fatal(err)
	}
	acked := 0
	if err := o.Write(context.Background(), batch(&acked)); err == nil {
		t.Fatal("no error")
	}
	if acked != 0 {
		t.Fatal("acked a batch that was not written")
	}
}

// The registered type builds outputs that write to the writer given to Register.
func TestRegister(t *testing.T) {
	r := pipeline.NewRegistry()
	var out bytes.Buffer
	Register(r, &out)
	typ, ok := r.Output("stdout")
	if !ok {
		t.Fatal("not registered")
	}
	o, err := typ.Build(typ.NewConfig(), stage())
	if err != nil {
		t.Fatal(err)
	}
	var acked int
	if err := o.Write(context.Background(), batch(&acked)); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if acked != 1 || !strings.Contains(out.String(), `"message":"first line"`) {
		t.Errorf("acked %d, wrote %q", acked, out.String())
	}
}
