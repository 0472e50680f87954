// Package condition implements Filebeat's conditions (equals, contains, regexp, range,
// has_fields, and, or, not) for the filters that take a `when` block. A condition is
// written as an HCL block, checked when the configuration is loaded (every problem is a
// file:line:col diagnostic with the fix) and evaluated on an event's JSON document with the
// codecs JSON toolkit, without building maps and without allocating.
//
// The HCL form, and what each operator does, is documented in README.md next to this file.
package condition

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/logpipe/logpipe/codecs"
	"github.com/logpipe/logpipe/pipeline"
)

// Spec is a condition block as decoded from HCL: `when { ... }` in a stage config, and the
// and, or and not blocks nested in it. Put it in a stage config as
//
//	When *condition.Spec `hcl:"when,block"`
//
// have the config implement pipeline.EvalContextUser, and turn the Spec into a Condition with
// Compile in the config's Validate. The nested blocks stay in Rest until Compile decodes
// them (so that the Go type is not recursive, which reflection-based walkers of configs
// cannot follow), and Compile reports unknown operators itself.
//
// The leaf operators are attributes whose value is an object of field names and values
// (equals, contains, regexp, range) or a list of field names (has_fields); an attribute
// whose value is a list of such objects stands for one condition per object. Every
// attribute and nested block of a block is one operand: a when or and block matches when
// every operand does, an or block when one does, a not block when not every operand does
// (with one operand: when it does not match).
type Spec struct {
	Equals    cty.Value `hcl:"equals,optional"`
	Contains  cty.Value `hcl:"contains,optional"`
	Regexp    cty.Value `hcl:"regexp,optional"`
	Range     cty.Value `hcl:"range,optional"`
	HasFields cty.Value `hcl:"has_fields,optional"`
	// Rest is the rest of the block: the nested and, or and not blocks, and anything
	// unknown, which Compile reports.
	Rest hcl.Body `hcl:",remain"`
}

// Condition is a compiled condition. It never changes once compiled, so one Condition,
// compiled with its filter's configuration, serves every instance of the filter (one per
// filter worker). It is evaluated through a Matcher, one per instance.
type Condition struct {
	root node
}

// Matcher evaluates a Condition on JSON documents. It keeps a scratch buffer for strings
// with escapes, so it is not safe for concurrent use: each filter instance makes its own
// with Condition.Matcher (instances run on different goroutines).
type Matcher struct {
	c       *Condition
	scratch []byte
}

// Matcher returns a new Matcher of c; nil when c is nil (a filter without a when block).
func (c *Condition) Matcher() *Matcher {
	if c == nil {
		return nil
	}
	return &Matcher{c: c}
}

type kind uint8

const (
	kAll kind = iota // and, when: every operand
	kAny             // or: one operand
	kNot             // not: not every operand
	kEquals
	kContains
	kRegexp
	kRange
	kHasFields
)

type valueKind uint8

const (
	vString valueKind = iota
	vInt
	vBool
)

type rangeOp uint8

const (
	opGT rangeOp = iota
	opGTE
	opLT
	opLTE
)

// node is one operator. Leaves use field and their kind's value members.
type node struct {
	kind   kind
	kids   []node
	field  Field
	fields []Field // has_fields
	vk     valueKind
	s      string
	sb     []byte // s as bytes (contains)
	i      int64
	b      bool
	re     *regexp.Regexp
	op     rangeOp
	num    float64
}

// Compile checks spec and returns its Condition. attr names the block spec was written
// as (e.g. "when"); problems are returned as *pipeline.RangeError values for that block,
// joined, each at the place it concerns. ctx is the evaluation context of the file (env()),
// used to decode the nested blocks; nil allows no functions. A nil spec is an error:
// callers check for an absent block first.
func Compile(spec *Spec, attr string, ctx *hcl.EvalContext) (*Condition, error) {
	if spec == nil {
		return nil, pipeline.AttrErrorf(attr, "missing condition")
	}
	c := &compiler{attr: attr, ctx: ctx}
	var rng hcl.Range
	if sb, ok := spec.Rest.(*hclsyntax.Body); ok {
		rng = hcl.Range{Filename: sb.SrcRange.Filename, Start: sb.SrcRange.Start, End: sb.SrcRange.Start}
	}
	root := c.block(spec, kAll, attr, rng)
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	return &Condition{root: root}, nil
}

