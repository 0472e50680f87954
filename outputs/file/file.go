// Package file implements the "file" output: it appends every event, encoded by a codec
// ("json" by default, one event per line), to a file whose path is a template rendered per
// event, such as "/var/log/logpipe/access-%{+YYYY.MM.dd}.log" (the date of the event's
// @timestamp, in UTC) or ".../%{[host][name]}.log".
//
// Files are created with their parent directories, kept open while they are written to and
// closed once idle for close_idle. Each batch is flushed and, unless fsync = false,
// fsync'ed before it is acknowledged, so an acknowledged event is on disk. A failed write
// (disk full, permission denied) is retried with capped exponential backoff, forever, after
// dropping the file's buffered bytes and reopening it; the batch is written again from its
// first event, so a retry may duplicate lines (at-least-once).
package file

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/logpipe/logpipe/codecs"
	"github.com/logpipe/logpipe/pipeline"
)

// Config is the file output's configuration.
type Config struct {
	// Path is the template of the file to write to (required).
	Path string `hcl:"path"`
	// Codec names the codec; default "json".
	Codec string `hcl:"codec,optional"`
	// FileMode is the permission of files created, in octal; default "0640".
	FileMode string `hcl:"file_mode,optional"`
	// Fsync syncs every file written to before a batch is acknowledged; default true.
	Fsync bool `hcl:"fsync,optional"`
	// CloseIdle closes a file not written to for that long; default "1m".
	CloseIdle string `hcl:"close_idle,optional"`

	tpl       *codecs.Template
	mode      fs.FileMode
	closeIdle time.Duration
}

// Defaults returns the default configuration.
func Defaults() *Config {
	return &Config{Codec: "json", FileMode: "0640", Fsync: true, CloseIdle: "1m"}
}

// Validate implements pipeline.Validator and fills the derived fields.
func (c *Config) Validate() error {
	var errs []error
	if strings.TrimSpace(c.Path) == "" {
		errs = append(errs, pipeline.AttrErrorf("path", "must not be empty"))
	} else if t, err := codecs.ParseTemplate(c.Path); err != nil {
		errs = append(errs, pipeline.AttrErrorf("path", "%v", err))
	} else {
		c.tpl = t
	}
	if strings.TrimSpace(c.Codec) == "" {
		errs = append(errs, pipeline.AttrErrorf("codec", "must name a codec, such as \"json\" or \"line\""))
	}
	if m, err := strconv.ParseUint(c.FileMode, 8, 32); err != nil || m > 0o777 {
		errs = append(errs, pipeline.AttrErrorf("file_mode", "must be an octal permission such as \"0640\", got %q", c.FileMode))
	} else {
		c.mode = fs.FileMode(m)
	}
	if d, err := pipeline.ParseDuration(c.CloseIdle); err != nil {
		errs = append(errs, pipeline.AttrErrorf("close_idle", "%v", err))
	} else if d <= 0 {
		errs = append(errs, pipeline.AttrErrorf("close_idle", "must be positive, got %q", c.CloseIdle))
	} else {
		c.closeIdle = d
	}
	return errors.Join(errs...)
}

// Register adds the "file" output type to r.
func Register(r *pipeline.Registry) {
	r.AddOutput(pipeline.Typed[pipeline.Output]("file", Defaults,
		func(cfg *Config, s pipeline.Stage) (pipeline.Output, error) {
			return New(cfg, s, Options{})
		}))
}

// Options are the file output's injectable dependencies, for tests.
type Options struct {
	// Now is the clock used to find idle files; default time.Now.
	Now func() time.Time
	// Sync makes a file durable; default (*os.File).Sync.
	Sync func(f *os.File) error
	// Backoff paces retries of failed writes; default pipeline.DefaultBackoff.
	Backoff pipeline.Backoff
	// NoJanitor disables the background goroutine that closes idle files (tests call
	// CloseIdle themselves).
	NoJanitor bool
}

// Output appends events to files. Write is called from one goroutine; a janitor
// goroutine closes idle files, so the set of open files is guarded by a mutex.
type Output struct {
	cfg  *Config
	tpl  *codecs.Template
	enc  pipeline.Encoder
	log  *zap.Logger
	opts Options

	mu    sync.Mutex
	files map[string]*openFile

	buf, pathBuf []byte
	dirty        []*openFile

	stop chan struct{}
	done chan struct{}
}

type openFile struct {
	path     string
	f        *os.File
	w        *bufio.Writer
	lastUsed time.Time
	dirty    bool
}

// New returns a file output. cfg must have been validated.
func New(cfg *Config, s pipeline.Stage, opts Options) (*Output, error) {
	if cfg.tpl == nil {
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
	}
	enc, err := codecs.ResolveEncoder(s, cfg.Codec)
	if err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sync == nil {
		opts.Sync = (*os.File).Sync
	}
	if opts.Backoff == (pipeline.Backoff{}) {
		opts.Backoff = pipeline.DefaultBackoff
	}
	log := s.Log
	if log == nil {
		log = zap.NewNop()
	}
	o := &Output{
		cfg: cfg, tpl: cfg.tpl.WithAgent(s.Agent), enc: enc, log: log, opts: opts,
		files: map[string]*openFile{},
		stop:  make(chan struct{}), done: make(chan struct{}),
	}
	if opts.NoJanitor {
		close(o.done)
	} else {
		go o.janitor()
	}
	return o, nil
}

