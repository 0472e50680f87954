package kafka

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/logpipe/logpipe/pipeline/transport"
	"github.com/logpipe/logpipe/pipeline/transport/transporttest"
)

func readyErr(t *testing.T, o *Output) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return o.Ready(ctx)
}

func wantErrHas(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Ready: nil, want an error with %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("Ready: %v\nwant it to contain %q", err, p)
		}
	}
}

// Ready is nil once the topic exists (as the transport's metadata cache learns it); a
// missing topic names the topic, the brokers and how to create it.
func TestReadyTopic(t *testing.T) {
	c := newCluster(t)
	o := newOutput(t, c, "ready_test", nil, nil)
	defer closeOutput(t, o)
	wantErrHas(t, readyErr(t, o), `topic "ready_test"`, c.ListenAddrs()[0], "create it")
	if err := c.CreateTopic("ready_test", 2, nil); err != nil {
		t.Fatal(err)
	}
	// The transport caches metadata for MetadataTTL (3s): ready within a few seconds.
	var err error
	waitFor(t, 10*time.Second, "ready after the topic was created", func() bool {
		err = readyErr(t, o)
		return err == nil
	})
}

// Brokers that refuse connections: the error names them and the topic, promptly.
func TestReadyBrokerDown(t *testing.T) {
	c := newCluster(t)
	if err := c.CreateTopic("ready_test", 1, nil); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	o := newOutput(t, c, "ready_test", nil, func(cfg *Config) { cfg.Brokers = []string{addr} })
	defer closeOutput(t, o)
	start := time.Now()
	wantErrHas(t, readyErr(t, o), addr, `topic "ready_test"`, "cannot reach the Kafka brokers")
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Ready took %s", d)
	}
}

// Over TLS and SASL: ready with the right password; a wrong one is reported as a refused
// login naming the broker and the topic.
func TestReadyTLSAndSASL(t *testing.T) {
	k := transporttest.NewSecureKafka(t, map[string]int32{"logs": 1})
	tlsBlock := &transport.TLS{CAFile: k.CA.File}
	good := secureOutput(t, k, nil, tlsBlock,
		&transport.SASL{Mechanism: transport.MechanismSCRAMSHA512, Username: transporttest.Scram512User, Password: transporttest.Scram512Pass})
	defer closeOutput(t, good)
	if err := readyErr(t, good); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	bad := secureOutput(t, k, nil, tlsBlock,
		&transport.SASL{Mechanism: transport.MechanismSCRAMSHA512, Username: transporttest.Scram512User, Password: "wrong-pw"})
	defer closeOutput(t, bad)
	err := readyErr(t, bad)
	wantErrHas(t, err, k.Cluster.ListenAddrs()[0], `topic "logs"`)
	if strings.Contains(err.Error(), "wrong-pw") {
		t.Fatalf("the error shows the password: %v", err)
	}
}
