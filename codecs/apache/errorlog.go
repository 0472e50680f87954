package apache

import (
	"bytes"
	"time"

	"github.com/logpipe/logpipe/codecs"
)

// ErrorDataset is the event.dataset value of parsed error_log lines.
const ErrorDataset = "apache.error"

// ErrorRecord is one parsed error_log line. Byte slices point into the parsed line (or are
// nil when the field is absent); they are valid only as long as the line is.
//
// Recognised layouts (Filebeat's grok patterns for the error fileset, in the same order):
//
//	[time] [level] [client host[:port]] message                                 (2.2)
//	[time] [module:level] [pid N[:tid N]] [client host[:port]] message            (2.4)
//
// where time is "Mon Dec 26 16:22:08 2016" or "Mon Dec 26 16:15:55.103786 2016", level is
// one of grok's LOGLEVEL words (2.4 allows a numeric sub-level: trace3), and the client
// part is optional.
type ErrorRecord struct {
	// Year..Nsec are the wall-clock time as written; the line carries no zone.
	Year, Month, Day, Hour, Min, Sec int
	Nsec                             int
	// Level is the log level as written ("error", "trace3"); Module is the 2.4 module
	// ("core"), nil in 2.2 lines.
	Level, Module []byte
	// PID and TID are the process and thread ids, or -1.
	PID, TID int64
	// Client is the client address (%a), nil when absent; ClientIP reports whether it is an
	// IP address; Port is the client port as written, nil when absent.
	Client   []byte
	ClientIP bool
	Port     []byte
	// Message is the rest of the line; FilePath and Referrer are taken from a
	// "File does not exist: <path>[, referer: <uri>]" message, nil otherwise.
	Message  []byte
	FilePath []byte
	Referrer []byte
}

// ParseError parses one error_log line (without its line ending) into r, overwriting every
// field. It reports false when the line matches neither layout. It never allocates.
func ParseError(line []byte, r *ErrorRecord) bool {
	*r = ErrorRecord{PID: -1, TID: -1}
	if len(line) < 2 || line[0] != '[' {
		return false
	}
	end := bytes.IndexByte(line, ']')
	if end < 0 || !parseErrorTime(line[1:end], r) {
		return false
	}
	rest := line[end+1:]
	if len(rest) < 3 || rest[0] != ' ' || rest[1] != '[' {
		return false
	}
	end = bytes.IndexByte(rest, ']')
	if end < 0 {
		return false
	}
	tag := rest[2:end]
	rest = rest[end+1:]
	if isLogLevel(tag) {
		// 2.2: [level]
		r.Level = tag
	} else {
		// 2.4: [module:level] — grok's DATA is lazy, so the module ends at the first ':'
		// after which a level (with optional digits) fills the bracket.
		found := false
		for i := 0; i < len(tag); i++ {
			if tag[i] != ':' {
				continue
			}
			lv := tag[i+1:]
			j := len(lv)
			for j > 0 && lv[j-1] >= '0' && lv[j-1] <= '9' {
				j--
			}
			if isLogLevel(lv[:j]) {
				r.Module, r.Level, found = tag[:i], lv, true
				break
			}
		}
		if !found {
			return false
		}
		// [pid N[:tid N]]
		if !bytes.HasPrefix(rest, []byte(" [pid ")) {
			return false
		}
		rest = rest[6:]
		pid, after, ok := number(rest, 1<<62)
		if !ok {
			return false
		}
		r.PID, rest = pid, after
		if bytes.HasPrefix(rest, []byte(":tid ")) {
			tid, after, ok := number(rest[5:], 1<<62)
			if !ok {
				return false
			}
			r.TID, rest = tid, after
		}
		if len(rest) == 0 || rest[0] != ']' {
			return false
		}
		rest = rest[1:]
	}
	// optional " [client host[:port]]"
	if bytes.HasPrefix(rest, []byte(" [client ")) {
		if end := bytes.IndexByte(rest, ']'); end > 9 {
			if host, port, ok := splitClient(rest[9:end]); ok {
				r.Client, r.Port = host, port
				r.ClientIP = isIP(host)
				rest = rest[end+1:]
			}
		}
	}
	if len(rest) == 0 || rest[0] != ' ' {
		return false
	}
	r.Message = rest[1:]
	r.FilePath, r.Referrer = fileDoesNotExist(r.Message)
	return true
}

