package kafka

import (
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
)

// The id of a record without @metadata._id is a pure function of the record: the same
// record (a redelivery) always gets the same id, a different record at the same topic,
// partition and offset (a re-created topic) never does.
func TestRecordIDDependsOnTheRecord(t *testing.T) {
	var d xxhash.Digest
	ts := time.UnixMilli(1700000000123)
	id := func(topic string, p int, off int64, ts time.Time, v string) string {
		return string(AppendRecordID(nil, &d, topic, p, off, ts, []byte(v)))
	}
	a := id("logs", 2, 17, ts, `{"message":"a"}`)
	if !strings.HasPrefix(a, "logs-2-17-") || len(a) != len("logs-2-17-")+recordHashLen {
		t.Fatalf("id %q, want logs-2-17-<16 hex digits>", a)
	}
	if b := id("logs", 2, 17, ts, `{"message":"a"}`); b != a {
		t.Errorf("the same record got two ids: %q and %q", a, b)
	}
	for name, other := range map[string]string{
		"value":     id("logs", 2, 17, ts, `{"message":"b"}`),
		"timestamp": id("logs", 2, 17, ts.Add(time.Millisecond), `{"message":"a"}`),
		"offset":    id("logs", 2, 18, ts, `{"message":"a"}`),
		"partition": id("logs", 1, 17, ts, `{"message":"a"}`),
		"topic":     id("logs2", 2, 17, ts, `{"message":"a"}`),
	} {
		if other == a {
			t.Errorf("records differing in %s share the id %q", name, a)
		}
	}
	buf := make([]byte, 0, 128)
	v := []byte(`{"message":"a"}`)
	if n := testing.AllocsPerRun(100, func() { buf = AppendRecordID(buf[:0], &d, "logs", 2, 17, ts, v) }); n != 0 {
		t.Errorf("AppendRecordID allocates %.0f times per record", n)
	}
}

// BenchmarkRecordID measures the id of a 400-byte record without @metadata._id.
func BenchmarkRecordID(b *testing.B) {
	var d xxhash.Digest
	v := []byte(`{"@timestamp":"2026-11-21T07:16:26.746Z","message":"192.168.1.7 - - [21/Nov/2026:07:16:26 +0000] \"GET /index.html HTTP/1.1\" 200 5120 \"-\" \"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36\"","log":{"offset":1234,"file":{"path":"/etc/httpd/logs/access_log"}},"input":{"type":"filestream"},"host":{"name":"web1"}}`)
	ts := time.UnixMilli(1700000000123)
	buf := make([]byte, 0, 64)
	b.SetBytes(int64(len(v)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendRecordID(buf[:0], &d, "kafka_test", 2, int64(i), ts, v)
	}
}
