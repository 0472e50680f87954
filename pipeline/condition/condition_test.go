package condition_test

import (
	"strings"
	"testing"

	"github.com/logpipe/logpipe/pipeline"
	"github.com/logpipe/logpipe/pipeline/filters/drop"
	"github.com/logpipe/logpipe/pipeline/filters/filtertest"
)

// dropWhen builds a drop filter whose when block is body, from real config text.
func dropWhen(t *testing.T, body string) pipeline.Filter {
	t.Helper()
	src := filtertest.Wrap("filter \"drop\" \"d\" {\n  when {\n" + body + "\n  }\n}")
	return filtertest.Filters(t, src, filtertest.Registry(drop.Register))[0]
}

// matches reports which of docs the condition matches (drops).
func matches(t *testing.T, f pipeline.Filter, docs ...string) []bool {
	t.Helper()
	events := make([]pipeline.Event, len(docs))
	for i, d := range docs {
		events[i] = filtertest.Doc(d)
		events[i].Offset = int64(i)
	}
	b := filtertest.Run([]pipeline.Filter{f}, events...)
	out := make([]bool, len(docs))
	for i := range out {
		out[i] = true
	}
	for _, e := range b.Events {
		out[e.Offset] = false
	}
	return out
}

func check(t *testing.T, name, when string, cases map[string]bool) {
	t.Run(name, func(t *testing.T) {
		f := dropWhen(t, when)
		for doc, want := range cases {
			if got := matches(t, f, doc)[0]; got != want {
				t.Errorf("when { %s } on %s: match = %v, want %v", when, doc, got, want)
			}
		}
	})
}

func TestOperators(t *testing.T) {
	check(t, "equals string nested and dotted key", `equals = { "http.request.method" = "GET" }`, map[string]bool{
		`{"http":{"request":{"method":"GET"}}}`:          true,
		`{"http":{"request":{"method":"POST"}}}`:         false,
		`{"http.request.method":"GET"}`:                  true, // a literal dotted member
		`{"http":{"request":{"method":"G\u0045T"}}}`:     true, // escapes are decoded
		`{"http":{"request":{}}}`:                        false,
		`{"http":{"request":{"method":["GET"]}}}`:        false,
		`{"http":{"request":"GET"}}`:                     false,
		`{"http":{"request":{"method":"GET"}}, "x":1}`:   true,
		`{"message":"GET"}`:                              false,
		`{"http":{"request":{"method":"GET "}}}`:         false,
		`{"http":{"request":{"method":"get"}}}`:          false,
		`{"http":{"request":{"method":null}}}`:           false,
		`{"http":{"request":{"method":"GET","x":true}}}`: true,
	})
	check(t, "equals whole number", `equals = { "http.response.status_code" = 200 }`, map[string]bool{
		`{"http":{"response":{"status_code":200}}}`:   true,
		`{"http":{"response":{"status_code":200.0}}}`: true,
		`{"http":{"response":{"status_code":2e2}}}`:   true,
		`{"http":{"response":{"status_code":201}}}`:   false,
		`{"http":{"response":{"status_code":"200"}}}`: false, // a string is not a number (as in Filebeat)
		`{"http":{"response":{"status_code":-200}}}`:  false,
	})
	check(t, "equals bool", `equals = { "event.ok" = true }`, map[string]bool{
		`{"event":{"ok":true}}`:   true,
		`{"event":{"ok":false}}`:  false,
		`{"event":{"ok":"true"}}`: false,
	})
	check(t, "equals several fields all match", `equals = { "a" = "x", "b" = 2 }`, map[string]bool{
		`{"a":"x","b":2}`: true,
		`{"a":"x","b":3}`: false,
		`{"a":"x"}`:       false,
	})
	check(t, "contains string and array", `contains = { message = "ERROR", tags = "beta" }`, map[string]bool{
		`{"message":"an ERROR here","tags":["x","alphabeta"]}`: true,
		`{"message":"an ERROR here","tags":"beta"}`:            true,
		`{"message":"an error here","tags":["beta"]}`:          false,
		`{"message":"an ERROR here","tags":[1,"x"]}`:           false,
		`{"message":"\u0045RROR","tags":["beta"]}`:             true,
		`{"message":404,"tags":["beta"]}`:                      false,
	})
	check(t, "regexp", `regexp = { "log.file.path" = "/access_log(\\.[0-9]+)?$" }`, map[string]bool{
		`{"log":{"file":{"path":"/var/log/httpd/access_log"}}}`:    true,
		`{"log":{"file":{"path":"/var/log/httpd/access_log.1"}}}`:  true,
		`{"log":{"file":{"path":"/var/log/httpd/error_log"}}}`:     false,
		`{"log":{"file":{"path":["/x/error_log","/access_log"]}}}`: true,
		`{"log":{"file":{}}}`: false,
	})
	check(t, "range", `range = { "http.response.status_code.gte" = 400, "http.response.status_code.lt" = 500, "size.gt" = 0.5, "size.lte" = 10 }`, map[string]bool{
		`{"http":{"response":{"status_code":404}},"size":1}`:    true,
		`{"http":{"response":{"status_code":400}},"size":10}`:   true,
		`{"http":{"response":{"status_code":500}},"size":1}`:    false,
		`{"http":{"response":{"status_code":399}},"size":1}`:    false,
		`{"http":{"response":{"status_code":404}},"size":0.5}`:  false,
		`{"http":{"response":{"status_code":404}},"size":10.1}`: false,
		`{"http":{"response":{"status_code":"404"}},"size":1}`:  false,
	})
	check(t, "has_fields", `has_fields = ["error.message", "tags"]`, map[string]bool{
		`{"error":{"message":"x"},"tags":[]}`: true,
		`{"error":{"message":null},"tags":1}`: true,
		`{"error":{},"tags":[]}`:              false,
		`{"tags":[]}`:                         false,
	})
	check(t, "or with a list of equals", `
    or {
      equals = [
        { "http.response.status_code" = 200 },
        { "http.response.status_code" = 304 },
      ]
      contains = { "url.path" = "/health" }
    }`, map[string]bool{
		`{"http":{"response":{"status_code":200}}}`:                           true,
		`{"http":{"response":{"status_code":304}}}`:                           true,
		`{"http":{"response":{"status_code":404}}}`:                           false,
		`{"http":{"response":{"status_code":404}},"url":{"path":"/healthz"}}`: true,
	})
	check(t, "and not", `
    and {
      equals = { "log.level" = "debug" }
      not {
        has_fields = ["keep"]
      }
    }
    regexp = { message = "^DBG" }`, map[string]bool{
		`{"log":{"level":"debug"},"message":"DBG x"}`:          true,
		`{"log":{"level":"debug"},"message":"DBG x","keep":1}`: false,
		`{"log":{"level":"info"},"message":"DBG x"}`:           false,
		`{"log":{"level":"debug"},"message":"x DBG"}`:          false,
	})
	check(t, "not with two operands is not-all", `
    not {
      equals   = { a = 1 }
      contains = { b = "x" }
    }`, map[string]bool{
		`{"a":1,"b":"x"}`: false,
		`{"a":1,"b":"y"}`: true,
		`{"a":2,"b":"x"}`: true,
	})
	check(t, "environment default", `equals = { "service.name" = env("LOGPIPE_TEST_UNSET", "web") }`, map[string]bool{
		`{"service":{"name":"web"}}`: true,
		`{"service":{"name":"db"}}`:  false,
	})
}

