// Package stdout implements the "stdout" output: it writes every event to the process's
// standard output through a codec ("json" by default, "rubydebug" for Logstash's readable
// dump, "line" for the bare message), one event per line (rubydebug: one block per event).
//
// Each batch is written through a buffered writer and flushed before the batch is
// acknowledged. A failed write (a closed pipe) stops the pipeline: acknowledging events that
// were not written would break delivery.
package stdout

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/logpipe/logpipe/codecs"
	"github.com/logpipe/logpipe/pipeline"
)

// Config is the stdout output's configuration.
type Config struct {
	// Codec names the codec that encodes each event; default "json".
	Codec string `hcl:"codec,optional"`
}

// Defaults returns the default configuration.
func Defaults() *Config { return &Config{Codec: "json"} }

// Validate implements pipeline.Validator.
func (c *Config) Validate() error {
	if strings.TrimSpace(c.Codec) == "" {
		return pipeline.AttrErrorf("codec", "must name a codec, such as \"json\" or \"rubydebug\"")
	}
	return nil
}

// Register adds the "stdout" output type to r, writing to w (the process's standard output
// in the binary).
func Register(r *pipeline.Registry, w io.Writer) {
	r.AddOutput(pipeline.Typed[pipeline.Output]("stdout", Defaults,
		func(cfg *Config, s pipeline.Stage) (pipeline.Output, error) {
			return New(cfg, s, w)
		}))
}

// Output writes events to a writer. Write and Close are called from one goroutine, as the
// pipeline.Output contract says; the mutex only guards against misuse.
type Output struct {
	mu  sync.Mutex
	w   *bufio.Writer
	enc pipeline.Encoder
}

// New returns a stdout output writing to w (os.Stdout in production, a buffer in tests).
// The codec is resolved through s.Codecs.
func New(cfg *Config, s pipeline.Stage, w io.Writer) (*Output, error) {
	enc, err := codecs.ResolveEncoder(s, cfg.Codec)
	if err != nil {
		return nil, err
	}
	return &Output{w: bufio.NewWriterSize(w, 64<<10), enc: enc}, nil
}

// Write implements pipeline.Output: it writes and flushes the batch, then acknowledges it.
func (o *Output) Write(ctx context.Context, b *pipeline.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := range b.Events {
		// Encode straight into the writer's free space; Write copies nothing more when it
		// fits.
		buf := o.enc.Encode(o.w.AvailableBuffer(), &b.Events[i])
		if n := len(buf); n == 0 || buf[n-1] != '\n' {
			buf = append(buf, '\n')
		}
		if _, err := o.w.Write(buf); err != nil {
			return fmt.Errorf("stdout: write: %w", err)
		}
	}
	if err := o.w.Flush(); err != nil {
		return fmt.Errorf("stdout: flush: %w", err)
	}
	b.Ack()
	return nil
}

// Close implements pipeline.Output. Every batch was flushed by Write; Close flushes again
// in case of a partial failure and leaves the writer (stdout) open.
func (o *Output) Close(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.w.Flush(); err != nil {
		return fmt.Errorf("stdout: flush: %w", err)
	}
	return nil
}
