package condition

import (
	"fmt"
	"strings"

	"github.com/logpipe/logpipe/codecs"
)

// Field is a field name as written in a configuration, "message" or a dotted path such as
// "http.response.status_code", parsed once at load so that looking it up in a document
// does not allocate.
//
// A dotted name is a path through nested objects ({"http":{"response":{"status_code":200}}}).
// When the document has no such nested member, a top-level member whose own name holds
// the dots ({"http.response.status_code":200}) is used instead: documents written by other
// shippers use both forms.
type Field struct {
	name  string
	path  []string // name split at the dots
	whole []string // []string{name}, for the literal top-level member
}

// ParseField checks and parses a field name. Names must be non-empty, must not start or
// end with a dot or hold two dots in a row, and must not name @metadata, which is not part
// of the document stages see (its only member, _id, is the event's ID).
func ParseField(name string) (Field, error) {
	switch {
	case name == "":
		return Field{}, fmt.Errorf("field name must not be empty")
	case strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, ".."):
		return Field{}, fmt.Errorf("%q is not a field name: write nested fields as a dotted path such as \"http.response.status_code\"", name)
	case name == "@metadata" || strings.HasPrefix(name, "@metadata."):
		return Field{}, fmt.Errorf("%q is not part of the event document: @metadata is kept out of the document (the event id is its only member)", name)
	}
	f := Field{name: name, whole: []string{name}}
	if strings.Contains(name, ".") {
		f.path = strings.Split(name, ".")
	}
	return f, nil
}

// Name is the field name as written.
func (f Field) Name() string { return f.name }

// Path is the dotted name split into its members; for a name without dots, a one-element
// path. The slice must not be modified.
func (f Field) Path() []string {
	if f.path != nil {
		return f.path
	}
	return f.whole
}

// Dotted reports whether the name holds dots (so that it may name a nested member).
func (f Field) Dotted() bool { return f.path != nil }

// Lookup returns the raw JSON value of the field in the object doc (see Field for how a
// dotted name is resolved). It does not allocate.
func (f Field) Lookup(doc []byte) ([]byte, bool) {
	if f.path != nil {
		if raw, ok := codecs.Lookup(doc, f.path...); ok {
			return raw, true
		}
	}
	return codecs.Lookup(doc, f.whole...)
}
