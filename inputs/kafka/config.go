package kafka

import (
	"errors"
	"strings"
	"time"

	"github.com/logpipe/logpipe/pipeline"
	"github.com/logpipe/logpipe/pipeline/transport"
	kafkago "github.com/segmentio/kafka-go"
)

// Config is the typed configuration of an input "kafka" block.
//
// The fields without an hcl tag are derived by Validate. Partitions and ReplicationFactor are
// not used by the input itself: `logpipe setup --topic` reads them to create missing topics.
type Config struct {
	Brokers           []string `hcl:"brokers"`
	Topics            []string `hcl:"topics"`
	GroupID           string   `hcl:"group_id"`
	StartOffset       string   `hcl:"start_offset,optional"`       // earliest | latest; default earliest
	Codec             string   `hcl:"codec,optional"`              // default json
	CommitInterval    string   `hcl:"commit_interval,optional"`    // default 1s
	MaxInFlight       int      `hcl:"max_in_flight,optional"`      // unacked batches per partition; default 8
	BatchEvents       int      `hcl:"batch_events,optional"`       // default 512
	BatchBytes        string   `hcl:"batch_bytes,optional"`        // default 1MiB; fetches ask for at most min(this, 128KiB)
	FetchMaxWait      string   `hcl:"fetch_max_wait,optional"`     // default 500ms
	FetchBudget       string   `hcl:"fetch_budget,optional"`       // default 4MiB: fetched-but-not-emitted data, all partitions
	ClientID          string   `hcl:"client_id,optional"`          // default logpipe
	SessionTimeout    string   `hcl:"session_timeout,optional"`    // default 10s
	RebalanceTimeout  string   `hcl:"rebalance_timeout,optional"`  // default 10s
	HeartbeatInterval string   `hcl:"heartbeat_interval,optional"` // default 1s
	Partitions        int      `hcl:"partitions,optional"`         // for setup; default 3
	ReplicationFactor int      `hcl:"replication_factor,optional"` // for setup; default 2
	// TLS and SASL secure the connections to the brokers; nil (no block) is plaintext.
	TLS  *transport.TLS  `hcl:"tls,block"`
	SASL *transport.SASL `hcl:"sasl,block"`

	// Derived by Validate.
	StartAt           int64 // kafka-go FirstOffset or LastOffset
	CommitEvery       time.Duration
	BatchByteLimit    int
	FetchWait         time.Duration
	FetchBudgetBytes  int64
	SessionTimeoutD   time.Duration
	RebalanceTimeoutD time.Duration
	HeartbeatD        time.Duration
}

// Defaults of the optional attributes.
const (
	DefaultStartOffset    = "earliest"
	DefaultCodec          = "json"
	DefaultCommitInterval = "1s"
	DefaultMaxInFlight    = 8
	DefaultBatchEvents    = 512
	DefaultBatchBytes     = "1MiB"
	DefaultFetchMaxWait   = "500ms"
	// DefaultFetchBudget is about four fetches of decoded records: enough to keep the
	// pipeline fed (one fetch takes a few milliseconds; the pipeline needs several to
	// process it), small enough that the records waiting for the queue do not make the
	// indexer's memory grow with the partitions. With 16 MiB the indexer's peak RSS at
	// full speed rose from 111 MiB with 3 partitions to 154-160 MiB with 16 and 64.
	DefaultFetchBudget       = "4MiB"
	DefaultClientID          = "logpipe"
	DefaultSessionTimeout    = "10s"
	DefaultRebalanceTimeout  = "10s"
	DefaultHeartbeatInterval = "1s"
	DefaultPartitions        = 3
	DefaultReplicationFactor = 2
)

// The group defaults let a member that starts, leaves or dies be replaced within seconds:
// the others notice a rebalance at their next heartbeat (1 s), a member that died without
// leaving is dropped after session_timeout (10 s, Kafka's own default until 3.0; heartbeats
// run on a goroutine of their own, so a stalled pipeline never misses one), and a member
// that does not rejoin is dropped after rebalance_timeout (10 s; a revoking member waits at
// most half of it for acknowledgements, see revocationWait).

// revocationWait is how long a member whose partitions are revoked waits for the outputs to
// acknowledge what it emitted before it commits and rejoins. The group waits for it
// meanwhile, and kafka-go sends no heartbeats between two generations: a member that takes
// session_timeout to rejoin is expired, one that takes rebalance_timeout is dropped. Half of
// the smaller keeps it in the group.
func (c *Config) revocationWait() time.Duration {
	return min(c.RebalanceTimeoutD, c.SessionTimeoutD) / 2
}

// coordinatorTimeout is the network timeout of kafka-go's consumer group with the group
// coordinator (ConsumerGroupConfig.Timeout, 5 s when unset). kafka-go waits for a JoinGroup
// answer this much longer than rebalance_timeout, and for a SyncGroup answer this much longer
// than session_timeout; on a timeout it forgets its member id and joins again as a new
// member, leaving the old one in the group until the coordinator drops it. The coordinator
// may hold a JoinGroup for rebalance_timeout after the last member joined or left (kfake
// restarts that timer at every change), so the deadline must leave that much room: a
// shorter one made every member time out and rejoin as a new member, over and over.
func (c *Config) coordinatorTimeout() time.Duration {
	return max(c.RebalanceTimeoutD, 5*time.Second)
}

