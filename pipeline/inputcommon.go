package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Attributes every input block takes besides its type's own (Filebeat's common input
// options). The loader reads them before the input's typed config.
const (
	attrFields          = "fields"
	attrFieldsUnderRoot = "fields_under_root"
	attrTags            = "tags"
)

var inputCommonSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: attrFields}, {Name: attrFieldsUnderRoot}, {Name: attrTags},
}}

// wireMembers are the top-level members the json codec writes for a line event:
// fields_under_root cannot add members of these names (the document would hold a key
// twice).
var wireMembers = []string{"@timestamp", "@metadata", "message", "log", "input", "host", "ecs", "agent"}

// InputFields are the fields and tags an input adds to every event it reads (the input
// block's fields, fields_under_root and tags), precomputed as JSON when the configuration
// is loaded. One value is shared by every event of the input and never modified.
//
// Line events point to it (Event.Fields) and the json codec appends Line to their document:
// no per-event work. Document events get Fields and Tags merged into Doc by the runner when
// they are emitted (see DocFieldsFunc).
type InputFields struct {
	// Object is the fields as a JSON object with dotted names expanded
	// ({"service":{"name":"web"}} for fields = { "service.name" = "web" }); nil without
	// fields.
	Object []byte
	// UnderRoot puts the fields at the top level of the document instead of under
	// "fields".
	UnderRoot bool
	// Members are the top-level members of Object, in order.
	Members []Member
	// Tags are appended to the document's "tags" array.
	Tags []string
	// Line is the JSON fragment the json codec appends to a line event's document after
	// "log": `,"fields":{...},"tags":[...]` (the members of Object instead of "fields" with
	// UnderRoot).
	Line []byte
}

// Member is one member of a JSON object: its name and raw JSON value.
type Member struct {
	Key   string
	Value []byte
}

// DocFieldsFunc appends doc, a document event's JSON object, to dst with the fields and
// tags of f merged in: under "fields" (members of an existing "fields" object are set), or
// with UnderRoot each member at the top level (object values merged into an existing
// object of that name, other values replacing it), and each tag appended to "tags" unless
// it is there already. scratch is working space the function may grow and returns. It is
// registered by package codecs (see Registry.SetDocFields), which pipeline cannot import.
type DocFieldsFunc func(dst, scratch, doc []byte, f *InputFields) (out, scratchOut []byte)

// SetDocFields registers how document events get their input's fields and tags (the codecs
// package does it in codecs.Register). Inputs with fields or tags cannot run without it.
func (r *Registry) SetDocFields(fn DocFieldsFunc) { r.docFields = fn }

// apply gives every event of b the input's fields and tags: line events point to f,
// document events have them merged into Doc, in one new buffer for the batch.
func (f *InputFields) apply(b *Batch, merge DocFieldsFunc) {
	var buf, scratch []byte
	for i := range b.Events {
		e := &b.Events[i]
		if e.Doc == nil {
			e.Fields = f
			continue
		}
		if buf == nil {
			n := 0
			for j := i; j < len(b.Events); j++ {
				n += len(b.Events[j].Doc) + len(f.Line) + 16
			}
			buf = make([]byte, 0, n)
		}
		s := len(buf)
		buf, scratch = merge(buf, scratch, e.Doc, f)
		e.SetDoc(buf[s:len(buf):len(buf)])
	}
	if buf != nil {
		b.bytes = 0
		for i := range b.Events {
			b.bytes += b.Events[i].Size()
		}
	}
}

