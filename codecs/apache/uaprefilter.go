package apache

import (
	"regexp/syntax"
	"slices"
	"strings"
	"unicode/utf8"
)

// A rule's prefilter is a conjunction of alternatives: every string the rule's regex can
// match, if it is ASCII, contains for each alternative at least one of its strings,
// compared in lower case. A rule whose prefilter fails on a user agent is skipped without
// being compiled or run, which is the idea of RE2's FilteredRE2: of uap-core's 1,200 rules
// a desktop Chrome on Linux passes 21 and curl 3, so most rules are never compiled.
//
// The analysis only ever leaves a requirement out, never adds one that a match could miss:
// a sub-expression it cannot describe requires nothing. Literals are lowered with the
// string, which is sound for a case-sensitive literal as well (a string that holds it
// holds its lower case once lowered). Strings with non-ASCII bytes are not filtered:
// under (?i) a non-ASCII rune can match an ASCII letter ("ſ" matches "s", the Kelvin sign
// "k"), and lower-casing does not follow Unicode's case folding.
type prefilter [][]string

// maxExact bounds the strings of an exact set (see reInfo); past it the set becomes a
// requirement.
const maxExact = 16

// reInfo is what the analysis knows about a sub-expression: exact, when not nil, is every
// string it can match (lower case; "" when it can match the empty string); need holds the
// requirements of its matches otherwise.
type reInfo struct {
	exact []string
	need  prefilter
}

// prefilterOf returns the prefilter of a regex that syntax.Parse accepted with
// syntax.Perl (regexp.Compile's flags).
func prefilterOf(re *syntax.Regexp) prefilter {
	return analyse(re).requirements()
}

// requirements turns info into the conjunction it guarantees.
func (in reInfo) requirements() prefilter {
	if in.exact == nil {
		return in.need
	}
	if len(in.exact) == 0 || slices.Contains(in.exact, "") {
		return nil
	}
	return prefilter{in.exact}
}

// strongest returns the alternative of in that says most about a match (its shortest
// string longest, then the fewest strings), or nil when in requires nothing.
func (in reInfo) strongest() []string {
	var best []string
	bestLen := 0
	for _, alt := range in.requirements() {
		short := len(alt[0])
		for _, s := range alt[1:] {
			short = min(short, len(s))
		}
		if short > bestLen || (short == bestLen && len(alt) < len(best)) {
			best, bestLen = alt, short
		}
	}
	return best
}

func analyse(re *syntax.Regexp) reInfo {
	switch re.Op {
	case syntax.OpLiteral:
		s := string(re.Rune)
		if !isASCII(s) {
			return reInfo{}
		}
		return reInfo{exact: []string{strings.ToLower(s)}}
	case syntax.OpCharClass:
		return charClassInfo(re.Rune)
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText,
		syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return reInfo{exact: []string{""}}
	case syntax.OpCapture:
		return analyse(re.Sub[0])
	case syntax.OpQuest:
		if in := analyse(re.Sub[0]); in.exact != nil {
			return reInfo{exact: union(in.exact, "")}
		}
		return reInfo{}
	case syntax.OpPlus:
		return reInfo{need: analyse(re.Sub[0]).requirements()}
	case syntax.OpRepeat:
		if re.Min == 0 {
			return reInfo{}
		}
		return reInfo{need: analyse(re.Sub[0]).requirements()}
	case syntax.OpConcat:
		return concatInfo(re.Sub)
	case syntax.OpAlternate:
		return alternateInfo(re.Sub)
	}
	// OpStar, OpAnyChar, OpAnyCharNotNL, OpNoMatch and anything newer: no requirement.
	return reInfo{}
}

// charClassInfo is exact for a class of at most maxClass ASCII characters once lowered
// ([Bb], [ _-]). Its non-ASCII members are left out: they cannot match in an ASCII string.
func charClassInfo(ranges []rune) reInfo {
	var set []string
	for i := 0; i+1 < len(ranges); i += 2 {
		lo, hi := ranges[i], min(ranges[i+1], utf8.RuneSelf-1)
		if lo >= utf8.RuneSelf {
			continue
		}
		if hi-lo >= maxClass {
			return reInfo{}
		}
		for r := lo; r <= hi; r++ {
			set = union(set, strings.ToLower(string(r)))
		}
		if len(set) > maxClass {
			return reInfo{}
		}
	}
	if set == nil {
		// Only non-ASCII members: the class never matches in an ASCII string, but saying
		// so gains nothing worth a special case.
		return reInfo{}
	}
	return reInfo{exact: set}
}

const maxClass = 4

// concatInfo joins runs of exact parts into longer exact strings (their cross product),
// and keeps the requirements of every other part.
func concatInfo(subs []*syntax.Regexp) reInfo {
	run := []string{""}
	var need prefilter
	exact := true
	flush := func() {
		need = append(need, reInfo{exact: run}.requirements()...)
		run = []string{""}
	}
	for _, sub := range subs {
		in := analyse(sub)
		if in.exact == nil {
			exact = false
			flush()
			need = append(need, in.need...)
			continue
		}
		if len(run)*len(in.exact) > maxExact {
			exact = false
			flush()
		}
		run = cross(run, in.exact)
	}
	if exact {
		return reInfo{exact: run}
	}
	flush()
	return reInfo{need: need}
}

// alternateInfo is exact when every branch is and the union stays small; otherwise each
// match contains the strongest requirement of its branch, so the union of those is one.
func alternateInfo(subs []*syntax.Regexp) reInfo {
	infos := make([]reInfo, len(subs))
	var set []string
	exact := true
	for i, sub := range subs {
		infos[i] = analyse(sub)
		if exact && infos[i].exact != nil && len(set)+len(infos[i].exact) <= maxExact {
			set = union(set, infos[i].exact...)
		} else {
			exact = false
		}
	}
	if exact {
		return reInfo{exact: set}
	}
	var alt []string
	for _, in := range infos {
		best := in.strongest()
		if best == nil {
			return reInfo{}
		}
		alt = union(alt, best...)
	}
	return reInfo{need: prefilter{alt}}
}

func cross(a, b []string) []string {
	out := make([]string, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			out = union(out, x+y)
		}
	}
	return out
}

// union appends to a the strings of b it does not hold yet.
func union(a []string, b ...string) []string {
	for _, s := range b {
		if !slices.Contains(a, s) {
			a = append(a, s)
		}
	}
	return a
}

// admits reports whether a string, lowered as lowerASCII, passes p.
func (p prefilter) admits(lower string) bool {
	for _, alt := range p {
		if !containsAny(lower, alt) {
			return false
		}
	}
	return true
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// lowerASCII returns s in lower case and true when s is ASCII; prefilters apply only then.
func lowerASCII(s string) (string, bool) {
	if !isASCII(s) {
		return "", false
	}
	return strings.ToLower(s), true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
