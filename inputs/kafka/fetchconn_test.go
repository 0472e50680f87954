package kafka

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// oneBroker starts a single-broker kfake cluster (the broker leads every partition) and
// returns it with its address.
func oneBroker(t *testing.T, topics map[string]int32, opts ...kfake.Opt) (*kfake.Cluster, string) {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)
	for topic, n := range topics {
		opts = append(opts, kfake.SeedTopics(n, topic))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()[0]
}

func dialTest(t *testing.T, addr string) *fetchConn {
	t.Helper()
	fc, err := dialFetch(context.Background(), (&net.Dialer{}).DialContext, nil, "test", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fc.Close() })
	return fc
}

// fetchAll fetches topic/0 from offset until next reaches end, maxBytes at a time, and
// returns copies of the records.
func fetchAll(t *testing.T, fc *fetchConn, topic string, offset, end int64, maxBytes int) ([]record, fetchResult) {
	t.Helper()
	var out []record
	var res fetchResult
	for offset < end {
		var buf fetchBuf
		var err error
		res, err = fc.fetch(&buf, topic, 0, offset, maxBytes, 500*time.Millisecond)
		if err != nil {
			t.Fatalf("fetch at %d: %v", offset, err)
		}
		for _, r := range buf.recs {
			r.Key, r.Value = bytes.Clone(r.Key), bytes.Clone(r.Value)
			out = append(out, r)
		}
		if res.next <= offset {
			t.Fatalf("fetch at %d: no progress (next %d, end %d)", offset, res.next, end)
		}
		offset = res.next
	}
	return out, res
}

// Records produced by franz-go with each compression codec, in batches of several records,
// with null and set keys, headers and explicit timestamps, read back by fetchConn: every
// record's offset, key, value and time, from the start and from inside a batch.
func TestFetchConnReadsEveryCodec(t *testing.T) {
	for _, codec := range []struct {
		name string
		c    kgo.CompressionCodec
	}{
		{"none", kgo.NoCompression()},
		{"gzip", kgo.GzipCompression()},
		{"snappy", kgo.SnappyCompression()},
		{"lz4", kgo.Lz4Compression()},
		{"zstd", kgo.ZstdCompression()},
	} {
		t.Run(codec.name, func(t *testing.T) {
			_, addr := oneBroker(t, map[string]int32{"logs": 1})
			cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerBatchCompression(codec.c),
				kgo.ProducerLinger(50*time.Millisecond), kgo.RecordPartitioner(kgo.ManualPartitioner()))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			const n = 300
			base := time.UnixMilli(1_700_000_000_000).UTC()
			want := make([]record, n)
			for i := range n {
				r := &kgo.Record{Topic: "logs", Value: []byte(fmt.Sprintf(`{"n":%d,"pad":%q}`, i, strings.Repeat("x", i%97))),
					Timestamp: base.Add(time.Duration(i) * time.Millisecond)}
				if i%2 == 1 {
					r.Key = []byte(fmt.Sprintf("k%d", i))
				}
				if i%3 == 0 {
					r.Headers = []kgo.RecordHeader{{Key: "h", Value: []byte("v")}}
				}
				want[i] = record{Offset: int64(i), Time: r.Timestamp, Key: r.Key, Value: r.Value}
				cl.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
					if err != nil {
						t.Errorf("produce: %v", err)
					}
				})
			}
			if err := cl.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			fc := dialTest(t, addr)
			for _, from := range []int64{0, 7} {
				for _, maxBytes := range []int{1, 4096, 1 << 20} {
					got, res := fetchAll(t, fc, "logs", from, n, maxBytes)
					if res.hwm != n {
						t.Errorf("from %d, max %d: high watermark %d, want %d", from, maxBytes, res.hwm, n)
					}
					checkRecords(t, got, want[from:])
				}
			}
		})
	}
}

func checkRecords(t *testing.T, got, want []record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Offset != w.Offset || !g.Time.Equal(w.Time) || !bytes.Equal(g.Key, w.Key) || (g.Key == nil) != (w.Key == nil) || !bytes.Equal(g.Value, w.Value) {
			t.Fatalf("record %d:\ngot  %d %v %q %q\nwant %d %v %q %q", i, g.Offset, g.Time, g.Key, g.Value, w.Offset, w.Time, w.Key, w.Value)
		}
	}
}

// A committed transaction leaves a control batch (the commit marker) in the log: it is no
// record, and the position moves past it.
func TestFetchConnSkipsControlBatches(t *testing.T) {
	_, addr := oneBroker(t, map[string]int32{"logs": 1})
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID("tx"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "logs", Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	fc := dialTest(t, addr)
	var got []record
	var res fetchResult
	for off := int64(0); ; off = res.next {
		var buf fetchBuf
		res, err = fc.fetch(&buf, "logs", 0, off, 1<<20, 500*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf.recs...)
		if res.next >= res.hwm {
			break
		}
		if res.next <= off {
			t.Fatalf("no progress at %d (hwm %d)", off, res.hwm)
		}
	}
	if len(got) != 3 || got[2].Offset != 2 {
		t.Fatalf("records %+v, want offsets 0-2", got)
	}
	if res.next != 4 || res.hwm != 4 {
		t.Fatalf("next %d, hwm %d; want 4 and 4 (three records and the commit marker)", res.next, res.hwm)
	}
}

// An offset beyond the log is the broker's OFFSET_OUT_OF_RANGE, as kafka-go's error value
// (the partition resets by start_offset on it).
func TestFetchConnOffsetOutOfRange(t *testing.T) {
	_, addr := oneBroker(t, map[string]int32{"logs": 1})
	fc := dialTest(t, addr)
	var buf fetchBuf
	_, err := fc.fetch(&buf, "logs", 0, 50, 1<<20, 100*time.Millisecond)
	if !errors.Is(err, kafkago.OffsetOutOfRange) {
		t.Fatalf("err = %v, want OffsetOutOfRange", err)
	}
}

// testBatch encodes a record batch v2 with the given records (offset deltas 0, 1, ...) and
// a correct CRC.
func testBatch(base int64, attrs int16, firstTime, maxTime int64, values ...string) []byte {
	var recs []byte
	for i, v := range values {
		r := kmsg.Record{TimestampDelta64: int64(i), OffsetDelta: int32(i), Value: []byte(v)}
		body := r.AppendTo(nil)
		r.Length = int32(len(body) - 1) // the zero length took one byte
		recs = r.AppendTo(recs)
	}
	b := kmsg.RecordBatch{FirstOffset: base, Magic: 2, Attributes: attrs, LastOffsetDelta: int32(len(values) - 1),
		FirstTimestamp: firstTime, MaxTimestamp: maxTime, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		NumRecords: int32(len(values)), Records: recs}
	b.Length = int32(batchHeaderLen - batchLengthEnd + len(recs))
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[batchCRC:], crc32.Checksum(out[batchAttributes:], castagnoli))
	return out
}

