package codecs

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/logpipe/logpipe/pipeline"
)

// Register adds the codecs of this package (json, line, rubydebug) to r.
func Register(r *pipeline.Registry) {
	r.AddCodec(pipeline.CodecType{
		Name:       "json",
		NewEncoder: func(a pipeline.Agent) pipeline.Encoder { return NewJSONEncoder(a) },
		NewDecoder: func() pipeline.Decoder { return NewJSONDecoder() },
	})
	r.AddCodec(pipeline.CodecType{
		Name:       "line",
		NewEncoder: func(a pipeline.Agent) pipeline.Encoder { return LineEncoder{} },
		NewDecoder: func() pipeline.Decoder { return LineDecoder{} },
	})
	r.AddCodec(pipeline.CodecType{
		Name:       "rubydebug",
		NewEncoder: func(a pipeline.Agent) pipeline.Encoder { return NewRubydebugEncoder(a) },
	})
	r.SetDocFields(MergeInputFields)
}

// JSONEncoder writes events in the wire format of DESIGN.md section 3. A line event
// becomes
//
//	{"@timestamp":"2026-11-21T07:16:26.746Z",
//	 "@metadata":{"beat":"logpipe","type":"_doc","version":"0.1.0","_id":"<id>"},
//	 "message":"<line>",
//	 "log":{"offset":182,"file":{"path":"...","device_id":"65024","inode":"10028677","fingerprint":"..."}},
//	 "input":{"type":"filestream"},"host":{"name":"web1"},"ecs":{"version":"8.0.0"},
//	 "agent":{"type":"logpipe","version":"0.1.0","name":"web1","id":"...","ephemeral_id":"..."}}
//
// (on one line), with "flags":["truncated"] after "file" when the line was cut, and
// "flags":["invalid_utf8"],"original_length":<bytes of the line as read> when the line
// held invalid UTF-8 (replaced by U+FFFD in "message", as Filebeat does), no
// "fingerprint" while the file is shorter than the fingerprint size, and no "file" for a line
// without origin. The _id is e.ID (set by the input; none when empty). A document event is written as its Doc, with
// "@metadata":{...,"_id":e.ID} inserted first when e.ID is set, so it can be shipped again.
//
// Every event is written on one line: strings are escaped, the input's fields are compact
// JSON, and a document event's Doc is one line by the contract of pipeline.Event.Doc (the
// Elasticsearch output writes line events into NDJSON bodies as they come). The parts that
// depend only on the agent are precomputed: encoding a line event does not allocate. A
// JSONEncoder is immutable and safe for concurrent use.
type JSONEncoder struct {
	meta   []byte // `"@metadata":{"beat":"logpipe","type":"_doc","version":"..."`
	tail   []byte // `,"input":...,"agent":{...}}`
	noMeta bool
}

// NewJSONEncoder returns the "json" codec's encoder for agent a.
func NewJSONEncoder(a pipeline.Agent) *JSONEncoder {
	var meta []byte
	meta = append(meta, `"@metadata":{"beat":"`+beatName+`","type":"_doc","version":`...)
	meta = AppendQuotedString(meta, a.Version)
	return &JSONEncoder{meta: meta, tail: appendTail(nil, &a)}
}

// NewDocumentEncoder returns an encoder that writes the document an Elasticsearch output
// indexes: the same JSON as NewJSONEncoder without "@metadata".
func NewDocumentEncoder(a pipeline.Agent) *JSONEncoder {
	return &JSONEncoder{tail: appendTail(nil, &a), noMeta: true}
}

// appendTail appends the members after "log", which depend only on the agent.
func appendTail(dst []byte, a *pipeline.Agent) []byte {
	dst = append(dst, `,"input":{"type":"`+inputType+`"},"host":{"name":`...)
	dst = AppendQuotedString(dst, a.Hostname)
	dst = append(dst, `},"ecs":{"version":"`+ecsVersion+`"},"agent":{"type":"`+beatName+`","version":`...)
	dst = AppendQuotedString(dst, a.Version)
	dst = append(dst, `,"name":`...)
	dst = AppendQuotedString(dst, a.Hostname)
	dst = append(dst, `,"id":`...)
	dst = AppendQuotedString(dst, a.ID)
	dst = append(dst, `,"ephemeral_id":`...)
	dst = AppendQuotedString(dst, a.EphemeralID)
	return append(dst, "}}"...)
}

