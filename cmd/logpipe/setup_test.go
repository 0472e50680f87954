package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/logpipe/logpipe/cmd/logpipe/stages"
)

// fakeES answers the index template API the way Elasticsearch 8 does: GET and PUT
// /_index_template/<name> with a JSON body holding index_patterns; anything else is 400/405.
type fakeES struct {
	t         *testing.T
	mu        sync.Mutex
	templates map[string]json.RawMessage
	puts      int
	user      string // required basic-auth user; "" for none
	fail      int    // when non-zero, answer every request with this status
}

func (f *fakeES) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	if f.fail != 0 {
		w.WriteHeader(f.fail)
		fmt.Fprintf(w, `{"error":{"type":"cluster_block_exception","reason":"blocked by: [SERVICE_UNAVAILABLE/1/state not recovered]"},"status":%d}`, f.fail)
		return
	}
	if f.user != "" {
		if u, p, ok := r.BasicAuth(); !ok || u != f.user || p != "secret" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"type":"security_exception","reason":"unable to authenticate user"},"status":401}`)
			return
		}
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/_index_template/")
	if !ok || name == "" || strings.Contains(name, "/") {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"type":"illegal_argument_exception","reason":"no handler"},"status":400}`)
		return
	}
	switch r.Method {
	case http.MethodGet:
		tpl, ok := f.templates[name]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"error":{"type":"resource_not_found_exception","reason":"index template matching [%s] not found"},"status":404}`, name)
			return
		}
		fmt.Fprintf(w, `{"index_templates":[{"name":%q,"index_template":%s}]}`, name, tpl)
	case http.MethodPut:
		body, _ := io.ReadAll(r.Body)
		var tpl struct {
			IndexPatterns []string       `json:"index_patterns"`
			Template      map[string]any `json:"template"`
		}
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt != "application/json" {
			w.WriteHeader(http.StatusNotAcceptable)
			fmt.Fprintf(w, `{"error":"Content-Type header [%s] is not supported","status":406}`, r.Header.Get("Content-Type"))
			return
		}
		if err := json.Unmarshal(body, &tpl); err != nil || len(tpl.IndexPatterns) == 0 || tpl.Template["mappings"] == nil {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":{"type":"x_content_parse_exception","reason":"bad template"},"status":400}`)
			f.t.Errorf("PUT _index_template/%s with a bad body (%v): %.200s", name, err, body)
			return
		}
		f.templates[name] = body
		f.puts++
		io.WriteString(w, `{"acknowledged":true}`)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
		fmt.Fprintf(w, `{"error":"Incorrect HTTP method for uri [%s] and method [%s], allowed: [GET, DELETE, PUT, HEAD]","status":405}`, r.URL.Path, r.Method)
	}
}

// fakeKibana answers POST /api/saved_objects/_import the way Kibana 8 does: it requires the
// kbn-xsrf header, a multipart form with the NDJSON in the field "file", and reports the
// imported objects.
type fakeKibana struct {
	t       *testing.T
	mu      sync.Mutex
	imports int
	objects map[string]bool // type/id
	apiKey  string
	reject  string // an object id to report as failed
}

func (k *fakeKibana) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	defer k.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodPost || r.URL.Path != "/api/saved_objects/_import" {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"statusCode":404,"error":"Not Found","message":"Not Found"}`)
		return
	}
	if r.Header.Get("kbn-xsrf") == "" {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"statusCode":400,"error":"Bad Request","message":"Request must contain a kbn-xsrf header."}`)
		return
	}
	if k.apiKey != "" && r.Header.Get("Authorization") != "ApiKey "+k.apiKey {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"statusCode":401,"error":"Unauthorized","message":"[security_exception]: unable to authenticate"}`)
		return
	}
	if r.URL.Query().Get("overwrite") != "true" {
		k.t.Errorf("import without overwrite=true: %s", r.URL)
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		w.WriteHeader(http.StatusUnsupportedMediaType)
		io.WriteString(w, `{"statusCode":415,"error":"Unsupported Media Type","message":"Unsupported Media Type"}`)
		return
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	var file []byte
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		if p.FormName() == "file" {
			if !strings.HasSuffix(p.FileName(), ".ndjson") {
				k.t.Errorf("file name %q: Kibana only accepts .ndjson files", p.FileName())
			}
			file, _ = io.ReadAll(p)
		}
	}
	if file == nil {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"statusCode":400,"error":"Bad Request","message":"[request body.file]: expected value of type [Stream] but got [undefined]"}`)
		return
	}
	type result struct {
		ID    string `json:"id"`
		Type  string `json:"type"`
		Title string `json:"title,omitempty"`
		Error *struct {
			Type string `json:"type"`
		} `json:"error,omitempty"`
	}
	var ok, failed []result
	sc := bufio.NewScanner(bytes.NewReader(file))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var o struct {
			ID         string `json:"id"`
			Type       string `json:"type"`
			Attributes struct {
				Title string `json:"title"`
			} `json:"attributes"`
		}
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil || o.ID == "" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"statusCode":400,"error":"Bad Request","message":"Unexpected token in JSON"}`)
			return
		}
		res := result{ID: o.ID, Type: o.Type, Title: o.Attributes.Title}
		if o.ID == k.reject {
			res.Error = &struct {
				Type string `json:"type"`
			}{"missing_references"}
			failed = append(failed, res)
			continue
		}
		k.objects[o.Type+"/"+o.ID] = true
		ok = append(ok, res)
	}
	k.imports++
	out := map[string]any{"success": len(failed) == 0, "successCount": len(ok), "successResults": ok}
	if len(failed) > 0 {
		out["errors"] = failed
	}
	json.NewEncoder(w).Encode(out)
}

type setupEnv struct {
	es      *fakeES
	kibana  *fakeKibana
	esURL   string
	kbURL   string
	brokers []string
	dir     string
}

func newSetupEnv(t *testing.T) *setupEnv {
	t.Helper()
	env := &setupEnv{
		es:     &fakeES{t: t, templates: map[string]json.RawMessage{}},
		kibana: &fakeKibana{t: t, objects: map[string]bool{}},
		dir:    t.TempDir(),
	}
	es := httptest.NewServer(env.es)
	t.Cleanup(es.Close)
	kb := httptest.NewServer(env.kibana)
	t.Cleanup(kb.Close)
	env.esURL, env.kbURL = es.URL, kb.URL
	c, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	env.brokers = c.ListenAddrs()
	return env
}

// config writes an index.hcl; extra is added to the kafka input block, root to the root.
func (env *setupEnv) config(t *testing.T, kafkaExtra, esExtra, root string) string {
	t.Helper()
	brokers, _ := json.Marshal(env.brokers)
	src := fmt.Sprintf(`
