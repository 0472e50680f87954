package file

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metricValues gathers g and returns the value of every series of the file input's
// metrics, keyed by name and, for the per-file ones, the path label. Every series must
// carry the stage label.
func metricValues(t *testing.T, g prometheus.Gatherer, stage string) map[string]float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			var gotStage string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "path":
					key += "{" + filepath.Base(l.GetValue()) + "}"
				case "stage":
					gotStage = l.GetValue()
				}
			}
			if gotStage != stage {
				t.Errorf("%s: stage label %q, want %q", key, gotStage, stage)
			}
			out[key] = m.GetGauge().GetValue()
		}
	}
	return out
}

func wantMetrics(t *testing.T, got map[string]float64, want map[string]float64) {
	t.Helper()
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v; all: %v", k, g, ok, v, got)
		}
	}
}

// TestMetricsOffsetsAndLag drives the input step by step (scan, read, acknowledge) and
// checks the registry offset, read offset, size and lag the stage's registry exposes.
func TestMetricsOffsetsAndLag(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	p := filepath.Join(dir, "access.log")
	writeFile(t, p, "one\ntwo\nthr") // 11 bytes, the last line without its newline
	reg := prometheus.NewRegistry()
	stage, _ := testStage(data, false)
	stage.Metrics = prometheus.WrapRegistererWith(prometheus.Labels{"stage": stage.ID()}, reg)
	in, err := New(testConfig(filepath.Join(dir, "*.log")), stage)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(context.Background())
	in.buf = make([]byte, readBufSize)
	wantMetrics(t, metricValues(t, reg, stage.ID()), map[string]float64{"logpipe_file_files": 0})

	// Found, not read yet: every byte is lag.
	in.lockedScan(time.Now())
	wantMetrics(t, metricValues(t, reg, stage.ID()), map[string]float64{
		"logpipe_file_files":                              1,
		"logpipe_file_size_bytes{access.log}":             11,
		"logpipe_file_read_offset_bytes{access.log}":      0,
		"logpipe_file_lag_bytes{access.log}":              11,
		"logpipe_file_committed_offset_bytes{access.log}": 0,
	})

	// Read (the partial line is consumed too), not acknowledged: no lag, nothing committed.
	s := &sink{noAck: true}
	if _, err := in.readRound(context.Background(), s.emit); err != nil {
		t.Fatal(err)
	}
	wantMetrics(t, metricValues(t, reg, stage.ID()), map[string]float64{
		"logpipe_file_read_offset_bytes{access.log}":      11,
		"logpipe_file_lag_bytes{access.log}":              0,
		"logpipe_file_committed_offset_bytes{access.log}": 0,
	})

	// Acknowledged: committed up to the end of the last complete line.
	for _, b := range s.batches {
		b.Ack()
	}
	wantMetrics(t, metricValues(t, reg, stage.ID()), map[string]float64{
		"logpipe_file_committed_offset_bytes{access.log}": 8,
	})

	// Growth seen by a scan is lag until read.
	appendFile(t, p, "ee\nfour\n")
	in.lockedScan(time.Now())
	wantMetrics(t, metricValues(t, reg, stage.ID()), map[string]float64{
		"logpipe_file_size_bytes{access.log}":        19,
		"logpipe_file_read_offset_bytes{access.log}": 11,
		"logpipe_file_lag_bytes{access.log}":         8,
	})
}

// TestMetricsWhileRunning scrapes a running input through the registerer a Runner gives
// (the stage label added by the wrapper) while files are read and acknowledged, under
// -race, and checks that a registry loaded at start is exported before any scan.
func TestMetricsWhileRunning(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	writeFile(t, a, "alpha\n")
	writeFile(t, b, "beta\nbeta\n")
	reg := prometheus.NewRegistry()
	stage, _ := testStage(data, false)
	stage.Metrics = prometheus.WrapRegistererWith(prometheus.Labels{"stage": stage.ID()}, reg)
	in, err := New(testConfig(filepath.Join(dir, "*.log")), stage)
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	h := run(t, in, s.emit)
	waitFor(t, "committed offsets", func() bool {
		v := metricValues(t, reg, stage.ID())
		return v["logpipe_file_committed_offset_bytes{a.log}"] == 6 && v["logpipe_file_committed_offset_bytes{b.log}"] == 10
	})
	wantMetrics(t, metricValues(t, reg, stage.ID()), map[string]float64{
		"logpipe_file_files":                    2,
		"logpipe_file_lag_bytes{a.log}":         0,
		"logpipe_file_lag_bytes{b.log}":         0,
		"logpipe_file_size_bytes{b.log}":        10,
		"logpipe_file_read_offset_bytes{b.log}": 10,
	})
	h.stop()

	// A new input loading that registry exports its offsets at once.
	reg2 := prometheus.NewRegistry()
	stage.Metrics = prometheus.WrapRegistererWith(prometheus.Labels{"stage": stage.ID()}, reg2)
	in2, err := New(testConfig(filepath.Join(dir, "*.log")), stage)
	if err != nil {
		t.Fatal(err)
	}
	defer in2.Close(context.Background())
	wantMetrics(t, metricValues(t, reg2, stage.ID()), map[string]float64{
		"logpipe_file_files":                         2,
		"logpipe_file_committed_offset_bytes{a.log}": 6,
		"logpipe_file_read_offset_bytes{b.log}":      10,
	})
}

// TestMetricsRegisteredOnce: a second input registering on the same registerer (same
// stage id) is refused with an error, not a panic.
func TestMetricsRegisteredOnce(t *testing.T) {
	data := t.TempDir()
	reg := prometheus.NewRegistry()
	stage, _ := testStage(data, false)
	stage.Metrics = reg
	c := testConfig(filepath.Join(t.TempDir(), "*.log"))
	in, err := New(c, stage)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(context.Background())
	if _, err := New(testConfig(filepath.Join(t.TempDir(), "*.log")), stage); err == nil {
		t.Fatal("second New on the same registerer: no error")
	}
}
