package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logpipe/logpipe/e2e/estest"
	"github.com/logpipe/logpipe/e2e/harness"
	"github.com/logpipe/logpipe/e2e/internal/brokerproc"
)

const (
	indexGroup      = "test123"
	indexPartitions = 3
)

// indexEnv is one index scenario: a broker with kafka_test (3 partitions), an in-process
// Elasticsearch test server, and an index.hcl consuming the topic as group test123 into
// filebeat_test-YYYY.MM.dd.
type indexEnv struct {
	t      *testing.T
	dir    string
	broker *harness.Broker
	es     *estest.Server
	config string
}

// newIndexEnv writes index.hcl; inputExtra and outputExtra are added to the kafka input
// and elasticsearch output blocks, rootExtra to the file's root.
func newIndexEnv(t *testing.T, rootExtra, inputExtra, outputExtra string) *indexEnv {
	t.Helper()
	harness.SkipIfShort(t)
	e := &indexEnv{t: t, dir: t.TempDir()}
	e.broker = harness.StartBroker(t, harness.BrokerOptions{Topics: []string{fmt.Sprintf("%s:%d", topic, indexPartitions)}})
	e.es = estest.New(estest.Options{})
	if err := e.es.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.es.Close)
	e.config = writeIndexConfig(t, e.dir, e.broker.Addr(), e.es.URL(), rootExtra, inputExtra, outputExtra)
	return e
}

// writeIndexConfig writes dir/index.hcl: the kafka input of brokerAddr's kafka_test as group
// test123 into the Elasticsearch at esURL, with the index tests' short timings; inputExtra
// and outputExtra are added to the kafka input and elasticsearch output blocks, rootExtra to
// the file's root. It returns the file's path.
func writeIndexConfig(t *testing.T, dir, brokerAddr, esURL, rootExtra, inputExtra, outputExtra string) string {
	t.Helper()
	cfg := fmt.Sprintf(`data_dir = %q
logging { level = "info" }
%s
input "kafka" "main" {
  brokers            = [%q]
  topics             = [%q]
  group_id           = %q
  start_offset       = "earliest"
  commit_interval    = "200ms"
  session_timeout    = "6s"
  rebalance_timeout  = "6s"
  heartbeat_interval = "1s"
  fetch_max_wait     = "100ms"
%s
}

output "elasticsearch" "main" {
  hosts          = [%q]
  index          = "filebeat_test-%%{+YYYY.MM.dd}"
  flush_interval = "50ms"
  retry {
    initial_backoff = "20ms"
    max_backoff     = "500ms"
  }
%s
}
`, filepath.Join(dir, "data"), rootExtra, brokerAddr, topic, indexGroup, inputExtra, esURL, outputExtra)
	return harness.WriteConfig(t, dir, "index.hcl", cfg)
}

// index starts `logpipe index -c index.hcl` with extra arguments.
func (e *indexEnv) index(args ...string) *harness.Process {
	return harness.StartLogpipe(e.t, append([]string{"index", "-c", e.config}, args...)...)
}

// deadLetterPath is the output's default dead-letter file.
func (e *indexEnv) deadLetterPath() string {
	return filepath.Join(e.dir, "data", "output.elasticsearch.main", "dead_letter.ndjson")
}

// produce writes values to one partition with kcat (an independent producer), in order.
func (e *indexEnv) produce(partition int, values [][]byte) {
	e.t.Helper()
	if len(values) == 0 {
		return
	}
	var in bytes.Buffer
	for _, v := range values {
		if bytes.IndexByte(v, '\n') >= 0 {
			e.t.Fatalf("value with a newline: %q", v)
		}
		in.Write(v)
		in.WriteByte('\n')
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kcat", "-P", "-b", e.broker.Addr(), "-t", topic, "-p", strconv.Itoa(partition),
		"-X", "acks=all", "-X", "linger.ms=5", "-X", "batch.num.messages=2000")
	cmd.Stdin = &in
	if out, err := cmd.CombinedOutput(); err != nil {
		e.t.Fatalf("kcat -P: %v\n%s", err, out)
	}
}

// produceAll produces parts[p] into partition p, for every partition.
func (e *indexEnv) produceAll(parts [][][]byte) {
	e.t.Helper()
	for p, vals := range parts {
		e.produce(p, vals)
	}
}

// testEvent is one event produced into kafka_test and what the index must hold for it.
type testEvent struct {
	n     int    // unique number, stored in the document as "n" (-1 for broken messages)
	id    string // @metadata._id, "" when the event has none
	ts    time.Time
	value []byte // the Kafka record value
}

// index is the daily index the event belongs to.
func (ev testEvent) index() string { return "filebeat_test-" + ev.ts.UTC().Format("2006.01.02") }

