package codecs

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/logpipe/logpipe/pipeline"
)

// Template is a Logstash-style string template ("sprintf format"), used for the file
// output's path, the Elasticsearch output's index and the Kafka output's partition key.
//
// Syntax:
//   - literal text is copied as it is;
//   - %{+FORMAT} is the event's @timestamp in UTC, formatted with a Joda-like pattern:
//     yyyy/YYYY (year), yy (two-digit year), xxxx (ISO week-year), MM/M (month), MMM/MMMM
//     (month name), dd/d (day), DDD (day of year), HH/H (hour), mm/m (minute), ss/s (second),
//     SSS (milliseconds, 1–9 S for more or fewer digits), ww/w (ISO week), e (ISO day of week
//     1–7), EEE/EEEE (day name); any other non-letter is literal, and text in single quotes
//     is literal (” is a quote);
//   - %{+%s} is the @timestamp in seconds since the epoch;
//   - %{[field][sub]} and %{field} render a field of the event: strings without quotes,
//     other JSON values as JSON. %{host.name} means the member "host.name" if it exists, and
//     otherwise the nested member host.name (ECS habit).
//
// A reference to a field that does not exist renders as the reference itself ("%{[foo]}"),
// as Logstash does. Templates are immutable and safe for concurrent use.
type Template struct {
	src   string
	parts []tplPart
	agent pipeline.Agent
}

type partKind uint8

const (
	partLiteral partKind = iota
	partDate
	partEpoch
	partField
)

type tplPart struct {
	kind partKind
	lit  string      // literal text; for fields the reference as written ("%{[a][b]}")
	date []dateToken // partDate
	path []string    // partField: nested path
	flat string      // partField: the whole name for %{a.b} (tried first); "" for [a][b]
}

type dateToken struct {
	letter byte   // 0 for literal
	n      int    // repeat count
	lit    string // literal text
}

// ParseTemplate parses a template. It fails on an unterminated "%{", an empty reference, a
// malformed field path or an unsupported date pattern letter.
func ParseTemplate(s string) (*Template, error) {
	t := &Template{src: s}
	lit := strings.Builder{}
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, tplPart{kind: partLiteral, lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		j := strings.Index(s[i:], "%{")
		if j < 0 {
			lit.WriteString(s[i:])
			break
		}
		lit.WriteString(s[i : i+j])
		i += j
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return nil, fmt.Errorf("template %q: unterminated %%{ at offset %d", s, i)
		}
		ref := s[i+2 : i+2+end]
		// a date format may contain '}' only inside quotes; keep it simple: no '}' allowed.
		whole := s[i : i+3+end]
		i += 3 + end
		p, err := parseRef(ref, whole)
		if err != nil {
			return nil, fmt.Errorf("template %q: %w", s, err)
		}
		flush()
		t.parts = append(t.parts, p)
	}
	flush()
	return t, nil
}

// MustParseTemplate is ParseTemplate for templates known to be valid; it panics otherwise.
func MustParseTemplate(s string) *Template {
	t, err := ParseTemplate(s)
	if err != nil {
		panic(err)
	}
	return t
}

func parseRef(ref, whole string) (tplPart, error) {
	if ref == "" {
		return tplPart{}, fmt.Errorf("empty reference %s", whole)
	}
	if ref[0] == '+' {
		f := ref[1:]
		if f == "%s" {
			return tplPart{kind: partEpoch, lit: whole}, nil
		}
		toks, err := parseDateFormat(f)
		if err != nil {
			return tplPart{}, err
		}
		return tplPart{kind: partDate, lit: whole, date: toks}, nil
	}
	if ref[0] == '[' {
		path, err := parseFieldPath(ref)
		if err != nil {
			return tplPart{}, err
		}
		return tplPart{kind: partField, lit: whole, path: path}, nil
	}
	if strings.ContainsAny(ref, "[]") {
		return tplPart{}, fmt.Errorf("malformed field reference %s", whole)
	}
	p := tplPart{kind: partField, lit: whole, flat: ref}
	if strings.Contains(ref, ".") {
		p.path = strings.Split(ref, ".")
	} else {
		p.path = []string{ref}
		p.flat = ""
	}
	return p, nil
}

