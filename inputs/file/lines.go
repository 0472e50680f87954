package file

import (
	"bytes"
	"regexp"
	"strings"

	"github.com/logpipe/logpipe/pipeline"
)

// lineFilter applies include_lines and exclude_lines (Filebeat's semantics): a line is
// shipped when it matches one of the include patterns (or there are none) and none of the
// exclude patterns. Patterns are Go regular expressions (RE2) matched anywhere in the line,
// without its line ending; a pattern that is a plain string is matched with bytes.Contains.
//
// A line that is not shipped still counts as read: the batch it was read in is emitted
// without it and acknowledged like any other, so the file's committed offset moves past it.
type lineFilter struct {
	include, exclude []lineMatcher
}

type lineMatcher struct {
	lit []byte         // the pattern, when it is a plain string
	re  *regexp.Regexp // otherwise
}

func (m *lineMatcher) match(line []byte) bool {
	if m.re == nil {
		return bytes.Contains(line, m.lit)
	}
	return m.re.Match(line)
}

// compileLines checks include_lines and exclude_lines and sets c.lines (nil when both are
// empty). Problems are returned as attribute errors.
func compileLines(c *Config) []error {
	var errs []error
	compile := func(attr string, patterns []string) []lineMatcher {
		var out []lineMatcher
		for _, p := range patterns {
			if p == "" {
				errs = append(errs, pipeline.AttrErrorf(attr, "an empty pattern matches every line; remove it"))
				continue
			}
			re, err := regexp.Compile(p)
			if err != nil {
				errs = append(errs, pipeline.AttrErrorf(attr, "%q: %s; patterns are Go regular expressions (RE2 syntax: no look-around, no back-references)",
					p, strings.TrimPrefix(err.Error(), "error parsing regexp: ")))
				continue
			}
			if lit, complete := re.LiteralPrefix(); complete {
				out = append(out, lineMatcher{lit: []byte(lit)})
			} else {
				out = append(out, lineMatcher{re: re})
			}
		}
		return out
	}
	inc := compile("include_lines", c.IncludeLines)
	exc := compile("exclude_lines", c.ExcludeLines)
	c.lines = nil
	if len(inc) > 0 || len(exc) > 0 {
		c.lines = &lineFilter{include: inc, exclude: exc}
	}
	return errs
}

// shipped reports whether line passes the filter.
func (f *lineFilter) shipped(line []byte) bool {
	if len(f.include) > 0 {
		in := false
		for i := range f.include {
			if f.include[i].match(line) {
				in = true
				break
			}
		}
		if !in {
			return false
		}
	}
	for i := range f.exclude {
		if f.exclude[i].match(line) {
			return false
		}
	}
	return true
}

// keep removes from events, in place, the lines the filter does not ship, and returns the
// shortened slice; with a nil filter, events unchanged. The batch built from the result
// keeps the end offset of everything read, so dropped lines are committed with it.
func (f *lineFilter) keep(events []pipeline.Event) []pipeline.Event {
	if f == nil {
		return events
	}
	kept := events[:0]
	for i := range events {
		if f.shipped(events[i].Message) {
			kept = append(kept, events[i])
		}
	}
	clear(events[len(kept):])
	return kept
}
