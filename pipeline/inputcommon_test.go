package pipeline_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/logpipe/logpipe/codecs"
	"github.com/logpipe/logpipe/pipeline"
	"github.com/logpipe/logpipe/pipeline/filters/filtertest"
)

// parse decodes a JSON document for comparisons; it fails the test on invalid JSON or a
// duplicate top-level key.
func parse(t *testing.T, doc string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("invalid JSON %s: %v", doc, err)
	}
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.Token()
	seen := map[string]bool{}
	for dec.More() {
		k, _ := dec.Token()
		if seen[k.(string)] {
			t.Fatalf("duplicate key %q in %s", k, doc)
		}
		seen[k.(string)] = true
		var skip json.RawMessage
		dec.Decode(&skip)
	}
	return m
}

func field(m map[string]any, path ...string) any {
	var cur any = m
	for _, p := range path {
		o, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = o[p]
	}
	return cur
}

func pipelineConfig(inputAttrs string) string {
	return "input \"emit\" \"in\" {\n" + inputAttrs + "\n}\noutput \"collect\" \"out\" {}\n"
}

// TestInputFieldsLineEvents: fields and tags of an input reach the documents of its line
// events (the json codec appends them), dotted names expanded as in Filebeat.
func TestInputFieldsLineEvents(t *testing.T) {
	src := pipelineConfig(`
  fields = {
    env            = "production"
    "service.name" = "web"
    service        = { tier = 1 }
    owners         = ["ops", "web"]
    ratio          = 0.25
    on             = true
  }
  tags = ["web", env("LOGPIPE_TEST_UNSET", "dc1")]`)
	docs, acked := filtertest.Pipeline(t, src, []pipeline.Event{filtertest.Line("GET /", 0), filtertest.Line("GET /a", 6)})
	if !acked || len(docs) != 2 {
		t.Fatalf("acked %v, docs %q", acked, docs)
	}
	m := parse(t, docs[1])
	want := map[string]any{"env": "production", "service": map[string]any{"name": "web", "tier": 1.0},
		"owners": []any{"ops", "web"}, "ratio": 0.25, "on": true}
	if got := m["fields"]; !reflect.DeepEqual(got, want) {
		t.Errorf("fields = %#v\nwant %#v", got, want)
	}
	if got := m["tags"]; !reflect.DeepEqual(got, []any{"web", "dc1"}) {
		t.Errorf("tags = %#v", got)
	}
	if field(m, "message") != "GET /a" || field(m, "host", "name") != "web1" {
		t.Errorf("document lost its members: %s", docs[1])
	}

	// The wire format (with @metadata) holds them too.
	e := filtertest.Line("x", 1)
	cfg, diags := filtertest.Load(t, src, registryWithEmit())
	if diags != "" {
		t.Fatal(diags)
	}
	e.Fields = cfg.Inputs[0].Fields
	wire := string(codecs.NewJSONEncoder(filtertest.Agent).Encode(nil, &e))
	if w := parse(t, wire); field(w, "@metadata", "_id") != "line-1" || field(w, "fields", "service", "name") != "web" {
		t.Errorf("wire document: %s", wire)
	}
}

// Fields and tags holding line breaks keep a line event's document on one line (the
// Elasticsearch output writes it into an NDJSON body as the json codec encodes it).
func TestInputFieldsOneLine(t *testing.T) {
	src := pipelineConfig(`
  fields = { note = "two\nlines\r", "a.b" = ["x\ny"] }
  tags   = ["t\n"]`)
	cfg, diags := filtertest.Load(t, src, registryWithEmit())
	if diags != "" {
		t.Fatal(diags)
	}
	e := filtertest.Line("x", 1)
	e.Fields = cfg.Inputs[0].Fields
	for _, enc := range []*codecs.JSONEncoder{codecs.NewJSONEncoder(filtertest.Agent), codecs.NewDocumentEncoder(filtertest.Agent)} {
		doc := enc.Encode(nil, &e)
		if bytes.ContainsAny(doc, "\r\n") {
			t.Errorf("a line break in %q", doc)
		}
		if m := parse(t, string(doc)); field(m, "fields", "note") != "two\nlines\r" {
			t.Errorf("fields.note lost: %s", doc)
		}
	}
}

func TestInputFieldsUnderRoot(t *testing.T) {
	src := pipelineConfig(`
  fields            = { env = "production", "service.name" = "web" }
  fields_under_root = true
  tags              = ["web"]`)
	docs, _ := filtertest.Pipeline(t, src, []pipeline.Event{filtertest.Line("GET /", 0),
		filtertest.Doc(`{"@timestamp":"2026-11-21T07:16:26.746Z","message":"m","service":{"version":"2"},"tags":"old","env":"dev"}`)})
	line := parse(t, docs[0])
	if line["env"] != "production" || field(line, "service", "name") != "web" || line["fields"] != nil ||
		!reflect.DeepEqual(line["tags"], []any{"web"}) {
		t.Errorf("line document: %s", docs[0])
	}
	doc := parse(t, docs[1])
	if doc["env"] != "production" || field(doc, "service", "name") != "web" || field(doc, "service", "version") != "2" ||
		!reflect.DeepEqual(doc["tags"], []any{"old", "web"}) || doc["message"] != "m" {
		t.Errorf("document event: %s", docs[1])
	}
}

