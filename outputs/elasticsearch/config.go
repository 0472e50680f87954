package elasticsearch

import (
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/logpipe/logpipe/codecs"
	"github.com/logpipe/logpipe/pipeline"
	"github.com/logpipe/logpipe/pipeline/transport"
)

// Defaults of the output's attributes.
const (
	DefaultIndex          = "logpipe-%{+YYYY.MM.dd}"
	DefaultBatchEvents    = 2500
	DefaultBatchBytes     = 5 << 20
	DefaultFlushInterval  = time.Second
	DefaultWorkers        = 2
	DefaultTimeout        = 60 * time.Second
	DefaultInitialBackoff = 100 * time.Millisecond
	DefaultMaxBackoff     = 30 * time.Second
	DefaultStatsInterval  = 30 * time.Second
	// DeadLetterFile is the default dead-letter file name, below <data_dir>/<stage id>/.
	DeadLetterFile = "dead_letter.ndjson"
)

// Config is the typed configuration of an output "elasticsearch" block.
type Config struct {
	// Hosts are the node URLs ("http://es1:9200"); requests go round-robin to the live ones,
	// and a host that fails to connect is set aside for a while (then tried again).
	Hosts []string `hcl:"hosts"`
	// Index is the target index, a template (codecs.ParseTemplate): "%{+YYYY.MM.dd}" is the
	// event's @timestamp in UTC, "%{[field][sub]}" a field of the event.
	Index string `hcl:"index,optional"`
	// Username and Password are sent as basic auth. PasswordFile names a file holding the
	// password instead (read when the output starts, one trailing newline trimmed).
	Username     string           `hcl:"username,optional"`
	Password     transport.Secret `hcl:"password,optional"`
	PasswordFile string           `hcl:"password_file,optional"`
	// APIKey is the base64 "id:api_key" value sent as "Authorization: ApiKey ...".
	// APIKeyFile names a file holding it instead.
	APIKey     transport.Secret `hcl:"api_key,optional"`
	APIKeyFile string           `hcl:"api_key_file,optional"`
	// TLS configures https hosts (ca_file, cert_file/key_file, server_name,
	// insecure_skip_verify), as for the kafka stages.
	TLS *transport.TLS `hcl:"tls,block"`
	// BatchEvents and BatchBytes cap one _bulk request (documents; body bytes).
	BatchEvents int    `hcl:"batch_events,optional"`
	BatchBytes  string `hcl:"batch_bytes,optional"`
	// FlushInterval is how long a partly filled _bulk request waits for more events.
	FlushInterval string `hcl:"flush_interval,optional"`
	// Workers is the number of _bulk requests in flight at once; Write blocks beyond.
	Workers int `hcl:"workers,optional"`
	// Timeout bounds one HTTP request.
	Timeout string `hcl:"timeout,optional"`
	// ManageTemplate installs logpipe's index template (PUT _index_template/<name>) at start
	// when the configured index can match its patterns. Default true.
	ManageTemplate *bool `hcl:"manage_template,optional"`
	// Retry configures the backoff of retried requests and items.
	Retry *RetryConfig `hcl:"retry,block"`
	// DeadLetter says where permanently rejected documents go.
	DeadLetter *DeadLetterConfig `hcl:"dead_letter,block"`
	// Pipeline names an ingest pipeline every document goes through (sent as the pipeline
	// parameter of each _bulk request); empty (default): none, the index's
	// index.default_pipeline applies if it has one. "_none" skips even that one.
	Pipeline string `hcl:"pipeline,optional"`

	// Derived by Validate.
	index         *codecs.Template
	batchBytes    int
	flushInterval time.Duration
	timeout       time.Duration
	backoff       pipeline.Backoff
	dlqMaxBytes   int64
	dlqMaxFiles   int
	dlqMaxMessage int
}

// RetryConfig is the retry block.
type RetryConfig struct {
	// InitialBackoff is the first delay (default 100ms); each further delay doubles, with
	// ±20% jitter, up to MaxBackoff (default 30s).
	InitialBackoff string `hcl:"initial_backoff,optional"`
	MaxBackoff     string `hcl:"max_backoff,optional"`
	// MaxAttempts bounds the attempts of one item; 0 (default) retries forever. Items that
	// are still failing after MaxAttempts go to the dead-letter queue.
	MaxAttempts int `hcl:"max_attempts,optional"`
}