// inputCommon reads the common attributes of input block b and returns the rest of its
// body, for the input type's config, and the InputFields (nil when the block sets none).
func (l *loader) inputCommon(b *hcl.Block) (hcl.Body, *InputFields) {
	content, rest, diags := b.Body.PartialContent(inputCommonSchema)
	l.diags = append(l.diags, diags...)
	rest = hintBody{rest}
	if content == nil || len(content.Attributes) == 0 {
		return rest, nil
	}
	f := &InputFields{}
	ok := true
	if a := content.Attributes[attrFieldsUnderRoot]; a != nil {
		v, d := a.Expr.Value(l.ctx)
		l.diags = append(l.diags, d...)
		switch {
		case d.HasErrors():
			ok = false
		case v.IsNull() || !v.IsKnown() || v.Type() != cty.Bool:
			l.errorf(a.Expr.Range(), "Wrong type for fields_under_root", "fields_under_root must be true or false.")
			ok = false
		default:
			f.UnderRoot = v.True()
		}
	}
	if a := content.Attributes[attrTags]; a != nil {
		v, d := a.Expr.Value(l.ctx)
		l.diags = append(l.diags, d...)
		switch {
		case d.HasErrors():
			ok = false
		case v.IsNull() || !v.IsKnown() || !(v.Type().IsListType() || v.Type().IsTupleType() || v.Type().IsSetType()):
			l.errorf(a.Expr.Range(), "Wrong type for tags", "tags must be a list of strings, like tags = [\"web\", \"production\"].")
			ok = false
		default:
			for it := v.ElementIterator(); it.Next(); {
				_, t := it.Element()
				if t.IsNull() || !t.IsKnown() || t.Type() != cty.String || t.AsString() == "" {
					l.errorf(a.Expr.Range(), "Invalid tags", "Every tag must be a non-empty string.")
					ok = false
					break
				}
				f.Tags = append(f.Tags, t.AsString())
			}
		}
	}
	if a := content.Attributes[attrFields]; a != nil {
		v, d := a.Expr.Value(l.ctx)
		l.diags = append(l.diags, d...)
		switch {
		case d.HasErrors():
			ok = false
		case v.IsNull() || !v.IsKnown() || !(v.Type().IsObjectType() || v.Type().IsMapType()):
			l.errorf(a.Expr.Range(), "Wrong type for fields", "fields must be an object, like fields = { env = \"production\", \"service.name\" = \"web\" }.")
			ok = false
		default:
			obj, members, err := fieldsJSON(v)
			f.Members = members
			if err != nil {
				l.errorf(a.Expr.Range(), "Invalid fields", "%s.", err)
				ok = false
				break
			}
			if !bytes.Equal(obj, []byte("{}")) {
				f.Object = obj
			}
			if f.UnderRoot {
				for _, k := range topKeys(v) {
					if k == attrTags && len(f.Tags) > 0 {
						l.errorf(a.Expr.Range(), "Invalid fields", "With fields_under_root, a field called \"tags\" would clash with the tags attribute; add the tags to tags instead.")
						ok = false
					}
					for _, w := range wireMembers {
						if k == w {
							l.errorf(a.Expr.Range(), "Invalid fields",
								"With fields_under_root, the field %q would replace the %q the event already has; rename the field, or set fields_under_root = false to keep it under \"fields\".", k, w)
							ok = false
						}
					}
				}
			}
		}
	}
	if !ok || (f.Object == nil && len(f.Tags) == 0) {
		return rest, nil
	}
	f.Line = f.lineFragment()
	return rest, f
}

// lineFragment builds Line.
func (f *InputFields) lineFragment() []byte {
	var out []byte
	if f.Object != nil {
		if f.UnderRoot {
			inner := bytes.TrimSpace(f.Object[1 : len(f.Object)-1])
			if len(inner) > 0 {
				out = append(out, ',')
				out = append(out, inner...)
			}
		} else {
			out = append(out, `,"fields":`...)
			out = append(out, f.Object...)
		}
	}
	if len(f.Tags) > 0 {
		out = append(out, `,"tags":`...)
		out = appendJSON(out, f.Tags)
	}
	return out
}

// topKeys returns the top-level member names the fields object will have (the part of each
// key before its first dot).
func topKeys(v cty.Value) []string {
	var keys []string
	for it := v.ElementIterator(); it.Next(); {
		k, _ := it.Element()
		keys = append(keys, strings.SplitN(k.AsString(), ".", 2)[0])
	}
	return keys
}

// fieldsJSON converts the value of the fields attribute to a JSON object, expanding dotted
// keys into nested objects as Filebeat does ({"a.b": 1} is {"a": {"b": 1}}).
func fieldsJSON(v cty.Value) ([]byte, []Member, error) {
	root := &jsonNode{}
	if err := root.addObject(v, ""); err != nil {
		return nil, nil, err
	}
	var members []Member
	for _, k := range root.keys {
		members = append(members, Member{Key: k, Value: root.nodes[k].appendTo(nil)})
	}
	return root.appendTo(nil), members, nil
}

// jsonNode is an object being built from dotted keys, or a leaf value.
type jsonNode struct {
	leaf  []byte // JSON of a leaf value; nil for an object
	keys  []string
	nodes map[string]*jsonNode
}

func (n *jsonNode) child(key, where string) (*jsonNode, error) {
	if n.nodes == nil {
		n.nodes = map[string]*jsonNode{}
	}
	c, ok := n.nodes[key]
	if !ok {
		c = &jsonNode{}
		n.nodes[key] = c
		n.keys = append(n.keys, key)
	}
	if c.leaf != nil {
		return nil, fmt.Errorf("the field %q is set twice", where+key)
	}
	return c, nil
}

