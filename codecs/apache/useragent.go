package apache

import (
	"fmt"
	"os"
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"

	"github.com/logpipe/logpipe/codecs"
	"github.com/ua-parser/uap-go/uaparser"
	"gopkg.in/yaml.v3"
)

// User agents are parsed with uap-core's rules (the regexes.yaml that ua-parser/uap-go
// embeds, or a file in the same format), the way Elasticsearch's ingest user_agent
// processor applies them (UserAgentParser.java and UserAgentProcessor.java):
//
//   - rules are tried in order; a rule matches when its regex is found anywhere in the
//     string and it yields a name (its replacement, or group 1);
//   - a name replacement has only "$1" substituted (once); version replacements are taken
//     literally; without a replacement, versions are groups 2..5;
//   - a group that took no part in the match is absent, while a group that matched the
//     empty string is present and empty: "Firefox/50.0" matched by
//     `(Firefox)/(\d+)\.(\d+)(pre|[ab]\d+[a-z]*|)` gives version "50.0." (the quirk
//     Filebeat users see), where `(?:\.(\d+)|)` leaves the patch out;
//   - user_agent.version and os.version join major[.minor[.patch[.build]]], stopping at the
//     first absent part; os.full is "name version"; name and device.name default to
//     "Other"; os is left out when no OS rule matched.

// uaRuleDef is one rule as written in regexes.yaml.
type uaRuleDef struct {
	Regex  string  `yaml:"regex"`
	Flag   string  `yaml:"regex_flag"`
	Family *string `yaml:"family_replacement"`
	OS     *string `yaml:"os_replacement"`
	Device *string `yaml:"device_replacement"`
	V1     *string `yaml:"v1_replacement"`
	V2     *string `yaml:"v2_replacement"`
	V3     *string `yaml:"v3_replacement"`
	V4     *string `yaml:"v4_replacement"`
	OSV1   *string `yaml:"os_v1_replacement"`
	OSV2   *string `yaml:"os_v2_replacement"`
	OSV3   *string `yaml:"os_v3_replacement"`
	OSV4   *string `yaml:"os_v4_replacement"`
}

type uaDefs struct {
	UA     []uaRuleDef `yaml:"user_agent_parsers"`
	OS     []uaRuleDef `yaml:"os_parsers"`
	Device []uaRuleDef `yaml:"device_parsers"`
}

// uaRule is a rule: its regex, compiled when a user agent first passes its prefilter, and
// its name and version replacements (nil when absent).
type uaRule struct {
	expr   string
	filter prefilter
	once   sync.Once
	re     *regexp.Regexp // set by once; nil until then
	name   *string
	v      [4]*string
}

// regexp returns the rule's compiled regex.
func (r *uaRule) regexp() *regexp.Regexp {
	r.once.Do(func() {
		// compileList checked expr with syntax.Parse and regexp.Compile's flags, the only
		// step of regexp.Compile that can fail.
		r.re = regexp.MustCompile(r.expr)
	})
	return r.re
}

// UARules is a rule set. It is safe for concurrent use: a rule's regex is compiled once,
// by the first user agent that needs it, and never changes after.
type UARules struct {
	ua, os, device []uaRule
}

// defaultUARules compiles the rules embedded in uap-go once per process; the result is
// read-only.
var defaultUARules = sync.OnceValues(func() (*UARules, error) {
	return compileUARules(uaparser.DefinitionYaml)
})

// DefaultUARules returns uap-core's rules as embedded in github.com/ua-parser/uap-go.
func DefaultUARules() (*UARules, error) { return defaultUARules() }

// LoadUARules reads a rule file in uap-core's regexes.yaml format (for example the one
// bundled with Elasticsearch's ingest-user-agent module).
func LoadUARules(path string) (*UARules, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return compileUARules(data)
}

