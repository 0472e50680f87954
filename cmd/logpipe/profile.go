package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"time"
)

// hiddenFlagPrefix marks flags that are left out of --help: the profiling flags are for
// developers measuring logpipe (e2e/bench -profile), not for operators.
const hiddenFlagPrefix = "(hidden) "

// profiler writes the CPU and heap profiles asked for by the hidden --cpuprofile and
// --memprofile flags of ship and index.
type profiler struct {
	cpuPath, memPath string
	cpuFile          *os.File

	// With memPath, a sampler keeps the heap profile taken when the live heap was largest
	// (written to memPath + ".peak"), the question "what holds memory" being about the peak.
	stopPeak chan struct{}
	peakDone chan struct{}
	peak     bytes.Buffer
}

// profileFlags registers --cpuprofile FILE and --memprofile FILE on fs.
func profileFlags(fs *flag.FlagSet) *profiler {
	p := &profiler{}
	fs.StringVar(&p.cpuPath, "cpuprofile", "", hiddenFlagPrefix+"write a pprof CPU profile of the run to `FILE`")
	fs.StringVar(&p.memPath, "memprofile", "", hiddenFlagPrefix+"write a pprof heap profile (allocations) at exit to `FILE`")
	return p
}

// start begins CPU profiling and the peak-heap sampler if asked (allocation sites are
// recorded by the runtime at its default rate anyway).
func (p *profiler) start() error {
	if p.memPath != "" {
		p.stopPeak, p.peakDone = make(chan struct{}), make(chan struct{})
		go p.samplePeak()
	}
	if p.cpuPath == "" {
		return nil
	}
	f, err := os.Create(p.cpuPath)
	if err != nil {
		return fmt.Errorf("cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("cpuprofile: %w", err)
	}
	p.cpuFile = f
	return nil
}

// stop ends CPU profiling and writes the heap profile; errors go to the returned error.
func (p *profiler) stop() error {
	var errs []string
	if p.cpuFile != nil {
		pprof.StopCPUProfile()
		if err := p.cpuFile.Close(); err != nil {
			errs = append(errs, "cpuprofile: "+err.Error())
		}
		p.cpuFile = nil
	}
	if p.memPath != "" {
		close(p.stopPeak)
		<-p.peakDone
		if err := os.WriteFile(p.memPath+".peak", p.peak.Bytes(), 0o644); err != nil {
			errs = append(errs, "memprofile: "+err.Error())
		}
		f, err := os.Create(p.memPath)
		if err == nil {
			runtime.GC() // up-to-date live-heap statistics
			err = pprof.Lookup("allocs").WriteTo(f, 0)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			errs = append(errs, "memprofile: "+err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// samplePeak polls the live heap every 20 ms and keeps the heap profile of its largest value.
func (p *profiler) samplePeak() {
	defer close(p.peakDone)
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var max uint64
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stopPeak:
			return
		case <-t.C:
		}
		metrics.Read(sample)
		if v := sample[0].Value; v.Kind() == metrics.KindUint64 && v.Uint64() > max {
			max = v.Uint64()
			p.peak.Reset()
			_ = pprof.Lookup("heap").WriteTo(&p.peak, 0)
		}
	}
}

// printVisibleDefaults is flag.FlagSet.PrintDefaults without the hidden flags.
func printVisibleDefaults(fs *flag.FlagSet) {
	visible := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	visible.SetOutput(fs.Output())
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.HasPrefix(f.Usage, hiddenFlagPrefix) {
			visible.Var(f.Value, f.Name, f.Usage)
		}
	})
	visible.PrintDefaults()
}
