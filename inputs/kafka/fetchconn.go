package kafka

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"strconv"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/segmentio/kafka-go/protocol/fetch"
	"github.com/segmentio/kafka-go/protocol/saslauthenticate"
	"github.com/segmentio/kafka-go/protocol/saslhandshake"
	"github.com/segmentio/kafka-go/sasl"
)

// record is one Kafka record of a fetch. Key and Value point into the fetch's buffers
// (fetchBuf): they are valid until the buffers go back to their pool.
type record struct {
	Offset int64
	Time   time.Time // UTC; zero when the record has no timestamp (-1 on the wire)
	Key    []byte    // nil for a null key
	Value  []byte    // nil for a null value
}

// fetchBuf holds what one fetch read: the response as it came over the wire, the
// decompressed record batches and the records pointing into either. The partitions of an
// input share a pool of them (fetchBufs), so that an idle partition holds none.
type fetchBuf struct {
	raw  []byte // the fetch response
	dec  []byte // decompressed batches, appended one after the other
	recs []record
}

// fetchConn is a connection to the leader of one partition, used for fetch requests only.
//
// kafka-go's Conn.ReadBatch allocated every record's key and value (the largest source of
// garbage in the indexer) and copied each through a bufio.Reader. fetchConn reads a whole
// response into a reused buffer, checks and decompresses each record batch into another,
// and hands out records that point into them: no allocation per record. Requests are
// encoded by kafka-go's protocol package; only the fetch response is parsed here.
type fetchConn struct {
	conn     net.Conn
	clientID string
	corr     int32
	src      bytes.Reader // reused reader over a compressed batch
}

// Versions spoken by fetchConn. Fetch v4 (Kafka 0.11) is the first with record batches
// v2 and the oldest Kafka 4 still accepts; SaslHandshake v1 with SaslAuthenticate v0 is
// what kafka-go's own connections use.
const (
	fetchVersion         = 4
	saslHandshakeVersion = 1
	saslAuthVersion      = 0
)

// maxFetchResponse bounds the size a fetch response may announce: a broker returns at
// most max_bytes plus one record batch, and a batch is at most the broker's
// message.max.bytes (1 MiB by default). A larger size is a protocol error (or not Kafka).
const maxFetchResponse = 256 << 20

