package main

import (
	"math"
	"runtime/debug"

	"github.com/logpipe/logpipe/pipeline"
)

// memoryLimit returns the soft memory limit to give the Go runtime for cfg, and whether to
// set one at all: memory_limit when set ("off" clears any limit, GOMEMLIMIT included);
// otherwise GOMEMLIMIT when the environment sets it (the runtime already applied it); else
// pipeline.AutoMemoryLimit of the queue bound.
//
// The limit is soft: the garbage collector runs more often as the process nears it, which
// keeps the peak RSS close to the live heap instead of twice it (GOGC=100), at some CPU
// cost; a live heap above it is never refused memory.
func memoryLimit(cfg *pipeline.Config, lookupEnv func(string) (string, bool)) (int64, bool) {
	switch {
	case cfg.MemoryLimit == pipeline.MemoryLimitOff:
		return math.MaxInt64, true
	case cfg.MemoryLimit > 0:
		return cfg.MemoryLimit, true
	}
	if v, ok := lookupEnv("GOMEMLIMIT"); ok && v != "" {
		return 0, false
	}
	return pipeline.AutoMemoryLimit(cfg.QueueBytes), true
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
