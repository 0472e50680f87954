//go:build race

package pipeline

import "bytes"

// checkOneLine panics, in race-detector builds (the test suite's), when doc breaks the
// contract of Event.Doc: a stage that writes a line break into a document fails its tests
// instead of splitting a _bulk line in production.
func checkOneLine(doc []byte) {
	if bytes.ContainsAny(doc, "\r\n") {
		panic("pipeline: SetDoc with a line break; Event.Doc must be one line: " + string(doc))
	}
}
