package kafka

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// produceBuckets are the bounds, in seconds, of the produce request latency histogram: from
// a local broker's millisecond to the default 30 s timeout.
var produceBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// outputMetrics are the producer's Prometheus metrics, registered through Stage.Metrics (so
// every series carries stage=<id>):
//
//   - logpipe_kafka_produce_request_duration_seconds: histogram of produce request attempts,
//     from sending to Kafka's answer (or the failure), whatever the outcome.
//   - logpipe_kafka_produce_errors_total{reason}: failed attempts, by reason: connection (the
//     brokers could not be reached or the request timed out), topic_missing, too_large
//     (MESSAGE_TOO_LARGE: the record batch is split or the record cut, then sent again),
//     broker (any other error code from Kafka).
//   - logpipe_kafka_produce_retries_total: failed attempts whose records were sent again (as
//     they were, or split or cut).
//   - logpipe_kafka_produce_records_total, logpipe_kafka_produce_bytes_total: records and
//     their bytes (keys and values, uncompressed) Kafka acknowledged.
//   - logpipe_kafka_produce_records_cut_total: records cut to the topic's size limit (and
//     flagged truncated) after Kafka refused them as too large (events cut before sending,
//     to max_message_bytes or a limit already known, are not counted here).
type outputMetrics struct {
	latency prometheus.Histogram
	errors  *prometheus.CounterVec
	retries prometheus.Counter
	records prometheus.Counter
	bytes   prometheus.Counter
	cut     prometheus.Counter
}

func newOutputMetrics() *outputMetrics {
	return &outputMetrics{
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "logpipe_kafka_produce_request_duration_seconds",
			Help:    "Duration of produce request attempts, from sending to Kafka's answer or the failure.",
			Buckets: produceBuckets,
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logpipe_kafka_produce_errors_total",
			Help: "Failed produce request attempts, by reason (connection, topic_missing, too_large, broker).",
		}, []string{"reason"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logpipe_kafka_produce_retries_total",
			Help: "Failed produce request attempts whose records were sent again (as they were, or split or cut).",
		}),
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logpipe_kafka_produce_records_total",
			Help: "Records Kafka acknowledged.",
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logpipe_kafka_produce_bytes_total",
			Help: "Bytes of the records (keys and values, uncompressed) Kafka acknowledged.",
		}),
		cut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logpipe_kafka_produce_records_cut_total",
			Help: "Records cut to the topic's size limit after Kafka refused them as too large.",
		}),
	}
}

// Describe implements prometheus.Collector.
func (m *outputMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.latency.Describe(ch)
	m.errors.Describe(ch)
	m.retries.Describe(ch)
	m.records.Describe(ch)
	m.bytes.Describe(ch)
	m.cut.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *outputMetrics) Collect(ch chan<- prometheus.Metric) {
	m.latency.Collect(ch)
	m.errors.Collect(ch)
	m.retries.Collect(ch)
	m.records.Collect(ch)
	m.bytes.Collect(ch)
	m.cut.Collect(ch)
}

// errorReason classifies a failed produce attempt for logpipe_kafka_produce_errors_total.
func errorReason(err error) string {
	switch {
	case errors.Is(err, errTooLarge):
		return "too_large"
	case errors.Is(err, errTopicMissing):
		return "topic_missing"
	case errors.Is(err, errUnreachable):
		return "connection"
	}
	return "broker"
}
