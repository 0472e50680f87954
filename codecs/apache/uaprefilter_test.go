package apache

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ua-parser/uap-go/uaparser"
)

// uaCorpus returns the user agents of uap-core's browser and OS test cases, the distinct
// agents of the 10,000 real access lines, and strings that test the prefilter's edges:
// upper and lower case variants, non-ASCII letters that fold to ASCII ones under (?i).
// A race build takes every 16th agent and the edge cases.
func uaCorpus(t testing.TB) []string {
	t.Helper()
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, file := range []string{"test_ua.yaml", "test_os.yaml"} {
		for _, c := range loadUAPCases(t, file) {
			add(c.UA)
		}
	}
	var rec Record
	for _, line := range accessLines(t) {
		if Parse(line, &rec) && rec.HasUserAgent {
			add(string(rec.UserAgent))
		}
	}
	n := len(out)
	for _, s := range out[:n:n] {
		if len(s)%7 == 0 {
			add(strings.ToUpper(s))
			add(strings.ToLower(s))
		}
	}
	if raceEnabled {
		// `make test` also runs these tests without the race detector, over every agent.
		var sample []string
		for i := 0; i < len(out); i += 16 {
			sample = append(sample, out[i])
		}
		out = sample
	}
	for _, s := range uaEdgeCases {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

var uaEdgeCases = []string{
	"",
	"curl/8.5.0",
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15",
	"GOOGLEBOT/2.1", "googlebot/2.1", "Mozilla/5.0 (compatible; bingBOT/2.0)",
	"Mozilla/5.0 (Linux; Android 4.4; Nexus 5 Build/KRT16M)",
	"Mozilla/5.0 (Linux; Android 4.4; NEXUS 5 BUILD/KRT16M)",
	"Mozilla/5.0 (Linux; U; Android 2.3; SAMSUNG GT-I9100 Build/GRH78)",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile",
	"Opera/9.80 (J2ME/MIDP; Opera Mini/9.80 (S60; SymbOS; Opera Mobi/23.348; U; en) Presto/2.5.25 Version/10.54",
	"Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
	"Mozilla/5.0 (X11; Linux x86_64; rv:50.0) Gecko/20100101 Firefox/50.0",
	"Mozilla/5.0 (X11; Linux x86_64; rv:50.0) Gecko/20100101 Firefox/50.0 \u017fpider",
	"Mozilla/5.0 (compatible; Googlebot/2.1) \u212a",
	"Mozilla/5.0 (Linux; Android 9; SM-G960F) AppleWebKit/537.36 Chrome/74.0 Mobile Safari/537.36 \u00e9",
}

// eagerRules compiles every rule of rules, independently of the rule's own lazy regex.
func eagerRules(t testing.TB, rules *UARules) [][]*regexp.Regexp {
	t.Helper()
	var out [][]*regexp.Regexp
	for _, section := range [][]uaRule{rules.ua, rules.os, rules.device} {
		res := make([]*regexp.Regexp, len(section))
		for i := range section {
			res[i] = regexp.MustCompile(section[i].expr)
		}
		out = append(out, res)
	}
	return out
}

// checkPrefilters fails when a rule's prefilter turns away a string that its regex matches.
func checkPrefilters(t testing.TB, rules *UARules, eager [][]*regexp.Regexp, s string) (skipped, total int) {
	lower, ok := lowerASCII(s)
	for si, section := range [][]uaRule{rules.ua, rules.os, rules.device} {
		for i := range section {
			total++
			if !ok || section[i].filter.admits(lower) {
				continue
			}
			skipped++
			if eager[si][i].MatchString(s) {
				t.Errorf("rule %q (prefilter %q) matches %q but its prefilter turns it away", section[i].expr, section[i].filter, s)
			}
		}
	}
	return skipped, total
}

// Every rule skipped for a user agent of the corpus does not match it.
func TestUAPrefilterSound(t *testing.T) {
	rules, err := DefaultUARules()
	if err != nil {
		t.Fatal(err)
	}
	eager := eagerRules(t, rules)
	corpus := uaCorpus(t)
	skipped, total := 0, 0
	for _, s := range corpus {
		sk, tot := checkPrefilters(t, rules, eager, s)
		skipped += sk
		total += tot
	}
	t.Logf("%d agents: %d of %d rule checks skipped by the prefilters (%.1f%%)", len(corpus), skipped, total, 100*float64(skipped)/float64(total))
	if skipped < total/2 {
		t.Errorf("the prefilters skip only %d of %d rule checks", skipped, total)
	}
}

// Parse gives what trying every rule in order gives, for every agent of the corpus.
func TestUAParseFilteredSameAsUnfiltered(t *testing.T) {
	rules, err := compileUARules(uaparser.DefinitionYaml)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range uaCorpus(t) {
		if got, want := rules.Parse(s), rules.parse(s, "", false); got != want {
			t.Errorf("%q: filtered %+v, every rule %+v", s, got, want)
		}
	}
}

// Parsing the agents of a desktop-browser log compiles a fraction of the rules.
func TestUARulesCompiledWhenNeeded(t *testing.T) {
	rules, err := compileUARules(uaparser.DefinitionYaml)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range uaEdgeCases[1:4] {
		rules.Parse(s)
	}
	compiled, total := 0, 0
	for _, section := range [][]uaRule{rules.ua, rules.os, rules.device} {
		for i := range section {
			total++
			if section[i].re != nil {
				compiled++
			}
		}
	}
	t.Logf("%d of %d rules compiled", compiled, total)
	if compiled == 0 || compiled > total/3 {
		t.Errorf("%d of %d rules compiled, want some and at most a third", compiled, total)
	}
}

// Rules are compiled once even when filter workers parse at the same time.
func TestUARulesConcurrentParse(t *testing.T) {
	rules, err := compileUARules(uaparser.DefinitionYaml)
	if err != nil {
		t.Fatal(err)
	}
	want := rules.parse(uaEdgeCases[2], "", false)
	fresh, err := compileUARules(uaparser.DefinitionYaml)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]UAResult, 4)
	for i := range results {
		wg.Go(func() { results[i] = fresh.Parse(uaEdgeCases[2]) })
	}
	wg.Wait()
	for i, got := range results {
		if got != want {
			t.Errorf("worker %d: %+v, want %+v", i, got, want)
		}
	}
}

