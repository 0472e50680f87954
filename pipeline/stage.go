package pipeline

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Emit hands a batch to the pipeline. It blocks while the queue after the input is full
// (backpressure) and returns ctx.Err() if ctx ends first; the batch is then not in the
// pipeline and will never be acknowledged.
type Emit func(ctx context.Context, b *Batch) error

// Input reads events from a source.
//
// Run reads and calls emit with batches, in source order within each ordering domain, until
// ctx is cancelled or, when the stage runs with Once set, until it reached the end of its
// source (files read to EOF; Kafka partitions read up to the end offsets seen at start). It
// then returns nil; an error means the input cannot go on (bad configuration, a permanent
// failure), never a transient condition, which the input retries itself.
//
// Run must not wait for acknowledgements before returning. Each batch carries an onAck
// callback; the input advances its committed positions (registry, Kafka commits) only through
// a Tracker fed by those callbacks, periodically while it runs.
//
// Close is called once, after Run returned and after every batch the input emitted was
// acknowledged or the drain deadline passed (ctx carries that deadline). It commits the final
// positions and releases resources.
type Input interface {
	Run(ctx context.Context, emit Emit) error
	Close(ctx context.Context) error
}

// Filter transforms events between inputs and outputs.
//
// The runner builds one instance per filter worker (root attribute workers; Build is
// called once for each) and calls each instance's Process from one goroutine, with a share
// of the batches: an instance needs no locking, but it must not rely on seeing every batch
// or on the order across batches (the runner hands the batches on in the order they were
// read, whatever each one costs). Instances may share read-only data. Process rewrites
// events in place and may remove events from b.Events (on_failure = "drop"); removing an
// event acknowledges it implicitly, because the batch is acknowledged as a whole. It must not
// block and must not keep references to the events after returning. A Filter never fails a
// batch: a problem with one event is recorded on that event (a tag) or the event is dropped
// by configuration.
type Filter interface {
	Process(b *Batch)
}

// Output delivers events to a destination.
//
// Write is called with each batch, in order, from one goroutine per output. It may return
// before the batch is durable, so that many batches are in flight, but it must block once its
// own in-flight limit is reached (backpressure). It calls b.Ack exactly once when every event
// of the batch is durable or was set aside in a dead-letter queue. Transient failures are
// retried inside the output (forever by default); Write returns an error only when ctx ends
// or on a failure that stops the pipeline. The events' bytes stay valid until the output
// calls b.Ack (their buffers go back to their pools after the final acknowledgement), so
// an output may keep pointing at them instead of copying them; it must not read them after.
//
// Close is called once after the last Write: it flushes, waits for in-flight batches until
// ctx is done, and releases resources. Batches not acknowledged by then are never acked.
type Output interface {
	Write(ctx context.Context, b *Batch) error
	Close(ctx context.Context) error
}

// Starter is implemented by outputs that must connect or check their peer before inputs
// start (for example, install an index template). The runner calls Start on every output
// before starting any input.
type Starter interface {
	Start(ctx context.Context) error
}

// Agent identifies this logpipe process in the events it writes (Filebeat's agent fields).
type Agent struct {
	Hostname    string // host.name and agent.name
	ID          string // stable uuid, kept in data_dir
	EphemeralID string // uuid, new for every run
	Version     string
}

// Stage is what a stage's constructor receives besides its typed config.
type Stage struct {
	Kind    string // "input", "filter" or "output"
	Type    string // the type label, e.g. "file"
	Name    string // the name label, e.g. "access"
	Log     *zap.Logger
	DataDir string // the process's data_dir; a stage keeps its state below it (see StateDir)
	Agent   Agent
	// Once: inputs stop at the end of their source (see Input.Run).
	Once bool
	// Codecs resolves codec names (e.g. "json", "rubydebug") for stages that take a codec.
	Codecs *Registry
	// Metrics registers the stage's own Prometheus metrics (consumer lag, latency, retries,
	// ...). It already carries the constant label stage=<ID>, so a stage never adds that label
	// itself. The runner always sets it, also when the metrics endpoint is off (the metrics
	// are then collected by nobody); a Stage built by hand (tests) may leave it nil: use
	// Registerer, which never returns nil. Register once, in the stage's constructor;
	// collectors are read at scrape time, concurrently with Run.
	Metrics prometheus.Registerer
	// Buffers is the process's pool of batch buffers (see Buffers and Batch.Recycle); nil in
	// a Stage built by hand, which then allocates every buffer.
	Buffers *Buffers
}

// ID is the stage's identifier, "kind.type.name", used in logs, metrics and state paths.
func (s Stage) ID() string { return s.Kind + "." + s.Type + "." + s.Name }
