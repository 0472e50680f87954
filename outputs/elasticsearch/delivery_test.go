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

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/logpipe/logpipe/e2e/estest"
	"github.com/logpipe/logpipe/pipeline"
)

// observed returns a logger that writes to the test's log and records every entry.
func observed(t *testing.T) (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.DebugLevel)
	return zap.New(zapcore.NewTee(zaptest.NewLogger(t).Core(), core)), logs
}

// countLogs counts the entries at lvl or above whose message contains part.
func countLogs(logs *observer.ObservedLogs, lvl zapcore.Level, part string) int {
	n := 0
	for _, e := range logs.All() {
		if e.Level >= lvl && strings.Contains(e.Message, part) {
			n++
		}
	}
	return n
}

// dlqLines is the number of entries in the stage's dead-letter file (0 when it is missing).
func dlqLines(t *testing.T, o *testOut) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(o.dir, "output.elasticsearch.main", DeadLetterFile))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// Items answered 403 security_exception (the role lacks the write privilege on the index)
// are retried, never dead-lettered: the batch stays unacknowledged (its partition does not
// move) until the privilege comes back, and everything is then stored. The refusal is logged
// once while it lasts (not once per retry), as an error that says what to fix, and its end
// is logged too.
func TestItemsDeniedRetriedNotDeadLettered(t *testing.T) {
	es := startES(t, estest.Options{Username: "logpipe", Password: "pw"})
	log, logs := observed(t)
	o := newOutLog(t, []string{es.URL()}, func(c *Config) { c.Username, c.Password = "logpipe", "pw" }, log)
	es.SetWritesDenied("filebeat_test-*", true)
	var acked atomic.Int64
	write(t, o, docBatch(0, 0, 20, false, &acked), docBatch(1, 0, 5, false, &acked))
	waitFor(t, "several refused attempts", func() bool { return es.Stats().Denied >= 25*6 })
	if acked.Load() != 0 || es.Count("") != 0 || dlqLines(t, o) != 0 || o.Stats().DeadLettered != 0 {
		t.Fatalf("while writes are denied: %d acks, %d stored, %d dead-lettered (file %d lines)",
			acked.Load(), es.Count(""), o.Stats().DeadLettered, dlqLines(t, o))
	}
	if n := countLogs(logs, zapcore.ErrorLevel, "elasticsearch refuses to store documents"); n != 1 {
		t.Errorf("%d error lines about the refusal after %d refused items, want 1", n, es.Stats().Denied)
	}
	var found bool
	for _, e := range logs.FilterMessageSnippet("elasticsearch refuses to store documents").All() {
		ctx := e.ContextMap()
		found = strings.Contains(fmt.Sprint(ctx["error"]), "is unauthorized for user [logpipe]") &&
			strings.Contains(fmt.Sprint(ctx["error"]), "security_exception") && strings.Contains(fmt.Sprint(ctx["fix"]), "privilege")
	}
	if !found {
		t.Errorf("the refusal line does not carry Elasticsearch's reason and the fix: %v", logs.FilterMessageSnippet("refuses").All())
	}
	es.SetWritesDenied("filebeat_test-*", false)
	waitFor(t, "2 acks", func() bool { return acked.Load() == 2 })
	if es.Count("") != 25 || dlqLines(t, o) != 0 {
		t.Fatalf("%d stored, %d dead-lettered", es.Count(""), dlqLines(t, o))
	}
	waitFor(t, "the recovery line", func() bool {
		return countLogs(logs, zapcore.InfoLevel, "elasticsearch stores documents again") == 1
	})
}

