package apache

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// flatten turns a decoded JSON object into dotted keys, as Filebeat's -expected.json files
// list them.
func flatten(prefix string, v any, out map[string]any) {
	m, ok := v.(map[string]any)
	if !ok {
		out[prefix] = v
		return
	}
	for k, x := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		flatten(key, x, out)
	}
}

// fieldsOf parses line and returns the flattened fields AppendFields writes.
func fieldsOf(t testing.TB, line string, created []byte) (map[string]any, bool) {
	t.Helper()
	var r Record
	if !Parse([]byte(line), &r) {
		return nil, false
	}
	var w Writer
	doc := append([]byte{'{'}, w.AppendFields(nil, &r, created)...)
	doc = append(doc, '}')
	var v map[string]any
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("AppendFields(%q) wrote invalid JSON %s: %v", line, doc, err)
	}
	out := map[string]any{}
	flatten("", v, out)
	return out, true
}

// notOurs are fields of the expected files that the filter does not produce: GeoIP and
// user-agent details (they need databases inside Elasticsearch), Filebeat's own metadata,
// and event.original (logpipe keeps the line in message).
func notOurs(k string) bool {
	switch {
	case strings.HasPrefix(k, "source.geo."), strings.HasPrefix(k, "source.as."):
		return true
	case strings.HasPrefix(k, "user_agent.") && k != "user_agent.original":
		return true
	}
	switch k {
	case "input.type", "fileset.name", "service.type", "log.offset", "event.original":
		return true
	}
	return false
}

// TestConformanceFilebeat compares the fields produced for every line of Filebeat's apache
// module test files with the fields Filebeat's ingest pipeline produced, both ways: every
// expected field is produced with the same value, and nothing else is produced (apart from
// event.created, which Filebeat's test files leave out).
func TestConformanceFilebeat(t *testing.T) {
	logs, err := filepath.Glob("testdata/filebeat-module/*.log")
	if err != nil || len(logs) == 0 {
		t.Fatalf("no test logs: %v", err)
	}
	total := 0
	for _, logFile := range logs {
		t.Run(filepath.Base(logFile), func(t *testing.T) {
			raw, err := os.ReadFile(logFile)
			if err != nil {
				t.Fatal(err)
			}
			expRaw, err := os.ReadFile(logFile + "-expected.json")
			if err != nil {
				t.Fatal(err)
			}
			var expected []map[string]any
			d := json.NewDecoder(bytes.NewReader(expRaw))
			d.UseNumber()
			if err := d.Decode(&expected); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
			if len(lines) != len(expected) {
				t.Fatalf("%d lines, %d expected documents", len(lines), len(expected))
			}
			for i, line := range lines {
				got, ok := fieldsOf(t, line, []byte(`"2026-11-21T07:16:26.746Z"`))
				if !ok {
					t.Errorf("line %d: parse failed: %q", i+1, line)
					continue
				}
				total++
				exp := expected[i]
				var keys []string
				for k := range exp {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					if notOurs(k) {
						continue
					}
					g, ok := got[k]
					if !ok {
						t.Errorf("line %d: %s missing, want %v", i+1, k, exp[k])
						continue
					}
					if fmt.Sprint(g) != fmt.Sprint(exp[k]) || reflect.TypeOf(g) != reflect.TypeOf(exp[k]) {
						t.Errorf("line %d: %s = %#v, want %#v", i+1, k, g, exp[k])
					}
				}
				for k, v := range got {
					if _, ok := exp[k]; !ok && k != "event.created" {
						t.Errorf("line %d: unexpected field %s = %v", i+1, k, v)
					}
				}
				if got["event.created"] != "2026-11-21T07:16:26.746Z" {
					t.Errorf("line %d: event.created = %v", i+1, got["event.created"])
				}
			}
		})
	}
	if total < 16 {
		t.Errorf("only %d lines compared", total)
	}
}

