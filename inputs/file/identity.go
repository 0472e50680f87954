package file

import (
	"bytes"
	"crypto/sha256"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/logpipe/logpipe/pipeline"
)

// Streams and their identity.
//
// A stream is the content of a log file as it is written: the bytes from offset 0 on. It
// may be held by several files over its life (a file renamed by rotation, a copy made by
// logrotate's copytruncate) and a file may hold several streams one after the other (a
// truncated file starts a new one). A stream is known by its head: its first bytes, up to
// fingerprintBytes, learnt as they are read. A file holds a known stream when its first
// bytes agree with the stream's head over the length both have, and that length covers
// the stream's anchor: its first line (with its '\n'), or its first fingerprintBytes bytes
// when that line is longer. A file without a complete first line has no identity yet: it
// is read once it has one (in once mode, its whole content is its anchor).
//
// The event id of a line is "<key>-<offset>", where key is derived from the host name and
// the stream's anchor: a pure function of the host, the content of the stream and the
// line's offset, the same whenever, wherever and however often the line is read, with or
// without the registry. The one exception is a new stream whose anchor equals that of
// another stream known to the registry while their heads differ (two files that begin
// with the same line): its key is salted with the time, and such a stream is read only
// after the registry holding its key was written to disk (fsync), so its ids never change
// either. Keys of version 1 registries are kept for the streams they describe.

// anchorLen is the length of the anchor of a stream whose first bytes are head (at most
// fingerprintBytes of them): its first line with its '\n', or fingerprintBytes for a
// longer first line; 0 when head holds neither yet.
func anchorLen(head []byte) int {
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		return i + 1
	}
	if len(head) >= fingerprintBytes {
		return fingerprintBytes
	}
	return 0
}

// anchor is the part of the stream's head its identity is derived from.
func (st *state) anchor() []byte {
	if a := anchorLen(st.head); a > 0 {
		return st.head[:a]
	}
	return st.head // once mode: a file without a complete line
}

// holds reports whether a file whose first bytes are head holds the stream st.
func (st *state) holds(head []byte) bool {
	m := min(len(head), len(st.head))
	return m >= len(st.anchor()) && bytes.Equal(head[:m], st.head[:m])
}

// match finds the known stream that a file with device dev, inode ino and first bytes head
// holds. Of several candidates the one agreeing over the most bytes wins, then the one
// last held by the same inode; ambiguous reports a tie (the file is looked at again when
// it has grown).
func (in *Input) match(head []byte, dev, ino uint64) (best *state, ambiguous bool) {
	bestM := -1
	for _, st := range in.byAnchor[sha256.Sum256(head[:anchorLen(head)])] {
		if !st.holds(head) {
			continue
		}
		m := min(len(head), len(st.head))
		switch {
		case m > bestM:
			best, bestM, ambiguous = st, m, false
		case m == bestM:
			sameFile := func(s *state) bool { return s.dev == dev && s.ino == ino }
			switch {
			case sameFile(st) && !sameFile(best):
				best, ambiguous = st, false
			case sameFile(best) && !sameFile(st):
			default:
				ambiguous = true
			}
		}
	}
	if best != nil || ambiguous {
		if ambiguous {
			best = nil
		}
		return best, ambiguous
	}
	// Streams carried over from a version 1 registry are known by the sha256 of their
	// first legacyLen bytes until a file holding them is found.
	for i, st := range in.legacy {
		if len(head) < st.legacyLen || sha256.Sum256(head[:st.legacyLen]) != st.legacySum {
			continue
		}
		in.legacy = append(in.legacy[:i], in.legacy[i+1:]...)
		st.head = bytes.Clone(head[:st.legacyLen])
		in.indexStream(st)
		in.dirty.Store(true)
		return st, false
	}
	return nil, false
}

// newStream registers a new stream whose first bytes are head (its anchor being
// head[:a]), found at path p on device dev and inode ino, to be read from start.
func (in *Input) newStream(p string, dev, ino uint64, head []byte, a int, start int64, now time.Time) *state {
	key := pipeline.EventIDPrefix(in.stage.Agent.Hostname, string(head[:a]))
	// With start_position "end", a stream missing from the registry after a crash would
	// start at its end: its entry is written before it is read.
	durable := !in.cfg.startEnd
	for salt := now.UnixNano(); in.states[key] != nil; salt++ {
		// Another stream began with the same bytes: this one's key cannot be derived
		// from its content alone, and must reach the registry before its first event.
		key = pipeline.EventIDPrefix(in.stage.Agent.Hostname, string(head[:a])+"\x00"+strconv.FormatInt(salt, 10))
		durable = false
	}
	st := &state{
		key: key, path: p, dev: dev, ino: ino, lastSeen: now, head: bytes.Clone(head),
		tracker: pipeline.NewTracker(start), readOff: start, lineStart: start, durable: durable,
	}
	if !durable {
		in.log.Info("new file begins like another known stream; its event ids are written to the registry before it is read",
			zap.String("path", p), zap.String("stream", key))
	}
	in.states[key] = st
	in.indexStream(st)
	in.dirty.Store(true)
	return st
}

