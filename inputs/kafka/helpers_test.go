package kafka

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/logpipe/logpipe/pipeline"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newCluster starts an in-process kfake cluster with the given topics (name -> partitions),
// created explicitly.
func newCluster(t testing.TB, topics map[string]int32) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	for name, n := range topics {
		if err := c.CreateTopic(name, n, nil); err != nil {
			t.Fatalf("create topic %s: %v", name, err)
		}
	}
	return c
}

// producer is an independent client (franz-go) writing test records.
func producer(t testing.TB, c *kfake.Cluster) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0), kgo.MaxBufferedRecords(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produce writes values to topic/partition and waits for them to be acknowledged.
func produce(t testing.TB, cl *kgo.Client, topic string, partition int32, values ...string) {
	t.Helper()
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Topic: topic, Partition: partition, Value: []byte(v), Timestamp: time.UnixMilli(1700000000000 + int64(i)).UTC()}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func jsonRecords(from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(`{"@timestamp":"2026-11-21T07:16:26.746Z","message":"line %d"}`, from+i)
	}
	return out
}

// committed reads the group's committed offsets from outside (franz-go OffsetFetch).
func committed(t testing.TB, cl *kgo.Client, group, topic string) map[int32]int64 {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic = topic
	for p := int32(0); p < 16; p++ {
		rt.Partitions = append(rt.Partitions, p)
	}
	req.Topics = []kmsg.OffsetFetchRequestTopic{rt}
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatalf("offset fetch: %v", err)
	}
	out := map[int32]int64{}
	add := func(topics []kmsg.OffsetFetchResponseTopic) {
		for _, tt := range topics {
			for _, p := range tt.Partitions {
				if tt.Topic == topic && p.ErrorCode == 0 && p.Offset >= 0 {
					out[p.Partition] = p.Offset
				}
			}
		}
	}
	add(resp.Topics)
	for _, g := range resp.Groups {
		for _, tt := range g.Topics {
			for _, p := range tt.Partitions {
				if tt.Topic == topic && p.ErrorCode == 0 && p.Offset >= 0 {
					out[p.Partition] = p.Offset
				}
			}
		}
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testConfig returns a validated config with short timings for tests.
func testConfig(t testing.TB, c *kfake.Cluster, group string, topics ...string) *Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Brokers = c.ListenAddrs()
	cfg.Topics = topics
	cfg.GroupID = group
	cfg.CommitInterval = "50ms"
	cfg.FetchMaxWait = "100ms"
	cfg.SessionTimeout = "3s"
	cfg.HeartbeatInterval = "100ms"
	cfg.RebalanceTimeout = "2s"
	return cfg
}

func newInput(t testing.TB, cfg *Config, once bool) *Input {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var log *zap.Logger
	if tt, ok := t.(*testing.T); ok && testing.Verbose() {
		log = zaptest.NewLogger(tt)
	} else {
		log = zap.NewNop()
	}
	in, err := New(cfg, pipeline.Stage{Kind: "input", Type: "kafka", Name: "test", Log: log, Once: once, Codecs: testCodecs()})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// collector is a test emit: it records every batch and acknowledges it according to ack.
type collector struct {
	mu      sync.Mutex
	batches []*pipeline.Batch
	seen    map[string]int // "partition/offset" -> times seen
	events  []pipeline.Event
	ack     func(b *pipeline.Batch) bool // nil: ack everything
	notify  chan struct{}
}

func newCollector(ack func(b *pipeline.Batch) bool) *collector {
	return &collector{seen: map[string]int{}, ack: ack, notify: make(chan struct{}, 1)}
}

func (c *collector) emit(ctx context.Context, b *pipeline.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.batches = append(c.batches, b)
	for _, e := range b.Events {
		c.seen[fmt.Sprintf("%d/%d", e.Partition, e.Offset)]++
		e.Doc = append([]byte(nil), e.Doc...)
		c.events = append(c.events, e)
	}
	doAck := c.ack == nil || c.ack(b)
	c.mu.Unlock()
	if doAck {
		b.Ack()
	}
	select {
	case c.notify <- struct{}{}:
	default:
	}
	return nil
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

func (c *collector) offsets(partition int32) []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int64
	for _, e := range c.events {
		if e.Partition == partition {
			out = append(out, e.Offset)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// running runs in.Run in a goroutine; stop cancels it, waits for Run, and closes the input.
type running struct {
	in     *Input
	cancel context.CancelFunc
	done   chan error
}

func start(in *Input, emit pipeline.Emit) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{in: in, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- in.Run(ctx, emit) }()
	return r
}

func (r *running) stop(t testing.TB) {
	t.Helper()
	r.cancel()
	if err := <-r.done; err != nil {
		t.Errorf("Run: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.in.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}
