// Package dropfields implements the filter "drop_fields": it removes fields from events,
// optionally only from events that match a condition (Filebeat's drop_fields processor).
//
// See README.md for the configuration.
package dropfields

import (
	"errors"
	"github.com/hashicorp/hcl/v2"
	"strings"

	"github.com/logpipe/logpipe/pipeline"
	"github.com/logpipe/logpipe/pipeline/condition"
	"github.com/logpipe/logpipe/pipeline/filters/internal/eventdoc"
)

// Config is the HCL configuration of a filter "drop_fields" block.
type Config struct {
	// Fields are the fields to remove (dotted paths for nested fields). Required.
	Fields []string `hcl:"fields"`
	// IgnoreMissing: a field an event does not have is not an error. Default false: the
	// event gets error.message saying which field was missing (the other fields are still
	// removed).
	IgnoreMissing bool `hcl:"ignore_missing,optional"`
	// When limits the filter to the events that match it; without it, every event.
	When *condition.Spec `hcl:"when,block"`

	fields []condition.Field
	cond   *condition.Condition
	ctx    *hcl.EvalContext // the file's, for the nested blocks of When
}

// DefaultConfig returns the defaults of a filter "drop_fields" block.
func DefaultConfig() *Config { return &Config{} }

// SetEvalContext implements pipeline.EvalContextUser: the loader's context decodes the
// nested blocks of the condition.
func (c *Config) SetEvalContext(ctx *hcl.EvalContext) { c.ctx = ctx }

// Validate checks the attributes and compiles the condition.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Fields) == 0 {
		errs = append(errs, pipeline.AttrErrorf("fields", "list at least one field to drop, like fields = [\"agent.ephemeral_id\"]"))
	}
	c.fields = c.fields[:0]
	for _, name := range c.Fields {
		switch {
		case name == "@timestamp":
			errs = append(errs, pipeline.AttrErrorf("fields", "@timestamp cannot be dropped: every event needs it (Filebeat refuses too)"))
			continue
		case len(name) >= 2 && strings.HasPrefix(name, "/") && strings.HasSuffix(name, "/"):
			errs = append(errs, pipeline.AttrErrorf("fields", "%s: regular expressions in fields are not supported; list the field names", name))
			continue
		}
		f, err := condition.ParseField(name)
		if err != nil {
			errs = append(errs, pipeline.AttrErrorf("fields", "%v", err))
			continue
		}
		c.fields = append(c.fields, f)
	}
	if c.When != nil {
		cond, err := condition.Compile(c.When, "when", c.ctx)
		if err != nil {
			errs = append(errs, err)
		}
		c.cond = cond
	}
	return errors.Join(errs...)
}

// Register adds the filter type "drop_fields" to r.
func Register(r *pipeline.Registry) {
	r.AddFilter(pipeline.Typed[pipeline.Filter]("drop_fields", DefaultConfig, func(c *Config, s pipeline.Stage) (pipeline.Filter, error) {
		return New(c, s)
	}))
}

// Filter is the "drop_fields" filter. Like every filter it is used from one goroutine.
type Filter struct {
	cfg   Config
	when  *condition.Matcher // nil without a when block
	docs  *eventdoc.Docs
	ed    eventdoc.Editor
	set   *eventdoc.FieldSet
	found []bool
	work  []byte
	msg   []byte
}

// New returns a drop_fields filter for a config (validated here when it was not yet).
func New(c *Config, s pipeline.Stage) (*Filter, error) {
	if len(c.fields) == 0 || (c.When != nil && c.cond == nil) {
		if err := c.Validate(); err != nil {
			return nil, err
		}
	}
	return &Filter{cfg: *c, when: c.cond.Matcher(), docs: eventdoc.New(s.Agent), set: eventdoc.NewFieldSet(c.fields), found: make([]bool, len(c.fields))}, nil
}

// Process removes the fields from every event of b that matches the condition. Events
// that do not match, or hold none of the fields (with ignore_missing), are left as they
// are; the others get a rewritten document (a line event becomes a document event).
// Apart from one buffer per batch that has changed events, it does not allocate.
func (f *Filter) Process(b *pipeline.Batch) {
	f.docs.StartBatch()
	for i := range b.Events {
		e := &b.Events[i]
		doc := f.docs.View(e)
		if f.when != nil && !f.when.Match(doc) {
			continue
		}
		clear(f.found)
		f.work = eventdoc.RemoveSet(f.work[:0], doc, f.set, f.found)
		changed := false
		f.msg = f.msg[:0]
		for i, field := range f.cfg.fields {
			found := f.found[i]
			changed = changed || found
			if !found && !f.cfg.IgnoreMissing {
				if len(f.msg) == 0 {
					f.msg = append(f.msg, "failed to drop field ["...)
				} else {
					f.msg = append(f.msg, "], ["...)
				}
				f.msg = append(f.msg, field.Name()...)
			}
		}
		if len(f.msg) > 0 {
			f.msg = append(f.msg, "]: key not found"...)
			f.work = f.ed.SetError(f.work, string(f.msg))
			changed = true
		}
		if changed {
			f.docs.Set(e, f.work, b.Events[i+1:])
		}
	}
}
