package file

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/logpipe/logpipe/pipeline"
)

// lockedScan runs a discovery scan holding mu (it changes persisted state fields).
func (in *Input) lockedScan(now time.Time) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.staleSeen = false
	in.scan(now)
	in.firstScan = false
}

// startsAtEnd reports whether a new file at path p starts at its end: with start_position
// "end", files found by the first scan of a run do (even when max_open_files delays their
// opening); files that appear later are read from their start.
func (in *Input) startsAtEnd(p string) bool {
	if !in.cfg.startEnd {
		return false
	}
	if in.firstScan {
		return true
	}
	return in.initial[p]
}

// scan re-globs the paths, stats every match, opens new and changed files, detects
// truncation, renames and deletions, and drops registry entries past clean_removed.
func (in *Input) scan(now time.Time) {
	in.gen++
	paths := in.glob()
	if in.firstScan && len(paths) == 0 {
		in.log.Warn("no file matches paths (yet); they are globbed again every poll_interval", zap.Strings("paths", in.cfg.Paths))
	}
	in.deferred = 0
	for _, st := range in.open {
		if st.stale { // a read found the file changed under it
			fi, err := st.f.Stat()
			if err == nil {
				in.checkOpen(st, fi.Size(), now)
			}
		}
	}
	for _, p := range paths {
		in.scanPath(p, now)
	}
	for _, st := range in.open {
		if st.seenGen == in.gen {
			continue
		}
		// No matched path leads to this open file: it was renamed away or deleted. It is
		// read to its end before it is let go (closeIdle).
		fi, err := st.f.Stat()
		if err != nil {
			continue
		}
		_, _, nlink := fileID(fi)
		in.observeSize(st, fi.Size(), now)
		deleted := nlink == 0
		if !st.gone || deleted != st.deleted {
			st.gone, st.deleted = true, deleted
			what := "file renamed away; reading it to its end"
			if deleted {
				what = "file deleted; reading it to its end"
			}
			in.log.Info(what, stateFields(st)...)
		}
	}
	if in.deferred == 0 {
		// Identities of files not opened for lack of descriptors were not checked: no entry
		// is cleaned, and start_position keeps applying to the first scan's files, until
		// every matched file could be looked at.
		in.clean(now)
		in.initial = nil
	}
	for p, n := range in.skipped {
		if n.gen != in.gen {
			delete(in.skipped, p)
		}
	}
	for k, c := range in.copies {
		if c.gen != in.gen {
			delete(in.copies, k)
		}
	}
	for p, w := range in.noAnchor {
		if w.gen != in.gen {
			delete(in.noAnchor, p)
		}
	}
	if in.notify != nil {
		in.notify.watch(in.cfg.Paths, paths)
	}
}

// glob returns the matched paths, sorted, without duplicates and excluded ones.
func (in *Input) glob() []string {
	var out []string
	for _, pat := range in.cfg.Paths {
		m, err := filepath.Glob(pat)
		if err != nil {
			continue // validated already
		}
		for _, p := range m {
			if !in.excluded(p) {
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	j := 0
	for i, p := range out {
		if i == 0 || p != out[j-1] {
			out[j] = p
			j++
		}
	}
	return out[:j]
}

func (in *Input) excluded(p string) bool {
	for _, x := range in.cfg.Exclude {
		target := p
		if !strings.Contains(x, string(filepath.Separator)) {
			target = filepath.Base(p)
		}
		if ok, _ := filepath.Match(x, target); ok {
			return true
		}
	}
	return false
}

// matches reports whether p would be read (a hint for fsnotify events).
func (in *Input) matches(p string) bool {
	for _, pat := range in.cfg.Paths {
		if ok, _ := filepath.Match(pat, p); ok {
			return !in.excluded(p)
		}
	}
	return false
}

// skip logs once why path p is not read; it is tried again at every scan.
func (in *Input) skip(p, reason string) {
	if n, ok := in.skipped[p]; !ok || n.reason != reason {
		in.log.Warn("skipping path; trying again at the next scan", zap.String("path", p), zap.String("reason", reason))
	}
	in.skipped[p] = skipNote{reason: reason, gen: in.gen}
}

func (in *Input) scanPath(p string, now time.Time) {
	fi, err := os.Lstat(p)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			in.skip(p, "stat: "+err.Error())
		}
		return
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if !in.cfg.FollowSymlinks {
			in.skip(p, "symlink, not followed (set follow_symlinks = true to read its target)")
			return
		}
		if fi, err = os.Stat(p); err != nil {
			in.skip(p, "symlink target: "+err.Error())
			return
		}
	}
	if !fi.Mode().IsRegular() {
		in.skip(p, notRegular(fi.Mode()))
		return
	}
	dev, ino, _ := fileID(fi)
	if st := in.open[devIno{dev, ino}]; st != nil {
		if st.seenGen != in.gen { // else another link to a file already seen
			in.seen(st, p, now)
			in.checkOpen(st, fi.Size(), now)
		}
		return
	}
	if st := in.byPath[p]; st != nil && st.f == nil && st.dev == dev && st.ino == ino &&
		(st.done || fi.Size() == st.closedSize) {
		in.seen(st, p, now) // closed and unchanged
		return
	}
	if in.knownCopy(p, dev, ino, fi.Size(), now) || in.stillNoAnchor(p, dev, ino, fi.Size()) {
		return
	}
	in.openPath(p, now)
}

func notRegular(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "is a directory"
	case m&fs.ModeNamedPipe != 0:
		return "is a FIFO (named pipe), not a regular file"
	case m&fs.ModeSocket != 0:
		return "is a socket, not a regular file"
	case m&fs.ModeDevice != 0:
		return "is a device, not a regular file"
	default:
		return "not a regular file (" + m.Type().String() + ")"
	}
}

