package codecs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/logpipe/logpipe/pipeline"
)

var testAgent = pipeline.Agent{Hostname: "web1", ID: "5b3c6a4e-0000-4000-8000-000000000001",
	EphemeralID: "9f1e2d3c-0000-4000-8000-000000000002", Version: "0.1.0"}

// decodeOrdered parses a JSON object and returns its top-level keys in order and its value.
func decodeOrdered(t *testing.T, b []byte) ([]string, map[string]any) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.Token()
	var keys []string
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var skip json.RawMessage
		dec.Decode(&skip)
	}
	return keys, m
}

func TestEncodeLineWireFormat(t *testing.T) {
	e := lineEvent()
	got := NewJSONEncoder(testAgent).Encode(nil, e)
	keys, m := decodeOrdered(t, got)
	wantKeys := []string{"@timestamp", "@metadata", "message", "log", "input", "host", "ecs", "agent"}
	if !reflect.DeepEqual(keys, wantKeys) {
		t.Errorf("keys %v, want %v", keys, wantKeys)
	}
	want := map[string]any{
		"@timestamp": "2026-11-21T07:16:26.746Z",
		"@metadata":  map[string]any{"beat": "logpipe", "type": "_doc", "version": "0.1.0", "_id": "0123456789abcdef0123-182"},
		"message":    string(e.Message),
		"log": map[string]any{"offset": 182.0, "file": map[string]any{"path": "/etc/httpd/logs/access_log",
			"device_id": "65024", "inode": "10028677", "fingerprint": strings.Repeat("ab", 32)}},
		"input": map[string]any{"type": "filestream"},
		"host":  map[string]any{"name": "web1"},
		"ecs":   map[string]any{"version": "8.0.0"},
		"agent": map[string]any{"type": "logpipe", "version": "0.1.0", "name": "web1",
			"id": testAgent.ID, "ephemeral_id": testAgent.EphemeralID},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got  %v\nwant %v", m, want)
	}
	// the exact bytes, so that field order inside objects is pinned too
	exact := `{"@timestamp":"2026-11-21T07:16:26.746Z","@metadata":{"beat":"logpipe","type":"_doc","version":"0.1.0","_id":"0123456789abcdef0123-182"},` +
		`"message":"127.0.0.1 - - [21/Nov/2026:07:16:26 +0000] \"GET / HTTP/1.1\" 200 45",` +
		`"log":{"offset":182,"file":{"path":"/etc/httpd/logs/access_log","device_id":"65024","inode":"10028677","fingerprint":"` + strings.Repeat("ab", 32) + `"}},` +
		`"input":{"type":"filestream"},"host":{"name":"web1"},"ecs":{"version":"8.0.0"},` +
		`"agent":{"type":"logpipe","version":"0.1.0","name":"web1","id":"` + testAgent.ID + `","ephemeral_id":"` + testAgent.EphemeralID + `"}}`
	if string(got) != exact {
		t.Errorf("got\n%s\nwant\n%s", got, exact)
	}
}

func TestEncodeLineVariants(t *testing.T) {
	enc := NewJSONEncoder(testAgent)
	e := lineEvent()
	e.ID = "explicit-id"
	e.Flags = pipeline.FlagTruncated
	e.File.Fingerprint = ""
	_, m := decodeOrdered(t, enc.Encode(nil, e))
	if id := m["@metadata"].(map[string]any)["_id"]; id != "explicit-id" {
		t.Errorf("_id = %v", id)
	}
	log := m["log"].(map[string]any)
	if !reflect.DeepEqual(log["flags"], []any{"truncated"}) {
		t.Errorf("log.flags = %v", log["flags"])
	}
	if _, ok := log["file"].(map[string]any)["fingerprint"]; ok {
		t.Error("empty fingerprint written")
	}
	// no origin, no id
	bare := &pipeline.Event{Timestamp: tsSample, Message: []byte("x")}
	_, m = decodeOrdered(t, enc.Encode(nil, bare))
	if _, ok := m["@metadata"].(map[string]any)["_id"]; ok {
		t.Error("_id written for an event without origin")
	}
	if _, ok := m["log"].(map[string]any)["file"]; ok {
		t.Error("log.file written for an event without origin")
	}
	// without metadata
	for _, got := range [][]byte{NewDocumentEncoder(testAgent).Encode(nil, lineEvent())} {
		keys, _ := decodeOrdered(t, got)
		if !reflect.DeepEqual(keys, []string{"@timestamp", "message", "log", "input", "host", "ecs", "agent"}) {
			t.Errorf("document keys %v", keys)
		}
		withMeta := enc.Encode(nil, lineEvent())
		if string(RemoveMember(withMeta, "@metadata")) != string(got) {
			t.Errorf("document differs from the wire format without @metadata:\n%s\n%s", got, withMeta)
		}
	}
}

