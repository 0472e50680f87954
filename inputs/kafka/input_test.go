package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/logpipe/logpipe/pipeline"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// Consume N records from 3 partitions, ack everything: the group's committed offsets (read
// from outside) reach the end offsets, and every record was seen exactly once.
func TestConsumeCommitsEndOffsets(t *testing.T) {
	c := newCluster(t, map[string]int32{"logs": 3})
	pr := producer(t, c)
	const per = 200
	for p := int32(0); p < 3; p++ {
		produce(t, pr, "logs", p, jsonRecords(0, per)...)
	}
	col := newCollector(nil)
	cfg := testConfig(t, c, "g1", "logs")
	cfg.BatchEvents = 64
	r := start(newInput(t, cfg, false), col.emit)
	waitFor(t, "commits at the end offsets", 10*time.Second, func() bool {
		got := committed(t, pr, "g1", "logs")
		return got[0] == per && got[1] == per && got[2] == per
	})
	r.stop(t)

	if n := col.count(); n != 3*per {
		t.Fatalf("saw %d distinct records, want %d", n, 3*per)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	for k, n := range col.seen {
		if n != 1 {
			t.Errorf("record %s seen %d times", k, n)
		}
	}
	for _, b := range col.batches {
		if b.Len() > 64 {
			t.Errorf("batch of %d events exceeds batch_events", b.Len())
		}
		p := b.Events[0].Partition
		for i, e := range b.Events {
			if e.Partition != p {
				t.Fatalf("batch %s mixes partitions", b.Domain)
			}
			if i > 0 && e.Offset != b.Events[i-1].Offset+1 {
				t.Errorf("batch %s not in offset order", b.Domain)
			}
		}
		if want := fmt.Sprintf("logs/%d", p); b.Domain != want {
			t.Errorf("domain %q, want %q", b.Domain, want)
		}
	}
	e := col.events[0]
	if prefix := fmt.Sprintf("logs-%d-%d-", e.Partition, e.Offset); !strings.HasPrefix(e.ID, prefix) || len(e.ID) != len(prefix)+recordHashLen {
		t.Errorf("ID %q, want %q followed by the record's hash", e.ID, prefix)
	}
	if e.Topic != "logs" || !bytes.Contains(e.Doc, []byte(`"message":"line `)) {
		t.Errorf("event %+v", e)
	}
	if want := time.Date(2026, 11, 21, 7, 16, 26, 746e6, time.UTC); !e.Timestamp.Equal(want) {
		t.Errorf("timestamp %v, want %v", e.Timestamp, want)
	}
}

// @metadata._id becomes the event id and @metadata is not in the document.
func TestMetadataID(t *testing.T) {
	c := newCluster(t, map[string]int32{"logs": 1})
	pr := producer(t, c)
	produce(t, pr, "logs", 0, `{"@timestamp":"2026-11-21T07:16:26.746Z","@metadata":{"beat":"logpipe","_id":"abc-182"},"message":"x"}`)
	col := newCollector(nil)
	r := start(newInput(t, testConfig(t, c, "g", "logs"), false), col.emit)
	waitFor(t, "one event", 10*time.Second, func() bool { return col.count() == 1 })
	r.stop(t)
	e := col.events[0]
	if e.ID != "abc-182" {
		t.Errorf("ID %q, want abc-182", e.ID)
	}
	if bytes.Contains(e.Doc, []byte("@metadata")) {
		t.Errorf("doc keeps @metadata: %s", e.Doc)
	}
}

// Acks out of order: only the low watermark is committed.
func TestOutOfOrderAcksCommitLowWatermark(t *testing.T) {
	c := newCluster(t, map[string]int32{"logs": 1})
	pr := producer(t, c)
	produce(t, pr, "logs", 0, jsonRecords(0, 50)...)
	var held []*pipeline.Batch
	col := newCollector(func(b *pipeline.Batch) bool {
		first := b.Events[0].Offset
		if first <= 15 && 15 <= b.Events[b.Len()-1].Offset {
			held = append(held, b) // the batch holding offset 15 stays unacked
			return false
		}
		return true
	})
	cfg := testConfig(t, c, "g", "logs")
	cfg.BatchEvents = 10
	r := start(newInput(t, cfg, false), col.emit)
	waitFor(t, "all records", 10*time.Second, func() bool { return col.count() == 50 })
	col.mu.Lock()
	if len(held) != 1 {
		t.Fatalf("held %d batches", len(held))
	}
	low := held[0].Events[0].Offset
	col.mu.Unlock()
	waitFor(t, "commit of the low watermark", 10*time.Second, func() bool {
		return committed(t, pr, "g", "logs")[0] == low
	})
	r.stop(t) // Close commits the final position: still the low watermark
	if got := committed(t, pr, "g", "logs")[0]; got != low {
		t.Fatalf("committed %d, want %d (first offset of the unacked batch)", got, low)
	}
	held[0].Ack() // a late ack after the input closed commits nothing
	if got := committed(t, pr, "g", "logs")[0]; got != low {
		t.Fatalf("late ack moved the commit to %d", got)
	}
}

// Batches never acknowledged are not committed and a new consumer in the group reads them.
func TestUnackedRedelivered(t *testing.T) {
	c := newCluster(t, map[string]int32{"logs": 1})
	pr := producer(t, c)
	produce(t, pr, "logs", 0, jsonRecords(0, 40)...)
	col := newCollector(func(b *pipeline.Batch) bool { return b.Events[0].Offset < 20 })
	cfg := testConfig(t, c, "g", "logs")
	cfg.BatchEvents = 10
	r := start(newInput(t, cfg, false), col.emit)
	waitFor(t, "all records", 10*time.Second, func() bool { return col.count() == 40 })
	r.stop(t)
	if got := committed(t, pr, "g", "logs")[0]; got != 20 {
		t.Fatalf("committed %d, want 20", got)
	}

	col2 := newCollector(nil)
	r2 := start(newInput(t, testConfig(t, c, "g", "logs"), false), col2.emit)
	waitFor(t, "redelivery", 10*time.Second, func() bool { return col2.count() == 20 })
	waitFor(t, "commit at the end", 10*time.Second, func() bool { return committed(t, pr, "g", "logs")[0] == 40 })
	r2.stop(t)
	offs := col2.offsets(0)
	if offs[0] != 20 || offs[len(offs)-1] != 39 {
		t.Fatalf("second consumer read %d..%d, want 20..39", offs[0], offs[len(offs)-1])
	}
}

// start_offset = "latest": a group without commits starts at the end, and commits that
// position at once so a restart does not skip what arrives meanwhile.
func TestStartOffsetLatest(t *testing.T) {
	c := newCluster(t, map[string]int32{"logs": 1})
	pr := producer(t, c)
	produce(t, pr, "logs", 0, jsonRecords(0, 10)...)
	col := newCollector(nil)
	cfg := testConfig(t, c, "g", "logs")
	cfg.StartOffset = "latest"
	r := start(newInput(t, cfg, false), col.emit)
	waitFor(t, "commit of the start position", 10*time.Second, func() bool {
		got, ok := committed(t, pr, "g", "logs")[0]
		return ok && got == 10
	})
	produce(t, pr, "logs", 0, jsonRecords(10, 5)...)
	waitFor(t, "new records", 10*time.Second, func() bool { return col.count() == 5 })
	r.stop(t)
	if offs := col.offsets(0); offs[0] != 10 {
		t.Fatalf("first offset %d, want 10", offs[0])
	}
}

// Two members split the partitions; one leaves; the other takes over; nothing is lost.
func TestTwoMembersTakeOver(t *testing.T) {
	c := newCluster(t, map[string]int32{"logs": 3})
	pr := producer(t, c)
	for p := int32(0); p < 3; p++ {
		produce(t, pr, "logs", p, jsonRecords(0, 50)...)
	}
	colA, colB := newCollector(nil), newCollector(nil)
	a := newInput(t, testConfig(t, c, "g", "logs"), false)
	b := newInput(t, testConfig(t, c, "g", "logs"), false)
	owned := func(in *Input) int {
		in.mu.Lock()
		defer in.mu.Unlock()
		if in.current == nil {
			return 0
		}
		return len(in.current.parts)
	}
	ra := start(a, colA.emit)
	waitFor(t, "A consuming the first wave", 15*time.Second, func() bool { return colA.count() == 150 })
	rb := start(b, colB.emit) // A's partitions are partly revoked and handed to B
	waitFor(t, "both members owning partitions", 15*time.Second, func() bool {
		na, nb := owned(a), owned(b)
		return na > 0 && nb > 0 && na+nb == 3
	})
	for p := int32(0); p < 3; p++ {
		produce(t, pr, "logs", p, jsonRecords(50, 50)...)
	}
	waitFor(t, "both members consuming the second wave", 15*time.Second, func() bool {
		return colA.count()+colB.count() >= 300 && colB.count() > 0
	})
	rb.stop(t) // B leaves; A gets every partition
	waitFor(t, "A owning every partition", 15*time.Second, func() bool { return owned(a) == 3 })
	for p := int32(0); p < 3; p++ {
		produce(t, pr, "logs", p, jsonRecords(100, 50)...)
	}
	waitFor(t, "commits at the end offsets", 15*time.Second, func() bool {
		got := committed(t, pr, "g", "logs")
		return got[0] == 150 && got[1] == 150 && got[2] == 150
	})
	ra.stop(t)
	for p := int32(0); p < 3; p++ {
		for o := int64(0); o < 150; o++ {
			k := fmt.Sprintf("%d/%d", p, o)
			colA.mu.Lock()
			na := colA.seen[k]
			colA.mu.Unlock()
			colB.mu.Lock()
			nb := colB.seen[k]
			colB.mu.Unlock()
			if na+nb == 0 {
				t.Fatalf("record %s never seen", k)
			}
		}
	}
	if colB.count() == 0 {
		t.Fatal("member B consumed nothing")
	}
}

// Once mode stops at the end offsets seen at start and commits them in Close.
func TestOnceStopsAtEndOffsets(t *testing.T) {
	c := newCluster(t, map[string]int32{"logs": 3})
	pr := producer(t, c)
	for p := int32(0); p < 3; p++ {
		produce(t, pr, "logs", p, jsonRecords(0, 30+int(p))...)
	}
	produced := make(chan struct{})
	col := newCollector(nil)
	emit := func(ctx context.Context, b *pipeline.Batch) error {
		select {
		case <-produced:
		default:
			// Records produced after the start are beyond the end offsets seen at start.
			close(produced)
			produce(t, pr, "logs", 0, jsonRecords(100, 10)...)
		}
		return col.emit(ctx, b)
	}
	in := newInput(t, testConfig(t, c, "g", "logs"), true)
	done := make(chan error, 1)
	go func() { done <- in.Run(context.Background(), emit) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return in once mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := in.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := col.count(); n != 30+31+32 {
		t.Fatalf("saw %d records, want %d", n, 30+31+32)
	}
	got := committed(t, pr, "g", "logs")
	if got[0] != 30 || got[1] != 31 || got[2] != 32 {
		t.Fatalf("committed %v, want 30/31/32", got)
	}
}

// A message that is not a JSON object becomes a _jsonparsefailure event stamped with the
// record time.
func TestNonJSONMessage(t *testing.T) {
	c := newCluster(t, map[string]int32{"logs": 1})
	pr := producer(t, c)
	produce(t, pr, "logs", 0, `not json at all`, `[1,2]`)
	col := newCollector(nil)
	r := start(newInput(t, testConfig(t, c, "g", "logs"), false), col.emit)
	waitFor(t, "two events", 10*time.Second, func() bool { return col.count() == 2 })
	r.stop(t)
	for i, e := range col.events {
		if !bytes.Contains(e.Doc, []byte("_jsonparsefailure")) {
			t.Errorf("event %d not tagged: %s", i, e.Doc)
		}
		if want := time.UnixMilli(1700000000000 + int64(i)).UTC(); !e.Timestamp.Equal(want) {
			t.Errorf("event %d timestamp %v, want record time %v", i, e.Timestamp, want)
		}
	}
	if !bytes.Contains(col.events[0].Doc, []byte(`"message":"not json at all"`)) {
		t.Errorf("raw text not kept: %s", col.events[0].Doc)
	}
}

// A topic that does not exist yet: the input waits for it (no exit into a restart loop),
// says so once as an error naming the topic and `logpipe setup --topic`, and consumes
// once the topic was created, saying so.
func TestUnknownTopicWaits(t *testing.T) {
	c := newCluster(t, map[string]int32{"logs": 1})
	core, logs := observer.New(zap.DebugLevel)
	cfg := testConfig(t, c, "g", "later")
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	in, err := New(cfg, pipeline.Stage{Kind: "input", Type: "kafka", Name: "t", Log: zap.New(core), Codecs: testCodecs()})
	if err != nil {
		t.Fatal(err)
	}
	col := newCollector(nil)
	r := start(in, col.emit)
	waitFor(t, "the missing topic to be logged", 10*time.Second, func() bool {
		return logs.FilterLevelExact(zap.ErrorLevel).FilterMessageSnippet("does not exist; waiting").Len() > 0
	})
	e := logs.FilterLevelExact(zap.ErrorLevel).All()[0]
	if msg := fmt.Sprint(e.ContextMap()["error"]); !strings.Contains(msg, `"later"`) || !strings.Contains(msg, "logpipe setup --topic") {
		t.Fatalf("logged error does not help: %s", msg)
	}
	// Let it retry (the attempts after the first are logged at debug level) while it waits.
	waitFor(t, "repeated checks of the topic", 10*time.Second, func() bool {
		return logs.FilterLevelExact(zap.DebugLevel).FilterMessageSnippet("does not exist; retrying").Len() >= 2
	})
	select {
	case err := <-r.done:
		t.Fatalf("Run returned %v while the topic is missing; it must wait", err)
	default:
	}
	if n := logs.FilterLevelExact(zap.ErrorLevel).Len(); n != 1 {
		t.Errorf("the missing topic was logged %d times as an error over several attempts, want once (then every 30 s)", n)
	}
	if err := c.CreateTopic("later", 1, nil); err != nil {
		t.Fatal(err)
	}
	produce(t, producer(t, c), "later", 0, jsonRecords(0, 5)...)
	waitFor(t, "records of the created topic", 20*time.Second, func() bool { return col.count() == 5 })
	if logs.FilterMessageSnippet("exist now").Len() == 0 {
		t.Errorf("the end of the wait was not logged")
	}
	r.stop(t)
}

// Backpressure: with max_in_flight unacked batches, the partition stops fetching.
func TestMaxInFlightStopsFetching(t *testing.T) {
	c := newCluster(t, map[string]int32{"logs": 1})
	pr := producer(t, c)
	produce(t, pr, "logs", 0, jsonRecords(0, 100)...)
	col := newCollector(func(*pipeline.Batch) bool { return false })
	cfg := testConfig(t, c, "g", "logs")
	cfg.BatchEvents = 10
	cfg.MaxInFlight = 3
	in := newInput(t, cfg, false)
	r := start(in, col.emit)
	waitFor(t, "three batches", 10*time.Second, func() bool {
		col.mu.Lock()
		defer col.mu.Unlock()
		return len(col.batches) == 3
	})
	// Let the fetch loop run a few more fetch_max_wait rounds if it were going to.
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		col.mu.Lock()
		n := len(col.batches)
		col.mu.Unlock()
		if n != 3 {
			t.Fatalf("%d batches emitted with max_in_flight 3 and no acks", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	col.mu.Lock()
	first := col.batches[0]
	col.mu.Unlock()
	first.Ack()
	waitFor(t, "a fourth batch after one ack", 10*time.Second, func() bool {
		col.mu.Lock()
		defer col.mu.Unlock()
		return len(col.batches) == 4
	})
	r.stop(t)
}

func TestConfigValidate(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Brokers = []string{"k1:9092"}
	cfg.Topics = []string{"kafka_test"}
	cfg.GroupID = "test123"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.CommitEvery != time.Second || cfg.BatchByteLimit != 1<<20 || cfg.Partitions != 3 || cfg.ReplicationFactor != 2 || cfg.FetchBudgetBytes != 4<<20 {
		t.Fatalf("defaults: %+v", cfg)
	}
	bad := DefaultConfig()
	bad.Brokers = []string{"nohost"}
	bad.StartOffset = "beginning"
	bad.CommitInterval = "soon"
	bad.BatchBytes = "12XB"
	bad.HeartbeatInterval = "40s"
	bad.Partitions = 0
	bad.FetchBudget = "512KiB"
	err := bad.Validate()
	for _, attr := range []string{"brokers", "topics", "group_id", "start_offset", "commit_interval", "batch_bytes", "heartbeat_interval", "partitions", "fetch_budget"} {
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
	// Duration errors say what is wrong (pipeline.ParseDuration's message).
	neg := DefaultConfig()
	neg.FetchMaxWait = "-1s"
	if err := neg.Validate(); err == nil || !strings.Contains(err.Error(), "fetch_max_wait") || !strings.Contains(err.Error(), "must not be negative") {
		t.Errorf("fetch_max_wait -1s: %v", err)
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Shutdown as the runner does it: Run is cancelled with batches in flight, the outputs
// acknowledge them afterwards, and Close commits the final positions.
func TestCloseCommitsAfterDrain(t *testing.T) {
	c := newCluster(t, map[string]int32{"logs": 2})
	pr := producer(t, c)
	produce(t, pr, "logs", 0, jsonRecords(0, 25)...)
	produce(t, pr, "logs", 1, jsonRecords(0, 35)...)
	col := newCollector(func(*pipeline.Batch) bool { return false })
	cfg := testConfig(t, c, "g", "logs")
	cfg.BatchEvents = 10
	cfg.CommitInterval = "1h" // only the final commit in Close may move the offsets
	in := newInput(t, cfg, false)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx, col.emit) }()
	waitFor(t, "all records", 10*time.Second, func() bool { return col.count() == 60 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	col.mu.Lock()
	for _, b := range col.batches {
		b.Ack()
	}
	col.mu.Unlock()
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	if err := in.Close(cctx); err != nil {
		t.Fatal(err)
	}
	got := committed(t, pr, "g", "logs")
	if got[0] != 25 || got[1] != 35 {
		t.Fatalf("committed %v, want 25/35", got)
	}
}

// Brokers that are not reachable yet: the input retries, logging the outage once with the
// broker addresses (not once per attempt), consumes once the cluster is up, and logs the
// end of the outage.
func TestBrokersUnreachableRetried(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	core, logs := observer.New(zap.DebugLevel)
	cfg := DefaultConfig()
	cfg.Brokers = []string{addr}
	cfg.Topics = []string{"logs"}
	cfg.GroupID = "g"
	cfg.CommitInterval = "50ms"
	cfg.SessionTimeout = "3s"
	cfg.HeartbeatInterval = "100ms"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	in, err := New(cfg, pipeline.Stage{Kind: "input", Type: "kafka", Name: "t", Log: zap.New(core), Codecs: testCodecs()})
	if err != nil {
		t.Fatal(err)
	}
	col := newCollector(nil)
	r := start(in, col.emit)
	waitFor(t, "a retry warning naming the broker", 10*time.Second, func() bool {
		for _, e := range logs.All() {
			if strings.Contains(fmt.Sprint(e.ContextMap()["brokers"]), addr) {
				return true
			}
		}
		return false
	})
	waitFor(t, "several failed attempts", 10*time.Second, func() bool {
		return logs.FilterMessageSnippet("reading topic metadata from the brokers failed").Len() >= 3
	})
	c, err := kfake.NewCluster(kfake.Ports(port), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.CreateTopic("logs", 1, nil); err != nil {
		t.Fatal(err)
	}
	pr := producer(t, c)
	produce(t, pr, "logs", 0, jsonRecords(0, 5)...)
	waitFor(t, "records after the cluster came up", 20*time.Second, func() bool { return col.count() == 5 })
	r.stop(t)
	if n := logs.FilterLevelExact(zap.WarnLevel).FilterMessageSnippet("reading topic metadata").Len(); n != 1 {
		t.Errorf("the outage was logged %d times as a warning, want once", n)
	}
	if logs.FilterMessageSnippet("reading topic metadata from the brokers succeeds again").Len() != 1 {
		t.Errorf("the end of the outage was not logged once")
	}
}

// An ack that arrives after its partition was revoked (the generation ended) never commits.
func TestLateAckAfterRevocationNeverCommits(t *testing.T) {
	c := newCluster(t, map[string]int32{"logs": 1})
	pr := producer(t, c)
	produce(t, pr, "logs", 0, jsonRecords(0, 50)...)
	holds15 := func(b *pipeline.Batch) bool {
		return !(b.Events[0].Offset <= 15 && 15 <= b.Events[b.Len()-1].Offset)
	}
	var old []*pipeline.Batch
	colA := newCollector(func(b *pipeline.Batch) bool {
		if !holds15(b) && old == nil {
			old = append(old, b) // the first batch holding 15, from generation 1
			return false
		}
		return holds15(b)
	})
	cfg := testConfig(t, c, "g", "logs")
	cfg.BatchEvents = 10
	cfg.RebalanceTimeout = "400ms" // revocation waits at most 200ms for acks
	a := newInput(t, cfg, false)
	ra := start(a, colA.emit)
	waitFor(t, "A reading everything", 10*time.Second, func() bool { return colA.count() == 50 })
	waitFor(t, "commit of the low watermark", 10*time.Second, func() bool { return committed(t, pr, "g", "logs")[0] == 10 })
	gen1 := func() int32 {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.current == nil {
			return -1
		}
		return a.current.gen.ID
	}
	first := gen1()

	colB := newCollector(holds15)
	rb := start(newInput(t, testConfig(t, c, "g", "logs"), false), colB.emit)
	waitFor(t, "a new generation for A", 15*time.Second, func() bool { g := gen1(); return g != first && g != -1 })
	colA.mu.Lock()
	late := old[0]
	colA.mu.Unlock()
	late.Ack() // generation 1's tracker may now reach 50, but nobody commits it
	rb.stop(t)
	ra.stop(t)
	if got := committed(t, pr, "g", "logs")[0]; got != 10 {
		t.Fatalf("committed %d after a late ack from a revoked generation, want 10", got)
	}
}
