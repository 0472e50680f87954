package codecs

// This file holds a small, allocation-free JSON toolkit shared by the indexer's stages
// (decoder, filters, the Elasticsearch output). It works on raw JSON bytes and never builds
// maps: a document is passed through as bytes and only the members a stage needs are found,
// decoded, removed or added.
//
// Conventions:
//   - "raw" values are the exact JSON text of a value as it appears in a document: a string
//     raw value includes its quotes, an object raw value its braces.
//   - Functions that edit a document (RemoveMember, SetMember, MergeObject, AppendTag) work
//     on the top-level object, in place when the slice has room, and return the edited slice
//     like append does: always use the returned slice. The value bytes passed to them must
//     not alias the document being edited.
//   - Nesting deeper than MaxDepth is treated as malformed (it protects the scanner's stack
//     against hostile input).
//   - Invalid UTF-8 inside strings is accepted by the scanner (as Go's encoding/json does);
//     AppendQuoted replaces it with U+FFFD when writing.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/bits"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"
)

// MaxDepth is the deepest nesting of objects and arrays the scanner accepts.
const MaxDepth = 512

// ErrMalformed is returned when bytes are not the JSON the function expects.
var ErrMalformed = errors.New("malformed JSON")

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipWS(b []byte, i int) int {
	for i < len(b) && isWS(b[i]) {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i] (which must be '"'),
// or -1 when it is malformed (unterminated, bad escape, raw control character).
func skipString(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	i++
	for {
		i = skipStringPlain(b, i)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case '"':
			return i + 1
		case '\\':
			if i+1 >= len(b) {
				return -1
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return -1
				}
				for _, h := range b[i+2 : i+6] {
					if unhex(h) < 0 {
						return -1
					}
				}
				i += 6
			default:
				return -1
			}
		default: // a raw control character
			return -1
		}
	}
}

// SWAR constants: every byte 0x01, every byte 0x80.
const (
	swarLo = 0x0101010101010101
	swarHi = 0x8080808080808080
)

// skipStringPlain returns the index of the first byte at or after i that ends a run of
// plain string content: a quote, a backslash or a control character (len(b) if none). It
// tests eight bytes at a time (SWAR): a word is skipped when none of its bytes is special,
// and otherwise the lowest flagged byte is the first special one (see swarStop).
func skipStringPlain(b []byte, i int) int {
	for i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:])
		q := x ^ ('"' * swarLo)
		s := x ^ ('\\' * swarLo)
		// (v - 0x01..) &^ v & 0x80.. is non-zero iff some byte of v is zero; with 0x20..
		// in place of 0x01.., iff some byte is below 0x20.
		if m := ((q-swarLo)&^q | (s-swarLo)&^s | (x-0x20*swarLo)&^x) & swarHi; m != 0 {
			return i + swarStop(m)
		}
		i += 8
	}
	for i < len(b) && stringPlain[b[i]] {
		i++
	}
	return i
}

// swarStop returns the index within its word of the first flagged byte of the non-zero mask
// m. The tests above flag bytes exactly up to the first true one (the subtraction's borrow
// only runs towards higher bytes, so false flags appear only above it), and the word was
// loaded little-endian, so the lowest flag is the first byte in memory.
func swarStop(m uint64) int { return bits.TrailingZeros64(m) >> 3 }

// skipPlainASCII returns the index of the first byte at or after i that AppendQuoted cannot
// copy as it is (see plainASCII; len(b) if none), testing eight bytes at a time as
// skipStringPlain does, bytes from 0x80 up included.
func skipPlainASCII(b []byte, i int) int {
	for i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:])
		q := x ^ ('"' * swarLo)
		s := x ^ ('\\' * swarLo)
		if m := ((q-swarLo)&^q | (s-swarLo)&^s | (x-0x20*swarLo)&^x | x) & swarHi; m != 0 {
			return i + swarStop(m)
		}
		i += 8
	}
	for i < len(b) && plainASCII[b[i]] {
		i++
	}
	return i
}