func TestEncodeDocument(t *testing.T) {
	enc := NewJSONEncoder(testAgent)
	cases := []struct{ doc, id, want string }{
		{`{"a":1}`, "", `{"a":1}`},
		{`{"a":1}`, "x-1", `{"@metadata":{"beat":"logpipe","type":"_doc","version":"0.1.0","_id":"x-1"},"a":1}`},
		{` { } `, "x-1", `{"@metadata":{"beat":"logpipe","type":"_doc","version":"0.1.0","_id":"x-1"}} `},
	}
	for _, c := range cases {
		e := &pipeline.Event{Doc: []byte(c.doc), ID: c.id}
		if got := string(enc.Encode(nil, e)); got != c.want {
			t.Errorf("Encode(%s, %q) = %s, want %s", c.doc, c.id, got, c.want)
		}
		if got := string(NewDocumentEncoder(testAgent).Encode(nil, e)); got != c.doc {
			t.Errorf("document encoder wrote %s", got)
		}
	}
}

// TestRoundTrip: what the shipper writes, the indexer reads back with the same id and time.
func TestRoundTrip(t *testing.T) {
	e := lineEvent()
	wire := NewJSONEncoder(testAgent).Encode(nil, e)
	var d pipeline.Event
	doc := NewJSONDecoder().Decode(nil, wire, time.Unix(0, 0), &d)
	if d.ID != "0123456789abcdef0123-182" {
		t.Errorf("ID = %q", d.ID)
	}
	if !d.Timestamp.Equal(tsSample.Truncate(time.Millisecond)) {
		t.Errorf("Timestamp = %v", d.Timestamp)
	}
	if !bytes.HasPrefix(doc, d.Doc) || string(d.Doc) != string(NewDocumentEncoder(testAgent).Encode(nil, e)) {
		t.Errorf("Doc = %s", d.Doc)
	}
	// and the re-encoded document event carries the id again
	again := NewJSONEncoder(testAgent).Encode(nil, &d)
	var d2 pipeline.Event
	NewJSONDecoder().Decode(nil, again, time.Unix(0, 0), &d2)
	if d2.ID != d.ID || string(d2.Doc) != string(d.Doc) {
		t.Errorf("second round trip: %q %s", d2.ID, d2.Doc)
	}
}

