package transport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/logpipe/logpipe/pipeline"
	"github.com/logpipe/logpipe/pipeline/transport/transporttest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

const pw = "hunter2-s3cr3t"

type stageConfig struct {
	Brokers []string `hcl:"brokers"`
	TLS     *TLS     `hcl:"tls,block"`
	SASL    *SASL    `hcl:"sasl,block"`
	APIKey  Secret   `hcl:"api_key,optional"`
}

func decode(t *testing.T, src string) *stageConfig {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "x.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var c stageConfig
	if diags := gohcl.DecodeBody(f.Body, pipeline.EvalContext(func(n string) (string, bool) {
		if n == "PW" {
			return pw, true
		}
		return "", false
	}), &c); diags.HasErrors() {
		t.Fatal(diags)
	}
	return &c
}

func TestDecodeBlocks(t *testing.T) {
	c := decode(t, `
brokers = ["127.0.0.1:9092"]
api_key = env("PW")
tls {
  ca_file = "/etc/ca.pem"
  server_name = "kafka1"
}
sasl {
  mechanism = "SCRAM-SHA-512"
  username = "logpipe"
  password = env("PW")
}`)
	if c.TLS == nil || c.TLS.CAFile != "/etc/ca.pem" || c.TLS.ServerName != "kafka1" || c.TLS.InsecureSkipVerify {
		t.Fatalf("tls = %+v", c.TLS)
	}
	if err := c.SASL.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.SASL.Mechanism != MechanismSCRAMSHA512 || c.SASL.Password.Reveal() != pw || c.APIKey.Reveal() != pw {
		t.Fatalf("sasl = %v", c.SASL)
	}
	if c := decode(t, `brokers = []`); c.TLS != nil || c.SASL != nil {
		t.Fatal("absent blocks must decode as nil (off)")
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	c := decode(t, `
brokers = ["127.0.0.1:9092"]
api_key = env("PW")
sasl {
  username = "logpipe"
  password = env("PW")
}`)
	_ = c.SASL.Validate()
	var outs []string
	for _, v := range []any{c, *c, c.SASL, *c.SASL, c.APIKey, c.SASL.Password} {
		for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
			outs = append(outs, fmt.Sprintf(f, v))
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, string(b))
	}
	core, logs := observer.New(zapcore.DebugLevel)
	var buf bytes.Buffer
	jsonCore := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&buf), zapcore.DebugLevel)
	log := zap.New(zapcore.NewTee(core, jsonCore))
	log.Info("config", zap.Object("sasl", c.SASL), zap.Any("cfg", c), zap.Any("key", c.APIKey),
		zap.Stringer("pw", c.SASL.Password), zap.Any("sasl_any", c.SASL))
	_ = log.Sync()
	outs = append(outs, buf.String())
	for _, e := range logs.All() {
		outs = append(outs, fmt.Sprint(e.ContextMap()))
	}
	hexpw := fmt.Sprintf("%x", pw)
	for _, o := range outs {
		if strings.Contains(o, pw) || strings.Contains(strings.ToLower(o), hexpw) {
			t.Fatalf("password printed: %s", o)
		}
	}
	if !strings.Contains(fmt.Sprintf("%v", c.SASL), Redacted) {
		t.Fatalf("%%v of sasl should show %s: %v", Redacted, c.SASL)
	}
	ks, err := Kafka(nil, c.SASL)
	if err != nil {
		t.Fatal(err)
	}
	mech := ks.SASL
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(f, mech); strings.Contains(s, pw) {
			t.Fatalf("mechanism printed the password: %s", s)
		}
	}
	if Secret("").String() != "" || Secret("x").String() != Redacted {
		t.Fatal("empty secrets print as empty, others as redacted")
	}
}

