package metrics_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logpipe/logpipe/pipeline"
	"github.com/logpipe/logpipe/pipeline/metrics"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type noConfig struct{}

// seqInput emits batches batches of per events, then waits for ctx. It registers one metric
// of its own through Stage.Metrics.
type seqInput struct {
	batches, per int
	emitted      prometheus.Counter
}

func (in *seqInput) Run(ctx context.Context, emit pipeline.Emit) error {
	for i := range in.batches {
		ev := make([]pipeline.Event, in.per)
		for j := range ev {
			ev[j] = pipeline.Event{Message: []byte("line"), Offset: int64(i*in.per + j), Partition: -1}
		}
		if err := emit(ctx, pipeline.NewBatch("seq", ev, nil)); err != nil {
			return nil
		}
		in.emitted.Add(float64(in.per))
	}
	<-ctx.Done()
	return nil
}

func (in *seqInput) Close(context.Context) error { return nil }

// dropFilter removes the first event of every batch.
type dropFilter struct{}

func (dropFilter) Process(b *pipeline.Batch) { b.Events = b.Events[1:] }

// memOutput acknowledges every batch at once and reports the readiness it is told.
type memOutput struct {
	events   atomic.Int64
	notReady atomic.Pointer[error]
}

func (o *memOutput) Write(_ context.Context, b *pipeline.Batch) error {
	o.events.Add(int64(b.Len()))
	b.Ack()
	return nil
}

func (o *memOutput) Close(context.Context) error { return nil }

func (o *memOutput) Ready(context.Context) error {
	if p := o.notReady.Load(); p != nil {
		return *p
	}
	return nil
}

// plainOutput does not implement pipeline.Readiness.
type plainOutput struct{}

func (plainOutput) Write(_ context.Context, b *pipeline.Batch) error { b.Ack(); return nil }
func (plainOutput) Close(context.Context) error                      { return nil }

type fixture struct {
	runner *pipeline.Runner
	in     *seqInput
	out    *memOutput
	srv    *metrics.Server
	base   string
}

func newFixture(t testing.TB, batches, per int) *fixture {
	t.Helper()
	f := &fixture{in: &seqInput{batches: batches, per: per}, out: &memOutput{}}
	reg := pipeline.NewRegistry()
	def := func() *noConfig { return &noConfig{} }
	reg.AddInput(pipeline.Typed("seq", def, func(_ *noConfig, s pipeline.Stage) (pipeline.Input, error) {
		f.in.emitted = prometheus.NewCounter(prometheus.CounterOpts{Name: "logpipe_test_emitted_events_total", Help: "test"})
		return f.in, s.Registerer().Register(f.in.emitted)
	}))
	reg.AddFilter(pipeline.Typed("drop", def, func(*noConfig, pipeline.Stage) (pipeline.Filter, error) { return dropFilter{}, nil }))
	reg.AddOutput(pipeline.Typed("mem", def, func(*noConfig, pipeline.Stage) (pipeline.Output, error) { return f.out, nil }))
	reg.AddOutput(pipeline.Typed("plain", def, func(*noConfig, pipeline.Stage) (pipeline.Output, error) { return plainOutput{}, nil }))
	cfg := &pipeline.Config{
		Inputs:  []pipeline.StageConfig{{Kind: "input", Type: "seq", Name: "a"}},
		Filters: []pipeline.StageConfig{{Kind: "filter", Type: "drop", Name: "f"}},
		Outputs: []pipeline.StageConfig{{Kind: "output", Type: "mem", Name: "m"}, {Kind: "output", Type: "plain", Name: "p"}},
	}
	log := zaptest.NewLogger(t)
	r, err := pipeline.NewRunner(cfg, reg, pipeline.RunnerOptions{Log: log, StatsInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	f.runner = r
	srv, err := metrics.Serve(context.Background(), "127.0.0.1:0", r, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	f.srv = srv
	f.base = "http://" + srv.Addr()
	return f
}

func (f *fixture) run(t *testing.T) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.runner.Run(ctx) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("Run did not return")
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d\n%s", code, body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics is not valid Prometheus text: %v\n%s", err, body)
	}
	return fams
}

// value returns the value of the sample of family name whose labels include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	fam, ok := fams[name]
	if !ok {
		t.Fatalf("metric %s missing", name)
	}
next:
	for _, m := range fam.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("metric %s has no sample with labels %v", name, want)
	return 0
}

