package file

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/logpipe/logpipe/pipeline"
)

// linesOutput collects the messages of the line events it receives and acknowledges
// every batch.
type linesOutput struct {
	mu    sync.Mutex
	lines []string
}

func (o *linesOutput) Write(_ context.Context, b *pipeline.Batch) error {
	o.mu.Lock()
	for i := range b.Events {
		o.lines = append(o.lines, string(b.Events[i].Message))
	}
	o.mu.Unlock()
	b.Ack()
	return nil
}

func (o *linesOutput) Close(context.Context) error { return nil }

// runConfig loads src (real configuration text) and runs it once to the end of the files
// with a Runner, returning the lines the output received.
func runConfig(t *testing.T, src string) []string {
	t.Helper()
	reg := pipeline.NewRegistry()
	Register(reg)
	out := &linesOutput{}
	reg.AddOutput(pipeline.Typed[pipeline.Output]("collect", func() *struct{} { return &struct{}{} },
		func(*struct{}, pipeline.Stage) (pipeline.Output, error) { return out, nil }))
	cfg, diags := pipeline.Load("ship.hcl", []byte(src), reg, func(string) (string, bool) { return "", false })
	if diags.HasErrors() {
		t.Fatal(pipeline.FormatDiagnostics(diags))
	}
	r, err := pipeline.NewRunner(cfg, reg, pipeline.RunnerOptions{Once: true, StatsInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return out.lines
}

// TestIncludeExcludeLines: include_lines first, then exclude_lines (Filebeat's order);
// dropped lines are committed like shipped ones, also when a whole batch is dropped, so a
// second run reads only what was appended since.
func TestIncludeExcludeLines(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	writeFile(t, log, strings.Join([]string{
		"ERROR disk full",
		"INFO started",
		"WARN slow request",
		"ERROR DEBUG-ONLY noise",
		"DBG x", "DBG y", "DBG z", "DBG w", // a whole batch (batch_events = 2) of dropped lines
	}, "\n")+"\n")
	src := `
data_dir = "` + dir + `/data"
input "file" "app" {
  paths          = ["` + log + `"]
  batch_events   = 2
  include_lines  = ["^ERROR", "^WARN"]
  exclude_lines  = ["DEBUG-ONLY"]
}
output "collect" "out" {}
`
	got := runConfig(t, src)
	if want := []string{"ERROR disk full", "WARN slow request"}; !slices.Equal(got, want) {
		t.Fatalf("first run shipped %q, want %q", got, want)
	}
	appendFile(t, log, "ERROR again\nINFO skipped\n")
	got = runConfig(t, src)
	if want := []string{"ERROR again"}; !slices.Equal(got, want) {
		t.Fatalf("second run shipped %q, want %q (dropped lines must be committed)", got, want)
	}
}

func TestExcludeLinesOnly(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "access_log")
	writeFile(t, log, "GET /healthz 200\nGET / 200\nGET /healthz?x 200\nPOST /a 201\n")
	got := runConfig(t, `
data_dir = "`+dir+`/data"
input "file" "access" {
  paths         = ["`+log+`"]
  exclude_lines = ["GET /healthz", "^POST .* 5[0-9][0-9]$"]
}
output "collect" "out" {}
`)
	if want := []string{"GET / 200", "POST /a 201"}; !slices.Equal(got, want) {
		t.Fatalf("shipped %q, want %q", got, want)
	}
}

func TestLinesDiagnostics(t *testing.T) {
	reg := pipeline.NewRegistry()
	Register(reg)
	reg.AddOutput(pipeline.Typed[pipeline.Output]("discard", func() *struct{} { return &struct{}{} },
		func(*struct{}, pipeline.Stage) (pipeline.Output, error) { return nil, nil }))
	cases := map[string]string{
		`include_lines = ["(unclosed"]`:  `ship.hcl:4:19: Invalid include_lines: "(unclosed": missing closing )`,
		`exclude_lines = ["a", "(?!x)"]`: `ship.hcl:4:19: Invalid exclude_lines: "(?!x)": invalid or unsupported Perl syntax`,
		`exclude_lines = [""]`:           `ship.hcl:4:19: Invalid exclude_lines: an empty pattern matches every line`,
		`include_line = ["a"]`:           `Did you mean "include_lines"?`,
	}
	for attr, want := range cases {
		src := "data_dir = \"/tmp/x\"\ninput \"file\" \"a\" {\n  paths = [\"/var/log/x\"]\n  " + attr + "\n}\noutput \"discard\" \"x\" {}\n"
		_, diags := pipeline.Load("ship.hcl", []byte(src), reg, func(string) (string, bool) { return "", false })
		if got := pipeline.FormatDiagnostics(diags); !strings.Contains(got, want) {
			t.Errorf("%s: diagnostics lack %q:\n%s", attr, want, got)
		}
	}
}

func BenchmarkLineFilter(b *testing.B) {
	c := &Config{IncludeLines: []string{`"(GET|POST) `}, ExcludeLines: []string{"/healthz", `\.(css|js|png)`}}
	if errs := compileLines(c); len(errs) > 0 {
		b.Fatal(errs)
	}
	data, err := os.ReadFile("../../../shared/testdata/apache/elastic-examples-apache_logs.log")
	if err != nil {
		data = []byte(strings.Repeat(`203.0.113.9 - - [21/Nov/2026:07:16:26 +0000] "GET /index.html HTTP/1.1" 200 5120 "-" "Mozilla/5.0"`+"\n", 1000))
	}
	var events []pipeline.Event
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		events = append(events, pipeline.Event{Message: []byte(l)})
	}
	batch := make([]pipeline.Event, len(events))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		copy(batch, events)
		c.lines.keep(batch)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(events)), "ns/line")
}
