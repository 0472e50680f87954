package elasticsearch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Defaults of the file dead-letter queue's bounds.
const (
	DefaultDeadLetterMaxBytes = 1 << 30 // "1GiB", all files together
	DefaultDeadLetterMaxFiles = 4       // the current file and up to 3 rotated ones
	// deadLetterWarnFill is the fill ratio above which a warning is logged.
	deadLetterWarnFill = 0.8
)

// errDeadLetterFull is returned (wrapped) by a file dead-letter queue that has no room left.
var errDeadLetterFull = errors.New("dead-letter queue is full")

// fileDLQ appends entries to a file, with a cap on the size of all its files.
//
// The current file is <path>; when an entry does not fit in it (each file holds at most
// max_bytes / max_files bytes), it is renamed to <path>.<UTC time of the rotation> and a new
// <path> is started. Files are never deleted by logpipe: they hold documents that are not in
// Elasticsearch. When the files together would exceed max_bytes, or max_files files exist,
// write fails with errDeadLetterFull and stores nothing; the output retries, so the documents
// wait (their batches are not acknowledged and their partition does not move) until an
// operator moved or deleted rotated files, or raised the limits. Sizes are read from the disk
// at every write, so freed room is seen at the next retry; a current file moved away is
// replaced by a new one.
type fileDLQ struct {
	mu       sync.Mutex
	path     string
	f        *os.File
	maxBytes int64
	maxFiles int
	log      *zap.Logger
	warned   bool // the fill warning was logged; re-armed below the threshold

	bytes atomic.Int64 // all files together, as of the last write (for the metrics)
	full  atomic.Bool  // the last write failed for want of room
}

func newFileDLQ(path string, maxBytes int64, maxFiles int, log *zap.Logger) (*fileDLQ, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("dead-letter directory: %w", err)
	}
	q := &fileDLQ{path: path, maxBytes: maxBytes, maxFiles: maxFiles, log: log}
	if err := q.open(); err != nil {
		return nil, err
	}
	cur, rotated, err := q.scan()
	if err != nil {
		_ = q.f.Close()
		return nil, err
	}
	q.bytes.Store(cur + sum(rotated))
	return q, nil
}

func (q *fileDLQ) open() error {
	f, err := os.OpenFile(q.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("dead-letter file: %w", err)
	}
	q.f = f
	return nil
}

// perFile is the size a file may reach before it is rotated.
func (q *fileDLQ) perFile() int64 { return q.maxBytes / int64(q.maxFiles) }

func (q *fileDLQ) maxEntry() int { return int(q.perFile()) }

// scan returns the size of the current file and of each rotated file, reopening the current
// file when it was moved or deleted.
func (q *fileDLQ) scan() (int64, []int64, error) {
	st, err := q.f.Stat()
	if err != nil {
		return 0, nil, fmt.Errorf("dead-letter file %s: %w", q.path, err)
	}
	if disk, err := os.Stat(q.path); err != nil || !os.SameFile(st, disk) {
		_ = q.f.Close()
		if err := q.open(); err != nil {
			return 0, nil, err
		}
		if st, err = q.f.Stat(); err != nil {
			return 0, nil, fmt.Errorf("dead-letter file %s: %w", q.path, err)
		}
	}
	names, err := filepath.Glob(globEscape(q.path) + ".*")
	if err != nil {
		return 0, nil, err
	}
	sort.Strings(names)
	var rotated []int64
	for _, n := range names {
		if fi, err := os.Stat(n); err == nil && fi.Mode().IsRegular() {
			rotated = append(rotated, fi.Size())
		}
	}
	return st.Size(), rotated, nil
}

func (q *fileDLQ) write(_ context.Context, entries []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	cur, rotated, err := q.scan()
	if err != nil {
		return err
	}
	total := cur + sum(rotated)
	q.bytes.Store(total)
	// Plan the rotations first, so that a queue without room stores nothing of this call.
	per := q.perFile()
	rotations, size := 0, cur
	for rest := entries; len(rest) > 0; {
		n := lineLen(rest)
		if size > 0 && size+int64(n) > per {
			rotations++
			size = 0
		}
		size += int64(n)
		rest = rest[n:]
	}
	if total+int64(len(entries)) > q.maxBytes || len(rotated)+1+rotations > q.maxFiles {
		q.full.Store(true)
		return fmt.Errorf("%w: %s and its rotated files hold %d bytes in %d files, %d more bytes do not fit in max_bytes %d / max_files %d: "+
			"move or delete rotated files (%s.*) after reading them, or raise dead_letter max_bytes or max_files",
			errDeadLetterFull, q.path, total, len(rotated)+1, len(entries), q.maxBytes, q.maxFiles, q.path)
	}
	size = cur
	for rest := entries; len(rest) > 0; {
		n := 0
		for n < len(rest) {
			l := lineLen(rest[n:])
			if size > 0 && size+int64(l) > per {
				break
			}
			n += l
			size += int64(l)
		}
		if n == 0 {
			if err := q.rotate(); err != nil {
				return err
			}
			size = 0
			continue
		}
		if _, err := q.f.Write(rest[:n]); err != nil {
			return fmt.Errorf("writing dead-letter file %s: %w", q.path, err)
		}
		rest = rest[n:]
	}
	if err := q.f.Sync(); err != nil {
		return fmt.Errorf("syncing dead-letter file %s: %w", q.path, err)
	}
	total += int64(len(entries))
	q.bytes.Store(total)
	q.full.Store(false)
	fill := float64(total) / float64(q.maxBytes)
	switch {
	case fill >= deadLetterWarnFill && !q.warned:
		q.warned = true
		q.log.Warn("the dead-letter queue is filling up; when it is full, documents that Elasticsearch rejects wait (and their partition with them) until there is room",
			zap.String("path", q.path), zap.Int64("bytes", total), zap.Int64("max_bytes", q.maxBytes),
			zap.Int("files", len(rotated)+1+rotations), zap.Int("max_files", q.maxFiles),
			zap.String("fix", "read the entries, then move or delete the rotated files "+q.path+".*; or raise dead_letter max_bytes"))
	case fill < deadLetterWarnFill:
		q.warned = false
	}
	return nil
}

// rotate syncs and renames the current file and starts a new one.
func (q *fileDLQ) rotate() error {
	if err := q.f.Sync(); err != nil {
		return fmt.Errorf("syncing dead-letter file %s: %w", q.path, err)
	}
	name := q.path + "." + time.Now().UTC().Format("20060102T150405.000000000Z")
	if err := os.Rename(q.path, name); err != nil {
		return fmt.Errorf("rotating dead-letter file %s: %w", q.path, err)
	}
	_ = q.f.Close()
	if err := q.open(); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(q.path)); err == nil { // make the rename durable
		_ = d.Sync()
		_ = d.Close()
	}
	q.log.Info("dead-letter file rotated", zap.String("rotated_to", name))
	return nil
}

func (q *fileDLQ) close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.f.Close()
}

func (q *fileDLQ) String() string { return q.path }

// lineLen is the length of the first line of b with its newline (all of b without one).
func lineLen(b []byte) int {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return i + 1
	}
	return len(b)
}

func sum(v []int64) int64 {
	var s int64
	for _, x := range v {
		s += x
	}
	return s
}

// globEscape escapes the glob metacharacters of a path.
func globEscape(p string) string {
	var b []byte
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '*', '?', '[', '\\':
			b = append(b, '\\')
		}
		b = append(b, p[i])
	}
	return string(b)
}