// stringPlain marks the bytes that may appear as they are inside a JSON string: all but
// the quote, the backslash and control characters. It is never modified.
var stringPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func skipNumber(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return -1
	}
	switch {
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		i++
		s := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == s {
			return -1
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		s := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == s {
			return -1
		}
	}
	return i
}

func skipLiteral(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// skipValue returns the index just past the JSON value starting at b[i] (no leading
// whitespace), or -1 when it is malformed.
func skipValue(b []byte, i, depth int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		return skipString(b, i)
	case c == '{':
		if depth >= MaxDepth {
			return -1
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1
		}
		for {
			i = skipString(b, i)
			if i < 0 {
				return -1
			}
			i = skipWS(b, i)
			if i >= len(b) || b[i] != ':' {
				return -1
			}
			i = skipValue(b, skipWS(b, i+1), depth+1)
			if i < 0 {
				return -1
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return -1
			}
			if b[i] == '}' {
				return i + 1
			}
			if b[i] != ',' {
				return -1
			}
			i = skipWS(b, i+1)
		}
	case c == '[':
		if depth >= MaxDepth {
			return -1
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1
		}
		for {
			i = skipValue(b, i, depth+1)
			if i < 0 {
				return -1
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return -1
			}
			if b[i] == ']' {
				return i + 1
			}
			if b[i] != ',' {
				return -1
			}
			i = skipWS(b, i+1)
		}
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	default:
		return skipNumber(b, i)
	}
}

// Valid reports whether b is exactly one JSON value, optionally surrounded by whitespace.
func Valid(b []byte) bool {
	i := skipWS(b, 0)
	e := skipValue(b, i, 0)
	return e >= 0 && skipWS(b, e) == len(b)
}

// ValidObject reports whether b is exactly one JSON object, optionally surrounded by
// whitespace. It does not check that strings are valid UTF-8.
func ValidObject(b []byte) bool {
	i := skipWS(b, 0)
	return i < len(b) && b[i] == '{' && Valid(b)
}

// member locates one member of an object: the raw key (with quotes) is b[keyStart:keyEnd],
// the raw value b[valStart:valEnd].
type member struct{ keyStart, keyEnd, valStart, valEnd int }

// memberIter walks the members of the object whose '{' is at a given index.
type memberIter struct {
	b     []byte
	i     int
	depth int // nesting depth of the object (0: the outermost); its values are one deeper
	first bool
	bad   bool // the object is malformed
	close int  // index of the closing '}' once next returned false without bad
}

func newMemberIter(b []byte, open int) memberIter {
	if open < 0 || open >= len(b) || b[open] != '{' {
		return memberIter{b: b, bad: true}
	}
	return memberIter{b: b, i: open + 1, first: true, close: -1}
}

// next returns the next member, its value checked to be well-formed JSON.
func (it *memberIter) next() (member, bool) {
	m, ok := it.nextKey()
	if !ok {
		return m, false
	}
	return it.value(m)
}

// value completes m, returned by nextKey, by skipping its value, checked to be well-formed.
func (it *memberIter) value(m member) (member, bool) {
	return it.valueEnd(m, skipValue(it.b, m.valStart, it.depth+1))
}

// nextKey returns the next member up to the start of its value (m.valEnd is not set): the
// caller completes it with value, or walks the value itself (see object) and hands its end
// to valueEnd. Walking a value once to both check it and read from it saves a second walk.
func (it *memberIter) nextKey() (member, bool) {
	if it.bad || it.close >= 0 {
		return member{}, false
	}
	b := it.b
	i := skipWS(b, it.i)
	if i >= len(b) {
		it.bad = true
		return member{}, false
	}
	if b[i] == '}' {
		it.close = i
		return member{}, false
	}
	if !it.first {
		if b[i] != ',' {
			it.bad = true
			return member{}, false
		}
		i = skipWS(b, i+1)
	}
	it.first = false
	ke := skipString(b, i)
	if ke < 0 {
		it.bad = true
		return member{}, false
	}
	j := skipWS(b, ke)
	if j >= len(b) || b[j] != ':' {
		it.bad = true
		return member{}, false
	}
	return member{keyStart: i, keyEnd: ke, valStart: skipWS(b, j+1)}, true
}

