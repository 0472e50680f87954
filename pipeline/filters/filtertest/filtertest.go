// Package filtertest loads filter configurations from real HCL text for the tests of
// pipeline/filters and pipeline/condition, and makes the events they run on.
package filtertest

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/logpipe/logpipe/codecs"
	"github.com/logpipe/logpipe/pipeline"
)

// Agent is the agent of the test events.
var Agent = pipeline.Agent{Hostname: "web1", ID: "agent-id", EphemeralID: "eph-id", Version: "0.1.0"}

type none struct{}

// Registry returns a registry holding the codecs, an input "test" and an output "test"
// (no attributes, never run), and the filter types that register adds.
func Registry(register ...func(*pipeline.Registry)) *pipeline.Registry {
	r := pipeline.NewRegistry()
	codecs.Register(r)
	r.AddInput(pipeline.Typed[pipeline.Input]("test", func() *none { return &none{} },
		func(*none, pipeline.Stage) (pipeline.Input, error) { return nil, nil }))
	r.AddOutput(pipeline.Typed[pipeline.Output]("test", func() *none { return &none{} },
		func(*none, pipeline.Stage) (pipeline.Output, error) { return nil, nil }))
	for _, f := range register {
		f(r)
	}
	return r
}

// Wrap puts filter blocks between an input "test" and an output "test" block, so that the
// text is a whole configuration. The filter text starts on line 2.
func Wrap(filters string) string {
	return "input \"test\" \"in\" {}\n" + filters + "\noutput \"test\" \"out\" {}\n"
}

// Load loads src (a whole configuration) as file "test.hcl" and returns the config and the
// formatted diagnostics ("" when there are none).
func Load(t testing.TB, src string, reg *pipeline.Registry) (*pipeline.Config, string) {
	t.Helper()
	cfg, diags := pipeline.Load("test.hcl", []byte(src), reg, func(string) (string, bool) { return "", false })
	return cfg, pipeline.FormatDiagnostics(diags)
}

// Filters loads src and builds its filters, failing the test on any diagnostic.
func Filters(t testing.TB, src string, reg *pipeline.Registry) []pipeline.Filter {
	t.Helper()
	cfg, diags := Load(t, src, reg)
	if diags != "" {
		t.Fatalf("config does not load:\n%s", diags)
	}
	var out []pipeline.Filter
	for _, sc := range cfg.Filters {
		typ, ok := reg.Filter(sc.Type)
		if !ok {
			t.Fatalf("no filter type %q", sc.Type)
		}
		f, err := typ.Build(sc.Config, pipeline.Stage{Kind: "filter", Type: sc.Type, Name: sc.Name, Agent: Agent})
		if err != nil {
			t.Fatalf("build %s: %v", sc.ID(), err)
		}
		out = append(out, f)
	}
	return out
}

// Origin is the file of line events made by Line.
var Origin = &pipeline.FileOrigin{Path: "/var/log/httpd/access_log", DeviceID: 65024, Inode: 10028677}

// Time is the read time of test events.
var Time = time.Date(2026, 11, 21, 7, 16, 26, 746e6, time.UTC)

// Line returns a line event of msg, read from Origin at offset.
func Line(msg string, offset int64) pipeline.Event {
	return pipeline.Event{Timestamp: Time, Message: []byte(msg), File: Origin, Offset: offset, Partition: -1,
		ID: "line-" + strconv.FormatInt(offset, 10)}
}

// AccessLines returns n line events of Apache access lines, read from Origin one after the
// other: every third one a request of /debug, the others of /page/<i>, each with an error
// in its line when i is a multiple of 4. Their quotes are escaped in the events' documents.
func AccessLines(n int) []pipeline.Event {
	events := make([]pipeline.Event, 0, n)
	for i := range n {
		path := "/page/" + strconv.Itoa(i)
		if i%3 == 0 {
			path = "/debug"
		}
		line := `10.0.0.1 - - [21/Nov/2026:07:16:26 +0000] "GET ` + path + ` HTTP/1.1" 200 9`
		if i%4 == 0 {
			line += ` "error"`
		}
		events = append(events, Line(line, int64(i)*80))
	}
	return events
}

// Doc returns a document event of the JSON object doc.
func Doc(doc string) pipeline.Event {
	return pipeline.Event{Timestamp: Time, Doc: []byte(doc), Partition: 0, Topic: "t"}
}

// Run passes events through filters as one batch and returns the batch.
func Run(filters []pipeline.Filter, events ...pipeline.Event) *pipeline.Batch {
	b := pipeline.NewBatch("test", events, nil)
	for _, f := range filters {
		f.Process(b)
	}
	return b
}

// Document returns the document of e as an Elasticsearch output would index it.
func Document(e *pipeline.Event) string {
	return string(codecs.NewDocumentEncoder(Agent).Encode(nil, e))
}

