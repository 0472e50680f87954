package pipeline

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// Output stages count what their peer acknowledged, not what was handed to Write: with two
// outputs, one acknowledging at once and one holding its batches, the holding output shows
// every event handed over and none acknowledged until it acknowledges. Bytes are payload
// bytes (the lines as read), not the in-memory size of the events.
func TestStatsCountAcknowledgedEvents(t *testing.T) {
	in := newSeqInput(10, 3, 100) // 10 batches of 3 events of 100 bytes
	fast, slow := &ackOutput{}, &holdOutput{}
	r := rtPipeline(t, Config{}, RunnerOptions{Once: true}, []Input{in}, nil, []Output{fast, slow})
	done := runAsync(context.Background(), r)
	waitFor(t, "both outputs to receive every batch", func() bool {
		return fast.batches.Load() == 10 && slow.writes.Load() == 10
	})
	byID := func() map[string]StageStats {
		m := map[string]StageStats{}
		for _, s := range r.Stats() {
			m[s.ID] = s
		}
		return m
	}
	st := byID()
	if s := st["input.test.0"]; s.EventsOut != 30 || s.Bytes != 3000 {
		t.Errorf("input: %d events, %d bytes; want 30 events of payload 3000 bytes", s.EventsOut, s.Bytes)
	}
	if s := st["output.test.0"]; s.EventsIn != 30 || s.EventsAcked != 30 || s.BatchesAcked != 10 || s.Bytes != 3000 {
		t.Errorf("acknowledging output: %+v", s)
	}
	if s := st["output.test.1"]; s.EventsIn != 30 || s.EventsAcked != 0 || s.BatchesAcked != 0 || s.Bytes != 0 {
		t.Errorf("holding output: %d events in, %d acked, %d bytes; want 30, 0, 0", s.EventsIn, s.EventsAcked, s.Bytes)
	}
	slow.ackAll()
	if err := waitRun(t, done); err != nil {
		t.Fatal(err)
	}
	if s := byID()["output.test.1"]; s.EventsAcked != 30 || s.BatchesAcked != 10 || s.Bytes != 3000 {
		t.Errorf("holding output after its acks: %+v", s)
	}
	in.checkAcks(t, 10)
}

// runOutput.view copies a batch field by field: a field added to Batch must be added there
// too, or outputs would see its zero value. This test names the fields view knows.
func TestBatchViewKnowsEveryField(t *testing.T) {
	// recycle, events and eventsPool are deliberately not copied: the buffers and the event
	// slice go back to the pool when the parent batch is acknowledged by every output, which
	// happens after every view was.
	known := map[string]bool{"Events": true, "Domain": true, "onAck": true, "pending": true, "bytes": true,
		"recycle": true, "events": true, "eventsPool": true}
	bt := reflect.TypeOf(Batch{})
	for i := 0; i < bt.NumField(); i++ {
		if !known[bt.Field(i).Name] {
			t.Errorf("Batch has a field %s that runOutput.view (runner.go) does not copy", bt.Field(i).Name)
		}
	}
	parent := NewBatch("d", []Event{{Message: []byte("abc")}}, nil)
	parent.Retain(1)
	o := &runOutput{c: &stageCounters{}}
	v := o.view(parent, 1, 3)
	if v.Domain != "d" || v.Len() != 1 || v.Bytes() != parent.Bytes() || v.Acked() {
		t.Fatalf("view: %+v", v)
	}
	v.Ack()
	v.Ack() // extra acks are ignored, as for any batch
	if o.c.eventsAcked.Load() != 1 || o.c.bytes.Load() != 3 || parent.Acked() {
		t.Fatalf("after the view's ack: %d events, %d bytes, parent acked %v", o.c.eventsAcked.Load(), o.c.bytes.Load(), parent.Acked())
	}
}

// The stats line shows the consumer lag a stage reports through Stage.Metrics (the kafka
// input's logpipe_kafka_consumer_lag, summed over its partitions), also for a stage that
// did not move in the period (a stuck consumer is news).
func TestStatsLineShowsConsumerLag(t *testing.T) {
	reg := NewRegistry()
	reg.AddInput(Typed("lagging", func() *rtConfig { return &rtConfig{} }, func(_ *rtConfig, s Stage) (Input, error) {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "logpipe_kafka_consumer_lag"}, []string{"topic", "partition"})
		g.WithLabelValues("t", "0").Set(40)
		g.WithLabelValues("t", "1").Set(2)
		s.Registerer().MustRegister(g)
		return newSeqInput(1, 1, 1), nil
	}))
	reg.AddOutput(Typed("test", func() *rtConfig { return &rtConfig{} }, func(*rtConfig, Stage) (Output, error) { return &ackOutput{}, nil }))
	cfg := &Config{Inputs: []StageConfig{{Type: "lagging", Name: "k"}}, Outputs: []StageConfig{{Type: "test", Name: "o"}}}
	r, err := NewRunner(cfg, reg, RunnerOptions{StatsInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.InfoLevel)
	l := &statsLogger{log: zap.New(core), lastTime: time.Unix(0, 0)}
	l.gauges = r.stageGauges()
	l.logPeriod(time.Unix(10, 0), r.Stats(), r.RunnerStats())
	all := logs.All()
	if len(all) != 1 {
		t.Fatalf("got %d lines, want 1", len(all))
	}
	in, _ := all[0].ContextMap()["input.lagging.k"].(map[string]any)
	if in["consumer_lag"] != int64(42) {
		t.Fatalf("input fields %v, want consumer_lag 42", in)
	}
}

// An input's Bytes is its payload as read: the documents before the input's fields and
// tags are merged into them.
func TestInputBytesAreThePayloadAsRead(t *testing.T) {
	r := rtPipeline(t, Config{}, RunnerOptions{}, []Input{newSeqInput(1, 1, 1)}, nil, []Output{&ackOutput{}})
	merge := func(dst, scratch, doc []byte, f *InputFields) ([]byte, []byte) {
		dst = append(dst, doc[:len(doc)-1]...)
		return append(append(append(dst, `,"fields":`...), f.Object...), '}'), scratch
	}
	in := &runInput{id: "input.test.x", c: &stageCounters{}, merge: merge,
		fields: &InputFields{Object: []byte(`{"env":"production"}`)}}
	doc := `{"message":"a"}`
	b := NewBatch("d", []Event{{Doc: []byte(doc)}}, nil)
	if err := r.emitter(in)(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if got := string(b.Events[0].Doc); got != `{"message":"a","fields":{"env":"production"}}` {
		t.Fatalf("fields not merged: %s", got)
	}
	if got := in.c.bytes.Load(); got != int64(len(doc)) {
		t.Errorf("input bytes %d, want %d (the document as read)", got, len(doc))
	}
}
