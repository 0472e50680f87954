package pipeline

import (
	"sync/atomic"
	"time"
)

// Flags mark conditions met while reading an event.
type Flags uint8

const (
	// FlagTruncated: the line or message was longer than the configured limit and was cut
	// (Filebeat writes it as log.flags: ["truncated"]).
	FlagTruncated Flags = 1 << iota
	// FlagInvalidUTF8: the line held invalid UTF-8, replaced by U+FFFD when encoded.
	FlagInvalidUTF8
)

// FileOrigin describes the file a line event was read from. One value is shared by all
// events of one file (never copied per event); it must not be modified once an event that
// points to it was emitted.
//
// A FileOrigin is shared by every event of its file and is never changed once created (a
// new one is made when any of its fields changes); use it by pointer.
type FileOrigin struct {
	Path        string // path the file was opened under
	DeviceID    uint64
	Inode       uint64
	Fingerprint string // hex sha256 of the first 1024 bytes; "" while the file is shorter

	encoded atomic.Pointer[[]byte] // see Encoded
}

// Encoded returns what encode appends for the origin to an empty slice, computed on the
// first call and kept with the origin: the json codec writes the same "file" object for
// every line of a file, so it encodes it once per origin instead of once per event. encode
// must be a pure function of the origin's fields (every caller passes the same one).
func (o *FileOrigin) Encoded(encode func(dst []byte, o *FileOrigin) []byte) []byte {
	if b := o.encoded.Load(); b != nil {
		return *b
	}
	b := encode(nil, o)
	o.encoded.Store(&b)
	return b
}

// Event is one log event travelling through the pipeline.
//
// An event has one of two forms:
//   - a line event (Doc == nil), as the file input creates it: the raw line in Message and
//     its origin in File and Offset. Its JSON document (the wire format of DESIGN.md section 3)
//     is produced by codecs/json with an appending encoder, never through maps.
//   - a document event (Doc != nil), as the kafka input creates it: the event's JSON object
//     in Doc, which never contains "@metadata" (its _id is in ID). Filters that change an
//     event rewrite Doc.
//
// Byte slices may point into a buffer owned by the Batch; a stage that keeps an event beyond
// the batch's acknowledgement must copy what it keeps.
type Event struct {
	// Timestamp is @timestamp, in UTC.
	Timestamp time.Time
	// ID is the source-derived document id (@metadata._id), set once by the input that
	// creates the event (the file input from the stream and offset, the kafka input from
	// the record) and only read by every later stage; "" when the source has none.
	ID string
	// Message is the line without its ending (line events only).
	Message []byte
	// Doc is the JSON object of a document event, without @metadata. Set it with SetDoc,
	// which forgets Top. Doc is one line: it holds no line feed or carriage return (JSON
	// has them only between tokens; the json decoder turns those of a pretty-printed record
	// into spaces, and every stage that writes a Doc writes none), so an output writes it
	// into a line-delimited body (a _bulk request) as it is. SetDoc checks this in
	// race-detector builds (the test suite's).
	Doc []byte
	// Top is an index of Doc's top-level members written by the decoder that wrote Doc
	// (see codecs.TopIndex), so that a filter finds them without walking Doc again; nil
	// when there is none. It belongs to Doc: whoever sets Doc sets Top (SetDoc makes it nil).
	Top []byte
	// File is the origin of a line event; nil otherwise.
	File *FileOrigin
	// Offset is the byte offset of the line in its file, or the Kafka offset of the record.
	Offset int64
	// Partition is the Kafka partition a document event was read from; -1 otherwise.
	Partition int32
	// Topic is the Kafka topic a document event was read from.
	Topic string
	Flags Flags
	// Fields are the fields and tags of the input that read a line event, which the json
	// codec appends to its document; nil without. Set by the runner (see InputFields).
	Fields *InputFields
}

// SetDoc makes doc, one line (see Doc), the event's document, without an index of its
// members (Top).
func (e *Event) SetDoc(doc []byte) {
	checkOneLine(doc)
	e.Doc, e.Top = doc, nil
}

// eventOverhead approximates the fixed memory cost of an Event besides its byte slices.
const eventOverhead = 128

// Size is the approximate memory an event holds, used to bound queues in bytes.
func (e *Event) Size() int { return eventOverhead + len(e.Message) + len(e.Doc) + len(e.Top) }

