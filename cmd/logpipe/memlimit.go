package main

import (
	"math"
	"runtime/debug"

	"github.com/logpipe/logpipe/pipeline"
)

// memoryLimit returns the soft memory limit to give the Go runtime for cfg, and whether to
// set one at all: memory_limit when set to a size, or "off" (which clears any limit,
// GOMEMLIMIT included). With "auto" (the default) logpipe sets none: the runtime keeps
// GOMEMLIMIT when the environment sets it, and otherwise runs without a soft limit.
//
// Why no limit by default: the process's memory is bounded by its data structures (the
// queues' queue.bytes, the kafka input's fetch_budget, the outputs' in-flight requests,
// the file input's read buffers; each stage's README gives its share), not by the
// collector. A soft limit below the live heap those allow (the former default, 16 MiB +
// 2 × queue.bytes, was) makes the collector run nearly all the time (measured: up to 4×
// the CPU) without lowering the peak. memory_limit stays as an opt-in ceiling: the
// collector works harder as the heap nears it, which keeps the peak RSS close to the live
// heap instead of about twice it (GOGC=100); a live heap above it is never refused memory.
func memoryLimit(cfg *pipeline.Config, lookupEnv func(string) (string, bool)) (int64, bool) {
	switch {
	case cfg.MemoryLimit == pipeline.MemoryLimitOff:
		return math.MaxInt64, true
	case cfg.MemoryLimit > 0:
		return cfg.MemoryLimit, true
	}
	return 0, false // auto: GOMEMLIMIT if set (the runtime applied it), else none
}

// applyMemoryLimit sets the runtime's soft memory limit for cfg and returns a function that
// restores the previous one (the limit is process-wide; tests run pipelines in-process).
func applyMemoryLimit(cfg *pipeline.Config, lookupEnv func(string) (string, bool)) (restore func()) {
	limit, ok := memoryLimit(cfg, lookupEnv)
	if !ok {
		return func() {}
	}
	prev := debug.SetMemoryLimit(limit)
	return func() { debug.SetMemoryLimit(prev) }
}
