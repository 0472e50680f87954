package elasticsearch

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/logpipe/logpipe/e2e/estest"
	"github.com/logpipe/logpipe/pipeline"
)

func startES(t testing.TB, o estest.Options) *estest.Server {
	t.Helper()
	s := estest.New(o)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

type testOut struct {
	*Output
	dir string
}

// newOut builds an output against hosts with fast retries; mod adjusts the config.
func newOut(t testing.TB, hosts []string, mod func(c *Config)) *testOut {
	t.Helper()
	return newOutLog(t, hosts, mod, nil)
}

// newOutLog is newOut with the output's log sent to log (nil: the test's log).
func newOutLog(t testing.TB, hosts []string, mod func(c *Config), log *zap.Logger) *testOut {
	t.Helper()
	return newOutReg(t, hosts, mod, log, nil)
}

// newOutReg is newOutLog with the stage's metrics registered in reg (nil: none), labelled
// with the stage id as the pipeline does.
func newOutReg(t testing.TB, hosts []string, mod func(c *Config), log *zap.Logger, reg prometheus.Registerer) *testOut {
	t.Helper()
	c := NewConfig()
	c.Hosts = hosts
	c.Index = "filebeat_test-%{+YYYY.MM.dd}"
	c.FlushInterval = "20ms"
	c.Retry = &RetryConfig{InitialBackoff: "5ms", MaxBackoff: "50ms"}
	f := false
	c.ManageTemplate = &f
	if mod != nil {
		mod(c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	st := pipeline.Stage{Kind: "output", Type: "elasticsearch", Name: "main", DataDir: dir}
	if tb, ok := t.(*testing.T); ok {
		st.Log = zaptest.NewLogger(tb)
	}
	if log != nil {
		st.Log = log
	}
	if reg != nil {
		st.Metrics = prometheus.WrapRegistererWith(prometheus.Labels{"stage": st.ID()}, reg)
	}
	o, err := newOutput(c, st, templateAsset)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = o.Close(ctx)
		}
	})
	return &testOut{Output: o, dir: dir}
}

var day1 = time.Date(2026, 11, 20, 23, 59, 59, 0, time.UTC)

// docBatch makes n document events of partition p starting at offset off; event i has id
// "id-<p>-<offset>" unless noID, and @timestamp day1 + i seconds. The documents live in one
// pooled buffer that the batch recycles, as the kafka input's do: in race builds it is
// poisoned when it goes back to the pool (at the batch's acknowledgement), so a request, a
// retry or a dead-letter entry that read a document after its batch was acknowledged would
// fail the test.
func docBatch(p int32, off int64, n int, noID bool, acked *atomic.Int64) *pipeline.Batch {
	evs := make([]pipeline.Event, n)
	pool := &pipeline.Buffers{}
	buf := pool.Get(n * 128)
	for i := range evs {
		o := off + int64(i)
		ts := day1.Add(time.Duration(o) * time.Second)
		e := pipeline.Event{Timestamp: ts, Topic: "kafka_test", Partition: p, Offset: o}
		if !noID {
			e.ID = fmt.Sprintf("id-%d-%d", p, o)
		}
		start := len(buf)
		buf = fmt.Appendf(buf, `{"@timestamp":%q,"message":"line %d of partition %d","n":%d}`, ts.Format("2006-01-02T15:04:05.000Z"), o, p, o)
		e.Doc = buf[start:len(buf):len(buf)]
		evs[i] = e
	}
	b := pipeline.NewBatch(fmt.Sprintf("kafka_test/%d", p), evs, func() {
		if acked != nil {
			acked.Add(1)
		}
	})
	b.Recycle(pool, buf)
	return b
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := estest.Wait(ctx, cond); err != nil {
		t.Fatalf("timed out waiting for %s", what)
	}
}

