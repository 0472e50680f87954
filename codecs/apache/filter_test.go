package apache

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logpipe/logpipe/codecs"
	"github.com/logpipe/logpipe/pipeline"
	"github.com/logpipe/logpipe/pipeline/filters/filtertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// wireDoc returns a document as logpipe's shipper (and Filebeat) writes it, without
// @metadata, holding line as its message.
func wireDoc(line string, extra string) []byte {
	msg, _ := json.Marshal(line)
	return []byte(`{"@timestamp":"2026-11-21T07:16:26.746Z","message":` + string(msg) +
		`,"log":{"offset":182,"file":{"path":"/etc/httpd/logs/access_log"}},"input":{"type":"filestream"},` +
		`"host":{"name":"web1"},"ecs":{"version":"8.0.0"}` + extra + `}`)
}

func newFilter(t testing.TB, c *Config) *Filter {
	t.Helper()
	f, err := New(c, pipeline.Stage{Kind: "filter", Type: "apache", Name: "test", Log: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// checkNoDuplicates fails when any object in doc has the same key twice.
func checkNoDuplicates(t *testing.T, doc []byte) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(doc))
	type frame struct {
		obj    bool
		keys   map[string]bool
		expKey bool
	}
	var stack []*frame
	for {
		tok, err := d.Token()
		if err != nil {
			if err.Error() == "EOF" {
				return
			}
			t.Fatalf("invalid JSON %s: %v", doc, err)
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top != nil && top.obj {
					top.expKey = true
				}
				stack = append(stack, &frame{obj: v == '{', keys: map[string]bool{}, expKey: true})
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		case string:
			if top != nil && top.obj && top.expKey {
				if top.keys[v] {
					t.Fatalf("duplicate key %q in %s", v, doc)
				}
				top.keys[v] = true
				top.expKey = false
				continue
			}
		}
		if top != nil && top.obj {
			top.expKey = true
		}
	}
}

func decode(t *testing.T, doc []byte) map[string]any {
	t.Helper()
	checkNoDuplicates(t, doc)
	var v map[string]any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("invalid JSON %s: %v", doc, err)
	}
	out := map[string]any{}
	flatten("", v, out)
	return out
}

const combinedLine = `192.168.33.1 - - [26/Dec/2016:16:22:13 +0000] "GET /hello.html?a=%22b%22 HTTP/1.1" 404 499 "-" "Mozilla/5.0 \"quoted\""`

