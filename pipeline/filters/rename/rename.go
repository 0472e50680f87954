// Package rename implements the filter "rename": it renames fields (Filebeat's rename
// processor), optionally only in events that match a condition.
//
// See README.md for the configuration.
package rename

import (
	"errors"
	"fmt"
	"github.com/hashicorp/hcl/v2"

	"github.com/zclconf/go-cty/cty"

	"github.com/logpipe/logpipe/pipeline"
	"github.com/logpipe/logpipe/pipeline/condition"
	"github.com/logpipe/logpipe/pipeline/filters/internal/eventdoc"
)

// Pair is one renaming.
type Pair struct {
	From, To string
}

// Config is the HCL configuration of a filter "rename" block.
type Config struct {
	// Fields are the renamings, applied in order: fields = [{ from = "a", to = "b" }]
	// (a list of objects; Validate reads it into Pairs).
	Fields cty.Value `hcl:"fields"`
	// Pairs are the renamings of Fields.
	Pairs []Pair
	// IgnoreMissing: a from field the event does not have is skipped. Default false: it
	// is a failure.
	IgnoreMissing bool `hcl:"ignore_missing,optional"`
	// FailOnError: on a failure (missing from field, existing to field, a to path through
	// a value that is not an object) the event is restored as it was before this filter and
	// gets error.message; default true. With false, the failed renaming is skipped and the
	// others are done.
	FailOnError bool `hcl:"fail_on_error,optional"`
	// When limits the filter to the events that match it; without it, every event.
	When *condition.Spec `hcl:"when,block"`

	pairs []pair
	cond  *condition.Condition
	ctx   *hcl.EvalContext // the file's, for the nested blocks of When
}

type pair struct{ from, to condition.Field }

// DefaultConfig returns the defaults of a filter "rename" block.
func DefaultConfig() *Config { return &Config{FailOnError: true} }

// SetEvalContext implements pipeline.EvalContextUser: the loader's context decodes the
// nested blocks of the condition.
func (c *Config) SetEvalContext(ctx *hcl.EvalContext) { c.ctx = ctx }