func TestDecode(t *testing.T) {
	rt := time.Date(2026, 11, 22, 1, 2, 3, 4000000, time.UTC)
	cases := []struct {
		name, in string
		id       string
		ts       time.Time
		want     string
	}{
		{"filebeat", `{"@timestamp":"2026-11-21T07:16:26.746Z","@metadata":{"beat":"filebeat","type":"_doc","version":"9.1.0"},"message":"m"}`,
			"", tsSample.Truncate(time.Millisecond), `{"@timestamp":"2026-11-21T07:16:26.746Z","message":"m"}`},
		{"metadata last", `{"message":"m", "@timestamp":"2026-11-21T08:16:26.746+01:00" , "@metadata":{"_id":"a\u002db"}}`,
			"a-b", tsSample.Truncate(time.Millisecond), `{"message":"m","@timestamp":"2026-11-21T08:16:26.746+01:00"}`},
		{"metadata id not first, first _id wins, escaped key", `{"@metadata":{"beat":"b","\u005fid":"x","_id":"y","o":{"_id":"z"}},"message":"m"}`,
			"x", rt, `{"message":"m","@timestamp":"2026-11-22T01:02:03.004Z"}`},
		{"two metadata members, the last id wins", `{"@metadata":{"_id":"x"},"@metadata":{"_id":"y"},"@metadata":{"beat":"b"}}`,
			"y", rt, `{"@timestamp":"2026-11-22T01:02:03.004Z"}`},
		{"metadata not an object", `{"@metadata":"x","message":"m"}`, "", rt, `{"message":"m","@timestamp":"2026-11-22T01:02:03.004Z"}`},
		{"metadata id not a string", `{"@metadata":{"_id":7},"message":"m"}`, "", rt, `{"message":"m","@timestamp":"2026-11-22T01:02:03.004Z"}`},
		{"metadata malformed", `{"@metadata":{"_id":"x",},"message":"m"}`, "", rt,
			`{"@timestamp":"2026-11-22T01:02:03.004Z","message":"{\"@metadata\":{\"_id\":\"x\",},\"message\":\"m\"}","tags":["_jsonparsefailure"]}`},
		{"metadata truncated", `{"@metadata":`, "", rt,
			`{"@timestamp":"2026-11-22T01:02:03.004Z","message":"{\"@metadata\":","tags":["_jsonparsefailure"]}`},
		{"metadata unterminated", `{"@metadata":{"_id":"x"`, "", rt,
			`{"@timestamp":"2026-11-22T01:02:03.004Z","message":"{\"@metadata\":{\"_id\":\"x\"","tags":["_jsonparsefailure"]}`},
		{"no timestamp", `{"message":"m"}`, "", rt, `{"message":"m","@timestamp":"2026-11-22T01:02:03.004Z"}`},
		{"empty object", `{}`, "", rt, `{"@timestamp":"2026-11-22T01:02:03.004Z"}`},
		{"epoch millis", `{"@timestamp":1795245386746}`, "", tsSample.Truncate(time.Millisecond), `{"@timestamp":"2026-11-21T07:16:26.746Z"}`},
		{"bad timestamp", `{"@timestamp":"yesterday","message":"m"}`, "", rt,
			`{"_@timestamp":"yesterday","message":"m","@timestamp":"2026-11-22T01:02:03.004Z","tags":["_timestampparsefailure"]}`},
		{"duplicate timestamp", `{"@timestamp":"2026-11-21T07:16:26.746Z","@timestamp":"x"}`, "", tsSample.Truncate(time.Millisecond), `{"@timestamp":"2026-11-21T07:16:26.746Z"}`},
		{"pretty", "{\r\n  \"message\": \"m\",\n  \"@metadata\": {\"_id\": \"i\"}\n}\n", "i", rt, `{"message": "m","@timestamp":"2026-11-22T01:02:03.004Z"}`},
		{"raw newline in string", "{\"message\": \"a\nb\"}", "", rt, `{"@timestamp":"2026-11-22T01:02:03.004Z","message":"{\"message\": \"a\nb\"}","tags":["_jsonparsefailure"]}`},
		{"not json", `GET / HTTP/1.1`, "", rt, `{"@timestamp":"2026-11-22T01:02:03.004Z","message":"GET / HTTP/1.1","tags":["_jsonparsefailure"]}`},
		{"array", `[1,2]`, "", rt, `{"@timestamp":"2026-11-22T01:02:03.004Z","message":"[1,2]","tags":["_jsonparsefailure"]}`},
		{"truncated", `{"message":"m"`, "", rt, `{"@timestamp":"2026-11-22T01:02:03.004Z","message":"{\"message\":\"m\"","tags":["_jsonparsefailure"]}`},
		{"empty", ``, "", rt, `{"@timestamp":"2026-11-22T01:02:03.004Z","message":"","tags":["_jsonparsefailure"]}`},
		{"invalid utf8 in json", "{\"message\":\"a\xffb\"}", "", rt, "{\"message\":\"a\uFFFDb\",\"@timestamp\":\"2026-11-22T01:02:03.004Z\"}"},
		{"invalid utf8 raw", "a\xffb", "", rt, "{\"@timestamp\":\"2026-11-22T01:02:03.004Z\",\"message\":\"a\uFFFDb\",\"tags\":[\"_jsonparsefailure\"]}"},
	}
	dec := NewJSONDecoder()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := pipeline.Event{ID: "stale"}
			out := dec.Decode([]byte("prefix"), []byte(c.in), rt, &e)
			if string(out[:6]) != "prefix" || string(out[6:]) != string(e.Doc)+string(e.Top) {
				t.Errorf("returned %q, Doc %q, Top %q", out, e.Doc, e.Top)
			}
			checkTopIndex(t, &e)
			if string(e.Doc) != c.want {
				t.Errorf("Doc\n got %s\nwant %s", e.Doc, c.want)
			}
			if e.ID != c.id {
				t.Errorf("ID = %q, want %q", e.ID, c.id)
			}
			if !e.Timestamp.Equal(c.ts) {
				t.Errorf("Timestamp = %v, want %v", e.Timestamp, c.ts)
			}
			if !json.Valid(e.Doc) || !utf8.Valid(e.Doc) {
				t.Errorf("Doc is not valid UTF-8 JSON: %q", e.Doc)
			}
		})
	}
}

