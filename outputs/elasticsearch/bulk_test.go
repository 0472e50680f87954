package elasticsearch

import (
	"strings"
	"testing"
	"time"

	"github.com/logpipe/logpipe/codecs"
	"github.com/logpipe/logpipe/pipeline"
)

// bodyAgent is the agent of the line events the body builder encodes.
var bodyAgent = pipeline.Agent{Hostname: "web1", ID: "id", EphemeralID: "eid", Version: "0.1.0"}

func TestBodyBuilder(t *testing.T) {
	bb := newBodyBuilder(codecs.MustParseTemplate("logs-%{+YYYY.MM.dd}"), codecs.NewDocumentEncoder(bodyAgent))
	r := &request{}
	ack := &batchAck{}
	ts := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	evs := []pipeline.Event{
		{Timestamp: ts, ID: `a"b`, Doc: []byte(`{"m": 1}`)},
		{Timestamp: ts.Add(-time.Second), Topic: "kafka_test", Partition: 2, Offset: 9, Doc: []byte(`{}`)},
		{Timestamp: ts, Doc: []byte(`{"x":1}`)},
	}
	for i := range evs {
		bb.appendDoc(r, &evs[i], i, ack)
	}
	// An event without an id gets none: ids are the inputs' (the kafka input gives every
	// record one), never derived here.
	want := `{"create":{"_index":"logs-2026.11.21","_id":"a\"b"}}` + "\n" + `{"m": 1}` + "\n" +
		`{"create":{"_index":"logs-2026.11.20"}}` + "\n{}\n" +
		`{"create":{"_index":"logs-2026.11.21"}}` + "\n" + `{"x":1}` + "\n"
	if got := bodyOf(t, r); got != want {
		t.Fatalf("body\n%s\nwant\n%s", got, want)
	}
	if got := r.field(&r.docs[0], r.docs[0].idOff, r.docs[0].idLen); got != `a"b` {
		t.Errorf("id %q", got)
	}
	if got := r.field(&r.docs[1], r.docs[1].idxOff, r.docs[1].idxLen); got != "logs-2026.11.20" {
		t.Errorf("index %q", got)
	}
	if got := string(r.source(&r.docs[2])); got != `{"x":1}` {
		t.Errorf("source %q", got)
	}
	r.keep(func(i int) bool { return i != 1 })
	want2 := `{"create":{"_index":"logs-2026.11.21","_id":"a\"b"}}` + "\n" + `{"m": 1}` + "\n" +
		`{"create":{"_index":"logs-2026.11.21"}}` + "\n" + `{"x":1}` + "\n"
	if got := bodyOf(t, r); got != want2 || len(r.docs) != 2 || string(r.source(&r.docs[1])) != `{"x":1}` {
		t.Errorf("after keep:\n%s", got)
	}
	r.keep(func(i int) bool { return i == 1 })
	want3 := `{"create":{"_index":"logs-2026.11.21"}}` + "\n" + `{"x":1}` + "\n"
	if got := bodyOf(t, r); got != want3 {
		t.Errorf("after a second keep:\n%s", got)
	}
	r.keep(func(int) bool { return false })
	if got := bodyOf(t, r); got != "" {
		t.Errorf("after keeping nothing: %q", got)
	}
}

// bodyOf returns the NDJSON body r sends, after checking that r.size is its length.
func bodyOf(t *testing.T, r *request) string {
	t.Helper()
	var b strings.Builder
	for _, p := range r.appendPieces(nil) {
		b.Write(p)
	}
	if b.Len() != r.size {
		t.Fatalf("the body has %d bytes, size says %d:\n%s", b.Len(), r.size, b.String())
	}
	return b.String()
}

func TestDailyOnly(t *testing.T) {
	for tpl, want := range map[string]bool{
		"a-%{+YYYY.MM.dd}": true, "a-%{+yyyy-MM}": true, "a-%{+YYYY.MM.dd.HH}": false, "static": true,
	} {
		if got := dailyOnly(tpl); got != want {
			t.Errorf("dailyOnly(%q) = %v", tpl, got)
		}
	}
}

func TestClassify(t *testing.T) {
	e := func(typ string) *itemError { return &itemError{Type: typ} }
	cases := []struct {
		r    *itemResult
		want outcome
	}{
		{&itemResult{Status: 201}, outIndexed},
		{&itemResult{Status: 409, Error: e("version_conflict_engine_exception")}, outDuplicate},
		{&itemResult{Status: 409, Error: e("other")}, outReject},
		{&itemResult{Status: 429, Error: e("es_rejected_execution_exception")}, outRetry},
		{&itemResult{Status: 503}, outRetry},
		{&itemResult{Status: 400, Error: e("document_parsing_exception")}, outReject},
		{nil, outRetry},
		{&itemResult{Status: 403, Error: e("security_exception")}, outDenied},
		{&itemResult{Status: 401, Error: e("security_exception")}, outDenied},
		{&itemResult{Status: 403, Error: e("cluster_block_exception")}, outDenied},
		{&itemResult{Status: 429, Error: e("cluster_block_exception")}, outDenied},
		{&itemResult{Status: 404, Error: e("index_not_found_exception")}, outReject},
	}
	for _, c := range cases {
		if got := classify(c.r); got != c.want {
			t.Errorf("classify(%+v) = %v, want %v", c.r, got, c.want)
		}
	}
}

// Sources the output encodes (line events) stay in the body beside the action lines, and
// mix with documents the request points at, before and after keep.
func TestBodyBuilderLineEvents(t *testing.T) {
	bb := newBodyBuilder(codecs.MustParseTemplate("logs"), codecs.NewDocumentEncoder(bodyAgent))
	r := &request{}
	ts := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	evs := []pipeline.Event{
		{Timestamp: ts, Message: []byte("first")},
		{Timestamp: ts, Doc: []byte(`{"m":2}`)},
		{Timestamp: ts, Message: []byte("third")},
	}
	for i := range evs {
		bb.appendDoc(r, &evs[i], i, &batchAck{})
	}
	line := func(m string) string {
		return `{"create":{"_index":"logs"}}` + "\n" + `{"@timestamp":"2026-11-21T00:00:00.000Z","message":"` + m +
			`","log":{"offset":0},"input":{"type":"filestream"},"host":{"name":"web1"},"ecs":{"version":"8.0.0"},` +
			`"agent":{"type":"logpipe","version":"0.1.0","name":"web1","id":"id","ephemeral_id":"eid"}}` + "\n"
	}
	doc := `{"create":{"_index":"logs"}}` + "\n" + `{"m":2}` + "\n"
	if got, want := bodyOf(t, r), line("first")+doc+line("third"); got != want {
		t.Fatalf("body\n%s\nwant\n%s", got, want)
	}
	if got, want := string(r.source(&r.docs[2])), strings.TrimSuffix(strings.TrimPrefix(line("third"), `{"create":{"_index":"logs"}}`+"\n"), "\n"); got != want {
		t.Errorf("source %q, want %q", got, want)
	}
	r.keep(func(i int) bool { return i != 0 })
	if got, want := bodyOf(t, r), doc+line("third"); got != want {
		t.Fatalf("after keep:\n%s\nwant\n%s", got, want)
	}
	r.keep(func(i int) bool { return i != 0 })
	if got, want := bodyOf(t, r), line("third"); got != want {
		t.Fatalf("after a second keep:\n%s\nwant\n%s", got, want)
	}
}
