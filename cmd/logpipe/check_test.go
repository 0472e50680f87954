package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/logpipe/logpipe/cmd/logpipe/stages"
	"github.com/logpipe/logpipe/e2e/estest"
	"github.com/logpipe/logpipe/pipeline/transport/transporttest"
)

// runTestCmd runs `logpipe test` in-process.
func runTestCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := testWith(args, &stdout, &stderr, stages.Registry(io.Discard), nil)
	t.Logf("logpipe test %q: exit %d\n%s%s", args, code, stdout.String(), stderr.String())
	return code, stdout.String(), stderr.String()
}

func requireLines(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q", w)
		}
	}
}

// A kafka input over TLS with SASL PLAIN (password_file) against kfake: every check
// passes; the same config with a wrong password fails the authentication check; a broker
// that does not run fails the reachability check.
func TestTestCommandKafka(t *testing.T) {
	k := transporttest.NewSecureKafka(t, map[string]int32{"secured": 3})
	dir := t.TempDir()
	addr := k.Cluster.ListenAddrs()[0]
	config := func(name, password, broker string) string {
		pw := writeSecret(t, dir, name+".pw", password+"\n")
		return setupConfig(t, dir, fmt.Sprintf(`
data_dir = %q
input "kafka" "main" {
  brokers  = [%q]
  topics   = ["secured", "missing"]
  group_id = "g"
  tls {
    ca_file = %q
  }
  sasl {
    mechanism     = "plain"
    username      = %q
    password_file = %q
  }
}
output "stdout" "debug" {}
# %s
`, filepath.Join(dir, "data"), broker, k.CA.File, transporttest.PlainUser, pw, name))
	}

	code, out, _ := runTestCmd(t, "-c", config("good", transporttest.PlainPassword, addr))
	requireLines(t, out,
		"ok    data_dir "+filepath.Join(dir, "data")+": does not exist yet; logpipe can create it",
		"input.kafka.main tls.ca_file "+k.CA.File+": 1 certificate, the first to expire \"kafka-test\"",
		"ok    input.kafka.main sasl.password_file ",
		"ok    input.kafka.main broker "+addr+`: reachable and authenticated (TLS, SASL plain as "plainuser")`,
		"ok    input.kafka.main topic secured: 3 partitions",
		"FAIL  input.kafka.main topic missing: does not exist on broker "+addr+": create it",
	)
	if code != exitFailure || !strings.Contains(out, "1 failure") {
		t.Errorf("exit %d, want 1 with the missing topic as the only failure", code)
	}

	code, out, _ = runTestCmd(t, "-c", config("wrong", "not-the-password", addr))
	requireLines(t, out, "FAIL  input.kafka.main broker "+addr+": reachable, but the credentials of the sasl block were refused")
	if code != exitFailure {
		t.Errorf("wrong password: exit %d, want 1", code)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stopped := ln.Addr().String()
	ln.Close()
	code, out, _ = runTestCmd(t, "-c", config("stopped", transporttest.PlainPassword, stopped))
	requireLines(t, out, "FAIL  input.kafka.main broker "+stopped+": cannot reach it (TLS, SASL plain as \"plainuser\"): dial tcp "+stopped+": connect: connection refused")
	if code != exitFailure {
		t.Errorf("stopped broker: exit %d, want 1", code)
	}
}

// privilegesProxy puts Elasticsearch's _has_privileges API in front of estest (which serves
// the document APIs only): grant says which privileges the user holds; status, when not 200,
// is answered with body instead (a cluster without security).
type privilegesProxy struct {
	es     *estest.Server
	grant  map[string]bool
	status int
	body   string
}

func (p *privilegesProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/_security/user/_has_privileges" {
		u, _ := url.Parse(p.es.URL())
		httputil.NewSingleHostReverseProxy(u).ServeHTTP(w, r)
		return
	}
	if p.status != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(p.status)
		io.WriteString(w, p.body)
		return
	}
	var req struct {
		Cluster []string `json:"cluster"`
		Index   []struct {
			Names      []string `json:"names"`
			Privileges []string `json:"privileges"`
		} `json:"index"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	all := true
	cluster := map[string]bool{}
	for _, c := range req.Cluster {
		cluster[c] = p.grant[c]
		all = all && p.grant[c]
	}
	index := map[string]map[string]bool{}
	for _, ix := range req.Index {
		for _, n := range ix.Names {
			index[n] = map[string]bool{}
			for _, pr := range ix.Privileges {
				index[n][pr] = p.grant[pr]
				all = all && p.grant[pr]
			}
		}
	}
	u, _, _ := r.BasicAuth()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"username": u, "has_all_requested": all, "cluster": cluster, "index": index, "application": map[string]any{}})
}

// An elasticsearch output against the Elasticsearch test server with basic auth: reachable,
// authenticated, privileges granted or missing; a wrong password; a cluster without
// security; and a kibana block.
func TestTestCommandElasticsearch(t *testing.T) {
	es := estest.New(estest.Options{Username: "elastic", Password: "es-pw"})
	if err := es.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(es.Close)
	proxy := &privilegesProxy{es: es, grant: map[string]bool{"monitor": true, "manage_index_templates": true, "create_doc": true, "create_index": true}}
	front := httptest.NewServer(proxy)
	t.Cleanup(front.Close)
	kibana := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "elastic" || p != "kb-pw" || r.URL.Path != "/api/status" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, `{"version":{"number":"8.15.0"},"status":{"overall":{"level":"available"}}}`)
	}))
	t.Cleanup(kibana.Close)

	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o750); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o750)
	os.WriteFile(filepath.Join(logs, "access_log"), []byte("x\n"), 0o644)
	configURL := func(esURL, esPassword, kbPassword string) string {
		return setupConfig(t, dir, fmt.Sprintf(`
data_dir = %q
metrics { address = %q }
kibana {
  host     = %q
  username = "elastic"
  password = %q
}
input "file" "access" { paths = [%q, %q] }
output "elasticsearch" "main" {
  hosts    = [%q]
  index    = "filebeat_test-%%{+YYYY.MM.dd}"
  username = "elastic"
  password = %q
}
`, filepath.Join(dir, "data"), busy.Addr().String(), kibana.URL, kbPassword,
			filepath.Join(logs, "access_log*"), filepath.Join(dir, "none", "*.log"), esURL, esPassword))
	}
	config := func(esPassword, kbPassword string) string { return configURL(front.URL, esPassword, kbPassword) }

	code, out, _ := runTestCmd(t, "-c", config("es-pw", "kb-pw"))
	requireLines(t, out,
		"ok    data_dir "+filepath.Join(dir, "data")+": writable",
		"FAIL  metrics address "+busy.Addr().String()+": cannot listen",
		"ok    input.file.access path "+filepath.Join(logs, "access_log*")+": 1 file readable",
		"WARN  input.file.access path "+filepath.Join(dir, "none", "*.log")+": matches no file, and its directory cannot be listed",
		"ok    output.elasticsearch.main "+front.URL+`: reachable and authenticated: Elasticsearch `,
		"ok    output.elasticsearch.main "+front.URL+` privileges: user "elastic" may create_doc, create_index on filebeat_test-* and monitor, manage_index_templates on the cluster`,
		"ok    kibana "+kibana.URL+": reachable and authenticated: Kibana 8.15.0, status available",
	)
	if code != exitFailure || !strings.Contains(out, "1 failure") {
		t.Errorf("exit %d, want 1 (the busy metrics address only)", code)
	}
	busy.Close()

	proxy.grant["create_index"] = false
	code, out, _ = runTestCmd(t, "-c", config("es-pw", "kb-pw"))
	requireLines(t, out, "FAIL  output.elasticsearch.main "+front.URL+` privileges: user "elastic" lacks create_index on filebeat_test-*: grant them in a role`)
	if code != exitFailure {
		t.Errorf("missing privilege: exit %d", code)
	}

	proxy.status, proxy.body = 500, `{"error":{"root_cause":[{"type":"exception","reason":"Security must be explicitly enabled when using a [basic] license. Enable security by setting [xpack.security.enabled] to [true] in the elasticsearch.yml file and restart the node."}]},"status":500}`
	code, out, _ = runTestCmd(t, "-c", config("es-pw", "kb-pw"))
	requireLines(t, out, "ok    output.elasticsearch.main "+front.URL+" privileges: security is not enabled on this cluster: no privileges to check")
	if code != exitOK {
		t.Errorf("cluster without security: exit %d, want 0", code)
	}

	code, out, _ = runTestCmd(t, "-c", config("wrong", "wrong"))
	requireLines(t, out,
		"FAIL  output.elasticsearch.main "+front.URL+": reachable, but the credentials were refused (401)",
		"FAIL  kibana "+kibana.URL+": reachable, but the credentials of the kibana block were refused (401)",
	)
	if code != exitFailure {
		t.Errorf("wrong passwords: exit %d", code)
	}

	// The Elasticsearch test server itself has no security API: the check says so.
	_, out, _ = runTestCmd(t, "-c", configURL(es.URL(), "es-pw", "kb-pw"))
	requireLines(t, out, "WARN  output.elasticsearch.main "+es.URL()+" privileges: cannot be checked")
}

// A configuration error exits 78 before any check runs.
func TestTestCommandConfigError(t *testing.T) {
	path := writeFile(t, "bad.hcl", `input "file" "a" {}`)
	code, out, errOut := runTestCmd(t, "-c", path)
	if code != exitConfig || out != "" || !strings.Contains(errOut, path+":1:") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// Every broker of a list is checked (here a comma-joined one, for a kafka output), and the
// topic's metadata once.
func TestTestCommandEveryBroker(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(2), kfake.SeedTopics(2, "kafka_test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addrs := c.ListenAddrs()
	dir := t.TempDir()
	path := setupConfig(t, dir, fmt.Sprintf(`data_dir = %q
input "file" "a" { paths = [%q] }
output "kafka" "main" {
  brokers = [%q]
  topic   = "kafka_test"
}
`, dir, filepath.Join(dir, "*.log"), strings.Join(addrs, ",")))
	code, out, _ := runTestCmd(t, "-c", path)
	requireLines(t, out,
		"ok    output.kafka.main broker "+addrs[0]+": reachable and authenticated (plaintext); cluster of 2 brokers",
		"ok    output.kafka.main broker "+addrs[1]+": reachable and authenticated (plaintext); cluster of 2 brokers",
		"ok    output.kafka.main topic kafka_test: 2 partitions",
	)
	if strings.Count(out, "topic kafka_test") != 1 || code != exitOK {
		t.Errorf("exit %d; want 0 and the topic checked once", code)
	}
}
