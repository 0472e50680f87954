package file

import "github.com/prometheus/client_golang/prometheus"

// fileMetrics exports, per file in the registry, the committed offset and the bytes not
// read yet. Registered once in New through Stage.Metrics (labelled stage=<id>); read at
// scrape time under in.mu, from atomics the Run goroutine updates (see state.publish).
//
//   - logpipe_file_committed_offset_bytes{path,file_id}: the registry offset (everything
//     before it was acknowledged by every output).
//   - logpipe_file_read_offset_bytes{path,file_id}: offset of the next byte to read.
//   - logpipe_file_size_bytes{path,file_id}: size at the last stat.
//   - logpipe_file_lag_bytes{path,file_id}: size minus read offset (bytes not read yet).
//   - logpipe_file_files: files in the registry.
//   - logpipe_file_buffered_bytes: memory held by files between their read turns (the
//     partial lines, each at most max_line_bytes; a batch being built is not counted).
type fileMetrics struct {
	in                                      *Input
	committed, read, size, lag, n, buffered *prometheus.Desc
}

func newFileMetrics(in *Input) *fileMetrics {
	l := []string{"path", "file_id"}
	return &fileMetrics{
		in:        in,
		committed: prometheus.NewDesc("logpipe_file_committed_offset_bytes", "Registry offset of the file: every line before it was acknowledged by every output.", l, nil),
		read:      prometheus.NewDesc("logpipe_file_read_offset_bytes", "Offset of the next byte to read in the file.", l, nil),
		size:      prometheus.NewDesc("logpipe_file_size_bytes", "Size of the file at the last stat.", l, nil),
		lag:       prometheus.NewDesc("logpipe_file_lag_bytes", "Bytes of the file not read yet (size minus read offset).", l, nil),
		n:         prometheus.NewDesc("logpipe_file_files", "Files in the registry.", nil, nil),
		buffered:  prometheus.NewDesc("logpipe_file_buffered_bytes", "Memory held by files between their read turns (partial lines).", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (m *fileMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.committed
	ch <- m.read
	ch <- m.size
	ch <- m.lag
	ch <- m.n
	ch <- m.buffered
}

// Collect implements prometheus.Collector.
func (m *fileMetrics) Collect(ch chan<- prometheus.Metric) {
	m.in.mu.Lock()
	defer m.in.mu.Unlock()
	g := func(d *prometheus.Desc, v int64, st *state) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), st.path, st.key)
	}
	var buffered int64
	for _, st := range m.in.states {
		buffered += st.heldSeen.Load()
		read, size := st.readSeen.Load(), st.sizeSeen.Load()
		g(m.committed, st.tracker.Committed(), st)
		g(m.read, read, st)
		g(m.size, size, st)
		g(m.lag, max(0, size-read), st)
	}
	ch <- prometheus.MustNewConstMetric(m.n, prometheus.GaugeValue, float64(len(m.in.states)))
	ch <- prometheus.MustNewConstMetric(m.buffered, prometheus.GaugeValue, float64(buffered))
}

// publish copies the Run goroutine's read offset and last size to the atomics the
// collector reads. Called after each read turn of the file and when a scan stats it: two
// atomic stores, nothing per line.
func (st *state) publish() {
	st.readSeen.Store(st.readOff)
	st.sizeSeen.Store(st.lastSize)
	st.heldSeen.Store(int64(cap(st.b.slab)))
}
