package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/logpipe/logpipe/codecs/apache"
	"github.com/logpipe/logpipe/pipeline"
	"go.uber.org/zap"
)

// mappedFields returns every field the template maps explicitly, with its type; multi-fields
// appear as "parent.sub".
func mappedFields(t *testing.T) map[string]string {
	t.Helper()
	name, body := IndexTemplate()
	if name != "filebeat_test" {
		t.Errorf("template name %q", name)
	}
	var tpl struct {
		IndexPatterns []string       `json:"index_patterns"`
		Priority      int            `json:"priority"`
		Meta          map[string]any `json:"_meta"`
		Template      struct {
			Settings struct {
				Index map[string]any `json:"index"`
			} `json:"settings"`
			Mappings struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"mappings"`
		} `json:"template"`
	}
	var loose map[string]any
	if err := json.Unmarshal(body, &loose); err != nil {
		t.Fatalf("template is not JSON: %v", err)
	}
	for k := range loose {
		switch k {
		case "index_patterns", "priority", "version", "_meta", "template", "composed_of", "data_stream":
		default:
			t.Errorf("unknown top-level key %q in an _index_template body", k)
		}
	}
	if err := json.Unmarshal(body, &tpl); err != nil {
		t.Fatal(err)
	}
	if strings.Join(tpl.IndexPatterns, ",") != "filebeat_test-*" || tpl.Meta["owner"] != "logpipe" || tpl.Priority <= 100 {
		t.Errorf("patterns %v, _meta %v, priority %d", tpl.IndexPatterns, tpl.Meta, tpl.Priority)
	}
	idx := tpl.Template.Settings.Index
	if idx["number_of_shards"] != float64(1) || idx["codec"] != "best_compression" || idx["refresh_interval"] != "5s" {
		t.Errorf("settings %v", idx)
	}
	out := map[string]string{}
	var walk func(prefix string, props map[string]json.RawMessage)
	walk = func(prefix string, props map[string]json.RawMessage) {
		for k, raw := range props {
			var m struct {
				Type       string                     `json:"type"`
				Properties map[string]json.RawMessage `json:"properties"`
				Fields     map[string]struct {
					Type string `json:"type"`
				} `json:"fields"`
			}
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatalf("%s%s: %v", prefix, k, err)
			}
			switch {
			case m.Properties != nil:
				walk(prefix+k+".", m.Properties)
			case m.Type != "":
				out[prefix+k] = m.Type
				for sub, f := range m.Fields {
					out[prefix+k+"."+sub] = f.Type
				}
			default:
				t.Errorf("%s%s has neither type nor properties", prefix, k)
			}
		}
	}
	walk("", tpl.Template.Mappings.Properties)
	return out
}

func flatten(prefix string, v any, out map[string]any) {
	if m, ok := v.(map[string]any); ok {
		for k, x := range m {
			flatten(prefix+k+".", x, out)
		}
		return
	}
	out[strings.TrimSuffix(prefix, ".")] = v
}

// shipperFields are the fields of the wire format (DESIGN.md section 3) that the shipper
// writes, besides @metadata, which is never stored.
var shipperFields = []string{
	"@timestamp", "message", "log.offset", "log.flags", "log.file.path", "log.file.device_id", "log.file.inode",
	"log.file.fingerprint", "input.type", "host.name", "ecs.version", "agent.type", "agent.version",
	"agent.name", "agent.id", "agent.ephemeral_id", "tags",
}

// TestTemplateMapsEveryField runs the apache filter over Filebeat's test lines (every
// layout: common, combined, vhost, "-" 408 -, mod_ssl) plus a few extra forms, and checks
// that every field it writes, and every shipper field, is mapped explicitly with a fitting
// type.
func TestTemplateMapsEveryField(t *testing.T) {
	mapped := mappedFields(t)
	want := map[string]string{
		"@timestamp": "date", "source.ip": "ip", "http.response.status_code": "long",
		"http.response.body.bytes": "long", "url.original": "keyword", "url.original.text": "match_only_text",
		"message": "text", "log.offset": "long", "event.created": "date", "tags": "keyword",
		"destination.port": "long", "url.port": "long",
	}
	for k, typ := range want {
		if mapped[k] != typ {
			t.Errorf("%s mapped as %q, want %q", k, mapped[k], typ)
		}
	}
	for _, k := range shipperFields {
		if mapped[k] == "" {
			t.Errorf("shipper field %s is not mapped", k)
		}
	}

	f, err := apache.New(apache.DefaultConfig(), pipeline.Stage{Log: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, name := range []string{"darwin-2.4.23.log", "ssl-request.log", "test-vhost.log", "test.log"} {
		data, err := os.ReadFile("../codecs/apache/testdata/filebeat-module/" + name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
	}
	lines = append(lines,
		`vh:8443 client.example - - [01/Jan/2024:00:00:00 +0000] "GET http://h:81/a.b?c=d#e HTTP/1.1" 200 1 "-" "ua"`,
		"not an access line")
	seen := map[string]bool{}
	for _, line := range lines {
		msg, _ := json.Marshal(line)
		doc := `{"@timestamp":"2026-11-21T07:16:26.746Z","message":` + string(msg) + `}`
		b := pipeline.NewBatch("t", []pipeline.Event{{Doc: []byte(doc), Timestamp: time.Now()}}, nil)
		f.Process(b)
		var v map[string]any
		if err := json.Unmarshal(b.Events[0].Doc, &v); err != nil {
			t.Fatal(err)
		}
		flat := map[string]any{}
		flatten("", v, flat)
		for k := range flat {
			seen[k] = true
		}
	}
	var keys []string
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if mapped[k] == "" {
			t.Errorf("the apache filter writes %s, which the template does not map", k)
		}
	}
	if len(keys) < 30 {
		t.Errorf("only %d fields seen: %v", len(keys), keys)
	}
}

type savedObject struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	Attributes map[string]any `json:"attributes"`
	References []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"references"`
}

var kqlField = regexp.MustCompile(`([A-Za-z_@][A-Za-z0-9_.@]*)\s*(?:>=|<=|>|<|:)`)

// TestSavedObjects checks the Kibana NDJSON: every line is an object, ids are unique,
// every reference resolves inside the file with the right type, every dashboard panel's
// panelRefName has its reference, the required panels exist, and every field a
// visualization, search or query uses is mapped by the template with a type its operation
// accepts.
func TestSavedObjects(t *testing.T) {
	mapped := mappedFields(t)
	raw := SavedObjects()
	var objs []savedObject
	byKey := map[string]*savedObject{} // type/id
	for i, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		var o savedObject
		if err := json.Unmarshal(line, &o); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if o.ID == "" || o.Type == "" || o.Attributes == nil {
			t.Fatalf("line %d: incomplete object %s", i+1, line)
		}
		if byKey[o.Type+"/"+o.ID] != nil {
			t.Fatalf("duplicate %s/%s", o.Type, o.ID)
		}
		objs = append(objs, o)
		byKey[o.Type+"/"+o.ID] = &objs[len(objs)-1]
	}
	// Re-index: appending may have moved the objects.
	for i := range objs {
		byKey[objs[i].Type+"/"+objs[i].ID] = &objs[i]
	}

	checkField := func(where, field string, types ...string) {
		t.Helper()
		typ, ok := mapped[field]
		if !ok {
			t.Errorf("%s uses %s, which the template does not map", where, field)
			return
		}
		if len(types) > 0 && !slices.Contains(types, typ) {
			t.Errorf("%s uses %s (%s) where %v is needed", where, field, typ, types)
		}
	}
	checkKQL := func(where, q string) {
		t.Helper()
		for _, m := range kqlField.FindAllStringSubmatch(q, -1) {
			checkField(where, m[1])
		}
	}

	var dataView, dashboard *savedObject
	lensTitles := map[string]string{}
	for i := range objs {
		o := &objs[i]
		for _, r := range o.References {
			if byKey[r.Type+"/"+r.ID] == nil {
				t.Errorf("%s/%s: reference %q to %s/%s does not resolve in the file", o.Type, o.ID, r.Name, r.Type, r.ID)
			}
		}
		switch o.Type {
		case "index-pattern":
			if o.Attributes["title"] == "filebeat_test-*" && o.Attributes["timeFieldName"] == "@timestamp" {
				dataView = o
			}
		case "dashboard":
			dashboard = o
		case "lens":
			lensTitles[o.ID] = o.Attributes["title"].(string)
			checkLens(t, o, checkField, checkKQL)
		case "search":
			if cols, ok := o.Attributes["columns"].([]any); ok {
				for _, c := range cols {
					checkField("search "+o.ID, c.(string))
				}
			}
			var ss struct {
				Query struct {
					Query string `json:"query"`
				} `json:"query"`
				IndexRefName string `json:"indexRefName"`
			}
			meta := o.Attributes["kibanaSavedObjectMeta"].(map[string]any)
			if err := json.Unmarshal([]byte(meta["searchSourceJSON"].(string)), &ss); err != nil {
				t.Fatal(err)
			}
			if ss.Query.Query != "http.response.status_code >= 500" || !hasRef(o, ss.IndexRefName, "index-pattern") {
				t.Errorf("search %s: query %q, index ref %q", o.ID, ss.Query.Query, ss.IndexRefName)
			}
			checkKQL("search "+o.ID, ss.Query.Query)
		default:
			t.Errorf("unexpected object type %s", o.Type)
		}
	}
	if dataView == nil {
		t.Fatal("no data view filebeat_test-* with time field @timestamp")
	}
	if dashboard == nil || dashboard.Attributes["title"] != "Apache access (logpipe)" {
		t.Fatal(`no dashboard "Apache access (logpipe)"`)
	}
	var panels []struct {
		Type         string `json:"type"`
		PanelIndex   string `json:"panelIndex"`
		PanelRefName string `json:"panelRefName"`
		GridData     struct {
			X, Y, W, H int
			I          string
		} `json:"gridData"`
	}
	if err := json.Unmarshal([]byte(dashboard.Attributes["panelsJSON"].(string)), &panels); err != nil {
		t.Fatal(err)
	}
	var panelTitles []string
	for _, p := range panels {
		if p.PanelRefName == "" || !hasRef(dashboard, p.PanelIndex+":"+p.PanelRefName, p.Type) {
			t.Errorf("panel %s: panelRefName %q has no %s reference", p.PanelIndex, p.PanelRefName, p.Type)
			continue
		}
		if p.GridData.I != p.PanelIndex || p.GridData.W <= 0 || p.GridData.H <= 0 || p.GridData.X+p.GridData.W > 48 {
			t.Errorf("panel %s: grid %+v", p.PanelIndex, p.GridData)
		}
		for _, r := range dashboard.References {
			if r.Name == p.PanelIndex+":"+p.PanelRefName {
				if title, ok := lensTitles[r.ID]; ok {
					panelTitles = append(panelTitles, title)
				} else if ref := byKey[r.Type+"/"+r.ID]; ref != nil {
					title, _ := ref.Attributes["title"].(string)
					panelTitles = append(panelTitles, title)
				}
			}
		}
	}
	for _, want := range []string{"Requests over time by status class", "Top URLs", "Top client IPs", "Status codes",
		"Bytes served over time", "Top user agents", "Apache errors (status >= 500)"} {
		if !slices.Contains(panelTitles, want) {
			t.Errorf("dashboard has no panel %q (has %v)", want, panelTitles)
		}
	}
}

// checkLens checks one Lens visualization: its layers reference a data view, its columns
// use mapped fields of fitting types, and the visualization refers to existing columns.
func checkLens(t *testing.T, o *savedObject, checkField func(string, string, ...string), checkKQL func(string, string)) {
	t.Helper()
	var st struct {
		DatasourceStates struct {
			FormBased struct {
				Layers map[string]struct {
					ColumnOrder []string `json:"columnOrder"`
					Columns     map[string]struct {
						OperationType string `json:"operationType"`
						SourceField   string `json:"sourceField"`
						Params        struct {
							Filters []struct {
								Input struct {
									Query string `json:"query"`
								} `json:"input"`
							} `json:"filters"`
						} `json:"params"`
					} `json:"columns"`
				} `json:"layers"`
			} `json:"formBased"`
		} `json:"datasourceStates"`
		Visualization json.RawMessage `json:"visualization"`
	}
	b, _ := json.Marshal(o.Attributes["state"])
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("lens %s: %v", o.ID, err)
	}
	if len(st.DatasourceStates.FormBased.Layers) == 0 {
		t.Errorf("lens %s has no layers", o.ID)
	}
	where := "lens " + o.ID
	for id, l := range st.DatasourceStates.FormBased.Layers {
		if !hasRef(o, "indexpattern-datasource-layer-"+id, "index-pattern") {
			t.Errorf("%s: layer %s has no data view reference", where, id)
		}
		if len(l.ColumnOrder) != len(l.Columns) {
			t.Errorf("%s: column order %v for %d columns", where, l.ColumnOrder, len(l.Columns))
		}
		for _, cid := range l.ColumnOrder {
			c, ok := l.Columns[cid]
			if !ok {
				t.Errorf("%s: column %s in columnOrder is not defined", where, cid)
				continue
			}
			if !bytes.Contains(st.Visualization, []byte(`"`+cid+`"`)) {
				t.Errorf("%s: column %s is not used by the visualization", where, cid)
			}
			switch c.OperationType {
			case "count":
			case "date_histogram":
				checkField(where, c.SourceField, "date")
			case "sum", "average", "max", "min", "median":
				checkField(where, c.SourceField, "long", "integer", "float", "double", "scaled_float")
			case "terms":
				checkField(where, c.SourceField, "keyword", "long", "ip", "integer")
			case "filters":
				for _, f := range c.Params.Filters {
					checkKQL(where, f.Input.Query)
				}
			default:
				t.Errorf("%s: unexpected operation %s", where, c.OperationType)
			}
		}
	}
}

func hasRef(o *savedObject, name, typ string) bool {
	for _, r := range o.References {
		if r.Name == name && r.Type == typ {
			return true
		}
	}
	return false
}

func TestAssetsAreCopies(t *testing.T) {
	_, a := IndexTemplate()
	a[0] = 'x'
	if _, b := IndexTemplate(); b[0] != '{' {
		t.Error("IndexTemplate returns the embedded bytes themselves")
	}
	s := SavedObjects()
	s[0] = 'x'
	if SavedObjects()[0] != '{' {
		t.Error("SavedObjects returns the embedded bytes themselves")
	}
}
