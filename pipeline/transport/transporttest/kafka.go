package transporttest

import (
	"crypto/tls"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// Users of a SecureKafka cluster, one per SASL mechanism, all superusers.
const (
	PlainUser     = "plainuser"
	PlainPassword = "plain-pw"
	Scram256User  = "scram256user"
	Scram256Pass  = "scram-256-pw"
	Scram512User  = "scram512user"
	Scram512Pass  = "scram-512-pw"
)

// SecureKafka is an in-process kfake cluster that accepts only TLS connections (with a
// certificate signed by CA) and SASL-authenticated clients.
type SecureKafka struct {
	Cluster *kfake.Cluster
	CA      *CA
}

// NewSecureKafka starts a one-broker kfake cluster with TLS and SASL (PLAIN, SCRAM-SHA-256,
// SCRAM-SHA-512) and creates the topics explicitly (name -> partitions).
func NewSecureKafka(t testing.TB, topics map[string]int32, opts ...kfake.Opt) *SecureKafka {
	t.Helper()
	ca := NewCA(t, "kafka-test")
	leaf := ca.Server(t, "broker")
	all := append([]kfake.Opt{
		kfake.NumBrokers(1),
		kfake.TLS(ServerConfig(leaf, nil)),
		kfake.EnableSASL(),
		kfake.Superuser("PLAIN", PlainUser, PlainPassword),
		kfake.Superuser("SCRAM-SHA-256", Scram256User, Scram256Pass),
		kfake.Superuser("SCRAM-SHA-512", Scram512User, Scram512Pass),
	}, opts...)
	c, err := kfake.NewCluster(all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	for name, n := range topics {
		if err := c.CreateTopic(name, n, nil); err != nil {
			t.Fatalf("create topic %s: %v", name, err)
		}
	}
	return &SecureKafka{Cluster: c, CA: ca}
}

// Client returns an independent franz-go client logged in as the PLAIN user over TLS.
func (k *SecureKafka) Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	tc := &tls.Config{RootCAs: k.CA.Pool(), MinVersion: tls.VersionTLS12}
	all := append([]kgo.Opt{
		kgo.SeedBrokers(k.Cluster.ListenAddrs()...),
		kgo.DialTLSConfig(tc),
		kgo.SASL(plain.Auth{User: PlainUser, Pass: PlainPassword}.AsMechanism()),
	}, opts...)
	cl, err := kgo.NewClient(all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}
