// Package eventdoc gives the filters of pipeline/filters the JSON document of an event and
// a place to keep the documents they rewrite, and edits documents at dotted field paths
// with the codecs JSON toolkit (no maps).
//
// What a filter sees: a document event's Doc; for a line event (the file input), the wire
// document of DESIGN.md section 3 without "@metadata", as codecs/json writes it (message,
// log.offset, log.file.path, input, host, ecs, agent, and the input's fields and tags). A
// filter that changes a line event turns it into a document event holding that document,
// with its id in Event.ID; a line event that no filter changes stays a line event.
package eventdoc

import (
	"fmt"
	"slices"

	"github.com/logpipe/logpipe/codecs"
	"github.com/logpipe/logpipe/pipeline"
	"github.com/logpipe/logpipe/pipeline/condition"
)

// Docs turns events into documents for one filter. It keeps scratch buffers: use one per
// filter (filters run on one goroutine).
type Docs struct {
	enc  *codecs.JSONEncoder
	line []byte // the document of the last line event viewed
	out  []byte // the current batch's rewritten documents
}

// New returns a Docs for a filter of agent a (the agent fields of line events).
func New(a pipeline.Agent) *Docs { return &Docs{enc: codecs.NewDocumentEncoder(a)} }

// View returns the document of e: e.Doc, or for a line event its document encoded into a
// scratch buffer that stays valid until the next call of View. The result must not be
// modified.
func (d *Docs) View(e *pipeline.Event) []byte {
	if e.Doc != nil {
		return e.Doc
	}
	d.line = d.enc.Encode(d.line[:0], e)
	return d.line
}

// StartBatch starts the rewritten documents of a new batch: documents set by Set are
// kept in a buffer of that batch, so they stay valid until the batch is acknowledged.
func (d *Docs) StartBatch() { d.out = nil }

// Set makes doc the document of e (a copy of it, in the batch's buffer). A line event
// becomes a document event; its id stays in e.ID (set by the input), so that outputs still
// write it as @metadata._id. rest are the events of the batch after e: when the buffer
// must be made or grow, it is sized for their documents too.
func (d *Docs) Set(e *pipeline.Event, doc []byte, rest []pipeline.Event) {
	need := len(doc) + 64
	if cap(d.out)-len(d.out) < need {
		d.out = make([]byte, 0, SizeHint(rest)+need+need/8*len(rest))
	}
	s := len(d.out)
	d.out = append(d.out, doc...)
	e.SetDoc(d.out[s:len(d.out):len(d.out)])
}

// SizeHint estimates the bytes of the documents of events (line events encoded).
func SizeHint(events []pipeline.Event) int {
	n := 0
	for i := range events {
		if events[i].Doc != nil {
			n += len(events[i].Doc)
		} else {
			n += 2*len(events[i].Message) + 512
		}
	}
	return n
}

// offset returns the index in doc where sub, a sub-slice of doc returned by
// codecs.Lookup, starts.
func offset(doc, sub []byte) int { return cap(doc) - cap(sub) }

// Editor edits documents at field paths. It keeps scratch buffers: one per filter.
type Editor struct {
	tmp  []byte
	nest []byte
}

// Remove removes field f from doc and reports whether it was there. A dotted field is
// removed from its nested object when the document has one, otherwise the top-level member
// of that literal name is removed (see condition.Field). doc is edited in place.
func (ed *Editor) Remove(doc []byte, f condition.Field) ([]byte, bool) {
	path := f.Path()
	if f.Dotted() {
		parent, ok := codecs.Lookup(doc, path[:len(path)-1]...)
		if ok && len(parent) > 0 && parent[0] == '{' {
			ed.tmp = append(ed.tmp[:0], parent...)
			ed.tmp = codecs.RemoveMember(ed.tmp, path[len(path)-1])
			if len(ed.tmp) != len(parent) {
				off := offset(doc, parent)
				return slices.Replace(doc, off, off+len(parent), ed.tmp...), true
			}
		}
	}
	// RemoveMember leaves doc as it is when the member is missing: the length tells.
	n := len(doc)
	doc = codecs.RemoveMember(doc, f.Name())
	return doc, len(doc) != n
}