func TestLineCodec(t *testing.T) {
	var enc LineEncoder
	e := lineEvent()
	e.Message = []byte("raw \xff bytes")
	if got := string(enc.Encode(nil, e)); got != "raw \xff bytes\n" {
		t.Errorf("line event: %q", got)
	}
	for doc, want := range map[string]string{
		`{"message":"a\tb\u00e9"}`: "a\tbé\n",
		`{"message":5}`:            "{\"message\":5}\n",
		`{"other":1}`:              "{\"other\":1}\n",
	} {
		if got := string(enc.Encode(nil, &pipeline.Event{Doc: []byte(doc)})); got != want {
			t.Errorf("%s: %q, want %q", doc, got, want)
		}
	}
	var d pipeline.Event
	LineDecoder{}.Decode(nil, []byte("plain text"), tsSample, &d)
	if string(d.Doc) != `{"@timestamp":"2026-11-21T07:16:26.746Z","message":"plain text"}` {
		t.Errorf("line decoder: %s", d.Doc)
	}
}

func TestRegister(t *testing.T) {
	r := pipeline.NewRegistry()
	Register(r)
	if got := r.Names("codec"); !reflect.DeepEqual(got, []string{"json", "line", "rubydebug"}) {
		t.Fatalf("codecs %v", got)
	}
	for _, n := range []string{"json", "line", "rubydebug"} {
		c, _ := r.Codec(n)
		if out := c.NewEncoder(testAgent).Encode(nil, lineEvent()); len(out) == 0 {
			t.Errorf("%s encoder wrote nothing", n)
		}
	}
	c, _ := r.Codec("json")
	var e pipeline.Event
	c.NewDecoder().Decode(nil, []byte(`{"a":1}`), tsSample, &e)
	if string(e.Doc) != `{"a":1,"@timestamp":"2026-11-21T07:16:26.746Z"}` {
		t.Errorf("decoder: %s", e.Doc)
	}
}

func TestEncodeLineNoAlloc(t *testing.T) {
	enc := NewJSONEncoder(testAgent)
	e := lineEvent()
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { buf = enc.Encode(buf[:0], e) }); n != 0 {
		t.Errorf("Encode allocates %v times per event", n)
	}
	doc := NewDocumentEncoder(testAgent)
	if n := testing.AllocsPerRun(100, func() { buf = doc.Encode(buf[:0], e) }); n != 0 {
		t.Errorf("the document encoder allocates %v times per event", n)
	}
}

