package elasticsearch

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/logpipe/logpipe/e2e/estest"
	"github.com/logpipe/logpipe/pipeline"
	"github.com/logpipe/logpipe/pipeline/transport"
	"github.com/logpipe/logpipe/pipeline/transport/transporttest"
)

// The Kafka dead-letter topic over TLS and SASL (SCRAM-SHA-256): the rejected document is
// produced there and read back by an independent client; a wrong password leaves the
// batch unacknowledged (the dead-letter write is retried), never lost.
func TestDeadLetterToKafkaTLSAndSASL(t *testing.T) {
	k := transporttest.NewSecureKafka(t, map[string]int32{"dlq": 1})
	es := startES(t, estest.Options{})
	es.MapField("n", "long")
	dlq := func(pw string) func(c *Config) {
		return func(c *Config) {
			c.DeadLetter = &DeadLetterConfig{KafkaTopic: "dlq", Brokers: k.Cluster.ListenAddrs(),
				TLS:  &transport.TLS{CAFile: k.CA.File},
				SASL: &transport.SASL{Mechanism: "scram-sha-256", Username: transporttest.Scram256User, Password: transport.Secret(pw)}}
		}
	}
	bad := func(id string) *pipeline.Batch {
		return pipeline.NewBatch("t/0", []pipeline.Event{{ID: id, Timestamp: day1, Doc: []byte(`{"n":"one"}`)}}, nil)
	}

	var acked atomic.Int64
	o := newOut(t, []string{es.URL()}, dlq(transporttest.Scram256Pass))
	b := bad("good-pw")
	b = pipeline.NewBatch("t/0", b.Events, func() { acked.Add(1) })
	write(t, o, b)
	waitFor(t, "ack after the dead-letter write", func() bool { return acked.Load() == 1 })

	cl := k.Client(t, kgo.ConsumeTopics("dlq"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fs := cl.PollFetches(ctx)
	if err := fs.Err(); err != nil {
		t.Fatal(err)
	}
	recs := fs.Records()
	if len(recs) != 1 {
		t.Fatalf("%d records in the dead-letter topic", len(recs))
	}
	var e dlqEntry
	if err := json.Unmarshal(recs[0].Value, &e); err != nil || e.ID != "good-pw" {
		t.Fatalf("entry %+v (%v)", e, err)
	}

	// A wrong password: the dead-letter write fails with a clear error and is retried; the
	// batch stays unacknowledged.
	c := NewConfig()
	c.Hosts = []string{es.URL()}
	c.Index = "filebeat_test-%{+YYYY.MM.dd}"
	c.FlushInterval = "20ms"
	c.Retry = &RetryConfig{InitialBackoff: "5ms", MaxBackoff: "50ms"}
	f := false
	c.ManageTemplate = &f
	dlq("wrong-pw")(c)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.InfoLevel)
	wrong, err := newOutput(c, pipeline.Stage{Kind: "output", Type: "elasticsearch", Name: "w", DataDir: t.TempDir(), Log: zap.New(core)}, templateAsset)
	if err != nil {
		t.Fatal(err)
	}
	var acked2 atomic.Int64
	write(t, &testOut{Output: wrong}, pipeline.NewBatch("t/0", bad("wrong-pw").Events, func() { acked2.Add(1) }))
	waitFor(t, "the failed dead-letter write logged", func() bool {
		return logs.FilterMessageSnippet("the dead-letter queue does not take entries").Len() >= 1
	})
	last := logs.FilterMessageSnippet("the dead-letter queue does not take entries").All()[0]
	if msg := fmt.Sprint(last.ContextMap()["error"]); !strings.Contains(msg, "SASL authentication failed") || strings.Contains(msg, "wrong-pw") {
		t.Errorf("logged error %q", msg)
	}
	if acked2.Load() != 0 {
		t.Fatal("acknowledged although the dead-letter topic refused the login")
	}
	closeCtx, cancel2 := context.WithCancel(context.Background())
	cancel2()
	_ = wrong.Close(closeCtx)
}

// tls and sasl in dead_letter are validated, with attribute paths under dead_letter.
func TestDeadLetterSecurityValidate(t *testing.T) {
	c := NewConfig()
	c.Hosts = []string{"http://es:9200"}
	c.DeadLetter = &DeadLetterConfig{Path: "/tmp/x", TLS: &transport.TLS{CertFile: "/c.pem"}, SASL: &transport.SASL{}}
	err := c.Validate()
	for _, want := range []string{"dead_letter.kafka_topic", "dead_letter.tls.cert_file", "dead_letter.sasl.username", "dead_letter.sasl.password"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v\nwant %q", err, want)
		}
	}
}
