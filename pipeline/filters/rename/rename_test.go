package rename_test

import (
	"strings"
	"testing"

	"github.com/logpipe/logpipe/pipeline"
	"github.com/logpipe/logpipe/pipeline/filters/filtertest"
	"github.com/logpipe/logpipe/pipeline/filters/rename"
)

func filters(t testing.TB, body string) []pipeline.Filter {
	return filtertest.Filters(t, filtertest.Wrap(body), filtertest.Registry(rename.Register))
}

func docs(b *pipeline.Batch) []string {
	var out []string
	for i := range b.Events {
		out = append(out, string(b.Events[i].Doc))
	}
	return out
}

func TestRename(t *testing.T) {
	f := filters(t, `
filter "rename" "ecs" {
  fields = [
    { from = "msg",         to = "message" },
    { from = "status",      to = "http.response.status_code" },
    { from = "a",           to = "a.b" },
  ]
}`)
	b := filtertest.Run(f,
		filtertest.Doc(`{"msg":"hello","status":200,"http":{"request":{"method":"GET"}},"a":"x"}`),
		filtertest.Doc(`{"msg":"hello","status":200,"a":{"c":1}}`),
	)
	want := []string{
		`{"http":{"request":{"method":"GET"},"response":{"status_code":200}},"message":"hello","a":{"b":"x"}}`,
		`{"message":"hello","http":{"response":{"status_code":200}},"a":{"b":{"c":1}}}`,
	}
	for i, w := range want {
		if got := docs(b)[i]; got != w {
			t.Errorf("event %d:\n got %s\nwant %s", i, got, w)
		}
	}
}

// TestRenameFailures follows Filebeat: with fail_on_error (the default) a failed renaming
// restores the event and records error.message; without it the failed renaming is skipped
// and the value is never lost; ignore_missing skips a missing from field.
func TestRenameFailures(t *testing.T) {
	const pairs = `fields = [{ from = "a", to = "b" }, { from = "c", to = "d.e" }]`
	cases := []struct{ attrs, doc, want string }{
		{"", `{"a":1,"c":2,"d":3}`,
			`{"a":1,"c":2,"d":3,"error":{"message":"Failed to rename fields in processor: could not put value: d.e: cannot put d.e: d is not an object"}}`},
		{"", `{"a":1,"b":2}`,
			`{"a":1,"b":2,"error":{"message":"Failed to rename fields in processor: target field b already exists, drop or rename this field first"}}`},
		{"", `{"c":1}`,
			`{"c":1,"error":{"message":"Failed to rename fields in processor: could not fetch value for key: a, Error: key not found"}}`},
		{"ignore_missing = true", `{"c":1}`, `{"d":{"e":1}}`},
		{"fail_on_error = false", `{"a":1,"c":2,"d":3}`, `{"d":3,"b":1,"c":2}`},
		{"fail_on_error = false", `{"c":1}`, `{"d":{"e":1}}`},
	}
	for _, c := range cases {
		f := filters(t, "filter \"rename\" \"r\" {\n  "+pairs+"\n  "+c.attrs+"\n}")
		b := filtertest.Run(f, filtertest.Doc(c.doc))
		if got := docs(b)[0]; got != c.want {
			t.Errorf("%s on %s:\n got %s\nwant %s", c.attrs, c.doc, got, c.want)
		}
	}
}

func TestRenameLineEventsAndCondition(t *testing.T) {
	f := filters(t, `
filter "rename" "r" {
  fields = [{ from = "log.file.path", to = "file.path" }]
  when {
    contains = { message = "error" }
  }
}`)
	b := filtertest.Run(f, filtertest.Line("an error", 5), filtertest.Line("fine", 9))
	if e := b.Events[0]; e.Doc == nil || e.ID != "line-5" || !strings.Contains(string(e.Doc), `"file":{"path":"/var/log/httpd/access_log"}`) ||
		!strings.Contains(string(e.Doc), `"log":{"offset":5,"file":{"device_id":"65024"`) {
		t.Errorf("renamed line event: ID %q Doc %s", e.ID, e.Doc)
	}
	if b.Events[1].Doc != nil {
		t.Errorf("unmatched line event changed: %s", b.Events[1].Doc)
	}
}

func TestRenameDiagnostics(t *testing.T) {
	cases := map[string]string{
		`fields = []`:                                                     `test.hcl:3:12: Invalid fields: list at least one renaming`,
		`fields = [{ from = "a" }]`:                                       `test.hcl:3:12: Invalid fields: element 1: needs both from and to`,
		`fields = [{ from = "a", to = "b", x = 1 }]`:                      `test.hcl:3:12: Invalid fields: element 1: unknown key "x"`,
		`fields = [{ from = "a", to = 1 }]`:                               `test.hcl:3:12: Invalid fields: element 1: to must be a string`,
		`fields = { from = "a", to = "b" }`:                               `test.hcl:3:12: Invalid fields: must be a list of renamings`,
		`fields = [{ from = "a", to = "a" }]`:                             `element 1 renames "a" to itself`,
		`fields = [{ from = "a", to = ".b" }]`:                            `element 1: ".b" is not a field name`,
		`fields = [{ from = "@timestamp", to = "t" }]`:                    `@timestamp cannot be renamed`,
		"fields = [{ from = \"a\", to = \"b\" }]\n  fail_on_eror = false": `Did you mean "fail_on_error"?`,
	}
	for body, want := range cases {
		_, diags := filtertest.Load(t, filtertest.Wrap("filter \"rename\" \"r\" {\n  "+body+"\n}"), filtertest.Registry(rename.Register))
		if !strings.Contains(diags, want) {
			t.Errorf("%s: diagnostics lack %q:\n%s", body, want, diags)
		}
	}
}

func BenchmarkRename(b *testing.B) {
	f := filters(b, `
filter "rename" "r" {
  fields = [{ from = "status", to = "http.response.status_code" }, { from = "msg", to = "message" }]
}`)[0]
	events := make([]pipeline.Event, 256)
	for i := range events {
		events[i] = filtertest.Doc(`{"@timestamp":"2026-11-21T07:16:26.746Z","msg":"203.0.113.9 - - [21/Nov/2026:07:16:26 +0000] \"GET / HTTP/1.1\" 200 5120","status":200,"http":{"request":{"method":"GET"}},"host":{"name":"web1"}}`)
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

// The runner builds a rename filter once per filter worker from one configuration; the
// workers run at the same time and each gives what one filter alone gives.
func TestRenameWorkers(t *testing.T) {
	src := filtertest.Wrap(`
filter "rename" "errors" {
  fields = [{ from = "log.file.path", to = "file.path" }]
  when {
    regexp = { message = "\"error\"$" }
  }
}`)
	filtertest.Workers(t, src, filtertest.Registry(rename.Register), filtertest.AccessLines(48), 4, 200)
}