func FuzzEncode(f *testing.F) {
	f.Add([]byte(`127.0.0.1 - - [21/Nov/2026:07:16:26 +0000] "GET / HTTP/1.1" 200 45`))
	f.Add([]byte("tab\there \"quoted\" back\\slash \x00\x1f\x7f"))
	f.Add([]byte("invalid \xff\xfe utf8 \xe2\x82 and é€😀 \u2028"))
	f.Add([]byte{})
	enc, doc := NewJSONEncoder(testAgent), NewDocumentEncoder(testAgent)
	f.Fuzz(func(t *testing.T, line []byte) {
		e := lineEvent()
		e.Message = line
		out := enc.Encode(nil, e)
		for _, b := range [][]byte{out, doc.Encode(nil, e)} {
			if bytes.ContainsAny(b, "\r\n") {
				t.Fatalf("a line break in the encoding of %q: %q", line, b) // NDJSON needs one line
			}
		}
		var m struct {
			Message string `json:"message"`
		}
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("invalid JSON for %q: %v\n%s", line, err, out)
		}
		if !utf8.Valid(out) {
			t.Fatalf("output is not valid UTF-8: %q", out)
		}
		if want := validUTF8(string(line)); m.Message != want {
			t.Fatalf("message %q, want %q", m.Message, want)
		}
		if !ValidObject(out) {
			t.Fatalf("ValidObject rejects %s", out)
		}
	})
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"@timestamp":"2026-11-21T07:16:26.746Z","@metadata":{"_id":"x"},"message":"m"}`))
	f.Add([]byte(`{"@timestamp":"bad","tags":"t"}`))
	f.Add([]byte(`{"@timestamp":17952453867460000000000}`))
	f.Add([]byte("{\"message\":\"\xff\"}"))
	f.Add([]byte(`not json`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"@metadata":{"beat":"b","_id":"x","o":{"_id":[1,{"a":null}]}},"@metadata":`))
	dec := NewJSONDecoder()
	f.Fuzz(func(t *testing.T, msg []byte) {
		var e pipeline.Event
		out := dec.Decode(nil, msg, tsSample, &e)
		if !bytes.Equal(out, append(slices.Clip(e.Doc), e.Top...)) {
			t.Fatalf("Doc and Top are not the appended bytes")
		}
		checkTopIndex(t, &e)
		var m map[string]any
		if err := json.Unmarshal(e.Doc, &m); err != nil {
			t.Fatalf("Decode(%q) = %s: %v", msg, e.Doc, err)
		}
		if !utf8.Valid(e.Doc) {
			t.Fatalf("Decode(%q) is not valid UTF-8: %q", msg, e.Doc)
		}
		if _, ok := m["@metadata"]; ok {
			t.Fatalf("@metadata kept: %s", e.Doc)
		}
		if _, ok := m["@timestamp"]; !ok {
			t.Fatalf("no @timestamp: %s", e.Doc)
		}
		if bytes.ContainsAny(e.Doc, "\r\n") {
			t.Fatalf("Doc is not one line: %q", e.Doc)
		}
		// the rubydebug view of any decoded document works too
		NewRubydebugEncoder(testAgent).Encode(nil, &e)
	})
}

func BenchmarkEncodeLine(b *testing.B) {
	enc := NewJSONEncoder(testAgent)
	e := lineEvent()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = enc.Encode(buf[:0], e)
	}
	b.SetBytes(int64(len(e.Message)))
}

func BenchmarkDecode(b *testing.B) {
	benchDecodeWire(b, NewJSONEncoder(testAgent).Encode(nil, lineEvent()))
}

func BenchmarkLookup(b *testing.B) {
	doc := NewDocumentEncoder(testAgent).Encode(nil, lineEvent())
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := Lookup(doc, "log", "file", "path"); !ok {
			b.Fatal("not found")
		}
	}
}

