package kafka

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logpipe/logpipe/pipeline"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkConsume measures records/s from kfake (3 partitions) through fetch, decode and
// batching to an emit that acknowledges and discards every batch.
func BenchmarkConsume(b *testing.B) {
	c := newCluster(b, map[string]int32{"logs": 3})
	pr := producer(b, c)
	n := b.N
	recs := make([]*kgo.Record, 0, 10000)
	flush := func() {
		if err := pr.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			b.Fatal(err)
		}
		recs = recs[:0]
	}
	for i := 0; i < n; i++ {
		v := fmt.Sprintf(`{"@timestamp":"2026-11-21T07:16:26.746Z","@metadata":{"beat":"logpipe","type":"_doc","version":"0.1.0","_id":"9f2c1d7e4b5a6c8d0e1f-%d"},"message":"192.168.1.%d - - [21/Nov/2026:07:16:26 +0000] \"GET /index.html HTTP/1.1\" 200 5120 \"-\" \"curl/8.5.0\"","log":{"offset":%d,"file":{"path":"/etc/httpd/logs/access_log"}},"input":{"type":"filestream"},"host":{"name":"web1"}}`, i, i%255, i*180)
		recs = append(recs, &kgo.Record{Topic: "logs", Partition: int32(i % 3), Value: []byte(v)})
		if len(recs) == cap(recs) {
			flush()
		}
	}
	flush()

	var got atomic.Int64
	done := make(chan struct{})
	emit := func(ctx context.Context, bt *pipeline.Batch) error {
		if got.Add(int64(bt.Len())) == int64(n) {
			close(done)
		}
		bt.Ack()
		return nil
	}
	cfg := testConfig(b, c, "bench", "logs")
	in := newInput(b, cfg, false)
	b.ReportAllocs()
	b.ResetTimer()
	t0 := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- in.Run(ctx, emit) }()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatal("timed out")
	}
	b.StopTimer()
	b.ReportMetric(float64(n)/time.Since(t0).Seconds(), "records/s")
	cancel()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	if err := in.Close(cctx); err != nil {
		b.Fatal(err)
	}
}