// A write block (index.blocks.write: 403 cluster_block_exception) holds the documents of
// that index back like missing privileges; documents of other indices go on.
func TestItemsOfBlockedIndexRetried(t *testing.T) {
	es := startES(t, estest.Options{})
	log, logs := observed(t)
	o := newOutLog(t, []string{es.URL()}, nil, log)
	var acked atomic.Int64
	write(t, o, docBatch(0, 0, 1, false, &acked)) // day1 23:59:59: creates the 2026.11.20 index
	waitFor(t, "the first ack", func() bool { return acked.Load() == 1 })
	es.SetIndexBlock("filebeat_test-2026.11.20", "write")
	write(t, o, docBatch(1, 0, 3, false, &acked)) // offset 0 in the blocked index, 1 and 2 the next day
	waitFor(t, "the documents of the other index", func() bool { return es.Count("filebeat_test-2026.11.21") == 2 })
	waitFor(t, "several blocked attempts", func() bool { return es.Stats().Blocked >= 5 })
	if acked.Load() != 1 || dlqLines(t, o) != 0 {
		t.Fatalf("with a write block: %d acks, %d dead-lettered", acked.Load(), dlqLines(t, o))
	}
	if n := countLogs(logs, zapcore.ErrorLevel, "elasticsearch refuses to store documents"); n != 1 {
		t.Errorf("%d error lines about the block, want 1", n)
	}
	es.SetIndexBlock("filebeat_test-2026.11.20", "")
	waitFor(t, "2 acks", func() bool { return acked.Load() == 2 })
	if es.Count("") != 4 || dlqLines(t, o) != 0 {
		t.Fatalf("%d stored, %d dead-lettered", es.Count(""), dlqLines(t, o))
	}
}

// A whole request answered 400 (here: one _id longer than the 512 bytes Elasticsearch
// allows fails the validation of the whole request) is split until the bad document is
// alone: only that one is dead-lettered, the others are stored.
func TestWholeRequest400SplitToTheBadDocument(t *testing.T) {
	es := startES(t, estest.Options{})
	o := newOut(t, []string{es.URL()}, func(c *Config) { c.BatchEvents = 100 })
	var acked atomic.Int64
	evs := make([]pipeline.Event, 37)
	for i := range evs {
		evs[i] = pipeline.Event{ID: fmt.Sprint("d", i), Timestamp: day1, Doc: fmt.Appendf(nil, `{"n":%d}`, i)}
	}
	evs[23].ID = strings.Repeat("x", 600)
	write(t, o, pipeline.NewBatch("t/0", evs, func() { acked.Add(1) }))
	waitFor(t, "ack", func() bool { return acked.Load() == 1 })
	if n := es.Count(""); n != 36 {
		t.Errorf("%d documents stored, want 36", n)
	}
	entries := readDLQ(t, filepath.Join(o.dir, "output.elasticsearch.main", DeadLetterFile))
	if len(entries) != 1 || entries[0].ID != evs[23].ID || entries[0].Status != 400 ||
		entries[0].Error.Type != "action_request_validation_exception" || !strings.Contains(entries[0].Error.Reason, "is too long") {
		t.Fatalf("dead-letter entries %+v", entries)
	}
	if s := o.Stats(); s.DeadLettered != 1 || s.Indexed != 36 {
		t.Errorf("stats %+v", s)
	}
	// One bad document among n costs at most 2*ceil(log2 n)+1 requests (here 13).
	t.Logf("%d _bulk requests for 37 documents with one bad", o.Stats().Requests)
	if r := o.Stats().Requests; r > 13 {
		t.Errorf("%d requests, want at most 13", r)
	}
}

