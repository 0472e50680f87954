// Package pipeline is the core of logpipe, free of any particular input or output.
//
// A process runs one pipeline: inputs -> filters (in file order) -> every output (fan-out).
// Inputs produce Batches: runs of Events from one ordering domain (one file, one Kafka
// partition) that share one acknowledgement. Stages are joined by bounded queues sized in
// events and bytes, so a slow output stalls the inputs instead of growing memory.
//
// Delivery is at-least-once: an input advances its committed position only through a
// Tracker, to the highest offset below which every batch it emitted was acknowledged by
// every output. Nothing else moves a committed position.
//
// The package also holds the registry of stage types (filled explicitly from main), HCL
// loading with file:line:col diagnostics, retry with capped exponential backoff and
// jitter, and the Runner that starts, drains and stops a pipeline.
package pipeline
