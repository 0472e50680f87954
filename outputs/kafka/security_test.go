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
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func secureOutput(t *testing.T, k *transporttest.SecureKafka, log *zap.Logger, tlsBlock *transport.TLS, sasl *transport.SASL) *Output {
	t.Helper()
	cfg := NewConfig()
	cfg.Brokers = k.Cluster.ListenAddrs()
	cfg.Topic = "logs"
	cfg.TLS, cfg.SASL = tlsBlock, sasl
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if log == nil {
		log = zap.NewNop()
	}
	o, err := New(cfg, pipeline.Stage{Kind: "output", Type: "kafka", Name: "sec", Log: log, Codecs: testRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// Produce over TLS (the broker's certificate checked against ca_file) with each SASL
// mechanism; an independent client (franz-go over TLS+SASL) reads every record.
func TestProduceTLSAndSASL(t *testing.T) {
	k := transporttest.NewSecureKafka(t, map[string]int32{"logs": 1})
	total := 0
	for _, m := range []struct{ mech, user, pass string }{
		{transport.MechanismPlain, transporttest.PlainUser, transporttest.PlainPassword},
		{transport.MechanismSCRAMSHA256, transporttest.Scram256User, transporttest.Scram256Pass},
		{transport.MechanismSCRAMSHA512, transporttest.Scram512User, transporttest.Scram512Pass},
	} {
		t.Run(m.mech, func(t *testing.T) {
			o := secureOutput(t, k, nil, &transport.TLS{CAFile: k.CA.File},
				&transport.SASL{Mechanism: m.mech, Username: m.user, Password: transport.Secret(m.pass)})
			if err := o.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			bs, acked := makeBatches(3, 10)
			for _, b := range bs {
				if err := o.Write(context.Background(), b); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, 10*time.Second, "acks", func() bool { return acked.Load() == 3 })
			closeOutput(t, o)
		})
		total += 30
	}
	cl := k.Client(t, kgo.ConsumeTopics("logs"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := 0
	for n < total && ctx.Err() == nil {
		n += cl.PollFetches(ctx).NumRecords()
	}
	if n != total {
		t.Fatalf("read %d records, want %d", n, total)
	}
}

// expectProduceRetries writes a batch that cannot be delivered; the output logs why and
// keeps retrying (at least two attempts), never acknowledges it, and closes cleanly.
func expectProduceRetries(t *testing.T, k *transporttest.SecureKafka, tlsBlock *transport.TLS, sasl *transport.SASL, wantErr ...string) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	o := secureOutput(t, k, zap.New(core), tlsBlock, sasl)
	if err := o.Start(context.Background()); err != nil {
		t.Fatal(err) // Start never fails: it logs and lets Write retry
	}
	bs, acked := makeBatches(1, 5)
	if err := o.Write(context.Background(), bs[0]); err != nil {
		t.Fatal(err)
	}
	// Close flushes the buffered events now and waits for them until its ctx ends.
	closeCtx, closeCancel := context.WithCancel(context.Background())
	closed := make(chan error, 1)
	go func() { closed <- o.Close(closeCtx) }()
	var last string
	waitFor(t, 20*time.Second, "two failed produce attempts", func() bool {
		n := 0
		for _, e := range logs.FilterMessageSnippet("produce failed; retrying").All() {
			n++
			last = fmt.Sprint(e.ContextMap()["error"])
		}
		return n >= 2
	})
	for _, w := range wantErr {
		if !strings.Contains(last, w) {
			t.Errorf("logged error %q does not mention %q", last, w)
		}
	}
	closeCancel()
	if err := <-closed; err == nil || !strings.Contains(err.Error(), "in flight") {
		t.Errorf("Close at the drain deadline = %v, want an error about the requests in flight", err)
	}
	if acked.Load() != 0 {
		t.Fatal("an undeliverable batch was acknowledged")
	}
	for _, e := range logs.All() {
		if sasl != nil && strings.Contains(e.Message+fmt.Sprint(e.ContextMap()), sasl.Password.Reveal()) {
			t.Fatalf("a log line holds the password: %v", e.ContextMap())
		}
	}
}

func TestProduceWrongPasswordRetries(t *testing.T) {
	k := transporttest.NewSecureKafka(t, map[string]int32{"logs": 1})
	expectProduceRetries(t, k, &transport.TLS{CAFile: k.CA.File},
		&transport.SASL{Mechanism: transport.MechanismSCRAMSHA256, Username: transporttest.Scram256User, Password: "wrong-password"},
		"SASL authentication failed", transporttest.Scram256User)
}

func TestProduceUntrustedCertificateRetries(t *testing.T) {
	k := transporttest.NewSecureKafka(t, map[string]int32{"logs": 1})
	other := transporttest.NewCA(t, "other")
	expectProduceRetries(t, k, &transport.TLS{CAFile: other.File},
		&transport.SASL{Username: transporttest.PlainUser, Password: transporttest.PlainPassword},
		"tls handshake with broker", "certificate signed by unknown authority")
}