// dialFetch connects to the broker at addr with dial (TLS included when configured) and
// authenticates with mech when it is not nil.
func dialFetch(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error),
	mech sasl.Mechanism, clientID, addr string) (*fetchConn, error) {
	conn, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &fetchConn{conn: conn, clientID: clientID}
	if mech != nil {
		if err := c.authenticate(ctx, mech, addr); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return c, nil
}

// Close closes the connection; a fetch in progress returns an error.
func (c *fetchConn) Close() error { return c.conn.Close() }

// authenticate runs the SASL exchange of mech on the connection.
func (c *fetchConn) authenticate(ctx context.Context, mech sasl.Mechanism, addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.conn.SetDeadline(deadline); err != nil {
		return err
	}
	defer c.conn.SetDeadline(time.Time{})
	res, err := c.roundTrip(saslHandshakeVersion, &saslhandshake.Request{Mechanism: mech.Name()})
	if err != nil {
		return fmt.Errorf("SASL handshake: %w", err)
	}
	if code := res.(*saslhandshake.Response).ErrorCode; code != 0 {
		return fmt.Errorf("SASL handshake: mechanism %s: %w", mech.Name(), kafkago.Error(code))
	}
	host, port, _ := net.SplitHostPort(addr)
	portNum, _ := strconv.Atoi(port)
	sess, state, err := mech.Start(sasl.WithMetadata(ctx, &sasl.Metadata{Host: host, Port: portNum}))
	if err != nil {
		return fmt.Errorf("SASL authentication could not start: %w", err)
	}
	for done := false; !done; {
		res, err := c.roundTrip(saslAuthVersion, &saslauthenticate.Request{AuthBytes: state})
		if errors.Is(err, io.EOF) {
			// A broker may end a failed exchange by closing the connection.
			return kafkago.SASLAuthenticationFailed
		}
		if err != nil {
			return fmt.Errorf("SASL authentication: %w", err)
		}
		r := res.(*saslauthenticate.Response)
		if r.ErrorCode != 0 {
			return fmt.Errorf("SASL authentication: %w: %s", kafkago.Error(r.ErrorCode), r.ErrorMessage)
		}
		if done, state, err = sess.Next(ctx, r.AuthBytes); err != nil {
			return fmt.Errorf("SASL authentication failed: %w", err)
		}
	}
	return nil
}

func (c *fetchConn) roundTrip(version int16, req protocol.Message) (protocol.Message, error) {
	c.corr++
	return protocol.RoundTrip(c.conn, version, c.corr, c.clientID, req)
}

// fetchResult is what a fetch learnt besides the records.
type fetchResult struct {
	// next is the offset after the last whole record batch of the response (at least the
	// fetch offset): past records that compaction removed and past control batches.
	next int64
	// hwm is the partition's high watermark; -1 when the response did not carry one.
	hwm int64
}

// fetch asks for the records of topic/partition from offset on (at most maxBytes, waiting
// up to maxWait for the first), and appends them to buf.recs. Records below offset (a batch
// starts where the offset is inside it) are left out, as are control batches. Records of
// the batches read before an error are kept in buf.recs; the error is returned with them.
// A partition-level error of the broker is returned as a kafkago.Error.
func (c *fetchConn) fetch(buf *fetchBuf, topic string, partition int, offset int64, maxBytes int, maxWait time.Duration) (fetchResult, error) {
	res := fetchResult{next: offset, hwm: -1}
	if err := c.conn.SetDeadline(time.Now().Add(maxWait + 10*time.Second)); err != nil {
		return res, err
	}
	c.corr++
	req := &fetch.Request{
		ReplicaID:   -1,
		MaxWaitTime: int32(maxWait.Milliseconds()),
		MinBytes:    1,
		MaxBytes:    int32(maxBytes),
		Topics: []fetch.RequestTopic{{Topic: topic, Partitions: []fetch.RequestPartition{{
			Partition: int32(partition), FetchOffset: offset, PartitionMaxBytes: int32(maxBytes),
		}}}},
	}
	if err := protocol.WriteRequest(c.conn, fetchVersion, c.corr, c.clientID, req); err != nil {
		return res, fmt.Errorf("fetch request: %w", err)
	}
	var head [8]byte
	if _, err := io.ReadFull(c.conn, head[:]); err != nil {
		return res, fmt.Errorf("fetch response: %w", err)
	}
	size := int32(binary.BigEndian.Uint32(head[:4]))
	if corr := int32(binary.BigEndian.Uint32(head[4:])); corr != c.corr {
		return res, fmt.Errorf("fetch response: correlation id %d, want %d", corr, c.corr)
	}
	if size < 4 || size > maxFetchResponse {
		return res, fmt.Errorf("fetch response: size %d out of range", size)
	}
	n := int(size) - 4
	if cap(buf.raw) < n {
		buf.raw = make([]byte, n)
	}
	buf.raw = buf.raw[:n]
	if _, err := io.ReadFull(c.conn, buf.raw); err != nil {
		return res, fmt.Errorf("fetch response: %w", err)
	}
	return c.parseFetch(buf, topic, partition, offset, res)
}

// parseFetch reads the fetch response v4 in buf.raw (after the correlation id):
//
//	throttle_time_ms int32, [topic string, [partition int32, error_code int16,
//	high_watermark int64, last_stable_offset int64, [producer_id int64, first_offset int64],
//	records bytes]]
func (c *fetchConn) parseFetch(buf *fetchBuf, topic string, partition int, offset int64, res fetchResult) (fetchResult, error) {
	r := wireReader{b: buf.raw}
	r.int32() // throttle time
	for nt := r.int32(); nt > 0 && r.err == nil; nt-- {
		name := r.str()
		for np := r.int32(); np > 0 && r.err == nil; np-- {
			id := r.int32()
			code := r.int16()
			hwm := r.int64()
			r.int64() // last stable offset
			if na := r.int32(); na > 0 {
				r.skip(int(na) * 16) // aborted transactions (read_committed only)
			}
			records := r.bytes()
			if r.err != nil || string(name) != topic || int(id) != partition {
				continue
			}
			if code != 0 {
				return res, kafkago.Error(code)
			}
			res.hwm = hwm
			return c.parseBatches(buf, records, offset, res)
		}
	}
	if r.err != nil {
		return res, fmt.Errorf("fetch response: %w", r.err)
	}
	return res, fmt.Errorf("fetch response: no data for %s/%d", topic, partition)
}

// Record batch v2 layout: the offsets of the fields in the batch header.
const (
	batchLengthEnd   = 12 // base_offset int64, batch_length int32
	batchMagic       = 16 // after partition_leader_epoch int32
	batchCRC         = 17
	batchAttributes  = 21 // the CRC covers from here to the end of the batch
	batchLastDelta   = 23
	batchFirstTime   = 27
	batchMaxTime     = 35
	batchRecordCount = 57
	batchHeaderLen   = 61

	attrCompression   = 0x07
	attrLogAppendTime = 0x08
	attrControl       = 0x20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// parseBatches appends the records of the record batches in data. A batch cut off at the
// end of data (the broker fills max_bytes with whole batches, but may end with a partial
// one) is left for the next fetch.
func (c *fetchConn) parseBatches(buf *fetchBuf, data []byte, offset int64, res fetchResult) (fetchResult, error) {
	for len(data) >= batchLengthEnd {
		base := int64(binary.BigEndian.Uint64(data))
		length := int(int32(binary.BigEndian.Uint32(data[8:])))
		if length < batchHeaderLen-batchLengthEnd || len(data) < batchLengthEnd+length {
			if length >= 0 && length < batchHeaderLen-batchLengthEnd && len(data) >= batchLengthEnd+length {
				return res, fmt.Errorf("record batch at offset %d: length %d too short", base, length)
			}
			break // partial batch at the end
		}
		batch := data[:batchLengthEnd+length]
		data = data[batchLengthEnd+length:]
		if magic := batch[batchMagic]; magic != 2 {
			return res, fmt.Errorf("record batch at offset %d: message format v%d is not supported (Kafka 0.11 or newer writes v2)", base, magic)
		}
		if sum := crc32.Checksum(batch[batchAttributes:], castagnoli); sum != binary.BigEndian.Uint32(batch[batchCRC:]) {
			return res, fmt.Errorf("record batch at offset %d: CRC mismatch (corrupt in transit or on the broker)", base)
		}
		attrs := binary.BigEndian.Uint16(batch[batchAttributes:])
		end := base + int64(int32(binary.BigEndian.Uint32(batch[batchLastDelta:]))) + 1
		if attrs&attrControl != 0 || end <= offset {
			res.next = max(res.next, end)
			continue
		}
		first := int64(binary.BigEndian.Uint64(batch[batchFirstTime:]))
		maxTime := int64(binary.BigEndian.Uint64(batch[batchMaxTime:]))
		count := int(int32(binary.BigEndian.Uint32(batch[batchRecordCount:])))
		body := batch[batchHeaderLen:]
		if codec := compress.Compression(attrs & attrCompression); codec != compress.None {
			var err error
			if body, err = c.decompress(buf, codec, body); err != nil {
				return res, fmt.Errorf("record batch at offset %d: %w", base, err)
			}
		}
		if err := appendRecords(buf, body, count, base, first, maxTime, attrs&attrLogAppendTime != 0, offset); err != nil {
			return res, fmt.Errorf("record batch at offset %d: %w", base, err)
		}
		res.next = max(res.next, end)
	}
	return res, nil
}

// decompress appends the decompressed body to buf.dec and returns it.
func (c *fetchConn) decompress(buf *fetchBuf, codec compress.Compression, body []byte) ([]byte, error) {
	cc := codec.Codec()
	if cc == nil {
		return nil, fmt.Errorf("unknown compression codec %d", codec)
	}
	c.src.Reset(body)
	zr := cc.NewReader(&c.src)
	defer zr.Close()
	start := len(buf.dec)
	for {
		if cap(buf.dec)-len(buf.dec) < 4096 {
			if len(buf.dec)-start > maxFetchResponse {
				return nil, fmt.Errorf("%s: decompresses to more than %d MiB", cc.Name(), maxFetchResponse>>20)
			}
			// Only this batch moves to the larger array: the records of earlier ones point
			// into the old array, which is never written again.
			cur := buf.dec[start:]
			nb := make([]byte, len(cur), max(2*cap(buf.dec), len(cur)+4*len(body), 64<<10))
			copy(nb, cur)
			buf.dec, start = nb, 0
		}
		n, err := zr.Read(buf.dec[len(buf.dec):cap(buf.dec)])
		buf.dec = buf.dec[:len(buf.dec)+n]
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cc.Name(), err)
		}
	}
	return buf.dec[start:], nil
}

