package elasticsearch

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	es "github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esutil"

	"github.com/logpipe/logpipe/codecs"
	"github.com/logpipe/logpipe/e2e/estest"
	"github.com/logpipe/logpipe/pipeline"
)

// benchDoc is an ECS document as the apache filter produces it (~900 bytes).
const benchDoc = `{"@timestamp":"2026-11-21T07:16:26.746Z","message":"192.168.33.1 - - [21/Nov/2026:07:16:26 +0000] \"GET /products/widget?id=42 HTTP/1.1\" 200 5310 \"https://shop.example.com/\" \"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\"","log":{"offset":182,"file":{"path":"/etc/httpd/logs/access_log","device_id":"65024","inode":"10028677","fingerprint":"8d5e957f297893487bd98fa830fa6413ae4f4f0d7bd7d93c3ce8ab3f3b5e07a1"}},"input":{"type":"filestream"},"host":{"name":"web1"},"ecs":{"version":"8.0.0"},"agent":{"type":"logpipe","version":"0.1.0","name":"web1","id":"0b6d3c1e-6f3e-4f7f-9b0e-1d7a5c8f2e11","ephemeral_id":"a1f1c2d3-0000-4000-8000-000000000001"},"source":{"address":"192.168.33.1","ip":"192.168.33.1"},"http":{"request":{"method":"GET","referrer":"https://shop.example.com/"},"response":{"status_code":200,"body":{"bytes":5310}},"version":"1.1"},"url":{"original":"/products/widget?id=42","path":"/products/widget","query":"id=42"},"user_agent":{"original":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"},"event":{"kind":"event","category":["web"],"outcome":"success"}}`

func benchEvents(n int) []pipeline.Event {
	evs := make([]pipeline.Event, n)
	ts := time.Date(2026, 11, 21, 7, 16, 26, 746e6, time.UTC)
	for i := range evs {
		evs[i] = pipeline.Event{Timestamp: ts, ID: fmt.Sprintf("8d5e957f297893487bd9-%d", i*200),
			Doc: []byte(benchDoc), Topic: "kafka_test", Partition: 0, Offset: int64(i)}
	}
	return evs
}

// BenchmarkBulkBody measures building _bulk bodies: one op is one document.
func BenchmarkBulkBody(b *testing.B) {
	evs := benchEvents(1000)
	bb := newBodyBuilder(codecs.MustParseTemplate("filebeat_test-%{+YYYY.MM.dd}"), codecs.NewDocumentEncoder(pipeline.Agent{}))
	r := &request{}
	ack := &batchAck{}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchDoc)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%1000 == 0 {
			r.reset()
		}
		bb.appendDoc(r, &evs[i%1000], i%1000, ack)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}

// BenchmarkBulkBodyLines measures building _bulk bodies of line events (a ship
// configuration with an elasticsearch output): the output encodes each line. One op is one
// line.
func BenchmarkBulkBodyLines(b *testing.B) {
	const line = `192.168.33.1 - - [21/Nov/2026:07:16:26 +0000] "GET /products/widget?id=42 HTTP/1.1" 200 5310 "https://shop.example.com/" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"`
	ts := time.Date(2026, 11, 21, 7, 16, 26, 746e6, time.UTC)
	f := &pipeline.FileOrigin{Path: "/etc/httpd/logs/access_log", DeviceID: 65024, Inode: 10028677}
	evs := make([]pipeline.Event, 1000)
	for i := range evs {
		evs[i] = pipeline.Event{Timestamp: ts, Message: []byte(line), File: f, Offset: int64(i * 200), Partition: -1,
			ID: fmt.Sprintf("8d5e957f297893487bd9-%d", i*200)}
	}
	bb := newBodyBuilder(codecs.MustParseTemplate("filebeat_test-%{+YYYY.MM.dd}"),
		codecs.NewDocumentEncoder(pipeline.Agent{Hostname: "web1", Version: "0.1.0", ID: "0b6d3c1e-6f3e-4f7f-9b0e-1d7a5c8f2e11"}))
	r := &request{}
	ack := &batchAck{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%1000 == 0 {
			r.reset()
		}
		bb.appendDoc(r, &evs[i%1000], i%1000, ack)
	}
}

