package estemplate

import (
	"bytes"
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/logpipe/logpipe/codecs/apache"
	"github.com/logpipe/logpipe/pipeline"
)

// mapped returns every field the template maps, with its type; multi-fields appear as
// "parent.sub".
func mapped(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile("filebeat_test-template.json")
	if err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		Template struct {
			Mappings struct {
				Properties map[string]any `json:"properties"`
			} `json:"mappings"`
		} `json:"template"`
	}
	if err := json.Unmarshal(raw, &tpl); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var walk func(prefix string, props map[string]any)
	walk = func(prefix string, props map[string]any) {
		for k, v := range props {
			m := v.(map[string]any)
			name := prefix + k
			if sub, ok := m["properties"].(map[string]any); ok {
				walk(name+".", sub)
				continue
			}
			out[name] = m["type"].(string)
			if fields, ok := m["fields"].(map[string]any); ok {
				for f, fm := range fields {
					out[name+"."+f] = fm.(map[string]any)["type"].(string)
				}
			}
		}
	}
	walk("", tpl.Template.Mappings.Properties)
	return out
}

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
		// A geo_point is one field: {lat, lon}.
		if key == "source.geo.location" {
			out[key] = x
			continue
		}
		flatten(key, x, out)
	}
}

// TestTemplateMapsEnrichedFields runs the apache filter with user agents, GeoIP (MaxMind's
// test databases) and error_log lines, and checks that every field it writes is mapped,
// with the types Filebeat's apache module maps them with.
func TestTemplateMapsEnrichedFields(t *testing.T) {
	m := mapped(t)
	c := apache.DefaultConfig()
	c.GeoIP = &apache.GeoIPConfig{
		CityDatabase: "../../codecs/apache/testdata/geoip/GeoLite2-City-Test.mmdb",
		ASNDatabase:  "../../codecs/apache/testdata/geoip/GeoLite2-ASN-Test.mmdb",
	}
	f, err := apache.New(c, pipeline.Stage{})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, name := range []string{"filebeat-module-enrich/darwin-2.4.23.log", "filebeat-module-enrich/error-test.log", "filebeat-module-enrich/test.log", "filebeat-module/ssl-request.log"} {
		data, err := os.ReadFile("../../codecs/apache/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Split(strings.TrimSpace(string(data)), "\n")...)
	}
	lines = append(lines,
		"[Wed Oct 20 19:20:59.121211 2021] [rewrite:trace3] [pid 121591:tid 140413273032448] [client 81.2.69.142:38350] File does not exist: /x, referer: http://example.com/",
		`81.2.69.142 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"`)
	seen := map[string]any{}
	for _, line := range lines {
		msg, _ := json.Marshal(line)
		doc := `{"@timestamp":"2026-11-21T07:16:26.746Z","message":` + string(msg) + `}`
		b := pipeline.NewBatch("t", []pipeline.Event{{Doc: []byte(doc)}}, nil)
		f.Process(b)
		var v map[string]any
		d := json.NewDecoder(bytes.NewReader(b.Events[0].Doc))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		flatten("", v, seen)
	}
	var keys []string
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if m[k] == "" {
			t.Errorf("the apache filter writes %s, which the template does not map", k)
		}
	}
	for k, typ := range map[string]string{
		"source.geo.location": "geo_point", "source.as.number": "long", "source.as.organization.name": "keyword",
		"source.as.organization.name.text": "match_only_text", "user_agent.name": "keyword", "user_agent.version": "keyword",
		"user_agent.os.name": "keyword", "user_agent.os.full": "keyword", "user_agent.os.version": "keyword",
		"user_agent.device.name": "keyword", "log.level": "keyword", "apache.error.module": "keyword",
		"process.pid": "long", "process.thread.id": "long", "file.path": "keyword", "event.type": "keyword",
		"event.timezone": "keyword", "source.port": "long", "source.geo.country_iso_code": "keyword",
		"source.geo.region_name": "keyword", "source.geo.city_name": "keyword",
	} {
		if _, ok := seen[k]; !ok && !strings.HasSuffix(k, ".text") {
			t.Errorf("the filter never wrote %s: the test lines do not cover it", k)
		}
		if m[k] != typ {
			t.Errorf("%s mapped as %q, want %q", k, m[k], typ)
		}
	}
}

func TestKeepPipelines(t *testing.T) {
	body, err := os.ReadFile("filebeat_test-template.json")
	if err != nil {
		t.Fatal(err)
	}
	settingsOf := func(b []byte) map[string]any {
		var v struct {
			Template struct {
				Settings struct {
					Index map[string]any `json:"index"`
				} `json:"settings"`
			} `json:"template"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		return v.Template.Settings.Index
	}
	// As GET _index_template answers: nested settings with string values.
	installed := []byte(`{"index_templates":[{"name":"filebeat_test","index_template":{"index_patterns":["filebeat_test-*"],
		"template":{"settings":{"index":{"default_pipeline":"geoip-enrich","number_of_shards":"1"}}},"version":1}}]}`)
	out, kept, err := KeepPipelines(body, installed)
	if err != nil {
		t.Fatal(err)
	}
	s := settingsOf(out)
	if s["default_pipeline"] != "geoip-enrich" || len(kept) != 1 || kept[0] != "index.default_pipeline=geoip-enrich" {
		t.Errorf("kept %v, settings %v", kept, s)
	}
	if s["number_of_shards"] != float64(1) || s["codec"] != "best_compression" {
		t.Errorf("logpipe's own settings changed: %v", s)
	}
	// Flat keys, and final_pipeline too.
	installed = []byte(`{"index_templates":[{"name":"x","index_template":{"template":{"settings":{"index.default_pipeline":"a","index.final_pipeline":"b"}}}}]}`)
	out, kept, _ = KeepPipelines(body, installed)
	if s := settingsOf(out); s["default_pipeline"] != "a" || s["final_pipeline"] != "b" || len(kept) != 2 {
		t.Errorf("flat: kept %v, settings %v", kept, s)
	}
	// Nothing to keep: the body is returned as it is.
	for _, inst := range []string{`{"index_templates":[{"name":"x","index_template":{"template":{}}}]}`, `not json`, `{}`} {
		out, kept, err = KeepPipelines(body, []byte(inst))
		if err != nil || kept != nil || !bytes.Equal(out, body) {
			t.Errorf("%s: kept %v, err %v, changed %v", inst, kept, err, !bytes.Equal(out, body))
		}
	}
}
