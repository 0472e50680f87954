package apache

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/logpipe/logpipe/pipeline"
)

const (
	testCityDB = "testdata/geoip/GeoLite2-City-Test.mmdb"
	testASNDB  = "testdata/geoip/GeoLite2-ASN-Test.mmdb"
)

// decodeNum flattens a JSON object keeping numbers as json.Number, so that large integers
// (thread ids) compare exactly.
func decodeNum(t *testing.T, doc []byte) map[string]any {
	t.Helper()
	checkNoDuplicates(t, doc)
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var v map[string]any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("invalid JSON %s: %v", doc, err)
	}
	out := map[string]any{}
	flatten("", v, out)
	return out
}

func loadExpected(t *testing.T, path string) []map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var expected []map[string]any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&expected); err != nil {
		t.Fatal(err)
	}
	return expected
}

// filebeatOwn are fields Filebeat sets itself, for which logpipe has its own equivalents in
// the shipped document (log.offset, input.type) or none (fileset.name, service.type).
func filebeatOwn(k string) bool {
	switch k {
	case "input.type", "fileset.name", "service.type", "log.offset":
		return true
	}
	return false
}

// knownDiff is an expected value that logpipe deliberately does not produce, with the value
// it produces instead and why.
type knownDiff struct {
	got    any
	reason string
}

// enrichKnownDiffs: the enrich file's user-agent values for Firefox 50.0 on macOS come from
// the older regexes.yml that Elasticsearch bundles; uap-core's current rules (embedded in
// uap-go) have a Mac device rule and match "Firefox/50.0" at the end of the string with
// `(?:\.(\d+)|$)`, which leaves the patch out. Filebeat's own upstream expected file for the
// same line (testdata/filebeat-module/test.log-expected.json) has exactly these values.
// The quirk itself ("50.0." from an empty group) is reproduced: TestUserAgentQuirks.
var enrichKnownDiffs = map[string]knownDiff{
	"test.log:2:user_agent.device.name": {"Mac", "current uap-core rules have a Mac device rule"},
	"test.log:2:user_agent.version":     {"50.0", "current uap-core rules match Firefox/50.0 at the end of the string without an empty patch group"},
}

// runFilterOnLines runs a filter over the lines of logFile as shipped documents and returns
// the flattened documents.
func runFilterOnLines(t *testing.T, f *Filter, logFile string) (lines []string, docs []map[string]any) {
	t.Helper()
	raw, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	lines = strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	var evs []pipeline.Event
	for _, l := range lines {
		evs = append(evs, pipeline.Event{Doc: wireDoc(l, "")})
	}
	b := pipeline.NewBatch("t/0", evs, nil)
	f.Process(b)
	if b.Len() != len(lines) {
		t.Fatalf("%d events out of %d", b.Len(), len(lines))
	}
	for _, e := range b.Events {
		docs = append(docs, decodeNum(t, e.Doc))
	}
	return lines, docs
}

// compareDoc checks got against exp field for field: every expected field (but Filebeat's
// own) with the same value and JSON type, and no field that is neither expected, nor in the
// shipped document, nor event.created.
func compareDoc(t *testing.T, where string, got, exp map[string]any, known map[string]knownDiff, isError bool) int {
	t.Helper()
	shipped := decodeNum(t, wireDoc("x", ""))
	var keys []string
	for k := range exp {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	compared := 0
	for _, k := range keys {
		if filebeatOwn(k) || (!isError && k == "event.original") {
			// For access lines logpipe keeps the line in message, as the shipper wrote it.
			continue
		}
		want := exp[k]
		if kd, ok := known[where+":"+k]; ok {
			want = kd.got
		}
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: %s missing, want %v", where, k, want)
			continue
		}
		compared++
		if fmt.Sprint(g) != fmt.Sprint(want) || reflect.TypeOf(g) != reflect.TypeOf(exp[k]) {
			t.Errorf("%s: %s = %#v, want %#v", where, k, g, want)
		}
	}
	for k, v := range got {
		if _, ok := exp[k]; ok || k == "event.created" {
			continue
		}
		if _, ok := shipped[k]; ok && (k != "message" || !isError) {
			// Access lines keep the line in message, as the shipper wrote it.
			continue
		}
		t.Errorf("%s: unexpected field %s = %v", where, k, v)
	}
	return compared
}