// valueEnd completes m, returned by nextKey, with the end of its value (-1: the value is
// malformed, and so is the object) and moves the iterator past it.
func (it *memberIter) valueEnd(m member, ve int) (member, bool) {
	if ve < 0 {
		it.bad = true
		return member{}, false
	}
	it.i, m.valEnd = ve, ve
	return m, true
}

// object walks the member's value, an object (b[m.valStart] == '{'), with an iterator one
// level deeper; end turns that walk into the end of the value.
func (it *memberIter) object(m member) memberIter {
	o := newMemberIter(it.b, m.valStart)
	o.depth = it.depth + 1
	if o.depth >= MaxDepth {
		o.bad = true
	}
	return o
}

// end returns the index just past the object walked by o to its end, or -1 when it was
// malformed.
func (o *memberIter) end() int {
	if o.bad || o.close < 0 {
		return -1
	}
	return o.close + 1
}

// keyEquals reports whether the raw (quoted) key equals key once decoded.
func keyEquals(raw []byte, key []byte) bool {
	inner := raw[1 : len(raw)-1]
	if len(inner) == 0 || len(key) == 0 {
		return len(inner) == len(key) // an escape never decodes to nothing
	}
	if inner[0] != key[0] && inner[0] != '\\' {
		// The decoded key starts with inner[0] unless an escape starts there: most keys
		// differ here, before any scan for escapes.
		return false
	}
	if len(inner) <= len(key) {
		// An escape is longer than what it decodes to (\n is 2 bytes for 1; \u00e9 6 for 2;
		// a surrogate pair 12 for 4; a lone surrogate 6 for U+FFFD's 3), so a raw key no
		// longer than key equals it only when it holds no escape and the bytes are equal.
		return string(inner) == string(key) && !hasByte(inner, '\\')
	}
	if !hasByte(inner, '\\') {
		return false
	}
	var buf [64]byte
	d, err := AppendUnquoted(buf[:0], raw)
	return err == nil && string(d) == string(key)
}

func hasByte(b []byte, c byte) bool { return bytes.IndexByte(b, c) >= 0 }

// sbytes views a string as bytes without copying; the result must not be modified.
func sbytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// findMember returns the member called key of the object whose '{' is at open.
func findMember(b []byte, open int, key []byte) (member, bool) {
	it := newMemberIter(b, open)
	for {
		m, ok := it.next()
		if !ok {
			return member{}, false
		}
		if keyEquals(b[m.keyStart:m.keyEnd], key) {
			return m, true
		}
	}
}

// Lookup returns the raw JSON value found by following path from the object doc: each
// element names a member of the object reached so far (Lookup(doc, "log", "file", "path")
// is doc.log.file.path). With an empty path it returns doc itself, trimmed. ok is false when
// a member is missing, when an intermediate value is not an object, or when doc is malformed
// on the way. The first member with a given name wins. Lookup does not allocate.
func Lookup(doc []byte, path ...string) (raw []byte, ok bool) {
	s := skipWS(doc, 0)
	cur := doc[s:]
	for _, key := range path {
		m, found := findMember(cur, 0, sbytes(key))
		if !found {
			return nil, false
		}
		cur = cur[m.valStart:m.valEnd]
	}
	if len(path) == 0 {
		e := skipValue(cur, 0, 0)
		if e < 0 {
			return nil, false
		}
		cur = cur[:e]
	}
	return cur, true
}

