package main

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/logpipe/logpipe/pipeline"
)

func TestMemoryPolicy(t *testing.T) {
	env := func(kv ...string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1], true
				}
			}
			return "", false
		}
	}
	gc := memoryPolicy{gcPercent: defaultGCPercent, setGC: true}
	withLimit := func(p memoryPolicy, limit int64) memoryPolicy {
		p.limit, p.setLimit = limit, true
		return p
	}
	cases := []struct {
		name string
		cfg  pipeline.Config
		env  func(string) (string, bool)
		want memoryPolicy
	}{
		// auto sets no soft limit: the bound comes from the data structures, and a limit
		// below the live heap they allow makes the collector thrash.
		{"auto sets no limit", pipeline.Config{QueueBytes: 16 << 20}, env(), gc},
		{"auto sets no limit with a large queue", pipeline.Config{QueueBytes: 64 << 20}, env(), gc},
		{"auto yields to GOMEMLIMIT", pipeline.Config{QueueBytes: 16 << 20}, env("GOMEMLIMIT", "1GiB"), gc},
		{"GOGC beats the default target", pipeline.Config{}, env("GOGC", "100"), memoryPolicy{}},
		{"GOGC=off too", pipeline.Config{}, env("GOGC", "off"), memoryPolicy{}},
		{"explicit beats GOMEMLIMIT", pipeline.Config{MemoryLimit: 80 << 20}, env("GOMEMLIMIT", "1GiB"), withLimit(gc, 80<<20)},
		{"off", pipeline.Config{MemoryLimit: pipeline.MemoryLimitOff}, env("GOMEMLIMIT", "1GiB"), withLimit(gc, math.MaxInt64)},
		{"off with GOGC", pipeline.Config{MemoryLimit: pipeline.MemoryLimitOff}, env("GOGC", "50"), withLimit(memoryPolicy{}, math.MaxInt64)},
	}
	for _, c := range cases {
		if got := memoryPolicyFor(&c.cfg, c.env); got != c.want {
			t.Errorf("%s: memoryPolicyFor = %+v; want %+v", c.name, got, c.want)
		}
	}

	beforeLimit, beforeGC := debug.SetMemoryLimit(-1), debug.SetGCPercent(-1)
	debug.SetGCPercent(beforeGC) // SetGCPercent(-1) turned the collector off: undo at once
	restore := applyMemoryPolicy(&pipeline.Config{MemoryLimit: 96 << 20}, env())
	if got := debug.SetMemoryLimit(-1); got != 96<<20 {
		t.Errorf("limit while running = %d, want 96 MiB", got)
	}
	if got := debug.SetGCPercent(defaultGCPercent); got != defaultGCPercent {
		t.Errorf("GC percent while running = %d, want %d", got, defaultGCPercent)
	}
	restore()
	if got := debug.SetMemoryLimit(-1); got != beforeLimit {
		t.Errorf("limit after restore = %d, want %d", got, beforeLimit)
	}
	if got := debug.SetGCPercent(beforeGC); got != beforeGC {
		t.Errorf("GC percent after restore = %d, want %d", got, beforeGC)
	}
}