// DeadLetterConfig is the dead_letter block. Without it (or with neither attribute set),
// rejected documents are appended to <data_dir>/<stage id>/dead_letter.ndjson.
type DeadLetterConfig struct {
	// Path is the file the entries are appended to (one JSON object per line).
	Path string `hcl:"path,optional"`
	// KafkaTopic and Brokers send the entries to a Kafka topic instead.
	KafkaTopic string   `hcl:"kafka_topic,optional"`
	Brokers    []string `hcl:"brokers,optional"`
	// TLS and SASL secure the connections to those brokers (as for the kafka stages); nil
	// (no block) is plaintext.
	TLS  *transport.TLS  `hcl:"tls,block"`
	SASL *transport.SASL `hcl:"sasl,block"`
	// MaxBytes caps the size of the dead-letter files together (default "1GiB"); MaxFiles
	// is their number (default 4: the current file and 3 rotated ones, each at most
	// max_bytes / max_files). When the cap is reached, rejected documents wait (and their
	// partition with them) until rotated files are moved away: nothing is dropped.
	MaxBytes string `hcl:"max_bytes,optional"`
	MaxFiles int    `hcl:"max_files,optional"`
	// MaxMessageBytes is the dead-letter topic's max.message.bytes (default "1MiB"): larger
	// entries are cut to fit. A MESSAGE_TOO_LARGE answer lowers it.
	MaxMessageBytes string `hcl:"max_message_bytes,optional"`
}

// DefaultDeadLetterMaxMessageBytes is the default max_message_bytes of a Kafka dead-letter
// topic (Kafka's default max.message.bytes is 1048588).
const DefaultDeadLetterMaxMessageBytes = 1 << 20

// NewConfig returns a Config holding the defaults.
func NewConfig() *Config {
	return &Config{
		Index:         DefaultIndex,
		BatchEvents:   DefaultBatchEvents,
		BatchBytes:    "5MiB",
		FlushInterval: DefaultFlushInterval.String(),
		Workers:       DefaultWorkers,
		Timeout:       DefaultTimeout.String(),
	}
}

// Validate checks the attributes and fills the derived fields.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Hosts) == 0 {
		errs = append(errs, pipeline.AttrErrorf("hosts", "at least one host is required, like [\"http://es1:9200\"]"))
	}
	for _, h := range c.Hosts {
		u, err := url.Parse(h)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, pipeline.AttrErrorf("hosts", "%q is not an http:// or https:// URL", RedactHost(h)))
		}
	}
	if t, err := codecs.ParseTemplate(c.Index); err != nil {
		errs = append(errs, pipeline.AttrErrorf("index", "%v", err))
	} else if c.Index == "" {
		errs = append(errs, pipeline.AttrErrorf("index", "must not be empty"))
	} else if lit := staticPrefix(c.Index); lit != strings.ToLower(lit) {
		errs = append(errs, pipeline.AttrErrorf("index", "Elasticsearch index names must be lowercase: %q", c.Index))
	} else {
		c.index = t
	}
	if c.TLS != nil {
		if err := c.TLS.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, c.validateCredentials()...)
	if c.BatchEvents < 1 {
		errs = append(errs, pipeline.AttrErrorf("batch_events", "must be at least 1"))
	}
	if n, err := pipeline.ParseBytes(c.BatchBytes); err != nil {
		errs = append(errs, pipeline.AttrErrorf("batch_bytes", "%v", err))
	} else if n < 1<<10 || n > 1<<30 {
		errs = append(errs, pipeline.AttrErrorf("batch_bytes", "must be between 1KiB and 1GiB (and below the cluster's http.max_content_length, 100mb by default)"))
	} else {
		c.batchBytes = int(n)
	}
	if d, err := pipeline.ParseDuration(c.FlushInterval); err != nil {
		errs = append(errs, pipeline.AttrErrorf("flush_interval", "%v", err))
	} else if d <= 0 {
		errs = append(errs, pipeline.AttrErrorf("flush_interval", "must be above 0"))
	} else {
		c.flushInterval = d
	}
	if c.Workers < 1 || c.Workers > 64 {
		errs = append(errs, pipeline.AttrErrorf("workers", "must be between 1 and 64"))
	}
	if d, err := pipeline.ParseDuration(c.Timeout); err != nil {
		errs = append(errs, pipeline.AttrErrorf("timeout", "%v", err))
	} else if d < 100*time.Millisecond {
		errs = append(errs, pipeline.AttrErrorf("timeout", "must be at least 100ms"))
	} else {
		c.timeout = d
	}
	c.backoff = pipeline.Backoff{Initial: DefaultInitialBackoff, Max: DefaultMaxBackoff, Multiplier: 2, Jitter: 0.2}
	if r := c.Retry; r != nil {
		if r.InitialBackoff != "" {
			if d, err := pipeline.ParseDuration(r.InitialBackoff); err != nil || d <= 0 {
				errs = append(errs, pipeline.AttrErrorf("initial_backoff", "want a positive duration like \"100ms\""))
			} else {
				c.backoff.Initial = d
			}
		}
		if r.MaxBackoff != "" {
			if d, err := pipeline.ParseDuration(r.MaxBackoff); err != nil || d <= 0 {
				errs = append(errs, pipeline.AttrErrorf("max_backoff", "want a positive duration like \"30s\""))
			} else {
				c.backoff.Max = d
			}
		}
		if c.backoff.Max < c.backoff.Initial {
			errs = append(errs, pipeline.AttrErrorf("max_backoff", "must not be below initial_backoff"))
		}
		if r.MaxAttempts < 0 {
			errs = append(errs, pipeline.AttrErrorf("max_attempts", "must be 0 (forever) or more"))
		}
		c.backoff.MaxAttempts = r.MaxAttempts
	}
	if d := c.DeadLetter; d != nil {
		if d.KafkaTopic != "" && d.Path != "" {
			errs = append(errs, pipeline.AttrErrorf("kafka_topic", "set either path or kafka_topic, not both"))
		}
		brokers, err := transport.Brokers("dead_letter.brokers", d.Brokers) // splits "h1:9092,h2:9092"
		d.Brokers = brokers
		errs = append(errs, err)
		if d.KafkaTopic != "" && len(d.Brokers) == 0 && err == nil {
			errs = append(errs, pipeline.AttrErrorf("brokers", "kafka_topic needs brokers"))
		}
		if d.KafkaTopic == "" && len(d.Brokers) > 0 {
			errs = append(errs, pipeline.AttrErrorf("kafka_topic", "brokers are set but kafka_topic is empty"))
		}
		errs = append(errs, d.validateSecurity()...)
	}
	errs = append(errs, c.validateDeadLetterBounds()...)
	if p := c.Pipeline; p != "" {
		if len(p) > 512 || strings.IndexFunc(p, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 ||
			strings.ContainsAny(p, `/\*?"<>|,#`) {
			errs = append(errs, pipeline.AttrErrorf("pipeline", "%q is not an ingest pipeline id: no spaces, no control characters, none of / \\ * ? \" < > | , #, at most 512 bytes (see GET _ingest/pipeline for the ids of the cluster)", p))
		}
	}
	return errors.Join(errs...)
}

