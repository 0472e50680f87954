package apache

import (
	"errors"
	"strings"
	"time"

	"github.com/logpipe/logpipe/codecs"
	"github.com/logpipe/logpipe/pipeline"
)

// FailureTag is added to the tags of an event whose field is not an Apache access line
// (on_failure = "tag").
const FailureTag = "_apache_parse_failure"

// Config is the HCL configuration of a filter "apache" block.
type Config struct {
	// Field is the member holding the access line; a dotted name ("log.original") is
	// looked up as that exact member first, then as a nested path. Default "message".
	Field string `hcl:"field,optional"`
	// Target is the top-level member under which the parsed fields are written; "" (the
	// default) writes the ECS fields at the top level, replacing @timestamp with the request
	// time and keeping the read time in event.created.
	Target string `hcl:"target,optional"`
	// OnFailure is what happens to an event whose field does not parse: "tag" (default:
	// keep it unchanged but for a "_apache_parse_failure" tag) or "drop".
	OnFailure string `hcl:"on_failure,optional"`

	path []string // nested path of Field, when it has dots
}

// DefaultConfig returns the defaults of a filter "apache" block.
func DefaultConfig() *Config {
	return &Config{Field: "message", OnFailure: "tag"}
}

// Validate checks the attributes and completes derived fields.
func (c *Config) Validate() error {
	var errs []error
	if c.Field == "" || strings.HasPrefix(c.Field, ".") || strings.HasSuffix(c.Field, ".") || strings.Contains(c.Field, "..") {
		errs = append(errs, pipeline.AttrErrorf("field", "must be a member name or a dotted path, got %q", c.Field))
	}
	if c.Target == "@metadata" || strings.HasPrefix(c.Target, "@timestamp") {
		errs = append(errs, pipeline.AttrErrorf("target", "%q cannot hold the parsed fields", c.Target))
	}
	switch c.OnFailure {
	case "tag", "drop":
	default:
		errs = append(errs, pipeline.AttrErrorf("on_failure", "must be \"tag\" or \"drop\", got %q", c.OnFailure))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	c.path = nil
	if strings.Contains(c.Field, ".") {
		c.path = strings.Split(c.Field, ".")
	}
	return nil
}

// Register adds the filter type "apache" to r.
func Register(r *pipeline.Registry) {
	r.AddFilter(pipeline.Typed[pipeline.Filter]("apache", DefaultConfig, func(c *Config, s pipeline.Stage) (pipeline.Filter, error) {
		return New(c, s)
	}))
}

// Filter parses an Apache access line held in each event and adds the ECS fields that
// Filebeat's apache module produces. It implements pipeline.Filter; like every filter, it
// is used from one goroutine.
type Filter struct {
	cfg    Config
	stage  pipeline.Stage
	drop   bool
	failed uint64 // events that did not parse (for tests and logs)

	rec     Record
	w       Writer
	msg     []byte // the decoded access line
	work    []byte // the document being edited
	fields  []byte // one group object, or the target object
	pending []byte // new top-level members, inserted in one go
	created []byte // raw value of event.created
	ts      []byte // raw value of the new @timestamp
}

// New returns an apache filter for a validated config.
func New(c *Config, s pipeline.Stage) (*Filter, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &Filter{cfg: *c, stage: s, drop: c.OnFailure == "drop"}, nil
}

// Failed returns how many events did not parse so far.
func (f *Filter) Failed() uint64 { return f.failed }

// Process parses every event of b; see the package documentation. Document events have
// their Doc rewritten; line events become document events (their Doc is built first, as the
// json codec writes it). Events that do not parse are tagged or dropped.
//
// The rewritten documents live in one new buffer per batch (so they stay valid until the
// batch is acknowledged, whatever happens to the filter's scratch buffers); apart from that
// buffer, Process does not allocate.
func (f *Filter) Process(b *pipeline.Batch) {
	if len(b.Events) == 0 {
		return
	}
	need := 0
	for i := range b.Events {
		e := &b.Events[i]
		need += len(e.Doc) + 2*len(e.Message) + 768
	}
	out := make([]byte, 0, need)
	kept := b.Events[:0]
	for i := range b.Events {
		e := b.Events[i]
		start := len(out)
		var ok bool
		out, ok = f.processOne(out, &e)
		if !ok {
			f.failed++
			if f.drop {
				continue
			}
		}
		e.Doc = out[start:len(out):len(out)]
		kept = append(kept, e)
	}
	clear(b.Events[len(kept):])
	b.Events = kept
}

// processOne appends the rewritten document of e to out and updates e (but for e.Doc, which
// the caller points into out). ok is false when the line did not parse.
func (f *Filter) processOne(out []byte, e *pipeline.Event) ([]byte, bool) {
	var msg []byte
	f.work = f.work[:0]
	if e.Doc == nil {
		f.work = f.appendLineDoc(f.work, e)
		msg = e.Message
	} else {
		f.work = append(f.work, e.Doc...)
		msg = f.field(e.Doc)
	}
	if msg == nil || !Parse(msg, &f.rec) {
		if !f.drop {
			f.work = codecs.AppendTag(f.work, FailureTag)
		}
		return append(out, f.work...), false
	}
	r := &f.rec

	// event.created: the read time, as the document holds it.
	f.created = f.created[:0]
	if raw, ok := codecs.Lookup(f.work, "@timestamp"); ok {
		f.created = append(f.created, raw...)
	} else {
		f.created = append(f.created, '"')
		f.created = codecs.AppendTimestamp(f.created, e.Timestamp)
		f.created = append(f.created, '"')
	}

	if f.cfg.Target != "" {
		f.fields = append(f.fields[:0], '{')
		f.fields = f.w.AppendFields(f.fields, r, f.created)
		f.fields = append(f.fields, '}')
		f.work = codecs.MergeObject(f.work, f.cfg.Target, f.fields)
		return append(out, f.work...), true
	}

	present, ok := topLevel(f.work)
	if !ok {
		// Not an object we can edit: keep it, tagged, rather than guess.
		f.work = codecs.AppendTag(f.work, FailureTag)
		return append(out, f.work...), false
	}
	f.ts = append(f.ts[:0], '"')
	f.ts = appendTime(f.ts, r.Time)
	f.ts = append(f.ts, '"')
	f.pending = f.pending[:0]
	if present&(1<<bitTimestamp) != 0 {
		f.work = codecs.SetMember(f.work, "@timestamp", f.ts)
	} else {
		f.pending = append(f.pending, `,"@timestamp":`...)
		f.pending = append(f.pending, f.ts...)
	}
	for g := group(0); g < nGroups; g++ {
		var any bool
		f.fields, any = f.w.appendGroup(f.fields[:0], g, r, f.created)
		if !any {
			continue
		}
		if present&(1<<g) != 0 {
			f.work = codecs.MergeObject(f.work, groupNames[g], f.fields)
			continue
		}
		f.pending = append(f.pending, ',', '"')
		f.pending = append(f.pending, groupNames[g]...)
		f.pending = append(f.pending, '"', ':')
		f.pending = append(f.pending, f.fields...)
	}
	f.work = insertMembers(f.work, f.pending)
	e.Timestamp = time.Unix(r.Time, 0).UTC()
	return append(out, f.work...), true
}

// field returns the decoded access line of a document, or nil when the field is missing or
// not a string. It points into doc when the string has no escapes.
func (f *Filter) field(doc []byte) []byte {
	raw, ok := codecs.Lookup(doc, f.cfg.Field)
	if !ok && f.cfg.path != nil {
		raw, ok = codecs.Lookup(doc, f.cfg.path...)
	}
	if !ok || len(raw) < 2 || raw[0] != '"' {
		return nil
	}
	inner := raw[1 : len(raw)-1]
	if !hasBackslash(inner) {
		return inner
	}
	var err error
	f.msg, err = codecs.AppendUnquoted(f.msg[:0], raw)
	if err != nil {
		return nil
	}
	return f.msg
}

func hasBackslash(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}

// appendLineDoc appends the JSON document of a line event: @timestamp (read time) and
// message.
func (f *Filter) appendLineDoc(dst []byte, e *pipeline.Event) []byte {
	dst = append(dst, `{"@timestamp":"`...)
	dst = codecs.AppendTimestamp(dst, e.Timestamp)
	dst = append(dst, `","message":`...)
	dst = codecs.AppendQuoted(dst, e.Message)
	return append(dst, '}')
}

// insertMembers inserts members (each starting with ',') before the closing brace of the
// object doc.
func insertMembers(doc, members []byte) []byte {
	if len(members) == 0 {
		return doc
	}
	end := len(doc) - 1
	for end >= 0 && isSpace(doc[end]) {
		end--
	}
	if end < 0 || doc[end] != '}' {
		return doc
	}
	before := end - 1
	for before >= 0 && isSpace(doc[before]) {
		before--
	}
	if before >= 0 && doc[before] == '{' {
		members = members[1:] // empty object: no leading comma
	}
	doc = append(doc[:end], members...)
	return append(doc, '}')
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// bitTimestamp is the bit of "@timestamp" in topLevel's mask; groups use bits 0..nGroups-1.
const bitTimestamp = nGroups

// topLevel scans the members of the object doc once and reports which of the output's
// top-level names (groups and "@timestamp") it has. ok is false when doc is not a
// well-formed object.
func topLevel(doc []byte) (present uint32, ok bool) {
	i := skipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return 0, false
	}
	i = skipSpace(doc, i+1)
	if i < len(doc) && doc[i] == '}' {
		return 0, skipSpace(doc, i+1) == len(doc)
	}
	for {
		ks := i
		i = skipStr(doc, i)
		if i < 0 {
			return 0, false
		}
		key := doc[ks+1 : i-1]
		var kbuf [32]byte
		if hasBackslash(key) {
			if k, err := codecs.AppendUnquoted(kbuf[:0], doc[ks:i]); err == nil {
				key = k
			}
		}
		i = skipSpace(doc, i)
		if i >= len(doc) || doc[i] != ':' {
			return 0, false
		}
		i = skipVal(doc, skipSpace(doc, i+1))
		if i < 0 {
			return 0, false
		}
		if string(key) == "@timestamp" {
			present |= 1 << bitTimestamp
		} else {
			for g := group(0); g < nGroups; g++ {
				if string(key) == groupNames[g] {
					present |= 1 << g
					break
				}
			}
		}
		i = skipSpace(doc, i)
		if i >= len(doc) {
			return 0, false
		}
		if doc[i] == '}' {
			return present, skipSpace(doc, i+1) == len(doc)
		}
		if doc[i] != ',' {
			return 0, false
		}
		i = skipSpace(doc, i+1)
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipStr returns the index after the string at b[i], or -1.
func skipStr(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipVal returns the index after the value at b[i], or -1. It checks the structure
// (brackets and strings) only, enough to find member boundaries; the codecs toolkit that
// edits the document validates the rest.
func skipVal(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipStr(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipStr(b, i)
				if i < 0 {
					return -1
				}
				i--
			case '{', '[':
				depth++
				if depth > codecs.MaxDepth {
					return -1
				}
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && !isSpace(b[j]) {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}
