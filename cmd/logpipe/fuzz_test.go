package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/logpipe/logpipe/cmd/logpipe/stages"
	"github.com/logpipe/logpipe/pipeline"
)

// FuzzLoadAllTypes loads arbitrary text with every real stage type registered, so that
// each type's decoding and Validate (which also runs on partially decoded configs) is
// exercised: no input may panic. Seeds are the example configurations.
func FuzzLoadAllTypes(f *testing.F) {
	files, _ := filepath.Glob("../../configs/*.hcl")
	demo, _ := filepath.Glob("../../configs/demo/*.hcl")
	deploy, _ := filepath.Glob("../../deploy/*/*.hcl")
	for _, p := range append(append(files, demo...), deploy...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`output "kafka" "k" { topic = 1 tls { ca_file = [] } sasl {} }
output "elasticsearch" "e" { hosts = "x" retry {} dead_letter {} }
input "file" "f" { paths = [] max_line_bytes = "x" }
input "kafka" "i" { brokers = [] topics = [""] group_id = env("X") }
filter "apache" "a" { field = "" }`))
	reg := stages.Registry(os.Stdout)
	f.Fuzz(func(t *testing.T, src []byte) {
		_, diags := pipeline.Load("f.hcl", src, reg, func(string) (string, bool) { return "v", true })
		_ = pipeline.FormatDiagnostics(diags)
	})
}
