package kafka

import (
	"strconv"
	"time"

	"github.com/logpipe/logpipe/pipeline"
	"github.com/prometheus/client_golang/prometheus"
)

// latencyBuckets are the bounds, in seconds, of the end-to-end latency histogram: from
// sub-second (@timestamp has millisecond precision from Filebeat-style shippers, second
// precision from Apache lines) to an hour of backlog.
var latencyBuckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}

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
	latency  prometheus.Histogram
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
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "logpipe_kafka_event_latency_seconds",
			Help:    "Now minus the event's @timestamp, observed when every output acknowledged the event.",
			Buckets: latencyBuckets,
		}),
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
	m.latency.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *inputMetrics) Collect(ch chan<- prometheus.Metric) {
	m.latency.Collect(ch)
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
	now := time.Now()
	for i := range b.Events {
		ts := b.Events[i].Timestamp
		if ts.IsZero() {
			continue
		}
		m.latency.Observe(max(0, now.Sub(ts).Seconds()))
	}
}
