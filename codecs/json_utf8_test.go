package codecs

import (
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/logpipe/logpipe/pipeline"
)

// encodedLog decodes the "log" object and the message of an encoded line event.
func encodedLog(t *testing.T, out []byte) (string, map[string]any) {
	t.Helper()
	var m struct {
		Message string         `json:"message"`
		Log     map[string]any `json:"log"`
	}
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("invalid JSON %q: %v", out, err)
	}
	return m.Message, m.Log
}

// A line with invalid UTF-8 is flagged and keeps its length as read; a valid line carries
// neither; a cut line with invalid bytes carries both flags.
func TestEncodeInvalidUTF8KeepsLength(t *testing.T) {
	enc := NewJSONEncoder(testAgent)
	cases := []struct {
		msg    string
		flags  pipeline.Flags
		want   []any
		length any
	}{
		{"plain é line", 0, nil, nil},
		{"bad \xff\xfe utf8 \xc3\x28", 0, []any{"invalid_utf8"}, float64(14)},
		{"bad \xff", pipeline.FlagInvalidUTF8, []any{"invalid_utf8"}, float64(5)},
		{"cut \xff", pipeline.FlagTruncated, []any{"truncated", "invalid_utf8"}, float64(5)},
		{"cut", pipeline.FlagTruncated, []any{"truncated"}, nil},
	}
	for _, c := range cases {
		e := lineEvent()
		e.Message, e.Flags = []byte(c.msg), c.flags
		msg, log := encodedLog(t, enc.Encode(nil, e))
		if !utf8.ValidString(msg) || msg != validUTF8(c.msg) {
			t.Errorf("%q: message %q", c.msg, msg)
		}
		if got := log["flags"]; !reflect.DeepEqual(got, c.want) && !(got == nil && c.want == nil) {
			t.Errorf("%q: log.flags = %v, want %v", c.msg, got, c.want)
		}
		if got := log["original_length"]; got != c.length {
			t.Errorf("%q: log.original_length = %v, want %v", c.msg, got, c.length)
		}
	}
}

// FuzzEncodeInvalidUTF8: every byte sequence gives valid JSON whose message is the line
// with invalid UTF-8 replaced, and whose log.original_length is the line's byte length
// exactly when something was replaced.
func FuzzEncodeInvalidUTF8(f *testing.F) {
	f.Add([]byte("ok"), uint8(0))
	f.Add([]byte("invalid \xff\xfe utf8 \xe2\x82 and é€😀 \u2028"), uint8(1))
	f.Add([]byte("\xed\xa0\x80 surrogate"), uint8(2))
	enc := NewJSONEncoder(testAgent)
	f.Fuzz(func(t *testing.T, line []byte, flags uint8) {
		e := lineEvent()
		e.Message = line
		e.Flags = pipeline.Flags(flags) & pipeline.FlagTruncated
		out := enc.Encode(nil, e)
		if !utf8.Valid(out) {
			t.Fatalf("output is not valid UTF-8: %q", out)
		}
		msg, log := encodedLog(t, out)
		if msg != validUTF8(string(line)) {
			t.Fatalf("message %q, want %q", msg, validUTF8(string(line)))
		}
		n, has := log["original_length"]
		if utf8.Valid(line) == has {
			t.Fatalf("line %q (valid %v): original_length present = %v", line, utf8.Valid(line), has)
		}
		if has && n != float64(len(line)) {
			t.Fatalf("original_length %v, want %d", n, len(line))
		}
	})
}
