package apache

import (
	"bytes"
	"strconv"
	"time"

	"github.com/logpipe/logpipe/codecs"
)

// Dataset is the event.dataset value of parsed events.
const Dataset = "apache.access"

// group is one top-level object of the output ("source", "http", ...).
type group uint8

const (
	gSource group = iota
	gDestination
	gUser
	gHTTP
	gURL
	gUserAgent
	gTLS
	gApache
	gLog
	gProcess
	gFile
	gEvent
	nGroups
)

// groupNames are the top-level member names, indexed by group.
var groupNames = [nGroups]string{"source", "destination", "user", "http", "url", "user_agent", "tls", "apache", "log", "process", "file", "event"}

// groupKeys are the groups' member keys as written after another member: `,"source":`.
var groupKeys = func() (k [nGroups]string) {
	for g := range k {
		k[g] = `,"` + groupNames[g] + `":`
	}
	return k
}()

// Writer appends the ECS fields of a parsed Record as JSON. It keeps a scratch buffer for
// percent-decoding, so a Writer must not be used by two goroutines at once; the zero value
// is ready to use.
type Writer struct {
	scratch []byte
}

// AppendFields appends the fields of r as JSON object members, without the enclosing
// braces: `"@timestamp":"...","source":{...},...,"event":{...}`. created is the raw JSON
// value of event.created (the time the line was read, e.g. the event's previous
// @timestamp), or nil to leave event.created out. The output is always a valid sequence of
// members: `{` + AppendFields(...) + `}` is a JSON object.
func (w *Writer) AppendFields(dst []byte, r *Record, created []byte) []byte {
	return w.appendFields(dst, r, nil, created)
}

// eventKind opens the event group of both kinds of line.
const eventKind = `"kind":"event","category":"web"`

// noExtras is used when a record is written without user agent and geo fields.
var noExtras extras

func (w *Writer) appendFields(dst []byte, r *Record, x *extras, created []byte) []byte {
	if x == nil {
		x = &noExtras
	}
	dst = append(dst, `"@timestamp":"`...)
	dst = appendTime(dst, r.Time)
	dst = append(dst, '"')
	for g := group(0); g < nGroups; g++ {
		n := len(dst)
		dst = append(dst, groupKeys[g]...)
		var ok bool
		dst, ok = w.appendGroup(dst, g, r, x, created)
		if !ok {
			dst = dst[:n]
		}
	}
	return dst
}

// appendTime appends Unix seconds as "2016-12-26T14:16:29.000Z" (without quotes).
func appendTime(dst []byte, sec int64) []byte {
	return codecs.AppendTimestamp(dst, time.Unix(sec, 0))
}

// obj helps write one JSON object member by member. Keys are passed written out, with their
// quotes and colon (`"ip":`), so that a key costs one append.
type obj struct {
	dst   []byte
	empty bool
}

// written is where a value was written in obj.dst: dst[start:end].
type written struct{ start, end int }

// sep writes the comma before a member, unless it is the object's first.
func (o *obj) sep() {
	if o.empty {
		o.empty = false
	} else {
		o.dst = append(o.dst, ',')
	}
}

// members appends ms, one or more members written out (`"a":1,"b":"c"`), as the next
// members: the constant runs of a group are written in one piece.
func (o *obj) members(ms string) {
	o.sep()
	o.dst = append(o.dst, ms...)
}

// key starts the next member with its key k, written out (`"ip":`); the value follows.
func (o *obj) key(k string) { o.members(k) }

// str writes the member k with the string value v, quoted, and returns where the value is.
func (o *obj) str(k string, v []byte) written {
	o.key(k)
	w := written{start: len(o.dst)}
	o.dst = codecs.AppendQuoted(o.dst, v)
	w.end = len(o.dst)
	return w
}

// again writes the member k with a value written before, without quoting it a second time.
func (o *obj) again(k string, v written) {
	o.key(k)
	o.dst = append(o.dst, o.dst[v.start:v.end]...)
}

func (o *obj) num(k string, v int64) {
	o.key(k)
	o.dst = strconv.AppendInt(o.dst, v, 10)
}

func (o *obj) raw(k string, v []byte) {
	o.key(k)
	o.dst = append(o.dst, v...)
}

// open starts a nested object member; close ends it.
func (o *obj) open(k string) {
	o.key(k)
	o.dst = append(o.dst, '{')
	o.empty = true
}

func (o *obj) close() {
	o.dst = append(o.dst, '}')
	o.empty = false
}