// Put sets field f of doc to the raw JSON value raw (which must not alias doc), creating
// the objects on its path that are missing. A value on the path that is not an object is an
// error, unless overwrite is set: it is then replaced by an object.
func (ed *Editor) Put(doc []byte, f condition.Field, raw []byte, overwrite bool) ([]byte, error) {
	path := f.Path()
	for i := len(path) - 1; i >= 1; i-- {
		v, ok := codecs.Lookup(doc, path[:i]...)
		if !ok {
			continue
		}
		if len(v) == 0 || v[0] != '{' {
			if !overwrite {
				return doc, fmt.Errorf("cannot put %s: %s is not an object", f.Name(), dotted(path[:i]))
			}
			continue // replaced by an object one level up
		}
		off := offset(doc, v)
		ed.nest = nested(ed.nest[:0], path[i+1:], raw)
		ed.tmp = append(ed.tmp[:0], v...)
		ed.tmp = codecs.SetMember(ed.tmp, path[i], ed.nest)
		return slices.Replace(doc, off, off+len(v), ed.tmp...), nil
	}
	ed.nest = nested(ed.nest[:0], path[1:], raw)
	out := codecs.SetMember(doc, path[0], ed.nest)
	return out, nil
}

// nested appends the value of path under an object: raw itself for an empty path, else
// {"p0":{"p1":...raw}}.
func nested(dst []byte, path []string, raw []byte) []byte {
	for _, p := range path {
		dst = append(dst, '{')
		dst = codecs.AppendQuotedString(dst, p)
		dst = append(dst, ':')
	}
	dst = append(dst, raw...)
	for range path {
		dst = append(dst, '}')
	}
	return dst
}

func dotted(path []string) string {
	s := ""
	for i, p := range path {
		if i > 0 {
			s += "."
		}
		s += p
	}
	return s
}

// ErrorMessage is the field in which a filter records why it could not do its work on an
// event (ECS error.message), as Filebeat's processors do.
var ErrorMessage, _ = condition.ParseField("error.message")

// SetError records msg in the event document's error.message, replacing a previous one.
func (ed *Editor) SetError(doc []byte, msg string) []byte {
	q := codecs.AppendQuotedString(nil, msg)
	out, _ := ed.Put(doc, ErrorMessage, q, true)
	return out
}

// FieldSet is a set of fields to remove from documents in one pass (RemoveSet), parsed once.
type FieldSet struct {
	root []setNode
	n    int // number of fields
}

// setNode is one member name of the set's paths: removed when it ends a field, descended
// into when fields go on below it.
type setNode struct {
	name   string
	field  int // index of the field it ends, or -1
	nested []setNode
}

// NewFieldSet returns the set of fields. A dotted field names both the nested member and a
// top-level member whose own name holds the dots.
func NewFieldSet(fields []condition.Field) *FieldSet {
	s := &FieldSet{n: len(fields)}
	for i, f := range fields {
		s.root = addPath(s.root, f.Path(), i)
		if f.Dotted() {
			s.root = addPath(s.root, []string{f.Name()}, i)
		}
	}
	return s
}

func addPath(nodes []setNode, path []string, field int) []setNode {
	for i := range nodes {
		if nodes[i].name == path[0] {
			if len(path) == 1 {
				nodes[i].field = field
			} else {
				nodes[i].nested = addPath(nodes[i].nested, path[1:], field)
			}
			return nodes
		}
	}
	n := setNode{name: path[0], field: -1}
	if len(path) == 1 {
		n.field = field
	} else {
		n.nested = addPath(nil, path[1:], field)
	}
	return append(nodes, n)
}

// RemoveSet appends the object doc to dst without the members of set, and sets found[i]
// for each field i that was there (found must have one element per field). It walks doc
// once, descending only into the objects on the set's paths; members are copied as written.
// A malformed doc is appended unchanged.
func RemoveSet(dst, doc []byte, set *FieldSet, found []bool) []byte {
	start := len(dst)
	out, ok := removeIn(dst, doc, set.root, found)
	if !ok {
		clear(found)
		return append(dst[:start], doc...)
	}
	return out
}

func removeIn(dst, obj []byte, nodes []setNode, found []bool) ([]byte, bool) {
	dst = append(dst, '{')
	first := true
	ok := codecs.Members(obj, func(rawKey, value []byte) bool {
		var node *setNode
		for i := range nodes {
			if codecs.KeyIs(rawKey, nodes[i].name) {
				node = &nodes[i]
				break
			}
		}
		if node != nil && node.field >= 0 {
			found[node.field] = true
			return true
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, rawKey...)
		dst = append(dst, ':')
		if node != nil && len(value) > 0 && value[0] == '{' {
			mark := len(dst)
			var good bool
			if dst, good = removeIn(dst, value, node.nested, found); good {
				return true
			}
			dst = dst[:mark]
		}
		dst = append(dst, value...)
		return true
	})
	return append(dst, '}'), ok
}
