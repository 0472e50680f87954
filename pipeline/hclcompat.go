package pipeline

import "github.com/hashicorp/hcl/v2"

// HCL reads "%{" as the start of a template directive (%{if}, %{for}), so the Logstash-style
// references of the contract — index = "filebeat_test-%{+YYYY.MM.dd}", "%{[host][name]}" —
// would be syntax errors. escapeLogstashRefs rewrites every "%{" that does not begin an HCL
// directive into HCL's escape "%%{", which evaluates to the literal "%{" the stages parse.
// Real directives and already escaped "%%{" are left alone.
//
// The rewrite inserts one byte per reference, so positions in diagnostics are mapped back
// to the original text with posMap.fix.
func escapeLogstashRefs(src []byte) ([]byte, posMap) {
	var out []byte
	var m posMap
	line, lineStart := 1, 0
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '\n' {
			line++
			lineStart = i + 1
		}
		if c == '%' && i+1 < len(src) && src[i+1] == '{' && (i == 0 || src[i-1] != '%') && !isDirective(src[i+2:]) {
			if out == nil {
				out = make([]byte, 0, len(src)+16)
				out = append(out, src[:i]...)
			}
			m = append(m, insertion{line: line, at: len(out), col: i - lineStart})
			out = append(out, '%')
		}
		if out != nil {
			out = append(out, c)
		}
	}
	if out == nil {
		return src, nil
	}
	return out, m
}

// isDirective reports whether the text after "%{" starts an HCL template directive.
func isDirective(rest []byte) bool {
	i := 0
	if i < len(rest) && rest[i] == '~' {
		i++
	}
	for i < len(rest) && (rest[i] == ' ' || rest[i] == '\t') {
		i++
	}
	for _, kw := range []string{"if", "for", "else", "endif", "endfor"} {
		if len(rest)-i >= len(kw) && string(rest[i:i+len(kw)]) == kw {
			j := i + len(kw)
			if j == len(rest) || !isIdentByte(rest[j]) {
				return true
			}
		}
	}
	return false
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// insertion records one byte inserted by escapeLogstashRefs: at is its offset in the
// rewritten text, line its line, col the 0-based byte column where it was inserted.
type insertion struct {
	line, at, col int
}

// posMap maps positions in rewritten text back to the original text.
type posMap []insertion

func (m posMap) pos(p hcl.Pos) hcl.Pos {
	for _, ins := range m {
		if ins.at >= p.Byte {
			break
		}
		p.Byte--
		if ins.line == p.Line && ins.col < p.Column-1 {
			p.Column--
		}
	}
	return p
}

func (m posMap) rng(r *hcl.Range) {
	if r == nil || len(m) == 0 {
		return
	}
	r.Start, r.End = m.pos(r.Start), m.pos(r.End)
}

// fix maps every range of diags back to the original text, in place.
func (m posMap) fix(diags hcl.Diagnostics) {
	for _, d := range diags {
		m.rng(d.Subject)
		m.rng(d.Context)
	}
}
