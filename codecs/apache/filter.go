package apache

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/logpipe/logpipe/codecs"
	"github.com/logpipe/logpipe/pipeline"
	"go.uber.org/zap"
)

// FailureTag is added to the tags of an event whose field is neither an Apache access line
// nor an error_log line (on_failure = "tag").
const FailureTag = "_apache_parse_failure"

// Config is the HCL configuration of a filter "apache" block.
type Config struct {
	// Field is the member holding the line; a dotted name ("log.original") is looked up as
	// that exact member first, then as a nested path. Default "message".
	Field string `hcl:"field,optional"`
	// Target is the top-level member under which the parsed fields are written; "" (the
	// default) writes the ECS fields at the top level. In both cases @timestamp (and the
	// event's routing time) becomes the time of the line, and the read time is kept in
	// event.created.
	Target string `hcl:"target,optional"`
	// OnFailure is what happens to an event whose field does not parse: "tag" (default:
	// keep it unchanged but for a "_apache_parse_failure" tag) or "drop".
	OnFailure string `hcl:"on_failure,optional"`
	// Format is the log the lines come from: "access", "error" or "auto" (default: each
	// line is recognised by its shape).
	Format string `hcl:"format,optional"`
	// Timezone is the zone of error_log times, which carry none: "Local" (default, the
	// zone of the machine running the filter), "UTC", an IANA name or an offset ("+02:00").
	Timezone string `hcl:"timezone,optional"`
	// UserAgent adds user_agent.name, .version, .os.* and .device.name (default true).
	UserAgent bool `hcl:"user_agent,optional"`
	// UserAgentRegexes is a rule file in uap-core's regexes.yaml format to use instead of
	// the rules built in (for example the one Elasticsearch bundles); "" for the built-in.
	UserAgentRegexes string `hcl:"user_agent_regexes,optional"`
	// GeoIP adds source.geo.* and source.as.* from MaxMind databases; nil for none.
	GeoIP *GeoIPConfig `hcl:"geoip,block"`

	path []string // nested path of Field, when it has dots
	zone Zone
}

