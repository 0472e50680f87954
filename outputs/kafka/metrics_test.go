package kafka

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/logpipe/logpipe/pipeline"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
)

// The producer's metrics are on the registry the stage gets: acknowledged records and
// bytes, request latency, and the errors and retries of a record Kafka refused as too
// large (cut, then sent again).
func TestProducerMetrics(t *testing.T) {
	c, _ := smallTopic(t, func() bool { return true })
	cfg := NewConfig()
	cfg.Brokers = c.ListenAddrs()
	cfg.Topic = "small"
	cfg.MaxMessageBytes = "64KiB"
	cfg.Compression = "none"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	o, err := New(cfg, pipeline.Stage{Kind: "output", Type: "kafka", Name: "t", Log: zap.NewNop(), Codecs: testRegistry(), Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	bs, acked := makeBatches(3, 20)
	bs[2].Events[0].Message = []byte(strings.Repeat("x", 20000))
	for _, b := range bs {
		if err := o.Write(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 20*time.Second, "acks", func() bool { return acked.Load() == 3 })
	closeOutput(t, o)

	if n := value(o.metrics.records); n != 60 {
		t.Errorf("records_total %v, want 60", n)
	}
	if n := value(o.metrics.bytes); n < 59*4 || n > 5000+59*8 {
		t.Errorf("bytes_total %v, want the size of 59 short records and one cut to 5000 bytes", n)
	}
	if n := value(o.metrics.errors.WithLabelValues("too_large")); n < 1 {
		t.Errorf("errors_total{reason=too_large} %v, want at least 1", n)
	}
	if n := value(o.metrics.cut); n != 1 {
		t.Errorf("records_cut_total %v, want 1", n)
	}
	if n := value(o.metrics.retries); n < 1 {
		t.Errorf("retries_total %v, want at least 1", n)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, f := range fams {
		found[f.GetName()] = true
		if f.GetName() == "logpipe_kafka_produce_request_duration_seconds" && f.Metric[0].Histogram.GetSampleCount() < 2 {
			t.Errorf("latency histogram observed %d requests", f.Metric[0].Histogram.GetSampleCount())
		}
	}
	for _, name := range []string{"logpipe_kafka_produce_request_duration_seconds", "logpipe_kafka_produce_errors_total",
		"logpipe_kafka_produce_retries_total", "logpipe_kafka_produce_records_total", "logpipe_kafka_produce_bytes_total"} {
		if !found[name] {
			t.Errorf("%s is not on the stage's registry", name)
		}
	}
}

// value reads a counter.
func value(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
