// Package drop implements the filter "drop": it removes the events that match a condition
// (Filebeat's drop_event processor, Logstash's drop filter). A dropped event is
// acknowledged with its batch, so the input's position moves past it.
//
// See README.md for the configuration.
package drop

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/logpipe/logpipe/pipeline"
	"github.com/logpipe/logpipe/pipeline/condition"
	"github.com/logpipe/logpipe/pipeline/filters/internal/eventdoc"
)

// Config is the HCL configuration of a filter "drop" block.
type Config struct {
	// When is the condition an event must match to be dropped. Required: a drop filter
	// without one would drop every event.
	When *condition.Spec `hcl:"when,block"`

	cond *condition.Condition
	ctx  *hcl.EvalContext // the file's, for the nested blocks of When
}

// DefaultConfig returns the defaults of a filter "drop" block.
func DefaultConfig() *Config { return &Config{} }

// SetEvalContext implements pipeline.EvalContextUser: the loader's context decodes the
// nested blocks of the condition.
func (c *Config) SetEvalContext(ctx *hcl.EvalContext) { c.ctx = ctx }

// Validate checks the condition and compiles it.
func (c *Config) Validate() error {
	if c.When == nil {
		return pipeline.AttrErrorf("when", "a drop filter needs a when block saying which events to drop, like when { equals = { \"url.path\" = \"/healthz\" } }")
	}
	cond, err := condition.Compile(c.When, "when", c.ctx)
	if err != nil {
		return err
	}
	c.cond = cond
	return nil
}

// Register adds the filter type "drop" to r.
func Register(r *pipeline.Registry) {
	r.AddFilter(pipeline.Typed[pipeline.Filter]("drop", DefaultConfig, func(c *Config, s pipeline.Stage) (pipeline.Filter, error) {
		return New(c, s)
	}))
}

// Filter is the "drop" filter. Like every filter it is used from one goroutine.
type Filter struct {
	when    *condition.Matcher
	docs    *eventdoc.Docs
	dropped uint64
}

// New returns a drop filter for a config (validated here when it was not yet).
func New(c *Config, s pipeline.Stage) (*Filter, error) {
	if c.cond == nil {
		if err := c.Validate(); err != nil {
			return nil, err
		}
	}
	return &Filter{when: c.cond.Matcher(), docs: eventdoc.New(s.Agent)}, nil
}

// Dropped returns how many events were dropped so far.
func (f *Filter) Dropped() uint64 { return f.dropped }

// Process removes the events of b that match the condition; the others keep their order
// and are not changed (a line event stays a line event). It does not allocate.
func (f *Filter) Process(b *pipeline.Batch) {
	kept := b.Events[:0]
	for i := range b.Events {
		if f.when.Match(f.docs.View(&b.Events[i])) {
			f.dropped++
			continue
		}
		kept = append(kept, b.Events[i])
	}
	clear(b.Events[len(kept):])
	b.Events = kept
}