func TestMetricsEndpoint(t *testing.T) {
	const batches, per = 7, 20
	f := newFixture(t, batches, per)
	stop := f.run(t)
	defer stop()
	waitFor(t, "every batch acknowledged", func() bool { return f.runner.RunnerStats().AckedBatches == batches })

	fams := scrape(t, f.base)
	in := map[string]string{"stage": "input.seq.a", "kind": "input"}
	filt := map[string]string{"stage": "filter.drop.f", "kind": "filter"}
	out := map[string]string{"stage": "output.mem.m", "kind": "output"}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"logpipe_stage_events_out_total", in, batches * per},
		{"logpipe_stage_batches_out_total", in, batches},
		{"logpipe_stage_batch_size_events", in, batches}, // sample count
		{"logpipe_stage_events_in_total", filt, batches * per},
		{"logpipe_stage_events_out_total", filt, batches * (per - 1)},
		{"logpipe_stage_events_in_total", out, batches * (per - 1)},
		{"logpipe_stage_events_out_total", out, batches * (per - 1)},
		{"logpipe_stage_events_failed_total", out, 0},
		{"logpipe_stage_errors_total", out, 0},
		{"logpipe_output_queue_events", map[string]string{"stage": "output.plain.p"}, 0},
		{"logpipe_output_queue_max_events", map[string]string{"stage": "output.mem.m"}, pipeline.DefaultQueueEvents},
		{"logpipe_pipeline_acked_batches_total", nil, batches},
		{"logpipe_pipeline_acked_events_total", nil, batches * per},
		{"logpipe_pipeline_outstanding_batches", nil, 0},
		{"logpipe_pipeline_queue_max_bytes", nil, pipeline.DefaultQueueBytes},
		// The stage's own metric carries stage=<id>.
		{"logpipe_test_emitted_events_total", map[string]string{"stage": "input.seq.a"}, batches * per},
	}
	for _, c := range checks {
		if got := value(t, fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// Batch sizes: 7 batches of 20 events fall in the bucket "le=50", none in "le=10".
	h := fams["logpipe_stage_batch_size_events"].Metric[0].Histogram
	for _, b := range h.Bucket {
		want := uint64(0)
		if b.GetUpperBound() >= 50 {
			want = batches
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("batch size bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	if h.GetSampleSum() != batches*per {
		t.Errorf("batch size sum %v, want %d", h.GetSampleSum(), batches*per)
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "promhttp_metric_handler_requests_total"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	f := newFixture(t, 1, 5)

	if code, body := get(t, f.base+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("/healthz before Run: %d %q", code, body)
	}
	if code, body := get(t, f.base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "not running") {
		t.Fatalf("/readyz before Run: %d %q, want 503 not running", code, body)
	}

	stop := f.run(t)
	waitFor(t, "ready", func() bool { code, _ := get(t, f.base+"/readyz"); return code == http.StatusOK })

	notReady := errors.New("elasticsearch http://127.0.0.1:1: connection refused")
	f.out.notReady.Store(&notReady)
	code, body := get(t, f.base+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "output.mem.m: "+notReady.Error()) {
		t.Fatalf("/readyz with an output down: %d %q, want 503 naming the stage and the reason", code, body)
	}
	if strings.Contains(body, "output.plain.p") {
		t.Errorf("an output without Readiness was reported: %q", body)
	}
	f.out.notReady.Store(nil)
	if code, body := get(t, f.base+"/readyz"); code != http.StatusOK || body != "ready\n" {
		t.Fatalf("/readyz after recovery: %d %q", code, body)
	}

	stop()
	if code, _ := get(t, f.base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz after Run returned: %d, want 503", code)
	}
	if code, _ := get(t, f.base+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz after Run returned: %d, want 200", code)
	}
	if code, _ := get(t, f.base+"/nope"); code != http.StatusNotFound {
		t.Fatalf("/nope: %d, want 404", code)
	}
}

func TestServeAddressInUse(t *testing.T) {
	f := newFixture(t, 1, 1)
	_, err := metrics.Serve(context.Background(), f.srv.Addr(), f.runner, nil)
	if err == nil {
		t.Fatal("Serve on a busy address succeeded")
	}
	if !strings.Contains(err.Error(), f.srv.Addr()) || !strings.Contains(err.Error(), "metrics { address") {
		t.Errorf("error does not name the address and the fix: %v", err)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("error does not wrap the listen error: %v", err)
	}
}

// TestStageLabelsDistinct checks that two stages registering the same metric name are kept
// apart by their stage label.
func TestStageLabelsDistinct(t *testing.T) {
	reg := pipeline.NewRegistry()
	def := func() *noConfig { return &noConfig{} }
	reg.AddInput(pipeline.Typed("seq", def, func(_ *noConfig, s pipeline.Stage) (pipeline.Input, error) {
		in := &seqInput{}
		in.emitted = prometheus.NewCounter(prometheus.CounterOpts{Name: "logpipe_test_emitted_events_total", Help: "test"})
		return in, s.Metrics.Register(in.emitted)
	}))
	reg.AddOutput(pipeline.Typed("plain", def, func(*noConfig, pipeline.Stage) (pipeline.Output, error) { return plainOutput{}, nil }))
	var ins []pipeline.StageConfig
	for i := range 2 {
		ins = append(ins, pipeline.StageConfig{Kind: "input", Type: "seq", Name: strconv.Itoa(i)})
	}
	r, err := pipeline.NewRunner(&pipeline.Config{Inputs: ins,
		Outputs: []pipeline.StageConfig{{Kind: "output", Type: "plain", Name: "p"}}}, reg, pipeline.RunnerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fams, err := r.StageMetrics().Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(fams) != 1 || len(fams[0].Metric) != 2 {
		t.Fatalf("want one family with two stages, got %v", fams)
	}
}

// BenchmarkScrape measures one /metrics request for a pipeline of four stages (runner
// collector, a stage metric, Go and process collectors), over HTTP on loopback.
func BenchmarkScrape(b *testing.B) {
	f := newFixture(b, 1, 1)
	b.ReportAllocs()
	for b.Loop() {
		res, err := http.Get(f.base + "/metrics")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
}

// BenchmarkCollect measures the runner collector alone (one snapshot of four stages).
func BenchmarkCollect(b *testing.B) {
	f := newFixture(b, 1, 1)
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewCollector(f.runner))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
