package pipeline

import (
	"sort"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// stageCounters are the live counters of one stage, updated with atomics on the batch path
// (once per batch, never per event) and read by Runner.Stats.
type stageCounters struct {
	id    string
	kind  string
	queue *Queue // the queue the stage reads from; nil for inputs

	eventsIn   atomic.Int64
	eventsOut  atomic.Int64
	bytes      atomic.Int64
	batchesIn  atomic.Int64
	batchesOut atomic.Int64
	errors     atomic.Int64

	eventsFailed atomic.Int64
	eventsAcked  atomic.Int64
	batchesAcked atomic.Int64
	sizes        sizeHistogram
}

// batchSizeBounds are the upper bounds, in events, of the batch size histogram's buckets
// (the last bucket, above the last bound, is implicit). Never modified.
var batchSizeBounds = [...]int64{1, 10, 50, 100, 250, 500, 1000, 2000, 4096}

// BatchSizeBounds returns the upper bounds, in events, of the buckets of
// StageStats.BatchSizes (the last bucket, above the last bound, is implicit).
func BatchSizeBounds() []int64 { b := batchSizeBounds; return b[:] }

// sizeHistogram counts batch sizes per bucket with atomics (once per batch).
type sizeHistogram struct {
	counts [len(batchSizeBounds) + 1]atomic.Int64
	sum    atomic.Int64
}

func (h *sizeHistogram) observe(n int64) {
	i := 0
	for i < len(batchSizeBounds) && n > batchSizeBounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(n)
}

// SizeHistogram is a snapshot of a batch size histogram: Counts[i] is the number of
// batches with at most BatchSizeBounds()[i] events and more than the previous bound (not
// cumulative); the last count is above the last bound. Sum is the total of the sizes.
type SizeHistogram struct {
	Counts [len(batchSizeBounds) + 1]int64
	Sum    int64
}

// Count is the number of batches observed.
func (h SizeHistogram) Count() int64 {
	var n int64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

func (h *sizeHistogram) snapshot() SizeHistogram {
	var s SizeHistogram
	for i := range h.counts {
		s.Counts[i] = h.counts[i].Load()
	}
	s.Sum = h.sum.Load()
	return s
}

// StageStats is a snapshot of one stage's counters since the runner was created. Counters
// only grow; rates are computed by whoever reads them twice (the stats log line, a Prometheus
// exporter).
//
// What "in" and "out" mean depends on the kind:
//   - input: EventsOut/BatchesOut were emitted into the pipeline queue (In stays 0);
//     Bytes is their payload as read (lines without their endings, documents).
//   - filter: EventsIn/BatchesIn entered the filter, EventsOut/BatchesOut left it (events
//     dropped by the filter are the difference). Bytes is the payload of the batches that
//     entered.
//   - output: EventsIn/BatchesIn were handed to Write; EventsOut/BatchesOut are those whose
//     Write returned nil (a hand-off: the output may still be sending them);
//     EventsAcked/BatchesAcked are those the output acknowledged (durable at its peer or
//     dead-lettered), and Bytes is their payload. Errors counts failed Writes.
type StageStats struct {
	ID   string // "kind.type.name"
	Kind string // input | filter | output

	EventsIn   int64
	EventsOut  int64
	Bytes      int64
	BatchesIn  int64
	BatchesOut int64
	Errors     int64

	// Queue is the fill of the queue the stage reads from: the pipeline queue for filters
	// (shared by all of them), the output's own queue for outputs; zero for inputs.
	Queue QueueFill

	// EventsFailed counts the events of the batches whose Write failed (outputs only).
	EventsFailed int64
	// EventsAcked and BatchesAcked count what the output acknowledged (outputs only).
	EventsAcked  int64
	BatchesAcked int64
	// BatchSizes is the distribution of batch sizes, in events, of the batches counted in
	// BatchesOut (inputs) or BatchesIn (filters, outputs).
	BatchSizes SizeHistogram
}

func (c *stageCounters) snapshot() StageStats {
	s := StageStats{
		ID:         c.id,
		Kind:       c.kind,
		EventsIn:   c.eventsIn.Load(),
		EventsOut:  c.eventsOut.Load(),
		Bytes:      c.bytes.Load(),
		BatchesIn:  c.batchesIn.Load(),
		BatchesOut: c.batchesOut.Load(),
		Errors:     c.errors.Load(),

		EventsFailed: c.eventsFailed.Load(),
		EventsAcked:  c.eventsAcked.Load(),
		BatchesAcked: c.batchesAcked.Load(),
		BatchSizes:   c.sizes.snapshot(),
	}
	if c.queue != nil {
		s.Queue = c.queue.Fill()
	}
	return s
}

// RunnerStats is a snapshot of the pipeline-wide counters.
type RunnerStats struct {
	// Outstanding is the number of batches emitted by inputs and not yet acknowledged by
	// every output.
	Outstanding int64
	// AckedBatches and AckedEvents count batches whose final acknowledgement arrived, and
	// the events they held when they were emitted.
	AckedBatches int64
	AckedEvents  int64
	// Queue is the fill of the pipeline queue between the inputs and the filter chain.
	Queue QueueFill
}

// statsLogger writes the periodic "Non-zero metrics" line: per stage, the change of each
// counter over the last period and the events/s rate, skipping stages and counters that did
// not move.
type statsLogger struct {
	log *zap.Logger
	// gauges are per-stage gauges to show as they are (consumer_lag), stage id -> field ->
	// value; set before each logPeriod.
	gauges   map[string]map[string]float64
	last     []StageStats
	lastRun  RunnerStats
	lastTime time.Time
}

func (l *statsLogger) logPeriod(now time.Time, stages []StageStats, run RunnerStats) {
	period := now.Sub(l.lastTime)
	secs := period.Seconds()
	if secs <= 0 {
		secs = 1
	}
	fields := make([]zap.Field, 0, len(stages)+2)
	fields = append(fields, zap.Duration("period", period))
	for i, s := range stages {
		var p StageStats
		if i < len(l.last) {
			p = l.last[i]
		}
		var f []zap.Field
		add := func(name string, v int64) {
			if v != 0 {
				f = append(f, zap.Int64(name, v))
			}
		}
		add("events_in", s.EventsIn-p.EventsIn)
		if s.Kind == "output" {
			// What the peer acknowledged, not what was handed to Write.
			add("events_acked", s.EventsAcked-p.EventsAcked)
		} else {
			add("events_out", s.EventsOut-p.EventsOut)
		}
		add("bytes", s.Bytes-p.Bytes)
		add("batches_in", s.BatchesIn-p.BatchesIn)
		if s.Kind == "output" {
			add("batches_acked", s.BatchesAcked-p.BatchesAcked)
		} else {
			add("batches_out", s.BatchesOut-p.BatchesOut)
		}
		add("errors", s.Errors-p.Errors)
		if len(f) > 0 {
			ev := s.EventsOut - p.EventsOut
			switch {
			case s.Kind == "output":
				ev = s.EventsAcked - p.EventsAcked
			case ev == 0:
				ev = s.EventsIn - p.EventsIn
			}
			f = append(f, zap.Float64("events_per_s", round2(float64(ev)/secs)))
		}
		// Gauges (consumer lag) are shown when the stage moved, or when they are not zero: a
		// lag that does not shrink while nothing moves is a stuck consumer.
		for _, name := range sortedKeys(l.gauges[s.ID]) {
			if v := l.gauges[s.ID][name]; v != 0 || len(f) > 0 {
				f = append(f, zap.Int64(name, int64(v)))
			}
		}
		// The filters' queue is the pipeline queue, reported once under "pipeline".
		if s.Kind == "output" && s.Queue.Batches != 0 {
			f = append(f, zap.Int64("queue_events", s.Queue.Events), zap.Int64("queue_bytes", s.Queue.Bytes))
		}
		if s.Kind == "output" && s.Queue.BlockedPuts != 0 {
			f = append(f, zap.Bool("backpressure", true))
		}
		if len(f) > 0 {
			fields = append(fields, zap.Dict(s.ID, f...))
		}
	}
	var pf []zap.Field
	if d := run.AckedBatches - l.lastRun.AckedBatches; d != 0 {
		pf = append(pf, zap.Int64("acked_batches", d),
			zap.Int64("acked_events", run.AckedEvents-l.lastRun.AckedEvents),
			zap.Float64("acked_events_per_s", round2(float64(run.AckedEvents-l.lastRun.AckedEvents)/secs)))
	}
	if run.Outstanding != 0 {
		pf = append(pf, zap.Int64("outstanding_batches", run.Outstanding))
	}
	if run.Queue.Batches != 0 {
		pf = append(pf, zap.Int64("queue_events", run.Queue.Events), zap.Int64("queue_bytes", run.Queue.Bytes))
	}
	if run.Queue.BlockedPuts != 0 {
		pf = append(pf, zap.Int64("inputs_blocked", run.Queue.BlockedPuts))
	}
	if len(pf) > 0 {
		fields = append(fields, zap.Dict("pipeline", pf...))
	}
	if len(fields) > 1 {
		l.log.Info("Non-zero metrics in the last period", fields...)
	}
	l.last, l.lastRun, l.lastTime = stages, run, now
}

// logTotals writes the counters since start, once, when the runner stops.
func logTotals(log *zap.Logger, uptime time.Duration, stages []StageStats, run RunnerStats) {
	fields := make([]zap.Field, 0, len(stages)+2)
	fields = append(fields, zap.Duration("uptime", uptime))
	for _, s := range stages {
		f := []zap.Field{zap.Int64("events_in", s.EventsIn), zap.Int64("events_out", s.EventsOut)}
		if s.Kind == "output" {
			f = append(f, zap.Int64("events_acked", s.EventsAcked))
		}
		f = append(f, zap.Int64("bytes", s.Bytes), zap.Int64("batches_in", s.BatchesIn),
			zap.Int64("batches_out", s.BatchesOut), zap.Int64("errors", s.Errors))
		fields = append(fields, zap.Dict(s.ID, f...))
	}
	fields = append(fields, zap.Dict("pipeline",
		zap.Int64("acked_batches", run.AckedBatches), zap.Int64("acked_events", run.AckedEvents),
		zap.Int64("outstanding_batches", run.Outstanding)))
	log.Info("Total metrics", fields...)
}

func sortedKeys(m map[string]float64) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }
