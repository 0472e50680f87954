package file

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"go.uber.org/zap"

	"github.com/logpipe/logpipe/pipeline"
)

// state is one tracked file identity (one generation of it: a truncated file starts a new
// state). Persisted fields are written under Input.mu; the rest belong to the Run goroutine.
type state struct {
	// Persisted (see regEntry).
	key       string // the stream's event id prefix (identity.go)
	path      string
	dev, ino  uint64
	head      []byte // the stream's first bytes, up to fingerprintBytes; nil for legacy
	legacyLen int    // legacy: the stream is known by the sha256 of its first legacyLen bytes
	legacySum [sha256.Size]byte
	lastSeen  time.Time
	tracker   *pipeline.Tracker // never replaced: acknowledgements of emitted batches point to it

	// Run goroutine only.
	origin     *pipeline.FileOrigin
	f          *os.File
	readOff    int64 // file offset of the next byte to read
	lineStart  int64 // file offset of the line being assembled
	lastSize   int64 // size at the last stat
	closedSize int64 // size when the file was last closed
	lastActive time.Time
	seenGen    uint64
	atEOF      bool // the last read reached the end; cleared when the file grows
	gone       bool // no matched path leads to the file any more (renamed away or deleted)
	deleted    bool // its link count is 0
	done       bool // once mode: read to its end
	skipping   bool // skipping the rest of a line cut at max_line_bytes
	discard    bool // skipping a partial line at start_position "end" (no event)
	avgLine    int  // average line size of the last batch, to size slabs
	durable    bool // the key is on disk or derived from content: events may leave
	stale      bool // a read found the file changed under it: checked by the next scan
	cutLogged  bool // a cut line of this file was logged at warn level
	b          builder

	// Metrics (metrics.go): readOff and lastSize as of the last publish.
	readSeen, sizeSeen, heldSeen atomic.Int64
}

// builder assembles the next batch of a file. The slab holds the messages of the complete
// events, followed by the partial line being assembled.
type builder struct {
	slab      []byte
	events    []pipeline.Event
	ends      []int // slab end of each event's message (Message is set at flush)
	complete  int   // slab[:complete] belongs to events
	end       int64 // file offset just past the last complete line
	openTrunc bool  // the last event is a cut line whose rest is still being skipped
}

// consume parses p, bytes read at st.readOff, and returns how many bytes it used. It stops
// early with flush set when the batch must be emitted before going on.
func (in *Input) consume(st *state, p []byte, now time.Time) (used int, flush bool) {
	b := &st.b
	maxLine := in.cfg.maxLine
	for used < len(p) {
		q := p[used:]
		if st.skipping || st.discard {
			i := bytes.IndexByte(q, '\n')
			if i < 0 {
				used += len(q)
				st.readOff += int64(len(q))
				break
			}
			used += i + 1
			st.readOff += int64(i + 1)
			st.lineStart = st.readOff
			if st.discard {
				st.discard = false
				continue
			}
			st.skipping = false
			b.openTrunc = false
			b.end = st.readOff
			if in.full(b) {
				return used, true
			}
			continue
		}
		partial := len(b.slab) - b.complete
		i := bytes.IndexByte(q, '\n')
		if i < 0 {
			// The line goes on past this read. Room for maxLine bytes and a '\r'.
			if partial+len(q) <= maxLine+1 {
				in.grow(st, len(q), len(q))
				b.slab = append(b.slab, q...)
				used += len(q)
				st.readOff += int64(len(q))
				break
			}
			// Too long: emit the complete lines first, so that the batch with the cut
			// line can end after its skipped rest.
			if len(b.events) > 0 {
				return used, true
			}
			if keep := maxLine - partial; keep > 0 {
				in.grow(st, keep, len(q))
				b.slab = append(b.slab, q[:keep]...)
			} else {
				b.slab = b.slab[:b.complete+maxLine]
			}
			in.logCut(st)
			in.addEvent(st, now, pipeline.FlagTruncated)
			b.openTrunc = true
			st.skipping = true
			used += len(q)
			st.readOff += int64(len(q))
			break
		}
		used += i + 1
		st.readOff += int64(i + 1)
		if partial+i <= maxLine+1 {
			in.grow(st, i, len(q))
			b.slab = append(b.slab, q[:i]...)
			in.addLine(st, now)
		} else {
			// Longer than maxLine even without a '\r': cut it.
			if keep := maxLine - partial; keep > 0 {
				in.grow(st, keep, len(q))
				b.slab = append(b.slab, q[:keep]...)
			} else {
				b.slab = b.slab[:b.complete+maxLine]
			}
			in.logCut(st)
			in.addEvent(st, now, pipeline.FlagTruncated)
			b.end = st.readOff
			st.lineStart = st.readOff
		}
		if in.full(b) {
			return used, true
		}
	}
	return used, false
}

// addLine turns the partial line (slab[complete:]) into an event ending at st.readOff,
// removing a trailing '\r' and cutting it at max_line_bytes.
func (in *Input) addLine(st *state, now time.Time) {
	b := &st.b
	var flags pipeline.Flags
	if n := len(b.slab); n > b.complete && b.slab[n-1] == '\r' {
		b.slab = b.slab[:n-1]
	}
	if len(b.slab)-b.complete > in.cfg.maxLine {
		b.slab = b.slab[:b.complete+in.cfg.maxLine]
		flags = pipeline.FlagTruncated
		in.logCut(st)
	}
	in.addEvent(st, now, flags)
	b.end = st.readOff
	st.lineStart = st.readOff
}

// logCut reports a line cut at max_line_bytes: the first of a file at warn level, the
// others at debug level (a file of long lines must not flood the log).
func (in *Input) logCut(st *state) {
	lvl := zap.DebugLevel
	if !st.cutLogged {
		st.cutLogged = true
		lvl = zap.WarnLevel
	}
	in.log.Log(lvl, "line longer than max_line_bytes: cut there and flagged, the rest of it skipped",
		zap.String("path", st.path), zap.Int64("line_offset", st.lineStart), zap.Int("max_line_bytes", in.cfg.maxLine))
}

// addEvent appends the event whose message is slab[complete:], starting at st.lineStart.
func (in *Input) addEvent(st *state, now time.Time, flags pipeline.Flags) {
	b := &st.b
	if b.events == nil {
		n := in.cfg.BatchEvents
		if rest := st.lastSize - st.readOff; rest < int64(in.cfg.batchBytes) {
			n = min(n, int(max(rest, 0)/64)+16)
		}
		b.events = in.stage.Buffers.Events(n)
	}
	if flags&pipeline.FlagTruncated != 0 {
		b.slab = b.slab[:cutRune(b.slab, b.complete)]
	}
	if !utf8.Valid(b.slab[b.complete:]) {
		flags |= pipeline.FlagInvalidUTF8
	}
	b.events = append(b.events, pipeline.Event{Timestamp: now, File: st.origin, Offset: st.lineStart, Partition: -1, Flags: flags})
	b.ends = append(b.ends, len(b.slab))
	b.complete = len(b.slab)
}

// cutRune returns the length of slab without an incomplete UTF-8 sequence that a cut at
// max_line_bytes left at its end (the message starts at from), so a cut line is not
// flagged as invalid UTF-8 for that alone.
func cutRune(slab []byte, from int) int {
	n := len(slab)
	for i := n - 1; i >= from && i >= n-utf8.UTFMax; i-- {
		if utf8.RuneStart(slab[i]) {
			if !utf8.FullRune(slab[i:n]) {
				return i
			}
			break
		}
	}
	return n
}

func (in *Input) full(b *builder) bool {
	return !b.openTrunc && (len(b.events) >= in.cfg.BatchEvents || b.complete >= in.cfg.batchBytes)
}

// grow makes room for n more bytes in the slab. A new slab is sized for what is known to
// come (the rest of the current read, or of the file at the last stat) up to the batch
// limits, so a backlog fills a batch without regrowth and a tailed line does not pin a
// large slab.
func (in *Input) grow(st *state, n, hint int) {
	b := &st.b
	if cap(b.slab)-len(b.slab) >= n {
		return
	}
	want := max(2*cap(b.slab), len(b.slab)+n)
	if b.complete == 0 { // a new batch: sized for what is known to come
		want = max(want, len(b.slab)+in.slabCap(st, n, hint))
	}
	// From the process's pool: the slab of a batch goes back there once the batch is
	// acknowledged (flush), so a backlog is read into warm memory, not fresh allocations.
	ns := in.stage.Buffers.Get(want)[:len(b.slab)]
	copy(ns, b.slab)
	b.slab = ns
}