func (n *jsonNode) addObject(v cty.Value, prefix string) error {
	for it := v.ElementIterator(); it.Next(); {
		k, ev := it.Element()
		key := k.AsString()
		parts := strings.Split(key, ".")
		for _, p := range parts {
			if p == "" {
				return fmt.Errorf("%q is not a field name: no empty parts between dots", prefix+key)
			}
		}
		cur, where := n, prefix
		for _, p := range parts[:len(parts)-1] {
			c, err := cur.child(p, where)
			if err != nil {
				return err
			}
			cur, where = c, where+p+"."
		}
		last := parts[len(parts)-1]
		c, err := cur.child(last, where)
		if err != nil {
			return err
		}
		if !ev.IsNull() && ev.IsKnown() && (ev.Type().IsObjectType() || ev.Type().IsMapType()) {
			if err := c.addObject(ev, where+last+"."); err != nil {
				return err
			}
			continue
		}
		if len(c.keys) > 0 {
			return fmt.Errorf("the field %q is set twice", where+last)
		}
		raw, err := valueJSON(ev, where+last)
		if err != nil {
			return err
		}
		c.leaf = raw
	}
	return nil
}

func (n *jsonNode) appendTo(dst []byte) []byte {
	if n.leaf != nil {
		return append(dst, n.leaf...)
	}
	dst = append(dst, '{')
	for i, k := range n.keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSON(dst, k)
		dst = append(dst, ':')
		dst = n.nodes[k].appendTo(dst)
	}
	return append(dst, '}')
}

// valueJSON converts a value that is not an object.
func valueJSON(v cty.Value, name string) ([]byte, error) {
	switch {
	case !v.IsKnown():
		return nil, fmt.Errorf("the value of %q is not known", name)
	case v.IsNull():
		return []byte("null"), nil
	case v.Type() == cty.String:
		return appendJSON(nil, v.AsString()), nil
	case v.Type() == cty.Bool:
		if v.True() {
			return []byte("true"), nil
		}
		return []byte("false"), nil
	case v.Type() == cty.Number:
		bf := v.AsBigFloat()
		if bf.IsInt() {
			return []byte(bf.Text('f', 0)), nil
		}
		f, _ := bf.Float64()
		return appendJSON(nil, f), nil
	case v.Type().IsListType() || v.Type().IsTupleType() || v.Type().IsSetType():
		out := []byte{'['}
		i := 0
		for it := v.ElementIterator(); it.Next(); i++ {
			_, ev := it.Element()
			if i > 0 {
				out = append(out, ',')
			}
			var raw []byte
			var err error
			if !ev.IsNull() && (ev.Type().IsObjectType() || ev.Type().IsMapType()) {
				raw, _, err = fieldsJSON(ev)
			} else {
				raw, err = valueJSON(ev, fmt.Sprintf("%s[%d]", name, i))
			}
			if err != nil {
				return nil, err
			}
			out = append(out, raw...)
		}
		return append(out, ']'), nil
	}
	return nil, fmt.Errorf("the value of %q cannot be written as JSON (%s)", name, v.Type().FriendlyName())
}

// appendJSON appends v as JSON without HTML escaping (configuration time only).
func appendJSON(dst []byte, v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("pipeline: cannot encode %T: %v", v, err)) // strings, floats and string lists always encode
	}
	return append(dst, bytes.TrimSuffix(b.Bytes(), []byte("\n"))...)
}

// hintBody is the rest of an input block after the common attributes: when the input
// type's config finds an unsupported argument close to a common one ("tag"), the "did you
// mean" hint names it (the type's schema does not know the common attributes).
type hintBody struct{ hcl.Body }

func (h hintBody) Content(schema *hcl.BodySchema) (*hcl.BodyContent, hcl.Diagnostics) {
	c, d := h.Body.Content(schema)
	return c, commonHints(d)
}

func (h hintBody) PartialContent(schema *hcl.BodySchema) (*hcl.BodyContent, hcl.Body, hcl.Diagnostics) {
	c, rest, d := h.Body.PartialContent(schema)
	return c, rest, commonHints(d)
}

var unsupportedRE = regexp.MustCompile(`^An argument named "([^"]+)" is not expected here\.$`)

func commonHints(diags hcl.Diagnostics) hcl.Diagnostics {
	for _, d := range diags {
		if d.Summary != "Unsupported argument" {
			continue
		}
		m := unsupportedRE.FindStringSubmatch(d.Detail)
		if m == nil {
			continue
		}
		if sug := suggest(m[1], []string{attrFields, attrFieldsUnderRoot, attrTags}); sug != "" {
			d.Detail += fmt.Sprintf(" Did you mean %q?", sug)
		}
	}
	return diags
}