// AppendUnquoted decodes the raw JSON string rawString (with its quotes) and appends the
// text to dst: escapes are resolved, \u escapes become UTF-8, a surrogate pair becomes one
// code point and a lone surrogate becomes U+FFFD. Bytes that are not escapes are copied as
// they are (invalid UTF-8 included). It returns ErrMalformed (and dst unchanged) when
// rawString is not a quoted string or holds a bad escape.
func AppendUnquoted(dst, rawString []byte) ([]byte, error) {
	n := len(rawString)
	if n < 2 || rawString[0] != '"' || rawString[n-1] != '"' {
		return dst, ErrMalformed
	}
	orig := len(dst)
	s := rawString[1 : n-1]
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] != '\\' {
			j++
		}
		dst = append(dst, s[i:j]...)
		if j == len(s) {
			break
		}
		if j+1 >= len(s) {
			return dst[:orig], ErrMalformed
		}
		switch c := s[j+1]; c {
		case '"', '\\', '/':
			dst = append(dst, c)
			i = j + 2
		case 'b':
			dst = append(dst, '\b')
			i = j + 2
		case 'f':
			dst = append(dst, '\f')
			i = j + 2
		case 'n':
			dst = append(dst, '\n')
			i = j + 2
		case 'r':
			dst = append(dst, '\r')
			i = j + 2
		case 't':
			dst = append(dst, '\t')
			i = j + 2
		case 'u':
			r := hex4(s, j+2)
			if r < 0 {
				return dst[:orig], ErrMalformed
			}
			i = j + 6
			if r >= 0xD800 && r < 0xDC00 {
				// high surrogate: combine with a following low surrogate
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if lo := hex4(s, i+2); lo >= 0xDC00 && lo < 0xE000 {
						r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
						i += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			} else if r >= 0xDC00 && r < 0xE000 {
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, rune(r))
		default:
			return dst[:orig], ErrMalformed
		}
	}
	return dst, nil
}

func hex4(s []byte, i int) int {
	if i+4 > len(s) {
		return -1
	}
	r := 0
	for _, c := range s[i : i+4] {
		h := unhex(c)
		if h < 0 {
			return -1
		}
		r = r<<4 | h
	}
	return r
}

const hexDigits = "0123456789abcdef"

// plainASCII marks the bytes AppendQuoted copies as they are: ASCII from space to DEL,
// except the quote and the backslash. It is never modified.
var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// AppendQuoted appends s as a JSON string (with quotes) to dst. Quote, backslash and control
// characters are escaped (\n, \r, \t, \b, \f by name, the others as \u00XX), as are U+2028
// and U+2029; each byte of invalid UTF-8 becomes U+FFFD (what Filebeat and Go's
// encoding/json do). Other characters, "<", ">" and "&" included, are written as they are.
// It does not allocate beyond growing dst.
func AppendQuoted(dst []byte, s []byte) []byte {
	dst, _ = appendQuoted(dst, s)
	return dst
}

// appendQuoted is AppendQuoted; it also reports whether s held invalid UTF-8 (that is,
// whether !utf8.Valid(s)), so that the encoder does not scan a message twice.
func appendQuoted(dst []byte, s []byte) (out []byte, invalid bool) {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// fast path: a run of printable ASCII that needs no escaping
		i = skipPlainASCII(s, i)
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
			invalid = true
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), invalid
}

// AppendQuotedString is AppendQuoted for a string; it does not copy s.
func AppendQuotedString(dst []byte, s string) []byte { return AppendQuoted(dst, sbytes(s)) }

// AppendTimestamp appends t in UTC as Filebeat writes @timestamp, without quotes:
// "2026-11-21T07:16:26.746Z" (millisecond precision, truncated). It does not allocate.
func AppendTimestamp(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
	}
	hour, min, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	dst = append(dst,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+min/10), byte('0'+min%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.',
		byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
	return dst
}

