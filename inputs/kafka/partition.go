package kafka

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/logpipe/logpipe/pipeline"
	kafkago "github.com/segmentio/kafka-go"
	"go.uber.org/zap"
)

// partition consumes one assigned partition during one generation.
type partition struct {
	gs     *generation
	in     *Input
	log    *zap.Logger
	topic  string
	id     int
	domain string // "topic/partition"
	// assigned is the offset from the assignment: the group's committed offset, or
	// FirstOffset/LastOffset when the group has none.
	assigned int64
	// tracker is nil until the start offset is resolved; it is replaced only when the
	// position moves backwards (offset out of range after a topic was recreated).
	tracker atomic.Pointer[pipeline.Tracker]
	acked   chan struct{} // signalled by every ack of this partition's batches
	reached atomic.Bool   // once mode: fetched up to the end offset
	end     int64         // once mode: end offset seen at start; -1 otherwise

	lastCommitted int64        // guarded by gs.mu
	emittedEnd    int64        // end of the last batch added to tracker (owned by run)
	hwm           atomic.Int64 // high watermark as of the last fetch; -1 before (metrics)
	fetched       atomic.Int64 // next offset to fetch (metrics)

	lastHeld int64 // bytes the last fetch held (budget estimate); -1 before the first
	dec      pipeline.Decoder
	hash     xxhash.Digest // scratch for record ids
}

func newPartition(gs *generation, topic string, id int, assigned int64) *partition {
	p := &partition{
		gs:            gs,
		in:            gs.in,
		topic:         topic,
		id:            id,
		domain:        topic + "/" + strconv.Itoa(id),
		assigned:      assigned,
		acked:         make(chan struct{}, 1),
		end:           -1,
		lastCommitted: assigned,
		dec:           gs.in.newDec(),
		lastHeld:      -1,
	}
	p.log = gs.log.With(zap.String("partition", p.domain))
	p.hwm.Store(-1)
	if gs.in.stage.Once {
		if e, ok := gs.in.ends[topicPartition{topic, id}]; ok {
			p.end = e
		}
	}
	return p
}

// onAck returns the acknowledgement of the batch *b (set once the batch is built): it marks
// the ticket, observes the end-to-end latency and wakes whoever waits for acks.
func (p *partition) onAck(tr *pipeline.Tracker, tk pipeline.Ticket, b **pipeline.Batch) func() {
	return func() {
		tr.Ack(tk)
		p.in.metrics.observeLatency(*b)
		select {
		case p.acked <- struct{}{}:
		default:
		}
		select {
		case p.gs.acked <- struct{}{}:
		default:
		}
	}
}

