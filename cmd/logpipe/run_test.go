package main

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/logpipe/logpipe/pipeline"
)

// A small real pipeline for the signal handling: an input that emits one batch and then
// waits (or, with Once, returns), and an output that acknowledges or holds its batches.

type sigInputConfig struct {
	Fail bool `hcl:"fail,optional"`
}

type sigInput struct {
	cfg   *sigInputConfig
	once  bool
	acked *atomic.Int32
}

func (in *sigInput) Run(ctx context.Context, emit pipeline.Emit) error {
	if in.cfg.Fail {
		return errors.New("input broke")
	}
	b := pipeline.NewBatch("test", []pipeline.Event{{Message: []byte("x")}}, func() { in.acked.Add(1) })
	if err := emit(ctx, b); err != nil {
		return nil
	}
	if !in.once {
		<-ctx.Done()
	}
	return nil
}

func (in *sigInput) Close(context.Context) error { return nil }

type sigOutputConfig struct {
	Hold bool `hcl:"hold,optional"`
}

type sigOutput struct{ hold bool }

func (o *sigOutput) Write(ctx context.Context, b *pipeline.Batch) error {
	if o.hold {
		<-ctx.Done() // never durable: only the drain deadline ends this
		return ctx.Err()
	}
	b.Ack()
	return nil
}

func (o *sigOutput) Close(context.Context) error { return nil }

func sigPipeline(t *testing.T, src string, once bool) (*pipeline.Runner, *atomic.Int32) {
	t.Helper()
	acked := new(atomic.Int32)
	reg := pipeline.NewRegistry()
	reg.AddInput(pipeline.Typed[pipeline.Input]("sig", func() *sigInputConfig { return &sigInputConfig{} },
		func(c *sigInputConfig, s pipeline.Stage) (pipeline.Input, error) {
			return &sigInput{cfg: c, once: s.Once, acked: acked}, nil
		}))
	reg.AddOutput(pipeline.Typed[pipeline.Output]("sig", func() *sigOutputConfig { return &sigOutputConfig{} },
		func(c *sigOutputConfig, s pipeline.Stage) (pipeline.Output, error) {
			return &sigOutput{hold: c.Hold}, nil
		}))
	cfg, diags := pipeline.Load("sig.hcl", []byte(src), reg, nil)
	if diags.HasErrors() {
		t.Fatal(pipeline.FormatDiagnostics(diags))
	}
	r, err := pipeline.NewRunner(cfg, reg, pipeline.RunnerOptions{Once: once, Log: zap.NewNop(), StatsInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	return r, acked
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runUntilSignalled runs r with the process's supervisor until it returns or a signal
// arrives, without reloading (no configuration file).
func runUntilSignalled(r *pipeline.Runner, sigs <-chan os.Signal, log *zap.Logger) int {
	live := &liveRunner{}
	live.set(r)
	return (&supervisor{log: log, live: live}).run(r, sigs)
}

func runAsync(r *pipeline.Runner, sigs chan os.Signal) chan int {
	code := make(chan int, 1)
	go func() { code <- runUntilSignalled(r, sigs, zap.NewNop()) }()
	return code
}

func TestSignalDrainsAndExitsZero(t *testing.T) {
	r, acked := sigPipeline(t, `input "sig" "in" {}
output "sig" "out" {}`, false)
	sigs := make(chan os.Signal, 2)
	code := runAsync(r, sigs)
	waitFor(t, "the batch to be acknowledged", func() bool { return acked.Load() == 1 })
	sigs <- syscall.SIGTERM
	if c := <-code; c != exitOK {
		t.Fatalf("exit %d after SIGTERM, want 0", c)
	}
}

func TestSecondSignalExitsAtOnce(t *testing.T) {
	for sig, want := range map[syscall.Signal]int{syscall.SIGINT: 130, syscall.SIGTERM: 143} {
		// The output holds its batch, so the drain would last the whole drain_timeout (an
		// hour): only the second signal can end the run within the test.
		r, acked := sigPipeline(t, `drain_timeout = "1h"
input "sig" "in" {}
output "sig" "out" { hold = true }`, false)
		sigs := make(chan os.Signal, 2)
		code := runAsync(r, sigs)
		// Before the batch is in the pipeline, a signal would find nothing to drain.
		waitFor(t, "the batch to be emitted", func() bool { return r.RunnerStats().Outstanding == 1 })
		sigs <- sig
		sigs <- sig
		select {
		case c := <-code:
			if c != want {
				t.Errorf("second %v: exit %d, want %d", sig, c, want)
			}
		case <-time.After(time.Minute):
			t.Fatalf("second %v did not end the run", sig)
		}
		if acked.Load() != 0 {
			t.Errorf("the held batch was acknowledged")
		}
	}
}

func TestOnceExitsZero(t *testing.T) {
	r, acked := sigPipeline(t, `input "sig" "in" {}
output "sig" "out" {}`, true)
	code := runAsync(r, make(chan os.Signal))
	if c := <-code; c != exitOK || acked.Load() != 1 {
		t.Fatalf("--once: exit %d, %d batches acked", c, acked.Load())
	}
}

func TestRuntimeFailureExitsOne(t *testing.T) {
	r, _ := sigPipeline(t, `input "sig" "in" { fail = true }
output "sig" "out" {}`, false)
	if c := <-runAsync(r, make(chan os.Signal)); c != exitFailure {
		t.Fatalf("exit %d, want 1", c)
	}
}
