package dropfields_test

import (
	"strings"
	"testing"

	"github.com/logpipe/logpipe/pipeline"
	dropfields "github.com/logpipe/logpipe/pipeline/filters/drop_fields"
	"github.com/logpipe/logpipe/pipeline/filters/filtertest"
)

func filters(t testing.TB, body string) []pipeline.Filter {
	return filtertest.Filters(t, filtertest.Wrap(body), filtertest.Registry(dropfields.Register))
}

func TestDropFieldsDocuments(t *testing.T) {
	f := filters(t, `
filter "drop_fields" "noise" {
  fields         = ["agent.ephemeral_id", "ecs", "url.original", "a.b"]
  ignore_missing = true
}`)
	b := filtertest.Run(f,
		filtertest.Doc(`{"@timestamp":"x","ecs":{"version":"8.0.0"},"agent":{"id":"i","ephemeral_id":"e"},"url":{"original":"/a","path":"/a"},"a.b":1,"a":{"c":2}}`),
		filtertest.Doc(`{"@timestamp":"x","message":"nothing to drop"}`),
		filtertest.Doc(`{"@timestamp":"x","a":{"b":{"deep":true},"c":2}}`),
	)
	want := []string{
		`{"@timestamp":"x","agent":{"id":"i"},"url":{"path":"/a"},"a":{"c":2}}`,
		`{"@timestamp":"x","message":"nothing to drop"}`,
		`{"@timestamp":"x","a":{"c":2}}`,
	}
	for i, w := range want {
		if got := string(b.Events[i].Doc); got != w {
			t.Errorf("event %d:\n got %s\nwant %s", i, got, w)
		}
	}
}

// TestDropFieldsMissing: without ignore_missing, a missing field is reported in
// error.message (Filebeat's processor returns an error); the fields that exist are still
// dropped.
func TestDropFieldsMissing(t *testing.T) {
	f := filters(t, `
filter "drop_fields" "strict" {
  fields = ["x", "y.z", "keep_out"]
}`)
	b := filtertest.Run(f, filtertest.Doc(`{"keep_out":1,"error":"old"}`), filtertest.Doc(`{"x":1,"y":{"z":2},"keep_out":3}`))
	if got, want := string(b.Events[0].Doc), `{"error":{"message":"failed to drop field [x], [y.z]: key not found"}}`; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	if got, want := string(b.Events[1].Doc), `{"y":{}}`; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

// TestDropFieldsLineEvents: a line event whose fields are dropped becomes a document event
// with its id kept; a line event the condition skips stays a line event.
func TestDropFieldsLineEvents(t *testing.T) {
	f := filters(t, `
filter "drop_fields" "file_identity" {
  fields = ["log.file.device_id", "log.file.inode", "agent.ephemeral_id"]
  when {
    regexp = { message = "^GET" }
  }
}`)
	b := filtertest.Run(f, filtertest.Line("GET /", 10), filtertest.Line("POST /", 20))
	e := b.Events[0]
	if e.Doc == nil || e.ID != "line-10" {
		t.Fatalf("changed line event: ID %q Doc %s", e.ID, e.Doc)
	}
	want := `{"@timestamp":"2026-11-21T07:16:26.746Z","message":"GET /","log":{"offset":10,"file":{"path":"/var/log/httpd/access_log"}},"input":{"type":"filestream"},"host":{"name":"web1"},"ecs":{"version":"8.0.0"},"agent":{"type":"logpipe","version":"0.1.0","name":"web1","id":"agent-id"}}`
	if string(e.Doc) != want {
		t.Errorf("got  %s\nwant %s", e.Doc, want)
	}
	if b.Events[1].Doc != nil {
		t.Errorf("unmatched line event changed: %s", b.Events[1].Doc)
	}
}

func TestDropFieldsDiagnostics(t *testing.T) {
	cases := map[string]string{
		`fields = []`:                `test.hcl:3:12: Invalid fields: list at least one field to drop`,
		`fields = ["@timestamp"]`:    `test.hcl:3:12: Invalid fields: @timestamp cannot be dropped`,
		`fields = ["/^kubernetes/"]`: `regular expressions in fields are not supported`,
		`fields = ["a."]`:            `test.hcl:3:12: Invalid fields: "a." is not a field name`,
		`field = ["a"]`:              `Did you mean "fields"?`,
		"fields = [\"a\"]\n  when {\n    regexp = { message = \"[\" }\n  }": `test.hcl:5:26: Invalid when: missing closing ]`,
	}
	for body, want := range cases {
		_, diags := filtertest.Load(t, filtertest.Wrap("filter \"drop_fields\" \"d\" {\n  "+body+"\n}"), filtertest.Registry(dropfields.Register))
		if !strings.Contains(diags, want) {
			t.Errorf("%s: diagnostics lack %q:\n%s", body, want, diags)
		}
	}
}

func BenchmarkDropFields(b *testing.B) {
	f := filters(b, `
filter "drop_fields" "d" {
  fields         = ["agent.ephemeral_id", "log.file.inode", "log.file.device_id"]
  ignore_missing = true
}`)[0]
	events := make([]pipeline.Event, 256)
	for i := range events {
		events[i] = filtertest.Doc(`{"@timestamp":"2026-11-21T07:16:26.746Z","message":"203.0.113.9 - - [21/Nov/2026:07:16:26 +0000] \"GET / HTTP/1.1\" 200 5120","log":{"offset":182,"file":{"path":"/var/log/httpd/access_log","device_id":"65024","inode":"10028677"}},"input":{"type":"filestream"},"host":{"name":"web1"},"agent":{"type":"logpipe","version":"0.1.0","name":"web1","id":"a","ephemeral_id":"e"}}`)
	}
	batch := make([]pipeline.Event, len(events))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		copy(batch, events)
		f.Process(&pipeline.Batch{Events: batch})
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(events)), "ns/event")
}

// The runner builds a drop_fields filter once per filter worker from one configuration;
// the workers run at the same time and each gives what one filter alone gives.
func TestDropFieldsWorkers(t *testing.T) {
	src := filtertest.Wrap(`
filter "drop_fields" "debug" {
  fields = ["log.file.inode", "agent.ephemeral_id"]
  when {
    contains = { message = "GET /debug " }
  }
}`)
	filtertest.Workers(t, src, filtertest.Registry(dropfields.Register), filtertest.AccessLines(48), 4, 200)
}