// DefaultConfig returns a Config holding the defaults of every optional attribute.
func DefaultConfig() *Config {
	return &Config{
		StartOffset:       DefaultStartOffset,
		Codec:             DefaultCodec,
		CommitInterval:    DefaultCommitInterval,
		MaxInFlight:       DefaultMaxInFlight,
		BatchEvents:       DefaultBatchEvents,
		BatchBytes:        DefaultBatchBytes,
		FetchMaxWait:      DefaultFetchMaxWait,
		FetchBudget:       DefaultFetchBudget,
		ClientID:          DefaultClientID,
		SessionTimeout:    DefaultSessionTimeout,
		RebalanceTimeout:  DefaultRebalanceTimeout,
		HeartbeatInterval: DefaultHeartbeatInterval,
		Partitions:        DefaultPartitions,
		ReplicationFactor: DefaultReplicationFactor,
	}
}

// Validate checks the attributes and fills the derived fields.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, pipeline.AttrErrorf("brokers", "at least one broker address (host:port) is required"))
	}
	brokers, err := transport.Brokers("brokers", c.Brokers) // splits "h1:9092,h2:9092"
	c.Brokers = brokers
	errs = append(errs, err)
	if len(c.Topics) == 0 {
		errs = append(errs, pipeline.AttrErrorf("topics", "at least one topic is required"))
	}
	seen := map[string]bool{}
	for _, t := range c.Topics {
		switch {
		case t == "":
			errs = append(errs, pipeline.AttrErrorf("topics", "a topic name must not be empty"))
		case seen[t]:
			errs = append(errs, pipeline.AttrErrorf("topics", "topic %q is listed twice", t))
		}
		seen[t] = true
	}
	if strings.TrimSpace(c.GroupID) == "" {
		errs = append(errs, pipeline.AttrErrorf("group_id", "a consumer group id is required"))
	}
	switch c.StartOffset {
	case "earliest":
		c.StartAt = kafkago.FirstOffset
	case "latest":
		c.StartAt = kafkago.LastOffset
	default:
		errs = append(errs, pipeline.AttrErrorf("start_offset", "%q is not one of earliest, latest", c.StartOffset))
	}
	if c.Codec == "" {
		errs = append(errs, pipeline.AttrErrorf("codec", "must not be empty"))
	}
	dur := func(attr, v string, min time.Duration, dst *time.Duration) {
		d, err := pipeline.ParseDuration(v)
		switch {
		case err != nil:
			errs = append(errs, pipeline.AttrErrorf(attr, "%v", err))
		case d < min:
			errs = append(errs, pipeline.AttrErrorf(attr, "%s is below the minimum of %s", d, min))
		default:
			*dst = d
		}
	}
	dur("commit_interval", c.CommitInterval, 10*time.Millisecond, &c.CommitEvery)
	dur("fetch_max_wait", c.FetchMaxWait, time.Millisecond, &c.FetchWait)
	dur("session_timeout", c.SessionTimeout, 100*time.Millisecond, &c.SessionTimeoutD)
	dur("rebalance_timeout", c.RebalanceTimeout, 100*time.Millisecond, &c.RebalanceTimeoutD)
	dur("heartbeat_interval", c.HeartbeatInterval, 10*time.Millisecond, &c.HeartbeatD)
	if c.HeartbeatD > 0 && c.SessionTimeoutD > 0 && c.HeartbeatD >= c.SessionTimeoutD {
		errs = append(errs, pipeline.AttrErrorf("heartbeat_interval", "%s must be below session_timeout (%s); a third of it is usual", c.HeartbeatD, c.SessionTimeoutD))
	}
	if c.FetchWait > time.Minute {
		errs = append(errs, pipeline.AttrErrorf("fetch_max_wait", "%s is above the maximum of 1m", c.FetchWait))
	}
	if c.MaxInFlight < 1 {
		errs = append(errs, pipeline.AttrErrorf("max_in_flight", "must be at least 1, got %d", c.MaxInFlight))
	}
	if c.BatchEvents < 1 {
		errs = append(errs, pipeline.AttrErrorf("batch_events", "must be at least 1, got %d", c.BatchEvents))
	}
	if n, err := pipeline.ParseBytes(c.BatchBytes); err != nil {
		errs = append(errs, pipeline.AttrErrorf("batch_bytes", "%v", err))
	} else if n < 1024 || n > 256<<20 {
		errs = append(errs, pipeline.AttrErrorf("batch_bytes", "%s must be between 1KiB and 256MiB", c.BatchBytes))
	} else {
		c.BatchByteLimit = int(n)
	}
	if n, err := pipeline.ParseBytes(c.FetchBudget); err != nil {
		errs = append(errs, pipeline.AttrErrorf("fetch_budget", "%v", err))
	} else if n < 1<<20 || n > 4<<30 {
		errs = append(errs, pipeline.AttrErrorf("fetch_budget", "%s must be between 1MiB and 4GiB", c.FetchBudget))
	} else {
		c.FetchBudgetBytes = n
	}
	if c.ClientID == "" {
		errs = append(errs, pipeline.AttrErrorf("client_id", "must not be empty"))
	}
	if c.Partitions < 1 {
		errs = append(errs, pipeline.AttrErrorf("partitions", "must be at least 1, got %d", c.Partitions))
	}
	if c.ReplicationFactor < 1 || c.ReplicationFactor > 32767 {
		errs = append(errs, pipeline.AttrErrorf("replication_factor", "must be between 1 and 32767, got %d", c.ReplicationFactor))
	}
	errs = append(errs, c.TLS.Validate(), c.SASL.Validate())
	return errors.Join(errs...)
}
