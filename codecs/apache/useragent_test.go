package apache

import (
	"os"
	"strings"
	"testing"

	"github.com/ua-parser/uap-go/uaparser"
	"gopkg.in/yaml.v3"
)

// uapCase is one case of uap-core's tests/test_ua.yaml or test_os.yaml; nil parts are
// absent (YAML null).
type uapCase struct {
	UA         string  `yaml:"user_agent_string"`
	Family     string  `yaml:"family"`
	Major      *string `yaml:"major"`
	Minor      *string `yaml:"minor"`
	Patch      *string `yaml:"patch"`
	PatchMinor *string `yaml:"patch_minor"`
}

func loadUAPCases(t testing.TB, file string) []uapCase {
	t.Helper()
	data, err := os.ReadFile("testdata/useragent/" + file)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []uapCase `yaml:"test_cases"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Cases
}

// ecsVersion joins the parts as the test data's SOURCES.md describes Elasticsearch's
// mapping: major[.minor[.patch[.patch_minor]]], stopping at the first absent or empty part.
func ecsVersion(parts ...*string) string {
	var b strings.Builder
	for i, p := range parts {
		if p == nil || *p == "" {
			break
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(*p)
	}
	return b.String()
}

// uaMiss classifies a difference from the test data.
func uaMiss(gotName, gotVer, wantName, wantVer string) string {
	switch {
	case gotName == wantName && gotVer == wantVer:
		return ""
	case gotName == wantName && strings.TrimSuffix(gotVer, ".") == wantVer && strings.HasSuffix(gotVer, "."):
		// A version group matched the empty string: Elasticsearch (Java's Matcher.group
		// returns "" for it) joins it, the uap-core reference treats it as absent.
		return "empty-group"
	case gotName == wantName && strings.Contains(gotVer, "$"):
		// Elasticsearch takes version replacements literally ("$1" stays "$1").
		return "literal-replacement"
	case gotName == wantName && strings.Count(wantVer, ".") >= 2 && strings.HasPrefix(gotVer, wantVer+"."):
		// Elasticsearch appends a fourth part (group 5, "build"); uap-core's browser
		// tests stop at the patch.
		return "build"
	}
	return "miss"
}

// TestUserAgentUAPCoreCases runs uap-core's browser and OS test cases through the rules
// with Elasticsearch's semantics. A difference from the test data is either one of
// Elasticsearch's documented quirks (uaMiss), or a case that uap-go's own parser also gets
// wrong: its embedded rules predate the test data (new browsers such as Ladybird or
// Phoenix have no rule yet). Every other difference fails the test.
func TestUserAgentUAPCoreCases(t *testing.T) {
	rules, err := DefaultUARules()
	if err != nil {
		t.Fatal(err)
	}
	ref, err := uaparser.New()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	total := 0
	check := func(kind, ua, gotName, gotVer, wantName, wantVer string, ref func() (string, string)) {
		total++
		k := uaMiss(gotName, gotVer, wantName, wantVer)
		if k != "miss" {
			kinds[k]++
			return
		}
		if refName, refVer := ref(); refName == wantName && refVer == wantVer {
			t.Errorf("%s: got %q %q, want %q %q (uap-go's parser agrees with the test data): %q", kind, gotName, gotVer, wantName, wantVer, ua)
			k = "miss-ours"
		}
		if k == "miss" {
			t.Logf("%s miss (rules older than the test data): got %q %q want %q %q: %q", kind, gotName, gotVer, wantName, wantVer, ua)
		}
		kinds[k]++
	}
	for _, c := range loadUAPCases(t, "test_ua.yaml") {
		res := rules.Parse(c.UA)
		check("browser", c.UA, res.Name, res.Version, c.Family, ecsVersion(c.Major, c.Minor, c.Patch), func() (string, string) {
			r := ref.ParseUserAgent(c.UA)
			return r.Family, r.ToVersionString()
		})
	}
	for _, c := range loadUAPCases(t, "test_os.yaml") {
		res := rules.Parse(c.UA)
		name := "Other" // uap-core's name for no match; Elasticsearch leaves os out
		if res.HasOS {
			name = res.OSName
		}
		check("os", c.UA, name, res.OSVersion, c.Family, ecsVersion(c.Major, c.Minor, c.Patch, c.PatchMinor), func() (string, string) {
			o := ref.ParseOs(c.UA)
			return o.Family, o.ToVersionString()
		})
	}
	ok := kinds[""] + kinds["empty-group"] + kinds["literal-replacement"] + kinds["build"]
	t.Logf("%d cases: %d as Elasticsearch computes them (%d equal to the test data, %d empty-group quirks, %d literal replacements, %d with a build part), %d misses where the rules are older than the test data (%.2f%%)",
		total, ok, kinds[""], kinds["empty-group"], kinds["literal-replacement"], kinds["build"], kinds["miss"], 100*float64(ok)/float64(total))
	if total != 1601+483 {
		t.Errorf("%d cases, want 2084", total)
	}
	// The share measured with uap-go v0.0.0-20260529044130: a drop means a regression.
	if float64(ok) < 0.93*float64(total) {
		t.Errorf("only %d of %d cases as Elasticsearch computes them", ok, total)
	}
}

// BenchmarkUARulesStart measures what an indexer's start pays for user agents: loading
// the rules and parsing the three agents of `make bench`'s log (each rule a desktop
// browser, a Mac browser or curl needs is compiled then).
func BenchmarkUARulesStart(b *testing.B) {
	agents := []string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15",
		"curl/8.5.0",
	}
	b.ReportAllocs()
	for b.Loop() {
		rules, err := compileUARules(uaparser.DefinitionYaml)
		if err != nil {
			b.Fatal(err)
		}
		for _, a := range agents {
			rules.Parse(a)
		}
	}
}

// BenchmarkUAParseUnknown measures the parse of an agent that is not cached: the 560
// distinct agents of the real access log, parsed again and again (rules already compiled).
func BenchmarkUAParseUnknown(b *testing.B) {
	rules, err := compileUARules(uaparser.DefinitionYaml)
	if err != nil {
		b.Fatal(err)
	}
	seen := map[string]bool{}
	var agents []string
	var rec Record
	for _, line := range accessLines(b) {
		if Parse(line, &rec) && rec.HasUserAgent && !seen[string(rec.UserAgent)] {
			seen[string(rec.UserAgent)] = true
			agents = append(agents, string(rec.UserAgent))
		}
	}
	for _, a := range agents {
		rules.Parse(a)
	}
	i := 0
	for b.Loop() {
		rules.Parse(agents[i%len(agents)])
		i++
	}
}

// A rule file with a regex Go cannot compile is refused when it is loaded, not when an
// agent first needs the rule, and the error names the rule.
func TestUARulesInvalidRegex(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"user_agent_parsers:\n  - regex: '(Chrome)/(\\d+)'\ndevice_parsers:\n  - regex: 'Nexus'\n  - regex: '(Pixel'\n",
			"user agent rules: device_parsers[1]: error parsing regexp: missing closing ): `(Pixel`"},
		{"os_parsers:\n  - regex: '(?<=Mac)OS'\n", "user agent rules: os_parsers[0]: error parsing regexp: invalid named capture: `(?<=Mac)OS`"},
		{"user_agent_parsers:\n  - regex: 'x{1001}'\n", "user agent rules: user_agent_parsers[0]: error parsing regexp: invalid repeat count: `{1001}`"},
		{"user_agent_parsers: [", "user agent rules: yaml:"},
		{"other: 1\n", "user agent rules: no user_agent_parsers, os_parsers or device_parsers"},
	} {
		_, err := compileUARules([]byte(c.yaml))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.yaml, err, c.want)
		}
	}
}