func write(t testing.TB, o *testOut, bs ...*pipeline.Batch) {
	t.Helper()
	for _, b := range bs {
		if err := o.Write(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCreateWithIDsDailyIndices(t *testing.T) {
	es := startES(t, estest.Options{})
	o := newOut(t, []string{es.URL()}, func(c *Config) { c.BatchEvents = 100 })
	var acked atomic.Int64
	write(t, o, docBatch(0, 0, 250, false, &acked), docBatch(1, 0, 250, false, &acked), docBatch(2, 0, 3, true, &acked))
	waitFor(t, "3 acks", func() bool { return acked.Load() == 3 })
	if got := es.Indices(); len(got) != 2 || got[0] != "filebeat_test-2026.11.20" || got[1] != "filebeat_test-2026.11.21" {
		t.Fatalf("indices %v", got)
	}
	if n := es.Count(""); n != 503 {
		t.Fatalf("%d documents, want 503", n)
	}
	// Offset 0 is 23:59:59 on day 1; every later one is on day 2.
	if d, ok := es.Doc("filebeat_test-2026.11.20", "id-1-0"); !ok || string(d) != `{"@timestamp":"2026-11-20T23:59:59.000Z","message":"line 0 of partition 1","n":0}` {
		t.Errorf("id-1-0: %s", d)
	}
	if _, ok := es.Doc("filebeat_test-2026.11.21", "id-0-249"); !ok {
		t.Errorf("id-0-249 missing")
	}
	// The events of partition 2 carry no id: stored under ids Elasticsearch generates
	// (offset 0 of each partition is on day 1).
	if n := es.Count("filebeat_test-2026.11.20"); n != 3 {
		t.Errorf("%d documents on day 1, want 3", n)
	}
	if s := o.Stats(); s.Indexed != 503 || s.Duplicates != 0 || s.DeadLettered != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestConflictCountsAsSuccess(t *testing.T) {
	es := startES(t, estest.Options{})
	o := newOut(t, []string{es.URL()}, nil)
	var acked atomic.Int64
	write(t, o, docBatch(0, 0, 50, false, &acked))
	waitFor(t, "first ack", func() bool { return acked.Load() == 1 })
	write(t, o, docBatch(0, 0, 50, false, &acked), docBatch(0, 50, 10, false, &acked))
	waitFor(t, "acks of the redelivery", func() bool { return acked.Load() == 3 })
	if n := es.Count(""); n != 60 {
		t.Errorf("%d documents, want 60", n)
	}
	if s := o.Stats(); s.Duplicates != 50 || s.Indexed != 60 {
		t.Errorf("stats %+v", s)
	}
	if s := es.Stats(); s.Conflicts != 50 {
		t.Errorf("server saw %d conflicts", s.Conflicts)
	}
}

func TestRejectedItemsRetried(t *testing.T) {
	es := startES(t, estest.Options{Seed: 7})
	es.RejectItems(0.1)
	o := newOut(t, []string{es.URL()}, func(c *Config) { c.BatchEvents = 200 })
	var acked atomic.Int64
	for p := int32(0); p < 4; p++ {
		write(t, o, docBatch(p, 0, 500, false, &acked))
	}
	waitFor(t, "4 acks", func() bool { return acked.Load() == 4 })
	if n := es.Count(""); n != 2000 {
		t.Errorf("%d documents, want 2000", n)
	}
	s := o.Stats()
	if s.Retried < 100 || s.Retried != int64(es.Stats().Rejected) || s.Indexed != 2000 || s.DeadLettered != 0 {
		t.Errorf("stats %+v, server rejected %d", s, es.Stats().Rejected)
	}
}

func TestWholeRequestFailuresRetried(t *testing.T) {
	for _, status := range []int{503, 429} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			es := startES(t, estest.Options{})
			es.FailRequests(status, 3)
			o := newOut(t, []string{es.URL()}, nil)
			var acked atomic.Int64
			write(t, o, docBatch(0, 0, 20, false, &acked))
			waitFor(t, "ack", func() bool { return acked.Load() == 1 })
			if es.Count("") != 20 || es.Stats().FailedRequests != 3 || o.Stats().Failures != 3 {
				t.Errorf("count %d, server %+v, output %+v", es.Count(""), es.Stats(), o.Stats())
			}
		})
	}
}

func TestServerDownThenUp(t *testing.T) {
	es := startES(t, estest.Options{})
	o := newOut(t, []string{es.URL()}, nil)
	var acked atomic.Int64
	write(t, o, docBatch(0, 0, 10, false, &acked))
	waitFor(t, "first ack", func() bool { return acked.Load() == 1 })
	if err := es.SetDown(true); err != nil {
		t.Fatal(err)
	}
	write(t, o, docBatch(0, 10, 10, false, &acked))
	waitFor(t, "failed attempts", func() bool { return o.Stats().Failures >= 3 })
	if acked.Load() != 1 {
		t.Fatal("batch acknowledged while the server was down")
	}
	if err := es.SetDown(false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ack after recovery", func() bool { return acked.Load() == 2 })
	if es.Count("") != 20 {
		t.Errorf("%d documents", es.Count(""))
	}
}

func TestHangUpRetried(t *testing.T) {
	es := startES(t, estest.Options{})
	es.SetHangUp(true)
	o := newOut(t, []string{es.URL()}, nil)
	var acked atomic.Int64
	write(t, o, docBatch(0, 0, 10, false, &acked))
	waitFor(t, "hang-ups", func() bool { return es.Stats().HungUp >= 2 })
	es.SetHangUp(false)
	waitFor(t, "ack", func() bool { return acked.Load() == 1 })
	if es.Count("") != 10 {
		t.Errorf("%d documents", es.Count(""))
	}
}

type dlqEntry struct {
	Timestamp string `json:"@timestamp"`
	Stage     string `json:"stage"`
	Index     string `json:"index"`
	ID        string `json:"id"`
	Status    int    `json:"status"`
	Error     struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
	Attempts int             `json:"attempts"`
	Document json.RawMessage `json:"document"`
}

func readDLQ(t *testing.T, path string) []dlqEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []dlqEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e dlqEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("dead-letter line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

func TestMappingConflictDeadLettered(t *testing.T) {
	es := startES(t, estest.Options{})
	es.MapField("http.response.status_code", "long")
	o := newOut(t, []string{es.URL()}, nil)
	var acked atomic.Int64
	evs := []pipeline.Event{
		{ID: "good", Timestamp: day1, Doc: []byte(`{"http":{"response":{"status_code":200}}}`)},
		{ID: "bad", Timestamp: day1, Doc: []byte(`{"http":{"response":{"status_code":"-"}}}`)},
		{ID: "good2", Timestamp: day1, Doc: []byte(`{"http":{"response":{"status_code":"404"}}}`)},
	}
	write(t, o, pipeline.NewBatch("t/0", evs, func() { acked.Add(1) }))
	waitFor(t, "ack", func() bool { return acked.Load() == 1 })
	if es.Count("") != 2 {
		t.Errorf("%d documents, want 2", es.Count(""))
	}
	entries := readDLQ(t, filepath.Join(o.dir, "output.elasticsearch.main", DeadLetterFile))
	if len(entries) != 1 {
		t.Fatalf("%d dead-letter entries", len(entries))
	}
	e := entries[0]
	if e.ID != "bad" || e.Index != "filebeat_test-2026.11.20" || e.Status != 400 || e.Error.Type != "document_parsing_exception" ||
		!strings.Contains(e.Error.Reason, "http.response.status_code") || string(e.Document) != `{"http":{"response":{"status_code":"-"}}}` ||
		e.Stage != "output.elasticsearch.main" || e.Attempts != 1 || e.Timestamp == "" {
		t.Errorf("entry %+v", e)
	}
	if s := o.Stats(); s.DeadLettered != 1 || s.Indexed != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestTooLargeDocumentDeadLettered(t *testing.T) {
	es := startES(t, estest.Options{})
	es.SetMaxContentLength(4000)
	o := newOut(t, []string{es.URL()}, nil)
	var acked atomic.Int64
	evs := []pipeline.Event{}
	for i := 0; i < 20; i++ {
		msg := "small"
		if i == 13 {
			msg = strings.Repeat("x", 5000)
		}
		evs = append(evs, pipeline.Event{ID: fmt.Sprint("d", i), Timestamp: day1, Doc: fmt.Appendf(nil, `{"message":%q}`, msg)})
	}
	write(t, o, pipeline.NewBatch("t/0", evs, func() { acked.Add(1) }))
	waitFor(t, "ack", func() bool { return acked.Load() == 1 })
	if es.Count("") != 19 {
		t.Errorf("%d documents, want 19", es.Count(""))
	}
	entries := readDLQ(t, filepath.Join(o.dir, "output.elasticsearch.main", DeadLetterFile))
	if len(entries) != 1 || entries[0].ID != "d13" || entries[0].Status != 413 {
		t.Errorf("entries %+v", entries)
	}
	if n := pooledBatchRefs(t, o); n != 0 {
		t.Errorf("the idle requests still reference %d documents of acknowledged batches", n)
	}
}

// pooledBatchRefs waits until every request is back in the pool and counts the documents
// their buffers still reference (up to capacity): an idle request must not keep the events
// of acknowledged batches alive.
func pooledBatchRefs(t *testing.T, o *testOut) int {
	t.Helper()
	waitFor(t, "idle requests", func() bool { return len(o.free) == cap(o.free) })
	n := 0
	for range cap(o.free) {
		r := <-o.free
		for _, d := range r.docs[:cap(r.docs)] {
			if d.ack != nil {
				n++
			}
		}
		defer func() { o.free <- r }()
	}
	return n
}

func TestMaxAttemptsDeadLetters(t *testing.T) {
	es := startES(t, estest.Options{})
	es.RejectItems(1)
	o := newOut(t, []string{es.URL()}, func(c *Config) { c.Retry.MaxAttempts = 3 })
	var acked atomic.Int64
	write(t, o, docBatch(0, 0, 5, false, &acked))
	waitFor(t, "ack", func() bool { return acked.Load() == 1 })
	entries := readDLQ(t, filepath.Join(o.dir, "output.elasticsearch.main", DeadLetterFile))
	if len(entries) != 5 || entries[0].Error.Type != "max_attempts_exceeded" || entries[0].Attempts != 3 ||
		!strings.Contains(entries[0].Error.Reason, "es_rejected_execution_exception") {
		t.Errorf("entries %+v", entries)
	}
	if es.Stats().BulkRequests != 3 {
		t.Errorf("%d requests, want 3", es.Stats().BulkRequests)
	}
}

// refusedAddr returns a loopback address nothing listens on.
func refusedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestSeveralHostsOneDead(t *testing.T) {
	a := startES(t, estest.Options{})
	b := startES(t, estest.Options{})
	hosts := []string{"http://" + refusedAddr(t), a.URL(), b.URL()}
	o := newOut(t, hosts, func(c *Config) { c.BatchEvents = 10 })
	var acked atomic.Int64
	for i := 0; i < 10; i++ {
		write(t, o, docBatch(0, int64(i*10), 10, false, &acked))
	}
	waitFor(t, "10 acks", func() bool { return acked.Load() == 10 })
	if n := a.Count("") + b.Count(""); n != 100 {
		t.Errorf("%d documents", n)
	}
	if a.Count("") == 0 || b.Count("") == 0 {
		t.Errorf("no round-robin: %d and %d", a.Count(""), b.Count(""))
	}
	// The dead host costs at most a few failed attempts: it is set aside after the first.
	if f := o.Stats().Failures; f > 2 {
		t.Errorf("%d failed requests", f)
	}
}

func TestAuthAndTemplate(t *testing.T) {
	es := startES(t, estest.Options{Username: "elastic", Password: "secret"})
	o := newOut(t, []string{es.URL()}, func(c *Config) {
		c.Username, c.Password = "elastic", "secret"
		c.ManageTemplate = nil
	})
	if err := o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	name, _ := templateAsset()
	if _, ok := es.Template(name); !ok {
		t.Fatalf("template %s not installed", name)
	}
	var acked atomic.Int64
	write(t, o, docBatch(0, 0, 3, false, &acked))
	waitFor(t, "ack", func() bool { return acked.Load() == 1 })

	bad := newOut(t, []string{es.URL()}, func(c *Config) { c.Username, c.Password = "elastic", "wrong" })
	write(t, bad, docBatch(0, 3, 3, false, &acked))
	waitFor(t, "401 failures", func() bool { return bad.Stats().Failures >= 2 })
	if acked.Load() != 1 {
		t.Error("a batch was acknowledged with wrong credentials")
	}
}

func TestTemplateSkippedForOtherIndex(t *testing.T) {
	es := startES(t, estest.Options{})
	o := newOut(t, []string{es.URL()}, func(c *Config) { c.ManageTemplate = nil; c.Index = "other-%{+YYYY}" })
	if err := o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	name, _ := templateAsset()
	if _, ok := es.Template(name); ok {
		t.Error("template installed for a non-matching index")
	}
}

func TestBackpressure(t *testing.T) {
	es := startES(t, estest.Options{})
	if err := es.SetDown(true); err != nil {
		t.Fatal(err)
	}
	o := newOut(t, []string{es.URL()}, func(c *Config) { c.Workers = 1; c.BatchEvents = 10 })
	// One request in flight, one pending in the batcher: the third or fourth Write blocks.
	blocked := false
	for i := 0; i < 6 && !blocked; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		err := o.Write(ctx, docBatch(0, int64(i*10), 10, false, nil))
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			blocked = true
			if i < 2 {
				t.Errorf("Write blocked after %d batches", i)
			}
		}
	}
	if !blocked {
		t.Fatal("Write never blocked while the server was down")
	}
}

func TestCloseFlushes(t *testing.T) {
	es := startES(t, estest.Options{})
	o := newOut(t, []string{es.URL()}, func(c *Config) { c.FlushInterval = "1h" })
	var acked atomic.Int64
	write(t, o, docBatch(0, 0, 5, false, &acked))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if acked.Load() != 1 || es.Count("") != 5 {
		t.Errorf("acked %d, %d documents", acked.Load(), es.Count(""))
	}
}

func TestCloseGivesUpAtDeadline(t *testing.T) {
	es := startES(t, estest.Options{})
	_ = es.SetDown(true)
	o := newOut(t, []string{es.URL()}, nil)
	var acked atomic.Int64
	write(t, o, docBatch(0, 0, 5, false, &acked))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := o.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close: %v", err)
	}
	if acked.Load() != 0 {
		t.Error("acknowledged without being stored")
	}
}

// A request that Close abandons at its deadline is not dead-lettered, even when that
// attempt was the last one max_attempts allows: its batch stays unacknowledged and is
// delivered again after a restart.
func TestCloseAbandonsWithoutDeadLettering(t *testing.T) {
	es := startES(t, estest.Options{})
	es.SetLatency(time.Minute)
	o := newOut(t, []string{es.URL()}, func(c *Config) { c.Retry.MaxAttempts = 1 })
	var acked atomic.Int64
	write(t, o, docBatch(0, 0, 5, false, &acked))
	waitFor(t, "the request in flight", func() bool { return es.Stats().Requests == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := o.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close: %v", err)
	}
	if acked.Load() != 0 {
		t.Error("acknowledged without being stored")
	}
	if entries := readDLQ(t, filepath.Join(o.dir, "output.elasticsearch.main", DeadLetterFile)); len(entries) != 0 {
		t.Errorf("%d abandoned documents dead-lettered, first: %s %s", len(entries), entries[0].Error.Type, entries[0].Error.Reason)
	}
}

// A line event's quotes and line break are escaped: its document stays one NDJSON line.
func TestLineEventsEscaped(t *testing.T) {
	es := startES(t, estest.Options{})
	o := newOut(t, []string{es.URL()}, func(c *Config) { c.Index = "lines" })
	var acked atomic.Int64
	fo := &pipeline.FileOrigin{Path: "/var/log/a"}
	evs := []pipeline.Event{{Timestamp: day1, Message: []byte("GET / \"x\"\n"), File: fo, Offset: 42, Partition: -1, ID: "abc-42"}}
	write(t, o, pipeline.NewBatch("/var/log/a", evs, func() { acked.Add(1) }))
	waitFor(t, "ack", func() bool { return acked.Load() == 1 })
	d, ok := es.Doc("lines", "abc-42")
	want := `{"@timestamp":"2026-11-20T23:59:59.000Z","message":"GET / \"x\"\n","log":{"offset":42,`
	if !ok || !strings.HasPrefix(string(d), want) {
		t.Errorf("doc %s %v, want it to start with %s", d, ok, want)
	}
}

func TestConfigValidate(t *testing.T) {
	c := NewConfig()
	c.Hosts = []string{"es1:9200"}
	c.Index = "Logs-%{+YYYY}"
	c.Workers = 0
	c.BatchBytes = "1"
	c.DeadLetter = &DeadLetterConfig{KafkaTopic: "dlq"}
	err := c.Validate()
	for _, attr := range []string{"hosts", "index", "workers", "batch_bytes", "brokers"} {
		var ae *pipeline.AttrError
		found := false
		for _, e := range unwrapAll(err) {
			if errors.As(e, &ae) && ae.Attr == attr {
				found = true
			}
		}
		if !found {
			t.Errorf("no error for %s in %v", attr, err)
		}
	}
	c = NewConfig()
	c.Hosts = []string{"http://127.0.0.1:9200"}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if c.batchBytes != DefaultBatchBytes || c.flushInterval != time.Second || !c.manageTemplate() {
		t.Errorf("defaults: %+v", c)
	}
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Start re-installs logpipe's template at every start without dropping the ingest pipeline
// settings an operator added to the installed one (as logpipe setup keeps them).
func TestTemplateKeepsOperatorPipeline(t *testing.T) {
	es := startES(t, estest.Options{})
	name, _ := templateAsset()
	req, err := http.NewRequest(http.MethodPut, es.URL()+"/_index_template/"+name, strings.NewReader(
		`{"index_patterns":["filebeat_test-*"],"template":{"settings":{"index":{"default_pipeline":"geo-enrich"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("PUT template: %d", res.StatusCode)
	}
	o := newOut(t, []string{es.URL()}, func(c *Config) { c.ManageTemplate = nil })
	if err := o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, ok := es.Template(name)
	if !ok || !strings.Contains(string(got), `"default_pipeline":"geo-enrich"`) || !strings.Contains(string(got), `"mappings"`) {
		t.Errorf("installed template does not keep the operator's default_pipeline or lacks logpipe's mappings: %.400s", got)
	}
}

// A connection closed while the output is still sending a request body larger than the
// socket buffers (so the body's writev stops part-way) is retried with the whole body: every
// document arrives once the server answers again. At the default flush interval and backoff.
func TestHangUpMidBodyRetried(t *testing.T) {
	es := startES(t, estest.Options{})
	es.SetHangUp(true)
	o := newOut(t, []string{es.URL()}, func(c *Config) {
		c.Retry, c.FlushInterval, c.BatchEvents = nil, DefaultFlushInterval.String(), 40000
	})
	var acked atomic.Int64
	write(t, o, docBatch(0, 0, 40000, false, &acked)) // about 5 MB: one request
	waitFor(t, "hang-ups", func() bool { return es.Stats().HungUp >= 2 })
	es.SetHangUp(false)
	waitFor(t, "ack", func() bool { return acked.Load() == 1 })
	if n := es.Count(""); n != 40000 {
		t.Errorf("%d documents, want 40000", n)
	}
}
