package file

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/logpipe/logpipe/pipeline"
)

// readBufSize is the size of the read buffer shared by all files (one reader goroutine).
const readBufSize = 256 << 10

// readBudget is how many bytes one file may read in a round before the next file's turn.
const readBudget = 4 << 20

// Register registers the input type "file".
func Register(r *pipeline.Registry) {
	r.AddInput(pipeline.Typed[pipeline.Input]("file", NewConfig,
		func(c *Config, s pipeline.Stage) (pipeline.Input, error) { return New(c, s) }))
}

type devIno struct{ dev, ino uint64 }

// Input is the file input. Run and Close are called as pipeline.Input documents; every other
// method runs on the Run goroutine.
type Input struct {
	cfg     *Config
	stage   pipeline.Stage
	log     *zap.Logger
	regPath string

	// mu guards the stream indexes and the persisted fields of every state (key, path,
	// dev, ino, head, lastSeen), which the registry writer reads.
	mu       sync.Mutex
	states   map[string]*state       // every known stream, by key (its event id prefix)
	byAnchor map[[32]byte][]*state   // streams by the sha256 of their anchor (identity.go)
	legacy   []*state                // streams of a version 1 registry not found again yet
	copies   map[devIno]copyNote     // files holding a stream read from elsewhere
	noAnchor map[string]noAnchorNote // files without a complete first line, by path

	// Run goroutine only.
	open      map[devIno]*state // open files
	byPath    map[string]*state // the state last seen at each path
	gen       uint64            // scan generation
	firstScan bool
	// initial holds the paths found by the first scan that were not opened yet (only with
	// start_position "end", which applies to them alone).
	initial   map[string]bool
	deferred  int // matched paths not opened in this scan because of max_open_files
	buf       []byte
	head      [fingerprintBytes]byte
	skipped   map[string]skipNote
	notify    *notifier
	notifyBuf []string
	staleSeen bool // a read found a file changed under it: scan now

	dirty     atomic.Bool // the registry changed since it was last written
	writeMu   sync.Mutex  // serialises registry writes
	flushStop chan struct{}
	flushDone chan struct{}
	closed    atomic.Bool
}

type skipNote struct {
	reason string
	gen    uint64
}

// New builds a file input from a validated config. It loads the registry: a corrupt one is
// an error (see CorruptRegistryError).
func New(c *Config, s pipeline.Stage) (*Input, error) {
	if err := c.Validate(); err != nil {
		return nil, pipeline.Permanent(err)
	}
	if s.DataDir == "" {
		return nil, pipeline.Permanent(errors.New("input file: data_dir is required (the registry of file offsets lives there)"))
	}
	log := s.Log
	if log == nil {
		log = zap.NewNop()
	}
	in := &Input{
		cfg:       c,
		stage:     s,
		log:       log,
		regPath:   filepath.Join(s.DataDir, s.ID(), "registry.json"),
		states:    map[string]*state{},
		byAnchor:  map[[32]byte][]*state{},
		copies:    map[devIno]copyNote{},
		noAnchor:  map[string]noAnchorNote{},
		open:      map[devIno]*state{},
		byPath:    map[string]*state{},
		skipped:   map[string]skipNote{},
		firstScan: true,
	}
	entries, err := loadRegistry(in.regPath, s.Agent.Hostname)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		st := &state{
			key: e.Key, path: e.Path, dev: e.Device, ino: e.Inode, head: e.Head, durable: true,
			lastSeen: e.LastSeen, tracker: pipeline.NewTracker(e.Offset),
			readOff: e.Offset, lineStart: e.Offset,
		}
		st.publish()
		in.states[e.Key] = st
		if len(e.Head) > 0 {
			in.indexStream(st)
			continue
		}
		st.head = nil
		st.legacyLen = e.HeadLen
		sum, _ := decodeSum(e.HeadSHA) // checked by loadRegistry
		st.legacySum = sum
		in.legacy = append(in.legacy, st)
	}
	if err := s.Registerer().Register(newFileMetrics(in)); err != nil {
		return nil, fmt.Errorf("input file: register metrics: %w", err)
	}
	if len(entries) > 0 {
		log.Info("registry loaded", zap.String("registry", in.regPath), zap.Int("files", len(entries)))
	}
	return in, nil
}

func decodeSum(s string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		return sum, fmt.Errorf("bad sha256 %q", s)
	}
	copy(sum[:], b)
	return sum, nil
}