// DefaultConfig returns the defaults of a filter "apache" block.
func DefaultConfig() *Config {
	return &Config{Field: "message", OnFailure: "tag", Format: "auto", Timezone: "Local", UserAgent: true}
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
	switch c.Format {
	case "access", "error", "auto":
	case "":
		c.Format = "auto"
	default:
		errs = append(errs, pipeline.AttrErrorf("format", "must be \"access\", \"error\" or \"auto\", got %q", c.Format))
	}
	z, err := ParseZone(c.Timezone)
	if err != nil {
		errs = append(errs, pipeline.AttrErrorf("timezone", "unknown zone %q: %v", c.Timezone, errBadZone))
	}
	if c.GeoIP != nil {
		errs = append(errs, c.GeoIP.validate()...)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	c.zone = z
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

// Filter parses an Apache access or error_log line held in each event and adds the ECS
// fields that Filebeat's apache module (with Elasticsearch's user_agent and geoip
// processors) produces. It implements pipeline.Filter; like every filter, it is used from
// one goroutine.
type Filter struct {
	cfg    Config
	stage  pipeline.Stage
	drop   bool
	failed uint64 // events that did not parse (for tests and logs)

	ua  *uaCache // nil when user_agent = false
	geo *geoIP   // nil without a geoip block
	now func() time.Time

	docEnc  *codecs.JSONEncoder // documents of line events
	line    []byte              // the document of a line event
	rec     Record
	erec    ErrorRecord
	x       extras
	w       Writer
	msg     []byte // the decoded line
	fields  []byte // one group object, or the target object, to merge
	created []byte // raw value of event.created
	ts      []byte // the new @timestamp value, quoted
	// The last access line's time (Record.Time) and its text: the lines of one second
	// follow each other, so most lines reuse it instead of formatting their time again.
	lastSec  int64
	lastTime []byte

	// growth is how many bytes an event grew by on average in the last batch (the parsed
	// fields), to size the next batch's buffer; 0 before the first batch.
	growth int
}

// defaultGrowth is the room reserved per event before the first batch measured it.
const defaultGrowth = 768

// New returns an apache filter for a validated config. A configured GeoIP database or user
// agent rule file that cannot be read is a permanent error naming the file.
func New(c *Config, s pipeline.Stage) (*Filter, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if s.Log == nil {
		s.Log = zap.NewNop()
	}
	f := &Filter{cfg: *c, stage: s, drop: c.OnFailure == "drop", docEnc: codecs.NewDocumentEncoder(s.Agent), now: time.Now}
	f.x.zone = c.zone
	if c.UserAgent {
		var rules *UARules
		var err error
		if c.UserAgentRegexes != "" {
			rules, err = LoadUARules(c.UserAgentRegexes)
			if err != nil {
				return nil, pipeline.Permanent(fmt.Errorf("user_agent_regexes %q: %w", c.UserAgentRegexes, err))
			}
		} else if rules, err = DefaultUARules(); err != nil {
			return nil, pipeline.Permanent(err)
		}
		f.ua = newUACache(rules)
	}
	if c.GeoIP != nil {
		g, err := newGeoIP(c.GeoIP, s.Log)
		if err != nil {
			return nil, err
		}
		f.geo = g
	}
	return f, nil
}

// Failed returns how many events did not parse so far.
func (f *Filter) Failed() uint64 { return f.failed }

// Process parses every event of b; see the package documentation. Document events have
// their Doc rewritten; line events become document events (their Doc is built first, as the
// json codec writes it). Events that do not parse are tagged or dropped.
//
// The rewritten documents live in one new buffer per batch (so they stay valid until the
// batch is acknowledged, whatever happens to the filter's scratch buffers); apart from that
// buffer, Process does not allocate (user agents and GeoIP records seen for the first time
// are parsed and cached).
func (f *Filter) Process(b *pipeline.Batch) {
	if len(b.Events) == 0 {
		return
	}
	if f.geo != nil {
		f.geo.check(f.now())
	}
	// The buffer is sized for the documents plus what the last batch measured they grow by
	// (1/8 and 64 bytes per event more for variation): reserving a fixed worst case per
	// event made the indexer's live heap a third larger. A batch that needs more makes
	// append move on to a larger buffer; documents already written keep the old one alive.
	growth := f.growth
	if growth == 0 {
		growth = defaultGrowth
	}
	need, size := 0, 0
	for i := range b.Events {
		e := &b.Events[i]
		size += len(e.Doc)
		if e.Doc == nil {
			size += 2*len(e.Message) + 512 // the wire format's fields
		}
	}
	n := len(b.Events)
	need = size + n*(growth+growth/8+64)
	// The documents live in a pooled buffer that goes back to the pool once the batch is
	// acknowledged (Batch.Recycle). When a batch outgrows it, append moves on to a larger
	// buffer; the documents written before that keep pointing into the first one, so both
	// are handed to the batch.
	first := f.stage.Buffers.Get(need)
	out := first
	kept := b.Events[:0]
	// rewritten: no kept event points into a buffer of an earlier stage. Every Doc is
	// written to out; a line event's Message (the input's bytes) stays, so batches of line
	// events keep their earlier buffers until the acknowledgement.
	rewritten := true
	for i := range b.Events {
		e := b.Events[i]
		var start int
		var ok bool
		out, start, ok = f.processOne(out, &e)
		if !ok {
			f.failed++
			if f.failed == 1 || f.failed%logFailuresEvery == 0 {
				f.logFailure(&e)
			}
			if f.drop {
				continue
			}
		}
		e.SetDoc(out[start:len(out):len(out)])
		rewritten = rewritten && e.Message == nil
		kept = append(kept, e)
	}
	clear(b.Events[len(kept):])
	b.Events = kept
	bufs := [2][]byte{first, out}
	nb := 2
	if cap(out) == cap(first) {
		nb = 1
	}
	if rewritten {
		// Every document is in out now: the input's buffers need not wait for the outputs.
		b.Rewritten(f.stage.Buffers, bufs[:nb]...)
	} else {
		for _, buf := range bufs[:nb] {
			b.Recycle(f.stage.Buffers, buf)
		}
	}
	f.growth = max((len(out)-size)/n, 1)
}

// logFailuresEvery is how often a parse failure is logged after the first one.
const logFailuresEvery = 10000

// logFailure logs a sample of a line that did not parse (the first, then one in
// logFailuresEvery), so that a wrong field or log format shows up without flooding the log.
func (f *Filter) logFailure(e *pipeline.Event) {
	sample := e.Message
	if e.Doc != nil {
		sample = e.Doc
	}
	if len(sample) > 300 {
		sample = sample[:300]
	}
	f.stage.Log.Warn("event is not an Apache access or error_log line",
		zap.String("field", f.cfg.Field), zap.String("format", f.cfg.Format), zap.String("on_failure", f.cfg.OnFailure),
		zap.Uint64("failed_so_far", f.failed), zap.ByteString("sample", sample))
}

// lineKind is what a line parsed as.
type lineKind uint8

const (
	lineNone lineKind = iota
	lineAccess
	lineError
)

// parse parses msg as the configured format allows, into f.rec or f.erec.
func (f *Filter) parse(msg []byte) lineKind {
	switch f.cfg.Format {
	case "access":
		if Parse(msg, &f.rec) {
			return lineAccess
		}
	case "error":
		if ParseError(msg, &f.erec) {
			return lineError
		}
	default:
		// Error lines start with "[Weekday ...]"; the mod_ssl access layout with "[dd/".
		if len(msg) > 1 && msg[0] == '[' && (msg[1] >= 'A' && msg[1] <= 'Z' || msg[1] >= 'a' && msg[1] <= 'z') {
			if ParseError(msg, &f.erec) {
				return lineError
			}
			if Parse(msg, &f.rec) {
				return lineAccess
			}
			return lineNone
		}
		if Parse(msg, &f.rec) {
			return lineAccess
		}
		if ParseError(msg, &f.erec) {
			return lineError
		}
	}
	return lineNone
}

// enrich fills f.x for the parsed line and returns the line's time, with the quoted
// @timestamp value in f.ts.
func (f *Filter) enrich(kind lineKind, msg []byte) time.Time {
	x := &f.x
	x.ua, x.geo, x.as, x.original = nil, nil, nil, nil
	ts := append(f.ts[:0], '"')
	var t time.Time
	switch kind {
	case lineAccess:
		r := &f.rec
		if f.ua != nil && r.HasUserAgent {
			x.ua = f.ua.members(r.UserAgent)
		}
		if f.geo != nil && r.ClientIP {
			x.geo, x.as = f.geo.lookup(r.Client)
		}
		t = time.Unix(r.Time, 0).UTC()
		if f.lastTime == nil || r.Time != f.lastSec {
			f.lastSec, f.lastTime = r.Time, appendTime(f.lastTime[:0], r.Time)
		}
		ts = append(ts, f.lastTime...)
	case lineError:
		r := &f.erec
		if f.geo != nil && r.ClientIP {
			x.geo, x.as = f.geo.lookup(r.Client)
		}
		var off int
		t, off = x.zone.instant(r)
		x.offset = off
		x.original = msg
		ts = appendLocalTime(ts, t, off)
	}
	f.ts = append(ts, '"')
	return t
}

// appendGroup appends group g of the parsed line.
func (f *Filter) appendGroup(dst []byte, kind lineKind, g group, created []byte) ([]byte, bool) {
	if kind == lineError {
		return f.w.appendErrorGroup(dst, g, &f.erec, &f.x, created)
	}
	return f.w.appendGroup(dst, g, &f.rec, &f.x, created)
}

// processOne appends the rewritten document of e to out, from index start on, and updates e
// (but for e.Doc, which the caller points into out). ok is false when the line did not parse.
func (f *Filter) processOne(out []byte, e *pipeline.Event) (_ []byte, start int, ok bool) {
	doc := e.Doc
	if doc == nil {
		// A line event (the filter in a ship config) becomes a document event: its
		// document is the wire format without @metadata; its id, set by the input, stays
		// in e.ID so that outputs still write it as @metadata._id.
		f.line = f.docEnc.Encode(f.line[:0], e)
		doc = f.line
	}
	start = len(out)

	// One scan of the top level finds the field, @timestamp, message and the members the
	// output shares with the document; the decoder's index of the members saves it. An
	// index that does not fit the document is ignored: the document is walked instead.
	var top topInfo
	okTop := false
	if idx, ok := codecs.TopOf(e); ok && e.Doc != nil {
		top, okTop = indexedTop(doc, idx, f.cfg.Field)
	}
	if !okTop {
		top, okTop = scanTop(doc, f.cfg.Field)
	}
	var msg []byte
	switch {
	case !okTop:
	case top.fStart >= 0:
		msg = f.unquote(doc[top.fStart:top.fEnd])
	case f.cfg.path != nil:
		if raw, ok := codecs.Lookup(doc, f.cfg.path...); ok {
			msg = f.unquote(raw)
		}
	}
	kind := lineNone
	if msg != nil {
		kind = f.parse(msg)
	}
	if kind == lineNone {
		if f.drop {
			return out, start, false
		}
		out = append(out, doc...)
		return edited(out, start, codecs.AppendTag(out[start:], FailureTag)), start, false
	}
	t := f.enrich(kind, msg)

	// event.created: the read time, as the document holds it (doc is not modified).
	created := f.created[:0]
	if top.tsStart >= 0 {
		created = doc[top.tsStart:top.tsEnd]
	} else {
		created = append(created, '"')
		created = codecs.AppendTimestamp(created, e.Timestamp)
		created = append(created, '"')
		f.created = created
	}
	// From here on the event is routed by the time of the line, with or without a target,
	// so that a redelivered event lands in the same daily index as the first delivery.
	e.Timestamp = t

	// The document up to its closing brace, with @timestamp (and, for an error line
	// written at the top level, message) replaced in place, then the new members, then the
	// brace; members the document already has are merged afterwards. It is written straight
	// into out (w is out, the document w[start:]): building it in a scratch buffer and
	// appending that to out copied every document twice.
	w := out
	first := top.empty
	replaceMsg := kind == lineError && f.cfg.Target == ""
	pos := 0
	// Replacements in document order.
	type span struct{ s, e int }
	var reps [2]span
	nrep := 0
	if top.tsStart >= 0 {
		reps[nrep] = span{top.tsStart, top.tsEnd}
		nrep++
	}
	if replaceMsg && top.mStart >= 0 {
		reps[nrep] = span{top.mStart, top.mEnd}
		nrep++
	}
	if nrep == 2 && reps[1].s < reps[0].s {
		reps[0], reps[1] = reps[1], reps[0]
	}
	for i := 0; i < nrep; i++ {
		w = append(w, doc[pos:reps[i].s]...)
		if reps[i].s == top.tsStart {
			w = append(w, f.ts...)
		} else {
			w = codecs.AppendQuoted(w, f.erec.Message)
		}
		pos = reps[i].e
	}
	w = append(w, doc[pos:top.close]...)
	if top.tsStart < 0 {
		if !first {
			w = append(w, ',')
		}
		w = append(w, `"@timestamp":`...)
		w = append(w, f.ts...)
		first = false
	}
	if replaceMsg && top.mStart < 0 {
		if !first {
			w = append(w, ',')
		}
		w = append(w, `"message":`...)
		w = codecs.AppendQuoted(w, f.erec.Message)
		first = false
	}

	if f.cfg.Target != "" {
		f.fields = append(f.fields[:0], `{"@timestamp":`...)
		f.fields = append(f.fields, f.ts...)
		if kind == lineError {
			f.fields = append(f.fields, `,"message":`...)
			f.fields = codecs.AppendQuoted(f.fields, f.erec.Message)
		}
		for g := group(0); g < nGroups; g++ {
			n := len(f.fields)
			f.fields = append(f.fields, groupKeys[g]...)
			var any bool
			if f.fields, any = f.appendGroup(f.fields, kind, g, created); !any {
				f.fields = f.fields[:n]
			}
		}
		f.fields = append(f.fields, '}')
		w = append(w, '}')
		return f.merge(w, start, f.cfg.Target), start, true
	}

	for g := group(0); g < nGroups; g++ {
		if top.present&(1<<g) != 0 {
			continue
		}
		n := len(w)
		if first {
			w = append(w, groupKeys[g][1:]...)
		} else {
			w = append(w, groupKeys[g]...)
		}
		var any bool
		if w, any = f.appendGroup(w, kind, g, created); any {
			first = false
		} else {
			w = w[:n]
		}
	}
	w = append(w, '}')
	for g := group(0); g < nGroups; g++ {
		if top.present&(1<<g) == 0 {
			continue
		}
		var any bool
		if f.fields, any = f.appendGroup(f.fields[:0], kind, g, created); any {
			w = f.merge(w, start, groupNames[g])
		}
	}
	return w, start, true
}

// merge merges f.fields into the member key of the document out[start:] (see
// codecs.MergeObject) and returns out with the merged document from start on.
func (f *Filter) merge(out []byte, start int, key string) []byte {
	// Room for the worst case of the merge (every member inserted, its key re-quoted with
	// escapes up to six times longer), so that the document is edited where it is.
	out = slices.Grow(out, 6*(len(f.fields)+len(key))+16)
	return edited(out, start, codecs.MergeObject(out[start:], key, f.fields))
}

// edited returns out with its bytes from start on replaced by doc, the result of a codecs
// toolkit function that edited out[start:] in place: nothing is copied unless the edit
// outgrew the capacity of out and moved the document elsewhere.
func edited(out []byte, start int, doc []byte) []byte {
	if start < cap(out) && len(doc) > 0 && &doc[0] == &out[:start+1][start] {
		return out[:start+len(doc)]
	}
	return append(out[:start], doc...)
}

// unquote returns the decoded text of the raw JSON string raw, or nil when raw is not a
// string. The result points into raw when the string has no escapes, else into f.msg.
// Access lines hold quotes, so `\"` is the common escape: it and `\\`, `\/` are resolved
// here chunk by chunk; any other escape goes through codecs.AppendUnquoted.
func (f *Filter) unquote(raw []byte) []byte {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil
	}
	s := raw[1 : len(raw)-1]
	i := bytes.IndexByte(s, '\\')
	if i < 0 {
		return s
	}
	buf := f.msg[:0]
	for i >= 0 {
		buf = append(buf, s[:i]...)
		if i+1 >= len(s) {
			return nil
		}
		switch c := s[i+1]; c {
		case '"', '\\', '/':
			buf = append(buf, c)
		default:
			var err error
			f.msg, err = codecs.AppendUnquoted(f.msg[:0], raw)
			if err != nil {
				return nil
			}
			return f.msg
		}
		s = s[i+2:]
		i = bytes.IndexByte(s, '\\')
	}
	f.msg = append(buf, s...)
	return f.msg
}

// topInfo is what one scan of a document's top level finds.
type topInfo struct {
	present        uint32 // bit g: the document has a member named groupNames[g]
	tsStart, tsEnd int    // value of "@timestamp", or -1
	fStart, fEnd   int    // value of the configured field (a top-level name), or -1
	mStart, mEnd   int    // value of "message", or -1
	close          int    // index of the closing '}'
	empty          bool   // the object has no members
}

// scanTop scans the members of the object doc once. ok is false when doc is not a
// well-formed JSON object (UTF-8 aside).
func scanTop(doc []byte, field string) (top topInfo, ok bool) {
	top = topInfo{tsStart: -1, tsEnd: -1, fStart: -1, fEnd: -1, mStart: -1, mEnd: -1}
	i := codecs.SkipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return top, false
	}
	i = codecs.SkipSpace(doc, i+1)
	if i < len(doc) && doc[i] == '}' {
		top.close, top.empty = i, true
		return top, codecs.SkipSpace(doc, i+1) == len(doc)
	}
	for {
		ks := i
		if i >= len(doc) || doc[i] != '"' {
			return top, false
		}
		i = codecs.SkipValue(doc, i)
		if i < 0 {
			return top, false
		}
		ke := i
		i = codecs.SkipSpace(doc, i)
		if i >= len(doc) || doc[i] != ':' {
			return top, false
		}
		vs := codecs.SkipSpace(doc, i+1)
		i = codecs.SkipValue(doc, vs)
		if i < 0 {
			return top, false
		}
		top.member(doc[ks:ke], vs, i, field)
		i = codecs.SkipSpace(doc, i)
		if i >= len(doc) {
			return top, false
		}
		if doc[i] == '}' {
			top.close = i
			return top, codecs.SkipSpace(doc, i+1) == len(doc)
		}
		if doc[i] != ',' {
			return top, false
		}
		i = codecs.SkipSpace(doc, i+1)
	}
}

