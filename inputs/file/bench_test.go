package file

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/logpipe/logpipe/pipeline"
)

const apacheLog = "../../../shared/testdata/apache/elastic-examples-apache_logs.log"

// BenchmarkReadLines reads a file of real access lines (the 10,000-line sample repeated
// 10 times, ~23 MB) in Once mode into batches that are acknowledged at once. One op is one
// whole file; lines/s and allocs/line are reported.
func BenchmarkReadLines(b *testing.B) {
	sample, err := os.ReadFile(apacheLog)
	if err != nil {
		b.Skipf("sample data: %v", err)
	}
	dir := b.TempDir()
	p := filepath.Join(dir, "access_log")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	lines := 0
	for range 10 {
		f.Write(sample)
		for _, c := range sample {
			if c == '\n' {
				lines++
			}
		}
	}
	f.Close()
	c := NewConfig()
	c.Paths = []string{p}
	var got int
	emit := func(ctx context.Context, bt *pipeline.Batch) error {
		got += bt.Len()
		bt.Ack()
		return nil
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(sample) * 10))
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		stage, _ := testStage(b.TempDir(), true)
		in, err := New(c, stage)
		if err != nil {
			b.Fatal(err)
		}
		got = 0
		b.StartTimer()
		if err := in.Run(context.Background(), emit); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		in.Close(context.Background())
		if got != lines {
			b.Fatalf("read %d lines, want %d", got, lines)
		}
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkScan1000 measures one discovery scan (glob, lstat, checks) over 1,000 open,
// unchanged files: the steady-state cost paid every poll_interval.
func BenchmarkScan1000(b *testing.B) {
	dir := b.TempDir()
	for i := range 1000 {
		if err := os.WriteFile(filepath.Join(dir, "f"+strconv.Itoa(i)+".log"), []byte("line "+strconv.Itoa(i)+"\n"), 0o644); err != nil { // distinct streams
			b.Fatal(err)
		}
	}
	c := NewConfig()
	c.Paths = []string{filepath.Join(dir, "*.log")}
	stage, _ := testStage(b.TempDir(), false)
	in, err := New(c, stage)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close(context.Background())
	in.lockedScan(time.Now())
	if len(in.open) != 1000 {
		b.Fatalf("%d open", len(in.open))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		in.lockedScan(time.Now())
	}
}
