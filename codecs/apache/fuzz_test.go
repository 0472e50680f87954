package apache

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/logpipe/logpipe/codecs"
	"github.com/logpipe/logpipe/pipeline"
)

// FuzzParse checks that no input makes the parser or the filter panic, and that what they
// write is always a valid JSON object without duplicate keys. The seed corpus lives in
// testdata/fuzz/FuzzParse, so plain `go test` runs it.
func FuzzParse(f *testing.F) {
	f.Add([]byte(combinedLine))
	f.Add(benchLine)
	f.Add([]byte("[Wed Oct 20 19:20:59.121211 2021] [rewrite:trace3] [pid 121591:tid 140413273032448] [client 10.1.2.3:38350] File does not exist: /a/b, referer: http://x/y"))
	f.Add([]byte("[Mon Dec 26 16:22:08 2016] [error] [client ::1] x"))
	flt := newFilter(f, DefaultConfig())
	var w Writer
	ts := time.Date(2026, 11, 21, 7, 16, 26, 746e6, time.UTC)
	f.Fuzz(func(t *testing.T, line []byte) {
		var r Record
		parsed := Parse(line, &r)
		var er ErrorRecord
		parsedError := ParseError(line, &er)
		if parsed {
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
		failedBefore := flt.Failed()
		flt.Process(b)
		// The message travels JSON-escaped; unescaped, it parses exactly as the raw line
		// (for valid UTF-8, which the JSON encoding keeps as is).
		if utf8.Valid(line) {
			wantFailed := uint64(0)
			if !parsed && !parsedError {
				wantFailed = 2
			}
			if got := flt.Failed() - failedBefore; got != wantFailed {
				t.Fatalf("Parse(%q) = %v but the filter failed %d of 2 events", line, parsed, got)
			}
		}
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

// FuzzFilterDocument feeds arbitrary documents (as a Kafka input would hand them over) to
// the filter: no panic, and a valid JSON object in gives a valid JSON object out.
func FuzzFilterDocument(f *testing.F) {
	f.Add(wireDoc(combinedLine, ""), false)
	f.Add(wireDoc(combinedLine, `,"event":{"a":1},"url":"x","tags":"t"`), true)
	f.Add([]byte(` {"message":"`+`1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] \"GET / HTTP/1.1\" 200 1"} `), false)
	f.Add([]byte(`{}`), false)
	f.Add([]byte(`{"message":"\u0031.2.3.4 - - [01/Jan/2024:00:00:00 +0000] \"-\" 408 -","\u0065vent":{}}`), false)
	f.Add([]byte(`{"message":"x","tags":[1,{"a":"]"}]}`), true)
	f.Add([]byte(`{"log":{"level":1},"message":"[Mon Dec 26 16:22:08 2016] [error] [client 1.2.3.4] x","@timestamp":1,"event":{"original":2}}`), false)
	f.Add([]byte(`{"@timestamp":"x","message":"[Mon Dec 26 16:22:08 2016] [error] y","process":"z"}`), true)
	plain := newFilter(f, DefaultConfig())
	c := DefaultConfig()
	c.Target = "parsed"
	c.OnFailure = "drop"
	targeted := newFilter(f, c)
	f.Fuzz(func(t *testing.T, doc []byte, useTarget bool) {
		flt := plain
		if useTarget {
			flt = targeted
		}
		in := append([]byte(nil), doc...)
		b := pipeline.NewBatch("t/0", []pipeline.Event{{Doc: in}}, nil)
		flt.Process(b)
		if !bytes.Equal(in, doc) {
			t.Fatalf("input modified")
		}
		validIn := json.Valid(doc) && bytes.HasPrefix(bytes.TrimSpace(doc), []byte("{"))
		for _, e := range b.Events {
			if validIn && !json.Valid(e.Doc) {
				t.Fatalf("valid %s became invalid %s", doc, e.Doc)
			}
		}
	})
}

// FuzzSplitRequest holds splitRequest to the definition of a request line's version: the
// digits[.digits] after the last " HTTP/", ending the line. splitRequest finds it from the
// last space instead; both must split every line alike.
func FuzzSplitRequest(f *testing.F) {
	for _, s := range []string{"GET / HTTP/1.1", "GET /a HTTP/1.1 HTTP/2", "GET /a HTTP/1.1 x", "GET /a HTTP/",
		"GET /a  HTTP/1.0", "GET HTTP/1.1", "GET /a%20HTTP/1.1", "GET /a HTTP/1.", "GET /a HTTP/10", "-", "GET /"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, req []byte) {
		var got Record
		splitRequest(req, &got)
		var want Record
		if sp := bytes.IndexByte(req, ' '); sp > 0 && bytes.IndexFunc(req[:sp], func(c rune) bool { return c > 0x7f || !isWordByte(byte(c)) }) < 0 {
			rest := req[sp+1:]
			url := rest
			var version []byte
			if j := bytes.LastIndex(rest, []byte(" HTTP/")); j >= 0 && isVersion(rest[j+6:]) {
				url, version = rest[:j], rest[j+6:]
			}
			if len(url) > 0 {
				want.Method, want.URL, want.Version = req[:sp], url, version
			}
		}
		if !bytes.Equal(got.Method, want.Method) || !bytes.Equal(got.URL, want.URL) || !bytes.Equal(got.Version, want.Version) ||
			(got.Version == nil) != (want.Version == nil) {
			t.Fatalf("splitRequest(%q): method %q, url %q, version %q; want %q, %q, %q", req, got.Method, got.URL, got.Version, want.Method, want.URL, want.Version)
		}
	})
}

// FuzzIndexSpaceBracket holds indexSpaceBracket to its definition, bytes.Index.
func FuzzIndexSpaceBracket(f *testing.F) {
	for _, s := range []string{"", "[", " [", "a [", "a[ [", "[ [x", "1.2.3.4 - - [06/Dec/2026:10:00:00 +0000]", "a b c", "x[y [z"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		if got, want := indexSpaceBracket(line), bytes.Index(line, []byte(" [")); got != want {
			t.Fatalf("indexSpaceBracket(%q) = %d, want %d", line, got, want)
		}
	})
}
