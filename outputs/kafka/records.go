package kafka

import (
	"io"
	"time"

	"github.com/segmentio/kafka-go"
)

// recordReader hands the records of a chunk to kafka-go's encoder without allocating per
// record: the Record and the two byte readers are reused (kafka-go's RecordReader contract
// lets a Record be valid only until the next ReadRecord). One reader serves one attempt.
type recordReader struct {
	c        *chunk
	i, end   int // next record, end of the range
	rec      kafka.Record
	key, val bytesReader
}

func (r *recordReader) ReadRecord() (*kafka.Record, error) {
	if r.i >= r.end {
		return nil, io.EOF
	}
	rec := r.c.recs[r.i]
	r.i++
	r.val = bytesReader{b: r.c.buf[rec.valStart:rec.end]}
	r.rec = kafka.Record{Value: &r.val}
	if rec.ts != 0 {
		r.rec.Time = time.UnixMilli(rec.ts)
	}
	if rec.valStart > rec.keyStart {
		r.key = bytesReader{b: r.c.buf[rec.keyStart:rec.valStart]}
		r.rec.Key = &r.key
	}
	return &r.rec, nil
}

// bytesReader is a kafka-go Bytes over a slice. WriteTo lets io.Copy skip its 32 KiB buffer.
type bytesReader struct {
	b   []byte
	off int
}

func (b *bytesReader) Len() int { return len(b.b) - b.off }

func (b *bytesReader) Read(p []byte) (int, error) {
	if b.off >= len(b.b) {
		return 0, io.EOF
	}
	n := copy(p, b.b[b.off:])
	b.off += n
	return n, nil
}

func (b *bytesReader) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(b.b[b.off:])
	b.off += n
	return int64(n), err
}

func (b *bytesReader) Close() error { return nil }

// partitionFor picks the partition of a keyed record as Kafka's default partitioner does
// (murmur2 of the key, made positive, modulo the partition count), so logpipe places keys
// where Java clients and Filebeat's hash partitioner with murmur2 would.
func partitionFor(key []byte, n int) int {
	return int(murmur2(key)&0x7fffffff) % n
}

// murmur2 is the 32-bit MurmurHash2 with Kafka's seed.
func murmur2(data []byte) uint32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	length := len(data)
	h := seed ^ uint32(length)
	n := length / 4
	for i := 0; i < n; i++ {
		i4 := i * 4
		k := uint32(data[i4]) | uint32(data[i4+1])<<8 | uint32(data[i4+2])<<16 | uint32(data[i4+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	switch length % 4 {
	case 3:
		h ^= uint32(data[(length&^3)+2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[(length&^3)+1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[length&^3])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}
