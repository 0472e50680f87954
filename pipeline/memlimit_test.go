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
