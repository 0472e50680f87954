package apache

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/logpipe/logpipe/codecs"
	"github.com/logpipe/logpipe/pipeline"
)

// benchBatchEvents is the size of the batches the benchmark input emits (the kafka input's
// default batch_events).
const benchBatchEvents = 1024

// BenchmarkPipelineWorkers runs a real in-process pipeline.Runner (Once) over b.N events:
// an input that emits document events as the kafka input does (batches of 1024, documents
// copied into a pooled buffer per batch, a Tracker fed by the acknowledgements), the real
// filter "apache" at its defaults (user agents on, no GeoIP) on Config.Workers workers, and
// an output that acknowledges every batch at once and discards it. One op is one event, so
// ns/op is the wall time per event; cpu-ns/event is the CPU time the process used per
// event (all goroutines), which a shared machine disturbs less.
//
// The documents are the 10,000 real access lines of testdata, written as logpipe's shipper
// writes them (the json codec's encoder) and read back as the kafka input reads them (the
// json codec's decoder), built once before the timer. Each worker has its own filter, so
// its own user agent cache: before the timer, every worker is given every distinct line once
// (the warm-up), so that the timed part is the steady state of an indexer, as in
// BenchmarkFilterEnrich; the allocations reported are those of the timed part only.
func BenchmarkPipelineWorkers(b *testing.B) {
	docs := benchWireEvents(b)
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			benchPipeline(b, docs, workers)
		})
	}
}

// benchWireEvents returns the testdata access lines as the kafka input decodes them:
// document events with Doc, ID and Timestamp set.
func benchWireEvents(b testing.TB) []pipeline.Event {
	b.Helper()
	agent := pipeline.Agent{Hostname: "web1", ID: "6a2e8f1c-0a5b-4a55-9d0e-3c1f2b7d9e01",
		EphemeralID: "0f3b9c2d-7e41-4c8a-b6d5-1a2b3c4d5e6f", Version: "0.1.0"}
	enc := codecs.NewJSONEncoder(agent)
	dec := codecs.NewJSONDecoder()
	origin := &pipeline.FileOrigin{Path: "/var/log/httpd/access_log", DeviceID: 65024, Inode: 10028677,
		Fingerprint: "5f2b8d0c4e6a1b3f9d7c2e8a0b4f6d1c3e5a7b9d2f4c6e8a0b1d3f5c7e9a2b4d"}
	read := time.Date(2026, 11, 21, 7, 16, 26, 746e6, time.UTC)
	var out []pipeline.Event
	var offset int64
	for _, line := range accessLines(b) {
		le := pipeline.Event{Timestamp: read.Add(time.Duration(len(out)) * time.Millisecond),
			ID: fmt.Sprintf("bench-%d", len(out)), Message: line, File: origin, Offset: offset, Partition: -1}
		offset += int64(len(line)) + 1
		record := enc.Encode(nil, &le)
		var e pipeline.Event
		// A fresh buffer per document: Doc must not share its backing array with another.
		dec.Decode(nil, record, read, &e)
		if e.ID != le.ID || !bytes.Contains(e.Doc, []byte(`"message":`)) {
			b.Fatalf("decoded record %d: id %q, doc %s", len(out), e.ID, e.Doc)
		}
		out = append(out, e)
	}
	return out
}