// makeEvents returns n events numbered from first, spread over three days before base,
// each with pad filler bytes in its message; every third has no @metadata._id.
func makeEvents(first, n int, base time.Time, pad int) []testEvent {
	evs := make([]testEvent, n)
	step := 72 * time.Hour / time.Duration(n)
	filler := strings.Repeat("x", pad)
	for k := range evs {
		i := first + k
		ts := base.Add(-72 * time.Hour).Add(time.Duration(k) * step).UTC().Truncate(time.Millisecond)
		ev := testEvent{n: i, ts: ts}
		meta := `"@metadata":{"beat":"logpipe","type":"_doc","version":"0.1.0"},`
		if i%3 != 0 {
			ev.id = fmt.Sprintf("e2e-%07d", i)
			meta = fmt.Sprintf(`"@metadata":{"beat":"logpipe","type":"_doc","version":"0.1.0","_id":%q},`, ev.id)
		}
		ev.value = fmt.Appendf(nil, `{"@timestamp":%q,%s"message":"event %d%s","n":%d,"host":{"name":"web%d"}}`,
			ts.Format("2006-01-02T15:04:05.000Z"), meta, i, filler, i, i%4)
		evs[k] = ev
	}
	return evs
}

// storedDoc is what the checks read from a stored document.
type storedDoc struct {
	N        *int            `json:"n"`
	Message  string          `json:"message"`
	Tags     []string        `json:"tags"`
	Metadata json.RawMessage `json:"@metadata"`
}

// requireExactlyOnce checks that every event is exactly one document, in the index of its
// @timestamp, with its _id when it had one, and without @metadata; broken messages are
// one document each, tagged _jsonparsefailure. No other document exists.
func (e *indexEnv) requireExactlyOnce(events []testEvent, broken []string) {
	e.t.Helper()
	byN := map[int][]estest.Document{}
	byMsg := map[string][]estest.Document{}
	for _, d := range e.es.Documents() {
		var s storedDoc
		if err := json.Unmarshal(d.Source, &s); err != nil {
			e.t.Fatalf("document %s/%s is not JSON: %v", d.Index, d.ID, err)
		}
		if s.Metadata != nil {
			e.t.Fatalf("document %s/%s holds @metadata: %s", d.Index, d.ID, d.Source)
		}
		if s.N != nil {
			byN[*s.N] = append(byN[*s.N], d)
		} else {
			byMsg[s.Message] = append(byMsg[s.Message], d)
			if !slices.Contains(s.Tags, "_jsonparsefailure") {
				e.t.Errorf("document %s/%s without n is not a _jsonparsefailure: %s", d.Index, d.ID, d.Source)
			}
		}
	}
	missing, dup, wrong := 0, 0, 0
	for _, ev := range events {
		ds := byN[ev.n]
		switch {
		case len(ds) == 0:
			missing++
		case len(ds) > 1:
			dup++
		case ds[0].Index != ev.index() || (ev.id != "" && ds[0].ID != ev.id):
			wrong++
			if wrong < 5 {
				e.t.Errorf("event %d (id %q, %s) stored as %s/%s", ev.n, ev.id, ev.ts, ds[0].Index, ds[0].ID)
			}
		}
		delete(byN, ev.n)
	}
	for _, b := range broken {
		if ds := byMsg[b]; len(ds) != 1 {
			e.t.Errorf("broken message %q: %d documents, want 1", b, len(ds))
		}
		delete(byMsg, b)
	}
	if missing+dup+wrong > 0 || len(byN)+len(byMsg) > 0 {
		e.t.Fatalf("%d events: %d missing, %d stored more than once, %d in the wrong index or with the wrong _id; %d unexpected documents",
			len(events), missing, dup, wrong, len(byN)+len(byMsg))
	}
}

// lag returns, per partition, the end offset minus the group's committed offset, read with
// kafka-go's admin requests (independent of the indexer).
func (e *indexEnv) lag() (map[int]int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	end, committed, err := brokerproc.GroupOffsets(ctx, e.broker.Addr(), topic, indexGroup)
	if err != nil {
		return nil, err
	}
	for p, c := range committed {
		end[p] -= c
	}
	return end, nil
}

// waitNoLag waits until the group's committed offsets equal the end offsets.
func (e *indexEnv) waitNoLag(timeout time.Duration) {
	e.t.Helper()
	var last map[int]int64
	harness.WaitEvery(e.t, timeout, 250*time.Millisecond, "the group to commit every offset", func() bool {
		l, err := e.lag()
		if err != nil {
			return false
		}
		last = l
		for _, v := range l {
			if v != 0 {
				return false
			}
		}
		return len(l) == indexPartitions
	})
	e.t.Logf("lag per partition: %v", last)
}

// members returns, per member of the group, the partitions of kafka_test assigned to it.
func (e *indexEnv) members() [][]int { return groupMembers(e.broker.Addr(), indexGroup) }

// rss returns the resident set size of a process in bytes, from /proc/<pid>/status.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				kb, err := strconv.ParseInt(f[1], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// byPartition spreads events over the partitions (event i to partition i%3).
func byPartition(events []testEvent) [][][]byte {
	out := make([][][]byte, indexPartitions)
	for i, ev := range events {
		out[i%indexPartitions] = append(out[i%indexPartitions], ev.value)
	}
	return out
}