// Run implements pipeline.Input.
func (in *Input) Run(ctx context.Context, emit pipeline.Emit) error {
	if in.buf == nil {
		in.buf = make([]byte, readBufSize)
	}
	in.startFlusher()
	if in.stage.Once {
		return in.runOnce(ctx, emit)
	}
	if !in.cfg.noNotify {
		n, err := newNotifier(in.log)
		if err != nil {
			in.log.Warn("fsnotify unavailable; relying on polling only", zap.Error(err))
		} else {
			in.notify = n
			defer func() { n.close(); in.notify = nil }()
		}
	}
	var events <-chan struct{}
	if in.notify != nil {
		events = in.notify.wake
	}
	ticker := time.NewTicker(in.cfg.poll)
	defer ticker.Stop()
	var lastScan time.Time
	needScan := true
	for {
		if needScan {
			lastScan = time.Now()
			in.lockedScan(lastScan)
			needScan = false
		}
		for {
			progress, err := in.readRound(ctx, emit)
			if err != nil {
				return runErr(ctx, err)
			}
			if !progress {
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			if now := time.Now(); now.Sub(lastScan) >= in.cfg.poll || in.staleSeen {
				lastScan = now
				in.lockedScan(now)
			}
		}
		if err := in.closeIdle(ctx, emit, time.Now()); err != nil {
			return runErr(ctx, err)
		}
		if in.staleSeen {
			needScan = true
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
			needScan = true
		case <-events:
			needScan = in.handleNotify() || time.Since(lastScan) >= in.cfg.poll
		}
	}
}

// runOnce reads every matched file to its end, emits the last unterminated line of each,
// and returns.
func (in *Input) runOnce(ctx context.Context, emit pipeline.Emit) error {
	for {
		in.lockedScan(time.Now())
		if len(in.open) == 0 {
			return nil
		}
		for {
			progress, err := in.readRound(ctx, emit)
			if err != nil {
				return runErr(ctx, err)
			}
			if !progress {
				break
			}
			if ctx.Err() != nil {
				return nil
			}
		}
		for _, st := range in.open {
			st.done = true
			if err := in.finish(ctx, st, emit, "end of file (once)"); err != nil {
				return runErr(ctx, err)
			}
		}
	}
}

func runErr(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return nil
	}
	return err
}

// Close implements pipeline.Input: it writes the registry a last time and closes files.
func (in *Input) Close(ctx context.Context) error {
	if !in.closed.CompareAndSwap(false, true) {
		return nil
	}
	if in.flushStop != nil {
		close(in.flushStop)
		<-in.flushDone
	}
	for _, st := range in.open {
		st.f.Close()
		st.f = nil
	}
	clear(in.open)
	return in.save()
}

func (in *Input) startFlusher() {
	if in.flushStop != nil {
		return
	}
	in.flushStop = make(chan struct{})
	in.flushDone = make(chan struct{})
	every := in.cfg.flushEvery
	if every <= 0 {
		every = time.Second
	}
	go func() {
		defer close(in.flushDone)
		t := time.NewTicker(every)
		defer t.Stop()
		var failing registryFailure
		for {
			select {
			case <-in.flushStop:
				return
			case <-t.C:
				if in.dirty.Swap(false) {
					err := in.save()
					if err != nil {
						in.dirty.Store(true)
					}
					failing.report(in.log, in.regPath, err, time.Now())
				}
			}
		}
	}()
}

// save writes the committed positions of every known stream to the registry.
func (in *Input) save() error {
	in.writeMu.Lock()
	defer in.writeMu.Unlock()
	in.mu.Lock()
	entries := make([]regEntry, 0, len(in.states))
	for _, st := range in.states {
		e := regEntry{
			Key: st.key, Offset: st.tracker.Committed(), Path: st.path, Device: st.dev, Inode: st.ino,
			Head: st.head, LastSeen: st.lastSeen.UTC(),
		}
		if st.head == nil {
			e.HeadLen = st.legacyLen
			e.HeadSHA = hex.EncodeToString(st.legacySum[:])
		}
		entries = append(entries, e)
	}
	in.mu.Unlock()
	return saveRegistry(in.regPath, entries)
}

// makeDurable writes the registry before the first read of a stream whose key is not
// derived from its content alone (see identity.go). It reports whether st may be read.
func (in *Input) makeDurable(st *state) bool {
	if st.durable {
		return true
	}
	if err := in.save(); err != nil {
		in.log.Warn("cannot write the registry; the new stream is read once the registry holds it",
			append(stateFields(st), zap.String("registry", in.regPath), zap.Error(err))...)
		return false
	}
	st.durable = true
	return true
}

func stateFields(st *state) []zap.Field {
	return []zap.Field{zap.String("path", st.path), zap.String("stream", st.key), zap.Int64("offset", st.readOff)}
}
