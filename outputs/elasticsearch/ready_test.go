package elasticsearch

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logpipe/logpipe/e2e/estest"
	"github.com/logpipe/logpipe/pipeline"
	"github.com/logpipe/logpipe/pipeline/transport"
	"github.com/logpipe/logpipe/pipeline/transport/transporttest"
)

func ready(t *testing.T, o *testOut) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return o.Ready(ctx)
}

func mustContain(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("nil error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q\ndoes not contain %q", err, p)
		}
	}
}

// Ready pings every host with the output's credentials: ready when one answers; the error
// names each host and what to check, without credentials written in a host URL.
func TestReady(t *testing.T) {
	es := startES(t, estest.Options{Username: "elastic", Password: "s3cret"})
	auth := func(c *Config) { c.Username, c.Password = "elastic", "s3cret" }

	if err := ready(t, newOut(t, []string{es.URL()}, auth)); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	dead := "http://" + refusedAddr(t)
	if err := ready(t, newOut(t, []string{dead, es.URL()}, auth)); err != nil {
		t.Fatalf("Ready with one host down: %v", err)
	}

	wrong := newOut(t, []string{es.URL()}, func(c *Config) { c.Username, c.Password = "elastic", "wrong-pw" })
	err := ready(t, wrong)
	mustContain(t, err, es.URL(), "401", "credentials were refused", "username and password")
	if strings.Contains(err.Error(), "wrong-pw") {
		t.Fatalf("the password is in the error: %v", err)
	}

	deadWithUser := "http://elastic:url-pw-DO-NOT-PRINT@" + strings.TrimPrefix(dead, "http://")
	err = ready(t, newOut(t, []string{deadWithUser}, nil))
	mustContain(t, err, "http://[redacted]@"+strings.TrimPrefix(dead, "http://"), "check that Elasticsearch runs")
	if strings.Contains(err.Error(), "url-pw-DO-NOT-PRINT") || strings.Contains(err.Error(), "elastic:") {
		t.Fatalf("credentials of the host URL are in the error: %v", err)
	}

	es.SetHangUp(true)
	mustContain(t, ready(t, newOut(t, []string{es.URL()}, auth)), es.URL())
	es.SetHangUp(false)
}

// Over https: ready with ca_file; an untrusted certificate is named as the problem.
func TestReadyTLS(t *testing.T) {
	ca := transporttest.NewCA(t, "es")
	other := transporttest.NewCA(t, "other")
	_, url := tlsES(t, ca, nil, estest.Options{APIKey: "a2V5OnNlY3JldA=="})
	good := newOut(t, []string{url}, func(c *Config) {
		c.TLS = &transport.TLS{CAFile: ca.File}
		c.APIKey = "a2V5OnNlY3JldA=="
	})
	if err := ready(t, good); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	bad := newOut(t, []string{url}, func(c *Config) {
		c.TLS = &transport.TLS{CAFile: other.File}
		c.APIKey = "a2V5OnNlY3JldA=="
	})
	mustContain(t, ready(t, bad), url, "certificate", "tls")
}

// counterValues gathers the registry and returns counter and gauge values by name,
// checking the stage label of each.
func counterValues(t *testing.T, g prometheus.Gatherer, stage string) map[string]float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			ok := false
			for _, l := range m.GetLabel() {
				ok = ok || l.GetName() == "stage" && l.GetValue() == stage
			}
			if !ok {
				t.Errorf("%s: no stage=%s label", mf.GetName(), stage)
			}
			if g := m.GetGauge(); g != nil {
				out[mf.GetName()] = g.GetValue()
			} else {
				out[mf.GetName()] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}

