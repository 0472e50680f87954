package apache

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/logpipe/logpipe/codecs"
	"github.com/logpipe/logpipe/pipeline"
)

// FuzzParse checks that no input makes the parser or the filter panic, and that what they
// write is always a valid JSON object without duplicate keys. The seed corpus lives in
// testdata/fuzz/FuzzParse, so plain `go test` runs it.
func FuzzParse(f *testing.F) {
	f.Add([]byte(combinedLine))
	f.Add(benchLine)
	flt := newFilter(f, DefaultConfig())
	var w Writer
	ts := time.Date(2026, 11, 21, 7, 16, 26, 746e6, time.UTC)
	f.Fuzz(func(t *testing.T, line []byte) {
		var r Record
		if Parse(line, &r) {
			doc := append([]byte{'{'}, w.AppendFields(nil, &r, []byte(`"2026-11-21T07:16:26.746Z"`))...)
			doc = append(doc, '}')
			if !json.Valid(doc) {
				t.Fatalf("AppendFields wrote invalid JSON: %s", doc)
			}
			checkNoDuplicates(t, doc)
		}
		// As a document event (from Kafka) and as a line event.
		doc := []byte(`{"@timestamp":"2026-11-21T07:16:26.746Z","message":`)
		doc = codecs.AppendQuoted(doc, line)
		doc = append(doc, `,"event":{"original":"x"}}`...)
		b := pipeline.NewBatch("t/0", []pipeline.Event{{Doc: doc}, {Message: line, Timestamp: ts}}, nil)
		flt.Process(b)
		if b.Len() != 2 {
			t.Fatalf("%d events left", b.Len())
		}
		for _, e := range b.Events {
			if !json.Valid(e.Doc) || e.Doc[0] != '{' {
				t.Fatalf("filter wrote invalid JSON: %s", e.Doc)
			}
			checkNoDuplicates(t, e.Doc)
		}
	})
}
