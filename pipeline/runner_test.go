package pipeline

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// The stages below are small in-memory peers of the runner: a sequence input with a real
// Tracker, and outputs that block, acknowledge late, never acknowledge or fail.

// rtConfig is the (empty) typed config of the test stage types.
type rtConfig struct{}

// rtPipeline builds a Runner over the given stage instances, registered as type "test" and
// named by their index.
func rtPipeline(t testing.TB, cfg Config, opts RunnerOptions, ins []Input, fs []Filter, outs []Output) *Runner {
	t.Helper()
	reg := NewRegistry()
	def := func() *rtConfig { return &rtConfig{} }
	pick := func(name string) int { i, _ := strconv.Atoi(name); return i }
	reg.AddInput(Typed("test", def, func(_ *rtConfig, s Stage) (Input, error) { return ins[pick(s.Name)], nil }))
	reg.AddFilter(Typed("test", def, func(_ *rtConfig, s Stage) (Filter, error) { return fs[pick(s.Name)], nil }))
	reg.AddOutput(Typed("test", def, func(_ *rtConfig, s Stage) (Output, error) { return outs[pick(s.Name)], nil }))
	for i := range ins {
		cfg.Inputs = append(cfg.Inputs, StageConfig{Kind: "input", Type: "test", Name: strconv.Itoa(i)})
	}
	for i := range fs {
		cfg.Filters = append(cfg.Filters, StageConfig{Kind: "filter", Type: "test", Name: strconv.Itoa(i)})
	}
	for i := range outs {
		cfg.Outputs = append(cfg.Outputs, StageConfig{Kind: "output", Type: "test", Name: strconv.Itoa(i)})
	}
	if opts.StatsInterval == 0 {
		opts.StatsInterval = -1
	}
	r, err := NewRunner(&cfg, reg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runAsync runs r in a goroutine; the returned channel yields Run's result.
func runAsync(ctx context.Context, r *Runner) <-chan error {
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return done
}

// waitFor polls cond until it holds, failing the test after a generous deadline.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func waitRun(t testing.TB, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

// seqInput emits batches of perBatch events of msgSize bytes each, with positions counted in
// events, through a Tracker. It stops after total batches (returning nil) or when ctx ends.
type seqInput struct {
	total    int // <= 0: until ctx ends
	perBatch int
	msgSize  int
	waitCtx  bool // after total batches, wait for ctx instead of returning

	tracker  *Tracker
	emitted  atomic.Int64 // batches emit accepted
	attempts atomic.Int64 // emit calls started
	acks     sync.Map     // batch index -> *atomic.Int32, onAck calls
	acked    atomic.Int64
	emitFn   atomic.Pointer[Emit]

	closed          atomic.Int32
	closedCommitted atomic.Int64
	closeHadDL      atomic.Bool
	closeTimeLeft   atomic.Int64 // time left before Close's deadline, when Close was called
}

func newSeqInput(total, perBatch, msgSize int) *seqInput {
	return &seqInput{total: total, perBatch: perBatch, msgSize: msgSize, tracker: NewTracker(0)}
}

func (s *seqInput) batch(i int) *Batch {
	events := make([]Event, s.perBatch)
	for j := range events {
		events[j] = Event{Message: make([]byte, s.msgSize), Offset: int64(i*s.perBatch + j), Partition: -1}
	}
	return NewBatch("seq", events, nil)
}

func (s *seqInput) Run(ctx context.Context, emit Emit) error {
	s.emitFn.Store(&emit)
	for i := 0; s.total <= 0 || i < s.total; i++ {
		b := s.batch(i)
		tk := s.tracker.Add(int64((i + 1) * s.perBatch))
		cnt := new(atomic.Int32)
		s.acks.Store(i, cnt)
		b.onAck = func() {
			cnt.Add(1)
			s.acked.Add(1)
			s.tracker.Ack(tk)
		}
		s.attempts.Add(1)
		if err := emit(ctx, b); err != nil {
			return err
		}
		s.emitted.Add(1)
	}
	if s.waitCtx {
		<-ctx.Done()
	}
	return nil
}

func (s *seqInput) Close(ctx context.Context) error {
	s.closed.Add(1)
	s.closedCommitted.Store(s.tracker.Committed())
	dl, ok := ctx.Deadline()
	s.closeHadDL.Store(ok)
	s.closeTimeLeft.Store(int64(time.Until(dl)))
	return ctx.Err()
}

// checkAcks fails unless every emitted batch's onAck ran exactly once (want true) or never.
func (s *seqInput) checkAcks(t *testing.T, upTo int) {
	t.Helper()
	for i := 0; i < upTo; i++ {
		v, ok := s.acks.Load(i)
		if !ok {
			t.Fatalf("batch %d unknown", i)
		}
		if n := v.(*atomic.Int32).Load(); n != 1 {
			t.Fatalf("batch %d: onAck ran %d times, want 1", i, n)
		}
	}
}

// gateOutput's Write blocks until the gate is opened, then acknowledges.
type gateOutput struct {
	gate    chan struct{}
	entered atomic.Int64
	closed  atomic.Int32
}

func (o *gateOutput) Write(ctx context.Context, b *Batch) error {
	o.entered.Add(1)
	select {
	case <-o.gate:
		b.Ack()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (o *gateOutput) Close(context.Context) error { o.closed.Add(1); return nil }

// slowOutput accepts up to cap(inflight) batches and acknowledges each after delay, from
// its own goroutine (started lazily, ended by Close).
type slowOutput struct {
	delay    time.Duration
	inflight chan *Batch
	start    sync.Once
	done     chan struct{}

	mu      sync.Mutex
	written []*Batch
	acked   atomic.Int64
}

func newSlowOutput(delay time.Duration, inflight int) *slowOutput {
	return &slowOutput{delay: delay, inflight: make(chan *Batch, inflight), done: make(chan struct{})}
}

func (o *slowOutput) Write(ctx context.Context, b *Batch) error {
	o.start.Do(func() { go o.acker() })
	o.mu.Lock()
	o.written = append(o.written, b)
	o.mu.Unlock()
	select {
	case o.inflight <- b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (o *slowOutput) acker() {
	defer close(o.done)
	for b := range o.inflight {
		time.Sleep(o.delay) // the peer's latency, not synchronisation
		b.Ack()
		o.acked.Add(1)
	}
}

func (o *slowOutput) Close(ctx context.Context) error {
	o.start.Do(func() { close(o.done) })
	close(o.inflight)
	select {
	case <-o.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (o *slowOutput) writtenEvents() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, b := range o.written {
		n += b.Len()
	}
	return n
}

// holdOutput keeps every batch and acknowledges only when told. Close waits for ctx while
// batches are unacknowledged, like an output waiting for its in-flight requests.
type holdOutput struct {
	mu      sync.Mutex
	held    []*Batch
	writes  atomic.Int64
	closeDL atomic.Bool
}

func (o *holdOutput) Write(_ context.Context, b *Batch) error {
	o.mu.Lock()
	o.held = append(o.held, b)
	o.mu.Unlock()
	o.writes.Add(1)
	return nil
}

func (o *holdOutput) ackAll() {
	o.mu.Lock()
	held := o.held
	o.held = nil
	o.mu.Unlock()
	for _, b := range held {
		b.Ack()
	}
}

func (o *holdOutput) Close(ctx context.Context) error {
	_, ok := ctx.Deadline()
	o.closeDL.Store(ok)
	o.mu.Lock()
	n := len(o.held)
	o.mu.Unlock()
	if n == 0 {
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

// ackOutput acknowledges every batch at once; it counts what it saw.
type ackOutput struct {
	batches atomic.Int64
	events  atomic.Int64
}

func (o *ackOutput) Write(_ context.Context, b *Batch) error {
	o.batches.Add(1)
	o.events.Add(int64(b.Len()))
	b.Ack()
	return nil
}

func (o *ackOutput) Close(context.Context) error { return nil }

// failOutput fails its first Write with err.
type failOutput struct {
	err    error
	closed atomic.Int32
}

func (o *failOutput) Write(context.Context, *Batch) error { return o.err }
func (o *failOutput) Close(context.Context) error         { o.closed.Add(1); return nil }

// startFailOutput fails Start.
type startFailOutput struct{ ackOutput }

func (o *startFailOutput) Start(context.Context) error { return errors.New("peer unreachable") }

// errInput fails after emitting n batches.
type errInput struct {
	n   int
	err error
	seq *seqInput
}

func (e *errInput) Run(ctx context.Context, emit Emit) error {
	for i := 0; i < e.n; i++ {
		if err := emit(ctx, e.seq.batch(i)); err != nil {
			return err
		}
	}
	return e.err
}
func (e *errInput) Close(context.Context) error { return nil }

// dropFilter removes every event; nopFilter leaves batches alone.
type dropFilter struct{}

func (dropFilter) Process(b *Batch) { b.Events = b.Events[:0] }

type nopFilter struct{}

func (nopFilter) Process(*Batch) {}

// TestRunnerBackpressure: with an output whose Write blocks, an input emitting as fast as
// it can stops after exactly the queue bounds plus the in-flight slots: the pipeline queue
// (full), the dispatcher (one batch, waiting for a worker), each filter worker (one batch,
// waiting for the fan-out), the fan-out (one batch, waiting on the output queue), the output
// queue (full) and the blocked Write (one batch). Further emits do not grow memory.
func TestRunnerBackpressure(t *testing.T) {
	const (
		msgSize = 1000
		size    = eventOverhead + msgSize // Bytes of a one-event batch
	)
	cases := []struct {
		name          string
		events, bytes int
		fits          int // batches of one event that fit in one queue
		workers       int
	}{
		{"events", 8, 1 << 30, 8, 1},
		{"bytes", 1 << 20, 5*size + size/2, 5, 1},
		{"events-3-workers", 8, 1 << 30, 8, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			in := newSeqInput(0, 1, msgSize)
			out := &gateOutput{gate: make(chan struct{})}
			r := rtPipeline(t, Config{QueueEvents: tc.events, QueueBytes: tc.bytes, DrainTimeout: 5 * time.Second, Workers: tc.workers},
				RunnerOptions{}, []Input{in}, []Filter{nopFilter{}}, []Output{out})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := runAsync(ctx, r)

			want := int64(2*tc.fits + tc.workers + 3)
			// Wait until everything is blocked: the input inside emit with one more batch,
			// both queues full and the output inside Write.
			waitFor(t, "the pipeline to fill up", func() bool {
				st := r.Stats()
				return in.attempts.Load() == in.emitted.Load()+1 && out.entered.Load() == 1 &&
					r.RunnerStats().Queue.Batches == int64(tc.fits) && st[2].Queue.Batches == int64(tc.fits) &&
					in.emitted.Load() >= want
			})
			if got := in.emitted.Load(); got != want {
				t.Fatalf("input emitted %d batches, want exactly %d (2 queues of %d + %d workers + 3 in flight)", got, want, tc.fits, tc.workers)
			}
			// The batch blocked in emit counts as outstanding until emit returns.
			if got := r.RunnerStats().Outstanding; got != want+1 {
				t.Fatalf("outstanding = %d, want %d", got, want+1)
			}

			// Many more emit attempts (each with a new 1 KB batch) are refused without
			// growing the heap.
			emit := *in.emitFn.Load()
			probe, stop := context.WithCancel(context.Background())
			stop()
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			before := ms.HeapAlloc
			const attempts = 20000 // ~22 MB of batches
			for i := 0; i < attempts; i++ {
				if err := emit(probe, in.batch(i)); !errors.Is(err, context.Canceled) {
					t.Fatalf("emit into a full pipeline with a cancelled ctx = %v, want context.Canceled", err)
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&ms)
			if grown := int64(ms.HeapAlloc) - int64(before); grown > 2<<20 {
				t.Fatalf("heap grew by %d bytes over %d refused emits", grown, attempts)
			}
			if got := in.emitted.Load(); got != want {
				t.Fatalf("after refused emits the input emitted %d batches, want %d", got, want)
			}
			if got := r.RunnerStats().Outstanding; got != want+1 {
				t.Fatalf("refused emits changed outstanding to %d, want %d", got, want+1)
			}

			close(out.gate)
			waitFor(t, "the pipeline to move again", func() bool { return in.acked.Load() > want })
			cancel()
			if err := waitRun(t, done); err != nil {
				t.Fatalf("Run = %v", err)
			}
			if got := in.closedCommitted.Load(); got != in.emitted.Load() {
				t.Fatalf("committed %d at Close, want %d (every emitted batch)", got, in.emitted.Load())
			}
		})
	}
}

// TestRunnerShutdownDrains: cancelling while batches are queued and in flight on a slow
// output writes and acknowledges all of them before the input's Close, which sees the
// final committed position.
func TestRunnerShutdownDrains(t *testing.T) {
	defer goleak.VerifyNone(t)
	in := newSeqInput(0, 10, 50)
	out := newSlowOutput(2*time.Millisecond, 4)
	r := rtPipeline(t, Config{QueueEvents: 50, DrainTimeout: 20 * time.Second},
		RunnerOptions{}, []Input{in}, nil, []Output{out})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := runAsync(ctx, r)

	waitFor(t, "batches in flight", func() bool {
		return in.emitted.Load() >= 20 && in.emitted.Load()-in.acked.Load() >= 8
	})
	cancel()
	if err := waitRun(t, done); err != nil {
		t.Fatalf("Run = %v", err)
	}
	emitted := in.emitted.Load()
	if in.acked.Load() != emitted {
		t.Fatalf("acked %d of %d emitted batches", in.acked.Load(), emitted)
	}
	in.checkAcks(t, int(emitted))
	if got, want := out.writtenEvents(), int(emitted)*10; got != want {
		t.Fatalf("output got %d events, want %d", got, want)
	}
	if in.closed.Load() != 1 {
		t.Fatalf("input closed %d times", in.closed.Load())
	}
	if got, want := in.closedCommitted.Load(), emitted*10; got != want {
		t.Fatalf("input Close saw committed %d, want %d", got, want)
	}
	if !in.closeHadDL.Load() {
		t.Fatal("input Close got no drain deadline")
	}
	if st := r.RunnerStats(); st.Outstanding != 0 || st.AckedBatches != emitted || st.AckedEvents != emitted*10 {
		t.Fatalf("runner stats %+v, want everything acked", st)
	}
}

// TestRunnerDrainDeadline: an output that never acknowledges cannot hold shutdown beyond the
// drain deadline, and its batches are not committed.
func TestRunnerDrainDeadline(t *testing.T) {
	defer goleak.VerifyNone(t)
	core, logs := observer.New(zapcore.InfoLevel)
	in := newSeqInput(0, 1, 10)
	out := &holdOutput{}
	const drain = 300 * time.Millisecond
	r := rtPipeline(t, Config{QueueEvents: 4, DrainTimeout: drain},
		RunnerOptions{Log: zap.New(core)}, []Input{in}, nil, []Output{out})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := runAsync(ctx, r)
	waitFor(t, "writes", func() bool { return out.writes.Load() >= 3 })
	cancel()
	stopped := time.Now()
	if err := waitRun(t, done); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	took := time.Since(stopped)
	if took < drain {
		t.Fatalf("Run returned after %v, before the drain deadline %v although nothing was acked", took, drain)
	}
	if took > drain+3*time.Second {
		t.Fatalf("Run took %v, far beyond the drain deadline %v", took, drain)
	}
	if got := in.closedCommitted.Load(); got != 0 {
		t.Fatalf("committed %d with nothing acknowledged", got)
	}
	if in.acked.Load() != 0 {
		t.Fatalf("%d batches acknowledged", in.acked.Load())
	}
	if !out.closeDL.Load() {
		t.Fatal("output Close got no deadline")
	}
	// The drain deadline has passed, yet the inputs' final commit still gets its grace time.
	if left := time.Duration(in.closeTimeLeft.Load()); left < commitGrace/2 || left > commitGrace {
		t.Fatalf("input Close had %v left for its final commit, want about %v", left, commitGrace)
	}
	entries := logs.FilterMessageSnippet("unacknowledged").All()
	if len(entries) != 1 {
		t.Fatalf("want one log line about unacknowledged batches, got %d", len(entries))
	}
	if got := entries[0].ContextMap()["unacknowledged_batches"]; got != in.emitted.Load() {
		t.Fatalf("logged %v unacknowledged batches, want %d", got, in.emitted.Load())
	}
}

// TestRunnerDrainDeadlineBlockedWrite: a Write stuck on a peer is cancelled at the drain
// deadline; batches queued behind it are dropped unacknowledged and Run returns nil.
func TestRunnerDrainDeadlineBlockedWrite(t *testing.T) {
	defer goleak.VerifyNone(t)
	in := newSeqInput(0, 1, 10)
	out := &gateOutput{gate: make(chan struct{})}
	r := rtPipeline(t, Config{QueueEvents: 4, DrainTimeout: 200 * time.Millisecond},
		RunnerOptions{}, []Input{in}, nil, []Output{out})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := runAsync(ctx, r)
	waitFor(t, "the pipeline to fill up", func() bool { return in.emitted.Load() == 10 && out.entered.Load() == 1 })
	cancel()
	if err := waitRun(t, done); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if in.acked.Load() != 0 || in.closedCommitted.Load() != 0 || out.closed.Load() != 1 {
		t.Fatalf("acked %d, committed %d, output closed %d", in.acked.Load(), in.closedCommitted.Load(), out.closed.Load())
	}
	if out.entered.Load() != 1 {
		t.Fatalf("Write called %d times after the deadline cancelled the first", out.entered.Load())
	}
	if st := r.Stats()[1]; st.Errors != 1 {
		t.Fatalf("output stats %+v, want the cancelled Write counted as an error", st)
	}
}

// TestRunnerOnce: inputs that finish make Run return nil only after every batch was
// acknowledged, and the inputs' Close sees the final positions.
func TestRunnerOnce(t *testing.T) {
	defer goleak.VerifyNone(t)
	a, b := newSeqInput(40, 5, 20), newSeqInput(25, 3, 20)
	out := newSlowOutput(time.Millisecond, 8)
	r := rtPipeline(t, Config{QueueEvents: 16}, RunnerOptions{Once: true},
		[]Input{a, b}, []Filter{nopFilter{}}, []Output{out})
	if err := r.Run(context.Background()); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if a.acked.Load() != 40 || b.acked.Load() != 25 {
		t.Fatalf("Run returned with %d/40 and %d/25 batches acknowledged", a.acked.Load(), b.acked.Load())
	}
	a.checkAcks(t, 40)
	b.checkAcks(t, 25)
	if a.closedCommitted.Load() != 200 || b.closedCommitted.Load() != 75 {
		t.Fatalf("Close saw committed %d and %d, want 200 and 75", a.closedCommitted.Load(), b.closedCommitted.Load())
	}
	st := r.Stats()
	if len(st) != 4 || st[0].ID != "input.test.0" || st[2].ID != "filter.test.0" || st[3].ID != "output.test.0" {
		t.Fatalf("stats stages: %+v", st)
	}
	if st[0].EventsOut != 200 || st[1].EventsOut != 75 || st[2].EventsIn != 275 || st[2].EventsOut != 275 ||
		st[3].EventsIn != 275 || st[3].EventsOut != 275 || st[3].BatchesOut != 65 {
		t.Fatalf("stats: %+v", st)
	}
	if rs := r.RunnerStats(); rs.AckedBatches != 65 || rs.AckedEvents != 275 || rs.Outstanding != 0 {
		t.Fatalf("runner stats: %+v", rs)
	}
}

// TestRunnerOnceAbortable: waiting for acknowledgements in Once mode still ends on ctx,
// within the drain deadline.
func TestRunnerOnceAbortable(t *testing.T) {
	defer goleak.VerifyNone(t)
	in := newSeqInput(3, 1, 10)
	out := &holdOutput{}
	r := rtPipeline(t, Config{DrainTimeout: 100 * time.Millisecond}, RunnerOptions{Once: true},
		[]Input{in}, nil, []Output{out})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := runAsync(ctx, r)
	waitFor(t, "writes", func() bool { return out.writes.Load() == 3 })
	select {
	case err := <-done:
		t.Fatalf("Run returned %v before the batches were acknowledged", err)
	default:
	}
	cancel()
	if err := waitRun(t, done); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if in.closedCommitted.Load() != 0 {
		t.Fatalf("committed %d without acknowledgements", in.closedCommitted.Load())
	}
}

// TestRunnerFanOut: with two outputs, a batch's onAck runs once, only after both acked.
func TestRunnerFanOut(t *testing.T) {
	defer goleak.VerifyNone(t)
	in := newSeqInput(20, 2, 10)
	fast, slow := &ackOutput{}, &holdOutput{}
	r := rtPipeline(t, Config{}, RunnerOptions{Once: true}, []Input{in}, nil, []Output{fast, slow})
	done := runAsync(context.Background(), r)
	waitFor(t, "both outputs to receive every batch", func() bool {
		return fast.batches.Load() == 20 && slow.writes.Load() == 20
	})
	if n := in.acked.Load(); n != 0 {
		t.Fatalf("%d batches acknowledged while the second output holds them", n)
	}
	if got := in.tracker.Committed(); got != 0 {
		t.Fatalf("committed %d before the second output acked", got)
	}
	slow.ackAll()
	if err := waitRun(t, done); err != nil {
		t.Fatalf("Run = %v", err)
	}
	in.checkAcks(t, 20)
	if in.closedCommitted.Load() != 40 {
		t.Fatalf("committed %d, want 40", in.closedCommitted.Load())
	}
}

// TestRunnerEmptyBatchAcked: a batch emptied by a filter is acknowledged by the runner
// and never reaches the outputs.
func TestRunnerEmptyBatchAcked(t *testing.T) {
	defer goleak.VerifyNone(t)
	in := newSeqInput(10, 4, 10)
	out := &ackOutput{}
	r := rtPipeline(t, Config{}, RunnerOptions{Once: true}, []Input{in}, []Filter{nopFilter{}, dropFilter{}}, []Output{out})
	if err := r.Run(context.Background()); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if out.batches.Load() != 0 {
		t.Fatalf("output got %d empty batches", out.batches.Load())
	}
	in.checkAcks(t, 10)
	if in.closedCommitted.Load() != 40 {
		t.Fatalf("committed %d, want 40", in.closedCommitted.Load())
	}
	if st := r.Stats(); st[2].EventsIn != 40 || st[2].EventsOut != 0 {
		t.Fatalf("drop filter stats %+v", st[2])
	}
}

// TestRunnerStageErrors: a failing input or output stops the whole pipeline, returning the
// error with the stage id; other stages are drained and closed.
func TestRunnerStageErrors(t *testing.T) {
	boom := errors.New("boom")
	t.Run("input", func(t *testing.T) {
		defer goleak.VerifyNone(t)
		other := newSeqInput(0, 1, 10)
		other.waitCtx = true
		bad := &errInput{n: 3, err: Permanent(boom), seq: newSeqInput(0, 1, 10)}
		out := &ackOutput{}
		r := rtPipeline(t, Config{}, RunnerOptions{}, []Input{other, bad}, nil, []Output{out})
		err := waitRun(t, runAsync(context.Background(), r))
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), "input.test.1") {
			t.Fatalf("Run = %v, want boom from input.test.1", err)
		}
		if other.closed.Load() != 1 || other.closedCommitted.Load() != other.emitted.Load() {
			t.Fatalf("other input: closed %d, committed %d of %d", other.closed.Load(), other.closedCommitted.Load(), other.emitted.Load())
		}
	})
	t.Run("output", func(t *testing.T) {
		defer goleak.VerifyNone(t)
		in := newSeqInput(0, 1, 10)
		bad := &failOutput{err: boom}
		good := &ackOutput{}
		r := rtPipeline(t, Config{DrainTimeout: 10 * time.Second}, RunnerOptions{}, []Input{in}, nil, []Output{good, bad})
		start := time.Now()
		err := waitRun(t, runAsync(context.Background(), r))
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), "output.test.1") {
			t.Fatalf("Run = %v, want boom from output.test.1", err)
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("a failed output made Run wait for the drain deadline")
		}
		if bad.closed.Load() != 1 || in.closed.Load() != 1 {
			t.Fatal("stages not closed")
		}
		if in.closedCommitted.Load() != 0 {
			t.Fatalf("committed %d although the failed output acked nothing", in.closedCommitted.Load())
		}
	})
	t.Run("start", func(t *testing.T) {
		defer goleak.VerifyNone(t)
		in := newSeqInput(0, 1, 10)
		r := rtPipeline(t, Config{}, RunnerOptions{}, []Input{in}, nil, []Output{&ackOutput{}, &startFailOutput{}})
		err := r.Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), "output.test.1") || !strings.Contains(err.Error(), "peer unreachable") {
			t.Fatalf("Run = %v", err)
		}
		if in.attempts.Load() != 0 {
			t.Fatal("input ran although an output failed to start")
		}
		if in.closed.Load() != 1 {
			t.Fatal("input not closed after the failed start")
		}
	})
}

func TestNewRunnerErrors(t *testing.T) {
	reg := NewRegistry()
	reg.AddInput(Typed("test", func() *rtConfig { return &rtConfig{} },
		func(*rtConfig, Stage) (Input, error) { return newSeqInput(1, 1, 1), nil }))
	reg.AddOutput(Typed("bad", func() *rtConfig { return &rtConfig{} },
		func(*rtConfig, Stage) (Output, error) { return nil, errors.New("no such host") }))
	in := []StageConfig{{Type: "test", Name: "a"}}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no input", Config{Outputs: []StageConfig{{Type: "bad", Name: "x"}}}, "no input"},
		{"no output", Config{Inputs: in}, "no output"},
		{"unknown type", Config{Inputs: in, Outputs: []StageConfig{{Type: "nope", Name: "x"}}}, `output.nope.x: unknown output type "nope"`},
		{"build error", Config{Inputs: in, Outputs: []StageConfig{{Type: "bad", Name: "x"}}}, "output.bad.x: no such host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewRunner(&tc.cfg, reg, RunnerOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewRunner = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestRunnerStageLogger: stages get a logger tagged with their id.
func TestRunnerStageLogger(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	reg := NewRegistry()
	reg.AddInput(Typed("test", func() *rtConfig { return &rtConfig{} }, func(_ *rtConfig, s Stage) (Input, error) {
		s.Log.Info("built", zap.String("kind", s.Kind), zap.Bool("once", s.Once), zap.String("data_dir", s.DataDir))
		return newSeqInput(1, 1, 1), nil
	}))
	reg.AddOutput(Typed("test", func() *rtConfig { return &rtConfig{} }, func(*rtConfig, Stage) (Output, error) { return &ackOutput{}, nil }))
	cfg := &Config{DataDir: "/tmp/x", Inputs: []StageConfig{{Type: "test", Name: "a"}}, Outputs: []StageConfig{{Type: "test", Name: "b"}}}
	if _, err := NewRunner(cfg, reg, RunnerOptions{Log: zap.New(core), Once: true}); err != nil {
		t.Fatal(err)
	}
	e := logs.FilterMessage("built").All()
	if len(e) != 1 {
		t.Fatalf("got %d log entries", len(e))
	}
	m := e[0].ContextMap()
	if m["stage"] != "input.test.a" || m["kind"] != "input" || m["once"] != true || m["data_dir"] != "/tmp/x" {
		t.Fatalf("stage log fields: %v", m)
	}
}

// TestStatsLogLine: the periodic line holds per-stage deltas and rates and skips what did
// not move.
func TestStatsLogLine(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	l := &statsLogger{log: zap.New(core), lastTime: time.Unix(0, 0)}
	st := []StageStats{
		{ID: "input.file.a", Kind: "input", EventsOut: 100, Bytes: 5000, BatchesOut: 2},
		{ID: "output.es.b", Kind: "output", EventsIn: 100, EventsOut: 100, BatchesIn: 2, BatchesOut: 2, EventsAcked: 80, BatchesAcked: 1},
	}
	l.logPeriod(time.Unix(10, 0), st, RunnerStats{AckedBatches: 2, AckedEvents: 100})
	st2 := []StageStats{st[0], {ID: "output.es.b", Kind: "output", EventsIn: 150, EventsOut: 150, BatchesIn: 3, BatchesOut: 3, EventsAcked: 130, BatchesAcked: 2}}
	st2[0].EventsOut = 130
	l.logPeriod(time.Unix(20, 0), st2, RunnerStats{AckedBatches: 2, AckedEvents: 100, Outstanding: 1})
	l.logPeriod(time.Unix(30, 0), st2, RunnerStats{AckedBatches: 2, AckedEvents: 100})

	all := logs.All()
	if len(all) != 2 {
		t.Fatalf("got %d lines, want 2 (nothing moved in the third period)", len(all))
	}
	m := all[1].ContextMap()
	in := m["input.file.a"].(map[string]any)
	if in["events_out"] != int64(30) || in["events_per_s"] != 3.0 || in["bytes"] != nil {
		t.Fatalf("input fields: %v", in)
	}
	out := m["output.es.b"].(map[string]any)
	// Outputs report what was acknowledged (and its rate), not what was handed to Write.
	if out["events_in"] != int64(50) || out["events_acked"] != int64(50) || out["batches_acked"] != int64(1) ||
		out["events_out"] != nil || out["events_per_s"] != 5.0 {
		t.Fatalf("output fields: %v", out)
	}
	p := m["pipeline"].(map[string]any)
	if p["outstanding_batches"] != int64(1) || p["acked_batches"] != nil {
		t.Fatalf("pipeline fields: %v", p)
	}
	if first := all[0].ContextMap()["input.file.a"].(map[string]any); first["events_per_s"] != 10.0 || first["bytes"] != int64(5000) {
		t.Fatalf("first period input fields: %v", first)
	}
}

// BenchmarkRunnerThroughput measures events/s through a no-op filter to an output that
// acknowledges at once, with batches of 512 events of 200 bytes.
func BenchmarkRunnerThroughput(b *testing.B) {
	const perBatch = 512
	in := &benchInput{perBatch: perBatch}
	in.events = make([]Event, perBatch)
	for i := range in.events {
		in.events[i] = Event{Message: make([]byte, 200)}
	}
	out := &ackOutput{}
	r := rtPipeline(b, Config{}, RunnerOptions{Once: true}, []Input{in}, []Filter{nopFilter{}}, []Output{out})
	in.batches = b.N
	b.ReportAllocs()
	b.ResetTimer()
	if err := r.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if out.events.Load() != int64(b.N)*perBatch {
		b.Fatalf("output got %d events", out.events.Load())
	}
	b.ReportMetric(float64(b.N)*perBatch/b.Elapsed().Seconds(), "events/s")
}

// benchInput emits the same events over and over, tracked like a real input.
type benchInput struct {
	perBatch, batches int
	events            []Event
}

func (s *benchInput) Run(ctx context.Context, emit Emit) error {
	tr := NewTracker(0)
	for i := 0; i < s.batches; i++ {
		tk := tr.Add(int64((i + 1) * s.perBatch))
		if err := emit(ctx, NewBatch("bench", s.events, func() { tr.Ack(tk) })); err != nil {
			return err
		}
	}
	return nil
}

func (s *benchInput) Close(context.Context) error { return nil }
