package main

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/logpipe/logpipe/pipeline"
)

func TestMemoryLimit(t *testing.T) {
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
	cases := []struct {
		name  string
		cfg   pipeline.Config
		env   func(string) (string, bool)
		want  int64
		apply bool
	}{
		// auto sets no soft limit: the bound comes from the data structures, and a limit
		// below the live heap they allow makes the collector thrash (issue 15).
		{"auto sets none", pipeline.Config{QueueBytes: 16 << 20}, env(), 0, false},
		{"auto sets none with a large queue", pipeline.Config{QueueBytes: 64 << 20}, env(), 0, false},
		{"auto yields to GOMEMLIMIT", pipeline.Config{QueueBytes: 16 << 20}, env("GOMEMLIMIT", "1GiB"), 0, false},
		{"explicit beats GOMEMLIMIT", pipeline.Config{MemoryLimit: 80 << 20}, env("GOMEMLIMIT", "1GiB"), 80 << 20, true},
		{"off", pipeline.Config{MemoryLimit: pipeline.MemoryLimitOff}, env("GOMEMLIMIT", "1GiB"), math.MaxInt64, true},
	}
	for _, c := range cases {
		got, apply := memoryLimit(&c.cfg, c.env)
		if got != c.want || apply != c.apply {
			t.Errorf("%s: memoryLimit = %d, %v; want %d, %v", c.name, got, apply, c.want, c.apply)
		}
	}

	before := debug.SetMemoryLimit(-1)
	restore := applyMemoryLimit(&pipeline.Config{MemoryLimit: 96 << 20}, env())
	if got := debug.SetMemoryLimit(-1); got != 96<<20 {
		t.Errorf("limit while running = %d, want 96 MiB", got)
	}
	restore()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("limit after restore = %d, want %d", got, before)
	}
}