// TestRealApacheLines runs the 10,000 real access lines (the repository's copy of the shared
// test data, see codecs/apache/testdata/SOURCES.md) through the encoder and both decoders
// (encoding/json and ours).
func TestRealApacheLines(t *testing.T) {
	data, err := os.ReadFile("apache/testdata/elastic-examples-apache_logs.log")
	if err != nil {
		t.Fatal(err)
	}
	enc := NewJSONEncoder(testAgent)
	dec := NewJSONDecoder()
	var buf, doc []byte
	e := lineEvent()
	n := 0
	for line := range bytes.Lines(data) {
		line = bytes.TrimRight(line, "\r\n")
		e.Message = line
		e.Offset += int64(len(line)) + 1
		e.ID = string(pipeline.AppendEventID(nil, "0123456789abcdef0123", e.Offset))
		buf = enc.Encode(buf[:0], e)
		var m struct {
			Message string `json:"message"`
		}
		if err := json.Unmarshal(buf, &m); err != nil || m.Message != validUTF8(string(line)) {
			t.Fatalf("line %d: %v, message %q", n, err, m.Message)
		}
		var d pipeline.Event
		doc = dec.Decode(doc[:0], buf, time.Time{}, &d)
		raw, _ := Lookup(d.Doc, "message")
		if s, err := AppendUnquoted(nil, raw); err != nil || string(s) != validUTF8(string(line)) {
			t.Fatalf("line %d: decoded message %q (%v)", n, s, err)
		}
		if want := e.ID; d.ID != want {
			t.Fatalf("line %d: id %q, want %q", n, d.ID, want)
		}
		if d.Top == nil {
			t.Fatalf("line %d: no index of the members", n)
		}
		checkTopIndex(t, &d)
		n++
	}
	if n < 10000 {
		t.Errorf("only %d lines", n)
	}
}

// The ids the decoder hands out share buffers (one allocation per few kilobytes of ids, not
// one per event) and stay intact while later records are decoded.
func TestDecodeIDsShareBuffers(t *testing.T) {
	dec := NewJSONDecoder()
	var buf []byte
	const n = 5000
	evs := make([]pipeline.Event, n)
	// Every third id has escapes (decoded into the shared buffer), every seventh is empty
	// (no id): neither may disturb the ids handed out before.
	wire := func(i int) []byte {
		switch {
		case i%7 == 0:
			return []byte(`{"@metadata":{"_id":""},"message":"m"}`)
		case i%3 == 0:
			return fmt.Appendf(nil, `{"@metadata":{"_id":"host\u002d%d\u002doffset-%d"},"message":"m"}`, i, i*100)
		}
		return fmt.Appendf(nil, `{"@timestamp":"2026-11-21T07:16:26.746Z","@metadata":{"_id":"host-%d-offset-%d"},"message":"m"}`, i, i*100)
	}
	for i := range evs {
		buf = dec.Decode(buf[:0], wire(i), tsSample, &evs[i])
	}
	for i := range evs {
		want := fmt.Sprintf("host-%d-offset-%d", i, i*100)
		if i%7 == 0 {
			want = ""
		}
		if evs[i].ID != want {
			t.Fatalf("event %d: id %q, want %q", i, evs[i].ID, want)
		}
	}
	msg := wire(7)
	var e pipeline.Event
	allocs := testing.AllocsPerRun(1000, func() {
		buf = dec.Decode(buf[:0], msg, tsSample, &e)
	})
	if allocs > 0.1 {
		t.Errorf("%v allocations per decoded record, want the ids to share buffers", allocs)
	}
}

