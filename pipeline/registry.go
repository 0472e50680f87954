package pipeline

import (
	"fmt"
	"sort"
	"time"
)

// Encoder turns an event into bytes.
//
// Encode appends the encoded event to dst and returns the extended slice; it must not keep
// dst or the event. It runs on the hot path: no maps, no reflection, no allocation per event
// beyond growing dst. It never fails: bytes that cannot be represented are replaced (invalid
// UTF-8 becomes U+FFFD in JSON).
type Encoder interface {
	Encode(dst []byte, e *Event) []byte
}

// Decoder turns one message (a Kafka record value) into a document event.
//
// Decode appends the event's JSON object (without "@metadata") to dst, points e.Doc at it,
// sets e.ID from @metadata._id when present and e.Timestamp from @timestamp (recordTime when
// absent or unparsable), and returns the extended dst. It may append an index of the
// object's members after it and point e.Top at that (nil otherwise). It never fails and never drops: a
// message that is not a JSON object becomes {"@timestamp":...,"message":<raw text>,
// "tags":["_jsonparsefailure"]} (Logstash's convention).
type Decoder interface {
	Decode(dst []byte, msg []byte, recordTime time.Time, e *Event) []byte
}

// CodecType is a registered codec. NewDecoder is nil for encode-only codecs.
type CodecType struct {
	Name       string
	NewEncoder func(a Agent) Encoder
	NewDecoder func() Decoder
}

// Validator is implemented by typed stage configs: Validate checks the decoded values and
// completes derived fields (parsed durations, ...). Problems with one attribute are returned
// as *AttrError (use AttrErrorf) so the loader reports them at that attribute's file:line:col;
// several problems are returned with errors.Join.
type Validator interface {
	Validate() error
}

// AttrError is a problem with one attribute of a stage block.
type AttrError struct {
	Attr string // attribute name as written in HCL, e.g. "start_position"
	Msg  string
}

func (e *AttrError) Error() string { return e.Attr + ": " + e.Msg }

// AttrErrorf returns an *AttrError for attribute attr.
func AttrErrorf(attr, format string, args ...any) error {
	return &AttrError{Attr: attr, Msg: fmt.Sprintf(format, args...)}
}

// StageType is a registered input, filter or output type.
//
// NewConfig returns a fresh typed config holding its defaults: a pointer to a struct whose
// fields carry gohcl tags (`hcl:"paths"`, `hcl:"start_position,optional"`, `hcl:"tls,block"`).
// The loader decodes the stage's HCL body into it, then calls Validate when it is a Validator.
// Build constructs the stage from that config.
type StageType[T any] struct {
	Name      string
	NewConfig func() any
	Build     func(cfg any, s Stage) (T, error)
}

// Typed adapts a constructor over a concrete config type C to a StageType.
func Typed[T any, C any](name string, defaults func() *C, build func(cfg *C, s Stage) (T, error)) StageType[T] {
	return StageType[T]{
		Name:      name,
		NewConfig: func() any { return defaults() },
		Build: func(cfg any, s Stage) (T, error) {
			c, ok := cfg.(*C)
			if !ok {
				var zero T
				return zero, fmt.Errorf("stage %s: config is %T, want *%T", name, cfg, *new(C))
			}
			return build(c, s)
		},
	}
}

// Registry holds the stage and codec types a process knows. It is filled explicitly from
// main before any config is loaded; a duplicate registration panics (a programming error).
// After filling, it is only read.
type Registry struct {
	inputs  map[string]StageType[Input]
	filters map[string]StageType[Filter]
	outputs map[string]StageType[Output]
	codecs  map[string]CodecType
	// docFields merges an input's fields and tags into document events (inputcommon.go).
	docFields DocFieldsFunc
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{
		inputs:  map[string]StageType[Input]{},
		filters: map[string]StageType[Filter]{},
		outputs: map[string]StageType[Output]{},
		codecs:  map[string]CodecType{},
	}
}

func register[T any](m map[string]T, kind, name string, t T) {
	if name == "" {
		panic(fmt.Sprintf("pipeline: %s type with empty name", kind))
	}
	if _, dup := m[name]; dup {
		panic(fmt.Sprintf("pipeline: %s type %q registered twice", kind, name))
	}
	m[name] = t
}

// AddInput registers an input type.
func (r *Registry) AddInput(t StageType[Input]) { register(r.inputs, "input", t.Name, t) }

// AddFilter registers a filter type.
func (r *Registry) AddFilter(t StageType[Filter]) { register(r.filters, "filter", t.Name, t) }

// AddOutput registers an output type.
func (r *Registry) AddOutput(t StageType[Output]) { register(r.outputs, "output", t.Name, t) }

// AddCodec registers a codec.
func (r *Registry) AddCodec(t CodecType) { register(r.codecs, "codec", t.Name, t) }

// Input returns the input type called name.
func (r *Registry) Input(name string) (StageType[Input], bool) { t, ok := r.inputs[name]; return t, ok }

// Filter returns the filter type called name.
func (r *Registry) Filter(name string) (StageType[Filter], bool) {
	t, ok := r.filters[name]
	return t, ok
}

// Output returns the output type called name.
func (r *Registry) Output(name string) (StageType[Output], bool) {
	t, ok := r.outputs[name]
	return t, ok
}

// Codec returns the codec called name.
func (r *Registry) Codec(name string) (CodecType, bool) { t, ok := r.codecs[name]; return t, ok }

// Names lists the registered names of one kind ("input", "filter", "output", "codec"),
// sorted; the loader uses it for "did you mean" hints.
func (r *Registry) Names(kind string) []string {
	var names []string
	switch kind {
	case "input":
		names = keys(r.inputs)
	case "filter":
		names = keys(r.filters)
	case "output":
		names = keys(r.outputs)
	case "codec":
		names = keys(r.codecs)
	}
	sort.Strings(names)
	return names
}

func keys[T any](m map[string]T) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