// slabCap is the capacity of a new slab that must take need bytes at once and will
// probably be asked for hint bytes.
func (in *Input) slabCap(st *state, need, hint int) int {
	want := int64(max(need, hint))
	if rest := st.lastSize - st.readOff; rest > want {
		want = rest
	}
	limit := int64(in.cfg.batchBytes)
	if st.avgLine > 0 { // a batch is also bounded by batch_events
		limit = min(limit, int64(st.avgLine)*int64(in.cfg.BatchEvents)*9/8)
	}
	want = min(want, limit+int64(min(in.cfg.maxLine, 16<<10)))
	return max(int(want), need) + 64
}

// flush emits the complete lines of st as one batch. With final set, the partial line and
// a cut line being skipped end at st.readOff (the file is being let go).
func (in *Input) flush(ctx context.Context, st *state, emit pipeline.Emit, final bool) error {
	b := &st.b
	if final {
		if st.skipping {
			st.skipping = false
			b.openTrunc = false
			b.end = st.readOff
			st.lineStart = st.readOff
		} else if len(b.slab) > b.complete {
			in.addLine(st, time.Now().UTC())
		}
	}
	if len(b.events) == 0 || b.openTrunc {
		return nil
	}
	start := 0
	for i := range b.events {
		e := b.ends[i]
		b.events[i].Message = b.slab[start:e:e]
		start = e
	}
	st.avgLine = b.complete/len(b.events) + 1
	events := in.cfg.lines.keep(b.events) // include/exclude_lines: lines.go
	setIDs(st.key, events, b.ends)
	tr := st.tracker
	tk := tr.Add(b.end)
	batch := pipeline.NewBatch(st.path, events, func() {
		if tr.Ack(tk) {
			in.dirty.Store(true)
		}
	})
	// The events' messages point into the slab, which nothing else keeps (the partial line
	// is copied out below).
	batch.Recycle(in.stage.Buffers, b.slab)
	batch.RecycleEvents(in.stage.Buffers)
	// Only the partial line stays with the file (bounded by max_line_bytes): a file waiting
	// for its turn holds no batch-sized buffer. grow sizes the next slab when reading goes on.
	var slab []byte
	if rest := b.slab[b.complete:]; len(rest) > 0 {
		slab = bytes.Clone(rest)
	}
	b.slab, b.events, b.ends, b.complete = slab, nil, b.ends[:0], 0
	return emit(ctx, batch)
}

// setIDs sets the event id of every event of a batch of the stream with the given key: the
// one place where a line's id is made (identity.go says why it never changes). The ids share
// one string, allocated once per batch; scratch (at least len(events) long, free to
// overwrite) holds their ends meanwhile.
func setIDs(key string, events []pipeline.Event, scratch []int) {
	if len(events) == 0 {
		return
	}
	digits := 1 // of the largest offset, the last one
	for o := events[len(events)-1].Offset; o >= 10; o /= 10 {
		digits++
	}
	buf := make([]byte, 0, len(events)*(len(key)+1+digits))
	ends := scratch[:len(events)]
	for i := range events {
		buf = pipeline.AppendEventID(buf, key, events[i].Offset)
		ends[i] = len(buf)
	}
	// buf is never written again: the ids share it without a copy.
	ids, start := unsafe.String(unsafe.SliceData(buf), len(buf)), 0
	for i := range events {
		events[i].ID = ids[start:ends[i]]
		start = ends[i]
	}
}

// dropPartial forgets the partial line (and a cut line being skipped): it is read again
// from its start when the file is read next.
func (st *state) dropPartial() {
	b := &st.b
	if b.openTrunc {
		b.events = b.events[:len(b.events)-1]
		b.ends = b.ends[:len(b.ends)-1]
		b.openTrunc = false
		if n := len(b.ends); n > 0 {
			b.complete = b.ends[n-1]
		} else {
			b.complete = 0
		}
	}
	b.slab = b.slab[:b.complete]
	if len(b.events) == 0 {
		b.slab = nil
	}
	st.skipping = false
	if !st.discard {
		st.readOff = st.lineStart
	}
	st.publish()
}

// readRound gives every open file not at its end one turn of reading.
func (in *Input) readRound(ctx context.Context, emit pipeline.Emit) (bool, error) {
	progress := false
	for _, st := range in.open {
		if st.atEOF {
			continue
		}
		p, err := in.readSome(ctx, st, emit)
		st.publish()
		progress = progress || p
		if err != nil {
			return progress, err
		}
	}
	return progress, nil
}

