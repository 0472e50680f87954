package transport

import (
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// secretAttrs are the attribute names that hold secrets.
var secretAttrs = map[string]bool{"password": true, "api_key": true, "token": true}

// LiteralSecret is a secret written literally in a configuration file that users other than
// its owner can read.
type LiteralSecret struct {
	File string
	Line int
	Attr string
	Mode fs.FileMode
}

func (l LiteralSecret) String() string {
	return fmt.Sprintf("%s:%d: attribute %q holds a literal secret and the file is readable by group or others (mode %04o): write %s = env(\"NAME\") or use a *_file attribute, or chmod 600 %s",
		l.File, l.Line, l.Attr, l.Mode.Perm(), l.Attr, l.File)
}

// LiteralSecrets reports the attributes named password, api_key or token whose value is a
// literal string (not env(...) or another expression) in the configuration file at path,
// when that file is readable by group or others. It returns nothing for a file only its
// owner can read, and an error only when the file cannot be examined. Call it once at
// start-up and log each result as a warning, e.g. from cmd/logpipe:
//
//	for _, w := range transport.LiteralSecrets(path) { log.Warn(w.String()) }
func LiteralSecrets(path string) []LiteralSecret {
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm()&0o044 == 0 {
		return nil
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return literalSecrets(path, src, st.Mode())
}

// literalSecrets scans the tokens of src (lexing, not parsing, so Logstash-style %{...}
// references in strings do not matter) for `NAME = "literal"` with NAME a secret attribute:
// an identifier first on its line, then '=', then a quoted string or heredoc without
// interpolation, ending its line.
func literalSecrets(path string, src []byte, mode fs.FileMode) []LiteralSecret {
	toks, _ := hclsyntax.LexConfig(src, path, hcl.InitialPos)
	var out []LiteralSecret
	lineStart := true
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		first := lineStart
		lineStart = t.Type == hclsyntax.TokenNewline || t.Type == hclsyntax.TokenOBrace ||
			t.Type == hclsyntax.TokenComment && len(t.Bytes) > 0 && t.Bytes[len(t.Bytes)-1] == '\n'
		if !first || t.Type != hclsyntax.TokenIdent || !secretAttrs[strings.ToLower(string(t.Bytes))] {
			continue
		}
		if i+1 >= len(toks) || toks[i+1].Type != hclsyntax.TokenEqual {
			continue
		}
		if literalValue(toks[i+2:]) {
			out = append(out, LiteralSecret{File: path, Line: t.Range.Start.Line, Attr: string(t.Bytes), Mode: mode})
		}
	}
	return out
}

// literalValue reports whether toks start with a string or heredoc without interpolation
// that is followed by the end of the line (or of the block or file).
func literalValue(toks hclsyntax.Tokens) bool {
	if len(toks) == 0 {
		return false
	}
	var end hclsyntax.TokenType
	switch toks[0].Type {
	case hclsyntax.TokenOQuote:
		end = hclsyntax.TokenCQuote
	case hclsyntax.TokenOHeredoc:
		end = hclsyntax.TokenCHeredoc
	default:
		return false
	}
	for i := 1; i < len(toks); i++ {
		switch toks[i].Type {
		case hclsyntax.TokenQuotedLit, hclsyntax.TokenStringLit:
		case end:
			if i+1 >= len(toks) {
				return true
			}
			switch toks[i+1].Type {
			case hclsyntax.TokenNewline, hclsyntax.TokenEOF, hclsyntax.TokenCBrace, hclsyntax.TokenComment:
				return i > 1 // "" is not a secret
			}
			return false
		default:
			return false // ${...}, %{...}: an expression, not a literal
		}
	}
	return false
}