// member notes the member whose raw (quoted) key is rawKey and whose value is
// doc[vs:ve].
func (top *topInfo) member(rawKey []byte, vs, ve int, field string) {
	key := rawKey[1 : len(rawKey)-1]
	var kbuf [32]byte
	if bytes.IndexByte(key, '\\') >= 0 {
		if k, err := codecs.AppendUnquoted(kbuf[:0], rawKey); err == nil {
			key = k
		}
	}
	if string(key) == "@timestamp" && top.tsStart < 0 {
		top.tsStart, top.tsEnd = vs, ve
	}
	if string(key) == field && top.fStart < 0 {
		top.fStart, top.fEnd = vs, ve
	}
	if string(key) == "message" && top.mStart < 0 {
		top.mStart, top.mEnd = vs, ve
	}
	if g, ok := groupOf(key); ok {
		top.present |= 1 << g
	}
}

// indexedTop is scanTop for a document that comes with the decoder's index of its members
// (codecs.TopIndex): the members are read from the index, not found by walking the
// document. ok is false when the index does not describe an object of this document (its
// offsets out of order or not at a quote), which a document edited without SetDoc would
// show.
func indexedTop(doc []byte, idx codecs.TopIndex, field string) (top topInfo, ok bool) {
	top = topInfo{tsStart: -1, tsEnd: -1, fStart: -1, fEnd: -1, mStart: -1, mEnd: -1}
	n := len(doc)
	if n < 2 || doc[0] != '{' || doc[n-1] != '}' {
		return top, false
	}
	top.close, top.empty = n-1, idx.Len() == 0
	prev := 1
	for i := range idx.Len() {
		ks, ke, vs, ve := idx.Member(i)
		if ks < prev || ke < ks+2 || vs < ke || ve <= vs || ve >= n || doc[ks] != '"' || doc[ke-1] != '"' {
			return top, false
		}
		top.member(doc[ks:ke], vs, ve, field)
		prev = ve
	}
	return top, true
}

// groupOf returns the group named key (see groupNames). A switch on the name costs a few
// comparisons where a loop over the names costs one per group, for every top-level member.
func groupOf(key []byte) (group, bool) {
	switch string(key) {
	case "source":
		return gSource, true
	case "destination":
		return gDestination, true
	case "user":
		return gUser, true
	case "http":
		return gHTTP, true
	case "url":
		return gURL, true
	case "user_agent":
		return gUserAgent, true
	case "tls":
		return gTLS, true
	case "apache":
		return gApache, true
	case "log":
		return gLog, true
	case "process":
		return gProcess, true
	case "file":
		return gFile, true
	case "event":
		return gEvent, true
	}
	return 0, false
}