// appendRecords appends the count records in body (records v2) to buf.recs, leaving out
// those below offset.
func appendRecords(buf *fetchBuf, body []byte, count int, base, firstTime, maxTime int64, logAppend bool, offset int64) error {
	r := wireReader{b: body}
	for i := 0; i < count; i++ {
		length := r.varint()
		if r.err != nil || length < 0 || int64(len(r.b)-r.i) < length {
			return fmt.Errorf("record %d of %d: length out of range", i, count)
		}
		rec := wireReader{b: r.b[r.i : r.i+int(length)]}
		r.i += int(length)
		rec.skip(1) // attributes
		tsDelta := rec.varint()
		offDelta := rec.varint()
		key := rec.varbytes()
		value := rec.varbytes()
		// Headers follow; logpipe reads none of them.
		if rec.err != nil {
			return fmt.Errorf("record %d of %d: %w", i, count, rec.err)
		}
		off := base + offDelta
		if off < offset {
			continue
		}
		ts := firstTime + tsDelta
		if logAppend {
			ts = maxTime
		}
		var t time.Time // none (-1), or before 1970: zero, as kafka-go's readers had it
		if ts > 0 {
			t = time.UnixMilli(ts).UTC()
		}
		buf.recs = append(buf.recs, record{Offset: off, Time: t, Key: key, Value: value})
	}
	return nil
}

