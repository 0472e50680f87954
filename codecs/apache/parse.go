// Package apache parses Apache HTTP Server access and error_log lines into the Elastic
// Common Schema (ECS) fields that Filebeat's apache module produces, and provides the
// "apache" filter stage that adds those fields to events, together with what that module's
// ingest pipeline adds through Elasticsearch's user_agent processor (uap-core's rules, with
// a bounded cache) and geoip processor (MaxMind databases, reloaded when replaced on disk).
//
// The parsers are hand-written (no regular expression per line) and allocation-free: Parse
// and ParseError fill a Record or ErrorRecord whose byte slices point into the line, and the
// writers append the fields as nested JSON members with an appending encoder.
//
// Recognised access layouts (Filebeat's grok patterns, in the same order of preference):
//
//	vhost[:port] client ident user [time] "request" status bytes ["referrer" ["user agent"]]
//	client ident user [time] "request" status bytes ["referrer" ["user agent"]]
//	[time] client protocol cipher "request" bytes                  (mod_ssl request log)
//
// where request is `METHOD URL HTTP/version`, "-" or empty (the `"-" 408 -` form of a
// connection closed before a request), and bytes is a number or "-". Anything after the
// user agent (for example a trailing "%{X-Forwarded-For}i") is ignored, as Filebeat's
// unanchored grok pattern ignores it.
package apache

import (
	"bytes"
	"net/netip"
	"unsafe"
)

// Format is the layout a line matched.
type Format uint8

// Layouts recognised by Parse.
const (
	FormatNone     Format = iota
	FormatCommon          // client ident user [time] "request" status bytes
	FormatCombined        // common + "referrer" and/or "user agent"
	FormatSSL             // [time] client protocol cipher "request" bytes
)

// Record is one parsed access line. Byte slices point into the parsed line (or are nil when
// the field is absent); they are valid only as long as the line is.
type Record struct {
	Format Format
	// VHost is the virtual host before the client (vhost-prefixed layouts), without its port;
	// VHostPort is that port, or -1.
	VHost     []byte
	VHostPort int32
	// Client is the remote host (%h): an IP address or a host name. ClientIP reports
	// whether it is an IPv4 or IPv6 address.
	Client   []byte
	ClientIP bool
	// User is the authenticated user (%u), "-" when none (kept as Filebeat keeps it).
	User []byte
	// Time is the request time as Unix seconds (UTC); Offset is the zone offset the line
	// was written with, in seconds east of UTC.
	Time   int64
	Offset int32
	// Request is the raw request line between the quotes (escapes left as written).
	Request []byte
	// Method, URL and Version are the parts of a well-formed request line; nil otherwise
	// (a "-" or empty request, or a request line without a method and URL).
	Method  []byte
	URL     []byte
	Version []byte // "1.1" in "HTTP/1.1"
	// Status is the response status code (-1 in the mod_ssl layout, which has none).
	Status int32
	// Bytes is the response body size, or -1 when logged as "-".
	Bytes int64
	// Referrer and UserAgent are the quoted fields of the combined layout; HasReferrer and
	// HasUserAgent tell whether they were present (they may be empty or "-").
	Referrer     []byte
	UserAgent    []byte
	HasReferrer  bool
	HasUserAgent bool
	// SSLProtocol and SSLCipher are the mod_ssl fields (FormatSSL only).
	SSLProtocol []byte
	SSLCipher   []byte
}

// Parse parses one access line (without its line ending) into r, overwriting every field.
// It reports false when the line matches none of the recognised layouts; r is then
// unspecified. It never panics and never allocates.
func Parse(line []byte, r *Record) bool {
	*r = Record{VHostPort: -1, Status: -1, Bytes: -1}
	if len(line) > 0 && line[0] == '[' {
		return parseSSL(line, r)
	}
	return parseAccess(line, r)
}

// indexSpaceBracket is bytes.Index(line, []byte(" [")), found from the brackets: in an
// access line the first bracket is the time stamp's, so this stops once where bytes.Index
// stops at every space before it.
func indexSpaceBracket(line []byte) int {
	for from := 1; from < len(line); {
		i := bytes.IndexByte(line[from:], '[')
		if i < 0 {
			return -1
		}
		if i += from; line[i-1] == ' ' {
			return i - 1
		}
		from = i + 1
	}
	return -1
}