func parseTest(data []byte, offset int64) ([]record, fetchResult, error) {
	var fc fetchConn
	var buf fetchBuf
	res, err := fc.parseBatches(&buf, data, offset, fetchResult{next: offset, hwm: -1})
	return buf.recs, res, err
}

// Batches the broker could send but franz-go's producer does not write: each is read as
// Kafka defines it.
func TestFetchConnBatchEdgeCases(t *testing.T) {
	good := testBatch(10, 0, 1_700_000_000_000, 1_700_000_000_001, "a", "b")

	t.Run("partial batch at the end is left for the next fetch", func(t *testing.T) {
		data := append(bytes.Clone(good), testBatch(12, 0, 1, 1, "c")[:30]...)
		recs, res, err := parseTest(data, 10)
		if err != nil || len(recs) != 2 || res.next != 12 {
			t.Fatalf("recs %d, next %d, err %v; want 2, 12, nil", len(recs), res.next, err)
		}
	})
	t.Run("corrupt batch: earlier records kept, error returned", func(t *testing.T) {
		bad := testBatch(12, 0, 1, 1, "c")
		bad[len(bad)-1] ^= 1
		recs, res, err := parseTest(append(bytes.Clone(good), bad...), 10)
		if err == nil || !strings.Contains(err.Error(), "CRC") || len(recs) != 2 || res.next != 12 {
			t.Fatalf("recs %d, next %d, err %v; want 2, 12 and a CRC error", len(recs), res.next, err)
		}
	})
	t.Run("log append time applies to every record", func(t *testing.T) {
		recs, _, err := parseTest(testBatch(0, attrLogAppendTime, 5_000, 9_000, "a", "b"), 0)
		if err != nil || len(recs) != 2 || recs[0].Time.UnixMilli() != 9_000 || recs[1].Time.UnixMilli() != 9_000 {
			t.Fatalf("recs %+v, err %v; want both at 9000 ms", recs, err)
		}
	})
	t.Run("no timestamp is the zero time", func(t *testing.T) {
		recs, _, err := parseTest(testBatch(0, 0, -1, -1, "a"), 0)
		if err != nil || len(recs) != 1 || !recs[0].Time.IsZero() {
			t.Fatalf("recs %+v, err %v; want one record with a zero time", recs, err)
		}
	})
	t.Run("records below the fetch offset are left out", func(t *testing.T) {
		recs, res, err := parseTest(good, 11)
		if err != nil || len(recs) != 1 || recs[0].Offset != 11 || string(recs[0].Value) != "b" || res.next != 12 {
			t.Fatalf("recs %+v, next %d, err %v", recs, res.next, err)
		}
	})
	t.Run("old message format is an error that says so", func(t *testing.T) {
		old := bytes.Clone(good)
		old[batchMagic] = 1
		_, _, err := parseTest(old, 10)
		if err == nil || !strings.Contains(err.Error(), "message format v1") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("records after a truncated record are an error", func(t *testing.T) {
		b := testBatch(0, 0, 1, 1, "a", "b")
		binary.BigEndian.PutUint32(b[batchRecordCount:], 3) // one more than there is
		binary.BigEndian.PutUint32(b[batchCRC:], crc32.Checksum(b[batchAttributes:], castagnoli))
		recs, _, err := parseTest(b, 0)
		if err == nil || len(recs) != 2 {
			t.Fatalf("recs %d, err %v; want the 2 records and an error", len(recs), err)
		}
	})
}

// Fetching allocates per fetch, not per record: the buffers are reused.
func TestFetchConnAllocatesPerFetchOnly(t *testing.T) {
	var data []byte
	for i := range 50 {
		vals := make([]string, 20)
		for j := range vals {
			vals[j] = fmt.Sprintf(`{"i":%d}`, i*20+j)
		}
		data = append(data, testBatch(int64(i*20), 0, 1, 1, vals...)...)
	}
	var fc fetchConn
	buf := &fetchBuf{}
	allocs := testing.AllocsPerRun(20, func() {
		buf.recs = buf.recs[:0]
		if _, err := fc.parseBatches(buf, data, 0, fetchResult{}); err != nil || len(buf.recs) != 1000 {
			t.Fatalf("%d records, err %v", len(buf.recs), err)
		}
	})
	if allocs > 0 {
		t.Fatalf("%.1f allocations per 1000 records, want 0", allocs)
	}
}
