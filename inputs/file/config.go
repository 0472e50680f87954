package file

import (
	"errors"
	"path/filepath"
	"time"

	"github.com/logpipe/logpipe/pipeline"
)

// fingerprintBytes is how many leading bytes of a file make its identity (fixed, as in
// Filebeat 9 and OpenTelemetry's filelog receiver).
const fingerprintBytes = 1024

// Defaults of the attributes.
const (
	DefaultStartPosition = "beginning"
	DefaultMaxLineBytes  = 1 << 20
	DefaultCloseInactive = 5 * time.Minute
	DefaultPollInterval  = time.Second
	DefaultBatchEvents   = 2048
	DefaultBatchBytes    = 1 << 20
	DefaultCleanRemoved  = 24 * time.Hour
	DefaultMaxOpenFiles  = 1024
)

// Config is the typed configuration of an input "file" block.
type Config struct {
	// Paths are the globs of the files to read (filepath.Match syntax). Required.
	Paths []string `hcl:"paths"`
	// Exclude are globs matched against a matched path; a path matching one is skipped.
	// A pattern without a "/" is matched against the base name only.
	Exclude []string `hcl:"exclude,optional"`
	// StartPosition is where a file without a registry entry found by the first scan of a
	// run starts: "beginning" or "end". Files that appear later are always read from 0.
	StartPosition string `hcl:"start_position,optional"`
	// MaxLineBytes is the longest line emitted; a longer one is cut and flagged.
	MaxLineBytes string `hcl:"max_line_bytes,optional"`
	// CloseInactive closes a file at its end that has not changed for that long.
	CloseInactive string `hcl:"close_inactive,optional"`
	// PollInterval is the period of the re-glob and stat scan.
	PollInterval string `hcl:"poll_interval,optional"`
	// BatchEvents and BatchBytes bound each emitted batch.
	BatchEvents int    `hcl:"batch_events,optional"`
	BatchBytes  string `hcl:"batch_bytes,optional"`
	// CleanRemoved is how long the registry keeps the entry of a file that is no longer
	// found (and fully acknowledged).
	CleanRemoved string `hcl:"clean_removed,optional"`
	// MaxOpenFiles caps the descriptors the input holds open at once.
	MaxOpenFiles int `hcl:"max_open_files,optional"`
	// FollowSymlinks reads the target of a matched symlink; by default symlinks are skipped.
	FollowSymlinks bool `hcl:"follow_symlinks,optional"`
	// IncludeLines and ExcludeLines are regular expressions: only lines matching one of
	// IncludeLines (all lines when empty), and then none of ExcludeLines, are shipped
	// (lines.go).
	IncludeLines []string `hcl:"include_lines,optional"`
	ExcludeLines []string `hcl:"exclude_lines,optional"`

	// Derived by Validate.
	startEnd      bool
	maxLine       int
	closeInactive time.Duration
	poll          time.Duration
	batchBytes    int
	cleanRemoved  time.Duration
	lines         *lineFilter // include_lines, exclude_lines; nil without

	// Test hooks (never set from HCL).
	noNotify   bool          // do not use fsnotify at all
	flushEvery time.Duration // registry write period; default 1s
	readBudget int           // bytes a file reads per turn; default readBudget
}

// NewConfig returns a config holding the defaults.
func NewConfig() *Config {
	return &Config{
		StartPosition: DefaultStartPosition,
		MaxLineBytes:  "1MiB",
		CloseInactive: "5m",
		PollInterval:  "1s",
		BatchEvents:   DefaultBatchEvents,
		BatchBytes:    "1MiB",
		CleanRemoved:  "24h",
		MaxOpenFiles:  DefaultMaxOpenFiles,
	}
}

// Validate checks the attributes and fills the derived fields.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Paths) == 0 {
		errs = append(errs, pipeline.AttrErrorf("paths", "at least one path or glob is required"))
	}
	for _, p := range c.Paths {
		if p == "" {
			errs = append(errs, pipeline.AttrErrorf("paths", "empty path"))
		} else if _, err := filepath.Match(p, ""); err != nil {
			errs = append(errs, pipeline.AttrErrorf("paths", "bad glob %q: %v", p, err))
		}
	}
	for _, p := range c.Exclude {
		if _, err := filepath.Match(p, ""); err != nil {
			errs = append(errs, pipeline.AttrErrorf("exclude", "bad glob %q: %v", p, err))
		}
	}
	switch c.StartPosition {
	case "beginning", "":
		c.startEnd = false
	case "end":
		c.startEnd = true
	default:
		errs = append(errs, pipeline.AttrErrorf("start_position", "must be \"beginning\" or \"end\", not %q", c.StartPosition))
	}
	c.maxLine = sizeAttr("max_line_bytes", c.MaxLineBytes, &errs)
	c.batchBytes = sizeAttr("batch_bytes", c.BatchBytes, &errs)
	if c.BatchEvents < 1 {
		errs = append(errs, pipeline.AttrErrorf("batch_events", "must be at least 1, not %d", c.BatchEvents))
	}
	if c.MaxOpenFiles < 1 {
		errs = append(errs, pipeline.AttrErrorf("max_open_files", "must be at least 1, not %d", c.MaxOpenFiles))
	}
	c.closeInactive = durationAttr("close_inactive", c.CloseInactive, &errs)
	c.poll = durationAttr("poll_interval", c.PollInterval, &errs)
	c.cleanRemoved = durationAttr("clean_removed", c.CleanRemoved, &errs)
	errs = append(errs, compileLines(c)...)
	return errors.Join(errs...)
}

// sizeAttr parses a positive byte size attribute.
func sizeAttr(attr, v string, errs *[]error) int {
	n, err := pipeline.ParseBytes(v)
	switch {
	case err != nil:
		*errs = append(*errs, pipeline.AttrErrorf(attr, "%v", err))
	case n < 1 || n > 1<<30:
		*errs = append(*errs, pipeline.AttrErrorf(attr, "must be between 1 byte and 1GiB, not %q", v))
	}
	return int(n)
}

// durationAttr parses a positive duration attribute.
func durationAttr(attr, v string, errs *[]error) time.Duration {
	d, err := pipeline.ParseDuration(v)
	switch {
	case err != nil:
		*errs = append(*errs, pipeline.AttrErrorf(attr, "%v", err))
	case d <= 0:
		*errs = append(*errs, pipeline.AttrErrorf(attr, "must be positive, not %q", v))
	}
	return d
}