// parseAccess parses the common, combined and vhost-prefixed layouts.
func parseAccess(line []byte, r *Record) bool {
	// The time stamp starts at the first " [": everything before it is the host part.
	ts := indexSpaceBracket(line)
	if ts <= 0 {
		return false
	}
	prefix := line[:ts]
	// Split the prefix into at most 4 tokens; the last token takes the rest (a user name
	// may contain spaces).
	var tok [4][]byte
	n := 0
	start := 0
	for i := 0; i <= len(prefix) && n < 4; i++ {
		if i == len(prefix) || (prefix[i] == ' ' && n < 3) {
			tok[n] = prefix[start:i]
			n++
			start = i + 1
			if i == len(prefix) {
				break
			}
		}
	}
	if n < 3 {
		return false
	}
	for i := 0; i < n; i++ {
		if len(tok[i]) == 0 {
			return false
		}
	}
	switch {
	case n == 4 && isDash(tok[2]) && !isDash(tok[1]):
		// vhost client ident user
		host, port := splitHostPort(tok[0])
		if len(host) == 0 {
			return false
		}
		r.VHost, r.VHostPort = host, port
		r.Client, r.User = tok[1], tok[3]
	case n == 3:
		r.Client, r.User = tok[0], tok[2]
	case isDash(tok[1]):
		// client - user with spaces
		r.Client = tok[0]
		r.User = prefix[len(tok[0])+len(tok[1])+2:]
	default:
		return false
	}
	r.ClientIP = isIP(r.Client)

	rest, ok := parseTime(line[ts+1:], r)
	if !ok {
		return false
	}
	if len(rest) < 2 || rest[0] != ' ' || rest[1] != '"' {
		return false
	}
	req, rest, ok := quoted(rest[1:])
	if !ok {
		return false
	}
	r.Request = req
	splitRequest(req, r)
	// status
	if len(rest) < 2 || rest[0] != ' ' {
		return false
	}
	st, rest, ok := number(rest[1:], 999)
	if !ok {
		return false
	}
	r.Status = int32(st)
	if rest, ok = bodyBytes(rest, r); !ok {
		return false
	}
	r.Format = FormatCommon
	// optional "referrer" and "user agent"
	if len(rest) >= 2 && rest[0] == ' ' && rest[1] == '"' {
		if v, after, ok := quoted(rest[1:]); ok {
			r.Referrer, r.HasReferrer = v, true
			r.Format = FormatCombined
			rest = after
			if len(rest) >= 2 && rest[0] == ' ' && rest[1] == '"' {
				if v, _, ok := quoted(rest[1:]); ok {
					r.UserAgent, r.HasUserAgent = v, true
				}
			}
		}
	}
	return true
}

// parseSSL parses the mod_ssl request log layout:
// [time] client protocol cipher "request" bytes
func parseSSL(line []byte, r *Record) bool {
	rest, ok := parseTime(line, r)
	if !ok {
		return false
	}
	var f [3][]byte
	for i := range f {
		if len(rest) < 2 || rest[0] != ' ' {
			return false
		}
		rest = rest[1:]
		j := bytes.IndexByte(rest, ' ')
		if j <= 0 {
			return false
		}
		f[i], rest = rest[:j], rest[j:]
	}
	r.Client, r.SSLProtocol, r.SSLCipher = f[0], f[1], f[2]
	r.ClientIP = isIP(r.Client)
	if len(rest) < 2 || rest[0] != ' ' || rest[1] != '"' {
		return false
	}
	req, rest, ok := quoted(rest[1:])
	if !ok {
		return false
	}
	r.Request = req
	splitRequest(req, r)
	if _, ok = bodyBytes(rest, r); !ok {
		return false
	}
	r.Format = FormatSSL
	return true
}