// An outage of Elasticsearch is logged once when it starts, not once per retry, and its end
// is logged with its length. Production reminder interval (30 s): the outage here is shorter.
func TestOutageLoggedOnceAndRecovery(t *testing.T) {
	es := startES(t, estest.Options{})
	log, logs := observed(t)
	o := newOutLog(t, []string{es.URL()}, nil, log)
	if err := es.SetDown(true); err != nil {
		t.Fatal(err)
	}
	var acked atomic.Int64
	write(t, o, docBatch(0, 0, 10, false, &acked), docBatch(1, 0, 10, false, &acked))
	waitFor(t, "15 failed requests", func() bool { return o.Stats().Failures >= 15 })
	if n := countLogs(logs, zapcore.WarnLevel, ""); n != 1 {
		t.Errorf("%d warnings or errors for one outage after %d failed requests, want 1: %v", n, o.Stats().Failures, logs.All())
	}
	if n := countLogs(logs, zapcore.WarnLevel, "elasticsearch _bulk requests fail"); n != 1 {
		t.Errorf("no outage line")
	}
	if err := es.SetDown(false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "2 acks", func() bool { return acked.Load() == 2 })
	waitFor(t, "the recovery line", func() bool {
		return countLogs(logs, zapcore.InfoLevel, "elasticsearch _bulk requests succeed again") == 1
	})
	for _, e := range logs.FilterMessageSnippet("succeed again").All() {
		if d, ok := e.ContextMap()["outage"].(time.Duration); !ok || d <= 0 {
			t.Errorf("recovery line without the outage's length: %v", e.ContextMap())
		}
	}
}

// While an outage lasts, a reminder is logged every reminder interval. The interval is
// shortened to 200 ms here so that the test sees reminders in a second; its twin at the
// production interval is TestOutageLoggedOnceAndRecovery.
func TestOutageReminder(t *testing.T) {
	es := startES(t, estest.Options{})
	log, logs := observed(t)
	o := newOutLog(t, []string{es.URL()}, nil, log)
	o.denyOutage.remind = 200 * time.Millisecond
	es.SetWritesDenied("*", true)
	var acked atomic.Int64
	write(t, o, docBatch(0, 0, 3, false, &acked))
	waitFor(t, "two reminders", func() bool {
		return countLogs(logs, zapcore.ErrorLevel, "elasticsearch still refuses to store documents") >= 2
	})
	if n := countLogs(logs, zapcore.ErrorLevel, "elasticsearch refuses to store documents"); n != 1 {
		t.Errorf("%d first lines", n)
	}
	es.SetWritesDenied("*", false)
	waitFor(t, "ack", func() bool { return acked.Load() == 1 })
}

