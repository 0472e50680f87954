package file

import (
	"strings"
	"testing"
	"time"

	"github.com/logpipe/logpipe/pipeline"
)

func TestLoadFromHCL(t *testing.T) {
	reg := pipeline.NewRegistry()
	Register(reg)
	// The loader wants an output; this one is never built.
	reg.AddOutput(pipeline.Typed[pipeline.Output]("discard", func() *struct{} { return &struct{}{} },
		func(*struct{}, pipeline.Stage) (pipeline.Output, error) { return nil, nil }))
	src := `
data_dir = "/tmp/x"
input "file" "access" {
  paths          = ["/var/log/httpd/access_log*"]
  exclude        = ["*.gz"]
  start_position = "end"
  max_line_bytes = "64KiB"
  close_inactive = "1m"
  poll_interval  = "250ms"
  batch_events   = 100
  batch_bytes    = "256KiB"
  clean_removed  = "48h"
  max_open_files = 50
  follow_symlinks = true
}
output "discard" "x" {}
`
	cfg, diags := pipeline.Load("ship.hcl", []byte(src), reg, func(string) (string, bool) { return "", false })
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	c := cfg.Inputs[0].Config.(*Config)
	if !c.startEnd || c.maxLine != 64<<10 || c.closeInactive != time.Minute || c.poll != 250*time.Millisecond ||
		c.BatchEvents != 100 || c.batchBytes != 256<<10 || c.cleanRemoved != 48*time.Hour || c.MaxOpenFiles != 50 ||
		!c.FollowSymlinks || c.Exclude[0] != "*.gz" {
		t.Fatalf("decoded %+v", c)
	}

	_, diags = pipeline.Load("ship.hcl", []byte(`
data_dir = "/tmp/x"
input "file" "access" {
  paths          = ["/var/log/x"]
  start_position = "middle"
}
output "discard" "x" {}`), reg, func(string) (string, bool) { return "", false })
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "start_position") || !strings.Contains(diags.Error(), "ship.hcl:5") {
		t.Fatalf("diagnostics %v", diags)
	}
}
