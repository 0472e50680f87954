package pipeline

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
)

// RangeError is a problem at a precise place inside a stage block: a key of an object
// value, an element of a list, a nested block. Validate returns it (possibly joined with
// others) where an AttrError could only point at the whole attribute, for instance for the
// conditions of pipeline/condition. The loader reports it at Range.
type RangeError struct {
	// Attr is the top-level attribute or nested block type of the stage block the problem
	// belongs to (e.g. "when"); problems under an attribute that failed to decode are not
	// reported twice.
	Attr string
	// Range is where the problem is, as hcl reports it.
	Range hcl.Range
	// Msg says what is wrong and how to fix it.
	Msg string
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.Range.Filename, e.Range.Start.Line, e.Range.Start.Column, e.Msg)
}

// RangeErrorf returns a *RangeError for attribute or block attr at rng.
func RangeErrorf(attr string, rng hcl.Range, format string, args ...any) error {
	return &RangeError{Attr: attr, Range: rng, Msg: fmt.Sprintf(format, args...)}
}

// EvalContextUser is implemented by stage configs that decode part of their HCL body
// themselves when validated (the nested blocks of a condition, see pipeline/condition). The
// loader calls SetEvalContext with the file's evaluation context (env()) before Validate. A
// config built by hand is validated without it (nil): expressions then cannot call env().
type EvalContextUser interface {
	SetEvalContext(ctx *hcl.EvalContext)
}

// Suggest returns the candidate closest to name when it is close enough to be a likely
// misspelling (edit distance below 3), or "": the "did you mean" hint of the loader, for
// stages that check names themselves (the operators of pipeline/condition).
func Suggest(name string, candidates []string) string { return suggest(name, candidates) }