// minimalES answers every _bulk request with one 201 item per action, without storing
// anything: it isolates the client's cost from estest's (which parses every document).
func minimalES(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	item := []byte(`{"create":{"_index":"i","_id":"x","_version":1,"result":"created","status":201}}`)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := bytes.Count(body, []byte(`{"create":`))
		out := make([]byte, 0, 64+n*(len(item)+1))
		out = append(out, `{"took":1,"errors":false,"items":[`...)
		for i := 0; i < n; i++ {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, item...)
		}
		out = append(out, "]}"...)
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	})}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

func benchTargets(b *testing.B) map[string]func() string {
	return map[string]func() string{
		"estest":  func() string { return startES(b, estest.Options{}).URL() },
		"minimal": func() string { return minimalES(b) },
	}
}

// BenchmarkWrite measures the output end to end (body, HTTP, answer, acks); one op is one
// document, written in pipeline batches of 500.
func BenchmarkWrite(b *testing.B) {
	for _, name := range []string{"minimal", "estest"} {
		b.Run(name, func(b *testing.B) {
			url := benchTargets(b)[name]()
			o := newOut(b, []string{url}, func(c *Config) { c.FlushInterval = "5ms" })
			evs := benchEvents(500)
			var acked atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			batches := 0
			for n := 0; n < b.N; n += len(evs) {
				k := min(len(evs), b.N-n)
				if err := o.Write(context.Background(), pipeline.NewBatch("p", evs[:k], func() { acked.Add(1) })); err != nil {
					b.Fatal(err)
				}
				batches++
			}
			for acked.Load() != int64(batches) {
				time.Sleep(time.Millisecond)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
		})
	}
}

// BenchmarkBulkIndexer is BenchmarkWrite's workload through go-elasticsearch's
// esutil.BulkIndexer, for comparison.
func BenchmarkBulkIndexer(b *testing.B) {
	for _, name := range []string{"minimal", "estest"} {
		b.Run(name, func(b *testing.B) {
			url := benchTargets(b)[name]()
			client, err := es.NewClient(es.Config{Addresses: []string{url}})
			if err != nil {
				b.Fatal(err)
			}
			bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{Client: client, NumWorkers: 2, FlushBytes: 5 << 20, FlushInterval: 5 * time.Millisecond,
				OnError: func(_ context.Context, err error) { b.Log("indexer error: ", err) }})
			if err != nil {
				b.Fatal(err)
			}
			evs := benchEvents(500)
			idx := codecs.MustParseTemplate("filebeat_test-%{+YYYY.MM.dd}")
			var done atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				e := &evs[i%len(evs)]
				err := bi.Add(context.Background(), esutil.BulkIndexerItem{
					Action: "create", Index: idx.Render(e), DocumentID: e.ID, Body: bytes.NewReader(e.Doc),
					OnSuccess: func(context.Context, esutil.BulkIndexerItem, esutil.BulkIndexerResponseItem) { done.Add(1) },
					OnFailure: func(context.Context, esutil.BulkIndexerItem, esutil.BulkIndexerResponseItem, error) { done.Add(1) },
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			if err := bi.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
			// Items whose OnSuccess/OnFailure never ran within 5s after Close: observed
			// against the minimal server in some runs (not root-caused); an output that acks
			// per batch cannot work with that.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = estest.Wait(ctx, func() bool { return done.Load() == int64(b.N) })
			if missing := int64(b.N) - done.Load(); missing != 0 {
				b.Logf("%d of %d items never reported", missing, b.N)
			}
			b.ReportMetric(float64(int64(b.N)-done.Load()), "unreported")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
		})
	}
}
