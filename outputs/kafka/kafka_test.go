package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logpipe/logpipe/codecs"
	"github.com/logpipe/logpipe/pipeline"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// testEncoder is a minimal codec for these tests (the JSON wire format is codecs/json's and
// is tested there and in e2e): the message, then "|T" when the event is flagged truncated.
type testEncoder struct{}

func (testEncoder) Encode(dst []byte, e *pipeline.Event) []byte {
	if e.Doc != nil {
		dst = append(dst, e.Doc...)
	} else {
		dst = append(dst, e.Message...)
	}
	if e.Flags&pipeline.FlagTruncated != 0 {
		dst = append(dst, "|T"...)
	}
	return dst
}

func testRegistry() *pipeline.Registry {
	r := pipeline.NewRegistry()
	r.AddCodec(pipeline.CodecType{Name: "json", NewEncoder: func(pipeline.Agent) pipeline.Encoder { return testEncoder{} }})
	Register(r)
	return r
}

func newCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// newOutput builds the output for the cluster's topic with the given attribute changes.
func newOutput(t testing.TB, c *kfake.Cluster, topic string, log *zap.Logger, change func(*Config)) *Output {
	t.Helper()
	cfg := NewConfig()
	cfg.Brokers = c.ListenAddrs()
	cfg.Topic = topic
	if change != nil {
		change(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if log == nil {
		log = zap.NewNop()
	}
	o, err := New(cfg, pipeline.Stage{Kind: "output", Type: "kafka", Name: "t", Log: log, Codecs: testRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// makeBatches returns n batches of size events with messages "b<i>-<j>", and a counter of
// acknowledged batches.
func makeBatches(n, size int) ([]*pipeline.Batch, *atomic.Int64) {
	var acked atomic.Int64
	bs := make([]*pipeline.Batch, n)
	for i := range bs {
		evs := make([]pipeline.Event, size)
		for j := range evs {
			evs[j] = pipeline.Event{Timestamp: time.Now(), Message: fmt.Appendf(nil, "b%d-%d", i, j), Partition: -1}
		}
		bs[i] = pipeline.NewBatch(fmt.Sprintf("file%d", i), evs, func() { acked.Add(1) })
	}
	return bs, &acked
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// consume reads the whole topic with franz-go (an independent client).
func consume(t testing.TB, c *kfake.Cluster, topic string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for len(recs) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records before the deadline", len(recs), want)
		}
		fs.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
	}
	return recs
}

func closeOutput(t testing.TB, o *Output) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := o.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestProduceEveryEventOnceAndAck(t *testing.T) {
	for _, comp := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(comp, func(t *testing.T) {
			c := newCluster(t, kfake.SeedTopics(3, "logs"))
			o := newOutput(t, c, "logs", nil, func(cfg *Config) {
				cfg.Compression = comp
				cfg.BatchEvents = 50
			})
			if err := o.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			bs, acked := makeBatches(20, 37)
			for _, b := range bs {
				if err := o.Write(context.Background(), b); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, 10*time.Second, "all batches acked", func() bool { return acked.Load() == 20 })
			closeOutput(t, o)
			recs := consume(t, c, "logs", 20*37)
			seen := map[string]int{}
			parts := map[int32]int{}
			for _, r := range recs {
				seen[string(r.Value)]++
				parts[r.Partition]++
				if d := time.Since(r.Timestamp); d < 0 || d > time.Minute {
					t.Fatalf("record timestamp %s is not the event's time", r.Timestamp)
				}
			}
			for i := range 20 {
				for j := range 37 {
					if n := seen[fmt.Sprintf("b%d-%d", i, j)]; n != 1 {
						t.Errorf("b%d-%d seen %d times", i, j, n)
					}
				}
			}
			if len(recs) != 20*37 {
				t.Errorf("%d records, want %d", len(recs), 20*37)
			}
			if len(parts) != 3 {
				t.Errorf("records spread over partitions %v, want all 3 used", parts)
			}
		})
	}
}

// A pipeline batch without partition_key goes to one partition, in order.
func TestBatchStaysOnOnePartitionInOrder(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(3, "logs"))
	o := newOutput(t, c, "logs", nil, nil)
	bs, acked := makeBatches(6, 100)
	for _, b := range bs {
		if err := o.Write(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "acks", func() bool { return acked.Load() == 6 })
	closeOutput(t, o)
	recs := consume(t, c, "logs", 600)
	partOf := map[string]int32{}
	last := map[string]int{}
	for _, r := range recs {
		var bi, ej int
		fmt.Sscanf(string(r.Value), "b%d-%d", &bi, &ej)
		b := fmt.Sprint(bi)
		if p, ok := partOf[b]; ok && p != r.Partition {
			t.Fatalf("batch %s split over partitions %d and %d", b, p, r.Partition)
		}
		partOf[b] = r.Partition
		if l, ok := last[b]; ok && ej != l+1 {
			t.Fatalf("batch %s out of order: %d after %d", b, ej, l)
		}
		last[b] = ej
	}
}

func TestPartitionKey(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(4, "logs"))
	o := newOutput(t, c, "logs", nil, func(cfg *Config) { cfg.PartitionKey = "%{[message]}" })
	bs, acked := makeBatches(3, 50)
	for _, b := range bs {
		if err := o.Write(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "acks", func() bool { return acked.Load() == 3 })
	closeOutput(t, o)
	recs := consume(t, c, "logs", 150)
	used := map[int32]bool{}
	for _, r := range recs {
		if string(r.Key) != string(r.Value) {
			t.Fatalf("key %q, want the message %q", r.Key, r.Value)
		}
		if want := int32(partitionFor(r.Key, 4)); r.Partition != want {
			t.Fatalf("key %q on partition %d, want %d", r.Key, r.Partition, want)
		}
		used[r.Partition] = true
	}
	if len(used) < 2 {
		t.Fatalf("150 keys all on partitions %v", used)
	}
}

// Kafka's own test vectors (clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java).
func TestMurmur2MatchesKafka(t *testing.T) {
	for in, want := range map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	} {
		if got := int32(murmur2([]byte(in))); got != want {
			t.Errorf("murmur2(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestLargeEventIsCutAndFlaggedNeverDropped(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "logs"))
	o := newOutput(t, c, "logs", nil, func(cfg *Config) { cfg.MaxMessageBytes = "8KiB" })
	big := strings.Repeat("é", 10000) // 20000 bytes of 2-byte runes
	var acked atomic.Int64
	b := pipeline.NewBatch("f", []pipeline.Event{
		{Message: []byte("small")},
		{Message: []byte(big)},
		{Doc: []byte(`{"message":"` + strings.Repeat("x", 20000) + `"}`)},
	}, func() { acked.Add(1) })
	if err := o.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "ack", func() bool { return acked.Load() == 1 })
	closeOutput(t, o)
	recs := consume(t, c, "logs", 3)
	if string(recs[0].Value) != "small" {
		t.Errorf("first record %q", recs[0].Value)
	}
	for _, r := range recs[1:] {
		v := string(r.Value)
		if len(v) > 8<<10-recordOverhead || len(v) < 4<<10 || !strings.HasSuffix(v, "|T") {
			t.Errorf("cut record has %d bytes, suffix %q", len(v), v[max(0, len(v)-4):])
		}
	}
	if v := strings.TrimSuffix(string(recs[1].Value), "|T"); !strings.HasPrefix(big, v) || !utf8Valid(v) {
		t.Errorf("cut message is not a valid prefix of the line")
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// Produce errors the broker reports as retryable are retried until they pass; no event is
// lost and each batch is acked once.
func TestRetriesRetryableErrors(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(2, "logs"))
	var failures atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if failures.Add(1) > 6 {
			return nil, nil, false
		}
		c.KeepControl()
		r := req.(*kmsg.ProduceRequest)
		resp := r.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.NotEnoughReplicas.Code
				if failures.Load()%2 == 0 {
					sp.ErrorCode = kerr.NotLeaderForPartition.Code
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	core, logs := observer.New(zap.WarnLevel)
	o := newOutput(t, c, "logs", zap.New(core), func(cfg *Config) { cfg.BatchEvents = 10 })
	bs, acked := makeBatches(5, 20)
	for _, b := range bs {
		if err := o.Write(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 20*time.Second, "acks", func() bool { return acked.Load() == 5 })
	closeOutput(t, o)
	recs := consume(t, c, "logs", 100)
	if len(recs) != 100 {
		t.Fatalf("%d records, want 100", len(recs))
	}
	if logs.FilterMessageSnippet("retrying").Len() == 0 {
		t.Error("no retry was logged")
	}
}

// A missing topic is reported loudly, naming it and what to do, and the events wait for it.
func TestMissingTopicWaitsAndNamesIt(t *testing.T) {
	c := newCluster(t)
	core, logs := observer.New(zap.InfoLevel)
	o := newOutput(t, c, "kafka_test", zap.New(core), nil)
	if err := o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	bs, acked := makeBatches(1, 10)
	done := make(chan error, 1)
	go func() { done <- o.Write(context.Background(), bs[0]) }()
	waitFor(t, 10*time.Second, "an error naming the topic", func() bool {
		for _, e := range logs.FilterLevelExact(zap.ErrorLevel).All() {
			for _, f := range e.Context {
				if f.Key == "error" && strings.Contains(fmt.Sprint(f.Interface), `topic "kafka_test" is not on the Kafka cluster`) &&
					strings.Contains(fmt.Sprint(f.Interface), "logpipe setup -c index.hcl --topic") {
					return true
				}
			}
		}
		return false
	})
	if acked.Load() != 0 {
		t.Fatal("batch acked while the topic is missing")
	}
	if err := c.CreateTopic("kafka_test", 2, nil); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "ack after the topic was created", func() bool { return acked.Load() == 1 })
	closeOutput(t, o)
	consume(t, c, "kafka_test", 10)
}

// With the broker gone, Write blocks once max_in_flight requests are stuck (backpressure),
// and Close gives up at its deadline without acknowledging anything.
func TestBrokerDownBackpressureAndCloseDeadline(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "logs"))
	o := newOutput(t, c, "logs", nil, func(cfg *Config) {
		cfg.MaxInFlight = 2
		cfg.BatchEvents = 10
		cfg.Timeout = "1s"
	})
	if err := o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.Close()
	bs, acked := makeBatches(5, 10)
	var wrote atomic.Int32
	var wg sync.WaitGroup
	wg.Add(1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer wg.Done()
		for _, b := range bs {
			if err := o.Write(ctx, b); err != nil {
				return
			}
			wrote.Add(1)
		}
	}()
	waitFor(t, 10*time.Second, "two writes", func() bool { return wrote.Load() >= 2 })
	// Each Write fills one request; with 2 in flight the 3rd or 4th Write must block.
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		if wrote.Load() == 5 {
			t.Fatal("all writes returned although the broker is down and max_in_flight is 2")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	cctx, ccancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer ccancel()
	if err := o.Close(cctx); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want a deadline error", err)
	}
	if acked.Load() != 0 {
		t.Fatalf("%d batches acked without a broker", acked.Load())
	}
}

func TestValidate(t *testing.T) {
	cfg := NewConfig()
	cfg.Brokers = []string{"nohost"}
	cfg.RequiredAcks = "two"
	cfg.Compression = "brotli"
	cfg.MaxMessageBytes = "12"
	cfg.BatchEvents = 0
	cfg.Linger = "soon"
	cfg.BatchBytes = "0"
	cfg.Timeout = "50ms"
	cfg.MaxInFlight = 0
	cfg.PartitionKey = "%{[host"
	err := cfg.Validate()
	for _, attr := range []string{"brokers", "topic", "required_acks", "compression", "max_message_bytes", "batch_events", "batch_bytes", "linger", "timeout", "max_in_flight", "partition_key"} {
		var found bool
		for _, e := range unjoin(err) {
			var ae *pipeline.AttrError
			if errors.As(e, &ae) && ae.Attr == attr {
				found = true
			}
		}
		if !found {
			t.Errorf("no error for %s in %v", attr, err)
		}
	}
	ok := NewConfig()
	ok.Brokers = []string{"127.0.0.1:9092"}
	ok.Topic = "kafka_test"
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	if ok.maxMessageBytes != 1<<20 || ok.batchBytes != 1<<20 || ok.linger != 5*time.Millisecond || ok.timeout != 30*time.Second {
		t.Errorf("defaults: %+v", ok)
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// With the JSON wire-format codec, a cut event is still valid JSON, its message is cut and
// log.flags holds "truncated".
func TestLargeEventWithJSONCodec(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "logs"))
	r := pipeline.NewRegistry()
	codecs.Register(r)
	cfg := NewConfig()
	cfg.Brokers, cfg.Topic, cfg.MaxMessageBytes = c.ListenAddrs(), "logs", "16KiB"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	o, err := New(cfg, pipeline.Stage{Log: zap.NewNop(), Codecs: r, Agent: pipeline.Agent{Hostname: "web1", Version: "0.1.0"}})
	if err != nil {
		t.Fatal(err)
	}
	origin := &pipeline.FileOrigin{Path: "/var/log/a.log", Fingerprint: strings.Repeat("ab", 32)}
	line := strings.Repeat(`"quoted\" and \\ escaped" `, 4000) // ~100 KB, expands when escaped
	var acked atomic.Int64
	b := pipeline.NewBatch("f", []pipeline.Event{{Timestamp: time.Now(), Message: []byte(line), File: origin, ID: "p-0"}},
		func() { acked.Add(1) })
	if err := o.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "ack", func() bool { return acked.Load() == 1 })
	closeOutput(t, o)
	rec := consume(t, c, "logs", 1)[0]
	var ev struct {
		Message string `json:"message"`
		Log     struct {
			Flags []string `json:"flags"`
		} `json:"log"`
	}
	if err := json.Unmarshal(rec.Value, &ev); err != nil {
		t.Fatalf("cut event is not JSON: %v", err)
	}
	if len(rec.Value) > 16<<10-recordOverhead || len(ev.Message) < 8<<10 || !strings.HasPrefix(line, ev.Message) {
		t.Errorf("record %d bytes, message %d bytes (prefix of the line: %v)", len(rec.Value), len(ev.Message), strings.HasPrefix(line, ev.Message))
	}
	if !slices.Contains(ev.Log.Flags, "truncated") {
		t.Errorf("log.flags = %v, want truncated", ev.Log.Flags)
	}
}

// Close leaves no goroutine of the output or of its kafka-go transport behind.
func TestCloseLeaksNoGoroutine(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(2, "logs"))
	ignore := goleak.IgnoreCurrent()
	o := newOutput(t, c, "logs", nil, nil)
	if err := o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	bs, acked := makeBatches(4, 100)
	for _, b := range bs {
		if err := o.Write(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "acks", func() bool { return acked.Load() == 4 })
	closeOutput(t, o)
	goleak.VerifyNone(t, ignore,
		// kfake's per-connection goroutines end when it notices the closed connection.
		goleak.IgnoreAnyFunction("github.com/twmb/franz-go/pkg/kfake.(*clientConn).read"),
		goleak.IgnoreAnyFunction("github.com/twmb/franz-go/pkg/kfake.(*clientConn).write"))
}

// The output works with the API versions of the clusters in the field: Kafka 2.x (with
// ZooKeeper), 3.x and 4.x (KRaft, which dropped the old produce versions). kfake advertises
// and accepts only the versions of the given release. zstd needs Kafka 2.1 or newer.
func TestClusterVersions(t *testing.T) {
	for _, v := range []struct {
		name string
		v    *kversion.Versions
		comp string
	}{
		{"2.0", kversion.V2_0_0(), "lz4"},
		{"2.1", kversion.V2_1_0(), "zstd"},
		{"2.8", kversion.V2_8_0(), "lz4"},
		{"3.6", kversion.V3_6_0(), "gzip"},
		{"4.0", kversion.V4_0_0(), "lz4"},
	} {
		t.Run(v.name, func(t *testing.T) {
			c := newCluster(t, kfake.SeedTopics(2, "logs"), kfake.MaxVersions(v.v))
			o := newOutput(t, c, "logs", nil, func(cfg *Config) { cfg.Compression = v.comp })
			if err := o.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			bs, acked := makeBatches(3, 20)
			for _, b := range bs {
				if err := o.Write(context.Background(), b); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, 10*time.Second, "acks", func() bool { return acked.Load() == 3 })
			closeOutput(t, o)
			if n := len(consume(t, c, "logs", 60)); n != 60 {
				t.Fatalf("%d records, want 60", n)
			}
		})
	}
}

// Partition leaders move between brokers while the output produces: requests to the old
// leader fail with NOT_LEADER_FOR_PARTITION and are retried until the transport learnt the
// new leaders; every event arrives.
func TestLeaderChange(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(3), kfake.SeedTopics(3, "logs"))
	o := newOutput(t, c, "logs", nil, func(cfg *Config) { cfg.BatchEvents = 25 })
	if err := o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	bs, acked := makeBatches(40, 25)
	for i, b := range bs {
		if i == 10 || i == 25 {
			c.ShufflePartitionLeaders()
		}
		if err := o.Write(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 30*time.Second, "acks", func() bool { return acked.Load() == 40 })
	closeOutput(t, o)
	recs := consume(t, c, "logs", 1000)
	seen := map[string]bool{}
	for _, r := range recs {
		seen[string(r.Value)] = true
	}
	if len(seen) != 1000 {
		t.Fatalf("%d distinct events, want 1000", len(seen))
	}
}

// Start learns the topic's max.message.bytes: an event larger than the topic accepts is cut
// to it and flagged instead of being rejected forever.
func TestTopicMaxMessageBytesIsLearnt(t *testing.T) {
	c := newCluster(t)
	if err := c.CreateTopic("small", 1, map[string]string{"max.message.bytes": "5000"}); err != nil {
		t.Fatal(err)
	}
	o := newOutput(t, c, "small", nil, func(cfg *Config) {
		cfg.MaxMessageBytes = "64KiB"
		cfg.Compression = "none"
	})
	if err := o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	bs, acked := makeBatches(1, 3)
	bs[0].Events[1].Message = []byte(strings.Repeat("x", 20000))
	if err := o.Write(context.Background(), bs[0]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "ack", func() bool { return acked.Load() == 1 })
	closeOutput(t, o)
	recs := consume(t, c, "small", 3)
	if v := recs[1].Value; len(v) > 5000 || !strings.HasSuffix(string(v), "|T") {
		t.Fatalf("record of %d bytes, want it cut below 5000 and flagged", len(v))
	}
}

// Every attribute decodes from HCL through the pipeline's loader; mistakes are reported at
// their attribute.
func TestHCLAttributes(t *testing.T) {
	src := `
output "kafka" "main" {
  brokers           = ["kafka1:9092", "kafka2:9092"]
  topic             = "kafka_test"
  required_acks     = "one"
  compression       = "zstd"
  partition_key     = "%{[host][name]}"
  max_message_bytes = "512KiB"
  batch_events      = 1000
  batch_bytes       = 262144
  linger            = "20ms"
  timeout           = "10s"
  client_id         = "web1"
  max_in_flight     = 3
  codec             = "json"
}
`
	src = "input \"stub\" \"in\" {}\n" + src
	r := testRegistry()
	type stubConfig struct{}
	r.AddInput(pipeline.Typed[pipeline.Input]("stub", func() *stubConfig { return &stubConfig{} },
		func(*stubConfig, pipeline.Stage) (pipeline.Input, error) { return nil, errors.New("not built here") }))
	cfg, diags := pipeline.Load("ship.hcl", []byte(src), r, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	c := cfg.Outputs[0].Config.(*Config)
	if c.acks != kafkago.RequireOne || c.compression != compress.Zstd || c.maxMessageBytes != 512<<10 || c.BatchEvents != 1000 ||
		c.batchBytes != 262144 || c.linger != 20*time.Millisecond || c.timeout != 10*time.Second ||
		c.ClientID != "web1" || c.MaxInFlight != 3 || c.PartitionKey != "%{[host][name]}" || len(c.Brokers) != 2 {
		t.Errorf("decoded %+v", c)
	}
	_, diags = pipeline.Load("ship.hcl", []byte(strings.Replace(src, `"one"`, `"most"`, 1)), r, nil)
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "required_acks") || !strings.Contains(diags.Error(), "ship.hcl:6") {
		t.Errorf("bad required_acks: %v", diags)
	}
}

// An unknown codec is reported on the codec attribute, naming the known ones.
func TestUnknownCodec(t *testing.T) {
	cfg := NewConfig()
	cfg.Brokers = []string{"127.0.0.1:9092"}
	cfg.Topic = "logs"
	cfg.Codec = "jsn"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	_, err := New(cfg, pipeline.Stage{Kind: "output", Type: "kafka", Name: "t", Codecs: testRegistry()})
	var ae *pipeline.AttrError
	if !errors.As(err, &ae) || ae.Attr != "codec" || !strings.Contains(err.Error(), `"jsn"`) || !strings.Contains(err.Error(), "json") {
		t.Fatalf("New with codec jsn = %v, want an error on codec naming json", err)
	}
}
