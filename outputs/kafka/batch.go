package kafka

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/bits"
	"slices"

	"github.com/segmentio/kafka-go/compress"
)

// The output encodes its record batches itself (Kafka's record batch format, magic 2; see
// KIP-98 and the protocol guide's "Record Batch") and hands the bytes to kafka-go's
// Client.RawProduce. Encoding goes straight from the chunk's buffer into one reused buffer,
// once per chunk and span: a retried request sends the same bytes again.
//
// The bytes start with the int32 size that precedes a record set in a produce request
// (kafka-go's RawRecordSet carries it), then the batch:
//
//	 0 size            int32   (this output's prefix: length of the rest)
//	 4 baseOffset      int64   0
//	12 batchLength     int32   bytes after this field
//	16 leaderEpoch     int32   -1
//	20 magic           int8    2
//	21 crc             uint32  CRC-32C of everything from attributes to the end
//	25 attributes      int16   compression codec in bits 0-2, CreateTime
//	27 lastOffsetDelta int32
//	31 firstTimestamp  int64
//	39 maxTimestamp    int64
//	47 producerId      int64   -1 (not idempotent)
//	55 producerEpoch   int16   -1
//	57 baseSequence    int32   -1
//	61 records         int32   count, then the records, compressed as one stream
const (
	offBatchLength     = 12
	offCRC             = 21
	offAttributes      = 25
	offLastOffsetDelta = 27
	offFirstTimestamp  = 31
	offMaxTimestamp    = 39
	offNumRecords      = 61
	batchHeaderLen     = 65
)

// batchHeader is the batch header with its constant fields set.
var batchHeader = [batchHeaderLen]byte{
	// partition leader epoch -1, magic 2
	16: 0xff, 17: 0xff, 18: 0xff, 19: 0xff, 20: 2,
	47: 0xff, 48: 0xff, 49: 0xff, 50: 0xff, 51: 0xff, 52: 0xff, 53: 0xff, 54: 0xff, // producer id -1
	55: 0xff, 56: 0xff, // producer epoch -1
	57: 0xff, 58: 0xff, 59: 0xff, 60: 0xff, // base sequence -1
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// batchEncoder encodes record batches. Not safe for concurrent use; the output keeps a pool
// of them (one per produce request being encoded).
type batchEncoder struct {
	recs []byte // the records, before compression
	lz4  lz4Frame
	out  appendWriter // kafka-go's gzip, snappy and zstd codecs write here
}

// encode appends to dst the record batch of the records sp of c, compressed with comp (0:
// none), and returns it. Records without a timestamp get now (milliseconds since the
// epoch), as kafka-go gives them.
func (be *batchEncoder) encode(dst []byte, c *chunk, sp span, comp compress.Compression, now int64) ([]byte, error) {
	start := len(dst)
	dst = append(dst, batchHeader[:]...)
	var first, maxTS int64
	if comp == 0 {
		dst, first, maxTS = appendRecords(dst, c, sp, now)
	} else {
		be.recs, first, maxTS = appendRecords(be.recs[:0], c, sp, now)
		switch comp {
		case compress.Lz4:
			dst = be.lz4.append(dst, be.recs)
		default:
			codec := comp.Codec()
			if codec == nil {
				return dst[:start], fmt.Errorf("compression codec %d is not available", comp)
			}
			be.out.b = dst
			w := codec.NewWriter(&be.out)
			_, err := w.Write(be.recs)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			dst, be.out.b = be.out.b, nil
			if err != nil {
				return dst[:start], fmt.Errorf("compress a record batch with %s: %w", codec.Name(), err)
			}
		}
	}
	b := dst[start:]
	binary.BigEndian.PutUint32(b[0:], uint32(len(b)-4))
	binary.BigEndian.PutUint32(b[offBatchLength:], uint32(len(b)-offBatchLength-4))
	binary.BigEndian.PutUint16(b[offAttributes:], uint16(comp)&7)
	binary.BigEndian.PutUint32(b[offLastOffsetDelta:], uint32(sp.hi-sp.lo-1))
	binary.BigEndian.PutUint64(b[offFirstTimestamp:], uint64(first))
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(maxTS))
	binary.BigEndian.PutUint32(b[offNumRecords:], uint32(sp.hi-sp.lo))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return dst, nil
}

// appendRecords appends the records sp of c (record format of magic 2: no headers) to dst,
// and returns the first and the largest timestamp.
func appendRecords(dst []byte, c *chunk, sp span, now int64) (_ []byte, first, maxTS int64) {
	recs := c.recs[sp.lo:sp.hi]
	n := 0
	for i := range recs {
		n += int(recs[i].end-recs[i].keyStart) + maxRecordFraming
	}
	dst = slices.Grow(dst, n)
	for i := range recs {
		r := &recs[i]
		ts := r.ts
		if ts == 0 {
			ts = now
		}
		if i == 0 {
			first = ts
		}
		maxTS = max(maxTS, ts)
		delta := ts - first
		key := c.buf[r.keyStart:r.valStart]
		val := c.buf[r.valStart:r.end]
		keyLen := int64(len(key))
		if keyLen == 0 {
			keyLen = -1 // null key
		}
		size := 1 + varintLen(delta) + varintLen(int64(i)) + varintLen(keyLen) + len(key) +
			varintLen(int64(len(val))) + len(val) + 1
		dst = appendVarint(dst, int64(size))
		dst = append(dst, 0) // attributes
		dst = appendVarint(dst, delta)
		dst = appendVarint(dst, int64(i)) // offset delta
		dst = appendVarint(dst, keyLen)
		dst = append(dst, key...)
		dst = appendVarint(dst, int64(len(val)))
		dst = append(dst, val...)
		dst = append(dst, 0) // no headers
	}
	return dst, first, maxTS
}

// maxRecordFraming is the most bytes a record takes beyond its key and value: its length,
// attributes, timestamp delta, offset delta, key and value lengths (varints) and header
// count.
const maxRecordFraming = 5 + 1 + 10 + 5 + 5 + 5 + 1

// varintLen is the size of x as a zigzag varint.
func varintLen(x int64) int {
	ux := uint64(x<<1) ^ uint64(x>>63)
	return (bits.Len64(ux|1) + 6) / 7
}

// appendVarint appends x as a zigzag varint, as binary.AppendVarint, with a fast path for
// the one-byte values most record fields are.
func appendVarint(dst []byte, x int64) []byte {
	ux := uint64(x<<1) ^ uint64(x>>63)
	if ux < 0x80 {
		return append(dst, byte(ux))
	}
	return binary.AppendUvarint(dst, ux)
}

// appendWriter is an io.Writer appending to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