// TestDecoderMemoryBounded: what a decoder keeps of the records it checked (JSONDecoder.value,
// metadataID) stays within seenMax bytes per object and key, whatever the records hold: long
// keys, long objects, objects inside objects.
func TestDecoderMemoryBounded(t *testing.T) {
	long := strings.Repeat("k", 64*seenMax)
	var b strings.Builder
	b.WriteString(`{"@metadata":{"` + long + `":1,"_id":"x"}`)
	for i := range seenMembers + 2 {
		fmt.Fprintf(&b, `,"%s%d":{"a":{"%s":1},"b":{"c":"%s"},"c":{},"d":{},"e":{}}`, long, i, long, long)
		fmt.Fprintf(&b, `,"m%d":{"a":{"x":1}}`, i)
	}
	b.WriteString("}")
	d := NewJSONDecoder()
	var e pipeline.Event
	for range 3 {
		d.Decode(nil, []byte(b.String()), tsSample, &e)
	}
	kept := cap(d.meta)
	for _, s := range d.seen {
		kept += cap(s.whole) + cap(s.key)
		for _, n := range s.nested {
			kept += cap(n)
		}
	}
	if max := seenMembers*(seenNested+2)*seenMax + metaMax; kept > max {
		t.Errorf("the decoder keeps %d bytes of the records it checked, want at most %d", kept, max)
	}
}

