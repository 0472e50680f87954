package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logpipe/logpipe/cmd/logpipe/stages"
	"github.com/logpipe/logpipe/pipeline/transport/transporttest"
)

func writeSecret(t *testing.T, dir, name, value string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(value), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func setupConfig(t *testing.T, dir, src string) string {
	t.Helper()
	p := filepath.Join(dir, fmt.Sprintf("setup-%d.hcl", len(src)))
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The template step connects as the output does: over https with the tls block's ca_file
// and client certificate, with the password read from password_file; without the CA the
// failure names the host and the certificate. Kibana's api_key comes from api_key_file.
func TestSetupTLSAndSecretFiles(t *testing.T) {
	ca := transporttest.NewCA(t, "es")
	client := ca.Client(t, "logpipe")
	fes := &fakeES{t: t, templates: map[string]json.RawMessage{}, user: "elastic"}
	srv := httptest.NewUnstartedServer(fes)
	srv.TLS = transporttest.ServerConfig(ca.Server(t, "es"), ca) // client certificates required
	srv.StartTLS()
	defer srv.Close()
	kb := &fakeKibana{t: t, objects: map[string]bool{}, apiKey: "a2V5"}
	kbSrv := httptest.NewServer(kb)
	defer kbSrv.Close()

	dir := t.TempDir()
	pwFile := writeSecret(t, dir, "es.pw", "secret\n")
	keyFile := writeSecret(t, dir, "kb.key", "a2V5\n")
	conf := func(tlsBlock string) string {
		return setupConfig(t, dir, fmt.Sprintf(`
data_dir = %q
kibana {
  host         = %q
  api_key_file = %q
}
input "kafka" "main" {
  brokers  = ["127.0.0.1:9"]
  topics   = ["t"]
  group_id = "g"
}
output "elasticsearch" "main" {
  hosts         = [%q]
  index         = "filebeat_test-%%{+YYYY.MM.dd}"
  username      = "elastic"
  password_file = %q
  %s
}
`, dir, kbSrv.URL, keyFile, srv.URL, pwFile, tlsBlock))
	}

	good := conf(fmt.Sprintf("tls {\n    ca_file = %q\n    cert_file = %q\n    key_file = %q\n  }", ca.File, client.CertFile, client.KeyFile))
	code, out, errOut := runSetupTest(t, "-c", good, "--template", "--dashboards")
	if code != exitOK || !strings.Contains(out, "template: created index template filebeat_test (version 2) on Elasticsearch "+srv.URL) ||
		!strings.Contains(out, "dashboards: imported 15 saved objects") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if fes.puts != 1 || kb.imports != 1 {
		t.Fatalf("%d PUTs, %d imports", fes.puts, kb.imports)
	}

	// No tls block: the system trust store does not know the test CA.
	code, _, errOut = runSetupTest(t, "-c", conf(""), "--template")
	if code != exitFailure || !strings.Contains(errOut, "cannot reach Elasticsearch "+srv.URL) || !strings.Contains(errOut, "certificate") {
		t.Errorf("without ca_file: exit %d, stderr:\n%s", code, errOut)
	}

	// A password_file that cannot be read is named.
	if err := os.Remove(pwFile); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runSetupTest(t, "-c", good, "--template")
	if code != exitFailure || !strings.Contains(errOut, "password_file: cannot read secret file "+pwFile) {
		t.Errorf("missing password_file: exit %d, stderr:\n%s", code, errOut)
	}
}

// Credentials written in a host URL never appear in setup's messages.
func TestSetupRedactsHostCredentials(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	addr := strings.TrimPrefix(down.URL, "http://")
	down.Close()
	dir := t.TempDir()
	path := setupConfig(t, dir, fmt.Sprintf(`
data_dir = %q
kibana {
  host = "http://admin:kb-pw-DO-NOT-PRINT@%s"
}
input "kafka" "main" {
  brokers  = ["127.0.0.1:9"]
  topics   = ["t"]
  group_id = "g"
}
output "elasticsearch" "main" {
  hosts = ["http://elastic:es-pw-DO-NOT-PRINT@%s"]
}
`, dir, addr, addr))
	code, out, errOut := runSetupTest(t, "-c", path, "--template", "--dashboards")
	if code != exitFailure || !strings.Contains(errOut, "Elasticsearch http://[redacted]@"+addr) ||
		!strings.Contains(errOut, "Kibana http://[redacted]@"+addr) {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, "DO-NOT-PRINT") {
		t.Errorf("credentials printed:\n%s%s", out, errOut)
	}

	// validate rejects a host that is not a URL without echoing its password.
	bad := setupConfig(t, dir, `
input "kafka" "main" {
  brokers  = ["127.0.0.1:9"]
  topics   = ["t"]
  group_id = "g"
}
output "elasticsearch" "main" {
  hosts = ["elastic:es-pw-DO-NOT-PRINT@es1:9200"]
}
`)
	var stdout, stderr bytes.Buffer
	code = runValidate([]string{"-c", bad}, &stdout, &stderr, nil)
	if code != 78 || !strings.Contains(stderr.String(), "[redacted]@es1:9200") || strings.Contains(stderr.String(), "DO-NOT-PRINT") {
		t.Errorf("validate: exit %d, stderr:\n%s", code, stderr.String())
	}
}

// The topic step connects as the kafka input does: TLS with ca_file and SASL PLAIN with
// the password from password_file.
func TestSetupTopicTLSAndSASL(t *testing.T) {
	k := transporttest.NewSecureKafka(t, nil)
	dir := t.TempDir()
	pw := writeSecret(t, dir, "kafka.pw", transporttest.PlainPassword+"\n")
	path := setupConfig(t, dir, fmt.Sprintf(`
data_dir = %q
input "kafka" "main" {
  brokers            = [%q]
  topics             = ["secured"]
  group_id           = "g"
  replication_factor = 1
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
`, dir, k.Cluster.ListenAddrs()[0], k.CA.File, transporttest.PlainUser, pw))
	var stdout, stderr bytes.Buffer
	code := setupWith([]string{"-c", path, "--topic"}, &stdout, &stderr, stages.Registry(io.Discard), nil)
	if code != exitOK || !strings.Contains(stdout.String(), "topic: created secured (3 partitions, replication factor 1)") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
}

// The HCL of the new attributes and blocks decodes: password_file / api_key_file in the
// elasticsearch output and the kibana block, tls and sasl in dead_letter; a problem in a
// nested block is reported at its attribute.
func TestValidateSecureBlocks(t *testing.T) {
	dir := t.TempDir()
	src := `
kibana {
  host         = "http://127.0.0.1:5601"
  username     = "elastic"
  password_file = "/run/secrets/kibana"
}
input "kafka" "main" {
  brokers  = ["127.0.0.1:9"]
  topics   = ["t"]
  group_id = "g"
}
output "elasticsearch" "main" {
  hosts        = ["https://127.0.0.1:9200"]
  api_key_file = "/run/secrets/es"
  dead_letter {
    kafka_topic = "dlq"
    brokers     = ["127.0.0.1:9093"]
    tls {
      ca_file = "/etc/ca.pem"
    }
    sasl {
      mechanism     = "scram-sha-512"
      username      = "logpipe"
      password_file = "/run/secrets/kafka"
    }
  }
}
`
	var stdout, stderr bytes.Buffer
	good := setupConfig(t, dir, src)
	if code := runValidate([]string{"-c", good, "--syntax-only"}, &stdout, &stderr, nil); code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	// Without --syntax-only, validate checks the files on this host: none of them exists,
	// and each is reported at its attribute.
	stdout.Reset()
	stderr.Reset()
	if code := runValidate([]string{"-c", good}, &stdout, &stderr, nil); code != exitConfig {
		t.Fatalf("missing files: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{
		good + ":5:19: Unusable kibana.password_file: /run/secrets/kibana does not exist",
		good + ":14:18: Unusable api_key_file: /run/secrets/es does not exist",
		good + ":19:17: Unusable dead_letter.tls.ca_file: /etc/ca.pem does not exist",
		good + ":24:23: Unusable dead_letter.sasl.password_file: /run/secrets/kafka does not exist",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("validate output lacks %q:\n%s", want, stderr.String())
		}
	}
	bad := strings.Replace(src, `"scram-sha-512"`, `"md5"`, 1)
	line := strings.Count(bad[:strings.Index(bad, `"md5"`)], "\n") + 1
	path := setupConfig(t, dir, bad)
	stdout.Reset()
	stderr.Reset()
	want := fmt.Sprintf("%s:%d:23: Invalid dead_letter.sasl.mechanism", path, line)
	if code := runValidate([]string{"-c", path, "--syntax-only"}, &stdout, &stderr, nil); code != 78 || !strings.Contains(stderr.String(), want) {
		t.Fatalf("bad sasl mechanism: exit %d, want %q in\n%s", code, want, stderr.String())
	}
}
