package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/logpipe/logpipe/cmd/logpipe/stages"
	"github.com/logpipe/logpipe/pipeline"
)

// TestExampleConfigs loads every example configuration in configs/, configs/demo/ and
// deploy/*/ with the full registry and runs validate on it, so the examples never rot.
func TestExampleConfigs(t *testing.T) {
	files, err := filepath.Glob("../../configs/*.hcl")
	if err != nil {
		t.Fatal(err)
	}
	demo, _ := filepath.Glob("../../configs/demo/*.hcl")
	deploy, _ := filepath.Glob("../../deploy/*/*.hcl")
	files = append(append(files, demo...), deploy...)
	for _, want := range []string{"../../configs/ship.hcl", "../../configs/index.hcl"} {
		if !slices.Contains(files, want) {
			t.Errorf("%s is missing", want)
		}
	}
	env := map[string]string{"LOGPIPE_DEMO_DIR": "/tmp/logpipe-demo", "LOGPIPE_DEMO_BROKER": "127.0.0.1:9092"}
	for _, f := range files {
		t.Run(strings.TrimPrefix(f, "../../"), func(t *testing.T) {
			cfg, diags := pipeline.LoadFile(f, stages.Registry(os.Stdout), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if len(diags) > 0 {
				t.Fatalf("%s", pipeline.FormatDiagnostics(diags))
			}
			if len(cfg.Inputs) == 0 || len(cfg.Outputs) == 0 {
				t.Errorf("%s: %d inputs, %d outputs", f, len(cfg.Inputs), len(cfg.Outputs))
			}
			// The files and directories they name belong to the hosts they are for.
			code, out, errOut := runCLI(t, env, "validate", "--syntax-only", "-c", f)
			if code != 0 || !strings.HasPrefix(out, "config OK: ") || errOut != "" {
				t.Errorf("validate: exit %d, %q, %q", code, out, errOut)
			}
		})
	}
}

// The examples of DESIGN.md section 2 decode to the values written there.
func TestExampleConfigValues(t *testing.T) {
	reg := stages.Registry(os.Stdout)
	cfg, diags := pipeline.LoadFile("../../configs/ship.hcl", reg, nil)
	if diags.HasErrors() {
		t.Fatalf("ship.hcl:\n%s", pipeline.FormatDiagnostics(diags))
	}
	if cfg.DataDir != "/var/lib/logpipe/ship" || cfg.Inputs[0].ID() != "input.file.access" || cfg.Outputs[0].ID() != "output.kafka.main" {
		t.Errorf("ship.hcl: %+v", cfg)
	}
	cfg, diags = pipeline.LoadFile("../../configs/index.hcl", reg, nil)
	if diags.HasErrors() {
		t.Fatalf("index.hcl:\n%s", pipeline.FormatDiagnostics(diags))
	}
	var ids []string
	for _, s := range append(append(cfg.Inputs, cfg.Filters...), cfg.Outputs...) {
		ids = append(ids, s.ID())
	}
	if got := strings.Join(ids, " "); cfg.DataDir != "/var/lib/logpipe/index" ||
		got != "input.kafka.main filter.apache.access output.elasticsearch.main" {
		t.Errorf("index.hcl: data_dir %q, stages %s", cfg.DataDir, got)
	}
}