// parseFieldPath parses "[a][b][c]".
func parseFieldPath(ref string) ([]string, error) {
	var path []string
	for rest := ref; rest != ""; {
		if rest[0] != '[' {
			return nil, fmt.Errorf("malformed field reference %%{%s}", ref)
		}
		e := strings.IndexByte(rest, ']')
		if e <= 1 {
			return nil, fmt.Errorf("malformed field reference %%{%s}", ref)
		}
		name := rest[1:e]
		if strings.IndexByte(name, '[') >= 0 {
			return nil, fmt.Errorf("malformed field reference %%{%s}", ref)
		}
		path = append(path, name)
		rest = rest[e+1:]
	}
	return path, nil
}

func parseDateFormat(f string) ([]dateToken, error) {
	if f == "" {
		return nil, fmt.Errorf("empty date format %%{+}")
	}
	var toks []dateToken
	addLit := func(s string) {
		if n := len(toks); n > 0 && toks[n-1].letter == 0 {
			toks[n-1].lit += s
			return
		}
		toks = append(toks, dateToken{lit: s})
	}
	for i := 0; i < len(f); {
		c := f[i]
		switch {
		case c == '\'':
			if i+1 < len(f) && f[i+1] == '\'' {
				addLit("'")
				i += 2
				continue
			}
			e := strings.IndexByte(f[i+1:], '\'')
			if e < 0 {
				return nil, fmt.Errorf("unterminated quote in date format %q", f)
			}
			addLit(f[i+1 : i+1+e])
			i += e + 2
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			n := 1
			for i+n < len(f) && f[i+n] == c {
				n++
			}
			switch c {
			case 'y', 'Y', 'x', 'M', 'd', 'D', 'H', 'm', 's', 'S', 'w', 'e', 'E':
			default:
				return nil, fmt.Errorf("unsupported letter %q in date format %q (supported: y Y x M d D H m s S w e E)", c, f)
			}
			if c == 'S' && n > 9 {
				return nil, fmt.Errorf("too many S in date format %q", f)
			}
			toks = append(toks, dateToken{letter: c, n: n})
			i += n
		default:
			addLit(f[i : i+1])
			i++
		}
	}
	return toks, nil
}

// WithAgent returns a copy of t that renders the agent-derived fields of line events
// (host.name, agent.*) from a. Templates evaluated on document events do not need it.
func (t *Template) WithAgent(a pipeline.Agent) *Template {
	c := *t
	c.agent = a
	return &c
}

// String returns the template as written.
func (t *Template) String() string { return t.src }

// IsStatic reports whether the template is plain text: it renders the same for every event.
func (t *Template) IsStatic() bool {
	for i := range t.parts {
		if t.parts[i].kind != partLiteral {
			return false
		}
	}
	return true
}

// HasFields reports whether the template references event fields (not only the date).
func (t *Template) HasFields() bool {
	for i := range t.parts {
		if t.parts[i].kind == partField {
			return true
		}
	}
	return false
}

// Append renders the template for e and appends the result to dst. It does not allocate
// beyond growing dst (a field of a line event that must be formatted, such as an inode, is
// appended directly).
func (t *Template) Append(dst []byte, e *pipeline.Event) []byte {
	for i := range t.parts {
		p := &t.parts[i]
		switch p.kind {
		case partLiteral:
			dst = append(dst, p.lit...)
		case partDate:
			dst = appendDate(dst, e.Timestamp.UTC(), p.date)
		case partEpoch:
			dst = strconv.AppendInt(dst, e.Timestamp.Unix(), 10)
		case partField:
			dst = t.appendField(dst, e, p)
		}
	}
	return dst
}

// Render is Append into a new string, for callers off the hot path.
func (t *Template) Render(e *pipeline.Event) string { return string(t.Append(nil, e)) }

func (t *Template) appendField(dst []byte, e *pipeline.Event, p *tplPart) []byte {
	if e.Doc != nil {
		if len(p.path) == 2 && p.path[0] == "@metadata" && p.path[1] == "_id" && e.ID != "" {
			return append(dst, e.ID...) // Doc never holds @metadata; its _id is e.ID
		}
		var raw []byte
		ok := false
		if p.flat != "" {
			raw, ok = Lookup(e.Doc, p.flat)
		}
		if !ok {
			raw, ok = Lookup(e.Doc, p.path...)
		}
		if !ok || string(raw) == "null" {
			return append(dst, p.lit...)
		}
		return appendRawValue(dst, raw)
	}
	n := len(dst)
	dst, ok := t.appendLineField(dst, e, p.path)
	if !ok {
		return append(dst[:n], p.lit...)
	}
	return dst
}

// appendRawValue appends a raw JSON value as template text: strings unquoted, the rest as
// JSON.
func appendRawValue(dst, raw []byte) []byte {
	if raw[0] == '"' {
		if out, err := AppendUnquoted(dst, raw); err == nil {
			return out
		}
	}
	return append(dst, raw...)
}

