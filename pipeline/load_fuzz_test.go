package pipeline

import (
	"strings"
	"testing"
)

// FuzzLoad checks that no input makes Load panic, and that every diagnostic it returns can
// be formatted. Seeds live in testdata/fuzz/FuzzLoad; run longer with
// go test -run '^$' -fuzz FuzzLoad ./pipeline.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(minimalIO))
	f.Add([]byte(`output "kafka" "m" { brokers = [env("B", "x")] topic = "%{+YYYY}" tls { enabled = true } }`))
	reg := testRegistry()
	env := envOf(map[string]string{"A": "a"})
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, diags := Load("f.hcl", src, reg, env)
		out := FormatDiagnostics(diags)
		if diags.HasErrors() && strings.Count(out, "\n") < len(diags) {
			t.Fatalf("errors not formatted: %q", out)
		}
		if cfg == nil && !diags.HasErrors() {
			t.Fatal("nil config without an error")
		}
		if cfg != nil && !diags.HasErrors() && (len(cfg.Inputs) == 0 || len(cfg.Outputs) == 0) {
			t.Fatal("a valid config without inputs or outputs")
		}
	})
}
