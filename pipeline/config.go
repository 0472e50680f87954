package pipeline

import (
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Config is one process's configuration, as loaded from its HCL file.
type Config struct {
	// File is the path the config was loaded from.
	File string
	// DataDir holds the process's state (registry, dead-letter files, agent id).
	DataDir string
	// DrainTimeout bounds how long in-flight batches may take to finish on shutdown
	// (root attribute drain_timeout, default 30s).
	DrainTimeout time.Duration
	// QueueEvents and QueueBytes bound each queue between stages (root block
	// queue { events = 2048, bytes = "16MiB" }).
	QueueEvents int
	QueueBytes  int
	// MemoryLimit is the soft limit of the Go runtime's memory (root attribute
	// memory_limit; debug.SetMemoryLimit): MemoryLimitAuto (the default) sets none and
	// leaves GOMEMLIMIT to the runtime, MemoryLimitOff clears any, a size sets that.
	MemoryLimit int64
	// Workers is the number of goroutines that run the filter chain, each over its own
	// instances of the filters (root attribute workers; 0, the default "auto", means
	// GOMAXPROCS: every core the process may use).
	Workers int
	Logging LoggingConfig
	// Extra root blocks that belong to subcommands or services rather than the pipeline.
	Metrics *MetricsConfig
	Kibana  *KibanaConfig

	Inputs  []StageConfig
	Filters []StageConfig // in file order
	Outputs []StageConfig

	// src is what CheckHost needs to point at attributes; nil for a Config built by hand.
	src *loadedSource
}

// Defaults of the root attributes.
const (
	DefaultDrainTimeout = 30 * time.Second
	DefaultQueueEvents  = 2048
	DefaultQueueBytes   = 16 << 20
	// MemoryLimitAuto and MemoryLimitOff are the special values of Config.MemoryLimit.
	MemoryLimitAuto int64 = 0
	MemoryLimitOff  int64 = -1
)

// LoggingConfig is the root logging block.
type LoggingConfig struct {
	Level  string // debug | info | warn | error; default info
	Format string // json | console | auto (console on a terminal); default auto
}

// MetricsConfig is the root metrics block (Prometheus /metrics, /healthz, /readyz).
type MetricsConfig struct {
	Address string // default 127.0.0.1:9600
}

// KibanaConfig is the root kibana block, used by `logpipe setup`.
type KibanaConfig struct {
	Host     string
	Username string
	Password Secret
	APIKey   Secret
	// PasswordFile and APIKeyFile name files holding the password or API key instead (read
	// by setup, one trailing newline trimmed); each excludes its literal counterpart.
	PasswordFile string
	APIKeyFile   string
}

// StageConfig is one decoded stage block.
type StageConfig struct {
	Kind string // input | filter | output
	Type string
	Name string
	// Config is the typed config returned by the type's NewConfig, decoded and validated.
	Config any
	// DeclRange is where the block was declared, for messages.
	DeclRange hcl.Range
	// Fields are an input's common fields, fields_under_root and tags attributes (see
	// InputFields); nil when it sets none, and for filters and outputs.
	Fields *InputFields

	// block is the stage's HCL block (nil for a StageConfig built by hand), so that later
	// checks (CheckHost) can report problems at the attribute concerned.
	block *hcl.Block
}

// ID is "kind.type.name".
func (s StageConfig) ID() string { return s.Kind + "." + s.Type + "." + s.Name }
