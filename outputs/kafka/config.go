package kafka

import (
	"errors"
	"strings"
	"time"

	"github.com/logpipe/logpipe/codecs"
	"github.com/logpipe/logpipe/pipeline"
	"github.com/logpipe/logpipe/pipeline/transport"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
)

// Defaults of the output's attributes.
const (
	DefaultRequiredAcks    = "all"
	DefaultCompression     = "lz4"
	DefaultMaxMessageBytes = 1 << 20
	DefaultBatchEvents     = 4096
	DefaultBatchBytes      = 1 << 20
	DefaultLinger          = 5 * time.Millisecond
	DefaultTimeout         = 30 * time.Second
	DefaultClientID        = "logpipe"
	DefaultMaxInFlight     = 8
	DefaultCodec           = "json"
)

// Config is the typed configuration of an output "kafka" block.
type Config struct {
	// Brokers are the bootstrap brokers, "host:port".
	Brokers []string `hcl:"brokers"`
	// Topic receives every event.
	Topic string `hcl:"topic"`
	// RequiredAcks is all | one | none (default all).
	RequiredAcks string `hcl:"required_acks,optional"`
	// Compression is none | gzip | snappy | lz4 | zstd (default lz4).
	Compression string `hcl:"compression,optional"`
	// PartitionKey is an optional template (codecs.ParseTemplate syntax) whose value is the
	// record key; events with a key go to the partition murmur2(key) selects (Kafka's
	// default partitioner). Without it each pipeline batch goes to the next partition.
	PartitionKey string `hcl:"partition_key,optional"`
	// MaxMessageBytes caps one record (value and key); a larger event is cut and flagged.
	MaxMessageBytes string `hcl:"max_message_bytes,optional"`
	// BatchEvents and BatchBytes cap one produce request (one partition's record batch).
	BatchEvents int    `hcl:"batch_events,optional"`
	BatchBytes  string `hcl:"batch_bytes,optional"`
	// Linger is how long a partly filled record batch waits for more events.
	Linger string `hcl:"linger,optional"`
	// Timeout bounds one produce request (and the broker's wait for acks).
	Timeout string `hcl:"timeout,optional"`
	// ClientID is the Kafka client.id.
	ClientID string `hcl:"client_id,optional"`
	// MaxInFlight is the number of produce requests in flight at once; Write blocks beyond.
	MaxInFlight int `hcl:"max_in_flight,optional"`
	// Codec names the encoder of the record value (default "json", the wire format).
	Codec string `hcl:"codec,optional"`
	// TLS and SASL secure the connections to the brokers; nil (no block) is plaintext.
	TLS  *transport.TLS  `hcl:"tls,block"`
	SASL *transport.SASL `hcl:"sasl,block"`

	// Derived by Validate.
	acks            kafka.RequiredAcks
	compression     compress.Compression
	maxMessageBytes int
	batchBytes      int
	linger          time.Duration
	timeout         time.Duration
}

// NewConfig returns a Config holding the defaults.
func NewConfig() *Config {
	return &Config{
		RequiredAcks:    DefaultRequiredAcks,
		Compression:     DefaultCompression,
		MaxMessageBytes: "1MiB",
		BatchEvents:     DefaultBatchEvents,
		BatchBytes:      "1MiB",
		Linger:          DefaultLinger.String(),
		Timeout:         DefaultTimeout.String(),
		ClientID:        DefaultClientID,
		MaxInFlight:     DefaultMaxInFlight,
		Codec:           DefaultCodec,
	}
}

// minMessageBytes is the smallest accepted max_message_bytes: room for the event's fixed
// fields besides the message.
const minMessageBytes = 4 << 10

// Validate checks the attributes and fills the derived fields.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, pipeline.AttrErrorf("brokers", "at least one broker is required, like [\"kafka1:9092\"]"))
	}
	brokers, err := transport.Brokers("brokers", c.Brokers) // splits "h1:9092,h2:9092"
	c.Brokers = brokers
	errs = append(errs, err)
	if strings.TrimSpace(c.Topic) == "" {
		errs = append(errs, pipeline.AttrErrorf("topic", "must not be empty"))
	}
	switch c.RequiredAcks {
	case "all":
		c.acks = kafka.RequireAll
	case "one":
		c.acks = kafka.RequireOne
	case "none":
		c.acks = kafka.RequireNone
	default:
		errs = append(errs, pipeline.AttrErrorf("required_acks", "%q is not one of all, one, none", c.RequiredAcks))
	}
	switch c.Compression {
	case "none":
		c.compression = 0
	case "gzip":
		c.compression = compress.Gzip
	case "snappy":
		c.compression = compress.Snappy
	case "lz4":
		c.compression = compress.Lz4
	case "zstd":
		c.compression = compress.Zstd
	default:
		errs = append(errs, pipeline.AttrErrorf("compression", "%q is not one of none, gzip, snappy, lz4, zstd", c.Compression))
	}
	c.maxMessageBytes = sizeAttr(&errs, "max_message_bytes", c.MaxMessageBytes, minMessageBytes)
	if c.BatchEvents < 1 {
		errs = append(errs, pipeline.AttrErrorf("batch_events", "must be at least 1"))
	}
	c.batchBytes = sizeAttr(&errs, "batch_bytes", c.BatchBytes, 1)
	c.linger = durationAttr(&errs, "linger", c.Linger, 0)
	c.timeout = durationAttr(&errs, "timeout", c.Timeout, 100*time.Millisecond)
	if strings.TrimSpace(c.ClientID) == "" {
		errs = append(errs, pipeline.AttrErrorf("client_id", "must not be empty"))
	}
	if c.MaxInFlight < 1 {
		errs = append(errs, pipeline.AttrErrorf("max_in_flight", "must be at least 1"))
	}
	if c.PartitionKey != "" {
		if _, err := codecs.ParseTemplate(c.PartitionKey); err != nil {
			errs = append(errs, pipeline.AttrErrorf("partition_key", "%v", err))
		}
	}
	if c.Codec == "" {
		errs = append(errs, pipeline.AttrErrorf("codec", "must not be empty"))
	}
	errs = append(errs, c.TLS.Validate(), c.SASL.Validate())
	return errors.Join(errs...)
}

// sizeAttr parses the byte size v of attribute attr, between lo and 1GiB; on an error it
// adds it to errs and returns 0.
func sizeAttr(errs *[]error, attr, v string, lo int64) int {
	n, err := pipeline.ParseBytes(v)
	switch {
	case err != nil:
		*errs = append(*errs, pipeline.AttrErrorf(attr, "%v", err))
	case n < lo || n > 1<<30:
		*errs = append(*errs, pipeline.AttrErrorf(attr, "must be between %dB and 1GiB, not %q", lo, v))
	default:
		return int(n)
	}
	return 0
}

// durationAttr parses the duration v of attribute attr, at least lo; on an error it adds
// it to errs and returns 0.
func durationAttr(errs *[]error, attr, v string, lo time.Duration) time.Duration {
	d, err := pipeline.ParseDuration(v)
	switch {
	case err != nil:
		*errs = append(*errs, pipeline.AttrErrorf(attr, "%v", err))
	case d < lo:
		*errs = append(*errs, pipeline.AttrErrorf(attr, "must be at least %s, not %q", lo, v))
	default:
		return d
	}
	return 0
}
