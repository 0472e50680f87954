package kafka

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logpipe/logpipe/pipeline"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// testChunk returns a chunk of n records as Write fills it: record i has the key "key-<i>"
// unless i%3 == 0 (no key), a value of varying length (one of 20000 bytes, whose length
// takes a 3-byte varint), and the timestamp base+7i ms, except every fifth record, which
// has none, and record 2, which is older than the first.
func testChunk(n int, base int64) *chunk {
	c := &chunk{}
	for i := range n {
		kstart := len(c.buf)
		if i%3 != 0 {
			c.buf = fmt.Appendf(c.buf, "key-%d", i)
		}
		vstart := len(c.buf)
		c.buf = fmt.Appendf(c.buf, `{"n":%d,"message":"GET /api/v1/items?page=%d HTTP/1.1 200 %s"}`, i, i, strings.Repeat("x", i%300))
		if i == n/2 {
			c.buf = append(c.buf, strings.Repeat("y", 20000)...)
		}
		ts := base + 7*int64(i)
		switch {
		case i%5 == 4:
			ts = 0
		case i == 2:
			ts = base - 1000
		}
		c.recs = append(c.recs, record{keyStart: int32(kstart), valStart: int32(vstart), end: int32(len(c.buf)), ts: ts})
	}
	return c
}

// parseBatch reads the record batch header of wire (after the record set's size) with
// franz-go's kmsg, checking the sizes and the CRC-32C.
func parseBatch(t *testing.T, wire []byte) kmsg.RecordBatch {
	t.Helper()
	if got := int(uint32(wire[0])<<24 | uint32(wire[1])<<16 | uint32(wire[2])<<8 | uint32(wire[3])); got != len(wire)-4 {
		t.Fatalf("record set size %d, want %d", got, len(wire)-4)
	}
	var b kmsg.RecordBatch
	if err := b.ReadFrom(wire[4:]); err != nil {
		t.Fatal(err)
	}
	if int(b.Length) != len(wire)-4-12 {
		t.Fatalf("batch length %d, want %d", b.Length, len(wire)-16)
	}
	if want := int32(crc32.Checksum(wire[4+21:], crc32.MakeTable(crc32.Castagnoli))); b.CRC != want {
		t.Fatalf("CRC %x, want %x", b.CRC, want)
	}
	if b.FirstOffset != 0 || b.Magic != 2 || b.ProducerID != -1 || b.ProducerEpoch != -1 || b.FirstSequence != -1 {
		t.Fatalf("batch header fields: %+v", b)
	}
	return b
}

// The record batches the output encodes are read back by an independent client (franz-go,
// from kfake, which checks the batch's length, CRC and offset deltas) for each compression:
// keys (and null keys), values, timestamps (the producer's time for records without one), no
// headers, in order.
func TestRecordBatchReadBackByFranzGo(t *testing.T) {
	for _, comp := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(comp, func(t *testing.T) {
			c := newCluster(t, kfake.SeedTopics(1, "logs"))
			o := newOutput(t, c, "logs", nil, func(cfg *Config) { cfg.Compression = comp })
			const n = 400
			base := time.Now().Add(-time.Hour).UnixMilli()
			ch := testChunk(n, base)
			before := time.Now().UnixMilli()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			// Two requests: the second batch's records get offsets after the first's.
			for _, sp := range []span{{0, n / 4}, {n / 4, n}} {
				if err := o.produce(ctx, ch, sp); err != nil {
					t.Fatal(err)
				}
				b := parseBatch(t, ch.wire)
				if int(b.NumRecords) != sp.hi-sp.lo || int(b.LastOffsetDelta) != sp.hi-sp.lo-1 {
					t.Fatalf("span %v: %d records, last offset delta %d", sp, b.NumRecords, b.LastOffsetDelta)
				}
				if b.Attributes != int16(o.cfg.compression) {
					t.Fatalf("attributes %#x, want the compression %d", b.Attributes, o.cfg.compression)
				}
			}
			after := time.Now().UnixMilli()
			closeOutput(t, o)
			recs := consume(t, c, "logs", n)
			if len(recs) != n {
				t.Fatalf("%d records, want %d", len(recs), n)
			}
			for i, r := range recs {
				rec := ch.recs[i]
				if r.Offset != int64(i) {
					t.Fatalf("record %d at offset %d", i, r.Offset)
				}
				if want := ch.buf[rec.valStart:rec.end]; !bytes.Equal(r.Value, want) {
					t.Fatalf("record %d: value %.60q, want %.60q", i, r.Value, want)
				}
				if i%3 == 0 {
					if r.Key != nil {
						t.Fatalf("record %d: key %q, want none (null)", i, r.Key)
					}
				} else if want := fmt.Sprintf("key-%d", i); string(r.Key) != want {
					t.Fatalf("record %d: key %q, want %q", i, r.Key, want)
				}
				if len(r.Headers) != 0 {
					t.Fatalf("record %d: headers %v", i, r.Headers)
				}
				ts := r.Timestamp.UnixMilli()
				if rec.ts != 0 && ts != rec.ts {
					t.Fatalf("record %d: timestamp %d, want %d", i, ts, rec.ts)
				}
				if rec.ts == 0 && (ts < before || ts > after) {
					t.Fatalf("record %d without a timestamp: %d, want the producer's time in [%d, %d]", i, ts, before, after)
				}
			}
		})
	}
}