// splitClient splits the client of a [client ...] part into host and port as grok's
// IPORHOST(:POSINT)? does: a whole IP address is the host; otherwise the part after the
// last ':' is the port when it is a positive number and the rest a valid IP or host name.
func splitClient(c []byte) (host, port []byte, ok bool) {
	if isIP(c) || isHostname(c) {
		return c, nil, true
	}
	i := bytes.LastIndexByte(c, ':')
	if i <= 0 || i == len(c)-1 {
		return nil, nil, false
	}
	h, p := c[:i], c[i+1:]
	v, rest, okNum := number(p, 1<<31)
	if !okNum || len(rest) != 0 || v == 0 || p[0] == '0' {
		return nil, nil, false
	}
	if !isIP(h) && !isHostname(h) {
		return nil, nil, false
	}
	return h, p, true
}

// fileDoesNotExist finds "File does not exist: <path>[, referer: <uri>]" in msg (anywhere,
// as the unanchored grok pattern does) and returns the path (grok's URIPATH) and referrer.
func fileDoesNotExist(msg []byte) (path, referrer []byte) {
	const marker = "File does not exist: "
	i := bytes.Index(msg, []byte(marker))
	if i < 0 {
		return nil, nil
	}
	s := msg[i+len(marker):]
	if len(s) == 0 || s[0] != '/' {
		return nil, nil
	}
	n := 0
	for n < len(s) && isURIPathByte(s[n]) {
		n++
	}
	path = s[:n]
	// URIPATH may swallow the ',' of ", referer: ": backtrack as the regex would.
	const ref = ", referer: "
	if j := bytes.Index(s[:min(len(s), n+len(ref))], []byte(ref)); j > 0 && j <= n {
		u := s[j+len(ref):]
		k := 0
		for k < len(u) && u[k] != ' ' {
			k++
		}
		if isURI(u[:k]) {
			return s[:j], u[:k]
		}
	}
	return path, nil
}

// isURIPathByte reports whether c may appear in grok's URIPATH.
func isURIPathByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '/', '$', '.', '+', '!', '*', '\'', '(', ')', '{', '}', ',', '~', ':', ';', '=', '@', '#', '%', '&', '_', '-':
		return true
	}
	return false
}

// isURI reports whether u looks like grok's URI: scheme://rest.
func isURI(u []byte) bool {
	i := bytes.Index(u, []byte("://"))
	if i <= 0 {
		return false
	}
	for j, c := range u[:i] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || j > 0 && (c >= '0' && c <= '9' || c == '+')) {
			return false
		}
	}
	return true
}

// logLevels are the words of grok's LOGLEVEL pattern, lower-case; each may be written
// lower-case, capitalised or upper-case.
var logLevels = [...]string{
	"alert", "trace", "debug", "notice",
	"inf", "info", "infrmation", "information",
	"war", "warn", "waring", "warning",
	"er", "err", "eror", "error",
	"cri", "crit", "crical", "critical",
	"fatal", "severe", "emerg", "emergency",
}

// isLogLevel reports whether b is one of grok's LOGLEVEL words ("error", "Error", "ERROR").
func isLogLevel(b []byte) bool {
	if len(b) < 2 || len(b) > 11 {
		return false
	}
	upper := true
	for _, c := range b[1:] {
		if c < 'A' || c > 'Z' {
			upper = false
			break
		}
	}
	var buf [11]byte
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
			if i > 0 && !upper {
				return false
			}
			c += 'a' - 'A'
		case c >= 'a' && c <= 'z':
			if upper {
				return false
			}
		default:
			return false
		}
		buf[i] = c
	}
	w := buf[:len(b)]
	for _, l := range logLevels {
		if string(w) == l {
			// Grok spells out which words exist upper-case; fatal and severe are the only
			// ones not written with a capital alternative in the same shape, and all are.
			return true
		}
	}
	return false
}