// validateDeadLetterBounds checks max_bytes, max_files and max_message_bytes of the
// dead_letter block and fills the derived fields.
func (c *Config) validateDeadLetterBounds() []error {
	var errs []error
	c.dlqMaxBytes, c.dlqMaxFiles, c.dlqMaxMessage = DefaultDeadLetterMaxBytes, DefaultDeadLetterMaxFiles, DefaultDeadLetterMaxMessageBytes
	d := c.DeadLetter
	if d == nil {
		return nil
	}
	if d.KafkaTopic != "" && (d.MaxBytes != "" || d.MaxFiles != 0) {
		errs = append(errs, pipeline.AttrErrorf("dead_letter.max_bytes", "max_bytes and max_files bound a dead-letter file; a Kafka topic is bounded by its retention: remove them"))
	}
	if d.KafkaTopic == "" && d.MaxMessageBytes != "" {
		errs = append(errs, pipeline.AttrErrorf("dead_letter.max_message_bytes", "max_message_bytes applies to a Kafka dead-letter topic (kafka_topic): remove it"))
	}
	if d.MaxFiles != 0 {
		if d.MaxFiles < 2 || d.MaxFiles > 1000 {
			errs = append(errs, pipeline.AttrErrorf("dead_letter.max_files", "must be between 2 and 1000 (default %d)", DefaultDeadLetterMaxFiles))
		} else {
			c.dlqMaxFiles = d.MaxFiles
		}
	}
	if d.MaxBytes != "" {
		n, err := pipeline.ParseBytes(d.MaxBytes)
		switch {
		case err != nil:
			errs = append(errs, pipeline.AttrErrorf("dead_letter.max_bytes", "%v", err))
		case n < int64(c.dlqMaxFiles)*(64<<10):
			errs = append(errs, pipeline.AttrErrorf("dead_letter.max_bytes", "must be at least 64KiB per file (max_files %d): at least \"%dKiB\" (default \"1GiB\")", c.dlqMaxFiles, c.dlqMaxFiles*64))
		default:
			c.dlqMaxBytes = n
		}
	}
	if d.MaxMessageBytes != "" {
		n, err := pipeline.ParseBytes(d.MaxMessageBytes)
		switch {
		case err != nil:
			errs = append(errs, pipeline.AttrErrorf("dead_letter.max_message_bytes", "%v", err))
		case n < 16<<10 || n > 1<<30:
			errs = append(errs, pipeline.AttrErrorf("dead_letter.max_message_bytes", "must be between 16KiB and 1GiB: the topic's max.message.bytes (Kafka's default is 1048588)"))
		default:
			c.dlqMaxMessage = int(n)
		}
	}
	return errs
}

// manageTemplate reports the effective manage_template.
func (c *Config) manageTemplate() bool { return c.ManageTemplate == nil || *c.ManageTemplate }

// deadLetterPath is the dead-letter file of a stage, "" when entries go to Kafka.
func (c *Config) deadLetterPath(s pipeline.Stage) string {
	if c.DeadLetter != nil {
		if c.DeadLetter.KafkaTopic != "" {
			return ""
		}
		if c.DeadLetter.Path != "" {
			return c.DeadLetter.Path
		}
	}
	return filepath.Join(s.DataDir, s.ID(), DeadLetterFile)
}

// staticPrefix is the literal text of an index template before its first reference.
func staticPrefix(index string) string {
	if i := strings.Index(index, "%{"); i >= 0 {
		return index[:i]
	}
	return index
}