// indexStream makes st found by match.
func (in *Input) indexStream(st *state) {
	sum := sha256.Sum256(st.anchor())
	in.byAnchor[sum] = append(in.byAnchor[sum], st)
}

// forget drops the stream st (gone for longer than clean_removed).
func (in *Input) forget(st *state) {
	delete(in.states, st.key)
	if in.byPath[st.path] == st {
		delete(in.byPath, st.path)
	}
	if st.head == nil {
		for i, l := range in.legacy {
			if l == st {
				in.legacy = append(in.legacy[:i], in.legacy[i+1:]...)
				break
			}
		}
	} else {
		sum := sha256.Sum256(st.anchor())
		list := in.byAnchor[sum]
		for i, l := range list {
			if l == st {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(in.byAnchor, sum)
		} else {
			in.byAnchor[sum] = list
		}
	}
	in.dirty.Store(true)
}

// growHead learns more of the head of st from the first bytes of a file holding it. Once
// the head reaches fingerprintBytes, the events carry the fingerprint.
func (in *Input) growHead(st *state, head []byte) {
	if len(head) <= len(st.head) {
		return
	}
	st.head = bytes.Clone(head)
	in.dirty.Store(true)
	if len(head) == fingerprintBytes && st.f != nil {
		st.origin = in.originOf(st, st.path, st.dev, st.ino)
	}
}

// copyNote remembers a file that holds a stream read from elsewhere, so that scans do not
// open it again while nothing about it changed.
type copyNote struct {
	st   *state
	path string
	size int64
	gen  uint64
}

// noteCopy records that the file at p holds the stream st without being read (why says
// which case), and logs it once.
func (in *Input) noteCopy(st *state, p string, dev, ino uint64, size int64, now time.Time, why string) {
	k := devIno{dev, ino}
	if c, ok := in.copies[k]; !ok || c.st != st || c.path != p {
		in.log.Info("file holds a known stream; not read", zap.String("path", p), zap.String("stream", st.key),
			zap.Int64("size", size), zap.Int64("read_offset", st.readOff), zap.String("reason", why))
	}
	in.copies[k] = copyNote{st: st, path: p, size: size, gen: in.gen}
	st.lastSeen = now // the stream still exists: its entry is not cleaned
}

// knownCopy reports whether the file at p is a copy noted before that still needs no
// reading: unchanged, and its stream still read from elsewhere or already past its end.
func (in *Input) knownCopy(p string, dev, ino uint64, size int64, now time.Time) bool {
	k := devIno{dev, ino}
	c, ok := in.copies[k]
	if !ok || c.path != p || c.size != size || in.states[c.st.key] != c.st || (c.st.f == nil && size >= c.st.readOff) {
		return false
	}
	c.gen = in.gen
	in.copies[k] = c
	c.st.lastSeen = now
	return true
}

// noAnchorNote remembers a file without a complete first line yet.
type noAnchorNote struct {
	dev, ino uint64
	size     int64
	gen      uint64
}

// waitFirstLine records that the file at p has no complete first line yet.
func (in *Input) waitFirstLine(p string, dev, ino uint64, size int64) {
	if _, ok := in.noAnchor[p]; !ok {
		in.log.Debug("file has no complete first line yet; read once it has", zap.String("path", p), zap.Int64("size", size))
	}
	in.noAnchor[p] = noAnchorNote{dev: dev, ino: ino, size: size, gen: in.gen}
}

// stillNoAnchor reports whether the file at p is unchanged since it was found without a
// complete first line.
func (in *Input) stillNoAnchor(p string, dev, ino uint64, size int64) bool {
	w, ok := in.noAnchor[p]
	if !ok || w.dev != dev || w.ino != ino || w.size != size {
		return false
	}
	w.gen = in.gen
	in.noAnchor[p] = w
	return true
}