// TestConformanceEnrich compares the filter's output, with the MaxMind test databases and
// the zone set to -02:00, with the fields Filebeat's apache module and Elasticsearch's
// user_agent and geoip processors produced, field for field, for access and error lines.
func TestConformanceEnrich(t *testing.T) {
	c := DefaultConfig()
	c.Timezone = "-02:00"
	c.GeoIP = &GeoIPConfig{CityDatabase: testCityDB, ASNDatabase: testASNDB}
	f := newFilter(t, c)
	logs, _ := filepath.Glob("testdata/filebeat-module-enrich/*.log")
	if len(logs) != 3 {
		t.Fatalf("test logs: %v", logs)
	}
	fields, usedKnown := 0, 0
	for _, logFile := range logs {
		base := filepath.Base(logFile)
		lines, docs := runFilterOnLines(t, f, logFile)
		expected := loadExpected(t, logFile+"-expected.json")
		if len(expected) != len(lines) {
			t.Fatalf("%s: %d lines, %d expected", base, len(lines), len(expected))
		}
		for i := range lines {
			where := fmt.Sprintf("%s:%d", base, i+1)
			for k := range expected[i] {
				if _, ok := enrichKnownDiffs[where+":"+k]; ok {
					usedKnown++
				}
			}
			fields += compareDoc(t, where, docs[i], expected[i], enrichKnownDiffs, strings.HasPrefix(base, "error"))
		}
	}
	if f.Failed() != 0 {
		t.Errorf("%d lines failed", f.Failed())
	}
	if usedKnown != len(enrichKnownDiffs) {
		t.Errorf("%d known differences used, want %d", usedKnown, len(enrichKnownDiffs))
	}
	t.Logf("%d fields compared", fields)
	if fields < 200 {
		t.Errorf("only %d fields compared", fields)
	}
}

// TestConformanceFilebeatUserAgent compares user_agent.* with Filebeat's upstream expected
// files, which Elasticsearch's user_agent processor produced with current uap-core rules.
func TestConformanceFilebeatUserAgent(t *testing.T) {
	f := newFilter(t, DefaultConfig())
	logs, _ := filepath.Glob("testdata/filebeat-module/*.log")
	n := 0
	for _, logFile := range logs {
		lines, docs := runFilterOnLines(t, f, logFile)
		expected := loadExpected(t, logFile+"-expected.json")
		for i := range lines {
			where := fmt.Sprintf("%s:%d", filepath.Base(logFile), i+1)
			for k, v := range expected[i] {
				if !strings.HasPrefix(k, "user_agent.") {
					continue
				}
				n++
				if fmt.Sprint(docs[i][k]) != fmt.Sprint(v) {
					t.Errorf("%s: %s = %v, want %v", where, k, docs[i][k], v)
				}
			}
			for k, v := range docs[i] {
				if _, ok := expected[i][k]; strings.HasPrefix(k, "user_agent.") && !ok {
					t.Errorf("%s: unexpected %s = %v", where, k, v)
				}
			}
		}
	}
	if n < 20 {
		t.Errorf("only %d user agent fields compared", n)
	}
}

