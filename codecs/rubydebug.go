package codecs

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/logpipe/logpipe/pipeline"
)

// RubydebugEncoder is the "rubydebug" codec's encoder: Logstash's readable dump of an
// event (Ruby's awesome_print layout), for debugging:
//
//	{
//	       "message" => "GET / HTTP/1.1",
//	    "@timestamp" => 2026-11-21T07:16:26.746Z,
//	          "host" => {
//	        "name" => "web1"
//	    },
//	          "tags" => [
//	        [0] "_jsonparsefailure"
//	    ]
//	}
//
// Keys keep the document's order and are right-aligned within each hash; nested hashes and
// arrays are indented by four spaces per level; strings are quoted as Ruby's inspect does;
// the top-level @timestamp is shown unquoted, like Logstash's Timestamp object. @metadata is
// not shown (Logstash's default). Each event ends with "\n". Not a hot path, but it does not
// use reflection either.
type RubydebugEncoder struct {
	doc *JSONEncoder
}

// NewRubydebugEncoder returns the rubydebug encoder for agent a (used for the fields of
// line events).
func NewRubydebugEncoder(a pipeline.Agent) *RubydebugEncoder {
	return &RubydebugEncoder{doc: NewDocumentEncoder(a)}
}

// Encode implements pipeline.Encoder.
func (r *RubydebugEncoder) Encode(dst []byte, e *pipeline.Event) []byte {
	var doc []byte
	if e.Doc != nil {
		doc = e.Doc
	} else {
		doc = r.doc.Encode(make([]byte, 0, 512+len(e.Message)), e)
	}
	i := skipWS(doc, 0)
	end := skipValue(doc, i, 0)
	if end < 0 {
		// not JSON: show it as a string, so the event is never lost from view
		dst = appendRubyString(dst, doc)
		return append(dst, '\n')
	}
	dst = appendRuby(dst, doc[i:end], 0, true)
	return append(dst, '\n')
}

// appendRuby renders the raw JSON value v at nesting level lvl.
func appendRuby(dst, v []byte, lvl int, top bool) []byte {
	switch v[0] {
	case '{':
		return appendRubyHash(dst, v, lvl, top)
	case '[':
		return appendRubyArray(dst, v, lvl)
	case '"':
		s, err := AppendUnquoted(nil, v)
		if err != nil {
			return append(dst, v...)
		}
		return appendRubyString(dst, s)
	case 'n':
		return append(dst, "nil"...)
	default:
		return append(dst, v...) // numbers, true, false
	}
}

func indent(dst []byte, n int) []byte {
	for ; n > 0; n-- {
		dst = append(dst, "    "...)
	}
	return dst
}

type rubyMember struct {
	key []byte // rendered key, quoted
	val []byte // raw JSON value
	ts  bool   // the top-level @timestamp
}

func appendRubyHash(dst, v []byte, lvl int, top bool) []byte {
	var members []rubyMember
	width := 0
	it := newMemberIter(v, 0)
	for {
		m, ok := it.next()
		if !ok {
			break
		}
		k, err := AppendUnquoted(nil, v[m.keyStart:m.keyEnd])
		if err != nil {
			continue
		}
		if top && string(k) == "@metadata" {
			continue
		}
		rk := appendRubyString(nil, k)
		if n := utf8.RuneCount(rk); n > width {
			width = n
		}
		members = append(members, rubyMember{key: rk, val: v[m.valStart:m.valEnd], ts: top && string(k) == "@timestamp"})
	}
	if len(members) == 0 {
		return append(dst, "{}"...)
	}
	dst = append(dst, "{\n"...)
	for i, m := range members {
		dst = indent(dst, lvl+1)
		for pad := width - utf8.RuneCount(m.key); pad > 0; pad-- {
			dst = append(dst, ' ')
		}
		dst = append(dst, m.key...)
		dst = append(dst, " => "...)
		if m.ts && m.val[0] == '"' {
			if s, err := AppendUnquoted(nil, m.val); err == nil {
				dst = append(dst, s...)
			} else {
				dst = append(dst, m.val...)
			}
		} else {
			dst = appendRuby(dst, m.val, lvl+1, false)
		}
		if i < len(members)-1 {
			dst = append(dst, ',')
		}
		dst = append(dst, '\n')
	}
	dst = indent(dst, lvl)
	return append(dst, '}')
}

func appendRubyArray(dst, v []byte, lvl int) []byte {
	var elems [][]byte
	i := skipWS(v, 1)
	for i < len(v) && v[i] != ']' {
		e := skipValue(v, i, 1)
		if e < 0 {
			break
		}
		elems = append(elems, v[i:e])
		i = skipWS(v, e)
		if i < len(v) && v[i] == ',' {
			i = skipWS(v, i+1)
		}
	}
	if len(elems) == 0 {
		return append(dst, "[]"...)
	}
	width := len(strconv.Itoa(len(elems) - 1))
	dst = append(dst, "[\n"...)
	for n, el := range elems {
		dst = indent(dst, lvl+1)
		dst = append(dst, '[')
		for pad := width - len(strconv.Itoa(n)); pad > 0; pad-- {
			dst = append(dst, ' ')
		}
		dst = strconv.AppendInt(dst, int64(n), 10)
		dst = append(dst, "] "...)
		dst = appendRuby(dst, el, lvl+1, false)
		if n < len(elems)-1 {
			dst = append(dst, ',')
		}
		dst = append(dst, '\n')
	}
	dst = indent(dst, lvl)
	return append(dst, ']')
}

// appendRubyString quotes s as Ruby's String#inspect does.
func appendRubyString(dst, s []byte) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\x`...)
			dst = append(dst, "0123456789ABCDEF"[s[i]>>4], "0123456789ABCDEF"[s[i]&0xF])
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r == '#' && i+1 < len(s) && (s[i+1] == '{' || s[i+1] == '$' || s[i+1] == '@'):
			dst = append(dst, '\\', '#')
		case r == '\n':
			dst = append(dst, `\n`...)
		case r == '\r':
			dst = append(dst, `\r`...)
		case r == '\t':
			dst = append(dst, `\t`...)
		case r == '\f':
			dst = append(dst, `\f`...)
		case r == '\v':
			dst = append(dst, `\v`...)
		case r == '\b':
			dst = append(dst, `\b`...)
		case r == '\a':
			dst = append(dst, `\a`...)
		case r == 0x1b:
			dst = append(dst, `\e`...)
		case r < 0x20 || r == 0x7f:
			dst = append(dst, `\u00`...)
			dst = append(dst, "0123456789ABCDEF"[r>>4], "0123456789ABCDEF"[r&0xF])
		case r >= utf8.RuneSelf && !unicode.IsPrint(r):
			dst = append(dst, `\u`...)
			if r > 0xFFFF {
				dst = append(dst, '{')
				dst = append(dst, strings.ToUpper(strconv.FormatInt(int64(r), 16))...)
				dst = append(dst, '}')
			} else {
				h := strings.ToUpper(strconv.FormatInt(int64(r)+0x10000, 16))
				dst = append(dst, h[1:]...)
			}
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