// run fetches and emits until ctx ends or, in once mode, the end offset is reached.
func (p *partition) run(ctx context.Context) {
	cfg := p.in.cfg
	next, err := p.resolve(ctx, p.assigned)
	if err != nil {
		return // ctx ended
	}
	p.tracker.Store(pipeline.NewTracker(next))
	p.emittedEnd = next
	p.fetched.Store(next)
	p.log.Debug("consuming partition", zap.Int64("offset", next))

	var conn *fetchConn
	var unlink func() bool
	closeConn := func() {
		if conn != nil {
			unlink()
			conn.Close()
			conn = nil
		}
	}
	defer closeConn()
	failures := 0
	for ctx.Err() == nil {
		if p.end >= 0 && next >= p.end {
			p.reached.Store(true)
			p.in.signalReached()
			p.log.Debug("once: reached the end offset", zap.Int64("offset", next))
			return
		}
		if !p.waitInFlight(ctx) {
			return
		}
		if failures > 0 && !sleep(ctx, pipeline.DefaultBackoff.Delay(failures)) {
			return
		}
		if conn == nil {
			c, err := p.dial(ctx)
			if err != nil {
				failures++
				p.in.fetchOutage.fail(p.domain, fmt.Errorf("connecting to the partition leader: %w", err),
					zap.Strings("brokers", cfg.Brokers), zap.Int("attempt", failures))
				continue
			}
			conn = c
			unlink = context.AfterFunc(ctx, func() { c.Close() })
		}
		n, pos, err := p.fetch(ctx, conn, next)
		if err == nil || errors.Is(err, kafkago.RequestTimedOut) {
			p.in.fetchOutage.ok(p.domain)
		}
		if err == nil {
			failures = 0
			if n == 0 && pos > next {
				// Only compacted records or control markers: move past them.
				p.skipTo(pos)
			}
		}
		if pos > next {
			next = pos
			p.fetched.Store(next)
		}
		if err == nil {
			continue
		}
		var ee *emitError
		if ctx.Err() != nil || errors.As(err, &ee) {
			return // the pipeline does not take batches any more
		}
		switch {
		case errors.Is(err, kafkago.OffsetOutOfRange):
			closeConn()
			reset, rerr := p.resolve(ctx, cfg.StartAt)
			if rerr != nil {
				return
			}
			p.log.Warn("offset out of range; resetting by start_offset",
				zap.Int64("offset", next), zap.Int64("reset_to", reset), zap.String("start_offset", cfg.StartOffset))
			if !p.moveTo(ctx, reset) {
				return
			}
			next = reset
			p.fetched.Store(next)
		case errors.Is(err, kafkago.RequestTimedOut):
			// The broker had nothing within fetch_max_wait: fetch again.
		default:
			failures++
			closeConn()
			p.in.fetchOutage.fail(p.domain, err, zap.Strings("brokers", cfg.Brokers),
				zap.Int64("offset", next), zap.Int("attempt", failures))
		}
	}
}

// moveTo sets the position to off after an offset reset. A forward move is recorded in the
// tracker (the skipped range is gone from Kafka); a backward move waits for every emitted
// batch to be acknowledged and starts a new tracker.
func (p *partition) moveTo(ctx context.Context, off int64) bool {
	if off >= p.emittedEnd {
		p.skipTo(off)
		return true
	}
	tr := p.tracker.Load()
	for tr.Pending() > 0 {
		select {
		case <-p.acked:
		case <-ctx.Done():
			return false
		}
	}
	p.tracker.Store(pipeline.NewTracker(off))
	p.emittedEnd = off
	return true
}

// skipTo moves the position forward over offsets that hold no records to emit.
func (p *partition) skipTo(off int64) {
	tr := p.tracker.Load()
	tr.Ack(tr.Add(off))
	p.emittedEnd = off
}