// TestUserAgentQuirks checks Elasticsearch's semantics with a rule file: a version group
// that matched the empty string is joined ("50.0."), one that took no part is left out,
// version replacements are literal, and only $1 is substituted in a name.
func TestUserAgentQuirks(t *testing.T) {
	rulesFile := filepath.Join(t.TempDir(), "regexes.yaml")
	rules := `user_agent_parsers:
  - regex: '(Firefox)/(\d+)\.(\d+)\.(\d+)'
  - regex: '(Firefox)/(\d+)\.(\d+)(pre|[ab]\d+[a-z]*|)'
  - regex: '(Opt)/(\d+)(?:\.(\d+)|)'
  - regex: 'Fam(\w+) (\w+)/(\d+)'
    family_replacement: 'F $1 $2'
    v1_replacement: '$2'
os_parsers:
  - regex: '(Windows NT 6\.1)'
    os_replacement: 'Windows'
    os_v1_replacement: '7'
  - regex: 'Intel (Mac OS X) (\d+)[_.](\d+)'
device_parsers:
  - regex: '(iPhone)'
`
	if err := os.WriteFile(rulesFile, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := LoadUARules(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ua   string
		want UAResult
	}{
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.12; rv:50.0) Gecko/20100101 Firefox/50.0",
			UAResult{Name: "Firefox", Version: "50.0.", HasOS: true, OSName: "Mac OS X", OSVersion: "10.12", OSFull: "Mac OS X 10.12", DeviceName: "Other"}},
		{"Mozilla/5.0 (Windows NT 6.1; rv:15.0) Gecko/20120716 Firefox/15.0a2",
			UAResult{Name: "Firefox", Version: "15.0.a2", HasOS: true, OSName: "Windows", OSVersion: "7", OSFull: "Windows 7", DeviceName: "Other"}},
		{"Opt/3 (iPhone)", UAResult{Name: "Opt", Version: "3", DeviceName: "iPhone"}},
		{"Famous Thing/9", UAResult{Name: "F ous $2", Version: "$2.9", DeviceName: "Other"}},
		{"-", UAResult{Name: "Other", DeviceName: "Other"}},
	} {
		if got := r.Parse(tc.ua); got != tc.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tc.ua, got, tc.want)
		}
	}

	// Through the filter: user_agent_regexes is used, and user_agent = false turns it off.
	c := DefaultConfig()
	c.UserAgentRegexes = rulesFile
	f := newFilter(t, c)
	line := `1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "Gecko/20100101 Firefox/50.0"`
	b := pipeline.NewBatch("t/0", []pipeline.Event{{Doc: wireDoc(line, "")}}, nil)
	f.Process(b)
	got := decode(t, b.Events[0].Doc)
	if got["user_agent.version"] != "50.0." || got["user_agent.name"] != "Firefox" || got["user_agent.device.name"] != "Other" {
		t.Errorf("filter with user_agent_regexes: %s", b.Events[0].Doc)
	}
	c = DefaultConfig()
	c.UserAgent = false
	f = newFilter(t, c)
	b = pipeline.NewBatch("t/0", []pipeline.Event{{Doc: wireDoc(line, "")}}, nil)
	f.Process(b)
	got = decode(t, b.Events[0].Doc)
	if _, ok := got["user_agent.name"]; ok || got["user_agent.original"] == nil {
		t.Errorf("user_agent = false: %s", b.Events[0].Doc)
	}

	// A missing or broken rule file is a permanent error naming it.
	for _, bad := range []string{filepath.Join(t.TempDir(), "missing.yaml"), writeTemp(t, "user_agent_parsers:\n  - regex: '(unclosed'\n")} {
		c = DefaultConfig()
		c.UserAgentRegexes = bad
		_, err := New(c, pipeline.Stage{})
		if err == nil || !pipeline.IsPermanent(err) || !strings.Contains(err.Error(), bad) {
			t.Errorf("rules %s: error %v", bad, err)
		}
	}
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestUserAgentCacheBounded: a stream of distinct agents never holds more than two
// generations of the cache, and agents in steady use stay cached.
func TestUserAgentCacheBounded(t *testing.T) {
	// A small rule set: the cache, not the rules, is under test (uap-core's full set makes
	// each of these thousands of misses cost milliseconds).
	rules, err := compileUARules([]byte(`user_agent_parsers:
  - regex: '(Chrome)/(\d+)\.(\d+)'
os_parsers:
  - regex: '(Windows) NT (\d+)'
`))
	if err != nil {
		t.Fatal(err)
	}
	c := newUACache(rules)
	hot := []byte("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36")
	want := string(c.members(hot))
	for i := 0; i < 3*uaCacheSize; i++ {
		c.members([]byte(fmt.Sprintf("bot-%d/1.0", i)))
		if i%100 == 0 {
			if got := string(c.members(hot)); got != want {
				t.Fatalf("hot agent changed: %s", got)
			}
		}
		if len(c.cur)+len(c.old) > 2*uaCacheSize {
			t.Fatalf("cache holds %d entries", len(c.cur)+len(c.old))
		}
	}
	before := c.misses
	c.members(hot)
	if c.misses != before {
		t.Errorf("the hot agent was evicted")
	}
	allocs := testing.AllocsPerRun(100, func() { c.members(hot) })
	if allocs != 0 {
		t.Errorf("%v allocations per cached lookup", allocs)
	}
}

// TestUserAgentCacheBytesBounded: long distinct agents (a scanner, or a client that puts
// data in its User-Agent; the file input reads lines of up to a MiB) do not make the cache
// hold more than two generations of uaCacheBytes, and a cached agent is still served.
func TestUserAgentCacheBytesBounded(t *testing.T) {
	rules, err := compileUARules([]byte("user_agent_parsers:\n  - regex: '(Chrome)/(\\d+)\\.(\\d+)'\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := newUACache(rules)
	held := func() int {
		n := 0
		for _, gen := range []map[string][]byte{c.cur, c.old} {
			for k, v := range gen {
				n += len(k) + len(v)
			}
		}
		return n
	}
	long := bytes.Repeat([]byte("x"), 64<<10)
	most := 0
	for i := 0; i < 200; i++ {
		ua := append(fmt.Appendf(nil, "bot-%d/1.0 ", i), long...)
		m := c.members(ua)
		if !bytes.HasPrefix(m, []byte(`"original":"bot-`)) {
			t.Fatalf("agent %d: members %.40s", i, m)
		}
		most = max(most, held())
	}
	// Two generations of at most uaCacheBytes, each of which may go over by its last entry.
	limit := 2 * (uaCacheBytes + 2*len(long) + 256)
	t.Logf("most held: %d bytes (limit %d)", most, limit)
	if most > limit {
		t.Errorf("the cache held %d bytes of agents, over %d", most, limit)
	}
}
