package elasticsearch

import (
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// registerMetrics exports the output's counters through the stage's registerer (every
// series labelled stage=<id> by the runner), read at scrape time from the atomics the
// workers update:
//
//   - logpipe_elasticsearch_indexed_total: documents stored (2xx items).
//   - logpipe_elasticsearch_duplicates_total: documents already stored (409 on create with
//     an id: a redelivery, counted as success).
//   - logpipe_elasticsearch_retried_items_total: item retries (429/5xx items, once per retry).
//   - logpipe_elasticsearch_denied_items_total: item attempts refused with 401/403 (missing
//     privileges, index blocks); those documents are retried, not dead-lettered.
//   - logpipe_elasticsearch_dead_lettered_total: documents set aside in the dead-letter queue.
//   - logpipe_elasticsearch_dead_letter_truncated_total: dead-letter entries cut to fit the
//     queue's entry size limit (max_message_bytes, or max_bytes / max_files).
//   - logpipe_elasticsearch_dead_letter_bytes, logpipe_elasticsearch_dead_letter_max_bytes and
//     logpipe_elasticsearch_dead_letter_full (gauges, file queue only): the size of the
//     dead-letter files together, their cap (max_bytes), and 1 while the queue is full
//     (rejected documents wait, their partition does not move).
//   - logpipe_elasticsearch_bulk_requests_total: _bulk requests sent, retries included.
//   - logpipe_elasticsearch_bulk_failures_total: _bulk requests that failed as a whole
//     (connection, 429, 5xx, ...).
func (o *Output) registerMetrics(r prometheus.Registerer) error {
	for _, m := range []struct {
		name, help string
		v          *atomic.Int64
	}{
		{"logpipe_elasticsearch_indexed_total", "Documents stored by Elasticsearch (2xx items).", &o.stats.indexed},
		{"logpipe_elasticsearch_duplicates_total", "Documents Elasticsearch already held (409 version conflict on create): redeliveries, counted as stored.", &o.stats.duplicates},
		{"logpipe_elasticsearch_retried_items_total", "Item retries after 429/5xx item answers, counted once per retry.", &o.stats.retried},
		{"logpipe_elasticsearch_denied_items_total", "Item attempts refused with 401/403 (missing privileges, index blocks); retried, not dead-lettered.", &o.stats.denied},
		{"logpipe_elasticsearch_dead_lettered_total", "Documents set aside in the dead-letter queue.", &o.stats.deadLettered},
		{"logpipe_elasticsearch_dead_letter_truncated_total", "Dead-letter entries cut to fit the queue's entry size limit.", &o.stats.truncated},
		{"logpipe_elasticsearch_bulk_requests_total", "_bulk requests sent, retries included.", &o.stats.requests},
		{"logpipe_elasticsearch_bulk_failures_total", "_bulk requests that failed as a whole (connection error, 429, 5xx, ...).", &o.stats.failures},
	} {
		v := m.v
		c := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: m.name, Help: m.help}, func() float64 { return float64(v.Load()) })
		if err := r.Register(c); err != nil {
			return fmt.Errorf("elasticsearch output: register metric %s: %w", m.name, err)
		}
	}
	f, ok := o.dlq.(*fileDLQ)
	if !ok {
		return nil
	}
	for _, m := range []struct {
		name, help string
		v          func() float64
	}{
		{"logpipe_elasticsearch_dead_letter_bytes", "Size of the dead-letter files together, in bytes.", func() float64 { return float64(f.bytes.Load()) }},
		{"logpipe_elasticsearch_dead_letter_max_bytes", "Cap of the dead-letter files together (dead_letter max_bytes).", func() float64 { return float64(f.maxBytes) }},
		{"logpipe_elasticsearch_dead_letter_full", "1 while the dead-letter queue is full: rejected documents wait and their partition does not move.", func() float64 {
			if f.full.Load() {
				return 1
			}
			return 0
		}},
	} {
		g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: m.name, Help: m.help}, m.v)
		if err := r.Register(g); err != nil {
			return fmt.Errorf("elasticsearch output: register metric %s: %w", m.name, err)
		}
	}
	return nil
}