// "ready" is logged only once Elasticsearch answered: not when the output is built, and not
// by a Start that could not reach it; the first stored request says it then.
func TestReadyOnlyAfterPeerAnswered(t *testing.T) {
	es := startES(t, estest.Options{})
	if err := es.SetDown(true); err != nil {
		t.Fatal(err)
	}
	log, logs := observed(t)
	o := newOutLog(t, []string{es.URL()}, nil, log)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.Start(ctx); err != nil {
		t.Fatalf("Start must not fail while Elasticsearch is down (documents wait): %v", err)
	}
	if n := countLogs(logs, zapcore.DebugLevel, "output ready"); n != 0 {
		t.Fatalf("ready logged while Elasticsearch is down: %v", logs.All())
	}
	if countLogs(logs, zapcore.WarnLevel, "does not answer") != 1 {
		t.Errorf("Start did not say that Elasticsearch does not answer: %v", logs.All())
	}
	var acked atomic.Int64
	write(t, o, docBatch(0, 0, 3, false, &acked))
	waitFor(t, "failed requests", func() bool { return o.Stats().Failures >= 2 })
	if n := countLogs(logs, zapcore.DebugLevel, "output ready"); n != 0 {
		t.Fatalf("ready logged while Elasticsearch is down: %v", logs.All())
	}
	if err := es.SetDown(false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ack", func() bool { return acked.Load() == 1 })
	waitFor(t, "the ready line", func() bool { return countLogs(logs, zapcore.InfoLevel, "elasticsearch output ready") == 1 })

	// With Elasticsearch up, Start says ready at once.
	log2, logs2 := observed(t)
	o2 := newOutLog(t, []string{es.URL()}, nil, log2)
	if countLogs(logs2, zapcore.DebugLevel, "output ready") != 0 {
		t.Fatal("ready logged before Start")
	}
	if err := o2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if countLogs(logs2, zapcore.InfoLevel, "elasticsearch output ready") != 1 {
		t.Errorf("no ready line after Start: %v", logs2.All())
	}
}

// The template install waits for Elasticsearch with one line for the outage, not one per
// attempt, and says when it is installed.
func TestTemplateInstallOutageLoggedOnce(t *testing.T) {
	es := startES(t, estest.Options{})
	if err := es.SetDown(true); err != nil {
		t.Fatal(err)
	}
	log, logs := observed(t)
	o := newOutLog(t, []string{es.URL()}, func(c *Config) {
		on := true
		c.ManageTemplate = &on
		c.Index = "filebeat_test-%{+YYYY.MM.dd}"
	}, log)
	done := make(chan error, 1)
	go func() { done <- o.Start(context.Background()) }()
	waitFor(t, "several template attempts", func() bool { return countLogs(logs, zapcore.DebugLevel, "index template") >= 6 })
	if n := countLogs(logs, zapcore.WarnLevel, ""); n != 1 {
		t.Errorf("%d warnings for one outage, want 1: %v", n, logs.All())
	}
	if err := es.SetDown(false); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if tmplName, _ := templateAsset(); func() bool { _, ok := es.Template(tmplName); return !ok }() {
		t.Error("template not installed")
	}
	if countLogs(logs, zapcore.InfoLevel, "index template installed") != 1 || countLogs(logs, zapcore.InfoLevel, "elasticsearch output ready") != 1 {
		t.Errorf("no installed/ready lines: %v", logs.All())
	}
}

// The pipeline attribute sends every document through that ingest pipeline.
func TestPipelineAttribute(t *testing.T) {
	es := startES(t, estest.Options{})
	es.AddPipeline("apache-geo", nil)
	o := newOut(t, []string{es.URL()}, func(c *Config) { c.Pipeline = "apache-geo" })
	var acked atomic.Int64
	write(t, o, docBatch(0, 0, 5, false, &acked))
	waitFor(t, "ack", func() bool { return acked.Load() == 1 })
	docs := es.Documents()
	if len(docs) != 5 {
		t.Fatalf("%d documents", len(docs))
	}
	for _, d := range docs {
		if d.Pipeline != "apache-geo" {
			t.Errorf("document %s went through pipeline %q", d.ID, d.Pipeline)
		}
	}
	// Without the attribute, no pipeline is named.
	o2 := newOut(t, []string{es.URL()}, nil)
	write(t, o2, docBatch(1, 0, 1, false, &acked))
	waitFor(t, "ack", func() bool { return acked.Load() == 2 })
	for _, d := range es.Documents() {
		if d.ID == "id-1-0" && d.Pipeline != "" {
			t.Errorf("pipeline %q without the attribute", d.Pipeline)
		}
	}
}

// A pipeline that does not exist fails every item (400 illegal_argument_exception): those
// go to the dead-letter queue with Elasticsearch's reason.
func TestPipelineMissingDeadLettered(t *testing.T) {
	es := startES(t, estest.Options{})
	o := newOut(t, []string{es.URL()}, func(c *Config) { c.Pipeline = "nope" })
	var acked atomic.Int64
	write(t, o, docBatch(0, 0, 2, false, &acked))
	waitFor(t, "ack", func() bool { return acked.Load() == 1 })
	entries := readDLQ(t, filepath.Join(o.dir, "output.elasticsearch.main", DeadLetterFile))
	if len(entries) != 2 || entries[0].Error.Reason != "pipeline with id [nope] does not exist" {
		t.Errorf("entries %+v", entries)
	}
}

func TestPipelineValidate(t *testing.T) {
	for _, p := range []string{"", "a b", "x\ny", strings.Repeat("p", 513)} {
		c := NewConfig()
		c.Hosts = []string{"http://127.0.0.1:9200"}
		c.Pipeline = p
		err := c.Validate()
		if p == "" {
			if err != nil {
				t.Errorf("no pipeline: %v", err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "pipeline") {
			t.Errorf("pipeline %q: %v", p, err)
		}
	}
	c := NewConfig()
	c.Hosts = []string{"http://127.0.0.1:9200"}
	c.Pipeline = "filebeat-8.15.3-apache-access-pipeline"
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}

// dlqEntryFull is a dead-letter entry with the fields of a cut entry and the origin.
type dlqEntryFull struct {
	dlqEntry
	Truncated     bool  `json:"document_truncated"`
	DocumentBytes int64 `json:"document_bytes"`
	Origin        struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Offset    int64  `json:"offset"`
	} `json:"origin"`
}

var _ = json.Unmarshal

// The disk flood-stage block (429 cluster_block_exception) is retried like any 429, but
// logged once as a refusal with what to do, since it lasts until disk space is freed.
func TestFloodStageBlockLogged(t *testing.T) {
	es := startES(t, estest.Options{})
	log, logs := observed(t)
	o := newOutLog(t, []string{es.URL()}, nil, log)
	var acked atomic.Int64
	write(t, o, docBatch(0, 0, 1, false, &acked))
	waitFor(t, "the first ack", func() bool { return acked.Load() == 1 })
	es.SetIndexBlock("filebeat_test-*", "read_only_allow_delete")
	write(t, o, docBatch(0, 1, 3, false, &acked))
	waitFor(t, "several blocked attempts", func() bool { return es.Stats().Blocked >= 15 })
	if acked.Load() != 1 || dlqLines(t, o) != 0 {
		t.Fatalf("with a flood-stage block: %d acks, %d dead-lettered", acked.Load(), dlqLines(t, o))
	}
	lines := logs.FilterMessageSnippet("elasticsearch refuses to store documents").All()
	if len(lines) != 1 || !strings.Contains(fmt.Sprint(lines[0].ContextMap()["fix"]), "disk space") {
		t.Errorf("refusal lines %v", lines)
	}
	es.SetIndexBlock("filebeat_test-*", "")
	waitFor(t, "2 acks", func() bool { return acked.Load() == 2 })
}

// TestItemsDeniedRetriedNotDeadLettered at the production retry and flush defaults (100 ms
// doubling to 30 s, flush_interval 1 s): the refused items are held and retried, and stored
// after the privilege comes back.
func TestItemsDeniedAtDefaults(t *testing.T) {
	es := startES(t, estest.Options{})
	log, logs := observed(t)
	o := newOutLog(t, []string{es.URL()}, func(c *Config) { c.Retry, c.FlushInterval = nil, DefaultFlushInterval.String() }, log)
	if o.cfg.backoff.Initial != DefaultInitialBackoff || o.cfg.backoff.Max != DefaultMaxBackoff || o.cfg.flushInterval != DefaultFlushInterval {
		t.Fatalf("not the defaults: %+v %v", o.cfg.backoff, o.cfg.flushInterval)
	}
	es.SetWritesDenied("*", true)
	var acked atomic.Int64
	write(t, o, docBatch(0, 0, 10, false, &acked))
	waitFor(t, "three refused attempts", func() bool { return es.Stats().Denied >= 30 })
	if acked.Load() != 0 || dlqLines(t, o) != 0 || countLogs(logs, zapcore.ErrorLevel, "elasticsearch refuses to store documents") != 1 {
		t.Fatalf("%d acks, %d dead-lettered, logs %v", acked.Load(), dlqLines(t, o), logs.All())
	}
	es.SetWritesDenied("*", false)
	waitFor(t, "ack", func() bool { return acked.Load() == 1 })
	if es.Count("") != 10 {
		t.Errorf("%d stored", es.Count(""))
	}
}
