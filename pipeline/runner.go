package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// DefaultStatsInterval is how often the runner logs its "Non-zero metrics" line.
const DefaultStatsInterval = 30 * time.Second

// RunnerOptions are the process-level settings of a Runner.
type RunnerOptions struct {
	// Once makes inputs stop at the end of their source; Run then returns nil once every
	// batch read was acknowledged by every output.
	Once bool
	// Agent is handed to every stage (Stage.Agent).
	Agent Agent
	// Log is the process logger; each stage gets a child tagged with its id. nil discards.
	Log *zap.Logger
	// StatsInterval is the period of the stats log line; 0 means DefaultStatsInterval and a
	// negative value disables the line.
	StatsInterval time.Duration
}

// Runner runs one pipeline: inputs -> pipeline queue -> filters (in file order, on
// Config.Workers goroutines, batches handed on in queue order) -> one bounded queue and one
// worker per output (fan-out).
//
// Every queue is bounded by Config.QueueEvents and Config.QueueBytes, so a slow output
// stalls the filter workers, which stalls the inputs' Emit: the backlog stays at the
// source. Each batch an input emits is counted as outstanding until its final
// acknowledgement (every output acked it); the runner wraps the batch's onAck for that, after
// the input's own callback, so an input's Tracker is up to date when the count drops.
//
// Create a Runner with NewRunner and call Run once.
type Runner struct {
	log           *zap.Logger
	once          bool
	drainTimeout  time.Duration
	statsInterval time.Duration
	workers       int // filter workers (Config.Workers, or GOMAXPROCS)

	inputs  []*runInput
	filters []*runFilter
	outputs []*runOutput
	queue   *Queue // between the inputs and the filter chain

	outstanding  atomic.Int64
	ackedBatches atomic.Int64
	ackedEvents  atomic.Int64
	zero         chan struct{} // poked (capacity 1) whenever outstanding drops to zero

	started      atomic.Bool
	running      atomic.Bool          // outputs started and not stopping (see Ready)
	metrics      *prometheus.Registry // stage-specific metrics (Stage.Metrics)
	cancelInputs context.CancelFunc
	errMu        sync.Mutex
	err          error         // first fatal error
	failed       chan struct{} // closed on the first fatal error
	outputFailed atomic.Bool
}

type runInput struct {
	id     string
	in     Input
	c      *stageCounters
	fields *InputFields  // the input's fields and tags, or nil
	merge  DocFieldsFunc // merges them into document events
}

// runFilter is one filter stage: one instance per worker (f[w] runs on worker w only) and
// one set of counters shared by them.
type runFilter struct {
	id string
	f  []Filter
	c  *stageCounters
}

type runOutput struct {
	id  string
	out Output
	q   *Queue
	c   *stageCounters
}

