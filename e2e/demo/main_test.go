package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/logpipe/logpipe/e2e/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

// TestDemo runs what `make demo` runs, so the README's first command cannot rot: the real
// binaries, the real configs in configs/demo, every line indexed, lag 0, clean exits.
func TestDemo(t *testing.T) {
	harness.SkipIfShort(t)
	logpipe, broker := harness.LogpipeBin(t), harness.BrokerBin(t)
	root := harness.RepoRoot(t)
	t.Chdir(root)
	sample := filepath.Join(root, "codecs", "apache", "testdata", "elastic-examples-apache_logs.log")
	if err := run(logpipe, broker, sample, t.TempDir(), 1, 90*time.Second); err != nil {
		t.Fatal(err)
	}
}