func TestPrefilterOf(t *testing.T) {
	for _, c := range []struct {
		expr string
		want prefilter
	}{
		{`(Firefox)/(\d+)`, prefilter{{"firefox/"}}},
		{`(?i)(iPod|iPhone|iPad)`, prefilter{{"ipod", "iphone", "ipad"}}},
		{`[Bb]ot\b`, prefilter{{"bot"}}},
		{`^.{0,200}?Bar`, prefilter{{"bar"}}},
		{`(A|B)+C`, prefilter{{"a", "b"}, {"c"}}},
		{`Ab?c`, prefilter{{"abc", "ac"}}},
		{`x*y`, prefilter{{"y"}}},
		{`(?:Foo|\d+)Bar`, prefilter{{"bar"}}},
		{`(?:Foo|Q\d+)Bar`, prefilter{{"foo", "q"}, {"bar"}}},
		{`a|b*`, nil},
		{`.*`, nil},
		{`\d+`, nil},
		{`(?:ab){0,2}`, nil},
		{`(?:ab){2,}cd`, prefilter{{"ab"}, {"cd"}}},
		{`[a-z]+`, nil},
		{`é`, nil},
		{`(?i)k`, prefilter{{"k"}}},
		{`(?i)[k]x`, prefilter{{"kx"}}},
	} {
		re, err := syntax.Parse(c.expr, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		if got := prefilterOf(re); !slices.EqualFunc(got, c.want, slices.Equal) {
			t.Errorf("%s: %q, want %q", c.expr, got, c.want)
		}
	}
}

// FuzzUAPrefilter holds the prefilter of any regex to what the regex matches: a string it
// turns away is never matched.
func FuzzUAPrefilter(f *testing.F) {
	rules, err := DefaultUARules()
	if err != nil {
		f.Fatal(err)
	}
	for i := 0; i < len(rules.device); i += 40 {
		f.Add(rules.device[i].expr, uaEdgeCases[i/40%len(uaEdgeCases)])
	}
	for i := 0; i < len(rules.ua); i += 25 {
		f.Add(rules.ua[i].expr, uaEdgeCases[i/25%len(uaEdgeCases)])
	}
	f.Add(`(?i)ſpider`, "Spider")
	f.Add(`(?i)\x{212a}de`, "KDE")
	f.Add(`Ab?c|x{2,3}[Yy]`, "xxY")
	f.Add(`(?i)(?:A|B)+[cC]{1,2}(?:d|)`, "bAC")
	f.Fuzz(func(t *testing.T, expr, s string) {
		parsed, err := syntax.Parse(expr, syntax.Perl)
		if err != nil {
			return
		}
		p := prefilterOf(parsed)
		re := regexp.MustCompile(expr)
		if lower, ok := lowerASCII(s); ok && !p.admits(lower) && re.MatchString(s) {
			t.Fatalf("%q matches %q but its prefilter %q turns it away", expr, s, p)
		}
	})
}
