package pipeline

import (
	"fmt"
	"sort"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
)

// FormatDiagnostics renders diagnostics one per line as "file:line:col: message: detail"
// (the detail carries the "Did you mean ...?" hint when there is one). Warnings are
// marked "warning: " before the message. A diagnostic without a position is rendered as
// "message: detail". The result ends with a newline unless diags is empty.
func FormatDiagnostics(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		if d == nil {
			continue
		}
		if d.Subject != nil {
			fmt.Fprintf(&b, "%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		if d.Severity == hcl.DiagWarning {
			b.WriteString("warning: ")
		}
		b.WriteString(oneLine(d.Summary))
		if detail := oneLine(d.Detail); detail != "" {
			b.WriteString(": ")
			b.WriteString(detail)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// oneLine collapses runs of white space (including newlines) into single spaces.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// sortDiagnostics orders diagnostics by file and position, keeping the order of
// diagnostics at the same place; diagnostics without a position come last.
func sortDiagnostics(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a != nil && b == nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		case a.Start.Line != b.Start.Line:
			return a.Start.Line < b.Start.Line
		default:
			return a.Start.Column < b.Start.Column
		}
	})
}

// suggest returns the candidate closest to name when it is close enough to be a likely
// misspelling (edit distance below 3, as hcl does for attribute names), or "".
func suggest(name string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := levenshtein.Distance(name, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}
