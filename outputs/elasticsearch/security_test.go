package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/logpipe/logpipe/e2e/estest"
	"github.com/logpipe/logpipe/pipeline"
	"github.com/logpipe/logpipe/pipeline/transport"
	"github.com/logpipe/logpipe/pipeline/transport/transporttest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// tlsES serves the Elasticsearch stand-in over https with a certificate from ca; with
// clientCA set, clients must present a certificate it signed.
func tlsES(t *testing.T, ca, clientCA *transporttest.CA, o estest.Options) (*estest.Server, string) {
	t.Helper()
	es := estest.New(o)
	srv := httptest.NewUnstartedServer(es)
	srv.TLS = transporttest.ServerConfig(ca.Server(t, "es"), clientCA)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return es, srv.URL
}

// Mutual TLS: the server requires a client certificate; with cert_file/key_file the
// documents are indexed (and basic auth works over https); without them every request
// fails, is retried, and nothing is acknowledged.
func TestTLSClientCertificateAndBasicAuth(t *testing.T) {
	ca := transporttest.NewCA(t, "es")
	client := ca.Client(t, "logpipe")
	es, url := tlsES(t, ca, ca, estest.Options{Username: "elastic", Password: "s3cret-pw"})

	o := newOut(t, []string{url}, func(c *Config) {
		c.TLS = &transport.TLS{CAFile: ca.File, CertFile: client.CertFile, KeyFile: client.KeyFile}
		c.Username, c.Password = "elastic", "s3cret-pw"
	})
	var acked atomic.Int64
	write(t, o, docBatch(0, 0, 5, false, &acked))
	waitFor(t, "ack", func() bool { return acked.Load() == 1 })
	if n := es.Count(""); n != 5 {
		t.Fatalf("%d documents, want 5", n)
	}

	noCert := newOut(t, []string{url}, func(c *Config) {
		c.TLS = &transport.TLS{CAFile: ca.File}
		c.Username, c.Password = "elastic", "s3cret-pw"
	})
	write(t, noCert, docBatch(0, 5, 5, false, &acked))
	waitFor(t, "failed requests without a client certificate", func() bool { return noCert.Stats().Failures >= 2 })
	if acked.Load() != 1 {
		t.Fatal("a batch was acknowledged without a client certificate")
	}
}

// A server certificate from a CA other than ca_file: a clear logged error, retries, no ack.
func TestTLSUntrustedServerRetries(t *testing.T) {
	ca := transporttest.NewCA(t, "es")
	other := transporttest.NewCA(t, "other")
	es, url := tlsES(t, ca, nil, estest.Options{APIKey: "a2V5OnNlY3JldA=="})

	c := NewConfig()
	c.Hosts = []string{url}
	c.Index = "filebeat_test-%{+YYYY.MM.dd}"
	c.FlushInterval = "20ms"
	c.Retry = &RetryConfig{InitialBackoff: "5ms", MaxBackoff: "50ms"}
	f := false
	c.ManageTemplate = &f
	c.APIKey = "a2V5OnNlY3JldA=="
	c.TLS = &transport.TLS{CAFile: other.File}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	o, err := newOutput(c, pipeline.Stage{Kind: "output", Type: "elasticsearch", Name: "tls", DataDir: t.TempDir(), Log: zap.New(core)}, templateAsset)
	if err != nil {
		t.Fatal(err)
	}
	to := &testOut{Output: o}
	var acked atomic.Int64
	write(t, to, docBatch(0, 0, 3, false, &acked))
	var last string
	waitFor(t, "two logged failures", func() bool {
		n := 0
		for _, e := range logs.FilterMessageSnippet("elasticsearch _bulk requests").All() {
			n++
			last = fmt.Sprint(e.ContextMap()["error"])
		}
		return n >= 2
	})
	if !strings.Contains(last, "certificate") {
		t.Errorf("logged error %q does not say the certificate is the problem", last)
	}
	if acked.Load() != 0 {
		t.Fatal("acknowledged over an untrusted connection")
	}
	closeCtx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = o.Close(closeCtx)
	// The same server with the right CA and the api_key: indexed.
	good := newOut(t, []string{url}, func(c *Config) {
		c.TLS = &transport.TLS{CAFile: ca.File}
		c.APIKey = "a2V5OnNlY3JldA=="
	})
	write(t, good, docBatch(0, 0, 3, false, &acked))
	waitFor(t, "ack with the right CA and api_key", func() bool { return acked.Load() == 1 })
	if n := es.Count(""); n != 3 {
		t.Fatalf("%d documents, want 3", n)
	}
	for _, e := range logs.All() {
		if strings.Contains(e.Message+fmt.Sprint(e.ContextMap()), "a2V5OnNlY3JldA") {
			t.Fatalf("the api key was logged: %v", e.ContextMap())
		}
	}
}

// password and api_key never appear in any printed form of the config.
func TestSecretsNotPrinted(t *testing.T) {
	const pw, key = "pw-DO-NOT-PRINT", "key-DO-NOT-PRINT"
	c := NewConfig()
	c.Hosts = []string{"https://127.0.0.1:9200", "https://elastic:" + pw + "@127.0.0.2:9200"}
	c.Username, c.Password = "elastic", pw
	cfgs := []any{c, *c}
	k := NewConfig()
	k.Hosts, k.APIKey = []string{"https://127.0.0.1:9200"}, key
	cfgs = append(cfgs, k, *k)
	var outs []string
	for _, v := range cfgs {
		for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
			outs = append(outs, fmt.Sprintf(f, v))
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, string(b))
	}
	var buf bytes.Buffer
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&buf), zapcore.DebugLevel))
	log.Info("cfg", zap.Any("a", c), zap.Object("b", k), zap.Any("c", *k))
	outs = append(outs, buf.String())
	for _, o := range outs {
		if strings.Contains(o, pw) || strings.Contains(o, key) {
			t.Fatalf("secret printed: %s", o)
		}
	}
	if !strings.Contains(fmt.Sprint(c), transport.Redacted) {
		t.Fatalf("%v", c)
	}
}