// errorLevels are the levels Filebeat's pipeline maps to event.type "error"; any other
// level is "info".
func isErrorLevel(l []byte) bool {
	switch string(l) {
	case "emerg", "alert", "crit", "error", "warn":
		return true
	}
	return false
}

// parseErrorTime parses "Mon Dec 26 16:22:08 2016" or "Mon Dec 26 16:15:55.103786 2016".
func parseErrorTime(b []byte, r *ErrorRecord) bool {
	// day name
	sp := bytes.IndexByte(b, ' ')
	if sp < 3 || !isDayName(b[:sp]) {
		return false
	}
	b = b[sp+1:]
	sp = bytes.IndexByte(b, ' ')
	if sp < 3 {
		return false
	}
	month := monthIndex(b[0], b[1], b[2])
	if month < 0 || (sp != 3 && !isFullMonth(b[:sp], month)) {
		return false
	}
	b = b[sp+1:]
	day, b, ok := number(b, 31)
	if !ok || day < 1 || len(b) == 0 || b[0] != ' ' {
		return false
	}
	b = b[1:]
	hour, b, ok := number(b, 23)
	if !ok || len(b) == 0 || b[0] != ':' {
		return false
	}
	minute, b, ok := number(b[1:], 59)
	if !ok || len(b) == 0 || b[0] != ':' {
		return false
	}
	sec, b, ok := number(b[1:], 60)
	if !ok {
		return false
	}
	nsec := 0
	if len(b) > 0 && b[0] == '.' {
		b = b[1:]
		scale := 100000000
		n := 0
		for n < len(b) && b[n] >= '0' && b[n] <= '9' {
			nsec += int(b[n]-'0') * scale
			scale /= 10
			n++
		}
		if n != 6 { // EEE MMM dd H:m:s.SSSSSS yyyy
			return false
		}
		b = b[n:]
	}
	if len(b) != 5 || b[0] != ' ' {
		return false
	}
	year, rest, ok := number(b[1:], 9999)
	if !ok || len(rest) != 0 {
		return false
	}
	if int(day) > daysIn(month, int(year)) {
		return false
	}
	r.Year, r.Month, r.Day = int(year), month+1, int(day)
	r.Hour, r.Min, r.Sec, r.Nsec = int(hour), int(minute), int(sec), nsec
	return true
}

func isDayName(b []byte) bool {
	names := [...]string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
	full := [...]string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	for i := range names {
		if string(b) == names[i] || string(b) == full[i] {
			return true
		}
	}
	return false
}

func isFullMonth(b []byte, month int) bool {
	full := [...]string{"January", "February", "March", "April", "May", "June", "July",
		"August", "September", "October", "November", "December"}
	return string(b) == full[month]
}

// Zone is the time zone error lines are read in: a fixed offset, a named location, or the
// machine's local zone. It is immutable.
type Zone struct {
	loc   *time.Location
	name  string // event.timezone for a named zone; "" for Local and fixed offsets
	local bool
}

// ParseZone parses a timezone attribute: "Local" (or ""), "UTC", an IANA name
// ("Europe/Berlin"), or a fixed offset ("+02:00", "-0130", "+02", "Z").
func ParseZone(s string) (Zone, error) {
	switch s {
	case "", "Local":
		return Zone{loc: time.Local, local: true}, nil
	case "Z", "UTC":
		return Zone{loc: time.UTC, name: "UTC"}, nil
	}
	if s[0] == '+' || s[0] == '-' {
		off, ok := parseOffset(s[1:])
		if !ok {
			return Zone{}, errBadZone
		}
		if s[0] == '-' {
			off = -off
		}
		return Zone{loc: time.FixedZone(s, off)}, nil
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		return Zone{}, err
	}
	return Zone{loc: loc, name: s}, nil
}

type zoneError struct{}

func (zoneError) Error() string {
	return `want "Local", "UTC", an IANA name such as "Europe/Berlin", or an offset such as "+02:00"`
}

var errBadZone error = zoneError{}

