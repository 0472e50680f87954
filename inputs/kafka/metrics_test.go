package kafka

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/logpipe/logpipe/pipeline"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
)

// gauge returns the value of family name for labels topic/partition (and the stage label).
func gaugeOf(t *testing.T, fams []*dto.MetricFamily, name, partition string) (float64, bool) {
	t.Helper()
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.Metric {
			labels := map[string]string{}
			for _, l := range m.Label {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["stage"] != "input.kafka.test" {
				t.Errorf("%s without the stage label: %v", name, labels)
			}
			if partition == "" || labels["partition"] == partition && labels["topic"] == "logs" {
				return m.Gauge.GetValue(), true
			}
		}
	}
	return 0, false
}

// Lag per partition is the high watermark minus the acknowledged position; the latency
// histogram observes each acknowledged event once, at its acknowledgement.
func TestMetricsLagAndLatency(t *testing.T) {
	c := newCluster(t, map[string]int32{"logs": 2})
	pr := producer(t, c)
	const n0, n1 = 30, 50
	ts := time.Now().Add(-3 * time.Second).UTC().Format("2006-01-02T15:04:05.000Z")
	recs := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf(`{"@timestamp":%q,"message":"line %d"}`, ts, i)
		}
		return out
	}
	produce(t, pr, "logs", 0, recs(n0)...)
	produce(t, pr, "logs", 1, recs(n1)...)

	cfg := testConfig(t, c, "gm", "logs")
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	s := pipeline.Stage{Kind: "input", Type: "kafka", Name: "test", Log: zap.NewNop(), Codecs: testCodecs()}
	s.Metrics = prometheus.WrapRegistererWith(prometheus.Labels{"stage": s.ID()}, reg)
	in, err := New(cfg, s)
	if err != nil {
		t.Fatal(err)
	}
	// Partition 1's batches are never acknowledged.
	col := newCollector(func(b *pipeline.Batch) bool { return b.Events[0].Partition == 0 })
	r := start(in, col.emit)
	defer r.stop(t)

	gather := func() []*dto.MetricFamily {
		fams, err := reg.Gather()
		if err != nil {
			t.Fatalf("gather: %v", err)
		}
		return fams
	}
	waitFor(t, "every record read", 10*time.Second, func() bool { return col.count() == n0+n1 })
	waitFor(t, "lag gauges", 10*time.Second, func() bool {
		fams := gather()
		_, ok0 := gaugeOf(t, fams, "logpipe_kafka_consumer_lag", "0")
		_, ok1 := gaugeOf(t, fams, "logpipe_kafka_consumer_lag", "1")
		return ok0 && ok1
	})
	fams := gather()
	want := map[string]map[string]float64{
		"logpipe_kafka_consumer_lag":   {"0": 0, "1": n1},
		"logpipe_kafka_fetch_lag":      {"0": 0, "1": 0},
		"logpipe_kafka_high_watermark": {"0": n0, "1": n1},
	}
	for name, parts := range want {
		for p, w := range parts {
			if got, _ := gaugeOf(t, fams, name, p); got != w {
				t.Errorf("%s{partition=%s} = %v, want %v", name, p, got, w)
			}
		}
	}
	if got, _ := gaugeOf(t, fams, "logpipe_kafka_assigned_partitions", ""); got != 2 {
		t.Errorf("assigned partitions %v, want 2", got)
	}
	budget, err := pipeline.ParseBytes(DefaultFetchBudget)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := gaugeOf(t, fams, "logpipe_kafka_fetch_budget_bytes", ""); got != float64(budget) {
		t.Errorf("fetch budget %v, want the default %s", got, DefaultFetchBudget)
	}
	if got, ok := gaugeOf(t, fams, "logpipe_kafka_fetch_buffered_bytes", ""); !ok || got < 0 || got > float64(budget) {
		t.Errorf("fetch buffered bytes %v (exported %v), want between 0 and the budget", got, ok)
	}
	var h *dto.Histogram
	for _, f := range fams {
		if f.GetName() == "logpipe_kafka_event_latency_seconds" {
			h = f.Metric[0].Histogram
		}
	}
	if h == nil {
		t.Fatal("latency histogram missing")
	}
	if h.GetSampleCount() != n0 {
		t.Errorf("latency observed %d events, want the %d acknowledged ones", h.GetSampleCount(), n0)
	}
	// Events were 3 s old when produced: each latency is at least 3 s and below a minute.
	if avg := h.GetSampleSum() / float64(h.GetSampleCount()); avg < 3 || avg > 60 {
		t.Errorf("mean latency %.2fs, want between 3s and 60s", avg)
	}
}

// TestLatencyHistogramAsPrometheus holds the batch-at-a-time latency histogram to
// client_golang's own prometheus.Histogram with the same buckets: the same values (bounds
// themselves, values between them, beyond the last, negative ones, events without a
// @timestamp) give the same count, sum and cumulative buckets.
func TestLatencyHistogramAsPrometheus(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	var ages []time.Duration
	for _, b := range latencyBuckets {
		d := time.Duration(b * float64(time.Second))
		ages = append(ages, d, d-time.Millisecond, d+time.Millisecond)
	}
	ages = append(ages, 0, -time.Minute, 2*time.Hour, 30*24*time.Hour)
	ref := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ref", Buckets: latencyBuckets[:]})
	h := latencyHistogram{desc: prometheus.NewDesc("h", "h", nil, nil)}
	// Two batches, with an event without @timestamp in each.
	for _, part := range [][]time.Duration{ages[:len(ages)/2], ages[len(ages)/2:]} {
		evs := make([]pipeline.Event, 0, len(part)+1)
		evs = append(evs, pipeline.Event{})
		for _, age := range part {
			evs = append(evs, pipeline.Event{Timestamp: now.Add(-age)})
			ref.Observe(max(0, age.Seconds()))
		}
		h.observe(now, evs)
	}
	var got, want dto.Metric
	if err := h.metric().Write(&got); err != nil {
		t.Fatal(err)
	}
	if err := ref.Write(&want); err != nil {
		t.Fatal(err)
	}
	g, w := got.GetHistogram(), want.GetHistogram()
	if g.GetSampleCount() != w.GetSampleCount() || math.Abs(g.GetSampleSum()-w.GetSampleSum()) > 1e-6 {
		t.Errorf("count %d, sum %v; prometheus.Histogram: %d, %v", g.GetSampleCount(), g.GetSampleSum(), w.GetSampleCount(), w.GetSampleSum())
	}
	if len(g.GetBucket()) != len(w.GetBucket()) {
		t.Fatalf("%d buckets, prometheus.Histogram %d", len(g.GetBucket()), len(w.GetBucket()))
	}
	for i, b := range w.GetBucket() {
		if gb := g.GetBucket()[i]; gb.GetUpperBound() != b.GetUpperBound() || gb.GetCumulativeCount() != b.GetCumulativeCount() {
			t.Errorf("bucket le=%v: %d; prometheus.Histogram le=%v: %d", gb.GetUpperBound(), gb.GetCumulativeCount(), b.GetUpperBound(), b.GetCumulativeCount())
		}
	}
}

// BenchmarkObserveLatency measures the acknowledgement-time latency observation of one
// batch of 500 events (reported per event).
func BenchmarkObserveLatency(b *testing.B) {
	m := newInputMetrics(&Input{})
	ev := make([]pipeline.Event, 500)
	now := time.Now()
	for i := range ev {
		ev[i].Timestamp = now.Add(-time.Duration(i) * time.Millisecond)
	}
	bt := pipeline.NewBatch("logs/0", ev, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m.observeLatency(bt)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ev)), "ns/event")
}