// Validate checks the attributes and compiles the condition.
func (c *Config) Validate() error {
	var errs []error
	if c.Fields != cty.NilVal {
		c.Pairs, errs = pairs(c.Fields)
	}
	if len(c.Pairs) == 0 && len(errs) == 0 {
		errs = append(errs, pipeline.AttrErrorf("fields", "list at least one renaming, like fields = [{ from = \"msg\", to = \"message\" }]"))
	}
	c.pairs = c.pairs[:0]
	for i, p := range c.Pairs {
		from, err1 := condition.ParseField(p.From)
		to, err2 := condition.ParseField(p.To)
		for _, err := range []error{err1, err2} {
			if err != nil {
				errs = append(errs, pipeline.AttrErrorf("fields", "element %d: %v", i+1, err))
			}
		}
		if err1 != nil || err2 != nil {
			continue
		}
		for _, f := range []string{p.From, p.To} {
			if f == "@timestamp" {
				errs = append(errs, pipeline.AttrErrorf("fields", "element %d: @timestamp cannot be renamed: every event needs it", i+1))
			}
		}
		if p.From == p.To {
			errs = append(errs, pipeline.AttrErrorf("fields", "element %d renames %q to itself", i+1, p.From))
		}
		c.pairs = append(c.pairs, pair{from, to})
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

// pairs reads the fields attribute: a list of objects holding exactly from and to.
func pairs(v cty.Value) ([]Pair, []error) {
	const form = "each renaming is an object { from = \"old.name\", to = \"new.name\" }"
	ty := v.Type()
	if v.IsNull() || !v.IsKnown() || !(ty.IsListType() || ty.IsTupleType()) {
		return nil, []error{pipeline.AttrErrorf("fields", "must be a list of renamings; %s", form)}
	}
	var out []Pair
	var errs []error
	i := 0
	for it := v.ElementIterator(); it.Next(); i++ {
		_, ev := it.Element()
		if ev.IsNull() || !ev.IsKnown() || !(ev.Type().IsObjectType() || ev.Type().IsMapType()) {
			errs = append(errs, pipeline.AttrErrorf("fields", "element %d: %s", i+1, form))
			continue
		}
		var p Pair
		ok := true
		seen := 0
		for eit := ev.ElementIterator(); eit.Next(); {
			k, kv := eit.Element()
			var dst *string
			switch k.AsString() {
			case "from":
				dst = &p.From
			case "to":
				dst = &p.To
			default:
				errs = append(errs, pipeline.AttrErrorf("fields", "element %d: unknown key %q; %s", i+1, k.AsString(), form))
				ok = false
				continue
			}
			seen++
			if kv.IsNull() || !kv.IsKnown() || kv.Type() != cty.String {
				errs = append(errs, pipeline.AttrErrorf("fields", "element %d: %s must be a string", i+1, k.AsString()))
				ok = false
				continue
			}
			*dst = kv.AsString()
		}
		if ok && seen != 2 {
			errs = append(errs, pipeline.AttrErrorf("fields", "element %d: needs both from and to; %s", i+1, form))
			ok = false
		}
		if ok {
			out = append(out, p)
		}
	}
	return out, errs
}

// Register adds the filter type "rename" to r.
func Register(r *pipeline.Registry) {
	r.AddFilter(pipeline.Typed[pipeline.Filter]("rename", DefaultConfig, func(c *Config, s pipeline.Stage) (pipeline.Filter, error) {
		return New(c, s)
	}))
}

// Filter is the "rename" filter. Like every filter it is used from one goroutine.
type Filter struct {
	cfg  Config
	when *condition.Matcher // nil without a when block
	docs *eventdoc.Docs
	ed   eventdoc.Editor
	work []byte
	val  []byte
}

// New returns a rename filter for a config (validated here when it was not yet).
func New(c *Config, s pipeline.Stage) (*Filter, error) {
	if len(c.pairs) == 0 || len(c.pairs) != len(c.Pairs) || (c.When != nil && c.cond == nil) {
		if err := c.Validate(); err != nil {
			return nil, err
		}
	}
	return &Filter{cfg: *c, when: c.cond.Matcher(), docs: eventdoc.New(s.Agent)}, nil
}

// Process renames the fields of every event of b that matches the condition. Events that
// are not changed keep their form (a line event stays a line event). Apart from one buffer
// per batch that has changed events, and the message of a failure, it does not allocate.
func (f *Filter) Process(b *pipeline.Batch) {
	f.docs.StartBatch()
	for i := range b.Events {
		e := &b.Events[i]
		doc := f.docs.View(e)
		if f.when != nil && !f.when.Match(doc) {
			continue
		}
		f.work = append(f.work[:0], doc...)
		changed := false
		for _, p := range f.cfg.pairs {
			done, err := f.rename(p)
			if err != nil {
				if !f.cfg.FailOnError {
					continue
				}
				// Restore the event as it was and record why (Filebeat's behaviour).
				f.work = append(f.work[:0], doc...)
				f.work = f.ed.SetError(f.work, "Failed to rename fields in processor: "+err.Error())
				changed = true
				break
			}
			changed = changed || done
		}
		if changed {
			f.docs.Set(e, f.work, b.Events[i+1:])
		}
	}
}

// rename applies one renaming to f.work; done is false when from was missing and ignored.
func (f *Filter) rename(p pair) (done bool, err error) {
	if _, exists := p.to.Lookup(f.work); exists {
		return false, fmt.Errorf("target field %s already exists, drop or rename this field first", p.to.Name())
	}
	raw, ok := p.from.Lookup(f.work)
	if !ok {
		if f.cfg.IgnoreMissing {
			return false, nil
		}
		return false, fmt.Errorf("could not fetch value for key: %s, Error: key not found", p.from.Name())
	}
	f.val = append(f.val[:0], raw...)
	// Removing first supports renaming a to a.b.
	f.work, _ = f.ed.Remove(f.work, p.from)
	f.work, err = f.ed.Put(f.work, p.to, f.val, false)
	if err != nil {
		// Put changed nothing: give the value back to from, so that a failed renaming
		// never loses it (with fail_on_error = false the event goes on).
		f.work, _ = f.ed.Put(f.work, p.from, f.val, true)
		return false, fmt.Errorf("could not put value: %s: %w", p.to.Name(), err)
	}
	return true, nil
}
