package pipeline

import (
	"strings"
	"testing"
)

// TestLoadRootAttributes: memory_limit and workers, each with its default, its accepted
// forms and its errors (with their positions).
func TestLoadRootAttributes(t *testing.T) {
	type root struct {
		memoryLimit int64
		workers     int
	}
	cases := []struct {
		attr    string
		want    root
		wantErr string
	}{
		{"", root{MemoryLimitAuto, 0}, ""},
		{`memory_limit = "auto"`, root{MemoryLimitAuto, 0}, ""},
		{`memory_limit = "off"`, root{MemoryLimitOff, 0}, ""},
		{`memory_limit = "96MiB"`, root{96 << 20, 0}, ""},
		{`memory_limit = 33554432`, root{32 << 20, 0}, ""},
		{`memory_limit = "1MiB"`, root{}, "t.hcl:1:16: Invalid memory_limit"},
		{`memory_limit = "lots"`, root{}, "t.hcl:1:16: Invalid memory_limit"},
		{`memory_limit = true`, root{}, "t.hcl:1:16: Invalid memory_limit"},
		{`workers = "auto"`, root{MemoryLimitAuto, 0}, ""},
		{`workers = 1`, root{MemoryLimitAuto, 1}, ""},
		{`workers = 16`, root{MemoryLimitAuto, 16}, ""},
		{`workers = 0`, root{}, `t.hcl:1:11: Invalid workers: workers must be a whole number from 1 to 1024, or "auto" (one per core the process may use); got 0.`},
		{`workers = 2.5`, root{}, "got 2.5."},
		{`workers = "many"`, root{}, `got "many".`},
		{`workers = true`, root{}, "got bool."},
	}
	for _, c := range cases {
		cfg, diags := Load("t.hcl", []byte(c.attr+"\n"+minimalIO), testRegistry(), nil)
		if c.wantErr != "" {
			if got := FormatDiagnostics(diags); !strings.Contains(got, c.wantErr) {
				t.Errorf("%s: diagnostics %q, want %q", c.attr, got, c.wantErr)
			}
			continue
		}
		if diags.HasErrors() {
			t.Errorf("%s: %s", c.attr, FormatDiagnostics(diags))
			continue
		}
		if got := (root{cfg.MemoryLimit, cfg.Workers}); got != c.want {
			t.Errorf("%s: memory limit %d, workers %d; want %d, %d", c.attr, got.memoryLimit, got.workers, c.want.memoryLimit, c.want.workers)
		}
	}
}
