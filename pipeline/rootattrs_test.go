package pipeline

import (
	"strings"
	"testing"
)

func TestLoadMemoryLimit(t *testing.T) {
	cases := []struct {
		attr    string
		want    int64
		wantErr string
	}{
		{"", MemoryLimitAuto, ""},
		{`memory_limit = "auto"`, MemoryLimitAuto, ""},
		{`memory_limit = "off"`, MemoryLimitOff, ""},
		{`memory_limit = "96MiB"`, 96 << 20, ""},
		{`memory_limit = 33554432`, 32 << 20, ""},
		{`memory_limit = "1MiB"`, 0, "t.hcl:1:16: Invalid memory_limit"},
		{`memory_limit = "lots"`, 0, "t.hcl:1:16: Invalid memory_limit"},
		{`memory_limit = true`, 0, "t.hcl:1:16: Invalid memory_limit"},
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
		if cfg.MemoryLimit != c.want {
			t.Errorf("%s: MemoryLimit = %d, want %d", c.attr, cfg.MemoryLimit, c.want)
		}
	}
}

func TestLoadWorkers(t *testing.T) {
	cases := []struct {
		attr    string
		want    int
		wantErr string
	}{
		{"", 0, ""},
		{`workers = "auto"`, 0, ""},
		{`workers = 1`, 1, ""},
		{`workers = 16`, 16, ""},
		{`workers = 0`, 0, `t.hcl:1:11: Invalid workers: workers must be a whole number from 1 to 1024, or "auto" (one per core the process may use); got 0.`},
		{`workers = 2.5`, 0, "got 2.5."},
		{`workers = "many"`, 0, `got "many".`},
		{`workers = true`, 0, "got bool."},
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
		if cfg.Workers != c.want {
			t.Errorf("%s: Workers = %d, want %d", c.attr, cfg.Workers, c.want)
		}
	}
}