// appendLineField renders a field of a line event, whose fields are those of the wire
// format (DESIGN.md section 3).
func (t *Template) appendLineField(dst []byte, e *pipeline.Event, path []string) ([]byte, bool) {
	switch len(path) {
	case 1:
		switch path[0] {
		case "message":
			return append(dst, e.Message...), true
		case "@timestamp":
			return AppendTimestamp(dst, e.Timestamp), true
		}
	case 2:
		switch path[0] + "." + path[1] {
		case "log.offset":
			return strconv.AppendInt(dst, e.Offset, 10), true
		case "host.name":
			return append(dst, t.agent.Hostname...), t.agent.Hostname != ""
		case "input.type":
			return append(dst, "filestream"...), true
		case "ecs.version":
			return append(dst, ecsVersion...), true
		case "agent.name":
			return append(dst, t.agent.Hostname...), t.agent.Hostname != ""
		case "agent.type":
			return append(dst, beatName...), true
		case "agent.id":
			return append(dst, t.agent.ID...), t.agent.ID != ""
		case "agent.ephemeral_id":
			return append(dst, t.agent.EphemeralID...), t.agent.EphemeralID != ""
		case "agent.version":
			return append(dst, t.agent.Version...), t.agent.Version != ""
		case "@metadata._id":
			if e.ID != "" {
				return append(dst, e.ID...), true
			}
		}
	case 3:
		if path[0] == "log" && path[1] == "file" && e.File != nil {
			switch path[2] {
			case "path":
				return append(dst, e.File.Path...), true
			case "device_id":
				return strconv.AppendUint(dst, e.File.DeviceID, 10), true
			case "inode":
				return strconv.AppendUint(dst, e.File.Inode, 10), true
			case "fingerprint":
				return append(dst, e.File.Fingerprint...), e.File.Fingerprint != ""
			}
		}
	}
	return dst, false
}

var monthNames = [...]string{"January", "February", "March", "April", "May", "June", "July",
	"August", "September", "October", "November", "December"}

var dayNames = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}

// appendPadded appends v in decimal, left-padded with zeros to width n.
func appendPadded(dst []byte, v, n int) []byte {
	if v < 0 {
		dst = append(dst, '-')
		v = -v
	}
	var buf [20]byte
	i := len(buf)
	for v >= 10 {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	i--
	buf[i] = byte('0' + v)
	for w := len(buf) - i; w < n; w++ {
		dst = append(dst, '0')
	}
	return append(dst, buf[i:]...)
}

func appendDate(dst []byte, t time.Time, toks []dateToken) []byte {
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	for _, tk := range toks {
		switch tk.letter {
		case 0:
			dst = append(dst, tk.lit...)
		case 'y', 'Y':
			if tk.n == 2 {
				dst = appendPadded(dst, year%100, 2)
			} else {
				dst = appendPadded(dst, year, tk.n)
			}
		case 'x':
			y, _ := t.ISOWeek()
			if tk.n == 2 {
				dst = appendPadded(dst, y%100, 2)
			} else {
				dst = appendPadded(dst, y, tk.n)
			}
		case 'M':
			switch {
			case tk.n >= 4:
				dst = append(dst, monthNames[month-1]...)
			case tk.n == 3:
				dst = append(dst, monthNames[month-1][:3]...)
			default:
				dst = appendPadded(dst, int(month), tk.n)
			}
		case 'd':
			dst = appendPadded(dst, day, tk.n)
		case 'D':
			dst = appendPadded(dst, t.YearDay(), tk.n)
		case 'H':
			dst = appendPadded(dst, hour, tk.n)
		case 'm':
			dst = appendPadded(dst, minute, tk.n)
		case 's':
			dst = appendPadded(dst, sec, tk.n)
		case 'S':
			frac := t.Nanosecond()
			for k := 9; k > tk.n; k-- {
				frac /= 10
			}
			dst = appendPadded(dst, frac, tk.n)
		case 'w':
			_, w := t.ISOWeek()
			dst = appendPadded(dst, w, tk.n)
		case 'e':
			wd := int(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			dst = appendPadded(dst, wd, tk.n)
		case 'E':
			if tk.n >= 4 {
				dst = append(dst, dayNames[t.Weekday()]...)
			} else {
				dst = append(dst, dayNames[t.Weekday()][:3]...)
			}
		}
	}
	return dst
}