// Pipeline runs src (a whole configuration whose input is "emit" and whose output is
// "collect") once with a Runner: the input emits events as one batch and returns, the
// output keeps the documents it receives and acknowledges every batch. It returns the
// documents written and whether the batch was acknowledged (its onAck ran).
func Pipeline(t testing.TB, src string, events []pipeline.Event, register ...func(*pipeline.Registry)) (docs []string, acked bool) {
	t.Helper()
	r := pipeline.NewRegistry()
	codecs.Register(r)
	ackedCh := make(chan struct{})
	r.AddInput(pipeline.Typed[pipeline.Input]("emit", func() *none { return &none{} },
		func(*none, pipeline.Stage) (pipeline.Input, error) {
			return &emitInput{events: events, onAck: func() { close(ackedCh) }}, nil
		}))
	out := &collectOutput{}
	r.AddOutput(pipeline.Typed[pipeline.Output]("collect", func() *none { return &none{} },
		func(*none, pipeline.Stage) (pipeline.Output, error) { return out, nil }))
	for _, f := range register {
		f(r)
	}
	cfg, diags := Load(t, src, r)
	if diags != "" {
		t.Fatalf("config does not load:\n%s", diags)
	}
	run, err := pipeline.NewRunner(cfg, r, pipeline.RunnerOptions{Once: true, Agent: Agent, StatsInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ackedCh:
		acked = true
	default:
	}
	return out.docs, acked
}

type emitInput struct {
	events []pipeline.Event
	onAck  func()
}

func (in *emitInput) Run(ctx context.Context, emit pipeline.Emit) error {
	return emit(ctx, pipeline.NewBatch("test", in.events, in.onAck))
}

func (in *emitInput) Close(context.Context) error { return nil }

type collectOutput struct {
	docs []string
}

func (o *collectOutput) Write(_ context.Context, b *pipeline.Batch) error {
	for i := range b.Events {
		o.docs = append(o.docs, Document(&b.Events[i]))
	}
	b.Ack()
	return nil
}

func (o *collectOutput) Close(context.Context) error { return nil }

// Workers checks that the filters of src, built once per filter worker from one loaded
// configuration as the Runner builds them, give each worker the results one instance gives
// alone, while the workers run at the same time. Each of workers goroutines passes its own
// copies of events through its instances rounds times. A filter whose instances share
// mutable state (a scratch buffer in their common configuration) fails it: with wrong
// results, or under the race detector (make test) with a data race. events should include
// strings with JSON escapes, which filters decode into scratch buffers.
func Workers(t *testing.T, src string, reg *pipeline.Registry, events []pipeline.Event, workers, rounds int) {
	t.Helper()
	want := docsOf(Run(Filters(t, src, reg), cloneEvents(events)...))
	cfg, diags := Load(t, src, reg)
	if diags != "" {
		t.Fatalf("config does not load:\n%s", diags)
	}
	instances := make([][]pipeline.Filter, workers)
	for w := range instances {
		for _, sc := range cfg.Filters {
			typ, _ := reg.Filter(sc.Type)
			f, err := typ.Build(sc.Config, pipeline.Stage{Kind: "filter", Type: sc.Type, Name: sc.Name, Agent: Agent})
			if err != nil {
				t.Fatalf("build %s for worker %d: %v", sc.ID(), w, err)
			}
			instances[w] = append(instances[w], f)
		}
	}
	var wg sync.WaitGroup
	for w := range instances {
		wg.Go(func() {
			for r := 0; r < rounds; r++ {
				if got := docsOf(Run(instances[w], cloneEvents(events)...)); !slices.Equal(got, want) {
					t.Errorf("worker %d, round %d: %d events out where one instance alone gives %d; %s", w, r, len(got), len(want), firstDiff(got, want))
					return
				}
			}
		})
	}
	wg.Wait()
}

// cloneEvents copies events with their Doc and Message bytes, which filters may rewrite.
func cloneEvents(events []pipeline.Event) []pipeline.Event {
	out := slices.Clone(events)
	for i := range out {
		out[i].Doc = slices.Clone(out[i].Doc)
		out[i].Message = slices.Clone(out[i].Message)
	}
	return out
}

// docsOf returns the documents of b's events as an output would index them.
func docsOf(b *pipeline.Batch) []string {
	out := make([]string, len(b.Events))
	for i := range b.Events {
		out[i] = Document(&b.Events[i])
	}
	return out
}

// firstDiff describes the first event where got and want differ.
func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return "event " + strconv.Itoa(i) + ":\n got " + got[i] + "\nwant " + want[i]
		}
	}
	if len(got) > len(want) {
		return "extra event: " + got[len(want)]
	}
	return "missing event: " + want[len(got)]
}