// appendGroup appends the JSON object of group g (with braces) and reports whether it has
// any member; when it has none, the caller discards what was appended.
func (w *Writer) appendGroup(dst []byte, g group, r *Record, x *extras, created []byte) ([]byte, bool) {
	o := obj{dst: append(dst, '{'), empty: true}
	switch g {
	case gSource:
		switch {
		case r.VHost != nil && r.ClientIP:
			// Filebeat's vhost pattern captures the client straight into source.ip.
			o.str(`"ip":`, r.Client)
		default:
			addr := o.str(`"address":`, r.Client)
			if r.ClientIP {
				o.again(`"ip":`, addr)
			} else if isHostname(r.Client) {
				o.again(`"domain":`, addr)
			}
		}
		x.appendSource(&o)
	case gDestination:
		if r.VHost != nil {
			o.str(`"domain":`, r.VHost)
			if r.VHostPort >= 0 {
				o.num(`"port":`, int64(r.VHostPort))
			}
		}
	case gUser:
		if r.User != nil {
			o.str(`"name":`, r.User)
		}
	case gHTTP:
		if r.Method != nil || r.HasReferrer {
			o.open(`"request":`)
			if r.Method != nil {
				o.str(`"method":`, r.Method)
			}
			if r.HasReferrer {
				o.str(`"referrer":`, r.Referrer)
			}
			o.close()
		}
		if r.Version != nil {
			o.str(`"version":`, r.Version)
		}
		if r.Status >= 0 || r.Bytes >= 0 {
			o.open(`"response":`)
			if r.Status >= 0 {
				o.num(`"status_code":`, int64(r.Status))
			}
			if r.Bytes >= 0 {
				o.open(`"body":`)
				o.num(`"bytes":`, r.Bytes)
				o.close()
			}
			o.close()
		}
	case gURL:
		if r.URL != nil {
			w.appendURL(&o, r)
		} else if r.VHost != nil {
			o.str(`"domain":`, r.VHost)
		}
	case gUserAgent:
		if r.HasUserAgent {
			if x.ua != nil {
				o.sep()
				o.dst = append(o.dst, x.ua...) // original included
			} else {
				o.str(`"original":`, r.UserAgent)
			}
		}
	case gTLS:
		if r.Format == FormatSSL {
			o.str(`"cipher":`, r.SSLCipher)
			if proto, ver, ok := tlsVersion(r.SSLProtocol); ok {
				o.key(`"version":`)
				o.dst = append(o.dst, '"')
				o.dst = append(o.dst, ver...)
				if bytes.IndexByte(ver, '.') < 0 {
					o.dst = append(o.dst, ".0"...)
				}
				o.dst = append(o.dst, '"')
				o.key(`"version_protocol":`)
				o.dst = append(o.dst, '"')
				for _, c := range proto {
					o.dst = append(o.dst, lower(c))
				}
				o.dst = append(o.dst, '"')
			}
		}
	case gApache:
		if r.Format == FormatSSL {
			o.open(`"access":`)
			o.open(`"ssl":`)
			o.str(`"protocol":`, r.SSLProtocol)
			o.str(`"cipher":`, r.SSLCipher)
			o.close()
			o.close()
		}
	case gEvent:
		o.members(eventKind)
		if r.Status >= 0 {
			if r.Status < 400 {
				o.members(`"outcome":"success"`)
			} else {
				o.members(`"outcome":"failure"`)
			}
		}
		o.members(`"module":"apache","dataset":"` + Dataset + `"`)
		if created != nil {
			o.raw(`"created":`, created)
		}
	}
	if o.empty {
		return o.dst, false
	}
	return append(o.dst, '}'), true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// tlsVersion splits a mod_ssl protocol such as "TLSv1.2" or "SSLv3" at its one 'v' (any
// case) into the protocol name and version, as Filebeat's pipeline does. Only plain ASCII
// letters, digits and dots are accepted, so the parts can be written without escaping.
func tlsVersion(p []byte) (proto, ver []byte, ok bool) {
	at := -1
	for i, c := range p {
		switch {
		case c == 'v' || c == 'V':
			if at >= 0 {
				return nil, nil, false
			}
			at = i
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.':
		default:
			return nil, nil, false
		}
	}
	if at <= 0 || at == len(p)-1 {
		return nil, nil, false
	}
	return p[:at], p[at+1:], true
}

// appendURL writes the url.* members the way Elasticsearch's uri_parts processor splits a
// request target: original as logged; scheme, domain and port of an absolute URL; path,
// query and fragment percent-decoded; extension of the last path segment.
func (w *Writer) appendURL(o *obj, r *Record) {
	u := r.URL
	orig := o.str(`"original":`, u)
	rest := u
	domainSet := false
	if s, host, port, after, ok := splitAbsolute(u); ok {
		o.str(`"scheme":`, s)
		if len(host) > 0 {
			o.str(`"domain":`, host)
			domainSet = true
		}
		if port >= 0 {
			o.num(`"port":`, int64(port))
		}
		rest = after
	}
	if !domainSet && r.VHost != nil {
		o.str(`"domain":`, r.VHost)
	}
	var path, query, frag []byte
	hasQuery, hasFrag := false, false
	if i := bytes.IndexByte(rest, '#'); i >= 0 {
		frag, rest, hasFrag = rest[i+1:], rest[:i], true
	}
	if i := bytes.IndexByte(rest, '?'); i >= 0 {
		query, rest, hasQuery = rest[i+1:], rest[:i], true
	}
	path = rest
	if len(path) > 0 {
		dec := w.percentDecoded(path)
		if len(dec) == len(u) && &dec[0] == &u[0] {
			o.again(`"path":`, orig) // the whole target is a path without escapes
		} else {
			o.str(`"path":`, dec)
		}
		slash := bytes.LastIndexByte(dec, '/')
		if dot := bytes.LastIndexByte(dec, '.'); dot > slash && dot < len(dec)-1 {
			o.str(`"extension":`, dec[dot+1:])
		}
	}
	if hasQuery && len(query) > 0 {
		o.str(`"query":`, w.percentDecoded(query))
	}
	if hasFrag && len(frag) > 0 {
		o.str(`"fragment":`, w.percentDecoded(frag))
	}
}

// percentDecoded returns b with its %XX escapes decoded: b itself when it has none (most
// paths), else the decoded copy in w.scratch, valid until the next call.
func (w *Writer) percentDecoded(b []byte) []byte {
	if bytes.IndexByte(b, '%') < 0 {
		return b
	}
	w.scratch = percentDecode(w.scratch[:0], b)
	return w.scratch
}

// splitAbsolute splits an absolute URL "scheme://[user@]host[:port]/rest" (as in proxy
// requests). ok is false for an origin-form target such as "/index.html".
func splitAbsolute(u []byte) (scheme, host []byte, port int32, rest []byte, ok bool) {
	if len(u) == 0 || !(u[0] >= 'a' && u[0] <= 'z' || u[0] >= 'A' && u[0] <= 'Z') {
		return nil, nil, -1, u, false // a scheme starts with a letter; most targets with '/'
	}
	i := bytes.Index(u, []byte("://"))
	if i <= 0 {
		return nil, nil, -1, u, false
	}
	for j, c := range u[:i] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || j > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return nil, nil, -1, u, false
		}
	}
	scheme = u[:i]
	auth := u[i+3:]
	end := len(auth)
	for j, c := range auth {
		if c == '/' || c == '?' || c == '#' {
			end = j
			break
		}
	}
	auth, rest = auth[:end], auth[end:]
	if at := bytes.LastIndexByte(auth, '@'); at >= 0 {
		auth = auth[at+1:]
	}
	port = -1
	if len(auth) > 0 && auth[0] == '[' {
		// [v6]:port
		if k := bytes.IndexByte(auth, ']'); k > 0 {
			host = auth[1:k]
			if k+1 < len(auth) && auth[k+1] == ':' {
				if p, r, ok := number(auth[k+2:], 65535); ok && len(r) == 0 {
					port = int32(p)
				}
			}
			return scheme, host, port, rest, true
		}
	}
	host, port = splitHostPort(auth)
	return scheme, host, port, rest, true
}

// percentDecode appends b to dst with %XX escapes decoded; a '%' not followed by two hex
// digits is kept as written.
func percentDecode(dst, b []byte) []byte {
	for {
		i := bytes.IndexByte(b, '%')
		if i < 0 {
			return append(dst, b...)
		}
		dst = append(dst, b[:i]...)
		if i+2 < len(b) {
			if h, l := codecs.Unhex(b[i+1]), codecs.Unhex(b[i+2]); h >= 0 && l >= 0 {
				dst = append(dst, byte(h<<4|l))
				b = b[i+3:]
				continue
			}
		}
		dst = append(dst, '%')
		b = b[i+1:]
	}
}