// Match reports whether the JSON object doc satisfies the condition. A field that is
// missing, or whose value has another type than the operator expects, does not match (as
// in Filebeat). Match does not allocate once its scratch buffer has grown to the longest
// escaped string it met.
func (m *Matcher) Match(doc []byte) bool { return m.eval(&m.c.root, doc) }

func (m *Matcher) eval(n *node, doc []byte) bool {
	switch n.kind {
	case kAll:
		for i := range n.kids {
			if !m.eval(&n.kids[i], doc) {
				return false
			}
		}
		return true
	case kAny:
		for i := range n.kids {
			if m.eval(&n.kids[i], doc) {
				return true
			}
		}
		return false
	case kNot:
		for i := range n.kids {
			if !m.eval(&n.kids[i], doc) {
				return true
			}
		}
		return false
	case kHasFields:
		for _, f := range n.fields {
			if _, ok := f.Lookup(doc); !ok {
				return false
			}
		}
		return true
	}
	raw, ok := n.field.Lookup(doc)
	if !ok || len(raw) == 0 {
		return false
	}
	switch n.kind {
	case kEquals:
		return m.equals(n, raw)
	case kContains, kRegexp:
		switch raw[0] {
		case '"':
			return m.matchString(n, raw)
		case '[':
			// An array of strings matches when one of its strings does (Filebeat's
			// MatchAnyString).
			found := false
			codecs.Elements(raw, func(el []byte) bool {
				found = el[0] == '"' && m.matchString(n, el)
				return !found
			})
			return found
		}
		return false
	case kRange:
		v, ok := number(raw)
		if !ok {
			return false
		}
		switch n.op {
		case opGT:
			return v > n.num
		case opGTE:
			return v >= n.num
		case opLT:
			return v < n.num
		default:
			return v <= n.num
		}
	}
	return false
}

func (m *Matcher) equals(n *node, raw []byte) bool {
	switch n.vk {
	case vString:
		return raw[0] == '"' && codecs.KeyIs(raw, n.s)
	case vBool:
		if n.b {
			return string(raw) == "true"
		}
		return string(raw) == "false"
	default: // vInt
		if !isNumberStart(raw[0]) {
			return false
		}
		if !bytes.ContainsAny(raw, ".eE") {
			i, err := strconv.ParseInt(unsafe.String(&raw[0], len(raw)), 10, 64)
			if err == nil {
				return i == n.i
			}
		}
		v, ok := number(raw)
		return ok && v == n.num // n.num is float64(n.i)
	}
}

// matchString applies a contains or regexp leaf to the raw JSON string raw.
func (m *Matcher) matchString(n *node, raw []byte) bool {
	s := raw[1 : len(raw)-1]
	if bytes.IndexByte(s, '\\') >= 0 {
		d, err := codecs.AppendUnquoted(m.scratch[:0], raw)
		if err != nil {
			return false
		}
		m.scratch, s = d, d
	}
	if n.kind == kContains {
		return bytes.Contains(s, n.sb)
	}
	return n.re.Match(s)
}

func isNumberStart(b byte) bool { return b == '-' || (b >= '0' && b <= '9') }

// number parses the raw JSON number raw; ok is false for any other value.
func number(raw []byte) (float64, bool) {
	if len(raw) == 0 || !isNumberStart(raw[0]) {
		return 0, false
	}
	v, err := strconv.ParseFloat(unsafe.String(&raw[0], len(raw)), 64)
	return v, err == nil
}

// compiler collects the problems of one condition.
type compiler struct {
	attr string
	ctx  *hcl.EvalContext
	errs []error
}

func (c *compiler) errorf(rng hcl.Range, format string, args ...any) {
	c.errs = append(c.errs, pipeline.RangeErrorf(c.attr, rng, format, args...))
}

// operand is one compiled operand of a block, with where it was written (to keep source
// order).
type operand struct {
	pos  hcl.Pos
	node node
}

// operators are the names a condition block may hold.
var operators = []string{"equals", "contains", "regexp", "range", "has_fields", "and", "or", "not"}

