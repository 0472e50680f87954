package file

import (
	"path/filepath"
	"strings"
	"sync"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
)

// notifier watches the parent directories of the matched files. Its events are only a
// hint to scan or read early: discovery and reading never depend on them.
type notifier struct {
	w    *fsnotify.Watcher
	log  *zap.Logger
	wake chan struct{} // capacity 1: "something happened"

	mu       sync.Mutex
	dirs     map[string]bool // watched directories
	paths    []string        // paths of the events since the last drain
	overflow bool            // events were lost (too many, or a watcher error)
	done     chan struct{}
}

const maxPendingPaths = 1024

func newNotifier(log *zap.Logger) (*notifier, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	n := &notifier{w: w, log: log, wake: make(chan struct{}, 1), dirs: map[string]bool{}, done: make(chan struct{})}
	go n.loop()
	return n, nil
}

func (n *notifier) loop() {
	defer close(n.done)
	for {
		select {
		case ev, ok := <-n.w.Events:
			if !ok {
				return
			}
			if ev.Op == fsnotify.Chmod {
				continue // a permission change is seen by the next poll
			}
			n.mu.Lock()
			if ev.Has(fsnotify.Remove|fsnotify.Rename) && n.dirs[ev.Name] {
				delete(n.dirs, ev.Name) // its watch is gone; added again once it exists
			}
			if len(n.paths) < maxPendingPaths {
				n.paths = append(n.paths, ev.Name)
			} else {
				n.overflow = true
			}
			n.mu.Unlock()
			select {
			case n.wake <- struct{}{}:
			default:
			}
		case err, ok := <-n.w.Errors:
			if !ok {
				return
			}
			n.log.Debug("fsnotify error; polling covers it", zap.Error(err))
			n.mu.Lock()
			n.overflow = true
			n.mu.Unlock()
		}
	}
}

// drain returns the paths of the events since the last drain and whether events were
// lost, and resets both.
func (n *notifier) drain(buf []string) ([]string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	buf = append(buf[:0], n.paths...)
	overflow := n.overflow
	n.paths, n.overflow = n.paths[:0], false
	return buf, overflow
}

// watch adds the parent directories of the patterns (those without wildcards in them)
// and of the matched paths. A directory that cannot be watched is tried again next time.
func (n *notifier) watch(patterns, matched []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	add := func(dir string) {
		if n.dirs[dir] {
			return
		}
		if err := n.w.Add(dir); err != nil {
			n.log.Debug("cannot watch directory; polling covers it", zap.String("dir", dir), zap.Error(err))
			return
		}
		n.dirs[dir] = true
	}
	for _, p := range patterns {
		if d := filepath.Dir(p); !strings.ContainsAny(d, "*?[\\") {
			add(d)
		}
	}
	for _, p := range matched {
		add(filepath.Dir(p))
	}
}

func (n *notifier) close() {
	n.w.Close()
	<-n.done
}

// handleNotify applies the pending fsnotify hints: an open file with an event is read
// again; an event about another matching path (a new file, a rename) or lost events ask
// for a scan, which the caller runs.
func (in *Input) handleNotify() (needScan bool) {
	var overflow bool
	in.notifyBuf, overflow = in.notify.drain(in.notifyBuf)
	for _, p := range in.notifyBuf {
		if st := in.byPath[p]; st != nil && st.f != nil {
			st.atEOF = false
		} else if in.matches(p) {
			needScan = true
		}
	}
	return needScan || overflow
}