func TestSASLValidate(t *testing.T) {
	cases := []struct {
		s    SASL
		attr string // "" = valid
	}{
		{SASL{Username: "u", Password: "p"}, ""},
		{SASL{Mechanism: "scram-sha-256", Username: "u", PasswordFile: "/f"}, ""},
		{SASL{Mechanism: "gssapi", Username: "u", Password: "p"}, "sasl.mechanism"},
		{SASL{Password: "p"}, "sasl.username"},
		{SASL{Username: "u"}, "sasl.password"},
		{SASL{Username: "u", Password: "p", PasswordFile: "/f"}, "sasl.password_file"},
	}
	for _, c := range cases {
		err := c.s.Validate()
		if c.attr == "" {
			if err != nil {
				t.Errorf("%v: %v", c.s, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.attr+":") {
			t.Errorf("%v: got %v, want an error on %s", c.s, err, c.attr)
		}
		if err != nil && strings.Contains(err.Error(), "\"p\"") {
			t.Errorf("validation error shows the password: %v", err)
		}
	}
	s := SASL{Username: "u", Password: "p"}
	_ = s.Validate()
	if s.Mechanism != MechanismPlain {
		t.Fatalf("default mechanism = %q", s.Mechanism)
	}
}

func TestPasswordFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "pw")
	if err := os.WriteFile(f, []byte(pw+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &SASL{Username: "u", PasswordFile: f}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	got, err := s.Secret()
	if err != nil || got.Reveal() != pw {
		t.Fatalf("Secret() = %q, %v", got.Reveal(), err)
	}
	if err := os.WriteFile(f, []byte(pw+"\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Secret(); got.Reveal() != pw+"\n" {
		t.Fatalf("only one trailing newline is trimmed: %q", got.Reveal())
	}
	s.PasswordFile = filepath.Join(dir, "missing")
	_, err = s.Secret()
	if err == nil || !strings.Contains(err.Error(), s.PasswordFile) || !strings.Contains(err.Error(), "sasl.password_file") {
		t.Fatalf("missing file: %v", err)
	}
	empty := filepath.Join(dir, "empty")
	_ = os.WriteFile(empty, []byte("\n"), 0o600)
	s.PasswordFile = empty
	if _, err := s.Secret(); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("empty file: %v", err)
	}
}

func TestTLSConfig(t *testing.T) {
	ca := transporttest.NewCA(t, "test")
	leaf := ca.Client(t, "client")
	var nilTLS *TLS
	if c, err := nilTLS.Config(); c != nil || err != nil {
		t.Fatal("nil tls block is plaintext")
	}
	c, err := (&TLS{CAFile: ca.File, CertFile: leaf.CertFile, KeyFile: leaf.KeyFile, ServerName: "kafka1"}).Config()
	if err != nil {
		t.Fatal(err)
	}
	if c.RootCAs == nil || len(c.Certificates) != 1 || c.ServerName != "kafka1" || c.InsecureSkipVerify {
		t.Fatalf("config = %+v", c)
	}
	missing := filepath.Join(t.TempDir(), "nope.pem")
	if _, err := (&TLS{CAFile: missing}).Config(); err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "tls.ca_file") {
		t.Fatalf("missing CA: %v", err)
	}
	if _, err := (&TLS{CAFile: leaf.KeyFile}).Config(); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("CA file holding a key: %v", err)
	}
	if _, err := (&TLS{CertFile: leaf.CertFile, KeyFile: ca.File}).Config(); err == nil || !strings.Contains(err.Error(), ca.File) {
		t.Fatalf("bad key: %v", err)
	}
	if err := (&TLS{CertFile: "a"}).Validate(); err == nil || !strings.Contains(err.Error(), "tls.cert_file") {
		t.Fatalf("cert without key: %v", err)
	}
	if err := (&TLS{KeyFile: "a"}).Validate(); err == nil || !strings.Contains(err.Error(), "tls.key_file") {
		t.Fatalf("key without cert: %v", err)
	}
}

func TestLiteralSecrets(t *testing.T) {
	dir := t.TempDir()
	src := `data_dir = "/tmp/x"
output "elasticsearch" "es" {
  hosts    = ["https://127.0.0.1:9200"]
  index    = "filebeat_test-%{+YYYY.MM.dd}"
  username = "elastic"
  password = "` + pw + `"   # literal
  api_key  = env("ES_KEY")
}
input "kafka" "k" {
  sasl {
    username = "u"
    password = env("PW", "dflt")
  }
  tls { ca_file = "/ca" }
}
kibana {
  host = "http://k"
  # password = "commented"
  token = "abc${x}"
}
`
	f := filepath.Join(dir, "index.hcl")
	if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(f, 0o644); err != nil {
		t.Fatal(err)
	}
	got := LiteralSecrets(f)
	if len(got) != 1 || got[0].Line != 6 || got[0].Attr != "password" {
		t.Fatalf("got %v, want one warning for line 6", got)
	}
	msg := got[0].String()
	if !strings.Contains(msg, f) || !strings.Contains(msg, `"password"`) || strings.Contains(msg, pw) {
		t.Fatalf("warning must name the file and attribute and not the secret: %s", msg)
	}
	if err := os.Chmod(f, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := LiteralSecrets(f); len(got) != 0 {
		t.Fatalf("owner-only file: %v", got)
	}
	if got := LiteralSecrets(filepath.Join(dir, "missing.hcl")); got != nil {
		t.Fatal(got)
	}
}
