package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logpipe/logpipe/e2e/estest"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestIndexInProcessDocumentsIntact runs `logpipe index --once` in this process (so, under
// `make test`, with the race detector) from kfake into the Elasticsearch test server, with
// four filter workers and thousands of records, so that the pooled batch buffers are
// recycled and reused many times. Race builds overwrite a buffer as soon as it is returned
// to the pool (pipeline.Buffers): a stage that let a buffer go before the last output was
// done with its batch, or read events after acknowledging them, would store damaged or
// misplaced documents. Every document must arrive exactly once, with the content of its own
// record.
func TestIndexInProcessDocumentsIntact(t *testing.T) {
	const records = 6000
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "kafka_test"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	addr := cluster.ListenAddrs()[0]

	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: "kafka_test", Balancer: &kafka.RoundRobin{},
		RequiredAcks: kafka.RequireAll, BatchSize: 500, Compression: kafka.Lz4}
	msgs := make([]kafka.Message, records)
	for i := range msgs {
		line := fmt.Sprintf(`10.1.%d.%d - - [05/Dec/2026:08:00:00 +0000] "GET /item/%d HTTP/1.1" 200 %d "-" "curl/8.5.0"`, i/250, i%250, i, i)
		msg, _ := json.Marshal(line)
		msgs[i] = kafka.Message{Value: []byte(`{"@timestamp":"2026-12-05T08:00:01.000Z","@metadata":{"beat":"logpipe","type":"_doc","version":"0.1.0","_id":"rec-` +
			strconv.Itoa(i) + `"},"message":` + string(msg) + `,"host":{"name":"web1"}}`)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()

	es := estest.New(estest.Options{})
	if err := es.Start(); err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	dir := t.TempDir()
	cfg := writeFile(t, "index.hcl", fmt.Sprintf(`
data_dir = %q
workers  = 4
logging { level = "warn" }
input "kafka" "main" {
  brokers  = [%q]
  topics   = ["kafka_test"]
  group_id = "test123"
}
filter "apache" "access" {
  field = "message"
}
output "elasticsearch" "main" {
  hosts = [%q]
  index = "filebeat_test-%%{+YYYY.MM.dd}"
}
`, filepath.Join(dir, "data"), addr, es.URL()))
	var out, errOut syncBuffer
	if code := run([]string{"index", "--once", "-c", cfg}, &out, &errOut, nil); code != exitOK {
		t.Fatalf("logpipe index --once exited %d:\n%s", code, errOut.String())
	}

	docs := es.Documents()
	if len(docs) != records {
		t.Fatalf("%d documents stored, want %d", len(docs), records)
	}
	seen := make([]bool, records)
	for _, d := range docs {
		i, err := strconv.Atoi(strings.TrimPrefix(d.ID, "rec-"))
		if err != nil || i < 0 || i >= records || seen[i] {
			t.Fatalf("unexpected or repeated _id %q", d.ID)
		}
		seen[i] = true
		var src struct {
			URL struct {
				Original string `json:"original"`
			} `json:"url"`
			HTTP struct {
				Response struct {
					Body struct {
						Bytes int `json:"bytes"`
					} `json:"body"`
				} `json:"response"`
			} `json:"http"`
			Tags []string `json:"tags"`
		}
		if err := json.Unmarshal(d.Source, &src); err != nil {
			t.Fatalf("document %s is not JSON (%v): %.200s", d.ID, err, d.Source)
		}
		if src.URL.Original != "/item/"+strconv.Itoa(i) || src.HTTP.Response.Body.Bytes != i || len(src.Tags) != 0 {
			t.Fatalf("document %s holds another record's data or a parse failure: %.400s", d.ID, d.Source)
		}
	}
}
