package main

import (
	"math"
	"runtime/debug"

	"github.com/logpipe/logpipe/pipeline"
)

// defaultGCPercent is the collector's target with no GOGC in the environment: a new cycle
// starts when the heap grew by a fifth since the last one (the runtime's own default is
// 100, twice the live heap).
//
// Why 20: nearly all of logpipe's heap is pooled byte buffers (documents, fetches, request
// bodies) that hold no pointers, so a collection costs little whatever their size, and the
// pools let the collector reclaim idle buffers only at a collection. Measured with 1M lines
// on 2 cores: 25 took the indexer's peak RSS from about 183 to 125 MiB and the shipper's
// from 70 to 57 MiB at the same CPU per line (collections went from 17 to 59 in the
// indexer's run, about 1% of its time); later, with less live data, 20 against 25 gave
// 92-93 against 96-98 MiB at the same CPU. Below, the cost grows fast: 15 cost about 3 %
// more CPU, 10 about 40 % (the collector running nearly all the time).
const defaultGCPercent = 20

// memoryPolicy is what logpipe asks of the Go runtime's collector for a configuration.
type memoryPolicy struct {
	limit     int64 // soft memory limit, when setLimit
	setLimit  bool
	gcPercent int // GC target percentage, when setGC
	setGC     bool
}

// memoryPolicyFor returns the policy for cfg. The soft limit: memory_limit when set to a
// size, or "off" (which clears any limit, GOMEMLIMIT included); with "auto" (the default)
// logpipe sets none, and the runtime keeps GOMEMLIMIT when the environment sets it. The GC
// target: defaultGCPercent, unless the environment sets GOGC (which the runtime applied).
//
// Why no limit by default: the process's memory is bounded by its data structures (the
// queues' queue.bytes, the kafka input's fetch_budget, the outputs' in-flight requests,
// the file input's read buffers; each stage's README gives its share), not by the
// collector. A soft limit below the live heap those allow (the former default, 16 MiB +
// 2 × queue.bytes, was) makes the collector run nearly all the time (measured: up to 4×
// the CPU) without lowering the peak. memory_limit stays as an opt-in ceiling: the
// collector works harder as the heap nears it; a live heap above it is never refused memory.
func memoryPolicyFor(cfg *pipeline.Config, lookupEnv func(string) (string, bool)) memoryPolicy {
	var p memoryPolicy
	switch {
	case cfg.MemoryLimit == pipeline.MemoryLimitOff:
		p.limit, p.setLimit = math.MaxInt64, true
	case cfg.MemoryLimit > 0:
		p.limit, p.setLimit = cfg.MemoryLimit, true
	}
	if _, ok := lookupEnv("GOGC"); !ok {
		p.gcPercent, p.setGC = defaultGCPercent, true
	}
	return p
}

// applyMemoryPolicy applies the policy for cfg to the runtime and returns a function that
// restores the previous settings (they are process-wide; tests run pipelines in-process).
func applyMemoryPolicy(cfg *pipeline.Config, lookupEnv func(string) (string, bool)) (restore func()) {
	p := memoryPolicyFor(cfg, lookupEnv)
	prevLimit, prevGC := int64(-1), -1
	if p.setLimit {
		prevLimit = debug.SetMemoryLimit(p.limit)
	}
	if p.setGC {
		prevGC = debug.SetGCPercent(p.gcPercent)
	}
	return func() {
		if p.setLimit {
			debug.SetMemoryLimit(prevLimit)
		}
		if p.setGC {
			debug.SetGCPercent(prevGC)
		}
	}
}