data_dir = %q
%s
input "kafka" "main" {
  brokers  = %s
  topics   = ["kafka_test"]
  group_id = "test123"
  %s
}
filter "apache" "access" {}
output "elasticsearch" "main" {
  hosts = [%q]
  index = "filebeat_test-%%{+YYYY.MM.dd}"
  %s
}
`, env.dir, root, brokers, kafkaExtra, env.esURL, esExtra)
	path := filepath.Join(env.dir, fmt.Sprintf("index-%d.hcl", time.Now().UnixNano()))
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func runSetupTest(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := setupWith(args, &stdout, &stderr, stages.Registry(io.Discard), nil)
	return code, stdout.String(), stderr.String()
}

func topicPartitions(t *testing.T, brokers []string, topic string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := &kafkago.Client{Addr: kafkago.TCP(brokers...)}
	m, err := c.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range m.Topics {
		if tp.Name == topic && tp.Error == nil {
			return len(tp.Partitions)
		}
	}
	return 0
}

func TestSetupAllSteps(t *testing.T) {
	env := newSetupEnv(t)
	env.es.user = "elastic"
	env.kibana.apiKey = "a2V5"
	path := env.config(t, "", `username = "elastic"
  password = "secret"`, fmt.Sprintf(`kibana {
  host    = %q
  api_key = "a2V5"
}`, env.kbURL))

	code, out, errOut := runSetupTest(t, "-c", path)
	t.Logf("stdout:\n%s", out)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"template: created index template filebeat_test (version 2) on Elasticsearch " + env.esURL,
		"dashboards: imported 15 saved objects into Kibana " + env.kbURL,
		"topic: created kafka_test (3 partitions, replication factor 2)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if env.es.puts != 1 || env.kibana.imports != 1 {
		t.Errorf("%d template PUTs, %d imports", env.es.puts, env.kibana.imports)
	}
	if !env.kibana.objects["dashboard/logpipe-apache-dashboard"] || !env.kibana.objects["index-pattern/logpipe-filebeat_test"] {
		t.Errorf("imported %v", env.kibana.objects)
	}
	if n := topicPartitions(t, env.brokers, "kafka_test"); n != 3 {
		t.Errorf("kafka_test has %d partitions, want 3", n)
	}

	// Idempotent: a second run updates the template, re-imports, and finds the topic.
	code, out, errOut = runSetupTest(t, "-c", path)
	if code != exitOK {
		t.Fatalf("second run: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"template: updated index template filebeat_test from version 2 to version 2",
		"dashboards: imported 15 saved objects",
		"topic: kafka_test exists (3 partitions)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("second run output lacks %q:\n%s", want, out)
		}
	}
	if env.es.puts != 2 || env.kibana.imports != 2 {
		t.Errorf("%d template PUTs, %d imports", env.es.puts, env.kibana.imports)
	}
}

func TestSetupOneStep(t *testing.T) {
	env := newSetupEnv(t)
	path := env.config(t, "partitions = 5\n  replication_factor = 3", "", "")

	code, out, errOut := runSetupTest(t, "-c", path, "--topic")
	if code != exitOK || !strings.Contains(out, "topic: created kafka_test (5 partitions, replication factor 3)") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out, "template") || env.es.puts != 0 {
		t.Errorf("--topic ran the template step: %s", out)
	}
	if n := topicPartitions(t, env.brokers, "kafka_test"); n != 5 {
		t.Errorf("%d partitions", n)
	}

	code, out, errOut = runSetupTest(t, "-c", path, "--template")
	if code != exitOK || env.es.puts != 1 || strings.Contains(out, "topic") {
		t.Fatalf("--template: exit %d, %d PUTs\n%s\n%s", code, env.es.puts, out, errOut)
	}

	// No kibana block: --dashboards is a configuration error; without flags the step is skipped.
	code, _, errOut = runSetupTest(t, "-c", path, "--dashboards")
	if code != 78 || !strings.Contains(errOut, "no kibana") {
		t.Errorf("--dashboards without kibana block: exit %d, %s", code, errOut)
	}
	code, out, _ = runSetupTest(t, "-c", path)
	if code != exitOK || !strings.Contains(out, "dashboards: skipped") {
		t.Errorf("all steps without kibana block: exit %d\n%s", code, out)
	}
}

func TestSetupFailures(t *testing.T) {
	env := newSetupEnv(t)
	env.kibana.reject = "logpipe-apache-errors"
	kb := fmt.Sprintf("kibana {\n  host = %q\n}", strings.TrimPrefix(env.kbURL, "http://"))

	// Elasticsearch rejects the credentials; Kibana reports a failed object; Kafka refuses
	// a replication factor above its broker count. Every failure names its peer, and the
	// other steps still run.
	env.es.user = "elastic"
	path := env.config(t, "replication_factor = 4", `username = "elastic"
  password = "wrong"`, kb)
	code, out, errOut := runSetupTest(t, "-c", path)
	t.Logf("stdout:\n%s\nstderr:\n%s", out, errOut)
	if code != exitFailure {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"template: Elasticsearch " + env.esURL + " answered 401 Unauthorized to GET _index_template/filebeat_test: security_exception",
		"dashboards: Kibana " + env.kbURL + " imported 14 saved objects, 1 failed",
		"search logpipe-apache-errors (Apache errors (status >= 500)): missing_references",
		"refused to create kafka_test (3 partitions, replication factor 4)",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}

	// A 503 from Elasticsearch.
	env.es.user = ""
	env.es.fail = http.StatusServiceUnavailable
	path = env.config(t, "", "", "")
	code, _, errOut = runSetupTest(t, "-c", path, "--template")
	if code != exitFailure || !strings.Contains(errOut, "answered 503 Service Unavailable") || !strings.Contains(errOut, "cluster_block_exception") {
		t.Errorf("503: exit %d: %s", code, errOut)
	}

	// Elasticsearch down: connection refused names the host.
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	env.esURL = downURL
	path = env.config(t, "", "", "")
	code, _, errOut = runSetupTest(t, "-c", path, "--template")
	if code != exitFailure || !strings.Contains(errOut, "cannot reach Elasticsearch "+downURL) {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

func TestSetupUsage(t *testing.T) {
	if code, _, errOut := runSetupTest(t); code != 64 || !strings.Contains(errOut, "-c FILE is required") {
		t.Errorf("no -c: exit %d, %s", code, errOut)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.hcl")
	os.WriteFile(bad, []byte(`output "elasticsearch" "x" { hostz = ["http://a:9200"] }`), 0o644)
	if code, _, errOut := runSetupTest(t, "-c", bad); code != 78 || !strings.Contains(errOut, "bad.hcl:1") {
		t.Errorf("bad config: exit %d, %s", code, errOut)
	}
	// The command is wired into the binary's command table.
	var stdout, stderr bytes.Buffer
	if code := run([]string{"setup", "--help"}, &stdout, &stderr, nil); code != exitOK || !strings.Contains(stderr.String(), "--dashboards") && !strings.Contains(stderr.String(), "-dashboards") {
		t.Errorf("logpipe setup --help: exit %d\n%s", code, stderr.String())
	}
}

// TestSetupTopicSASL creates the topic through a broker that requires SASL/SCRAM, with the
// kafka input's sasl block (the password from env()).
func TestSetupTopicSASL(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "admin", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "index.hcl")
	src := fmt.Sprintf(`
data_dir = %q
input "kafka" "main" {
  brokers            = [%q]
  topics             = ["secured"]
  group_id           = "g"
  replication_factor = 1
  sasl {
    mechanism = "scram-sha-256"
    username  = "admin"
    password  = env("KAFKA_PASSWORD")
  }
}
output "stdout" "debug" {}
`, dir, c.ListenAddrs()[0])
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		password string
		code     int
		want     string
	}{
		{"wrong", exitFailure, "Kafka " + c.ListenAddrs()[0] + " refused the credentials of the sasl block"},
		{"s3cret", exitOK, "topic: created secured (3 partitions, replication factor 1)"},
	} {
		env := func(name string) (string, bool) { return tc.password, name == "KAFKA_PASSWORD" }
		var stdout, stderr bytes.Buffer
		code := setupWith([]string{"-c", path, "--topic"}, &stdout, &stderr, stages.Registry(io.Discard), env)
		t.Logf("password %q: %s%s", tc.password, stdout.String(), stderr.String())
		if code != tc.code || !strings.Contains(stdout.String()+stderr.String(), tc.want) {
			t.Errorf("password %q: exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", tc.password, code, tc.code, tc.want, stdout.String(), stderr.String())
		}
	}
}