// block compiles the operands of spec, a block of kind k (kAll, kAny or kNot) called name,
// declared at rng.
func (c *compiler) block(spec *Spec, k kind, name string, rng hcl.Range) node {
	sb, _ := spec.Rest.(*hclsyntax.Body)
	var ops []operand
	leaves := []struct {
		name string
		val  cty.Value
		fn   func(key string, v cty.Value, keyRng, valRng hcl.Range) (node, bool)
	}{
		{"equals", spec.Equals, c.equals},
		{"contains", spec.Contains, c.contains},
		{"regexp", spec.Regexp, c.regexp},
		{"range", spec.Range, c.rangeLeaf},
	}
	for _, l := range leaves {
		a := attribute(sb, l.name)
		if a == nil {
			continue
		}
		for _, n := range c.leafAttr(a, l.name, l.val, l.fn) {
			ops = append(ops, operand{pos: a.SrcRange.Start, node: n})
		}
	}
	if a := attribute(sb, "has_fields"); a != nil {
		if n, ok := c.hasFields(a, spec.HasFields); ok {
			ops = append(ops, operand{pos: a.SrcRange.Start, node: n})
		}
	}
	if sb != nil {
		for an, a := range sb.Attributes {
			if !slices.Contains(operators[:5], an) {
				c.unknown(an, a.NameRange, "")
			}
		}
		for _, nb := range sb.Blocks {
			var nk kind
			switch nb.Type {
			case "and":
				nk = kAll
			case "or":
				nk = kAny
			case "not":
				nk = kNot
			default:
				c.unknown(nb.Type, nb.TypeRange, "block")
				continue
			}
			if len(nb.Labels) > 0 {
				c.errorf(nb.LabelRanges[0], "a %s block takes no label: write %s { ... }", nb.Type, nb.Type)
				continue
			}
			var s Spec
			if diags := gohcl.DecodeBody(nb.Body, c.ctx, &s); diags.HasErrors() {
				for _, d := range diags {
					if d.Severity == hcl.DiagError && d.Subject != nil {
						c.errorf(*d.Subject, "%s: %s", d.Summary, d.Detail)
					}
				}
				continue
			}
			ops = append(ops, operand{pos: nb.TypeRange.Start, node: c.block(&s, nk, nb.Type, nb.DefRange())})
		}
	}
	if len(ops) == 0 && sb != nil && len(sb.Attributes) == 0 && len(sb.Blocks) == 0 {
		c.errorf(rng, "the %s block is empty: give it at least one condition, such as equals = { \"log.level\" = \"debug\" } (operators: equals, contains, regexp, range, has_fields, and, or, not)", name)
	}
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].pos.Byte < ops[j].pos.Byte })
	n := node{kind: k, kids: make([]node, len(ops))}
	for i := range ops {
		n.kids[i] = ops[i].node
	}
	if k == kAll && len(n.kids) == 1 {
		return n.kids[0]
	}
	return n
}

// unknown reports a name that is not an operator, with the closest operator as a hint.
func (c *compiler) unknown(name string, rng hcl.Range, what string) {
	switch {
	case what == "block" && slices.Contains(operators[:5], name):
		c.errorf(rng, "%s is an attribute, not a block: write %s", name, example(name))
		return
	case what == "" && slices.Contains(operators[5:], name):
		c.errorf(rng, "%s is a block, not an attribute: write %s { ... } around its conditions", name, name)
		return
	}
	hint := ""
	if best := pipeline.Suggest(name, operators); best != "" {
		hint = fmt.Sprintf(" Did you mean %q?", best)
	}
	c.errorf(rng, "unknown condition %q.%s Conditions are equals, contains, regexp, range, has_fields, and, or, not", name, hint)
}

func attribute(sb *hclsyntax.Body, name string) *hclsyntax.Attribute {
	if sb == nil {
		return nil
	}
	return sb.Attributes[name]
}

// itemRange is where one key of an object constructor and its value are written.
type itemRange struct{ key, val hcl.Range }

// objectItems maps the keys of an object constructor to their ranges (keys that are not
// constants are left out: their problems are reported at the whole object).
func objectItems(expr hclsyntax.Expression) map[string]itemRange {
	oc, ok := expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return nil
	}
	m := make(map[string]itemRange, len(oc.Items))
	for _, it := range oc.Items {
		k, d := it.KeyExpr.Value(nil)
		if d.HasErrors() || !k.IsKnown() || k.IsNull() || k.Type() != cty.String {
			continue
		}
		m[k.AsString()] = itemRange{key: it.KeyExpr.Range(), val: it.ValueExpr.Range()}
	}
	return m
}

