package elasticsearch

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logpipe/logpipe/codecs"
	"github.com/logpipe/logpipe/e2e/estest"
	"github.com/logpipe/logpipe/pipeline"
	"github.com/logpipe/logpipe/pipeline/transport"
)

// Rejected documents go to a Kafka topic when dead_letter names one.
func TestDeadLetterToKafka(t *testing.T) {
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "dlq"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	es := startES(t, estest.Options{})
	es.MapField("n", "long")
	o := newOut(t, []string{es.URL()}, func(c *Config) {
		c.DeadLetter = &DeadLetterConfig{KafkaTopic: "dlq", Brokers: kc.ListenAddrs()}
	})
	var acked atomic.Int64
	evs := []pipeline.Event{
		{ID: "a", Timestamp: day1, Doc: []byte(`{"n":1}`)},
		{ID: "b", Timestamp: day1, Doc: []byte(`{"n":"one"}`)},
	}
	write(t, o, pipeline.NewBatch("t/0", evs, func() { acked.Add(1) }))
	waitFor(t, "ack", func() bool { return acked.Load() == 1 })

	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...), kgo.ConsumeTopics("dlq"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fs := cl.PollFetches(ctx)
	if err := fs.Err(); err != nil {
		t.Fatal(err)
	}
	recs := fs.Records()
	if len(recs) != 1 {
		t.Fatalf("%d records in the dead-letter topic", len(recs))
	}
	var e dlqEntry
	if err := json.Unmarshal(recs[0].Value, &e); err != nil {
		t.Fatal(err)
	}
	if e.ID != "b" || e.Error.Type != "document_parsing_exception" || string(e.Document) != `{"n":"one"}` {
		t.Errorf("entry %+v", e)
	}
}

// Line events (a ship config with an elasticsearch output) are encoded in the wire format
// without @metadata, under the id derived from the file and offset.
func TestLineEventsWithJSONCodec(t *testing.T) {
	es := startES(t, estest.Options{})
	reg := pipeline.NewRegistry()
	codecs.Register(reg)
	c := NewConfig()
	c.Hosts = []string{es.URL()}
	c.FlushInterval = "10ms"
	f := false
	c.ManageTemplate = &f
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	st := pipeline.Stage{Kind: "output", Type: "elasticsearch", Name: "x", DataDir: t.TempDir(), Codecs: reg,
		Agent: pipeline.Agent{Hostname: "web1", ID: "id", EphemeralID: "eid", Version: "0.1.0"}}
	o, err := newOutput(c, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close(context.Background())
	fo := &pipeline.FileOrigin{Path: "/var/log/access_log", Fingerprint: "ff"}
	var acked atomic.Int64
	evs := []pipeline.Event{{Timestamp: day1, Message: []byte("GET /"), File: fo, Offset: 7, Partition: -1, ID: "pfx-7"}}
	if err := o.Write(context.Background(), pipeline.NewBatch(fo.Path, evs, func() { acked.Add(1) })); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ack", func() bool { return acked.Load() == 1 })
	d, ok := es.Doc("logpipe-2026.11.20", "pfx-7")
	if !ok {
		t.Fatalf("no document pfx-7 in logpipe-2026.11.20: %v", es.Indices())
	}
	var m map[string]any
	if err := json.Unmarshal(d, &m); err != nil {
		t.Fatal(err)
	}
	if _, has := m["@metadata"]; has || m["message"] != "GET /" || m["host"] == nil {
		t.Errorf("document %s", d)
	}
}

// https hosts with the server's CA in tls.ca_file.
func TestTLSHost(t *testing.T) {
	es := estest.New(estest.Options{})
	srv := httptest.NewTLSServer(es)
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	o := newOut(t, []string{srv.URL}, func(c *Config) { c.TLS = &transport.TLS{CAFile: ca} })
	var acked atomic.Int64
	write(t, o, docBatch(0, 0, 5, false, &acked))
	waitFor(t, "ack", func() bool { return acked.Load() == 1 })
	if es.Count("") != 5 {
		t.Errorf("%d documents", es.Count(""))
	}
}