// The counters are exported through the stage's registerer and follow Stats.
func TestPrometheusCounters(t *testing.T) {
	es := startES(t, estest.Options{Seed: 3})
	es.MapField("n", "long")
	reg := prometheus.NewRegistry()
	c := NewConfig()
	c.Hosts = []string{es.URL()}
	c.Index = "filebeat_test-%{+YYYY.MM.dd}"
	c.FlushInterval = "20ms"
	c.Retry = &RetryConfig{InitialBackoff: "5ms", MaxBackoff: "50ms"}
	f := false
	c.ManageTemplate = &f
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	st := pipeline.Stage{Kind: "output", Type: "elasticsearch", Name: "prom", DataDir: t.TempDir()}
	st.Metrics = prometheus.WrapRegistererWith(prometheus.Labels{"stage": st.ID()}, reg)
	o, err := newOutput(c, st, templateAsset)
	if err != nil {
		t.Fatal(err)
	}
	to := &testOut{Output: o}
	defer o.Close(context.Background())

	var acked atomic.Int64
	es.RejectItems(0.2)
	write(t, to, docBatch(0, 0, 100, false, &acked))
	waitFor(t, "ack", func() bool { return acked.Load() == 1 })
	es.RejectItems(0)
	write(t, to, docBatch(0, 0, 10, false, &acked)) // redelivery: duplicates
	write(t, to, pipeline.NewBatch("t/1", []pipeline.Event{{ID: "bad", Timestamp: day1, Doc: []byte(`{"n":"x"}`)}},
		func() { acked.Add(1) }))
	waitFor(t, "3 acks", func() bool { return acked.Load() == 3 })

	s := o.Stats()
	got := counterValues(t, reg, st.ID())
	want := map[string]float64{
		"logpipe_elasticsearch_indexed_total":       100,
		"logpipe_elasticsearch_duplicates_total":    10,
		"logpipe_elasticsearch_dead_lettered_total": 1,
		"logpipe_elasticsearch_retried_items_total": float64(es.Stats().Rejected),
		"logpipe_elasticsearch_bulk_requests_total": float64(s.Requests),
		"logpipe_elasticsearch_bulk_failures_total": 0,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if got["logpipe_elasticsearch_retried_items_total"] == 0 {
		t.Error("no item was retried: the test did not exercise retries")
	}

	// A second output with the same stage id cannot register: an error, no panic.
	if _, err := newOutput(c, st, templateAsset); err == nil || !strings.Contains(err.Error(), "register metric") {
		t.Fatalf("second registration: %v", err)
	}
}

// password_file and api_key_file are read at start (trailing newline trimmed); errors name
// the file; both forms of one secret are refused.
func TestSecretFiles(t *testing.T) {
	es := startES(t, estest.Options{Username: "elastic", Password: "file-pw"})
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "es.pw")
	if err := os.WriteFile(pwFile, []byte("file-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := newOut(t, []string{es.URL()}, func(c *Config) { c.Username, c.PasswordFile = "elastic", pwFile })
	var acked atomic.Int64
	write(t, o, docBatch(0, 0, 3, false, &acked))
	waitFor(t, "ack with password_file", func() bool { return acked.Load() == 1 })
	if err := ready(t, o); err != nil {
		t.Fatal(err)
	}

	kes := startES(t, estest.Options{APIKey: "a2V5OnNlY3JldA=="})
	keyFile := filepath.Join(dir, "es.key")
	if err := os.WriteFile(keyFile, []byte("a2V5OnNlY3JldA==\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ready(t, newOut(t, []string{kes.URL()}, func(c *Config) { c.APIKeyFile = keyFile })); err != nil {
		t.Fatalf("Ready with api_key_file: %v", err)
	}

	c := NewConfig()
	c.Hosts = []string{es.URL()}
	c.Username, c.PasswordFile = "elastic", filepath.Join(dir, "missing")
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	_, err := newOutput(c, pipeline.Stage{Kind: "output", Type: "elasticsearch", Name: "m", DataDir: dir}, templateAsset)
	mustContain(t, err, "password_file", filepath.Join(dir, "missing"))
	if !pipeline.IsPermanent(err) {
		t.Errorf("missing password_file: not permanent: %v", err)
	}

	for _, tc := range []struct {
		mod  func(c *Config)
		want string
	}{
		{func(c *Config) { c.Username, c.Password, c.PasswordFile = "u", "p", "/f" }, "either password or password_file"},
		{func(c *Config) { c.APIKey, c.APIKeyFile = "k", "/f" }, "either api_key or api_key_file"},
		{func(c *Config) { c.Username, c.APIKeyFile = "u", "/f" }, "either api_key_file or username/password"},
		{func(c *Config) { c.PasswordFile = "/f" }, "username is empty"},
	} {
		c := NewConfig()
		c.Hosts = []string{"http://es:9200"}
		tc.mod(c)
		mustContain(t, c.Validate(), tc.want)
	}
}

// An invalid hosts entry is reported without the credentials written in it.
func TestInvalidHostRedacted(t *testing.T) {
	for _, h := range []string{
		"ftp://elastic:hunter2-DO-NOT-PRINT@es1:9200",
		"elastic:hunter2-DO-NOT-PRINT@es1:9200",
		"http://elastic:hunter2-DO-NOT-PRINT@es1:9200:bad port",
		"http//elastic:hunter2-DO-NOT-PRINT@es1",
	} {
		c := NewConfig()
		c.Hosts = []string{h}
		err := c.Validate()
		if err == nil {
			t.Errorf("%q: valid", h)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: the error shows the password: %v", h, err)
		}
		mustContain(t, err, "[redacted]@es1")
	}
}