func compileUARules(data []byte) (*UARules, error) {
	var d uaDefs
	if err := yaml.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("user agent rules: %w", err)
	}
	if len(d.UA)+len(d.OS)+len(d.Device) == 0 {
		return nil, fmt.Errorf("user agent rules: no user_agent_parsers, os_parsers or device_parsers")
	}
	var r UARules
	var err error
	if r.ua, err = compileList(d.UA, "user_agent_parsers", func(x *uaRuleDef) (*string, [4]*string) {
		return x.Family, [4]*string{x.V1, x.V2, x.V3, x.V4}
	}); err != nil {
		return nil, err
	}
	if r.os, err = compileList(d.OS, "os_parsers", func(x *uaRuleDef) (*string, [4]*string) {
		return x.OS, [4]*string{x.OSV1, x.OSV2, x.OSV3, x.OSV4}
	}); err != nil {
		return nil, err
	}
	if r.device, err = compileList(d.Device, "device_parsers", func(x *uaRuleDef) (*string, [4]*string) {
		return x.Device, [4]*string{}
	}); err != nil {
		return nil, err
	}
	return &r, nil
}

// compileList checks every rule's regex and computes its prefilter; the regexes themselves
// are compiled when first needed (compiling all of uap-core's takes 34 ms and 45 MB of
// allocations, and a log's agents need a fraction of them).
func compileList(defs []uaRuleDef, section string, pick func(*uaRuleDef) (*string, [4]*string)) ([]uaRule, error) {
	out := make([]uaRule, len(defs))
	for i := range defs {
		expr := defs[i].Regex
		if defs[i].Flag == "i" {
			// Elasticsearch honours only the "i" flag.
			expr = "(?i)" + expr
		}
		parsed, err := syntax.Parse(expr, syntax.Perl)
		if err != nil {
			return nil, fmt.Errorf("user agent rules: %s[%d]: %w", section, i, err)
		}
		r := &out[i]
		r.expr, r.filter = expr, prefilterOf(parsed)
		r.name, r.v = pick(&defs[i])
	}
	return out, nil
}

// versioned is a rule's result: a name and up to four version parts; has[i] tells whether
// part i is present (it may be present and empty).
type versioned struct {
	name string
	v    [4]string
	has  [4]bool
}

func (r *uaRule) match(s string) (versioned, bool) {
	re := r.regexp()
	m := re.FindStringSubmatchIndex(s)
	if m == nil {
		return versioned{}, false
	}
	n := re.NumSubexp()
	group := func(i int) (string, bool) {
		if i > n || m[2*i] < 0 {
			return "", false
		}
		return s[m[2*i]:m[2*i+1]], true
	}
	var out versioned
	switch {
	case r.name != nil:
		out.name = *r.name
		if g, ok := group(1); ok && strings.Contains(out.name, "$1") {
			out.name = strings.Replace(out.name, "$1", g, 1)
		}
	default:
		g, ok := group(1)
		if !ok {
			return versioned{}, false
		}
		out.name = g
	}
	for i := range out.v {
		if r.v[i] != nil {
			out.v[i], out.has[i] = *r.v[i], true
		} else {
			out.v[i], out.has[i] = group(i + 2)
		}
	}
	return out, true
}

// findMatch returns the result of the first rule that matches s. lower is s in lower case
// when filtered is true (s is ASCII): rules whose prefilter it fails are skipped.
func findMatch(rules []uaRule, s, lower string, filtered bool) (versioned, bool) {
	for i := range rules {
		if filtered && !rules[i].filter.admits(lower) {
			continue
		}
		if v, ok := rules[i].match(s); ok {
			return v, true
		}
	}
	return versioned{}, false
}

// UAResult is what Elasticsearch's user_agent processor computes for one string.
type UAResult struct {
	Name       string // "Other" when no rule matched
	Version    string // "" when absent
	HasOS      bool
	OSName     string
	OSVersion  string // "" when absent (then OSFull is absent too)
	OSFull     string
	DeviceName string // "Other" when no rule matched
}

// Parse applies the rules to s.
func (r *UARules) Parse(s string) UAResult {
	lower, filtered := lowerASCII(s)
	return r.parse(s, lower, filtered)
}