// leafAttr compiles a leaf attribute: an object (one operand: every key must match) or a
// list of objects (one operand per object).
func (c *compiler) leafAttr(a *hclsyntax.Attribute, name string, v cty.Value,
	fn func(key string, v cty.Value, keyRng, valRng hcl.Range) (node, bool)) []node {
	rng := a.Expr.Range()
	if v.IsNull() || !v.IsKnown() {
		c.errorf(rng, "%s must be an object of field names and values, like %s", name, example(name))
		return nil
	}
	ty := v.Type()
	switch {
	case ty.IsObjectType() || ty.IsMapType():
		n, ok := c.leafObject(name, v, objectItems(a.Expr), rng, fn)
		if !ok {
			return nil
		}
		return []node{n}
	case ty.IsTupleType() || ty.IsListType():
		var elems []hclsyntax.Expression
		if tc, ok := a.Expr.(*hclsyntax.TupleConsExpr); ok {
			elems = tc.Exprs
		}
		var out []node
		i := 0
		for it := v.ElementIterator(); it.Next(); i++ {
			_, ev := it.Element()
			erng := rng
			var items map[string]itemRange
			if i < len(elems) {
				erng = elems[i].Range()
				items = objectItems(elems[i])
			}
			if ev.IsNull() || !(ev.Type().IsObjectType() || ev.Type().IsMapType()) {
				c.errorf(erng, "each element of a %s list must be an object of field names and values, like %s", name, example(name))
				continue
			}
			if n, ok := c.leafObject(name, ev, items, erng, fn); ok {
				out = append(out, n)
			}
		}
		if i == 0 {
			c.errorf(rng, "%s must not be an empty list", name)
		}
		return out
	}
	c.errorf(rng, "%s must be an object of field names and values, like %s, not a %s", name, example(name), ty.FriendlyName())
	return nil
}

func example(name string) string {
	switch name {
	case "equals":
		return `equals = { "http.response.status_code" = 200 }`
	case "contains":
		return `contains = { message = "ERROR" }`
	case "regexp":
		return `regexp = { message = "^(WARN|ERROR) " }`
	case "range":
		return `range = { "http.response.status_code.gte" = 500 }`
	}
	return name
}

// leafObject compiles one object of a leaf operator: one node per key, all of which must
// match.
func (c *compiler) leafObject(name string, v cty.Value, items map[string]itemRange, rng hcl.Range,
	fn func(key string, v cty.Value, keyRng, valRng hcl.Range) (node, bool)) (node, bool) {
	var kids []node
	ok := true
	for it := v.ElementIterator(); it.Next(); {
		k, ev := it.Element()
		key := k.AsString()
		ir, found := items[key]
		if !found {
			ir = itemRange{key: rng, val: rng}
		}
		n, good := fn(key, ev, ir.key, ir.val)
		if !good {
			ok = false
			continue
		}
		kids = append(kids, n)
	}
	if !ok {
		return node{}, false
	}
	switch len(kids) {
	case 0:
		c.errorf(rng, "%s needs at least one field, like %s", name, example(name))
		return node{}, false
	case 1:
		return kids[0], true
	}
	return node{kind: kAll, kids: kids}, true
}

func (c *compiler) field(name string, rng hcl.Range) (Field, bool) {
	f, err := ParseField(name)
	if err != nil {
		c.errorf(rng, "%s", err)
		return Field{}, false
	}
	return f, true
}

func (c *compiler) equals(key string, v cty.Value, keyRng, valRng hcl.Range) (node, bool) {
	f, ok := c.field(key, keyRng)
	if !ok {
		return node{}, false
	}
	n := node{kind: kEquals, field: f}
	switch {
	case v.IsNull() || !v.IsKnown():
	case v.Type() == cty.String:
		n.vk, n.s = vString, v.AsString()
		return n, true
	case v.Type() == cty.Bool:
		n.vk, n.b = vBool, v.True()
		return n, true
	case v.Type() == cty.Number:
		bf := v.AsBigFloat()
		i, acc := bf.Int64()
		if bf.IsInt() && acc == big.Exact {
			n.vk, n.i, n.num = vInt, i, float64(i)
			return n, true
		}
		c.errorf(valRng, "equals compares with strings, whole numbers and booleans (as Filebeat does), not %s; use range for other numbers, e.g. range = { \"%s.gte\" = %s }", v.AsBigFloat().Text('g', -1), key, v.AsBigFloat().Text('g', -1))
		return node{}, false
	}
	c.errorf(valRng, "equals compares with a string, a whole number or a boolean, not %s", friendly(v))
	return node{}, false
}