// parseOffset parses "hh:mm", "hhmm" or "hh" into seconds (at most 18 hours).
func parseOffset(s string) (int, bool) {
	var h, m int
	var ok1, ok2 bool
	switch len(s) {
	case 2:
		h, ok1 = digits2(s[0], s[1])
		ok2 = true
	case 4:
		h, ok1 = digits2(s[0], s[1])
		m, ok2 = digits2(s[2], s[3])
	case 5:
		if s[2] != ':' {
			return 0, false
		}
		h, ok1 = digits2(s[0], s[1])
		m, ok2 = digits2(s[3], s[4])
	default:
		return 0, false
	}
	if !ok1 || !ok2 || h > 18 || m > 59 {
		return 0, false
	}
	return h*3600 + m*60, true
}

// instant returns the time of r in zone z and the zone's offset then, in seconds east of UTC.
func (z Zone) instant(r *ErrorRecord) (time.Time, int) {
	t := time.Date(r.Year, time.Month(r.Month), r.Day, r.Hour, r.Min, r.Sec, r.Nsec, z.loc)
	_, off := t.Zone()
	return t, off
}

// appendName appends the event.timezone value for an event at offset off: the configured
// name of a named zone, else the offset as "+02:00" (as Filebeat's add_locale writes it).
func (z Zone) appendName(dst []byte, off int) []byte {
	if z.name != "" {
		return append(dst, z.name...)
	}
	return appendOffset(dst, off)
}

// appendOffset appends off (seconds east of UTC) as "+hh:mm".
func appendOffset(dst []byte, off int) []byte {
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	h, m := off/3600, off%3600/60
	return append(dst, sign, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10))
}

// appendLocalTime appends t as Elasticsearch's date processor writes a zoned time:
// "2016-12-26T16:22:08.000-02:00" (milliseconds, truncated; "Z" for a zero offset).
func appendLocalTime(dst []byte, t time.Time, off int) []byte {
	local := t.Add(time.Duration(off) * time.Second).UTC()
	dst = codecs.AppendTimestamp(dst, local)
	if off == 0 {
		return dst
	}
	return appendOffset(dst[:len(dst)-1], off)
}

// appendErrorGroup appends the JSON object of group g for an error line (see appendGroup).
func (w *Writer) appendErrorGroup(dst []byte, g group, r *ErrorRecord, x *extras, created []byte) ([]byte, bool) {
	o := obj{dst: append(dst, '{'), empty: true}
	switch g {
	case gSource:
		if r.Client != nil {
			o.str(`"address":`, r.Client)
			if r.ClientIP {
				o.str(`"ip":`, r.Client)
			} else if isHostname(r.Client) {
				o.str(`"domain":`, r.Client)
			}
			if r.Port != nil {
				o.str(`"port":`, r.Port) // a string, as Filebeat's pipeline leaves it
			}
			x.appendSource(&o)
		}
	case gLog:
		o.str(`"level":`, r.Level)
	case gProcess:
		if r.PID >= 0 {
			o.num(`"pid":`, r.PID)
		}
		if r.TID >= 0 {
			o.open(`"thread":`)
			o.num(`"id":`, r.TID)
			o.close()
		}
	case gFile:
		if r.FilePath != nil {
			o.str(`"path":`, r.FilePath)
		}
	case gHTTP:
		if r.Referrer != nil {
			o.open(`"request":`)
			o.str(`"referrer":`, r.Referrer)
			o.close()
		}
	case gApache:
		if r.Module != nil {
			o.open(`"error":`)
			o.str(`"module":`, r.Module)
			o.close()
		}
	case gEvent:
		o.members(eventKind)
		if isErrorLevel(r.Level) {
			o.members(`"type":"error"`)
		} else {
			o.members(`"type":"info"`)
		}
		o.members(`"module":"apache","dataset":"` + ErrorDataset + `"`)
		o.key(`"timezone":`)
		o.dst = append(o.dst, '"')
		o.dst = x.zone.appendName(o.dst, x.offset)
		o.dst = append(o.dst, '"')
		if x.original != nil {
			o.str(`"original":`, x.original)
		}
		if created != nil {
			o.raw(`"created":`, created)
		}
	}
	if o.empty {
		return o.dst, false
	}
	return append(o.dst, '}'), true
}