// bodyBytes parses " <bytes>" or " -" (the response size, absent when "-") at the start of
// rest into r.Bytes, and returns what follows; that must be the end or a space.
func bodyBytes(rest []byte, r *Record) ([]byte, bool) {
	if len(rest) < 2 || rest[0] != ' ' {
		return nil, false
	}
	rest = rest[1:]
	if rest[0] == '-' {
		rest = rest[1:]
	} else {
		b, after, ok := number(rest, 1<<62)
		if !ok {
			return nil, false
		}
		r.Bytes, rest = b, after
	}
	if len(rest) > 0 && rest[0] != ' ' {
		return nil, false
	}
	return rest, true
}

func isDash(b []byte) bool { return len(b) == 1 && b[0] == '-' }

// splitHostPort splits "host:port" (port all digits, at most 65535); a host without a port,
// or an IPv6 address, is returned whole with port -1.
func splitHostPort(b []byte) ([]byte, int32) {
	i := bytes.LastIndexByte(b, ':')
	if i <= 0 || i == len(b)-1 || bytes.IndexByte(b[:i], ':') >= 0 {
		return b, -1
	}
	p, rest, ok := number(b[i+1:], 65535)
	if !ok || len(rest) != 0 {
		return b, -1
	}
	return b[:i], int32(p)
}

// number parses leading decimal digits (at least one, at most max) and returns the value
// and the remaining bytes.
func number(b []byte, max int64) (int64, []byte, bool) {
	var v int64
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		v = v*10 + int64(b[i]-'0')
		if v > max {
			return 0, b, false
		}
	}
	if i == 0 {
		return 0, b, false
	}
	return v, b[i:], true
}

// quoted reads a double-quoted field starting at b[0] == '"'. Apache escapes '"' and '\'
// inside as \" and \\; the value is returned as written (escapes kept), with the bytes after
// the closing quote.
func quoted(b []byte) (val, rest []byte, ok bool) {
	// Fast path: the first quote has no backslash before it.
	q := bytes.IndexByte(b[1:], '"') + 1
	if q <= 0 {
		return nil, b, false
	}
	if bytes.IndexByte(b[1:q], '\\') < 0 {
		return b[1:q], b[q+1:], true
	}
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return b[1:i], b[i+1:], true
		}
	}
	return nil, b, false
}

// splitRequest splits a request line `METHOD URL HTTP/x.y` into r.Method, r.URL and
// r.Version. A request line without the protocol (HTTP/0.9 style `GET /`) yields a method
// and URL without a version; "-", "" and anything without a method token and a URL yield
// nothing.
func splitRequest(req []byte, r *Record) {
	sp := bytes.IndexByte(req, ' ')
	if sp <= 0 {
		return
	}
	for _, c := range req[:sp] {
		if !isWordByte(c) {
			return
		}
	}
	rest := req[sp+1:]
	url := rest
	var version []byte
	// The version ends the line, so it follows the last space: no search for " HTTP/".
	if j := bytes.LastIndexByte(rest, ' '); j >= 0 && bytes.HasPrefix(rest[j+1:], []byte("HTTP/")) {
		v := rest[j+6:]
		if isVersion(v) {
			url, version = rest[:j], v
		}
	}
	if len(url) == 0 {
		return
	}
	r.Method, r.URL, r.Version = req[:sp], url, version
}

func isWordByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_'
}

// isVersion reports whether v is digits[.digits].
func isVersion(v []byte) bool {
	i := 0
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		i++
	}
	if i == 0 {
		return false
	}
	if i == len(v) {
		return true
	}
	if v[i] != '.' {
		return false
	}
	j := i + 1
	for j < len(v) && v[j] >= '0' && v[j] <= '9' {
		j++
	}
	return j > i+1 && j == len(v)
}

// isIP reports whether b is an IPv4 or IPv6 address.
func isIP(b []byte) bool {
	if len(b) == 0 || len(b) > 64 {
		return false
	}
	if isIPv4(b) {
		return true
	}
	if bytes.IndexByte(b, ':') < 0 {
		return false
	}
	// netip.ParseAddr does not retain its argument (a zone is copied), so a string view of
	// b is safe and avoids an allocation.
	_, err := netip.ParseAddr(unsafe.String(&b[0], len(b)))
	return err == nil
}