// waitInFlight blocks while max_in_flight batches of this partition are unacknowledged.
func (p *partition) waitInFlight(ctx context.Context) bool {
	tr := p.tracker.Load()
	for tr.Pending() >= p.in.cfg.MaxInFlight {
		select {
		case <-p.acked:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// resolve turns FirstOffset/LastOffset into an absolute offset, retrying until ctx ends.
func (p *partition) resolve(ctx context.Context, off int64) (int64, error) {
	if off >= 0 {
		return off, nil
	}
	var abs int64
	err := pipeline.Retry(ctx, pipeline.DefaultBackoff, func(attempt int, err error, delay time.Duration) {
		p.in.fetchOutage.fail(p.domain, fmt.Errorf("reading the partition's offsets: %w", err),
			zap.Strings("brokers", p.in.cfg.Brokers), zap.Int("attempt", attempt))
	}, func(ctx context.Context) error {
		offs, err := p.in.listOffsets(ctx, p.topic, []int{p.id}, off)
		if err != nil {
			return err
		}
		abs = offs[p.id]
		return nil
	})
	return abs, err
}

// dial connects to the current leader of the partition.
func (p *partition) dial(ctx context.Context) (*fetchConn, error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	md, err := p.in.client.Metadata(dctx, &kafkago.MetadataRequest{Topics: []string{p.topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	for _, t := range md.Topics {
		if t.Name != p.topic {
			continue
		}
		if t.Error != nil {
			return nil, fmt.Errorf("metadata of topic %q: %w", p.topic, t.Error)
		}
		for _, pt := range t.Partitions {
			if pt.ID != p.id {
				continue
			}
			if pt.Error != nil && !errors.Is(pt.Error, kafkago.ReplicaNotAvailable) {
				return nil, fmt.Errorf("metadata of %s: %w", p.domain, pt.Error)
			}
			if pt.Leader.Host == "" {
				return nil, fmt.Errorf("%s has no leader", p.domain)
			}
			addr := net.JoinHostPort(pt.Leader.Host, strconv.Itoa(pt.Leader.Port))
			return dialFetch(dctx, p.in.dialRaw, p.in.dialer.SASLMechanism, p.in.cfg.ClientID, addr)
		}
	}
	return nil, fmt.Errorf("%s not found in metadata", p.domain)
}

// fetchMaxBytes caps the bytes asked for by one fetch (Kafka still returns at least one
// whole record batch). The value is compressed on the wire: 128 KiB of lz4-compressed JSON
// events decode to about a megabyte of documents, all alive until the chunk is emitted.
// Halving it from 256 KiB lowered the indexer's peak RSS by about 12 MiB (1M lines, 2 cores)
// at the same throughput: every fetch in flight and every pooled fetch buffer is half
// as large.
const fetchMaxBytes = 128 << 10

// fetch reads one chunk starting at off, emits it as one or more batches (split by
// batch_events and batch_bytes), and returns the number of records and the position after
// the chunk.
func (p *partition) fetch(ctx context.Context, conn *fetchConn, off int64) (int, int64, error) {
	cfg := p.in.cfg
	// Reserve room in the input's fetch budget for what this fetch will hold.
	budget := p.in.budget
	reserved, ok := budget.acquire(ctx, p.lastHeld)
	if !ok {
		return 0, off, &emitError{ctx.Err()}
	}
	// The fetch buffer goes back to the pool as soon as the chunk's last batch is decoded
	// (the documents are copies): a partition waiting for room in the pipeline's queue
	// holds its decoded batch, not the fetched records as well.
	fb := p.in.fetchBufs.get()
	decoded := func() {
		if fb != nil {
			p.in.fetchBufs.put(fb)
			fb = nil
		}
	}
	defer decoded()
	res, rerr := conn.fetch(fb, p.topic, p.id, off, min(cfg.BatchByteLimit, fetchMaxBytes), cfg.FetchWait)
	msgs := fb.recs
	pos := res.next
	if res.hwm >= 0 {
		p.hwm.Store(res.hwm)
	}
	if p.end >= 0 && pos > p.end {
		// Once mode: nothing at or beyond the end offset seen at start.
		n := len(msgs)
		for n > 0 && msgs[n-1].Offset >= p.end {
			n--
		}
		msgs, pos, rerr = msgs[:n], p.end, nil
	}
	held := heldBytes(msgs)
	budget.adjust(reserved, held)
	p.lastHeld = held
	if len(msgs) == 0 {
		budget.release(held)
	} else {
		// Records read before an error are good: emit them, and report the error after.
		if last := msgs[len(msgs)-1].Offset + 1; rerr != nil {
			pos = last
		} else {
			pos = max(pos, last)
		}
		// emitChunk releases the budget of each batch the pipeline took; the rest here.
		released, err := p.emitChunk(ctx, msgs, pos, decoded)
		budget.release(held - released)
		if err != nil {
			return 0, off, err
		}
	}
	if rerr != nil {
		return len(msgs), pos, rerr
	}
	return len(msgs), max(pos, off), nil
}

// fetchBufs is a pool of the buffers fetches read into (fetchBuf), shared by the partitions
// of an input. A fetch of 128 KiB of compressed records holds a thousand records and a
// megabyte or more of decompressed batches: buffers kept per partition would hold that much
// for every idle partition. The pool keeps at most maxIdle buffers between fetches,
// whatever the number of partitions, and keeps them across collections: a sync.Pool
// dropped them at every other collection, and each new buffer grew again by doubling,
// which made the decompression the indexer's second largest allocation.
type fetchBufs struct {
	maxIdle int // see idleFetchBufs
	mu      sync.Mutex
	idle    []*fetchBuf
}

// idleFetchBufs is how many fetch buffers an input with the given fetch budget keeps
// between fetches: about as many as the budget lets run at once (a fetch holds about a
// megabyte decoded), at least four (the default budget of 4 MiB).
func idleFetchBufs(budget int64) int { return int(max(4, budget>>20)) }

// Buffers that grew beyond these (records much smaller, or batches much larger, than
// usual) are let go rather than kept.
const (
	maxPooledRecs  = 1 << 16
	maxPooledBytes = 16 << 20
)

func (f *fetchBufs) get() *fetchBuf {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := len(f.idle); n > 0 {
		b := f.idle[n-1]
		f.idle[n-1] = nil
		f.idle = f.idle[:n-1]
		return b
	}
	return &fetchBuf{recs: make([]record, 0, 1024)}
}

// put keeps b for another fetch, its records cleared: nothing points into the buffers once
// the records are decoded (Decode copies).
func (f *fetchBufs) put(b *fetchBuf) {
	clear(b.recs)
	b.recs = b.recs[:0]
	if cap(b.recs) > maxPooledRecs {
		b.recs = nil
	}
	if cap(b.raw) > maxPooledBytes {
		b.raw = nil
	}
	if cap(b.dec) > maxPooledBytes {
		b.dec = nil
	}
	b.raw, b.dec = b.raw[:0], b.dec[:0]
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.idle) < f.maxIdle {
		f.idle = append(f.idle, b)
	}
}

// emitChunk decodes msgs into batches of at most batch_events events and about
// batch_bytes bytes; the last batch ends at pos. It calls decoded once the last batch is
// decoded (msgs must not be read after that), releases the fetch budget of each batch once
// emit returned, and returns the bytes released.
func (p *partition) emitChunk(ctx context.Context, msgs []record, pos int64, decoded func()) (int64, error) {
	cfg := p.in.cfg
	released := int64(0)
	for start := 0; start < len(msgs); {
		if start > 0 && !p.waitInFlight(ctx) {
			return released, &emitError{ctx.Err()}
		}
		end, size, weight := start, 0, int64(0) // weight: the batch's share of the budget (heldBytes)
		for end < len(msgs) && end-start < cfg.BatchEvents && (end == start || size+len(msgs[end].Value) <= cfg.BatchByteLimit) {
			size += len(msgs[end].Value)
			weight += int64(len(msgs[end].Value)+len(msgs[end].Key)) + msgOverhead
			end++
		}
		batchEnd := msgs[end-1].Offset + 1
		if end == len(msgs) {
			batchEnd = pos
		}
		events, first, last := p.decode(msgs[start:end], size)
		if end == len(msgs) {
			decoded()
		}
		tr := p.tracker.Load()
		batchEnd = max(batchEnd, p.emittedEnd) // never below an earlier batch's end
		tk := tr.Add(batchEnd)
		p.emittedEnd = batchEnd
		var b *pipeline.Batch
		b = pipeline.NewBatch(p.domain, events, p.onAck(tr, tk, &b))
		b.Recycle(p.in.stage.Buffers, first)
		b.RecycleEvents(p.in.stage.Buffers)
		if cap(last) != cap(first) { // outgrown: the documents are in both
			b.Recycle(p.in.stage.Buffers, last)
		}
		err := p.in.emit(ctx, b)
		p.in.budget.release(weight) // in the pipeline's queue now (or dropped)
		released += weight
		if err != nil {
			// Never acked: the position stays below this batch.
			return released, &emitError{err}
		}
		start = end
	}
	return released, nil
}

// decode turns records into document events. Documents share one buffer per batch, taken
// from the process's pool and returned (the batch recycles it when acknowledged); the ids
// of events without @metadata._id (see AppendRecordID) share one string per batch.
//
// It returns the events and the first and last buffer the documents were written to (the
// same one unless the estimate was short and append moved on to a larger one).
func (p *partition) decode(msgs []record, size int) (events []pipeline.Event, first, last []byte) {
	events = p.in.stage.Buffers.Events(len(msgs))[:len(msgs)]
	// Per event: room for the decoder's index of the document's members, written after it
	// (codecs.TopIndex, 16 bytes a member: 132 for a logpipe or Filebeat event), and for a
	// rewritten @timestamp; the @metadata member the decoder leaves out (about 100 bytes)
	// usually makes up for part of it.
	first = p.in.stage.Buffers.Get(size + len(msgs)*160)
	buf := first
	missing := 0
	for i := range msgs {
		m := &msgs[i]
		e := &events[i]
		buf = p.dec.Decode(buf, m.Value, m.Time, e)
		e.Topic = p.topic
		e.Partition = int32(p.id)
		e.Offset = m.Offset
		if e.ID == "" {
			missing++
		}
	}
	if missing > 0 {
		ids := make([]byte, 0, missing*(len(p.domain)+12+1+recordHashLen))
		bounds := make([]int, 0, missing+1)
		for i := range events {
			if events[i].ID != "" {
				continue
			}
			bounds = append(bounds, len(ids))
			ids = AppendRecordID(ids, &p.hash, p.topic, p.id, msgs[i].Offset, msgs[i].Time, msgs[i].Value)
		}
		bounds = append(bounds, len(ids))
		all := string(ids)
		k := 0
		for i := range events {
			if events[i].ID != "" {
				continue
			}
			events[i].ID = all[bounds[k]:bounds[k+1]]
			k++
		}
	}
	return events, first, buf
}

// recordHashLen is the length of the hash part of a record id (16 hex digits).
const recordHashLen = 16

// AppendRecordID appends the document id of a Kafka record that carries no @metadata._id:
// "<topic>-<partition>-<offset>-<hash>", where hash is the 64-bit xxHash (16 hex digits)
// of the record's value and timestamp. The id is a pure function of the record, so a
// redelivery of the same record gets the same id (and op_type=create collapses it), while
// a different record at the same position (after the topic was deleted and re-created,
// a cluster migration or an unclean leader election reused its offset) gets a different
// one and is never taken for a duplicate. d is scratch state (reset here), so that no
// allocation happens per record.
func AppendRecordID(dst []byte, d *xxhash.Digest, topic string, partition int, offset int64, ts time.Time, value []byte) []byte {
	d.Reset()
	_, _ = d.Write(value)
	var tb [8]byte
	ms := uint64(0)
	if !ts.IsZero() {
		ms = uint64(ts.UnixMilli())
	}
	binary.BigEndian.PutUint64(tb[:], ms)
	_, _ = d.Write(tb[:])
	sum := d.Sum64()
	dst = append(dst, topic...)
	dst = append(dst, '-')
	dst = strconv.AppendInt(dst, int64(partition), 10)
	dst = append(dst, '-')
	dst = strconv.AppendInt(dst, offset, 10)
	dst = append(dst, '-')
	const hexDigits = "0123456789abcdef"
	for shift := 60; shift >= 0; shift -= 4 {
		dst = append(dst, hexDigits[(sum>>uint(shift))&0xf])
	}
	return dst
}

// emitError is a failed emit: the pipeline stopped taking batches.
type emitError struct{ err error }

func (e *emitError) Error() string { return "emit: " + e.err.Error() }
func (e *emitError) Unwrap() error { return e.err }

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
