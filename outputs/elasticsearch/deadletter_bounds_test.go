package elasticsearch

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/logpipe/logpipe/e2e/estest"
	"github.com/logpipe/logpipe/pipeline"
)

// rejected is a batch of one document that the mapping of "n" as long rejects, about 10 KB.
func rejected(i int, acked *atomic.Int64) *pipeline.Batch {
	ev := pipeline.Event{ID: fmt.Sprint("bad-", i), Timestamp: day1, Topic: "kafka_test", Partition: 2, Offset: int64(1000 + i),
		Doc: fmt.Appendf(nil, `{"n":"not a number","i":%d,"pad":%q}`, i, strings.Repeat("p", 10000))}
	return pipeline.NewBatch("kafka_test/2", []pipeline.Event{ev}, func() { acked.Add(1) })
}

// The file dead-letter queue rotates at max_bytes / max_files and never exceeds max_bytes:
// when it is full, the rejected document waits (its batch is not acknowledged, so its
// partition does not move) with one error line and the full gauge at 1, after a warning
// when it filled past 80%; once an operator moved a rotated file away, it is written and
// acknowledged, and the recovery is logged. Nothing is dropped.
func TestDeadLetterFileCapRotationAndFull(t *testing.T) {
	es := startES(t, estest.Options{})
	es.MapField("n", "long")
	log, logs := observed(t)
	reg := prometheus.NewRegistry()
	to := newOutReg(t, []string{es.URL()}, func(c *Config) {
		c.DeadLetter = &DeadLetterConfig{MaxBytes: "128KiB", MaxFiles: 2} // 64 KiB per file: 6 entries
	}, log, reg)
	dir := to.dir
	gaugeValues := func() map[string]float64 { return counterValues(t, reg, "output.elasticsearch.main") }
	path := filepath.Join(dir, "output.elasticsearch.main", DeadLetterFile)
	var acked atomic.Int64
	for i := 0; i < 12; i++ {
		write(t, to, rejected(i, &acked))
		waitFor(t, fmt.Sprint("ack ", i), func() bool { return acked.Load() == int64(i+1) })
	}
	rotated, _ := filepath.Glob(path + ".*")
	if len(rotated) != 1 {
		t.Fatalf("rotated files %v, want 1", rotated)
	}
	entries := append(readDLQ(t, rotated[0]), readDLQ(t, path)...)
	if len(entries) != 12 {
		t.Fatalf("%d entries in the two files", len(entries))
	}
	if n := countLogs(logs, zapcore.WarnLevel, "the dead-letter queue is filling up"); n != 1 {
		t.Errorf("%d fill warnings, want 1", n)
	}
	g := gaugeValues()
	if g["logpipe_elasticsearch_dead_letter_max_bytes"] != 128<<10 || g["logpipe_elasticsearch_dead_letter_full"] != 0 ||
		g["logpipe_elasticsearch_dead_letter_bytes"] < 100<<10 || g["logpipe_elasticsearch_dead_letter_bytes"] > 128<<10 {
		t.Errorf("gauges %v", g)
	}

	// Full: the 13th waits.
	write(t, to, rejected(12, &acked))
	waitFor(t, "the full queue logged", func() bool {
		return countLogs(logs, zapcore.ErrorLevel, "the dead-letter queue does not take entries") == 1
	})
	waitFor(t, "the full gauge", func() bool { return gaugeValues()["logpipe_elasticsearch_dead_letter_full"] == 1 })
	for _, e := range logs.FilterMessageSnippet("does not take entries").All() {
		if !strings.Contains(fmt.Sprint(e.ContextMap()["error"]), "dead-letter queue is full") ||
			!strings.Contains(fmt.Sprint(e.ContextMap()["fix"]), "move or delete") {
			t.Errorf("the full line does not say what to do: %v", e.ContextMap())
		}
	}
	failedBefore := es.Stats().Items
	waitFor(t, "retries of the full queue", func() bool {
		return countLogs(logs, zapcore.DebugLevel, "the dead-letter queue still does not take entries") >= 5
	})
	if acked.Load() != 12 {
		t.Fatalf("the batch was acknowledged although the dead-letter queue is full")
	}
	if es.Stats().Items != failedBefore {
		t.Errorf("the document was sent again while waiting for the dead-letter queue")
	}
	var size int64
	for _, f := range append(rotated, path) {
		fi, _ := os.Stat(f)
		size += fi.Size()
	}
	if size > 128<<10 {
		t.Errorf("the files hold %d bytes, above max_bytes", size)
	}

	// The operator moves the rotated file away: the entry is written, the batch acknowledged.
	if err := os.Rename(rotated[0], filepath.Join(dir, "read.ndjson")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the 13th ack", func() bool { return acked.Load() == 13 })
	waitFor(t, "the recovery line", func() bool {
		return countLogs(logs, zapcore.InfoLevel, "the dead-letter queue takes entries again") == 1
	})
	if gaugeValues()["logpipe_elasticsearch_dead_letter_full"] != 0 {
		t.Error("full gauge still 1")
	}
	rotated, _ = filepath.Glob(path + ".*")
	all := readDLQ(t, filepath.Join(dir, "read.ndjson"))
	for _, f := range append(rotated, path) {
		all = append(all, readDLQ(t, f)...)
	}
	seen := map[string]bool{}
	for _, e := range all {
		seen[e.ID] = true
	}
	for i := 0; i < 13; i++ {
		if !seen[fmt.Sprint("bad-", i)] {
			t.Errorf("bad-%d is in no dead-letter file", i)
		}
	}
	if len(all) != 13 {
		t.Errorf("%d entries, want 13", len(all))
	}
}

// An existing dead-letter file counts toward the cap after a restart.
func TestDeadLetterFileCapCountsExistingFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dlq.ndjson")
	if err := os.WriteFile(path+".20260101T000000.000000000Z", make([]byte, 100<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	q, err := newFileDLQ(path, 128<<10, 2, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer q.close()
	if q.bytes.Load() != 100<<10 {
		t.Errorf("bytes %d", q.bytes.Load())
	}
	err = q.write(context.Background(), []byte(strings.Repeat("x", 40<<10)+"\n"))
	if err == nil || !strings.Contains(err.Error(), "full") {
		t.Fatalf("write into a full queue: %v", err)
	}
	if fi, _ := os.Stat(path); fi.Size() != 0 {
		t.Errorf("a refused write stored %d bytes", fi.Size())
	}
	if err := q.write(context.Background(), []byte(strings.Repeat("x", 20<<10)+"\n")); err != nil {
		t.Fatalf("a write that fits: %v", err)
	}
}

// dlqTopic starts a kfake cluster with the topic "dlq", created with the given topic configs.
func dlqTopic(t *testing.T, configs map[string]*string) *kfake.Cluster {
	t.Helper()
	kc, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "dlq", 1, 1
	for k, v := range configs {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, v
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	res, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(res.Topics[0].ErrorCode); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	return kc
}

// dlqRecords reads n records of the topic "dlq".
func dlqRecords(t *testing.T, kc *kfake.Cluster, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...), kgo.ConsumeTopics("dlq"), kgo.FetchMaxBytes(64<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatal(err)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

// checkCut checks a cut Kafka dead-letter entry of the document doc.
func checkCut(t *testing.T, rec *kgo.Record, id string, doc []byte, limit int) {
	t.Helper()
	if len(rec.Value) > limit {
		t.Errorf("entry of %d bytes, above %d", len(rec.Value), limit)
	}
	var e dlqEntryFull
	if err := json.Unmarshal(rec.Value, &e); err != nil {
		t.Fatalf("entry is not JSON: %v", err)
	}
	var kept string
	if err := json.Unmarshal(e.Document, &kept); err != nil {
		t.Fatalf("the cut document is not a JSON string: %v", err)
	}
	if e.ID != id || !e.Truncated || e.DocumentBytes != int64(len(doc)) || e.Status != 400 ||
		e.Error.Type != "document_parsing_exception" || !strings.Contains(e.Error.Reason, "failed to parse field [n]") ||
		e.Origin.Topic != "kafka_test" || e.Origin.Partition != 2 || e.Origin.Offset != 77 {
		t.Errorf("entry %+v", e)
	}
	if !strings.HasPrefix(string(doc), kept) || len(kept) < limit/2 {
		t.Errorf("kept %d bytes of the document, not its start or too little", len(kept))
	}
}

// A dead-letter entry that would exceed the topic's limit is cut (reason, origin, _id and
// as much of the document as fits, flagged), instead of being retried forever: with
// Kafka's default topic limit and a document of 1.2 MB.
func TestDeadLetterKafkaOversizeCut(t *testing.T) {
	kc := dlqTopic(t, nil)
	es := startES(t, estest.Options{})
	es.MapField("n", "long")
	o := newOut(t, []string{es.URL()}, func(c *Config) {
		c.DeadLetter = &DeadLetterConfig{KafkaTopic: "dlq", Brokers: kc.ListenAddrs()}
	})
	doc := fmt.Appendf(nil, `{"n":"x","pad":%q}`, strings.Repeat("é", 600_000))
	var acked atomic.Int64
	write(t, o, pipeline.NewBatch("kafka_test/2", []pipeline.Event{
		{ID: "big", Timestamp: day1, Topic: "kafka_test", Partition: 2, Offset: 77, Doc: doc}}, func() { acked.Add(1) }))
	waitFor(t, "ack", func() bool { return acked.Load() == 1 })
	recs := dlqRecords(t, kc, 1)
	checkCut(t, recs[0], "big", doc, DefaultDeadLetterMaxMessageBytes)
	if s := o.Stats(); s.Truncated != 1 || s.DeadLettered != 1 {
		t.Errorf("stats %+v", s)
	}
}

// A topic that allows less than max_message_bytes answers MESSAGE_TOO_LARGE: the limit is
// lowered and the entry cut to fit.
func TestDeadLetterKafkaLearnsSmallerTopicLimit(t *testing.T) {
	limit := "40000"
	kc := dlqTopic(t, map[string]*string{"max.message.bytes": &limit})
	es := startES(t, estest.Options{})
	es.MapField("n", "long")
	o := newOut(t, []string{es.URL()}, func(c *Config) {
		c.DeadLetter = &DeadLetterConfig{KafkaTopic: "dlq", Brokers: kc.ListenAddrs()}
	})
	doc := fmt.Appendf(nil, `{"n":"x","pad":%q}`, strings.Repeat("a", 100_000))
	var acked atomic.Int64
	write(t, o, pipeline.NewBatch("kafka_test/2", []pipeline.Event{
		{ID: "mid", Timestamp: day1, Topic: "kafka_test", Partition: 2, Offset: 77, Doc: doc}}, func() { acked.Add(1) }))
	waitFor(t, "ack", func() bool { return acked.Load() == 1 })
	checkCut(t, dlqRecords(t, kc, 1)[0], "mid", doc, 40000)
	if n := len(dlqRecords(t, kc, 1)[0].Value); n < 36000 {
		t.Errorf("entry of %d bytes: the topic's limit (40000) was not learnt", n)
	}
}

func TestDeadLetterBoundsValidate(t *testing.T) {
	for _, c := range []struct {
		d    DeadLetterConfig
		want string
	}{
		{DeadLetterConfig{MaxBytes: "1KiB"}, "dead_letter.max_bytes"},
		{DeadLetterConfig{MaxBytes: "lots"}, "dead_letter.max_bytes"},
		{DeadLetterConfig{MaxFiles: 1}, "dead_letter.max_files"},
		{DeadLetterConfig{KafkaTopic: "d", Brokers: []string{"k:9092"}, MaxBytes: "1GiB"}, "dead_letter.max_bytes"},
		{DeadLetterConfig{MaxMessageBytes: "1MiB"}, "dead_letter.max_message_bytes"},
		{DeadLetterConfig{KafkaTopic: "d", Brokers: []string{"k:9092"}, MaxMessageBytes: "1KiB"}, "dead_letter.max_message_bytes"},
		{DeadLetterConfig{MaxBytes: "10GiB", MaxFiles: 10}, ""},
		{DeadLetterConfig{KafkaTopic: "d", Brokers: []string{"k:9092"}, MaxMessageBytes: "8MiB"}, ""},
	} {
		cfg := NewConfig()
		cfg.Hosts = []string{"http://127.0.0.1:9200"}
		d := c.d
		cfg.DeadLetter = &d
		err := cfg.Validate()
		if c.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", c.d, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error about %s", c.d, err, c.want)
		}
	}
	cfg := NewConfig()
	cfg.Hosts = []string{"http://127.0.0.1:9200"}
	if err := cfg.Validate(); err != nil || cfg.dlqMaxBytes != 1<<30 || cfg.dlqMaxFiles != 4 || cfg.dlqMaxMessage != 1<<20 {
		t.Errorf("defaults %d %d %d (%v)", cfg.dlqMaxBytes, cfg.dlqMaxFiles, cfg.dlqMaxMessage, err)
	}
}

// appendEntry cuts at a UTF-8 boundary and escapes: the result is valid JSON of at most
// the limit, whatever the document holds.
func TestAppendEntryCut(t *testing.T) {
	docs := [][]byte{
		[]byte(`{"m":"` + strings.Repeat("\u00e9\u20ac\U0001F600", 5000) + `"}`),
		[]byte(strings.Repeat("\x01\"\\", 9000)), // not an object: quoted, escapes grow it 2-6 times
		[]byte(`{"m":"short"}`),
	}
	for i, doc := range docs {
		for _, limit := range []int{2048, 5000, 1 << 20} {
			e := deadLetterEntry{now: day1, stage: "s", index: "i", id: "x", status: 400, typ: "t",
				reason: strings.Repeat("r", 6000), attempts: 1, topic: "tp", partition: 1, offset: 9, doc: doc}
			out, cut := appendEntry(nil, &e, limit)
			if len(out) > limit {
				t.Errorf("doc %d limit %d: %d bytes", i, limit, len(out))
			}
			var m map[string]any
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("doc %d limit %d: %v", i, limit, err)
			}
			if cut != (m["document_truncated"] == true) || m["origin"] == nil {
				t.Errorf("doc %d limit %d: cut %v, entry %.200s", i, limit, cut, out)
			}
		}
	}
}

// A rejected request whose entries are larger than the whole queue is written in chunks of
// at most one file: as an operator makes room, it goes through, each entry exactly once.
func TestDeadLetterFileLargerThanQueue(t *testing.T) {
	es := startES(t, estest.Options{})
	es.MapField("n", "long")
	o := newOut(t, []string{es.URL()}, func(c *Config) {
		c.DeadLetter = &DeadLetterConfig{MaxBytes: "128KiB", MaxFiles: 2}
		c.BatchEvents = 100
	})
	var acked atomic.Int64
	evs := make([]pipeline.Event, 20) // about 206 KB of entries
	for i := range evs {
		evs[i] = rejected(i, &acked).Events[0]
	}
	write(t, o, pipeline.NewBatch("kafka_test/2", evs, func() { acked.Add(1) }))
	path := filepath.Join(o.dir, "output.elasticsearch.main", DeadLetterFile)
	f := o.dlq.(*fileDLQ)
	moved := 0
	waitFor(t, "the ack, moving rotated files away whenever the queue is full", func() bool {
		if acked.Load() == 1 {
			return true
		}
		if f.full.Load() {
			rotated, _ := filepath.Glob(path + ".*")
			for _, r := range rotated {
				moved++
				if err := os.Rename(r, filepath.Join(o.dir, fmt.Sprint("read-", moved))); err != nil {
					t.Fatal(err)
				}
			}
		}
		return false
	})
	if moved == 0 {
		t.Fatal("the queue was never full: the test does not test anything")
	}
	all := readDLQ(t, path)
	rotated, _ := filepath.Glob(path + ".*")
	for _, r := range rotated {
		all = append(all, readDLQ(t, r)...)
	}
	for i := 1; i <= moved; i++ {
		all = append(all, readDLQ(t, filepath.Join(o.dir, fmt.Sprint("read-", i)))...)
	}
	seen := map[string]int{}
	for _, e := range all {
		seen[e.ID]++
	}
	for i := range evs {
		if seen[fmt.Sprint("bad-", i)] != 1 {
			t.Errorf("bad-%d is in %d entries, want 1", i, seen[fmt.Sprint("bad-", i)])
		}
	}
}

// When an ACL forbids reading the topic's configuration, the MESSAGE_TOO_LARGE answer
// teaches a lower limit (halving it until the entry fits), and the entry is cut.
func TestDeadLetterKafkaLimitFromTooLargeAnswer(t *testing.T) {
	limit := "40000"
	kc := dlqTopic(t, map[string]*string{"max.message.bytes": &limit})
	kc.ControlKey(int16(kmsg.DescribeConfigs), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		r := req.(*kmsg.DescribeConfigsRequest)
		resp := r.ResponseKind().(*kmsg.DescribeConfigsResponse)
		for _, rr := range r.Resources {
			res := kmsg.NewDescribeConfigsResponseResource()
			res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
			res.ErrorCode = kerr.TopicAuthorizationFailed.Code
			resp.Resources = append(resp.Resources, res)
		}
		return resp, nil, true
	})
	es := startES(t, estest.Options{})
	es.MapField("n", "long")
	log, logs := observed(t)
	o := newOutLog(t, []string{es.URL()}, func(c *Config) {
		c.DeadLetter = &DeadLetterConfig{KafkaTopic: "dlq", Brokers: kc.ListenAddrs()}
	}, log)
	doc := fmt.Appendf(nil, `{"n":"x","pad":%q}`, strings.Repeat("a", 100_000))
	var acked atomic.Int64
	write(t, o, pipeline.NewBatch("kafka_test/2", []pipeline.Event{
		{ID: "mid", Timestamp: day1, Topic: "kafka_test", Partition: 2, Offset: 77, Doc: doc}}, func() { acked.Add(1) }))
	waitFor(t, "ack", func() bool { return acked.Load() == 1 })
	checkCut(t, dlqRecords(t, kc, 1)[0], "mid", doc, 40000)
	if countLogs(logs, zapcore.WarnLevel, "the dead-letter topic refused an entry as too large") == 0 {
		t.Error("the lowered limit was not logged")
	}
}
