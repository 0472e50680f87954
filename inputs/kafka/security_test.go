package kafka

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/logpipe/logpipe/pipeline"
	"github.com/logpipe/logpipe/pipeline/transport"
	"github.com/logpipe/logpipe/pipeline/transport/transporttest"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func secureConfig(k *transporttest.SecureKafka, group string, tlsBlock *transport.TLS, sasl *transport.SASL) *Config {
	cfg := DefaultConfig()
	cfg.Brokers = k.Cluster.ListenAddrs()
	cfg.Topics = []string{"logs"}
	cfg.GroupID = group
	cfg.CommitInterval = "50ms"
	cfg.FetchMaxWait = "100ms"
	cfg.SessionTimeout = "3s"
	cfg.HeartbeatInterval = "100ms"
	cfg.RebalanceTimeout = "2s"
	cfg.TLS, cfg.SASL = tlsBlock, sasl
	return cfg
}

// Consume over TLS (the broker's certificate checked against ca_file) with each SASL
// mechanism: every record arrives and the group's offsets are committed.
func TestConsumeTLSAndSASL(t *testing.T) {
	k := transporttest.NewSecureKafka(t, map[string]int32{"logs": 1}, kfake.GroupMinSessionTimeout(100*time.Millisecond))
	cl := k.Client(t)
	produce(t, cl, "logs", 0, jsonRecords(0, 20)...)
	for _, m := range []struct{ mech, user, pass string }{
		{transport.MechanismPlain, transporttest.PlainUser, transporttest.PlainPassword},
		{transport.MechanismSCRAMSHA256, transporttest.Scram256User, transporttest.Scram256Pass},
		{transport.MechanismSCRAMSHA512, transporttest.Scram512User, transporttest.Scram512Pass},
	} {
		t.Run(m.mech, func(t *testing.T) {
			group := "g-" + m.mech
			cfg := secureConfig(k, group, &transport.TLS{CAFile: k.CA.File},
				&transport.SASL{Mechanism: m.mech, Username: m.user, Password: transport.Secret(m.pass)})
			col := newCollector(nil)
			r := start(newInput(t, cfg, false), col.emit)
			waitFor(t, "commit at the end offset", 15*time.Second, func() bool {
				return committed(t, cl, group, "logs")[0] == 20
			})
			r.stop(t)
			if n := col.count(); n != 20 {
				t.Fatalf("consumed %d records, want 20", n)
			}
		})
	}
}

// observed builds an input whose logs are recorded.
func observed(t *testing.T, cfg *Config) (*Input, *observer.ObservedLogs) {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	in, err := New(cfg, pipeline.Stage{Kind: "input", Type: "kafka", Name: "sec", Log: zap.New(core), Codecs: testCodecs()})
	if err != nil {
		t.Fatal(err)
	}
	return in, logs
}

// expectRetries runs the input until it logged the failure (once, as a warning) and
// retried it (the further attempts are logged at debug level until the 30 s reminder),
// checks the logged error, then stops it: Run returns nil, nothing was emitted, no panic.
func expectRetries(t *testing.T, cfg *Config, wantErr ...string) {
	t.Helper()
	in, logs := observed(t, cfg)
	col := newCollector(nil)
	r := start(in, col.emit)
	var last string
	waitFor(t, "a logged failure and a retry", 20*time.Second, func() bool {
		warned, attempts := 0, 0
		for _, e := range logs.FilterMessageSnippet("retrying").All() {
			attempts++
			if e.Level >= zapcore.WarnLevel {
				warned++
				last = fmt.Sprint(e.ContextMap()["error"])
			}
		}
		return warned >= 1 && attempts >= 2
	})
	r.stop(t)
	for _, w := range wantErr {
		if !strings.Contains(strings.ToLower(last), strings.ToLower(w)) {
			t.Errorf("logged error %q does not mention %q", last, w)
		}
	}
	for _, e := range logs.All() {
		s := e.Message + fmt.Sprint(e.ContextMap())
		if cfg.SASL != nil && strings.Contains(s, cfg.SASL.Password.Reveal()) {
			t.Fatalf("a log line holds the password: %s", s)
		}
	}
	if col.count() != 0 {
		t.Fatalf("consumed %d records without being allowed to", col.count())
	}
}

// A wrong password: the broker refuses the login; the input logs why, with the brokers,
// and keeps retrying (it may be a rotated secret about to be fixed).
func TestWrongPasswordRetries(t *testing.T) {
	k := transporttest.NewSecureKafka(t, map[string]int32{"logs": 1}, kfake.GroupMinSessionTimeout(100*time.Millisecond))
	cfg := secureConfig(k, "g-wrong", &transport.TLS{CAFile: k.CA.File},
		&transport.SASL{Mechanism: transport.MechanismSCRAMSHA512, Username: transporttest.Scram512User, Password: "not-the-password"})
	expectRetries(t, cfg, "sasl", "authentication")
}

// An untrusted certificate (signed by a CA other than ca_file): TLS verification fails,
// the input logs why and keeps retrying.
func TestUntrustedCertificateRetries(t *testing.T) {
	k := transporttest.NewSecureKafka(t, map[string]int32{"logs": 1}, kfake.GroupMinSessionTimeout(100*time.Millisecond))
	other := transporttest.NewCA(t, "other")
	cfg := secureConfig(k, "g-untrusted", &transport.TLS{CAFile: other.File},
		&transport.SASL{Username: transporttest.PlainUser, Password: transporttest.PlainPassword})
	expectRetries(t, cfg, "certificate")
}

// A missing CA file is a build error naming the file, not a retry loop.
func TestMissingCAFile(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Brokers, cfg.Topics, cfg.GroupID = []string{"127.0.0.1:1"}, []string{"logs"}, "g"
	cfg.TLS = &transport.TLS{CAFile: "/nonexistent/ca.pem"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	_, err := New(cfg, pipeline.Stage{Kind: "input", Type: "kafka", Name: "x", Codecs: testCodecs()})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/ca.pem") {
		t.Fatalf("New = %v, want an error naming the CA file", err)
	}
}

var _ = context.Background