// TestLineEventsSeeTheWireDocument: a condition on a line event sees the document the json
// codec writes (without @metadata), and a line event that is kept stays a line event.
func TestLineEventsSeeTheWireDocument(t *testing.T) {
	f := dropWhen(t, `
    regexp = { "log.file.path" = "access_log$", message = "GET /health" }
    equals = { "host.name" = "web1", "agent.type" = "logpipe", "log.offset" = 100 }`)
	b := filtertest.Run([]pipeline.Filter{f},
		filtertest.Line(`127.0.0.1 - - "GET /health HTTP/1.1" 200`, 100),
		filtertest.Line(`127.0.0.1 - - "GET /health HTTP/1.1" 200`, 200),
		filtertest.Line(`127.0.0.1 - - "GET /index.html HTTP/1.1" 200`, 100),
	)
	if len(b.Events) != 2 || b.Events[0].Offset != 200 || b.Events[1].Offset != 100 {
		t.Fatalf("kept %d events: %+v", len(b.Events), b.Events)
	}
	for _, e := range b.Events {
		if e.Doc != nil || e.Message == nil {
			t.Errorf("a kept line event was changed: %+v", e)
		}
	}
}

func TestDiagnostics(t *testing.T) {
	cases := []struct {
		name, when string
		want       []string
	}{
		{"bad regexp", `    regexp = { message = "a(b" }`,
			[]string{`test.hcl:4:26: Invalid when: missing closing ): ` + "`a(b`" + `; regular expressions use Go's RE2 syntax`}},
		{"look-around", `    regexp = { message = "a(?=b)" }`,
			[]string{`test.hcl:4:26: Invalid when: invalid or unsupported Perl syntax`}},
		{"unknown operator", `    equal = { a = 1 }`,
			[]string{`test.hcl:4:5: Invalid when: unknown condition "equal". Did you mean "equals"?`}},
		{"leaf written as a block", "    equals {\n    }",
			[]string{`test.hcl:4:5: Invalid when: equals is an attribute, not a block: write equals = {`}},
		{"range without operator", `    range = { "http.response.status_code" = 400 }`,
			[]string{`test.hcl:4:15: Invalid when: range keys are a field name and an operator, gt, gte, lt or lte ("status_code" is not one), like "http.response.status_code.gte"`}},
		{"range with a string", `    range = { "a.gte" = "400" }`,
			[]string{`test.hcl:4:25: Invalid when: range compares with a number, not a string`}},
		{"equals with a fraction", `    equals = { a = 1.5 }`,
			[]string{`test.hcl:4:20: Invalid when: equals compares with strings, whole numbers and booleans`, `range = { "a.gte" = 1.5 }`}},
		{"equals with a list", `    equals = { a = ["x"] }`,
			[]string{`test.hcl:4:20: Invalid when: equals compares with a string, a whole number or a boolean, not a tuple`}},
		{"contains with a number", `    contains = { message = 5 }`,
			[]string{`test.hcl:4:28: Invalid when: contains takes a string, not a number`}},
		{"empty when", ``,
			[]string{`test.hcl:3:8: Invalid when: the when block is empty`}},
		{"empty or", "    or {\n    }",
			[]string{`test.hcl:4:5: Invalid when: the or block is empty`}},
		{"has_fields not a list", `    has_fields = "a"`,
			[]string{`test.hcl:4:18: Invalid when: has_fields must be a list of field names`}},
		{"metadata field", `    has_fields = ["ok", "@metadata._id"]`,
			[]string{`test.hcl:4:25: Invalid when: "@metadata._id" is not part of the event document`}},
		{"bad field name", `    equals = { "a..b" = 1 }`,
			[]string{`test.hcl:4:16: Invalid when: "a..b" is not a field name`}},
		{"equals not an object", `    equals = "a"`,
			[]string{`test.hcl:4:14: Invalid when: equals must be an object of field names and values`}},
		{"empty equals", `    equals = {}`,
			[]string{`test.hcl:4:14: Invalid when: equals needs at least one field`}},
		{"list element not an object", `    equals = [{ a = 1 }, "b"]`,
			[]string{`test.hcl:4:26: Invalid when: each element of a equals list must be an object`}},
		{"combinator as an attribute", `    or = [{ equals = { a = 1 } }]`,
			[]string{`test.hcl:4:5: Invalid when: or is a block, not an attribute`}},
		{"unknown block", "    xor {\n    }",
			[]string{`test.hcl:4:5: Invalid when: unknown condition "xor". Did you mean "or"?`}},
		{"labelled block", "    not \"x\" {\n      has_fields = [\"a\"]\n    }",
			[]string{`test.hcl:4:9: Invalid when: a not block takes no label`}},
		{"typo inside a nested block", "    and {\n      not {\n        containz = { a = \"b\" }\n      }\n    }",
			[]string{`test.hcl:6:9: Invalid when: unknown condition "containz". Did you mean "contains"?`}},
		{"unset variable inside a nested block", "    or {\n      equals = { a = env(\"LOGPIPE_TEST_UNSET\") }\n    }",
			[]string{`test.hcl:5:22: Invalid when: Error in function call: Call to function "env" failed: environment variable "LOGPIPE_TEST_UNSET" is not set`}},
		{"two problems", "    regexp = { message = \"(\" }\n    or {\n      range = { x = 1 }\n    }",
			[]string{`test.hcl:4:26: Invalid when: missing closing )`, `test.hcl:6:17: Invalid when: range keys`}},
	}
	reg := filtertest.Registry(drop.Register)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := filtertest.Wrap("filter \"drop\" \"d\" {\n  when {\n" + c.when + "\n  }\n}")
			_, diags := filtertest.Load(t, src, reg)
			if diags == "" {
				t.Fatalf("no diagnostic for when { %s }", c.when)
			}
			for _, w := range c.want {
				if !strings.Contains(diags, w) {
					t.Errorf("diagnostics lack %q:\n%s", w, diags)
				}
			}
			if strings.Count(diags, "\n") != max(1, strings.Count(strings.Join(c.want, "\n"), "test.hcl:")) {
				t.Errorf("want %d diagnostics, got:\n%s", max(1, strings.Count(strings.Join(c.want, "\n"), "test.hcl:")), diags)
			}
		})
	}
}