func isIPv4(b []byte) bool {
	fields, val, digits := 0, 0, 0
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == '.' {
			if digits == 0 || val > 255 {
				return false
			}
			fields++
			val, digits = 0, 0
			continue
		}
		c := b[i]
		if c < '0' || c > '9' {
			return false
		}
		if digits > 0 && val == 0 {
			return false // leading zero
		}
		val = val*10 + int(c-'0')
		digits++
		if digits > 3 {
			return false
		}
	}
	return fields == 4
}

// isHostname reports whether b matches grok's HOSTNAME: labels of letters, digits and '-'
// (not starting with '-', at most 63 bytes), separated by dots, with an optional final dot.
func isHostname(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	label := 0
	for _, c := range b {
		switch {
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
		case c == '-' || c == '_':
			if label == 0 {
				return false
			}
			label++
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			label++
		default:
			return false
		}
		if label > 63 {
			return false
		}
	}
	return true
}

// parseTime parses "[dd/Mon/yyyy:HH:MM:SS +hhmm]" at the start of b into r.Time and
// r.Offset and returns the bytes after ']'.
func parseTime(b []byte, r *Record) ([]byte, bool) {
	// [26/Dec/2016:16:16:29 +0200]
	const n = 28
	if len(b) < n || b[0] != '[' || b[3] != '/' || b[7] != '/' || b[12] != ':' || b[15] != ':' ||
		b[18] != ':' || b[21] != ' ' || b[27] != ']' {
		return b, false
	}
	day, ok1 := digits2(b[1], b[2])
	year, ok2 := digits2(b[8], b[9])
	y2, ok3 := digits2(b[10], b[11])
	hour, ok4 := digits2(b[13], b[14])
	min, ok5 := digits2(b[16], b[17])
	sec, ok6 := digits2(b[19], b[20])
	oh, ok7 := digits2(b[23], b[24])
	om, ok8 := digits2(b[25], b[26])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8) {
		return b, false
	}
	year = year*100 + y2
	month := monthIndex(b[4], b[5], b[6])
	if month < 0 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60 || om > 59 {
		return b, false
	}
	if day > daysIn(month, year) {
		return b, false
	}
	off := int32(oh*3600 + om*60)
	switch b[22] {
	case '+':
	case '-':
		off = -off
	default:
		return b, false
	}
	days := daysFromCivil(int64(year), month+1, int64(day))
	r.Time = days*86400 + int64(hour*3600+min*60+sec) - int64(off)
	r.Offset = off
	return b[n:], true
}

func digits2(a, b byte) (int, bool) {
	if a < '0' || a > '9' || b < '0' || b > '9' {
		return 0, false
	}
	return int(a-'0')*10 + int(b-'0'), true
}

// monthIndex maps an English month abbreviation (any case) to 0..11, or -1.
func monthIndex(a, b, c byte) int {
	a, b, c = a|0x20, b|0x20, c|0x20
	switch uint32(a)<<16 | uint32(b)<<8 | uint32(c) {
	case 'j'<<16 | 'a'<<8 | 'n':
		return 0
	case 'f'<<16 | 'e'<<8 | 'b':
		return 1
	case 'm'<<16 | 'a'<<8 | 'r':
		return 2
	case 'a'<<16 | 'p'<<8 | 'r':
		return 3
	case 'm'<<16 | 'a'<<8 | 'y':
		return 4
	case 'j'<<16 | 'u'<<8 | 'n':
		return 5
	case 'j'<<16 | 'u'<<8 | 'l':
		return 6
	case 'a'<<16 | 'u'<<8 | 'g':
		return 7
	case 's'<<16 | 'e'<<8 | 'p':
		return 8
	case 'o'<<16 | 'c'<<8 | 't':
		return 9
	case 'n'<<16 | 'o'<<8 | 'v':
		return 10
	case 'd'<<16 | 'e'<<8 | 'c':
		return 11
	}
	return -1
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(month, year int) int {
	switch month {
	case 1:
		if isLeap(year) {
			return 29
		}
		return 28
	case 3, 5, 8, 10:
		return 30
	}
	return 31
}

// daysFromCivil returns the number of days since 1970-01-01 of the proleptic Gregorian date
// y-m-d (m in 1..12); Howard Hinnant's algorithm.
func daysFromCivil(y int64, m int, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := int64(m+9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
