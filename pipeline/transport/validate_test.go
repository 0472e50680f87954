package transport_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/logpipe/logpipe/codecs"
	inkafka "github.com/logpipe/logpipe/inputs/kafka"
	"github.com/logpipe/logpipe/outputs/elasticsearch"
	outkafka "github.com/logpipe/logpipe/outputs/kafka"
	"github.com/logpipe/logpipe/pipeline"
	"github.com/logpipe/logpipe/pipeline/transport"
)

const (
	kafkaPW = "kafka-PW-must-not-leak"
	esPW    = "es-PW-must-not-leak"
)

func registry() *pipeline.Registry {
	r := pipeline.NewRegistry()
	codecs.Register(r)
	inkafka.Register(r)
	outkafka.Register(r)
	elasticsearch.Register(r)
	return r
}

func env(name string) (string, bool) {
	switch name {
	case "KAFKA_PW":
		return kafkaPW, true
	case "ES_PW":
		return esPW, true
	}
	return "", false
}

// The secrets of a configuration, given through env(), appear neither in the diagnostics
// `logpipe validate` prints (however wrong the blocks around them are) nor in any printed
// form of the decoded configuration.
func TestSecretsNotInValidateOutput(t *testing.T) {
	bad := `
input "kafka" "in" {
  brokers  = ["127.0.0.1:9092"]
  topics   = ["t"]
  group_id = "g"
  tls { cert_file = "/c.pem" }
  sasl {
    mechanism     = "scram-sha-1"
    username      = "u"
    password      = env("KAFKA_PW")
    password_file = "/also"
  }
}
output "elasticsearch" "es" {
  hosts    = ["https://127.0.0.1:9200"]
  password = env("ES_PW")
  api_key  = env("ES_PW")
}
output "kafka" "out" {
  brokers = ["127.0.0.1:9092"]
  topic   = "t"
  sasl {
    username = env("KAFKA_PW")
    password = env("KAFKA_PW")
    mechansim = "plain"
  }
}
`
	_, diags := pipeline.Load("bad.hcl", []byte(bad), registry(), env)
	out := pipeline.FormatDiagnostics(diags)
	if !diags.HasErrors() {
		t.Fatal("expected errors")
	}
	for _, want := range []string{"sasl.mechanism", "password_file", "cert_file", "api_key", "mechansim"} {
		if !strings.Contains(out, want) {
			t.Errorf("diagnostics do not mention %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, kafkaPW) || strings.Contains(out, esPW) {
		t.Fatalf("a secret is in the validate output:\n%s", out)
	}

	good := `
input "kafka" "in" {
  brokers  = ["127.0.0.1:9092"]
  topics   = ["t"]
  group_id = "g"
  sasl {
    mechanism = "scram-sha-512"
    username  = "u"
    password  = env("KAFKA_PW")
  }
}
output "elasticsearch" "es" {
  hosts    = ["https://127.0.0.1:9200"]
  username = "elastic"
  password = env("ES_PW")
}
`
	cfg, diags := pipeline.Load("good.hcl", []byte(good), registry(), env)
	if diags.HasErrors() {
		t.Fatal(pipeline.FormatDiagnostics(diags))
	}
	in := cfg.Inputs[0].Config.(*inkafka.Config)
	if in.SASL.Password.Reveal() != kafkaPW {
		t.Fatal("env() did not reach the password")
	}
	var outs []string
	for _, v := range []any{cfg, *cfg, cfg.Inputs, cfg.Outputs, in, *in, cfg.Outputs[0].Config, in.SASL} {
		for _, f := range []string{"%v", "%+v", "%#v"} {
			outs = append(outs, fmt.Sprintf(f, v))
		}
	}
	for _, o := range outs {
		if strings.Contains(o, kafkaPW) || strings.Contains(o, esPW) {
			t.Fatalf("a secret is printed: %s", o)
		}
	}
	if !strings.Contains(fmt.Sprintf("%+v", *in.SASL), transport.Redacted) {
		t.Fatal("the sasl block should show the password as redacted")
	}
}