func TestDropNeedsWhen(t *testing.T) {
	_, diags := filtertest.Load(t, filtertest.Wrap(`filter "drop" "d" {}`), filtertest.Registry(drop.Register))
	if !strings.Contains(diags, `test.hcl:2:1: Invalid when: a drop filter needs a when block`) {
		t.Fatalf("diagnostics: %s", diags)
	}
}

// TestNestedBlocksUseTheFilesEnvironment: env() in a nested block reads the environment the
// file is loaded with (the loader's lookup), as at the top of the when block.
func TestNestedBlocksUseTheFilesEnvironment(t *testing.T) {
	src := filtertest.Wrap(`filter "drop" "d" {
  when {
    or {
      not {
        equals = { "service.name" = env("LOGPIPE_TEST_SERVICE") }
      }
    }
  }
}`)
	reg := filtertest.Registry(drop.Register)
	cfg, diags := pipeline.Load("test.hcl", []byte(src), reg, func(name string) (string, bool) {
		return "shop", name == "LOGPIPE_TEST_SERVICE"
	})
	if diags.HasErrors() {
		t.Fatal(pipeline.FormatDiagnostics(diags))
	}
	typ, _ := reg.Filter("drop")
	f, err := typ.Build(cfg.Filters[0].Config, pipeline.Stage{Agent: filtertest.Agent})
	if err != nil {
		t.Fatal(err)
	}
	if got := matches(t, f, `{"service":{"name":"shop"}}`, `{"service":{"name":"db"}}`); got[0] || !got[1] {
		t.Fatalf("matches = %v, want [false true]", got)
	}
}