// Batch is a run of events from one ordering domain (one file, one Kafka partition), in the
// order they were read, sharing one acknowledgement.
//
// Every output that receives a batch calls Ack exactly once, when the batch is durable at
// that output (or permanently set aside in a dead-letter queue). When the last output has
// acknowledged it, the batch's OnAck callback runs once. A batch that is never acknowledged
// (shutdown, crash) is never committed and is read again after a restart.
//
// Outputs must treat Events as read-only: the same batch is shared by every output.
type Batch struct {
	// Events are the batch's events, in source order. Filters may rewrite and remove events
	// before the batch reaches the outputs.
	Events []Event
	// Domain names the ordering domain, for logs (e.g. a path, or "kafka_test/3").
	Domain string

	onAck   func()
	pending atomic.Int32
	bytes   int
	recycle []recycled // buffers returned to their pool after the final acknowledgement
	// events is the event slice returned to eventsPool after the final acknowledgement.
	events     []Event
	eventsPool *Buffers
}

// recycled is a buffer the batch's events point into and the pool it goes back to.
type recycled struct {
	pool *Buffers
	buf  []byte
}

// Recycle hands buf, which the batch's events may point into, back to pool once every
// output acknowledged the batch. Call it before the batch is emitted (inputs) or while
// processing it (filters); never for a buffer that anything outside the batch still uses.
// A batch that is never acknowledged leaves its buffers to the collector.
func (b *Batch) Recycle(pool *Buffers, buf []byte) {
	if pool != nil && cap(buf) > 0 {
		b.recycle = append(b.recycle, recycled{pool, buf})
	}
}

// RecycleEvents hands the batch's event slice (from pool.Events) back to pool once every
// output acknowledged the batch, as Recycle does buffers. Call it before the batch is
// emitted. Filters that shorten Events in place keep using the same slice; it is the slice
// as it is now that goes back.
func (b *Batch) RecycleEvents(pool *Buffers) {
	b.events, b.eventsPool = b.Events, pool
}

// Rewritten is Recycle for a filter that wrote every event's Doc anew into bufs: the buffers
// recycled before (the input's, an earlier filter's) go back to their pools at once, as no
// event points into them any more, and bufs go back after the final acknowledgement. It
// roughly halves what a batch holds while it waits for its outputs. The caller guarantees
// that no event's Doc or Message points into an earlier buffer (a filter that kept any
// event's bytes calls Recycle instead), and that it holds no reference to them itself.
func (b *Batch) Rewritten(pool *Buffers, bufs ...[]byte) {
	for _, r := range b.recycle {
		r.pool.put(r.buf)
	}
	b.recycle = b.recycle[:0]
	for _, buf := range bufs {
		b.Recycle(pool, buf)
	}
}

// NewBatch returns a batch of events whose onAck runs once every output acknowledged it.
// onAck may be nil. It must be cheap and must not block: typically it marks a Tracker entry.
func NewBatch(domain string, events []Event, onAck func()) *Batch {
	b := &Batch{Events: events, Domain: domain, onAck: onAck}
	b.pending.Store(1)
	for i := range events {
		b.bytes += events[i].Size()
	}
	return b
}

// Bytes is the approximate memory the batch holds, as counted when it was created.
func (b *Batch) Bytes() int { return b.bytes }

// Len is the number of events in the batch.
func (b *Batch) Len() int { return len(b.Events) }

// Retain adds n expected acknowledgements; the runner calls it before fanning a batch out to
// n outputs (a new batch expects one). It must be called before the batch is handed to any
// output.
func (b *Batch) Retain(n int) { b.pending.Add(int32(n)) }

// Ack acknowledges the batch once for one holder. The batch's onAck runs when the count of
// expected acknowledgements reaches zero. Extra calls beyond the expected count are ignored.
func (b *Batch) Ack() {
	for {
		p := b.pending.Load()
		if p <= 0 {
			return
		}
		if b.pending.CompareAndSwap(p, p-1) {
			if p == 1 {
				if b.onAck != nil {
					b.onAck()
				}
				for _, r := range b.recycle {
					r.pool.put(r.buf)
				}
				b.recycle = nil
				if b.eventsPool != nil {
					b.eventsPool.putEvents(b.events)
					b.events, b.eventsPool = nil, nil
				}
			}
			return
		}
	}
}

// Acked reports whether every expected acknowledgement arrived.
func (b *Batch) Acked() bool { return b.pending.Load() <= 0 }