// wireReader reads Kafka's big-endian and varint encodings from b; the first problem
// sticks in err, and every read after it returns zero values.
type wireReader struct {
	b   []byte
	i   int
	err error
}

var errShort = errors.New("truncated")

func (r *wireReader) need(n int) bool {
	if r.err != nil {
		return false
	}
	if n < 0 || len(r.b)-r.i < n {
		r.err = errShort
		return false
	}
	return true
}

func (r *wireReader) skip(n int) {
	if r.need(n) {
		r.i += n
	}
}

func (r *wireReader) int16() int16 {
	if !r.need(2) {
		return 0
	}
	v := int16(binary.BigEndian.Uint16(r.b[r.i:]))
	r.i += 2
	return v
}

func (r *wireReader) int32() int32 {
	if !r.need(4) {
		return 0
	}
	v := int32(binary.BigEndian.Uint32(r.b[r.i:]))
	r.i += 4
	return v
}

func (r *wireReader) int64() int64 {
	if !r.need(8) {
		return 0
	}
	v := int64(binary.BigEndian.Uint64(r.b[r.i:]))
	r.i += 8
	return v
}

// str reads a string (int16 length); the result points into b.
func (r *wireReader) str() []byte {
	n := int(r.int16())
	if n < 0 || !r.need(n) {
		return nil
	}
	r.i += n
	return r.b[r.i-n : r.i]
}

// bytes reads nullable bytes (int32 length); the result points into b.
func (r *wireReader) bytes() []byte {
	n := int(r.int32())
	if n < 0 || !r.need(n) {
		return nil
	}
	r.i += n
	return r.b[r.i-n : r.i : r.i]
}

// varint reads a zigzag varint (at most 64 bits).
func (r *wireReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.i:])
	if n <= 0 {
		r.err = errors.New("bad varint")
		return 0
	}
	r.i += n
	return v
}

// varbytes reads nullable bytes with a varint length; the result points into b.
func (r *wireReader) varbytes() []byte {
	n := r.varint()
	if n < 0 || r.err != nil {
		return nil
	}
	if !r.need(int(min(n, 1<<31))) {
		return nil
	}
	r.i += int(n)
	return r.b[r.i-int(n) : r.i : r.i]
}
