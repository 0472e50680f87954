package kafka

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logpipe/logpipe/codecs"
	"github.com/logpipe/logpipe/pipeline"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/zap"
)

const benchBatch = 1024

// benchEvents returns a batch's worth of Apache access line events from one file.
func benchEvents() []pipeline.Event {
	origin := &pipeline.FileOrigin{Path: "/var/log/httpd/access_log", DeviceID: 65024, Inode: 10028677,
		Fingerprint: "0f2ba1a1e0c5c5b6a9c1e2f3a4b5c6d7e8f90112233445566778899aabbccdd"}
	prefix := pipeline.EventIDPrefix("web1", "0f2ba1a1")
	evs := make([]pipeline.Event, benchBatch)
	var off int64
	for i := range evs {
		msg := fmt.Appendf(nil, `10.0.%d.%d - - [21/Nov/2026:07:16:26 +0000] "GET /api/v1/items?page=%d HTTP/1.1" 200 %d "https://example.com/" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"`,
			i>>8, i&255, i, 1000+i)
		evs[i] = pipeline.Event{Timestamp: time.Now().UTC(), Message: msg, File: origin, Offset: off, Partition: -1,
			ID: string(pipeline.AppendEventID(nil, prefix, off))}
		off += int64(len(msg) + 1)
	}
	return evs
}

func benchAgent() pipeline.Agent {
	return pipeline.Agent{Hostname: "web1", ID: "9e1c7f7e-3f5a-4c1e-9b1e-2f7d1c0a1b2c", EphemeralID: "1b2c3d4e-5f60-4718-9abc-def012345678", Version: "0.1.0"}
}

// BenchmarkProduce measures events/s through a produce path into an in-process kfake
// cluster (3 partitions, acks=all), encoding with the JSON wire-format codec, batches of
// 1024 line events:
//
//   - lowlevel: this output (own record batches through kafka-go Client.RawProduce, own
//     partition-aware batching);
//   - writer: kafka-go's Writer (and its own lz4 codec), async with a Completion callback,
//     tuned (BatchSize 4096, BatchBytes 1 MiB, BatchTimeout 5 ms, RequiredAcks all,
//     round-robin balancer). Its messages must stay valid until completion, so each value
//     is its own allocation.
func BenchmarkProduce(b *testing.B) {
	for _, comp := range []string{"none", "lz4"} {
		b.Run("lowlevel/"+comp, func(b *testing.B) { benchLowLevel(b, comp) })
		b.Run("writer/"+comp, func(b *testing.B) { benchWriter(b, comp) })
	}
}

func benchCluster(b *testing.B) *kfake.Cluster {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "bench"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c
}

func benchLowLevel(b *testing.B, comp string) {
	c := benchCluster(b)
	r := pipeline.NewRegistry()
	codecs.Register(r)
	cfg := NewConfig()
	cfg.Brokers, cfg.Topic, cfg.Compression = c.ListenAddrs(), "bench", comp
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	o, err := New(cfg, pipeline.Stage{Log: zap.NewNop(), Codecs: r, Agent: benchAgent()})
	if err != nil {
		b.Fatal(err)
	}
	if err := o.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	evs := benchEvents()
	var acked atomic.Int64
	nb := (b.N + benchBatch - 1) / benchBatch
	batches := make([]*pipeline.Batch, nb)
	for i := range batches {
		batches[i] = pipeline.NewBatch("f", evs, func() { acked.Add(1) })
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for _, bt := range batches {
		if err := o.Write(context.Background(), bt); err != nil {
			b.Fatal(err)
		}
	}
	for acked.Load() < int64(nb) {
		time.Sleep(100 * time.Microsecond)
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(nb*benchBatch)/el.Seconds(), "events/s")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = o.Close(ctx)
}

func benchWriter(b *testing.B, comp string) {
	c := benchCluster(b)
	var cc compress.Compression
	switch comp {
	case "lz4":
		cc = compress.Lz4
	}
	var done atomic.Int64
	w := &kafka.Writer{
		Addr:         kafka.TCP(c.ListenAddrs()...),
		Topic:        "bench",
		Balancer:     &kafka.RoundRobin{},
		BatchSize:    4096,
		BatchBytes:   1 << 20,
		BatchTimeout: 5 * time.Millisecond,
		RequiredAcks: kafka.RequireAll,
		Compression:  kafka.Compression(cc),
		Async:        true,
		Completion: func(msgs []kafka.Message, err error) {
			if err != nil {
				b.Error(err)
			}
			done.Add(int64(len(msgs)))
		},
	}
	enc := codecs.NewJSONEncoder(benchAgent())
	evs := benchEvents()
	nb := (b.N + benchBatch - 1) / benchBatch
	msgs := make([]kafka.Message, benchBatch)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range nb {
		for i := range evs {
			msgs[i] = kafka.Message{Value: enc.Encode(nil, &evs[i]), Time: evs[i].Timestamp}
		}
		if err := w.WriteMessages(context.Background(), msgs...); err != nil {
			b.Fatal(err)
		}
	}
	for done.Load() < int64(nb*benchBatch) {
		time.Sleep(100 * time.Microsecond)
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(nb*benchBatch)/el.Seconds(), "events/s")
	_ = w.Close()
}

// BenchmarkEncodeIntoChunk is the per-event cost of Write without the network: encoding
// into the partition's record batch and the bookkeeping (no allocation per event).
func BenchmarkEncodeIntoChunk(b *testing.B) {
	r := pipeline.NewRegistry()
	codecs.Register(r)
	cfg := NewConfig()
	cfg.Brokers, cfg.Topic = []string{"127.0.0.1:1"}, "bench"
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	o, err := New(cfg, pipeline.Stage{Log: zap.NewNop(), Codecs: r, Agent: benchAgent()})
	if err != nil {
		b.Fatal(err)
	}
	o.open = make([]*chunk, 1)
	evs := benchEvents()
	pb := &pendingBatch{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := o.chunkFor(0)
		if len(c.recs) >= benchBatch {
			c.reset()
		}
		c.buf = o.enc.Encode(c.buf, &evs[i%benchBatch])
		c.recs = append(c.recs, record{end: int32(len(c.buf))})
		if len(c.refs) == 0 {
			c.refs = append(c.refs, ref{pb: pb})
		}
	}
}