// TestInputFieldsDocumentEvents: document events (the kafka input) get the fields merged
// into their document: into an existing "fields" object, tags appended once.
func TestInputFieldsDocumentEvents(t *testing.T) {
	src := pipelineConfig(`
  fields = { env = "production" }
  tags   = ["indexer", "web"]`)
	docs, acked := filtertest.Pipeline(t, src, []pipeline.Event{
		filtertest.Doc(`{"@timestamp":"2026-11-21T07:16:26.746Z","message":"a"}`),
		filtertest.Doc(`{"@timestamp":"2026-11-21T07:16:26.746Z","fields":{"app":"x","env":"dev"},"tags":["web","beats_input"]}`),
	})
	if !acked {
		t.Fatal("not acknowledged")
	}
	a, b := parse(t, docs[0]), parse(t, docs[1])
	if !reflect.DeepEqual(a["fields"], map[string]any{"env": "production"}) || !reflect.DeepEqual(a["tags"], []any{"indexer", "web"}) {
		t.Errorf("first: %s", docs[0])
	}
	if !reflect.DeepEqual(b["fields"], map[string]any{"app": "x", "env": "production"}) ||
		!reflect.DeepEqual(b["tags"], []any{"web", "beats_input", "indexer"}) {
		t.Errorf("second: %s", docs[1])
	}
}

func registryWithEmit() *pipeline.Registry {
	r := filtertest.Registry()
	type none struct{}
	r.AddInput(pipeline.Typed[pipeline.Input]("emit", func() *none { return &none{} },
		func(*none, pipeline.Stage) (pipeline.Input, error) { return nil, nil }))
	r.AddOutput(pipeline.Typed[pipeline.Output]("collect", func() *none { return &none{} },
		func(*none, pipeline.Stage) (pipeline.Output, error) { return nil, nil }))
	return r
}

func TestInputFieldsDiagnostics(t *testing.T) {
	cases := map[string]string{
		`fields = "x"`:                  `test.hcl:2:10: Wrong type for fields: fields must be an object`,
		`tags = "web"`:                  `test.hcl:2:8: Wrong type for tags: tags must be a list of strings`,
		`tags = ["web", ""]`:            `test.hcl:2:8: Invalid tags: Every tag must be a non-empty string.`,
		`fields_under_root = "yes"`:     `test.hcl:2:21: Wrong type for fields_under_root`,
		`fields = { a = 1, "a.b" = 2 }`: `test.hcl:2:10: Invalid fields: the field "a" is set twice.`,
		`fields = { "a..b" = 1 }`:       `test.hcl:2:10: Invalid fields: "a..b" is not a field name`,
		"fields = { message = \"x\" }\n  fields_under_root = true":                `test.hcl:2:10: Invalid fields: With fields_under_root, the field "message" would replace the "message" the event already has`,
		"fields = { \"host.role\" = \"x\" }\n  fields_under_root = true":          `the field "host" would replace`,
		"fields = { tags = \"x\" }\n  fields_under_root = true\n  tags = [\"a\"]": `a field called "tags" would clash with the tags attribute`,
		`tag = ["a"]`: `test.hcl:2:1: Unsupported argument: An argument named "tag" is not expected here. Did you mean "tags"?`,
		`fields = { a = env("LOGPIPE_TEST_UNSET") }`: `environment variable "LOGPIPE_TEST_UNSET" is not set`,
	}
	for attrs, want := range cases {
		_, diags := filtertest.Load(t, pipelineConfig(attrs), registryWithEmit())
		if !strings.Contains(diags, want) {
			t.Errorf("%s: diagnostics lack %q:\n%s", attrs, want, diags)
		}
	}
	// Every input type takes them, and they do not reach the type's own config.
	cfg, diags := filtertest.Load(t, pipelineConfig(`tags = ["a"]`), registryWithEmit())
	if diags != "" || cfg.Inputs[0].Fields == nil || string(cfg.Inputs[0].Fields.Line) != `,"tags":["a"]` {
		t.Fatalf("diags %s, fields %+v", diags, cfg.Inputs[0].Fields)
	}
	if cfg, _ := filtertest.Load(t, pipelineConfig(``), registryWithEmit()); cfg.Inputs[0].Fields != nil {
		t.Errorf("an input without fields or tags has %+v", cfg.Inputs[0].Fields)
	}
}

// BenchmarkEncodeLineWithFields measures what fields and tags cost a line event on the hot
// path (the json encoder appends a precomputed fragment).
func BenchmarkEncodeLineWithFields(b *testing.B) {
	cfg, diags := filtertest.Load(b, pipelineConfig(`
  fields = { env = "production", "service.name" = "web" }
  tags   = ["web", "dc1"]`), registryWithEmit())
	if diags != "" {
		b.Fatal(diags)
	}
	enc := codecs.NewJSONEncoder(filtertest.Agent)
	e := filtertest.Line(`203.0.113.9 - - [21/Nov/2026:07:16:26 +0000] "GET / HTTP/1.1" 200 5120`, 182)
	e.Fields = cfg.Inputs[0].Fields
	var buf []byte
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = enc.Encode(buf[:0], &e)
	}
}
