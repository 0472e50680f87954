package pipeline

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// costFilter marks each event it sees with its instance number and spends a cost that
// depends on the batch, so that batches overtake each other on the workers. It fails the
// test if two goroutines ever use one instance at once.
type costFilter struct {
	t    *testing.T
	id   int
	busy atomic.Bool
}

func (f *costFilter) Process(b *Batch) {
	if !f.busy.CompareAndSwap(false, true) {
		f.t.Errorf("filter instance %d used by two goroutines at once", f.id)
		return
	}
	defer f.busy.Store(false)
	// Batches whose first offset is even cost a lot more than odd ones.
	spins := 10
	if len(b.Events) > 0 && b.Events[0].Offset%2 == 0 {
		spins = 2000
	}
	for range spins {
		runtime.Gosched()
	}
	for i := range b.Events {
		b.Events[i].Message = append(b.Events[i].Message[:0], byte('a'+f.id))
	}
}

// orderOutput records the first offset of every batch it is given, in order.
type orderOutput struct {
	mu     sync.Mutex
	firsts []int64
	used   map[byte]bool // filter instances that touched the events
}

func (o *orderOutput) Write(_ context.Context, b *Batch) error {
	o.mu.Lock()
	o.firsts = append(o.firsts, b.Events[0].Offset)
	for _, e := range b.Events {
		o.used[e.Message[0]] = true
	}
	o.mu.Unlock()
	b.Ack()
	return nil
}

func (o *orderOutput) Close(context.Context) error { return nil }

// TestRunnerWorkersKeepOrder: with four filter workers and batches of uneven cost, every
// worker has its own filter instance (never shared between goroutines), the work is spread
// over all of them, and the output receives the batches exactly in the order they were
// emitted.
func TestRunnerWorkersKeepOrder(t *testing.T) {
	defer goleak.VerifyNone(t)
	const workers, batches = 4, 400
	in := newSeqInput(batches, 3, 1)
	out := &orderOutput{used: map[byte]bool{}}
	reg := NewRegistry()
	def := func() *rtConfig { return &rtConfig{} }
	reg.AddInput(Typed("test", def, func(*rtConfig, Stage) (Input, error) { return in, nil }))
	var built atomic.Int32
	reg.AddFilter(Typed("cost", def, func(*rtConfig, Stage) (Filter, error) {
		return &costFilter{t: t, id: int(built.Add(1)) - 1}, nil
	}))
	reg.AddOutput(Typed("test", def, func(*rtConfig, Stage) (Output, error) { return out, nil }))
	cfg := &Config{Workers: workers, DrainTimeout: 5 * time.Second,
		Inputs:  []StageConfig{{Kind: "input", Type: "test", Name: "in"}},
		Filters: []StageConfig{{Kind: "filter", Type: "cost", Name: "f"}},
		Outputs: []StageConfig{{Kind: "output", Type: "test", Name: "out"}},
	}
	r, err := NewRunner(cfg, reg, RunnerOptions{Once: true, StatsInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if got := built.Load(); got != workers {
		t.Fatalf("filter built %d times, want one instance per worker (%d)", got, workers)
	}
	if err := waitRun(t, runAsync(context.Background(), r)); err != nil {
		t.Fatal(err)
	}
	if len(out.firsts) != batches {
		t.Fatalf("output got %d batches, want %d", len(out.firsts), batches)
	}
	for i, first := range out.firsts {
		if want := int64(i * 3); first != want {
			t.Fatalf("batch %d starts at offset %d, want %d: the output saw the batches out of order", i, first, want)
		}
	}
	if len(out.used) != workers {
		t.Errorf("events were filtered by %d instances, want all %d", len(out.used), workers)
	}
	in.checkAcks(t, batches)
}
