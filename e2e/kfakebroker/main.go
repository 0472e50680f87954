// Command kfakebroker runs franz-go's kfake, an in-memory Kafka cluster that speaks the real
// Kafka protocol, as a stand-alone process for logpipe's end-to-end tests, `make demo` and
// benchmarks.
//
//	go run ./e2e/kfakebroker -listen 127.0.0.1:9092 -topic kafka_test:3 [-data-dir DIR] [-brokers 1]
//	                         [-as-version 2.8] [-kip896 auto|on|off] [-log-level info]
//
// Topics named with -topic (repeatable, "name" or "name:partitions") are created explicitly at
// start when they do not exist yet: kfake loses auto-created topics on a crash, so tests never
// rely on auto-creation (it is disabled). With -data-dir the cluster persists its state (topics,
// records, group offsets) there and reloads it on the next start, so a broker can be killed and
// started again on the same port with its data.
//
// -as-version caps the API versions at those of a Kafka release (kfake.MaxVersions). -kip896
// also refuses the protocol versions Kafka 4.0 removed (KIP-896), as a 4.x broker does: it
// closes the connection on such a request and prints one line to stderr,
//
//	refused Fetch v3: removed in Kafka 4.0 (KIP-896)
//
// (auto, the default, does so when -as-version is 4.0 or later).
//
// When every broker accepts connections the program prints one line to stdout,
//
//	ready 127.0.0.1:9092[,127.0.0.1:9093...]
//
// and then runs until SIGTERM or SIGINT, on which it closes the cluster (flushing the data dir)
// and exits 0. Errors go to stderr with exit status 1.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kversion"
)

type topicFlag []topicSpec

type topicSpec struct {
	name       string
	partitions int32
}

func (f *topicFlag) String() string {
	var parts []string
	for _, t := range *f {
		parts = append(parts, fmt.Sprintf("%s:%d", t.name, t.partitions))
	}
	return strings.Join(parts, ",")
}

func (f *topicFlag) Set(s string) error {
	name, ps, hasParts := strings.Cut(s, ":")
	if name == "" {
		return errors.New("empty topic name")
	}
	t := topicSpec{name: name, partitions: 1}
	if hasParts {
		n, err := strconv.Atoi(ps)
		if err != nil || n < 1 {
			return fmt.Errorf("topic %q: partitions must be a positive number", s)
		}
		t.partitions = int32(n)
	}
	*f = append(*f, t)
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "kfakebroker:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		listen   = flag.String("listen", "127.0.0.1:9092", "address of the first broker (host must be 127.0.0.1; port 0 picks free ports); further brokers use the following ports")
		dataDir  = flag.String("data-dir", "", "persist the cluster state here and reload it at start (empty: memory only)")
		nbrokers = flag.Int("brokers", 1, "number of brokers")
		logLevel = flag.String("log-level", "none", "kfake log level: none, error, warn, info, debug (to stderr)")
		asVer    = flag.String("as-version", "", "advertise and accept only the API versions of this Kafka release (e.g. 2.8, 3.6, 4.0)")
		kip896   = flag.String("kip896", "auto", "refuse the protocol versions Kafka 4.0 removed: on, off, or auto (on when -as-version is 4.0 or later)")
		topics   topicFlag
	)
	flag.Var(&topics, "topic", "topic to create if missing, as name or name:partitions (repeatable)")
	flag.Parse()

	host, portStr, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("-listen %q: %w", *listen, err)
	}
	if host != "127.0.0.1" && host != "localhost" {
		return fmt.Errorf("-listen %q: kfake listens on 127.0.0.1 only", *listen)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return fmt.Errorf("-listen %q: bad port", *listen)
	}
	if *nbrokers < 1 {
		return errors.New("-brokers must be at least 1")
	}
	ports := make([]int, *nbrokers)
	for i := range ports {
		if port != 0 {
			ports[i] = port + i
		}
	}

	opts := []kfake.Opt{
		kfake.NumBrokers(*nbrokers),
		kfake.Ports(ports...),
		kfake.WithLogger(kfake.BasicLogger(os.Stderr, level(*logLevel))),
	}
	if *dataDir != "" {
		opts = append(opts, kfake.DataDir(*dataDir))
	}
	refuse := false
	switch *kip896 {
	case "on":
		refuse = true
	case "off":
	case "auto":
		major, _, _ := strings.Cut(*asVer, ".")
		n, _ := strconv.Atoi(major)
		refuse = n >= 4
	default:
		return fmt.Errorf("-kip896 %q: want on, off or auto", *kip896)
	}
	if *asVer != "" {
		v := kversion.FromString(*asVer)
		if v == nil {
			return fmt.Errorf("-as-version %q: unknown release; known: %s", *asVer, strings.Join(kversion.VersionStrings(), ", "))
		}
		opts = append(opts, kfake.MaxVersions(v))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return fmt.Errorf("starting kfake: %w", err)
	}
	for _, t := range topics {
		if err := c.CreateTopic(t.name, t.partitions, nil); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			c.Close()
			return fmt.Errorf("creating topic %s: %w", t.name, err)
		}
	}

	addrs := c.ListenAddrs()
	for _, a := range addrs {
		if err := waitAccepting(a, 10*time.Second); err != nil {
			c.Close()
			return err
		}
	}
	if refuse {
		if _, err := RefuseRemovedVersions(c, func(line string) { fmt.Fprintln(os.Stderr, line) }); err != nil {
			c.Close()
			return err
		}
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	fmt.Println("ready " + strings.Join(addrs, ","))

	<-sigs
	c.Close()
	return nil
}

// waitAccepting dials addr until a connection succeeds or the timeout passes.
func waitAccepting(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return conn.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("broker %s does not accept connections: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func level(s string) kfake.LogLevel {
	switch strings.ToLower(s) {
	case "debug":
		return kfake.LogLevelDebug
	case "info":
		return kfake.LogLevelInfo
	case "warn":
		return kfake.LogLevelWarn
	case "error":
		return kfake.LogLevelError
	}
	return kfake.LogLevelNone
}