// parse is Parse; with filtered false it runs every rule up to the first match.
func (r *UARules) parse(s, lower string, filtered bool) UAResult {
	res := UAResult{Name: "Other", DeviceName: "Other"}
	if ua, ok := findMatch(r.ua, s, lower, filtered); ok {
		res.Name = ua.name
		res.Version = joinVersion(&ua)
	}
	if o, ok := findMatch(r.os, s, lower, filtered); ok {
		res.HasOS = true
		res.OSName = o.name
		if o.has[0] {
			res.OSVersion = joinVersion(&o)
			res.OSFull = o.name + " " + res.OSVersion
		}
	}
	if d, ok := findMatch(r.device, s, lower, filtered); ok {
		res.DeviceName = d.name
	}
	return res
}

func joinVersion(v *versioned) string {
	if !v.has[0] {
		return ""
	}
	s := v.v[0]
	for i := 1; i < 4 && v.has[i]; i++ {
		s += "." + v.v[i]
	}
	return s
}

// appendMembers appends the user_agent members other than original, each preceded by a
// comma: `,"name":"Firefox","version":"50.0.","os":{...},"device":{"name":"Other"}`.
func (res *UAResult) appendMembers(dst []byte) []byte {
	dst = append(dst, `,"name":`...)
	dst = codecs.AppendQuotedString(dst, res.Name)
	if res.Version != "" {
		dst = append(dst, `,"version":`...)
		dst = codecs.AppendQuotedString(dst, res.Version)
	}
	if res.HasOS {
		dst = append(dst, `,"os":{"name":`...)
		dst = codecs.AppendQuotedString(dst, res.OSName)
		if res.OSFull != "" {
			dst = append(dst, `,"version":`...)
			dst = codecs.AppendQuotedString(dst, res.OSVersion)
			dst = append(dst, `,"full":`...)
			dst = codecs.AppendQuotedString(dst, res.OSFull)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `,"device":{"name":`...)
	dst = codecs.AppendQuotedString(dst, res.DeviceName)
	return append(dst, '}')
}

// uaCacheSize and uaCacheBytes bound a generation of the user agent cache: real logs have
// few distinct agents (560 in 10,000 lines of the elastic/examples access log, about
// 250 KB with their members), and a log full of random or long ones costs at most this
// many entries or bytes of agents and members (twice, see uaCache).
const (
	uaCacheSize  = 4096
	uaCacheBytes = 1 << 20
)

// uaCache maps a user agent string to its encoded members. It keeps two generations: new
// entries go to cur; when cur is full (uaCacheSize entries or uaCacheBytes), it becomes
// old and a new cur starts; a hit in old is promoted. Memory is bounded by two
// generations (each of which may go over uaCacheBytes by its last entry), and agents in
// steady use stay. Lookups do not allocate. It is used from one goroutine.
type uaCache struct {
	rules    *UARules
	cur, old map[string][]byte
	curBytes int // bytes of agents and members in cur
	misses   uint64
}

func newUACache(r *UARules) *uaCache {
	return &uaCache{rules: r, cur: make(map[string][]byte, 64)}
}

// members returns the encoded members of the user_agent group for the raw user agent ua:
// "original" (ua as logged, escapes kept, which is what Elasticsearch sees in
// user_agent.original) first, then the parsed ones. A hit writes no byte of it again.
func (c *uaCache) members(ua []byte) []byte {
	if m, ok := c.cur[string(ua)]; ok {
		return m
	}
	m, ok := c.old[string(ua)]
	if !ok {
		c.misses++
		res := c.rules.Parse(string(ua))
		m = codecs.AppendQuoted(append([]byte(nil), `"original":`...), ua)
		m = res.appendMembers(m)
	}
	if len(c.cur) >= uaCacheSize || c.curBytes >= uaCacheBytes {
		c.old, c.cur, c.curBytes = c.cur, make(map[string][]byte, len(c.cur)), 0
	}
	c.cur[string(ua)] = m
	c.curBytes += len(ua) + len(m)
	return m
}