// TestElasticExamples parses all 10,000 lines of the elastic/examples access log.
func TestElasticExamples(t *testing.T) {
	f, err := os.Open("testdata/elastic-examples-apache_logs.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var r Record
	var w Writer
	n, withUA := 0, 0
	status := map[int32]int{}
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if !Parse(line, &r) {
			t.Errorf("line %d does not parse: %q", n, line)
			continue
		}
		if r.Method == nil || r.URL == nil || r.Version == nil || r.Status < 100 {
			t.Errorf("line %d: incomplete record %+v", n, r)
		}
		if r.HasUserAgent {
			withUA++
		}
		status[r.Status]++
		doc := append([]byte{'{'}, w.AppendFields(nil, &r, nil)...)
		doc = append(doc, '}')
		if !json.Valid(doc) {
			t.Fatalf("line %d: invalid JSON %s", n, doc)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 10000 {
		t.Fatalf("read %d lines, want 10000", n)
	}
	// One line's user agent lacks its closing quote; Filebeat's pattern leaves it out too.
	if withUA != n-1 || status[200] != 9126 || status[404] != 213 || status[500] != 3 {
		t.Errorf("user agents %d, status counts %v", withUA, status)
	}
}

func TestParseForms(t *testing.T) {
	created := []byte(`"2026-11-21T07:16:26.746Z"`)
	tests := []struct {
		name string
		line string
		want map[string]any // flattened; values compared with fmt.Sprint
		none []string       // fields that must be absent
	}{
		{
			name: "vhost with port and IPv6 client, 5xx",
			line: `www.example.com:443 2001:db8::1 - alice [01/Jan/2024:00:00:00 -0130] "POST /api/v1/items?id=7&x=%41 HTTP/2.0" 503 - "https://ref/" "curl/8.0"`,
			want: map[string]any{
				"@timestamp": "2024-01-01T01:30:00.000Z", "destination.domain": "www.example.com",
				"destination.port": "443", "url.domain": "www.example.com", "source.ip": "2001:db8::1",
				"user.name": "alice", "http.request.method": "POST", "http.version": "2.0",
				"url.path": "/api/v1/items", "url.query": "id=7&x=A", "http.response.status_code": "503",
				"event.outcome": "failure", "http.request.referrer": "https://ref/", "user_agent.original": "curl/8.0",
			},
			none: []string{"http.response.body.bytes", "url.extension", "source.address"},
		},
		{
			name: "vhost with host-name client",
			line: `vh client.example.org - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 5`,
			want: map[string]any{"destination.domain": "vh", "source.address": "client.example.org",
				"source.domain": "client.example.org"},
			none: []string{"source.ip", "destination.port"},
		},
		{
			name: "escaped quotes, proxy request, fragment",
			line: `10.0.0.1 - - [29/Feb/2024:23:59:59 +0100] "GET http://h.example:8080/a%20b.tar.gz?q=1#frag HTTP/1.0" 302 0 "-" "say \"hi\""`,
			want: map[string]any{"@timestamp": "2024-02-29T22:59:59.000Z", "url.scheme": "http",
				"url.domain": "h.example", "url.port": "8080", "url.path": "/a b.tar.gz", "url.extension": "gz",
				"url.query": "q=1", "url.fragment": "frag", "user_agent.original": `say \"hi\"`,
				"http.response.body.bytes": "0", "event.outcome": "success"},
		},
		{
			name: "HTTP/0.9 request without version",
			line: `1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET /x" 400 10`,
			want: map[string]any{"http.request.method": "GET", "url.original": "/x"},
			none: []string{"http.version"},
		},
		{
			name: "junk request line",
			line: `1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "\x16\x03\x01" 400 226`,
			want: map[string]any{"http.response.status_code": "400", "source.ip": "1.2.3.4"},
			none: []string{"http.request.method", "url.original"},
		},
		{
			name: "user with a space",
			line: `1.2.3.4 - John Doe [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1`,
			want: map[string]any{"user.name": "John Doe", "source.address": "1.2.3.4"},
		},
		{
			name: "ssl with SSLv3 and no bytes",
			line: `[01/Jan/2024:00:00:00 +0000] 1.2.3.4 SSLv3 RC4-SHA "GET /x.php HTTP/1.1" -`,
			want: map[string]any{"tls.version": "3.0", "tls.version_protocol": "ssl", "tls.cipher": "RC4-SHA",
				"apache.access.ssl.protocol": "SSLv3", "url.extension": "php"},
			none: []string{"http.response.status_code", "event.outcome", "user.name", "http.response.body.bytes"},
		},
		{
			name: "ssl without TLS",
			line: `[01/Jan/2024:00:00:00 +0000] 1.2.3.4 - - "GET / HTTP/1.1" 5`,
			want: map[string]any{"tls.cipher": "-", "apache.access.ssl.protocol": "-"},
			none: []string{"tls.version", "tls.version_protocol"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := fieldsOf(t, tc.line, created)
			if !ok {
				t.Fatalf("parse failed: %q", tc.line)
			}
			for k, v := range tc.want {
				if fmt.Sprint(got[k]) != fmt.Sprint(v) {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
			for _, k := range tc.none {
				if v, ok := got[k]; ok {
					t.Errorf("%s = %v, want absent", k, v)
				}
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	for _, line := range []string{
		"",
		"hello world",
		`1.2.3.4 - - [01/Jan/2024:00:00:00 +0000]`,
		`1.2.3.4 - - [31/Feb/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1`,
		`1.2.3.4 - - [01/Foo/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1`,
		`1.2.3.4 - - [01/Jan/2024:24:00:00 +0000] "GET / HTTP/1.1" 200 1`,
		`1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1 200 1`,
		`1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" abc 1`,
		`1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200`,
		`1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 12x`,
		`1.2.3.4  - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1`,
		`[01/Jan/2024:00:00:00 +0000] 1.2.3.4 TLSv1.2 "GET / HTTP/1.1" 1`,
	} {
		var r Record
		if Parse([]byte(line), &r) {
			t.Errorf("Parse(%q) succeeded: %+v", line, r)
		}
	}
}

func TestIsIP(t *testing.T) {
	for s, want := range map[string]bool{
		"1.2.3.4": true, "255.255.255.255": true, "256.1.1.1": false, "01.2.3.4": false, "1.2.3": false,
		"::1": true, "fe80::1%eth0": true, "2001:db8::": true, "host": false, "a:b": false, "": false,
		"1.2.3.4.5": false,
	} {
		if got := isIP([]byte(s)); got != want {
			t.Errorf("isIP(%q) = %v", s, got)
		}
	}
}

var benchLine = []byte(`83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /presentations/logstash-monitorama-2013/images/kibana-search.png HTTP/1.1" 200 203023 "http://semicomplete.com/presentations/logstash-monitorama-2013/" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36"`)

func BenchmarkParse(b *testing.B) {
	var r Record
	b.SetBytes(int64(len(benchLine)))
	b.ReportAllocs()
	for b.Loop() {
		if !Parse(benchLine, &r) {
			b.Fatal("parse failed")
		}
	}
}

func BenchmarkParseAndAppend(b *testing.B) {
	var r Record
	var w Writer
	buf := make([]byte, 0, 4096)
	b.SetBytes(int64(len(benchLine)))
	b.ReportAllocs()
	for b.Loop() {
		if !Parse(benchLine, &r) {
			b.Fatal("parse failed")
		}
		buf = w.AppendFields(buf[:0], &r, nil)
	}
}