func (o *Output) janitor() {
	defer close(o.done)
	every := o.cfg.closeIdle / 2
	if every < time.Second {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-o.stop:
			return
		case <-t.C:
			o.CloseIdle()
		}
	}
}

// CloseIdle closes the files not written to for close_idle. The janitor calls it
// periodically.
func (o *Output) CloseIdle() {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.opts.Now()
	for p, f := range o.files {
		if now.Sub(f.lastUsed) >= o.cfg.closeIdle && !f.dirty {
			if err := f.f.Close(); err != nil {
				o.log.Warn("closing idle file", zap.String("path", p), zap.Error(err))
			}
			delete(o.files, p)
		}
	}
}

// OpenFiles returns the paths of the files currently open, for tests and diagnostics.
func (o *Output) OpenFiles() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for p := range o.files {
		out = append(out, p)
	}
	return out
}

// Write implements pipeline.Output: it appends the batch's events to their files, flushes
// and (with fsync) syncs every file it wrote to, then acknowledges the batch.
func (o *Output) Write(ctx context.Context, b *pipeline.Batch) error {
	err := pipeline.Retry(ctx, o.opts.Backoff,
		func(attempt int, err error, delay time.Duration) {
			o.log.Warn("writing batch failed, retrying", zap.String("domain", b.Domain),
				zap.Int("attempt", attempt), zap.Duration("delay", delay), zap.Error(err))
		},
		func(ctx context.Context) error { return o.writeBatch(b) })
	if err != nil {
		return fmt.Errorf("file output: %w", err)
	}
	b.Ack()
	return nil
}

func (o *Output) writeBatch(b *pipeline.Batch) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.opts.Now()
	o.dirty = o.dirty[:0]
	for i := range b.Events {
		e := &b.Events[i]
		o.pathBuf = o.tpl.Append(o.pathBuf[:0], e)
		f, ok := o.files[string(o.pathBuf)]
		if !ok {
			var err error
			if f, err = o.open(string(o.pathBuf)); err != nil {
				o.discardDirty()
				return err
			}
		}
		f.lastUsed = now
		if !f.dirty {
			f.dirty = true
			o.dirty = append(o.dirty, f)
		}
		o.buf = o.enc.Encode(o.buf[:0], e)
		if n := len(o.buf); n == 0 || o.buf[n-1] != '\n' {
			o.buf = append(o.buf, '\n')
		}
		if _, err := f.w.Write(o.buf); err != nil {
			o.discardDirty()
			return fmt.Errorf("write %s: %w", f.path, err)
		}
	}
	for _, f := range o.dirty {
		if err := f.w.Flush(); err != nil {
			o.discardDirty()
			return fmt.Errorf("write %s: %w", f.path, err)
		}
		if o.cfg.Fsync {
			if err := o.opts.Sync(f.f); err != nil {
				o.discardDirty()
				return fmt.Errorf("fsync %s: %w", f.path, err)
			}
		}
		f.dirty = false
	}
	o.dirty = o.dirty[:0]
	return nil
}

// discardDirty closes the files written to by a failed attempt, dropping their buffered
// bytes, so that the retry reopens them and starts from a clean state.
func (o *Output) discardDirty() {
	for _, f := range o.dirty {
		f.w.Reset(nil)
		_ = f.f.Close()
		delete(o.files, f.path)
	}
	o.dirty = o.dirty[:0]
}

// open opens (creating it and its directories when needed) the file at path for appending.
func (o *Output) open(path string) (*openFile, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create directory for %s: %w", path, err)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, o.cfg.mode)
	switch {
	case err == nil:
		// created: set the mode exactly, whatever the umask
		if err := f.Chmod(o.cfg.mode); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("chmod %s: %w", path, err)
		}
	case errors.Is(err, fs.ErrExist):
		if f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0); err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
	default:
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	of := &openFile{path: path, f: f, w: bufio.NewWriterSize(f, 64<<10)}
	o.files[path] = of
	o.log.Debug("opened file", zap.String("path", path))
	return of, nil
}

// Close implements pipeline.Output: it stops the janitor and closes every file. Every
// acknowledged batch was already flushed and synced by Write.
func (o *Output) Close(ctx context.Context) error {
	select {
	case <-o.stop:
	default:
		close(o.stop)
	}
	<-o.done
	o.mu.Lock()
	defer o.mu.Unlock()
	var errs []error
	for p, f := range o.files {
		if err := f.w.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("flush %s: %w", p, err))
		}
		if err := f.f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", p, err))
		}
		delete(o.files, p)
	}
	return errors.Join(errs...)
}