// Encode implements pipeline.Encoder.
func (enc *JSONEncoder) Encode(dst []byte, e *pipeline.Event) []byte {
	if e.Doc != nil {
		if enc.noMeta || e.ID == "" {
			return append(dst, e.Doc...)
		}
		return appendDocWithMeta(dst, enc.meta, e)
	}
	return appendLine(dst, e, enc.meta, enc.noMeta, enc.tail)
}

// appendDocWithMeta writes Doc with @metadata (meta + _id) as its first member.
func appendDocWithMeta(dst, meta []byte, e *pipeline.Event) []byte {
	open := openBrace(e.Doc)
	if open < 0 {
		return append(dst, e.Doc...)
	}
	dst = append(dst, '{')
	dst = append(dst, meta...)
	dst = append(dst, `,"_id":`...)
	dst = AppendQuotedString(dst, e.ID)
	dst = append(dst, '}')
	rest := skipWS(e.Doc, open+1)
	if rest < len(e.Doc) && e.Doc[rest] != '}' {
		dst = append(dst, ',')
	}
	return append(dst, e.Doc[rest:]...)
}

// appendLine writes a line event. With noMeta, @metadata is left out; tail is the
// agent's part (appendTail).
func appendLine(dst []byte, e *pipeline.Event, meta []byte, noMeta bool, tail []byte) []byte {
	dst = append(dst, `{"@timestamp":"`...)
	dst = AppendTimestamp(dst, e.Timestamp)
	dst = append(dst, '"')
	if !noMeta {
		dst = append(dst, ',')
		dst = append(dst, meta...)
		if e.ID != "" {
			dst = append(dst, `,"_id":`...)
			dst = AppendQuotedString(dst, e.ID)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `,"message":`...)
	dst, invalid := appendQuoted(dst, e.Message)
	dst = append(dst, `,"log":{"offset":`...)
	dst = strconv.AppendInt(dst, e.Offset, 10)
	if f := e.File; f != nil {
		dst = append(dst, f.Encoded(appendFile)...)
	}
	invalid = invalid || e.Flags&pipeline.FlagInvalidUTF8 != 0
	switch {
	case e.Flags&pipeline.FlagTruncated != 0 && invalid:
		dst = append(dst, `,"flags":["truncated","invalid_utf8"]`...)
	case e.Flags&pipeline.FlagTruncated != 0:
		dst = append(dst, `,"flags":["truncated"]`...)
	case invalid:
		dst = append(dst, `,"flags":["invalid_utf8"]`...)
	}
	if invalid {
		// The message had bytes replaced by U+FFFD: keep the length of the line as read.
		dst = append(dst, `,"original_length":`...)
		dst = strconv.AppendInt(dst, int64(len(e.Message)), 10)
	}
	dst = append(dst, '}')
	if e.Fields != nil {
		dst = append(dst, e.Fields.Line...) // the input's fields and tags
	}
	return append(dst, tail...)
}

// appendFile appends the log.file member of a line event from origin f:
// `,"file":{"path":...,"device_id":"...","inode":"...","fingerprint":"..."}`. Encoders use it
// through FileOrigin.Encoded, once per origin.
func appendFile(dst []byte, f *pipeline.FileOrigin) []byte {
	dst = append(dst, `,"file":{"path":`...)
	dst = AppendQuotedString(dst, f.Path)
	dst = append(dst, `,"device_id":"`...)
	dst = strconv.AppendUint(dst, f.DeviceID, 10)
	dst = append(dst, `","inode":"`...)
	dst = strconv.AppendUint(dst, f.Inode, 10)
	dst = append(dst, '"')
	if f.Fingerprint != "" {
		dst = append(dst, `,"fingerprint":`...)
		dst = AppendQuotedString(dst, f.Fingerprint)
	}
	return append(dst, '}')
}

// JSONDecoder is the "json" codec's decoder: it turns a Kafka record value written by
// logpipe, Filebeat or Logstash into a document event. See Decode.
//
// A JSONDecoder keeps a scratch buffer: use one per goroutine.
type JSONDecoder struct {
	top     []byte                  // the TopIndex of the document being written
	scratch []byte                  // the message with invalid UTF-8 replaced
	ids     []byte                  // the ids handed out (see keepID)
	oneLine []byte                  // the message with line breaks outside strings made spaces
	seen    [seenMembers]seenObject // see value
	meta    []byte                  // see metadataID
}

// seenObject is what value remembers of one top-level position: the last object value it
// held, and the last object value of each of its first seenNested members.
type seenObject struct {
	whole  []byte
	nested [seenNested][]byte
	key    []byte // the raw key of the last value walked member by member (at most seenMax bytes)
	flat   bool   // that value held no object among its first seenNested members
}

// seenMembers is how many top-level members, by position, value remembers; seenNested how
// many members of each, by position; seenMax the longest object value (or key) it keeps.
const (
	seenMembers = 16
	seenNested  = 4
	seenMax     = 512
)

// NewJSONDecoder returns a decoder.
func NewJSONDecoder() *JSONDecoder { return &JSONDecoder{} }

// Decode implements pipeline.Decoder. For a JSON object it appends the object without its
// "@metadata" member to dst (members otherwise as they were, line breaks between tokens
// turned into spaces, so Doc is always one line), sets e.ID from @metadata._id
// and e.Timestamp from @timestamp. When @timestamp is missing, "@timestamp":<recordTime> is
// added; when it cannot be parsed, Logstash's convention applies: the value moves to
// "_@timestamp", @timestamp becomes recordTime and the tag "_timestampparsefailure" is
// added. Invalid UTF-8 in the message is replaced by U+FFFD. Anything that is not a JSON
// object becomes {"@timestamp":<recordTime>,"message":<the raw text>,
// "tags":["_jsonparsefailure"]}. e.Doc points into the returned slice; so does e.Top, the
// TopIndex of the document, written after it (none for the two failure forms).
func (d *JSONDecoder) Decode(dst, msg []byte, recordTime time.Time, e *pipeline.Event) []byte {
	e.ID, e.Top = "", nil
	d.top = d.top[:0]
	start := len(dst)
	raw := msg
	open := openBrace(msg)
	if open < 0 {
		return decodeFailure(dst, raw, recordTime, e, true)
	}
	if !utf8.Valid(msg) {
		// In a well-formed object invalid bytes can only be inside strings, where U+FFFD is
		// a valid replacement; outside strings the replacement stays invalid and the member
		// walk below rejects the message.
		d.scratch = appendValidUTF8(d.scratch[:0], msg)
		msg = d.scratch
		open = openBrace(msg)
	}
	if hasByte(msg, '\n') || hasByte(msg, '\r') {
		// pretty-printed JSON: keep Doc on one line (the Elasticsearch _bulk body is NDJSON)
		d.oneLine = appendOneLine(d.oneLine[:0], msg)
		msg = d.oneLine
		open = openBrace(msg)
	}
	e.Timestamp = recordTime.UTC()
	tsState := 0 // 0 missing, 1 ok, 2 unparsable
	dst = append(dst, '{')
	first := true
	it := newMemberIter(msg, open)
	for pos := 0; ; pos++ {
		m, ok := it.nextKey()
		if !ok {
			break
		}
		key := msg[m.keyStart:m.keyEnd]
		if keyEquals(key, sbytes("@metadata")) {
			// Dropped from Doc; its _id is the event's id. A malformed value ends the walk
			// (the iterator is bad, nextKey returns false).
			if id, ok := d.metadataID(&it, m); ok {
				e.ID = id
			}
			continue
		}
		if m, ok = d.value(&it, m, pos); !ok {
			break
		}
		val := msg[m.valStart:m.valEnd]
		switch {
		case keyEquals(key, sbytes("@timestamp")):
			if tsState != 0 {
				continue // a duplicate: keep the first
			}
			if t, ok := ParseTimestamp(val); ok {
				e.Timestamp = t
				tsState = 1
				if val[0] != '"' {
					if !first {
						dst = append(dst, ',')
					}
					first = false
					dst = d.appendTimestamp(dst, start, t)
					continue
				}
			} else {
				tsState = 2
				if !first {
					dst = append(dst, ',')
				}
				first = false
				dst = append(dst, `"_@timestamp":`...)
				dst = append(dst, val...)
				continue
			}
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		ks := len(dst) - start
		dst = append(dst, msg[m.keyStart:m.valEnd]...)
		d.top = appendTopMember(d.top, ks, ks+m.keyEnd-m.keyStart, ks+m.valStart-m.keyStart, ks+m.valEnd-m.keyStart)
	}
	if it.bad || skipWS(msg, it.close+1) != len(msg) {
		// not one well-formed object: the member walk validated every value on the way
		e.ID = ""
		return decodeFailure(dst[:start], raw, recordTime, e, true)
	}
	if tsState != 1 {
		if !first {
			dst = append(dst, ',')
		}
		dst = d.appendTimestamp(dst, start, e.Timestamp)
	}
	dst = append(dst, '}')
	if tsState == 2 {
		// The tag moves members: no index.
		dst = append(dst[:start], AppendTag(dst[start:], "_timestampparsefailure")...)
		e.Doc = dst[start:len(dst):len(dst)]
		return dst
	}
	end := len(dst)
	dst = append(dst, d.top...)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(end-start))
	e.Doc, e.Top = dst[start:end:end], dst[end:len(dst):len(dst)]
	return dst
}

// value completes the top-level member m of it, at position pos, as it.value does, without
// checking an object value again that this decoder checked before: records of one source
// repeat most of their objects byte for byte (agent, host, ecs, input), and the rest of
// them often differ in one member only (log differs in its offset, not in its file).
//
// For the first seenMembers positions it keeps the last object value that position held,
// and, within it, the last object value of each of its first seenNested members (each once
// checked, up to seenMax bytes). When the record's value at a remembered position starts
// with those bytes, the value is those bytes: an object ends at its matching brace, so
// equal bytes make the same, well-formed object (the message is valid UTF-8 by then, and
// every position is at the same depth), and the walk goes on after it as after a check.
// Anything else is checked. Only members whose last value held objects are walked member by
// member: a walk costs more than one check of the whole value.
func (d *JSONDecoder) value(it *memberIter, m member, pos int) (member, bool) {
	b := it.b
	if pos >= seenMembers || !isObjectAt(b, m.valStart) {
		return it.value(m)
	}
	seen := &d.seen[pos]
	if end := recall(b, m.valStart, seen.whole); end >= 0 {
		return it.valueEnd(m, end)
	}
	key := b[m.keyStart:m.keyEnd]
	if seen.flat && bytes.Equal(key, seen.key) {
		// The last value of this member walked here held no object to recall (nor, most
		// likely, does this one): check it in one go, as fast as a check can be.
		m, ok := it.value(m)
		if ok {
			keep(&seen.whole, b[m.valStart:m.valEnd])
		}
		return m, ok
	}
	o := it.object(m)
	// A key longer than seenMax is not kept (nor is the shortcut above taken for it).
	if seen.flat = len(key) <= seenMax; seen.flat {
		seen.key = append(seen.key[:0], key...)
	}
	for j := 0; ; j++ {
		mm, ok := o.nextKey()
		if !ok {
			break
		}
		if j < seenNested && isObjectAt(b, mm.valStart) {
			seen.flat = false
			if end := recall(b, mm.valStart, seen.nested[j]); end >= 0 {
				o.valueEnd(mm, end)
				continue
			}
			if mm, ok = o.value(mm); ok {
				keep(&seen.nested[j], b[mm.valStart:mm.valEnd])
			}
			continue
		}
		o.value(mm)
	}
	m, ok := it.valueEnd(m, o.end())
	if ok {
		keep(&seen.whole, b[m.valStart:m.valEnd])
	}
	return m, ok
}

// isObjectAt reports whether an object starts at b[i].
func isObjectAt(b []byte, i int) bool { return i < len(b) && b[i] == '{' }

// recall returns the index just past the object value that starts at b[i] when it is the
// object kept in seen (see value), or -1.
func recall(b []byte, i int, seen []byte) int {
	if len(seen) > 0 && bytes.HasPrefix(b[i:], seen) {
		return i + len(seen)
	}
	return -1
}

// keep remembers the checked object value v in *seen, when it is at most seenMax bytes.
func keep(seen *[]byte, v []byte) {
	if len(v) <= seenMax {
		*seen = append((*seen)[:0], v...)
	}
}

// metadataID completes the member m of it (an "@metadata" member, from nextKey), checking
// its value as next does, and returns the value's first "_id" member when the value is an
// object and that member a non-empty string. The walk that checks the object also finds
// the id: Lookup after next walked it twice.
//
// The members before the id are the same in every record of a shipper ("beat", "type",
// "version"), so the decoder keeps the start of the last @metadata whose walk found the id,
// up to the id's value (d.meta, at most metaMax bytes). When the
// value starts with those bytes, they hold the same well-formed members and the same first
// "_id" key (a string ends at its closing quote, so equal bytes make equal members, at the
// same depth), and the walk goes on from the id's value.
func (d *JSONDecoder) metadataID(it *memberIter, m member) (string, bool) {
	b := it.b
	if m.valStart >= len(b) || b[m.valStart] != '{' {
		it.value(m)
		return "", false
	}
	meta := it.object(m)
	var raw []byte
	idVal := -1 // where the id's value starts, when the walk found it
	if len(d.meta) > 0 && bytes.HasPrefix(b[m.valStart:], d.meta) {
		meta.first = false
		// d.meta ends where the value started in that record; this one may have more space.
		// (The member's key is not read: it is the first "_id".)
		if id, ok := meta.value(member{valStart: skipWS(b, m.valStart+len(d.meta))}); ok {
			raw = b[id.valStart:id.valEnd]
		}
	}
	for {
		mm, ok := meta.next()
		if !ok {
			break
		}
		if raw == nil && keyEquals(b[mm.keyStart:mm.keyEnd], sbytes("_id")) {
			raw = b[mm.valStart:mm.valEnd]
			if mm.valStart-m.valStart <= metaMax {
				idVal = mm.valStart
			}
		}
	}
	if _, ok := it.valueEnd(m, meta.end()); !ok || len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	if idVal >= 0 {
		d.meta = append(d.meta[:0], b[m.valStart:idVal]...)
	}
	return d.keepID(raw)
}

// metaMax is the longest start of an @metadata value that metadataID keeps.
const metaMax = 256

// appendTimestamp appends the member "@timestamp":"<t>" of the document that starts at
// dst[start], and adds it to the index.
func (d *JSONDecoder) appendTimestamp(dst []byte, start int, t time.Time) []byte {
	ks := len(dst) - start
	dst = append(dst, `"@timestamp":"`...)
	dst = AppendTimestamp(dst, t)
	dst = append(dst, '"')
	const key = len(`"@timestamp"`)
	d.top = appendTopMember(d.top, ks, ks+key, ks+key+1, len(dst)-start)
	return dst
}

// idChunk is the size of the buffers the decoder keeps event ids in.
const idChunk = 4 << 10

// keepID decodes the raw JSON string raw straight into the buffer shared with the ids
// decoded before it, and returns it as a string over that buffer: one allocation per
// idChunk bytes of ids (about a hundred events) instead of one per event. ok is false for
// a malformed or empty string. Bytes of the buffer are never written again once a string
// points at them (a failed decoding writes only past them), and a full buffer is left to
// the strings that point into it (the collector frees it with the last of them).
func (d *JSONDecoder) keepID(raw []byte) (string, bool) {
	// The decoded text is never longer than the raw string without its quotes.
	if n := len(raw) - 2; cap(d.ids)-len(d.ids) < n {
		d.ids = make([]byte, 0, max(idChunk, n))
	}
	s := len(d.ids)
	out, err := AppendUnquoted(d.ids, raw)
	if err != nil || len(out) == s {
		return "", false
	}
	d.ids = out
	return unsafe.String(&d.ids[s], len(out)-s), true
}

// decodeFailure writes the event for a message that is not a JSON object (Logstash's
// _jsonparsefailure convention), or a plain line when tag is false.
func decodeFailure(dst, msg []byte, recordTime time.Time, e *pipeline.Event, tag bool) []byte {
	start := len(dst)
	e.Timestamp = recordTime.UTC()
	dst = append(dst, `{"@timestamp":"`...)
	dst = AppendTimestamp(dst, e.Timestamp)
	dst = append(dst, `","message":`...)
	dst = AppendQuoted(dst, msg)
	if tag {
		dst = append(dst, `,"tags":["_jsonparsefailure"]`...)
	}
	dst = append(dst, '}')
	e.Doc = dst[start:len(dst):len(dst)]
	return dst
}

// appendValidUTF8 appends b with each byte of invalid UTF-8 replaced by U+FFFD.
func appendValidUTF8(dst, b []byte) []byte {
	start := 0
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, b[start:i]...)
			dst = append(dst, "\uFFFD"...)
			i++
			start = i
			continue
		}
		i += size
	}
	return append(dst, b[start:]...)
}

// appendOneLine appends b with every CR and LF outside JSON strings replaced by a space.
// A line break inside a string is invalid JSON and is left for the validation to reject.
func appendOneLine(dst, b []byte) []byte {
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '\n' || c == '\r':
			c = ' '
		}
		dst = append(dst, c)
	}
	return dst
}