func friendly(v cty.Value) string {
	if v.IsNull() {
		return "null"
	}
	return "a " + v.Type().FriendlyName()
}

// stringValue returns v as a string for contains and regexp.
func (c *compiler) stringValue(op string, v cty.Value, rng hcl.Range) (string, bool) {
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
		c.errorf(rng, "%s takes a string, not %s", op, friendly(v))
		return "", false
	}
	return v.AsString(), true
}

func (c *compiler) contains(key string, v cty.Value, keyRng, valRng hcl.Range) (node, bool) {
	f, ok := c.field(key, keyRng)
	s, ok2 := c.stringValue("contains", v, valRng)
	if !ok || !ok2 {
		return node{}, false
	}
	return node{kind: kContains, field: f, s: s, sb: []byte(s)}, true
}

func (c *compiler) regexp(key string, v cty.Value, keyRng, valRng hcl.Range) (node, bool) {
	f, ok := c.field(key, keyRng)
	s, ok2 := c.stringValue("regexp", v, valRng)
	if !ok || !ok2 {
		return node{}, false
	}
	re, err := regexp.Compile(s)
	if err != nil {
		c.errorf(valRng, "%s; regular expressions use Go's RE2 syntax (https://github.com/google/re2/wiki/Syntax: no look-around, no back-references)", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		return node{}, false
	}
	return node{kind: kRegexp, field: f, re: re}, true
}

var rangeOps = map[string]rangeOp{"gt": opGT, "gte": opGTE, "lt": opLT, "lte": opLTE}

func (c *compiler) rangeLeaf(key string, v cty.Value, keyRng, valRng hcl.Range) (node, bool) {
	dot := strings.LastIndexByte(key, '.')
	op, known := rangeOps[key[dot+1:]]
	if dot <= 0 || !known {
		hint := ""
		if dot > 0 {
			hint = fmt.Sprintf(" (%q is not one)", key[dot+1:])
		}
		c.errorf(keyRng, "range keys are a field name and an operator, gt, gte, lt or lte%s, like \"%s.gte\"", hint, strings.TrimSuffix(key, "."))
		return node{}, false
	}
	f, ok := c.field(key[:dot], keyRng)
	if !ok {
		return node{}, false
	}
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.Number {
		c.errorf(valRng, "range compares with a number, not %s", friendly(v))
		return node{}, false
	}
	num, _ := v.AsBigFloat().Float64()
	return node{kind: kRange, field: f, op: op, num: num}, true
}

func (c *compiler) hasFields(a *hclsyntax.Attribute, v cty.Value) (node, bool) {
	rng := a.Expr.Range()
	bad := func() (node, bool) {
		c.errorf(rng, "has_fields must be a list of field names, like has_fields = [\"http.response.status_code\"]")
		return node{}, false
	}
	if v.IsNull() || !v.IsKnown() || !(v.Type().IsTupleType() || v.Type().IsListType() || v.Type().IsSetType()) {
		return bad()
	}
	var elems []hclsyntax.Expression
	if tc, ok := a.Expr.(*hclsyntax.TupleConsExpr); ok {
		elems = tc.Exprs
	}
	n := node{kind: kHasFields}
	ok := true
	i := 0
	for it := v.ElementIterator(); it.Next(); i++ {
		_, ev := it.Element()
		erng := rng
		if i < len(elems) {
			erng = elems[i].Range()
		}
		if ev.IsNull() || !ev.IsKnown() || ev.Type() != cty.String {
			c.errorf(erng, "has_fields takes field names (strings), not %s", friendly(ev))
			ok = false
			continue
		}
		f, good := c.field(ev.AsString(), erng)
		if !good {
			ok = false
			continue
		}
		n.fields = append(n.fields, f)
	}
	if i == 0 {
		return bad()
	}
	return n, ok
}