// benchPipeline runs one pipeline with the given number of filter workers over b.N events
// (after the warm-up).
func benchPipeline(b *testing.B, docs []pipeline.Event, workers int) {
	in := &benchInput{docs: docs, workers: workers, n: b.N,
		warmed: make(chan struct{}), start: make(chan struct{})}
	chunks := (len(docs) + benchBatchEvents - 1) / benchBatchEvents
	warmEvents := int64(workers * chunks * benchBatchEvents)
	out := &benchOutput{want: warmEvents + int64(b.N), done: make(chan struct{})}

	reg := pipeline.NewRegistry()
	codecs.Register(reg)
	// The real filter type "apache", with its Build wrapped to keep the instances it builds
	// (one per worker), so that their parse failures can be checked at the end.
	types := pipeline.NewRegistry()
	Register(types)
	apache, ok := types.Filter("apache")
	if !ok {
		b.Fatal("Register did not add the filter type apache")
	}
	var mu sync.Mutex
	var filters []*Filter
	build := apache.Build
	apache.Build = func(cfg any, s pipeline.Stage) (pipeline.Filter, error) {
		f, err := build(cfg, s)
		if err != nil {
			return nil, err
		}
		af, ok := f.(*Filter)
		if !ok {
			return nil, fmt.Errorf("filter apache built a %T", f)
		}
		mu.Lock()
		filters = append(filters, af)
		mu.Unlock()
		return f, nil
	}
	reg.AddFilter(apache)
	def := func() *struct{} { return &struct{}{} }
	reg.AddInput(pipeline.Typed("bench", def, func(_ *struct{}, s pipeline.Stage) (pipeline.Input, error) {
		in.buffers = s.Buffers
		return in, nil
	}))
	reg.AddOutput(pipeline.Typed("bench", def, func(*struct{}, pipeline.Stage) (pipeline.Output, error) {
		return out, nil
	}))
	cfg := &pipeline.Config{Workers: workers,
		Inputs:  []pipeline.StageConfig{{Kind: "input", Type: "bench", Name: "kafka"}},
		Filters: []pipeline.StageConfig{{Kind: "filter", Type: "apache", Name: "access"}},
		Outputs: []pipeline.StageConfig{{Kind: "output", Type: "bench", Name: "discard"}},
	}
	r, err := pipeline.NewRunner(cfg, reg, pipeline.RunnerOptions{Once: true, StatsInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	if len(filters) != workers {
		b.Fatalf("the runner built %d apache filters for %d workers", len(filters), workers)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- r.Run(ctx) }()
	// Run returns only after the output saw every event (Once), or on a failure.
	runEnded := func(err error) {
		b.Fatalf("Run returned early (%v): the output got %d of %d events (%d warm-up batches of %d chunks)",
			err, out.events.Load(), out.want, workers*chunks, chunks)
	}
	select {
	case <-in.warmed:
	case err := <-ran:
		runEnded(err)
	}
	b.ReportAllocs()
	cpu0 := processCPU(b)
	b.ResetTimer()
	close(in.start)
	select {
	case <-out.done:
	case err := <-ran:
		runEnded(err)
	}
	b.StopTimer()
	cpu := processCPU(b) - cpu0
	if err := <-ran; err != nil {
		b.Fatal(err)
	}

	if got := out.events.Load(); got != out.want {
		b.Fatalf("the output got %d events, want %d (%d warm-up + %d)", got, out.want, warmEvents, b.N)
	}
	if bad := out.bad.Load(); bad != 0 {
		b.Fatalf("%d batches reached the output with a document the filter did not enrich", bad)
	}
	if got, want := in.acked.Load(), in.emitted.Load(); got != want {
		b.Fatalf("%d of %d batches acknowledged", got, want)
	}
	if got, want := in.tracker.Committed(), in.offset; got != want {
		b.Fatalf("committed position %d, want %d", got, want)
	}
	var failed uint64
	for _, f := range filters {
		failed += f.Failed()
	}
	if failed != 0 {
		b.Fatalf("%d events did not parse", failed)
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/sec, "events/s")
	// The CPU time of the whole process (every goroutine, the collector included) per event:
	// on a shared machine, the wall time depends on what else runs, this much less.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/event")
}

// processCPU returns the user and system CPU time the process used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchInput emits document events like the kafka input: per batch a new events slice, the
// documents copied into one buffer from the process's pool (recycled when the batch is
// acknowledged), a Tracker ticket and an onAck callback. It first emits the warm-up, every
// chunk of 1024 distinct lines (the last one wrapping around) once per worker (consecutive batches go to consecutive workers),
// waits until the warm-up is acknowledged and closes warmed; then, once start is closed, it
// emits n events in batches of 1024, cycling through the documents, and returns (Once).
type benchInput struct {
	docs    []pipeline.Event
	workers int
	n       int
	buffers *pipeline.Buffers

	warmed chan struct{} // closed by Run when the warm-up was acknowledged
	start  chan struct{} // closed by the benchmark once the timer is reset

	tracker *pipeline.Tracker
	offset  int64 // the next event's offset (one per event, as in a partition)
	emitted atomic.Int64
	acked   atomic.Int64
}

// batch returns a batch of the n documents from docs[first] on, wrapping around.
func (in *benchInput) batch(first, n int, onAck func()) *pipeline.Batch {
	size := 0
	for i := range n {
		size += len(in.docs[(first+i)%len(in.docs)].Doc)
	}
	events := make([]pipeline.Event, n)
	buf := in.buffers.Get(size) // exactly the documents' size: buf never moves
	for i := range events {
		src := &in.docs[(first+i)%len(in.docs)]
		e := &events[i]
		start := len(buf)
		buf = append(buf, src.Doc...)
		e.Doc = buf[start:len(buf):len(buf)]
		e.ID = src.ID
		e.Timestamp = src.Timestamp
		e.Topic = "apache"
		e.Partition = 0
		e.Offset = in.offset
		in.offset++
	}
	tr, tk := in.tracker, in.tracker.Add(in.offset)
	b := pipeline.NewBatch("apache/0", events, func() {
		tr.Ack(tk)
		in.acked.Add(1)
		if onAck != nil {
			onAck()
		}
	})
	b.Recycle(in.buffers, buf)
	return b
}

func (in *benchInput) emit(ctx context.Context, emit pipeline.Emit, b *pipeline.Batch) error {
	if err := emit(ctx, b); err != nil {
		return err
	}
	in.emitted.Add(1)
	return nil
}

func (in *benchInput) Run(ctx context.Context, emit pipeline.Emit) error {
	in.tracker = pipeline.NewTracker(0)
	// Warm-up: batch k goes to worker k mod workers, so each chunk is emitted workers times
	// in a row.
	chunks := (len(in.docs) + benchBatchEvents - 1) / benchBatchEvents
	warm := chunks * in.workers
	warmAcks := make(chan struct{}, warm)
	for c := range chunks {
		for range in.workers {
			if err := in.emit(ctx, emit, in.batch(c*benchBatchEvents, benchBatchEvents, func() { warmAcks <- struct{}{} })); err != nil {
				return err
			}
		}
	}
	for range warm {
		select {
		case <-warmAcks:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	close(in.warmed)
	select {
	case <-in.start:
	case <-ctx.Done():
		return ctx.Err()
	}

	next := 0 // index in docs of the next event
	for left := in.n; left > 0; {
		n := min(left, benchBatchEvents)
		if err := in.emit(ctx, emit, in.batch(next, n, nil)); err != nil {
			return err
		}
		left -= n
		next = (next + n) % len(in.docs)
	}
	return nil
}

func (in *benchInput) Close(context.Context) error { return nil }

// benchOutput acknowledges every batch at once and discards it, counting the events; it
// closes done when it has seen want events. It checks that the first document of each batch
// was rewritten by the filter (line time, event.created, http), which costs little next to
// the filter.
type benchOutput struct {
	want   int64
	done   chan struct{}
	events atomic.Int64
	bad    atomic.Int64
}

func (o *benchOutput) Write(_ context.Context, b *pipeline.Batch) error {
	if len(b.Events) > 0 {
		d := b.Events[0].Doc
		// @timestamp is now the time of the line (2015), the read time moved to event.created.
		if !bytes.HasPrefix(d, []byte(`{"@timestamp":"2015-`)) || !bytes.Contains(d, []byte(`"created":"2026-11-21T`)) ||
			!bytes.Contains(d, []byte(`"http":{`)) || bytes.Contains(d, []byte(FailureTag)) {
			o.bad.Add(1)
		}
	}
	n := o.events.Add(int64(len(b.Events)))
	b.Ack()
	if n == o.want {
		close(o.done)
	}
	return nil
}

func (o *benchOutput) Close(context.Context) error { return nil }