// FuzzDecodeAfter holds a decoder that decoded the records of prev first (separated by NUL
// bytes), and so may reuse its checks of their objects and of the objects inside them
// (JSONDecoder.value), to a fresh decoder: msg must decode to the same bytes, id and time,
// whatever prev held at the same positions (the same object, a prefix of it, the same bytes
// followed by more, a malformed one, another member).
func FuzzDecodeAfter(f *testing.F) {
	obj := `{"type":"logpipe","name":"web1"}`
	for _, s := range [][2]string{
		{`{"agent":` + obj + `}`, `{"agent":` + obj + `}`},
		{`{"agent":` + obj + `}`, `{"agent":` + obj + `x}`},
		{`{"agent":` + obj + `}`, `{"agent":` + obj + `,"b":2}`},
		{`{"agent":` + obj + `}`, `{"agent":` + obj[:len(obj)-1]},
		{`{"agent":` + obj + `}`, `{"agent":{"type":"logpipe","name":"web12"}}`},
		{`{"agent":{"a":1}}`, `{"agent":{"a":1} }`},
		{`{"agent":{"a":12}}`, `{"agent":{"a":1}}`},
		{`{"@metadata":{"_id":"x"},"agent":` + obj + `}`, `{"@metadata":{"_id":"y"},"agent":` + obj + `}`},
		{`{"a":{"b":{"c":{}}}}`, "{\"a\":{\"b\":{\"c\":{}}}}\n"},
		{`{"log":{"offset":1,"file":{"path":"/a"}}}`, `{"log":{"offset":2,"file":{"path":"/a"}}}`},
		{`{"log":{"offset":1,"file":{"path":"/a"}}}`, `{"log":{"offset":2,"file":{"path":"/a"}x}}`},
		{`{"log":{"offset":1,"file":{"path":"/a"}}}`, `{"log":{"offset":2,"file":{"path":"/a"},}}`},
		{`{"log":{"file":{}}}`, `{"log":{"file":{},"x":[1,{"a":{}}]}}`},
		// The objects inside a top-level object, remembered by position (see value).
		{`{"log":{"offset":1,"file":{"path":"/a"}}}`, `{"log":{"offset":2,"file":{"path":"/b"}}}`},
		{`{"log":{"offset":1,"file":{"path":"/a"}}}`, `{"log":{"offset":2,"file":{"path":"/ab"}}}`},
		{`{"log":{"offset":1,"file":{"path":"/a"}}}`, `{"log":{"offset":2,"file":{"path":"/a"]}}`},
		{`{"log":{"offset":1,"file":{"path":"/a"}}}`, `{"log":{"offset":2,"file":{"path":"/a"}}x}`},
		{`{"log":{"offset":1,"file":{"path":"/a"}}}`, `{"log":{"offset":2,"file":{"path":"/a"},"file":{"path":"/a"}`},
		{`{"log":{"offset":1,"file":{"path":"/a"}}}`, `{"log":{"file":{"path":"/a"},"offset":2}}`},
		{`{"log":{"offset":1,"file":{"path":"/a"}}}`, `{"log":{"offset":2,"file" : {"path":"/a"} }}`},
		{`{"log":{"o":1,"f":{"a":{"b":1}}}}`, `{"log":{"o":2,"f":{"a":{"b":1}}}}`},
		{"{\"log\":{\"o\":1}}\x00{\"log\":{\"o\":2}}", `{"log":{"o":3,"file":{"path":"/a"}}}`},
		{"{\"input\":{\"t\":1}}\x00{\"input\":{\"t\":2}}", `{"log":{"o":3,"file":{"path":"/a"}}}`},
		{"{\"log\":{\"o\":1,\"f\":{}}}\x00{\"log\":{\"o\":2}}", `{"log":{"o":3,"f":{}}}`},
		{`{"l":{"a":1,"b":2,"c":3,"d":4,"e":{"x":1}}}`, `{"l":{"a":1,"b":2,"c":3,"d":4,"e":{"x":1},"f":0}}`},
		// The start of @metadata up to the id's value, remembered (see metadataID).
		{`{"@metadata":{"beat":"b","_id":"x"}}`, `{"@metadata":{"beat":"b","_id":"y"}}`},
		{`{"@metadata":{"_id":"x"}}`, `{"@metadata":{"_id": "y" }}`},
		{`{"@metadata":{"_id": "x"}}`, `{"@metadata":{"_id":"y"}}`},
		{`{"@metadata":{"_id":"x"}}`, `{"@metadata":{"_id":7}}`},
		{`{"@metadata":{"_id":"x"}}`, `{"@metadata":{"_id":""}}`},
		{`{"@metadata":{"_id":"x"}}`, `{"@metadata":{"_id":"y",}}`},
		{`{"@metadata":{"_id":"x"}}`, `{"@metadata":{"_id":"y`},
		{`{"@metadata":{"_id":"x"}}`, `{"@metadata":{"_id":"y","_id":"z"},"@metadata":{"_id":"w"}}`},
		{`{"@metadata":{"\u005fid":"x"}}`, `{"@metadata":{"\u005fid":"y","_id":"z"}}`},
		{`{"@metadata":{"o":{"_id":"z"},"_id":"x"}}`, `{"@metadata":{"o":{"_id":"z"},"_id":"x\"y"}}`},
		{`{"@metadata":{"a":1,"_id":"x"}}`, `{"@metadata":{"a":12,"_id":"x"}}`},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, prev, msg []byte) {
		warm := NewJSONDecoder()
		var pe pipeline.Event
		for p := range bytes.SplitSeq(prev, []byte{0}) {
			warm.Decode(nil, p, tsSample, &pe)
		}
		var got, want pipeline.Event
		out := warm.Decode(nil, msg, tsSample, &got)
		ref := NewJSONDecoder().Decode(nil, msg, tsSample, &want)
		if !bytes.Equal(out, ref) || got.ID != want.ID || !got.Timestamp.Equal(want.Timestamp) {
			t.Fatalf("after %q, Decode(%q) = %q (id %q); a fresh decoder gives %q (id %q)", prev, msg, out, got.ID, ref, want.ID)
		}
		// Whether the record is a JSON object at all is ValidObject's to say (skipValue over
		// the whole record, no memory of earlier records): a remembered object must never
		// turn a malformed record into a document, nor a well-formed one into a failure.
		if utf8.Valid(msg) && !bytes.ContainsAny(msg, "\r\n") && !bytes.Contains(msg, []byte("_jsonparsefailure")) {
			failed := bytes.HasSuffix(got.Doc, []byte(`"tags":["_jsonparsefailure"]}`))
			if failed == ValidObject(msg) {
				t.Fatalf("after %q, Decode(%q) = %q: parse failure %v, ValidObject %v", prev, msg, got.Doc, failed, ValidObject(msg))
			}
		}
	})
}