// NewRunner builds every stage of cfg with the types registered in reg, in the order
// inputs, filters, outputs. A StageConfig whose Config is nil gets its type's defaults
// (NewConfig, then Validate). If a stage fails to build, the stages built so far are closed
// and the error names the stage.
func NewRunner(cfg *Config, reg *Registry, opts RunnerOptions) (*Runner, error) {
	if cfg == nil || reg == nil {
		return nil, errors.New("pipeline: NewRunner needs a config and a registry")
	}
	if len(cfg.Inputs) == 0 {
		return nil, errors.New("pipeline: no input configured")
	}
	if len(cfg.Outputs) == 0 {
		return nil, errors.New("pipeline: no output configured")
	}
	log := opts.Log
	if log == nil {
		log = zap.NewNop()
	}
	r := &Runner{
		log:           log,
		once:          opts.Once,
		drainTimeout:  cfg.DrainTimeout,
		statsInterval: opts.StatsInterval,
		workers:       cfg.Workers,
		queue:         NewQueue(cfg.QueueEvents, cfg.QueueBytes),
		zero:          make(chan struct{}, 1),
		failed:        make(chan struct{}),
		metrics:       prometheus.NewPedanticRegistry(),
	}
	if r.drainTimeout <= 0 {
		r.drainTimeout = DefaultDrainTimeout
	}
	if r.statsInterval == 0 {
		r.statsInterval = DefaultStatsInterval
	}
	if r.workers <= 0 {
		r.workers = runtime.GOMAXPROCS(0)
	}
	buffers := new(Buffers)
	stage := func(kind string, sc StageConfig) Stage {
		s := Stage{Kind: kind, Type: sc.Type, Name: sc.Name, DataDir: cfg.DataDir,
			Agent: opts.Agent, Once: opts.Once, Codecs: reg, Buffers: buffers}
		s.Log = log.With(zap.String("stage", s.ID()))
		s.Metrics = prometheus.WrapRegistererWith(prometheus.Labels{"stage": s.ID()}, r.metrics)
		return s
	}
	fail := func(id string, err error) (*Runner, error) {
		ctx, cancel := context.WithTimeout(context.Background(), r.drainTimeout)
		defer cancel()
		r.closeOutputs(ctx)
		r.closeInputs(ctx)
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	for _, sc := range cfg.Inputs {
		s := stage("input", sc)
		t, ok := reg.Input(sc.Type)
		if !ok {
			return fail(s.ID(), fmt.Errorf("unknown input type %q", sc.Type))
		}
		c, err := stageConfig(sc, t.NewConfig)
		if err != nil {
			return fail(s.ID(), err)
		}
		in, err := t.Build(c, s)
		if err != nil {
			return fail(s.ID(), err)
		}
		if sc.Fields != nil && reg.docFields == nil {
			in.Close(context.Background())
			return fail(s.ID(), errors.New("fields and tags need the codecs registered (codecs.Register)"))
		}
		r.inputs = append(r.inputs, &runInput{id: s.ID(), in: in, fields: sc.Fields, merge: reg.docFields,
			c: &stageCounters{id: s.ID(), kind: "input"}})
	}
	for _, sc := range cfg.Filters {
		s := stage("filter", sc)
		t, ok := reg.Filter(sc.Type)
		if !ok {
			return fail(s.ID(), fmt.Errorf("unknown filter type %q", sc.Type))
		}
		c, err := stageConfig(sc, t.NewConfig)
		if err != nil {
			return fail(s.ID(), err)
		}
		rf := &runFilter{id: s.ID(), c: &stageCounters{id: s.ID(), kind: "filter", queue: r.queue}}
		for range r.workers {
			f, err := t.Build(c, s)
			if err != nil {
				return fail(s.ID(), err)
			}
			rf.f = append(rf.f, f)
		}
		r.filters = append(r.filters, rf)
	}
	for _, sc := range cfg.Outputs {
		s := stage("output", sc)
		t, ok := reg.Output(sc.Type)
		if !ok {
			return fail(s.ID(), fmt.Errorf("unknown output type %q", sc.Type))
		}
		c, err := stageConfig(sc, t.NewConfig)
		if err != nil {
			return fail(s.ID(), err)
		}
		out, err := t.Build(c, s)
		if err != nil {
			return fail(s.ID(), err)
		}
		q := NewQueue(cfg.QueueEvents, cfg.QueueBytes)
		r.outputs = append(r.outputs, &runOutput{id: s.ID(), out: out, q: q,
			c: &stageCounters{id: s.ID(), kind: "output", queue: q}})
	}
	return r, nil
}

// stageConfig returns the decoded config of sc, or its type's validated defaults when the
// config was built by hand without one.
func stageConfig(sc StageConfig, newConfig func() any) (any, error) {
	if sc.Config != nil || newConfig == nil {
		return sc.Config, nil
	}
	c := newConfig()
	if v, ok := c.(Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Stats returns a snapshot of every stage's counters, inputs first, then filters in file
// order, then outputs. It is safe to call at any time, also concurrently with Run; a
// metrics exporter reads it on each scrape.
func (r *Runner) Stats() []StageStats {
	out := make([]StageStats, 0, len(r.inputs)+len(r.filters)+len(r.outputs))
	for _, s := range r.inputs {
		out = append(out, s.c.snapshot())
	}
	for _, s := range r.filters {
		out = append(out, s.c.snapshot())
	}
	for _, s := range r.outputs {
		out = append(out, s.c.snapshot())
	}
	return out
}

// RunnerStats returns a snapshot of the pipeline-wide counters (outstanding and acknowledged
// batches, fill of the pipeline queue). Safe to call at any time.
func (r *Runner) RunnerStats() RunnerStats {
	return RunnerStats{
		Outstanding:  r.outstanding.Load(),
		AckedBatches: r.ackedBatches.Load(),
		AckedEvents:  r.ackedEvents.Load(),
		Queue:        r.queue.Fill(),
	}
}

// Run runs the pipeline until ctx is cancelled, a stage fails, or (Once) every input
// reached its end and everything it read was acknowledged. It calls Run only once.
//
// Order of events:
//  1. Start on outputs implementing Starter, in file order; an error aborts (closing every
//     stage) and is returned with the stage id, unless ctx was cancelled meanwhile.
//  2. The output workers, the filter workers and fan-out, and last the inputs start.
//  3. Shutdown, on ctx cancellation or a fatal error: the drain deadline (Config.DrainTimeout)
//     starts; inputs get a cancelled context and Run waits until they all returned; the
//     queues are closed and outputs write what is queued; Output.Close runs with the drain
//     context; Run waits until every emitted batch is acknowledged or the deadline passes;
//     Input.Close runs with what remains of the deadline (final commits). When the deadline
//     passes, Write and Put calls get a cancelled context and batches still queued are
//     dropped, unacknowledged, so they are never committed.
//  4. When every input returned nil on its own (Once), Run first waits for every batch to be
//     acknowledged (no deadline, but ctx or a failure still interrupt that wait), then shuts
//     down as above.
//
// Run returns nil after a shutdown caused by ctx, even if the deadline passed (the number of
// unacknowledged batches is logged); otherwise the first fatal error, wrapped with the id of
// the stage that failed, joined with errors from closing stages. No goroutine started by Run
// outlives it.
func (r *Runner) Run(ctx context.Context) error {
	if !r.started.CompareAndSwap(false, true) {
		return errors.New("pipeline: Runner.Run called twice")
	}
	begin := time.Now()
	for _, o := range r.outputs {
		s, ok := o.out.(Starter)
		if !ok {
			continue
		}
		if err := s.Start(ctx); err != nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.drainTimeout)
			r.closeOutputs(cctx)
			r.closeInputs(cctx)
			cancel()
			if ctx.Err() != nil {
				r.log.Info("stopped while starting outputs", zap.String("stage", o.id), zap.Error(err))
				return nil
			}
			return fmt.Errorf("%s: start: %w", o.id, err)
		}
	}

	// hardCtx is what Write and the fan-out's Put see: it lives on through the drain and is
	// cancelled only when the drain deadline passes (or Run ends).
	hardCtx, cancelHard := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHard()
	inCtx, cancelIn := context.WithCancel(ctx)
	defer cancelIn()
	r.cancelInputs = cancelIn

	var workers sync.WaitGroup // output workers and the filter stage
	for _, o := range r.outputs {
		workers.Go(func() { r.runOutput(hardCtx, o) })
	}
	filtersDone := make(chan struct{})
	workers.Go(func() { defer close(filtersDone); r.runFilters(hardCtx) })

	var inputs sync.WaitGroup
	for _, in := range r.inputs {
		inputs.Go(func() { r.runInput(inCtx, in) })
	}
	inputsDone := make(chan struct{})
	var aux sync.WaitGroup // helpers that must end before Run returns
	aux.Go(func() { inputs.Wait(); close(inputsDone) })

	stopStats := make(chan struct{})
	if r.statsInterval > 0 {
		aux.Go(func() { r.logStats(begin, stopStats) })
	}
	defer func() {
		close(stopStats)
		aux.Wait()
		logTotals(r.log, time.Since(begin), r.Stats(), r.RunnerStats())
	}()

	r.running.Store(true)
	r.log.Info("pipeline started", zap.Int("inputs", len(r.inputs)),
		zap.Int("filters", len(r.filters)), zap.Int("outputs", len(r.outputs)), zap.Bool("once", r.once))

	select {
	case <-ctx.Done():
		r.log.Info("stopping: shutdown requested", zap.NamedError("cause", context.Cause(ctx)))
	case <-r.failed:
	case <-inputsDone:
		if r.firstErr() == nil {
			r.log.Info("every input finished; waiting for acknowledgements",
				zap.Int64("outstanding_batches", r.outstanding.Load()))
			if r.waitAcked(ctx, r.failed) {
				r.log.Info("everything read was acknowledged")
			} else if ctx.Err() != nil {
				r.log.Info("stopping: shutdown requested while waiting for acknowledgements",
					zap.NamedError("cause", context.Cause(ctx)))
			}
		}
	}

	// Shutdown. The deadline counts from here.
	r.running.Store(false)
	stopping := time.Now()
	drainCtx, cancelDrain := context.WithTimeout(context.WithoutCancel(ctx), r.drainTimeout)
	defer cancelDrain()
	shutdownDone := make(chan struct{})
	aux.Go(func() {
		select {
		case <-drainCtx.Done():
			cancelHard()
		case <-shutdownDone:
		}
	})
	defer close(shutdownDone)

	cancelIn()
	select {
	case <-inputsDone:
	case <-drainCtx.Done():
		r.log.Warn("inputs did not stop within the drain deadline; still waiting for them")
		<-inputsDone
	}
	r.queue.Close()
	<-filtersDone // the filter stage closes the output queues when it is done
	workers.Wait()

	closeErr := r.closeOutputs(drainCtx)
	acked := true
	if r.outputFailed.Load() {
		// Batches the failed output did not acknowledge never will be: do not wait for them.
		acked = r.outstanding.Load() == 0
	} else {
		acked = r.waitAcked(drainCtx, nil)
	}
	if !acked {
		r.log.Warn("batches left unacknowledged; they will be read again after a restart",
			zap.Int64("unacknowledged_batches", r.outstanding.Load()),
			zap.Bool("deadline_passed", drainCtx.Err() != nil),
			zap.Duration("drain_timeout", r.drainTimeout))
	}
	// The final commit of what was acknowledged is cheap and saves redoing that work after
	// a restart, so inputs get at least commitGrace for it, even after a full-length drain.
	commitCtx, cancelCommit := drainCtx, context.CancelFunc(func() {})
	if dl, _ := drainCtx.Deadline(); time.Until(dl) < commitGrace {
		commitCtx, cancelCommit = context.WithTimeout(context.WithoutCancel(ctx), commitGrace)
	}
	closeErr = errors.Join(closeErr, r.closeInputs(commitCtx))
	cancelCommit()
	if acked {
		r.log.Info("pipeline drained", zap.Duration("took", time.Since(stopping)))
	}

	if err := r.firstErr(); err != nil {
		return errors.Join(err, closeErr)
	}
	return closeErr
}

// commitGrace is the least time Input.Close gets for its final commit.
const commitGrace = 5 * time.Second

// fail records the first fatal error and starts the shutdown.
func (r *Runner) fail(err error) {
	r.errMu.Lock()
	first := r.err == nil
	if first {
		r.err = err
		close(r.failed)
	}
	r.errMu.Unlock()
	if first {
		r.log.Error("stopping: stage failed", zap.Error(err))
	} else {
		r.log.Error("further stage failure while stopping", zap.Error(err))
	}
	r.cancelInputs()
}

func (r *Runner) firstErr() error {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return r.err
}

// waitAcked waits until no batch is outstanding; it reports false if ctx ended or abort was
// closed first.
func (r *Runner) waitAcked(ctx context.Context, abort <-chan struct{}) bool {
	for r.outstanding.Load() != 0 {
		select {
		case <-r.zero:
		case <-ctx.Done():
			return r.outstanding.Load() == 0
		case <-abort:
			return r.outstanding.Load() == 0
		}
	}
	return true
}

func (r *Runner) runInput(ctx context.Context, in *runInput) {
	err := in.in.Run(ctx, r.emitter(in))
	switch {
	case err == nil:
		if ctx.Err() == nil {
			r.log.Info("input finished", zap.String("stage", in.id))
		}
	case ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		// Stopped as asked.
	default:
		in.c.errors.Add(1)
		r.fail(fmt.Errorf("%s: %w", in.id, err))
	}
}

// emitter returns the Emit function of one input. It wraps the batch's acknowledgement so
// that the runner knows when every batch is acknowledged.
func (r *Runner) emitter(in *runInput) Emit {
	return func(ctx context.Context, b *Batch) error {
		if b == nil {
			return nil
		}
		n, by := int64(b.Len()), payloadBytes(b) // as read: before the input's fields are merged
		if in.fields != nil {
			in.fields.apply(b, in.merge)
		}
		orig := b.onAck
		b.onAck = func() {
			if orig != nil {
				orig()
			}
			r.ackedBatches.Add(1)
			r.ackedEvents.Add(n)
			r.release()
		}
		r.outstanding.Add(1)
		if err := r.queue.Put(ctx, b); err != nil {
			b.onAck = orig // not in the pipeline: never acknowledged by us
			r.release()
			return err
		}
		in.c.eventsOut.Add(n)
		in.c.batchesOut.Add(1)
		in.c.bytes.Add(by)
		in.c.sizes.observe(n)
		return nil
	}
}

func (r *Runner) release() {
	if r.outstanding.Add(-1) == 0 {
		select {
		case r.zero <- struct{}{}:
		default:
		}
	}
}

// runFilters runs the filter chain over each batch of the pipeline queue and fans the batch
// out to the output queues, in the order the batches were queued. It closes the output
// queues when the pipeline queue is closed and empty.
//
// With filters, the chain runs on r.workers goroutines, each with its own instances of the
// filters: batch i goes to worker i mod workers, and the fan-out takes the results in the
// same round-robin order, so the outputs see the batches exactly in queue order (and so in
// order within each domain) whatever each batch costs. The hand-offs are unbuffered: at most
// workers + 2 batches are between the pipeline queue and the output queues (one in the
// dispatcher, one in each worker, being filtered or waiting for the fan-out, and one in the
// fan-out), and a full output queue stops the workers, which stops the inputs (backpressure).
func (r *Runner) runFilters(hardCtx context.Context) {
	defer func() {
		for _, o := range r.outputs {
			o.q.Close()
		}
	}()
	if len(r.filters) == 0 {
		for {
			b, ok := r.queue.Get()
			if !ok {
				return
			}
			if hardCtx.Err() == nil {
				r.fanOut(hardCtx, b)
			}
		}
	}
	ins := make([]chan *Batch, r.workers)
	outs := make([]chan *Batch, r.workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	for w := range ins {
		ins[w], outs[w] = make(chan *Batch), make(chan *Batch)
		wg.Go(func() {
			defer close(outs[w])
			for b := range ins[w] {
				r.filter(w, b)
				outs[w] <- b
			}
		})
	}
	wg.Go(func() {
		defer func() {
			for _, in := range ins {
				close(in)
			}
		}()
		for seq := 0; ; seq++ {
			b, ok := r.queue.Get()
			if !ok {
				return
			}
			if hardCtx.Err() != nil {
				seq--
				continue // past the drain deadline: dropped, never acknowledged
			}
			ins[seq%r.workers] <- b
		}
	})
	for seq := 0; ; seq++ {
		b, ok := <-outs[seq%r.workers]
		if !ok {
			return // every batch before seq was handed out, and the dispatcher is done
		}
		if hardCtx.Err() != nil {
			continue // past the drain deadline: dropped, never acknowledged
		}
		r.fanOut(hardCtx, b)
	}
}

// filter runs worker w's instances of the filter chain over b.
func (r *Runner) filter(w int, b *Batch) {
	for _, f := range r.filters {
		n := int64(b.Len())
		f.c.eventsIn.Add(n)
		f.c.batchesIn.Add(1)
		f.c.bytes.Add(payloadBytes(b))
		f.c.sizes.observe(n)
		f.f[w].Process(b)
		f.c.eventsOut.Add(int64(b.Len()))
		f.c.batchesOut.Add(1)
	}
}

// fanOut hands b to every output queue, or acknowledges it when the filters removed every
// event.
func (r *Runner) fanOut(hardCtx context.Context, b *Batch) {
	if b.Len() == 0 {
		b.Ack() // every event was removed: nothing to deliver
		return
	}
	// The runner holds one acknowledgement while it hands the batch out, so that a fast
	// output cannot complete the batch before every output received it. Each output gets its
	// own view of the batch, so that its acknowledgements are counted.
	b.Retain(len(r.outputs))
	n, payload := int64(b.Len()), payloadBytes(b)
	for _, o := range r.outputs {
		if err := o.q.Put(hardCtx, o.view(b, n, payload)); err != nil {
			break // past the drain deadline: the batch stays unacknowledged
		}
	}
	b.Ack()
}

// runOutput calls Write for each batch of the output's queue, in order, until the queue is
// closed and empty. After a failure, or past the drain deadline, it drops what remains
// (those batches are never acknowledged) so that the stages before it do not block.
func (r *Runner) runOutput(hardCtx context.Context, o *runOutput) {
	failed := false
	for {
		b, ok := o.q.Get()
		if !ok {
			return
		}
		if failed || hardCtx.Err() != nil {
			continue
		}
		n := int64(b.Len())
		o.c.eventsIn.Add(n)
		o.c.batchesIn.Add(1)
		o.c.sizes.observe(n)
		if err := o.out.Write(hardCtx, b); err != nil {
			o.c.errors.Add(1)
			o.c.eventsFailed.Add(n)
			if hardCtx.Err() != nil {
				continue // the drain deadline passed
			}
			failed = true
			r.outputFailed.Store(true)
			r.fail(fmt.Errorf("%s: %w", o.id, err))
			continue
		}
		o.c.eventsOut.Add(n)
		o.c.batchesOut.Add(1)
	}
}

// view returns the batch output o receives for b (n events, payload bytes): the same
// events, with an acknowledgement of its own that counts what o acknowledged and then
// acknowledges b once for o. One allocation per batch and output, none per event.
func (o *runOutput) view(b *Batch, n, payload int64) *Batch {
	v := &Batch{Events: b.Events, Domain: b.Domain, bytes: b.bytes}
	v.pending.Store(1)
	v.onAck = func() {
		o.c.eventsAcked.Add(n)
		o.c.batchesAcked.Add(1)
		o.c.bytes.Add(payload)
		b.Ack()
	}
	return v
}

// payloadBytes is the size of what a batch carries from its source: the lines (without
// their endings) and the documents, not the memory the events take.
func payloadBytes(b *Batch) int64 {
	var n int64
	for i := range b.Events {
		n += int64(len(b.Events[i].Message) + len(b.Events[i].Doc))
	}
	return n
}

// closeOutputs calls Close on every output concurrently and waits for all of them.
func (r *Runner) closeOutputs(ctx context.Context) error {
	errs := make([]error, len(r.outputs))
	var wg sync.WaitGroup
	for i, o := range r.outputs {
		wg.Go(func() { errs[i] = r.closeErr(ctx, o.id, o.out.Close(ctx)) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// closeInputs calls Close on every input concurrently and waits for all of them.
func (r *Runner) closeInputs(ctx context.Context) error {
	errs := make([]error, len(r.inputs))
	var wg sync.WaitGroup
	for i, in := range r.inputs {
		wg.Go(func() { errs[i] = r.closeErr(ctx, in.id, in.in.Close(ctx)) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// closeErr classifies an error from Close: running out of drain time is expected (and
// logged by Run), anything else is returned with the stage id.
func (r *Runner) closeErr(ctx context.Context, id string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		r.log.Warn("close interrupted by the drain deadline", zap.String("stage", id), zap.Error(err))
		return nil
	}
	r.log.Error("close failed", zap.String("stage", id), zap.Error(err))
	return fmt.Errorf("%s: close: %w", id, err)
}

func (r *Runner) logStats(begin time.Time, stop <-chan struct{}) {
	l := &statsLogger{log: r.log, lastTime: begin}
	t := time.NewTicker(r.statsInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			l.gauges = r.stageGauges()
			l.logPeriod(now, r.Stats(), r.RunnerStats())
		}
	}
}

// statsGauges are the stage metrics (registered through Stage.Metrics) that the stats line
// shows, summed per stage: metric family name -> field name in the line.
var statsGauges = map[string]string{"logpipe_kafka_consumer_lag": "consumer_lag"}

// stageGauges reads the statsGauges of every stage from the stage metrics, once per stats
// period: stage id -> field -> sum over the family's series.
func (r *Runner) stageGauges() map[string]map[string]float64 {
	mfs, _ := r.metrics.Gather() // a failed collector leaves its gauges out of the line
	var out map[string]map[string]float64
	for _, mf := range mfs {
		field, ok := statsGauges[mf.GetName()]
		if !ok {
			continue
		}
		for _, m := range mf.GetMetric() {
			stage := ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "stage" {
					stage = lp.GetValue()
				}
			}
			if stage == "" || m.GetGauge() == nil {
				continue
			}
			if out == nil {
				out = map[string]map[string]float64{}
			}
			if out[stage] == nil {
				out[stage] = map[string]float64{}
			}
			out[stage][field] += m.GetGauge().GetValue()
		}
	}
	return out
}