func TestFilterDocumentEvent(t *testing.T) {
	f := newFilter(t, DefaultConfig())
	doc := wireDoc(combinedLine, `,"event":{"original":"x"},"tags":["kept"]`)
	orig := append([]byte(nil), doc...)
	b := pipeline.NewBatch("t/0", []pipeline.Event{{Doc: doc, ID: "id1", Partition: 0, Timestamp: time.Unix(1, 0)}}, nil)
	f.Process(b)
	if !bytes.Equal(doc, orig) {
		t.Fatalf("the input document was modified in place")
	}
	if b.Len() != 1 {
		t.Fatalf("%d events", b.Len())
	}
	e := b.Events[0]
	got := decode(t, e.Doc)
	want := map[string]any{
		"@timestamp":                "2016-12-26T16:22:13.000Z",
		"event.created":             "2026-11-21T07:16:26.746Z",
		"event.original":            "x",
		"event.kind":                "event",
		"event.category":            "web",
		"event.outcome":             "failure",
		"event.dataset":             "apache.access",
		"message":                   combinedLine,
		"host.name":                 "web1",
		"log.offset":                float64(182),
		"source.address":            "192.168.33.1",
		"source.ip":                 "192.168.33.1",
		"http.request.method":       "GET",
		"http.response.status_code": float64(404),
		"http.response.body.bytes":  float64(499),
		"url.path":                  "/hello.html",
		"url.query":                 `a="b"`,
		"url.extension":             "html",
		"user_agent.original":       `Mozilla/5.0 \"quoted\"`,
	}
	for k, v := range want {
		if fmt.Sprint(got[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	if fmt.Sprint(got["tags"]) != "[kept]" {
		t.Errorf("tags = %v", got["tags"])
	}
	if !e.Timestamp.Equal(time.Date(2016, 12, 26, 16, 22, 13, 0, time.UTC)) || e.ID != "id1" {
		t.Errorf("event timestamp %v id %q", e.Timestamp, e.ID)
	}
	if cap(e.Doc) != len(e.Doc) {
		t.Errorf("Doc has spare capacity %d: appending to it would overwrite the next document", cap(e.Doc)-len(e.Doc))
	}
}

func TestFilterMergesExistingObjects(t *testing.T) {
	f := newFilter(t, DefaultConfig())
	// Objects the filter also writes already exist, one of them not as an object.
	doc := []byte(` { "message" : "vh:8080 10.1.2.3 - bob [26/Dec/2016:16:22:13 +0100] \"GET / HTTP/1.1\" 200 1",` +
		` "http":{"x":1}, "url":"old", "destination":{"ip":"10.0.0.1"} } `)
	b := pipeline.NewBatch("t/0", []pipeline.Event{{Doc: doc}}, nil)
	f.Process(b)
	got := decode(t, b.Events[0].Doc)
	for k, v := range map[string]any{
		"http.x": float64(1), "http.request.method": "GET", "url.path": "/", "url.domain": "vh",
		"destination.ip": "10.0.0.1", "destination.domain": "vh", "destination.port": float64(8080),
		"source.ip": "10.1.2.3", "user.name": "bob", "@timestamp": "2016-12-26T15:22:13.000Z",
	} {
		if fmt.Sprint(got[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	if _, ok := got["event.created"]; ok {
		// no @timestamp in the document: event.created comes from the event's timestamp
	} else {
		t.Errorf("event.created missing: %v", got)
	}
}

func TestFilterFailureTag(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	f, err := New(DefaultConfig(), pipeline.Stage{Log: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	docs := [][]byte{
		wireDoc("not an access line", ""),
		wireDoc("not an access line", `,"tags":["a"]`),
		[]byte(`{"other":"field"}`),
		[]byte(`{"message":42}`),
	}
	var evs []pipeline.Event
	for _, d := range docs {
		evs = append(evs, pipeline.Event{Doc: d})
	}
	b := pipeline.NewBatch("t/0", evs, nil)
	f.Process(b)
	if b.Len() != len(docs) || f.Failed() != uint64(len(docs)) {
		t.Fatalf("%d events, %d failed", b.Len(), f.Failed())
	}
	// Only the first failure is logged, with a sample.
	if logs.Len() != 1 || !strings.Contains(fmt.Sprint(logs.All()[0].ContextMap()["sample"]), "not an access line") {
		t.Errorf("logged %d entries: %v", logs.Len(), logs.All())
	}
	wantTags := []string{"[_apache_parse_failure]", "[a _apache_parse_failure]", "[_apache_parse_failure]", "[_apache_parse_failure]"}
	for i, e := range b.Events {
		got := decode(t, e.Doc)
		if fmt.Sprint(got["tags"]) != wantTags[i] {
			t.Errorf("event %d: tags = %v, want %s", i, got["tags"], wantTags[i])
		}
		// Unchanged otherwise.
		noTags := codecs.RemoveMember(append([]byte(nil), e.Doc...), "tags")
		origNoTags := codecs.RemoveMember(append([]byte(nil), docs[i]...), "tags")
		if !bytes.Equal(noTags, origNoTags) {
			t.Errorf("event %d changed: %s", i, e.Doc)
		}
	}
}

func TestFilterDrop(t *testing.T) {
	c := DefaultConfig()
	c.OnFailure = "drop"
	f := newFilter(t, c)
	b := pipeline.NewBatch("t/0", []pipeline.Event{
		{Doc: wireDoc("garbage", ""), Offset: 1},
		{Doc: wireDoc(combinedLine, ""), Offset: 2},
		{Doc: wireDoc("garbage", ""), Offset: 3},
		{Doc: wireDoc(combinedLine, ""), Offset: 4},
	}, nil)
	f.Process(b)
	if b.Len() != 2 || b.Events[0].Offset != 2 || b.Events[1].Offset != 4 {
		t.Fatalf("kept %+v", b.Events)
	}
	for _, e := range b.Events {
		if got := decode(t, e.Doc); got["source.ip"] != "192.168.33.1" {
			t.Errorf("not parsed: %s", e.Doc)
		}
	}
}

// TestFilterTargetRoutesByRequestTime: with a target, the event is still routed (and
// @timestamp set) by the request time, so that a redelivery of the same line lands in the
// same daily index as the first delivery (issue 12); the read time stays in event.created.
func TestFilterTargetRoutesByRequestTime(t *testing.T) {
	c := DefaultConfig()
	c.Target = "apache_parsed"
	c.Field = "log.original"
	f := newFilter(t, c)
	msg, _ := json.Marshal(combinedLine)
	doc := []byte(`{"@timestamp":"2026-11-21T07:16:26.746Z","log":{"original":` + string(msg) + `},"apache_parsed":{"keep":true}}`)
	ts := time.Date(2026, 11, 21, 7, 16, 26, 746e6, time.UTC)
	request := time.Date(2016, 12, 26, 16, 22, 13, 0, time.UTC)
	// First delivery read at ts, redelivery read a day later: same routing time.
	for _, readAt := range []time.Time{ts, ts.Add(24 * time.Hour)} {
		b := pipeline.NewBatch("t/0", []pipeline.Event{{Doc: doc, Timestamp: readAt}}, nil)
		f.Process(b)
		got := decode(t, b.Events[0].Doc)
		for k, v := range map[string]any{
			"@timestamp": "2016-12-26T16:22:13.000Z", "apache_parsed.@timestamp": "2016-12-26T16:22:13.000Z",
			"apache_parsed.keep": true, "apache_parsed.source.ip": "192.168.33.1",
			"apache_parsed.event.created": "2026-11-21T07:16:26.746Z",
		} {
			if fmt.Sprint(got[k]) != fmt.Sprint(v) {
				t.Errorf("%s = %#v, want %#v", k, got[k], v)
			}
		}
		if !b.Events[0].Timestamp.Equal(request) {
			t.Errorf("read at %v: routing timestamp %v, want the request time %v", readAt, b.Events[0].Timestamp, request)
		}
	}
}

// TestFilterUnparsedKeepsReadTime documents the limit: a line that does not parse keeps
// the document's @timestamp (the read time written by the shipper) for routing.
func TestFilterUnparsedKeepsReadTime(t *testing.T) {
	f := newFilter(t, DefaultConfig())
	ts := time.Date(2026, 11, 21, 7, 16, 26, 746e6, time.UTC)
	b := pipeline.NewBatch("t/0", []pipeline.Event{{Doc: wireDoc("garbage", ""), Timestamp: ts}}, nil)
	f.Process(b)
	if !b.Events[0].Timestamp.Equal(ts) || decode(t, b.Events[0].Doc)["@timestamp"] != "2026-11-21T07:16:26.746Z" {
		t.Errorf("unparsed line: timestamp %v, doc %s", b.Events[0].Timestamp, b.Events[0].Doc)
	}
}

// Lines of one second reuse the text of their time (Filter.lastTime); a line of another
// second, and an error line between them, get their own.
func TestFilterTimestampOfConsecutiveLines(t *testing.T) {
	f := newFilter(t, DefaultConfig())
	lines := []struct{ time, want string }{
		{"26/Dec/2016:16:22:13 +0000", "2016-12-26T16:22:13.000Z"},
		{"26/Dec/2016:16:22:13 +0000", "2016-12-26T16:22:13.000Z"},
		{"26/Dec/2016:17:22:13 +0100", "2016-12-26T16:22:13.000Z"}, // the same second elsewhere
		{"26/Dec/2016:16:22:14 +0000", "2016-12-26T16:22:14.000Z"},
		{"", "2016-12-26T16:22:15.000Z"}, // an error line
		{"26/Dec/2016:16:22:14 +0000", "2016-12-26T16:22:14.000Z"},
		{"26/Dec/2016:16:22:13 +0000", "2016-12-26T16:22:13.000Z"},
	}
	var evs []pipeline.Event
	for _, l := range lines {
		line := `192.168.33.1 - - [` + l.time + `] "GET / HTTP/1.1" 200 1 "-" "curl/8.5.0"`
		if l.time == "" {
			line = `[Mon Dec 26 16:22:15.000000 2016] [core:error] [pid 1] [client 192.168.33.1:1] File does not exist`
		}
		evs = append(evs, pipeline.Event{Doc: wireDoc(line, "")})
	}
	b := pipeline.NewBatch("t/0", evs, nil)
	f.Process(b)
	for i, l := range lines {
		if got := decode(t, b.Events[i].Doc)["@timestamp"]; got != l.want {
			t.Errorf("line %d (%s): @timestamp %v, want %s", i, l.time, got, l.want)
		}
	}
}

func TestFilterLineEvent(t *testing.T) {
	agent := pipeline.Agent{Hostname: "web1", ID: "a-1", EphemeralID: "e-1", Version: "0.1.0"}
	f, err := New(DefaultConfig(), pipeline.Stage{Log: zap.NewNop(), Agent: agent})
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 11, 21, 7, 16, 26, 746e6, time.UTC)
	origin := &pipeline.FileOrigin{Path: "/var/log/access_log", DeviceID: 1, Inode: 2}
	b := pipeline.NewBatch("f", []pipeline.Event{
		{Message: []byte(combinedLine), Timestamp: ts, Offset: 0, File: origin, ID: "abc-0"},
		{Message: []byte("junk"), Timestamp: ts, Offset: 100, File: origin, ID: "abc-100"},
	}, nil)
	f.Process(b)
	got := decode(t, b.Events[0].Doc)
	for k, v := range map[string]any{
		"message": combinedLine, "event.created": "2026-11-21T07:16:26.746Z", "source.ip": "192.168.33.1",
		"@timestamp": "2016-12-26T16:22:13.000Z", "log.file.path": "/var/log/access_log", "host.name": "web1",
		"agent.id": "a-1",
	} {
		if fmt.Sprint(got[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	if _, ok := got["@metadata._id"]; ok {
		t.Errorf("document holds @metadata: %s", b.Events[0].Doc)
	}
	got = decode(t, b.Events[1].Doc)
	if got["message"] != "junk" || fmt.Sprint(got["tags"]) != "[_apache_parse_failure]" || got["@timestamp"] != "2026-11-21T07:16:26.746Z" {
		t.Errorf("junk line event: %s", b.Events[1].Doc)
	}
	if b.Events[0].ID != "abc-0" || b.Events[1].ID != "abc-100" {
		t.Errorf("ids %q %q", b.Events[0].ID, b.Events[1].ID)
	}

	// Another field than message: looked up in the line's document.
	c := DefaultConfig()
	c.Field = "log.file.path"
	f = newFilter(t, c)
	b = pipeline.NewBatch("f", []pipeline.Event{{Message: []byte("x"), File: &pipeline.FileOrigin{Path: combinedLine}}}, nil)
	f.Process(b)
	if got := decode(t, b.Events[0].Doc); got["url.original"] != "/hello.html?a=%22b%22" {
		t.Errorf("field log.file.path: %s", b.Events[0].Doc)
	}
}

func TestFilterAllocations(t *testing.T) {
	f := newFilter(t, DefaultConfig())
	src := make([]pipeline.Event, 64)
	for i := range src {
		src[i] = pipeline.Event{Doc: wireDoc(combinedLine, `,"event":{"original":"x"}`)}
	}
	evs := make([]pipeline.Event, len(src))
	b := &pipeline.Batch{}
	allocs := testing.AllocsPerRun(20, func() {
		copy(evs, src)
		b.Events = evs
		f.Process(b)
	})
	// One output buffer per batch, nothing per event.
	if allocs > 1 {
		t.Errorf("%v allocations per batch of %d events, want 1", allocs, len(src))
	}
}

func TestConfig(t *testing.T) {
	r := pipeline.NewRegistry()
	Register(r)
	st, ok := r.Filter("apache")
	if !ok {
		t.Fatal("filter apache not registered")
	}
	c, ok := st.NewConfig().(*Config)
	if !ok || c.Field != "message" || c.Target != "" || c.OnFailure != "tag" {
		t.Fatalf("defaults %+v", c)
	}
	if _, err := st.Build(c, pipeline.Stage{Log: zap.NewNop()}); err != nil {
		t.Fatal(err)
	}
	bad := &Config{Field: "a..b", Target: "@metadata", OnFailure: "ignore"}
	err := bad.Validate()
	var ae *pipeline.AttrError
	if err == nil || !errors.As(err, &ae) {
		t.Fatalf("Validate() = %v", err)
	}
	for _, attr := range []string{"field:", "target:", "on_failure:"} {
		if !strings.Contains(err.Error(), attr) {
			t.Errorf("error %q does not name %s", err, attr)
		}
	}
}

// TestFilterElasticExamples runs the filter over the 10,000 real lines as Kafka documents.
func TestFilterElasticExamples(t *testing.T) {
	data, err := os.ReadFile("testdata/elastic-examples-apache_logs.log")
	if err != nil {
		t.Fatal(err)
	}
	f := newFilter(t, DefaultConfig())
	var evs []pipeline.Event
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		evs = append(evs, pipeline.Event{Doc: wireDoc(sc.Text(), "")})
	}
	b := pipeline.NewBatch("t/0", evs, nil)
	f.Process(b)
	if f.Failed() != 0 || b.Len() != 10000 {
		t.Fatalf("%d failed, %d events", f.Failed(), b.Len())
	}
	for i, e := range b.Events {
		if !json.Valid(e.Doc) || !bytes.Contains(e.Doc, []byte(`"dataset":"apache.access"`)) {
			t.Fatalf("event %d: %s", i, e.Doc)
		}
	}
}

func BenchmarkFilter(b *testing.B) {
	f := newFilter(b, DefaultConfig())
	src := make([]pipeline.Event, 256)
	n := 0
	for i := range src {
		src[i] = pipeline.Event{Doc: wireDoc(string(benchLine), "")}
		n += len(src[i].Doc)
	}
	b.SetBytes(int64(n))
	benchProcess(b, f, src)
}

// TestFilterAllocationsEnriched: with user agents, GeoIP and error lines, a batch still costs
// one allocation once the caches are warm.
func TestFilterAllocationsEnriched(t *testing.T) {
	c := DefaultConfig()
	c.Timezone = "Europe/Berlin"
	c.GeoIP = &GeoIPConfig{CityDatabase: testCityDB, ASNDatabase: testASNDB}
	f := newFilter(t, c)
	lines := []string{
		`89.160.20.112 - - [26/Dec/2016:18:23:35 +0200] "GET / HTTP/1.1" 200 45 "-" "Mozilla/5.0 (Windows NT 6.1; rv:15.0) Gecko/20120716 Firefox/15.0a2"`,
		"[Fri Sep 09 10:42:29.902022 2011] [core:error] [pid 35708:tid 4328636416] [client 89.160.20.112] File does not exist: /x",
		"[Mon Dec 26 16:22:08 2016] [error] [client 81.2.69.142] y",
	}
	src := make([]pipeline.Event, 60)
	for i := range src {
		src[i] = pipeline.Event{Doc: wireDoc(lines[i%len(lines)], "")}
	}
	evs := make([]pipeline.Event, len(src))
	b := &pipeline.Batch{}
	allocs := testing.AllocsPerRun(20, func() {
		copy(evs, src)
		b.Events = evs
		f.Process(b)
	})
	if allocs > 1 {
		t.Errorf("%v allocations per batch of %d events, want 1", allocs, len(src))
	}
	if got := decode(t, b.Events[1].Doc); got["source.geo.city_name"] != "Linköping" || got["@timestamp"] != "2011-09-09T10:42:29.902+02:00" {
		t.Errorf("not enriched: %s", b.Events[1].Doc)
	}
}

// TestIndexedTopMatchesScan: for documents the json decoder wrote, reading the members from
// its index finds what walking the document finds, and the filter writes the same
// documents either way; an index that does not fit the document is refused.
func TestIndexedTopMatchesScan(t *testing.T) {
	evs := benchWireEvents(t)
	for i := range evs {
		e := &evs[i]
		idx, ok := codecs.TopOf(e)
		if !ok {
			t.Fatalf("event %d: no index", i)
		}
		for _, field := range []string{"message", "log", "nope"} {
			got, gotOK := indexedTop(e.Doc, idx, field)
			want, wantOK := scanTop(e.Doc, field)
			if got != want || gotOK != wantOK {
				t.Fatalf("event %d, field %q: indexed %+v %v, scanned %+v %v", i, field, got, gotOK, want, wantOK)
			}
		}
	}
	withIndex := pipeline.NewBatch("t/0", slices.Clone(evs), nil)
	noIndex := pipeline.NewBatch("t/0", slices.Clone(evs), nil)
	for i := range noIndex.Events {
		noIndex.Events[i].Top = nil
	}
	newFilter(t, DefaultConfig()).Process(withIndex)
	newFilter(t, DefaultConfig()).Process(noIndex)
	for i := range withIndex.Events {
		if !bytes.Equal(withIndex.Events[i].Doc, noIndex.Events[i].Doc) {
			t.Fatalf("event %d: with the index\n%s\nwithout\n%s", i, withIndex.Events[i].Doc, noIndex.Events[i].Doc)
		}
		if withIndex.Events[i].Top != nil {
			t.Fatalf("event %d: the filtered document kept the decoder's index", i)
		}
	}
	// An index shifted against its document (as an edit without SetDoc would leave it).
	e := evs[0]
	e.Doc = append([]byte(`{"x":1,`), e.Doc[1:len(e.Doc)-7]...)
	e.Doc = append(e.Doc, '}')
	idx, ok := codecs.TopOf(&e)
	if !ok {
		t.Fatal("the index of a document of the same length was refused")
	}
	if _, ok := indexedTop(e.Doc, idx, "message"); ok {
		t.Fatalf("a shifted index was accepted for %s", e.Doc)
	}
	// ... and the filter walks such a document instead: parsed, not tagged as a failure.
	e = evs[1]
	e.Doc = append([]byte(`{"x":1, `), e.Doc[1:]...)
	e.Top = append(slices.Clone(e.Top[:len(e.Top)-4]), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(e.Top[len(e.Top)-4:], uint32(len(e.Doc)))
	if _, ok := codecs.TopOf(&e); !ok {
		t.Fatal("the stale index was refused for its length")
	}
	b := pipeline.NewBatch("t/0", []pipeline.Event{e}, nil)
	f := newFilter(t, DefaultConfig())
	f.Process(b)
	if f.Failed() != 0 || !bytes.Contains(b.Events[0].Doc, []byte(`"x":1`)) || !bytes.Contains(b.Events[0].Doc, []byte(`"dataset":"apache.access"`)) {
		t.Fatalf("a document with a stale index was not parsed: %s", b.Events[0].Doc)
	}
}

// The runner builds the filter once per filter worker from one configuration; the workers
// share the user-agent rules and run at the same time, and each gives what one filter alone
// gives, on real access lines. (The reference run compiles the rules these agents need
// first; TestUARulesConcurrentParse covers workers compiling them at once.)
func TestFilterWorkers(t *testing.T) {
	lines := accessLines(t)[:400]
	events := make([]pipeline.Event, len(lines))
	for i, l := range lines {
		events[i] = filtertest.Line(string(l), int64(i)*200)
	}
	src := filtertest.Wrap("filter \"apache\" \"access\" {}")
	filtertest.Workers(t, src, filtertest.Registry(Register), events, 4, 5)
}
