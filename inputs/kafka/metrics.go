package kafka

import (
	"strconv"
	"sync"
	"time"

	"github.com/logpipe/logpipe/pipeline"
	"github.com/prometheus/client_golang/prometheus"
)

// latencyBuckets are the bounds, in seconds, of the end-to-end latency histogram: from
// sub-second (@timestamp has millisecond precision from Filebeat-style shippers, second
// precision from Apache lines) to an hour of backlog.
var latencyBuckets = [...]float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}

// inputMetrics are the input's own Prometheus metrics, registered through Stage.Metrics
// (so every series carries stage=<id>).
//
//   - logpipe_kafka_consumer_lag{topic,partition}: high watermark minus the position below
//     which every record was acknowledged by every output (what the next commit writes; the
//     offset committed in Kafka trails it by at most commit_interval).
//   - logpipe_kafka_fetch_lag{topic,partition}: high watermark minus the next offset to fetch
//     (records in Kafka not read yet).
//   - logpipe_kafka_high_watermark{topic,partition}: as of the last fetch.
//   - logpipe_kafka_assigned_partitions: partitions this member owns in the current generation.
//   - logpipe_kafka_fetch_buffered_bytes: bytes of fetched records not yet handed to the
//     pipeline (reserved or held), all partitions together; at most about fetch_budget.
//   - logpipe_kafka_fetch_budget_bytes: fetch_budget.
//   - logpipe_kafka_event_latency_seconds: histogram of now minus the event's @timestamp,
//     observed when every output acknowledged the event's batch (for Elasticsearch: when it
//     is durable there), once per delivered event; events dropped by a filter are not
//     observed, a negative difference (clock skew) counts as 0.
//
// The lag gauges are computed at scrape time from the current generation's partitions, so
// a revoked partition disappears from the output with its generation.
type inputMetrics struct {
	in       *Input
	lag      *prometheus.Desc
	fetchLag *prometheus.Desc
	hwm      *prometheus.Desc
	assigned *prometheus.Desc
	buffered *prometheus.Desc
	budget   *prometheus.Desc
	latency  latencyHistogram
}

func newInputMetrics(in *Input) *inputMetrics {
	tp := []string{"topic", "partition"}
	return &inputMetrics{
		in: in,
		lag: prometheus.NewDesc("logpipe_kafka_consumer_lag",
			"High watermark minus the acknowledged position (the next committed offset) of an assigned partition.", tp, nil),
		fetchLag: prometheus.NewDesc("logpipe_kafka_fetch_lag",
			"High watermark minus the next offset to fetch of an assigned partition.", tp, nil),
		hwm: prometheus.NewDesc("logpipe_kafka_high_watermark",
			"High watermark of an assigned partition, as of the last fetch.", tp, nil),
		assigned: prometheus.NewDesc("logpipe_kafka_assigned_partitions",
			"Partitions assigned to this member in the current consumer group generation.", nil, nil),
		buffered: prometheus.NewDesc("logpipe_kafka_fetch_buffered_bytes",
			"Bytes of fetched records not yet handed to the pipeline, all partitions together.", nil, nil),
		budget: prometheus.NewDesc("logpipe_kafka_fetch_budget_bytes",
			"The fetch_budget: the bound of logpipe_kafka_fetch_buffered_bytes.", nil, nil),
		latency: latencyHistogram{desc: prometheus.NewDesc("logpipe_kafka_event_latency_seconds",
			"Now minus the event's @timestamp, observed when every output acknowledged the event.", nil, nil)},
	}
}

// Describe implements prometheus.Collector.
func (m *inputMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.lag
	ch <- m.fetchLag
	ch <- m.hwm
	ch <- m.assigned
	ch <- m.buffered
	ch <- m.budget
	ch <- m.latency.desc
}

// Collect implements prometheus.Collector.
func (m *inputMetrics) Collect(ch chan<- prometheus.Metric) {
	ch <- m.latency.metric()
	m.in.mu.Lock()
	gs := m.in.current
	m.in.mu.Unlock()
	n := 0
	if gs != nil {
		n = len(gs.parts)
		for _, p := range gs.parts {
			hwm := p.hwm.Load()
			tr := p.tracker.Load()
			if hwm < 0 || tr == nil {
				continue // not fetched yet
			}
			part := strconv.Itoa(p.id)
			ch <- prometheus.MustNewConstMetric(m.hwm, prometheus.GaugeValue, float64(hwm), p.topic, part)
			ch <- prometheus.MustNewConstMetric(m.lag, prometheus.GaugeValue, float64(max(0, hwm-tr.Committed())), p.topic, part)
			ch <- prometheus.MustNewConstMetric(m.fetchLag, prometheus.GaugeValue, float64(max(0, hwm-p.fetched.Load())), p.topic, part)
		}
	}
	ch <- prometheus.MustNewConstMetric(m.assigned, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(m.buffered, prometheus.GaugeValue, float64(m.in.budget.inUse()))
	ch <- prometheus.MustNewConstMetric(m.budget, prometheus.GaugeValue, float64(m.in.budget.limit))
}

// observeLatency records the end-to-end latency of the events still in b (called from the
// batch's acknowledgement, once every output acknowledged it).
func (m *inputMetrics) observeLatency(b *pipeline.Batch) {
	m.latency.observe(time.Now(), b.Events)
}

// latencyHistogram is the histogram logpipe_kafka_event_latency_seconds, observed a batch
// at a time: the batch's events are counted into buckets of its own, which are then added
// under one lock. (prometheus.Histogram.Observe takes several atomic operations per value:
// 1.7 % of the indexer's CPU, once per event.) It is exposed as prometheus.NewConstHistogram
// exposes one, with the same bucket semantics as prometheus.Histogram (a value counts in
// every bucket whose upper bound is at least the value).
type latencyHistogram struct {
	desc   *prometheus.Desc
	mu     sync.Mutex
	counts [len(latencyBuckets) + 1]uint64 // per bucket, not cumulative; the last one is +Inf
	count  uint64
	sum    float64
}

// observe adds now minus the @timestamp of each event (0 when negative), skipping events
// without one.
func (h *latencyHistogram) observe(now time.Time, events []pipeline.Event) {
	var counts [len(latencyBuckets) + 1]uint64
	var sum float64
	n := uint64(0)
	for i := range events {
		ts := events[i].Timestamp
		if ts.IsZero() {
			continue
		}
		v := max(0, now.Sub(ts).Seconds())
		b := 0
		for b < len(latencyBuckets) && v > latencyBuckets[b] {
			b++
		}
		counts[b]++
		sum += v
		n++
	}
	if n == 0 {
		return
	}
	h.mu.Lock()
	for i, c := range counts {
		h.counts[i] += c
	}
	h.count += n
	h.sum += sum
	h.mu.Unlock()
}

// metric returns the histogram as it stands.
func (h *latencyHistogram) metric() prometheus.Metric {
	h.mu.Lock()
	counts, count, sum := h.counts, h.count, h.sum
	h.mu.Unlock()
	buckets := make(map[float64]uint64, len(latencyBuckets))
	cum := uint64(0)
	for i, bound := range latencyBuckets {
		cum += counts[i]
		buckets[bound] = cum
	}
	return prometheus.MustNewConstHistogram(h.desc, count, sum, buckets)
}