// readSome reads st up to its end or readBudget bytes and emits its complete lines.
func (in *Input) readSome(ctx context.Context, st *state, emit pipeline.Emit) (bool, error) {
	if st.stale || !in.makeDurable(st) {
		st.atEOF = true // tried again at the next scan
		return false, nil
	}
	progress := false
	budget := readBudget
	if in.cfg.readBudget > 0 {
		budget = in.cfg.readBudget
	}
	for read := 0; read < budget; {
		n, err := st.f.ReadAt(in.buf, st.readOff)
		if n > 0 && !in.verify(st) {
			// Truncated (and perhaps written again) since the last look: the bytes just
			// read may be another stream's, or a fragment of a line. They are not used;
			// the next scan, at once, identifies the file again.
			st.stale, st.atEOF = true, true
			in.staleSeen = true
			break
		}
		if n > 0 {
			progress = true
			read += n
			mono := time.Now()
			st.lastActive = mono
			now := mono.UTC() // the events' read time
			p := in.buf[:n]
			for len(p) > 0 {
				used, full := in.consume(st, p, now)
				p = p[used:]
				if full {
					if err := in.flush(ctx, st, emit, false); err != nil {
						return progress, err
					}
				}
			}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			in.log.Warn("read failed; the file is opened again at the next scan", append(stateFields(st), zap.Error(err))...)
			if ferr := in.flush(ctx, st, emit, false); ferr != nil {
				return progress, ferr
			}
			in.closeFile(st, "read error")
			if in.stage.Once {
				st.done = true
			}
			return progress, nil
		}
		if err != nil || n < len(in.buf) {
			st.atEOF = true
			break
		}
	}
	return progress, in.flush(ctx, st, emit, false)
}

// verify reports whether the open file of st still holds its stream, from its first
// bytes; it runs after every read, so that what was read is known to be of the stream.
// More of the stream's head is learnt on the way.
func (in *Input) verify(st *state) bool {
	n, err := st.f.ReadAt(in.head[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return true // a read error is handled by the read itself
	}
	head := in.head[:n]
	if !st.holds(head) {
		return false
	}
	if len(head) > len(st.head) {
		in.mu.Lock()
		in.growHead(st, head)
		in.mu.Unlock()
	}
	return true
}

// closeFile closes st's descriptor; the state stays known (registry, reopen on change).
func (in *Input) closeFile(st *state, reason string) {
	if st.f == nil {
		return
	}
	// What was consumed, not the current size: bytes written since the last read make the
	// next scan reopen the file.
	st.closedSize = st.readOff
	st.f.Close()
	st.f = nil
	delete(in.open, devIno{st.dev, st.ino})
	st.dropPartial()
	st.atEOF = false
	in.log.Info("file closed", append(stateFields(st), zap.String("reason", reason))...)
}

// finish lets a file go: its last unterminated line is emitted, then it is closed.
func (in *Input) finish(ctx context.Context, st *state, emit pipeline.Emit, reason string) error {
	if err := in.flush(ctx, st, emit, true); err != nil {
		return err
	}
	in.closeFile(st, reason)
	return nil
}

// closeIdle closes files at their end that stayed unchanged: files still matched after
// close_inactive (their partial line is kept for later), deleted files after one poll
// interval and renamed-away ones after close_inactive (their partial line is emitted).
func (in *Input) closeIdle(ctx context.Context, emit pipeline.Emit, now time.Time) error {
	for _, st := range in.open {
		if !st.atEOF {
			continue
		}
		idle := now.Sub(st.lastActive)
		var reason string
		switch {
		case st.gone && st.deleted && idle >= in.cfg.poll:
			reason = "deleted, read to its end"
		case st.gone && idle >= in.cfg.closeInactive:
			reason = "renamed away, read to its end and inactive"
		case !st.gone && idle >= in.cfg.closeInactive:
			in.closeFile(st, "inactive") // reopened by a scan when it changes
			continue
		default:
			continue
		}
		// No path leads back to a file let go: make sure nothing was appended since the
		// last read.
		st.atEOF = false
		progress, err := in.readSome(ctx, st, emit)
		if err != nil {
			return err
		}
		if progress || st.f == nil {
			continue
		}
		if err := in.finish(ctx, st, emit, reason); err != nil {
			return err
		}
	}
	return nil
}