// The batch header's timestamps: the first record's and the largest, whatever the order.
func TestRecordBatchTimestamps(t *testing.T) {
	var be batchEncoder
	ch := testChunk(10, 5000)
	wire, err := be.encode(nil, ch, span{0, 10}, compress.Lz4, 99999)
	if err != nil {
		t.Fatal(err)
	}
	b := parseBatch(t, wire)
	// Record 9 has none: it gets now (99999), the largest.
	if b.FirstTimestamp != 5000 || b.MaxTimestamp != 99999 {
		t.Fatalf("first timestamp %d, max %d; want 5000 and 99999", b.FirstTimestamp, b.MaxTimestamp)
	}
	wire, err = be.encode(wire[:0], ch, span{1, 4}, 0, 99999)
	if err != nil {
		t.Fatal(err)
	}
	// Records 1, 2 (older than record 0) and 3.
	if b := parseBatch(t, wire); b.FirstTimestamp != 5007 || b.MaxTimestamp != 5021 {
		t.Fatalf("first timestamp %d, max %d; want 5007 and 5021", b.FirstTimestamp, b.MaxTimestamp)
	}
}

// Kafka refuses a record batch whose CRC does not match its content (CORRUPT_MESSAGE), and
// takes the same batch with the CRC the output computed.
func TestRecordBatchCRCIsChecked(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "logs"))
	o := newOutput(t, c, "logs", nil, nil)
	ch := testChunk(50, time.Now().UnixMilli())
	wire, err := o.recordBatch(ch, span{0, 50})
	if err != nil {
		t.Fatal(err)
	}
	send := func(b []byte) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := o.client.RawProduce(ctx, &kafkago.RawProduceRequest{Topic: "logs", RequiredAcks: kafkago.RequireAll,
			RawRecords: protocol.RawRecordSet{Reader: bytes.NewReader(b)}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Error
	}
	for _, at := range []int{4 + offCRC, len(wire) - 7, 4 + offFirstTimestamp} {
		bad := slices.Clone(wire)
		bad[at] ^= 0x10
		if err := send(bad); !errors.Is(err, kafkago.InvalidMessage) {
			t.Fatalf("byte %d changed: answer %v, want CORRUPT_MESSAGE", at, err)
		}
	}
	if err := send(wire); err != nil {
		t.Fatalf("the output's record batch was refused: %v", err)
	}
	closeOutput(t, o)
	if n := len(consume(t, c, "logs", 50)); n != 50 {
		t.Fatalf("%d records, want 50", n)
	}
}

// A record batch is encoded once per span and sent again as it is; another span, or a cut
// record, encodes it again, into new memory when an abandoned attempt may still read the old.
func TestRecordBatchEncodedOncePerSpan(t *testing.T) {
	o := newOutputNoCluster(t)
	ch := testChunk(10, 1000)
	w1, err := o.recordBatch(ch, span{0, 10})
	if err != nil {
		t.Fatal(err)
	}
	first := slices.Clone(w1)
	w2, _ := o.recordBatch(ch, span{0, 10})
	if &w1[0] != &w2[0] || !bytes.Equal(w2, first) {
		t.Fatal("the retry of the same span encoded the batch again")
	}
	w3, _ := o.recordBatch(ch, span{0, 5})
	if b := parseBatch(t, w3); b.NumRecords != 5 {
		t.Fatalf("span of 5 records encoded %d", b.NumRecords)
	}
	ch.wireOK = false // as after shrinkRecord
	w4, _ := o.recordBatch(ch, span{0, 5})
	if !bytes.Equal(w4, w3) {
		t.Fatal("encoding the same records again gave other bytes")
	}
	held := slices.Clone(w4)
	ch.wireShared = true // an abandoned attempt reads w4
	w5, _ := o.recordBatch(ch, span{5, 10})
	if &w5[0] == &w4[0] || !bytes.Equal(w4, held) {
		t.Fatal("the batch an abandoned attempt may read was written over")
	}
	if b := parseBatch(t, w5); b.NumRecords != 5 {
		t.Fatalf("span of 5 records encoded %d", b.NumRecords)
	}
}

// Encoding allocates nothing once its buffers have grown (no allocation per record).
func TestRecordBatchEncodingAllocatesNothing(t *testing.T) {
	ch := testChunk(1000, 1000)
	for _, comp := range []compress.Compression{0, compress.Lz4} {
		var be batchEncoder
		var dst []byte
		allocs := testing.AllocsPerRun(20, func() {
			var err error
			if dst, err = be.encode(dst[:0], ch, span{0, 1000}, comp, 2000); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("compression %d: %.1f allocations per record batch of 1000 records", comp, allocs)
		}
	}
}

func newOutputNoCluster(t *testing.T) *Output {
	t.Helper()
	cfg := NewConfig()
	cfg.Brokers, cfg.Topic = []string{"127.0.0.1:1"}, "logs"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	o, err := New(cfg, pipeline.Stage{Kind: "output", Type: "kafka", Name: "t", Log: zap.NewNop(), Codecs: testRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// appendVarint and varintLen agree with encoding/binary's zigzag varints.
func TestVarint(t *testing.T) {
	for _, x := range []int64{0, 1, -1, 63, -64, 64, -65, 127, 128, 8191, 8192, 1 << 20, -(1 << 20), 1<<62 + 5, -1 << 63, 1<<63 - 1} {
		got := appendVarint([]byte{9}, x)
		want := binary.AppendVarint([]byte{9}, x)
		if !bytes.Equal(got, want) || varintLen(x) != len(want)-1 {
			t.Errorf("%d: % x (length %d), want % x", x, got, varintLen(x), want)
		}
	}
}
