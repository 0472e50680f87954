package estest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

func start(t *testing.T, o Options) *Server {
	t.Helper()
	s := New(o)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func do(t *testing.T, method, url, ct, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	if len(raw) > 0 && method != http.MethodHead {
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("answer is not JSON: %v: %s", err, raw)
		}
	}
	return res.StatusCode, res.Header, m
}

type item struct {
	Index   string `json:"_index"`
	ID      string `json:"_id"`
	Version int64  `json:"_version"`
	Result  string `json:"result"`
	Status  int    `json:"status"`
	SeqNo   *int64 `json:"_seq_no"`
	Error   *struct {
		Type     string `json:"type"`
		Reason   string `json:"reason"`
		CausedBy struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"caused_by"`
	} `json:"error"`
}

type bulkResp struct {
	Took   *int64            `json:"took"`
	Errors bool              `json:"errors"`
	Items  []map[string]item `json:"items"`
	Error  map[string]any    `json:"error"`
	Status int               `json:"status"`
	Extra  map[string]any    `json:"-"`
}

func bulk(t *testing.T, s *Server, body string) (int, bulkResp) {
	t.Helper()
	res, err := http.Post(s.URL()+"/_bulk", "application/x-ndjson", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.Header.Get("X-Elastic-Product") != "Elasticsearch" {
		t.Errorf("X-Elastic-Product = %q", res.Header.Get("X-Elastic-Product"))
	}
	var r bulkResp
	raw, _ := io.ReadAll(res.Body)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatalf("%v: %s", err, raw)
		}
	}
	return res.StatusCode, r
}

// The request and answer of the Bulk API reference ("Example" section): index, delete,
// create, update in one request, answered in order.
func TestBulkDocumentedExample(t *testing.T) {
	s := start(t, Options{})
	body := `{ "index" : { "_index" : "test", "_id" : "1" } }
{ "field1" : "value1" }
{ "delete" : { "_index" : "test", "_id" : "2" } }
{ "create" : { "_index" : "test", "_id" : "3" } }
{ "field1" : "value3" }
{ "update" : {"_id" : "1", "_index" : "test"} }
{ "doc" : {"field2" : "value2"} }
`
	st, r := bulk(t, s, body)
	if st != 200 || r.Errors || r.Took == nil || len(r.Items) != 4 {
		t.Fatalf("status %d, %+v", st, r)
	}
	want := []struct {
		action, id, result string
		status             int
		version            int64
	}{
		{"index", "1", "created", 201, 1},
		{"delete", "2", "not_found", 404, 1},
		{"create", "3", "created", 201, 1},
		{"update", "1", "updated", 200, 2},
	}
	for i, w := range want {
		it, ok := r.Items[i][w.action]
		if !ok || len(r.Items[i]) != 1 {
			t.Fatalf("item %d: %v, want action %s", i, r.Items[i], w.action)
		}
		if it.Index != "test" || it.ID != w.id || it.Result != w.result || it.Status != w.status || it.Version != w.version || it.SeqNo == nil {
			t.Errorf("item %d: %+v, want %+v", i, it, w)
		}
	}
	doc, _ := s.Doc("test", "1")
	var m map[string]string
	_ = json.Unmarshal(doc, &m)
	if m["field1"] != "value1" || m["field2"] != "value2" {
		t.Errorf("doc 1 = %s", doc)
	}
}

// A delete does not create a missing index (its item fails with index_not_found_exception);
// an update does (TransportBulkAction's auto-create step), then misses the document.
func TestBulkMissingIndex(t *testing.T) {
	s := start(t, Options{})
	_, r := bulk(t, s, `{"delete":{"_index":"gone","_id":"1"}}
{"update":{"_index":"later","_id":"1"}}
{"doc":{"a":1}}
`)
	if !r.Errors || len(r.Items) != 2 {
		t.Fatalf("%+v", r)
	}
	if it := r.Items[0]["delete"]; it.Status != 404 || it.Error == nil || it.Error.Type != "index_not_found_exception" {
		t.Errorf("delete on a missing index: %+v", it)
	}
	if it := r.Items[1]["update"]; it.Status != 404 || it.Error == nil || it.Error.Type != "document_missing_exception" {
		t.Errorf("update on a missing index: %+v", it)
	}
	if got := s.Indices(); len(got) != 1 || got[0] != "later" {
		t.Errorf("indices %v, want only the one the update created", got)
	}
}

func TestCreateConflictAndAutoID(t *testing.T) {
	s := start(t, Options{})
	body := `{"create":{"_index":"logs","_id":"a"}}
{"message":"one"}
{"create":{"_index":"logs","_id":"a"}}
{"message":"one again"}
{"create":{"_index":"logs"}}
{"message":"no id"}
`
	_, r := bulk(t, s, body)
	if !r.Errors || len(r.Items) != 3 {
		t.Fatalf("%+v", r)
	}
	if it := r.Items[0]["create"]; it.Status != 201 {
		t.Errorf("first create: %+v", it)
	}
	it := r.Items[1]["create"]
	if it.Status != 409 || it.Error == nil || it.Error.Type != "version_conflict_engine_exception" ||
		!strings.Contains(it.Error.Reason, "document already exists") {
		t.Errorf("second create: %+v", it)
	}
	if it := r.Items[2]["create"]; it.Status != 201 || len(it.ID) != 20 {
		t.Errorf("auto id: %+v", it)
	}
	if s.Count("logs") != 2 {
		t.Errorf("count = %d", s.Count("logs"))
	}
	if d, _ := s.Doc("logs", "a"); string(d) != `{"message":"one"}` {
		t.Errorf("doc a = %s", d)
	}
}

func TestWholeRequestValidation(t *testing.T) {
	s := start(t, Options{})
	cases := []struct {
		name, ct, body string
		status         int
		typ            string
	}{
		{"no final newline", "application/x-ndjson", `{"create":{"_index":"x"}}` + "\n" + `{"a":1}`, 400, "illegal_argument_exception"},
		{"unknown action", "application/x-ndjson", `{"insert":{"_index":"x"}}` + "\n{}\n", 400, "illegal_argument_exception"},
		{"action not an object", "application/x-ndjson", `"create"` + "\n{}\n", 400, "illegal_argument_exception"},
		{"broken json", "application/x-ndjson", `{"create":` + "\n{}\n", 400, "x_content_parse_exception"},
		{"unknown parameter", "application/x-ndjson", `{"create":{"_index":"x","foo":1}}` + "\n{}\n", 400, "illegal_argument_exception"},
		{"missing index", "application/x-ndjson", `{"create":{"_id":"1"}}` + "\n{}\n", 400, "action_request_validation_exception"},
		{"empty", "application/x-ndjson", "", 400, "action_request_validation_exception"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, h, m := do(t, "POST", s.URL()+"/_bulk", c.ct, c.body)
			if st != c.status || h.Get("X-Elastic-Product") != "Elasticsearch" {
				t.Fatalf("status %d, header %v", st, h)
			}
			e, _ := m["error"].(map[string]any)
			if e == nil || e["type"] != c.typ || m["status"] != float64(c.status) {
				t.Errorf("answer %v, want error type %s", m, c.typ)
			}
		})
	}
	if s.Count("") != 0 {
		t.Errorf("rejected requests stored documents")
	}
	st, _, _ := do(t, "POST", s.URL()+"/_bulk", "text/plain", `{"create":{"_index":"x"}}`+"\n{}\n")
	if st != 406 {
		t.Errorf("text/plain: status %d, want 406", st)
	}
	st, _, m := do(t, "POST", s.URL()+"/x/_bulk", "application/json; charset=UTF-8", `{"create":{}}`+"\n{}\n")
	if st != 200 || s.Count("x") != 1 {
		t.Errorf("index from path: %d %v", st, m)
	}
}

func TestInvalidIndexNameIsItemLevel(t *testing.T) {
	s := start(t, Options{})
	_, r := bulk(t, s, `{"create":{"_index":"Logs","_id":"1"}}`+"\n{}\n"+`{"create":{"_index":"logs","_id":"1"}}`+"\n{}\n")
	if it := r.Items[0]["create"]; it.Status != 400 || it.Error.Type != "invalid_index_name_exception" {
		t.Errorf("%+v", it)
	}
	if it := r.Items[1]["create"]; it.Status != 201 {
		t.Errorf("%+v", it)
	}
}

func TestMappingConflict(t *testing.T) {
	s := start(t, Options{})
	s.MapField("http.response.status_code", "long")
	body := `{"create":{"_index":"web","_id":"1"}}
{"http":{"response":{"status_code":"200"}}}
{"create":{"_index":"web","_id":"2"}}
{"http.response.status_code":"abc"}
{"create":{"_index":"web","_id":"3"}}
{"n":1}
{"create":{"_index":"web","_id":"4"}}
{"n":"x"}
{"create":{"_index":"web","_id":"5"}}
{"n":{"a":1}}
{"create":{"_index":"web","_id":"6"}}
not json
`
	_, r := bulk(t, s, body)
	status := func(i int) (int, string) {
		it := r.Items[i]["create"]
		if it.Error != nil {
			return it.Status, it.Error.Type + ": " + it.Error.Reason
		}
		return it.Status, ""
	}
	if st, _ := status(0); st != 201 { // "200" is coerced
		t.Errorf("coerced numeric string: %d", st)
	}
	if st, e := status(1); st != 400 || !strings.HasPrefix(e, "document_parsing_exception: ") ||
		!strings.Contains(e, "failed to parse field [http.response.status_code] of type [long] in document with id '2'") {
		t.Errorf("item 1: %d %s", st, e)
	}
	if st, _ := status(2); st != 201 {
		t.Errorf("dynamic long: %d", st)
	}
	if st, e := status(3); st != 400 || !strings.Contains(e, "of type [long]") {
		t.Errorf("dynamic conflict: %d %s", st, e)
	}
	if st, e := status(4); st != 400 || !strings.HasPrefix(e, "document_parsing_exception") {
		t.Errorf("object into long: %d %s", st, e)
	}
	if st, e := status(5); st != 400 || !strings.HasPrefix(e, "document_parsing_exception") {
		t.Errorf("not json: %d %s", st, e)
	}
	if s.Count("web") != 2 {
		t.Errorf("count %d", s.Count("web"))
	}
}

// The caused_by of a value that does not fit a numeric field depends on the type.
func TestNumericCauses(t *testing.T) {
	s := start(t, Options{})
	s.MapField("n", "long")
	s.MapField("f", "float")
	_, r := bulk(t, s, `{"create":{"_index":"num","_id":"1"}}
{"n":"x"}
{"create":{"_index":"num","_id":"2"}}
{"f":"x"}
{"create":{"_index":"num","_id":"3"}}
{"n":false}
`)
	want := []struct{ cause, reason string }{
		{"illegal_argument_exception", `For input string: "x"`},
		{"number_format_exception", `For input string: "x"`},
		{"x_content_parse_exception", "Current token (VALUE_FALSE) not numeric"},
	}
	for i, w := range want {
		it := r.Items[i]["create"]
		if it.Status != 400 || it.Error == nil || it.Error.Type != "document_parsing_exception" ||
			it.Error.CausedBy.Type != w.cause || !strings.Contains(it.Error.CausedBy.Reason, w.reason) {
			t.Errorf("item %d: %+v, want caused_by %s %q", i, it.Error, w.cause, w.reason)
		}
	}
}

func TestTemplateMappingsApply(t *testing.T) {
	s := start(t, Options{})
	tmpl := `{"index_patterns":["logs-*"],"priority":10,"template":{"mappings":{"date_detection":false,
	  "properties":{"@timestamp":{"type":"date"},"http":{"properties":{"response":{"properties":{"status_code":{"type":"long"}}}}}}}}}`
	st, _, _ := do(t, "PUT", s.URL()+"/_index_template/logs", "application/json", tmpl)
	if st != 200 {
		t.Fatalf("PUT template: %d", st)
	}
	st, _, m := do(t, "GET", s.URL()+"/_index_template/logs", "", "")
	if st != 200 || len(m["index_templates"].([]any)) != 1 {
		t.Fatalf("GET template: %d %v", st, m)
	}
	st, _, _ = do(t, "GET", s.URL()+"/_index_template/none", "", "")
	if st != 404 {
		t.Errorf("missing template: %d", st)
	}
	_, r := bulk(t, s, `{"create":{"_index":"logs-1","_id":"1"}}
{"@timestamp":"2026-11-21T07:16:26.746Z","http":{"response":{"status_code":"x"}}}
{"create":{"_index":"logs-1","_id":"2"}}
{"@timestamp":"yesterday"}
{"create":{"_index":"other","_id":"1"}}
{"http":{"response":{"status_code":"x"}}}
`)
	if it := r.Items[0]["create"]; it.Status != 400 {
		t.Errorf("template mapping not applied: %+v", it)
	}
	if it := r.Items[1]["create"]; it.Status != 400 || !strings.Contains(it.Error.Reason, "of type [date]") {
		t.Errorf("date: %+v", it)
	}
	if it := r.Items[2]["create"]; it.Status != 201 {
		t.Errorf("template applied to a non-matching index: %+v", it)
	}
}

func TestInfoHealthCount(t *testing.T) {
	s := start(t, Options{})
	st, h, m := do(t, "GET", s.URL()+"/", "", "")
	v, _ := m["version"].(map[string]any)
	if st != 200 || h.Get("X-Elastic-Product") != "Elasticsearch" || v == nil || !strings.HasPrefix(v["number"].(string), "8.") ||
		m["tagline"] != "You Know, for Search" {
		t.Errorf("GET /: %d %v", st, m)
	}
	st, _, m = do(t, "GET", s.URL()+"/_cluster/health", "", "")
	if st != 200 || m["status"] != "green" {
		t.Errorf("health: %d %v", st, m)
	}
	bulk(t, s, `{"index":{"_index":"a-1"}}`+"\n{}\n"+`{"index":{"_index":"a-2"}}`+"\n{}\n")
	st, _, m = do(t, "GET", s.URL()+"/a-*/_count", "", "")
	if st != 200 || m["count"] != float64(2) {
		t.Errorf("_count: %d %v", st, m)
	}
	st, _, _ = do(t, "GET", s.URL()+"/nope/_count", "", "")
	if st != 404 {
		t.Errorf("_count of a missing index: %d", st)
	}
}

func TestFaults(t *testing.T) {
	s := start(t, Options{Seed: 1})
	s.RejectItems(0.5)
	var body strings.Builder
	for i := 0; i < 200; i++ {
		body.WriteString(`{"create":{"_index":"f"}}` + "\n{}\n")
	}
	_, r := bulk(t, s, body.String())
	n := 0
	for _, it := range r.Items {
		if c := it["create"]; c.Status == 429 {
			if c.Error.Type != "es_rejected_execution_exception" {
				t.Fatalf("%+v", c)
			}
			n++
		}
	}
	if n < 60 || n > 140 || !r.Errors || s.Stats().Rejected != n {
		t.Errorf("%d of 200 rejected", n)
	}
	s.RejectItems(0)

	s.FailRequests(503, 2)
	for i, want := range []int{503, 503, 200} {
		st, r := bulk(t, s, `{"create":{"_index":"f"}}`+"\n{}\n")
		if st != want {
			t.Errorf("request %d: %d, want %d (%v)", i, st, want, r.Error)
		}
	}
	s.FailRequests(429, 1)
	if st, r := bulk(t, s, `{"create":{"_index":"f"}}`+"\n{}\n"); st != 429 || r.Error["type"] != "es_rejected_execution_exception" {
		t.Errorf("429: %d %v", st, r.Error)
	}

	s.SetMaxContentLength(100)
	if st, _ := bulk(t, s, `{"create":{"_index":"f"}}`+"\n"+`{"m":"`+strings.Repeat("x", 200)+`"}`+"\n"); st != 413 {
		t.Errorf("oversized: %d", st)
	}
	s.SetMaxContentLength(DefaultMaxContentLength)

	url := s.URL()
	if err := s.SetDown(true); err != nil {
		t.Fatal(err)
	}
	_, err := http.Post(url+"/_bulk", "application/x-ndjson", strings.NewReader("{}\n"))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("down: %v, want connection refused", err)
	}
	if err := s.SetDown(false); err != nil {
		t.Fatal(err)
	}
	if st, _ := bulk(t, s, `{"create":{"_index":"f"}}`+"\n{}\n"); st != 200 {
		t.Errorf("up again: %d", st)
	}

	s.SetHangUp(true)
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	_, err = c.Post(url+"/_bulk", "application/x-ndjson", strings.NewReader(`{"create":{"_index":"f"}}`+"\n{}\n"))
	if err == nil {
		t.Errorf("hang-up: no error")
	}
	s.SetHangUp(false)
}

func TestBasicAuth(t *testing.T) {
	s := start(t, Options{Username: "elastic", Password: "changeme"})
	st, h, m := do(t, "GET", s.URL()+"/", "", "")
	if st != 401 || h.Get("X-Elastic-Product") != "Elasticsearch" || m["error"].(map[string]any)["type"] != "security_exception" {
		t.Errorf("no credentials: %d %v", st, m)
	}
	req, _ := http.NewRequest("POST", s.URL()+"/_bulk", bytes.NewReader([]byte(`{"create":{"_index":"a"}}`+"\n{}\n")))
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.SetBasicAuth("elastic", "changeme")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("with credentials: %v %v", err, res)
	}
	res.Body.Close()
}

func TestWait(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := Wait(ctx, func() bool { return false }); err == nil {
		t.Error("Wait returned nil for a condition that never holds")
	}
}

func TestFilterPath(t *testing.T) {
	s := start(t, Options{})
	body := `{"create":{"_index":"f","_id":"1"}}
{}
{"create":{"_index":"f","_id":"1"}}
{}
`
	req, _ := http.NewRequest("POST", s.URL()+"/_bulk?filter_path=errors,items.*.status,items.*.error.type", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-ndjson")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	want := `{"errors":true,"items":[{"create":{"status":201}},{"create":{"error":{"type":"version_conflict_engine_exception"},"status":409}}]}`
	if string(raw) != want {
		t.Errorf("got  %s\nwant %s", raw, want)
	}
	// Without status in the filter, items without an error disappear (Elasticsearch's gotcha).
	body = strings.ReplaceAll(body, `"_id":"1"`, `"_id":"2"`)
	req, _ = http.NewRequest("POST", s.URL()+"/_bulk?filter_path=items.*.error", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-ndjson")
	res2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res2.Body.Close()
	var m struct{ Items []any }
	_ = json.NewDecoder(res2.Body).Decode(&m)
	if len(m.Items) != 1 {
		t.Errorf("%d items, want only the failed one", len(m.Items))
	}
}

// Missing write privileges fail the items of the indices concerned with 403
// security_exception, the request itself is 200; other items are stored. A missing index
// needs auto_create, an existing one the create privilege.
func TestWritesDeniedPerItem(t *testing.T) {
	s := start(t, Options{})
	if st, r := bulk(t, s, `{"create":{"_index":"logs-b","_id":"0"}}`+"\n{}\n"); st != 200 || r.Items[0]["create"].Status != 201 {
		t.Fatalf("%d %+v", st, r)
	}
	s.SetWritesDenied("logs-*", true)
	st, r := bulk(t, s, `{"create":{"_index":"logs-a","_id":"1"}}`+"\n{}\n"+
		`{"create":{"_index":"other","_id":"2"}}`+"\n{}\n"+
		`{"create":{"_index":"logs-b","_id":"3"}}`+"\n{}\n")
	if st != 200 || !r.Errors || len(r.Items) != 3 {
		t.Fatalf("%d %+v", st, r)
	}
	a, o, b := r.Items[0]["create"], r.Items[1]["create"], r.Items[2]["create"]
	if a.Status != 403 || a.Error.Type != "security_exception" ||
		a.Error.Reason != "action [indices:admin/auto_create] is unauthorized for user [_anonymous] with effective roles [estest_writer] on indices [logs-a], this action is granted by the index privileges [auto_configure,create_index,manage,all]" {
		t.Errorf("missing index: %+v %+v", a, a.Error)
	}
	if b.Status != 403 || b.Error.Type != "security_exception" ||
		!strings.HasPrefix(b.Error.Reason, "action [indices:data/write/index:op_type/create] is unauthorized") ||
		!strings.HasSuffix(b.Error.Reason, "index privileges [create_doc,create,index,write,all]") {
		t.Errorf("existing index: %+v %+v", b, b.Error)
	}
	if o.Status != 201 {
		t.Errorf("other index: %+v", o)
	}
	s.SetWritesDenied("logs-*", false)
	if _, r := bulk(t, s, `{"create":{"_index":"logs-a","_id":"1"}}`+"\n{}\n"); r.Items[0]["create"].Status != 201 {
		t.Errorf("after the privileges came back: %+v", r.Items[0]["create"])
	}
	if st := s.Stats(); st.Denied != 2 {
		t.Errorf("stats %+v", st)
	}
}

// Index blocks: write and read_only are 403 cluster_block_exception, the flood-stage block
// 429, item by item.
func TestIndexBlocks(t *testing.T) {
	s := start(t, Options{})
	bulk(t, s, `{"create":{"_index":"a","_id":"0"}}`+"\n{}\n"+`{"create":{"_index":"b","_id":"0"}}`+"\n{}\n"+`{"create":{"_index":"c","_id":"0"}}`+"\n{}\n")
	s.SetIndexBlock("a", "write")
	s.SetIndexBlock("b", "read_only")
	s.SetIndexBlock("c", "read_only_allow_delete")
	_, r := bulk(t, s, `{"create":{"_index":"a","_id":"1"}}`+"\n{}\n"+`{"create":{"_index":"b","_id":"1"}}`+"\n{}\n"+
		`{"create":{"_index":"c","_id":"1"}}`+"\n{}\n"+`{"create":{"_index":"d","_id":"1"}}`+"\n{}\n")
	want := []struct {
		status int
		reason string
	}{
		{403, "index [a] blocked by: [FORBIDDEN/8/index write (api)];"},
		{403, "index [b] blocked by: [FORBIDDEN/5/index read-only (api)];"},
		{429, "index [c] blocked by: [TOO_MANY_REQUESTS/12/disk usage exceeded flood-stage watermark"},
	}
	for i, w := range want {
		it := r.Items[i]["create"]
		if it.Status != w.status || it.Error == nil || it.Error.Type != "cluster_block_exception" || !strings.HasPrefix(it.Error.Reason, w.reason) {
			t.Errorf("item %d: %+v %+v", i, it, it.Error)
		}
	}
	if it := r.Items[3]["create"]; it.Status != 201 {
		t.Errorf("unblocked index: %+v", it)
	}
	s.SetIndexBlock("a", "")
	if _, r := bulk(t, s, `{"create":{"_index":"a","_id":"1"}}`+"\n{}\n"); r.Items[0]["create"].Status != 201 {
		t.Errorf("after the block was removed: %+v", r.Items[0]["create"])
	}
}

// The pipeline query parameter and the action's pipeline parameter choose an ingest
// pipeline, which must exist; the server records it.
func TestIngestPipelineRecorded(t *testing.T) {
	s := start(t, Options{})
	if st, _, _ := do(t, http.MethodPut, s.URL()+"/_ingest/pipeline/p1", "application/json", `{"processors":[{"set":{"field":"x","value":1}}]}`); st != 200 {
		t.Fatalf("PUT pipeline: %d", st)
	}
	if st, _, m := do(t, http.MethodGet, s.URL()+"/_ingest/pipeline/p1", "", ""); st != 200 || m["p1"] == nil {
		t.Fatalf("GET pipeline: %d %v", st, m)
	}
	res, err := http.Post(s.URL()+"/_bulk?pipeline=p1", "application/x-ndjson", strings.NewReader(
		`{"create":{"_index":"i","_id":"1"}}`+"\n{}\n"+
			`{"create":{"_index":"i","_id":"2","pipeline":"_none"}}`+"\n{}\n"+
			`{"create":{"_index":"i","_id":"3","pipeline":"nope"}}`+"\n{}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var r bulkResp
	_ = json.NewDecoder(res.Body).Decode(&r)
	res.Body.Close()
	if it := r.Items[2]["create"]; it.Status != 400 || it.Error.Type != "illegal_argument_exception" || it.Error.Reason != "pipeline with id [nope] does not exist" {
		t.Errorf("unknown pipeline: %+v", it)
	}
	docs := s.Documents()
	if len(docs) != 2 || docs[0].Pipeline != "p1" || docs[1].Pipeline != "" {
		t.Errorf("documents %+v", docs)
	}
}