// ParseTimestamp parses an @timestamp as Filebeat, Logstash and other shippers write it:
// RFC 3339 with any number of fractional digits and "Z" or a numeric offset
// ("2026-11-21T07:16:26.746Z", "2026-11-21T08:16:26+01:00", "2026-11-21 07:16:26.746123Z"),
// or a raw JSON number of milliseconds since the epoch. raw is the raw JSON value (a quoted
// string or a number). The result is in UTC. The common forms are parsed without allocating.
func ParseTimestamp(raw []byte) (time.Time, bool) {
	if len(raw) == 0 {
		return time.Time{}, false
	}
	if raw[0] != '"' {
		if e := skipNumber(raw, 0); e != len(raw) {
			return time.Time{}, false
		}
		ms, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || ms > 1e15 || ms < -1e15 {
			return time.Time{}, false
		}
		return time.UnixMilli(int64(ms)).UTC(), true
	}
	if len(raw) < 2 || raw[len(raw)-1] != '"' {
		return time.Time{}, false
	}
	s := raw[1 : len(raw)-1]
	if t, ok := parseRFC3339(s); ok {
		return t, true
	}
	if hasByte(s, '\\') {
		var buf [64]byte
		d, err := AppendUnquoted(buf[:0], raw)
		if err == nil {
			if t, ok := parseRFC3339(d); ok {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

func digits(s []byte, i, n int) (int, bool) {
	if i+n > len(s) {
		return 0, false
	}
	v := 0
	for _, c := range s[i : i+n] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// parseRFC3339 parses YYYY-MM-DD[T ]HH:MM:SS[.frac](Z|±HH:MM|±HHMM) strictly.
func parseRFC3339(s []byte) (time.Time, bool) {
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
		s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := digits(s, 0, 4)
	month, ok2 := digits(s, 5, 2)
	day, ok3 := digits(s, 8, 2)
	hour, ok4 := digits(s, 11, 2)
	min, ok5 := digits(s, 14, 2)
	sec, ok6 := digits(s, 17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(year, month) || hour > 23 || min > 59 || sec > 60 {
		return time.Time{}, false
	}
	i := 19
	nsec := 0
	if i < len(s) && s[i] == '.' {
		i++
		scale := 100000000
		st := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			nsec += int(s[i]-'0') * scale
			scale /= 10
			i++
		}
		if i == st {
			return time.Time{}, false
		}
	}
	if i >= len(s) {
		return time.Time{}, false
	}
	offset := 0
	switch s[i] {
	case 'Z', 'z':
		i++
	case '+', '-':
		sign := 1
		if s[i] == '-' {
			sign = -1
		}
		oh, okh := digits(s, i+1, 2)
		if !okh {
			return time.Time{}, false
		}
		j := i + 3
		if j < len(s) && s[j] == ':' {
			j++
		}
		om, okm := digits(s, j, 2)
		if !okm || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		offset = sign * (oh*3600 + om*60)
		i = j + 2
	default:
		return time.Time{}, false
	}
	if i != len(s) {
		return time.Time{}, false
	}
	if sec == 60 {
		sec = 59 // leap second: clamp, as Go's time package cannot represent it
	}
	t := time.Date(year, time.Month(month), day, hour, min, sec, nsec, time.UTC)
	if offset != 0 {
		t = t.Add(-time.Duration(offset) * time.Second)
	}
	return t, true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// openBrace returns the index of the top-level '{' of doc, or -1.
func openBrace(doc []byte) int {
	i := skipWS(doc, 0)
	if i < len(doc) && doc[i] == '{' {
		return i
	}
	return -1
}

// scanObject walks every member of the object whose '{' is at open and reports the first
// member called key (found), the end of the value before it (prevEnd, -1 when it is the first
// member), the index of the closing '}' (close) and whether the object has members. ok is
// false when the object is malformed; editing functions then leave the document alone.
func scanObject(doc []byte, open int, key []byte) (m member, found bool, prevEnd, close int, nonEmpty, ok bool) {
	it := newMemberIter(doc, open)
	prevEnd = -1
	last := -1
	for {
		x, more := it.next()
		if !more {
			break
		}
		if !found && keyEquals(doc[x.keyStart:x.keyEnd], key) {
			m, found, prevEnd = x, true, last
		}
		last = x.valEnd
	}
	return m, found, prevEnd, it.close, !it.first, !it.bad
}

// RemoveMember removes every top-level member called key from the object doc, in place,
// and returns the shortened slice. doc is returned unchanged when it has no such member or
// is malformed.
func RemoveMember(doc []byte, key string) []byte {
	k := sbytes(key)
	for {
		m, found, prevEnd, _, _, ok := scanObject(doc, openBrace(doc), k)
		if !ok || !found {
			return doc
		}
		if prevEnd >= 0 {
			// ...prev<, "key": value>...
			doc = append(doc[:prevEnd], doc[m.valEnd:]...)
		} else {
			// {<"key": value, >next...  or  {<"key": value>}
			end := skipWS(doc, m.valEnd)
			if end < len(doc) && doc[end] == ',' {
				end = skipWS(doc, end+1)
			}
			doc = append(doc[:m.keyStart], doc[end:]...)
		}
	}
}

// SetMember sets the top-level member key of the object doc to the raw JSON value
// rawValue: the first member of that name has its value replaced, otherwise the member is
// added at the end. It edits in place when capacity allows and returns the edited slice;
// doc is returned unchanged when it is not a well-formed object. rawValue must be valid JSON
// and must not alias doc.
func SetMember(doc []byte, key string, rawValue []byte) []byte {
	return setAt(doc, openBrace(doc), sbytes(key), rawValue)
}

// setAt sets member key (decoded form) of the object whose '{' is at open.
func setAt(doc []byte, open int, key, rawValue []byte) []byte {
	m, found, _, close, nonEmpty, ok := scanObject(doc, open, key)
	switch {
	case !ok:
		return doc
	case found:
		return slices.Replace(doc, m.valStart, m.valEnd, rawValue...)
	default:
		return insertMember(doc, close, nonEmpty, key, rawValue)
	}
}

// insertMember inserts `,"key":value` (or without the comma) at index at, which holds the
// closing '}' of an object.
func insertMember(doc []byte, at int, comma bool, key, rawValue []byte) []byte {
	n := len(doc)
	// Append the new member at the end, then rotate it into place; this avoids a scratch
	// buffer.
	if comma {
		doc = append(doc, ',')
	}
	doc = AppendQuoted(doc, key)
	doc = append(doc, ':')
	doc = append(doc, rawValue...)
	rotate(doc[at:], n-at)
	return doc
}

// rotate moves b[k:] to the front of b and b[:k] to its end, in place.
func rotate(b []byte, k int) {
	if k <= 0 || k >= len(b) {
		return
	}
	slices.Reverse(b[:k])
	slices.Reverse(b[k:])
	slices.Reverse(b)
}

// MergeObject adds the members of the raw JSON object rawObject to the top-level member key
// of doc: when doc already has an object under key, each member of rawObject is set in it
// (overwriting members of the same name), so that a stage adding "event":{...} to a
// document that already has "event" produces no duplicate key. When key is missing, or its
// value is not an object, it is set to rawObject. rawObject must be a valid object and must
// not alias doc; a malformed doc is returned unchanged.
func MergeObject(doc []byte, key string, rawObject []byte) []byte {
	m, found, _, _, _, ok := scanObject(doc, openBrace(doc), sbytes(key))
	if !ok {
		return doc
	}
	if !found || doc[m.valStart] != '{' || !ValidObject(rawObject) {
		return SetMember(doc, key, rawObject)
	}
	inner := m.valStart
	it := newMemberIter(rawObject, openBrace(rawObject))
	for {
		rm, ok := it.next()
		if !ok {
			break
		}
		rk := rawObject[rm.keyStart:rm.keyEnd]
		var k []byte
		if hasByte(rk, '\\') {
			var err error
			if k, err = AppendUnquoted(nil, rk); err != nil {
				continue
			}
		} else {
			k = rk[1 : len(rk)-1]
		}
		doc = setAt(doc, inner, k, rawObject[rm.valStart:rm.valEnd])
	}
	return doc
}

// AppendTag adds tag to the top-level "tags" array of doc (Logstash's convention for
// marking events, e.g. "_jsonparsefailure"), creating the array when missing and turning a
// single string value into an array. A tag already present is not added twice.
func AppendTag(doc []byte, tag string) []byte {
	m, found, _, close, nonEmpty, ok := scanObject(doc, openBrace(doc), sbytes("tags"))
	if !ok {
		return doc
	}
	if !found {
		n := len(doc)
		if nonEmpty {
			doc = append(doc, ',')
		}
		doc = append(doc, `"tags":[`...)
		doc = AppendQuotedString(doc, tag)
		doc = append(doc, ']')
		rotate(doc[close:], n-close)
		return doc
	}
	v := doc[m.valStart:m.valEnd]
	switch v[0] {
	case '[':
		empty, dup := true, false
		Elements(v, func(el []byte) bool {
			empty = false
			dup = el[0] == '"' && stringEquals(el, tag)
			return !dup
		})
		if dup {
			return doc
		}
		at := m.valEnd - 1 // the closing ']' (scanObject checked the array)
		n := len(doc)
		if !empty {
			doc = append(doc, ',')
		}
		doc = AppendQuotedString(doc, tag)
		rotate(doc[at:], n-at)
		return doc
	case '"':
		if stringEquals(v, tag) {
			return doc
		}
		// "tags":"x" -> "tags":["x","tag"]: append the new array at the end, rotate it into
		// place before the old value, then cut the old value out.
		n := len(doc)
		doc = append(doc, '[')
		doc = append(doc, doc[m.valStart:m.valEnd]...)
		doc = append(doc, ',')
		doc = AppendQuotedString(doc, tag)
		doc = append(doc, ']')
		l := len(doc) - n
		rotate(doc[m.valStart:], n-m.valStart)
		old := m.valEnd - m.valStart
		return append(doc[:m.valStart+l], doc[m.valStart+l+old:]...)
	default:
		// not a tag list: leave it alone
		return doc
	}
}

// stringEquals reports whether the raw JSON string raw decodes to s.
func stringEquals(raw []byte, s string) bool {
	if len(raw) < 2 {
		return false
	}
	return keyEquals(raw, sbytes(s))
}

// Elements calls fn with the raw text of each element of the JSON array raw (surrounding
// whitespace allowed), in order, until fn returns false. It returns false when raw is not
// a well-formed array (elements before the fault may have been passed to fn). It does not
// allocate.
func Elements(raw []byte, fn func(elem []byte) bool) bool {
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return false
	}
	i = skipWS(raw, i+1)
	if i < len(raw) && raw[i] == ']' {
		return skipWS(raw, i+1) == len(raw)
	}
	for {
		e := skipValue(raw, i, 1)
		if e < 0 {
			return false
		}
		if !fn(raw[i:e]) {
			return true
		}
		i = skipWS(raw, e)
		if i >= len(raw) {
			return false
		}
		if raw[i] == ']' {
			return skipWS(raw, i+1) == len(raw)
		}
		if raw[i] != ',' {
			return false
		}
		i = skipWS(raw, i+1)
	}
}

// Members calls fn with the raw key (with its quotes) and raw value of each member of the
// JSON object raw (surrounding whitespace allowed), in order, until fn returns false. It
// returns false when raw is not a well-formed object (members before the fault may have
// been passed to fn). It does not allocate.
func Members(raw []byte, fn func(rawKey, value []byte) bool) bool {
	it := newMemberIter(raw, skipWS(raw, 0))
	for {
		m, ok := it.next()
		if !ok {
			break
		}
		if !fn(raw[m.keyStart:m.keyEnd], raw[m.valStart:m.valEnd]) {
			return true
		}
	}
	return !it.bad && skipWS(raw, it.close+1) == len(raw)
}

// KeyIs reports whether the raw (quoted) key rawKey, as Members passes it, decodes to key.
func KeyIs(rawKey []byte, key string) bool {
	return len(rawKey) >= 2 && keyEquals(rawKey, sbytes(key))
}

// SkipValue returns the index just past the JSON value that starts at b[i] (no leading
// whitespace), or -1 when b[i:] does not start with a well-formed value. Like ValidObject,
// it does not check that strings are valid UTF-8.
func SkipValue(b []byte, i int) int { return skipValue(b, i, 0) }

// SkipSpace returns the index of the first byte at or after i that is not JSON whitespace
// (len(b) if none).
func SkipSpace(b []byte, i int) int { return skipWS(b, i) }
