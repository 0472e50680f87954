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

// checkOpen checks an open file found again: truncation (size below the read offset, or
// the leading bytes changed) and growth of a file tracked by inode to a fingerprint.
func (in *Input) checkOpen(st *state, size int64, now time.Time) {
	if size < st.readOff {
		in.truncated(st, now, fmt.Sprintf("size %d is below the read offset %d", size, st.readOff))
		return
	}
	if size != st.lastSize {
		head, err := readHead(st.f, size, in.head[:])
		if err != nil {
			in.log.Warn("cannot read the start of the file", append(stateFields(st), zap.Error(err))...)
		} else if len(head) < st.headLen || sha256.Sum256(head[:st.headLen]) != st.headSum {
			in.truncated(st, now, "its first bytes changed")
			return
		} else if len(head) > st.headLen {
			in.growHead(st, head)
		}
	}
	in.observeSize(st, size, now)
}

// growHead extends the head of a file tracked by inode; at fingerprintBytes its identity
// becomes the fingerprint (the registry entry moves, nothing is read again, and event ids
// keep their prefix).
func (in *Input) growHead(st *state, head []byte) {
	st.headLen = len(head)
	st.headSum = sha256.Sum256(head)
	in.dirty.Store(true)
	if len(head) < fingerprintBytes || isFingerprint(st.key) {
		return
	}
	fp := hex.EncodeToString(st.headSum[:])
	in.log.Info("file reached the fingerprint size; identity moves from inode to fingerprint",
		append(stateFields(st), zap.String("fingerprint", fp))...)
	if in.states[st.key] == st {
		delete(in.states, st.key)
	}
	st.key = fp
	in.states[fp] = st
	if st.origin != nil {
		o := *st.origin
		o.Fingerprint = fp
		st.origin = &o
	}
}

// truncated starts a new generation of the file open in st, read from offset 0. Batches in
// flight still acknowledge the old state's tracker; the old state keeps its registry entry
// until cleaned, unless the new generation has the same identity and takes it over.
func (in *Input) truncated(st *state, now time.Time, why string) {
	f := st.f
	fi, err := f.Stat()
	in.log.Info("file truncated; reading it again from the start", append(stateFields(st), zap.String("reason", why))...)
	// Detach the old generation without closing the descriptor, which the new one takes.
	delete(in.open, devIno{st.dev, st.ino})
	st.f = nil
	st.dropPartial()
	st.gone = true
	if in.byPath[st.path] == st {
		delete(in.byPath, st.path)
	}
	if err != nil {
		f.Close()
		return
	}
	size := fi.Size()
	head, err := readHead(f, size, in.head[:])
	if err != nil {
		f.Close()
		in.skip(st.path, "read: "+err.Error())
		return
	}
	ns := in.newState(st.path, st.dev, st.ino, head, 0, true, now)
	in.attach(ns, f, st.path, st.dev, st.ino, size, now)
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

// openPath opens a matched path not open yet and finds or creates its state.
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
	size := fi.Size()
	head, err := readHead(f, size, in.head[:])
	if err != nil {
		f.Close()
		in.skip(p, "read: "+err.Error())
		return
	}
	if st := in.match(dev, ino, head); st != nil {
		switch {
		case st.f != nil:
			f.Close()
			in.skip(p, "same first bytes as "+st.path+" (a copy of it): not read twice")
			return
		case st.done:
			f.Close()
			in.seen(st, p, now)
			return
		}
		from := st.path
		in.attach(st, f, p, dev, ino, size, now)
		if size < st.readOff {
			in.truncated(st, now, fmt.Sprintf("size %d is below the committed offset %d", size, st.readOff))
			return
		}
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
	st := in.newState(p, dev, ino, head, start, false, now)
	st.discard = discard
	in.attach(st, f, p, dev, ino, size, now)
	in.log.Info("file opened (new)", stateFields(st)...)
}

// match finds the known state of a file from its leading bytes and inode.
func (in *Input) match(dev, ino uint64, head []byte) *state {
	if len(head) == fingerprintBytes {
		if st := in.states[hex.EncodeToString(sumOf(head))]; st != nil {
			return st
		}
	}
	st := in.states[inodeKey(dev, ino)]
	if st == nil || st.headLen > len(head) || sha256.Sum256(head[:st.headLen]) != st.headSum {
		return nil
	}
	if len(head) > st.headLen {
		in.growHead(st, head)
	}
	return st
}

func sumOf(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

func inodeKey(dev, ino uint64) string {
	return fmt.Sprintf("%d:%d", dev, ino)
}

// newState registers a new identity for a file whose first bytes are head, to be read from
// start. A reset (truncation) always gets a fresh event id prefix.
func (in *Input) newState(p string, dev, ino uint64, head []byte, start int64, reset bool, now time.Time) *state {
	st := &state{
		path: p, dev: dev, ino: ino, lastSeen: now,
		tracker: pipeline.NewTracker(start), readOff: start, lineStart: start,
		headLen: len(head), headSum: sha256.Sum256(head),
	}
	if len(head) == fingerprintBytes {
		st.key = hex.EncodeToString(st.headSum[:])
		st.idPrefix = pipeline.EventIDPrefix(in.stage.Agent.Hostname, st.key)
	} else {
		st.key = inodeKey(dev, ino)
	}
	if reset || len(head) < fingerprintBytes {
		st.idPrefix = in.freshPrefix(st.key, now)
	}
	in.states[st.key] = st
	in.dirty.Store(true)
	return st
}

// attach makes f, found at path p, the open file of st.
func (in *Input) attach(st *state, f *os.File, p string, dev, ino uint64, size int64, now time.Time) {
	st.f = f
	if st.dev != dev || st.ino != ino {
		st.dev, st.ino = dev, ino
		in.dirty.Store(true)
	}
	in.open[devIno{dev, ino}] = st
	in.seen(st, p, now)
	fp := ""
	if isFingerprint(st.key) {
		fp = st.key
	}
	st.origin = &pipeline.FileOrigin{Path: p, DeviceID: dev, Inode: ino, Fingerprint: fp, IDPrefix: st.idPrefix}
	st.lastSize = size
	st.lastActive = now
	st.publish()
	st.atEOF = false
	st.gone, st.deleted = false, false
	delete(in.skipped, p)
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

// clean forgets identities not found for clean_removed whose batches were all acknowledged.
func (in *Input) clean(now time.Time) {
	for key, st := range in.states {
		if st.f != nil || st.seenGen == in.gen || now.Sub(st.lastSeen) < in.cfg.cleanRemoved || st.tracker.Pending() > 0 {
			continue
		}
		delete(in.states, key)
		if in.byPath[st.path] == st {
			delete(in.byPath, st.path)
		}
		in.dirty.Store(true)
		in.log.Info("registry entry removed: file gone for longer than clean_removed", stateFields(st)...)
	}
}