// seen records that st was found at path p in this scan.
func (in *Input) seen(st *state, p string, now time.Time) {
	st.seenGen = in.gen
	st.lastSeen = now
	if st.path != p {
		if st.path != "" {
			in.log.Info("file renamed", zap.String("from", st.path), zap.String("path", p), zap.String("identity", st.key))
		}
		if in.byPath[st.path] == st {
			delete(in.byPath, st.path)
		}
		st.path = p
		in.dirty.Store(true)
	}
	in.byPath[p] = st
	if st.gone {
		st.gone, st.deleted = false, false
	}
}

// observeSize notes the size of an open file at a scan.
func (in *Input) observeSize(st *state, size int64, now time.Time) {
	if size != st.lastSize {
		st.lastSize = size
		st.lastActive = now
		st.publish()
	}
	if size > st.readOff {
		st.atEOF = false
	}
}

// checkOpen checks an open file found again by a scan: it must still hold the stream read
// from it (at least up to the read offset, with the stream's first bytes); else it is
// identified again.
func (in *Input) checkOpen(st *state, size int64, now time.Time) {
	if size < st.readOff {
		in.reidentify(st, now, fmt.Sprintf("size %d is below the read offset %d", size, st.readOff))
		return
	}
	if size != st.lastSize || st.stale {
		head, err := readHead(st.f, size, in.head[:])
		switch {
		case err != nil:
			in.log.Warn("cannot read the start of the file", append(stateFields(st), zap.Error(err))...)
		case !st.holds(head):
			in.reidentify(st, now, "its first bytes changed")
			return
		default:
			in.growHead(st, head)
			st.stale = false
		}
	}
	in.observeSize(st, size, now)
}

// reidentify lets the stream st go from its open file, which no longer holds it (it was
// truncated or rewritten): the stream keeps its registry entry and goes on in any file that
// holds it (a copy made by logrotate's copytruncate), and the file is identified again from
// its first bytes, like a file seen for the first time.
func (in *Input) reidentify(st *state, now time.Time, why string) {
	f, p, dev, ino := st.f, st.path, st.dev, st.ino
	in.log.Info("file truncated or rewritten: it no longer holds the stream read from it; identifying it again",
		zap.String("path", p), zap.String("stream", st.key), zap.Int64("read_offset", st.lineStart),
		zap.Int64("committed_offset", st.tracker.Committed()), zap.String("reason", why))
	// Detach the stream without closing the descriptor, which identify takes over.
	delete(in.open, devIno{dev, ino})
	st.f = nil
	st.dropPartial()
	st.stale = false
	st.gone = true
	st.closedSize = -1 // never "closed and unchanged" at this path again
	if in.byPath[p] == st {
		delete(in.byPath, p)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return
	}
	in.identify(f, p, dev, ino, fi.Size(), now)
}

// readHead reads the first min(size, fingerprintBytes) bytes of f into buf.
func readHead(f *os.File, size int64, buf []byte) ([]byte, error) {
	n := int(min(size, int64(len(buf))))
	got, err := f.ReadAt(buf[:n], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf[:got], nil
}

// openPath opens a matched path not open yet and identifies the file.
func (in *Input) openPath(p string, now time.Time) {
	if len(in.open) >= in.cfg.MaxOpenFiles && !in.makeRoom() {
		in.deferred++
		if in.firstScan && in.cfg.startEnd {
			if in.initial == nil {
				in.initial = map[string]bool{}
			}
			in.initial[p] = true
		}
		return // tried again at the next scan
	}
	f, err := os.OpenFile(p, openFlags, 0)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) { // else the path is simply gone
			in.skip(p, "open: "+err.Error())
		}
		return
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err == nil {
			in.skip(p, notRegular(fi.Mode()))
		}
		return
	}
	dev, ino, _ := fileID(fi)
	if st := in.open[devIno{dev, ino}]; st != nil { // the path changed under us
		f.Close()
		return
	}
	in.identify(f, p, dev, ino, fi.Size(), now)
}

// identify finds the stream the open file f (found at path p) holds, from its first bytes,
// and attaches it, or starts a new stream; it takes over f (closing it when the file is
// not read now).
func (in *Input) identify(f *os.File, p string, dev, ino uint64, size int64, now time.Time) {
	head, err := readHead(f, size, in.head[:])
	if err != nil {
		f.Close()
		in.skip(p, "read: "+err.Error())
		return
	}
	a := anchorLen(head)
	if a == 0 && in.stage.Once && len(head) > 0 {
		a = len(head) // once mode reads a file's last unterminated line too
	}
	if a == 0 {
		// No complete first line yet: the file has no identity, and nothing to emit.
		f.Close()
		in.waitFirstLine(p, dev, ino, size)
		return
	}
	delete(in.noAnchor, p)
	st, ambiguous := in.match(head, dev, ino)
	if ambiguous {
		f.Close()
		in.log.Debug("file's first bytes fit several known streams; waiting for more of it", zap.String("path", p))
		return
	}
	if st != nil {
		switch {
		case st.f != nil:
			f.Close()
			in.noteCopy(st, p, dev, ino, size, now, "a copy of the stream read from "+st.path+": not read twice")
			return
		case st.done:
			f.Close()
			in.seen(st, p, now)
			return
		case size < st.readOff:
			f.Close()
			in.noteCopy(st, p, dev, ino, size, now, "holds the stream only up to before its read offset: nothing new in it")
			return
		}
		from := st.path
		in.attach(st, f, p, dev, ino, size, now)
		in.growHead(st, head)
		in.log.Info("file opened", append(stateFields(st), zap.String("registry_path", from))...)
		return
	}
	var start int64
	discard := false
	if in.startsAtEnd(p) && size > 0 {
		start = size
		var last [1]byte
		if _, err := f.ReadAt(last[:], size-1); err == nil && last[0] != '\n' {
			discard = true
		}
	}
	st = in.newStream(p, dev, ino, head, a, start, now)
	st.discard = discard
	in.attach(st, f, p, dev, ino, size, now)
	in.log.Info("file opened (new stream)", stateFields(st)...)
}

// attach makes f, found at path p, the open file of st.
func (in *Input) attach(st *state, f *os.File, p string, dev, ino uint64, size int64, now time.Time) {
	st.f = f
	if st.dev != dev || st.ino != ino {
		st.dev, st.ino = dev, ino
		in.dirty.Store(true)
	}
	in.open[devIno{dev, ino}] = st
	delete(in.copies, devIno{dev, ino})
	in.seen(st, p, now)
	st.origin = in.originOf(st, p, dev, ino)
	st.lastSize = size
	st.lastActive = now
	st.publish()
	st.atEOF = false
	st.gone, st.deleted = false, false
	delete(in.skipped, p)
}

// originOf is the origin that the events of st read from the file at p carry.
func (in *Input) originOf(st *state, p string, dev, ino uint64) *pipeline.FileOrigin {
	fp := ""
	if len(st.head) == fingerprintBytes {
		fp = hex.EncodeToString(sumOf(st.head))
	}
	return &pipeline.FileOrigin{Path: p, DeviceID: dev, Inode: ino, Fingerprint: fp}
}

func sumOf(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// makeRoom closes the least recently active open file that is at its end and still
// matched, to stay within max_open_files. It reports whether it closed one.
func (in *Input) makeRoom() bool {
	var victim *state
	for _, st := range in.open {
		if st.atEOF && !st.gone && (victim == nil || st.lastActive.Before(victim.lastActive)) {
			victim = st
		}
	}
	if victim == nil {
		return false
	}
	in.closeFile(victim, "max_open_files reached")
	return true
}

// clean forgets streams not found for clean_removed whose batches were all acknowledged.
func (in *Input) clean(now time.Time) {
	for _, st := range in.states {
		if st.f != nil || st.seenGen == in.gen || now.Sub(st.lastSeen) < in.cfg.cleanRemoved || st.tracker.Pending() > 0 {
			continue
		}
		in.forget(st)
		in.log.Info("registry entry removed: file gone for longer than clean_removed", stateFields(st)...)
	}
}
