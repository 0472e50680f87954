package metrics

import (
	"github.com/logpipe/logpipe/pipeline"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector exports a runner's counters: it reads Runner.Stats and Runner.RunnerStats on
// each Collect (each scrape), so the pipeline keeps no Prometheus objects on its batch path.
type Collector struct {
	r Source

	eventsIn, eventsOut, eventsFailed *prometheus.Desc
	eventsAcked, batchesAcked         *prometheus.Desc
	bytes, batchesIn, batchesOut      *prometheus.Desc
	errors, batchSize                 *prometheus.Desc

	outQueueEvents, outQueueBytes, outQueueBatches  *prometheus.Desc
	outQueueMaxEvents, outQueueMaxBytes, outBlocked *prometheus.Desc

	outstanding, ackedBatches, ackedEvents      *prometheus.Desc
	queueEvents, queueBytes, queueBatches       *prometheus.Desc
	queueMaxEvents, queueMaxBytes, queueBlocked *prometheus.Desc
	bounds                                      []float64
}

// NewCollector returns a Collector of r's counters.
func NewCollector(r Source) *Collector {
	stage := []string{"stage", "kind"}
	out := []string{"stage"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc("logpipe_"+name, help, labels, nil)
	}
	c := &Collector{
		r:            r,
		eventsIn:     d("stage_events_in_total", "Events that entered the stage (filters, outputs: handed to Write).", stage),
		eventsOut:    d("stage_events_out_total", "Events that left the stage (inputs: emitted; filters: kept; outputs: whose Write returned without error).", stage),
		eventsFailed: d("stage_events_failed_total", "Events of batches whose Write failed (outputs).", stage),
		eventsAcked:  d("stage_events_acked_total", "Events the output acknowledged: durable at its peer or dead-lettered (outputs).", stage),
		batchesAcked: d("stage_batches_acked_total", "Batches the output acknowledged (outputs).", stage),
		bytes:        d("stage_bytes_total", "Payload bytes (lines without their endings, documents) read (inputs), received (filters) or acknowledged (outputs).", stage),
		batchesIn:    d("stage_batches_in_total", "Batches that entered the stage.", stage),
		batchesOut:   d("stage_batches_out_total", "Batches that left the stage.", stage),
		errors:       d("stage_errors_total", "Fatal input errors and failed output Writes.", stage),
		batchSize:    d("stage_batch_size_events", "Events per batch emitted (inputs) or received (filters, outputs).", stage),

		outQueueEvents:    d("output_queue_events", "Events waiting in the output's queue.", out),
		outQueueBytes:     d("output_queue_bytes", "Approximate bytes waiting in the output's queue.", out),
		outQueueBatches:   d("output_queue_batches", "Batches waiting in the output's queue.", out),
		outQueueMaxEvents: d("output_queue_max_events", "Bound of the output's queue in events.", out),
		outQueueMaxBytes:  d("output_queue_max_bytes", "Bound of the output's queue in bytes.", out),
		outBlocked:        d("output_queue_blocked_puts", "Hand-offs waiting for space in the output's queue (non-zero: this output is the bottleneck).", out),

		outstanding:    d("pipeline_outstanding_batches", "Batches emitted by inputs and not yet acknowledged by every output.", nil),
		ackedBatches:   d("pipeline_acked_batches_total", "Batches acknowledged by every output.", nil),
		ackedEvents:    d("pipeline_acked_events_total", "Events of the batches acknowledged by every output (as emitted).", nil),
		queueEvents:    d("pipeline_queue_events", "Events waiting in the queue between the inputs and the filters.", nil),
		queueBytes:     d("pipeline_queue_bytes", "Approximate bytes waiting in the queue between the inputs and the filters.", nil),
		queueBatches:   d("pipeline_queue_batches", "Batches waiting in the queue between the inputs and the filters.", nil),
		queueMaxEvents: d("pipeline_queue_max_events", "Bound of the pipeline queue in events.", nil),
		queueMaxBytes:  d("pipeline_queue_max_bytes", "Bound of the pipeline queue in bytes.", nil),
		queueBlocked:   d("pipeline_queue_blocked_puts", "Inputs waiting for space in the pipeline queue (backpressure from the filters or outputs).", nil),
	}
	for _, b := range pipeline.BatchSizeBounds() {
		c.bounds = append(c.bounds, float64(b))
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.eventsIn, c.eventsOut, c.eventsFailed, c.eventsAcked, c.batchesAcked, c.bytes, c.batchesIn, c.batchesOut, c.errors, c.batchSize,
		c.outQueueEvents, c.outQueueBytes, c.outQueueBatches, c.outQueueMaxEvents, c.outQueueMaxBytes, c.outBlocked,
		c.outstanding, c.ackedBatches, c.ackedEvents, c.queueEvents, c.queueBytes, c.queueBatches,
		c.queueMaxEvents, c.queueMaxBytes, c.queueBlocked,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: one snapshot of the runner per call.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	for _, s := range c.r.Stats() {
		counter(c.eventsIn, s.EventsIn, s.ID, s.Kind)
		counter(c.eventsOut, s.EventsOut, s.ID, s.Kind)
		counter(c.eventsFailed, s.EventsFailed, s.ID, s.Kind)
		counter(c.bytes, s.Bytes, s.ID, s.Kind)
		counter(c.batchesIn, s.BatchesIn, s.ID, s.Kind)
		counter(c.batchesOut, s.BatchesOut, s.ID, s.Kind)
		counter(c.errors, s.Errors, s.ID, s.Kind)
		buckets := make(map[float64]uint64, len(c.bounds))
		var cum uint64
		for i, b := range c.bounds {
			cum += uint64(s.BatchSizes.Counts[i])
			buckets[b] = cum
		}
		count := cum + uint64(s.BatchSizes.Counts[len(c.bounds)])
		ch <- prometheus.MustNewConstHistogram(c.batchSize, count, float64(s.BatchSizes.Sum), buckets, s.ID, s.Kind)
		if s.Kind == "output" {
			counter(c.eventsAcked, s.EventsAcked, s.ID, s.Kind)
			counter(c.batchesAcked, s.BatchesAcked, s.ID, s.Kind)
			q := s.Queue
			gauge(c.outQueueEvents, q.Events, s.ID)
			gauge(c.outQueueBytes, q.Bytes, s.ID)
			gauge(c.outQueueBatches, q.Batches, s.ID)
			gauge(c.outQueueMaxEvents, q.MaxEvents, s.ID)
			gauge(c.outQueueMaxBytes, q.MaxBytes, s.ID)
			gauge(c.outBlocked, q.BlockedPuts, s.ID)
		}
	}
	rs := c.r.RunnerStats()
	gauge(c.outstanding, rs.Outstanding)
	counter(c.ackedBatches, rs.AckedBatches)
	counter(c.ackedEvents, rs.AckedEvents)
	gauge(c.queueEvents, rs.Queue.Events)
	gauge(c.queueBytes, rs.Queue.Bytes)
	gauge(c.queueBatches, rs.Queue.Batches)
	gauge(c.queueMaxEvents, rs.Queue.MaxEvents)
	gauge(c.queueMaxBytes, rs.Queue.MaxBytes)
	gauge(c.queueBlocked, rs.Queue.BlockedPuts)
}
